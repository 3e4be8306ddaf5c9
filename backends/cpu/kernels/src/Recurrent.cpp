//===- Recurrent.cpp - the recurrent cells' step product and activations --===//
//
// stepGemmAccumulate: C += A x B for a step's few state rows, B (R^T) read
// in place. A one-row product on the GEMM tile keeps two accumulators, so
// each k waits on the previous FMA (4 cycles); here one row advances eight
// column vectors (AVX2: 64 columns, AVX-512: 16 vectors, 256) together, and
// 2-4 rows share each B load.
//
// sigmoidF32 / tanhF32: Ember's f32 functions (ember/math); the AVX2 and
// AVX-512 paths (RecurrentAvx2.cpp, RecurrentAvx512.cpp) run the same
// functions over an 8- or 16-lane policy, so a vector computes the bits the
// interpreter's scalar does.
//
//===----------------------------------------------------------------------===//
#include "Recurrent.h"
#include "Internal.h"

#include "ember/math/Sigmoid.h"
#include "ember/math/Tanh.h"

namespace ember::cpu {

namespace {

void stepGemmGeneric(size_t m, size_t k, size_t n, const float *a, size_t lda,
                     const float *b, size_t ldb, float *c, size_t ldc) {
  for (size_t r = 0; r < m; ++r)
    for (size_t i = 0; i < k; ++i)
      for (size_t j = 0; j < n; ++j)
        c[r * ldc + j] += a[r * lda + i] * b[i * ldb + j];
}

bool useAvx2(Isa isa) { return isaHasAvx2(isa); }
bool useAvx512(Isa isa) { return isaHasAvx512(isa); }

} // namespace

void stepGemmAccumulate(size_t m, size_t k, size_t n, const float *a,
                        size_t lda, const float *b, size_t ldb, float *c,
                        size_t ldc, Isa isa) {
  if (useAvx512(isa))
    detail::stepGemmAvx512(m, k, n, a, lda, b, ldb, c, ldc);
  else if (useAvx2(isa))
    detail::stepGemmAvx2(m, k, n, a, lda, b, ldb, c, ldc);
  else
    stepGemmGeneric(m, k, n, a, lda, b, ldb, c, ldc);
}

void sigmoidF32(float *v, size_t n, Isa isa) {
  if (useAvx512(isa)) {
    detail::sigmoidAvx512(v, n);
    return;
  }
  if (useAvx2(isa)) {
    detail::sigmoidAvx2(v, n);
    return;
  }
  for (size_t i = 0; i < n; ++i)
    v[i] = math::sigmoidF32(v[i]);
}

void tanhF32(float *v, size_t n, Isa isa) {
  if (useAvx512(isa)) {
    detail::tanhAvx512(v, n);
    return;
  }
  if (useAvx2(isa)) {
    detail::tanhAvx2(v, n);
    return;
  }
  for (size_t i = 0; i < n; ++i)
    v[i] = math::tanhF32(v[i]);
}

} // namespace ember::cpu
