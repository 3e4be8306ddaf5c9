// If, Loop and Scan: they run subgraph Functions with the interpreter.
// Subgraphs are closed: values from the enclosing function are the node's
// trailing `captures` operands and the subgraph's trailing parameters.
#include "interp/Interpreter.h"
#include "interp/Kernel.h"

namespace ember {

namespace {

// Loops with a trip count above this are refused rather than run for hours.
constexpr int64_t kMaxIterations = int64_t(1) << 24;

bool sameShape(const Type &a, const Type &b) {
  return a.elem() == b.elem() && a.dims() == b.dims();
}

Expected<Function *> graphAttr(const KernelContext &ctx, const char *name) {
  Function *g = ctx.node().attrGraph(name);
  if (!g)
    return ctx.error("missing subgraph attribute '", name, "'");
  return g;
}

// Element-wise copy of slice `i` along `axis` of `t`.
Tensor sliceAxis(const Tensor &t, size_t axis, int64_t i) {
  Dims d = t.dims();
  int64_t outer = 1, inner = 1;
  for (size_t k = 0; k < axis; ++k)
    outer *= d[k];
  for (size_t k = axis + 1; k < d.size(); ++k)
    inner *= d[k];
  int64_t n = d[axis];
  d.erase(d.begin() + long(axis));
  Tensor r(t.type().withDims(d));
  size_t es = elemSize(t.elem());
  for (int64_t o = 0; o < outer; ++o)
    std::memcpy(r.raw() + size_t(o * inner) * es,
                t.raw() + size_t((o * n + i) * inner) * es, size_t(inner) * es);
  return r;
}

// Writes `part` as slice `i` along `axis` of `t`.
void storeAxis(Tensor &t, size_t axis, int64_t i, const Tensor &part) {
  const Dims &d = t.dims();
  int64_t outer = 1, inner = 1;
  for (size_t k = 0; k < axis; ++k)
    outer *= d[k];
  for (size_t k = axis + 1; k < d.size(); ++k)
    inner *= d[k];
  int64_t n = d[axis];
  size_t es = elemSize(t.elem());
  for (int64_t o = 0; o < outer; ++o)
    std::memcpy(t.raw() + size_t((o * n + i) * inner) * es,
                part.raw() + size_t(o * inner) * es, size_t(inner) * es);
}

Dims insertDim(Dims d, size_t axis, int64_t n) {
  d.insert(d.begin() + long(axis), n);
  return d;
}

// Follows Identity nodes back from a value.
Value throughIdentity(Value v) {
  while (v.node && v.node->kind == OpKind::Identity)
    v = v.node->inputs[0];
  return v;
}

} // namespace

// A branch is either a subgraph (`then_branch`) or, when it did not
// type-check for the shapes at import and the condition was unknown, the
// reason (`then_error`): taking it is a run-time error, as in ONNX Runtime.
Status kernel_If(KernelContext &ctx) {
  Function *thenG = ctx.node().attrGraph("then_branch");
  Function *elseG = ctx.node().attrGraph("else_branch");
  std::string thenErr = ctx.node().attrString("then_error", "");
  std::string elseErr = ctx.node().attrString("else_error", "");
  if ((!thenG && thenErr.empty()) || (!elseG && elseErr.empty()) ||
      (!thenG && !elseG))
    return ctx.error("needs two branches (then_branch and else_branch, at "
                     "most one of them replaced by its error)");
  int64_t nThen = ctx.attrInt("then_captures", 0);
  size_t nIn = ctx.numInputs();
  if (nThen < 0 || size_t(nThen) + 1 > nIn)
    return ctx.error("then_captures ", nThen, " does not fit ", nIn,
                     " operands");
  if (ctx.in(0).size() != 1 || ctx.in(0).elem() != ElemKind::Bool)
    return ctx.error("condition must be a single bool, got ",
                     ctx.in(0).type().toString());
  size_t nElse = nIn - 1 - size_t(nThen);
  if ((thenG ? thenG->params().size() : 0) != size_t(nThen) ||
      (elseG ? elseG->params().size() : 0) != nElse)
    return ctx.error("branch parameters do not match the captured operands");
  size_t nOut = ctx.numOutputs();
  if ((thenG && thenG->outputs().size() != nOut) ||
      (elseG && elseG->outputs().size() != nOut))
    return ctx.error("branches must return ", nOut, " values");
  // A constant condition picks the branch (shapes may differ between
  // branches); otherwise both must agree.
  int known = -1;
  if (ctx.in(0).hasData())
    known = ctx.in(0).getInt(0) != 0;
  for (size_t i = 0; i < nOut; ++i) {
    const Type *tt = thenG ? &thenG->outputs()[i].value.type() : nullptr;
    const Type *et = elseG ? &elseG->outputs()[i].value.type() : nullptr;
    if (known < 0 && tt && et && !sameShape(*tt, *et))
      return makeError(ErrorCode::DataDependent, "If: result #", i, " is ",
                       tt->toString(), " in one branch and ", et->toString(),
                       " in the other; the condition must be known at "
                       "compile time");
    const Type *pick = known == 0 ? et : known == 1 ? tt : tt ? tt : et;
    if (!pick)
      return ctx.error(
          "the ", known ? "then" : "else", " branch ",
          ctx.inferOnly() ? "is always taken and " : "was taken but ",
          "cannot run with these input shapes: ", known ? thenErr : elseErr);
    ctx.setOutput(i, *pick);
  }
  if (ctx.inferOnly())
    return Status::ok();
  bool c = known == 1;
  Function *taken = c ? thenG : elseG;
  std::vector<Tensor> args;
  size_t from = c ? 1 : 1 + size_t(nThen), to = c ? 1 + size_t(nThen) : nIn;
  for (size_t i = from; i < to; ++i)
    args.push_back(ctx.in(i));
  EMBER_ASSIGN(auto outs, interpret(*taken, args));
  for (size_t i = 0; i < nOut; ++i)
    ctx.out(i) = std::move(outs[i]);
  return Status::ok();
}

Status kernel_Loop(KernelContext &ctx) {
  EMBER_ASSIGN(Function * body, graphAttr(ctx, "body"));
  int64_t caps = ctx.attrInt("captures", 0);
  size_t nIn = ctx.numInputs();
  if (caps < 0 || size_t(caps) + 2 > nIn)
    return ctx.error("bad captures count ", caps);
  size_t nState = nIn - 2 - size_t(caps);
  size_t nBodyOut = body->outputs().size();
  if (body->params().size() != 2 + nState + size_t(caps) ||
      nBodyOut < 1 + nState)
    return ctx.error("body signature does not match ", nState,
                     " loop-carried values");
  size_t nScan = nBodyOut - 1 - nState;
  if (ctx.numOutputs() != nState + nScan)
    return ctx.error("has ", ctx.numOutputs(), " results, the body gives ",
                     nState + nScan);
  for (size_t i = 0; i < nState; ++i) {
    const Type &want = ctx.in(2 + i).type();
    const Type &got = body->outputs()[1 + i].value.type();
    if (!sameShape(want, got))
      return unsupported("Loop: carried value #", i, " changes from ",
                         want.toString(), " to ", got.toString(),
                         " (shapes must be static)");
    ctx.setOutput(i, want);
  }
  // The trip count: M, when the body's condition can only stay true.
  int64_t trips = -1;
  if (ctx.has(0) && ctx.in(0).hasData()) {
    int64_t m = ctx.in(0).getInt(0);
    bool condTrue = !ctx.has(1) || (ctx.in(1).hasData() && ctx.in(1).getInt(0));
    Value co = throughIdentity(body->outputs()[0].value);
    bool bodyKeepsCond =
        co.node == body->params()[1] ||
        (co.node && co.node->kind == OpKind::Constant &&
         co.node->payload->size() == 1 && co.node->payload->getInt(0) != 0);
    if (condTrue && bodyKeepsCond)
      trips = std::max<int64_t>(m, 0);
  }
  if (trips > kMaxIterations)
    return ctx.error("trip count ", trips, " is above the limit ",
                     kMaxIterations);
  for (size_t k = 0; k < nScan; ++k) {
    if (trips < 0)
      return makeError(ErrorCode::DataDependent,
                       "Loop: scan outputs need a trip count known at compile "
                       "time (constant M and a condition that stays true)");
    const Type &t = body->outputs()[1 + nState + k].value.type();
    ctx.setOutput(nState + k, t.withDims(insertDim(t.dims(), 0, trips)));
  }
  if (ctx.inferOnly())
    return Status::ok();

  std::vector<Tensor> state;
  for (size_t i = 0; i < nState; ++i)
    state.push_back(ctx.in(2 + i));
  bool cond = !ctx.has(1) || ctx.in(1).getInt(0) != 0;
  int64_t limit = ctx.has(0) ? ctx.in(0).getInt(0) : kMaxIterations + 1;
  int64_t it = 0;
  for (; it < limit && cond; ++it) {
    if (it >= kMaxIterations)
      return ctx.error("ran more than ", kMaxIterations,
                       " iterations without stopping");
    std::vector<Tensor> args;
    args.push_back(Tensor::fromInts(ElemKind::I64, {it}, {}));
    args.push_back(Tensor::fromInts(ElemKind::Bool, {cond ? 1 : 0}, {}));
    for (auto &s : state)
      args.push_back(s);
    for (size_t c = 0; c < size_t(caps); ++c)
      args.push_back(ctx.in(2 + nState + c));
    EMBER_ASSIGN(auto outs, interpret(*body, args));
    cond = outs[0].getInt(0) != 0;
    for (size_t i = 0; i < nState; ++i)
      state[i] = std::move(outs[1 + i]);
    for (size_t k = 0; k < nScan; ++k) {
      Tensor &dst = ctx.out(nState + k);
      if (it >= dst.dims()[0])
        return makeError(ErrorCode::Internal, "Loop ran past its trip count");
      storeAxis(dst, 0, it, outs[1 + nState + k]);
    }
  }
  for (size_t i = 0; i < nState; ++i)
    ctx.out(i) = std::move(state[i]);
  return Status::ok();
}

Status kernel_Scan(KernelContext &ctx) {
  EMBER_ASSIGN(Function * body, graphAttr(ctx, "body"));
  int64_t caps = ctx.attrInt("captures", 0);
  int64_t m = ctx.attrInt("num_scan_inputs", -1);
  size_t nIn = ctx.numInputs();
  if (m < 1 || caps < 0 || size_t(m + caps) > nIn)
    return ctx.error("num_scan_inputs ", m, " and captures ", caps,
                     " do not fit ", nIn, " operands");
  size_t nState = nIn - size_t(m + caps);
  size_t nBodyOut = body->outputs().size();
  if (body->params().size() != nIn || nBodyOut < nState)
    return ctx.error("body signature does not match the operands");
  size_t nScanOut = nBodyOut - nState;
  auto inAxes = ctx.attrInts("scan_input_axes");
  auto inDirs = ctx.attrInts("scan_input_directions");
  auto outAxes = ctx.attrInts("scan_output_axes");
  auto outDirs = ctx.attrInts("scan_output_directions");
  int64_t len = -1;
  std::vector<size_t> axes(size_t(m), 0);
  for (size_t j = 0; j < size_t(m); ++j) {
    const Tensor &x = ctx.in(nState + j);
    int64_t a = j < inAxes.size() ? inAxes[j] : 0;
    EMBER_ASSIGN(int64_t ax, normalizeAxis(ctx, a, x.rank()));
    axes[j] = size_t(ax);
    int64_t n = x.dims()[size_t(ax)];
    if (len >= 0 && n != len)
      return ctx.error("scan inputs have different lengths ", len, " and ", n);
    len = n;
  }
  for (size_t i = 0; i < nState; ++i) {
    const Type &want = ctx.in(i).type();
    if (!sameShape(want, body->outputs()[i].value.type()))
      return unsupported("Scan: state #", i, " changes type in the body");
    ctx.setOutput(i, want);
  }
  std::vector<size_t> oaxes(nScanOut, 0);
  for (size_t k = 0; k < nScanOut; ++k) {
    const Type &t = body->outputs()[nState + k].value.type();
    int64_t a = k < outAxes.size() ? outAxes[k] : 0;
    EMBER_ASSIGN(int64_t ax, normalizeAxis(ctx, a, t.rank() + 1));
    oaxes[k] = size_t(ax);
    ctx.setOutput(nState + k, t.withDims(insertDim(t.dims(), oaxes[k], len)));
  }
  if (ctx.inferOnly())
    return Status::ok();
  std::vector<Tensor> state;
  for (size_t i = 0; i < nState; ++i)
    state.push_back(ctx.in(i));
  for (int64_t it = 0; it < len; ++it) {
    std::vector<Tensor> args = state;
    for (size_t j = 0; j < size_t(m); ++j) {
      bool rev = j < inDirs.size() && inDirs[j] != 0;
      args.push_back(
          sliceAxis(ctx.in(nState + j), axes[j], rev ? len - 1 - it : it));
    }
    for (size_t c = 0; c < size_t(caps); ++c)
      args.push_back(ctx.in(nState + size_t(m) + c));
    EMBER_ASSIGN(auto outs, interpret(*body, args));
    for (size_t i = 0; i < nState; ++i)
      state[i] = std::move(outs[i]);
    for (size_t k = 0; k < nScanOut; ++k) {
      bool rev = k < outDirs.size() && outDirs[k] != 0;
      storeAxis(ctx.out(nState + k), oaxes[k], rev ? len - 1 - it : it,
                outs[nState + k]);
    }
  }
  for (size_t i = 0; i < nState; ++i)
    ctx.out(i) = std::move(state[i]);
  return Status::ok();
}

} // namespace ember
