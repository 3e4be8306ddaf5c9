//===- ConvWinograd.cpp - channels-last 3x3 convolution, Winograd F(2,3) -===//
//
// conv2dNhwcWinograd: a 3x3, stride-1, undilated convolution as Winograd's
// F(2x2, 3x3) (Lavin and Gray, 2015). Each 2x2 block of output pixels (a
// tile) comes from the 4x4 block of input pixels under it:
//   Y = A^T [ (G g G^T) . (B^T d B) ] A
// per (input channel, output channel), so for a block of tiles:
//  1. input transform: V[xi][t][c] = (B^T d_t B)[xi], xi the 16 positions
//     of the 4x4 block (adds and subtracts only);
//  2. 16 matrix products, M[xi] = V[xi] (tiles x C) * U[xi] (C x OC), where
//     U[xi] = (G g G^T)[xi] is packed once with the weights;
//  3. output transform: the tile's four pixels from M (adds), then the
//     epilogue (bias, residual, activation) and the stores.
// 16 products of C x OC per 4 output pixels against the direct
// convolution's 36: 2.25 times fewer multiply-adds, which the products
// run on the path's GEMM tile (A read in place, B packed). The transforms
// are a few vector operations per channel and tile.
//
// Results differ from the direct convolution's by rounding (the
// transforms' adds, G's halves), on the order of the fp32 sums' own.
//
//===----------------------------------------------------------------------===//
#include "Internal.h"
#include "Simd.h"

#include <algorithm>
#include <cstring>
#include <limits>

