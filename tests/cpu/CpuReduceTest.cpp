// Reductions on the CPU backend (CodegenReduce.cpp) against the reference
// interpreter, bit for bit: sums, products, Max and Min over outer, inner
// and all axes, with and without a fused producer, at 1 and 2 threads;
// Max and Min of signed zeros and NaN, which the vectorized loops reduce
// in any order; float to integer casts (LoopGen::cast) at every range.
#include "CpuTestUtil.h"

#include <cstring>
#include <limits>

using namespace ember;
using namespace ember::cpugen;
using namespace ember::cpugen::test;

namespace {

/// main(x: `type`) = op(x, axes) with keepdims 0, of Neg(x) when `fused`
/// (a producer the reduction's loop computes); null with a failure added
/// when the graph does not build.
Function *reduceGraph(Module &m, OpKind op, const Type &type,
                      const std::vector<int64_t> &axes, bool fused = false) {
  Function *f = m.addFunction("main");
  Value x(f->addPlaceholder("x", type));
  if (fused) {
    auto neg = f->create(OpKind::Neg, {x});
    if (!neg) {
      ADD_FAILURE() << neg.status().message();
      return nullptr;
    }
    x = Value(*neg);
  }
  Tensor at = Tensor::fromInts(ElemKind::I64, axes, {int64_t(axes.size())});
  Node *c = f->addConstant(f->freshName("axes"), at);
  auto n = f->create(op, {x, Value(c)}, {{"keepdims", Attr::ofInt(0)}});
  if (!n) {
    ADD_FAILURE() << n.status().message();
    return nullptr;
  }
  f->addOutput(Value(*n), "y");
  return f;
}

} // namespace

TEST(CpuLoops, ReductionsOverOuterAxesMatchInterpreterExactly) {
  const OpKind ops[] = {OpKind::ReduceSum, OpKind::ReduceMax, OpKind::ReduceMin,
                        OpKind::ReduceProd};
  const std::vector<std::vector<int64_t>> axesSets = {{0}, {0, 1}, {1}};
  for (ElemKind ek : {ElemKind::F32, ElemKind::I32}) {
    for (OpKind op : ops) {
      for (const auto &axes : axesSets) {
        Module m;
        Function *f = reduceGraph(m, op, Type(ek, {6, 5, 300}), axes);
        ASSERT_NE(f, nullptr);
        std::mt19937 rng(5);
        std::vector<Tensor> in = {randomTensor(Type(ek, {6, 5, 300}), rng)};
        if (op == OpKind::ReduceProd) // keep products finite and exact
          for (int64_t i = 0; i < in[0].size(); ++i)
            in[0].setDouble(i, (i * 7) % 3 == 0 ? -1.0 : 1.0);
        auto want = interpret(*f, in);
        ASSERT_TRUE(bool(want)) << want.status().message();
        SCOPED_TRACE(std::string(opName(op)) + " axes " +
                     std::to_string(axes.size()) + " first " +
                     std::to_string(axes[0]));
        CompileConfig one = hostConfig(), two = hostConfig();
        two.numThreads = 2;
        expectClose(runCpu(*f, one, in), *want, 0, 0);
        expectClose(runCpu(*f, two, in), *want, 0, 0);
      }
    }
  }
}

