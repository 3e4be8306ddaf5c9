// Form requant (Forms.def), and the epilogue of the GEMM forms (conv,
// matmul, mean, requant): the stages a GEMM layer ends with, each fused
// into the pending layer (Builder.h) when the target's form fuses it
// (Form::epilogue): an int32 bias Add (stage bias), the Requantize of the
// accumulator, and the output table (stage lut): a TableLookup of the
// requantized result, or a chain of integer elementwise ops of it alone
// evaluated into a table (Tables.cpp). The requant form itself runs a
// Requantize of an i8/u8 (or int16) tensor as an identity GEMM whose
// accumulators are the stored values.
#include "Form.h"

#include "ember/quant/Arith.h"

#include <algorithm>
#include <cstring>

namespace ember::accel::sel {

namespace {

// Bias operand of an Add node whose other operand is an accumulator: its
// per-channel values (size 1 or K).
bool biasValues(const View &v, int c, int64_t K, int rank, int chan,
                std::vector<int64_t> &out) {
  if (!v.ints(c, out) || (v.dtype(c) != "i32" && v.dtype(c) != "i64"))
    return false;
  auto d = v.dims(c);
  // [K], [1,K], [1,K,1,1], [1,1,K] (a sequence: chan 2) or a scalar /
  // all-ones shape.
  int64_t n = prod(d, 0, d.size());
  if (n == 1)
    return true;
  if (n != K)
    return false;
  if (d.size() == 1)
    return true;
  if (int(d.size()) != rank)
    return false;
  for (size_t i = 0; i < d.size(); ++i)
    if (int(i) != chan && d[i] != 1)
      return false;
  return true;
}

Chain accChain(const View &v, const Analysis &a, int x) {
  if (x < 0 || size_t(x) >= a.chainOf.size())
    return {};
  return a.chainOf[size_t(x)];
}

// A rank-3 [1, C, L] with its channels on axis 1 (a detector head's
// flattened level): L pixels in one run per channel tile, which an identity
// GEMM reads as a [1, C, 1, L] map.
bool rankThreeRows(const View &v, int x) {
  const std::vector<int64_t> xd = v.dims(x);
  return xd.size() == 3 && xd[0] == 1 && v.chan[size_t(x)] == 1;
}

Status whyRequant(const View &v, const Analysis &a, const v1::Node &n) {
  int x = v.in(n, 0), m = v.in(n, 1), s = v.in(n, 2), y = v.out(n);
  if (x < 0 || m < 0 || s < 0 || y < 0)
    return Status(ErrorCode::Unsupported,
                  "Requantize needs x, multiplier and shift");
  const bool wide = v.t.wide16 && (v.dtype(y) == "i16" || v.dtype(x) == "i64");
  if (!isQ8(v.dtype(y)) && !(wide && v.dtype(y) == "i16"))
    return Status(ErrorCode::Unsupported,
                  "result is " + v.dtype(y) + " (i8 or u8)");
  // The requant operation rounds once (mbqm): a profile whose rescale
  // rounds twice needs a target that declares it (none the layer knows).
  if (const v1::Attribute *pa = attr(n, "requant")) {
    quant::RequantProfile p;
    if (!quant::profileFromName(pa->s(), p))
      return Status(ErrorCode::Unsupported,
                    "requant = '" + pa->s() +
                        "' (an arithmetic Ember does not know)");
    if (quant::doublingRescale(p) && !v.t.computes(p))
      return Status(
          ErrorCode::Unsupported,
          std::string("the ") + quant::profileName(p) +
              " arithmetic's requantization (two roundings; the target's "
              "requant rounds once: its description's arithmetic)");
  }
  auto xd = v.dims(x);
  const bool seq = xd.size() == 3 && isSequence(v, x) && isSequence(v, y);
  // (A rank-3 [1, C, L] of an int8 tensor with the channels at axis 1, a
  // detector head's flattened level brought to the anchor Concat's scale:
  // its L pixels in one run per channel tile, an identity GEMM over them.)
  const bool rows = !seq && rankThreeRows(v, x) && v.chan[size_t(y)] == 1 &&
                    (isQ8(v.dtype(x)) || v.dtype(x) == "i16");
  if (xd.size() != 4 && xd.size() != 2 && !seq && !rows)
    return Status(
        ErrorCode::Unsupported,
        "x has rank " + std::to_string(xd.size()) +
            " (2, 4, 3 laid out as a sequence: channels last, or 3 of an int8 "
            "tensor [1, C, L])");
  // A conversion on its own (an int16 input or result: a precision
  // boundary, or a Concat's inputs brought to one scale) runs on a target
  // whose requant form declares 16-bit activations: an identity GEMM (int16
  // input: both byte planes) and the 16x8 requantization.
  const bool conv16 =
      has16(v.t, "requant") && (isQ8(v.dtype(x)) || v.dtype(x) == "i16");
  if (wide && (v.dtype(x) != "i32" && v.dtype(x) != "i64") && !conv16)
    return Status(
        ErrorCode::Unsupported,
        "a 16-bit requantization of " + v.dtype(x) +
            " (the target's 16x8 layers requantize their accumulators)");
  if (v.dtype(y) == "i16" && v.in(n, 4) >= 0) {
    std::vector<int64_t> zy;
    if (!v.ints(v.in(n, 4), zy) || zy.size() != 1 || zy[0] != 0)
      return Status(ErrorCode::Unsupported,
                    "an int16 result with a nonzero zero point");
  }
  if (v.dtype(x) == "i32" || v.dtype(x) == "i64") {
    Chain c = accChain(v, a, x);
    if (c.root < 0)
      return Status(
          ErrorCode::Unsupported,
          "its int32 input " + quoted(v.name(x)) +
              " is not the only use of a ConvInteger/MatMulInteger the target "
              "runs (the target requantizes its own accumulators)");
  } else if (!isQ8(v.dtype(x)) && !(conv16 && v.dtype(x) == "i16")) {
    return Status(ErrorCode::Unsupported, "x is " + v.dtype(x));
  } else if (v.dtype(x) == "i16" && !v.t.requant.biasRow) {
    return Status(ErrorCode::Unsupported,
                  "a Requantize of an int16 tensor is a 16x8 identity layer, "
                  "whose int64 bias is added in the requantization, and "
                  "target '" +
                      v.t.name + "' has no bias row (requant.bias_row)");
  } else if (!v.t.form("requant")) {
    return Status(ErrorCode::Unsupported,
                  "a Requantize of an int8 tensor (target '" + v.t.name +
                      "' has no requant form)");
  }
  const int64_t ch = seq ? 2 : 1;
  int64_t C = xd[size_t(ch)];
  int64_t axis = aInt(n, "axis", 1);
  if (axis < 0)
    axis += int64_t(xd.size());
  std::vector<int64_t> mv, sv, zx, zy;
  if (!v.ints(m, mv) || !v.ints(s, sv))
    return Status(ErrorCode::Unsupported,
                  "multiplier and shift must be constants");
  for (auto *t : {&mv, &sv})
    if (t->size() != 1 && int64_t(t->size()) != C)
      return Status(ErrorCode::Unsupported,
                    "multiplier/shift have " + std::to_string(t->size()) +
                        " entries (1 or " + std::to_string(C) + ")");
  if ((mv.size() > 1 || sv.size() > 1) && axis != ch)
    return Status(ErrorCode::Unsupported,
                  "per-channel tables on axis " + std::to_string(axis) +
                      " (the channel axis is " + std::to_string(ch) + ")");
  int xz = v.in(n, 3), yz = v.in(n, 4);
  if (xz >= 0 &&
      (!v.ints(xz, zx) || (zx.size() != 1 && int64_t(zx.size()) != C)))
    return Status(ErrorCode::Unsupported,
                  "x_zero_point is not a constant of 1 or C entries");
  if (yz >= 0 && (!v.ints(yz, zy) || zy.size() != 1))
    return Status(ErrorCode::Unsupported,
                  "y_zero_point is not a constant scalar");
  if (isQ8(v.dtype(x)) && zx.size() > 1)
    return Status(ErrorCode::Unsupported,
                  "per-channel x_zero_point on an int8 input");
  return Status::ok();
}

Status whyBiasNode(const View &v, Analysis &a, int i, bool) {
  const v1::Node &n = v.g.nodes(i);
  int x0 = v.in(n, 0), x1 = v.in(n, 1), y = v.out(n);
  int acc = -1, c = -1;
  for (auto [p, o] : {std::make_pair(x0, x1), std::make_pair(x1, x0)})
    if (p >= 0 && accChain(v, a, p).root >= 0 && accChain(v, a, p).bias < 0) {
      acc = p;
      c = o;
    }
  if (acc < 0)
    return Status(
        ErrorCode::Unsupported,
        "an Add that is not an int32 bias on a ConvInteger/MatMulInteger "
        "the target runs (it adds int8 with QuantizedAdd)");
  auto yd = v.dims(y);
  std::vector<int64_t> bv;
  const int ch = v.chan[size_t(y)];
  if (c < 0 || !biasValues(v, c, yd.size() > 1 ? yd[size_t(ch)] : 1,
                           int(yd.size()), ch, bv))
    return Status(ErrorCode::Unsupported,
                  "the bias " +
                      (c >= 0 ? quoted(v.name(c)) : std::string("?")) +
                      " is not an i32 constant per output channel");
  if (v.uses(y) != 1)
    return Status(ErrorCode::Unsupported,
                  "the biased accumulator " + quoted(v.name(y)) +
                      " has several uses (the target requantizes it in place)");
  a.chainOf[size_t(y)] = {accChain(v, a, acc).root, i};
  return Status::ok();
}

Status whyRequantNode(const View &v, Analysis &a, int i, bool forCompile) {
  const v1::Node &n = v.g.nodes(i);
  Status why = whyRequant(v, a, n);
  // A rank-3 conversion whose input the host computes (a detector head's
  // [N, C, HW] maps brought to one scale before a host Concat) is not worth
  // a partition of its own.
  const int x = v.in(n, 0);
  const int p = x >= 0 ? v.producer[size_t(x)] : -1;
  if (why.isOk() && !forCompile && v.dims(x).size() == 3 &&
      v.dtype(x) != "i32" && v.dtype(x) != "i64" &&
      (p < 0 || !a.why[size_t(p)].empty()))
    why = Status(ErrorCode::Unsupported,
                 "a requantization of a sequence whose input is not computed "
                 "on the target (alone it is not worth a partition)");
  return why;
}

// Whether a layer of its own may apply a table to x (the requant form's
// identity GEMM): rank 2 or 4, or 3 laid out as a sequence.
bool ownTableShape(const View &v, int x) {
  const size_t rank = v.dims(x).size();
  return rank == 4 || rank == 2 || isSequence(v, x);
}

// TableLookup(x, table) as the output table of the layer requantizing x:
// x is that Requantize's only use (the layer stores the looked-up result,
// never x), the table a constant of 256 entries.
Status whyTableNode(const View &v, Analysis &a, int i, bool) {
  const v1::Node &n = v.g.nodes(i);
  int x = v.in(n, 0), tb = v.in(n, 1), y = v.out(n);
  if (x < 0 || tb < 0 || y < 0)
    return Status(ErrorCode::Unsupported, "TableLookup needs x and the table");
  if (v.dtype(x) == "i16")
    return Status(
        ErrorCode::Unsupported,
        "looks up i16 (the target has no table16 form: its output table "
        "maps i8/u8)");
  if (!isQ8(v.dtype(x)) || !isQ8(v.dtype(y)))
    return Status(ErrorCode::Unsupported,
                  "looks up " + v.dtype(x) + " -> " + v.dtype(y) +
                      " (the output table maps i8/u8 to i8/u8)");
  std::vector<int64_t> vals;
  if (!v.constant[size_t(tb)] || !v.ints(tb, vals) || vals.size() != 256)
    return Status(ErrorCode::Unsupported,
                  "the table is not a constant of 256 entries");
  int p = v.producer[size_t(x)];
  const bool fused = p >= 0 && v.g.nodes(p).op() == "Requantize" &&
                     a.why[size_t(p)].empty() && a.free(p) && v.uses(x) == 1;
  if (fused)
    return Status::ok();
  // Else a layer of its own: the requant form's identity GEMM of the stored
  // x, requantized by exactly 1, its output table the lookup.
  const std::vector<int64_t> xd = v.dims(x);
  if (!fuses(v.t, "requant", "lut"))
    return Status(
        ErrorCode::Unsupported,
        "its input " + quoted(v.name(x)) +
            " is not requantized by a layer the target runs (the table is "
            "applied on a convolution's, MatMul's or mean's output path; the "
            "target's requant form has no lut stage to run it alone)");
  if (!ownTableShape(v, x))
    return Status(
        ErrorCode::Unsupported,
        "a table of its own of a rank-" + std::to_string(xd.size()) +
            " tensor (2, 4, or 3 laid out as a sequence: channels last)");
  return Status::ok();
}

// A requantized layer result: the integer ops of it alone that follow
// become its output table. (A 16x8 layer into 8 bits, an int64
// accumulator, takes one as the int8 layer does: its requantization of the
// 16x8 sums with the table. A requantization of an int16 tensor on its own
// or into int16 fuses none: its 8-bit successors are layers of their own.)
void claimTableChain(const View &v, Analysis &a, int i) {
  const v1::Node &ni = v.g.nodes(i);
  TableChain tc;
  if (!hasOutputTables(v.t) || v.dtype(v.in(ni, 0)) == "i16" ||
      v.dtype(v.out(ni)) == "i16" || tableChain(v, v.out(ni), tc).failed())
    return;
  // (x * f(x) is a table, not a multiply: the patterns holding the chain's
  // nodes let them go.)
  for (int n : tc.nodes)
    if (!a.free(n)) {
      const Analysis::Part held = a.part[size_t(n)];
      for (Analysis::Part &p : a.part)
        if (p.form == held.form && p.last == held.last)
          p = Analysis::Part();
    }
  a.claim(tc.nodes, formRequant(), tc.exit);
  a.tables.push_back(std::move(tc));
}

// The chain of integer ops of a result no Requantize computes (a
// normalization's, a softmax's, an add's, a pool's: a LayerNorm's gamma of
// ones stored per channel, x * f(x) of a residual sum): its table runs as
// a layer of its own, the requant form's identity GEMM of the stored
// result with the chain's table as its output table (as a TableLookup of
// such a result does alone). Chains of one TableLookup keep that row.
void claimOwnTableChain(const View &v, Analysis &a, int i) {
  const v1::Node &ni = v.g.nodes(i);
  const int y = v.out(ni);
  if (ni.outputs_size() != 1 || y < 0 || ni.op() == "Requantize" ||
      isMoveOp(ni.op()) || !hasOutputTables(v.t) ||
      !fuses(v.t, "requant", "lut"))
    return;
  TableChain tc;
  if (!ownTableShape(v, y) ||
      v.chan[size_t(y)] != defaultChan(v.dims(y).size()) ||
      tableChain(v, y, tc).failed() || tc.nodes.size() < 2)
    return;
  for (int n : tc.nodes)
    if (!a.free(n))
      return;
  a.claim(tc.nodes, formRequant(), tc.exit);
  a.tables.push_back(std::move(tc));
}

} // namespace

Status whyChainPartNode(const View &v, Analysis &, int i, bool) {
  const v1::Node &n = v.g.nodes(i);
  std::string why = "a " + n.op() +
                    " that is not part of an output-table chain (integer "
                    "elementwise ops of one i8/u8 result the target computes "
                    "alone, ending in an i8/u8 value)";
  MulPattern mp;
  if (v.t.form("mul") && n.op() == "Mul")
    why += " nor a quantized multiply: " + mulPattern(v, i, mp).message();
  return Status(ErrorCode::Unsupported, why);
}

namespace {

void biasAdd(Builder &b, const v1::Node &n) {
  int x0 = b.v.in(n, 0), x1 = b.v.in(n, 1), y = b.v.out(n);
  int acc = b.pending.count(x0) ? x0 : x1, c = acc == x0 ? x1 : x0;
  auto it = b.pending.find(acc);
  if (it == b.pending.end() || it->second.requantized) {
    b.refuse("Add " + quoted(n.name()) +
             ": its accumulator is not in the partition");
    return;
  }
  GemmLayer &g = it->second.layer.gemm;
  std::vector<int64_t> bv;
  b.v.ints(c, bv);
  for (int64_t k = 0; k < g.K && g.in16; ++k)
    g.bias64[size_t(k)] += bv[bv.size() == 1 ? 0 : size_t(k)];
  for (int64_t k = 0; k < g.K && !g.in16; ++k)
    g.bias[size_t(k)] = int32_t(uint32_t(g.bias[size_t(k)]) +
                                uint32_t(bv[bv.size() == 1 ? 0 : size_t(k)]));
  Builder::Pending p = std::move(it->second);
  b.pending.erase(it);
  p.layer.nodes.push_back(n.name());
  b.pending[y] = std::move(p);
}

// An identity GEMM layer (form requant) named `name` bringing the stored
// int8 (or int16: both byte planes) x into its accumulators: each
// accumulator the value of x (its stored offset folded into the bias).
// False when x cannot be materialized (b.err says why).
bool identityGemm(Builder &b, int x, const std::string &name,
                  Builder::Pending &p) {
  p.form = "requant";
  int in = b.materialize(x);
  if (in < 0)
    return false;
  const NTensor &t = b.lp.tensors[size_t(in)];
  GemmLayer &g = p.layer.gemm;
  p.layer.kind = Layer::Kind::Gemm;
  p.layer.name = name;
  g.in = in;
  auto d = t.dims;
  g.C = g.K = g.groups = t.C;
  if (d.size() == 4 && t.axis == 1) {
    g.N = d[0], g.H = g.OH = d[2], g.W = g.OW = d[3];
  } else {
    g.N = 1, g.H = g.OH = 1, g.W = g.OW = t.P;
  }
  g.flat = true;
  g.w.assign(size_t(g.K), 1);
  g.bias.assign(size_t(g.K), 0);
  // The device's accumulator = stored x; Requantize wants q - x_zp.
  g.padValue = 0;
  p.layer.usefulMacs = 0;
  // The input's stored offset is folded below with x_zero_point.
  if (t.u8)
    for (auto &c : g.bias)
      c += 128;
  if (t.i16) { // the low plane's excess-128 (zero point 0)
    g.in16 = true;
    g.bias64.assign(size_t(g.K), 128);
  }
  return true;
}

void requantize(Builder &b, const v1::Node &n) {
  int x = b.v.in(n, 0), y = b.v.out(n);
  Builder::Pending p;
  auto it = b.pending.find(x);
  if (it != b.pending.end() && !it->second.requantized) {
    p = std::move(it->second);
    b.pending.erase(it);
  } else if (isQ8(b.v.dtype(x)) || b.v.dtype(x) == "i16") {
    // An identity GEMM brings int8 (or int16: both byte planes) into the
    // accumulators.
    if (!identityGemm(b, x, n.name(), p))
      return;
  } else {
    b.refuse("Requantize " + quoted(n.name()) +
             ": its input is not in the partition");
    return;
  }
  GemmLayer &g = p.layer.gemm;
  p.layer.nodes.push_back(n.name());
  std::vector<int64_t> mv, sv, zx, zy;
  b.v.ints(b.v.in(n, 1), mv);
  b.v.ints(b.v.in(n, 2), sv);
  if (b.v.in(n, 3) >= 0)
    b.v.ints(b.v.in(n, 3), zx);
  if (b.v.in(n, 4) >= 0)
    b.v.ints(b.v.in(n, 4), zy);
  for (int64_t k = 0; k < g.K; ++k) {
    if (!zx.empty())
      g.bias[size_t(k)] = int32_t(uint32_t(g.bias[size_t(k)]) -
                                  uint32_t(zx[zx.size() == 1 ? 0 : size_t(k)]));
    g.rq.mult.push_back(int32_t(mv[mv.size() == 1 ? 0 : size_t(k)]));
    g.rq.shift.push_back(int32_t(sv[sv.size() == 1 ? 0 : size_t(k)]));
  }
  const std::string &to = b.v.dtype(y);
  g.out16 = to == "i16";
  int64_t lowest = to == "u8" ? 0
                   : g.out16  ? -32768
                              : -128,
          highest = to == "u8" ? 255
                    : g.out16  ? 32767
                               : 127;
  int64_t lo = std::max(aInt(n, "min", lowest), lowest);
  int64_t hi = std::min(aInt(n, "max", highest), highest);
  int64_t off = to == "u8" ? 128 : 0;
  const int64_t yzp = zy.empty() ? 0 : zy[0];
  if (yzp < lowest || yzp > highest) {
    // The interpreter adds it and clamps; the device's zero-point field
    // holds the stored type only.
    b.refuse("Requantize " + quoted(n.name()) + ": its output zero point " +
             std::to_string(yzp) + " is outside " + to + "'s range [" +
             std::to_string(lowest) + ", " + std::to_string(highest) + "]");
    return;
  }
  g.rq.zp = int32_t(yzp - off);
  g.rq.lo = int32_t(lo - off);
  g.rq.hi = int32_t(std::max(lo, hi) - off);
  g.requant = true;
  p.requantized = true;
  b.pending[y] = std::move(p);
}

// The pending layer an output table for the stored i8/u8 x rides on: the
// layer requantizing x when x is its only result and its table is free
// (`sole`: x has no other use), else a layer of its own (whyTableNode):
// x through the identity GEMM, requantized by exactly 1
// (quantizeMultiplier(1.0): MBQM(a, 2^30, 1) is a) into its own stored
// range. End of b.pending when x cannot be materialized (b.err says why).
std::map<int, Builder::Pending>::iterator
tableLayer(Builder &b, int x, const std::string &name, bool sole) {
  auto it = b.pending.find(x);
  if (it != b.pending.end() && it->second.requantized &&
      it->second.layer.lut.empty() && fuses(b.v.t, it->second.form, "lut") &&
      sole)
    return it;
  Builder::Pending own;
  if (!identityGemm(b, x, name, own))
    return b.pending.end();
  GemmLayer &g = own.layer.gemm;
  const quant::Multiplier one = quant::quantizeMultiplier(1.0);
  const bool u8 = b.v.dtype(x) == "u8";
  g.rq.mult.assign(size_t(g.K), one.mult);
  g.rq.shift.assign(size_t(g.K), one.shift);
  g.rq.zp = u8 ? -128 : 0;
  g.rq.lo = -128;
  g.rq.hi = 127;
  g.requant = true;
  own.requantized = true;
  // (identityGemm stored x: its own layer is no longer pending.)
  return b.pending.emplace(x, std::move(own)).first;
}

// A TableLookup of a requantized pending layer: its output table (stored
// entries: index k is the stored input k - 128, a u8 table's values shifted
// by -128).
void table(Builder &b, const v1::Node &n) {
  int x = b.v.in(n, 0), y = b.v.out(n);
  auto it = tableLayer(b, x, n.name(), b.v.uses(x) == 1);
  if (it == b.pending.end())
    return;
  std::vector<int64_t> vals;
  b.v.ints(b.v.in(n, 1), vals);
  const bool inU8 = b.v.dtype(x) == "u8", outU8 = b.v.dtype(y) == "u8";
  std::vector<int8_t> lut(256);
  for (int k = 0; k < 256; ++k) {
    // Stored input k - 128 is the graph value k - 128 (i8) or k (u8); the
    // table is indexed by value - lowest, which is k in both cases.
    int64_t out = vals[size_t(k)];
    lut[size_t(k)] = int8_t(outU8 ? out - 128 : out);
  }
  (void)inU8;
  Builder::Pending p = std::move(it->second);
  b.pending.erase(it);
  p.layer.nodes.push_back(n.name());
  p.layer.lut = std::move(lut);
  b.pending[y] = std::move(p);
}

// The last node of a table chain (Analysis::tables): the chain's table
// becomes the output table of the layer requantizing its root, or of a
// layer of its own (a chain of a normalization's, an add's or a pool's
// result: claimOwnTableChain).
void tableChainEnd(Builder &b, int exit) {
  const TableChain *tc = nullptr;
  for (const TableChain &c : b.an.tables)
    if (c.exit == exit)
      tc = &c;
  const v1::Node &n = b.v.g.nodes(exit);
  if (!tc) {
    b.internal("internal: " + n.op() + " " + quoted(n.name()) +
               " ends no table chain");
    return;
  }
  const int prod = b.v.producer[size_t(tc->root)];
  const bool rides = prod >= 0 && b.v.g.nodes(prod).op() == "Requantize";
  auto it = rides ? b.pending.find(tc->root)
                  : tableLayer(b, tc->root, n.name(), false);
  if (it == b.pending.end() || !it->second.requantized ||
      !it->second.layer.lut.empty() || !fuses(b.v.t, it->second.form, "lut")) {
    if (b.err.isOk())
      b.refuse(n.op() + " " + quoted(n.name()) +
               ": its chain's input is not the result of a layer with an "
               "output table");
    return;
  }
  Builder::Pending p = std::move(it->second);
  b.pending.erase(it);
  for (int m : tc->nodes)
    p.layer.nodes.push_back(b.v.g.nodes(m).name());
  p.layer.lut = tc->lut;
  b.pending[b.v.out(n)] = std::move(p);
}

void buildBias(Builder &b, int i) { biasAdd(b, b.v.g.nodes(i)); }
void buildRequant(Builder &b, int i) { requantize(b, b.v.g.nodes(i)); }
void buildTable(Builder &b, int i) { table(b, b.v.g.nodes(i)); }
// A node of a table chain: the chain's table at its last node.
void buildChainPart(Builder &b, int node, int last) {
  if (node == last)
    tableChainEnd(b, last);
}
// (The Mul of a table chain or of a multiply is built with its pattern.)
void buildPatternPart(Builder &b, int i) {
  b.internal("internal: node " + std::to_string(i) + " outside its pattern");
}

std::string biasText(const Target &) {
  return "int32 bias on a ConvInteger/MatMulInteger result";
}
std::string requantText(const Target &t) {
  return std::string("rank 2 or 4 (or 3, a sequence: channels last); of an "
                     "accumulator the target computes") +
         (t.form("requant") ? ", or of an i8/u8 tensor (rank 3 too: [1, C, L])"
                            : "") +
         (t.requant.perChannel
              ? "; per-channel tables on the channel axis (1; 2 of a sequence)"
              : "");
}
std::string tableText(const Target &) {
  return "a constant 256-entry table, of a Requantize's only use";
}
std::string chainText(const Target &) {
  return "i32, in an output-table chain (TableLookup, Cast, Sub, Add, Mul, "
         "scalar Requantize; at most 16 ops)";
}

const char *const kBias =
    "fused: the int32 bias Add of a ConvInteger/MatMulInteger the target runs";
const char *const kAccumulator =
    "fused: an int32 accumulator the target computes (ConvInteger/"
    "MatMulInteger [+ bias Add], or a per-channel sum), requantized in the "
    "same layer";
const char *const kTable =
    "fused: the output table of the layer requantizing its input (applied "
    "after the requantization and its clamp)";
const char *const kTableChain =
    "fused: integer elementwise ops of one i8/u8 result the target computes "
    "alone (x * f(x): SiLU, HardSwish as x * HardSigmoid(x); a LayerNorm's "
    "gamma), evaluated into the output table of the layer requantizing it or "
    "of a layer of its own";

// The Requantize's claim: a 16x8 layer's requantization (int64
// accumulator in, int16 out) runs only in its layer, a lone int16
// conversion stays on the host unless the requant form declares 16-bit
// activations. As the node checks (whyRequant): an int8 layer's result
// requantized to int16 on any target with 16-bit rows, a 16-bit sum's
// int64 where the mean form declares 16-bit activations.
void claimRequant(const Target &t, const FormRow &r, OpClaim &c) {
  claimGemm16(t, r, c);
  auto add = [](std::vector<std::string> &v, const char *d) {
    if (std::find(v.begin(), v.end(), d) == v.end())
      v.push_back(d);
  };
  if (t.wide16) {
    add(c.dtypes, "i16");
    add(c.contextDtypes, "i16");
  }
  if (has16(t, "mean")) {
    add(c.dtypes, "i64");
    add(c.contextDtypes, "i64");
  }
  if (gemmAct16(t, r))
    for (const char *d : {"i16", "i64"})
      add(c.contextDtypes, d);
  if (has16(t, "requant"))
    c.contextDtypes.erase(
        std::remove(c.contextDtypes.begin(), c.contextDtypes.end(), "i16"),
        c.contextDtypes.end());
}

// A table chain's Cast and Sub (x * f(x) evaluated into an output table)
// are claimed by this form too: a target with output tables and without
// the forms that claim them (mean, mul) runs them in the chain.
void requantManifest(const Target &t, std::vector<OpClaim> &claims) {
  if (!hasOutputTables(t))
    return;
  ensureClaim(claims, "Cast", {"i8", "u8", "i32"}, chainText(t), kTableChain);
  ensureClaim(claims, "Sub", {"i32"}, chainText(t), kTableChain);
}

Status requantNeeds(const Target &, const Form &f, FormNeeds &n) {
  gemmNeeds(f, n, true, false);
  return Status::ok();
}

} // namespace

} // namespace ember::accel::sel

