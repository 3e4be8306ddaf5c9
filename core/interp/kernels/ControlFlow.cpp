// If, Loop and Scan: they run subgraph Functions with the interpreter.
// Subgraphs are closed: values from the enclosing function are the node's
// trailing `captures` operands and the subgraph's trailing parameters.
#include "ir/typerules/ControlFlow.h"
#include "interp/Interpreter.h"
#include "interp/Kernel.h"

namespace ember {

namespace {

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

} // namespace

// Runs the branch the condition takes (ifPlan, ir/typerules/ControlFlow.h,
// has checked the branches and reported a branch replaced by its error).
Status kernel_If(KernelContext &ctx) {
  EMBER_ASSIGN(IfPlan p, ifPlan(ctx));
  int64_t nThen = p.thenCaptures;
  size_t nIn = ctx.numInputs(), nOut = ctx.numOutputs();
  bool c = p.known == 1;
  Function *taken = c ? p.thenG : p.elseG;
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
  EMBER_ASSIGN(LoopPlan p, loopPlan(ctx));
  Function *body = p.body;
  int64_t caps = p.captures;
  size_t nState = p.nState, nScan = p.nScan;
  std::vector<Tensor> state;
  for (size_t i = 0; i < nState; ++i)
    state.push_back(ctx.in(2 + i));
  bool cond = !ctx.has(1) || ctx.in(1).getInt(0) != 0;
  int64_t limit = ctx.has(0) ? ctx.in(0).getInt(0) : kMaxLoopIterations + 1;
  int64_t it = 0;
  for (; it < limit && cond; ++it) {
    if (it >= kMaxLoopIterations)
      return ctx.error("ran more than ", kMaxLoopIterations,
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
  EMBER_ASSIGN(ScanPlan p, scanPlan(ctx));
  Function *body = p.body;
  int64_t caps = p.captures, m = p.m, len = p.len;
  size_t nState = p.nState, nScanOut = p.nScanOut;
  const std::vector<int64_t> &inDirs = p.inDirs, &outDirs = p.outDirs;
  const std::vector<size_t> &axes = p.axes, &oaxes = p.oaxes;
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