// A sum over outer axes whose kept elements are contiguous and innermost
// (a global pool of a channels-last value) in blocks of the kept elements:
// at 2 threads, with fewer than 256 of them, in narrower blocks of at least
// 64 so that the step splits over the workers when it reads at least 2^18
// elements (Codegen::blockWidth); fewer than 128 kept elements stay one
// block on one worker (each worker would stream the whole map for its
// cache lines of each pixel). Every element still
// sums its inputs in the reference's order: the interpreter's bits at 1
// and 2 threads, for kept extents that leave a partial last block (40,
// 200, 250) or none (32, 256), a single block (16) and more than one of 256
// (700), without and with a fused producer.
TEST(CpuLoops, InnerKeptSumsSplitOverWorkersKeepTheirOrder) {
  for (int64_t c : {16, 32, 40, 200, 250, 256, 700})
    for (bool fused : {false, true}) {
      const Type type(ElemKind::F32, {128, 72, c});
      Module m;
      Function *f = reduceGraph(m, OpKind::ReduceSum, type, {0, 1}, fused);
      ASSERT_NE(f, nullptr);
      std::mt19937 rng(uint32_t(c * 3 + fused));
      std::vector<Tensor> in = {randomTensor(type, rng)};
      auto want = interpret(*f, in);
      ASSERT_TRUE(bool(want)) << want.status().message();
      SCOPED_TRACE("kept " + std::to_string(c) + (fused ? " fused" : ""));
      CompileConfig one = hostConfig(), two = hostConfig();
      two.numThreads = 2;
      expectIdentical(runCpu(*f, one, in), *want);
      ThreadPool::Stats st;
      expectIdentical(runCpu(*f, two, in, 0, &st), *want);
      // 128 x 72 x c >= 2^18 elements summed are worth a split, into
      // blocks of 64 or more.
      if (c >= 128) {
        EXPECT_EQ(st.steps, 1u) << "the sum ran on one thread";
      } else {
        EXPECT_EQ(st.steps, 0u) << "blocks narrower than 64 split the sum";
      }
    }
}

// Float Max and Min through llvm.maximum/minimum (vectorized, any order)
// give the interpreter's bits: +0 above -0 whatever their order, NaN
// winning, over the innermost axis, outer axes, all of them, and with a
// fused producer (Neg), at 1 and 2 threads.
TEST(CpuLoops, MaxMinOfSignedZerosAndNaNMatchInterpreterBits) {
  for (OpKind op : {OpKind::ReduceMax, OpKind::ReduceMin})
    for (bool fused : {false, true})
      for (const std::vector<int64_t> &axes :
           std::vector<std::vector<int64_t>>{{2}, {0}, {0, 1}, {0, 1, 2}}) {
        const Type type(ElemKind::F32, {4, 3, 100});
        Module m;
        Function *f = reduceGraph(m, op, type, axes, fused);
        ASSERT_NE(f, nullptr);
        // Zeros of both signs at random places, negative (Max) or positive
        // (Min) values elsewhere, so most results are a zero; one NaN.
        std::mt19937 rng(11);
        Tensor t(type);
        float *v = t.data<float>();
        const float away = (op == OpKind::ReduceMax) != fused ? -1.0f : 1.0f;
        for (int64_t i = 0; i < t.size(); ++i) {
          int r = int(rng() % 5);
          v[i] = r == 0 ? 0.0f : r == 1 ? -0.0f : away * float(1 + rng() % 9);
        }
        v[7 * 100 + 42] = std::numeric_limits<float>::quiet_NaN();
        std::vector<Tensor> in = {t};
        auto want = interpret(*f, in);
        ASSERT_TRUE(bool(want)) << want.status().message();
        SCOPED_TRACE(std::string(opName(op)) + (fused ? " fused" : "") +
                     " axes " + std::to_string(axes.size()) + " first " +
                     std::to_string(axes[0]));
        CompileConfig one = hostConfig(), two = hostConfig();
        two.numThreads = 2;
        for (const CompileConfig &cfg : {one, two}) {
          std::vector<Tensor> got = runCpu(*f, cfg, in);
          const float *g = got[0].data<float>(), *w = (*want)[0].data<float>();
          size_t zeros = 0;
          for (int64_t i = 0; i < got[0].size(); ++i) {
            if (std::isnan(w[i])) {
              EXPECT_TRUE(std::isnan(g[i])) << "at " << i;
              continue;
            }
            uint32_t gb, wb;
            std::memcpy(&gb, &g[i], 4);
            std::memcpy(&wb, &w[i], 4);
            EXPECT_EQ(gb, wb) << "at " << i << ": " << g[i] << " vs " << w[i];
            zeros += w[i] == 0.0f;
          }
          if (got[0].size() > 1) { // (all axes: the NaN's)
            EXPECT_GT(zeros, 0u);
          }
        }
      }
}

