// Softmax groups (Fusion.cpp, softmaxChain): the lowered float softmax along
// the last axis, ReduceMax -> Sub -> Exp -> ReduceSum -> Div, run one line
// at a time, lines split over the workers. Each line takes four passes while
// it is in the L1 cache:
//   m = the line's maximum (llvm.maximum, the Reduce groups' combine: NaN
//       wins, +0 above -0, the reference's rule in any order);
//   e_j = exp(x_j - m), Ember's f32 exp (LoopGen::expNonPositiveOf: x_j - m
//       is at most 0 or NaN), stored into y
//       (interleaved as the loops over curves are, Codegen::interleaveFor);
//   s = the sum of the e_j in double, reassociated as the Reduce groups'
//       contiguous f32 sums are (README.md, "Code generation"): a pass of
//       its own, so that the exp runs at the full vector width rather than
//       at the width of the double accumulators;
//   y_j = e_j / f32(s).
// Unfused, the four groups each walked the whole tensor (ViT-S/16's
// [6, 197, 197] scores: 0.93 MB a pass, beyond L2 here). Each element's
// operations are the unfused ones; only the sum's order may differ, as it
// already could. When the memory plan puts y in x's bytes, both are
// addressed through one pointer: each pass reads an element before it
// writes it, and LLVM then sees that without a run-time overlap check (which
// would send such lines to the scalar loop).
#include "Codegen.h"
#include "LoopGen.h"
#include "ops/OpLoops.h"

#include <llvm/IR/Instructions.h>
#include <llvm/IR/Intrinsics.h>

#include <algorithm>
#include <limits>

namespace ember::cpugen {

Status Codegen::emitSoftmax(const Group &g) {
  const Node &mx = *g.members.front(), &dv = *g.members.back();
  const Value &x = mx.inputs[0];
  Value y(const_cast<Node *>(&dv), 0);
  const Dims &dims = x.type().dims();
  const int64_t count = x.type().numElements();
  if (count == 0)
    return Status::ok();
  if (physStrides(x) != contiguous(dims) || physStrides(y) != contiguous(dims))
    return makeError(ErrorCode::Internal,
                     "internal: a softmax group's lines are not contiguous (",
                     dv.describe(), ")");
  const int64_t len = dims.back(), lines = count / len;
  llvm::IRBuilder<> &b = *b_;
  llvm::Type *f32 = b.getFloatTy(), *f64 = b.getDoubleTy();
  auto i64 = [&](int64_t v) { return b.getInt64(uint64_t(v)); };
  LoopGen lg(*this, g, b, dims);
  const Loc lx = locOf(x), ly = locOf(y);
  auto bytesAt = [&](const Loc &l) {
    return l.kind == LocKind::Arena ? bufferOffset_[l.index] + l.offset
                                    : l.offset;
  };
  const bool inPlace = lx.kind == ly.kind && bytesAt(lx) == bytesAt(ly) &&
                       (lx.kind == LocKind::Arena || lx.index == ly.index);
  using Vals = std::vector<llvm::Value *>;
  // Blocks of lines of about 16 KiB (half of an L1 data cache), so that the
  // block's passes all read it from L1.
  const int64_t perBlock = std::max<int64_t>(1, 4096 / len);
  const int64_t blocks = (lines + perBlock - 1) / perBlock;
  // About 30 operations an element for the exp, a few for the rest.
  emitTask(
      "softmax", blocks, 32 * len * perBlock,
      [&](llvm::Value *begin, llvm::Value *end) {
        llvm::Value *px = ptrOfValue(x);
        llvm::Value *py = inPlace ? px : ptrOfValue(y);
        emitNest({blocks}, begin, end, [&](std::vector<llvm::Value *> &i) {
          llvm::Value *l0 = b.CreateMul(i[0], i64(perBlock));
          llvm::Value *l1 = b.CreateBinaryIntrinsic(
              llvm::Intrinsic::smin, b.CreateAdd(l0, i64(perBlock)),
              i64(lines));
          auto elem = [&](llvm::Value *p, llvm::Value *k) {
            return b.CreateInBoundsGEP(f32, p, k);
          };
          // Over each line of the block: body(index of the line's element 0).
          auto eachLine = [&](const std::function<void(llvm::Value *)> &body) {
            ops::forLoop(b, l0, l1, {}, [&](llvm::Value *line, Vals &) {
              body(b.CreateMul(line, i64(len)));
              return Vals{};
            });
          };
          auto overLine =
              [&](llvm::Value *base, Vals init,
                  const std::function<Vals(llvm::Value *, Vals &)> &body) {
                return ops::forLoop(b, i64(0), i64(len), std::move(init),
                                    [&](llvm::Value *j, Vals &c) {
                                      return body(b.CreateAdd(base, j), c);
                                    });
              };
          const double inf = std::numeric_limits<double>::infinity();
          // d_j = x_j - m, per line.
          eachLine([&](llvm::Value *base) {
            llvm::Value *m = overLine(base, {llvm::ConstantFP::get(f32, -inf)},
                                      [&](llvm::Value *k, Vals &c) {
                                        return Vals{b.CreateBinaryIntrinsic(
                                            llvm::Intrinsic::maximum, c[0],
                                            b.CreateLoad(f32, elem(px, k)))};
                                      })[0];
            overLine(base, {}, [&](llvm::Value *k, Vals &) {
              b.CreateStore(b.CreateFSub(b.CreateLoad(f32, elem(px, k)), m),
                            elem(py, k));
              return Vals{};
            });
          });
          // e = exp(d) over the whole block: one loop, one remainder.
          lg.curves = 0;
          llvm::Instruction *backEdge = nullptr;
          ops::forLoop(
              b, b.CreateMul(l0, i64(len)), b.CreateMul(l1, i64(len)), {},
              [&](llvm::Value *k, Vals &) {
                b.CreateStore(
                    lg.expNonPositiveOf(ElemKind::F32,
                                        b.CreateLoad(f32, elem(py, k))),
                    elem(py, k));
                return Vals{};
              },
              &backEdge);
          // (The count is known once the body is generated.)
          if (unsigned ic = interleaveFor(lg.curves, len * perBlock))
            interleaveLoop(backEdge, ic);
          // y_j = e_j / sum, per line.
          eachLine([&](llvm::Value *base) {
            llvm::Value *sum = overLine(
                base, {llvm::ConstantFP::get(f64, 0.0)},
                [&](llvm::Value *k, Vals &c) {
                  return Vals{allowReassoc(b.CreateFAdd(
                      c[0],
                      b.CreateFPExt(b.CreateLoad(f32, elem(py, k)), f64)))};
                })[0];
            llvm::Value *sf = b.CreateFPTrunc(sum, f32);
            overLine(base, {}, [&](llvm::Value *k, Vals &) {
              b.CreateStore(b.CreateFDiv(b.CreateLoad(f32, elem(py, k)), sf),
                            elem(py, k));
              return Vals{};
            });
          });
        });
      });
  return Status::ok();
}

} // namespace ember::cpugen
