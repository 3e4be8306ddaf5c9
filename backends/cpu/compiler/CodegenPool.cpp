// MaxPool / AveragePool as generated loops. The window geometry is a
// compile-time constant, so the output rows and columns whose windows lie
// entirely inside the input are known here: they get a loop with no bounds
// checks (vectorized by LLVM), the border a checked one. Results are the
// reference kernel's (core/interp/kernels/NnPool.cpp): the max starts from
// the first valid element, the average sums in window order in f32 and
// divides by the valid (or padded, count_include_pad) count. u8/i8 tensors
// (the integer forms of docs/quantization.md) load into f32 registers,
// where their values and window sums are exact, and store back as
// integers: the max as is, the average as Ember's integer average
// (quant::averageHalfUp; padded taps read `pad_value` when counted). An
// unchecked window's integer max is the byte max itself (the same value).
#include "Capability.h"
#include "Codegen.h"
#include "Geometry.h"

#include <llvm/IR/Constants.h>
#include <llvm/IR/Intrinsics.h>

#include <algorithm>

namespace ember::cpugen {

namespace {

// [lo, hi): outputs o whose window o*s - pad + k*d (k < kernel) is inside
// [0, extent) for every k.
void interior(int64_t out, int64_t extent, int64_t k, int64_t s, int64_t d,
              int64_t pad, int64_t &lo, int64_t &hi) {
  lo = out;
  hi = 0;
  for (int64_t o = 0; o < out; ++o) {
    int64_t first = o * s - pad, last = first + (k - 1) * d;
    if (first >= 0 && last < extent) {
      lo = std::min(lo, o);
      hi = std::max(hi, o + 1);
    }
  }
  if (lo >= hi)
    lo = hi = 0;
}

} // namespace

Status Codegen::emitPool(const Group &g, Step &) {
  const Node &n = *g.anchor;
  Window w;
  std::string why;
  if (!windowOf(n, n.inputs[0].type(), n.attrInts("kernel_shape"),
                n.attrInt("ceil_mode", 0) != 0, w, why))
    return unsupported(n.describe(), ": ", why);
  bool isMax = n.kind == OpKind::MaxPool;
  bool includePad = !isMax && n.attrInt("count_include_pad", 0) != 0;
  Value root(const_cast<Node *>(g.root), 0);
  int64_t planes = w.n * w.c;
  int64_t rowLo, rowHi, colLo, colHi;
  interior(w.oh, w.h, w.kh, w.sh, w.dh, w.pt, rowLo, rowHi);
  interior(w.ow, w.w, w.kw, w.sw, w.dw, w.pl, colLo, colHi);
  llvm::IRBuilder<> &b = *b_;
  llvm::Type *f32 = b.getFloatTy(), *i64 = b.getInt64Ty();
  auto c64 = [&](int64_t v) { return b.getInt64(uint64_t(v)); };
  const ElemKind ek = n.inputs[0].type().elem();
  const bool isInt = ek == ElemKind::U8 || ek == ElemKind::I8;
  llvm::Type *et = isInt ? b.getInt8Ty() : f32;
  const int64_t padValue = isInt ? n.attrInt("pad_value", 0) : 0;
  // Element `off` of x as f32 (8-bit integers exactly).
  auto loadX = [&](llvm::Value *x, llvm::Value *off) -> llvm::Value * {
    llvm::Value *v = b.CreateLoad(et, b.CreateInBoundsGEP(et, x, off));
    if (!isInt)
      return v;
    return ek == ElemKind::I8 ? b.CreateSIToFP(v, f32) : b.CreateUIToFP(v, f32);
  };
  // Stores a window's result: f32 as is; an integer max converted back;
  // an integer average of `sum` over `cnt` taps rounded half up
  // (quant::averageHalfUp), pad_value for a window with no taps.
  auto storeY = [&](llvm::Value *y, llvm::Value *yo, llvm::Value *r,
                    llvm::Value *cnt) {
    llvm::Value *ptr = b.CreateInBoundsGEP(et, y, yo);
    if (!isInt) {
      b.CreateStore(r, ptr);
      return;
    }
    llvm::Value *v = b.CreateFPToSI(r, i64);
    if (!isMax) {
      llvm::Value *safe =
          b.CreateSelect(b.CreateICmpEQ(cnt, c64(0)), c64(1), cnt);
      llvm::Value *num = b.CreateAdd(b.CreateMul(v, c64(2)), safe);
      llvm::Value *den = b.CreateMul(safe, c64(2));
      llvm::Value *q = b.CreateSDiv(num, den);
      llvm::Value *fix =
          b.CreateAnd(b.CreateICmpNE(b.CreateSRem(num, den), c64(0)),
                      b.CreateICmpSLT(num, c64(0)));
      q = b.CreateSub(q, b.CreateZExt(fix, i64));
      v = b.CreateSelect(b.CreateICmpEQ(cnt, c64(0)), c64(padValue), q);
    }
    b.CreateStore(b.CreateTrunc(v, et), ptr);
  };

  // Element (n, c, h, w) of x at n*sx[0] + c*sx[1] + h*sx[2] + w*sx[3]
  // (row-major or channels-last, as chooseLayouts stored it); y likewise.
  // A 1-D window's tensors have no h (windowOf: one row): stride 0. (The
  // loops used to read a fourth stride past the end of the three.)
  auto fourD = [](std::vector<int64_t> s) {
    if (s.size() == 3)
      s.insert(s.begin() + 2, 0);
    return s;
  };
  const std::vector<int64_t> sx = fourD(physStrides(n.inputs[0]));
  const std::vector<int64_t> sy = fourD(physStrides(root));
  const bool channelsLast = sx[1] == 1 && w.c > 1;
  bool unrollable = w.kh * w.kw <= 64 && colHi > colLo && rowHi > rowLo;

  // The checked window's stack slots (accumulator, any element seen,
  // count), made at the top of each task function by taskSlots().
  llvm::Value *accSlot = nullptr, *anySlot = nullptr, *cntSlot = nullptr;
  auto taskSlots = [&] {
    accSlot = b.CreateAlloca(f32);
    anySlot = b.CreateAlloca(b.getInt1Ty());
    cntSlot = b.CreateAlloca(i64);
  };
  // One output element. `xb`: the offset of x[n][c][0][0]; `yo`: of the
  // output element; ih0/iw0: the window's top-left input position.
  auto checked = [&](llvm::Value *x, llvm::Value *y, llvm::Value *xb,
                     llvm::Value *yo, llvm::Value *ih0, llvm::Value *iw0) {
    b.CreateStore(llvm::ConstantFP::get(f32, 0.0), accSlot);
    b.CreateStore(b.getInt1(false), anySlot);
    b.CreateStore(c64(0), cntSlot);
    emitNest(
        {w.kh, w.kw}, c64(0), c64(w.kh), [&](std::vector<llvm::Value *> &ki) {
          llvm::Value *ih = b.CreateAdd(ih0, b.CreateMul(ki[0], c64(w.dh)));
          llvm::Value *iw = b.CreateAdd(iw0, b.CreateMul(ki[1], c64(w.dw)));
          llvm::Value *inside =
              b.CreateAnd(b.CreateAnd(b.CreateICmpSGE(ih, c64(0)),
                                      b.CreateICmpSLT(ih, c64(w.h))),
                          b.CreateAnd(b.CreateICmpSGE(iw, c64(0)),
                                      b.CreateICmpSLT(iw, c64(w.w))));
          // A clamped address: loaded always, used only inside.
          llvm::Value *off = b.CreateSelect(
              inside,
              b.CreateAdd(xb, b.CreateAdd(b.CreateMul(ih, c64(sx[2])),
                                          b.CreateMul(iw, c64(sx[3])))),
              xb);
          llvm::Value *v = loadX(x, off);
          llvm::Value *acc = b.CreateLoad(f32, accSlot);
          llvm::Value *nacc;
          if (isMax) {
            llvm::Value *any = b.CreateLoad(b.getInt1Ty(), anySlot);
            llvm::Value *take = b.CreateAnd(
                inside, b.CreateOr(b.CreateNot(any), b.CreateFCmpOGT(v, acc)));
            nacc = b.CreateSelect(take, v, acc);
            b.CreateStore(b.CreateOr(any, inside), anySlot);
          } else {
            nacc = b.CreateSelect(inside, b.CreateFAdd(acc, v), acc);
            llvm::Value *counted = inside;
            if (includePad) {
              llvm::Value *padded = b.CreateAnd(
                  b.CreateAnd(b.CreateICmpSGE(ih, c64(-w.pt)),
                              b.CreateICmpSLT(ih, c64(w.h + w.pb))),
                  b.CreateAnd(b.CreateICmpSGE(iw, c64(-w.pl)),
                              b.CreateICmpSLT(iw, c64(w.w + w.pr))));
              counted = b.CreateOr(inside, padded);
              if (padValue != 0) // integer padded taps read pad_value
                nacc = b.CreateSelect(
                    b.CreateAnd(padded, b.CreateNot(inside)),
                    b.CreateFAdd(acc,
                                 llvm::ConstantFP::get(f32, double(padValue))),
                    nacc);
            }
            b.CreateStore(b.CreateAdd(b.CreateLoad(i64, cntSlot),
                                      b.CreateZExt(counted, i64)),
                          cntSlot);
          }
          b.CreateStore(nacc, accSlot);
        });
    llvm::Value *r = b.CreateLoad(f32, accSlot);
    llvm::Value *cnt = nullptr;
    if (!isMax) {
      cnt = b.CreateLoad(i64, cntSlot);
      if (!isInt)
        r = b.CreateSelect(b.CreateICmpEQ(cnt, c64(0)),
                           llvm::ConstantFP::get(f32, 0.0),
                           b.CreateFDiv(r, b.CreateSIToFP(cnt, f32)));
    }
    storeY(y, yo, r, cnt);
  };
  // The whole window is inside the input: no checks, taps unrolled.
  auto fast = [&](llvm::Value *x, llvm::Value *y, llvm::Value *xb,
                  llvm::Value *yo, llvm::Value *ih0, llvm::Value *iw0) {
    llvm::Value *base =
        b.CreateAdd(xb, b.CreateAdd(b.CreateMul(ih0, c64(sx[2])),
                                    b.CreateMul(iw0, c64(sx[3]))));
    if (isInt && isMax) {
      // The 8-bit maximum itself (the f32 form's value, exactly): byte
      // max instructions on the vectorized channels, not a conversion to
      // f32 and back per tap (ShuffleNet's 3x3/2 MaxPool on 112x112x24
      // ran 0.14 ms so, behind ONNX Runtime's NhwcMaxPool).
      llvm::Intrinsic::ID id =
          ek == ElemKind::I8 ? llvm::Intrinsic::smax : llvm::Intrinsic::umax;
      llvm::Value *m = nullptr;
      for (int64_t kh = 0; kh < w.kh; ++kh)
        for (int64_t kw = 0; kw < w.kw; ++kw) {
          llvm::Value *off =
              b.CreateAdd(base, c64(kh * w.dh * sx[2] + kw * w.dw * sx[3]));
          llvm::Value *v = b.CreateLoad(et, b.CreateInBoundsGEP(et, x, off));
          m = m ? b.CreateBinaryIntrinsic(id, m, v) : v;
        }
      b.CreateStore(m, b.CreateInBoundsGEP(et, y, yo));
      return;
    }
    llvm::Value *acc = nullptr;
    for (int64_t kh = 0; kh < w.kh; ++kh)
      for (int64_t kw = 0; kw < w.kw; ++kw) {
        llvm::Value *v = loadX(
            x, b.CreateAdd(base, c64(kh * w.dh * sx[2] + kw * w.dw * sx[3])));
        if (!acc)
          acc = v;
        else if (isMax)
          acc = b.CreateSelect(b.CreateFCmpOGT(v, acc), v, acc);
        else
          acc = b.CreateFAdd(acc, v);
      }
    if (!isMax && !isInt)
      acc = b.CreateFDiv(acc, llvm::ConstantFP::get(f32, double(w.kh * w.kw)));
    storeY(y, yo, acc, c64(w.kh * w.kw));
  };
  // Branches to `inner` (fast) when `cond`, else to `edge`.
  auto split = [&](llvm::Value *cond, const std::function<void()> &inner,
                   const std::function<void()> &edge) {
    llvm::Function *fn = b.GetInsertBlock()->getParent();
    auto *fastBb = llvm::BasicBlock::Create(*ctx_, "pool.row", fn);
    auto *slowBb = llvm::BasicBlock::Create(*ctx_, "pool.edge", fn);
    auto *doneBb = llvm::BasicBlock::Create(*ctx_, "pool.next", fn);
    b.CreateCondBr(cond, fastBb, slowBb);
    b.SetInsertPoint(fastBb);
    inner();
    b.CreateBr(doneBb);
    b.SetInsertPoint(slowBb);
    edge();
    b.CreateBr(doneBb);
    b.SetInsertPoint(doneBb);
  };
  auto inRange = [&](llvm::Value *v, int64_t lo, int64_t hi) {
    return b.CreateAnd(b.CreateICmpSGE(v, c64(lo)),
                       b.CreateICmpSLT(v, c64(hi)));
  };

  if (channelsLast) {
    // Channels-last input: tasks over (image, output row), then output
    // columns, then channels innermost: contiguous loads and, for a
    // channels-last result, contiguous stores (vectorized by LLVM).
    emitTask("pool", w.n * w.oh, w.ow * w.c * w.kh * w.kw,
             [&](llvm::Value *begin, llvm::Value *end) {
               llvm::Value *x = ptrOfValue(n.inputs[0]);
               llvm::Value *y = ptrOfValue(root);
               taskSlots();
               emitNest(
                   {w.n * w.oh, w.ow}, begin, end,
                   [&](std::vector<llvm::Value *> &pi) {
                     llvm::Value *img = b.CreateUDiv(pi[0], c64(w.oh));
                     llvm::Value *oh = b.CreateURem(pi[0], c64(w.oh));
                     llvm::Value *ow = pi[1];
                     llvm::Value *ih0 =
                         b.CreateSub(b.CreateMul(oh, c64(w.sh)), c64(w.pt));
                     llvm::Value *iw0 =
                         b.CreateSub(b.CreateMul(ow, c64(w.sw)), c64(w.pl));
                     llvm::Value *xImg = b.CreateMul(img, c64(sx[0]));
                     llvm::Value *yPix =
                         b.CreateAdd(b.CreateMul(img, c64(sy[0])),
                                     b.CreateAdd(b.CreateMul(oh, c64(sy[2])),
                                                 b.CreateMul(ow, c64(sy[3]))));
                     auto channels = [&](bool isFast) {
                       emitNest({w.c}, c64(0), c64(w.c),
                                [&](std::vector<llvm::Value *> &ci) {
                                  llvm::Value *xb = b.CreateAdd(
                                      xImg, b.CreateMul(ci[0], c64(sx[1])));
                                  llvm::Value *yo = b.CreateAdd(
                                      yPix, b.CreateMul(ci[0], c64(sy[1])));
                                  if (isFast)
                                    fast(x, y, xb, yo, ih0, iw0);
                                  else
                                    checked(x, y, xb, yo, ih0, iw0);
                                });
                     };
                     if (!unrollable) {
                       channels(false);
                       return;
                     }
                     split(
                         b.CreateAnd(inRange(oh, rowLo, rowHi),
                                     inRange(ow, colLo, colHi)),
                         [&] { channels(true); }, [&] { channels(false); });
                   });
             });
    return Status::ok();
  }

  // Row-major input: tasks over planes (image, channel), then output rows,
  // then columns; a row whose windows are all inside runs its interior
  // columns unchecked.
  emitTask(
      "pool", planes, w.oh * w.ow * w.kh * w.kw,
      [&](llvm::Value *begin, llvm::Value *end) {
        llvm::Value *x = ptrOfValue(n.inputs[0]);
        llvm::Value *y = ptrOfValue(root);
        taskSlots();
        emitNest(
            {planes, w.oh}, begin, end, [&](std::vector<llvm::Value *> &pi) {
              llvm::Value *img = b.CreateUDiv(pi[0], c64(w.c));
              llvm::Value *ch = b.CreateURem(pi[0], c64(w.c));
              llvm::Value *oh = pi[1];
              llvm::Value *xb = b.CreateAdd(b.CreateMul(img, c64(sx[0])),
                                            b.CreateMul(ch, c64(sx[1])));
              llvm::Value *yRow =
                  b.CreateAdd(b.CreateAdd(b.CreateMul(img, c64(sy[0])),
                                          b.CreateMul(ch, c64(sy[1]))),
                              b.CreateMul(oh, c64(sy[2])));
              llvm::Value *ih0 =
                  b.CreateSub(b.CreateMul(oh, c64(w.sh)), c64(w.pt));
              auto columns = [&](int64_t lo, int64_t hi, bool isFast) {
                emitNest({hi}, c64(lo), c64(hi),
                         [&](std::vector<llvm::Value *> &ci) {
                           llvm::Value *ow = ci[0];
                           llvm::Value *iw0 = b.CreateSub(
                               b.CreateMul(ow, c64(w.sw)), c64(w.pl));
                           llvm::Value *yo =
                               b.CreateAdd(yRow, b.CreateMul(ow, c64(sy[3])));
                           if (isFast)
                             fast(x, y, xb, yo, ih0, iw0);
                           else
                             checked(x, y, xb, yo, ih0, iw0);
                         });
              };
              if (!unrollable) {
                columns(0, w.ow, false);
                return;
              }
              split(
                  inRange(oh, rowLo, rowHi),
                  [&] {
                    if (colLo > 0)
                      columns(0, colLo, false);
                    columns(colLo, colHi, true);
                    if (colHi < w.ow)
                      columns(colHi, w.ow, false);
                  },
                  [&] { columns(0, w.ow, false); });
            });
      });
  return Status::ok();
}

} // namespace ember::cpugen
