// Form mul (Forms.def): a quantized Mul as the importer lowers it
// (docs/quantization.md): Requantize((Cast(a) - za) * (Cast(b) - zb)) with
// scalar parameters, of two tensors of one shape or a tensor and its
// per-channel scale (the squeeze-excitation scale), 8- or 16-bit: one
// multiply layer (an add layer with AddLayer::mul) on the vmul operation.
// The pattern is claimed whole before the per-node checks; a multiply whose
// factor the host computes, or a 16-bit one whose factors come after
// different host islands, is let go after them. x * f(x) of one layer
// result alone is an output table instead (Requant.cpp).
#include "Form.h"

#include <algorithm>
#include <map>

namespace ember::accel::sel {

namespace {

// The multiplies claimed (Analysis::state).
struct MulState {
  std::vector<MulPattern> muls;
};

} // namespace

Status mulPattern(const View &v, int mi, MulPattern &p) {
  p = MulPattern();
  const v1::Node &n = v.g.nodes(mi);
  int y = v.out(n);
  if (n.op() != "Mul" || y < 0 || v.dtype(y) != "i32" || v.uses(y) != 1 ||
      v.outUses[size_t(y)])
    return Status(ErrorCode::Unsupported, "not an int32 Mul with one use");
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
    return Status(ErrorCode::Unsupported,
                  "its result is not requantized per tensor");
  if (v.in(r, 3) >= 0 && (!v.ints(v.in(r, 3), xz) || xz.size() != 1 || xz[0]))
    return Status(ErrorCode::Unsupported,
                  "its Requantize has an input zero point");
  if (v.in(r, 4) >= 0 && (!v.ints(v.in(r, 4), xz) || xz.size() != 1))
    return Status(ErrorCode::Unsupported,
                  "its Requantize has no scalar output zero point");
  if (v.dtype(v.out(r)) == "i16" && !xz.empty() && xz[0])
    return Status(ErrorCode::Unsupported,
                  "an int16 result with a nonzero zero point");
  // Each factor: Cast(q) [- z], used only here.
  int cast[2], subn[2], src[2];
  int64_t z[2];
  for (int s = 0; s < 2; ++s) {
    int u = v.in(n, s);
    if (u < 0)
      return Status(ErrorCode::Unsupported, "a factor is missing");
    int pn = v.producer[size_t(u)];
    subn[s] = -1;
    z[s] = 0;
    // A constant factor the compiler folded (Cast(k) - zk of a constant k:
    // a LayerNorm gamma with negative entries), laid out as an 8-bit row
    // whose lowest value is -128 (constRowOffset).
    if (v.constant[size_t(u)] && v.dtype(u) == "i32") {
      std::vector<int64_t> kv;
      if (!v.ints(u, kv) || kv.empty() ||
          *std::max_element(kv.begin(), kv.end()) -
                  *std::min_element(kv.begin(), kv.end()) >
              255)
        return Status(ErrorCode::Unsupported,
                      "an int32 constant factor whose values span more than "
                      "an 8-bit row");
      cast[s] = -1;
      src[s] = u;
      z[s] = constRowOffset(kv);
      continue;
    }
    if (pn >= 0 && v.g.nodes(pn).op() == "Sub") {
      std::vector<int64_t> zv;
      int c = v.in(v.g.nodes(pn), 0);
      if (!v.ints(v.in(v.g.nodes(pn), 1), zv) || zv.size() != 1 || c < 0)
        return Status(ErrorCode::Unsupported,
                      "a factor's Sub is not of a scalar zero point");
      subn[s] = pn;
      z[s] = zv[0];
      pn = v.producer[size_t(c)];
    }
    if (pn < 0 || v.g.nodes(pn).op() != "Cast")
      return Status(ErrorCode::Unsupported,
                    "a factor is not a Cast of an i8/u8 tensor");
    cast[s] = pn;
    src[s] = v.in(v.g.nodes(pn), 0);
    if (src[s] < 0 || !q816(src[s]))
      return Status(ErrorCode::Unsupported,
                    std::string("a factor is not a Cast of an i8/u8") +
                        (m16 ? " or i16" : "") + " tensor");
    if (v.dtype(src[s]) == "i16" && (z[s] || v.constant[size_t(src[s])]))
      return Status(
          ErrorCode::Unsupported,
          "an int16 factor with a zero point, or constant (constants are "
          "laid out as 8-bit rows)");
    if (v.dtype(src[s]) != "i16" &&
        (z[s] < (v.dtype(src[s]) == "u8" ? 0 : -128) ||
         z[s] > (v.dtype(src[s]) == "u8" ? 255 : 127)))
      return Status(ErrorCode::Unsupported, "a zero point outside its type");
  }
  auto yd = v.dims(v.out(r));
  // A sequence (rank 3, channels last: a transformer's SiLU or GLU on its
  // tokens) as the add form takes it: its factors are sequences of its
  // shape, or one is repeated per channel.
  const bool seq = yd.size() == 3 && isSequence(v, v.out(r));
  if (yd.size() != 4 && yd.size() != 2 && !seq)
    return Status(ErrorCode::Unsupported,
                  "rank " + std::to_string(yd.size()) +
                      " (2, 4, or 3 laid out as a sequence: channels last)");
  const size_t ch = seq ? 2 : 1;
  int k0 = broadcastKind(yd, v.dims(src[0]), ch),
      k1 = broadcastKind(yd, v.dims(src[1]), ch);
  const int big = k0 == 0 ? 0 : 1;
  const int kb = big == 0 ? k1 : k0;
  if ((big == 0 ? k0 : k1) != 0 || kb < 0)
    return Status(ErrorCode::Unsupported,
                  "the factors are neither of one shape nor a tensor and its "
                  "per-channel scale");
  if (seq &&
      (!isSequence(v, src[big]) || (kb == 0 && !isSequence(v, src[1 - big]))))
    return Status(ErrorCode::Unsupported,
                  "a factor of the sequence's shape not laid out as a "
                  "sequence");
  if (v.constant[size_t(src[big])])
    return Status(ErrorCode::Unsupported, "a constant factor");
  if (kb == 1) {
    Status why = whyRepeated(v, src[1 - big], yd[ch]);
    if (why.failed())
      return why;
  }
  p.castA = cast[big], p.subA = subn[big], p.castB = cast[1 - big];
  p.subB = subn[1 - big], p.mul = mi, p.requant = ri;
  p.a = src[big], p.b = src[1 - big], p.za = z[big], p.zb = z[1 - big];
  p.kind = kb;
  return Status::ok();
}

namespace {

// Claims every quantized multiply (the Casts and Subs of its factors come
// before the Mul).
void claimMuls(const View &v, Analysis &a) {
  MulState &s = a.state<MulState>(formMul());
  for (int i = 0; i < v.g.nodes_size(); ++i) {
    MulPattern mp;
    if (v.g.nodes(i).op() != "Mul" || mulPattern(v, i, mp).failed())
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
            (v.g.nodes(u).op() != "Mul" || mulPattern(v, u, other).failed()))
          return false;
      }
      return true;
    };
    // (A Cast is the multiply's only when its Sub, if any, is too.)
    const bool ownA = own(mp.castA) && (mp.subA < 0 || own(mp.subA));
    const bool ownB = own(mp.castB) && (mp.subB < 0 || own(mp.subB));
    a.claim({ownA ? mp.castA : -1, ownA ? mp.subA : -1, ownB ? mp.castB : -1,
             ownB ? mp.subB : -1, mp.mul, mp.requant},
            formMul(), mp.requant);
    s.muls.push_back(mp);
  }
}

