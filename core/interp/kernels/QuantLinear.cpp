// Integer matmul/conv reference kernels: MatMulInteger, ConvInteger,
// QLinearMatMul, QLinearConv. They accumulate (q - zero point) products in
// int32; the QLinear forms add the int32 bias and requantize as Ember
// defines it (docs/quantization.md): the real multiplier
// a_scale * b_scale / y_scale (in double) encoded as an int32 multiplier and
// shift, applied with TFLite's rounding, plus the output zero point,
// saturated. Lowering rewrites them into ConvInteger/MatMulInteger + Add +
// Requantize, which compute the same values.
#include "interp/kernels/NnUtil.h"
#include "interp/kernels/QuantUtil.h"

#include "ember/quant/Arith.h"

namespace ember {

namespace {

int64_t paramAt(const KernelContext &ctx, size_t i, int64_t j) {
  if (!ctx.has(i))
    return 0;
  const Tensor &t = ctx.in(i);
  return t.getInt(t.size() == 1 ? 0 : j);
}

// Widened operand minus its zero point; `chanOf(flat)` gives the index of
// the zero point to use for each element.
template <typename Acc = int32_t, typename F>
std::vector<Acc> centered(const Tensor &t, const KernelContext &ctx,
                          size_t zpIdx, F chanOf) {
  std::vector<Acc> v(size_t(t.size()));
  for (int64_t i = 0; i < t.size(); ++i)
    v[size_t(i)] = Acc(t.getInt(i) - paramAt(ctx, zpIdx, chanOf(i)));
  return v;
}

// Batched matmul of centered operands in the accumulator type Acc (int32,
// or int64 for 16x8), numpy shapes.
template <typename Acc = int32_t>
std::vector<Acc> integerMatMul(const MatMulShape &s, const std::vector<Acc> &a,
                               const std::vector<Acc> &b) {
  BroadcastIndexer ia(s.batch, s.aBatch), ib(s.batch, s.bBatch);
  int64_t M = s.M, K = s.K, N = s.N;
  std::vector<Acc> y(size_t(s.numBatches() * M * N), 0);
  for (int64_t bi = 0; bi < s.numBatches(); ++bi)
    gemmAccumulate<Acc>(M, N, K, a.data() + ia.map(bi) * M * K, K,
                        b.data() + ib.map(bi) * K * N, N, y.data() + bi * M * N,
                        N);
  return y;
}

// The encoded multiplier of scale_a * scale_b / scale_y (docs/quantization.md:
// double arithmetic on the stored scales).
quant::Multiplier multiplier(const Tensor &as, int64_t ai, const Tensor &bs,
                             int64_t bi, const Tensor &ys) {
  double a = as.getDouble(as.size() == 1 ? 0 : ai);
  double b = bs.getDouble(bs.size() == 1 ? 0 : bi);
  return quant::quantizeMultiplier(a * b / ys.getDouble(0));
}

// The requantized value of accumulator `acc` in result kind k.
int64_t requantTo(ElemKind k, int32_t acc, quant::Multiplier m, int64_t zp) {
  quant::Range r = quant::rangeOf(k == ElemKind::I8);
  return quant::requantize(acc, 0, m, int32_t(zp), r.lo, r.hi);
}

} // namespace

Status kernel_MatMulInteger(KernelContext &ctx) {
  const Tensor &a = ctx.in(0), &b = ctx.in(1);
  EMBER_ASSIGN(MatMulShape s, matmulShape(ctx, a.dims(), b.dims()));
  Tensor &y = ctx.out(0);
  int64_t K = s.K, N = s.N;
  auto aChan = [&](int64_t i) { return (i / K) % s.M; };
  auto bChan = [&](int64_t i) { return i % N; };
  if (y.elem() == ElemKind::I64) { // 16x8: the int64 accumulator
    auto acc = integerMatMul<int64_t>(s, centered<int64_t>(a, ctx, 2, aChan),
                                      centered<int64_t>(b, ctx, 3, bChan));
    std::copy(acc.begin(), acc.end(), y.data<int64_t>());
    return Status::ok();
  }
  auto acc =
      integerMatMul(s, centered(a, ctx, 2, aChan), centered(b, ctx, 3, bChan));
  std::copy(acc.begin(), acc.end(), y.data<int32_t>());
  return Status::ok();
}

Status kernel_QLinearMatMul(KernelContext &ctx) {
  const Tensor &a = ctx.in(0), &b = ctx.in(3);
  EMBER_ASSIGN(MatMulShape s, matmulShape(ctx, a.dims(), b.dims()));
  Tensor &y = ctx.out(0);
  int64_t M = s.M, K = s.K, N = s.N;
  auto av = centered(a, ctx, 2, [&](int64_t i) { return (i / K) % M; });
  auto bv = centered(b, ctx, 5, [&](int64_t i) { return i % N; });
  auto acc = integerMatMul(s, av, bv);
  int64_t yz = ctx.in(7).getInt(0);
  for (int64_t i = 0; i < int64_t(acc.size()); ++i) {
    int64_t row = (i / N) % M, col = i % N;
    quant::Multiplier m = multiplier(ctx.in(1), row, ctx.in(4), col, ctx.in(6));
    y.setInt(i, requantTo(y.elem(), acc[size_t(i)], m, yz));
  }
  return Status::ok();
}

namespace {
// Centered conv in the accumulator type Acc (int32, or int64 for 16x8):
// X - x_zp (scalar) and W - w_zp[m] (per channel).
template <typename Acc = int32_t>
Expected<std::vector<Acc>> integerConv(KernelContext &ctx, const ConvProblem &p,
                                       size_t xIdx, size_t xzIdx, size_t wIdx,
                                       size_t wzIdx) {
  const Tensor &x = ctx.in(xIdx), &w = ctx.in(wIdx);
  int64_t perM = w.size() / std::max<int64_t>(1, p.outC);
  auto xv = centered<Acc>(x, ctx, xzIdx, [](int64_t) { return int64_t(0); });
  auto wv = centered<Acc>(w, ctx, wzIdx, [&](int64_t i) { return i / perM; });
  std::vector<Acc> y(size_t(p.batch * p.outC * p.g.outSize()), 0);
  convForward<Acc>(p, xv.data(), wv.data(), y.data());
  return y;
}

} // namespace

Status kernel_ConvInteger(KernelContext &ctx) {
  const Tensor &x = ctx.in(0), &w = ctx.in(1);
  EMBER_ASSIGN(ConvProblem p, convProblem(ctx, x.dims(), w.dims()));
  Tensor &y = ctx.out(0);
  if (y.elem() == ElemKind::I64) { // 16x8: the int64 accumulator
    EMBER_ASSIGN(auto acc, integerConv<int64_t>(ctx, p, 0, 2, 1, 3));
    std::copy(acc.begin(), acc.end(), y.data<int64_t>());
    return Status::ok();
  }
  EMBER_ASSIGN(auto acc, integerConv(ctx, p, 0, 2, 1, 3));
  std::copy(acc.begin(), acc.end(), y.data<int32_t>());
  return Status::ok();
}

// QLinearConv(x, x_scale, x_zp, w, w_scale, w_zp, y_scale, y_zp, B?)
Status kernel_QLinearConv(KernelContext &ctx) {
  const Tensor &x = ctx.in(0), &w = ctx.in(3);
  EMBER_ASSIGN(ConvProblem p, convProblem(ctx, x.dims(), w.dims()));
  Tensor &y = ctx.out(0);
  EMBER_ASSIGN(auto acc, integerConv(ctx, p, 0, 2, 3, 5));
  int64_t outP = p.g.outSize(), yz = ctx.in(7).getInt(0);
  std::vector<quant::Multiplier> mult(size_t(p.outC));
  for (int64_t m = 0; m < p.outC; ++m)
    mult[size_t(m)] = multiplier(ctx.in(1), 0, ctx.in(4), m, ctx.in(6));
  for (int64_t i = 0; i < int64_t(acc.size()); ++i) {
    int64_t m = (i / outP) % p.outC;
    int32_t v = quant::wrapAdd(acc[size_t(i)],
                               ctx.has(8) ? int32_t(ctx.in(8).getInt(m)) : 0);
    y.setInt(i, requantTo(y.elem(), v, mult[size_t(m)], yz));
  }
  return Status::ok();
}

} // namespace ember
