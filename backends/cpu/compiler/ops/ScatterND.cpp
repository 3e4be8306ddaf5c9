// ScatterND (an Emit row of CpuOps.def): the data copied into the result
// (split over the workers; the operand may have other readers, so the
// result is never the operand's storage), then the updates
// applied one index tuple after another in the reference kernel's order, so
// repeated indices resolve as there (none: the last wins; add, mul, max,
// min: combined in the compute kind, 16-bit floats in f32). A negative index
// counts from the end; one out of range makes ember_main return
// kStatusIndexOutOfRange, the reference's error.
#include "OpLoops.h"

namespace ember::cpugen {

Status emit_ScatterND(Codegen &cg, const Group &g) {
  const Node &n = *g.root;
  const Value &x = n.inputs[0], &ind = n.inputs[1], &upd = n.inputs[2];
  Value y(const_cast<Node *>(&n), 0);
  ElemKind k = x.type().elem(), ik = ind.type().elem();
  const Dims &xd = x.type().dims(), &id = ind.type().dims();
  int64_t r = int64_t(xd.size()), q = int64_t(id.size());
  int64_t tuple = id.back(), count = 1, slice = 1;
  for (int64_t i = 0; i + 1 < q; ++i)
    count *= id[size_t(i)];
  for (int64_t i = tuple; i < r; ++i)
    slice *= xd[size_t(i)];
  std::string red = n.attrString("reduction", "none");
  int64_t total = x.type().numElements();
  if (total == 0)
    return Status::ok();
  llvm::IRBuilder<> &b = *cg.b_;
  LoopGen lg(cg, g, b, {});
  llvm::Type *et = cg.elemType(k);
  cg.emitTask(
      "scatter.copy", total, 1, [&](llvm::Value *begin, llvm::Value *end) {
        llvm::Value *px = cg.ptrOfValue(x), *py = cg.ptrOfValue(y);
        cg.emitNest({total}, begin, end, [&](std::vector<llvm::Value *> &i) {
          b.CreateStore(b.CreateLoad(et, b.CreateInBoundsGEP(et, px, i[0])),
                        b.CreateInBoundsGEP(et, py, i[0]));
        });
      });
  if (count == 0 || slice == 0)
    return Status::ok();
  std::vector<int64_t> stride(size_t(r), 1);
  for (int64_t d = r - 1; d > 0; --d)
    stride[size_t(d - 1)] = stride[size_t(d)] * xd[size_t(d)];
  bool fl = isComputeFloatKind(k), sgn = isSignedInt(k);
  cg.emitTask("scatter", 1, count * slice, [&](llvm::Value *, llvm::Value *) {
    llvm::Value *pi = cg.ptrOfValue(ind), *pu = cg.ptrOfValue(upd),
                *py = cg.ptrOfValue(y);
    llvm::Type *it = cg.elemType(ik);
    ops::forLoop(
        b, b.getInt64(0), b.getInt64(uint64_t(count)), {},
        [&](llvm::Value *p, std::vector<llvm::Value *> &) {
          llvm::Value *off = b.getInt64(0);
          for (int64_t j = 0; j < tuple; ++j) {
            llvm::Value *e =
                b.CreateAdd(b.CreateMul(p, b.getInt64(uint64_t(tuple))),
                            b.getInt64(uint64_t(j)));
            llvm::Value *v =
                b.CreateSExt(b.CreateLoad(it, b.CreateInBoundsGEP(it, pi, e)),
                             b.getInt64Ty());
            llvm::Value *dim = b.getInt64(uint64_t(xd[size_t(j)]));
            v = b.CreateSelect(b.CreateICmpSLT(v, b.getInt64(0)),
                               b.CreateAdd(v, dim), v);
            llvm::Value *bad = b.CreateOr(b.CreateICmpSLT(v, b.getInt64(0)),
                                          b.CreateICmpSGE(v, dim));
            cg.flagError(bad, kStatusIndexOutOfRange);
            v = b.CreateSelect(bad, b.getInt64(0), v);
            off = b.CreateAdd(
                off, b.CreateMul(v, b.getInt64(uint64_t(stride[size_t(j)]))));
          }
          llvm::Value *src = b.CreateMul(p, b.getInt64(uint64_t(slice)));
          ops::forLoop(
              b, b.getInt64(0), b.getInt64(uint64_t(slice)), {},
              [&](llvm::Value *s, std::vector<llvm::Value *> &) {
                llvm::Value *d = b.CreateAdd(off, s);
                llvm::Value *u = b.CreateAdd(src, s);
                if (red == "none") {
                  b.CreateStore(
                      b.CreateLoad(et, b.CreateInBoundsGEP(et, pu, u)),
                      b.CreateInBoundsGEP(et, py, d));
                  return std::vector<llvm::Value *>{};
                }
                llvm::Value *a = ops::loadElem(lg, k, py, d);
                llvm::Value *c = ops::loadElem(lg, k, pu, u);
                llvm::Value *v = nullptr;
                bool bl = k == ElemKind::Bool;
                if (red == "add")
                  v = bl   ? b.CreateOr(a, c)
                      : fl ? b.CreateFAdd(a, c)
                           : b.CreateAdd(a, c);
                else if (red == "mul")
                  v = bl   ? b.CreateAnd(a, c)
                      : fl ? b.CreateFMul(a, c)
                           : b.CreateMul(a, c);
                else { // std::max(a, c) / std::min(a, c): a unless c wins
                  llvm::Value *lt = red == "max" ? a : c,
                              *rt = red == "max" ? c : a;
                  llvm::Value *wins = fl ? b.CreateFCmpOLT(lt, rt)
                                         : (sgn ? b.CreateICmpSLT(lt, rt)
                                                : b.CreateICmpULT(lt, rt));
                  v = b.CreateSelect(wins, c, a);
                }
                ops::storeElem(lg, k, py, d, v);
                return std::vector<llvm::Value *>{};
              });
          return std::vector<llvm::Value *>{};
        });
  });
  return Status::ok();
}

} // namespace ember::cpugen
