// BitCast (reinterpret bits) and DynamicQuantizeLinear (u8 quantization with
// a scale and zero point computed from the data).
#include "interp/Kernel.h"

#include <algorithm>
#include <cmath>

namespace ember {

Status kernel_BitCast(KernelContext &ctx) {
  ElemKind to;
  int64_t onnxTo = ctx.attrInt("to", -1);
  if (!elemKindFromOnnx(int(onnxTo), to))
    return ctx.unsupportedError("bitcast to ONNX data type ", onnxTo,
                                " is not supported");
  const Tensor &x = ctx.in(0);
  // Narrow kinds are stored unpacked; compare their ONNX bit widths.
  auto bits = [](ElemKind k) -> size_t {
    if (!isMiniKind(k))
      return elemSize(k) * 8;
    std::string n = elemKindName(k);
    if (n == "u4" || n == "i4" || n == "f4e2m1")
      return 4;
    if (n == "u2" || n == "i2")
      return 2;
    return 8;
  };
  if (bits(x.elem()) != bits(to))
    return ctx.error("cannot reinterpret ", elemKindName(x.elem()), " as ",
                     elemKindName(to), ": the bit widths differ");
  Tensor &y = ctx.setOutput(0, Type(to, x.dims()));
  if (ctx.inferOnly())
    return Status::ok();
  std::memcpy(y.raw(), x.raw(), x.bytes());
  if (to == ElemKind::Bool) // keep the 0/1 storage invariant
    for (int64_t i = 0; i < y.size(); ++i)
      y.raw()[i] = y.raw()[i] != 0;
  return Status::ok();
}

Status kernel_DynamicQuantizeLinear(KernelContext &ctx) {
  const Tensor &x = ctx.in(0);
  if (x.elem() != ElemKind::F32)
    return ctx.unsupportedError("input must be f32, got ",
                                elemKindName(x.elem()));
  Tensor &y = ctx.setOutput(0, Type(ElemKind::U8, x.dims()));
  Tensor &scaleT = ctx.setOutput(1, Type(ElemKind::F32, {}));
  Tensor &zpT = ctx.setOutput(2, Type(ElemKind::U8, {}));
  if (ctx.inferOnly())
    return Status::ok();
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
