// Type rule of Einsum (kernel: interp/kernels/Einsum.cpp).
#include "ir/EinsumEquation.h"

#include "ir/typerules/Parse.h"

namespace ember {

Expected<EinsumSpec> einsumSpec(const TypeContext &ctx) {
  std::string eq = ctx.attrString("equation");
  size_t n = ctx.numInputs();
  if (n == 0)
    return ctx.error("needs at least one operand");
  ElemKind ek = ctx.in(0).elem();
  std::vector<Dims> shapes;
  for (size_t i = 0; i < n; ++i) {
    if (ctx.in(i).elem() != ek)
      return ctx.error("operand types differ: ", ctx.in(0).type().toString(),
                       " vs ", ctx.in(i).type().toString());
    shapes.push_back(ctx.in(i).dims());
  }
  return parseEinsum(eq, shapes);
}

Status types_Einsum(TypeContext &ctx) {
  EMBER_ASSIGN(EinsumSpec spec, einsumSpec(ctx));
  Dims yd;
  for (int l : spec.output)
    yd.push_back(spec.size[l]);
  ctx.setOutput(0, Type(ctx.in(0).elem(), yd));
  return Status::ok();
}

} // namespace ember
