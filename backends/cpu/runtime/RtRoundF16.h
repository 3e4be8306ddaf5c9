// The f16 rounding of a step's result stored as f32 holding f16 values
// (EMBER_RT_*_ROUND_F16), for RtKernels.cpp: a scalar form bit for bit
// vcvtps2ph's and an F16C one. Linked natively and compiled to bitcode with
// it, so the kernel library's header and libc only.
#ifndef EMBER_CPU_RT_ROUND_F16_H
#define EMBER_CPU_RT_ROUND_F16_H

#include "ember/cpu/Kernels.h"

#include <cstddef>
#include <cstdint>
#include <cstring>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace ember::cpugen::rt {

// x rounded to f16 and back, round to nearest even (vcvtps2ph imm 0 then
// vcvtph2ps, bit for bit: overflow to inf, NaNs quieted with their top
// payload bits kept).
inline float roundF16Scalar(float x) {
  uint32_t b;
  std::memcpy(&b, &x, 4);
  const uint32_t sign = b & 0x80000000u, a = b & 0x7fffffffu;
  uint32_t r;
  if (a > 0x7f800000u) { // NaN
    r = (a & 0xffffe000u) | 0x00400000u;
  } else if (a >= 0x38800000u) { // f16 normal range (or overflow)
    r = a + 0xfffu + ((a >> 13) & 1u);
    r &= 0xffffe000u;
    if (r >= 0x47800000u) // 65536 and above: inf
      r = 0x7f800000u;
  } else { // f16 subnormals: multiples of 2^-24 (the ulp of 0.5f)
    float f;
    std::memcpy(&f, &a, 4);
    f = (f + 0.5f) - 0.5f;
    std::memcpy(&r, &f, 4);
  }
  r |= sign;
  float y;
  std::memcpy(&y, &r, 4);
  return y;
}

#if defined(__x86_64__) || defined(__i386__)
__attribute__((target("avx,f16c"))) inline void
roundF16RowsF16c(float *y, size_t rows, size_t cols, size_t ld) {
  for (size_t i = 0; i < rows; ++i) {
    float *row = y + i * ld;
    size_t j = 0;
    for (; j + 8 <= cols; j += 8) {
      __m256 v = _mm256_loadu_ps(row + j);
      v = _mm256_cvtph_ps(_mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT));
      _mm256_storeu_ps(row + j, v);
    }
    for (; j < cols; ++j) {
      __m128 v = _mm_set_ss(row[j]);
      row[j] = _mm_cvtss_f32(
          _mm_cvtph_ps(_mm_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT)));
    }
  }
}
#endif

// The epilogue's last step when the result is stored as f32 holding f16
// values (EMBER_RT_*_ROUND_F16): rows x cols floats at y (row stride ld),
// rounded in place right after the piece is computed, while it is in cache.
inline void roundF16Rows(float *y, size_t rows, size_t cols, size_t ld,
                         ember::cpu::Isa isa) {
  if (!rows || !cols)
    return;
#if defined(__x86_64__) || defined(__i386__)
  // F16C with the AVX2 paths (every AVX2 CPU has it; "f16c" itself is not
  // queried: its cpuid bit is in __cpu_features2, which loaded artifacts'
  // JIT does not resolve).
  if (ember::cpu::isaHasAvx2(isa)) {
    roundF16RowsF16c(y, rows, cols, ld);
    return;
  }
#endif
  for (size_t i = 0; i < rows; ++i)
    for (size_t j = 0; j < cols; ++j)
      y[i * ld + j] = roundF16Scalar(y[i * ld + j]);
}

} // namespace ember::cpugen::rt

#endif
