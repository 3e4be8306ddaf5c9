// Form norm (Forms.def; docs/npu-rtl.md, "Integer softmax and
// normalization: the choice and its area"): an IntegerNormalization (the
// fixed profile's LayerNorm or RMSNorm, quant::integerNormRow) of the last
// axis of a sequence [B, S, C] or of [tokens, C], i8, u8 or i16, with a
// constant multiplier, shift and bias of one entry or one per channel: a
// layer of its own, a 1x1 pool layer over the tokens whose operations this
// form emits, the normalization in its attributes (Layer::attrs: norm.*). Per
// block of tokens held in the output memory: the row sums (vreduce sum), the
// centred sums of squares from epsilon (vreduce sq center, 96-bit, into the
// same accumulator rows), the per-row rsqrt (rscalar), and per channel tile the
// multiply by the row's scalar and the channel's multiplier, bias, zero point
// and clamp (vrowmul), whose parameters are 4 accumulator rows per channel
// tile.
#include "Emit.h"
#include "Form.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

namespace ember::accel {

namespace {

// A layer's normalization, in stored terms (a uint8 tensor's zero point
// and clamp shifted by -128), kept in its attributes: norm.params =
// center, epsilon (added to the sum of squares), x_zp, y_zp, lo, hi;
// norm.mult, norm.shift and norm.bias (Q16 output quanta), one entry for
// every channel or one per channel (quant::NormParams).
struct NormOf {
  bool center = true;
  int64_t epsilon = 0, xZp = 0, yZp = 0, lo = -128, hi = 127;
  std::vector<int64_t> mult, shift, bias;
};

void setNorm(Layer &L, const NormOf &m) {
  L.attrs["norm.params"] = {m.center, m.epsilon, m.xZp, m.yZp, m.lo, m.hi};
  L.attrs["norm.mult"] = m.mult;
  L.attrs["norm.shift"] = m.shift;
  L.attrs["norm.bias"] = m.bias;
}

// Layer L's normalization, or why its attributes are not one (the layer
// text's check, FormPattern::verify, and the scheduler's).
Status normOf(const Layer &L, NormOf &m) {
  auto get = [&](const char *k) -> const std::vector<int64_t> * {
    auto it = L.attrs.find(k);
    return it == L.attrs.end() ? nullptr : &it->second;
  };
  const std::vector<int64_t> *p = get("norm.params"), *mu = get("norm.mult"),
                             *sh = get("norm.shift"), *bi = get("norm.bias");
  if (!p || !mu || !sh || !bi || p->size() != 6)
    return invalid("a normalization needs norm.params (center, epsilon, "
                   "x_zp, y_zp, lo, hi), norm.mult, norm.shift and "
                   "norm.bias");
  m.center = (*p)[0] != 0, m.epsilon = (*p)[1];
  m.xZp = (*p)[2], m.yZp = (*p)[3], m.lo = (*p)[4], m.hi = (*p)[5];
  m.mult = *mu, m.shift = *sh, m.bias = *bi;
  const PoolLayer &g = L.pool;
  if (L.kind != Layer::Kind::Pool || g.kh != 1 || g.kw != 1 || g.sh != 1 ||
      g.sw != 1 || g.up != 1 || g.upMode || !L.lut.empty() || !L.lut16.empty())
    return invalid("a normalization is a 1x1 pool layer without tables");
  const size_t n = m.mult.size();
  if ((n != 1 && int64_t(n) != g.C) || m.shift.size() != n ||
      m.bias.size() != n)
    return invalid("norm.mult, norm.shift and norm.bias need 1 or c entries");
  if (((*p)[0] != 0 && (*p)[0] != 1) || m.epsilon < 0 || m.lo > m.hi)
    return invalid("norm.params: center is 0 or 1, epsilon not negative, "
                   "lo <= hi");
  for (size_t c = 0; c < n; ++c)
    if (m.mult[c] < INT32_MIN || m.mult[c] > INT32_MAX ||
        m.shift[c] < INT32_MIN || m.shift[c] > INT32_MAX)
      return invalid("norm.mult and norm.shift are int32");
  return Status::ok();
}

Status verifyNorm(const Layer &L) {
  NormOf m;
  return normOf(L, m);
}

} // namespace

namespace sel {

namespace {

// The operations and registers the form uses (the registers in the order
// the scheduler sets them).
const OpKind kNormOps[3] = {OpKind::VReduce, OpKind::RScalar, OpKind::VRowMul};
const Reg kNormRegs[7] = {Reg::RowN,    Reg::RowXZp, Reg::RowOutZp,
                          Reg::RowMin,  Reg::RowMax, Reg::RowEpsLo,
                          Reg::RowEpsHi};

// The first register of kNormRegs the target lacks, or null.
const char *missingNormReg(const Target &t) {
  for (Reg r : kNormRegs)
    if (t.regs[size_t(r)] < 0)
      return regRoleName(r);
  return nullptr;
}

// Ok, or why the target lacks an operation or register the form uses.
Status whyNormOps(const Target &t) {
  for (OpKind k : kNormOps)
    if (!t.has(k))
      return Status(ErrorCode::Unsupported, std::string("the target has no ") +
                                                opKindName(k) +
                                                " operation (the norm form's)");
  if (const char *r = missingNormReg(t))
    return Status(ErrorCode::Unsupported, std::string("the target has no "
                                                      "register ") +
                                              r + " (the norm form's)");
  return Status::ok();
}

// Channel tiles of C channels.
int64_t normTiles(const Target &t, int64_t C) {
  return t.lanes > 0 ? ceilDiv(C, t.lanes) : 0;
}

// The most channels the accumulator memory holds the parameters of: 4 rows
// per channel tile, and a token's two rows (its sum and sum of squares,
// its rsqrt) beside them.
int64_t normMaxChannels(const Target &t) {
  const int m = t.memOf(Cls::Acc);
  if (m < 0)
    return 0;
  const int64_t rows = int64_t(t.memRows(m));
  return rows < 6 ? 0 : (rows - 2) / 4 * t.lanes;
}

Status normRefused(const std::string &why) {
  return Status(ErrorCode::Unsupported, why);
}

bool isNormDtype(const std::string &d) {
  return d == "i8" || d == "u8" || d == "i16";
}

// The norm row's check: the form's constraints in the order a reader
// meets them (types, layout, parameters, sizes), then the target's
// operations.
Status whyNormNode(const View &v, Analysis &, int i, bool) {
  const v1::Node &n = v.g.nodes(i);
  const int x = v.in(n, 0), m = v.in(n, 1), s = v.in(n, 2), b = v.in(n, 3),
            y = v.out(n);
  if (x < 0 || m < 0 || s < 0 || b < 0 || y < 0)
    return normRefused(
        "IntegerNormalization needs x, the multiplier, shift and bias");
  if (!isNormDtype(v.dtype(x)) || !isNormDtype(v.dtype(y)))
    return normRefused("normalizes " + v.dtype(x) + " into " + v.dtype(y) +
                       " (the norm form reads and writes i8, u8 or i16)");
  if ((v.dtype(x) == "i16" || v.dtype(y) == "i16") && !v.t.wide16)
    return normRefused("an int16 tensor (the target has no 16-bit rows: its "
                       "requant.outputs lacks 'i16')");
  if (v.constant[size_t(x)])
    return normRefused("normalizes a constant");
  const std::vector<int64_t> xd = v.dims(x);
  const int64_t rank = int64_t(xd.size());
  if (rank != 2 && rank != 3)
    return normRefused("rank " + std::to_string(rank) +
                       " (the norm form runs a sequence [B, S, C] or "
                       "[tokens, C])");
  int64_t axis = aInt(n, "axis", -1);
  if (axis < 0)
    axis += rank;
  if (axis != rank - 1)
    return normRefused("normalizes the axes from " + std::to_string(axis) +
                       " (the norm form normalizes the last axis alone)");
  if (v.chan[size_t(x)] != int(rank - 1) || v.chan[size_t(y)] != int(rank - 1))
    return normRefused("its input or result is laid out with its channels on "
                       "axis " +
                       std::to_string(v.chan[size_t(x)]) +
                       " (the norm form reads the channels as the lanes)");
  const int64_t C = xd.back();
  std::vector<int64_t> mv, sv, bv;
  if (!v.constant[size_t(m)] || !v.constant[size_t(s)] ||
      !v.constant[size_t(b)] || !v.ints(m, mv) || !v.ints(s, sv) ||
      !v.ints(b, bv))
    return normRefused("the multiplier, shift or bias is not a constant");
  if ((mv.size() != 1 && int64_t(mv.size()) != C) || sv.size() != mv.size() ||
      bv.size() != mv.size())
    return normRefused(
        std::to_string(mv.size()) +
        " parameters (one, or one per channel: " + std::to_string(C) + ")");
  if (v.dtype(x) == "i16" && aInt(n, "x_zero_point", 0) != 0)
    return normRefused("an int16 input with a zero point");
  const int64_t most = normMaxChannels(v.t);
  if (C > most)
    return normRefused(std::to_string(C) +
                       " channels (4 accumulator rows of parameters per "
                       "channel tile: at most " +
                       std::to_string(most) + " in " + nameOf(v.t, Cls::Acc) +
                       ")");
  // One token's channel tiles in the output memory (its lower half for
  // 16-bit rows), and a second copy when the result's width differs.
  const bool w16 = v.dtype(x) == "i16" || v.dtype(y) == "i16";
  const int64_t tiles = normTiles(v.t, C);
  const int64_t outRows =
      v.t.memOf(Cls::Out) < 0
          ? 0
          : int64_t(v.t.memRows(v.t.memOf(Cls::Out))) / (w16 ? 2 : 1);
  const int64_t need =
      tiles * ((v.dtype(x) == "i16") != (v.dtype(y) == "i16") ? 2 : 1);
  if (need > outRows)
    return normRefused("a token of " + std::to_string(C) + " channels takes " +
                       std::to_string(need) + " rows of " +
                       nameOf(v.t, Cls::Out) + " (it has " +
                       std::to_string(outRows) + ")");
  // One memory for the accumulator rows and the tokens (splitSharedRows):
  // a token's rows beside its parameters and scalars, below the tables.
  if (v.t.memOf(Cls::Out) == v.t.memOf(Cls::Acc)) {
    const int64_t rows =
        std::min(rowSharedRows(v.t, w16, rowTablesReserve(v.t)),
                 rowLayerOutRows(v.t, OpKind::VRowMul));
    const int64_t all = 4 * tiles + (aInt(n, "center", 1) ? 2 : 1) + need;
    if (all > rows)
      return normRefused("a token of " + std::to_string(C) + " channels, " +
                         "its parameters and scalars take " +
                         std::to_string(all) + " rows of " +
                         nameOf(v.t, Cls::Out) +
                         ", which holds both (the row form may use " +
                         std::to_string(rows) + ")");
  }
  EMBER_TRY(whyNormOps(v.t));
  // The description's limits: a row's tiles are one vreduce group.
  const int64_t lenMax = v.t.ops[size_t(OpKind::VReduce)].max("len");
  if (tiles > lenMax)
    return normRefused(std::to_string(tiles) +
                       " channel tiles a token (vreduce's len holds " +
                       std::to_string(lenMax) + ")");
  // vrowmul addresses the parameters and a token's scalar rows after them.
  const OpDesc &rowmul = v.t.ops[size_t(OpKind::VRowMul)];
  if (4 * tiles + 1 > std::min(rowmul.max("sum"), rowmul.max("scal") + 1))
    return normRefused(std::to_string(tiles) +
                       " channel tiles of parameters (vrowmul's scal and sum "
                       "address " +
                       std::to_string(rowmul.max("sum")) +
                       " accumulator rows)");
  return Status::ok();
}

// An IntegerNormalization: a 1x1 pool layer over the tokens (pixelLayer)
// with the normalization's parameters in stored terms.
void buildNorm(Builder &b, int i) {
  const v1::Node &n = b.v.g.nodes(i);
  const int x = b.v.in(n, 0), y = b.v.out(n);
  const int in = b.materialize(x);
  if (in < 0)
    return;
  b.tensorOf[size_t(y)] = b.pixelLayer(n.name(), n, in, y, -1, -1);
  NormOf m;
  b.v.ints(b.v.in(n, 1), m.mult);
  b.v.ints(b.v.in(n, 2), m.shift);
  b.v.ints(b.v.in(n, 3), m.bias);
  m.center = aInt(n, "center", 1) != 0;
  m.epsilon = aInt(n, "epsilon", 0);
  m.xZp = storedZp(b.v.dtype(x), aInt(n, "x_zero_point", 0));
  const std::string &to = b.v.dtype(y);
  m.yZp = storedZp(to, aInt(n, "y_zero_point", 0));
  m.lo = to == "i16" ? -32768 : -128;
  m.hi = to == "i16" ? 32767 : 127;
  setNorm(b.lp.layers.back(), m);
}

std::string normText(const Target &t) {
  return "the last axis of a sequence [B, S, C] or of [tokens, C]; constant "
         "multiplier, shift and bias of one entry or C; C <= " +
         std::to_string(normMaxChannels(t)) +
         " (4 accumulator rows of parameters per channel tile)";
}

// 16-bit rows where the target has them.
void claimNorm16(const Target &t, const FormRow &, OpClaim &c) {
  if (t.wide16)
    c.dtypes.push_back("i16");
}

// No claim on a target without the form's operations or registers.
void normManifest(const Target &t, std::vector<OpClaim> &claims) {
  if (whyNormOps(t).isOk())
    return;
  claims.erase(std::remove_if(claims.begin(), claims.end(),
                              [](const OpClaim &c) {
                                return c.op == "IntegerNormalization";
                              }),
               claims.end());
}

// Tokens in the output memory, the per-token scalars and the parameters in
// the accumulator memory, set through registers: the three operations and
// the ROW_* registers.
Status normNeeds(const Target &t, const Form &, FormNeeds &n) {
  n.classes.insert(int(Cls::Out));
  n.classes.insert(int(Cls::Acc));
  n.kinds.insert(int(OpKind::SetReg));
  bool all = true;
  for (OpKind kind : kNormOps) {
    n.kinds.insert(int(kind));
    all = all && t.has(kind);
  }
  if (!all) // (the description's check names the missing operation)
    return Status::ok();
  if (const char *r = missingNormReg(t))
    return Status(ErrorCode::Invalid,
                  std::string("forms: 'norm' needs the register ") + r);
  return Status::ok();
}

} // namespace

} // namespace sel

namespace {

bool emitsNorm(const Layer &L) { return L.attrs.count("norm.mult") != 0; }

std::string normName(const Layer &L) {
  NormOf m;
  return normOf(L, m).isOk() && !m.center ? "rmsnorm" : "layernorm";
}

// Per channel tile 4 accumulator rows of int32 lanes: the channels'
// multipliers, shifts, and the low and high words of their biases (a
// channel past C: zeros).
std::vector<uint8_t> normBytes(const NormOf &m, int64_t C, int64_t lanes) {
  const int64_t tiles = ceilDiv(C, lanes), rowBytes = 4 * lanes;
  const size_t n = m.mult.size();
  std::vector<uint8_t> b(size_t(tiles * 4 * rowBytes), 0);
  auto put = [&](int64_t row, int64_t lane, uint32_t w) {
    uint8_t *p = b.data() + row * rowBytes + lane * 4;
    for (int k = 0; k < 4; ++k)
      p[k] = uint8_t(w >> (8 * k));
  };
  for (int64_t c = 0; c < C; ++c) {
    const size_t e = n == 1 ? 0 : size_t(c);
    const int64_t row = c / lanes * 4, lane = c % lanes;
    const uint64_t bias = uint64_t(m.bias[e]);
    put(row, lane, uint32_t(m.mult[e]));
    put(row + 1, lane, uint32_t(m.shift[e]));
    put(row + 2, lane, uint32_t(bias));
    put(row + 3, lane, uint32_t(bias >> 32));
  }
  return b;
}

Status normTables(const Target &tg, const Layer &L, Image &img,
                  GemmTables &tb) {
  NormOf m;
  const Status bad = normOf(L, m);
  if (bad.failed())
    return Status(ErrorCode::Internal,
                  "internal: layer '" + L.name + "': " + bad.message());
  if (tg.clsRowBytes(Cls::Acc) != 4 * tg.lanes)
    return Status(ErrorCode::Unsupported,
                  "a normalization's parameters are int32 lanes of the "
                  "accumulator memory's rows");
  const std::vector<uint8_t> b = normBytes(m, L.pool.C, tg.lanes);
  tb.paramOff = img.put(b.data(), b.size());
  return Status::ok();
}

// The parameters again into a packed image (the program came without it).
void packNorm(const Layer &L, const GemmTables &tb, int64_t lanes,
              std::vector<uint8_t> &image) {
  NormOf m;
  if (normOf(L, m).failed() || lanes <= 0)
    return;
  const std::vector<uint8_t> b = normBytes(m, L.pool.C, lanes);
  if (tb.paramOff + b.size() <= image.size())
    std::memcpy(image.data() + tb.paramOff, b.data(), b.size());
}

// The form's code: the parameters into the accumulator memory and the
// registers once, then per block of B tokens (every channel tile of each,
// tile-major: tile k's rows at x + k B) loaded into the output memory, the
// row sums (LayerNorm: one kept for vrowmul, one that vreduce sq replaces
// by the token's sum of squares in its own row), the rsqrt in place, one
// vrowmul per channel tile (in place when the widths agree), the stores.
// A block is the most tokens the out memory (its lower half with 16-bit
// rows), the accumulator rows beside the parameters and the operations'
// fields hold; single-buffered (each step's loads wait for the step before).
Status scheduleNorm(const Target &tg, const Layer &L,
                    const std::vector<NTensor> &ts, const GemmTables &tb,
                    const CodegenOptions &o, LayerCode &code, LayerInfo &info) {
  NormOf m;
  const Status bad = normOf(L, m);
  if (bad.failed())
    return Status(ErrorCode::Internal,
                  "internal: layer '" + L.name + "': " + bad.message());
  RowLayer r;
  EMBER_TRY(rowLayerOf(tg, L, ts, o, "normalization", r));
  const bool in16 = r.in16, out16 = r.out16, inPlace = r.inPlace;
  for (OpKind k : {OpKind::VReduce, OpKind::RScalar, OpKind::VRowMul})
    if (!tg.has(k))
      return Status(ErrorCode::Unsupported, std::string("the target has no ") +
                                                opKindName(k) +
                                                " operation (the norm form's)");
  const int64_t C = r.x->C, P = r.x->P, Ct = r.x->tiles(), lanes = tg.lanes;
  const int outMem = tg.memOf(Cls::Out), accMem = tg.memOf(Cls::Acc);
  const int64_t outCap = r.outCap, accCap = r.accCap;
  const int64_t perToken = m.center ? 2 : 1; // accumulator rows a token
  int64_t B = std::min<int64_t>(P, outCap / (Ct * (inPlace ? 1 : 2)));
  B = std::min(B, (accCap - 4 * Ct) / perToken);
  for (OpKind k : sel::kNormOps)
    B = std::min(B, tg.ops[size_t(k)].max("rows"));
  B = std::min(B, tg.ops[size_t(OpKind::VReduce)].max("kstride"));
  // vrowmul addresses the token scalars (scal, sum) and the parameters.
  const OpDesc &rowmul = tg.ops[size_t(OpKind::VRowMul)];
  B = std::min(B, rowmul.max("sum") - 4 * Ct);
  if (4 * Ct > rowmul.max("scal") || 4 * (Ct - 1) > rowmul.max("param"))
    B = 0;
  // (One memory for both: the parameters and scalars below the tokens.)
  B = splitSharedRows(tg, r, OpKind::VRowMul, 4 * Ct, perToken,
                      Ct * (inPlace ? 1 : 2), B);
  if (B < 1)
    return Status(ErrorCode::Unsupported,
                  "a token of " + std::to_string(C) +
                      " channels does not fit: " + std::to_string(Ct) +
                      " rows of " + tg.memories[size_t(outMem)].name + " (" +
                      std::to_string(outCap) + "), " +
                      std::to_string(4 * Ct + perToken) + " of " +
                      tg.memories[size_t(accMem)].name + " (" +
                      std::to_string(accCap) + ")");
  if (Ct > tg.ops[size_t(OpKind::VReduce)].max("len"))
    return Status(
        ErrorCode::Unsupported,
        std::to_string(Ct) +
            " channel tiles a token (vreduce's len "
            "holds " +
            std::to_string(tg.ops[size_t(OpKind::VReduce)].max("len")) + ")");
  const uint64_t eps = uint64_t(m.epsilon);
  code.setup.clear();
  moveRows(tg, code.setup, false, Cls::Acc, 0, tb.paramOff, 4 * Ct);
  // The ROW_* registers, in sel::kNormRegs' order.
  const int64_t vals[7] = {C,
                           m.xZp,
                           m.yZp,
                           m.lo,
                           m.hi,
                           int64_t(eps & 0xffffffffu),
                           int64_t(eps >> 32)};
  if (const char *reg = sel::missingNormReg(tg))
    return Status(ErrorCode::Unsupported, std::string("the target has no "
                                                      "register ") +
                                              reg + " (the norm form's)");
  for (int k = 0; k < 7; ++k)
    code.setup.push_back(setregOp(tg, sel::kNormRegs[k], vals[k]));
  const int64_t last = C % lanes; // lanes of the last tile (0: all)
  // Blocks of Bk tokens. Accumulator rows: the parameters (4 a tile) at 0,
  // then per token of the block the scalar row (its sum, then W, then R and
  // s) and, for LayerNorm, the kept sum. Out rows from the block's base: its
  // input at 0, its result at Ct Bk (or in place).
  const int64_t scal = 4 * Ct;
  auto emit = [&](int64_t Bk, int64_t second, LayerCode &c, LayerInfo &inf) {
    const int64_t sumRow = scal + Bk, yBase = inPlace ? 0 : Ct * Bk;
    return emitRowBlocks(
        tg, ts, L, r, Bk, yBase, second, c, inf,
        [&](StepCode &sc, int64_t n, int64_t base) {
          if (m.center) {
            sc.compute.push_back(
                vreduceOp(tg, sumRow, base, n, Ct, 1, Bk, last, in16, true));
            sc.compute.push_back(
                vreduceOp(tg, scal, base, n, Ct, 1, Bk, last, in16, true));
          }
          sc.compute.push_back(vreduceOp(tg, scal, base, n, Ct, 1, Bk, last,
                                         in16, false, true, m.center));
          sc.compute.push_back(rscalarOp(tg, scal, scal, n, true));
          for (int64_t k = 0; k < Ct; ++k)
            sc.compute.push_back(vrowmulOp(
                tg, base + yBase + k * Bk, base + k * Bk, n, 1, scal,
                m.center ? sumRow : scal, 4 * k, in16, out16, m.center));
        });
  };
  emitBuffered(tg, r, OpKind::VRowMul, B, code, info, emit);
  return Status::ok();
}

} // namespace

const FormPattern &formNorm() {
  static const FormPattern form = [] {
    using namespace sel;
    FormPattern f;
    f.name = "norm";
    f.needs = normNeeds;
    f.manifest = normManifest;
    f.emits = emitsNorm;
    f.verify = verifyNorm;
    f.opName = normName;
    f.tables = normTables;
    f.pack = packNorm;
    f.schedule = scheduleNorm;
    FormRow r;
    r.forms = "norm";
    r.op = "IntegerNormalization";
    r.rank = 320;
    r.dtypes = {"i8", "u8"};
    // (the multiplier and shift, i32, and the bias, i64: constants)
    r.indexDtypes = {"i32", "i64"};
    r.minRank = 0; // (its parameters may be scalars; x's rank is checked)
    r.constraints = normText;
    r.why = whyNormNode;
    r.build = buildNorm;
    r.claim = claimNorm16;
    f.rows = {r};
    return f;
  }();
  return form;
}

} // namespace ember::accel
