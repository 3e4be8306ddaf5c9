// Reduction loops: ReduceSum/Max/Min/Prod over any constant axes (float sums
// and products accumulate in double, integers in 64 bits, as the reference;
// float Max/Min in the element type, through llvm.maximum/llvm.minimum,
// whose result does not depend on the order: the loop vectorizer keeps
// partial results side by side), blocked over contiguous kept elements when
// they are innermost in memory, and ArgMax/ArgMin.
#include "LoopGen.h"

#include <llvm/IR/Constants.h>

#include <cmath>
#include <limits>

namespace ember::cpugen {

// ArgMax/ArgMin: the reference's order (NaN wins, first or last among
// equals), over one axis viewed as [outer, n, inner].
static void argBody(Codegen &cg, llvm::IRBuilder<> &b, const Node &n,
                    llvm::Value *in, llvm::Value *out, llvm::Value *base,
                    llvm::Value *olin, int64_t extent, int64_t stride) {
  ElemKind k = n.inputs[0].type().elem();
  bool fl = isComputeFloatKind(k), sg = isSignedInt(k);
  bool isMax = n.kind == OpKind::ArgMax;
  bool last = n.attrInt("select_last_index", 0) != 0;
  llvm::Type *et = cg.elemType(k);
  llvm::Value *bestV = b.CreateAlloca(et);
  llvm::Value *bestI = b.CreateAlloca(b.getInt64Ty());
  b.CreateStore(b.CreateLoad(et, b.CreateInBoundsGEP(et, in, base)), bestV);
  b.CreateStore(b.getInt64(0), bestI);
  if (extent > 1)
    cg.emitNest(
        {extent - 1}, b.getInt64(0), b.getInt64(uint64_t(extent - 1)),
        [&](std::vector<llvm::Value *> &idx) {
          llvm::Value *j = b.CreateAdd(idx[0], b.getInt64(1));
          llvm::Value *lin =
              b.CreateAdd(base, b.CreateMul(j, b.getInt64(uint64_t(stride))));
          llvm::Value *c = b.CreateLoad(et, b.CreateInBoundsGEP(et, in, lin));
          llvm::Value *bv = b.CreateLoad(et, bestV);
          llvm::Value *better, *equal;
          if (fl) {
            llvm::Value *bn = b.CreateFCmpUNO(bv, bv);
            llvm::Value *cn = b.CreateFCmpUNO(c, c);
            llvm::Value *cmp =
                isMax ? b.CreateFCmpOGT(c, bv) : b.CreateFCmpOLT(c, bv);
            better = b.CreateSelect(bn, b.getInt1(false), b.CreateOr(cn, cmp));
            equal = b.CreateSelect(bn, cn, b.CreateFCmpOEQ(c, bv));
          } else {
            better =
                isMax ? (sg ? b.CreateICmpSGT(c, bv) : b.CreateICmpUGT(c, bv))
                      : (sg ? b.CreateICmpSLT(c, bv) : b.CreateICmpULT(c, bv));
            equal = b.CreateICmpEQ(c, bv);
          }
          llvm::Value *take = last ? b.CreateOr(better, equal) : better;
          b.CreateStore(b.CreateSelect(take, c, bv), bestV);
          b.CreateStore(
              b.CreateSelect(take, j, b.CreateLoad(b.getInt64Ty(), bestI)),
              bestI);
        });
  b.CreateStore(b.CreateLoad(b.getInt64Ty(), bestI),
                b.CreateInBoundsGEP(b.getInt64Ty(), out, olin));
}

Status Codegen::emitArg(const Group &g) {
  const Node &n = *g.root;
  Value root(const_cast<Node *>(g.root), 0);
  const Value &x = n.inputs[0];
  const Dims &di = x.type().dims();
  int64_t axis = n.attrInt("axis", 0);
  if (axis < 0)
    axis += int64_t(di.size());
  int64_t outer = 1, inner = 1, extent = di[size_t(axis)];
  for (size_t d = 0; d < di.size(); ++d)
    if (int64_t(d) < axis)
      outer *= di[d];
    else if (int64_t(d) > axis)
      inner *= di[d];
  if (root.type().numElements() == 0)
    return Status::ok();
  Dims dims = {outer, inner};
  emitTask(
      "arg", outer, inner * extent, [&](llvm::Value *begin, llvm::Value *end) {
        llvm::Value *in = ptrOfValue(x);
        llvm::Value *out = ptrOfValue(root);
        emitNest(dims, begin, end, [&](std::vector<llvm::Value *> &idx) {
          llvm::Value *base = b_->CreateAdd(
              b_->CreateMul(idx[0], b_->getInt64(uint64_t(extent * inner))),
              idx[1]);
          llvm::Value *olin = b_->CreateAdd(
              b_->CreateMul(idx[0], b_->getInt64(uint64_t(inner))), idx[1]);
          argBody(*this, *b_, n, in, out, base, olin, extent, inner);
        });
      });
  return Status::ok();
}

// The index space of a fused reduction with fewer loops: extent-1 dims
// dropped, and neighbours that every leaf and both results walk
// contiguously merged, kept with kept, reduced with reduced. A reduction
// over a whole contiguous tensor (DynamicQuantizeLinear's range) is then
// one loop with one horizontal combine at its end, not one a row (a
// [32, 32] operand's rows of 32 combined eight lanes at a time, then
// across them, 32 times). Reduced dims merge only where the result does
// not depend on the order the loops give (Min/Max, integers): a float sum
// keeps its loops, so its vectorized partial sums stay as they were.
// Nothing merges when a leaf reads through tables or a member keeps a
// per-dim plan (Resize), which name dims by their position.
static void coalesceReduce(const Node &n, LoopGen &lg, Dims &di,
                           std::vector<bool> &reduced,
                           std::vector<int64_t> &ost,
                           std::vector<int64_t> &sst) {
  const size_t r = di.size();
  if (r == 0 || !lg.plans.empty() || lg.g.chanTable)
    return;
  for (const Leaf &l : lg.leaves)
    if (!l.tables.empty() || l.a.strides.size() != r)
      return;
  ElemKind k = n.inputs[0].type().elem();
  const bool orderFree = n.kind == OpKind::ReduceMax ||
                         n.kind == OpKind::ReduceMin || !isComputeFloatKind(k);
  std::vector<std::vector<int64_t> *> vecs;
  for (Leaf &l : lg.leaves)
    vecs.push_back(&l.a.strides);
  vecs.push_back(&ost);
  vecs.push_back(&sst);
  std::vector<size_t> from;
  coalesce(
      di, vecs,
      [&](size_t last, size_t d) {
        return reduced[last] == reduced[d] && (orderFree || !reduced[d]);
      },
      &from);
  std::vector<bool> nr;
  for (size_t d : from)
    nr.push_back(reduced[d]);
  if (nr.empty())
    nr.push_back(false);
  reduced = nr;
  lg.dims = di;
}

// The accumulator of a ReduceSum/Max/Min/Prod and its rules: float sums
// and products in double, integers in 64 bits (as the reference), float Max
// and Min of f32 in f32 itself (every partial result is one of the
// elements); its start value, one step (the element widened to it) and the
// narrowing to the result's kind.
struct Codegen::ReduceAcc {
  llvm::IRBuilder<> &b;
  OpKind op;
  ElemKind k;
  bool fl, sg;
  llvm::Type *et, *acct;
  // Sums of f32 elements in double (one output element at a time) may be
  // reassociated: the loop vectorizer then keeps several partial sums
  // instead of one latency-bound chain (a contiguous sum ran at one add per
  // 4 cycles). Only the double rounding of partial sums changes, about
  // 1e-16 relative per add against f32's 6e-8: the f32 result differs from
  // the reference's sequential sum in rare last-bit cases. f64 sums keep
  // the reference's order. Set by the walks that sum that way.
  bool reassocSum = false;

