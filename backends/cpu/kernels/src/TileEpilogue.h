//===- TileEpilogue.h - scalar epilogue shared by the kernels ---*- C++ -*-===//
#ifndef EMBER_CPU_KERNELS_TILEEPILOGUE_H
#define EMBER_CPU_KERNELS_TILEEPILOGUE_H

#include "Internal.h"

namespace ember::cpu::detail {

/// Applies the activation of an Epilogue to one value.
inline float activate(float v, Activation act, float lo, float hi) {
  switch (act) {
  case Activation::None:
    return v;
  case Activation::Relu:
    return v > 0.0f ? v : 0.0f;
  case Activation::Clip:
    return v < lo ? lo : (v > hi ? hi : v);
  }
  return v;
}

/// The whole post-accumulation step for tile element (i, j), scalar. `acc`
/// is the dot product over this K block.
inline float finishElement(const TileArgs &t, int i, int j, float acc) {
  float v = acc;
  if (t.loadC)
    v += t.c[static_cast<size_t>(i) * t.ldc + j];
  if (!t.last)
    return v;
  if (t.biasRow)
    v += t.biasRow[i];
  if (t.biasCol)
    v += t.biasCol[j];
  float r = t.residual ? t.residual[static_cast<size_t>(i) * t.ldr + j] : 0.f;
  if (!t.residualAfterActivation)
    v += r;
  v = activate(v, t.activation, t.clipMin, t.clipMax);
  if (t.residualAfterActivation)
    v += r;
  return v;
}

} // namespace ember::cpu::detail

#endif // EMBER_CPU_KERNELS_TILEEPILOGUE_H