// A 16-bit multiply whose factors are computed after different host
// islands (nodes the target refuses, downstream of one it runs) is not
// claimed: the partitioner places each claimed node as early as its inputs
// allow, so one factor's Cast could land in an earlier device partition
// than its Mul, and neither partition would compile. Factors after the same
// islands (every node of an integer recurrent layer read through a host
// Transpose) are ready in the same device run: the run goes on while a
// claimed node is ready, and each factor's remaining nodes are claimed.
// A sequence's 8-bit multiply (rank 3: a transformer's SiLU or GLU, whose
// factor may come through host nodes) is let go the same way; an image's
// 8-bit multiply keeps its claims (docs/npu-backend.md, "Limits").
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
  for (MulPattern &mp : a.state<MulState>(formMul()).muls) {
    bool wide = false;
    const int y = v.out(v.g.nodes(mp.requant));
    for (int x : {mp.a, mp.b, y})
      wide = wide || v.dtype(x) == "i16";
    if ((!wide && !isSequence(v, y)) ||
        islands[size_t(mp.a)] == islands[size_t(mp.b)])
      continue;
    for (int k : {mp.castA, mp.subA, mp.castB, mp.subB, mp.mul, mp.requant})
      if (k >= 0 && a.partOf(k, formMul(), mp.requant)) {
        a.part[size_t(k)] = Analysis::Part();
        a.why[size_t(k)] =
            std::string(wide ? "a 16-bit" : "a sequence's") +
            " multiply with factors computed after different host nodes (the "
            "partitions could separate its Casts from the Mul)";
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
    for (MulPattern &mp : a.state<MulState>(formMul()).muls) {
      int host = -1;
      for (int k : {mp.castA, mp.subA, mp.castB, mp.subB})
        if (k >= 0 && !a.why[size_t(k)].empty())
          host = k;
      if (host < 0 || !a.partOf(mp.mul, formMul(), mp.requant))
        continue;
      const std::string why = "a quantized multiply whose factor " +
                              quoted(v.name(v.out(v.g.nodes(host)))) +
                              " is computed on the host (its " +
                              v.g.nodes(host).op() +
                              " is shared with a node the target does not run)";
      for (int k : {mp.castA, mp.subA, mp.castB, mp.subB, mp.mul, mp.requant})
        if (k >= 0 && a.partOf(k, formMul()) &&
            (a.partOf(k, formMul(), mp.requant) || k != mp.mul)) {
          a.part[size_t(k)] = Analysis::Part();
          a.why[size_t(k)] = why;
        }
      changed = true;
    }
  }
}

