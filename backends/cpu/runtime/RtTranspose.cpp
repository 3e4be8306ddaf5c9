// Layout copies for the runtime's kernels (RtTranspose.h).
#include "RtTranspose.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace ember::cpugen {

namespace {

// B x B blocks of T (the x86-64 kernels below): 16 bytes, 4 floats.
template <class T> constexpr size_t kBlock = sizeof(T) == 1 ? 16 : 4;

#if defined(__x86_64__)
// A 16x16 block of bytes: 16 rows of x (stride ldx) into 16 rows of y
// (stride ldy), y[k][i] = x[i][k].
__attribute__((target("sse2,ssse3"))) void block(const uint8_t *x, size_t ldx,
                                                 uint8_t *y, size_t ldy) {
  __m128i r[16];
  for (int i = 0; i < 16; ++i)
    r[i] = _mm_loadu_si128(reinterpret_cast<const __m128i *>(x + i * ldx));
  // Four rounds of interleaves: bytes, words, dwords, qwords.
  __m128i a[16], b[16];
  for (int i = 0; i < 8; ++i) {
    a[i] = _mm_unpacklo_epi8(r[2 * i], r[2 * i + 1]);
    a[i + 8] = _mm_unpackhi_epi8(r[2 * i], r[2 * i + 1]);
  }
  for (int h = 0; h < 2; ++h)
    for (int i = 0; i < 4; ++i) {
      b[h * 8 + i] = _mm_unpacklo_epi16(a[h * 8 + 2 * i], a[h * 8 + 2 * i + 1]);
      b[h * 8 + i + 4] =
          _mm_unpackhi_epi16(a[h * 8 + 2 * i], a[h * 8 + 2 * i + 1]);
    }
  for (int h = 0; h < 4; ++h)
    for (int i = 0; i < 2; ++i) {
      a[h * 4 + i] = _mm_unpacklo_epi32(b[h * 4 + 2 * i], b[h * 4 + 2 * i + 1]);
      a[h * 4 + i + 2] =
          _mm_unpackhi_epi32(b[h * 4 + 2 * i], b[h * 4 + 2 * i + 1]);
    }
  for (int h = 0; h < 8; ++h) {
    b[h * 2] = _mm_unpacklo_epi64(a[h * 2], a[h * 2 + 1]);
    b[h * 2 + 1] = _mm_unpackhi_epi64(a[h * 2], a[h * 2 + 1]);
  }
  // b[k] now holds pixel k's 16 channels.
  for (int k = 0; k < 16; ++k)
    _mm_storeu_si128(reinterpret_cast<__m128i *>(y + k * ldy), b[k]);
}

// A 4x4 block of floats (SSE, x86-64's baseline): _MM_TRANSPOSE4_PS.
void block(const float *x, size_t ldx, float *y, size_t ldy) {
  __m128 a = _mm_loadu_ps(x), b = _mm_loadu_ps(x + ldx),
         e = _mm_loadu_ps(x + 2 * ldx), f = _mm_loadu_ps(x + 3 * ldx);
  _MM_TRANSPOSE4_PS(a, b, e, f);
  _mm_storeu_ps(y, a);
  _mm_storeu_ps(y + ldy, b);
  _mm_storeu_ps(y + 2 * ldy, e);
  _mm_storeu_ps(y + 3 * ldy, f);
}
#endif

// dst[c * ldd + r] = src[r * lds + c]: kBlock<T> square blocks on x86-64,
// the edges and other hosts element by element.
template <class T>
void transposeBlocks(const T *src, size_t lds, T *dst, size_t ldd, size_t rows,
                     size_t cols) {
  size_t c = 0;
#if defined(__x86_64__)
  constexpr size_t B = kBlock<T>;
  for (; c + B <= cols; c += B) {
    size_t r = 0;
    for (; r + B <= rows; r += B)
      block(src + r * lds + c, lds, dst + c * ldd + r, ldd);
    for (; r < rows; ++r)
      for (size_t i = 0; i < B; ++i)
        dst[(c + i) * ldd + r] = src[r * lds + c + i];
  }
#endif
  for (; c < cols; ++c)
    for (size_t r = 0; r < rows; ++r)
      dst[c * ldd + r] = src[r * lds + c];
}

} // namespace

void transposeBytes(const uint8_t *src, size_t lds, uint8_t *dst, size_t ldd,
                    size_t rows, size_t cols) {
  transposeBlocks(src, lds, dst, ldd, rows, cols);
}

void transposeFloats(const float *src, size_t lds, float *dst, size_t ldd,
                     size_t rows, size_t cols) {
  transposeBlocks(src, lds, dst, ldd, rows, cols);
}

} // namespace ember::cpugen
