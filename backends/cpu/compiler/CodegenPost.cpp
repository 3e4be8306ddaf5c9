// Post functions (RtAbi.h, ember_rt_post): a Conv's or MatMul's post chain
// (Fusion.cpp, growPostChain) as a function the runtime step calls on each
// piece of its result right after computing it:
//
//   void post(float *y, i64 ldy, const float *r, i64 ldr, i64 rows, i64 cols)
//
// replaces y[i * ldy + j] by the chain's value of it (and of r[i * ldr + j]
// when the chain reads the residual), for i < rows, j < cols. Each node is
// LoopGen::op, the arithmetic of the generated loops, so the values are
// bit for bit those of the loop the chain would otherwise be.
#include "LoopGen.h"

#include "ember/cpu/Kernels.h"

#include <llvm/IR/Constants.h>

namespace ember::cpugen {

namespace {

using ember::cpu::PostActivation;

// Matches a post chain, node by node, against the lowered forms of the
// activations the kernel library has (ember::cpu::PostActivation).
struct ChainMatch {
  const std::vector<const Node *> &nodes;
  size_t at = 0;

  // The next node, if it is of kind k; advances.
  const Node *next(OpKind k) {
    if (at >= nodes.size() || nodes[at]->kind != k)
      return nullptr;
    return nodes[at++];
  }
  static bool reads(const Node *n, size_t i, const Node *v) {
    return n->inputs.size() > i && n->inputs[i].node == v &&
           n->inputs[i].idx == 0;
  }
  static bool constAt(const Node *n, size_t i, double &c) {
    return n->inputs.size() > i && scalarConstant(n->inputs[i], c);
  }
  // n = Op(a, const) or (commutative) Op(const, a); the constant.
  static bool withConst(const Node *n, const Node *a, bool commutes,
                        double &c) {
    if (!n || n->inputs.size() != 2)
      return false;
    if (reads(n, 0, a) && constAt(n, 1, c))
      return true;
    return commutes && reads(n, 1, a) && constAt(n, 0, c);
  }
  // n = Mul(a, b) or Mul(b, a).
  static bool mulOf(const Node *n, const Node *a, const Node *b) {
    return n && n->inputs.size() == 2 &&
           ((reads(n, 0, a) && reads(n, 1, b)) ||
            (reads(n, 0, b) && reads(n, 1, a)));
  }
  // Min(v, 1) then Max(., 0), in this order of operands (a zero's sign
  // depends on it): the lowering's clamp to [0, 1]. Its last node.
  const Node *clamp01(const Node *v) {
    double hi, lo;
    const Node *mn = next(OpKind::Min);
    if (!mn || !withConst(mn, v, false, hi) || hi != 1.0)
      return nullptr;
    const Node *mx = next(OpKind::Max);
    if (!mx || !withConst(mx, mn, false, lo) || lo != 0.0)
      return nullptr;
    return mx;
  }
};

} // namespace

int Codegen::postActivationKind(const Epilogue &e, float &alpha, float &beta) {
  if (e.post.empty() || e.post.back()->types[0].elem() != ElemKind::F32)
    return 0;
  // A residual is the chain's last node, an Add of it and the activation.
  std::vector<const Node *> act = e.post;
  if (e.postResidual) {
    const Node *add = act.back();
    act.pop_back();
    if (act.empty() || add->kind != OpKind::Add || add->inputs.size() != 2)
      return 0;
    const Value a(const_cast<Node *>(act.back()), 0);
    if (!((add->inputs[0] == a && add->inputs[1] == e.residual) ||
          (add->inputs[1] == a && add->inputs[0] == e.residual)))
      return 0;
  }
  const Node *x = e.postInput;
  ChainMatch m{act};
  auto done = [&](PostActivation k) {
    return m.at == act.size() ? 1 + int(k) : 0;
  };
  if (const Node *s = m.next(OpKind::Sigmoid)) {
    if (!ChainMatch::reads(s, 0, x))
      return 0;
    if (m.at == act.size())
      return done(PostActivation::Sigmoid);
    return ChainMatch::mulOf(m.next(OpKind::Mul), x, s)
               ? done(PostActivation::Silu)
               : 0;
  }
  double a = 0, c = 0;
  if (const Node *mul = m.next(OpKind::Mul)) { // HardSigmoid
    const Node *add = m.next(OpKind::Add);
    if (!ChainMatch::withConst(mul, x, true, a) ||
        !ChainMatch::withConst(add, mul, true, c))
      return 0;
    const Node *h = m.clamp01(add);
    if (!h)
      return 0;
    alpha = float(a);
    beta = float(c);
    if (m.at == act.size())
      return done(PostActivation::HardSigmoid);
    return ChainMatch::mulOf(m.next(OpKind::Mul), x, h)
               ? done(PostActivation::XHardSigmoid)
               : 0;
  }
  if (const Node *div = m.next(OpKind::Div)) { // HardSwish
    const Node *add = m.next(OpKind::Add);
    if (!ChainMatch::withConst(div, x, false, a) || a != 6.0 ||
        !ChainMatch::withConst(add, div, true, c) || c != 0.5)
      return 0;
    const Node *h = m.clamp01(add);
    return h && ChainMatch::mulOf(m.next(OpKind::Mul), x, h)
               ? done(PostActivation::HardSwish)
               : 0;
  }
  return 0;
}

// The run a post function's inner loop takes at a call: the steps apply it
// to chunks of whole rows of their result, 4K to 64K floats
// (runtime/RtKernels.cpp), flattened when the rows are contiguous.
constexpr int64_t kPostRun = 4096;

llvm::Function *Codegen::emitPostFunction(const Group &g) {
  const Epilogue &e = g.epi;
  llvm::Type *i64 = b_->getInt64Ty(), *ptr = b_->getPtrTy(),
             *f32 = b_->getFloatTy();
  auto *fty = llvm::FunctionType::get(b_->getVoidTy(),
                                      {ptr, i64, ptr, i64, i64, i64}, false);
  auto *fn = llvm::Function::Create(fty, llvm::GlobalValue::InternalLinkage,
                                    concat("post.", taskCount_++), *mod_);
  fn->addFnAttr(llvm::Attribute::NoUnwind);
  fn->addParamAttr(0, llvm::Attribute::NoAlias);
  fn->addParamAttr(2, llvm::Attribute::NoAlias);
  // The chains are arithmetic on data in cache (a SiLU's exp and division
  // per element): full-width vectors where the host's tuning would
  // otherwise prefer 256 bits (Intel's server cores), about 1.6 times the
  // throughput of 8-lane code on an exact sigmoid.
  if (ember::cpu::isaHasAvx512(ember::cpu::Isa(cfg_.isa)))
    fn->addFnAttr("prefer-vector-width", "512");
  llvm::IRBuilderBase::InsertPoint saved = b_->saveIP();
  auto *entry = llvm::BasicBlock::Create(*ctx_, "entry", fn);
  b_->SetInsertPoint(entry);
  llvm::Value *y = fn->getArg(0), *ldy = fn->getArg(1), *r = fn->getArg(2),
              *ldr = fn->getArg(3), *rows = fn->getArg(4),
              *cols = fn->getArg(5);
  // Contiguous rows (a channels-last piece of whole pixels) are one run.
  llvm::Value *flat = b_->CreateICmpEQ(ldy, cols);
  if (e.postResidual)
    flat = b_->CreateAnd(flat, b_->CreateICmpEQ(ldr, cols));
  llvm::Value *all = b_->CreateMul(rows, cols);
  rows = b_->CreateSelect(flat, b_->getInt64(1), rows);
  cols = b_->CreateSelect(flat, all, cols);

  Group chain;
  chain.kind = GroupKind::Loop;
  chain.root = e.post.back();
  chain.members = e.post;
  LoopGen lg(*this, chain, *b_, e.post.back()->types[0].dims());

  auto loop = [&](llvm::Value *n, const char *name,
                  const std::function<void(llvm::Value *)> &body,
                  const std::function<unsigned()> &interleave = nullptr) {
    llvm::BasicBlock *pre = b_->GetInsertBlock();
    auto *head = llvm::BasicBlock::Create(*ctx_, name, fn);
    auto *exit = llvm::BasicBlock::Create(*ctx_, concat(name, ".end"), fn);
    b_->CreateCondBr(b_->CreateICmpSGT(n, b_->getInt64(0)), head, exit);
    b_->SetInsertPoint(head);
    llvm::PHINode *iv = b_->CreatePHI(i64, 2, "i");
    iv->addIncoming(b_->getInt64(0), pre);
    body(iv);
    llvm::Value *next = b_->CreateAdd(iv, b_->getInt64(1), "", true, true);
    iv->addIncoming(next, b_->GetInsertBlock());
    llvm::Instruction *latch =
        b_->CreateCondBr(b_->CreateICmpSLT(next, n), head, exit);
    if (unsigned count = interleave ? interleave() : 0)
      interleaveLoop(latch, count);
    b_->SetInsertPoint(exit);
  };
  loop(rows, "row", [&](llvm::Value *i) {
    llvm::Value *yRow = b_->CreateInBoundsGEP(f32, y, b_->CreateMul(i, ldy));
    llvm::Value *rRow =
        e.postResidual ? b_->CreateInBoundsGEP(f32, r, b_->CreateMul(i, ldr))
                       : nullptr;
    loop(
        cols, "col",
        [&](llvm::Value *j) {
          llvm::Value *at = b_->CreateInBoundsGEP(f32, yRow, j);
          std::map<ValueKey, llvm::Value *> vals;
          vals[keyOf(e.postInput)] = b_->CreateLoad(f32, at);
          if (e.postResidual)
            vals[keyOf(e.residual)] =
                b_->CreateLoad(f32, b_->CreateInBoundsGEP(f32, rRow, j));
          lg.memo.clear();
          for (const Node *n : e.post) {
            std::vector<llvm::Value *> ops;
            for (auto &in : n->inputs) {
              auto it = in ? vals.find(keyOf(in)) : vals.end();
              // (Anything else is a scalar constant: growPostChain.)
              ops.push_back(!in                ? nullptr
                            : it != vals.end() ? it->second
                                               : lg.eval(in));
            }
            vals[keyOf(n)] = lg.roundTo(lg.op(*n, ops), n->types[0].elem());
          }
          b_->CreateStore(vals.at(keyOf(e.post.back())), at);
        },
        [&] { return interleaveFor(lg.curves, kPostRun); });
  });
  b_->CreateRetVoid();
  b_->restoreIP(saved);
  return fn;
}

} // namespace ember::cpugen