  ReduceAcc(Codegen &cg, OpKind o, ElemKind kind)
      : b(*cg.b_), op(o), k(kind), fl(isComputeFloatKind(kind)),
        sg(isSignedInt(kind)), et(cg.elemType(kind)) {
    const bool minMax = op == OpKind::ReduceMax || op == OpKind::ReduceMin;
    acct = fl ? (minMax && k == ElemKind::F32 ? et : b.getDoubleTy())
              : b.getInt64Ty();
  }

  llvm::Value *init() const {
    double inf = std::numeric_limits<double>::infinity();
    unsigned w = kindBits(k);
    if (op == OpKind::ReduceProd)
      return fl ? llvm::ConstantFP::get(acct, 1.0) : b.getInt64(1);
    if (op == OpKind::ReduceMax)
      return fl ? llvm::ConstantFP::get(acct, -inf)
                : b.getInt64(
                      sg ? uint64_t(
                               llvm::APInt::getSignedMinValue(w).getSExtValue())
                         : 0);
    if (op == OpKind::ReduceMin)
      return fl ? llvm::ConstantFP::get(acct, inf)
                : b.getInt64(
                      sg ? uint64_t(
                               llvm::APInt::getSignedMaxValue(w).getSExtValue())
                         : llvm::APInt::getMaxValue(w).getZExtValue());
    return fl ? llvm::ConstantFP::get(acct, 0.0) : b.getInt64(0);
  }

