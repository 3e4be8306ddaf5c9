// TRANSITIONAL: kernels and lowerings of family B not written yet.
// Each entry is deleted when its real definition lands; this file is
// deleted when empty.
#include "interp/Kernel.h"
#include "lower/Lowering.h"

namespace ember {

Status kernel_CastLike(KernelContext &ctx) { return ctx.unsupportedError("no reference kernel yet"); }
Expected<std::vector<Value>> lower_CastLike(LoweringBuilder &b) { return unsupported("no lowering yet for CastLike"); }
Status kernel_LeakyRelu(KernelContext &ctx) { return ctx.unsupportedError("no reference kernel yet"); }
Expected<std::vector<Value>> lower_LeakyRelu(LoweringBuilder &b) { return unsupported("no lowering yet for LeakyRelu"); }
Status kernel_Elu(KernelContext &ctx) { return ctx.unsupportedError("no reference kernel yet"); }
Expected<std::vector<Value>> lower_Elu(LoweringBuilder &b) { return unsupported("no lowering yet for Elu"); }
Status kernel_Selu(KernelContext &ctx) { return ctx.unsupportedError("no reference kernel yet"); }
Expected<std::vector<Value>> lower_Selu(LoweringBuilder &b) { return unsupported("no lowering yet for Selu"); }
Status kernel_Celu(KernelContext &ctx) { return ctx.unsupportedError("no reference kernel yet"); }
Expected<std::vector<Value>> lower_Celu(LoweringBuilder &b) { return unsupported("no lowering yet for Celu"); }
Status kernel_HardSigmoid(KernelContext &ctx) { return ctx.unsupportedError("no reference kernel yet"); }
Expected<std::vector<Value>> lower_HardSigmoid(LoweringBuilder &b) { return unsupported("no lowering yet for HardSigmoid"); }
Status kernel_HardSwish(KernelContext &ctx) { return ctx.unsupportedError("no reference kernel yet"); }
Expected<std::vector<Value>> lower_HardSwish(LoweringBuilder &b) { return unsupported("no lowering yet for HardSwish"); }
Status kernel_Softplus(KernelContext &ctx) { return ctx.unsupportedError("no reference kernel yet"); }
Expected<std::vector<Value>> lower_Softplus(LoweringBuilder &b) { return unsupported("no lowering yet for Softplus"); }
Status kernel_Softsign(KernelContext &ctx) { return ctx.unsupportedError("no reference kernel yet"); }
Expected<std::vector<Value>> lower_Softsign(LoweringBuilder &b) { return unsupported("no lowering yet for Softsign"); }
Status kernel_Gelu(KernelContext &ctx) { return ctx.unsupportedError("no reference kernel yet"); }
Expected<std::vector<Value>> lower_Gelu(LoweringBuilder &b) { return unsupported("no lowering yet for Gelu"); }
Status kernel_Mish(KernelContext &ctx) { return ctx.unsupportedError("no reference kernel yet"); }
Expected<std::vector<Value>> lower_Mish(LoweringBuilder &b) { return unsupported("no lowering yet for Mish"); }
Status kernel_ThresholdedRelu(KernelContext &ctx) { return ctx.unsupportedError("no reference kernel yet"); }
Expected<std::vector<Value>> lower_ThresholdedRelu(LoweringBuilder &b) { return unsupported("no lowering yet for ThresholdedRelu"); }
Status kernel_Shrink(KernelContext &ctx) { return ctx.unsupportedError("no reference kernel yet"); }
Expected<std::vector<Value>> lower_Shrink(LoweringBuilder &b) { return unsupported("no lowering yet for Shrink"); }
Status kernel_Clip(KernelContext &ctx) { return ctx.unsupportedError("no reference kernel yet"); }
Expected<std::vector<Value>> lower_Clip(LoweringBuilder &b) { return unsupported("no lowering yet for Clip"); }
Status kernel_PRelu(KernelContext &ctx) { return ctx.unsupportedError("no reference kernel yet"); }
Expected<std::vector<Value>> lower_PRelu(LoweringBuilder &b) { return unsupported("no lowering yet for PRelu"); }
Status kernel_Sum(KernelContext &ctx) { return ctx.unsupportedError("no reference kernel yet"); }
Expected<std::vector<Value>> lower_Sum(LoweringBuilder &b) { return unsupported("no lowering yet for Sum"); }
Status kernel_Mean(KernelContext &ctx) { return ctx.unsupportedError("no reference kernel yet"); }
Expected<std::vector<Value>> lower_Mean(LoweringBuilder &b) { return unsupported("no lowering yet for Mean"); }
Status kernel_ReduceSum(KernelContext &ctx) { return ctx.unsupportedError("no reference kernel yet"); }
Status kernel_ReduceMax(KernelContext &ctx) { return ctx.unsupportedError("no reference kernel yet"); }
Status kernel_ReduceMin(KernelContext &ctx) { return ctx.unsupportedError("no reference kernel yet"); }
Status kernel_ReduceProd(KernelContext &ctx) { return ctx.unsupportedError("no reference kernel yet"); }
Status kernel_ReduceMean(KernelContext &ctx) { return ctx.unsupportedError("no reference kernel yet"); }
Expected<std::vector<Value>> lower_ReduceMean(LoweringBuilder &b) { return unsupported("no lowering yet for ReduceMean"); }
Status kernel_ReduceL1(KernelContext &ctx) { return ctx.unsupportedError("no reference kernel yet"); }
Expected<std::vector<Value>> lower_ReduceL1(LoweringBuilder &b) { return unsupported("no lowering yet for ReduceL1"); }
Status kernel_ReduceL2(KernelContext &ctx) { return ctx.unsupportedError("no reference kernel yet"); }
Expected<std::vector<Value>> lower_ReduceL2(LoweringBuilder &b) { return unsupported("no lowering yet for ReduceL2"); }
Status kernel_ReduceLogSum(KernelContext &ctx) { return ctx.unsupportedError("no reference kernel yet"); }
Expected<std::vector<Value>> lower_ReduceLogSum(LoweringBuilder &b) { return unsupported("no lowering yet for ReduceLogSum"); }
Status kernel_ReduceLogSumExp(KernelContext &ctx) { return ctx.unsupportedError("no reference kernel yet"); }
Expected<std::vector<Value>> lower_ReduceLogSumExp(LoweringBuilder &b) { return unsupported("no lowering yet for ReduceLogSumExp"); }
Status kernel_ReduceSumSquare(KernelContext &ctx) { return ctx.unsupportedError("no reference kernel yet"); }
Expected<std::vector<Value>> lower_ReduceSumSquare(LoweringBuilder &b) { return unsupported("no lowering yet for ReduceSumSquare"); }
Status kernel_ArgMax(KernelContext &ctx) { return ctx.unsupportedError("no reference kernel yet"); }
Status kernel_ArgMin(KernelContext &ctx) { return ctx.unsupportedError("no reference kernel yet"); }
Status kernel_CumSum(KernelContext &ctx) { return ctx.unsupportedError("no reference kernel yet"); }
Status kernel_TopK(KernelContext &ctx) { return ctx.unsupportedError("no reference kernel yet"); }
Status kernel_Softmax(KernelContext &ctx) { return ctx.unsupportedError("no reference kernel yet"); }
Expected<std::vector<Value>> lower_Softmax(LoweringBuilder &b) { return unsupported("no lowering yet for Softmax"); }
Status kernel_LogSoftmax(KernelContext &ctx) { return ctx.unsupportedError("no reference kernel yet"); }
Expected<std::vector<Value>> lower_LogSoftmax(LoweringBuilder &b) { return unsupported("no lowering yet for LogSoftmax"); }

} // namespace ember
