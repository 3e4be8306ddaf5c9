// The form table (Forms.def, Form.h): the forms in order, the rows serving
// an op on a target, and the capability manifest's claims made from them.
#include "Form.h"

#include "Emit.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace ember::accel {

const std::vector<const FormPattern *> &formPatterns() {
  static const std::vector<const FormPattern *> all = [] {
    std::vector<const FormPattern *> v;
    // (A pattern whose name is not its line's is a bug: it aborts.)
#define ACCEL_FORM(Pattern, Name, What)                                        \
  v.push_back(&form##Pattern());                                               \
  if (std::strcmp(v.back()->name, Name) != 0) {                                \
    std::fprintf(stderr, "internal: form %s is named '%s' in Forms.def\n",     \
                 v.back()->name, Name);                                        \
    std::abort();                                                              \
  }
#include "Forms.def"
    return v;
  }();
  return all;
}

const FormPattern *formNamed(const std::string &name) {
  for (const FormPattern *f : formPatterns())
    if (name == f->name)
      return f;
  return nullptr;
}

const FormPattern *emitterOf(const Layer &L) {
  for (const FormPattern *f : formPatterns())
    if (f->emits && f->emits(L))
      return f;
  return nullptr;
}

// (Rows r of a 16-bit block pair with r + rows/2: both below the reserve.)
static int64_t sharedUsable(int64_t cap, int64_t rows, bool w16,
                            int64_t reserve) {
  const int64_t h = rows / 2;
  return std::max<int64_t>(0, w16 ? std::min(h, cap - reserve - h)
                                  : cap - reserve);
}

int64_t rowSharedRows(const Target &t, bool w16, int64_t reserve) {
  const int out = t.memOf(Cls::Out);
  if (out < 0 || out != t.memOf(Cls::Acc))
    return 0;
  const int64_t rows = int64_t(t.memRows(out));
  return sharedUsable(rows, rows, w16,
                      out == t.memOf(Cls::Param) ? reserve : 0);
}

int64_t rowTablesReserve(const Target &t) {
  if (t.form("table16") && t.wide16)
    return table16Reserve(t);
  return t.has(OpKind::LutLd) ? t.lutRows() : 0;
}

int64_t splitSharedRows(const Target &tg, RowLayer &r, OpKind rowOp,
                        int64_t accFixed, int64_t accPerRow, int64_t outPerRow,
                        int64_t B) {
  if (!r.shared)
    return B;
  // (A block of b rows takes accFixed + (accPerRow + outPerRow) b rows,
  // within the memory and the out rows' fields.)
  const int64_t fields = rowLayerOutRows(tg, rowOp);
  const int64_t most = std::min(r.sharedRows, fields) - accFixed;
  B = std::min(B, std::max<int64_t>(
                      0, most / std::max<int64_t>(1, accPerRow + outPerRow)));
  r.outBase = accFixed + accPerRow * B;
  r.accCap = r.outBase;
  r.outCap = std::max<int64_t>(0, std::min(r.sharedRows, fields) - r.outBase);
  return B;
}

Status rowLayerOf(const Target &tg, const Layer &L,
                  const std::vector<NTensor> &ts, const CodegenOptions &o,
                  const char *what, RowLayer &r) {
  const PoolLayer &g = L.pool;
  if (g.in < 0 || g.out < 0 || size_t(g.in) >= ts.size() ||
      size_t(g.out) >= ts.size())
    return Status(ErrorCode::Internal,
                  std::string("internal: a ") + what + " without its tensors");
  r.x = &ts[size_t(g.in)];
  r.y = &ts[size_t(g.out)];
  r.in16 = r.x->i16;
  r.out16 = r.y->i16;
  r.inPlace = r.in16 == r.out16;
  const bool w16 = r.in16 || r.out16;
  if (w16 && !tg.wide16)
    return Status(ErrorCode::Unsupported, std::string("a 16-bit ") + what +
                                              " on a target without 16-bit "
                                              "rows");
  auto capOf = [&](int mem) {
    int64_t rows = int64_t(tg.memRows(mem));
    if (size_t(mem) < o.shareRows.size() && o.shareRows[size_t(mem)])
      rows = std::min(rows, int64_t(o.shareRows[size_t(mem)]));
    return rows;
  };
  const int outMem = tg.memOf(Cls::Out), accMem = tg.memOf(Cls::Acc);
  if (outMem == accMem) {
    // One memory: split between the acc and out rows (splitSharedRows).
    r.shared = true;
    r.sharedRows = sharedUsable(
        capOf(outMem), int64_t(tg.memRows(outMem)), w16,
        accMem == tg.memOf(Cls::Param) ? int64_t(o.paramReserve) : 0);
    r.outCap = r.accCap = r.sharedRows;
  } else {
    r.outCap = capOf(outMem) / (w16 ? 2 : 1);
    // (The output tables' rows at the top when the params share the
    // memory.)
    r.accCap = capOf(accMem) -
               (accMem == tg.memOf(Cls::Param) ? int64_t(o.paramReserve) : 0);
  }
  r.machine = machineOf(tg, o);
  r.predict = o.predict;
  return Status::ok();
}

namespace {

// Cycles of one of a row-wise layer's vector operations as the reference
// simulator times it: a row reduction a source row a cycle, a scalar one per
// row, a row multiply its rows and one more (at the vector engine's rows a
// cycle, plus its issue); a register write one. (Loads and stores: RowTimer.)
double rowOpCycles(const Target &t, const Op &o) {
  if (o.kind == OpKind::VReduce)
    return double(vectorCycles(t, o.rows * o.len));
  if (o.kind == OpKind::RScalar)
    return double(vectorCycles(t, o.rows));
  if (o.kind == OpKind::VRowMul || o.kind == OpKind::VRowExp)
    return double(vectorCycles(t, o.rows + 1));
  return 1;
}

// The times of a row layer's operations as the reference simulator runs
// them: each after the one before on its engine and after `after`, a load's
// or store's data on the one DRAM channel after its issue and latency.
struct RowTimer {
  const Target &t;
  const scratchpad::Machine &m;
  std::vector<double> free;
  double dram = 0, busy = 0;
  double run(const std::vector<Op> &ops, double after) {
    double end = after;
    busy = 0;
    for (const Op &o : ops) {
      const size_t e = o.engine >= 0 ? size_t(o.engine) : 0;
      if (free.size() <= e)
        free.resize(e + 1, 0);
      const double at = std::max(free[e], after);
      double fin = at + rowOpCycles(t, o);
      if (o.kind == OpKind::Load || o.kind == OpKind::Store) {
        const double rows = double(o.ysize * o.xsize),
                     bytes =
                         rows * double(t.clsRowBytes(o.cls) * (o.w16 ? 2 : 1)),
                     xfer = std::ceil(bytes / std::max(m.bytesPerCycle, 1e-9));
        const double data =
            std::max(at + double(m.transferOverhead + m.latencyCycles), dram);
        dram = data + xfer;
        fin = data +
              std::max(xfer, std::ceil(rows / std::max(m.rowsPerCycle, 1e-9)));
      }
      busy += fin - at;
      free[e] = fin;
      end = std::max(end, fin);
    }
    return end;
  }
};

} // namespace

int64_t rowLayerOutRows(const Target &tg, OpKind rowOp) {
  int64_t most = INT64_MAX;
  for (OpKind k : {OpKind::Load, OpKind::Store})
    most = std::min(most, tg.ops[size_t(k)].max("row"));
  most = std::min(most, tg.ops[size_t(OpKind::VReduce)].max("src"));
  for (const char *f : {"dst", "src"})
    most = std::min(most, tg.ops[size_t(rowOp)].max(f));
  return most == INT64_MAX ? most : most + 1;
}

void emitBuffered(
    const Target &tg, const RowLayer &r, OpKind rowOp, int64_t B,
    LayerCode &code, LayerInfo &info,
    const std::function<double(int64_t Bk, int64_t second, LayerCode &c,
                               LayerInfo &inf)> &emit) {
  LayerCode two = code;
  LayerInfo twoInfo = info;
  const double one = emit(B, 0, code, info);
  const int64_t Ct = r.x->tiles(), copies = r.inPlace ? 1 : 2,
                B2 = std::min(B, std::min(r.outCap, rowLayerOutRows(tg, rowOp) -
                                                        r.outBase) /
                                     (2 * Ct * copies));
  if (B2 > 1 && r.x->P > B2 && emit(B2, copies * Ct * B2, two, twoInfo) < one) {
    code = std::move(two);
    info = std::move(twoInfo);
  }
}

double emitRowBlocks(
    const Target &tg, const std::vector<NTensor> &ts, const Layer &L,
    const RowLayer &r, int64_t B, int64_t yBase, int64_t second,
    LayerCode &code, LayerInfo &info,
    const std::function<void(StepCode &sc, int64_t n, int64_t base)> &compute) {
  const PoolLayer &g = L.pool;
  const int64_t P = r.x->P, Ct = r.x->tiles();
  const Addr addr{ts};
  const int64_t blocks = ceilDiv(P, B);
  code.steps.assign(size_t(blocks), StepCode());
  for (int64_t s = 0; s < blocks; ++s) {
    StepCode &sc = code.steps[size_t(s)];
    const int64_t p0 = s * B, n = std::min(P, p0 + B) - p0,
                  base = r.outBase + (second && s % 2 ? second : 0);
    // One buffer: the next block's loads write the rows this one reads.
    sc.afterPrev = s > 0 && !second;
    for (int64_t k = 0; k < Ct; ++k)
      moveRows(tg, sc.loads, false, Cls::Out, base + k * B, addr(g.in, k, p0),
               n, r.in16);
    compute(sc, n, base);
    for (int64_t k = 0; k < Ct; ++k)
      moveRows(tg, sc.tail, true, Cls::Out, base + yBase + k * B,
               addr(g.out, k, p0), n, r.out16);
  }
  code.tiling = info.tiling = "p=" + std::to_string(B) +
                              " c=" + std::to_string(Ct) +
                              (second ? " double" : "");
  info.minDramBytes = tensorBytes(ts, g.in) + tensorBytes(ts, g.out);
  // The prediction, in the order the stream emits the operations
  // (Stream.cpp): the set-up (its register writes, the parameters' load),
  // then per block its loads, its operations and its stores, with a block's
  // loads ahead of the operations of the block before when there are two
  // buffers. A block's loads wait for the block that last used their rows
  // (d back: 1 with one buffer, 2 with two) to have read them (its
  // operations; in place, yBase 0, its stores), and its operations for its
  // loads and for that block's stores (they write the rows it stores).
  RowTimer tm{tg, r.machine, {}};
  const size_t d = second ? 2 : 1, nb = code.steps.size();
  std::vector<double> loadEnd(nb), opEnd(nb), storeEnd(nb);
  double end = tm.run(code.setup, 0), busy = 0, load = 0;
  auto loads = [&](size_t s) {
    const double after = s < d        ? 0
                         : yBase == 0 ? storeEnd[s - d]
                                      : opEnd[s - d];
    loadEnd[s] = tm.run(code.steps[s].loads, after);
    load += tm.busy;
  };
  if (nb)
    loads(0);
  for (size_t s = 0; s < nb; ++s) {
    if (s + 1 < nb && second)
      loads(s + 1);
    opEnd[s] = tm.run(code.steps[s].compute,
                      std::max(loadEnd[s], s < d ? 0 : storeEnd[s - d]));
    busy += tm.busy;
    storeEnd[s] = tm.run(code.steps[s].tail, opEnd[s]);
    end = std::max(end, storeEnd[s]);
    if (s + 1 < nb && !second)
      loads(s + 1);
  }
  if (r.predict) {
    info.predictedCycles = info.choice.predicted = end;
    info.predictedCompute = busy;
    info.predictedLoad = load;
  }
  return end;
}

namespace sel {

namespace {

// Every row of the form table, in rank order.
const std::vector<const FormRow *> &allRows() {
  static const std::vector<const FormRow *> rows = [] {
    std::vector<const FormRow *> v;
    for (const FormPattern *f : formPatterns())
      for (const FormRow &r : f->rows)
        v.push_back(&r);
    std::stable_sort(
        v.begin(), v.end(),
        [](const FormRow *a, const FormRow *b) { return a->rank < b->rank; });
    return v;
  }();
  return rows;
}

} // namespace

bool fuses(const Target &t, const std::string &form, const char *stage) {
  const Form *f = t.form(form);
  return f && f->fuses(stage);
}

bool serves(const Target &t, const FormRow &row) {
  const char *p = row.forms;
  while (*p) {
    const char *bar = std::strchr(p, '|');
    std::string name = bar ? std::string(p, size_t(bar - p)) : std::string(p);
    if (t.form(name) && (!*row.stage || fuses(t, name, row.stage)))
      return true;
    if (!bar)
      break;
    p = bar + 1;
  }
  return false;
}

std::vector<const FormRow *> rowsFor(const Target &t, const View &v,
                                     const v1::Node &n) {
  std::vector<const FormRow *> tested, plain;
  for (const FormRow *r : allRows())
    if (n.op() == r->op && serves(t, *r)) {
      if (!r->applies)
        plain.push_back(r);
      else if (r->applies(v, n))
        tested.push_back(r);
    }
  return tested.empty() ? plain : tested;
}

bool gemmAct16(const Target &t, const FormRow &r) {
  bool act16 = false;
  for (const char *f : {"conv", "matmul"})
    act16 = act16 || (t.form(f) && t.form(f)->act16 && t.wide16 &&
                      std::strstr(r.forms, f));
  return act16;
}

void claimGemm16(const Target &t, const FormRow &r, OpClaim &c) {
  const std::string op = r.op;
  if (!gemmAct16(t, r))
    return;
  if (op == "ConvInteger" || op == "MatMulInteger" || op == "Requantize")
    c.dtypes.insert(c.dtypes.end(), {"i16", "i64"});
  else if (op == "Add" && *r.stage)
    c.dtypes.push_back("i64");
}

void gemmNeeds(const Form &f, FormNeeds &n, bool requantizes, bool pads) {
  n.gemm = true;
  for (Cls c : {Cls::Act, Cls::Wgt, Cls::Acc, Cls::Out})
    n.classes.insert(int(c));
  n.kinds.insert(int(OpKind::Gemm));
  if (requantizes) {
    n.classes.insert(int(Cls::Param));
    n.kinds.insert(int(OpKind::Requant));
  }
  n.pads = n.pads || pads;
  n.pools = n.pools || f.fuses("pool");
  n.adds = n.adds || f.fuses("add");
}

bool hasOutputTables(const Target &t) {
  for (const Form &f : t.forms)
    if (f.fuses("lut"))
      return true;
  return false;
}

void ensureClaim(std::vector<OpClaim> &claims, const char *op,
                 std::vector<std::string> dtypes,
                 const std::string &constraints, const char *context,
                 std::vector<std::string> indexDtypes, unsigned minRank) {
  if (std::any_of(claims.begin(), claims.end(),
                  [&](const OpClaim &c) { return c.op == op; }))
    return;
  OpClaim c;
  c.op = op;
  c.dtypes = std::move(dtypes);
  c.constraints = constraints;
  c.context = context;
  c.indexDtypes = std::move(indexDtypes);
  c.minRank = minRank;
  claims.push_back(std::move(c));
}

} // namespace sel

std::vector<OpClaim> claimedOps(const Target &t) {
  std::vector<OpClaim> out;
  for (const sel::FormRow *rp : sel::allRows()) {
    const sel::FormRow &r = *rp;
    if (!sel::serves(t, r))
      continue;
    auto seen = std::find_if(out.begin(), out.end(),
                             [&](const OpClaim &c) { return c.op == r.op; });
    if (seen != out.end()) {
      // A later row running other dtypes only in its fused pattern (the
      // int32 Resize of a bilinear upsampling beside the nearest one)
      // widens the claim with them, in that context.
      OpClaim &c = *seen;
      if (*r.context && c.context.empty() && c.contextDtypes.empty() &&
          !r.contextDtypes.empty()) {
        c.dtypes.insert(c.dtypes.end(), r.dtypes.begin(), r.dtypes.end());
        c.context = r.context;
        c.contextDtypes.assign(r.contextDtypes.begin(), r.contextDtypes.end());
      }
      if (r.widen)
        r.widen(t, r, c);
      continue; // one claim per op
    }
    OpClaim c;
    c.op = r.op;
    c.dtypes.assign(r.dtypes.begin(), r.dtypes.end());
    c.constraints = r.constraints(t);
    c.minRank = r.minRank;
    c.context = r.context;
    c.contextDtypes.assign(r.contextDtypes.begin(), r.contextDtypes.end());
    c.indexDtypes.assign(r.indexDtypes.begin(), r.indexDtypes.end());
    if (r.claim)
      r.claim(t, r, c);
    out.push_back(std::move(c));
  }
  // (A pattern's hook runs where the target has its form, or a form its
  // rows serve: the requant pattern's rows are the GEMM forms' epilogue.)
  for (const FormPattern *f : formPatterns())
    if (f->manifest &&
        (t.form(f->name) ||
         std::any_of(f->rows.begin(), f->rows.end(),
                     [&](const sel::FormRow &r) { return sel::serves(t, r); })))
      f->manifest(t, out);
  return out;
}

} // namespace ember::accel
