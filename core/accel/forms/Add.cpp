// Form add (Forms.def): a QuantizedAdd of i8/u8 (or int16) tensors of one
// shape, or one operand repeated per channel, TFLite's attribute form (the
// tflite profile's add) or the fixed profile's exact add, each on a target
// whose declared arithmetic computes it (Target::arithmetic,
// docs/quantization.md "Declared arithmetic"): fused into the
// pending GEMM layer computing an operand when its form fuses the add
// stage, else an add layer of its own on the vadd operation (the add kind's
// scheduler, schedule/Codegen.cpp, genAdd).
#include "Form.h"

#include "ember/quant/Arith.h"

#include <algorithm>
#include <cstring>

namespace ember::accel::sel {

namespace {

// QuantizedAdd parameters (docs/quantization.md): TFLite's add, or with
// `exact` the fixed profile's exact add (its scales and zero points).
struct AddAttrs {
  int64_t lshift = 20, aZp = 0, aMult = 0, aShift = 0, bZp = 0, bMult = 0,
          bShift = 0, outMult = 0, outShift = 0, outZp = 0;
  // Absent: the output type's range (clamped to it in regsOf).
  int64_t lo = INT64_MIN, hi = INT64_MAX;
  bool exact = false;
  double sa = 0, sb = 0, sy = 0;
};

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

// The exact add's registers (AddRegs' x fields, add_min/add_max) of the
// QuantizedAdd n of a and b into y, in stored-int8 terms, operands swapped
// with `swap`; false when its scales have no 64-bit form
// (quant::makeAddFixed).
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

} // namespace

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

namespace {

// A value in its own tiled layout: channels on axis 1 (axis 0 below rank 2),
// pixels every other index.
int64_t ownChannels(const std::vector<int64_t> &d) {
  return d.empty() ? 1 : d[d.size() >= 2 ? 1 : 0];
}

} // namespace

// An add operand repeated over every pixel is read as one row per channel
// tile: lane c of that row must hold its value for channel c. A constant is
// laid out so at compile time (its one value or per-channel values spread
// over the C lanes); any other tensor must already be one pixel of C
// channels in its own layout ([1,C,1,1], [1,C], or [C] against a rank-2
// result). A scalar, [1] or [C,1,1] input is not: a load moves whole rows and
// cannot spread one value over the lanes, nor turn pixels into lanes.
Status whyRepeated(const View &v, int x, int64_t C) {
  if (v.constant[size_t(x)])
    return Status::ok();
  auto d = v.dims(x);
  if (ownChannels(d) == C && prod(d, 0, d.size()) == C)
    return Status::ok();
  std::string shape;
  for (size_t i = 0; i < d.size(); ++i)
    shape += (i ? "," : "") + std::to_string(d[i]);
  return Status(
      ErrorCode::Unsupported,
      "operand " + quoted(v.name(x)) + " [" + shape + "] is repeated over " +
          std::to_string(C) +
          " channels but is not a constant: the vector add reads one value per "
          "lane "
          "and a load cannot spread a value over the lanes (only a constant or "
          "a "
          "[1,C,...] tensor broadcasts)");
}

namespace {

Status whyQAdd(const View &v, const v1::Node &n) {
  int a = v.in(n, 0), b = v.in(n, 1), y = v.out(n);
  if (a < 0 || b < 0 || y < 0)
    return Status(ErrorCode::Unsupported, "QuantizedAdd needs two operands");
  // 16-bit: any of a, b and the result int16 (zero point 0; the int16 form
  // of the add, an 8-bit side converted to a 16-bit row first, an 8-bit
  // result after) on a target whose add form declares 16-bit activations.
  const bool any16 = v.dtype(a) == "i16" || v.dtype(b) == "i16" ||
                     v.dtype(y) == "i16",
             w16 = any16 && has16(v.t, "add");
  for (int x : {a, b, y})
    if (!isQ8(v.dtype(x)) && !(w16 && v.dtype(x) == "i16"))
      return Status(ErrorCode::Unsupported,
                    quoted(v.name(x)) + " is " + v.dtype(x) + " (i8 or u8" +
                        (has16(v.t, "add") ? " or i16)" : ")"));
  if (w16 && !v.t.has(OpKind::VMul) &&
      !(v.dtype(a) == "i16" && v.dtype(b) == "i16" && v.dtype(y) == "i16"))
    return Status(ErrorCode::Unsupported,
                  "a 16-bit add with an 8-bit operand or result (the width "
                  "conversion is vmul's, and target '" +
                      v.t.name + "' has no vmul)");
  const v1::Attribute *prof = attr(n, "requant");
  const std::string profile =
      prof && prof->value_case() == v1::Attribute::kS ? prof->s() : "fixed";
  quant::RequantProfile pp;
  if (!quant::profileFromName(profile, pp))
    return Status(ErrorCode::Unsupported,
                  "requant = '" + profile +
                      "' (an arithmetic Ember does not know)");
  if (pp == quant::RequantProfile::Float32)
    return Status(
        ErrorCode::Unsupported,
        "the float32 profile's add (the target's vadd is fixed point)");
  std::string declared;
  for (quant::RequantProfile d : v.t.arithmetic)
    declared +=
        (declared.empty() ? "" : ", ") + std::string(quant::profileName(d));
  AddAttrs p;
  if (!addAttrs(n, p))
    return Status(
        ErrorCode::Unsupported,
        "QuantizedAdd without its multiplier/shift/zero-point attributes");
  // The attribute form is vadd's own arithmetic (tflite's, one rounding a
  // rescale): the fixed profile's (its int16 add) runs on every target, a
  // node of another profile where the target declares that profile.
  if (quant::saturates16(pp) && !v.t.computes(pp))
    return Status(
        ErrorCode::Unsupported,
        "the sat16 arithmetic's add (its rescaled inputs and their sum "
        "saturate to 16 bits; the target's vadd's are 32-bit: its "
        "description's arithmetic)");
  if (!p.exact && pp != quant::RequantProfile::Fixed && !v.t.computes(pp))
    return Status(ErrorCode::Unsupported,
                  std::string("the ") + quant::profileName(pp) +
                      " arithmetic's add: the target declares " + declared +
                      " (its description's arithmetic)");
  if (p.exact) {
    AddRegs r;
    if (!v.t.computes(quant::RequantProfile::Fixed))
      return Status(
          ErrorCode::Unsupported,
          "the exact quantized add (the fixed arithmetic): the target "
          "declares " +
              declared +
              " (its description's arithmetic; lower for its profile, e.g. "
              "--requant=" +
              quant::profileName(v.t.arithmetic.front()) + ")");
    if (!exactAddRegs(v, p, a, b, y, false, r))
      return Status(
          ErrorCode::Unsupported,
          "the exact add's scales lie too far apart for the 64-bit form "
          "(48-bit multipliers)");
  }
  if ((v.dtype(a) == "i16" && p.aZp) || (v.dtype(b) == "i16" && p.bZp) ||
      (v.dtype(y) == "i16" && p.outZp))
    return Status(ErrorCode::Unsupported,
                  "an int16 tensor with a nonzero zero point");
  if (w16 && p.exact)
    return Status(ErrorCode::Unsupported,
                  "an exact int16 add (the exact form is the 8-bit add's)");
  auto yd = v.dims(y);
  // A sequence (defaultChan): its channels are the last axis.
  const bool seq = yd.size() == 3 && isSequence(v, y);
  if (yd.size() == 3 && !seq)
    return Status(ErrorCode::Unsupported,
                  "a rank-3 add not laid out as a sequence (its operands are "
                  "sequences of its shape or constants repeated per channel)");
  if (yd.size() != 4 && yd.size() != 2 && !seq)
    return Status(ErrorCode::Unsupported,
                  "rank " + std::to_string(yd.size()) +
                      " (2, 4, or 3 laid out as a sequence: channels last)");
  const size_t ch = seq ? 2 : 1;
  int ka = broadcastKind(yd, v.dims(a), ch),
      kb = broadcastKind(yd, v.dims(b), ch);
  if (seq && ((!ka && !isSequence(v, a)) || (!kb && !isSequence(v, b))))
    return Status(
        ErrorCode::Unsupported,
        "an operand of the sequence's shape not laid out as a sequence");
  if (ka < 0 || kb < 0 || (ka && kb))
    return Status(ErrorCode::Unsupported,
                  "broadcast other than one operand repeated per channel");
  if (w16 && ((ka && v.dtype(a) == "i16" && v.constant[size_t(a)]) ||
              (kb && v.dtype(b) == "i16" && v.constant[size_t(b)])))
    return Status(ErrorCode::Unsupported,
                  "a repeated int16 constant (constants are laid out as 8-bit "
                  "rows)");
  if (ka || kb) {
    Status why = whyRepeated(v, ka ? a : b, yd[ch]);
    if (why.failed())
      return why;
  }
  return Status::ok();
}

Status whyAddNode(const View &v, Analysis &, int i, bool) {
  return whyQAdd(v, v.g.nodes(i));
}

AddRegs regsOf(const View &v, const v1::Node &n, int a, int b, int y,
               bool swap) {
  AddAttrs p;
  addAttrs(n, p);
  AddRegs r;
  if (p.exact) {
    exactAddRegs(v, p, a, b, y, swap, r); // checked by whyQAdd
    return r;
  }
  r.lshift = int32_t(p.lshift);
  int32_t za = storedZp(v.dtype(a), p.aZp), zb = storedZp(v.dtype(b), p.bZp);
  r.aZp = swap ? zb : za;
  r.bZp = swap ? za : zb;
  r.aMult = int32_t(swap ? p.bMult : p.aMult);
  r.aShift = int32_t(swap ? p.bShift : p.aShift);
  r.bMult = int32_t(swap ? p.aMult : p.bMult);
  r.bShift = int32_t(swap ? p.aShift : p.bShift);
  r.outMult = int32_t(p.outMult);
  r.outShift = int32_t(p.outShift);
  int64_t off = v.dtype(y) == "u8" ? 128 : 0;
  const bool w16 = v.dtype(y) == "i16";
  int64_t lowest = v.dtype(y) == "u8" ? 0 : w16 ? -32768 : -128;
  int64_t highest = v.dtype(y) == "u8" ? 255 : w16 ? 32767 : 127;
  int64_t lo = std::max(p.lo, lowest), hi = std::min(p.hi, highest);
  r.outZp = int32_t(p.outZp - off);
  r.lo = int32_t(lo - off);
  r.hi = int32_t(std::max(lo, hi) - off);
  return r;
}

void qadd(Builder &bl, const v1::Node &n) {
  int a = bl.v.in(n, 0), b = bl.v.in(n, 1), y = bl.v.out(n);
  auto yd = bl.v.dims(y);
  int ka = broadcastKind(bl.v, y, a), kb = broadcastKind(bl.v, y, b);
  const int64_t C = yd[isSequence(bl.v, y) ? 2 : 1]; // (defaultChan)
  // Fuse into the GEMM layer producing one operand, when it is its only
  // use and the layer has no pooling or add yet.
  // (A 16-bit add fuses into a 16-bit layer when both operands and the sum
  // are int16 maps of one shape: the int16 add; else a layer of its own.)
  const bool any16 = bl.v.dtype(a) == "i16" || bl.v.dtype(b) == "i16" ||
                     bl.v.dtype(y) == "i16";
  const bool all16 = bl.v.dtype(a) == "i16" && bl.v.dtype(b) == "i16" &&
                     bl.v.dtype(y) == "i16";
  for (int side = 0; side < 2 && (!any16 || all16); ++side) {
    int mine = side == 0 ? a : b, other = side == 0 ? b : a;
    int kMine = side == 0 ? ka : kb, kOther = side == 0 ? kb : ka;
    auto it = bl.pending.find(mine);
    if (all16 && (kOther != 0 || it == bl.pending.end() ||
                  it->second.layer.kind != Layer::Kind::Gemm ||
                  !it->second.layer.gemm.out16))
      continue;
    if (kMine != 0 || it == bl.pending.end() || !it->second.requantized ||
        !bl.single(mine) || it->second.layer.gemm.add.on ||
        !it->second.layer.lut.empty() || !fuses(bl.v.t, it->second.form, "add"))
      continue;
    int ot = kOther ? bl.repeatedTensor(other, C) : bl.materialize(other);
    if (ot < 0)
      return;
    it = bl.pending.find(mine);
    Layer trial = it->second.layer;
    FusedAdd &f = trial.gemm.add;
    f.on = true;
    f.other = ot;
    f.otherBroadcast = kOther == 1;
    f.convIsA = side == 0;
    // Registers: A is the add's first operand, whatever computes it.
    f.regs = regsOf(bl.v, n, a, b, y, false);
    trial.nodes.push_back(n.name());
    if (!bl.fits(trial))
      continue;
    Builder::Pending p = std::move(it->second);
    bl.pending.erase(it);
    p.layer = std::move(trial);
    bl.pending[y] = std::move(p);
    return;
  }
  // A layer of its own: the repeated operand (if any) is b.
  bool swap = ka == 1;
  int ta = bl.materialize(swap ? b : a);
  int tb = (swap ? ka : kb) ? bl.repeatedTensor(swap ? a : b, C)
                            : bl.materialize(swap ? a : b);
  if (ta < 0 || tb < 0)
    return;
  Layer L;
  L.kind = Layer::Kind::Add;
  L.name = n.name();
  L.nodes = {n.name()};
  L.add.a = ta;
  L.add.b = tb;
  L.add.bBroadcast = (swap ? ka : kb) == 1;
  L.add.regs = regsOf(bl.v, n, a, b, y, swap);
  L.add.w16 = any16;
  L.add.out = bl.newTensor(y, bl.isOutput(y) ? NTensor::Kind::Output
                                             : NTensor::Kind::Activation);
  bl.tensorOf[size_t(y)] = L.add.out;
  bl.lp.layers.push_back(std::move(L));
}

void buildAdd(Builder &b, int i) { qadd(b, b.v.g.nodes(i)); }

std::string addText(const Target &) {
  return "rank 2 or 4 (or 3, a sequence: channels last); same shapes, or one "
         "operand repeated per channel or scalar (a constant, or a [1,C,...] "
         "tensor)";
}

// 16-bit operands and result where the add form declares them; the adds of
// the arithmetics the target declares (the exact add: fixed; the attribute
// form: tflite).
void claimAdd(const Target &t, const FormRow &, OpClaim &c) {
  if (t.form("add") && t.form("add")->act16 && t.wide16)
    c.dtypes.push_back("i16");
  if (!t.computes(quant::RequantProfile::Fixed))
    c.context = "TFLite's attribute form only (left_shift and multipliers "
                "given: the tflite arithmetic); the exact add needs the fixed "
                "arithmetic (vadd's exact flag)";
  else if (!t.computes(quant::RequantProfile::Tflite))
    c.context = "the exact add only (the fixed arithmetic)";
}

Status addNeeds(const Target &, const Form &, FormNeeds &n) {
  n.classes.insert(int(Cls::Out));
  n.adds = true;
  return Status::ok();
}

} // namespace

} // namespace ember::accel::sel

namespace ember::accel {

const FormPattern &formAdd() {
  static const FormPattern form = [] {
    using namespace sel;
    FormPattern f;
    f.name = "add";
    f.needs = addNeeds;
    f.lutOp = OpKind::VAdd;
    FormRow r;
    r.forms = "add";
    r.op = "QuantizedAdd";
    r.rank = 70;
    r.dtypes = {"i8", "u8"};
    r.constraints = addText;
    r.why = whyAddNode;
    r.build = buildAdd;
    r.claim = claimAdd;
    f.rows = {r};
    return f;
  }();
  return form;
}

} // namespace ember::accel
