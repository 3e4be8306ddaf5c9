/*===- ember/math/F32Constants.h - the constants of Ember's f32 functions -===*
 *
 * The polynomials and bounds of Ember's f32 exp and tanh (Exp.h, Tanh.h;
 * fitted by scripts/fit-math-f32.py), as plain C macros so that C code
 * without the C++ templates computes the same functions: the CPU backend's
 * freestanding portable runtime (backends/cpu/runtime/RtPortable.c).
 *
 *===----------------------------------------------------------------------===*/
#ifndef EMBER_MATH_F32CONSTANTS_H
#define EMBER_MATH_F32CONSTANTS_H

/* exp: e^r on [-ln2/2, ln2/2], lowest degree first. */
#define EMBER_MATH_EXP_POLY                                                    \
  1.0f, 1.0f, 0.499999911f, 0.166664168f, 0.0416682437f, 0.00837505423f,       \
      0.00138365454f
#define EMBER_MATH_EXP_LOG2E 1.44269502f
#define EMBER_MATH_EXP_LN2_HI 0.693145751953125f /* 15 significant bits */
#define EMBER_MATH_EXP_LN2_LO 1.42860682e-06f    /* ln2 - LN2_HI */
/* Beyond these, f32 exp is 0 or inf. */
#define EMBER_MATH_EXP_MIN (-110.0f)
#define EMBER_MATH_EXP_MAX 89.0f

/* tanh: (tanh(x) / x - 1) / x^2 in t = x^2 on [0, SMALL^2], lowest degree
 * first; above SMALL, 1 - 2 / (exp(2 min(|x|, CLAMP)) + 1). */
#define EMBER_MATH_TANH_POLY                                                   \
  -0.333333224f, 0.133329779f, -0.0539293028f, 0.0216635428f, -0.00826454349f, \
      0.0025826674f, -0.000455459754f
#define EMBER_MATH_TANH_SMALL 0.9f
#define EMBER_MATH_TANH_CLAMP 9.5f

#endif /* EMBER_MATH_F32CONSTANTS_H */
