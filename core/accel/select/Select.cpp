// Capability and layer building from the partition graph (Select.h): each
// form's local checks (the constraint a node violates, with the target's
// limits) and the chains (accumulator -> bias -> requantize), dispatched by
// the form table (Forms.cpp); the builder is Build.cpp.
#include "SelectInternal.h"

#include "ember/accel/Select.h"

#include "ember/quant/Arith.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <map>
#include <sstream>

namespace ember::accel::sel {

// ---- per-op local checks -------------------------------------------------

// A 16x8 layer (docs/quantization.md, "16-bit activations"): an int16
// input with int8 symmetric weights and an int64 accumulator, on a target
// form declaring 16-bit activations.
std::string why16x8(const View &v, const char *form, int xzp, int wzp, int y) {
  const Form *f = v.t.form(form);
  if (!f || !f->act16 || !v.t.wide16)
    return std::string("an int16 input (target '") + v.t.name + "''s " + form +
           " form has no 16-bit activations)";
  if (v.dtype(y) != "i64")
    return "result is " + v.dtype(y) + " (i64 expected for an int16 input)";
  for (int z : {xzp, wzp}) {
    std::vector<int64_t> zv;
    if (z >= 0 &&
        (!v.ints(z, zv) ||
         std::any_of(zv.begin(), zv.end(), [](int64_t e) { return e != 0; })))
      return "a 16x8 layer with a nonzero zero point " + q(v.name(z));
  }
  return "";
}

// Whether `form` runs 16-bit activations on the target (Form::act16).
bool has16(const Target &t, const char *form) {
  const Form *f = t.form(form);
  return f && f->act16 && t.wide16;
}

// The array sums each byte plane in int32: the low plane's excess-128
// values need 128 * sum |w| < 2^31 per output channel.
std::string fits16x8(const std::vector<int8_t> &w, int64_t K) {
  const int64_t per = K ? int64_t(w.size()) / K : 0;
  for (int64_t k = 0; k < K; ++k) {
    int64_t s = 0;
    for (int64_t t = 0; t < per; ++t)
      s += std::abs(int64_t(w[size_t(k * per + t)]));
    if (s * 128 >= (int64_t(1) << 31))
      return "output channel " + std::to_string(k) +
             ": 128 x its summed weight magnitude reaches 2^31 (a byte "
             "plane's int32 sum could wrap)";
  }
  return "";
}

std::string whyConv(const View &v, const v1::Node &n) {
  int x = v.in(n, 0), w = v.in(n, 1), y = v.out(n);
  if (x < 0 || w < 0 || y < 0)
    return "ConvInteger needs x and w";
  const bool in16 = v.dtype(x) == "i16";
  if (!isQ8(v.dtype(x)) && !in16)
    return "input " + q(v.name(x)) + " is " + v.dtype(x) + " (i8 or u8)";
  if (in16) {
    std::string e = why16x8(v, "conv", v.in(n, 2), v.in(n, 3), y);
    if (!e.empty())
      return e;
  } else if (v.dtype(y) != "i32")
    return "result is " + v.dtype(y) + " (i32 expected)";
  ConvGeom g;
  std::string e = convGeom(v, n, x, w, y, g);
  if (!e.empty())
    return e;
  e = convLimits(v.t, g);
  if (!e.empty())
    return e;
  std::vector<int8_t> wf;
  e = foldWeights(v, w, v.in(n, 3), g.K, wf);
  if (!e.empty())
    return e;
  if (in16)
    return fits16x8(wf, g.K);
  int64_t zp;
  return scalarZp(v, v.in(n, 2), zp);
}

std::string whyMatMul(const View &v, const v1::Node &n) {
  int a = v.in(n, 0), b = v.in(n, 1), y = v.out(n);
  if (a < 0 || b < 0 || y < 0)
    return "MatMulInteger needs A and B";
  const bool in16 = v.dtype(a) == "i16";
  if (!isQ8(v.dtype(a)) && !in16)
    return "A " + q(v.name(a)) + " is " + v.dtype(a) + " (i8 or u8)";
  if (in16) {
    std::string e = why16x8(v, "matmul", v.in(n, 2), v.in(n, 3), y);
    if (!e.empty())
      return e;
  }
  auto ad = v.dims(a), bd = v.dims(b);
  // A rank-3 A laid out as a sequence (defaultChan) is the rank-2
  // [T B, K]: its leading dims are pixels.
  if (ad.size() == 3 && isSequence(v, a) && isSequence(v, y))
    ad = {ad[0] * ad[1], ad[2]};
  if (ad.size() != 2)
    return "A has rank " + std::to_string(ad.size()) +
           " (the target runs rank-2 A, or rank-3 A by a constant rank-2 B; "
           "a batched MatMul of two activations falls back)";
  if (bd.size() != 2 || !v.constant[size_t(b)])
    return "B " + q(v.name(b)) +
           " is not a rank-2 constant (weights stay stationary in the array; "
           "a batched MatMul of two activations falls back)";
  if (ad[1] != bd[0])
    return "shapes do not match";
  std::vector<int8_t> wf;
  std::string e = foldWeights(v, b, v.in(n, 3), 1, wf);
  if (!e.empty())
    return e;
  if (in16) { // B is [C, K]: output channel j's weights are column j
    std::vector<int8_t> byK(wf.size());
    for (int64_t k = 0; k < bd[0]; ++k)
      for (int64_t j = 0; j < bd[1]; ++j)
        byK[size_t(j * bd[0] + k)] = wf[size_t(k * bd[1] + j)];
    return fits16x8(byK, bd[1]);
  }
  // A per-column B zero point folds too (checked when packing).
  int64_t zp;
  return scalarZp(v, v.in(n, 2), zp);
}

bool isGemmRoot(const v1::Node &n) {
  return n.op() == "ConvInteger" || n.op() == "MatMulInteger";
}

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

// Cast(x i8/u8 -> i32) [-> Sub(scalar zero point)] -> ReduceSum over H, W
// (keepdims): a per-channel sum the target does with an identity GEMM. The
// nodes of the chain, or empty when `cast` does not start one.
// The users of `x` but the quantized multiplies reading it (a value the
// importer's CSE shares between a per-channel sum and a multiply).
std::vector<int> usersButMuls(const View &v, int x) {
  std::vector<int> out;
  for (int u : v.users[size_t(x)]) {
    MulPattern mp;
    if (!(v.t.form("mul") && v.g.nodes(u).op() == "Mul" &&
          mulPattern(v, u, mp).empty()))
      out.push_back(u);
  }
  return out;
}

std::vector<int> sumChain(const View &v, int cast) {
  const v1::Node &c = v.g.nodes(cast);
  int x = v.in(c, 0), y = v.out(c);
  // 16x8: an int16 map (zero point 0) summed in int64 (docs/quantization.md,
  // "Pooling"), on a target whose mean form declares 16-bit activations.
  const bool in16 = x >= 0 && y >= 0 && v.dtype(x) == "i16" &&
                    v.dtype(y) == "i64" && has16(v.t, "mean");
  if (x < 0 || y < 0 || ((!isQ8(v.dtype(x)) || v.dtype(y) != "i32") && !in16) ||
      v.dims(x).size() != 4 || v.outUses[size_t(y)] ||
      usersButMuls(v, y).size() != 1)
    return {};
  auto xd = v.dims(x);
  // The map loads in bands of lines (summed into the same accumulator row):
  // one line must fit half of the act memory (a quarter for int16: two byte
  // planes).
  if (xd[3] > v.t.maxX ||
      uint64_t(xd[3]) > rowsOf(v.t, Cls::Act) / (in16 ? 4 : 2))
    return {};
  std::vector<int> chain = {cast};
  int cur = y, n = usersButMuls(v, y)[0];
  if (v.g.nodes(n).op() == "Sub" && in16)
    return {}; // an int16 map has no zero point to subtract
  if (v.g.nodes(n).op() == "Sub") {
    const v1::Node &s = v.g.nodes(n);
    std::vector<int64_t> z;
    if (v.in(s, 0) != cur || !v.ints(v.in(s, 1), z) || z.size() != 1 ||
        v.outUses[size_t(v.out(s))] || usersButMuls(v, v.out(s)).size() != 1)
      return {};
    chain.push_back(n);
    cur = v.out(s);
    n = usersButMuls(v, cur)[0];
  }
  const v1::Node &r = v.g.nodes(n);
  if (r.op() != "ReduceSum" || v.in(r, 0) != cur)
    return {};
  std::vector<int64_t> axes = aInts(r, "axes", {});
  if (v.in(r, 1) >= 0 && !v.ints(v.in(r, 1), axes))
    return {};
  for (auto &a : axes)
    if (a < 0)
      a += 4;
  std::sort(axes.begin(), axes.end());
  if (axes != std::vector<int64_t>{2, 3} || aInt(r, "keepdims", 1) != 1)
    return {};
  chain.push_back(n);
  return chain;
}

Chain accChain(const View &v, const Analysis &a, int x) {
  if (x < 0 || size_t(x) >= a.chainOf.size())
    return {};
  return a.chainOf[size_t(x)];
}

std::string whyRequant(const View &v, const Analysis &a, const v1::Node &n) {
  int x = v.in(n, 0), m = v.in(n, 1), s = v.in(n, 2), y = v.out(n);
  if (x < 0 || m < 0 || s < 0 || y < 0)
    return "Requantize needs x, multiplier and shift";
  const bool wide = v.t.wide16 && (v.dtype(y) == "i16" || v.dtype(x) == "i64");
  if (!isQ8(v.dtype(y)) && !(wide && v.dtype(y) == "i16"))
    return "result is " + v.dtype(y) + " (i8 or u8)";
  auto xd = v.dims(x);
  const bool seq = xd.size() == 3 && isSequence(v, x) && isSequence(v, y);
  if (xd.size() != 4 && xd.size() != 2 && !seq)
    return "x has rank " + std::to_string(xd.size()) +
           " (2, 4, or 3 laid out as a sequence: channels last)";
  // A conversion on its own (an int16 input or result: a precision
  // boundary, or a Concat's inputs brought to one scale) runs on a target
  // whose requant form declares 16-bit activations: an identity GEMM (int16
  // input: both byte planes) and the 16x8 requantization.
  const bool conv16 =
      has16(v.t, "requant") && (isQ8(v.dtype(x)) || v.dtype(x) == "i16");
  if (wide && (v.dtype(x) != "i32" && v.dtype(x) != "i64") && !conv16)
    return "a 16-bit requantization of " + v.dtype(x) +
           " (the target's 16x8 layers requantize their accumulators)";
  if (v.dtype(y) == "i16" && v.in(n, 4) >= 0) {
    std::vector<int64_t> zy;
    if (!v.ints(v.in(n, 4), zy) || zy.size() != 1 || zy[0] != 0)
      return "an int16 result with a nonzero zero point";
  }
  if (v.dtype(x) == "i32" || v.dtype(x) == "i64") {
    Chain c = accChain(v, a, x);
    if (c.root < 0)
      return "its int32 input " + q(v.name(x)) +
             " is not the only use of a ConvInteger/MatMulInteger the target "
             "runs (the target requantizes its own accumulators)";
  } else if (!isQ8(v.dtype(x)) && !(conv16 && v.dtype(x) == "i16")) {
    return "x is " + v.dtype(x);
  } else if (!v.t.form("requant")) {
    return "a Requantize of an int8 tensor (target '" + v.t.name +
           "' has no requant form)";
  }
  const int64_t ch = seq ? 2 : 1;
  int64_t C = xd[size_t(ch)];
  int64_t axis = aInt(n, "axis", 1);
  if (axis < 0)
    axis += int64_t(xd.size());
  std::vector<int64_t> mv, sv, zx, zy;
  if (!v.ints(m, mv) || !v.ints(s, sv))
    return "multiplier and shift must be constants";
  for (auto *t : {&mv, &sv})
    if (t->size() != 1 && int64_t(t->size()) != C)
      return "multiplier/shift have " + std::to_string(t->size()) +
             " entries (1 or " + std::to_string(C) + ")";
  if ((mv.size() > 1 || sv.size() > 1) && axis != ch)
    return "per-channel tables on axis " + std::to_string(axis) +
           " (the channel axis is " + std::to_string(ch) + ")";
  int xz = v.in(n, 3), yz = v.in(n, 4);
  if (xz >= 0 &&
      (!v.ints(xz, zx) || (zx.size() != 1 && int64_t(zx.size()) != C)))
    return "x_zero_point is not a constant of 1 or C entries";
  if (yz >= 0 && (!v.ints(yz, zy) || zy.size() != 1))
    return "y_zero_point is not a constant scalar";
  if (isQ8(v.dtype(x)) && zx.size() > 1)
    return "per-channel x_zero_point on an int8 input";
  return "";
}

std::string whyPool(const View &v, const v1::Node &n) {
  int x = v.in(n, 0), y = v.out(n);
  if (x < 0 || y < 0)
    return "no input";
  if ((!isQ8(v.dtype(x)) && !(v.dtype(x) == "i16" && has16(v.t, "pool"))) ||
      v.dtype(y) != v.dtype(x))
    return "pools on " + v.dtype(x) + " (the target pools stored i8/u8" +
           (has16(v.t, "pool") ? " and i16)" : ")");
  if (n.outputs_size() > 1 && n.outputs(1) >= 0 && v.uses(n.outputs(1)))
    return "MaxPool indices are used";
  auto xd = v.dims(x), yd = v.dims(y);
  if (xd.size() != 4 || yd.size() != 4)
    return "rank " + std::to_string(xd.size()) + " (the target pools 2-D)";
  bool global = n.op() == "GlobalAveragePool";
  auto ks = global ? std::vector<int64_t>{xd[2], xd[3]}
                   : aInts(n, "kernel_shape", {});
  auto st = global ? std::vector<int64_t>{1, 1} : aInts(n, "strides", {1, 1});
  auto pads = global ? std::vector<int64_t>{0, 0, 0, 0}
                     : aInts(n, "pads", {0, 0, 0, 0});
  auto dl = aInts(n, "dilations", {1, 1});
  if (ks.size() != 2 || st.size() != 2 || pads.size() != 4)
    return "kernel_shape, strides or pads are not 2-D";
  std::string ap = aStr(n, "auto_pad", "NOTSET");
  if (ap != "NOTSET" && ap != "VALID" && !ap.empty())
    return "auto_pad " + ap;
  if (ap == "VALID")
    pads = {0, 0, 0, 0};
  if (dl[0] != 1 || dl[1] != 1)
    return "pooling with dilation";
  const Form *pf = v.t.form("pool");
  const int64_t wmax = pf ? pf->windowMax : 0, smax = pf ? pf->strideMax : 0;
  if (ks[0] < 1 || ks[0] > wmax || ks[1] < 1 || ks[1] > wmax)
    return "window " + std::to_string(ks[0]) + "x" + std::to_string(ks[1]) +
           " (pooling windows at most " + std::to_string(wmax) + "x" +
           std::to_string(wmax) + ")";
  // (Strides that differ run one pooling op per output line: genPool.)
  int64_t s = global ? std::max<int64_t>(1, std::min(ks[0], ks[1])) : st[0];
  const int64_t sh = global ? s : st[0], sw = global ? s : st[1];
  if (sh < 1 || sw < 1 || sh > smax || sw > smax)
    return "strides " + std::to_string(sh) + "x" + std::to_string(sw) +
           " (at most " + std::to_string(smax) + ")";
  bool anyPad = pads[0] || pads[1] || pads[2] || pads[3];
  const bool excludePad =
      n.op() == "AveragePool" && anyPad && !aInt(n, "count_include_pad", 0);
  // Padding over the loads' fields is stored with the input (padPlan) but
  // for an average without it, whose border windows divide by their taps
  // inside the image.
  if (*std::max_element(pads.begin(), pads.end()) > v.t.maxPad &&
      (excludePad || v.t.maxPad < 1))
    return "pads over " + std::to_string(v.t.maxPad) +
           (excludePad ? " of an average without its padding (its border "
                         "windows divide by their taps inside the image)"
                       : "");
  if (*std::min_element(pads.begin(), pads.end()) < 0)
    return "negative pads";
  if (anyPad && (pads[0] >= ks[0] || pads[2] >= ks[0] || pads[1] >= ks[1] ||
                 pads[3] >= ks[1]))
    return "a pad not below its kernel size (a window wholly in the "
           "padding)";
  if (n.op() == "AveragePool" && anyPad && !excludePad && !attr(n, "pad_value"))
    return "AveragePool counting padding without a pad_value (the input's "
           "zero point)";
  // A line whose window lines do not fit the output memory runs in column
  // bands (genPool):
  // its lines must be addressable a line apart, and a band of one output
  // column (kh lines of its window's columns and the result, double-buffered)
  // must fit the output memory (its lower half for 16-bit rows).
  // (With padding the loads cannot add, the identity layers' wider map.)
  const int64_t storedW =
      xd[3] + (*std::max_element(pads.begin(), pads.end()) > v.t.maxPad
                   ? pads[1] + pads[3]
                   : 0);
  if (storedW > v.t.maxStride)
    return "image width " + std::to_string(storedW) +
           " (a column band's lines are a line apart in DRAM: strides of "
           "loads and stores at most " +
           std::to_string(v.t.maxStride) + " rows)";
  const int outMem = v.t.memOf(Cls::Out);
  const uint64_t outRows = v.t.memRows(outMem) / (v.dtype(x) == "i16" ? 2 : 1);
  const int64_t oneWp = std::min(xd[3] + pads[1] + pads[3], ks[1]);
  if (uint64_t(2 * (ks[0] * oneWp + 1)) > outRows)
    return "one output pixel reads " + std::to_string(ks[0]) + " lines of " +
           std::to_string(oneWp) + " pixels (twice that and its result over " +
           std::to_string(outRows) + " rows of " +
           v.t.memories[size_t(outMem)].name + ")";
  int64_t OH = (xd[2] + pads[0] + pads[2] - ks[0]) / sh + 1;
  int64_t OW = (xd[3] + pads[1] + pads[3] - ks[1]) / sw + 1;
  if (yd[2] != OH || yd[3] != OW)
    return "the output shape is not floor mode's (ceil_mode)";
  return "";
}

// Reshapes that leave the device bytes as they are: the channel dim (1) and
// the product of the dims after it are kept.
bool sameLayout(const std::vector<int64_t> &a, const std::vector<int64_t> &b) {
  auto cp = [](const std::vector<int64_t> &d) {
    if (d.size() < 2)
      return std::make_pair(d.empty() ? int64_t(1) : d[0], int64_t(1));
    return std::make_pair(d[1], prod(d, 2, d.size()));
  };
  return cp(a) == cp(b) && prod(a, 0, a.size()) == prod(b, 0, b.size());
}

std::string whyMove(const View &v, const v1::Node &n) {
  int x = v.in(n, 0), y = v.out(n);
  if (x < 0 || y < 0 ||
      (!isQ8(v.dtype(x)) && !(v.dtype(x) == "i16" && has16(v.t, "reshape"))))
    return "moves " + (x >= 0 ? v.dtype(x) : std::string("nothing")) +
           " (the target keeps i8/u8" +
           (has16(v.t, "reshape") ? " and i16)" : ")");
  if (v.constant[size_t(x)])
    return "moves a constant";
  if (v.layout(x) != v.layout(y))
    return "changes the channel-tiled layout (only reshapes that keep dim 1 "
           "and the pixel order are free" +
           std::string(v.t.form("pixels")
                           ? ", or move the channels to another axis read "
                             "only by movement and pixel ops)"
                           : ")");
  return "";
}

// A flatten [N, C, H, W] -> [N, C*H*W] whose only use is a MatMulInteger's
// A: the pair is a convolution with an H x W kernel over the image (weights
// B rearranged), so the target runs it without a layout change.
bool flattensIntoMatMul(const View &v, const v1::Node &n) {
  int x = v.in(n, 0), y = v.out(n);
  if (x < 0 || y < 0 || !isQ8(v.dtype(x)) || v.constant[size_t(x)])
    return false;
  auto xd = v.dims(x), yd = v.dims(y);
  if (xd.size() != 4 || yd.size() != 2 || yd[0] != xd[0] ||
      yd[1] != xd[1] * xd[2] * xd[3] || v.uses(y) != 1 ||
      v.users[size_t(y)].size() != 1)
    return false;
  const v1::Node &m = v.g.nodes(v.users[size_t(y)][0]);
  if (m.op() != "MatMulInteger" || v.in(m, 0) != y || !whyMatMul(v, m).empty())
    return false;
  return xd[3] <= v.t.maxX &&
         uint64_t(xd[2] * xd[3] * v.t.lanes) <= rowsOf(v.t, Cls::Wgt) / 2 &&
         uint64_t(xd[2] * xd[3]) <= rowsOf(v.t, Cls::Act) / 2;
}

std::string whyConcat(const View &v, const v1::Node &n, int self) {
  int y = v.out(n);
  if (y < 0 ||
      (!isQ8(v.dtype(y)) && !(v.dtype(y) == "i16" && has16(v.t, "concat"))))
    return "concatenates " + (y >= 0 ? v.dtype(y) : std::string("nothing"));
  auto yd = v.dims(y);
  int64_t axis = aInt(n, "axis", 0);
  if (axis < 0)
    axis += int64_t(yd.size());
  if (yd.size() < 2 || axis != 1 || v.chan[size_t(y)] != 1)
    return "axis " + std::to_string(axis) +
           " (the target concatenates channels, axis 1, by placement)";
  // (All the parts of a Split with parts inside a tile count as its input.)
  const std::vector<int> ins = concatInputs(v, n);
  for (size_t i = 0; i < ins.size(); ++i) {
    int x = ins[i];
    if (x < 0 || v.dtype(x) != v.dtype(y))
      return "inputs of different element types";
    if (v.constant[size_t(x)])
      return "a constant input";
    if (lanePart(v, x))
      return "input " + q(v.name(x)) +
             " starts inside a channel tile of its Split's input and the "
             "Concat does not take every part of that Split in order";
    if (i + 1 < ins.size() && v.dims(x)[1] % v.t.lanes &&
        (v.dims(x)[1] % 8 || !v.t.declares(OpKind::Store, "lanes") ||
         v.dtype(x) == "i16"))
      return "input " + q(v.name(x)) + " has " + std::to_string(v.dims(x)[1]) +
             " channels, not a multiple of the lanes " +
             std::to_string(v.t.lanes) +
             (v.dtype(x) == "i16"
                  ? std::string(" (16-bit inputs are placed at whole channel "
                                "tiles)")
              : v.t.declares(OpKind::Store, "lanes")
                  ? std::string(" nor of 8 (inputs inside a tile are placed "
                                "by 8-lane groups)")
                  : std::string(" (inputs are placed at whole channel tiles; "
                                "the target's store has no lane groups)"));
    // An input that cannot be placed is copied by a 1x1 pool: without one,
    // an input another Concat places cannot be placed in this one too.
    if (!v.t.has(OpKind::Pool))
      for (int u : v.users[size_t(x)])
        if (u != self && v.g.nodes(u).op() == "Concat")
          return "input " + q(v.name(x)) +
                 " feeds another Concat (the target has no pool to copy it)";
  }
  return "";
}

// Split along channels into views of the input (parts at whole channel
// tiles) or parts inside a tile that their readers place (Lanes.cpp).
std::string whySplit(const View &v, const v1::Node &n) {
  int x = v.in(n, 0);
  if (x < 0 ||
      (!isQ8(v.dtype(x)) && !(v.dtype(x) == "i16" && has16(v.t, "concat"))))
    return "splits " + (x >= 0 ? v.dtype(x) : std::string("nothing"));
  if (v.constant[size_t(x)])
    return "splits a constant";
  auto xd = v.dims(x);
  int64_t axis = aInt(n, "axis", 0);
  if (axis < 0)
    axis += int64_t(xd.size());
  if (xd.size() < 2 || axis != 1 || v.chan[size_t(x)] != 1)
    return "axis " + std::to_string(axis) +
           " (the target splits channels, axis 1, by placement)";
  for (int i = 0; i < n.outputs_size(); ++i) {
    int y = v.out(n, i);
    if (y < 0)
      return "an omitted output";
    if (v.dtype(y) != v.dtype(x))
      return "outputs of another element type";
  }
  // Parts start at whole channel tiles (views) or inside one, at a multiple
  // of 8 (Lanes.cpp).
  return whyLaneParts(v, n);
}

bool addAttrs(const v1::Node &n, AddAttrs &p) {
  struct {
    const char *name;
    int64_t AddAttrs::*f;
  } const names[] = {{"left_shift", &AddAttrs::lshift},
                     {"a_zero_point", &AddAttrs::aZp},
                     {"a_multiplier", &AddAttrs::aMult},
                     {"a_shift", &AddAttrs::aShift},
                     {"b_zero_point", &AddAttrs::bZp},
                     {"b_multiplier", &AddAttrs::bMult},
                     {"b_shift", &AddAttrs::bShift},
                     {"y_multiplier", &AddAttrs::outMult},
                     {"y_shift", &AddAttrs::outShift},
                     {"y_zero_point", &AddAttrs::outZp},
                     {"min", &AddAttrs::lo},
                     {"max", &AddAttrs::hi}};
  auto flt = [&](const char *name, double &out) {
    const v1::Attribute *a = attr(n, name);
    if (!a || a->value_case() != v1::Attribute::kF)
      return false;
    out = a->f();
    return true;
  };
  if (flt("y_scale", p.sy)) {
    p.exact = true;
    p.aZp = aInt(n, "a_zero_point", 0);
    p.bZp = aInt(n, "b_zero_point", 0);
    p.outZp = aInt(n, "y_zero_point", 0);
    if (const v1::Attribute *a = attr(n, "min"))
      p.lo = a->value_case() == v1::Attribute::kI ? a->i() : p.lo;
    if (const v1::Attribute *a = attr(n, "max"))
      p.hi = a->value_case() == v1::Attribute::kI ? a->i() : p.hi;
    return flt("a_scale", p.sa) && flt("b_scale", p.sb);
  }
  bool all = true;
  for (auto &e : names) {
    const v1::Attribute *a = attr(n, e.name);
    if (a && a->value_case() == v1::Attribute::kI)
      p.*(e.f) = a->i();
    else if (std::strcmp(e.name, "min") && std::strcmp(e.name, "max") &&
             std::strcmp(e.name, "left_shift"))
      all = false;
  }
  return all;
}

bool exactAddRegs(const View &v, const AddAttrs &p, int a, int b, int y,
                  bool swap, AddRegs &r) {
  // quant::AddFixed on the stored values less their type's lowest, which
  // are the int8 lanes plus 128 for u8 and i8 alike; the result of a u8
  // output is held as int8 (less 128): the offset and the clamp move by it.
  auto lowest = [&](int x) { return v.dtype(x) == "u8" ? 0 : -128; };
  quant::AddScales s;
  s.sa = float(swap ? p.sb : p.sa);
  s.sb = float(swap ? p.sa : p.sb);
  s.sy = float(p.sy);
  s.za = int32_t(swap ? p.bZp : p.aZp);
  s.zb = int32_t(swap ? p.aZp : p.bZp);
  s.zy = int32_t(p.outZp);
  const int la = lowest(swap ? b : a), lb = lowest(swap ? a : b);
  int64_t off = v.dtype(y) == "u8" ? 128 : 0;
  int64_t lowY = v.dtype(y) == "u8" ? 0 : -128, highY = lowY + 255;
  int64_t lo = std::max(p.lo, lowY), hi = std::min(p.hi, highY);
  hi = std::max(lo, hi);
  quant::AddFixed f;
  if (!quant::makeAddFixed(s, la, lb, int32_t(lo), int32_t(hi), f))
    return false;
  r.exact = true;
  r.xaMult = f.aMult;
  r.xbMult = f.bMult;
  r.xOffset = f.offset - off * (int64_t(1) << f.shift);
  r.xShift = f.shift;
  r.lo = int32_t(lo - off);
  r.hi = int32_t(hi - off);
  return true;
}

// How the second operand of an add repeats: 0 same shape, 1 one pixel
// (per channel or scalar) repeated.
int broadcastKind(const std::vector<int64_t> &big,
                  const std::vector<int64_t> &small, size_t chan) {
  if (big == small)
    return 0;
  if (big.size() < 2 || small.size() > big.size())
    return -1;
  // numpy: `small` aligns at the right; it repeats over every pixel when
  // each of its dims is 1 but (possibly) the channel dim of big (axis 1,
  // the last of a sequence).
  size_t off = big.size() - small.size();
  for (size_t i = 0; i < small.size(); ++i) {
    size_t bi = i + off;
    if (small[i] == 1)
      continue;
    if (bi != chan || small[i] != big[chan])
      return -1;
  }
  return 1;
}

int broadcastKind(const View &v, int y, int o) {
  return broadcastKind(v.dims(y), v.dims(o), isSequence(v, y) ? 2 : 1);
}

// A value in its own tiled layout: channels on axis 1 (axis 0 below rank 2),
// pixels every other index.
int64_t ownChannels(const std::vector<int64_t> &d) {
  return d.empty() ? 1 : d[d.size() >= 2 ? 1 : 0];
}

// An add operand repeated over every pixel is read as one row per channel
// tile: lane c of that row must hold its value for channel c. A constant is
// laid out so at compile time (its one value or per-channel values spread
// over the C lanes); any other tensor must already be one pixel of C
// channels in its own layout ([1,C,1,1], [1,C], or [C] against a rank-2
// result). A scalar, [1] or [C,1,1] input is not: a load moves whole rows and
// cannot spread one value over the lanes, nor turn pixels into lanes.
std::string whyRepeated(const View &v, int x, int64_t C) {
  if (v.constant[size_t(x)])
    return "";
  auto d = v.dims(x);
  if (ownChannels(d) == C && prod(d, 0, d.size()) == C)
    return "";
  std::string shape;
  for (size_t i = 0; i < d.size(); ++i)
    shape += (i ? "," : "") + std::to_string(d[i]);
  return "operand " + q(v.name(x)) + " [" + shape + "] is repeated over " +
         std::to_string(C) +
         " channels but is not a constant: the vector add reads one value per "
         "lane "
         "and a load cannot spread a value over the lanes (only a constant or "
         "a "
         "[1,C,...] tensor broadcasts)";
}

std::string whyQAdd(const View &v, const v1::Node &n) {
  int a = v.in(n, 0), b = v.in(n, 1), y = v.out(n);
  if (a < 0 || b < 0 || y < 0)
    return "QuantizedAdd needs two operands";
  // 16-bit: any of a, b and the result int16 (zero point 0; the int16 form
  // of the add, an 8-bit side converted to a 16-bit row first, an 8-bit
  // result after) on a target whose add form declares 16-bit activations.
  const bool any16 = v.dtype(a) == "i16" || v.dtype(b) == "i16" ||
                     v.dtype(y) == "i16",
             w16 = any16 && has16(v.t, "add");
  for (int x : {a, b, y})
    if (!isQ8(v.dtype(x)) && !(w16 && v.dtype(x) == "i16"))
      return q(v.name(x)) + " is " + v.dtype(x) + " (i8 or u8" +
             (has16(v.t, "add") ? " or i16)" : ")");
  AddAttrs p;
  if (!addAttrs(n, p))
    return "QuantizedAdd without its multiplier/shift/zero-point attributes";
  if (p.exact) {
    AddRegs r;
    if (!v.t.exactAddFlag())
      return "the exact quantized add needs vadd's exact flag and the "
             "add_x_* registers (the target has TFLite's add only)";
    if (!exactAddRegs(v, p, a, b, y, false, r))
      return "the exact add's scales lie too far apart for the 64-bit form "
             "(48-bit multipliers)";
  }
  if ((v.dtype(a) == "i16" && p.aZp) || (v.dtype(b) == "i16" && p.bZp) ||
      (v.dtype(y) == "i16" && p.outZp))
    return "an int16 tensor with a nonzero zero point";
  if (w16 && p.exact)
    return "an exact int16 add (the exact form is the 8-bit add's)";
  auto yd = v.dims(y);
  // A sequence (defaultChan): its channels are the last axis.
  const bool seq = yd.size() == 3 && isSequence(v, y);
  if (yd.size() == 3 && !seq)
    return "a rank-3 add not laid out as a sequence (its operands are "
           "sequences of its shape or constants repeated per channel)";
  if (yd.size() != 4 && yd.size() != 2 && !seq)
    return "rank " + std::to_string(yd.size()) +
           " (2, 4, or 3 laid out as a sequence: channels last)";
  const size_t ch = seq ? 2 : 1;
  int ka = broadcastKind(yd, v.dims(a), ch),
      kb = broadcastKind(yd, v.dims(b), ch);
  if (seq && ((!ka && !isSequence(v, a)) || (!kb && !isSequence(v, b))))
    return "an operand of the sequence's shape not laid out as a sequence";
  if (ka < 0 || kb < 0 || (ka && kb))
    return "broadcast other than one operand repeated per channel";
  if (w16 && ((ka && v.dtype(a) == "i16" && v.constant[size_t(a)]) ||
              (kb && v.dtype(b) == "i16" && v.constant[size_t(b)])))
    return "a repeated int16 constant (constants are laid out as 8-bit "
           "rows)";
  if (ka || kb) {
    std::string why = whyRepeated(v, ka ? a : b, yd[ch]);
    if (!why.empty())
      return why;
  }
  return "";
}

// ---- the form table's checks, one per row kind ---------------------------

std::string whyCastNode(const View &v, Analysis &a, int i, bool) {
  std::vector<int> chain = sumChain(v, i);
  if (chain.empty())
    return "a Cast that does not start a per-channel sum (Cast -> [Sub] "
           "-> ReduceSum over H, W -> Requantize)";
  for (int k : chain)
    a.sumOf[size_t(k)] = i;
  int end = v.out(v.g.nodes(chain.back()));
  if (v.uses(end) == 1)
    a.chainOf[size_t(end)] = {i, -1};
  return "";
}

std::string whyGemmRootNode(const View &v, Analysis &a, int i, bool) {
  const v1::Node &n = v.g.nodes(i);
  std::string why = n.op() == "ConvInteger" ? whyConv(v, n) : whyMatMul(v, n);
  int y = v.out(n);
  if (why.empty() && y >= 0 && v.uses(y) == 1)
    a.chainOf[size_t(y)] = {i, -1};
  return why;
}

std::string whyBiasNode(const View &v, Analysis &a, int i, bool) {
  const v1::Node &n = v.g.nodes(i);
  int x0 = v.in(n, 0), x1 = v.in(n, 1), y = v.out(n);
  int acc = -1, c = -1;
  for (auto [p, o] : {std::make_pair(x0, x1), std::make_pair(x1, x0)})
    if (p >= 0 && accChain(v, a, p).root >= 0 && accChain(v, a, p).bias < 0) {
      acc = p;
      c = o;
    }
  if (acc < 0)
    return "an Add that is not an int32 bias on a ConvInteger/MatMulInteger "
           "the target runs (it adds int8 with QuantizedAdd)";
  auto yd = v.dims(y);
  std::vector<int64_t> bv;
  const int ch = v.chan[size_t(y)];
  if (c < 0 || !biasValues(v, c, yd.size() > 1 ? yd[size_t(ch)] : 1,
                           int(yd.size()), ch, bv))
    return "the bias " + (c >= 0 ? q(v.name(c)) : std::string("?")) +
           " is not an i32 constant per output channel";
  if (v.uses(y) != 1)
    return "the biased accumulator " + q(v.name(y)) +
           " has several uses (the target requantizes it in place)";
  a.chainOf[size_t(y)] = {accChain(v, a, acc).root, i};
  return "";
}

std::string whyRequantNode(const View &v, Analysis &a, int i, bool forCompile) {
  const v1::Node &n = v.g.nodes(i);
  std::string why = whyRequant(v, a, n);
  // A sequence's conversion whose input the host computes (a detector
  // head's [N, C, HW] maps brought to one scale before a host Concat) is
  // not worth a partition of its own.
  const int x = v.in(n, 0);
  const int p = x >= 0 ? v.producer[size_t(x)] : -1;
  if (why.empty() && !forCompile && isSequence(v, x) && v.dtype(x) != "i32" &&
      v.dtype(x) != "i64" && (p < 0 || !a.why[size_t(p)].empty()))
    why = "a requantization of a sequence whose input is not computed on the "
          "target (alone it is not worth a partition)";
  return why;
}

// The source index ONNX's nearest Resize reads for output index X of an
// axis of `in` -> `out` elements at scale f; -1 for a mode it does not know.
int64_t nearestSource(const std::string &ctm, const std::string &nm, int64_t X,
                      int64_t f, int64_t in, int64_t out) {
  const double s = double(f);
  double x;
  if (ctm == "asymmetric")
    x = double(X) / s;
  else if (ctm == "half_pixel" || (ctm == "pytorch_half_pixel" && out > 1))
    x = (double(X) + 0.5) / s - 0.5;
  else if (ctm == "pytorch_half_pixel")
    x = 0;
  else if (ctm == "align_corners")
    x = out == 1 ? 0 : double(X) * double(in - 1) / double(out - 1);
  else if (ctm == "tf_half_pixel_for_nn")
    x = (double(X) + 0.5) / s;
  else
    return -1;
  double r;
  if (nm == "floor")
    r = std::floor(x);
  else if (nm == "ceil")
    r = std::ceil(x);
  else if (nm == "round_prefer_ceil")
    r = std::floor(x + 0.5);
  else if (nm == "round_prefer_floor")
    r = x - std::floor(x) == 0.5 ? std::floor(x) : std::round(x);
  else
    return -1;
  return std::clamp<int64_t>(int64_t(r), 0, in - 1);
}

// A float constant's elements (f32), or false.
bool floats(const View &v, int x, std::vector<double> &out) {
  if (x < 0 || !v.constant[size_t(x)] || v.dtype(x) != "f32")
    return false;
  const std::string &d = v.constant[size_t(x)]->data();
  out.resize(d.size() / 4);
  for (size_t i = 0; i < out.size(); ++i) {
    float f;
    std::memcpy(&f, d.data() + 4 * i, 4);
    out[i] = double(f);
  }
  return true;
}

// Why a Resize's region of interest and scales inputs (1 and 2) are not
// those of an upsampling of H and W by f: none given or empty, or scales
// the constant 1, 1, f, f. Empty when they are.
std::string whyResizeOperands(const View &v, const v1::Node &n, int64_t f) {
  int roi = v.in(n, 1), sc = v.in(n, 2);
  if (roi >= 0 && v.type(roi).dims_size() && v.type(roi).dims(0) > 0)
    return "a region of interest";
  std::vector<double> s;
  if (sc >= 0 && v.type(sc).dims_size() && v.type(sc).dims(0) > 0 &&
      (!floats(v, sc, s) || s.size() != 4 || s[0] != 1 || s[1] != 1 ||
       s[2] != double(f) || s[3] != double(f)))
    return "scales that are not the constant 1, 1, f, f";
  return "";
}

// Nearest upsampling of H and W by one integer factor (2..8) that reads
// source pixel floor(X / f): a 1x1 pool whose result is stored repeated.
std::string whyResize(const View &v, const v1::Node &n) {
  if (!v.t.has(OpKind::Pool))
    return "the target has no pool (nearest upsampling is a 1x1 pool stored "
           "repeated)";
  int x = v.in(n, 0), y = v.out(n);
  if (x < 0 || y < 0 || !isQ8(v.dtype(x)) || v.dtype(y) != v.dtype(x))
    return "resizes " + (x >= 0 ? v.dtype(x) : std::string("nothing")) +
           " (the target upsamples i8/u8)";
  if (v.constant[size_t(x)])
    return "resizes a constant";
  auto xd = v.dims(x), yd = v.dims(y);
  if (xd.size() != 4 || yd.size() != 4)
    return "rank " + std::to_string(xd.size()) + " (images, NCHW)";
  const std::string mode = aStr(n, "mode", "nearest");
  if (mode != "nearest")
    return "mode " + q(mode) + " (the target upsamples nearest)";
  if (aInt(n, "antialias", 0) || attr(n, "axes"))
    return "antialias or axes";
  const int64_t f = xd[2] ? yd[2] / xd[2] : 0;
  if (yd[0] != xd[0] || yd[1] != xd[1] || f < 2 || f > 8 ||
      yd[2] != f * xd[2] || yd[3] != f * xd[3])
    return "from " + std::to_string(xd[2]) + "x" + std::to_string(xd[3]) +
           " to " + std::to_string(yd[2]) + "x" + std::to_string(yd[3]) +
           " (the target upsamples H and W by one factor 2..8)";
  if (std::string why = whyResizeOperands(v, n, f); !why.empty())
    return why;
  const std::string ctm =
      aStr(n, "coordinate_transformation_mode", "half_pixel");
  const std::string nm = aStr(n, "nearest_mode", "round_prefer_floor");
  for (int a = 2; a < 4; ++a)
    for (int64_t X = 0; X < yd[size_t(a)]; ++X)
      if (nearestSource(ctm, nm, X, f, xd[size_t(a)], yd[size_t(a)]) != X / f)
        return "coordinate_transformation_mode " + q(ctm) + " with " +
               "nearest_mode " + q(nm) +
               " (the target repeats source pixel floor(X / f))";
  if (xd[3] > v.t.maxX)
    return "lines of " + std::to_string(xd[3]) +
           " pixels (loads move at most " + std::to_string(v.t.maxX) + ")";
  return "";
}

std::string whyResizeNode(const View &v, Analysis &a, int i, bool f) {
  // (An int32 Resize is the bilinear form's, when the target has it.)
  const int x = v.in(v.g.nodes(i), 0);
  if (x >= 0 && v.dtype(x) == "i32" && v.t.form("upsample"))
    return whyUpsampleNode(v, a, i, f);
  return whyResize(v, v.g.nodes(i));
}

std::string whyPoolNode(const View &v, Analysis &, int i, bool) {
  return whyPool(v, v.g.nodes(i));
}

std::string whyAddNode(const View &v, Analysis &, int i, bool) {
  return whyQAdd(v, v.g.nodes(i));
}

std::string whyConcatNode(const View &v, Analysis &a, int i, bool) {
  const v1::Node &n = v.g.nodes(i);
  std::string why = whyConcat(v, n, i);
  if (why.empty())
    why = whyInsideTiles(v, a, n); // (inputs placed by lane groups)
  // Without a pool to copy with, every input must be a result the target
  // computes, so its producer can store it in place.
  for (int k = 0; why.empty() && !v.t.has(OpKind::Pool) && k < n.inputs_size();
       ++k) {
    int x = n.inputs(k), p = x >= 0 ? v.producer[size_t(x)] : -1;
    if (p < 0 || !a.why[size_t(p)].empty())
      why = "input " + q(v.name(x)) +
            " is not computed on the target (the target has no pool to copy "
            "it into place)";
  }
  return why;
}

std::string whySplitNode(const View &v, Analysis &a, int i, bool forCompile) {
  const v1::Node &n = v.g.nodes(i);
  std::string why = whySplit(v, n);
  int x = v.in(n, 0);
  int p = x >= 0 ? v.producer[size_t(x)] : -1;
  if (why.empty() && !forCompile && (p < 0 || !a.why[size_t(p)].empty()))
    why = "its input is not computed on the target (a lone split is not "
          "worth a partition)";
  return why;
}

std::string whyMoveNode(const View &v, Analysis &a, int i, bool forCompile) {
  const v1::Node &n = v.g.nodes(i);
  std::string why = whyMove(v, n);
  if (!why.empty() && flattensIntoMatMul(v, n))
    why = ""; // the MatMul becomes a convolution over the whole image
  int x = v.in(n, 0);
  int p = x >= 0 ? v.producer[size_t(x)] : -1;
  // (An input laid out for this reshape, View::chan, or a sequence, whose
  // channels are its last axis, is read through it: channels off axis 1.)
  const size_t rx = x >= 0 ? v.dims(x).size() : 0;
  const bool laidOut =
      x >= 0 && v.isInput[size_t(x)] && v.chan[size_t(x)] != (rx >= 2 ? 1 : 0);
  if (why.empty() && !forCompile && !laidOut &&
      (p < 0 || !a.why[size_t(p)].empty()))
    why = "its input is not computed on the target (a lone reshape is not "
          "worth a partition)";
  return why;
}

// TableLookup(x, table) of an int16 x into int16 (form table16): a layer
// of its own on 16-bit rows, the table 513 constant int16 entries (the
// interpolated table, docs/quantization.md, "16-bit activations").
std::string whyTable16(const View &v, const v1::Node &n) {
  int x = v.in(n, 0), tb = v.in(n, 1), y = v.out(n);
  if (!v.t.form("table16") || !v.t.has(OpKind::Lut))
    return "looks up i16 (the target has no table16 form: its output table "
           "maps i8/u8)";
  if (v.dtype(y) != "i16")
    return "looks up i16 -> " + v.dtype(y) +
           " (the 16-bit table maps i16 to i16)";
  if (v.constant[size_t(x)])
    return "looks up a constant";
  std::vector<int64_t> vals;
  if (!v.constant[size_t(tb)] || v.intCount(tb) != 513 || !v.ints(tb, vals))
    return "the table is not a constant of 513 entries";
  for (int64_t e : vals)
    if (e < -32768 || e > 32767)
      return "the table has an entry outside int16";
  if (v.dims(x).empty())
    return "looks up a scalar";
  return "";
}

// TableLookup(x, table) as the output table of the layer requantizing x:
// x is that Requantize's only use (the layer stores the looked-up result,
// never x), the table a constant of 256 entries.
std::string whyTableNode(const View &v, Analysis &a, int i, bool) {
  const v1::Node &n = v.g.nodes(i);
  int x = v.in(n, 0), tb = v.in(n, 1), y = v.out(n);
  if (x < 0 || tb < 0 || y < 0)
    return "TableLookup needs x and the table";
  if (v.dtype(x) == "i16")
    return whyTable16(v, n);
  if (!rowFor(v.t, "TableLookup") ||
      std::strcmp(rowFor(v.t, "TableLookup")->forms, "table16") == 0)
    return "looks up " + v.dtype(x) +
           " (the target's table16 form looks up int16 values)";
  if (!isQ8(v.dtype(x)) || !isQ8(v.dtype(y)))
    return "looks up " + v.dtype(x) + " -> " + v.dtype(y) +
           " (the output table maps i8/u8 to i8/u8)";
  std::vector<int64_t> vals;
  if (!v.constant[size_t(tb)] || !v.ints(tb, vals) || vals.size() != 256)
    return "the table is not a constant of 256 entries";
  int p = v.producer[size_t(x)];
  if (p < 0 || v.g.nodes(p).op() != "Requantize" || !a.why[size_t(p)].empty() ||
      a.mulOf[size_t(p)] >= 0 || a.lutOf[size_t(p)] >= 0)
    return "its input " + q(v.name(x)) +
           " is not requantized by a layer the target runs (the table is "
           "applied on a convolution's, MatMul's or mean's output path)";
  if (v.uses(x) != 1)
    return "its input " + q(v.name(x)) +
           " has other uses (the layer stores only the looked-up result)";
  return "";
}

std::string whyChainPartNode(const View &v, Analysis &, int i, bool) {
  const v1::Node &n = v.g.nodes(i);
  std::string why = "a " + n.op() +
                    " that is not part of an output-table chain (integer "
                    "elementwise ops of one requantized layer result alone, "
                    "ending in an i8/u8 value)";
  MulPattern mp;
  if (v.t.form("mul") && n.op() == "Mul")
    why += " nor a quantized multiply: " + mulPattern(v, i, mp);
  return why;
}

std::string whySumPartNode(const View &v, Analysis &, int i, bool) {
  return "a " + v.g.nodes(i).op() +
         " that is not part of a per-channel sum (Cast -> [Sub of a scalar "
         "zero point] -> ReduceSum over H, W -> Requantize)";
}

std::string mulPattern(const View &v, int mi, MulPattern &p) {
  p = MulPattern();
  const v1::Node &n = v.g.nodes(mi);
  int y = v.out(n);
  if (n.op() != "Mul" || y < 0 || v.dtype(y) != "i32" || v.uses(y) != 1 ||
      v.outUses[size_t(y)])
    return "not an int32 Mul with one use";
  int ri = v.users[size_t(y)][0];
  const v1::Node &r = v.g.nodes(ri);
  std::vector<int64_t> m, e, xz;
  // 16x8: int16 factors and result (zero point 0) on a target whose mul
  // form declares 16-bit activations (VMul a16, b16, out16).
  const bool m16 = has16(v.t, "mul");
  auto q816 = [&](int x) {
    return isQ8(v.dtype(x)) || (m16 && v.dtype(x) == "i16");
  };
  if (r.op() != "Requantize" || v.in(r, 0) != y || !q816(v.out(r)) ||
      !v.ints(v.in(r, 1), m) || !v.ints(v.in(r, 2), e) || m.size() != 1 ||
      e.size() != 1)
    return "its result is not requantized per tensor";
  if (v.in(r, 3) >= 0 && (!v.ints(v.in(r, 3), xz) || xz.size() != 1 || xz[0]))
    return "its Requantize has an input zero point";
  if (v.in(r, 4) >= 0 && (!v.ints(v.in(r, 4), xz) || xz.size() != 1))
    return "its Requantize has no scalar output zero point";
  if (v.dtype(v.out(r)) == "i16" && !xz.empty() && xz[0])
    return "an int16 result with a nonzero zero point";
  // Each factor: Cast(q) [- z], used only here.
  int cast[2], subn[2], src[2];
  int64_t z[2];
  for (int s = 0; s < 2; ++s) {
    int u = v.in(n, s);
    if (u < 0)
      return "a factor is missing";
    int pn = v.producer[size_t(u)];
    subn[s] = -1;
    z[s] = 0;
    if (pn >= 0 && v.g.nodes(pn).op() == "Sub") {
      std::vector<int64_t> zv;
      int c = v.in(v.g.nodes(pn), 0);
      if (!v.ints(v.in(v.g.nodes(pn), 1), zv) || zv.size() != 1 || c < 0)
        return "a factor's Sub is not of a scalar zero point";
      subn[s] = pn;
      z[s] = zv[0];
      pn = v.producer[size_t(c)];
    }
    if (pn < 0 || v.g.nodes(pn).op() != "Cast")
      return "a factor is not a Cast of an i8/u8 tensor";
    cast[s] = pn;
    src[s] = v.in(v.g.nodes(pn), 0);
    if (src[s] < 0 || !q816(src[s]))
      return std::string("a factor is not a Cast of an i8/u8") +
             (m16 ? " or i16" : "") + " tensor";
    if (v.dtype(src[s]) == "i16" && (z[s] || v.constant[size_t(src[s])]))
      return "an int16 factor with a zero point, or constant (constants are "
             "laid out as 8-bit rows)";
    if (v.dtype(src[s]) != "i16" &&
        (z[s] < (v.dtype(src[s]) == "u8" ? 0 : -128) ||
         z[s] > (v.dtype(src[s]) == "u8" ? 255 : 127)))
      return "a zero point outside its type";
  }
  auto yd = v.dims(v.out(r));
  // (Not of sequences: a transformer's GELU multiplies x by a factor
  // computed through host tables, and the partitions would take x's Cast
  // and Sub apart from the Mul: the plugin refuses such a part.)
  if (yd.size() != 4 && yd.size() != 2)
    return "rank " + std::to_string(yd.size()) + " (2 or 4)";
  int k0 = broadcastKind(yd, v.dims(src[0])),
      k1 = broadcastKind(yd, v.dims(src[1]));
  const int big = k0 == 0 ? 0 : 1;
  const int kb = big == 0 ? k1 : k0;
  if ((big == 0 ? k0 : k1) != 0 || kb < 0)
    return "the factors are neither of one shape nor a tensor and its "
           "per-channel scale";
  if (v.constant[size_t(src[big])])
    return "a constant factor";
  if (kb == 1) {
    std::string why = whyRepeated(v, src[1 - big], yd[1]);
    if (!why.empty())
      return why;
  }
  p.castA = cast[big], p.subA = subn[big], p.castB = cast[1 - big];
  p.subB = subn[1 - big], p.mul = mi, p.requant = ri;
  p.a = src[big], p.b = src[1 - big], p.za = z[big], p.zb = z[1 - big];
  p.kind = kb;
  return "";
}

std::string upPattern(const View &v, int ri, UpPattern &p) {
  p = UpPattern();
  const v1::Node &n = v.g.nodes(ri);
  int c = v.in(n, 0), y = v.out(n);
  if (n.op() != "Resize" || c < 0 || y < 0 || v.dtype(c) != "i32" ||
      v.dtype(y) != "i32")
    return "not an int32 Resize";
  if (aStr(n, "mode", "nearest") != "linear")
    return "mode " + q(aStr(n, "mode", "nearest")) +
           " (the target's int32 Resize is bilinear)";
  if (aInt(n, "antialias", 0) || aInt(n, "exclude_outside", 0) ||
      attr(n, "axes"))
    return "antialias, exclude_outside or axes";
  auto xd = v.dims(c), yd = v.dims(y);
  if (xd.size() != 4 || yd.size() != 4 || xd[2] < 1 || xd[3] < 1)
    return "rank " + std::to_string(xd.size()) + " (images, NCHW)";
  const int64_t f = yd[2] / xd[2];
  const int64_t fMax = int64_t(1) << std::min<int64_t>(
                           3, v.t.ops[size_t(OpKind::Upsample)].max("factor"));
  if ((f != 2 && f != 4 && f != 8) || f > fMax || yd[0] != xd[0] ||
      yd[1] != xd[1] || yd[2] != f * xd[2] || yd[3] != f * xd[3])
    return "from " + std::to_string(xd[2]) + "x" + std::to_string(xd[3]) +
           " to " + std::to_string(yd[2]) + "x" + std::to_string(yd[3]) +
           " (the target upsamples H and W by one factor 2, 4 or 8 up to " +
           std::to_string(fMax) + ")";
  const std::string ctm =
      aStr(n, "coordinate_transformation_mode", "half_pixel");
  if (ctm == "half_pixel" ||
      (ctm == "pytorch_half_pixel" && yd[2] > 1 && yd[3] > 1))
    p.mode = 1;
  else if (ctm == "asymmetric")
    p.mode = 2;
  else
    return "coordinate_transformation_mode " + q(ctm) +
           " (the target's are half_pixel and asymmetric)";
  if (std::string why = whyResizeOperands(v, n, f); !why.empty())
    return why;
  int sz = v.in(n, 3);
  std::vector<int64_t> zs;
  if (sz >= 0 && v.type(sz).dims_size() && v.type(sz).dims(0) > 0 &&
      (!v.ints(sz, zs) || zs != yd))
    return "sizes that are not the constant output shape";
  // The map: Cast(x) [- z], each read only here.
  int pn = v.producer[size_t(c)];
  auto only = [&](int node, int user) {
    int o = v.out(v.g.nodes(node));
    return o >= 0 && !v.outUses[size_t(o)] && v.users[size_t(o)].size() == 1 &&
           v.users[size_t(o)][0] == user;
  };
  if (pn >= 0 && v.g.nodes(pn).op() == "Sub") {
    std::vector<int64_t> zv;
    const v1::Node &sn = v.g.nodes(pn);
    if (!v.ints(v.in(sn, 1), zv) || zv.size() != 1 || v.in(sn, 0) < 0 ||
        !only(pn, ri))
      return "its map's Sub is not of a scalar zero point, used once";
    p.sub = pn;
    p.z = zv[0];
    pn = v.producer[size_t(v.in(sn, 0))];
  }
  if (pn < 0 || v.g.nodes(pn).op() != "Cast" ||
      !only(pn, p.sub >= 0 ? p.sub : ri))
    return "its map is not a Cast of an i8/u8 tensor, used once";
  p.cast = pn;
  p.x = v.in(v.g.nodes(pn), 0);
  if (p.x < 0 || !isQ8(v.dtype(p.x)) || v.constant[size_t(p.x)])
    return "its map is not a Cast of an i8/u8 tensor";
  const std::string &xt = v.dtype(p.x);
  const int64_t lowest = xt == "u8" ? 0 : -128, highest = lowest + 255;
  if (p.z < lowest || p.z > highest)
    return "a zero point outside its type";
  // The result: Requantize by exactly 1 back to x's type and zero point.
  if (v.uses(y) != 1 || v.outUses[size_t(y)])
    return "its result has several uses";
  const int qi = v.users[size_t(y)][0];
  const v1::Node &r = v.g.nodes(qi);
  std::vector<int64_t> m, e, zy, xz;
  if (r.op() != "Requantize" || v.in(r, 0) != y || v.out(r) < 0 ||
      v.dtype(v.out(r)) != xt || !v.ints(v.in(r, 1), m) ||
      !v.ints(v.in(r, 2), e) || m.size() != 1 || e.size() != 1)
    return "its result is not requantized per tensor to " + xt;
  if (e[0] < 0 || e[0] > 30 || m[0] != (int64_t(1) << (31 - e[0])))
    return "its Requantize does not multiply by 1";
  if (v.in(r, 3) >= 0 && (!v.ints(v.in(r, 3), xz) || xz.size() != 1 || xz[0]))
    return "its Requantize has an input zero point";
  if (v.in(r, 4) >= 0 && (!v.ints(v.in(r, 4), zy) || zy.size() != 1))
    return "its Requantize has no scalar output zero point";
  if ((zy.empty() ? 0 : zy[0]) != p.z)
    return "its Requantize's zero point is not the map's";
  if (aInt(r, "min", lowest) > lowest || aInt(r, "max", highest) < highest)
    return "its Requantize clamps (the target's upsampling does not)";
  if (xd[3] > v.t.ops[size_t(OpKind::Upsample)].max("w") || xd[3] > v.t.maxX)
    return "lines of " + std::to_string(xd[3]) +
           " pixels (upsample reads at "
           "most " +
           std::to_string(
               std::min(v.t.ops[size_t(OpKind::Upsample)].max("w"), v.t.maxX)) +
           ")";
  // A band of one result line: the source lines it reads and the line,
  // double-buffered (the output slots are).
  const int64_t band = std::min<int64_t>(xd[2], 2) * xd[3] + 2 * f * xd[3];
  if (uint64_t(band) > rowsOf(v.t, Cls::Out))
    return "lines of " + std::to_string(xd[3]) + " pixels by " +
           std::to_string(f) +
           " (two result lines and the two source lines of one, " +
           std::to_string(band) + " rows, exceed the " + nameOf(v.t, Cls::Out) +
           " memory's " + std::to_string(rowsOf(v.t, Cls::Out)) + ")";
  p.resize = ri;
  p.requant = qi;
  p.f = f;
  return "";
}

std::string whyUpsampleNode(const View &v, Analysis &, int i, bool) {
  UpPattern p;
  std::string why = upPattern(v, i, p);
  return why.empty() ? "" : "not a bilinear upsampling: " + why;
}

// Nodes the target runs for free or as part of a layer, and the checks that
// need the whole graph (chains): per node the form table's row for its op.
// A 16-bit multiply whose factors are computed after different host
// islands (nodes the target refuses, downstream of one it runs) is not
// claimed: the partitioner places each claimed node as early as its inputs
// allow, so one factor's Cast could land in an earlier device partition
// than its Mul, and neither partition would compile. Factors after the same
// islands (every node of an integer recurrent layer read through a host
// Transpose) are ready in the same device run: the run goes on while a
// claimed node is ready, and each factor's remaining nodes are claimed.
// (The 8-bit multiply keeps its claims: docs/npu-backend.md, "Limits".)
void unclaimSplitMuls16(const View &v, Analysis &a) {
  const int nn = v.g.nodes_size();
  std::vector<char> device(size_t(v.g.values_size()), 0);
  // Per value: the islands it is computed after, as an interned sorted set
  // (0: none).
  std::vector<int> islands(size_t(v.g.values_size()), 0);
  std::vector<std::vector<int>> sets{{}};
  std::map<std::vector<int>, int> ids{{{}, 0}};
  for (int i = 0; i < nn; ++i) {
    const v1::Node &n = v.g.nodes(i);
    bool dev = false;
    std::vector<int> set;
    int only = 0;
    bool single = true;
    for (int k = 0; k < n.inputs_size(); ++k)
      if (n.inputs(k) >= 0) {
        dev = dev || device[size_t(n.inputs(k))];
        const int s = islands[size_t(n.inputs(k))];
        if (s != 0 && only != 0 && s != only)
          single = false;
        if (s != 0)
          only = s;
      }
    const bool claimed = a.why[size_t(i)].empty();
    const bool island = !claimed && dev;
    int id = only;
    if (!single || island) {
      for (int k = 0; k < n.inputs_size(); ++k)
        if (n.inputs(k) >= 0) {
          const std::vector<int> &s =
              sets[size_t(islands[size_t(n.inputs(k))])];
          set.insert(set.end(), s.begin(), s.end());
        }
      if (island)
        set.push_back(i);
      std::sort(set.begin(), set.end());
      set.erase(std::unique(set.begin(), set.end()), set.end());
      auto it = ids.find(set);
      if (it == ids.end()) {
        it = ids.emplace(set, int(sets.size())).first;
        sets.push_back(set);
      }
      id = it->second;
    }
    for (int k = 0; k < n.outputs_size(); ++k)
      if (n.outputs(k) >= 0) {
        device[size_t(n.outputs(k))] = dev || claimed;
        islands[size_t(n.outputs(k))] = id;
      }
  }
  for (MulPattern &mp : a.muls) {
    bool wide = false;
    for (int x : {mp.a, mp.b, v.out(v.g.nodes(mp.requant))})
      wide = wide || v.dtype(x) == "i16";
    if (!wide || islands[size_t(mp.a)] == islands[size_t(mp.b)])
      continue;
    for (int k : {mp.castA, mp.subA, mp.castB, mp.subB, mp.mul, mp.requant})
      if (k >= 0 && a.mulOf[size_t(k)] == mp.requant) {
        a.mulOf[size_t(k)] = -1;
        a.why[size_t(k)] =
            "a 16-bit multiply with factors computed after different host "
            "nodes (the partitions could separate its Casts from the Mul)";
      }
  }
}

// A quantized multiply (8- or 16-bit) whose factor's Cast or Sub the
// target does not run (one the importer's CSE shares with a per-channel sum
// the target refuses, e.g. a squeeze-excitation's global pool over a map
// larger than the act memory) is not claimed either: its partition would
// receive the int32 factor, which the mul form cannot read, and would not
// compile.
// A factor's Cast or Sub shared by several multiplies goes to the host with
// any of them, and the others follow (until none changes).
void unclaimHostFactorMuls(const View &v, Analysis &a) {
  for (bool changed = true; changed;) {
    changed = false;
    for (MulPattern &mp : a.muls) {
      int host = -1;
      for (int k : {mp.castA, mp.subA, mp.castB, mp.subB})
        if (k >= 0 && !a.why[size_t(k)].empty())
          host = k;
      if (host < 0 || a.mulOf[size_t(mp.mul)] != mp.requant)
        continue;
      const std::string why = "a quantized multiply whose factor " +
                              q(v.name(v.out(v.g.nodes(host)))) +
                              " is computed on the host (its " +
                              v.g.nodes(host).op() +
                              " is shared with a node the target does not run)";
      for (int k : {mp.castA, mp.subA, mp.castB, mp.subB, mp.mul, mp.requant})
        if (k >= 0 && a.mulOf[size_t(k)] >= 0 &&
            (a.mulOf[size_t(k)] == mp.requant || k != mp.mul)) {
          a.mulOf[size_t(k)] = -1;
          a.why[size_t(k)] = why;
        }
      changed = true;
    }
  }
}

Analysis analyze(const View &v, bool forCompile) {
  Analysis a;
  int nn = v.g.nodes_size();
  a.why.assign(size_t(nn), "");
  a.chainOf.assign(size_t(v.g.values_size()), Chain());
  a.sumOf.assign(size_t(nn), -1);
  a.lutOf.assign(size_t(nn), -1);
  a.mulOf.assign(size_t(nn), -1);
  a.upOf.assign(size_t(nn), -1);
  const bool tables = rowFor(v.t, "TableLookup") != nullptr;
  claimInterleaves(v, a);
  claimPermutations(v, a);
  claimViews(v, a);
  // Quantized multiplies first: their Casts and Subs come before the Mul.
  if (v.t.form("mul"))
    for (int i = 0; i < nn; ++i) {
      MulPattern mp;
      if (v.g.nodes(i).op() != "Mul" || !mulPattern(v, i, mp).empty())
        continue;
      // A factor's Cast or Sub that other nodes also read (the importer's CSE
      // shares them, e.g. with a per-channel sum) stays theirs to claim,
      // unless they are quantized multiplies too (each reads the 8-bit
      // source itself: x * x and x * f(x) of an 8-bit LRN).
      auto own = [&](int k) {
        if (k < 0)
          return false;
        int y = v.out(v.g.nodes(k));
        if (v.outUses[size_t(y)])
          return false;
        for (int u : v.users[size_t(y)]) {
          MulPattern other;
          if (u != mp.mul && u != mp.subA && u != mp.subB &&
              (v.g.nodes(u).op() != "Mul" || !mulPattern(v, u, other).empty()))
            return false;
        }
        return true;
      };
      // (A Cast is the multiply's only when its Sub, if any, is too.)
      const bool ownA = own(mp.castA) && (mp.subA < 0 || own(mp.subA));
      const bool ownB = own(mp.castB) && (mp.subB < 0 || own(mp.subB));
      for (int k : {ownA ? mp.castA : -1, ownA ? mp.subA : -1,
                    ownB ? mp.castB : -1, ownB ? mp.subB : -1})
        if (k >= 0)
          a.mulOf[size_t(k)] = mp.requant;
      a.mulOf[size_t(mp.mul)] = a.mulOf[size_t(mp.requant)] = mp.requant;
      a.muls.push_back(mp);
    }
  // Bilinear upsamplings: Cast -> [Sub] -> Resize -> Requantize, one layer.
  if (v.t.form("upsample") && v.t.has(OpKind::Upsample))
    for (int i = 0; i < nn; ++i) {
      UpPattern up;
      if (v.g.nodes(i).op() != "Resize" || !upPattern(v, i, up).empty() ||
          a.mulOf[size_t(up.cast)] >= 0)
        continue;
      for (int k : {up.cast, up.sub, up.resize, up.requant})
        if (k >= 0)
          a.upOf[size_t(k)] = up.requant;
      a.ups.push_back(up);
    }
  for (int i = 0; i < nn; ++i) {
    const std::string &op = v.g.nodes(i).op();
    if (a.sumOf[size_t(i)] >= 0 || a.lutOf[size_t(i)] >= 0 ||
        a.mulOf[size_t(i)] >= 0 || a.upOf[size_t(i)] >= 0 ||
        a.ilvOf[size_t(i)] >= 0 || a.permOf[size_t(i)] >= 0 ||
        a.viewOf[size_t(i)] >= 0)
      continue; // part of a sum (claimed with its Cast), a table chain, a
                // multiply, an upsampling, a phase interleave, a channel
                // permutation or a byte view
    const FormRow *row = rowFor(v.t, op);
    const bool pixel = v.t.form("pixels") && isPixelOp(v, v.g.nodes(i));
    a.why[size_t(i)] = pixel ? whyPixelNode(v, a, i, forCompile)
                       : row ? row->why(v, a, i, forCompile)
                             : "op " + op + " is not in the forms of target '" +
                                   v.t.name + "'";
    // Only movement and pixel ops read a layout with the channels on
    // another axis (View::chan).
    const int y0 = v.out(v.g.nodes(i));
    const bool sameChan = op == "Requantize" && y0 >= 0 &&
                          v.chan[size_t(y0)] != defaultChan(v.dims(y0).size());
    if (a.why[size_t(i)].empty() && !pixel && !isMoveOp(op) && !sameChan)
      for (int x : v.g.nodes(i).inputs())
        if (x >= 0 && v.chan[size_t(x)] != defaultChan(v.dims(x).size()))
          a.why[size_t(i)] = "reads " + q(v.name(x)) +
                             " laid out with its channels on axis " +
                             std::to_string(v.chan[size_t(x)]);
    if (op == "Transpose" && !a.why[size_t(i)].empty() && v.t.form("permute") &&
        row && row->why != whyPermuteNode)
      a.why[size_t(i)] += "; " + whyPermuteNode(v, a, i, forCompile);
    if (op == "Transpose" && !a.why[size_t(i)].empty() && v.t.form("reshape") &&
        row && row->why != whyViewNode)
      a.why[size_t(i)] += "; " + whyViewNode(v, a, i, forCompile);
    // A requantized layer result: the integer ops of it alone that follow
    // become its output table.
    // (A 16x8 layer into 8 bits, an int64 accumulator, takes one as the
    // int8 layer does: its requantization of the 16x8 sums with the table.
    // A requantization of an int16 tensor on its own or into int16 fuses
    // none: its 8-bit successors are layers of their own.)
    TableChain tc;
    const v1::Node &ni = v.g.nodes(i);
    if (tables && op == "Requantize" && a.why[size_t(i)].empty() &&
        v.dtype(v.in(ni, 0)) != "i16" && v.dtype(v.out(ni)) != "i16" &&
        tableChain(v, v.out(ni), tc).empty()) {
      // (x * f(x) is a table, not a multiply.)
      for (int n : tc.nodes)
        if (a.mulOf[size_t(n)] >= 0) {
          const int r = a.mulOf[size_t(n)];
          for (int k = 0; k < nn; ++k)
            if (a.mulOf[size_t(k)] == r)
              a.mulOf[size_t(k)] = -1;
        }
      for (int n : tc.nodes)
        a.lutOf[size_t(n)] = tc.exit;
      a.tables.push_back(std::move(tc));
    }
  }
  unclaimHostFactorMuls(v, a);
  unclaimSplitMuls16(v, a);
  settleInterleaves(v, a);
  settlePermutations(v, a, forCompile);
  settleViews(v, a, forCompile);
  settlePixelViews(v, a, forCompile);
  // An accumulator chain whose Requantize the target does not run still
  // runs (its int32 result is stored); nothing to undo.
  settleLaneParts(v, a);
  return a;
}

} // namespace ember::accel::sel

namespace ember::accel {

std::vector<std::string> whyNot(const Target &t, const backend::v1::Graph &g,
                                const SelectOptions &o) {
  sel::View v(t, g);
  if (!v.error.empty())
    return std::vector<std::string>(size_t(g.nodes_size()), v.error);
  std::vector<std::string> out;
  sel::Unshared u;
  if (!sel::unshareProducts(v, u)) {
    out = sel::analyze(v, false).why;
  } else {
    // Selection on the graph with a product per reader (Unshare.cpp); a
    // copied node answers as its original, or as the first copy refused.
    sel::View vu(t, u.g);
    vu.origin = u.origin;
    vu.copyNo = u.copyNo;
    std::vector<std::string> why = sel::analyze(vu, false).why;
    out.assign(size_t(g.nodes_size()), "");
    for (size_t i = 0; i < why.size(); ++i) {
      std::string &w = out[size_t(u.origin[i])];
      if (!u.copyNo[i] || w.empty())
        w = why[i];
    }
  }
  if (o.hostIslands)
    sel::leaveIslandsOnHost(v, out);
  return out;
}

} // namespace ember::accel
