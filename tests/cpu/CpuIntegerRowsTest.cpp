// Unit tests of the CPU backend's fixed-profile transformer rows
// (compiler/ops/IntegerSoftmax.cpp, IntegerNormalization.cpp): each gives
// the interpreter's bits (ember/quant/Transformer.h) on drawn parameters,
// kinds, shapes and values, at 1 and 2 threads.

#include "compiler/Compiler.h"
#include "interp/Interpreter.h"

#include "ember/quant/Transformer.h"

#include <gtest/gtest.h>

#include <random>

#include "CpuTestUtil.h"

using namespace ember;
using namespace ember::cpugen;
using namespace ember::cpugen::test;

namespace {

const ElemKind kRowKinds[] = {ElemKind::U8, ElemKind::I8, ElemKind::I16};

// Values of kind k: uniform over the kind's range, or (spread < 1) crowded
// in a narrow band so that rows have ties and small deviations; every
// seventh element at the range's top; spread 0: one value everywhere.
Tensor drawRows(std::mt19937 &rng, ElemKind k, const Dims &dims,
                double spread) {
  Tensor t(Type(k, dims));
  const quant::Range r = k == ElemKind::I16 ? quant::rangeOf(true, 16)
                                            : quant::rangeOf(k == ElemKind::I8);
  const int64_t width = std::max<int64_t>(1, int64_t((r.hi - r.lo) * spread));
  const int64_t start =
      r.lo + int64_t(rng() % uint64_t(r.hi - r.lo - width + 1));
  for (int64_t i = 0; i < t.size(); ++i)
    t.setInt(i, spread == 0  ? start
                : i % 7 == 3 ? r.hi
                             : start + int64_t(rng() % uint64_t(width)));
  return t;
}

void expectRunsLikeInterpreter(Function &f, const Tensor &in) {
  auto want = interpret(f, {in});
  ASSERT_TRUE(bool(want)) << want.status().message();
  CompileConfig two = hostConfig();
  two.numThreads = 2;
  expectIdentical(runCpu(f, hostConfig(), {in}), *want);
  expectIdentical(runCpu(f, two, {in}), *want);
}

} // namespace

// IntegerSoftmax over the last and a middle axis, lines of 1 to 300, u8,
// i8 and i16 in and out, input scales from a tenth of a quantum's worth to
// ones that send most exponentials to zero, output scales that saturate
// and ones so coarse that every output rounds to the zero point.
TEST(CpuIntegerRows, SoftmaxMatchesInterpreterBitForBit) {
  std::mt19937 rng(11);
  for (int c = 0; c < 16; ++c) {
    const ElemKind xk = kRowKinds[rng() % 3], yk = kRowKinds[rng() % 3];
    const int64_t len = c % 6 == 0 ? 1 : 1 + int64_t(rng() % 300);
    const bool middle = c % 3 == 1;
    const Dims dims = middle ? Dims{2, len, 3} : Dims{3, len};
    const double sx = (xk == ElemKind::I16 ? 0.0005 : 0.05) *
                      std::pow(10.0, double(rng() % 5) / 2 - 1);
    const double sy = c % 4 == 2   ? 1 / 1000.0
                      : c % 4 == 3 ? (c % 8 == 3 ? 8.0 : 0.01)
                                   : 1 / 256.0;
    const quant::Range yr = yk == ElemKind::I16
                                ? quant::rangeOf(true, 16)
                                : quant::rangeOf(yk == ElemKind::I8);
    const int32_t yZp = yk == ElemKind::I8 ? -128 : 0;
    const quant::SoftmaxParams p =
        quant::makeSoftmaxParams(sx, sy, yZp, yr.lo, yr.hi);
    Module m;
    Function *f = m.addFunction("main");
    Value x(f->addPlaceholder("x", Type(xk, dims)));
    auto n = f->create(OpKind::IntegerSoftmax, {x},
                       {{"axis", Attr::ofInt(middle ? 1 : -1)},
                        {"in_multiplier", Attr::ofInt(p.in.mult)},
                        {"in_shift", Attr::ofInt(p.in.shift)},
                        {"out_multiplier", Attr::ofInt(p.out.mult)},
                        {"out_shift", Attr::ofInt(p.out.shift)},
                        {"y_zero_point", Attr::ofInt(yZp)},
                        {"to", Attr::ofInt(elemKindToOnnx(yk))}});
    ASSERT_TRUE(bool(n)) << n.status().message();
    f->addOutput(Value(*n), "y");
    SCOPED_TRACE(Type(xk, dims).toString() + " -> " +
                 Type(yk, dims).toString() + " sx " + std::to_string(sx));
    expectRunsLikeInterpreter(*f, drawRows(rng, xk, dims, c % 2 ? 1.0 : 0.1));
  }
}

