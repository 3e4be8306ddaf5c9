// Form table16 (Forms.def; docs/npu-backend.md, "16-bit activations
// (16x8)"): a TableLookup of an int16 tensor into int16 with a constant
// 513-entry table (the interpolated 16-bit table, docs/quantization.md), a
// layer of its own: a 1x1 pool layer on 16-bit rows (Layer::lut16) whose
// vector op is the lookup (lut with w16), its table loaded by lutld w16
// into the param rows below the output table's.
#include "Emit.h"
#include "Form.h"

namespace ember::accel::sel {

namespace {

// TableLookup(x, table) of an int16 x into int16 (form table16): a layer
// of its own on 16-bit rows, the table 513 constant int16 entries (the
// interpolated table, docs/quantization.md, "16-bit activations").
Status whyTable16(const View &v, const v1::Node &n) {
  int x = v.in(n, 0), tb = v.in(n, 1), y = v.out(n);
  if (!v.t.form("table16") || !v.t.has(OpKind::Lut))
    return Status(
        ErrorCode::Unsupported,
        "looks up i16 (the target has no table16 form: its output table "
        "maps i8/u8)");
  if (v.dtype(y) != "i16")
    return Status(ErrorCode::Unsupported,
                  "looks up i16 -> " + v.dtype(y) +
                      " (the 16-bit table maps i16 to i16)");
  if (v.constant[size_t(x)])
    return Status(ErrorCode::Unsupported, "looks up a constant");
  std::vector<int64_t> vals;
  if (!v.constant[size_t(tb)] || v.intCount(tb) != 513 || !v.ints(tb, vals))
    return Status(ErrorCode::Unsupported,
                  "the table is not a constant of 513 entries");
  for (int64_t e : vals)
    if (e < -32768 || e > 32767)
      return Status(ErrorCode::Unsupported,
                    "the table has an entry outside int16");
  if (v.dims(x).empty())
    return Status(ErrorCode::Unsupported, "looks up a scalar");
  return Status::ok();
}

// The table16 row's check: a TableLookup of int16 (an 8-bit one is the
// output table's, or the table form's).
Status whyTable16Node(const View &v, Analysis &, int i, bool) {
  const v1::Node &n = v.g.nodes(i);
  int x = v.in(n, 0), tb = v.in(n, 1), y = v.out(n);
  if (x < 0 || tb < 0 || y < 0)
    return Status(ErrorCode::Unsupported, "TableLookup needs x and the table");
  if (v.dtype(x) != "i16")
    return Status(ErrorCode::Unsupported,
                  "looks up " + v.dtype(x) +
                      " (the target's table16 form looks up int16 values)");
  return whyTable16(v, n);
}

// A TableLookup of an int16 tensor: a 1x1 pool on 16-bit rows whose vector
// op looks each value up in the 513-entry table (Layer::lut16).
void buildTable16(Builder &b, int i) {
  const v1::Node &n = b.v.g.nodes(i);
  std::vector<int64_t> vals;
  b.v.ints(b.v.in(n, 1), vals);
  int in = b.materialize(b.v.in(n, 0));
  if (in < 0)
    return;
  b.tensorOf[size_t(b.v.out(n))] =
      b.pixelLayer(n.name(), n, in, b.v.out(n), -1, -1);
  for (int64_t e : vals)
    b.lp.layers.back().lut16.push_back(int16_t(e));
}

std::string table16Text(const Target &) {
  return "i16 -> i16, a constant table of 513 int16 entries (the "
         "interpolated 16-bit table), any rank";
}

// A 16-bit table lookup: a layer of its own beside the fused 8-bit output
// table (its dtype and constraint added).
void widenTable16(const Target &t, const FormRow &r, OpClaim &c) {
  c.dtypes.push_back("i16");
  c.constraints += "; or " + r.constraints(t);
  c.context += "; or i16: a layer of its own";
}

// A 16-bit table of int16 rows: its 513 entries through the param memory
// (LutLd w16), the rows looked up where they are (Lut w16).
Status table16Needs(const Target &t, const Form &, FormNeeds &n) {
  if (!t.wide16)
    return Status(ErrorCode::Invalid,
                  "forms: 'table16' looks up 16-bit rows, which need "
                  "requant.outputs 'i16' (the target's 16-bit rows)");
  n.classes.insert(int(Cls::Out));
  n.classes.insert(int(Cls::Param));
  n.kinds.insert(int(OpKind::LutLd));
  n.kinds.insert(int(OpKind::Lut));
  return Status::ok();
}

} // namespace

} // namespace ember::accel::sel

