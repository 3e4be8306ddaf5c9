// The int8 glue shared by RtKernels.cpp and RtQMatMul.cpp: a parameter
// block's requantization as the kernel library's Requantize, and the int8
// matmul whose B is read at run time. Linked natively and compiled to
// bitcode with them.
#ifndef EMBER_CPU_RT_QUANT_H
#define EMBER_CPU_RT_QUANT_H

#include "RtAbi.h"

#include "ember/cpu/Kernels.h"

#include <cstddef>
#include <cstdint>

namespace ember::cpugen::rt {

// The requantization of a step: `count` multipliers at rq (1: per tensor),
// the shifts `countAll` entries after them (fixed profile); with
// floatScale, the multipliers are f32 bits (float32 profile).
inline ember::cpu::Requantize requantOf(int64_t yKind, int64_t yzp,
                                        const int32_t *rq, int64_t count,
                                        int64_t countAll, int64_t lo,
                                        int64_t hi, int64_t floatScale) {
  using ember::cpu::QOutput;
  ember::cpu::Requantize r;
  r.output = yKind == EMBER_RT_Y_I32  ? QOutput::Int32
             : yKind == EMBER_RT_Y_I8 ? QOutput::Int8
                                      : QOutput::UInt8;
  r.kind = floatScale ? ember::cpu::QScaleKind::Float
                      : ember::cpu::QScaleKind::FixedPoint;
  r.scale = floatScale ? reinterpret_cast<const float *>(rq) : nullptr;
  r.multiplier = rq;
  r.shift = rq + countAll;
  r.scaleCount = size_t(count);
  r.zeroPoint = int32_t(yzp);
  r.clampMin = int32_t(lo);
  r.clampMax = int32_t(hi);
  return r;
}

// ember_rt_qgemm with B_DYNAMIC (RtQMatMul.cpp) and its workspace bytes
// per worker.
int32_t qgemmDynamicB(const int64_t *p, const uint8_t *a, const uint8_t *b,
                      const int32_t *rq, void *y, uint8_t *workspace);
size_t qgemmDynamicBWorkspace(const int64_t *p);

} // namespace ember::cpugen::rt

#endif
