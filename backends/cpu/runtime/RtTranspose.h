// Layout copies the runtime makes so that a kernel gets the layout it runs
// best (RtKernels.cpp): glue, like RtKernels.cpp, linked natively and
// compiled to bitcode.
#ifndef EMBER_CPU_RT_TRANSPOSE_H
#define EMBER_CPU_RT_TRANSPOSE_H

#include <cstddef>
#include <cstdint>

namespace ember::cpugen {

/// dst[c * ldd + r] = src[r * lds + c] for r < rows, c < cols.
void transposeBytes(const uint8_t *src, size_t lds, uint8_t *dst, size_t ldd,
                    size_t rows, size_t cols);

/// transposeBytes for 32-bit floats.
void transposeFloats(const float *src, size_t lds, float *dst, size_t ldd,
                     size_t rows, size_t cols);

/// Pixels [q0, q1) of one row-major image of 8-bit values ([C][HW]) into
/// channels-last ([HW][C]): y[q * C + c] = x[c * HW + q].
inline void transposeBytesToNhwc(const uint8_t *x, uint8_t *y, size_t C,
                                 size_t HW, size_t q0, size_t q1) {
  transposeBytes(x + q0, HW, y + q0 * C, C, C, q1 - q0);
}

} // namespace ember::cpugen

#endif