  llvm::Value *combine(llvm::Value *a, llvm::Value *v) const {
    v = fl ? (v->getType() != acct ? b.CreateFPExt(v, acct) : v)
           : (sg ? b.CreateSExt(v, acct) : b.CreateZExt(v, acct));
    if (op == OpKind::ReduceSum && fl) {
      llvm::Value *sum = b.CreateFAdd(a, v);
      return reassocSum && k == ElemKind::F32 ? allowReassoc(sum) : sum;
    }
    if (op == OpKind::ReduceSum)
      return b.CreateAdd(a, v);
    if (op == OpKind::ReduceProd)
      return fl ? b.CreateFMul(a, v) : b.CreateMul(a, v);
    bool isMax = op == OpKind::ReduceMax;
    // Floats: NaN wins, +0 is above -0 (the reference's rule, kernels/
    // Reduce.cpp), in any order.
    if (fl)
      return b.CreateBinaryIntrinsic(
          isMax ? llvm::Intrinsic::maximum : llvm::Intrinsic::minimum, a, v);
    llvm::Value *better =
        isMax ? (sg ? b.CreateICmpSGT(v, a) : b.CreateICmpUGT(v, a))
              : (sg ? b.CreateICmpSLT(v, a) : b.CreateICmpULT(v, a));
    return b.CreateSelect(better, v, a);
  }

  llvm::Value *narrow(llvm::Value *a) const {
    return fl ? (acct != et ? b.CreateFPTrunc(a, et) : a)
              : b.CreateTrunc(a, et);
  }
};

// lin + sum over d of idx[d] * str[d].
static llvm::Value *linearIndex(llvm::IRBuilder<> &b, llvm::Value *lin,
                                const std::vector<llvm::Value *> &idx,
                                const std::vector<int64_t> &str) {
  for (size_t d = 0; d < idx.size(); ++d)
    if (str[d])
      lin = b.CreateAdd(lin, b.CreateMul(idx[d], b.getInt64(uint64_t(str[d]))));
  return lin;
}

// A reduction whose operand is computed by fused elementwise producers
// (Fusion.cpp): the group's expression evaluated per operand element
// (LoopGen) over the operand's full index space, dims of extent 1 held at
// 0. The inner loop walks the dim the largest operand stores with unit
// stride: a reduced one (one accumulator per output element, partial sums
// vectorized as in the generic nest: emitPerElement), or a kept one
// (blocks of output elements accumulated side by side in order, as for a
// channels-last global pool: emitBlocked).
struct Codegen::FusedReduce {
  Codegen &cg;
  llvm::IRBuilder<> &b;
  const Group &g;
  const ReduceAcc &acc;
  const Node &n;
  Value root;
  const Value &x;
  Dims di;
  std::vector<bool> reduced;
  LoopGen lg;
  // The sibling (Group::sibling: a float Min or Max of the same elements,
  // into an accumulator of its own, f32 as the root's, stored at the same
  // index of its own result).
  const Node *sib;
  // Output strides per operand dim (0 for reduced ones), the root's and
  // the sibling's.
  std::vector<int64_t> ost, sst;
  size_t r = 0;
  // The operand's largest leaf, which decides the walk.
  const Leaf *main = nullptr;
  std::vector<size_t> kd, rd; // dims of extent > 1, rd largest stride first
  std::vector<int64_t> redExt;
  int64_t redCount = 1;
  // The kept dim stored with unit stride by the largest leaf (r: none), and
  // whether a reduced one is.
  size_t inner = 0;
  bool redUnit = false;
  llvm::Value *zero;

