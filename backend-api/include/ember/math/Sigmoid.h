//===- ember/math/Sigmoid.h - Ember's f32 sigmoid ---------------*- C++ -*-===//
//
// Sigmoid over F32Ops.h's policy, as the interpreter's Sigmoid kernel and
// the CPU backend's generated loops compute it: one exp (Exp.h), of -x for
// x >= 0 (1 / (1 + e)) and of x below (e / (1 + e)), so neither side
// overflows. Used by the CPU kernel library's recurrent cells.
//
//===----------------------------------------------------------------------===//
#ifndef EMBER_MATH_SIGMOID_H
#define EMBER_MATH_SIGMOID_H

#include "ember/math/Exp.h"
#include "ember/math/F32Ops.h"

namespace ember::math {

/// sigmoid(x) in f32 as one sequence of the policy's operations.
template <class O> typename O::V sigmoidF32(const O &o, typename O::V x) {
  using V = typename O::V;
  auto neg = o.lt(x, o.c(0.0f));
  V e = expNonPositiveF32(o, o.select(neg, x, o.sub(o.c(0.0f), x)));
  V den = o.add(o.c(1.0f), e);
  // e / den or 1 / den: one division of the numerator picked first.
  return o.div(o.select(neg, e, o.c(1.0f)), den);
}

/// Ember's f32 sigmoid on one value.
inline float sigmoidF32(float x) { return sigmoidF32(ScalarF32Ops{}, x); }

} // namespace ember::math

#endif // EMBER_MATH_SIGMOID_H
