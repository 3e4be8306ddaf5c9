//===- MacRows.h - The SystemC model's row kernels ------------------------===//
//
// The functional work of the SystemC model's GEMM and REQUANT, a run of rows
// at a time, in plain C++, SSE2 or, when the CPU has it (checked at run time,
// the build needs no -march), AVX2 or AVX-VNNI: the same integer operations as
// the definitions (ember/npu/Arith.h) on every path, so the results are bit
// for bit the golden model's on any host.
// macRows: acc[i][j] += sum_k act[i][k] * W[j][k], with the weight tile
// prepared once per GEMM (prepareTile); on a CPU with AVX-VNNI four products a
// lane at once (vpdpbusd, unsigned x signed bytes: the activations offset by
// 128 and the offset's products subtracted again, exact in wrapping int32).
//
//===----------------------------------------------------------------------===//
#ifndef EMBER_NPU_SYSTEMC_MACROWS_H
#define EMBER_NPU_SYSTEMC_MACROWS_H

#include "ember/npu/Isa.h"

#include <array>
#include <cstdint>

namespace ember::npu {

/// The kernels, best last. Scalar is plain C++ (every host), Sse2 needs an
/// x86 build (SSE2 is in every x86-64 CPU), Avx2 and AvxVnni the CPU's
/// support, checked at run time.
enum class RowPath { Scalar, Sse2, Avx2, AvxVnni };
/// Whether this build and CPU can run `path`.
bool rowPathAvailable(RowPath path);
/// The kernel runs use: the best available one, or the best one up to the
/// environment's EMBER_NPU_ROW_KERNEL (scalar, sse2, avx2, avxvnni; a value
/// not among them is reported on stderr once and ignored), so that a host's
/// fallback path can be run on a CPU that has a faster one.
RowPath bestRowPath();
/// "scalar", "sse2", "avx2", "avxvnni".
const char *rowPathName(RowPath path);

/// A weight tile W[j][k] (row j: output channel j) in the layout of a
/// kernel (prepareTile fills what `path` uses).
struct WeightTile {
  /// int16 pairs along k: pairs[(kp * DIM + j) * 2 + t] = W[j][2 kp + t].
  std::array<int16_t, kDim * kDim> pairs;
  /// Quads along k: quads[(g * DIM + j) * 4 + t] = W[j][4 g + t], and
  /// -128 * sum_k W[j][k] (what the activations' offset adds).
  std::array<int8_t, kDim * kDim> quads;
  std::array<int32_t, kDim> offset;
};
void prepareTile(const int8_t *w, WeightTile &tile,
                 RowPath path = bestRowPath());

void macRows(const int8_t *act, int64_t n, const WeightTile &tile, int32_t *acc,
             RowPath path = bestRowPath());

/// REQUANT of n rows: out[i][l] = requantize(acc[i][l] (+ bias[l] when bias
/// is not null, wrapping), mult[l], shift[l], zp, lo, hi).
/// Avx2 and AvxVnni use the AVX2 kernel, Scalar and Sse2 the definition.
void requantRows(const int32_t *acc, int64_t n, const int32_t *bias,
                 const int32_t *mult, const int32_t *shift, int32_t zp,
                 int32_t lo, int32_t hi, int8_t *out,
                 RowPath path = bestRowPath());

} // namespace ember::npu

#endif // EMBER_NPU_SYSTEMC_MACROWS_H