namespace ember::cpu {

using namespace detail;

namespace {

/// The GEMM tile a path's products run on (A in place, B packed), or null.
const GemmKernel *productKernel(Isa fp32) {
  if (fp32 == Isa::Avx512)
    return &gemmKernelAvx512();
  if (fp32 == Isa::Avx2)
    return &gemmKernelAvx2Direct();
  return nullptr;
}

/// The packed buffer: a packB header (K order kWinogradOrder, rows C, cols
/// OC), then the 16 matrices U[xi] (C x OC), each a packB buffer of its
/// own, matrixStride bytes apart.
constexpr uint64_t kWinogradOrder = 2;

size_t matrixStride(size_t C, size_t N, Isa isa) {
  return roundUp(packedBSize(C, N, isa), 64);
}

/// A block of tiles: as many as keep its V (16 x C floats a tile) and M
/// (16 x OC) within kBlockBytes, a multiple of the GEMM tile's 6 rows.
constexpr size_t kBlockBytes = size_t(2) << 20;
constexpr size_t kMaxBlockTiles = 240;

size_t blockTiles(size_t C, size_t N) {
  const size_t perTile = 16 * (C + N) * sizeof(float);
  const size_t t = kBlockBytes / perTile / 6 * 6;
  return std::clamp<size_t>(t, 12, kMaxBlockTiles);
}

/// One path's vectors for the transforms: W lanes, unaligned loads and
/// stores, add, sub, max, min (x86's: a NaN first operand gives the
/// second). Scalar: the channels past the last whole vector.
struct Scalar {
  using V = float;
  static constexpr size_t W = 1;
  static V load(const float *p) { return *p; }
  static void store(float *p, V v) { *p = v; }
  static V set1(float v) { return v; }
  static V add(V a, V b) { return a + b; }
  static V sub(V a, V b) { return a - b; }
  static V max(V a, V b) { return a > b ? a : b; }
  static V min(V a, V b) { return a < b ? a : b; }
};
struct Avx2 {
  using V = __m256;
  static constexpr size_t W = 8;
  EMBER_TARGET_AVX2 static V load(const float *p) { return _mm256_loadu_ps(p); }
  EMBER_TARGET_AVX2 static void store(float *p, V v) { _mm256_storeu_ps(p, v); }
  EMBER_TARGET_AVX2 static V set1(float v) { return _mm256_set1_ps(v); }
  EMBER_TARGET_AVX2 static V add(V a, V b) { return _mm256_add_ps(a, b); }
  EMBER_TARGET_AVX2 static V sub(V a, V b) { return _mm256_sub_ps(a, b); }
  EMBER_TARGET_AVX2 static V max(V a, V b) { return _mm256_max_ps(a, b); }
  EMBER_TARGET_AVX2 static V min(V a, V b) { return _mm256_min_ps(a, b); }
};
struct Avx512 {
  using V = __m512;
  static constexpr size_t W = 16;
  EMBER_TARGET_AVX512 static V load(const float *p) {
    return _mm512_loadu_ps(p);
  }
  EMBER_TARGET_AVX512 static void store(float *p, V v) {
    _mm512_storeu_ps(p, v);
  }
  EMBER_TARGET_AVX512 static V set1(float v) { return _mm512_set1_ps(v); }
  EMBER_TARGET_AVX512 static V add(V a, V b) { return _mm512_add_ps(a, b); }
  EMBER_TARGET_AVX512 static V sub(V a, V b) { return _mm512_sub_ps(a, b); }
  EMBER_TARGET_AVX512 static V max(V a, V b) { return _mm512_max_ps(a, b); }
  EMBER_TARGET_AVX512 static V min(V a, V b) { return _mm512_min_ps(a, b); }
};

// The transforms' bodies, for a vector struct T, as macros: each path's
// functions (inputAvx2, ...) expand them under their own target, so the
// vectors never cross a function without it (GCC and Clang refuse or warn
// on that, inlined or not).

/// Channels [c, c + T::W) of V's 16 rows of a tile from the 4x4 input
/// block whose pixel (i, j) is at in[i * 4 + j] (a row of zeros where it
/// lies in the padding): B^T d B with B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0;
/// 0 1 0 -1].
#define EMBER_WINOGRAD_INPUT_STEP(T)                                           \
  {                                                                            \
    T::V d[16], r[16];                                                         \
    for (int k = 0; k < 16; ++k)                                               \
      d[k] = T::load(in[k] + c);                                               \
    for (int j = 0; j < 4; ++j) { /* rows: B^T d */                            \
      r[0 * 4 + j] = T::sub(d[0 * 4 + j], d[2 * 4 + j]);                       \
      r[1 * 4 + j] = T::add(d[1 * 4 + j], d[2 * 4 + j]);                       \
      r[2 * 4 + j] = T::sub(d[2 * 4 + j], d[1 * 4 + j]);                       \
      r[3 * 4 + j] = T::sub(d[1 * 4 + j], d[3 * 4 + j]);                       \
    }                                                                          \
    for (int i = 0; i < 4; ++i) { /* columns: (B^T d) B */                     \
      T::store(v + (i * 4 + 0) * xiStride + c,                                 \
               T::sub(r[i * 4 + 0], r[i * 4 + 2]));                            \
      T::store(v + (i * 4 + 1) * xiStride + c,                                 \
               T::add(r[i * 4 + 1], r[i * 4 + 2]));                            \
      T::store(v + (i * 4 + 2) * xiStride + c,                                 \
               T::sub(r[i * 4 + 2], r[i * 4 + 1]));                            \
      T::store(v + (i * 4 + 3) * xiStride + c,                                 \
               T::sub(r[i * 4 + 1], r[i * 4 + 3]));                            \
    }                                                                          \
  }

/// Channels [n, n + T::W) of a tile's four output pixels from M's 16 rows
/// (m[xi * xiStride + n]): A^T m A with A^T = [1 1 1 0; 0 1 -1 -1], then
/// the epilogue: + bias[n], the residual before or after the activation
/// (res[p] a row of zeros for pixels past the output), the clamp [lo, hi]
/// when `act` (max then min, as the tiles: NaN gives lo); out[p] the
/// pixel's row (a scratch row for pixels past the output or the range).
#define EMBER_WINOGRAD_OUTPUT_STEP(T)                                          \
  {                                                                            \
    T::V s[16], t[8];                                                          \
    for (int k = 0; k < 16; ++k)                                               \
      s[k] = T::load(m + k * xiStride + n);                                    \
    for (int j = 0; j < 4; ++j) { /* rows: A^T m */                            \
      t[0 * 4 + j] = T::add(T::add(s[0 * 4 + j], s[1 * 4 + j]), s[2 * 4 + j]); \
      t[1 * 4 + j] = T::sub(T::sub(s[1 * 4 + j], s[2 * 4 + j]), s[3 * 4 + j]); \
    }                                                                          \
    const T::V b = bias ? T::load(bias + n) : T::set1(0.0f);                   \
    for (int i = 0; i < 2; ++i) { /* columns: (A^T m) A */                     \
      const T::V y[2] = {                                                      \
          T::add(T::add(T::add(t[i * 4 + 0], t[i * 4 + 1]), t[i * 4 + 2]), b), \
          T::add(T::sub(T::sub(t[i * 4 + 1], t[i * 4 + 2]), t[i * 4 + 3]),     \
                 b)};                                                          \
      for (int j = 0; j < 2; ++j) {                                            \
        T::V o = y[j];                                                         \
        const T::V r = T::load(res[i * 2 + j] + n);                            \
        if (!after)                                                            \
          o = T::add(o, r);                                                    \
        if (act)                                                               \
          o = T::min(T::max(o, T::set1(lo)), T::set1(hi));                     \
        if (after)                                                             \
          o = T::add(o, r);                                                    \
        T::store(out[i * 2 + j] + n, o);                                       \
      }                                                                        \
    }                                                                          \
  }

/// A path's transforms: whole vectors of T, then single channels.
#define EMBER_WINOGRAD_TRANSFORMS(NAME, TARGET, T)                             \
  TARGET void input##NAME(const float *const(&in)[16], size_t C, float *v,     \
                          size_t xiStride) {                                   \
    size_t c = 0;                                                              \
    for (; c + T::W <= C; c += T::W)                                           \
      EMBER_WINOGRAD_INPUT_STEP(T)                                             \
    for (; c < C; ++c)                                                         \
      EMBER_WINOGRAD_INPUT_STEP(Scalar)                                        \
  }                                                                            \
  TARGET void output##NAME(const float *m, size_t xiStride, size_t n0,         \
                           size_t n1, const float *bias,                       \
                           const float *const(&res)[4], bool after, bool act,  \
                           float lo, float hi, float *const(&out)[4]) {        \
    size_t n = n0;                                                             \
    for (; n + T::W <= n1; n += T::W)                                          \
      EMBER_WINOGRAD_OUTPUT_STEP(T)                                            \
    for (; n < n1; ++n)                                                        \
      EMBER_WINOGRAD_OUTPUT_STEP(Scalar)                                       \
  }

