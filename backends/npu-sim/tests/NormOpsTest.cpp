// The integer normalization's operations (the layer's vreduce, rscalar and
// vrowmul, with the row_* registers) through this NPU's encoder
// (Encode.cpp): small programs loading rows, normalizing them and storing
// the results and the per-row scalars, encoded to VREDUCE, RSCALAR,
// VROWMUL and SETREG words, run on the golden model and, as the layer's
// operations, on the SDK's reference simulator from the same DRAM: the two
// DRAMs afterwards agree byte for byte.
#include "NpuTarget.h"

#include "golden/Golden.h"

#include "ember/accel/RefSim.h"
#include "ember/accel/Sync.h"
#include "ember/npu/Isa.h"
#include "ember/quant/Transformer.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>

using namespace ember::npusim;
namespace npu = ember::npu;
namespace q = ember::quant;

namespace {

struct NormSpec {
  int64_t C = 16, R = 3;
  bool w16 = false, out16 = false, center = true, tileMajor = true;
  uint32_t seed = 1;
};

// Runs the normalization of `s` on both models; the DRAM bytes that differ.
void runBoth(const NormSpec &s) {
  SCOPED_TRACE("C" + std::to_string(s.C) + " R" + std::to_string(s.R) +
               (s.w16 ? " i16" : " i8") + (s.out16 ? "->i16" : "->i8") +
               (s.center ? " layernorm" : " rmsnorm") +
               (s.tileMajor ? " tile-major" : " row-major"));
  const Target &t = npuTarget();
  std::mt19937 rng(s.seed);
  const int64_t L = t.lanes, T = (s.C + L - 1) / L, last = s.C % L;
  const int64_t n = s.R * T; // out rows of the tensor
  // DRAM: the input rows, the channels' parameters (four acc rows a tile),
  // the result rows, the sums and the scalars.
  const int64_t inRb = L * (s.w16 ? 2 : 1), outRb = L * (s.out16 ? 2 : 1),
                accRb = 4 * L;
  const int64_t inOff = 0, parOff = inOff + n * inRb,
                outOff = parOff + 4 * T * accRb, sumOff = outOff + n * outRb,
                scalOff = sumOff + s.R * accRb,
                bytes = scalOff + s.R * accRb + 64;
  std::vector<uint8_t> dram(static_cast<size_t>(bytes));
  for (uint8_t &b : dram)
    b = uint8_t(rng());
  std::vector<double> gamma, beta;
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  for (int64_t c = 0; c < s.C; ++c) {
    gamma.push_back(1.0 + 0.5 * u(rng));
    beta.push_back(0.5 * u(rng));
  }
  const int32_t xZp = s.w16 ? 0 : int32_t(rng() % 9) - 4;
  const q::NormParams p = q::makeNormParams(
      s.w16 ? 0.001 : 0.05, xZp, s.out16 ? 0.0002 : 0.03, s.out16 ? 0 : 3,
      s.out16 ? -32768 : -128, s.out16 ? 32767 : 127, s.C, s.center, 1e-5,
      gamma, beta);
  for (int64_t k = 0; k < T; ++k)
    for (int64_t l = 0; l < L && k * L + l < s.C; ++l) {
      const size_t c = size_t(k * L + l);
      const int32_t v[4] = {p.mult[c], p.shift[c],
                            int32_t(uint32_t(uint64_t(p.bias[c]))),
                            int32_t(uint32_t(uint64_t(p.bias[c]) >> 32))};
      for (int64_t r = 0; r < 4; ++r)
        std::memcpy(&dram[size_t(parOff + (4 * k + r) * accRb + 4 * l)], &v[r],
                    4);
    }

  // On chip: the input at out row 0, the result at 512; acc rows: the sums
  // at 0, the sums of squares and then the scalars at 64, the parameters
  // at 128.
  const int64_t src = 0, dst = 512, S = 0, W = 64, P = 128;
  auto at = [&](int64_t i, int64_t k) {
    return s.tileMajor ? k * s.R + i : i * T + k;
  };
  std::vector<Op> ops;
  Op in = loadOp(t, Cls::Out, src, inOff, 1, n, n);
  in.w16 = s.w16;
  ops.push_back(in);
  ops.push_back(loadOp(t, Cls::Acc, P, parOff, 1, 4 * T, 4 * T));
  const uint64_t eps = uint64_t(p.epsilon);
  ops.push_back(setregOp(t, Reg::RowN, s.C));
  ops.push_back(setregOp(t, Reg::RowXZp, xZp));
  ops.push_back(setregOp(t, Reg::RowOutZp, p.yZp));
  ops.push_back(setregOp(t, Reg::RowMin, p.lo));
  ops.push_back(setregOp(t, Reg::RowMax, p.hi));
  ops.push_back(setregOp(t, Reg::RowEpsLo, int32_t(uint32_t(eps))));
  ops.push_back(setregOp(t, Reg::RowEpsHi, int32_t(uint32_t(eps >> 32))));
  const int64_t gs = s.tileMajor ? 1 : T, ks = s.tileMajor ? s.R : 1;
  if (s.center) {
    ops.push_back(vreduceOp(t, S, src, s.R, T, gs, ks, last, s.w16, true));
    ops.push_back(vreduceOp(t, W, src, s.R, T, gs, ks, last, s.w16, true));
    ops.push_back(
        vreduceOp(t, W, src, s.R, T, gs, ks, last, s.w16, false, true, true));
  } else {
    ops.push_back(
        vreduceOp(t, W, src, s.R, T, gs, ks, last, s.w16, false, true));
  }
  ops.push_back(rscalarOp(t, W, W, s.R, true));
  for (int64_t k = 0; k < T; ++k)
    ops.push_back(vrowmulOp(t, dst + at(0, k), src + at(0, k), s.R,
                            s.tileMajor ? 1 : T, W, S, P + 4 * k, s.w16,
                            s.out16, s.center));
  Op out = storeOp(t, Cls::Out, dst, outOff, 1, n, n);
  out.w16 = s.out16;
  ops.push_back(out);
  ops.push_back(storeOp(t, Cls::Acc, S, sumOff, 1, s.R, s.R));
  ops.push_back(storeOp(t, Cls::Acc, W, scalOff, 1, s.R, s.R));
  ops.push_back(finishOp());
  ASSERT_EQ(assignSync(t, ops, nullptr).message(), "");

  std::vector<npu::Word> words;
  for (const Op &o : ops)
    words.push_back(npu::encode(encodeOp(t, o)));
  std::vector<npu::Insn> decoded;
  ASSERT_EQ(npu::checkProgram(words, uint64_t(bytes), decoded), "");
  int norm = 0;
  for (const npu::Insn &i : decoded)
    norm += i.op == npu::Opcode::VREDUCE || i.op == npu::Opcode::RSCALAR ||
            i.op == npu::Opcode::VROWMUL;
  EXPECT_EQ(norm, (s.center ? 4 : 2) + int(T));

  std::vector<uint8_t> golden = dram;
  npu::GoldenMachine g;
  g.reset();
  ember_npu_counters_t counters{};
  ASSERT_EQ(g.run(decoded, golden, counters), "");

  RefMachine m(t, uint64_t(bytes));
  m.dram() = dram;
  SimStats st;
  ASSERT_EQ(m.run(ops, SimOptions(), &st).message(), "");

  size_t bad = 0, first = SIZE_MAX;
  for (size_t i = 0; i < golden.size(); ++i)
    if (golden[i] != m.dram()[i]) {
      ++bad;
      first = std::min(first, i);
    }
  ASSERT_EQ(bad, 0u) << "bytes differ, first at " << first << " (golden "
                     << int(golden[first]) << ", reference "
                     << int(m.dram()[first]) << ")";
  // Something was computed: the result rows differ from what was there.
  EXPECT_NE(std::memcmp(golden.data() + outOff, dram.data() + outOff,
                        size_t(n * outRb)),
            0);
}

TEST(NpuNormOps, GoldenMatchesTheReferenceSimulator) {
  ASSERT_EQ(npuTargetError(), "");
  const Target &t = npuTarget();
  ASSERT_TRUE(t.has(OpKind::VReduce) && t.has(OpKind::RScalar) &&
              t.has(OpKind::VRowMul));
  const int64_t L = t.lanes;
  uint32_t seed = 7;
  for (int64_t C : {L, L + 5, 3 * L - 7})
    for (int wide = 0; wide < 4; ++wide)
      for (int form = 0; form < 4; ++form) {
        NormSpec s;
        s.C = C;
        s.R = 2 + int64_t(seed % 3);
        s.w16 = wide & 1;
        s.out16 = wide & 2;
        s.center = form & 1;
        s.tileMajor = !(form & 2);
        s.seed = seed++;
        runBoth(s);
        if (::testing::Test::HasFatalFailure())
          return;
      }
}

// The description declares what the layer emits: the three operations on
// the vector engine, with every field of their encodings, and the row_*
// registers at the spec's ids.
TEST(NpuNormOps, TargetDeclaresTheOperations) {
  const Target &t = npuTarget();
  const int vec = t.kindEngine[size_t(OpKind::Requant)];
  for (OpKind k : {OpKind::VReduce, OpKind::RScalar, OpKind::VRowMul})
    EXPECT_EQ(t.kindEngine[size_t(k)], vec) << opKindName(k);
  EXPECT_TRUE(t.declares(OpKind::VReduce, "sq"));
  EXPECT_TRUE(t.declares(OpKind::VReduce, "center"));
  EXPECT_TRUE(t.declares(OpKind::RScalar, "rsqrt"));
  EXPECT_EQ(t.ops[size_t(OpKind::VRowMul)].max("param"), 2047);
  EXPECT_EQ(t.ops[size_t(OpKind::VReduce)].max("len"), 1023);
  EXPECT_EQ(t.regs[size_t(Reg::RowN)], EMBER_NPU_REG_ROW_N);
  EXPECT_EQ(t.regs[size_t(Reg::RowEpsHi)], EMBER_NPU_REG_ROW_EPS_HI);
  EXPECT_EQ(t.regEngine[size_t(Reg::RowMax)], vec);
  const Op op = vrowmulOp(t, 1, 2, 3, 4, 5, 6, 7, true, false, true);
  const npu::Insn in = encodeOp(t, op);
  EXPECT_EQ(in.op, npu::Opcode::VROWMUL);
  EXPECT_EQ(in.scal, 5);
  EXPECT_EQ(in.sum, 6);
  EXPECT_EQ(in.param, 7);
  EXPECT_TRUE(in.w16 && in.center && !in.out16);
}

} // namespace
