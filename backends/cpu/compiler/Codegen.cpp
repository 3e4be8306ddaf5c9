// LLVM IR for a compiled model: ember_main, the runtime calls of the heavy
// steps (Conv, MatMul, pooling) with their constant parameter blocks, output
// copies, and the loop/task scaffolding the generated loops use
// (CodegenLoop.cpp has the loop bodies).
#include "Codegen.h"
#include "Capability.h"

#include "ember/cpu/Kernels.h"
#include "runtime/RtAbi.h"

#include <llvm/IR/Constants.h>
#include <llvm/IR/DerivedTypes.h>
#include <llvm/IR/Intrinsics.h>
#include <llvm/IR/Verifier.h>
#include <llvm/Support/raw_ostream.h>

#include <array>

namespace ember::cpugen {

using ember::cpu::Isa;
using ember::cpu::resolveIsa;

CompiledModel::CompiledModel() = default;
CompiledModel::~CompiledModel() {
  module.reset(); // before its context
  context.reset();
}
CompiledModel::CompiledModel(CompiledModel &&) noexcept = default;
CompiledModel &CompiledModel::operator=(CompiledModel &&o) noexcept {
  module.reset();
  context = std::move(o.context);
  module = std::move(o.module);
  weights = std::move(o.weights);
  arenaBytes = o.arenaBytes;
  inputs = std::move(o.inputs);
  outputs = std::move(o.outputs);
  inputNames = std::move(o.inputNames);
  outputNames = std::move(o.outputNames);
  fusion = o.fusion;
  plan = std::move(o.plan);
  workspaceBytes = o.workspaceBytes;
  runtimeCalls = std::move(o.runtimeCalls);
  channelsLast = std::move(o.channelsLast);
  customNodes = std::move(o.customNodes);
  hostSymbols = std::move(o.hostSymbols);
  return *this;
}

uint8_t hostIsa() { return uint8_t(resolveIsa(Isa::Auto)); }

namespace {

// An Emit row's code: its emit_<Name>, looked up from the table.
Status emitOwn(Codegen &cg, const Group &g) {
  using EmitFn = Status (*)(Codegen &, const Group &);
  static const std::array<EmitFn, kNumOps> index = [] {
    std::array<EmitFn, kNumOps> a{};
#define EMBER_CPU_OP(Name, ...)
#define EMBER_CPU_EMIT(Name, ...) a[unsigned(OpKind::Name)] = &emit_##Name;
#include "CpuOps.def"
    return a;
  }();
  return index[unsigned(g.root->kind)](cg, g);
}

} // namespace

Codegen::Codegen(const Function &f, const CompileConfig &cfg,
                 CompiledModel &out)
    : f_(f), cfg_(cfg), out_(out) {}

Status Codegen::run() {
  EMBER_ASSIGN(groups_, formGroups(f_, cfg_, &out_.fusion));
  EMBER_TRY(tabulateChannelLoops(groups_, cfg_, &out_.fusion));
  // The constant region grows by appends: reserve what packing may need
  // (packed weights are padded; some constants are also read as stored).
  uint64_t constants = 0;
  for (auto &n : f_.nodes())
    if (n->kind == OpKind::Constant && n->payload)
      constants += n->payload->bytes();
  out_.weights.reserve(size_t(constants + constants / 4 + (1 << 20)));
  EMBER_TRY(prepare());
  EMBER_TRY(layout());
  for (auto *p : f_.params()) {
    out_.inputs.push_back(p->types[0]);
    out_.inputNames.push_back(p->outNames[0]);
  }
  for (auto &o : f_.outputs()) {
    out_.outputs.push_back(o.value.type());
    out_.outputNames.push_back(o.name);
  }
  return emit();
}

Expected<CompiledModel> compileModel(Function &f, const CompileConfig &cfg) {
  EMBER_TRY(widenHalfKernels(f));
  EMBER_TRY(pointDepthwiseAsElementwise(f));
  FusionStats folds;
  EMBER_TRY(foldChannelScales(f, cfg, &folds));
  CompiledModel out;
  Codegen cg(f, cfg, out);
  EMBER_TRY(cg.run());
  out.fusion.scaleFolds = folds.scaleFolds;
  return out;
}

// ---- helpers ----------------------------------------------------------------

llvm::Type *Codegen::elemType(ElemKind k) {
  switch (k) {
  case ElemKind::F32:
    return b_->getFloatTy();
  case ElemKind::F64:
    return b_->getDoubleTy();
  case ElemKind::I8:
  case ElemKind::U8:
  case ElemKind::Bool:
    return b_->getInt8Ty();
  case ElemKind::I16:
  case ElemKind::U16:
  case ElemKind::F16: // storage; CodegenLoop computes them in f32
  case ElemKind::BF16:
    return b_->getInt16Ty();
  case ElemKind::I32:
  case ElemKind::U32:
    return b_->getInt32Ty();
  case ElemKind::I64:
  case ElemKind::U64:
    return b_->getInt64Ty();
  default:
    return b_->getInt8Ty(); // bytes (views and copies only)
  }
}

llvm::Value *Codegen::ptrOf(const Loc &l) {
  llvm::Type *ptrTy = b_->getPtrTy();
  auto field = [&](unsigned i) {
    return b_->CreateLoad(ptrTy,
                          b_->CreateConstInBoundsGEP1_64(ptrTy, ctxArg_, i));
  };
  llvm::Value *base = nullptr;
  uint64_t off = l.offset;
  switch (l.kind) {
  case LocKind::Weight:
    base = field(0);
    break;
  case LocKind::Arena:
    base = field(1);
    off += bufferOffset_[l.index];
    break;
  case LocKind::Input:
  case LocKind::Output: {
    llvm::Value *arr = field(l.kind == LocKind::Input ? 2 : 3);
    base = b_->CreateLoad(ptrTy,
                          b_->CreateConstInBoundsGEP1_64(ptrTy, arr, l.index));
    break;
  }
  case LocKind::None:
    return llvm::ConstantPointerNull::get(b_->getPtrTy());
  }
  return off ? b_->CreateConstInBoundsGEP1_64(b_->getInt8Ty(), base, off)
             : base;
}

llvm::Value *Codegen::ptrOfValue(const Value &v) {
  if (!v)
    return llvm::ConstantPointerNull::get(b_->getPtrTy());
  return ptrOf(locOf(v));
}

llvm::Value *Codegen::paramBlock(const std::vector<int64_t> &p, size_t fnField,
                                 llvm::Function *fn) {
  auto *ty = llvm::ArrayType::get(b_->getInt64Ty(), p.size());
  std::vector<llvm::Constant *> vals;
  for (int64_t v : p)
    vals.push_back(b_->getInt64(uint64_t(v)));
  if (fn)
    vals.at(fnField) = llvm::ConstantExpr::getPtrToInt(fn, b_->getInt64Ty());
  auto *gv = new llvm::GlobalVariable(
      *mod_, ty, true, llvm::GlobalValue::PrivateLinkage,
      llvm::ConstantArray::get(ty, vals), concat("params.", paramCount_++));
  gv->setUnnamedAddr(llvm::GlobalValue::UnnamedAddr::Global);
  gv->setAlignment(llvm::Align(8));
  return gv;
}

llvm::FunctionCallee Codegen::runtime(const std::string &base, llvm::Type *ret,
                                      std::vector<llvm::Type *> args) {
  bool shared = base == "parallel_for" || base == "num_workers";
  bool int8 = base == "qconv2d" || base == "qgemm";
  // The JIT calls the plugin's native copies of the plain-C runtimes under
  // their own prefixes (RtPortable.h, RtEdge.h); bundles link one runtime.
  std::string name = "ember_rt_" + base;
  if (!shared && !cfg_.bundle && cfg_.kernels == Kernels::Edge && int8)
    name = "ember_rte_" + base;
  else if (!shared && !cfg_.bundle && cfg_.kernels != Kernels::Library)
    name = "ember_rtp_" + base;
  if (std::find(out_.runtimeCalls.begin(), out_.runtimeCalls.end(), name) ==
      out_.runtimeCalls.end())
    out_.runtimeCalls.push_back(name);
  return mod_->getOrInsertFunction(name,
                                   llvm::FunctionType::get(ret, args, false));
}

void Codegen::flagError(llvm::Value *cond, int32_t status) {
  llvm::Function *fn = b_->GetInsertBlock()->getParent();
  auto *set = llvm::BasicBlock::Create(*ctx_, "error", fn);
  auto *cont = llvm::BasicBlock::Create(*ctx_, "checked", fn);
  b_->CreateCondBr(cond, set, cont);
  b_->SetInsertPoint(set);
  llvm::Type *ptr = b_->getPtrTy();
  llvm::Value *word =
      b_->CreateLoad(ptr, b_->CreateConstInBoundsGEP1_64(ptr, ctxArg_, 4));
  b_->CreateStore(b_->getInt32(uint32_t(status)), word);
  b_->CreateBr(cont);
  b_->SetInsertPoint(cont);
}

void Codegen::emitStatusCheck(llvm::Value *st) {
  llvm::Function *fn = b_->GetInsertBlock()->getParent();
  auto *fail = llvm::BasicBlock::Create(*ctx_, "fail", fn);
  auto *cont = llvm::BasicBlock::Create(*ctx_, "ok", fn);
  b_->CreateCondBr(b_->CreateICmpNE(st, b_->getInt32(0)), fail, cont);
  b_->SetInsertPoint(fail);
  b_->CreateRet(st);
  b_->SetInsertPoint(cont);
}

void Codegen::emitNest(const std::vector<int64_t> &dims, llvm::Value *begin,
                       llvm::Value *end, const NestBody &body,
                       const NestBody &beforeInner) {
  std::vector<llvm::Value *> idx;
  std::function<void(size_t)> level = [&](size_t d) {
    if (d == dims.size()) {
      body(idx);
      return;
    }
    if (beforeInner && d + 1 == dims.size())
      beforeInner(idx);
    llvm::Value *lo = d == 0 ? begin : b_->getInt64(0);
    llvm::Value *hi = d == 0 ? end : b_->getInt64(uint64_t(dims[d]));
    llvm::Function *fn = b_->GetInsertBlock()->getParent();
    llvm::BasicBlock *pre = b_->GetInsertBlock();
    auto *loop = llvm::BasicBlock::Create(*ctx_, "loop", fn);
    auto *exit = llvm::BasicBlock::Create(*ctx_, "loop.end", fn);
    b_->CreateCondBr(b_->CreateICmpSLT(lo, hi), loop, exit);
    b_->SetInsertPoint(loop);
    llvm::PHINode *iv = b_->CreatePHI(b_->getInt64Ty(), 2, "i");
    iv->addIncoming(lo, pre);
    idx.push_back(iv);
    level(d + 1);
    idx.pop_back();
    llvm::Value *next = b_->CreateAdd(iv, b_->getInt64(1), "", true, true);
    iv->addIncoming(next, b_->GetInsertBlock());
    llvm::Instruction *latch =
        b_->CreateCondBr(b_->CreateICmpSLT(next, hi), loop, exit);
    if (innerInterleave_) {
      interleaveLoop(latch, innerInterleave_);
      innerInterleave_ = 0;
    }
    b_->SetInsertPoint(exit);
  };
  level(0);
}

unsigned Codegen::interleaveFor(unsigned curves, int64_t extent) {
  // Rows shorter than a few interleaved iterations would spend their
  // elements in the scalar remainder (a softmax's rows of 197: 6 steps of
  // 32 and 5 left at 4, 24 steps of 8 and 5 left at 1).
  if (curves == 0 || extent < 64)
    return 0;
  return extent >= 512 ? 4 : 2;
}

void Codegen::interleaveLoop(llvm::Instruction *latch, unsigned count) {
  llvm::Metadata *ic[] = {
      llvm::MDString::get(*ctx_, "llvm.loop.interleave.count"),
      llvm::ConstantAsMetadata::get(b_->getInt32(count))};
  auto self = llvm::MDNode::getTemporary(*ctx_, {});
  llvm::Metadata *ops[] = {self.get(), llvm::MDNode::get(*ctx_, ic)};
  llvm::MDNode *md = llvm::MDNode::getDistinct(*ctx_, ops);
  md->replaceOperandWith(0, md);
  latch->setMetadata(llvm::LLVMContext::MD_loop, md);
}

void Codegen::emitTask(
    const std::string &name, int64_t n, int64_t workPerItem,
    const std::function<void(llvm::Value *, llvm::Value *)> &gen) {
  llvm::Type *i64 = b_->getInt64Ty();
  auto *fty = llvm::FunctionType::get(b_->getVoidTy(),
                                      {b_->getPtrTy(), i64, i64, i64}, false);
  auto *fn = llvm::Function::Create(fty, llvm::GlobalValue::InternalLinkage,
                                    concat(name, ".", taskCount_++), *mod_);
  fn->addFnAttr(llvm::Attribute::NoUnwind);
  if (cfg_.perfMap >= 2) // profiling: every step a function perf can name
    fn->addFnAttr(llvm::Attribute::NoInline);
  fn->addParamAttr(0, llvm::Attribute::NoAlias);
  llvm::IRBuilderBase::InsertPoint saved = b_->saveIP();
  llvm::Value *savedCtx = ctxArg_;
  b_->SetInsertPoint(llvm::BasicBlock::Create(*ctx_, "entry", fn));
  ctxArg_ = fn->getArg(0);
  gen(fn->getArg(1), fn->getArg(2));
  b_->CreateRetVoid();
  b_->restoreIP(saved);
  ctxArg_ = savedCtx;
  // Work (elements times their inner work) enough to pay for joining the
  // workers, who spin between steps: 16K (64K before: mnv3-toy's and
  // vit-toy's small elementwise steps then ran on the caller alone while
  // the worker spun; 2 threads 3-5% faster).
  bool parallel = cfg_.numThreads > 1 && n >= 2 && n * workPerItem >= 16384;
  if (parallel) {
    llvm::FunctionCallee pf = runtime("parallel_for", b_->getVoidTy(),
                                      {b_->getPtrTy(), b_->getPtrTy(), i64});
    b_->CreateCall(pf, {fn, ctxArg_, b_->getInt64(uint64_t(n))});
  } else {
    b_->CreateCall(fn, {ctxArg_, b_->getInt64(0), b_->getInt64(uint64_t(n)),
                        b_->getInt64(0)});
  }
}

// ---- runtime-call steps -----------------------------------------------------

// A runtime call of a step. With perf_map=2 it goes through a function of
// its own (`name.N`, never inlined), so a profile with call graphs names
// the step whose kernel a sample is in (all the steps' kernels are the same
// library functions).
llvm::Value *Codegen::callStep(const std::string &name, llvm::FunctionCallee f,
                               std::vector<llvm::Value *> args) {
  if (cfg_.perfMap < 2)
    return b_->CreateCall(f, args);
  auto *fn = llvm::Function::Create(f.getFunctionType(),
                                    llvm::GlobalValue::InternalLinkage,
                                    concat(name, ".", taskCount_++), *mod_);
  fn->addFnAttr(llvm::Attribute::NoUnwind);
  fn->addFnAttr(llvm::Attribute::NoInline);
  llvm::IRBuilderBase::InsertPoint saved = b_->saveIP();
  b_->SetInsertPoint(llvm::BasicBlock::Create(*ctx_, "entry", fn));
  std::vector<llvm::Value *> fwd;
  for (auto &a : fn->args())
    fwd.push_back(&a);
  b_->CreateRet(b_->CreateCall(f, fwd));
  b_->restoreIP(saved);
  return b_->CreateCall(fn, args);
}

// The kernels' workspace (after the planned buffers in the arena), or null
// when no step needs one.
llvm::Value *Codegen::workspacePtr() {
  if (!workspacePerWorker_)
    return llvm::ConstantPointerNull::get(b_->getPtrTy());
  llvm::Type *ptr = b_->getPtrTy();
  llvm::Value *arena =
      b_->CreateLoad(ptr, b_->CreateConstInBoundsGEP1_64(ptr, ctxArg_, 1));
  return b_->CreateConstInBoundsGEP1_64(b_->getInt8Ty(), arena,
                                        workspaceOffset_);
}

Status Codegen::emitConv(const Group &g, Step &s) {
  const Node &n = *g.anchor;
  llvm::Type *ptr = b_->getPtrTy(), *i32 = b_->getInt32Ty(),
             *f32 = b_->getFloatTy();
  llvm::Value *params =
      paramBlock(s.params, EMBER_RT_CONV_POST,
                 g.epi.post.empty() ? nullptr : emitPostFunction(g));
  llvm::Value *w;
  if (s.packedWeights != ~0ull) {
    w = ptrOf(Loc{LocKind::Weight, 0, s.packedWeights});
  } else {
    w = ptrOf(Loc{LocKind::Arena, s.temps.at(0), 0});
    llvm::FunctionCallee pack = runtime("conv_pack", i32, {ptr, ptr, ptr});
    emitStatusCheck(b_->CreateCall(pack, {params, ptrOfValue(n.inputs[1]), w}));
  }
  llvm::Value *bias = s.bias != ~0ull ? ptrOf(Loc{LocKind::Weight, 0, s.bias})
                                      : ptrOfValue(g.epi.biasValue);
  llvm::Value *ws = workspacePtr();
  llvm::FunctionCallee conv =
      runtime("conv2d", i32, {ptr, ptr, ptr, ptr, ptr, ptr, f32, f32, ptr});
  llvm::Value *st = callStep(
      "conv", conv,
      {params, ptrOfValue(n.inputs[0]), w, bias, ptrOfValue(g.epi.residual),
       ptrOfValue(Value(const_cast<Node *>(g.root), 0)),
       llvm::ConstantFP::get(f32, double(g.epi.lo)),
       llvm::ConstantFP::get(f32, double(g.epi.hi)), ws});
  emitStatusCheck(st);
  return Status::ok();
}

Status Codegen::emitMatMul(const Group &g, Step &s) {
  const Node &n = *g.anchor;
  llvm::Type *ptr = b_->getPtrTy(), *i32 = b_->getInt32Ty(),
             *f32 = b_->getFloatTy();
  llvm::Value *params =
      paramBlock(s.params, EMBER_RT_GEMM_POST,
                 g.epi.post.empty() ? nullptr : emitPostFunction(g));
  llvm::Value *bm = s.packedWeights != ~0ull
                        ? ptrOf(Loc{LocKind::Weight, 0, s.packedWeights})
                        : ptrOfValue(n.inputs[1]);
  llvm::Value *bias = s.bias != ~0ull
                          ? ptrOf(Loc{LocKind::Weight, 0, s.bias})
                          : llvm::ConstantPointerNull::get(b_->getPtrTy());
  llvm::Value *ws = workspacePtr();
  llvm::FunctionCallee gemm =
      runtime("gemm", i32, {ptr, ptr, ptr, ptr, ptr, ptr, f32, f32, ptr});
  llvm::Value *st = callStep(
      "gemm", gemm,
      {params, ptrOfValue(n.inputs[0]), bm, bias, ptrOfValue(g.epi.residual),
       ptrOfValue(Value(const_cast<Node *>(g.root), 0)),
       llvm::ConstantFP::get(f32, double(g.epi.lo)),
       llvm::ConstantFP::get(f32, double(g.epi.hi)), ws});
  emitStatusCheck(st);
  return Status::ok();
}

Status Codegen::emitQuant(const Group &g, Step &s) {
  const Node &n = *g.anchor;
  llvm::Type *ptr = b_->getPtrTy(), *i32 = b_->getInt32Ty();
  llvm::Value *ws = workspacePtr();
  llvm::FunctionCallee fn =
      runtime(g.kind == GroupKind::QConv ? "qconv2d" : "qgemm", i32,
              {ptr, ptr, ptr, ptr, ptr, ptr});
  // A MatMulInteger's B computed at run time is read as it is stored
  // (B_DYNAMIC); everything else reads weights packed at compile time.
  const bool dynamicB =
      g.kind == GroupKind::QMatMul && s.params[EMBER_RT_QGEMM_B_DYNAMIC] != 0;
  llvm::Value *st =
      callStep(g.kind == GroupKind::QConv ? "qconv" : "qgemm", fn,
               {paramBlock(s.params), ptrOfValue(n.inputs[0]),
                dynamicB ? ptrOfValue(n.inputs[1])
                         : ptrOf(Loc{LocKind::Weight, 0, s.packedWeights}),
                ptrOf(Loc{LocKind::Weight, 0, s.bias}),
                ptrOfValue(Value(const_cast<Node *>(g.root), 0)), ws});
  emitStatusCheck(st);
  return Status::ok();
}

Status Codegen::emitConvT(const Group &g, Step &s) {
  const Node &n = *g.anchor;
  llvm::Type *ptr = b_->getPtrTy(), *i32 = b_->getInt32Ty();
  llvm::Value *ws = workspacePtr();
  llvm::Value *bias = s.bias != ~0ull
                          ? ptrOf(Loc{LocKind::Weight, 0, s.bias})
                          : ptrOfValue(n.hasInput(2) ? n.inputs[2] : Value());
  llvm::Value *params = paramBlock(s.params);
  llvm::Value *wT;
  if (s.packedWeights != ~0ull) {
    wT = ptrOf(Loc{LocKind::Weight, 0, s.packedWeights});
  } else {
    wT = ptrOf(Loc{LocKind::Arena, s.temps.at(0), 0});
    llvm::FunctionCallee pack =
        runtime("conv_transpose_pack", i32, {ptr, ptr, ptr});
    emitStatusCheck(
        b_->CreateCall(pack, {params, ptrOfValue(n.inputs[1]), wT}));
  }
  llvm::FunctionCallee fn =
      runtime("conv_transpose", i32, {ptr, ptr, ptr, ptr, ptr, ptr});
  llvm::Value *st = b_->CreateCall(
      fn, {params, ptrOfValue(n.inputs[0]), wT, bias,
           ptrOfValue(Value(const_cast<Node *>(g.root), 0)), ws});
  emitStatusCheck(st);
  return Status::ok();
}

// RNN/GRU/LSTM: the tensors as RtAbi.h's pointer array (null where absent),
// the weights packed first when they are not constants.
Status Codegen::emitRecurrent(const Group &g, Step &s) {
  const Node &n = *g.anchor;
  llvm::Type *ptr = b_->getPtrTy(), *i32 = b_->getInt32Ty();
  llvm::Value *params = paramBlock(s.params);
  auto input = [&](size_t i) {
    return ptrOfValue(n.hasInput(i) ? n.inputs[i] : Value());
  };
  size_t temp = 0;
  llvm::Value *packed;
  if (s.packedWeights != ~0ull) {
    packed = ptrOf(Loc{LocKind::Weight, 0, s.packedWeights});
  } else {
    packed = ptrOf(Loc{LocKind::Arena, s.temps.at(temp++), 0});
    llvm::FunctionCallee pack =
        runtime("recurrent_pack", i32, {ptr, ptr, ptr, ptr, ptr});
    emitStatusCheck(
        b_->CreateCall(pack, {params, input(1), input(2), input(3), packed}));
  }
  auto result = [&](size_t i) {
    return i < n.types.size() ? ptrOfValue(Value(const_cast<Node *>(&n), i))
                              : ptrOfValue(Value());
  };
  llvm::Value *ptrs[EMBER_RT_RNN_NUM_PTRS];
  ptrs[EMBER_RT_RNN_X] = input(0);
  ptrs[EMBER_RT_RNN_PACKED] = packed;
  ptrs[EMBER_RT_RNN_LENS] = input(4);
  ptrs[EMBER_RT_RNN_H0] = input(5);
  ptrs[EMBER_RT_RNN_C0] = input(6);
  ptrs[EMBER_RT_RNN_P] = input(7);
  ptrs[EMBER_RT_RNN_Y] = result(0);
  ptrs[EMBER_RT_RNN_YH] = result(1);
  ptrs[EMBER_RT_RNN_YC] = result(2);
  ptrs[EMBER_RT_RNN_SCRATCH] = ptrOf(Loc{LocKind::Arena, s.temps.at(temp), 0});
  auto *arrTy = llvm::ArrayType::get(ptr, EMBER_RT_RNN_NUM_PTRS);
  llvm::Value *arr = b_->CreateAlloca(arrTy, nullptr, "rnn.ptrs");
  for (unsigned i = 0; i < EMBER_RT_RNN_NUM_PTRS; ++i)
    b_->CreateStore(ptrs[i], b_->CreateConstInBoundsGEP2_32(arrTy, arr, 0, i));
  llvm::FunctionCallee fn = runtime("recurrent", i32, {ptr, ptr, ptr});
  emitStatusCheck(b_->CreateCall(fn, {params, arr, workspacePtr()}));
  return Status::ok();
}

Status Codegen::emitCopy(const Group &g) {
  uint64_t bytes = g.copySource.type().sizeInBytes();
  if (!bytes)
    return Status::ok();
  llvm::Value *dst = ptrOf(Loc{LocKind::Output, g.outputIndex, 0});
  llvm::Value *src = ptrOfValue(g.copySource);
  b_->CreateMemCpy(dst, llvm::MaybeAlign(1), src, llvm::MaybeAlign(1), bytes);
  return Status::ok();
}

Status Codegen::emit() {
  out_.context = std::make_unique<llvm::LLVMContext>();
  ctx_ = out_.context.get();
  out_.module = std::make_unique<llvm::Module>("ember_model", *ctx_);
  mod_ = out_.module.get();
  b_ = std::make_unique<llvm::IRBuilder<>>(*ctx_);
  llvm::Type *ptr = b_->getPtrTy();
  auto *fty =
      llvm::FunctionType::get(b_->getInt32Ty(), {ptr, ptr, ptr, ptr}, false);
  main_ = llvm::Function::Create(fty, llvm::GlobalValue::ExternalLinkage,
                                 "ember_main", *mod_);
  main_->addFnAttr(llvm::Attribute::NoUnwind);
  const char *argNames[] = {"weights", "arena", "inputs", "outputs"};
  for (unsigned i = 0; i < 4; ++i) {
    main_->getArg(i)->setName(argNames[i]);
    main_->addParamAttr(i, llvm::Attribute::NoAlias);
  }
  b_->SetInsertPoint(llvm::BasicBlock::Create(*ctx_, "entry", main_));
  // The context every task function gets: the four region pointers and
  // the status word generated checks set (flagError).
  auto *ctxTy = llvm::ArrayType::get(ptr, 5);
  ctxArg_ = b_->CreateAlloca(ctxTy, nullptr, "ctx");
  llvm::Value *status = b_->CreateAlloca(b_->getInt32Ty(), nullptr, "status");
  b_->CreateStore(b_->getInt32(0), status);
  for (unsigned i = 0; i < 4; ++i)
    b_->CreateStore(main_->getArg(i),
                    b_->CreateConstInBoundsGEP1_64(ptr, ctxArg_, i));
  b_->CreateStore(status, b_->CreateConstInBoundsGEP1_64(ptr, ctxArg_, 4));
  for (size_t i = 0; i < groups_.size(); ++i) {
    const Group &g = groups_[i];
    Status s = Status::ok();
    switch (g.kind) {
    case GroupKind::View:
      break;
    case GroupKind::Loop:
      s = emitLoopGroup(g);
      break;
    case GroupKind::Concat:
      s = emitConcat(g);
      break;
    case GroupKind::Split:
      s = emitSplit(g);
      break;
    case GroupKind::Conv: // (a 1x1 run inside a depthwise step: by that one)
      if (steps_[i].pairFrom != Step::kNoPair)
        s = emitConvPair(g, steps_[i]);
      else if (steps_[i].pairInto == Step::kNoPair)
        s = emitConv(g, steps_[i]);
      break;
    case GroupKind::MatMul:
      s = emitMatMul(g, steps_[i]);
      break;
    case GroupKind::Pool:
      s = emitPool(g, steps_[i]);
      break;
    case GroupKind::Reduce:
      s = emitReduce(g);
      break;
    case GroupKind::Copy:
      s = emitCopy(g);
      break;
    case GroupKind::QConv:
    case GroupKind::QMatMul:
      s = emitQuant(g, steps_[i]);
      break;
    case GroupKind::ConvT:
      s = emitConvT(g, steps_[i]);
      break;
    case GroupKind::Recurrent:
      s = emitRecurrent(g, steps_[i]);
      break;
    case GroupKind::Emit:
      s = emitOwn(*this, g);
      break;
    case GroupKind::Softmax:
      s = emitSoftmax(g);
      break;
    }
    if (!s.isOk())
      return s;
  }
  b_->CreateRet(b_->CreateLoad(b_->getInt32Ty(), status));
  if (cfg_.bundle || !cfg_.triple.empty()) {
    // The instruction-set path the bundled kernels take (BundleIsa.cpp).
    auto *gv = new llvm::GlobalVariable(
        *mod_, b_->getInt8Ty(), true, llvm::GlobalValue::ExternalLinkage,
        b_->getInt8(cfg_.isa), "ember_cpu_bundle_isa");
    (void)gv;
  }
  std::string err;
  llvm::raw_string_ostream os(err);
  if (llvm::verifyModule(*mod_, &os))
    return makeError(ErrorCode::Internal,
                     "the generated LLVM IR does not verify: ", os.str());
  return Status::ok();
}

} // namespace ember::cpugen