// Float to integer casts (LoopGen::cast): the reference truncates through
// int64 (NaN -> 0, |x| >= 2^63 -> INT64_MIN) and keeps the low bits; the
// backend's f32 form for targets of at most 32 bits works in f32 and i32
// (vectorizable) and must give the same integers for every range it
// splits: |x| < 2^31, 2^31 <= |x| < 2^56, beyond, infinities and NaN. Each
// value sits among ordinary ones in a long row, so the vector loop takes it.
TEST(CpuLoops, FloatToIntegerCastsMatchInterpreter) {
  const float inf = std::numeric_limits<float>::infinity();
  // Below 2^31, between 2^31 and 2^56, beyond, and the specials.
  std::vector<float> edges = {0.0f,    -0.0f,   0.5f,     -0.5f,   0.99999994f,
                              -1.5f,   127.9f,  128.0f,   255.5f,  256.0f,
                              -128.0f, -129.0f, 32767.5f, 65535.0f};
  for (float v : {65536.0f, -32769.0f, 2147483520.0f, -2147483520.0f})
    edges.push_back(v);
  for (float v :
       {2147483648.0f, -2147483648.0f, 3000000000.0f, -3000000000.0f,
        4294967296.0f, 4294967040.0f, 6442450944.0f, -6442450944.0f, 1e10f,
        -1e10f, 123456789012.0f, 0x1p55f, 0x1.fffffep55f, -0x1.fffffep55f})
    edges.push_back(v);
  for (float v : {0x1p56f, 0x1.000002p56f, 1e18f, 0x1p63f, -0x1p63f, 1e30f,
                  -1e30f, inf, -inf, std::numeric_limits<float>::quiet_NaN(),
                  1.17549435e-38f, -1e-45f})
    edges.push_back(v);
  for (ElemKind to : {ElemKind::I8, ElemKind::U8, ElemKind::I16, ElemKind::U16,
                      ElemKind::I32, ElemKind::U32, ElemKind::I64}) {
    int onnxTo = 0;
    for (int t = 1; t < 32 && !onnxTo; ++t) {
      ElemKind k;
      if (elemKindFromOnnx(t, k) && k == to)
        onnxTo = t;
    }
    ASSERT_NE(onnxTo, 0);
    const Type type(ElemKind::F32, {int64_t(edges.size()), 37});
    Module m;
    Function *f = m.addFunction("main");
    Value x(f->addPlaceholder("x", type));
    auto n = f->create(OpKind::Cast, {x}, {{"to", Attr::ofInt(onnxTo)}});
    ASSERT_TRUE(bool(n)) << n.status().message();
    f->addOutput(Value(*n), "y");
    Tensor t(type);
    std::mt19937 rng(3);
    for (int64_t i = 0; i < t.size(); ++i)
      t.data<float>()[i] = i % 37 == 11 ? edges[size_t(i / 37)]
                                        : float(int(rng() % 2001) - 1000) / 8;
    std::vector<Tensor> in = {t};
    auto want = interpret(*f, in);
    ASSERT_TRUE(bool(want)) << want.status().message();
    SCOPED_TRACE(std::string("to ") + std::to_string(onnxTo));
    std::vector<Tensor> got = runCpu(*f, hostConfig(), in);
    ASSERT_EQ(got.size(), 1u);
    for (int64_t i = 0; i < t.size(); ++i)
      ASSERT_EQ(got[0].getInt(i), (*want)[0].getInt(i))
          << "at " << i << ": " << t.data<float>()[i];
  }
}

