// Custom (an Emit row of CpuOps.def): a custom op that reaches the backend
// whole runs its op library's reference kernel in place, on its operands'
// and results' storage (row-major: an Emit step's readers and results are
// never strided, Views.cpp). The step passes two pointer arrays to
//   int32_t ember_rt_custom(const void *call, void **ins, void **outs)
// with `call` the address of the symbol ember_custom_node_<k>, k the call
// site's number (CompiledModel::customNodes). The JIT binds both to the
// plugin's native calls, a bundle to the C its custom_ops.c defines
// (CustomCalls.h); a non-zero status ends ember_main with it.
#include "../CustomCalls.h"
#include "OpLoops.h"

namespace ember::cpugen {

Status emit_Custom(Codegen &cg, const Group &g) {
  const Node &n = *g.root;
  const size_t k = cg.out_.customNodes.size();
  cg.out_.customNodes.push_back(&n);
  llvm::IRBuilder<> &b = *cg.b_;
  llvm::Type *ptr = b.getPtrTy();
  auto array = [&](size_t count, const char *name) {
    return b.CreateAlloca(llvm::ArrayType::get(ptr, std::max<size_t>(count, 1)),
                          nullptr, name);
  };
  llvm::Value *ins = array(n.inputs.size(), "custom.ins");
  llvm::Value *outs = array(n.numResults(), "custom.outs");
  for (size_t i = 0; i < n.inputs.size(); ++i)
    b.CreateStore(n.inputs[i].node
                      ? cg.ptrOfValue(n.inputs[i])
                      : llvm::ConstantPointerNull::get(b.getPtrTy()),
                  b.CreateConstInBoundsGEP1_64(ptr, ins, i));
  for (unsigned r = 0; r < n.numResults(); ++r)
    b.CreateStore(cg.ptrOfValue(Value(const_cast<Node *>(&n), r)),
                  b.CreateConstInBoundsGEP1_64(ptr, outs, r));
  llvm::Constant *call =
      cg.mod_->getOrInsertGlobal(customNodeSymbol(k), b.getInt8Ty());
  llvm::FunctionCallee fn = cg.mod_->getOrInsertFunction(
      kCustomCallSymbol,
      llvm::FunctionType::get(b.getInt32Ty(), {ptr, ptr, ptr}, false));
  llvm::Value *st = b.CreateCall(fn, {call, ins, outs});
  llvm::Function *main = b.GetInsertBlock()->getParent();
  auto *fail = llvm::BasicBlock::Create(b.getContext(), "custom.fail", main);
  auto *ok = llvm::BasicBlock::Create(b.getContext(), "custom.ok", main);
  b.CreateCondBr(b.CreateICmpNE(st, b.getInt32(0)), fail, ok);
  b.SetInsertPoint(fail);
  b.CreateRet(st);
  b.SetInsertPoint(ok);
  return Status::ok();
}

} // namespace ember::cpugen
