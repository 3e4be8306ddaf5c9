// PacketSum (an Emit row of CpuOps.def): one generated sum per line, lines
// split over the workers, each f32 addition in the order
// ember/math/PacketSum.h defines (the reference kernel calls it): the
// packets' lanes in two accumulators, their halving reduction, then the
// head and the tail one by one. Bit for bit the interpreter's.
#include "OpLoops.h"

#include "ember/math/PacketSum.h"

namespace ember::cpugen {

namespace {

using Vals = std::vector<llvm::Value *>;

// if (cond) then() else other: the values of the branch taken.
Vals ifElse(llvm::IRBuilder<> &b, llvm::Value *cond,
            const std::function<Vals()> &then,
            const std::function<Vals()> &other) {
  llvm::Function *fn = b.GetInsertBlock()->getParent();
  llvm::LLVMContext &ctx = b.getContext();
  auto *tb = llvm::BasicBlock::Create(ctx, "psum.then", fn);
  auto *eb = llvm::BasicBlock::Create(ctx, "psum.else", fn);
  auto *jb = llvm::BasicBlock::Create(ctx, "psum.join", fn);
  b.CreateCondBr(cond, tb, eb);
  b.SetInsertPoint(tb);
  Vals tv = then();
  llvm::BasicBlock *te = b.GetInsertBlock();
  b.CreateBr(jb);
  b.SetInsertPoint(eb);
  Vals ev = other();
  llvm::BasicBlock *ee = b.GetInsertBlock();
  b.CreateBr(jb);
  b.SetInsertPoint(jb);
  Vals out;
  for (size_t k = 0; k < tv.size(); ++k) {
    llvm::PHINode *p = b.CreatePHI(tv[k]->getType(), 2);
    p->addIncoming(tv[k], te);
    p->addIncoming(ev[k], ee);
    out.push_back(p);
  }
  return out;
}

} // namespace

Status emit_PacketSum(Codegen &cg, const Group &g) {
  const Node &n = *g.root;
  const Value &x = n.inputs[0];
  Value y(const_cast<Node *>(&n), 0);
  const int64_t lines = y.type().numElements();
  if (lines == 0)
    return Status::ok();
  const int64_t len = x.type().numElements() / lines;
  const int64_t lanes = n.attrInt("lanes", 4);
  const bool aligned = n.attrInt("aligned", 0) != 0;
  llvm::IRBuilder<> &b = *cg.b_;
  llvm::Type *f32 = b.getFloatTy();
  auto i64 = [&](int64_t v) { return b.getInt64(uint64_t(v)); };
  cg.emitTask(
      "packetsum", lines, len, [&](llvm::Value *begin, llvm::Value *end) {
        llvm::Value *px = cg.ptrOfValue(x), *py = cg.ptrOfValue(y);
        cg.emitNest({lines}, begin, end, [&](std::vector<llvm::Value *> &i) {
          llvm::Value *base = b.CreateMul(i[0], i64(len));
          auto at = [&](llvm::Value *e) {
            return b.CreateLoad(
                f32, b.CreateInBoundsGEP(f32, px, b.CreateAdd(base, e)));
          };
          auto packet = [&](llvm::Value *start) {
            Vals p;
            for (int64_t j = 0; j < lanes; ++j)
              p.push_back(at(b.CreateAdd(start, i64(j))));
            return p;
          };
          auto addTo = [&](Vals &acc, const Vals &p) {
            for (size_t j = 0; j < acc.size(); ++j)
              acc[j] = b.CreateFAdd(acc[j], p[j]);
          };
          // Adds elements [lo, hi) one by one to s.
          auto serial = [&](llvm::Value *s, llvm::Value *lo, llvm::Value *hi) {
            return ops::forLoop(b, lo, hi, {s}, [&](llvm::Value *k, Vals &c) {
              return Vals{b.CreateFAdd(c[0], at(k))};
            })[0];
          };
          // The head (math::packetSumHead) and the whole packets after it.
          llvm::Value *head = i64(0);
          if (aligned) {
            llvm::Value *mis = b.CreateURem(base, i64(lanes));
            head = b.CreateURem(b.CreateSub(i64(lanes), mis), i64(lanes));
            head =
                b.CreateSelect(b.CreateICmpULT(head, i64(len)), head, i64(len));
          }
          llvm::Value *m =
              b.CreateUDiv(b.CreateSub(i64(len), head), i64(lanes));
          llvm::Value *pairs = b.CreateUDiv(m, i64(2));
          Vals s = ifElse(
              b, b.CreateICmpEQ(m, i64(0)),
              [&] { return Vals{serial(at(i64(0)), i64(1), i64(len))}; },
              [&] {
                Vals a = packet(head);
                a = ifElse(
                    b, b.CreateICmpUGE(m, i64(2)),
                    [&] {
                      Vals acc = a;
                      for (llvm::Value *v :
                           packet(b.CreateAdd(head, i64(lanes))))
                        acc.push_back(v);
                      acc = ops::forLoop(
                          b, i64(1), pairs, acc, [&](llvm::Value *p, Vals &c) {
                            llvm::Value *q = b.CreateAdd(
                                head, b.CreateMul(p, i64(2 * lanes)));
                            Vals lo = packet(q),
                                 hi = packet(b.CreateAdd(q, i64(lanes)));
                            Vals ra(c.begin(), c.begin() + lanes),
                                rb(c.begin() + lanes, c.end());
                            addTo(ra, lo);
                            addTo(rb, hi);
                            ra.insert(ra.end(), rb.begin(), rb.end());
                            return ra;
                          });
                      Vals ra(acc.begin(), acc.begin() + lanes),
                          rb(acc.begin() + lanes, acc.end());
                      addTo(ra, rb);
                      return ifElse(
                          b, b.CreateICmpNE(b.CreateURem(m, i64(2)), i64(0)),
                          [&] {
                            Vals r = ra;
                            addTo(r, packet(b.CreateAdd(
                                         head,
                                         b.CreateMul(pairs, i64(2 * lanes)))));
                            return r;
                          },
                          [&] { return ra; });
                    },
                    [&] { return a; });
                for (int64_t w = lanes / 2; w >= 1; w /= 2)
                  for (int64_t j = 0; j < w; ++j)
                    a[size_t(j)] = b.CreateFAdd(a[size_t(j)], a[size_t(j + w)]);
                llvm::Value *r = serial(a[0], i64(0), head);
                llvm::Value *tail =
                    b.CreateAdd(head, b.CreateMul(m, i64(lanes)));
                return Vals{serial(r, tail, i64(len))};
              });
          b.CreateStore(s[0], b.CreateInBoundsGEP(f32, py, i[0]));
        });
      });
  return Status::ok();
}

} // namespace ember::cpugen
