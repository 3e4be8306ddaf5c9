// QuantizedSoftmax (an Emit row of CpuOps.def): the float32 profile's
// softmax of 8-bit values, one generated pass per line along the axis,
// lines split over the workers. Each step is quant::softmaxLine's (the
// reference kernel calls it), one IEEE float32 operation at a time: the
// line's maximum, its table entries added in index order, then per element
// f32(e * scale) / sum rounded half to even and converted and saturated as
// quant::softmaxStore says (x86's conversions spelled out, so an
// out-of-range value gives the same result on every target). Bit for bit
// the interpreter's.
#include "OpLoops.h"

#include "ember/quant/Arith.h"

namespace ember::cpugen {

namespace {

using Vals = std::vector<llvm::Value *>;

// quant::softmaxStore of v = f32(e * scale) / sum, as an i8 to store.
llvm::Value *store8(llvm::IRBuilder<> &b, llvm::Value *v, int32_t zp,
                    bool isSigned) {
  llvm::Type *f32 = b.getFloatTy();
  auto fc = [&](double c) { return llvm::ConstantFP::get(f32, c); };
  llvm::Value *r = b.CreateUnaryIntrinsic(llvm::Intrinsic::roundeven, v);
  if (isSigned) {
    // quant::x86FloatToInt32, then a wrapping add and the clamp.
    llvm::Value *in = b.CreateAnd(b.CreateFCmpOGE(r, fc(-2147483648.0)),
                                  b.CreateFCmpOLT(r, fc(2147483648.0)));
    llvm::Value *safe = b.CreateSelect(in, r, fc(0));
    llvm::Value *i = b.CreateSelect(in, b.CreateFPToSI(safe, b.getInt32Ty()),
                                    b.getInt32(0x80000000u));
    i = b.CreateAdd(i, b.getInt32(uint32_t(zp)));
    i = b.CreateSelect(b.CreateICmpSGT(i, b.getInt32(127)), b.getInt32(127), i);
    i = b.CreateSelect(b.CreateICmpSLT(i, b.getInt32(uint32_t(-128))),
                       b.getInt32(uint32_t(-128)), i);
    return b.CreateTrunc(i, b.getInt8Ty());
  }
  // quant::x86FloatToInt64's low 32 bits, an unsigned add, min with 255.
  llvm::Value *in = b.CreateAnd(b.CreateFCmpOGE(r, fc(-9223372036854775808.0)),
                                b.CreateFCmpOLT(r, fc(9223372036854775808.0)));
  llvm::Value *safe = b.CreateSelect(in, r, fc(0));
  llvm::Value *w = b.CreateSelect(in, b.CreateFPToSI(safe, b.getInt64Ty()),
                                  b.getInt64(uint64_t(1) << 63));
  llvm::Value *u =
      b.CreateAdd(b.CreateTrunc(w, b.getInt32Ty()), b.getInt32(uint32_t(zp)));
  u = b.CreateSelect(b.CreateICmpUGT(u, b.getInt32(255)), b.getInt32(255), u);
  return b.CreateTrunc(u, b.getInt8Ty());
}

} // namespace

Status emit_QuantizedSoftmax(Codegen &cg, const Group &g) {
  const Node &n = *g.root;
  const Value &x = n.inputs[0];
  Value y(const_cast<Node *>(&n), 0);
  const Dims &dims = x.type().dims();
  const int64_t axis = ops::axisOf(n, dims.size());
  const int64_t len = dims[size_t(axis)];
  if (x.type().numElements() == 0)
    return Status::ok();
  const bool sg = x.type().elem() == ElemKind::I8;
  const float scale = float(n.attrFloat("scale", 1));
  const int32_t zp = int32_t(n.attrInt("y_zero_point", 0));
  llvm::IRBuilder<> &b = *cg.b_;
  llvm::Type *f32 = b.getFloatTy(), *i8 = b.getInt8Ty();
  auto i64 = [&](int64_t v) { return b.getInt64(uint64_t(v)); };
  llvm::Value *px = nullptr, *py = nullptr, *pt = nullptr;
  ops::emitLines(
      cg, "qsoftmax", dims, size_t(axis), 3 * len,
      [&] {
        px = cg.ptrOfValue(x);
        py = cg.ptrOfValue(y);
        pt = cg.ptrOfValue(n.inputs[1]);
      },
      [&](const ops::LineIndex &at) {
        auto load = [&](llvm::Value *j) {
          llvm::Value *v = b.CreateLoad(i8, b.CreateInBoundsGEP(i8, px, at(j)));
          return sg ? b.CreateSExt(v, b.getInt32Ty())
                    : b.CreateZExt(v, b.getInt32Ty());
        };
        // T[255 - (m - x_j)]
        auto entry = [&](llvm::Value *m, llvm::Value *xj) {
          llvm::Value *k = b.CreateSub(b.getInt32(255), b.CreateSub(m, xj));
          return b.CreateLoad(
              f32,
              b.CreateInBoundsGEP(f32, pt, b.CreateSExt(k, b.getInt64Ty())));
        };
        llvm::Value *m = ops::lineMax(b, len, load);
        llvm::Value *sum =
            ops::forLoop(b, i64(0), i64(len), {llvm::ConstantFP::get(f32, 0.0)},
                         [&](llvm::Value *j, Vals &c) {
                           return Vals{b.CreateFAdd(c[0], entry(m, load(j)))};
                         })[0];
        llvm::Value *sc = llvm::ConstantFP::get(f32, double(scale));
        ops::forLoop(b, i64(0), i64(len), {}, [&](llvm::Value *j, Vals &) {
          llvm::Value *v =
              b.CreateFDiv(b.CreateFMul(entry(m, load(j)), sc), sum);
          b.CreateStore(store8(b, v, zp, sg),
                        b.CreateInBoundsGEP(i8, py, at(j)));
          return Vals{};
        });
      });
  return Status::ok();
}

} // namespace ember::cpugen
