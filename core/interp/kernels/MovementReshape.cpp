// Reshaping and re-laying-out kernels: Reshape, Flatten, Squeeze,
// Unsqueeze, Transpose, Expand, Tile, DepthToSpace, SpaceToDepth, Dropout.
// All of them copy elements as bytes, so every element type works.
#include "interp/kernels/MovementUtil.h"
#include <cstdint>

#include <algorithm>

namespace ember {

// Same bytes, new dims (row-major order is unchanged).
static Status sameBytes(KernelContext &ctx) {
  const Tensor &x = ctx.in(0);
  if (x.bytes())
    std::memcpy(ctx.out(0).raw(), x.raw(), x.bytes());
  return Status::ok();
}

Status kernel_Reshape(KernelContext &ctx) { return sameBytes(ctx); }

Status kernel_Flatten(KernelContext &ctx) { return sameBytes(ctx); }

Status kernel_Squeeze(KernelContext &ctx) { return sameBytes(ctx); }

Status kernel_Unsqueeze(KernelContext &ctx) { return sameBytes(ctx); }

Status kernel_Transpose(KernelContext &ctx) {
  const Tensor &x = ctx.in(0);
  EMBER_ASSIGN(std::vector<int64_t> perm, transposePerm(ctx));
  size_t r = x.rank();
  std::vector<int64_t> inStrides = stridesOf(x.dims()), strides(r);
  for (size_t i = 0; i < r; ++i)
    strides[i] = inStrides[size_t(perm[i])];
  Tensor &y = ctx.out(0);
  size_t es = elemSize(x.elem());
  const uint8_t *src = x.raw();
  uint8_t *dst = y.raw();
  forEachStrided(y.dims(), strides, [&](int64_t off) {
    std::memcpy(dst, src + size_t(off) * es, es);
    dst += es;
  });
  return Status::ok();
}

Status kernel_Expand(KernelContext &ctx) {
  const Tensor &x = ctx.in(0);
  Tensor &y = ctx.out(0);
  const Dims &d = y.dims();
  // Align the input to the right of the output; broadcast dims read index 0.
  size_t off = d.size() - x.rank();
  Dims inDims(d.size(), 1);
  std::vector<std::vector<int64_t>> tables(d.size());
  for (size_t i = 0; i < d.size(); ++i) {
    int64_t n = i < off ? 1 : x.dim(i - off);
    inDims[i] = n;
    tables[i].resize(size_t(d[i]));
    for (int64_t j = 0; j < d[i]; ++j)
      tables[i][size_t(j)] = n == 1 ? 0 : j;
  }
  gatherByTables(y.raw(), x.raw(), elemSize(x.elem()), d, inDims, tables,
                 nullptr);
  return Status::ok();
}

Status kernel_Tile(KernelContext &ctx) {
  const Tensor &x = ctx.in(0);
  Tensor &y = ctx.out(0);
  const Dims &d = y.dims();
  std::vector<std::vector<int64_t>> tables(d.size());
  for (size_t i = 0; i < d.size(); ++i) {
    tables[i].resize(size_t(d[i]));
    for (int64_t j = 0; j < d[i]; ++j)
      tables[i][size_t(j)] = j % x.dim(i);
  }
  gatherByTables(y.raw(), x.raw(), elemSize(x.elem()), d, x.dims(), tables,
                 nullptr);
  return Status::ok();
}

// DepthToSpace / SpaceToDepth on NCHW, written as direct index maps (the
// lowering uses Reshape+Transpose+Reshape; this is its independent check).
Status kernel_DepthToSpace(KernelContext &ctx) {
  const Tensor &x = ctx.in(0);
  int64_t b = ctx.attrInt("blocksize", 0);
  std::string mode = ctx.attrString("mode", "DCR");
  int64_t N = x.dim(0), C = x.dim(1), H = x.dim(2), W = x.dim(3);
  int64_t oc = C / (b * b);
  Tensor &y = ctx.out(0);
  size_t es = elemSize(x.elem());
  const uint8_t *src = x.raw();
  uint8_t *dst = y.raw();
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < oc; ++c)
      for (int64_t oh = 0; oh < H * b; ++oh)
        for (int64_t ow = 0; ow < W * b; ++ow) {
          int64_t h = oh / b, i = oh % b, w = ow / b, j = ow % b;
          int64_t ic =
              mode == "DCR" ? (i * b + j) * oc + c : c * b * b + i * b + j;
          int64_t s = ((n * C + ic) * H + h) * W + w;
          std::memcpy(dst, src + size_t(s) * es, es);
          dst += es;
        }
  return Status::ok();
}

Status kernel_SpaceToDepth(KernelContext &ctx) {
  const Tensor &x = ctx.in(0);
  int64_t b = ctx.attrInt("blocksize", 0);
  bool crd = ctx.attrString("mode", "DCR") == "CRD";
  int64_t N = x.dim(0), C = x.dim(1), H = x.dim(2), W = x.dim(3);
  int64_t oh = H / b, ow = W / b;
  Tensor &y = ctx.out(0);
  size_t es = elemSize(x.elem());
  const uint8_t *src = x.raw();
  uint8_t *dst = y.raw();
  // Output channel order: DCR (i, j, c), CRD (c, i, j).
  for (int64_t n = 0; n < N; ++n)
    for (int64_t oc = 0; oc < C * b * b; ++oc) {
      int64_t c = crd ? oc / (b * b) : oc % C;
      int64_t i = crd ? (oc / b) % b : oc / (C * b);
      int64_t j = crd ? oc % b : (oc / C) % b;
      for (int64_t h = 0; h < oh; ++h)
        for (int64_t w = 0; w < ow; ++w) {
          int64_t s = ((n * C + c) * H + h * b + i) * W + w * b + j;
          std::memcpy(dst, src + size_t(s) * es, es);
          dst += es;
        }
    }
  return Status::ok();
}

// Inference semantics: the output is the input and the mask all true.
// Training mode with a nonzero ratio draws random numbers, which a
// deterministic reference cannot reproduce: unsupported.
Status kernel_Dropout(KernelContext &ctx) {
  const Tensor &x = ctx.in(0);
  Tensor &y = ctx.out(0);
  if (ctx.has(2) && ctx.in(2).size() > 0 && ctx.in(2).getInt(0) != 0) {
    double ratio = 0.5;
    if (ctx.has(1) && ctx.in(1).size() > 0)
      ratio = ctx.in(1).getDouble(0);
    if (ratio != 0)
      return ctx.unsupportedError("training mode with ratio ", ratio,
                                  " is random; only inference is supported");
  }
  y = x;
  if (ctx.numOutputs() == 2) {
    Tensor &m = ctx.out(1);
    std::fill(m.data<bool>(), m.data<bool>() + m.size(), true);
  }
  return Status::ok();
}

} // namespace ember
