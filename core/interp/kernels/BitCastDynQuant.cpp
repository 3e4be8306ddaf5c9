// BitCast (reinterpret bits) and DynamicQuantizeLinear (u8 quantization with
// a scale and zero point computed from the data).
#include "interp/Kernel.h"

#include <algorithm>
#include <cmath>

namespace ember {

Status kernel_BitCast(KernelContext &ctx) {
  const Tensor &x = ctx.in(0);
  Tensor &y = ctx.out(0);
  std::memcpy(y.raw(), x.raw(), x.bytes());
  if (y.elem() == ElemKind::Bool) // keep the 0/1 storage invariant
    for (int64_t i = 0; i < y.size(); ++i)
      y.raw()[i] = y.raw()[i] != 0;
  return Status::ok();
}

Status kernel_DynamicQuantizeLinear(KernelContext &ctx) {
  const Tensor &x = ctx.in(0);
  Tensor &y = ctx.out(0);
  Tensor &scaleT = ctx.out(1);
  Tensor &zpT = ctx.out(2);
  const float *p = x.data<float>();
  float lo = 0, hi = 0; // the range always includes 0
  for (int64_t i = 0; i < x.size(); ++i) {
    lo = std::min(lo, p[i]);
    hi = std::max(hi, p[i]);
  }
  float scale = (hi - lo) / 255.0f;
  float zpf = scale == 0
                  ? 0.0f
                  : std::nearbyint(std::clamp(0.0f - lo / scale, 0.0f, 255.0f));
  scaleT.data<float>()[0] = scale;
  zpT.data<uint8_t>()[0] = uint8_t(zpf);
  uint8_t *q = y.data<uint8_t>();
  for (int64_t i = 0; i < x.size(); ++i) {
    float v = scale == 0 ? zpf : std::nearbyint(p[i] / scale) + zpf;
    q[i] = uint8_t(std::clamp(v, 0.0f, 255.0f));
  }
  return Status::ok();
}

} // namespace ember