// A Cast of a float clamped between constants (Min(Max(x, lo), hi) or
// Max(Min(x, hi), lo): DynamicQuantizeLinear's saturation before its
// Cast to u8) converts in one step (LoopGen::boundedFloatToInt), since the
// value is NaN or within the bounds: the same integers as the reference
// for NaN, infinities, halves and values far outside. Bounds reaching 2^31
// keep the general form, which the generated code then still has
// (llvm.floor, its wrap step).
TEST(CpuLoops, ClampedFloatToIntegerCastsMatchInterpreter) {
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> edges = {0.0f,
                                    -0.0f,
                                    0.5f,
                                    -0.5f,
                                    254.5f,
                                    255.49f,
                                    255.5f,
                                    256.0f,
                                    -1.0f,
                                    127.5f,
                                    -128.5f,
                                    1e10f,
                                    -1e10f,
                                    inf,
                                    -inf,
                                    65535.5f,
                                    3e9f,
                                    -2.2e9f,
                                    std::numeric_limits<float>::quiet_NaN()};
  struct Case {
    ElemKind to;
    double lo, hi;
    bool maxFirst, bounded;
  };
  for (const Case &c : {Case{ElemKind::U8, 0, 255, true, true},
                        Case{ElemKind::I8, -128, 127, false, true},
                        Case{ElemKind::U16, 0, 65535, true, true},
                        Case{ElemKind::I32, -1e9, 2e9, true, true},
                        Case{ElemKind::U8, -3, 300, false, true},
                        Case{ElemKind::I32, -1e9, 3e9, true, false}}) {
    int onnxTo = 0;
    for (int t = 1; t < 32 && !onnxTo; ++t) {
      ElemKind k;
      if (elemKindFromOnnx(t, k) && k == c.to)
        onnxTo = t;
    }
    ASSERT_NE(onnxTo, 0);
    const Type type(ElemKind::F32, {int64_t(edges.size()), 33});
    Module m;
    Function *f = m.addFunction("main");
    Value x(f->addPlaceholder("x", type));
    auto scalar = [&](double v) {
      Tensor t(Type(ElemKind::F32, {}));
      t.data<float>()[0] = float(v);
      return Value(f->addConstant("c" + std::to_string(v), std::move(t)));
    };
    auto first = f->create(c.maxFirst ? OpKind::Max : OpKind::Min,
                           {x, scalar(c.maxFirst ? c.lo : c.hi)});
    ASSERT_TRUE(bool(first)) << first.status().message();
    auto second = f->create(c.maxFirst ? OpKind::Min : OpKind::Max,
                            {scalar(c.maxFirst ? c.hi : c.lo), Value(*first)});
    ASSERT_TRUE(bool(second)) << second.status().message();
    auto n = f->create(OpKind::Cast, {Value(*second)},
                       {{"to", Attr::ofInt(onnxTo)}});
    ASSERT_TRUE(bool(n)) << n.status().message();
    f->addOutput(Value(*n), "y");
    Tensor t(type);
    std::mt19937 rng(5);
    for (int64_t i = 0; i < t.size(); ++i)
      t.data<float>()[i] = i % 33 == 7 ? edges[size_t(i / 33)]
                                       : float(int(rng() % 4001) - 1000) / 8;
    std::vector<Tensor> in = {t};
    auto want = interpret(*f, in);
    ASSERT_TRUE(bool(want)) << want.status().message();
    SCOPED_TRACE(std::string("to ") + std::to_string(onnxTo) + " [" +
                 std::to_string(c.lo) + ", " + std::to_string(c.hi) + "]");
    std::vector<Tensor> got = runCpu(*f, hostConfig(), in);
    ASSERT_EQ(got.size(), 1u);
    for (int64_t i = 0; i < t.size(); ++i)
      ASSERT_EQ(got[0].getInt(i), (*want)[0].getInt(i))
          << "at " << i << ": " << t.data<float>()[i];
    auto cm = compileModel(*f, hostConfig());
    ASSERT_TRUE(bool(cm)) << cm.status().message();
    bool floors = false;
    for (const llvm::Function &fn : cm->module->functions())
      floors = floors || fn.getName().starts_with("llvm.floor");
    EXPECT_EQ(floors, !c.bounded);
  }
}