// IntegerNormalization: LayerNorm and RMSNorm over the last axis and over
// the last two, rows of 1 to 800 and int16 ones of 50000, one gamma or one
// per element (negative ones too), biases, epsilon 0 on constant rows (W = 0)
// and large epsilons, u8, i8 and i16 in and out.
TEST(CpuIntegerRows, NormalizationMatchesInterpreterBitForBit) {
  std::mt19937 rng(12);
  for (int c = 0; c < 16; ++c) {
    // (Case 15: int16 rows too long for 64-bit squares: one element at the
    // top, the rest at the bottom, |D_0| = (n - 1) 65535 > 2^31.5, and an
    // int16 output fine enough to show the others' small deviations.)
    const ElemKind xk = c == 15 ? ElemKind::I16 : kRowKinds[rng() % 3],
                   yk = c == 15 ? ElemKind::I16 : kRowKinds[rng() % 3];
    const bool twoAxes = c % 4 == 1;
    const int64_t len = c == 15      ? 50000
                        : c % 8 == 0 ? 1
                                     : 2 + int64_t(rng() % 400);
    const Dims dims = twoAxes ? Dims{3, 2, len} : Dims{4, len};
    const int64_t row = twoAxes ? 2 * len : len;
    const bool center = c % 3 != 2;
    const double sx = xk == ElemKind::I16 ? 0.001 : 0.05;
    const double sy =
        c == 15 ? 1e-4 : 0.02 * std::pow(2.0, double(rng() % 6) - 2);
    const quant::Range xr = xk == ElemKind::I16
                                ? quant::rangeOf(true, 16)
                                : quant::rangeOf(xk == ElemKind::I8);
    const quant::Range yr = yk == ElemKind::I16
                                ? quant::rangeOf(true, 16)
                                : quant::rangeOf(yk == ElemKind::I8);
    const int32_t xZp =
        xk == ElemKind::I16 ? 0 : int32_t(xr.lo + (xr.hi - xr.lo) / 2);
    const int32_t yZp = yk == ElemKind::U8 ? 128 : yk == ElemKind::I8 ? 3 : 0;
    std::vector<double> gamma, beta;
    const size_t entries = c % 2 ? size_t(row) : 1;
    std::uniform_real_distribution<double> u(-1.5, 1.5);
    for (size_t i = 0; i < entries; ++i) {
      gamma.push_back(i % 11 == 5 ? 0.0 : u(rng));
      beta.push_back(c % 5 == 0 ? 0.0 : u(rng) / 4);
    }
    const double eps = c % 4 == 0 ? 0.0 : c % 4 == 3 ? 0.5 : 1e-5;
    const quant::NormParams p = quant::makeNormParams(
        sx, xZp, sy, yZp, yr.lo, yr.hi, row, center, eps, gamma, beta);
    Module m;
    Function *f = m.addFunction("main");
    Value x(f->addPlaceholder("x", Type(xk, dims)));
    Tensor mt(Type(ElemKind::I32, {int64_t(entries)})),
        st(Type(ElemKind::I32, {int64_t(entries)})),
        bt(Type(ElemKind::I64, {int64_t(entries)}));
    for (size_t i = 0; i < entries; ++i) {
      mt.setInt(int64_t(i), p.mult[i]);
      st.setInt(int64_t(i), p.shift[i]);
      bt.setInt(int64_t(i), p.bias[i]);
    }
    Value mv(f->addConstant("mult", std::move(mt)));
    Value sv(f->addConstant("shift", std::move(st)));
    Value bv(f->addConstant("bias", std::move(bt)));
    auto n = f->create(OpKind::IntegerNormalization, {x, mv, sv, bv},
                       {{"axis", Attr::ofInt(twoAxes ? 1 : -1)},
                        {"center", Attr::ofInt(center ? 1 : 0)},
                        {"epsilon", Attr::ofInt(p.epsilon)},
                        {"x_zero_point", Attr::ofInt(xZp)},
                        {"y_zero_point", Attr::ofInt(yZp)},
                        {"to", Attr::ofInt(elemKindToOnnx(yk))}});
    ASSERT_TRUE(bool(n)) << n.status().message();
    f->addOutput(Value(*n), "y");
    SCOPED_TRACE(
        Type(xk, dims).toString() + " -> " + Type(yk, dims).toString() +
        (center ? " LayerNorm" : " RMSNorm") + " eps " + std::to_string(eps));
    // (Spread 0: every row constant.)
    Tensor in = drawRows(rng, xk, dims, c % 4 == 0 ? 0.0 : c % 2 ? 1.0 : 0.05);
    if (c == 15)
      for (int64_t i = 0; i < in.size(); ++i)
        in.setInt(i, i % len == 0 ? xr.hi : xr.lo);
    expectRunsLikeInterpreter(*f, in);
  }
}