EMBER_WINOGRAD_TRANSFORMS(Avx2, EMBER_TARGET_AVX2, Avx2)
EMBER_WINOGRAD_TRANSFORMS(Avx512, EMBER_TARGET_AVX512, Avx512)

#undef EMBER_WINOGRAD_TRANSFORMS
#undef EMBER_WINOGRAD_OUTPUT_STEP
#undef EMBER_WINOGRAD_INPUT_STEP

/// The transforms compiled for each path.
using InputFn = void (*)(const float *const (&)[16], size_t, float *, size_t);
using OutputFn = void (*)(const float *, size_t, size_t, size_t, const float *,
                          const float *const (&)[4], bool, bool, float, float,
                          float *const (&)[4]);

} // namespace

bool conv2dNhwcWinogradShape(const Conv2DShape &s, Isa isa) {
  return productKernel(fp32Isa(isa)) && s.valid() && s.outChannels &&
         s.kernelH == 3 && s.kernelW == 3 && s.strideH == 1 && s.strideW == 1 &&
         s.dilationH == 1 && s.dilationW == 1 && s.padTop <= 2 &&
         s.padLeft <= 2 && s.padBottom <= 2 && s.padRight <= 2;
}

size_t packedConvWeightsWinogradSize(const Conv2DShape &s, Isa isa) {
  return sizeof(PackedHeader) +
         16 * matrixStride(s.channels, s.outChannels, fp32Isa(isa));
}