namespace ember::accel {

const FormPattern &formRequant() {
  static const FormPattern form = [] {
    using namespace sel;
    FormPattern f;
    f.name = "requant";
    f.manifest = requantManifest;
    f.needs = requantNeeds;
    f.buildPart = buildChainPart;
    f.claimedNode = claimOwnTableChain;
    FormRow bias;
    bias.forms = "conv|matmul";
    bias.stage = "bias";
    bias.op = "Add";
    bias.rank = 20;
    bias.dtypes = {"i32"};
    bias.context = kBias;
    bias.constraints = biasText;
    bias.why = whyBiasNode;
    bias.build = buildBias;
    bias.claim = claimGemm16;
    // (its multiplier, shift and zero points may be scalars: rank 0)
    FormRow rq;
    rq.forms = "conv|matmul|mean|requant";
    rq.op = "Requantize";
    rq.rank = 30;
    rq.dtypes = {"i8", "u8", "i32"};
    rq.context = kAccumulator;
    rq.contextDtypes = {"i32"};
    rq.constraints = requantText;
    rq.why = whyRequantNode;
    rq.build = buildRequant;
    rq.claimed = claimTableChain;
    rq.claim = claimRequant;
    FormRow lut;
    lut.forms = "conv|matmul|mean|requant";
    lut.stage = "lut";
    lut.op = "TableLookup";
    lut.rank = 40;
    lut.dtypes = {"i8", "u8"};
    lut.context = kTable;
    lut.constraints = tableText;
    lut.why = whyTableNode;
    lut.build = buildTable;
    FormRow chain;
    chain.forms = "conv|matmul|mean|requant";
    chain.stage = "lut";
    chain.op = "Mul";
    chain.rank = 60;
    chain.dtypes = {"i32"};
    chain.context = kTableChain;
    chain.constraints = chainText;
    chain.why = whyChainPartNode;
    chain.build = buildPatternPart;
    f.rows = {bias, rq, lut, chain};
    return f;
  }();
  return form;
}

} // namespace ember::accel
