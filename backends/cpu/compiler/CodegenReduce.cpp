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

// A reduction whose operand is computed by fused elementwise producers
// (Fusion.cpp): the group's expression evaluated per operand element
// (LoopGen) over the operand's full index space, dims of extent 1 held at
// 0. The inner loop walks the dim the largest operand stores with unit
// stride: a reduced one (one accumulator per output element, partial sums
// vectorized as in the generic nest), or a kept one (blocks of output
// elements accumulated side by side in order, as for a channels-last
// global pool).
Status Codegen::emitFusedReduce(
    const Group &g, const std::vector<bool> &reducedDims,
    const std::function<llvm::Value *()> &initValue,
    const std::function<llvm::Value *(llvm::Value *, llvm::Value *)> &combine,
    const std::function<llvm::Value *(llvm::Value *)> &narrow, llvm::Type *acct,
    bool &reassocSum) {
  const Node &n = *g.root;
  Value root(const_cast<Node *>(g.root), 0);
  const Value &x = n.inputs[0];
  Dims di = x.type().dims();
  std::vector<bool> reduced = reducedDims;
  LoopGen lg(*this, g, *b_, di);
  lg.plan(x);
  // Output strides per operand dim (0 for reduced ones), the root's and
  // the sibling's (Group::sibling: a float Min or Max of the same
  // elements, into an accumulator of its own).
  const Node *sib = g.sibling;
  bool keep = n.attrInt("keepdims", 1) != 0;
  auto outStrides = [&](const Value &res) {
    std::vector<int64_t> rs = physStrides(res), os(di.size(), 0);
    for (size_t d = 0, pos = 0; d < di.size(); ++d)
      if (!reduced[d]) {
        size_t od = keep ? d : pos++;
        os[d] = od < rs.size() ? rs[od] : 0;
      }
    return os;
  };
  std::vector<int64_t> ost = outStrides(root);
  std::vector<int64_t> sst = sib ? outStrides(Value(const_cast<Node *>(sib), 0))
                                 : std::vector<int64_t>(di.size(), 0);
  coalesceReduce(n, lg, di, reduced, ost, sst);
  size_t r = di.size();
  // The operand's largest leaf decides the walk.
  const Leaf *main = nullptr;
  int64_t mainSpan = -1;
  for (auto &l : lg.leaves) {
    int64_t span = 0;
    for (size_t d = 0; d < r && d < l.a.strides.size(); ++d)
      span += l.a.strides[d] * (di[d] - 1);
    if (span > mainSpan)
      main = &l, mainSpan = span;
  }
  auto strideOf = [&](size_t d) -> int64_t {
    return main && d < main->a.strides.size() ? main->a.strides[d] : 0;
  };
  std::vector<size_t> kd, rd; // dims of extent > 1, largest stride first
  for (size_t d = 0; d < r; ++d)
    if (di[d] > 1)
      (reduced[d] ? rd : kd).push_back(d);
  auto byStride = [&](size_t a, size_t b) { return strideOf(a) > strideOf(b); };
  std::stable_sort(rd.begin(), rd.end(), byStride);
  if (root.type().numElements() == 0)
    return Status::ok();
  ElemKind k = x.type().elem();
  llvm::Type *et = elemType(k);
  auto extents = [&](const std::vector<size_t> &ds) {
    std::vector<int64_t> e;
    for (size_t d : ds)
      e.push_back(di[d]);
    return e;
  };
  std::vector<int64_t> redExt = extents(rd);
  int64_t redCount = 1;
  for (int64_t e : redExt)
    redCount *= e;
  // The sibling's accumulator is f32, as the root's; it is stored at the
  // same index of its own result.
  auto sibInit = [&]() -> llvm::Value * {
    double inf = std::numeric_limits<double>::infinity();
    return llvm::ConstantFP::get(et,
                                 sib->kind == OpKind::ReduceMax ? -inf : inf);
  };
  auto sibCombine = [&](llvm::Value *a, llvm::Value *v) {
    return b_->CreateBinaryIntrinsic(sib->kind == OpKind::ReduceMax
                                         ? llvm::Intrinsic::maximum
                                         : llvm::Intrinsic::minimum,
                                     a, v);
  };
  // Evaluates the operand at the index `idx` (full rank) into `slot` (and
  // the sibling's `sslot`).
  auto step = [&](std::vector<llvm::Value *> &idx, llvm::Value *slot,
                  llvm::Value *sslot) {
    lg.idx = idx;
    lg.memo.clear();
    llvm::Value *v = lg.eval(x);
    b_->CreateStore(combine(b_->CreateLoad(acct, slot), v), slot);
    if (sslot)
      b_->CreateStore(sibCombine(b_->CreateLoad(et, sslot), v), sslot);
  };
  auto addrIn = [&](const std::vector<llvm::Value *> &idx,
                    const std::vector<int64_t> &str, const Value &res) {
    llvm::Value *lin = b_->getInt64(0);
    for (size_t d = 0; d < r; ++d)
      if (str[d])
        lin = b_->CreateAdd(
            lin, b_->CreateMul(idx[d], b_->getInt64(uint64_t(str[d]))));
    return b_->CreateInBoundsGEP(et, ptrOfValue(res), lin);
  };
  auto outAddr = [&](const std::vector<llvm::Value *> &idx) {
    return addrIn(idx, ost, root);
  };
  auto sibAddr = [&](const std::vector<llvm::Value *> &idx) {
    return addrIn(idx, sst, Value(const_cast<Node *>(sib), 0));
  };
  auto bindBases = [&]() {
    lg.bases.clear();
    for (auto &l : lg.leaves)
      lg.bases.push_back(ptrOfValue(l.a.base));
  };
  llvm::Value *zero = b_->getInt64(0);
  // The kept dim stored with unit stride by the largest leaf, if any.
  size_t inner = r;
  for (size_t d : kd)
    if (strideOf(d) == 1)
      inner = d;
  bool redUnit = false;
  for (size_t d : rd)
    redUnit = redUnit || strideOf(d) == 1;
  if (inner == r || redUnit || rd.empty() || di[inner] < 8) {
    reassocSum = true;
    std::stable_sort(kd.begin(), kd.end(), byStride);
    std::vector<int64_t> keptExt = extents(kd);
    if (keptExt.empty())
      keptExt.push_back(1);
    int64_t per = redCount;
    for (size_t i = 1; i < keptExt.size(); ++i)
      per *= keptExt[i];
    emitTask(
        "reduce", keptExt[0], per, [&](llvm::Value *begin, llvm::Value *end) {
          bindBases();
          llvm::Value *acc = b_->CreateAlloca(acct);
          llvm::Value *sacc = sib ? b_->CreateAlloca(et) : nullptr;
          emitNest(keptExt, begin, end, [&](std::vector<llvm::Value *> &ki) {
            std::vector<llvm::Value *> idx(r, zero);
            for (size_t i = 0; i < kd.size(); ++i)
              idx[kd[i]] = ki[i];
            b_->CreateStore(initValue(), acc);
            if (sib)
              b_->CreateStore(sibInit(), sacc);
            if (rd.empty()) {
              step(idx, acc, sacc);
            } else {
              emitNest(redExt, zero, b_->getInt64(uint64_t(redExt[0])),
                       [&](std::vector<llvm::Value *> &ri) {
                         std::vector<llvm::Value *> full = idx;
                         for (size_t j = 0; j < rd.size(); ++j)
                           full[rd[j]] = ri[j];
                         step(full, acc, sacc);
                       });
            }
            b_->CreateStore(narrow(b_->CreateLoad(acct, acc)), outAddr(idx));
            if (sib)
              b_->CreateStore(b_->CreateLoad(et, sacc), sibAddr(idx));
          });
        });
    return Status::ok();
  }
  // Blocks of the unit-stride kept dim, reduced dims outside them.
  constexpr int64_t kBlock = 256;
  std::vector<size_t> outer;
  for (size_t d : kd)
    if (d != inner)
      outer.push_back(d);
  std::stable_sort(outer.begin(), outer.end(), byStride);
  std::vector<int64_t> outerExt = extents(outer);
  // Narrower blocks when the blocks are the tasks and too few for the
  // workers (blockWidth).
  const int64_t blk = outer.empty()
                          ? blockWidth(di[inner], redCount * di[inner], kBlock)
                          : kBlock;
  int64_t nBlocks = (di[inner] + blk - 1) / blk;
  // Tasks: the outer kept dims with the blocks innermost, flattened.
  outerExt.push_back(nBlocks);
  int64_t per = redCount * std::min<int64_t>(blk, di[inner]);
  for (size_t i = 1; i < outerExt.size(); ++i)
    per *= outerExt[i];
  emitTask(
      "reduce", outerExt[0], per, [&](llvm::Value *begin, llvm::Value *end) {
        bindBases();
        auto *arr = llvm::ArrayType::get(acct, uint64_t(kBlock));
        llvm::Value *acc = b_->CreateAlloca(arr);
        auto *sarr = llvm::ArrayType::get(et, uint64_t(kBlock));
        llvm::Value *sacc = sib ? b_->CreateAlloca(sarr) : nullptr;
        auto slot = [&](llvm::Value *j) {
          return b_->CreateInBoundsGEP(arr, acc, {zero, j});
        };
        auto sslot = [&](llvm::Value *j) -> llvm::Value * {
          return sib ? b_->CreateInBoundsGEP(sarr, sacc, {zero, j}) : nullptr;
        };
        emitNest(outerExt, begin, end, [&](std::vector<llvm::Value *> &oi) {
          std::vector<llvm::Value *> idx(r, zero);
          for (size_t i = 0; i < outer.size(); ++i)
            idx[outer[i]] = oi[i];
          llvm::Value *j0 =
              b_->CreateMul(oi.back(), b_->getInt64(uint64_t(blk)));
          llvm::Value *left =
              b_->CreateSub(b_->getInt64(uint64_t(di[inner])), j0);
          llvm::Value *len = b_->CreateSelect(
              b_->CreateICmpSLT(left, b_->getInt64(uint64_t(blk))), left,
              b_->getInt64(uint64_t(blk)));
          emitNest({kBlock}, zero, len, [&](std::vector<llvm::Value *> &j) {
            b_->CreateStore(initValue(), slot(j[0]));
            if (sib)
              b_->CreateStore(sibInit(), sslot(j[0]));
          });
          emitNest(redExt, zero, b_->getInt64(uint64_t(redExt[0])),
                   [&](std::vector<llvm::Value *> &ri) {
                     std::vector<llvm::Value *> full = idx;
                     for (size_t q = 0; q < rd.size(); ++q)
                       full[rd[q]] = ri[q];
                     emitNest({kBlock}, zero, len,
                              [&](std::vector<llvm::Value *> &j) {
                                full[inner] = b_->CreateAdd(j0, j[0]);
                                step(full, slot(j[0]), sslot(j[0]));
                              });
                   });
          emitNest({kBlock}, zero, len, [&](std::vector<llvm::Value *> &j) {
            std::vector<llvm::Value *> o = idx;
            o[inner] = b_->CreateAdd(j0, j[0]);
            b_->CreateStore(narrow(b_->CreateLoad(acct, slot(j[0]))),
                            outAddr(o));
            if (sib)
              b_->CreateStore(b_->CreateLoad(et, sslot(j[0])), sibAddr(o));
          });
        });
      });
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
  std::vector<int64_t> istr = physStrides(x); // as stored (maybe NHWC)
  Dims keptDims, redDims;
  std::vector<int64_t> keptStr, redStr;
  for (size_t d = 0; d < r; ++d)
    if (reduced[d]) {
      redDims.push_back(di[d]);
      redStr.push_back(istr[d]);
    } else {
      keptDims.push_back(di[d]);
      keptStr.push_back(istr[d]);
    }
  std::vector<int64_t> ostr = contiguous(keptDims);
  {
    std::vector<std::vector<int64_t> *> kv = {&keptStr, &ostr};
    coalesce(keptDims, kv);
    std::vector<std::vector<int64_t> *> rv = {&redStr};
    coalesce(redDims, rv);
  }
  if (root.type().numElements() == 0)
    return Status::ok();
  ElemKind k = x.type().elem();
  bool fl = isComputeFloatKind(k), sg = isSignedInt(k);
  OpKind op = n.kind;
  int64_t per = 1;
  for (size_t d = 1; d < keptDims.size(); ++d)
    per *= keptDims[d];
  for (int64_t e : redDims)
    per *= e;
  llvm::Type *et = elemType(k);
  // Max and Min of f32 need no wider type: every partial result is one of
  // the elements.
  bool minMax = op == OpKind::ReduceMax || op == OpKind::ReduceMin;
  llvm::Type *acct =
      fl ? (minMax && k == ElemKind::F32 ? et : b_->getDoubleTy())
         : b_->getInt64Ty();
  // The accumulator's start value and one step (the element widened to
  // acct: double, int64, or f32 itself for Max and Min).
  auto initValue = [&]() -> llvm::Value * {
    double inf = std::numeric_limits<double>::infinity();
    unsigned w = kindBits(k);
    if (op == OpKind::ReduceProd)
      return fl ? llvm::ConstantFP::get(acct, 1.0) : b_->getInt64(1);
    if (op == OpKind::ReduceMax)
      return fl ? llvm::ConstantFP::get(acct, -inf)
                : b_->getInt64(
                      sg ? uint64_t(
                               llvm::APInt::getSignedMinValue(w).getSExtValue())
                         : 0);
    if (op == OpKind::ReduceMin)
      return fl ? llvm::ConstantFP::get(acct, inf)
                : b_->getInt64(
                      sg ? uint64_t(
                               llvm::APInt::getSignedMaxValue(w).getSExtValue())
                         : llvm::APInt::getMaxValue(w).getZExtValue());
    return fl ? llvm::ConstantFP::get(acct, 0.0) : b_->getInt64(0);
  };
  // Sums of f32 elements in double (the generic nest below, one output
  // element at a time) may be reassociated: the loop vectorizer then keeps
  // several partial sums instead of one latency-bound chain (a contiguous
  // sum ran at one add per 4 cycles). Only the double rounding of partial
  // sums changes, about 1e-16 relative per add against f32's 6e-8: the
  // f32 result differs from the reference's sequential sum in rare last-bit
  // cases. f64 sums keep the reference's order.
  bool reassocSum = false;
  auto combine = [&](llvm::Value *a, llvm::Value *v) -> llvm::Value * {
    v = fl ? (v->getType() != acct ? b_->CreateFPExt(v, acct) : v)
           : (sg ? b_->CreateSExt(v, acct) : b_->CreateZExt(v, acct));
    if (op == OpKind::ReduceSum && fl) {
      llvm::Value *sum = b_->CreateFAdd(a, v);
      return reassocSum && k == ElemKind::F32 ? allowReassoc(sum) : sum;
    }
    if (op == OpKind::ReduceSum)
      return b_->CreateAdd(a, v);
    if (op == OpKind::ReduceProd)
      return fl ? b_->CreateFMul(a, v) : b_->CreateMul(a, v);
    bool isMax = op == OpKind::ReduceMax;
    // Floats: NaN wins, +0 is above -0 (the reference's rule, kernels/
    // Reduce.cpp), in any order.
    if (fl)
      return b_->CreateBinaryIntrinsic(
          isMax ? llvm::Intrinsic::maximum : llvm::Intrinsic::minimum, a, v);
    llvm::Value *better =
        isMax ? (sg ? b_->CreateICmpSGT(v, a) : b_->CreateICmpUGT(v, a))
              : (sg ? b_->CreateICmpSLT(v, a) : b_->CreateICmpULT(v, a));
    return b_->CreateSelect(better, v, a);
  };
  auto narrow = [&](llvm::Value *a) {
    return fl ? (acct != et ? b_->CreateFPTrunc(a, et) : a)
              : b_->CreateTrunc(a, et);
  };
  auto linear = [&](llvm::Value *lin, const std::vector<llvm::Value *> &idx,
                    const std::vector<int64_t> &str) {
    for (size_t d = 0; d < idx.size(); ++d)
      if (str[d])
        lin = b_->CreateAdd(
            lin, b_->CreateMul(idx[d], b_->getInt64(uint64_t(str[d]))));
    return lin;
  };
  if (g.members.size() > 1)
    return emitFusedReduce(g, reduced, initValue, combine, narrow, acct,
                           reassocSum);
  bool trivialRed = redDims.size() == 1 && redDims[0] == 1 && redStr[0] == 0;
  // Kept elements contiguous and innermost in memory (a global pool of a
  // channels-last value: channels kept, pixels reduced): reduce a block of
  // them at a time, reduced indices outer, so the inner loop walks
  // contiguous elements with independent accumulators (vectorized) rather
  // than one latency-bound chain per element over strided loads. Each
  // element still combines its inputs in the same order.
  constexpr int64_t kBlock = 256;
  bool keptInner = !trivialRed && !keptDims.empty() && keptStr.back() == 1 &&
                   keptDims.back() >= 8 &&
                   std::all_of(redStr.begin(), redStr.end(),
                               [](int64_t st) { return st > 1; });
  if (keptInner) {
    std::vector<int64_t> outer(keptDims.begin(), keptDims.end() - 1);
    int64_t inner = keptDims.back();
    // Tasks over the outermost kept dim, or blocks of the inner one.
    bool overOuter =
        !outer.empty() &&
        outer[0] >= 2 * int64_t(cfg_.numThreads ? cfg_.numThreads : 1);
    // Blocks of the inner dim: kBlock elements, fewer when that leaves too
    // few tasks for the workers (blockWidth).
    const int64_t blk =
        overOuter ? kBlock : blockWidth(inner, per * keptDims[0], kBlock);
    int64_t nBlocks = (inner + blk - 1) / blk;
    int64_t tasks = overOuter ? outer[0] : nBlocks;
    int64_t work = per * keptDims[0] / (tasks ? tasks : 1);
    emitTask("reduce", tasks, work, [&](llvm::Value *begin, llvm::Value *end) {
      llvm::Value *acc =
          b_->CreateAlloca(llvm::ArrayType::get(acct, uint64_t(kBlock)));
      llvm::Value *in = ptrOfValue(x);
      llvm::Value *out = ptrOfValue(root);
      // One block [j0, j0 + len) of the inner kept dim at outer offsets
      // ibase (input) and obase (output).
      auto block = [&](llvm::Value *ibase, llvm::Value *obase, llvm::Value *j0,
                       llvm::Value *len) {
        llvm::Value *zero = b_->getInt64(0);
        auto slot = [&](llvm::Value *j) {
          return b_->CreateInBoundsGEP(llvm::ArrayType::get(acct, kBlock), acc,
                                       {zero, j});
        };
        emitNest({kBlock}, zero, len, [&](std::vector<llvm::Value *> &j) {
          b_->CreateStore(initValue(), slot(j[0]));
        });
        emitNest(
            redDims, zero, b_->getInt64(uint64_t(redDims[0])),
            [&](std::vector<llvm::Value *> &ridx) {
              llvm::Value *row = linear(b_->CreateAdd(ibase, j0), ridx, redStr);
              emitNest({kBlock}, zero, len, [&](std::vector<llvm::Value *> &j) {
                llvm::Value *v = b_->CreateLoad(
                    et,
                    b_->CreateInBoundsGEP(et, in, b_->CreateAdd(row, j[0])));
                llvm::Value *a = b_->CreateLoad(acct, slot(j[0]));
                b_->CreateStore(combine(a, v), slot(j[0]));
              });
            });
        emitNest({kBlock}, zero, len, [&](std::vector<llvm::Value *> &j) {
          llvm::Value *a = b_->CreateLoad(acct, slot(j[0]));
          b_->CreateStore(
              narrow(a),
              b_->CreateInBoundsGEP(
                  et, out, b_->CreateAdd(obase, b_->CreateAdd(j0, j[0]))));
        });
      };
      auto blocksOf = [&](llvm::Value *ibase, llvm::Value *obase,
                          llvm::Value *lo, llvm::Value *hi) {
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
      std::vector<int64_t> ko(keptStr.begin(), keptStr.end() - 1);
      std::vector<int64_t> oo(ostr.begin(), ostr.end() - 1);
      llvm::Value *lo = overOuter ? begin : b_->getInt64(0);
      llvm::Value *hi = overOuter ? end : b_->getInt64(uint64_t(outer[0]));
      emitNest(outer, lo, hi, [&](std::vector<llvm::Value *> &kidx) {
        llvm::Value *ib = linear(b_->getInt64(0), kidx, ko);
        llvm::Value *ob = linear(b_->getInt64(0), kidx, oo);
        if (overOuter)
          blocksOf(ib, ob, b_->getInt64(0), b_->getInt64(uint64_t(nBlocks)));
        else
          blocksOf(ib, ob, begin, end);
      });
    });
    return Status::ok();
  }
  reassocSum = true;
  emitTask(
      "reduce", keptDims[0], per, [&](llvm::Value *begin, llvm::Value *end) {
        llvm::Value *acc = b_->CreateAlloca(acct);
        llvm::Value *in = ptrOfValue(x);
        llvm::Value *out = ptrOfValue(root);
        emitNest(keptDims, begin, end, [&](std::vector<llvm::Value *> &kidx) {
          b_->CreateStore(initValue(), acc);
          llvm::Value *base = linear(b_->getInt64(0), kidx, keptStr);
          auto step = [&](std::vector<llvm::Value *> &ridx) {
            llvm::Value *lin = linear(base, ridx, redStr);
            llvm::Value *v =
                b_->CreateLoad(et, b_->CreateInBoundsGEP(et, in, lin));
            b_->CreateStore(combine(b_->CreateLoad(acct, acc), v), acc);
          };
          if (trivialRed) {
            std::vector<llvm::Value *> none = {b_->getInt64(0)};
            step(none);
          } else {
            emitNest(redDims, b_->getInt64(0),
                     b_->getInt64(uint64_t(redDims[0])), step);
          }
          b_->CreateStore(narrow(b_->CreateLoad(acct, acc)),
                          b_->CreateInBoundsGEP(
                              et, out, linear(b_->getInt64(0), kidx, ostr)));
        });
      });
  return Status::ok();
}

} // namespace ember::cpugen
