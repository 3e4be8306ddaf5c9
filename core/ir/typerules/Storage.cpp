// Type rules of the storage ops (kernels: interp/kernels/Storage.cpp).
// inferNodeTypes never runs them (a storage node's type is given); the
// interpreter does, before a Constant's kernel copies its payload.
#include "ir/TypeRules.h"

namespace ember {

// A graph input keeps its declared type (its kernel reports that inputs are
// bound by the caller).
Status types_Placeholder(TypeContext &ctx) {
  ctx.setOutput(0, ctx.node().types[0]);
  return Status::ok();
}

Status types_Constant(TypeContext &ctx) {
  const Tensor *t = ctx.node().payload.get();
  if (!t)
    return ctx.error("constant has no payload");
  ctx.setOutput(0, t->type());
  return Status::ok();
}

} // namespace ember
