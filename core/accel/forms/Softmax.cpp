// Form softmax (Forms.def; docs/npu-rtl.md, "Integer softmax and
// normalization: the choice and its area"): an IntegerSoftmax (the fixed
// profile's softmax, quant::integerSoftmaxRow) along the channels: the
// last axis of a sequence [B, S, C] or of [tokens, C], or a map's axis 1
// (every other axis a pixel), i8, u8 or i16: a layer of its own,
// a 1x1 pool layer over the rows whose operations this form emits, the
// softmax in its attributes (Layer::attrs: softmax.params). Per block of
// rows held in the output memory: the row maxima (vreduce), the rows' sums
// of exponentials from them (vreduce exp, 96-bit, into the same
// accumulator rows, the maximum kept in lane 3), the per-row reciprocal
// (rscalar, into rows apart), and per channel tile the exponential again
// times the row's reciprocal and the output multiplier (vrowexp). No
// constants: the multipliers, shifts, zero point and clamp are registers.
#include "Emit.h"
#include "Form.h"

#include <algorithm>
#include <cstdint>

namespace ember::accel {

namespace {

// A layer's softmax, in stored terms (a uint8 result's zero point and
// clamp shifted by -128), kept in its attributes: softmax.params =
// in_mult, in_shift, out_mult, out_shift, y_zp, lo, hi
// (quant::SoftmaxParams).
struct SoftmaxOf {
  int64_t inMult = 0, inShift = 0, outMult = 0, outShift = 0;
  int64_t yZp = 0, lo = -128, hi = 127;
};

void setSoftmax(Layer &L, const SoftmaxOf &m) {
  L.attrs["softmax.params"] = {m.inMult, m.inShift, m.outMult, m.outShift,
                               m.yZp,    m.lo,      m.hi};
}

// Layer L's softmax, or why its attributes are not one (the layer text's
// check, FormPattern::verify, and the scheduler's).
Status softmaxOf(const Layer &L, SoftmaxOf &m) {
  auto it = L.attrs.find("softmax.params");
  if (it == L.attrs.end() || it->second.size() != 7)
    return invalid("a softmax needs softmax.params (in_mult, in_shift, "
                   "out_mult, out_shift, y_zp, lo, hi)");
  const std::vector<int64_t> &p = it->second;
  m.inMult = p[0], m.inShift = p[1], m.outMult = p[2], m.outShift = p[3];
  m.yZp = p[4], m.lo = p[5], m.hi = p[6];
  const PoolLayer &g = L.pool;
  if (L.kind != Layer::Kind::Pool || g.kh != 1 || g.kw != 1 || g.sh != 1 ||
      g.sw != 1 || g.up != 1 || g.upMode || !L.lut.empty() || !L.lut16.empty())
    return invalid("a softmax is a 1x1 pool layer without tables");
  for (int k = 0; k < 7; ++k)
    if (p[size_t(k)] < INT32_MIN || p[size_t(k)] > INT32_MAX)
      return invalid("softmax.params are int32 (the registers')");
  if (m.lo > m.hi)
    return invalid("softmax.params: lo <= hi");
  return Status::ok();
}

Status verifySoftmax(const Layer &L) {
  SoftmaxOf m;
  return softmaxOf(L, m);
}

} // namespace

namespace sel {

namespace {

// The operations and registers the form uses (the registers in the order
// the scheduler sets them).
const OpKind kSoftmaxOps[3] = {OpKind::VReduce, OpKind::RScalar,
                               OpKind::VRowExp};
const Reg kSoftmaxRegs[7] = {
    Reg::RowSmInMult, Reg::RowSmInShift, Reg::RowSmOutMult, Reg::RowSmOutShift,
    Reg::RowOutZp,    Reg::RowMin,       Reg::RowMax};

// The first operation of kSoftmaxOps the target lacks, or null.
const char *missingSoftmaxOp(const Target &t) {
  for (OpKind k : kSoftmaxOps)
    if (!t.has(k))
      return opKindName(k);
  return nullptr;
}

// The first register of kSoftmaxRegs the target lacks, or null.
const char *missingSoftmaxReg(const Target &t) {
  for (Reg r : kSoftmaxRegs)
    if (t.regs[size_t(r)] < 0)
      return regRoleName(r);
  return nullptr;
}

// Whether the target's vreduce declares the exp field (spec version 10).
bool hasExpReduce(const Target &t) {
  for (const auto &f : t.ops[size_t(OpKind::VReduce)].fields)
    if (f.first == "exp")
      return f.second > 0;
  return false;
}

// Ok, or why the target lacks an operation, field or register the form
// uses.
Status whySoftmaxOps(const Target &t) {
  if (const char *k = missingSoftmaxOp(t))
    return Status(ErrorCode::Unsupported,
                  std::string("the target has no ") + k +
                      " operation (the softmax form's)");
  if (!hasExpReduce(t))
    return Status(ErrorCode::Unsupported,
                  "the target's vreduce has no exp field (the softmax "
                  "form's sums of exponentials)");
  if (const char *r = missingSoftmaxReg(t))
    return Status(ErrorCode::Unsupported,
                  std::string("the target has no register ") + r +
                      " (the softmax form's)");
  return Status::ok();
}

// Channel tiles of C channels.
int64_t softmaxTiles(const Target &t, int64_t C) {
  return t.lanes > 0 ? ceilDiv(C, t.lanes) : 0;
}

Status softmaxRefused(const std::string &why) {
  return Status(ErrorCode::Unsupported, why);
}

bool isSoftmaxDtype(const std::string &d) {
  return d == "i8" || d == "u8" || d == "i16";
}

// The rows of the output memory a row's tiles may take (its lower half for
// 16-bit rows).
int64_t softmaxOutRows(const Target &t, bool w16) {
  const int m = t.memOf(Cls::Out);
  return m < 0 ? 0 : int64_t(t.memRows(m)) / (w16 ? 2 : 1);
}

// The softmax row's check: the form's constraints in the order a reader
// meets them (types, layout, sizes), then the target's operations.
Status whySoftmaxNode(const View &v, Analysis &, int i, bool) {
  const v1::Node &n = v.g.nodes(i);
  const int x = v.in(n, 0), y = v.out(n);
  if (x < 0 || y < 0)
    return softmaxRefused("IntegerSoftmax needs x and its result");
  if (!isSoftmaxDtype(v.dtype(x)) || !isSoftmaxDtype(v.dtype(y)))
    return softmaxRefused("a softmax of " + v.dtype(x) + " into " + v.dtype(y) +
                          " (the softmax form reads and writes i8, u8 or "
                          "i16)");
  const bool in16 = v.dtype(x) == "i16", out16 = v.dtype(y) == "i16";
  if ((in16 || out16) && !v.t.wide16)
    return softmaxRefused("an int16 tensor (the target has no 16-bit rows: "
                          "its requant.outputs lacks 'i16')");
  if (v.constant[size_t(x)])
    return softmaxRefused("a softmax of a constant");
  const std::vector<int64_t> xd = v.dims(x);
  const int64_t rank = int64_t(xd.size());
  if (rank < 2)
    return softmaxRefused("rank " + std::to_string(rank) +
                          " (the softmax form runs rows of channels)");
  int64_t axis = aInt(n, "axis", -1);
  if (axis < 0)
    axis += rank;
  // (Rows of channels: the last axis of a sequence or of [tokens, C], a
  // map's channel axis; every other axis is a pixel.)
  const int chan = v.chan[size_t(x)];
  if (axis != chan || v.chan[size_t(y)] != chan)
    return softmaxRefused(
        "a softmax along axis " + std::to_string(axis) + " of a tensor laid " +
        "out with its channels on axis " + std::to_string(chan) +
        (v.chan[size_t(y)] != chan ? " (its result's on axis " +
                                         std::to_string(v.chan[size_t(y)]) + ")"
                                   : std::string()) +
        " (the softmax form runs along the channels, the lanes)");
  const int64_t C = xd[size_t(axis)];
  // One row's channel tiles in the output memory, and a second copy when
  // the result's width differs.
  const int64_t tiles = softmaxTiles(v.t, C);
  const int64_t outRows = softmaxOutRows(v.t, in16 || out16);
  const int64_t need = tiles * (in16 != out16 ? 2 : 1);
  if (need > outRows)
    return softmaxRefused("a row of " + std::to_string(C) + " channels takes " +
                          std::to_string(need) + " rows of " +
                          nameOf(v.t, Cls::Out) + " (it has " +
                          std::to_string(outRows) + ")");
  EMBER_TRY(whySoftmaxOps(v.t));
  // The description's limits: a row's tiles are one vreduce group; a row
  // takes two accumulator rows (its maximum and sum, its reciprocal).
  const int64_t lenMax = v.t.ops[size_t(OpKind::VReduce)].max("len");
  if (tiles > lenMax)
    return softmaxRefused(std::to_string(tiles) +
                          " channel tiles a row (vreduce's len holds " +
                          std::to_string(lenMax) + ")");
  // One memory for the accumulator rows and the rows (splitSharedRows): a
  // row's tiles beside its two scalars, below the tables.
  if (v.t.memOf(Cls::Out) == v.t.memOf(Cls::Acc)) {
    const int64_t rows =
        std::min(rowSharedRows(v.t, in16 || out16, rowTablesReserve(v.t)),
                 rowLayerOutRows(v.t, OpKind::VRowExp));
    if (2 + need > rows)
      return softmaxRefused("a row of " + std::to_string(C) +
                            " channels and its two scalars take " +
                            std::to_string(2 + need) + " rows of " +
                            nameOf(v.t, Cls::Out) +
                            ", which holds both (the row form may use " +
                            std::to_string(rows) + ")");
  }
  const int acc = v.t.memOf(Cls::Acc);
  if (acc < 0 || v.t.memRows(acc) < 2)
    return softmaxRefused("a row's maximum and sum, and its reciprocal, take "
                          "2 accumulator rows");
  return Status::ok();
}

// An IntegerSoftmax: a 1x1 pool layer over the rows (pixelLayer) with the
// softmax's parameters in stored terms.
void buildSoftmax(Builder &b, int i) {
  const v1::Node &n = b.v.g.nodes(i);
  const int x = b.v.in(n, 0), y = b.v.out(n);
  const int in = b.materialize(x);
  if (in < 0)
    return;
  b.tensorOf[size_t(y)] = b.pixelLayer(n.name(), n, in, y, -1, -1);
  SoftmaxOf m;
  m.inMult = aInt(n, "in_multiplier", 0);
  m.inShift = aInt(n, "in_shift", 0);
  m.outMult = aInt(n, "out_multiplier", 0);
  m.outShift = aInt(n, "out_shift", 0);
  const std::string &to = b.v.dtype(y);
  m.yZp = storedZp(to, aInt(n, "y_zero_point", 0));
  m.lo = to == "i16" ? -32768 : -128;
  m.hi = to == "i16" ? 32767 : 127;
  setSoftmax(b.lp.layers.back(), m);
}

std::string softmaxText(const Target &t) {
  const OpDesc &r = t.ops[size_t(OpKind::VReduce)];
  const int64_t most =
      std::min(softmaxOutRows(t, false), r.present ? r.max("len") : 0);
  return "the channel axis (the last of a sequence [B, S, C] or of "
         "[tokens, C], a map's axis 1); C <= " +
         std::to_string(std::max<int64_t>(most, 0) * t.lanes) +
         " (a row's channel tiles in " + nameOf(t, Cls::Out) + ")";
}

// 16-bit rows where the target has them.
void claimSoftmax16(const Target &t, const FormRow &, OpClaim &c) {
  if (t.wide16)
    c.dtypes.push_back("i16");
}

// No claim on a target without the form's operations or registers.
void softmaxManifest(const Target &t, std::vector<OpClaim> &claims) {
  if (whySoftmaxOps(t).isOk())
    return;
  claims.erase(
      std::remove_if(claims.begin(), claims.end(),
                     [](const OpClaim &c) { return c.op == "IntegerSoftmax"; }),
      claims.end());
}

// Rows in the output memory, the per-row scalars in the accumulator
// memory, set through registers: the three operations, vreduce's exp field
// and the registers.
Status softmaxNeeds(const Target &t, const Form &, FormNeeds &n) {
  n.classes.insert(int(Cls::Out));
  n.classes.insert(int(Cls::Acc));
  n.kinds.insert(int(OpKind::SetReg));
  for (OpKind kind : kSoftmaxOps)
    n.kinds.insert(int(kind));
  if (missingSoftmaxOp(t)) // (the description's check names it)
    return Status::ok();
  if (!hasExpReduce(t))
    return Status(ErrorCode::Invalid,
                  "forms: 'softmax' needs ops.vreduce.exp (the sums of "
                  "exponentials)");
  if (const char *r = missingSoftmaxReg(t))
    return Status(ErrorCode::Invalid,
                  std::string("forms: 'softmax' needs the register ") + r);
  return Status::ok();
}

} // namespace

} // namespace sel

namespace {

bool emitsSoftmax(const Layer &L) {
  return L.attrs.count("softmax.params") != 0;
}

std::string softmaxName(const Layer &) { return "softmax"; }

// The form's code: the registers once, then per block of R rows (every
// channel tile of each, tile-major: tile k's rows at x + k R) loaded into
// the output memory, the row maxima into accumulator rows 0 .. R - 1, the
// sums of exponentials from them in their place (vreduce exp keeps the
// maximum in lane 3), the reciprocals into rows R .. 2R - 1 (apart:
// vrowexp reads the maximum and the reciprocal), one vrowexp per channel
// tile (in place when the widths agree), the stores. A block is the most
// rows the out memory (its lower half with 16-bit rows), the accumulator
// memory and the operations' fields hold; single-buffered (each step's
// loads wait for the step before).
Status scheduleSoftmax(const Target &tg, const Layer &L,
                       const std::vector<NTensor> &ts, const GemmTables &,
                       const CodegenOptions &o, LayerCode &code,
                       LayerInfo &info) {
  SoftmaxOf m;
  const Status bad = softmaxOf(L, m);
  if (bad.failed())
    return Status(ErrorCode::Internal,
                  "internal: layer '" + L.name + "': " + bad.message());
  RowLayer r;
  EMBER_TRY(rowLayerOf(tg, L, ts, o, "softmax", r));
  const bool in16 = r.in16, out16 = r.out16, inPlace = r.inPlace;
  EMBER_TRY(sel::whySoftmaxOps(tg));
  const int64_t C = r.x->C, P = r.x->P, Ct = r.x->tiles(), lanes = tg.lanes;
  const int outMem = tg.memOf(Cls::Out), accMem = tg.memOf(Cls::Acc);
  const int64_t outCap = r.outCap, accCap = r.accCap;
  const int64_t copies = inPlace ? 1 : 2; // a row's tiles in out
  const OpDesc &reduce = tg.ops[size_t(OpKind::VReduce)],
               &recip = tg.ops[size_t(OpKind::RScalar)],
               &rowexp = tg.ops[size_t(OpKind::VRowExp)];
  int64_t B = std::min<int64_t>(P, outCap / (Ct * copies));
  B = std::min(B, accCap / 2);
  for (OpKind k : sel::kSoftmaxOps)
    B = std::min(B, tg.ops[size_t(k)].max("rows"));
  B = std::min(B, reduce.max("kstride"));
  // The reciprocals' rows start at B (rscalar's dst, vrowexp's scal); the
  // last tile's result at (Ct copies - 1) B (vrowexp's dst and src).
  B = std::min({B, recip.max("dst"), rowexp.max("scal")});
  B = std::min(B, (std::min(rowexp.max("dst"), rowexp.max("src")) + 1) /
                      (Ct * copies));
  // (One memory for both: each row's two scalars below the rows.)
  B = splitSharedRows(tg, r, OpKind::VRowExp, 0, 2, Ct * copies, B);
  if (B < 1)
    return Status(ErrorCode::Unsupported,
                  "a row of " + std::to_string(C) +
                      " channels does not fit: " + std::to_string(Ct * copies) +
                      " rows of " + tg.memories[size_t(outMem)].name + " (" +
                      std::to_string(outCap) + "), 2 of " +
                      tg.memories[size_t(accMem)].name + " (" +
                      std::to_string(accCap) + ")");
  if (Ct > reduce.max("len"))
    return Status(ErrorCode::Unsupported,
                  std::to_string(Ct) +
                      " channel tiles a row (vreduce's len holds " +
                      std::to_string(reduce.max("len")) + ")");
  code.setup.clear();
  // The registers, in sel::kSoftmaxRegs' order.
  const int64_t vals[7] = {m.inMult, m.inShift, m.outMult, m.outShift,
                           m.yZp,    m.lo,      m.hi};
  for (int k = 0; k < 7; ++k)
    code.setup.push_back(setregOp(tg, sel::kSoftmaxRegs[k], vals[k]));
  const int64_t last = C % lanes; // lanes of the last tile (0: all)
  // Blocks of Bk rows; Out rows from the block's base: its input at 0, its
  // result at Ct Bk (or in place); the reciprocals' acc rows at Bk.
  auto emit = [&](int64_t Bk, int64_t second, LayerCode &c, LayerInfo &inf) {
    const int64_t yBase = inPlace ? 0 : Ct * Bk;
    return emitRowBlocks(
        tg, ts, L, r, Bk, yBase, second, c, inf,
        [&](StepCode &sc, int64_t n, int64_t base) {
          sc.compute.push_back(
              vreduceOp(tg, 0, base, n, Ct, 1, Bk, last, in16, false));
          sc.compute.push_back(vreduceOp(tg, 0, base, n, Ct, 1, Bk, last, in16,
                                         false, false, false, true));
          sc.compute.push_back(rscalarOp(tg, Bk, 0, n, false));
          for (int64_t k = 0; k < Ct; ++k)
            sc.compute.push_back(vrowexpOp(tg, base + yBase + k * Bk,
                                           base + k * Bk, n, 1, Bk, 0, in16,
                                           out16));
        });
  };
  emitBuffered(tg, r, OpKind::VRowExp, B, code, info, emit);
  return Status::ok();
}

} // namespace

const FormPattern &formSoftmax() {
  static const FormPattern form = [] {
    using namespace sel;
    FormPattern f;
    f.name = "softmax";
    f.needs = softmaxNeeds;
    f.manifest = softmaxManifest;
    f.emits = emitsSoftmax;
    f.verify = verifySoftmax;
    f.opName = softmaxName;
    f.schedule = scheduleSoftmax;
    FormRow r;
    r.forms = "softmax";
    r.op = "IntegerSoftmax";
    r.rank = 330;
    r.dtypes = {"i8", "u8"};
    r.minRank = 2;
    r.constraints = softmaxText;
    r.why = whySoftmaxNode;
    r.build = buildSoftmax;
    r.claim = claimSoftmax16;
    f.rows = {r};
    return f;
  }();
  return form;
}

} // namespace ember::accel