  FusedReduce(Codegen &c, const Group &grp, const std::vector<bool> &red,
              const ReduceAcc &a)
      : cg(c), b(*c.b_), g(grp), acc(a), n(*grp.root),
        root(const_cast<Node *>(grp.root), 0), x(n.inputs[0]),
        di(x.type().dims()), reduced(red), lg(c, grp, *c.b_, di),
        sib(grp.sibling), zero(b.getInt64(0)) {
    lg.plan(x);
    ost = outStrides(root);
    sst = sib ? outStrides(Value(const_cast<Node *>(sib), 0))
              : std::vector<int64_t>(di.size(), 0);
    coalesceReduce(n, lg, di, reduced, ost, sst);
    r = di.size();
    int64_t mainSpan = -1;
    for (auto &l : lg.leaves) {
      int64_t span = 0;
      for (size_t d = 0; d < r && d < l.a.strides.size(); ++d)
        span += l.a.strides[d] * (di[d] - 1);
      if (span > mainSpan)
        main = &l, mainSpan = span;
    }
    for (size_t d = 0; d < r; ++d)
      if (di[d] > 1)
        (reduced[d] ? rd : kd).push_back(d);
    std::stable_sort(rd.begin(), rd.end(),
                     [this](size_t a, size_t c) { return wider(a, c); });
    redExt = extents(rd);
    for (int64_t e : redExt)
      redCount *= e;
    inner = r;
    for (size_t d : kd)
      if (strideOf(d) == 1)
        inner = d;
    for (size_t d : rd)
      redUnit = redUnit || strideOf(d) == 1;
  }

  std::vector<int64_t> outStrides(const Value &res) const {
    const bool keep = n.attrInt("keepdims", 1) != 0;
    std::vector<int64_t> rs = cg.physStrides(res), os(di.size(), 0);
    for (size_t d = 0, pos = 0; d < di.size(); ++d)
      if (!reduced[d]) {
        size_t od = keep ? d : pos++;
        os[d] = od < rs.size() ? rs[od] : 0;
      }
    return os;
  }
  int64_t strideOf(size_t d) const {
    return main && d < main->a.strides.size() ? main->a.strides[d] : 0;
  }
  // Whether dim a has a larger stride than dim c (in the largest leaf).
  bool wider(size_t a, size_t c) const { return strideOf(a) > strideOf(c); }
  std::vector<int64_t> extents(const std::vector<size_t> &ds) const {
    std::vector<int64_t> e;
    for (size_t d : ds)
      e.push_back(di[d]);
    return e;
  }
  bool perElement() const {
    return inner == r || redUnit || rd.empty() || di[inner] < 8;
  }

  llvm::Value *sibInit() const {
    double inf = std::numeric_limits<double>::infinity();
    return llvm::ConstantFP::get(acc.et,
                                 sib->kind == OpKind::ReduceMax ? -inf : inf);
  }
  llvm::Value *sibCombine(llvm::Value *a, llvm::Value *v) const {
    return b.CreateBinaryIntrinsic(sib->kind == OpKind::ReduceMax
                                       ? llvm::Intrinsic::maximum
                                       : llvm::Intrinsic::minimum,
                                   a, v);
  }
  // Evaluates the operand at the index `idx` (full rank) into `slot` (and
  // the sibling's `sslot`).
  void step(std::vector<llvm::Value *> &idx, llvm::Value *slot,
            llvm::Value *sslot) {
    lg.idx = idx;
    lg.memo.clear();
    llvm::Value *v = lg.eval(x);
    b.CreateStore(acc.combine(b.CreateLoad(acc.acct, slot), v), slot);
    if (sslot)
      b.CreateStore(sibCombine(b.CreateLoad(acc.et, sslot), v), sslot);
  }
  llvm::Value *addrIn(const std::vector<llvm::Value *> &idx,
                      const std::vector<int64_t> &str, const Value &res) {
    llvm::Value *lin = b.getInt64(0);
    for (size_t d = 0; d < r; ++d)
      if (str[d])
        lin =
            b.CreateAdd(lin, b.CreateMul(idx[d], b.getInt64(uint64_t(str[d]))));
    return b.CreateInBoundsGEP(acc.et, cg.ptrOfValue(res), lin);
  }
  llvm::Value *outAddr(const std::vector<llvm::Value *> &idx) {
    return addrIn(idx, ost, root);
  }
  llvm::Value *sibAddr(const std::vector<llvm::Value *> &idx) {
    return addrIn(idx, sst, Value(const_cast<Node *>(sib), 0));
  }
  void bindBases() {
    lg.bases.clear();
    for (auto &l : lg.leaves)
      lg.bases.push_back(cg.ptrOfValue(l.a.base));
  }