// PacketSum (an Emit row, ops/PacketSum.cpp) gives the interpreter's bits
// (ember/math/PacketSum.h) on lines shorter than a packet, of one packet,
// of pairs and an odd packet, with every head, for each lane count, over
// the last axis and the last two, of a graph input and of a computed
// operand (Neg), at 1 and 2 threads.
TEST(CpuLoops, PacketSumMatchesInterpreterBitForBit) {
  for (int64_t len : {1, 3, 4, 5, 7, 8, 9, 12, 17, 33, 63, 100})
    for (int64_t lanes : {1, 4, 8, 16})
      for (int64_t aligned : {0, 1})
        for (int64_t axis : {1, 2}) {
          const Type type(ElemKind::F32, {3, 5, len});
          Module m;
          Function *f = m.addFunction("main");
          Value x(f->addPlaceholder("x", type));
          if (axis == 1) {
            auto neg = f->create(OpKind::Neg, {x});
            ASSERT_TRUE(bool(neg)) << neg.status().message();
            x = Value(*neg);
          }
          auto n = f->create(OpKind::PacketSum, {x},
                             {{"axis", Attr::ofInt(axis)},
                              {"lanes", Attr::ofInt(lanes)},
                              {"aligned", Attr::ofInt(aligned)}});
          ASSERT_TRUE(bool(n)) << n.status().message();
          f->addOutput(Value(*n), "y");
          std::mt19937 rng(uint32_t(len * 131 + lanes));
          std::vector<Tensor> in = {randomTensor(type, rng)};
          auto want = interpret(*f, in);
          ASSERT_TRUE(bool(want)) << want.status().message();
          SCOPED_TRACE("len " + std::to_string(len) + " lanes " +
                       std::to_string(lanes) + " aligned " +
                       std::to_string(aligned) + " axis " +
                       std::to_string(axis));
          CompileConfig one = hostConfig(), two = hostConfig();
          two.numThreads = 2;
          expectIdentical(runCpu(*f, one, in), *want);
          expectIdentical(runCpu(*f, two, in), *want);
        }
}

// A ReduceMin and a ReduceMax of the same operand (DynamicQuantizeLinear's
// range) run as one pass (Group::sibling): the producer they share (Neg)
// is computed in that pass, not stored, and both results keep the
// interpreter's bits (signed zeros, NaN) over inner, outer and all axes,
// at 1 and 2 threads. The Min's reader (an output, Neg) comes after the
// Max, where the pair is computed.
TEST(CpuLoops, MinAndMaxOfOneOperandInOnePassMatchInterpreterBits) {
  for (const std::vector<int64_t> &axes :
       std::vector<std::vector<int64_t>>{{2}, {0}, {0, 1}, {0, 1, 2}}) {
    const Type type(ElemKind::F32, {4, 3, 100});
    Module m;
    Function *f = m.addFunction("main");
    Value x(f->addPlaceholder("x", type));
    auto neg = f->create(OpKind::Neg, {x});
    ASSERT_TRUE(bool(neg)) << neg.status().message();
    Tensor at = Tensor::fromInts(ElemKind::I64, axes, {int64_t(axes.size())});
    Value ax(f->addConstant(f->freshName("axes"), at));
    AttrMap flat{{"keepdims", Attr::ofInt(0)}};
    auto mn = f->create(OpKind::ReduceMin, {Value(*neg), ax}, flat);
    ASSERT_TRUE(bool(mn)) << mn.status().message();
    auto mx = f->create(OpKind::ReduceMax, {Value(*neg), ax}, flat);
    ASSERT_TRUE(bool(mx)) << mx.status().message();
    auto lo = f->create(OpKind::Neg, {Value(*mn)});
    ASSERT_TRUE(bool(lo)) << lo.status().message();
    f->addOutput(Value(*mx), "hi");
    f->addOutput(Value(*lo), "lo");
    SCOPED_TRACE("axes " + std::to_string(axes.size()) + " first " +
                 std::to_string(axes[0]));
    // One Reduce group computes both, Neg inside it.
    auto groups = formGroups(*f, hostConfig());
    ASSERT_TRUE(bool(groups)) << groups.status().message();
    size_t paired = 0;
    for (const Group &g : *groups)
      if (g.kind == GroupKind::Reduce) {
        EXPECT_EQ(g.root, *mx);
        EXPECT_EQ(g.sibling, *mn);
        EXPECT_TRUE(contains(g, *neg));
        paired += g.sibling != nullptr;
      }
    EXPECT_EQ(paired, 1u);
    std::mt19937 rng(13);
    Tensor t(type);
    float *v = t.data<float>();
    for (int64_t i = 0; i < t.size(); ++i) {
      int r = int(rng() % 5);
      v[i] = r == 0   ? 0.0f
             : r == 1 ? -0.0f
                      : (rng() % 2 ? 1.0f : -1.0f) * float(1 + rng() % 9);
    }
    v[7 * 100 + 42] = std::numeric_limits<float>::quiet_NaN();
    std::vector<Tensor> in = {t};
    auto want = interpret(*f, in);
    ASSERT_TRUE(bool(want)) << want.status().message();
    CompileConfig one = hostConfig(), two = hostConfig();
    two.numThreads = 2;
    for (const CompileConfig &cfg : {one, two}) {
      std::vector<Tensor> got = runCpu(*f, cfg, in);
      ASSERT_EQ(got.size(), 2u);
      for (size_t o = 0; o < 2; ++o) {
        const float *g = got[o].data<float>(), *w = (*want)[o].data<float>();
        ASSERT_EQ(got[o].size(), (*want)[o].size());
        for (int64_t i = 0; i < got[o].size(); ++i) {
          uint32_t gb, wb;
          std::memcpy(&gb, &g[i], 4);
          std::memcpy(&wb, &w[i], 4);
          if (std::isnan(w[i]))
            EXPECT_TRUE(std::isnan(g[i])) << "output " << o << " at " << i;
          else
            EXPECT_EQ(gb, wb) << "output " << o << " at " << i << ": " << g[i]
                              << " vs " << w[i];
        }
      }
    }
  }
}

