// TRANSITIONAL: kernels and lowerings of family C not written yet.
// Each entry is deleted when its real definition lands; this file is
// deleted when empty.
#include "interp/Kernel.h"
#include "lower/Lowering.h"

namespace ember {

Status kernel_MatMul(KernelContext &ctx) { return ctx.unsupportedError("no reference kernel yet"); }
Status kernel_Gemm(KernelContext &ctx) { return ctx.unsupportedError("no reference kernel yet"); }
Expected<std::vector<Value>> lower_Gemm(LoweringBuilder &b) { return unsupported("no lowering yet for Gemm"); }
Status kernel_Conv(KernelContext &ctx) { return ctx.unsupportedError("no reference kernel yet"); }
Status kernel_ConvTranspose(KernelContext &ctx) { return ctx.unsupportedError("no reference kernel yet"); }
Status kernel_MaxPool(KernelContext &ctx) { return ctx.unsupportedError("no reference kernel yet"); }
Status kernel_AveragePool(KernelContext &ctx) { return ctx.unsupportedError("no reference kernel yet"); }
Status kernel_GlobalAveragePool(KernelContext &ctx) { return ctx.unsupportedError("no reference kernel yet"); }
Expected<std::vector<Value>> lower_GlobalAveragePool(LoweringBuilder &b) { return unsupported("no lowering yet for GlobalAveragePool"); }
Status kernel_GlobalMaxPool(KernelContext &ctx) { return ctx.unsupportedError("no reference kernel yet"); }
Expected<std::vector<Value>> lower_GlobalMaxPool(LoweringBuilder &b) { return unsupported("no lowering yet for GlobalMaxPool"); }
Status kernel_BatchNormalization(KernelContext &ctx) { return ctx.unsupportedError("no reference kernel yet"); }
Expected<std::vector<Value>> lower_BatchNormalization(LoweringBuilder &b) { return unsupported("no lowering yet for BatchNormalization"); }
Status kernel_InstanceNormalization(KernelContext &ctx) { return ctx.unsupportedError("no reference kernel yet"); }
Expected<std::vector<Value>> lower_InstanceNormalization(LoweringBuilder &b) { return unsupported("no lowering yet for InstanceNormalization"); }
Status kernel_LayerNormalization(KernelContext &ctx) { return ctx.unsupportedError("no reference kernel yet"); }
Expected<std::vector<Value>> lower_LayerNormalization(LoweringBuilder &b) { return unsupported("no lowering yet for LayerNormalization"); }
Status kernel_LRN(KernelContext &ctx) { return ctx.unsupportedError("no reference kernel yet"); }
Expected<std::vector<Value>> lower_LRN(LoweringBuilder &b) { return unsupported("no lowering yet for LRN"); }
Status kernel_QuantizeLinear(KernelContext &ctx) { return ctx.unsupportedError("no reference kernel yet"); }
Status kernel_DequantizeLinear(KernelContext &ctx) { return ctx.unsupportedError("no reference kernel yet"); }
Status kernel_QLinearConv(KernelContext &ctx) { return ctx.unsupportedError("no reference kernel yet"); }
Status kernel_QLinearMatMul(KernelContext &ctx) { return ctx.unsupportedError("no reference kernel yet"); }
Status kernel_MatMulInteger(KernelContext &ctx) { return ctx.unsupportedError("no reference kernel yet"); }
Status kernel_ConvInteger(KernelContext &ctx) { return ctx.unsupportedError("no reference kernel yet"); }
Status kernel_QLinearAdd(KernelContext &ctx) { return ctx.unsupportedError("no reference kernel yet"); }
Expected<std::vector<Value>> lower_QLinearAdd(LoweringBuilder &b) { return unsupported("no lowering yet for QLinearAdd"); }
Status kernel_QLinearGlobalAveragePool(KernelContext &ctx) { return ctx.unsupportedError("no reference kernel yet"); }
Expected<std::vector<Value>> lower_QLinearGlobalAveragePool(LoweringBuilder &b) { return unsupported("no lowering yet for QLinearGlobalAveragePool"); }

} // namespace ember
