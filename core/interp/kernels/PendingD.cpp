// TRANSITIONAL: kernels and lowerings of family D not written yet.
// Each entry is deleted when its real definition lands; this file is
// deleted when empty.
#include "interp/Kernel.h"
#include "lower/Lowering.h"

namespace ember {

Status kernel_Reshape(KernelContext &ctx) { return ctx.unsupportedError("no reference kernel yet"); }
Status kernel_Flatten(KernelContext &ctx) { return ctx.unsupportedError("no reference kernel yet"); }
Expected<std::vector<Value>> lower_Flatten(LoweringBuilder &b) { return unsupported("no lowering yet for Flatten"); }
Status kernel_Squeeze(KernelContext &ctx) { return ctx.unsupportedError("no reference kernel yet"); }
Expected<std::vector<Value>> lower_Squeeze(LoweringBuilder &b) { return unsupported("no lowering yet for Squeeze"); }
Status kernel_Unsqueeze(KernelContext &ctx) { return ctx.unsupportedError("no reference kernel yet"); }
Expected<std::vector<Value>> lower_Unsqueeze(LoweringBuilder &b) { return unsupported("no lowering yet for Unsqueeze"); }
Status kernel_Transpose(KernelContext &ctx) { return ctx.unsupportedError("no reference kernel yet"); }
Status kernel_Slice(KernelContext &ctx) { return ctx.unsupportedError("no reference kernel yet"); }
Status kernel_Concat(KernelContext &ctx) { return ctx.unsupportedError("no reference kernel yet"); }
Status kernel_Split(KernelContext &ctx) { return ctx.unsupportedError("no reference kernel yet"); }
Status kernel_Gather(KernelContext &ctx) { return ctx.unsupportedError("no reference kernel yet"); }
Status kernel_GatherElements(KernelContext &ctx) { return ctx.unsupportedError("no reference kernel yet"); }
Status kernel_GatherND(KernelContext &ctx) { return ctx.unsupportedError("no reference kernel yet"); }
Status kernel_ScatterElements(KernelContext &ctx) { return ctx.unsupportedError("no reference kernel yet"); }
Status kernel_ScatterND(KernelContext &ctx) { return ctx.unsupportedError("no reference kernel yet"); }
Status kernel_Pad(KernelContext &ctx) { return ctx.unsupportedError("no reference kernel yet"); }
Status kernel_Expand(KernelContext &ctx) { return ctx.unsupportedError("no reference kernel yet"); }
Status kernel_Tile(KernelContext &ctx) { return ctx.unsupportedError("no reference kernel yet"); }
Status kernel_DepthToSpace(KernelContext &ctx) { return ctx.unsupportedError("no reference kernel yet"); }
Expected<std::vector<Value>> lower_DepthToSpace(LoweringBuilder &b) { return unsupported("no lowering yet for DepthToSpace"); }
Status kernel_SpaceToDepth(KernelContext &ctx) { return ctx.unsupportedError("no reference kernel yet"); }
Expected<std::vector<Value>> lower_SpaceToDepth(LoweringBuilder &b) { return unsupported("no lowering yet for SpaceToDepth"); }
Status kernel_Shape(KernelContext &ctx) { return ctx.unsupportedError("no reference kernel yet"); }
Status kernel_Size(KernelContext &ctx) { return ctx.unsupportedError("no reference kernel yet"); }
Status kernel_ConstantOfShape(KernelContext &ctx) { return ctx.unsupportedError("no reference kernel yet"); }
Status kernel_Range(KernelContext &ctx) { return ctx.unsupportedError("no reference kernel yet"); }
Status kernel_Resize(KernelContext &ctx) { return ctx.unsupportedError("no reference kernel yet"); }
Status kernel_Dropout(KernelContext &ctx) { return ctx.unsupportedError("no reference kernel yet"); }
Expected<std::vector<Value>> lower_Dropout(LoweringBuilder &b) { return unsupported("no lowering yet for Dropout"); }

} // namespace ember