// A fused reduction's dims merge where every operand walks them
// contiguously (CodegenReduce.cpp coalesceReduce): Max, Min and integer
// sums over neighbouring axes, all axes, extent-1 dims among them, with
// keepdims 0 or 1, of Neg(x) and of Neg(Transpose(x)) (a producer read
// across the reduced dims, which must not merge), against the
// interpreter's bits at 1 and 2 threads.
TEST(CpuLoops, FusedReductionsOverMergedDimsMatchInterpreterBits) {
  const std::vector<std::vector<int64_t>> axesSets = {
      {1, 2}, {0, 1, 2, 3}, {2, 3}, {0, 1}, {1, 2, 3}, {0, 3}};
  for (ElemKind ek : {ElemKind::F32, ElemKind::I32})
    for (OpKind op : {OpKind::ReduceMax, OpKind::ReduceMin, OpKind::ReduceSum})
      for (int transpose = 0; transpose < 2; ++transpose)
        for (size_t ai = 0; ai < axesSets.size(); ++ai) {
          const std::vector<int64_t> &axes = axesSets[ai];
          const int keep = int((ai + size_t(transpose)) % 2);
          if (ek == ElemKind::F32 && op == OpKind::ReduceSum)
            continue; // float sums keep their loops
          const Type type(ek, {3, 1, 20, 37});
          Module m;
          Function *f = m.addFunction("main");
          Value x(f->addPlaceholder("x", type));
          if (transpose) {
            auto t = f->create(OpKind::Transpose, {x},
                               {{"perm", Attr::ofInts({0, 3, 2, 1})}});
            ASSERT_TRUE(bool(t)) << t.status().message();
            x = Value(*t);
          }
          auto neg = f->create(OpKind::Neg, {x});
          ASSERT_TRUE(bool(neg)) << neg.status().message();
          Tensor at =
              Tensor::fromInts(ElemKind::I64, axes, {int64_t(axes.size())});
          Value ax(f->addConstant(f->freshName("axes"), at));
          auto n = f->create(op, {Value(*neg), ax},
                             {{"keepdims", Attr::ofInt(keep)}});
          ASSERT_TRUE(bool(n)) << n.status().message();
          f->addOutput(Value(*n), "y");
          SCOPED_TRACE(
              std::string(opName(op)) + " " + std::string(elemKindName(ek)) +
              " transpose " + std::to_string(transpose) + " keep " +
              std::to_string(keep) + " axes " + std::to_string(axes.size()) +
              " first " + std::to_string(axes[0]));
          std::mt19937 rng(29);
          std::vector<Tensor> in = {randomTensor(type, rng)};
          auto want = interpret(*f, in);
          ASSERT_TRUE(bool(want)) << want.status().message();
          CompileConfig one = hostConfig(), two = hostConfig();
          two.numThreads = 2;
          expectClose(runCpu(*f, one, in), *want, 0, 0);
          expectClose(runCpu(*f, two, in), *want, 0, 0);
        }
}
