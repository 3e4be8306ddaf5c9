// Type rules of If, Loop and Scan (kernels: interp/kernels/ControlFlow.cpp).
// Subgraphs are closed: values from the enclosing function are the node's
// trailing `captures` operands and the subgraph's trailing parameters. The
// rules read the subgraphs' declared result types; they never run them.
#include "ir/typerules/ControlFlow.h"

#include <algorithm>
#include <cmath>

namespace ember {

namespace {

bool sameShape(const Type &a, const Type &b) {
  return a.elem() == b.elem() && a.dims() == b.dims();
}

Expected<Function *> graphAttr(const TypeContext &ctx, const char *name) {
  Function *g = ctx.node().attrGraph(name);
  if (!g)
    return ctx.error("missing subgraph attribute '", name, "'");
  return g;
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

Status setResults(TypeContext &ctx, const std::vector<Type> &results) {
  for (size_t i = 0; i < results.size(); ++i)
    ctx.setOutput(i, results[i]);
  return Status::ok();
}

} // namespace

// A branch is either a subgraph (`then_branch`) or, when it did not
// type-check for the shapes at import and the condition was unknown, the
// reason (`then_error`): taking it is a run-time error, as in ONNX Runtime.
Expected<IfPlan> ifPlan(const TypeContext &ctx) {
  IfPlan p;
  Function *thenG = p.thenG = ctx.node().attrGraph("then_branch");
  Function *elseG = p.elseG = ctx.node().attrGraph("else_branch");
  std::string thenErr = ctx.node().attrString("then_error", "");
  std::string elseErr = ctx.node().attrString("else_error", "");
  if ((!thenG && thenErr.empty()) || (!elseG && elseErr.empty()) ||
      (!thenG && !elseG))
    return ctx.error("needs two branches (then_branch and else_branch, at "
                     "most one of them replaced by its error)");
  int64_t nThen = p.thenCaptures = ctx.attrInt("then_captures", 0);
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
  p.known = known;
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
          ctx.runTime() ? "was taken but " : "is always taken and ",
          "cannot run with these input shapes: ", known ? thenErr : elseErr);
    p.results.push_back(*pick);
  }
  return p;
}

Status types_If(TypeContext &ctx) {
  EMBER_ASSIGN(IfPlan p, ifPlan(ctx));
  return setResults(ctx, p.results);
}

Expected<LoopPlan> loopPlan(const TypeContext &ctx) {
  LoopPlan p;
  EMBER_ASSIGN(Function * body, graphAttr(ctx, "body"));
  p.body = body;
  int64_t caps = p.captures = ctx.attrInt("captures", 0);
  size_t nIn = ctx.numInputs();
  if (caps < 0 || size_t(caps) + 2 > nIn)
    return ctx.error("bad captures count ", caps);
  size_t nState = p.nState = nIn - 2 - size_t(caps);
  size_t nBodyOut = body->outputs().size();
  if (body->params().size() != 2 + nState + size_t(caps) ||
      nBodyOut < 1 + nState)
    return ctx.error("body signature does not match ", nState,
                     " loop-carried values");
  size_t nScan = p.nScan = nBodyOut - 1 - nState;
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
    p.results.push_back(want);
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
  if (trips > kMaxLoopIterations)
    return ctx.error("trip count ", trips, " is above the limit ",
                     kMaxLoopIterations);
  p.trips = trips;
  for (size_t k = 0; k < nScan; ++k) {
    if (trips < 0)
      return makeError(ErrorCode::DataDependent,
                       "Loop: scan outputs need a trip count known at compile "
                       "time (constant M and a condition that stays true)");
    const Type &t = body->outputs()[1 + nState + k].value.type();
    p.results.push_back(t.withDims(insertDim(t.dims(), 0, trips)));
  }
  return p;
}

Status types_Loop(TypeContext &ctx) {
  EMBER_ASSIGN(LoopPlan p, loopPlan(ctx));
  return setResults(ctx, p.results);
}

Expected<ScanPlan> scanPlan(const TypeContext &ctx) {
  ScanPlan p;
  EMBER_ASSIGN(Function * body, graphAttr(ctx, "body"));
  p.body = body;
  int64_t caps = p.captures = ctx.attrInt("captures", 0);
  int64_t m = p.m = ctx.attrInt("num_scan_inputs", -1);
  size_t nIn = ctx.numInputs();
  if (m < 1 || caps < 0 || size_t(m + caps) > nIn)
    return ctx.error("num_scan_inputs ", m, " and captures ", caps,
                     " do not fit ", nIn, " operands");
  size_t nState = p.nState = nIn - size_t(m + caps);
  size_t nBodyOut = body->outputs().size();
  if (body->params().size() != nIn || nBodyOut < nState)
    return ctx.error("body signature does not match the operands");
  size_t nScanOut = p.nScanOut = nBodyOut - nState;
  auto inAxes = ctx.attrInts("scan_input_axes");
  p.inDirs = ctx.attrInts("scan_input_directions");
  auto outAxes = ctx.attrInts("scan_output_axes");
  p.outDirs = ctx.attrInts("scan_output_directions");
  int64_t len = -1;
  p.axes.assign(size_t(m), 0);
  for (size_t j = 0; j < size_t(m); ++j) {
    const Tensor &x = ctx.in(nState + j);
    int64_t a = j < inAxes.size() ? inAxes[j] : 0;
    EMBER_ASSIGN(int64_t ax, normalizeAxis(ctx, a, x.rank()));
    p.axes[j] = size_t(ax);
    int64_t n = x.dims()[size_t(ax)];
    if (len >= 0 && n != len)
      return ctx.error("scan inputs have different lengths ", len, " and ", n);
    len = n;
  }
  p.len = len;
  for (size_t i = 0; i < nState; ++i) {
    const Type &want = ctx.in(i).type();
    if (!sameShape(want, body->outputs()[i].value.type()))
      return unsupported("Scan: state #", i, " changes type in the body");
    p.results.push_back(want);
  }
  p.oaxes.assign(nScanOut, 0);
  for (size_t k = 0; k < nScanOut; ++k) {
    const Type &t = body->outputs()[nState + k].value.type();
    int64_t a = k < outAxes.size() ? outAxes[k] : 0;
    EMBER_ASSIGN(int64_t ax, normalizeAxis(ctx, a, t.rank() + 1));
    p.oaxes[k] = size_t(ax);
    p.results.push_back(t.withDims(insertDim(t.dims(), p.oaxes[k], len)));
  }
  return p;
}

Status types_Scan(TypeContext &ctx) {
  EMBER_ASSIGN(ScanPlan p, scanPlan(ctx));
  return setResults(ctx, p.results);
}

} // namespace ember