  // One accumulator per output element, the reduced dims inside it.
  void emitPerElement() {
    std::stable_sort(kd.begin(), kd.end(),
                     [this](size_t a, size_t c) { return wider(a, c); });
    std::vector<int64_t> keptExt = extents(kd);
    if (keptExt.empty())
      keptExt.push_back(1);
    int64_t per = redCount;
    for (size_t i = 1; i < keptExt.size(); ++i)
      per *= keptExt[i];
    cg.emitTask(
        "reduce", keptExt[0], per, [&](llvm::Value *begin, llvm::Value *end) {
          bindBases();
          llvm::Value *a = b.CreateAlloca(acc.acct);
          llvm::Value *sa = sib ? b.CreateAlloca(acc.et) : nullptr;
          cg.emitNest(keptExt, begin, end, [&](std::vector<llvm::Value *> &ki) {
            std::vector<llvm::Value *> idx(r, zero);
            for (size_t i = 0; i < kd.size(); ++i)
              idx[kd[i]] = ki[i];
            b.CreateStore(acc.init(), a);
            if (sib)
              b.CreateStore(sibInit(), sa);
            if (rd.empty()) {
              step(idx, a, sa);
            } else {
              cg.emitNest(redExt, zero, b.getInt64(uint64_t(redExt[0])),
                          [&](std::vector<llvm::Value *> &ri) {
                            std::vector<llvm::Value *> full = idx;
                            for (size_t j = 0; j < rd.size(); ++j)
                              full[rd[j]] = ri[j];
                            step(full, a, sa);
                          });
            }
            b.CreateStore(acc.narrow(b.CreateLoad(acc.acct, a)), outAddr(idx));
            if (sib)
              b.CreateStore(b.CreateLoad(acc.et, sa), sibAddr(idx));
          });
        });
  }

