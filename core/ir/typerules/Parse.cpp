// Parse helpers shared by type rules and kernels (ir/typerules/Parse.h):
// sliding windows (Conv, pools), convolution operands, numpy matmul and
// quantization parameter layouts.
#include "ir/typerules/Parse.h"

#include <algorithm>
#include <cmath>

namespace ember {

static std::string list(const Dims &d) {
  std::string s = "[";
  for (size_t i = 0; i < d.size(); ++i)
    s += (i ? "," : "") + std::to_string(d[i]);
  return s + "]";
}

Expected<WindowGeom> windowGeom(const TypeContext &ctx, const Dims &in,
                                const Dims &kernel, bool ceilMode) {
  size_t n = in.size();
  WindowGeom g;
  g.in = in;
  g.kernel = kernel;
  if (kernel.size() != n)
    return ctx.error("kernel_shape ", list(kernel), " does not match ", n,
                     " spatial dims");
  g.strides = ctx.hasAttr("strides") ? ctx.attrInts("strides") : Dims(n, 1);
  g.dilations =
      ctx.hasAttr("dilations") ? ctx.attrInts("dilations") : Dims(n, 1);
  Dims pads = ctx.hasAttr("pads") ? ctx.attrInts("pads") : Dims(2 * n, 0);
  if (g.strides.size() != n || g.dilations.size() != n || pads.size() != 2 * n)
    return ctx.error("strides ", list(g.strides), ", dilations ",
                     list(g.dilations), " or pads ", list(pads),
                     " do not match ", n, " spatial dims");
  for (size_t d = 0; d < n; ++d) {
    if (g.strides[d] < 1 || g.dilations[d] < 1 || kernel[d] < 1)
      return ctx.error("strides, dilations and kernel_shape must be >= 1");
    if (pads[d] < 0 || pads[n + d] < 0)
      return ctx.error("pads must be >= 0, got ", list(pads));
  }
  std::string autoPad = ctx.attrString("auto_pad", "NOTSET");
  g.out.assign(n, 0);
  g.padBegin.assign(n, 0);
  g.padEnd.assign(n, 0);
  for (size_t d = 0; d < n; ++d) {
    int64_t ek = g.effKernel(d), s = g.strides[d];
    if (autoPad == "SAME_UPPER" || autoPad == "SAME_LOWER") {
      g.out[d] = (in[d] + s - 1) / s;
      int64_t total = std::max<int64_t>(0, (g.out[d] - 1) * s + ek - in[d]);
      int64_t small = total / 2, big = total - small;
      g.padBegin[d] = autoPad == "SAME_UPPER" ? small : big;
      g.padEnd[d] = autoPad == "SAME_UPPER" ? big : small;
    } else if (autoPad == "VALID") {
      if (in[d] < ek)
        return ctx.error("input extent ", in[d], " is smaller than the window ",
                         ek);
      g.out[d] = (in[d] - ek) / s + 1;
    } else if (autoPad == "NOTSET" || autoPad.empty()) {
      g.padBegin[d] = pads[d];
      g.padEnd[d] = pads[n + d];
      int64_t span = in[d] + pads[d] + pads[n + d] - ek;
      if (span < 0)
        return ctx.error("padded input extent ", in[d] + pads[d] + pads[n + d],
                         " is smaller than the window ", ek);
      if (ceilMode) {
        g.out[d] = (span + s - 1) / s + 1;
        // The last window must start inside the input or the front padding.
        if ((g.out[d] - 1) * s >= in[d] + pads[d])
          --g.out[d];
      } else {
        g.out[d] = span / s + 1;
      }
    } else {
      return ctx.error("unknown auto_pad '", autoPad, "'");
    }
  }
  return g;
}

Expected<ConvProblem> convProblem(const TypeContext &ctx, const Dims &x,
                                  const Dims &w) {
  if (x.size() < 3 || x.size() > 10)
    return ctx.error("X must have rank 3 to 10 (N, C, spatial...), got ",
                     list(x));
  if (w.size() != x.size())
    return ctx.error("W rank ", w.size(), " differs from X rank ", x.size());
  ConvProblem p;
  p.batch = x[0];
  p.inC = x[1];
  p.outC = w[0];
  p.group = ctx.attrInt("group", 1);
  if (p.group < 1 || p.inC % p.group != 0 || p.outC % p.group != 0)
    return ctx.error("group ", p.group, " must divide input channels ", p.inC,
                     " and output channels ", p.outC);
  if (w[1] * p.group != p.inC)
    return ctx.error("W ", list(w), " has ", w[1], " channels per group; X ",
                     list(x), " with group ", p.group, " needs ",
                     p.inC / p.group);
  Dims in(x.begin() + 2, x.end()), kernel(w.begin() + 2, w.end());
  if (ctx.hasAttr("kernel_shape") && ctx.attrInts("kernel_shape") != kernel)
    return ctx.error("kernel_shape ", list(ctx.attrInts("kernel_shape")),
                     " does not match W ", list(w));
  EMBER_ASSIGN(p.g, windowGeom(ctx, in, kernel, false));
  return p;
}

Expected<MatMulShape> matmulShape(const TypeContext &ctx, const Dims &a,
                                  const Dims &b) {
  if (a.empty() || b.empty())
    return ctx.error("operands must have rank >= 1, got ", list(a), " and ",
                     list(b));
  MatMulShape s;
  Dims a2 = a, b2 = b;
  if (a.size() == 1)
    a2.insert(a2.begin(), 1);
  if (b.size() == 1)
    b2.push_back(1);
  s.M = a2[a2.size() - 2];
  s.K = a2.back();
  s.N = b2.back();
  if (b2[b2.size() - 2] != s.K)
    return ctx.error("inner dimensions differ: ", list(a), " x ", list(b));
  s.aBatch.assign(a2.begin(), a2.end() - 2);
  s.bBatch.assign(b2.begin(), b2.end() - 2);
  if (!broadcastShapes(s.aBatch, s.bBatch, s.batch))
    return ctx.error("batch dimensions do not broadcast: ", list(a), " x ",
                     list(b));
  s.out = s.batch;
  if (a.size() != 1)
    s.out.push_back(s.M);
  if (b.size() != 1)
    s.out.push_back(s.N);
  return s;
}

Expected<QuantIndexer> quantIndexer(const TypeContext &ctx, const Dims &x,
                                    const Tensor &scale, const Tensor *zp) {
  QuantIndexer q;
  if (zp && (zp->size() != scale.size() ||
             (scale.size() > 1 && zp->dims() != scale.dims())))
    return ctx.error("zero point ", zp->type().toString(),
                     " does not match scale ", scale.type().toString());
  int64_t block = ctx.attrInt("block_size", 0);
  if (scale.rank() == 0 ||
      (scale.rank() == 1 && scale.size() == 1 && block == 0)) {
    if (scale.size() != 1)
      return ctx.error("scale is empty");
    return q;
  }
  EMBER_ASSIGN(int64_t axis,
               normalizeAxis(ctx, ctx.attrInt("axis", 1), x.size()));
  q.axisDim = x[size_t(axis)];
  q.inner = 1;
  for (size_t d = size_t(axis) + 1; d < x.size(); ++d)
    q.inner *= x[d];
  if (block == 0) {
    if (scale.rank() != 1 || scale.size() != q.axisDim)
      return ctx.error("per-axis scale ", scale.type().toString(), " must be [",
                       q.axisDim, "] for axis ", axis);
    q.mode = QuantIndexer::PerAxis;
    return q;
  }
  if (block < 0)
    return ctx.error("block_size must be >= 0, got ", block);
  Dims want = x;
  want[size_t(axis)] = (q.axisDim + block - 1) / block;
  if (scale.dims() != want)
    return ctx.error("blocked scale ", scale.type().toString(),
                     " does not match x with axis ", axis, " and block_size ",
                     block);
  q.mode = QuantIndexer::Blocked;
  q.block = block;
  q.scaleAxisDim = want[size_t(axis)];
  return q;
}

} // namespace ember
