//===- Activation.cpp - activations after a step (postActivation) ---------===//
//
// The CPU backend's post chains that are a known activation (SiLU,
// HardSwish, HardSigmoid, Sigmoid, and a residual after them) run here
// instead of the generated function: the same f32 operations, so the same
// bits, on vectors the generated code cannot use (AVX-512's vscalefps for
// exp's scaling; F32OpsAvx512.inc) and with HardSwish's division by 6 as a
// product and two FMAs (ActivationBody.inc, `sixth`). The generic path is
// the scalar policy of ember/math with a true division.
//
//===----------------------------------------------------------------------===//
#include "Activation.h"
#include "Internal.h"

#include "ember/math/Sigmoid.h"

#include <cmath>
#include <limits>

namespace ember::cpu {

namespace {

float minConst(float v, float c) {
  return v != v ? std::numeric_limits<float>::quiet_NaN() : (c < v ? c : v);
}
float maxConst(float v, float c) {
  return v != v ? std::numeric_limits<float>::quiet_NaN() : (c > v ? c : v);
}

float activateOne(const PostOp &op, float x) {
  switch (op.kind) {
  case PostActivation::Sigmoid:
    return math::sigmoidF32(x);
  case PostActivation::Silu:
    return x * math::sigmoidF32(x);
  case PostActivation::HardSigmoid:
  case PostActivation::XHardSigmoid: {
    // (Two roundings, as the lowering's Mul and Add: separate statements,
    // which no compiler fuses into an FMA in ISO C++ mode.)
    float h = x * op.alpha;
    h = h + op.beta;
    h = maxConst(minConst(h, 1.0f), 0.0f);
    return op.kind == PostActivation::HardSigmoid ? h : x * h;
  }
  case PostActivation::HardSwish:
    return x * maxConst(minConst(x / 6.0f + 0.5f, 1.0f), 0.0f);
  }
  return x;
}

void postActivationGeneric(const PostOp &op, float *y, size_t ldy,
                           const float *res, size_t ldr, size_t rows,
                           size_t cols) {
  for (size_t i = 0; i < rows; ++i)
    for (size_t j = 0; j < cols; ++j) {
      float v = activateOne(op, y[i * ldy + j]);
      y[i * ldy + j] = res ? v + res[i * ldr + j] : v;
    }
}

} // namespace

detail::PostFn detail::postPath(Isa isa) {
  if (isaHasAvx512(isa))
    return &postActivationAvx512;
  if (isaHasAvx2(isa))
    return &postActivationAvx2;
  return &postActivationGeneric;
}

void postActivation(const PostOp &op, float *y, size_t ldy, const float *res,
                    size_t ldr, size_t rows, size_t cols, Isa isa) {
  detail::postPath(isa)(op, y, ldy, res, ldr, rows, cols);
}

} // namespace ember::cpu
