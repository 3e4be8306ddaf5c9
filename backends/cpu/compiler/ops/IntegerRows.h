// IR helpers shared by IntegerSoftmax and IntegerNormalization (Emit rows
// of CpuOps.def): the fixed tables of ember/quant/Transformer.h as private
// constants of the module, their interpolated read, the shifts the row
// algorithms round with, and the stored kinds' loads, stores and ranges.
// Each helper is the header's function of the same name, step for step, so
// the generated rows give the interpreter's bits.
#pragma once

#include "OpLoops.h"

#include "ember/quant/Transformer.h"

namespace ember::cpugen::ops {

// One of the three tables as an i32 array constant of the module, made
// once per module.
inline llvm::GlobalVariable *transformerTable(llvm::Module &m,
                                              const std::string &name,
                                              const int32_t *t, size_t n) {
  const std::string sym = "ember.quant." + name;
  if (llvm::GlobalVariable *g = m.getNamedGlobal(sym))
    return g;
  llvm::Constant *init = llvm::ConstantDataArray::get(
      m.getContext(), llvm::ArrayRef<int32_t>(t, n));
  return new llvm::GlobalVariable(m, init->getType(), true,
                                  llvm::GlobalValue::PrivateLinkage, init, sym);
}

// quant::interpTable: t[i] * 256 + (t[i + 1] - t[i]) * off, as i64 (i and
// off i32, i in range).
inline llvm::Value *interpTable(llvm::IRBuilder<> &b, llvm::GlobalVariable *t,
                                llvm::Value *i, llvm::Value *off) {
  llvm::Type *i32 = b.getInt32Ty(), *i64 = b.getInt64Ty();
  llvm::Value *idx = b.CreateSExt(i, i64);
  auto at = [&](llvm::Value *k) {
    return b.CreateSExt(
        b.CreateLoad(
            i32, b.CreateInBoundsGEP(t->getValueType(), t, {b.getInt64(0), k})),
        i64);
  };
  llvm::Value *lo = at(idx), *hi = at(b.CreateAdd(idx, b.getInt64(1)));
  return b.CreateAdd(b.CreateMul(lo, b.getInt64(256)),
                     b.CreateMul(b.CreateSub(hi, lo), b.CreateSExt(off, i64)));
}

// quant::roundShift: (v + 2^(s-1)) >> s (arithmetic), s >= 1 of v's width.
inline llvm::Value *roundShift(llvm::IRBuilder<> &b, llvm::Value *v,
                               llvm::Value *s) {
  llvm::Type *t = v->getType();
  llvm::Value *one = llvm::ConstantInt::get(t, 1);
  return b.CreateAShr(b.CreateAdd(v, b.CreateShl(one, b.CreateSub(s, one))), s);
}

// The stored range of a result kind (the interpreter's storedRange).
inline void storedRange(ElemKind k, int64_t &lo, int64_t &hi) {
  const quant::Range r = k == ElemKind::I16 ? quant::rangeOf(true, 16)
                                            : quant::rangeOf(k == ElemKind::I8);
  lo = r.lo;
  hi = r.hi;
}

// Element i of a u8/i8/i16 tensor at p, extended to i32.
inline llvm::Value *loadStored(Codegen &cg, ElemKind k, llvm::Value *p,
                               llvm::Value *i) {
  llvm::IRBuilder<> &b = *cg.b_;
  llvm::Type *t = cg.elemType(k);
  llvm::Value *v = b.CreateLoad(t, b.CreateInBoundsGEP(t, p, i));
  return k == ElemKind::U8 ? b.CreateZExt(v, b.getInt32Ty())
                           : b.CreateSExt(v, b.getInt32Ty());
}

// v (any integer width) clamped to [lo, hi], signed.
inline llvm::Value *clampTo(llvm::IRBuilder<> &b, llvm::Value *v, int64_t lo,
                            int64_t hi) {
  llvm::Type *w = v->getType();
  llvm::Value *l = llvm::ConstantInt::get(w, uint64_t(lo), true);
  llvm::Value *h = llvm::ConstantInt::get(w, uint64_t(hi), true);
  v = b.CreateSelect(b.CreateICmpSLT(v, l), l, v);
  return b.CreateSelect(b.CreateICmpSGT(v, h), h, v);
}

// Stores v (any integer width) clamped to [lo, hi] as element i of a
// u8/i8/i16 tensor at p.
inline void storeClamped(Codegen &cg, ElemKind k, llvm::Value *p,
                         llvm::Value *i, llvm::Value *v, int64_t lo,
                         int64_t hi) {
  llvm::IRBuilder<> &b = *cg.b_;
  llvm::Type *t = cg.elemType(k);
  b.CreateStore(b.CreateTrunc(clampTo(b, v, lo, hi), t),
                b.CreateInBoundsGEP(t, p, i));
}

} // namespace ember::cpugen::ops