namespace ember::accel {

namespace {

bool emitsTable16(const Layer &L) { return !L.lut16.empty(); }

std::string table16Name(const Layer &) { return "table16"; }

// Its 1026 bytes (513 int16, little-endian) in the static image.
Status table16Tables(const Target &tg, const Layer &L, Image &img,
                     GemmTables &tb) {
  if (L.lut16.size() != 513 || !L.lut.empty())
    return Status(ErrorCode::Internal,
                  "internal: layer '" + L.name + "' has a 16-bit table of " +
                      std::to_string(L.lut16.size()) + " entries");
  if (!tg.has(OpKind::Lut) || !tg.wide16 || L.kind != Layer::Kind::Pool)
    return Status(ErrorCode::Unsupported,
                  "layer '" + L.name +
                      "': the target has no 16-bit table lookup");
  std::vector<uint8_t> b;
  for (int16_t e : L.lut16)
    b.insert(b.end(), {uint8_t(uint16_t(e) & 0xff), uint8_t(uint16_t(e) >> 8)});
  b.resize(size_t(tg.lut16Rows() * tg.clsRowBytes(Cls::Param)), 0);
  tb.lut16 = true;
  tb.lutOff = img.put(b.data(), b.size());
  return Status::ok();
}

// The pool kind's scheduler with the lookup as its vector op: the setup
// loads the table into the param rows below the output table's, then to
// the vector engine (dependency insertion orders it against other users of
// those rows); no padding, no window registers; the lookup reads
// lut16_lanes_per_cycle lanes a cycle where the target says so.
Status scheduleTable16(const Target &tg, const Layer &L,
                       const std::vector<NTensor> &ts, const GemmTables &tb,
                       const CodegenOptions &o, LayerCode &code,
                       LayerInfo &info) {
  const PoolLayer &g = L.pool;
  if (!g.w16 || g.kh != 1 || g.kw != 1 || g.sh != 1 || g.sw != 1 || g.pt ||
      g.pl || g.pb || g.pr || g.up != 1 || !tg.has(OpKind::Lut) ||
      !tg.has(OpKind::LutLd))
    return Status(
        ErrorCode::Unsupported,
        "a 16-bit table is a 1x1 window on 16-bit rows, on a target with "
        "lut and lutld");
  PoolOps ops;
  const int64_t at =
      int64_t(tg.memRows(tg.memOf(Cls::Param))) - table16Reserve(tg);
  moveRows(tg, ops.setup, false, Cls::Param, at, int64_t(tb.lutOff),
           tg.lut16Rows());
  ops.setup.push_back(lut16ldOp(tg, at));
  ops.cycles = [&tg](int64_t rows) {
    if (tg.vector.lut16LanesPerCycle)
      return uint64_t(ceilDiv(rows * tg.lanes,
                              int64_t(tg.vector.lut16LanesPerCycle))) +
             tg.vector.issueOverhead;
    return vectorCycles(tg, rows);
  };
  ops.op = [&tg](int64_t dst, int64_t src, int64_t rows) {
    return lut16Op(tg, dst, src, rows);
  };
  return genPool(tg, L, ts, o, code, info, &ops);
}

} // namespace

const FormPattern &formTable16() {
  static const FormPattern form = [] {
    using namespace sel;
    FormPattern f;
    f.name = "table16";
    f.needs = table16Needs;
    f.emits = emitsTable16;
    f.opName = table16Name;
    f.tables = table16Tables;
    f.schedule = scheduleTable16;
    FormRow r;
    r.forms = "table16";
    r.op = "TableLookup";
    r.rank = 50;
    r.dtypes = {"i16"};
    r.constraints = table16Text;
    r.why = whyTable16Node;
    r.build = buildTable16;
    r.widen = widenTable16;
    f.rows = {r};
    return f;
  }();
  return form;
}

} // namespace ember::accel
