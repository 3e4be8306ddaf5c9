//===- Conv.cpp - 2-D convolution as implicit GEMM ------------------------===//
//
// y[OC][OH*OW] = W[OC][C*KH*KW] * im2col(x)[C*KH*KW][OH*OW]
//
// W is packed once (packConvWeights) into the A panels of the micro-kernel.
// The im2col matrix is never built in full: the GEMM driver packs each
// (kc x nc) block of it straight from x into the B panels it needs
// (packIm2col). A 1x1, stride-1, unpadded convolution's im2col matrix is x
// itself, which is packed like any row-major B.
//
//===----------------------------------------------------------------------===//
#include "Internal.h"

#include <algorithm>
#include <cstring>

namespace ember::cpu {

namespace detail {
// Two-phase convolution (conv2dPrepareInput / conv2dPrepared in Kernels.h):
// the full image's phase planes are built once into a workspace's plane
// region, then any number of ranges read them.
bool conv2dPhasesNeeded(const Conv2DShape &s);
void conv2dPreparePhases(const GemmKernel &k, const Conv2DShape &s,
                         const float *x, float *ws, size_t c0, size_t c1);
const float *conv2dPreparedPlanes(const GemmKernel &k, const Conv2DShape &s,
                                  const float *preparedWs);
Status conv2dShiftedPrepared(const GemmKernel &k, const Conv2DShape &s,
                             const float *x, const float *panels, float *y,
                             const Epilogue &epi, size_t m0, size_t m1,
                             size_t p0, size_t p1, float *ws,
                             const float *prepared);
Status conv2dTransposedPrepared(const GemmKernel &k, const Conv2DShape &s,
                                const float *x, const float *panels, float *y,
                                const Epilogue &epi, size_t m0, size_t m1,
                                size_t p0, size_t p1, float *ws,
                                const float *prepared);
} // namespace detail

using namespace detail;

namespace {

size_t outExtent(size_t in, size_t k, size_t stride, size_t dil, size_t padLo,
                 size_t padHi, bool ceilMode) {
  if (stride == 0 || dil == 0 || k == 0)
    return 0;
  size_t span = dil * (k - 1) + 1;
  size_t padded = in + padLo + padHi;
  if (padded < span)
    return 0;
  size_t n = (padded - span + (ceilMode ? stride - 1 : 0)) / stride + 1;
  // ONNX/PyTorch: the last window must start inside the input or the
  // leading padding.
  if (ceilMode && n > 1 && (n - 1) * stride >= in + padLo)
    --n;
  return n;
}

} // namespace

size_t Conv2DShape::outHeight() const {
  return outExtent(height, kernelH, strideH, dilationH, padTop, padBottom,
                   ceilMode);
}

size_t Conv2DShape::outWidth() const {
  return outExtent(width, kernelW, strideW, dilationW, padLeft, padRight,
                   ceilMode);
}

bool Conv2DShape::valid() const {
  return channels && height && width && outHeight() && outWidth();
}

namespace {

/// K order of packed weights (PackedHeader::reserved[0]).
enum ConvOrder : uint64_t {
  OrderIm2col = 0,  ///< k = (c, kh, kw): im2col rows packed per block
  OrderShifted = 1, ///< k = (kh, kw, c): shifted rows read in place
};

bool isPointwise(const Conv2DShape &s) {
  return s.kernelH == 1 && s.kernelW == 1 && s.strideH == 1 && s.strideW == 1 &&
         s.padTop == 0 && s.padLeft == 0 && s.padBottom == 0 && s.padRight == 0;
}

/// The kernel that runs A panels `mr` rows tall on path `isa`.
const GemmKernel *kernelForMr(Isa isa, int mr) {
  const GemmKernel &native = gemmKernelFor(isa);
  if (native.mr == mr)
    return &native;
  if (isa == Isa::Avx512 && gemmKernelAvx2().mr == mr)
    return &gemmKernelAvx2();
  return gemmKernelGenericFor(mr, 0);
}

/// The kernel that runs B panels `nr` wide on path `isa`.
const GemmKernel *kernelForNr(Isa isa, int nr) {
  const GemmKernel &native = gemmKernelFor(isa);
  if (native.nr == nr)
    return &native;
  return gemmKernelGenericFor(0, nr);
}

} // namespace

namespace {

/// Whether the transposed orientation (pixels as micro-kernel rows, output
/// channels as vector lanes; conv2dTransposed) should do less work than the
/// normal one for this shape on kernel k. Estimates the useful fraction of
/// each: the normal orientation rounds the pixels (with Wq - OW junk
/// columns per row when shifted) up to vectors and the channels up to MR;
/// the transposed one rounds pixels up to MR and channels up to vectors,
/// and packs its pixel rows per block: ~0.4 cycle per element against
/// 2*OC/64 cycles of FMAs on it, a 1 + 12/OC slowdown (fitted on ResNet-50's
/// 14x14 and 7x7 layers).
bool preferTransposed(const Conv2DShape &s, const GemmKernel &k) {
  if (!k.direct)
    return false; // the other paths unfold (im2col) either way
  const double N = static_cast<double>(s.outHeight() * s.outWidth());
  const double OC = static_cast<double>(s.outChannels);
  const size_t MR = static_cast<size_t>(k.mr);
  const size_t cols = isPointwise(s) ? s.outHeight() * s.outWidth()
                                     : s.outHeight() * shiftedPlan(s, 0, 0).Wq;
  const double normal = N / static_cast<double>(roundUp(cols, 16)) * OC /
                        static_cast<double>(roundUp(s.outChannels, MR));
  const double transposed =
      N / static_cast<double>(roundUp(s.outHeight() * s.outWidth(), MR)) * OC /
      static_cast<double>(roundUp(s.outChannels, 16)) / (1.0 + 12.0 / OC);
  return transposed > 1.02 * normal;
}

} // namespace

size_t packedConvWeightsSize(const Conv2DShape &s, Isa isa) {
  const GemmKernel &k = gemmKernelFor(fp32Isa(isa));
  const size_t K = s.channels * s.kernelH * s.kernelW;
  const size_t panel =
      static_cast<size_t>(s.valid() && preferTransposed(s, k) ? k.nr : k.mr);
  return sizeof(PackedHeader) +
         ceilDiv(s.outChannels, panel) * panel * K * sizeof(float);
}

Status packConvWeights(const Conv2DShape &s, const float *weights, void *packed,
                       Isa isa) {
  if (!packed || !weights || !s.valid() || s.outChannels == 0)
    return Status::InvalidArgument;
  const GemmKernel &k = gemmKernelFor(fp32Isa(isa));
  const size_t C = s.channels, KH = s.kernelH, KW = s.kernelW;
  const size_t K = C * KH * KW, OC = s.outChannels;
  // Kernels that read B in place take the shifted form of any non-1x1
  // convolution; the others unfold it (im2col) block by block.
  const bool transposed = preferTransposed(s, k);
  const bool shifted = transposed || (k.direct && !isPointwise(s));
  const size_t panel = static_cast<size_t>(transposed ? k.nr : k.mr);
  PackedHeader h{};
  h.kind = PackedKind::ConvA;
  h.panel = static_cast<uint32_t>(panel);
  h.mr = static_cast<uint32_t>(k.mr);
  h.isa = static_cast<uint32_t>(k.isa);
  h.rows = OC;
  h.cols = K;
  h.reserved[0] = shifted ? OrderShifted : OrderIm2col;
  h.reserved[1] = transposed ? 1 : 0;
  std::memcpy(packed, &h, sizeof(h));
  float *dst = reinterpret_cast<float *>(static_cast<char *>(packed) +
                                         sizeof(PackedHeader));
  if (!shifted) {
    // W[OC][C][KH][KW] is row-major [OC][K] in (c, kh, kw) order.
    packAPanels(OC, K, weights, K, k.mr, dst);
    return Status::Ok;
  }
  // (kh, kw, c) order; A panels ([OC/MR][K][MR]) or, transposed, B panels
  // of W^T ([OC/NR][K][NR]): the same loop, panel = MR or NR.
  for (size_t oc0 = 0; oc0 < OC; oc0 += panel, dst += K * panel)
    for (size_t i = 0; i < panel; ++i)
      for (size_t kh = 0; kh < KH; ++kh)
        for (size_t kw = 0; kw < KW; ++kw)
          for (size_t c = 0; c < C; ++c) {
            const size_t kk = (kh * KW + kw) * C + c;
            dst[kk * panel + i] =
                oc0 + i < OC
                    ? weights[(((oc0 + i) * C + c) * KH + kh) * KW + kw]
                    : 0.0f;
          }
  return Status::Ok;
}

Status conv2dGranules(const void *packedW, size_t *ocGranule,
                      size_t *pixGranule) {
  if (!packedW || !ocGranule || !pixGranule)
    return Status::InvalidArgument;
  const PackedHeader *h = static_cast<const PackedHeader *>(packedW);
  if (h->kind != PackedKind::ConvA)
    return Status::LayoutMismatch;
  const bool transposed = h->reserved[1] != 0;
  // The panel is the channel side of the tile; the pixel side is the
  // packing kernel's NR (normal) or MR (transposed).
  *ocGranule = h->panel;
  *pixGranule =
      transposed
          ? h->mr
          : static_cast<size_t>(gemmKernelFor(static_cast<Isa>(h->isa)).nr);
  return Status::Ok;
}

size_t conv2dWorkspaceSize(const Conv2DShape &s, Isa isa) {
  const GemmKernel &k = gemmKernelFor(fp32Isa(isa));
  size_t floats = std::max(gemmWorkspaceFloats(k), gemmMaxWorkspaceFloats());
  // Weights may have been packed for another path: make room for the
  // shifted and transposed forms whenever the shape allows them.
  if (s.valid()) {
    ShiftedPlan p = shiftedPlan(s, 0, s.outHeight() - 1);
    floats += shiftedWorkspaceFloats(s, p, k.mr);
  }
  return floats * sizeof(float);
}

namespace {

/// The kernel conv2d runs packed weights `h` with on path `isa` (nullptr:
/// none can).
const GemmKernel *convKernel(const PackedHeader *h, Isa isa) {
  return h->reserved[1] != 0
             ? kernelForNr(fp32Isa(isa), static_cast<int>(h->panel))
             : kernelForMr(fp32Isa(isa), static_cast<int>(h->panel));
}

/// Whether conv2d builds phase planes for these weights on this path.
bool usesPhases(const Conv2DShape &s, const PackedHeader *h,
                const GemmKernel &k) {
  const bool transposed = h->reserved[1] != 0;
  const bool shiftedOrder = h->reserved[0] == OrderShifted;
  return (transposed || (shiftedOrder && k.direct)) && conv2dPhasesNeeded(s);
}

Status conv2dImpl(const Conv2DShape &s, const float *x, const void *packedW,
                  float *y, const Epilogue &epilogue, Isa isa,
                  const ConvRange &range, void *workspace,
                  const void *preparedWs) {
  if (epilogue.post) // (a post is the GEMM-lowered paths')
    return Status::InvalidArgument;
  if (!s.valid() || !x || !packedW || !y)
    return Status::InvalidArgument;
  const size_t M = s.outChannels;
  const size_t N = s.outHeight() * s.outWidth();
  const size_t K = s.channels * s.kernelH * s.kernelW;
  const PackedHeader *h = static_cast<const PackedHeader *>(packedW);
  if (h->kind != PackedKind::ConvA || h->rows != M || h->cols != K ||
      h->reserved[0] > OrderShifted)
    return Status::LayoutMismatch;
  size_t mBegin = range.ocBegin, mEnd = range.ocEnd ? range.ocEnd : M;
  size_t nBegin = range.pixBegin, nEnd = range.pixEnd ? range.pixEnd : N;
  if (mBegin > mEnd || mEnd > M || nBegin > nEnd || nEnd > N)
    return Status::InvalidArgument;
  if (epilogue.residual && epilogue.ldr && epilogue.ldr < N)
    return Status::InvalidArgument;
  if (mBegin == mEnd || nBegin == nEnd)
    return Status::Ok;
  const bool transposed = h->reserved[1] != 0;
  const GemmKernel *k = convKernel(h, isa);
  if (!k)
    return Status::LayoutMismatch;
  const float *prepared =
      preparedWs && usesPhases(s, h, *k)
          ? conv2dPreparedPlanes(*k, s, static_cast<const float *>(preparedWs))
          : nullptr;
  ScratchBuffer ws(workspace, conv2dWorkspaceSize(s, fp32Isa(isa)));
  if (!ws.ptr)
    return Status::OutOfMemory;

  Epilogue epi = epilogue;
  epi.biasAxis = epi.bias ? BiasAxis::PerRow : BiasAxis::None;
  if (epi.residual && epi.ldr == 0)
    epi.ldr = N;
  const bool shiftedOrder = h->reserved[0] == OrderShifted;

  if (transposed)
    return conv2dTransposedPrepared(*k, s, x, packedPanels(packedW), y, epi,
                                    mBegin, mEnd, nBegin, nEnd,
                                    static_cast<float *>(ws.ptr), prepared);
  if (shiftedOrder && k->direct)
    return conv2dShiftedPrepared(*k, s, x, packedPanels(packedW), y, epi,
                                 mBegin, mEnd, nBegin, nEnd,
                                 static_cast<float *>(ws.ptr), prepared);

  ASource a;
  a.packed = packedPanels(packedW);
  BSource b;
  ConvGeom g = convGeometry(s, shiftedOrder);
  b.b = x;
  if (isPointwise(s)) {
    b.ldb = N;
    b.direct = k->direct; // x is the B matrix: read it in place
  } else {
    b.conv = &g;
  }
  gemmDriver(*k, M, N, K, a, b, y, N, epi, mBegin, mEnd, nBegin, nEnd,
             static_cast<float *>(ws.ptr));
  return Status::Ok;
}

} // namespace

Status conv2d(const Conv2DShape &s, const float *x, const void *packedW,
              float *y, const Epilogue &epilogue, Isa isa,
              const ConvRange &range, void *workspace) {
  return conv2dImpl(s, x, packedW, y, epilogue, isa, range, workspace, nullptr);
}

bool conv2dNeedsPrepare(const Conv2DShape &s, const void *packedW, Isa isa) {
  if (!s.valid() || !packedW)
    return false;
  const PackedHeader *h = static_cast<const PackedHeader *>(packedW);
  if (h->kind != PackedKind::ConvA)
    return false;
  const GemmKernel *k = convKernel(h, isa);
  return k && usesPhases(s, h, *k);
}

Status conv2dPrepareInput(const Conv2DShape &s, const float *x,
                          const void *packedW, void *workspace, Isa isa,
                          size_t cBegin, size_t cEnd) {
  if (!s.valid() || !x || !packedW || !workspace)
    return Status::InvalidArgument;
  const PackedHeader *h = static_cast<const PackedHeader *>(packedW);
  if (h->kind != PackedKind::ConvA ||
      h->cols != s.channels * s.kernelH * s.kernelW)
    return Status::LayoutMismatch;
  if (cEnd == 0)
    cEnd = s.channels;
  if (cBegin > cEnd || cEnd > s.channels)
    return Status::InvalidArgument;
  const GemmKernel *k = convKernel(h, isa);
  if (!k)
    return Status::LayoutMismatch;
  if (usesPhases(s, h, *k))
    conv2dPreparePhases(*k, s, x, static_cast<float *>(workspace), cBegin,
                        cEnd);
  return Status::Ok;
}

Status conv2dPrepared(const Conv2DShape &s, const float *x, const void *packedW,
                      const void *prepared, float *y, const Epilogue &epilogue,
                      Isa isa, const ConvRange &range, void *workspace) {
  if (!prepared)
    return Status::InvalidArgument;
  return conv2dImpl(s, x, packedW, y, epilogue, isa, range, workspace,
                    prepared);
}

} // namespace ember::cpu