  // Blocks of the unit-stride kept dim, reduced dims outside them.
  void emitBlocked() {
    constexpr int64_t kBlock = 256;
    std::vector<size_t> outer;
    for (size_t d : kd)
      if (d != inner)
        outer.push_back(d);
    std::stable_sort(outer.begin(), outer.end(),
                     [this](size_t a, size_t c) { return wider(a, c); });
    std::vector<int64_t> outerExt = extents(outer);
    // Narrower blocks when the blocks are the tasks and too few for the
    // workers (blockWidth).
    const int64_t blk =
        outer.empty() ? cg.blockWidth(di[inner], redCount * di[inner], kBlock)
                      : kBlock;
    int64_t nBlocks = (di[inner] + blk - 1) / blk;
    // Tasks: the outer kept dims with the blocks innermost, flattened.
    outerExt.push_back(nBlocks);
    int64_t per = redCount * std::min<int64_t>(blk, di[inner]);
    for (size_t i = 1; i < outerExt.size(); ++i)
      per *= outerExt[i];
    cg.emitTask(
        "reduce", outerExt[0], per, [&](llvm::Value *begin, llvm::Value *end) {
          bindBases();
          auto *arr = llvm::ArrayType::get(acc.acct, uint64_t(kBlock));
          llvm::Value *a = b.CreateAlloca(arr);
          auto *sarr = llvm::ArrayType::get(acc.et, uint64_t(kBlock));
          llvm::Value *sa = sib ? b.CreateAlloca(sarr) : nullptr;
          auto slot = [&](llvm::Value *j) {
            return b.CreateInBoundsGEP(arr, a, {zero, j});
          };
          auto sslot = [&](llvm::Value *j) -> llvm::Value * {
            return sib ? b.CreateInBoundsGEP(sarr, sa, {zero, j}) : nullptr;
          };
          cg.emitNest(
              outerExt, begin, end, [&](std::vector<llvm::Value *> &oi) {
                std::vector<llvm::Value *> idx(r, zero);
                for (size_t i = 0; i < outer.size(); ++i)
                  idx[outer[i]] = oi[i];
                llvm::Value *j0 =
                    b.CreateMul(oi.back(), b.getInt64(uint64_t(blk)));
                llvm::Value *left =
                    b.CreateSub(b.getInt64(uint64_t(di[inner])), j0);
                llvm::Value *len = b.CreateSelect(
                    b.CreateICmpSLT(left, b.getInt64(uint64_t(blk))), left,
                    b.getInt64(uint64_t(blk)));
                cg.emitNest({kBlock}, zero, len,
                            [&](std::vector<llvm::Value *> &j) {
                              b.CreateStore(acc.init(), slot(j[0]));
                              if (sib)
                                b.CreateStore(sibInit(), sslot(j[0]));
                            });
                cg.emitNest(redExt, zero, b.getInt64(uint64_t(redExt[0])),
                            [&](std::vector<llvm::Value *> &ri) {
                              std::vector<llvm::Value *> full = idx;
                              for (size_t q = 0; q < rd.size(); ++q)
                                full[rd[q]] = ri[q];
                              cg.emitNest({kBlock}, zero, len,
                                          [&](std::vector<llvm::Value *> &j) {
                                            full[inner] = b.CreateAdd(j0, j[0]);
                                            step(full, slot(j[0]), sslot(j[0]));
                                          });
                            });
                cg.emitNest(
                    {kBlock}, zero, len, [&](std::vector<llvm::Value *> &j) {
                      std::vector<llvm::Value *> o = idx;
                      o[inner] = b.CreateAdd(j0, j[0]);
                      b.CreateStore(
                          acc.narrow(b.CreateLoad(acc.acct, slot(j[0]))),
                          outAddr(o));
                      if (sib)
                        b.CreateStore(b.CreateLoad(acc.et, sslot(j[0])),
                                      sibAddr(o));
                    });
              });
        });
  }
};

Status Codegen::emitFusedReduce(const Group &g,
                                const std::vector<bool> &reducedDims,
                                ReduceAcc &acc) {
  FusedReduce fr(*this, g, reducedDims, acc);
  if (fr.root.type().numElements() == 0)
    return Status::ok();
  if (fr.perElement()) {
    acc.reassocSum = true;
    fr.emitPerElement();
  } else {
    fr.emitBlocked();
  }
  return Status::ok();
}

// A global pool of a channels-last value with up to 256 channels is one
// block: one task, however many pixels it sums, runs on the caller while
// the other workers wait. Narrower blocks give each worker some; every
// element still combines its inputs in the same order, so the result is the
// same. But a block is at least kMinBlock elements (the balanced number of
// blocks, at most 4 a worker, each a multiple of 16): every worker walks
// all the pixels of the map, and with blocks of 16 or 32 floats (one or two
// cache lines of a pixel) each of them streamed about the whole map anyway
// (the lines around its own come with it), so at 2 threads the split pools
// ran about twice as long as one worker alone (EfficientNet-B0's 112x112x32
// one 0.13 -> 0.25 ms). Against no split at all (split_reduce=0),
// EfficientNet-B0 at 2 threads: blocks of 16 3-4% slower, of 32 1% slower, of
// 64 the same (paired runs; its 56x56x144 pool then splits 80 | 64, the others
// not).
int64_t Codegen::blockWidth(int64_t inner, int64_t read, int64_t most) const {
  constexpr int64_t kMinBlock = 64;
  // Below this many elements read a split saved less than a step over the
  // workers cost: under load (the only kind of machine it could be timed
  // on), splitting MobileNetV3-Large's pools, 33K to 131K elements each,
  // made the 2-thread run 10% slower, EfficientNet-B0's 3% (its 112x112x32,
  // 56x56x96 and 56x56x144 ones are above).
  constexpr int64_t kMinRead = int64_t(1) << 18;
  const int64_t T = int64_t(cfg_.numThreads ? cfg_.numThreads : 1);
  if (T < 2 || !cfg_.splitReduce || read < kMinRead ||
      (inner + most - 1) / most >= 4 * T)
    return most;
  const int64_t blocks = std::min(4 * T, inner / kMinBlock);
  if (blocks < 2)
    return most;
  const int64_t want = (inner + blocks - 1) / blocks;
  return std::min(most, (want + 15) / 16 * 16);
}

// A plain reduction's index space: the kept and the reduced dims with the
// operand's strides as stored (maybe channels-last) and the result's
// (contiguous), each side coalesced.
struct Codegen::ReduceLayout {
  Dims keptDims, redDims;
  std::vector<int64_t> keptStr, redStr, ostr;
  // Operand elements a task over keptDims[0] reads per index of it.
  int64_t per = 1;
  // One reduced index and no stride: nothing is reduced.
  bool trivialRed = false;
};

Status Codegen::emitReduce(const Group &g) {
  const Node &n = *g.root;
  if (n.kind == OpKind::ArgMax || n.kind == OpKind::ArgMin)
    return emitArg(g);
  Value root(const_cast<Node *>(g.root), 0);
  const Value &x = n.inputs[0];
  const Dims &di = x.type().dims();
  size_t r = di.size();
  std::vector<int64_t> axes;
  if (n.hasInput(1))
    constantInts(n.inputs[1], axes);
  else if (n.hasAttr("axes"))
    axes = n.attrInts("axes");
  std::vector<bool> reduced(r, false);
  if (axes.empty()) {
    if (!n.attrInt("noop_with_empty_axes", 0))
      reduced.assign(r, true);
  } else {
    for (int64_t a : axes)
      reduced[size_t(a < 0 ? a + int64_t(r) : a)] = true;
  }
  ReduceLayout lay;
  std::vector<int64_t> istr = physStrides(x); // as stored (maybe NHWC)
  for (size_t d = 0; d < r; ++d)
    if (reduced[d]) {
      lay.redDims.push_back(di[d]);
      lay.redStr.push_back(istr[d]);
    } else {
      lay.keptDims.push_back(di[d]);
      lay.keptStr.push_back(istr[d]);
    }
  lay.ostr = contiguous(lay.keptDims);
  {
    std::vector<std::vector<int64_t> *> kv = {&lay.keptStr, &lay.ostr};
    coalesce(lay.keptDims, kv);
    std::vector<std::vector<int64_t> *> rv = {&lay.redStr};
    coalesce(lay.redDims, rv);
  }
  if (root.type().numElements() == 0)
    return Status::ok();
  for (size_t d = 1; d < lay.keptDims.size(); ++d)
    lay.per *= lay.keptDims[d];
  for (int64_t e : lay.redDims)
    lay.per *= e;
  ReduceAcc acc(*this, n.kind, x.type().elem());
  if (g.members.size() > 1)
    return emitFusedReduce(g, reduced, acc);
  lay.trivialRed =
      lay.redDims.size() == 1 && lay.redDims[0] == 1 && lay.redStr[0] == 0;
  // Kept elements contiguous and innermost in memory (a global pool of a
  // channels-last value: channels kept, pixels reduced): reduce a block of
  // them at a time, reduced indices outer, so the inner loop walks
  // contiguous elements with independent accumulators (vectorized) rather
  // than one latency-bound chain per element over strided loads. Each
  // element still combines its inputs in the same order.
  const bool keptInner = !lay.trivialRed && !lay.keptDims.empty() &&
                         lay.keptStr.back() == 1 && lay.keptDims.back() >= 8 &&
                         std::all_of(lay.redStr.begin(), lay.redStr.end(),
                                     [](int64_t st) { return st > 1; });
  if (keptInner)
    return emitReduceKeptInner(g, lay, acc);
  acc.reassocSum = true;
  return emitReducePerElement(g, lay, acc);
}

// Blocks of the kept elements that are contiguous and innermost in memory,
// the reduced indices outside each block.
Status Codegen::emitReduceKeptInner(const Group &g, const ReduceLayout &lay,
                                    const ReduceAcc &acc) {
  constexpr int64_t kBlock = 256;
  const Value root(const_cast<Node *>(g.root), 0);
  const Value &x = g.root->inputs[0];
  llvm::Type *et = acc.et, *acct = acc.acct;
  std::vector<int64_t> outer(lay.keptDims.begin(), lay.keptDims.end() - 1);
  int64_t inner = lay.keptDims.back();
  // Tasks over the outermost kept dim, or blocks of the inner one.
  bool overOuter =
      !outer.empty() &&
      outer[0] >= 2 * int64_t(cfg_.numThreads ? cfg_.numThreads : 1);
  // Blocks of the inner dim: kBlock elements, fewer when that leaves too
  // few tasks for the workers (blockWidth).
  const int64_t blk =
      overOuter ? kBlock : blockWidth(inner, lay.per * lay.keptDims[0], kBlock);
  int64_t nBlocks = (inner + blk - 1) / blk;
  int64_t tasks = overOuter ? outer[0] : nBlocks;
  int64_t work = lay.per * lay.keptDims[0] / (tasks ? tasks : 1);
  emitTask("reduce", tasks, work, [&](llvm::Value *begin, llvm::Value *end) {
    llvm::Value *a =
        b_->CreateAlloca(llvm::ArrayType::get(acct, uint64_t(kBlock)));
    llvm::Value *in = ptrOfValue(x);
    llvm::Value *out = ptrOfValue(root);
    // One block [j0, j0 + len) of the inner kept dim at outer offsets
    // ibase (input) and obase (output).
    auto block = [&](llvm::Value *ibase, llvm::Value *obase, llvm::Value *j0,
                     llvm::Value *len) {
      llvm::Value *zero = b_->getInt64(0);
      auto slot = [&](llvm::Value *j) {
        return b_->CreateInBoundsGEP(llvm::ArrayType::get(acct, kBlock), a,
                                     {zero, j});
      };
      emitNest({kBlock}, zero, len, [&](std::vector<llvm::Value *> &j) {
        b_->CreateStore(acc.init(), slot(j[0]));
      });
      emitNest(
          lay.redDims, zero, b_->getInt64(uint64_t(lay.redDims[0])),
          [&](std::vector<llvm::Value *> &ridx) {
            llvm::Value *row =
                linearIndex(*b_, b_->CreateAdd(ibase, j0), ridx, lay.redStr);
            emitNest({kBlock}, zero, len, [&](std::vector<llvm::Value *> &j) {
              llvm::Value *v = b_->CreateLoad(
                  et, b_->CreateInBoundsGEP(et, in, b_->CreateAdd(row, j[0])));
              llvm::Value *s = b_->CreateLoad(acct, slot(j[0]));
              b_->CreateStore(acc.combine(s, v), slot(j[0]));
            });
          });
      emitNest({kBlock}, zero, len, [&](std::vector<llvm::Value *> &j) {
        llvm::Value *s = b_->CreateLoad(acct, slot(j[0]));
        b_->CreateStore(
            acc.narrow(s),
            b_->CreateInBoundsGEP(
                et, out, b_->CreateAdd(obase, b_->CreateAdd(j0, j[0]))));
      });
    };
    auto blocksOf = [&](llvm::Value *ibase, llvm::Value *obase, llvm::Value *lo,
                        llvm::Value *hi) {
      emitNest({nBlocks}, lo, hi, [&](std::vector<llvm::Value *> &bi) {
        llvm::Value *j0 = b_->CreateMul(bi[0], b_->getInt64(uint64_t(blk)));
        llvm::Value *left = b_->CreateSub(b_->getInt64(uint64_t(inner)), j0);
        llvm::Value *len = b_->CreateSelect(
            b_->CreateICmpSLT(left, b_->getInt64(uint64_t(blk))), left,
            b_->getInt64(uint64_t(blk)));
        block(ibase, obase, j0, len);
      });
    };
    if (outer.empty()) {
      blocksOf(b_->getInt64(0), b_->getInt64(0), begin, end);
      return;
    }
    std::vector<int64_t> ko(lay.keptStr.begin(), lay.keptStr.end() - 1);
    std::vector<int64_t> oo(lay.ostr.begin(), lay.ostr.end() - 1);
    llvm::Value *lo = overOuter ? begin : b_->getInt64(0);
    llvm::Value *hi = overOuter ? end : b_->getInt64(uint64_t(outer[0]));
    emitNest(outer, lo, hi, [&](std::vector<llvm::Value *> &kidx) {
      llvm::Value *ib = linearIndex(*b_, b_->getInt64(0), kidx, ko);
      llvm::Value *ob = linearIndex(*b_, b_->getInt64(0), kidx, oo);
      if (overOuter)
        blocksOf(ib, ob, b_->getInt64(0), b_->getInt64(uint64_t(nBlocks)));
      else
        blocksOf(ib, ob, begin, end);
    });
  });
  return Status::ok();
}

// One accumulator per output element, the reduced dims inside it.
Status Codegen::emitReducePerElement(const Group &g, const ReduceLayout &lay,
                                     const ReduceAcc &acc) {
  const Value root(const_cast<Node *>(g.root), 0);
  const Value &x = g.root->inputs[0];
  llvm::Type *et = acc.et, *acct = acc.acct;
  emitTask(
      "reduce", lay.keptDims[0], lay.per,
      [&](llvm::Value *begin, llvm::Value *end) {
        llvm::Value *a = b_->CreateAlloca(acct);
        llvm::Value *in = ptrOfValue(x);
        llvm::Value *out = ptrOfValue(root);
        emitNest(
            lay.keptDims, begin, end, [&](std::vector<llvm::Value *> &kidx) {
              b_->CreateStore(acc.init(), a);
              llvm::Value *base =
                  linearIndex(*b_, b_->getInt64(0), kidx, lay.keptStr);
              auto step = [&](std::vector<llvm::Value *> &ridx) {
                llvm::Value *lin = linearIndex(*b_, base, ridx, lay.redStr);
                llvm::Value *v =
                    b_->CreateLoad(et, b_->CreateInBoundsGEP(et, in, lin));
                b_->CreateStore(acc.combine(b_->CreateLoad(acct, a), v), a);
              };
              if (lay.trivialRed) {
                std::vector<llvm::Value *> none = {b_->getInt64(0)};
                step(none);
              } else {
                emitNest(lay.redDims, b_->getInt64(0),
                         b_->getInt64(uint64_t(lay.redDims[0])), step);
              }
              b_->CreateStore(
                  acc.narrow(b_->CreateLoad(acct, a)),
                  b_->CreateInBoundsGEP(
                      et, out,
                      linearIndex(*b_, b_->getInt64(0), kidx, lay.ostr)));
            });
      });
  return Status::ok();
}

} // namespace ember::cpugen
