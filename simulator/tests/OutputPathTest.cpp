//===- OutputPathTest.cpp - spec version 2's instructions vs references ---===//
//
// The golden model defines the NPU; these tests pin the instructions of spec
// version 2 (the output table, VMUL, UPSAMPLE, POOL over a bounded source,
// STORE's repetition, x step and lane groups, MOVE's repetition) to
// references written independently of it: ONNX Resize's coordinate formula in
// double precision, the lowered QDQ Mul through Ember's Requantize
// (ember/quant/Arith.h), pooling over an explicitly padded map, and nearest
// upsampling / phase interleaving / lane merging written out as loops.
//
//===----------------------------------------------------------------------===//
#include "NpuTestUtil.h"
#include "ember/npu/Arith.h"
#include "ember/npu/Builders.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <random>

namespace ember::npu::test {
namespace {

constexpr int kOut = EMBER_NPU_MEM_OUT, kAcc = EMBER_NPU_MEM_ACC,
              kAct = EMBER_NPU_MEM_ACT;

/// Runs `program` (its tokens in program order: every instruction waits for
/// all earlier ones through a FENCE) on the golden executor.
RunOutput golden(std::vector<Insn> program, const std::vector<uint8_t> &dram) {
  std::vector<Insn> fenced;
  for (const Insn &i : program) {
    fenced.push_back(i);
    fenced.push_back(makeInsn(Opcode::FENCE));
  }
  fenced.push_back(makeInsn(Opcode::FINISH));
  ember_npu_device_t *dev = makeDevice(EMBER_NPU_EXECUTOR_GOLDEN, dram.size());
  RunOutput out = runProgram(dev, encodeAll(fenced), dram);
  ember_npu_device_destroy(dev);
  return out;
}

int8_t outAt(const RunOutput &r, int64_t row, int lane) {
  return static_cast<int8_t>(r.srams[kOut][row * kDim + lane]);
}

std::vector<uint8_t> randomBytes(size_t n, std::mt19937 &rng) {
  std::vector<uint8_t> d(n);
  for (auto &b : d)
    b = static_cast<uint8_t>(rng());
  return d;
}

/// ONNX Resize (linear, or nearest with floor) of one axis as the ONNX
/// reference and Ember's interpreter compute it: the source coordinate in
/// double, its floor and ratio, taps clamped to the axis.
void onnxTaps(int64_t x, int64_t f, int64_t n, bool halfPixel,
              int64_t (&idx)[2], double (&w)[2]) {
  double c =
      halfPixel ? (double(x) + 0.5) / double(f) - 0.5 : double(x) / double(f);
  double fl = std::floor(c);
  double ratio = c - fl;
  auto clampI = [&](int64_t v) {
    return std::max<int64_t>(0, std::min<int64_t>(n - 1, v));
  };
  idx[0] = clampI(int64_t(fl));
  idx[1] = clampI(int64_t(fl) + 1);
  w[0] = 1 - ratio;
  w[1] = ratio;
}

TEST(NpuOutputPath, UpsampleIsOnnxResizeOnTheStoredIntegers) {
  std::mt19937 rng(3);
  int checked = 0;
  for (int trial = 0; trial < 60; ++trial) {
    int64_t k = trial % 4, f = int64_t(1) << k, h = 1 + rng() % 4,
            w = 1 + rng() % 5, mode = 1 + trial % 3 % 2;
    if (trial % 5 == 4)
      mode = 0;
    int32_t zp = trial % 3 == 0 ? 0 : int32_t(rng() % 256) - 128;
    if (f * f * h * w > 600)
      continue;
    std::vector<uint8_t> dram = randomBytes(8192, rng);
    RunOutput r = golden({loadInsn(kOut, 0, 0, 1, h * w, h * w),
                          upsampleInsn(100, 0, w, h, 0, f * h, k, mode, zp)},
                         dram);
    ASSERT_EQ(r.status, EMBER_NPU_STATUS_OK) << r.error;
    for (int64_t y = 0; y < f * h; ++y) {
      for (int64_t x = 0; x < f * w; ++x) {
        int64_t iy[2], ix[2];
        double wy[2], wx[2];
        onnxTaps(y, f, h, mode == 1, iy, wy);
        onnxTaps(x, f, w, mode == 1, ix, wx);
        for (int l = 0; l < kDim; ++l) {
          auto v = [&](int64_t yy, int64_t xx) {
            return double(int8_t(dram[(yy * w + xx) * kDim + l]));
          };
          double expect;
          if (mode == 0) { // nearest, asymmetric coordinates, floor
            expect = v(y / f, x / f);
          } else { // separable, exact in double; round half to even
            double sum = 0;
            for (int a = 0; a < 2; ++a)
              for (int b = 0; b < 2; ++b)
                sum += wy[a] * wx[b] * (v(iy[a], ix[b]) - zp);
            expect = std::nearbyint(sum) + zp;
          }
          ASSERT_EQ(outAt(r, 100 + y * f * w + x, l), int8_t(expect))
              << "f " << f << " mode " << mode << " h " << h << " w " << w
              << " zp " << zp << " at " << y << "," << x << " lane " << l;
          ++checked;
        }
      }
    }
  }
  EXPECT_GT(checked, 10000);
}

TEST(NpuOutputPath, UpsampleStripesAreLinesOfTheWholeResult) {
  std::mt19937 rng(4);
  std::vector<uint8_t> dram = randomBytes(8192, rng);
  const int64_t w = 5, h = 4;
  for (int64_t mode = 0; mode < 3; ++mode) {
    std::vector<Insn> p{loadInsn(kOut, 0, 0, 1, h * w, h * w),
                        upsampleInsn(100, 0, w, h, 0, 2 * h, 1, mode, 7)};
    for (int64_t oy = 0; oy < 2 * h; oy += 3) // stripes of 3 lines
      p.push_back(upsampleInsn(300 + oy * 2 * w, 0, w, h, oy,
                               std::min<int64_t>(3, 2 * h - oy), 1, mode, 7));
    RunOutput r = golden(p, dram);
    ASSERT_EQ(r.status, EMBER_NPU_STATUS_OK) << r.error;
    for (int64_t row = 0; row < 2 * h * 2 * w; ++row)
      for (int l = 0; l < kDim; ++l)
        ASSERT_EQ(outAt(r, 300 + row, l), outAt(r, 100 + row, l)) << row;
  }
}

TEST(NpuOutputPath, VmulIsTheLoweredQdqMul) {
  // Ember lowers DQ(a) * DQ(b) -> Q to Requantize((a - za) * (b - zb)) with
  // one multiplier s_a s_b / s_y and no input zero point
  // (core/lower/IntegerPatterns.cpp, docs/quantization.md).
  std::mt19937 rng(5);
  for (int trial = 0; trial < 40; ++trial) {
    int32_t za = int32_t(rng() % 256) - 128, zb = int32_t(rng() % 256) - 128,
            zy = int32_t(rng() % 256) - 128;
    quant::Multiplier m = quant::quantizeMultiplier(
        std::ldexp(double(rng() % 1000 + 1), -int(rng() % 20)));
    int32_t lo = trial % 4 == 0 ? zy : -128, hi = trial % 5 == 0 ? 60 : 127;
    bool bcast = trial % 2;
    std::vector<uint8_t> dram = randomBytes(8192, rng);
    // The register holds more than the zero point's 8 bits: only they count.
    int32_t zaReg = trial % 3 == 0 ? za + 256 * int32_t(rng() % 100) : za;
    const int64_t rows = 9;
    RunOutput r = golden({setregInsn(EMBER_NPU_REG_MUL_A_ZP, zaReg),
                          setregInsn(EMBER_NPU_REG_MUL_B_ZP, zb),
                          setregInsn(EMBER_NPU_REG_MUL_MULT, m.mult),
                          setregInsn(EMBER_NPU_REG_MUL_SHIFT, m.shift),
                          setregInsn(EMBER_NPU_REG_MUL_OUT_ZP, zy),
                          setregInsn(EMBER_NPU_REG_MUL_MIN, lo),
                          setregInsn(EMBER_NPU_REG_MUL_MAX, hi),
                          loadInsn(kOut, 0, 0, 1, 2 * rows, 2 * rows),
                          vmulInsn(100, 0, rows, rows, bcast)},
                         dram);
    ASSERT_EQ(r.status, EMBER_NPU_STATUS_OK) << r.error;
    for (int64_t i = 0; i < rows; ++i)
      for (int l = 0; l < kDim; ++l) {
        int32_t a = int8_t(dram[i * kDim + l]),
                b = int8_t(dram[((bcast ? 0 : i) + rows) * kDim + l]);
        int32_t expect =
            quant::requantize((a - za) * (b - zb), 0, m, zy, lo, hi);
        ASSERT_EQ(outAt(r, 100 + i, l), expect) << "trial " << trial;
      }
  }
}

TEST(NpuOutputPath, TableIndexIsValuePlus128OnEveryProducer) {
  std::mt19937 rng(6);
  std::vector<uint8_t> dram = randomBytes(16384, rng);
  const uint64_t table = 8192;
  // Accumulators -128 .. 127 + the requantization identity (mult 2^30,
  // shift 1: x * 2^30 * 2^(1 - 31) = x).
  for (int64_t i = 0; i < 256 / kDim; ++i)
    for (int l = 0; l < kDim; ++l) {
      int32_t v = int32_t(i * kDim + l) - 128;
      std::memcpy(&dram[12288 + (i * kDim + l) * 4], &v, 4);
    }
  for (int l = 0; l < kDim; ++l) {
    int32_t m = 1 << 30, s = 1;
    std::memcpy(&dram[4096 + 4 * l], &m, 4);
    std::memcpy(&dram[4096 + 4 * (kDim + l)], &s, 4);
  }
  const int64_t n = 256 / kDim;
  RunOutput r = golden(
      {loadInsn(kAcc, 0, table, 1, kLutRows, kLutRows),
       loadInsn(kAcc, 100, 4096, 1, 2, 2), loadInsn(kAcc, 200, 12288, 1, n, n),
       lutldInsn(0), requantInsn(0, 200, n, 100, 0, -128, 127, false, true),
       requantInsn(n, 200, n, 100, 0, -128, 127), lutInsn(2 * n, n, n)},
      dram);
  ASSERT_EQ(r.status, EMBER_NPU_STATUS_OK) << r.error;
  for (int64_t e = 0; e < 256; ++e) { // value q = e - 128 maps to byte e
    int64_t row = e / kDim;
    int lane = int(e % kDim);
    EXPECT_EQ(outAt(r, n + row, lane), int8_t(e - 128));
    EXPECT_EQ(outAt(r, row, lane), int8_t(dram[table + e])) << e;
    EXPECT_EQ(outAt(r, 2 * n + row, lane), int8_t(dram[table + e])) << e;
  }
}

TEST(NpuOutputPath, BoundedPoolIsPoolingOverAPaddedMap) {
  std::mt19937 rng(7);
  const int64_t shapes[][7] = {// kh, kw, stride, pad_top, pad_left, in_h, in_w
                               {5, 5, 1, 2, 2, 6, 7},
                               {3, 3, 2, 1, 1, 7, 6},
                               {2, 2, 2, 1, 1, 5, 5},
                               {5, 1, 1, 2, 0, 4, 3},
                               {3, 5, 3, 2, 4, 8, 9}};
  for (const auto &sh : shapes) {
    int64_t kh = sh[0], kw = sh[1], st = sh[2], pt = sh[3], pl = sh[4],
            ih = sh[5], iw = sh[6];
    int64_t oh = (ih + 2 * pt - kh) / st + 1, ow = (iw + 2 * pl - kw) / st + 1;
    for (int avg = 0; avg < 2; ++avg) {
      std::vector<uint8_t> dram = randomBytes(8192, rng);
      RunOutput r = golden({setregInsn(EMBER_NPU_REG_POOL_KH, kh),
                            setregInsn(EMBER_NPU_REG_POOL_KW, kw),
                            setregInsn(EMBER_NPU_REG_POOL_STRIDE, st),
                            setregInsn(EMBER_NPU_REG_POOL_IN_W, iw),
                            setregInsn(EMBER_NPU_REG_POOL_OUT_W, ow),
                            loadInsn(kOut, 0, 0, 1, ih * iw, ih * iw),
                            poolInsn(avg, 200, 0, oh * ow, pt, pl, ih)},
                           dram);
      ASSERT_EQ(r.status, EMBER_NPU_STATUS_OK) << r.error;
      for (int64_t oy = 0; oy < oh; ++oy)
        for (int64_t ox = 0; ox < ow; ++ox)
          for (int l = 0; l < kDim; ++l) {
            // The padded map: -inf (max) or absent (average, divided by the
            // taps inside: count_include_pad = 0), half up.
            int best = -1000, sum = 0, n = 0;
            for (int64_t y = oy * st - pt; y < oy * st - pt + kh; ++y)
              for (int64_t x = ox * st - pl; x < ox * st - pl + kw; ++x) {
                if (y < 0 || y >= ih || x < 0 || x >= iw)
                  continue;
                int v = int8_t(dram[(y * iw + x) * kDim + l]);
                best = std::max(best, v);
                sum += v;
                ++n;
              }
            int expect = avg ? int(std::floor(double(sum) / n + 0.5)) : best;
            ASSERT_EQ(outAt(r, 200 + oy * ow + ox, l), expect)
                << "k" << kh << "x" << kw << " at " << oy << "," << ox;
          }
    }
  }
}

TEST(NpuOutputPath, StoreRepeatsInterleavesAndMergesLaneGroups) {
  std::mt19937 rng(8);
  for (int mem : {kOut, kAcc}) {
    const int64_t rb = memRowBytes(mem), group = rb / kNumLaneGroups;
    for (int64_t rep : {0, 1, 3}) {
      for (int64_t xstep : {0, 1}) {
        for (int64_t lanes = 0; lanes < (1 << kNumLaneGroups); ++lanes) {
          std::vector<uint8_t> dram = randomBytes(65536, rng);
          const int64_t ys = 2, xs = 3, r = rep + 1, s = xstep + 1,
                        stride = xs * r * s + 1, base = 32768 + 5;
          RunOutput out = golden(
              {loadInsn(mem, 10, 0, 1, ys * xs, ys * xs),
               storeInsn(mem, 10, base, ys, xs, stride, rep, xstep, lanes)},
              dram);
          ASSERT_EQ(out.status, EMBER_NPU_STATUS_OK) << out.error;
          std::vector<uint8_t> expect = dram;
          for (int64_t y = 0; y < ys * r; ++y)
            for (int64_t x = 0; x < xs * r; ++x)
              for (int64_t b = 0; b < rb; ++b)
                if (!lanes || ((lanes >> (b / group)) & 1))
                  expect[base + (y * stride + x * s) * rb + b] =
                      dram[((y / r) * xs + x / r) * rb + b];
          ASSERT_TRUE(out.dram == expect)
              << memName(mem) << " rep " << rep << " xstep " << xstep
              << " lanes " << lanes;
          EXPECT_EQ(out.counters.store_bytes, uint64_t(ys * xs * r * r * rb));
        }
      }
    }
  }
}

TEST(NpuOutputPath, MoveRepeatsInsideItsPadding) {
  std::mt19937 rng(9);
  std::vector<uint8_t> dram = randomBytes(8192, rng);
  const int64_t ys = 2, xs = 3, stride = 4, r = 3, pt = 1, pb = 2, pl = 3,
                pr = 0, w = pl + xs * r + pr, h = pt + ys * r + pb;
  RunOutput out = golden({setregInsn(EMBER_NPU_REG_PAD_VALUE, -7),
                          loadInsn(kOut, 0, 0, 1, 8, 8),
                          moveInsn(20, 0, ys, xs, stride, pt, pb, pl, pr, 2)},
                         dram);
  ASSERT_EQ(out.status, EMBER_NPU_STATUS_OK) << out.error;
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x) {
      int64_t sy = y - pt, sx = x - pl;
      bool data = sy >= 0 && sy < ys * r && sx >= 0 && sx < xs * r;
      for (int l = 0; l < kDim; ++l)
        ASSERT_EQ(int8_t(out.srams[kAct][(20 + y * w + x) * kDim + l]),
                  data ? int8_t(dram[((sy / r) * stride + sx / r) * kDim + l])
                       : int8_t(-7))
            << y << "," << x;
    }
  EXPECT_EQ(out.counters.load_bytes, 8u * kDim); // the LOAD only
}

TEST(NpuOutputPath, ProgramFilesRecordTheLowestVersionThatRunsThem) {
  std::vector<Insn> v1{storeInsn(kOut, 0, 0, 1, 2, 2),
                       makeInsn(Opcode::FINISH)};
  EXPECT_EQ(programVersion(v1), 1u);
  std::vector<Insn> withRep = v1;
  withRep[0].rep = 1;
  EXPECT_EQ(programVersion(withRep), 2u);
  EXPECT_EQ(programVersion({lutInsn(0, 0, 1), makeInsn(Opcode::FINISH)}), 2u);
  // Version 3: a 16-bit field of an older opcode, or a new opcode.
  std::vector<Insn> wide{lutInsn(0, 0, 1, true), makeInsn(Opcode::FINISH)};
  EXPECT_EQ(programVersion(wide), 3u);
  EXPECT_EQ(programVersion(
                {load16Insn(kOut, 0, 0, 1, 1, 1), makeInsn(Opcode::FINISH)}),
            3u);
  // Version 4: VADD's exact flag.
  Insn exact = vaddInsn(0, 0, 1, 1);
  EXPECT_EQ(programVersion({exact, makeInsn(Opcode::FINISH)}), 1u);
  exact.exact = 1;
  EXPECT_EQ(programVersion({exact, makeInsn(Opcode::FINISH)}), 4u);
  // Version 5: GEMM16 and DWGEMM16.
  std::vector<Insn> gemm16{gemm16Insn(true, 0, 0, 0, 1, 1),
                           makeInsn(Opcode::FINISH)};
  EXPECT_EQ(programVersion(gemm16), 5u);
  EXPECT_EQ(programVersion({dwgemm16Insn(true, 0, 0, 0, 1, 1, 0, 0, 1),
                            makeInsn(Opcode::FINISH)}),
            5u);
  // Versions 9 to 11: VREDUCE sq, exp, VROWEXP. A version-9 program keeps
  // its version and its words (exp, bit 126, is zero in it).
  std::vector<Insn> sq{vreduceInsn(0, 0, 1, 1, 1, 1, 0, false, false, true),
                       makeInsn(Opcode::FINISH)};
  EXPECT_EQ(programVersion(sq), 9u);
  EXPECT_EQ((encode(sq[0]).hi >> 62) & 1u, 0u);
  std::vector<Insn> exp = sq;
  exp[0].sq = 0;
  exp[0].exp = 1;
  EXPECT_EQ(programVersion(exp), 10u);
  EXPECT_EQ((encode(exp[0]).hi >> 62) & 1u, 1u);
  EXPECT_EQ(programVersion({vrowexpInsn(0, 0, 1, 1, 0, 0, false, false),
                            makeInsn(Opcode::FINISH)}),
            11u);
  const std::string path = ::testing::TempDir() + "npu_version.nbin";
  for (const auto *prog : {&v1, &withRep, &wide, &gemm16, &sq, &exp}) {
    std::vector<Word> words = encodeAll(*prog), back;
    ASSERT_EQ(writeProgramFile(path, words), "");
    std::ifstream in(path, std::ios::binary);
    uint32_t header[4];
    in.read(reinterpret_cast<char *>(header), sizeof header);
    EXPECT_EQ(header[1], programVersion(*prog));
    ASSERT_EQ(readProgramFile(path, back), "");
    EXPECT_TRUE(back == words);
  }
}

} // namespace
} // namespace ember::npu::test
