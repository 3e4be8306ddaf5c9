// Type rules of BitCast and DynamicQuantizeLinear (kernels:
// interp/kernels/BitCastDynQuant.cpp).
#include "ir/typerules/Parse.h"

namespace ember {

Status types_BitCast(TypeContext &ctx) {
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
  ctx.setOutput(0, Type(to, x.dims()));
  return Status::ok();
}

Status types_DynamicQuantizeLinear(TypeContext &ctx) {
  const Tensor &x = ctx.in(0);
  if (x.elem() != ElemKind::F32)
    return ctx.unsupportedError("input must be f32, got ",
                                elemKindName(x.elem()));
  ctx.setOutput(0, Type(ElemKind::U8, x.dims()));
  ctx.setOutput(1, Type(ElemKind::F32, {}));
  ctx.setOutput(2, Type(ElemKind::U8, {}));
  return Status::ok();
}
} // namespace ember