Status packConvWeightsWinograd(const Conv2DShape &s, const float *w,
                               void *packed, Isa isa) {
  const size_t C = s.channels, N = s.outChannels;
  if (!packed || !w || !conv2dNhwcWinogradShape(s, isa))
    return Status::InvalidArgument;
  const Isa path = fp32Isa(isa);
  const size_t stride = matrixStride(C, N, path);
  writeGemmBHeader(packed, gemmKernelFor(path), C, N, kWinogradOrder);
  // U = G g G^T per (c, oc), G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1],
  // in double, rounded once to f32; then each position's C x OC matrix
  // through packB.
  // (ScratchBuffer, not std::vector: this packer runs at run time in a
  // bundle whose weights are computed, which links libc and libm only.)
  ScratchBuffer scratch(nullptr, 16 * C * N * sizeof(float));
  if (!scratch.ptr)
    return Status::OutOfMemory;
  float *u = static_cast<float *>(scratch.ptr);
  for (size_t oc = 0; oc < N; ++oc)
    for (size_t c = 0; c < C; ++c) {
      const float *g = w + (oc * C + c) * 9;
      double t[4][3];
      for (int j = 0; j < 3; ++j) {
        const double g0 = g[0 * 3 + j], g1 = g[1 * 3 + j], g2 = g[2 * 3 + j];
        t[0][j] = g0;
        t[1][j] = 0.5 * (g0 + g1 + g2);
        t[2][j] = 0.5 * (g0 - g1 + g2);
        t[3][j] = g2;
      }
      for (int i = 0; i < 4; ++i) {
        const double r[4] = {t[i][0], 0.5 * (t[i][0] + t[i][1] + t[i][2]),
                             0.5 * (t[i][0] - t[i][1] + t[i][2]), t[i][2]};
        for (int j = 0; j < 4; ++j)
          u[(size_t(i * 4 + j) * C + c) * N + oc] = static_cast<float>(r[j]);
      }
    }
  char *base = static_cast<char *>(packed) + sizeof(PackedHeader);
  for (size_t xi = 0; xi < 16; ++xi)
    if (Status st = packB(C, N, u + xi * C * N, N, base + xi * stride, path);
        st != Status::Ok)
      return st;
  return Status::Ok;
}

bool conv2dNhwcWinogradSupported(const Conv2DShape &s, const void *packed,
                                 Isa isa) {
  if (!packed || !conv2dNhwcWinogradShape(s, isa))
    return false;
  const PackedHeader *h = packedHeader(packed);
  const Isa path = fp32Isa(isa);
  return h->kind == PackedKind::GemmB && h->reserved[0] == kWinogradOrder &&
         h->rows == s.channels && h->cols == s.outChannels &&
         h->isa == static_cast<uint32_t>(path);
}

size_t conv2dNhwcWinogradWorkspaceSize(const Conv2DShape &s) {
  const size_t C = s.channels, N = s.outChannels;
  const size_t tiles = blockTiles(C, N);
  // V and M of a block, a row of zeros (max(C, N): a missing input pixel,
  // a missing residual) and a scratch row (N), each 64-byte aligned.
  return (16 * tiles * (C + N) + roundUp(std::max(C, N), 16) + roundUp(N, 16)) *
             sizeof(float) +
         4 * 64;
}

