// Loss reference kernels: NegativeLogLikelihoodLoss and
// SoftmaxCrossEntropyLoss (ONNX opset 13 semantics). Input is [N, C, d...],
// target [N, d...]; a target equal to ignore_index contributes nothing and
// has weight 0. Reduction "mean" divides by the sum of the gathered weights.
#include "interp/kernels/ValueUtil.h"

#include <algorithm>
#include <cmath>

namespace ember {

namespace {

// Shared body. When `softmax` is set the scores are log_softmax(x) over axis
// 1 (returned as result 1 when the node has two results).
Status lossKernel(KernelContext &ctx, bool softmax) {
  const Tensor &x = ctx.in(0), &tg = ctx.in(1);
  int64_t N = x.dim(0), C = x.dim(1);
  bool hasW = ctx.has(2);
  std::string red = ctx.attrString("reduction", "mean");
  Tensor &y = ctx.out(0);
  Tensor *lp = ctx.numOutputs() == 2 ? &ctx.out(1) : nullptr;

  bool hasIgnore = ctx.hasAttr("ignore_index");
  int64_t ignore = ctx.attrInt("ignore_index", 0);
  int64_t D = N * C == 0 ? 0 : x.size() / (N * C);
  std::vector<double> s = x.toDoubles();
  if (softmax) {
    for (int64_t n = 0; n < N; ++n)
      for (int64_t d = 0; d < D; ++d) {
        auto at = [&](int64_t c) -> double & {
          return s[size_t((n * C + c) * D + d)];
        };
        double m = -INFINITY;
        for (int64_t c = 0; c < C; ++c)
          m = std::max(m, at(c));
        double sum = 0;
        for (int64_t c = 0; c < C; ++c)
          sum += std::exp(at(c) - m);
        double lse = m + std::log(sum);
        for (int64_t c = 0; c < C; ++c)
          at(c) -= lse;
      }
    if (lp)
      storeDoubles(*lp, s);
  }
  std::vector<double> w;
  if (hasW)
    w = ctx.in(2).toDoubles();
  std::vector<int64_t> t = tg.toInts();
  std::vector<double> loss(size_t(N * D), 0.0);
  double total = 0, wsum = 0;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t d = 0; d < D; ++d) {
      int64_t k = n * D + d, c = t[size_t(k)];
      if (hasIgnore && c == ignore)
        continue;
      if (c < 0 || c >= C)
        return ctx.error("target value ", c, " at element ", k,
                         " is outside [0, ", C, ")");
      double wt = hasW ? w[size_t(c)] : 1.0;
      double l = -s[size_t((n * C + c) * D + d)] * wt;
      loss[size_t(k)] = l;
      total += l;
      wsum += wt;
    }
  if (red == "none")
    storeDoubles(y, loss);
  else if (red == "sum")
    y.setDouble(0, total);
  else
    y.setDouble(0, total / wsum);
  return Status::ok();
}

} // namespace

Status kernel_NegativeLogLikelihoodLoss(KernelContext &ctx) {
  return lossKernel(ctx, false);
}

Status kernel_SoftmaxCrossEntropyLoss(KernelContext &ctx) {
  return lossKernel(ctx, true);
}

} // namespace ember
