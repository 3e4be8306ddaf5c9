// The integer softmax's operations (the layer's vreduce max and exp,
// rscalar and vrowexp, with the row_sm_* registers) through this NPU's
// encoder (Encode.cpp): small programs loading rows, taking their softmax
// and storing the results and the per-row sums and reciprocals, encoded to
// VREDUCE, RSCALAR, VROWEXP and SETREG words, run on the golden model and,
// as the layer's operations, on the SDK's reference simulator from the same
// DRAM: the two DRAMs afterwards agree byte for byte. (The golden model
// runs VREDUCE exp and VROWEXP from spec versions 10 and 11 on.)
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

struct SoftmaxSpec {
  int64_t C = 16, R = 3;
  bool w16 = false, out16 = false, tileMajor = true, inPlace = false;
  double sx = 0.1;
  uint32_t seed = 1;
};

// Runs the softmax of `s` on both models; the DRAM bytes that differ.
void runBoth(const SoftmaxSpec &s) {
  SCOPED_TRACE("C" + std::to_string(s.C) + " R" + std::to_string(s.R) +
               (s.w16 ? " i16" : " i8") + (s.out16 ? "->i16" : "->i8") +
               (s.tileMajor ? " tile-major" : " row-major") +
               (s.inPlace ? " in place" : "") + " sx " + std::to_string(s.sx));
  const Target &t = npuTarget();
  std::mt19937 rng(s.seed);
  const int64_t L = t.lanes, T = (s.C + L - 1) / L, last = s.C % L;
  const int64_t n = s.R * T; // out rows of the tensor
  // DRAM: the input rows, the result rows, the sums and the reciprocals.
  const int64_t inRb = L * (s.w16 ? 2 : 1), outRb = L * (s.out16 ? 2 : 1),
                accRb = 4 * L;
  const int64_t inOff = 0, outOff = inOff + n * inRb,
                sumOff = outOff + n * outRb, recOff = sumOff + s.R * accRb,
                bytes = recOff + s.R * accRb + 64;
  std::vector<uint8_t> dram(static_cast<size_t>(bytes));
  for (uint8_t &b : dram)
    b = uint8_t(rng());
  const q::SoftmaxParams p = q::makeSoftmaxParams(
      s.sx, s.out16 ? 1.0 / 32768 : 1.0 / 256, s.out16 ? 0 : -128,
      s.out16 ? -32768 : -128, s.out16 ? 32767 : 127);

  // On chip: the input at out row 0, the result there or at 512; acc rows:
  // the maxima, then the sums, at 0 (A), the reciprocals at 64 (B).
  const int64_t src = 0, dst = s.inPlace ? src : 512, A = 0, B = 64;
  auto at = [&](int64_t i, int64_t k) {
    return s.tileMajor ? k * s.R + i : i * T + k;
  };
  std::vector<Op> ops;
  Op in = loadOp(t, Cls::Out, src, inOff, 1, n, n);
  in.w16 = s.w16;
  ops.push_back(in);
  ops.push_back(setregOp(t, Reg::RowSmInMult, p.in.mult));
  ops.push_back(setregOp(t, Reg::RowSmInShift, p.in.shift));
  ops.push_back(setregOp(t, Reg::RowSmOutMult, p.out.mult));
  ops.push_back(setregOp(t, Reg::RowSmOutShift, p.out.shift));
  ops.push_back(setregOp(t, Reg::RowOutZp, p.yZp));
  ops.push_back(setregOp(t, Reg::RowMin, p.lo));
  ops.push_back(setregOp(t, Reg::RowMax, p.hi));
  const int64_t gs = s.tileMajor ? 1 : T, ks = s.tileMajor ? s.R : 1;
  ops.push_back(vreduceOp(t, A, src, s.R, T, gs, ks, last, s.w16, false));
  ops.push_back(vreduceOp(t, A, src, s.R, T, gs, ks, last, s.w16, false, false,
                          false, true));
  ops.push_back(rscalarOp(t, B, A, s.R, false));
  for (int64_t k = 0; k < T; ++k)
    ops.push_back(vrowexpOp(t, dst + at(0, k), src + at(0, k), s.R,
                            s.tileMajor ? 1 : T, B, A, s.w16, s.out16));
  Op out = storeOp(t, Cls::Out, dst, outOff, 1, n, n);
  out.w16 = s.out16;
  ops.push_back(out);
  ops.push_back(storeOp(t, Cls::Acc, A, sumOff, 1, s.R, s.R));
  ops.push_back(storeOp(t, Cls::Acc, B, recOff, 1, s.R, s.R));
  ops.push_back(finishOp());
  ASSERT_EQ(assignSync(t, ops, nullptr).message(), "");

  std::vector<npu::Word> words;
  for (const Op &o : ops)
    words.push_back(npu::encode(encodeOp(t, o)));
  std::vector<npu::Insn> decoded;
  ASSERT_EQ(npu::checkProgram(words, uint64_t(bytes), decoded), "");
  int sm = 0;
  for (const npu::Insn &i : decoded)
    sm += i.op == npu::Opcode::VREDUCE || i.op == npu::Opcode::RSCALAR ||
          i.op == npu::Opcode::VROWEXP;
  EXPECT_EQ(sm, 3 + int(T));

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

// Needs the hardware's spec versions 10 and 11 in the golden model.
TEST(NpuSoftmaxOps, GoldenMatchesTheReferenceSimulator) {
  ASSERT_EQ(npuTargetError(), "");
  const Target &t = npuTarget();
  ASSERT_TRUE(t.has(OpKind::VReduce) && t.has(OpKind::RScalar) &&
              t.has(OpKind::VRowExp) && t.declares(OpKind::VReduce, "exp"));
  const int64_t L = t.lanes;
  uint32_t seed = 7;
  for (int64_t C : {L, L + 5, 3 * L - 7})
    for (int wide = 0; wide < 4; ++wide)
      for (int form = 0; form < 4; ++form) {
        SoftmaxSpec s;
        s.C = C;
        s.R = 2 + int64_t(seed % 3);
        s.w16 = wide & 1;
        s.out16 = wide & 2;
        s.tileMajor = !(form & 1);
        // In place only where the widths agree (a 16-bit row is two).
        s.inPlace = (form & 2) && s.w16 == s.out16;
        const double scales[3] = {0.02, 0.1, 0.5};
        s.sx = scales[seed % 3] / (s.w16 ? 256 : 1);
        s.seed = seed++;
        runBoth(s);
        if (::testing::Test::HasFatalFailure())
          return;
      }
}

// The description declares what the layer emits: vrowexp on the vector
// engine with every field of its encoding, vreduce's exp flag, and the
// row_sm_* registers at the spec's ids; the encoder writes VREDUCE's exp
// bit and VROWEXP's fields.
TEST(NpuSoftmaxOps, TargetDeclaresAndEncodesTheOperations) {
  ASSERT_EQ(npuTargetError(), "");
  const Target &t = npuTarget();
  const int vec = t.kindEngine[size_t(OpKind::Requant)];
  EXPECT_EQ(t.kindEngine[size_t(OpKind::VRowExp)], vec);
  EXPECT_TRUE(t.declares(OpKind::VReduce, "exp"));
  for (const char *f :
       {"dst", "src", "rows", "stride", "scal", "sum", "w16", "out16"})
    EXPECT_TRUE(t.declares(OpKind::VRowExp, f)) << f;
  EXPECT_EQ(t.ops[size_t(OpKind::VRowExp)].max("scal"), 2047);
  EXPECT_EQ(t.ops[size_t(OpKind::VRowExp)].max("rows"), 4095);
  EXPECT_EQ(t.regs[size_t(Reg::RowSmInMult)], EMBER_NPU_REG_ROW_SM_IN_MULT);
  EXPECT_EQ(t.regs[size_t(Reg::RowSmInShift)], EMBER_NPU_REG_ROW_SM_IN_SHIFT);
  EXPECT_EQ(t.regs[size_t(Reg::RowSmOutMult)], EMBER_NPU_REG_ROW_SM_OUT_MULT);
  EXPECT_EQ(t.regs[size_t(Reg::RowSmOutShift)], EMBER_NPU_REG_ROW_SM_OUT_SHIFT);
  for (Reg r : {Reg::RowSmInMult, Reg::RowSmInShift, Reg::RowSmOutMult,
                Reg::RowSmOutShift})
    EXPECT_EQ(t.regEngine[size_t(r)], vec) << regRoleName(r);

  const npu::Insn e = encodeOp(
      t, vreduceOp(t, 1, 2, 3, 4, 5, 6, 7, true, false, false, false, true));
  EXPECT_EQ(e.op, npu::Opcode::VREDUCE);
  EXPECT_TRUE(e.exp && e.w16 && !e.sum && !e.sq && !e.center);
  const npu::Word ew = npu::encode(e);
  EXPECT_EQ(npu::getBits(ew, 126, 1), 1u);
  EXPECT_EQ(npu::getBits(ew, 82, 10), 4u); // len
  // Without exp the word is what it was (bit 126 clear).
  EXPECT_EQ(npu::getBits(npu::encode(encodeOp(t, vreduceOp(t, 1, 2, 3, 4, 5, 6,
                                                           7, true, false))),
                         126, 1),
            0u);

  const npu::Insn v =
      encodeOp(t, vrowexpOp(t, 100, 200, 3, 4, 50, 60, true, false));
  EXPECT_EQ(v.op, npu::Opcode::VROWEXP);
  EXPECT_EQ(v.dst, 100);
  EXPECT_EQ(v.src, 200);
  EXPECT_EQ(v.rows, 3);
  EXPECT_EQ(v.stride, 4);
  EXPECT_EQ(v.scal, 50);
  EXPECT_EQ(v.sum, 60);
  EXPECT_TRUE(v.w16 && !v.out16);
  const npu::Word w = npu::encode(v);
  EXPECT_EQ(npu::getBits(w, 0, 8), 23u);
  EXPECT_EQ(npu::getBits(w, 40, 14), 100u);
  EXPECT_EQ(npu::getBits(w, 54, 14), 200u);
  EXPECT_EQ(npu::getBits(w, 68, 12), 3u);
  EXPECT_EQ(npu::getBits(w, 80, 12), 4u);
  EXPECT_EQ(npu::getBits(w, 92, 11), 50u);
  EXPECT_EQ(npu::getBits(w, 103, 11), 60u);
  EXPECT_EQ(npu::getBits(w, 114, 1), 1u);
  EXPECT_EQ(npu::getBits(w, 115, 1), 0u);
}

} // namespace