Status conv2dNhwcWinograd(const Conv2DShape &s, const float *x, size_t ldx,
                          const void *packed, float *y, size_t ldy,
                          const Epilogue &epi, Isa isa, const ConvRange &range,
                          void *workspace) {
  if (epi.post) // (a post is the GEMM-lowered paths')
    return Status::InvalidArgument;
  const size_t OH = s.outHeight(), OW = s.outWidth(), P = OH * OW;
  const size_t C = s.channels, N = s.outChannels;
  OutPiece o;
  if (!s.valid() || !x || !y || !packed || ldx < C || ldy < N ||
      !resolvePiece(range, P, N, epi, o))
    return Status::InvalidArgument;
  if (!conv2dNhwcWinogradSupported(s, packed, isa))
    return Status::LayoutMismatch;
  if (o.p0 == o.p1 || o.c0 == o.c1)
    return Status::Ok;
  const Isa path = fp32Isa(isa);
  GemmKernel k = *productKernel(path);
  // K (= C) in one block when it fits, as the other channels-last
  // products: M is then written once.
  if (C <= 640)
    k.kc = C;
  const InputFn input = path == Isa::Avx512 ? &inputAvx512 : &inputAvx2;
  const OutputFn output = path == Isa::Avx512 ? &outputAvx512 : &outputAvx2;
  ScratchBuffer scratch(workspace, conv2dNhwcWinogradWorkspaceSize(s));
  if (!scratch.ptr)
    return Status::OutOfMemory;
  const size_t maxTiles = blockTiles(C, N);
  float *v = reinterpret_cast<float *>(align64(scratch.ptr));
  float *m = reinterpret_cast<float *>(
      align64(v + 16 * maxTiles * C)); // M's rows: the call's N columns
  float *zeros = reinterpret_cast<float *>(align64(m + 16 * maxTiles * N));
  float *junk =
      reinterpret_cast<float *>(align64(zeros + roundUp(std::max(C, N), 16)));
  std::memset(zeros, 0, std::max(C, N) * sizeof(float));
  const char *mats = static_cast<const char *>(packed) + sizeof(PackedHeader);
  const size_t stride = matrixStride(C, N, path);

  // The tiles whose pixels meet [p0, p1): whole tile rows from the one
  // holding p0's row to the one holding p1 - 1's.
  const size_t TW = ceilDiv(OW, 2);
  const size_t t0 = (o.p0 / OW) / 2 * TW, t1 = ((o.p1 - 1) / OW / 2 + 1) * TW;
  const ptrdiff_t H = static_cast<ptrdiff_t>(s.height),
                  W = static_cast<ptrdiff_t>(s.width);
  const bool act = epi.activation != Activation::None;
  const float lo = epi.activation == Activation::Clip ? epi.clipMin : 0.0f;
  const float hi = epi.activation == Activation::Clip
                       ? epi.clipMax
                       : std::numeric_limits<float>::infinity();
  Epilogue none;
  for (size_t b0 = t0; b0 < t1; b0 += maxTiles) {
    const size_t tiles = std::min(maxTiles, t1 - b0);
    const size_t vStride = tiles * C, mStride = tiles * N;
    for (size_t t = 0; t < tiles; ++t) {
      const ptrdiff_t th = static_cast<ptrdiff_t>((b0 + t) / TW),
                      tw = static_cast<ptrdiff_t>((b0 + t) % TW);
      const float *in[16];
      for (ptrdiff_t i = 0; i < 4; ++i)
        for (ptrdiff_t j = 0; j < 4; ++j) {
          const ptrdiff_t ih = 2 * th + i - ptrdiff_t(s.padTop);
          const ptrdiff_t iw = 2 * tw + j - ptrdiff_t(s.padLeft);
          in[i * 4 + j] = ih >= 0 && ih < H && iw >= 0 && iw < W
                              ? x + size_t(ih * W + iw) * ldx
                              : zeros;
        }
      input(in, C, v + t * C, vStride);
    }
    for (size_t xi = 0; xi < 16; ++xi) {
      ASource as;
      as.a = v + xi * vStride;
      as.lda = C;
      as.direct = true;
      BSource bs;
      bs.packed = packedPanels(mats + xi * stride);
      gemmDriver(k, tiles, N, C, as, bs, m + xi * mStride, N, none, 0, tiles,
                 o.c0, o.c1, nullptr);
    }
    for (size_t t = 0; t < tiles; ++t) {
      const size_t th = (b0 + t) / TW, tw = (b0 + t) % TW;
      float *out[4];
      const float *res[4];
      for (size_t p = 0; p < 4; ++p) {
        const size_t oh = 2 * th + p / 2, ow = 2 * tw + p % 2;
        const size_t q = oh * OW + ow;
        const bool live = oh < OH && ow < OW && q >= o.p0 && q < o.p1;
        out[p] = live ? y + q * ldy : junk;
        res[p] = live && epi.residual ? epi.residual + q * epi.ldr : zeros;
      }
      output(m + t * N, mStride, o.c0, o.c1, epi.bias, res,
             epi.residualAfterActivation, act, lo, hi, out);
    }
  }
  return Status::Ok;
}

} // namespace ember::cpu
