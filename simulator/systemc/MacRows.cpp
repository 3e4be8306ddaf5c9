//===- MacRows.cpp - The SystemC model's GEMM row kernels -----------------===//
#include "MacRows.h"

#include "ember/quant/Arith.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define EMBER_NPU_HAVE_AVX2_PATH 1
#endif

namespace ember::npu {

using quant::wrapAdd;

/// acc[j] += sum_k a[k] * W[j][k] (wrapping), with W laid out as in
/// EngineModule::gemm.
static inline void macRow(const int8_t *a, const int16_t *w, int32_t *acc) {
#if defined(__SSE2__)
  __m128i sum[kDim / 4];
  for (int q = 0; q < kDim / 4; ++q)
    sum[q] = _mm_loadu_si128(reinterpret_cast<const __m128i *>(acc + 4 * q));
  for (int kp = 0; kp < kDim / 2; ++kp) {
    uint32_t pair =
        static_cast<uint16_t>(int16_t(a[2 * kp])) |
        (static_cast<uint32_t>(static_cast<uint16_t>(int16_t(a[2 * kp + 1])))
         << 16);
    __m128i av = _mm_set1_epi32(static_cast<int>(pair));
    const int16_t *wr = w + kp * kDim * 2;
    for (int q = 0; q < kDim / 4; ++q)
      sum[q] = _mm_add_epi32(
          sum[q],
          _mm_madd_epi16(av, _mm_loadu_si128(reinterpret_cast<const __m128i *>(
                                 wr + 8 * q))));
  }
  for (int q = 0; q < kDim / 4; ++q)
    _mm_storeu_si128(reinterpret_cast<__m128i *>(acc + 4 * q), sum[q]);
#else
  for (int kp = 0; kp < kDim / 2; ++kp)
    for (int j = 0; j < kDim; ++j)
      acc[j] = wrapAdd(acc[j],
                       int32_t(a[2 * kp]) * w[(kp * kDim + j) * 2] +
                           int32_t(a[2 * kp + 1]) * w[(kp * kDim + j) * 2 + 1]);
#endif
}

#if defined(EMBER_NPU_HAVE_AVX2_PATH)
/// macRow for n consecutive rows with 256-bit multiply-adds; chosen at run time
/// when the CPU has AVX2. Same integer operations as macRow, so results are
/// identical.
__attribute__((target("avx2"))) static void
macRowsAvx2(const int8_t *act, int64_t n, const int16_t *w, int32_t *acc) {
  for (int64_t i = 0; i < n; ++i) {
    const int8_t *a = act + i * kDim;
    int32_t *c = acc + i * kDim;
    __m256i sum[kDim / 8];
    for (int q = 0; q < kDim / 8; ++q)
      sum[q] = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(c + 8 * q));
    for (int kp = 0; kp < kDim / 2; ++kp) {
      uint32_t pair =
          static_cast<uint16_t>(int16_t(a[2 * kp])) |
          (static_cast<uint32_t>(static_cast<uint16_t>(int16_t(a[2 * kp + 1])))
           << 16);
      __m256i av = _mm256_set1_epi32(static_cast<int>(pair));
      const int16_t *wr = w + kp * kDim * 2;
      for (int q = 0; q < kDim / 8; ++q)
        sum[q] = _mm256_add_epi32(
            sum[q], _mm256_madd_epi16(av, _mm256_loadu_si256(
                                              reinterpret_cast<const __m256i *>(
                                                  wr + 16 * q))));
    }
    for (int q = 0; q < kDim / 8; ++q)
      _mm256_storeu_si256(reinterpret_cast<__m256i *>(c + 8 * q), sum[q]);
  }
}
#endif

/// acc[i][j] += sum_k act[i][k] * W[j][k] for n rows.
void macRows(const int8_t *act, int64_t n, const int16_t *w, int32_t *acc) {
#if defined(EMBER_NPU_HAVE_AVX2_PATH)
  static const bool avx2 = __builtin_cpu_supports("avx2");
  if (avx2) {
    macRowsAvx2(act, n, w, acc);
    return;
  }
#endif
  for (int64_t i = 0; i < n; ++i)
    macRow(act + i * kDim, w, acc + i * kDim);
}

} // namespace ember::npu