void settleMuls(const View &v, Analysis &a, bool) {
  unclaimHostFactorMuls(v, a);
  unclaimSplitMuls16(v, a);
}

// A quantized multiply (a MulState pattern), ending at Requantize `ri`: a
// layer of its own, b the repeated per-channel operand if any.
void mulLayer(Builder &b, int ri) {
  const MulPattern *mp =
      b.patternEndingAt(b.an.state<MulState>(formMul()).muls,
                        &MulPattern::requant, ri, "multiply");
  if (!mp)
    return;
  const v1::Node &r = b.v.g.nodes(ri);
  int y = b.v.out(r);
  auto yd = b.v.dims(y);
  int ta = b.materialize(mp->a);
  const int64_t C = yd[isSequence(b.v, y) ? 2 : 1]; // (defaultChan)
  int tb = mp->kind ? b.repeatedTensor(mp->b, C) : b.materialize(mp->b);
  if (ta < 0 || tb < 0)
    return;
  Layer L;
  L.kind = Layer::Kind::Add;
  L.name = b.v.g.nodes(mp->mul).name();
  for (int k : {mp->castA, mp->subA, mp->castB, mp->subB, mp->mul, ri})
    if (k >= 0)
      L.nodes.push_back(b.v.g.nodes(k).name());
  L.add.a = ta;
  L.add.b = tb;
  L.add.bBroadcast = mp->kind == 1;
  L.add.mul = true;
  MulRegs &g = L.add.mulRegs;
  g.aZp = storedZp(b.v.dtype(mp->a), mp->za);
  g.bZp = storedZp(b.v.dtype(mp->b), mp->zb);
  std::vector<int64_t> m, e, zy;
  b.v.ints(b.v.in(r, 1), m);
  b.v.ints(b.v.in(r, 2), e);
  if (b.v.in(r, 4) >= 0)
    b.v.ints(b.v.in(r, 4), zy);
  g.mult = int32_t(m[0]);
  g.shift = int32_t(e[0]);
  const std::string &to = b.v.dtype(y);
  const int64_t lowest = to == "u8"    ? 0
                         : to == "i16" ? -32768
                                       : -128,
                highest = to == "i16" ? 32767 : lowest + 255;
  const int64_t lo = std::max(aInt(r, "min", lowest), lowest);
  const int64_t hi = std::min(aInt(r, "max", highest), highest);
  const int64_t off = to == "u8" ? 128 : 0;
  g.outZp = int32_t((zy.empty() ? 0 : zy[0]) - off);
  g.lo = int32_t(lo - off);
  g.hi = int32_t(std::max(lo, hi) - off);
  L.add.out = b.newTensor(y, b.isOutput(y) ? NTensor::Kind::Output
                                           : NTensor::Kind::Activation);
  b.tensorOf[size_t(y)] = L.add.out;
  b.lp.layers.push_back(std::move(L));
}

void buildMulPart(Builder &b, int node, int last) {
  if (node == last)
    mulLayer(b, last);
}

std::string mulText(const Target &) {
  return "rank 2 or 4 (or 3, a sequence: channels last); same shapes, or b "
         "one pixel of per-channel values (a "
         "constant, or a [1,C,...] tensor: the squeeze-excitation scale)";
}

const char *const kMul =
    "fused: a quantized Mul, Requantize((Cast(a) - za) * (Cast(b) - zb)) with "
    "scalar parameters";

// (16-bit factors and result, where the mul form declares them.)
void claimCast16(const Target &t, const FormRow &, OpClaim &c) {
  if (has16(t, "mul"))
    c.dtypes.insert(c.dtypes.end(), {"i16", "i64"});
}

Status mulNeeds(const Target &, const Form &, FormNeeds &n) {
  n.classes.insert(int(Cls::Out));
  n.muls = true;
  return Status::ok();
}

// (The nodes of a multiply are built with its pattern.)
void buildPatternPart(Builder &b, int i) {
  b.internal("internal: node " + std::to_string(i) + " outside its pattern");
}

FormRow mulRow(const char *op, int rank, std::vector<const char *> dtypes) {
  FormRow r;
  r.forms = "mul";
  r.op = op;
  r.rank = rank;
  r.dtypes = std::move(dtypes);
  r.context = kMul;
  r.constraints = mulText;
  r.why = whyChainPartNode;
  r.build = buildPatternPart;
  return r;
}

} // namespace

} // namespace ember::accel::sel

namespace ember::accel {

const FormPattern &formMul() {
  static const FormPattern form = [] {
    using namespace sel;
    FormPattern f;
    f.name = "mul";
    f.needs = mulNeeds;
    f.lutOp = OpKind::VMul;
    f.claim = claimMuls;
    f.settle = settleMuls;
    f.buildPart = buildMulPart;
    FormRow cast = mulRow("Cast", 290, {"i8", "u8", "i32"});
    cast.claim = claimCast16;
    f.rows = {mulRow("Mul", 280, {"i32"}), cast, mulRow("Sub", 300, {"i32"})};
    return f;
  }();
  return form;
}

} // namespace ember::accel
