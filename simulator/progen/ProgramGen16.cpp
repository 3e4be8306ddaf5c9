//===- ProgramGen16.cpp - Test programs of 16-bit activations (16x8) ------===//
//
// Spec version 3's instructions in directed programs (every form at its
// edges, the 16x8 layer end to end, the precision boundaries, mixed with
// 8-bit instructions on the same rows) and as kinds of the random programs.
//
//===----------------------------------------------------------------------===//
#include "ProgramGen.h"

#include "ember/npu/Arith.h"

#include <array>
#include <climits>
#include <cmath>
#include <cstring>

namespace ember::npu::test {

namespace {

constexpr int kActM = EMBER_NPU_MEM_ACT, kWgtM = EMBER_NPU_MEM_WGT,
              kAccM = EMBER_NPU_MEM_ACC, kOutM = EMBER_NPU_MEM_OUT;
constexpr int64_t kOutArea = 32 * 1024; // DRAM results land in [32K, 64K)
constexpr int64_t kActHalf = EMBER_NPU_ACT_HALF, kAccHalf = EMBER_NPU_ACC_HALF,
                  kOutHalf = EMBER_NPU_OUT_HALF;

std::vector<uint8_t> randomDram(std::mt19937 &rng) {
  std::vector<uint8_t> d(kTestDramBytes);
  for (auto &b : d)
    b = static_cast<uint8_t>(rng());
  return d;
}

void putI16(std::vector<uint8_t> &d, uint64_t addr, int32_t v) {
  d[addr] = uint8_t(v & 0xff);
  d[addr + 1] = uint8_t((v >> 8) & 0xff);
}

void putI32(std::vector<uint8_t> &d, uint64_t addr, int32_t v) {
  std::memcpy(&d[addr], &v, 4);
}

/// `n` int16 rows at DRAM `addr` drawn from `pick(rng)`.
template <class F>
void putRows16(std::vector<uint8_t> &d, uint64_t addr, int64_t n,
               std::mt19937 &rng, F pick) {
  for (int64_t e = 0; e < n * kDim; ++e)
    putI16(d, addr + 2 * e, pick(rng));
}

/// int16 values with the edges often: -32768, 32767, -1, 0, 255, 256, -256
/// (the low byte's excess-128 wrap) and random ones.
int32_t edgy16(std::mt19937 &rng) {
  static const int32_t edges[] = {-32768, 32767, -1, 0, 255, 256, -256, 128};
  return rng() % 3 ? int32_t(int16_t(rng())) : edges[rng() % 8];
}

/// Stores the 16-bit rows [row, row + rows) of `mem` (and, for tokens, the
/// program's view of them) to DRAM `dram`.
void dump16(SafeProgramBuilder &b, int mem, int64_t row, int64_t rows,
            int64_t dram) {
  b.add(store16Insn(mem, row, dram, 1, rows, rows));
}

void dump8(SafeProgramBuilder &b, int mem, int64_t row, int64_t rows,
           int64_t dram) {
  b.add(storeInsn(mem, row, dram, 1, rows, rows));
}

void setAddRegs(SafeProgramBuilder &b, int32_t lshift, int32_t aZp,
                int32_t aMult, int32_t aShift, int32_t bZp, int32_t bMult,
                int32_t bShift, int32_t outMult, int32_t outShift,
                int32_t outZp, int32_t lo, int32_t hi) {
  b.add(setregInsn(EMBER_NPU_REG_ADD_LSHIFT, lshift));
  b.add(setregInsn(EMBER_NPU_REG_ADD_A_ZP, aZp));
  b.add(setregInsn(EMBER_NPU_REG_ADD_A_MULT, aMult));
  b.add(setregInsn(EMBER_NPU_REG_ADD_A_SHIFT, aShift));
  b.add(setregInsn(EMBER_NPU_REG_ADD_B_ZP, bZp));
  b.add(setregInsn(EMBER_NPU_REG_ADD_B_MULT, bMult));
  b.add(setregInsn(EMBER_NPU_REG_ADD_B_SHIFT, bShift));
  b.add(setregInsn(EMBER_NPU_REG_ADD_OUT_MULT, outMult));
  b.add(setregInsn(EMBER_NPU_REG_ADD_OUT_SHIFT, outShift));
  b.add(setregInsn(EMBER_NPU_REG_ADD_OUT_ZP, outZp));
  b.add(setregInsn(EMBER_NPU_REG_ADD_MIN, lo));
  b.add(setregInsn(EMBER_NPU_REG_ADD_MAX, hi));
}

void setMulRegs(SafeProgramBuilder &b, int32_t aZp, int32_t bZp, int32_t mult,
                int32_t shift, int32_t outZp, int32_t lo, int32_t hi) {
  b.add(setregInsn(EMBER_NPU_REG_MUL_A_ZP, aZp));
  b.add(setregInsn(EMBER_NPU_REG_MUL_B_ZP, bZp));
  b.add(setregInsn(EMBER_NPU_REG_MUL_MULT, mult));
  b.add(setregInsn(EMBER_NPU_REG_MUL_SHIFT, shift));
  b.add(setregInsn(EMBER_NPU_REG_MUL_OUT_ZP, outZp));
  b.add(setregInsn(EMBER_NPU_REG_MUL_MIN, lo));
  b.add(setregInsn(EMBER_NPU_REG_MUL_MAX, hi));
}

void setPoolRegs(SafeProgramBuilder &b, int64_t kh, int64_t kw, int64_t stride,
                 int64_t inW, int64_t outW) {
  b.add(setregInsn(EMBER_NPU_REG_POOL_KH, kh));
  b.add(setregInsn(EMBER_NPU_REG_POOL_KW, kw));
  b.add(setregInsn(EMBER_NPU_REG_POOL_STRIDE, stride));
  b.add(setregInsn(EMBER_NPU_REG_POOL_IN_W, inW));
  b.add(setregInsn(EMBER_NPU_REG_POOL_OUT_W, outW));
}

/// The 16-bit table of `f` (input and output scales) as ACC rows at DRAM
/// `addr`.
template <class F>
void putTable16(std::vector<uint8_t> &d, uint64_t addr, F f, double sIn,
                double sOut) {
  int16_t t[quant::kTable16Entries];
  quant::makeTable16(f, sIn, sOut, t);
  for (int e = 0; e < quant::kTable16Entries; ++e)
    putI16(d, addr + 2 * e, t[e]);
}

/// LOAD16 / STORE16 / MOVE w16: each memory, padding at each side with pad
/// values whose low 16 bits matter (and junk above them), strides (0: one
/// line repeated), the last rows of the lower half, repetition, x step, lane
/// groups, unaligned DRAM.
void addWideDmaCases(std::vector<TestCase> &cases, std::mt19937 &rng) {
  const int pads[][4] = {
      {0, 0, 0, 0}, {3, 3, 3, 3}, {1, 0, 2, 0}, {0, 2, 0, 1}};
  const int32_t padValues[] = {0, -1, 0x1234, int32_t(0xabcd8000)};
  for (int mem : {kActM, kOutM}) {
    for (int p = 0; p < 4; ++p) {
      SafeProgramBuilder b;
      b.add(setregInsn(EMBER_NPU_REG_PAD_VALUE, padValues[p]));
      std::vector<uint8_t> dram = randomDram(rng);
      putRows16(dram, 0, 200, rng, edgy16);
      const int *pd = pads[p];
      int64_t ys = 3, xs = 5, stride = p == 3 ? 0 : 7;
      int64_t rows = (ys + pd[0] + pd[1]) * (xs + pd[2] + pd[3]);
      b.add(load16Insn(mem, 2, 2 * 3 + (p % 2), ys, xs, stride, pd[0], pd[1],
                       pd[2], pd[3]));
      // An 8-bit LOAD into the upper half overwrites part of the high plane.
      if (p == 2)
        b.add(loadInsn(mem, 2 + wideHalf(mem) + 4, 9000, 1, 3, 3));
      dump16(b, mem, 2, rows, kOutArea);
      dump8(b, mem, 2 + wideHalf(mem), rows, kOutArea + 8192);
      // The last rows of the lower half, and a STORE16 with repetition, x
      // step and lane groups at an odd DRAM address.
      int64_t last = wideHalf(mem) - 6;
      b.add(load16Insn(mem, last, 3000, 2, 3, 3));
      b.add(store16Insn(mem, last, kOutArea + 16384 + 2 * p + 1, 2, 3, 7 + p,
                        p % 2, p / 2, (p * 5 + 1) % (1 << kNumLaneGroups)));
      cases.push_back(
          {"load16_" + std::string(memName(mem)) + "_" + std::to_string(p),
           b.finish(), std::move(dram)});
    }
  }
  // MOVE w16 with padding, repetition and the pad value's low 16 bits.
  for (int variant = 0; variant < 4; ++variant) {
    SafeProgramBuilder b;
    std::vector<uint8_t> dram = randomDram(rng);
    putRows16(dram, 0, 64, rng, edgy16);
    b.add(setregInsn(EMBER_NPU_REG_PAD_VALUE, padValues[variant]));
    b.add(load16Insn(kOutM, 3, 0, 1, 64, 64));
    int64_t rep = variant == 3 ? 3 : variant % 2;
    int64_t ys = 2 + variant % 2, xs = 3;
    int p = variant % 4;
    b.add(moveInsn(5, 4, ys, xs, xs + 1, p, 3 - p, p % 2, 2, rep, true));
    int64_t rows = (ys * (rep + 1) + 3) * (xs * (rep + 1) + p % 2 + 2);
    b.add(moveInsn(kActHalf - 20, 60, 1, 4, 4, 1, 1, 1, 1, 0, true));
    dump16(b, kActM, 5, rows, kOutArea);
    dump16(b, kActM, kActHalf - 20, 18, kOutArea + 8192);
    cases.push_back(
        {"move16_" + std::to_string(variant), b.finish(), std::move(dram)});
  }
}

/// A 16x8 layer end to end: LOAD16 of a padded block, the two planes'
/// GEMMs (and DWGEMMs) into the two halves of ACC, REQUANT acc16 to int16
/// and to int8, with per-channel parameters and an int64 bias, STORE16; the
/// compiler's bias correction (128 times the weights' sum, the low plane's
/// excess) is what makes it a 16x8 convolution, and OutputPathTest checks
/// that against a reference; here extreme operands exercise the datapath.
void addWideLayerCases(std::vector<TestCase> &cases, std::mt19937 &rng) {
  for (int variant = 0; variant < 8; ++variant) {
    SafeProgramBuilder b;
    std::vector<uint8_t> dram = randomDram(rng);
    // Activations: random, all -32768, all 32767, alternating.
    putRows16(dram, 0, 120, rng, [&](std::mt19937 &r) {
      switch (variant % 4) {
      case 1:
        return int32_t(-32768);
      case 2:
        return int32_t(32767);
      case 3:
        return int32_t(r() % 2 ? 32767 : -32768);
      default:
        return edgy16(r);
      }
    });
    // Weights (two tiles) at 8192: random, or all -128 / 127.
    for (int e = 0; e < 2 * kDim * kDim; ++e)
      dram[8192 + e] = variant % 4 == 1   ? 0x80
                       : variant % 4 == 2 ? 0x7f
                                          : uint8_t(rng());
    // Parameters at 12288: multipliers, shifts, the bias's low word; its
    // high word at 12288 + 3 rows (some lanes beyond 48 bits: saturation).
    const int64_t pb = 12288;
    for (int l = 0; l < kDim; ++l) {
      putI32(dram, pb + 4 * l, int32_t((1u << 30) + 7919 * l * (variant + 1)));
      putI32(dram, pb + 4 * (kDim + l), -4 - l % 9 - variant);
      putI32(dram, pb + 4 * (2 * kDim + l), int32_t(rng()));
      putI32(dram, pb + 4 * (3 * kDim + l),
             l == 0 ? 0x7fff : (l == 1 ? int32_t(0xffff8000) : -(l % 3 == 0)));
    }
    const int64_t param = kAccHalf - 3 - variant; // bias row in the lower half
    b.add(loadInsn(kAccM, param, pb, 1, 3, 3));
    b.add(loadInsn(kAccM, param + 2 + kAccHalf, pb + 3 * 4 * kDim, 1, 1, 1));
    b.add(loadInsn(kWgtM, 0, 8192, 1, 2 * kDim, 2 * kDim));
    b.add(setregInsn(EMBER_NPU_REG_RQ16_MIN, variant % 3 ? -32768 : 0));
    b.add(setregInsn(EMBER_NPU_REG_RQ16_MAX, variant % 2 ? 32767 : 9000));
    // The block: 4 lines of 6 pixels padded to 6 x 8 (zero padding).
    b.add(load16Insn(kActM, 10, 0, 4, 6, 6, 1, 1, 1, 1));
    const int64_t w = 8, lo = 10, hi = 10 + kActHalf;
    for (int plane = 0; plane < 2; ++plane) {
      int64_t act = plane ? hi : lo, acc = 100 + plane * kAccHalf;
      // A 3-tap row of the 3x3 kernel as three GEMMs (tiles 0, 1, 0).
      for (int tap = 0; tap < 3; ++tap)
        b.add(gemmInsn(tap == 0, acc, act + w + tap, (tap % 2) * kDim, 6, 4, w,
                       6));
      // A depthwise row (DWGEMM) into other accumulators.
      b.add(dwgemmInsn(true, 200 + plane * kAccHalf, act + w, kDim, 6, 4, w, 6,
                       3, 1));
    }
    const bool bias = variant % 2 == 0;
    b.add(requantInsn(20, 100, 24, param, 0, 0, 0, bias, false, true, true));
    b.add(requantInsn(60, 200, 24, param, -5 + variant, -100, 120, bias, false,
                      true, false));
    dump16(b, kOutM, 20, 24, kOutArea);
    dump8(b, kOutM, 60, 24, kOutArea + 4096);
    b.add(store16Insn(kOutM, 20, kOutArea + 8192, 4, 6, 6));
    cases.push_back(
        {"layer16x8_" + std::to_string(variant), b.finish(), std::move(dram)});
  }
}

/// REQUANT's forms and edges: acc16 x out16 (int32 accumulators to int16 is
/// the int8 -> int16 boundary of a layer), multiplier and shift edges, int64
/// biases at the 48-bit saturation, RQ16 bounds (min > max), the 8-bit table
/// on an acc16 -> int8 result.
void addWideRequantCases(std::vector<TestCase> &cases, std::mt19937 &rng) {
  const int32_t mults[] = {INT32_MIN, INT32_MAX, 0, 1 << 30, 1};
  const int32_t shifts[] = {-31, -12, 0, 9, 31, 40, -40};
  int k = 0;
  for (int32_t mult : mults) {
    for (int32_t shift : shifts) {
      if (k++ % 2 && mult != INT32_MAX)
        continue;
      std::vector<uint8_t> dram = randomDram(rng);
      for (int l = 0; l < kDim; ++l) {
        putI32(dram, 16384 + 4 * l, l == 1 ? mult ^ 1 : mult);
        putI32(dram, 16384 + 4 * (kDim + l), l == 2 ? shift / 2 : shift);
        putI32(dram, 16384 + 4 * (2 * kDim + l), int32_t(rng()));
        putI32(dram, 20480 + 4 * l,
               l < 4 ? (l % 2 ? INT32_MAX : INT32_MIN) : int32_t(rng()) >> 14);
      }
      for (int l = 0; l < kDim; ++l) { // accumulator edges in lanes 0-3
        putI32(dram, 4 * l,
               l == 0 ? INT32_MIN : (l == 1 ? INT32_MAX : int32_t(rng())));
        putI32(dram, 4096 + 4 * l,
               l == 0 ? INT32_MIN : (l == 1 ? INT32_MAX : int32_t(rng())));
      }
      SafeProgramBuilder b;
      const int64_t param = kAccHalf - 3;
      b.add(loadInsn(kAccM, 10, 0, 1, 8, 8));
      b.add(loadInsn(kAccM, 10 + kAccHalf, 4096, 1, 8, 8));
      b.add(loadInsn(kAccM, param, 16384, 1, 3, 3));
      b.add(loadInsn(kAccM, param + 2 + kAccHalf, 20480, 1, 1, 1));
      b.add(setregInsn(EMBER_NPU_REG_RQ16_MIN, k % 3 ? -32768 : 100));
      b.add(
          setregInsn(EMBER_NPU_REG_RQ16_MAX, k % 3 ? 32767 : -100)); // lo > hi
      b.add(requantInsn(0, 10, 8, param, 0, 0, 0, false, false, true, true));
      b.add(requantInsn(8, 10, 8, param, 0, 0, 0, true, false, true, true));
      b.add(requantInsn(16, 10, 8, param, 0, 0, 0, k % 2, false, false, true));
      b.add(requantInsn(24 + kOutHalf, 10, 8, param, 7, -120, 100, true, false,
                        true, false));
      dump16(b, kOutM, 0, 24, kOutArea);
      dump8(b, kOutM, 24 + kOutHalf, 8, kOutArea + 4096);
      cases.push_back(
          {"requant16_m" + std::to_string(mult) + "_s" + std::to_string(shift),
           b.finish(), std::move(dram)});
    }
  }
  // The 8-bit output table on an acc16 -> int8 result.
  {
    SafeProgramBuilder b;
    std::vector<uint8_t> dram = randomDram(rng);
    for (int l = 0; l < kDim; ++l) {
      putI32(dram, 16384 + 4 * l, int32_t(1u << 30));
      putI32(dram, 16384 + 4 * (kDim + l), -14);
    }
    b.add(loadInsn(kAccM, 0, 0, 1, 20, 20));
    b.add(loadInsn(kAccM, kAccHalf, 2048, 1, 20, 20));
    b.add(loadInsn(kAccM, 40, 16384, 1, 2, 2));
    b.add(loadInsn(kAccM, 50, 24000, 1, kLutRows, kLutRows));
    b.add(lutldInsn(50));
    b.add(requantInsn(30, 0, 20, 40, 3, -128, 127, false, true, true, false));
    dump8(b, kOutM, 30, 20, kOutArea);
    cases.push_back({"requant16_lut8", b.finish(), std::move(dram)});
  }
}

/// The arithmetic edges of the 16-bit VECTOR forms (coverage bins
/// POOL.avg16.result=min and LUT.w16.round=half): averages whose result is
/// the int16 minimum (windows of -32768 with at most one -32767, which rounds
/// down to it), and 16-bit table lookups where slope x offset is 64 modulo
/// 128 (odd slopes at offset 64, where rounding half up decides). A generator
/// of their own, so the cases before them keep their values.
void addArithEdgeCases(std::vector<TestCase> &cases) {
  std::mt19937 rng(1616);
  {
    SafeProgramBuilder b;
    std::vector<uint8_t> dram = randomDram(rng);
    putRows16(dram, 0, 16, rng,
              [](std::mt19937 &r) { return r() % 4 ? -32768 : -32767; });
    setPoolRegs(b, 2, 2, 2, 4, 2);
    b.add(load16Insn(kOutM, 0, 0, 1, 16, 16));
    b.add(poolInsn(true, 100, 0, 4, 0, 0, 4, false, true));
    b.add(poolInsn(true, 110, 0, 2, 0, 0, 0, false, true)); // unbounded
    dump16(b, kOutM, 100, 12, kOutArea);
    cases.push_back({"pool16_avg_min", b.finish(), std::move(dram)});
  }
  for (int variant = 0; variant < 2; ++variant) {
    SafeProgramBuilder b;
    std::vector<uint8_t> dram = randomDram(rng);
    // Odd slopes (1, 3, -5, 7, ...) from segment to segment, within int16.
    int32_t v = -2000;
    for (int e = 0; e < quant::kTable16Entries; ++e) {
      putI16(dram, 20000 + 2 * e, v);
      const int32_t steps[] = {1, 3, -5, 7, -1, 9};
      v += variant ? steps[e % 6] : 1;
    }
    // Inputs at offset 64 of every kind of segment, and random ones.
    putRows16(dram, 0, 24, rng, [](std::mt19937 &r) {
      return r() % 4 ? int32_t(int16_t(r() & ~127u)) + 64
                     : int32_t(int16_t(r()));
    });
    b.add(loadInsn(kAccM, 300, 20000, 1, kLut16Rows, kLut16Rows));
    b.add(lutldInsn(300, true));
    b.add(load16Insn(kOutM, 0, 0, 1, 24, 24));
    b.add(lutInsn(100, 0, 24, true));
    b.add(lutInsn(4, 8, 12, true)); // in place, overlapping
    dump16(b, kOutM, 0, 124, kOutArea);
    cases.push_back({"lut16_round_half_" + std::to_string(variant), b.finish(),
                     std::move(dram)});
  }
}

/// VREDUCE (spec version 6): the maximum and the sum of 8- and 16-bit rows,
/// contiguous groups and tile-major ones, partial and full last tiles,
/// constant rows at the int16 extremes (the sums' extremes), the last rows of
/// OUT and ACC.
void addReduceCases(std::vector<TestCase> &cases, std::mt19937 &rng) {
  for (int variant = 0; variant < 8; ++variant) {
    SafeProgramBuilder b;
    std::vector<uint8_t> dram = randomDram(rng);
    putRows16(dram, 0, 48, rng, [&](std::mt19937 &r) {
      return variant == 6 ? -32768 : variant == 7 ? 32767 : edgy16(r);
    });
    const bool w16 = variant % 2 == 0, sum = variant & 2;
    b.add(load16Insn(kOutM, 0, 0, 1, 48, 48));
    b.add(loadInsn(kOutM, 300, 8000, 1, 48, 48)); // 8-bit rows
    const int64_t src = w16 ? 0 : 300;
    const int64_t last = variant % 3 == 0 ? 0 : 1 + variant % kDim;
    // Contiguous groups of 3 tiles; tile-major 4 groups x 5 tiles (channel
    // tiles 4 rows apart); one group of 1 tile; the last ACC rows.
    b.add(vreduceInsn(10, src, 5, 3, 3, 1, last, w16, sum));
    b.add(vreduceInsn(20, src + 1, 4, 5, 1, 4, last, w16, sum));
    b.add(vreduceInsn(30, src + 47, 1, 1, 0, 0, variant % 2 ? 1 : kDim, w16,
                      !sum));
    // OUT's last row (8-bit rows reach the upper half).
    b.add(vreduceInsn(31, EMBER_NPU_OUT_ROWS - 2, 1, 2, 0, 1, 0, false, sum));
    b.add(
        vreduceInsn(EMBER_NPU_ACC_ROWS - 2, src, 2, 12, 12, 2, last, w16, sum));
    b.add(storeInsn(kAccM, 10, kOutArea, 1, 22, 22));
    b.add(storeInsn(kAccM, EMBER_NPU_ACC_ROWS - 2, kOutArea + 22 * 4 * kDim, 1,
                    2, 2));
    cases.push_back(
        {"vreduce_" + std::to_string(variant), b.finish(), std::move(dram)});
  }
  // sq (spec version 9): LayerNorm (center) and RMSNorm deviations squared
  // from epsilon, the sums from VREDUCE or raw ACC words (any int32), ROW_N
  // and epsilon at their edges (sums wrapping at 2^96), both layouts.
  for (int variant = 0; variant < 8; ++variant) {
    SafeProgramBuilder b;
    std::vector<uint8_t> dram = randomDram(rng);
    putRows16(dram, 0, 48, rng, [&](std::mt19937 &r) {
      return variant == 6 ? -32768 : edgy16(r);
    });
    const bool w16 = variant % 2 == 0, center = variant & 2;
    b.add(load16Insn(kOutM, 0, 0, 1, 48, 48));
    b.add(loadInsn(kOutM, 300, 8000, 1, 48, 48));
    b.add(loadInsn(kAccM, 10, 12000, 1, 24, 24)); // raw sums
    const int64_t src = w16 ? 0 : 300;
    const int64_t last = variant % 3 == 0 ? 0 : 1 + variant % kDim;
    b.add(setregInsn(EMBER_NPU_REG_ROW_N, variant == 5   ? int32_t(rng())
                                          : variant == 7 ? INT32_MIN
                                                         : 3 * kDim));
    b.add(setregInsn(EMBER_NPU_REG_ROW_X_ZP, int32_t(rng() % 41) - 20));
    b.add(setregInsn(EMBER_NPU_REG_ROW_EPS_LO, int32_t(rng())));
    b.add(setregInsn(EMBER_NPU_REG_ROW_EPS_HI,
                     variant == 4 ? -1 : int32_t(rng() % 1000)));
    if (variant % 4 < 2) // the sums by VREDUCE, then the squares over them
      b.add(vreduceInsn(10, src, 5, 3, 3, 1, last, w16, true));
    b.add(vreduceInsn(10, src, 5, 3, 3, 1, last, w16, false, true, center));
    b.add(
        vreduceInsn(20, src + 1, 4, 5, 1, 4, last, w16, false, true, !center));
    b.add(vreduceInsn(EMBER_NPU_ACC_ROWS - 2, src, 2, 12, 12, 2, last, w16,
                      false, true, center));
    b.add(storeInsn(kAccM, 10, kOutArea, 1, 14, 14));
    b.add(storeInsn(kAccM, EMBER_NPU_ACC_ROWS - 2, kOutArea + 14 * 4 * kDim, 1,
                    2, 2));
    cases.push_back(
        {"vreduce_sq_" + std::to_string(variant), b.finish(), std::move(dram)});
  }
}

/// RSCALAR (spec version 7): every entry of both tables read and
/// interpolated toward the next (the 16 bits after the leading one walk the
/// index, the offsets vary), then values over all 96 bits: 0, 1, the
/// extremes of each word, odd and even leading-zero counts.
void addRowScalarCases(std::vector<TestCase> &cases, std::mt19937 &rng) {
  constexpr int64_t kChunk = 128; // scalars a case (ACC rows of 4 DIM bytes)
  const int64_t accRowBytes = 4 * kDim;
  std::vector<std::array<uint32_t, 3>> recip, rsqrt, edges;
  auto r32 = [&] { return uint32_t(rng()); };
  for (uint32_t i = 0; i < 256; ++i) // leading one at bit 16 (p = 16)
    recip.push_back({((256 + i) << 8) | (r32() & 255), 0, 0});
  for (uint32_t i = 0; i < 384; ++i) // m >> 111 = (128 + i) << 8 | offset
    rsqrt.push_back({(((128 + i) << 8) | (r32() & 255)) << 1, 0, 0});
  for (uint32_t w : {0u, 1u, 2u, 3u, 0x8000u, 0xFFFFFFFFu, 0x80000000u})
    for (int k = 0; k < 3; ++k) {
      std::array<uint32_t, 3> v{0, 0, 0};
      v[size_t(k)] = w;
      edges.push_back(v);
    }
  edges.push_back({0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu});
  for (int j = 0; j < 24; ++j)
    edges.push_back({r32(), r32(), r32() >> (j % 32)});
  struct Set {
    const char *name;
    const std::vector<std::array<uint32_t, 3>> *v;
    int mode; // 0 recip, 1 rsqrt, 2 both
  };
  for (const Set &s : {Set{"recip", &recip, 0}, Set{"rsqrt", &rsqrt, 1},
                       Set{"edges", &edges, 2}})
    for (size_t at = 0; at < s.v->size(); at += kChunk) {
      const int64_t n = std::min<int64_t>(kChunk, int64_t(s.v->size() - at));
      std::vector<uint8_t> dram = randomDram(rng);
      for (int64_t g = 0; g < n; ++g)
        for (int k = 0; k < 3; ++k)
          putI32(dram, uint64_t(g * accRowBytes + 4 * k),
                 int32_t((*s.v)[at + size_t(g)][size_t(k)]));
      SafeProgramBuilder b;
      b.add(loadInsn(kAccM, 0, 0, 1, n, n));
      if (s.mode == 2) { // both, one of them in place
        b.add(rscalarInsn(EMBER_NPU_ACC_ROWS - n, 0, n, true));
        b.add(rscalarInsn(0, 0, n, false));
      } else {
        b.add(rscalarInsn(EMBER_NPU_ACC_ROWS - n, 0, n, s.mode == 1));
      }
      b.add(storeInsn(kAccM, EMBER_NPU_ACC_ROWS - n, kOutArea, 1, n, n));
      if (s.mode == 2)
        b.add(storeInsn(kAccM, 0, kOutArea + n * accRowBytes, 1, n, n));
      cases.push_back(
          {std::string("rscalar_") + s.name + "_" + std::to_string(at / kChunk),
           b.finish(), std::move(dram)});
    }
}

/// VROWMUL (spec version 8): every width pair, LayerNorm (center) and
/// RMSNorm, the row scalars from RSCALAR (R and even s) or raw ACC words
/// (any R, odd, negative and huge s), the sums from VREDUCE or raw words,
/// multipliers, shifts and int64 biases at their edges, lo > hi, strides 1-3,
/// in place and apart, the last OUT rows.
void addRowMulCases(std::vector<TestCase> &cases, std::mt19937 &rng) {
  const int64_t accRowBytes = 4 * kDim;
  auto edgy32 = [&](std::initializer_list<int32_t> edges) {
    const std::vector<int32_t> e(edges);
    return rng() % 3 ? int32_t(rng()) : e[rng() % e.size()];
  };
  for (int variant = 0; variant < 16; ++variant) {
    const bool w16 = variant & 1, out16 = variant & 2, center = variant & 4,
               raw = variant & 8;
    SafeProgramBuilder b;
    std::vector<uint8_t> dram = randomDram(rng);
    putRows16(dram, 0, 48, rng, edgy16);
    b.add(load16Insn(kOutM, 0, 0, 1, 48, 48));
    b.add(loadInsn(kOutM, 300, 8000, 1, 48, 48)); // 8-bit rows
    // ACC 100..: 96-bit scalars (R and s by RSCALAR, or raw words); 150..:
    // sums (raw words, or VREDUCE's); 200..203: mult, shift, bias lo/hi.
    for (int64_t e = 0; e < 16 * kDim; ++e) {
      putI32(dram, uint64_t(12000 + 4 * e),
             int32_t(uint32_t(rng()) >> (rng() % 32)));
      putI32(dram, uint64_t(12000 + 16 * accRowBytes + 4 * e),
             edgy32({0, 1, -1, INT32_MIN, INT32_MAX, 1 << 30}));
    }
    for (int l = 0; l < kDim; ++l) {
      const uint64_t at = uint64_t(20000 + 4 * l);
      putI32(dram, at, edgy32({INT32_MIN, INT32_MAX, 0, 1, -1, 1 << 30}));
      putI32(dram, at + uint64_t(accRowBytes),
             rng() % 4 ? int32_t(rng() % 21) - 10 : int32_t(rng() % 81) - 40);
      putI32(dram, at + uint64_t(2 * accRowBytes), int32_t(rng()));
      putI32(dram, at + uint64_t(3 * accRowBytes),
             rng() % 2 ? int32_t(rng()) % 4 : edgy32({INT32_MIN, INT32_MAX}));
    }
    b.add(loadInsn(kAccM, 100, 12000, 1, 32, 32));
    b.add(loadInsn(kAccM, 200, 20000, 1, 4, 4));
    if (!raw)
      b.add(rscalarInsn(100, 100, 16, true));
    if (variant % 3 == 0)
      b.add(vreduceInsn(116, w16 ? 0 : 300, 16, 3, 3, 1, variant % kDim, w16,
                        true));
    const int32_t n =
        variant % 5 == 4 ? int32_t(rng()) : int32_t(1 + rng() % (3 * kDim));
    b.add(setregInsn(EMBER_NPU_REG_ROW_N, n));
    b.add(setregInsn(EMBER_NPU_REG_ROW_X_ZP, int32_t(rng() % 41) - 20));
    b.add(setregInsn(EMBER_NPU_REG_ROW_OUT_ZP, variant % 7 == 6
                                                   ? int32_t(rng())
                                                   : int32_t(rng() % 21) - 10));
    const int32_t lo = out16 ? -32768 : -128, hi = out16 ? 32767 : 127;
    b.add(setregInsn(EMBER_NPU_REG_ROW_MIN,
                     variant == 9 ? 50 : lo + int32_t(rng() % 20)));
    b.add(setregInsn(EMBER_NPU_REG_ROW_MAX,
                     variant == 9 ? -50 : hi - int32_t(rng() % 20)));
    const int64_t src = w16 ? 0 : 300;
    const int64_t stride = 1 + variant % 3, rows = 4 + variant % 9;
    // Apart (a 16-bit destination in the lower half's rows 100..), in place
    // when the widths agree, and OUT's last rows.
    const int64_t dst =
        (w16 == out16 && variant >= 8) ? src : (out16 ? 100 : 600);
    b.add(
        vrowmulInsn(dst, src, rows, stride, 100, 116, 200, w16, out16, center));
    if (!out16)
      b.add(vrowmulInsn(EMBER_NPU_OUT_ROWS - 1 - (rows - 1) * stride, src + 1,
                        rows, stride, 101, 117, 200, w16, false, !center));
    cases.push_back(
        {"vrowmul_" + std::to_string(variant), b.finish(), std::move(dram)});
  }
}

/// Softmax's input multiplier (spec version 10): a real one (a normalized
/// multiplier, shift 5..16 as makeSoftmaxParams gives for input scales near
/// 1/64 .. 1/2), or any word (the shift past its clamp).
void addSoftmaxInRegs(SafeProgramBuilder &b, std::mt19937 &rng) {
  const bool real = rng() % 4 != 0;
  b.add(
      setregInsn(EMBER_NPU_REG_ROW_SM_IN_MULT,
                 real ? int32_t((rng() >> 1) | 0x40000000u) : int32_t(rng())));
  b.add(setregInsn(EMBER_NPU_REG_ROW_SM_IN_SHIFT,
                   real ? int32_t(5 + rng() % 12) : int32_t(rng() % 81) - 40));
}

/// VREDUCE exp (spec version 10) and VROWEXP (spec version 11): every width
/// pair; a real softmax chain (VREDUCE max, exp, RSCALAR, VROWEXP) or raw ACC
/// words as the maxima (x - m wrapping at the int32 extremes) and as the
/// reciprocals (any r, negative and huge p: the shift's clamp); multipliers
/// and shifts at their edges, lo > hi, both layouts, strides 1-3, in place
/// and apart, the last OUT and ACC rows.
void addSoftmaxCases(std::vector<TestCase> &cases, std::mt19937 &rng) {
  const int64_t accRowBytes = 4 * kDim;
  auto edgy32 = [&](std::initializer_list<int32_t> edges) {
    const std::vector<int32_t> e(edges);
    return rng() % 3 ? int32_t(rng()) : e[rng() % e.size()];
  };
  for (int variant = 0; variant < 16; ++variant) {
    const bool w16 = variant & 1, out16 = variant & 2, real = !(variant & 4),
               inPlace = variant & 8;
    SafeProgramBuilder b;
    std::vector<uint8_t> dram = randomDram(rng);
    putRows16(dram, 0, 48, rng, edgy16);
    b.add(load16Insn(kOutM, 0, 0, 1, 48, 48));
    b.add(loadInsn(kOutM, 300, 8000, 1, 48, 48)); // 8-bit rows
    // ACC 100..115: maxima (raw words, or VREDUCE's); 116..131: reciprocals
    // (raw words, or RSCALAR's); 20..23 and the last two: tile-major groups.
    for (int64_t e = 0; e < 16 * kDim; ++e) {
      putI32(dram, uint64_t(12000 + 4 * e),
             edgy32({0, 1, -1, INT32_MIN, INT32_MAX, -32768, 32767}));
      putI32(dram, uint64_t(12000 + 16 * accRowBytes + 4 * e),
             rng() % 2 ? int32_t(rng()) % 200 : edgy32({INT32_MIN, INT32_MAX}));
    }
    b.add(loadInsn(kAccM, 100, 12000, 1, 32, 32));
    b.add(loadInsn(kAccM, 20, 12000, 1, 4, 4));
    if (real)
      addSoftmaxInRegs(b, rng);
    else {
      b.add(setregInsn(EMBER_NPU_REG_ROW_SM_IN_MULT,
                       edgy32({INT32_MIN, INT32_MAX, 0, 1, -1})));
      b.add(setregInsn(EMBER_NPU_REG_ROW_SM_IN_SHIFT,
                       variant % 3 == 0 ? -40 : int32_t(rng() % 81) - 40));
    }
    b.add(setregInsn(EMBER_NPU_REG_ROW_SM_OUT_MULT,
                     real ? int32_t((rng() >> 1) | 0x40000000u)
                          : edgy32({INT32_MIN, INT32_MAX, 0, 1, -1})));
    b.add(
        setregInsn(EMBER_NPU_REG_ROW_SM_OUT_SHIFT,
                   real ? int32_t(rng() % 16) - 8 : int32_t(rng() % 81) - 40));
    b.add(setregInsn(EMBER_NPU_REG_ROW_OUT_ZP, variant % 7 == 6
                                                   ? int32_t(rng())
                                                   : int32_t(rng() % 21) - 10));
    const int32_t lo = out16 ? -32768 : -128, hi = out16 ? 32767 : 127;
    b.add(setregInsn(EMBER_NPU_REG_ROW_MIN,
                     variant == 13 ? 50 : lo + int32_t(rng() % 20)));
    b.add(setregInsn(EMBER_NPU_REG_ROW_MAX,
                     variant == 13 ? -50 : hi - int32_t(rng() % 20)));
    const int64_t src = w16 ? 0 : 300;
    const int64_t last = variant % 3 == 0 ? 0 : 1 + variant % kDim;
    if (real)
      b.add(vreduceInsn(100, src, 16, 3, 3, 1, last, w16, false));
    b.add(vreduceInsn(100, src, 16, 3, 3, 1, last, w16, false, false, false,
                      true));
    b.add(vreduceInsn(20, src + 1, 4, 5, 1, 4, last, w16, false, false, false,
                      true));
    b.add(vreduceInsn(EMBER_NPU_ACC_ROWS - 2, src, 2, 12, 12, 2, last, w16,
                      false, false, false, true));
    if (real)
      b.add(rscalarInsn(116, 100, 16, false));
    const int64_t stride = 1 + variant % 3, rows = 4 + variant % 9;
    // Apart (a 16-bit destination in the lower half's rows 100..), in place
    // when the widths agree, and OUT's last rows.
    const int64_t dst = (w16 == out16 && inPlace) ? src : (out16 ? 100 : 600);
    b.add(vrowexpInsn(dst, src, rows, stride, 116, 100, w16, out16));
    if (!out16)
      b.add(vrowexpInsn(EMBER_NPU_OUT_ROWS - 1 - (rows - 1) * stride, src + 1,
                        rows, stride, 117, 101, w16, false));
    b.add(storeInsn(kAccM, 100, kOutArea, 1, 16, 16));
    b.add(storeInsn(kAccM, EMBER_NPU_ACC_ROWS - 2, kOutArea + 16 * accRowBytes,
                    1, 2, 2));
    cases.push_back(
        {"softmax_" + std::to_string(variant), b.finish(), std::move(dram)});
  }
}

/// VADD, VMUL (every width and `one`), POOL, UPSAMPLE, LUTLD/LUT w16.
void addWideVectorCases(std::vector<TestCase> &cases, std::mt19937 &rng) {
  // VADD w16: TFLite's int16 form (L = 15), other shifts and zero points,
  // clipping, destinations ahead of a source (staged) and in place.
  for (int variant = 0; variant < 10; ++variant) {
    SafeProgramBuilder b;
    std::vector<uint8_t> dram = randomDram(rng);
    putRows16(dram, 0, 60, rng, edgy16);
    const int lshifts[] = {15, 15, 0, 20, 31};
    setAddRegs(b, lshifts[variant % 5], variant % 3 ? 0 : -300,
               1073741824 + variant, variant % 2 ? -1 : 0,
               variant % 4 ? 0 : 32767, 1518500250, -1 - variant % 3,
               variant % 5 == 3 ? INT32_MAX : 1992864825 - variant * 999,
               -(variant % 4) * 5 - 14, variant * 100 - 500,
               variant % 2 ? -32768 : -1000, variant % 3 ? 32767 : 30000);
    b.add(load16Insn(kOutM, 0, 0, 1, 60, 60));
    b.add(vaddInsn(100, 0, 20, 20, false, true));
    b.add(vaddInsn(5, 0, 7, 12 + variant, false, true)); // staged
    b.add(vaddInsn(40, 40, 41, 10, false, true));        // in place
    dump16(b, kOutM, 0, 120, kOutArea);
    cases.push_back(
        {"vadd16_" + std::to_string(variant), b.finish(), std::move(dram)});
  }
  // VMUL: every width combination, `one` (the precision conversions), zero
  // points (16-bit: their low 16 bits), broadcast 8- and 16-bit rows,
  // multiplier edges, and a 16-bit destination whose high plane lies just
  // after a streamed 8-bit source (staged by the plane rule).
  const int32_t mults[] = {1 << 30, INT32_MAX, INT32_MIN, 1518500250, 3};
  for (int form = 0; form < 16; ++form) {
    SafeProgramBuilder b;
    std::vector<uint8_t> dram = randomDram(rng);
    putRows16(dram, 0, 40, rng, edgy16);
    bool a16 = form & 1, b16 = form & 2, out16 = form & 4, one = form & 8;
    if (one)
      b16 = false;
    setMulRegs(b, form % 3 ? 0 : (a16 ? 0x1234ff85 : -128), form % 5 ? 0 : 77,
               mults[form % 5], form % 5 == 4 ? 20 : -(form % 4) * 3 - 5,
               out16 ? 0 : form - 8, out16 ? -32768 : -128,
               out16 ? (form % 2 ? 32767 : 2000) : 127);
    b.add(load16Insn(kOutM, 0, 0, 1, 40, 40));
    b.add(loadInsn(kOutM, 200, 8000, 1, 40, 40));  // 8-bit operands
    b.add(loadInsn(kOutM, 1120, 9000, 1, 16, 16)); // upper half, 8-bit
    int64_t a = a16 ? 0 : 200, bb = b16 ? 20 : 220;
    b.add(
        vmulInsn(100, a, one ? 0 : bb, 12, false, false, a16, b16, out16, one));
    if (!one)
      b.add(vmulInsn(300, a, bb + 3, 9, true, false, a16, b16, out16));
    if (out16 && !a16) // dst 100's high plane (1124) is 4 rows after a = 1120
      b.add(vmulInsn(100, 1120, one ? 0 : 1120, 8, false, false, false, false,
                     true, one));
    dump16(b, kOutM, 0, 40, kOutArea);
    dump16(b, kOutM, 100, 20, kOutArea + 4096);
    dump16(b, kOutM, 300, 9, kOutArea + 8192);
    dump8(b, kOutM, 100, 20, kOutArea + 12288);
    dump8(b, kOutM, 300, 9, kOutArea + 16384);
    cases.push_back(
        {"vmul16_f" + std::to_string(form), b.finish(), std::move(dram)});
  }
  // POOL w16: max and average (rounding half up of negative sums), plain and
  // bounded windows, SPPF's chain with a staged last pool.
  const int64_t shapes[][7] = {// kh, kw, stride, pad_top, pad_left, in_h, in_w
                               {5, 5, 1, 2, 2, 4, 5},
                               {3, 3, 2, 1, 1, 5, 5},
                               {2, 2, 2, 0, 0, 4, 4},
                               {1, 3, 1, 0, 1, 2, 6}};
  for (const auto &sh : shapes) {
    for (int avg = 0; avg < 2; ++avg) {
      SafeProgramBuilder b;
      std::vector<uint8_t> dram = randomDram(rng);
      putRows16(dram, 0, 40, rng, edgy16);
      int64_t kh = sh[0], kw = sh[1], st = sh[2], pt = sh[3], pl = sh[4],
              ih = sh[5], iw = sh[6];
      int64_t ow = (iw + 2 * pl - kw) / st + 1,
              oh = (ih + 2 * pt - kh) / st + 1;
      setPoolRegs(b, kh, kw, st, iw, ow);
      b.add(load16Insn(kOutM, 0, 0, 1, 40, 40));
      b.add(poolInsn(avg, 100, 0, oh * ow, pt, pl, ih, false, true));
      if (st == 1 && ow == iw && oh == ih) {
        b.add(poolInsn(avg, 200, 100, oh * ow, pt, pl, ih, false, true));
        b.add(poolInsn(avg, 202, 200, oh * ow, pt, pl, ih, false, true));
      }
      if (pt == 0 && pl == 0) // the unbounded form (its own geometry)
        b.add(poolInsn(avg, 300, 0, ow, 0, 0, 0, false, true));
      dump16(b, kOutM, 0, 320, kOutArea);
      std::string name = avg ? "pool16_avg" : "pool16_max";
      for (int64_t v : sh)
        name += "_" + std::to_string(v);
      cases.push_back({name, b.finish(), std::move(dram)});
    }
  }
  // UPSAMPLE w16: nearest and both bilinear modes at factors 2 and 8, zero
  // points, a stripe, staged.
  for (int mode = 0; mode < 3; ++mode) {
    for (int k : {1, 3}) {
      SafeProgramBuilder b;
      std::vector<uint8_t> dram = randomDram(rng);
      putRows16(dram, 0, 12, rng, edgy16);
      b.add(load16Insn(kOutM, 0, 0, 1, 12, 12));
      int64_t f = int64_t(1) << k;
      b.add(upsampleInsn(20, 0, 3, 2, 0, 2 * f, k, mode, mode * 11 - 7, false,
                         true));
      b.add(upsampleInsn(2, 0, 3, 2, 1, 1, k, mode, 0, false, true)); // staged
      dump16(b, kOutM, 0, 20 + 6 * f * f, kOutArea);
      cases.push_back(
          {"upsample16_m" + std::to_string(mode) + "_f" + std::to_string(f),
           b.finish(), std::move(dram)});
    }
  }
  // LUTLD w16 + LUT w16: a sigmoid table, a random table with steep
  // segments, inputs at the edges (-32768, 32767), staged and in place, the
  // last rows of the lower half; the 8-bit table is kept apart.
  for (int variant = 0; variant < 3; ++variant) {
    SafeProgramBuilder b;
    std::vector<uint8_t> dram = randomDram(rng);
    putRows16(dram, 0, 40, rng, edgy16);
    if (variant == 0)
      putTable16(
          dram, 20000, [](double x) { return 1 / (1 + std::exp(-x)); },
          8.0 / 32768, 1.0 / 32768);
    else if (variant == 1)
      putTable16(
          dram, 20000, [](double x) { return std::tanh(x); }, 6.0 / 32768,
          1.0 / 32767);
    // variant 2: the random bytes already there (steep, any slope)
    b.add(loadInsn(kAccM, 300, 20000, 1, kLut16Rows, kLut16Rows));
    b.add(loadInsn(kAccM, 400, 22000, 1, kLutRows, kLutRows));
    b.add(lutldInsn(400));
    b.add(lutldInsn(300, true));
    b.add(load16Insn(kOutM, 0, 0, 1, 40, 40));
    b.add(lutInsn(100, 0, 40, true));
    b.add(lutInsn(3, 0, 20, true));  // staged
    b.add(lutInsn(60, 60, 5, true)); // in place
    b.add(lutInsn(kOutHalf - 4, 10, 4, true));
    b.add(lutInsn(500, 510, 30)); // the 8-bit table still there
    dump16(b, kOutM, 0, 140, kOutArea);
    dump16(b, kOutM, kOutHalf - 4, 4, kOutArea + 8192);
    dump8(b, kOutM, 500, 30, kOutArea + 9000);
    cases.push_back(
        {"lut16_" + std::to_string(variant), b.finish(), std::move(dram)});
  }
  addArithEdgeCases(cases);
}

/// GEMM16 and DWGEMM16 (spec version 5): a padded 16-bit block through
/// chains of GEMM16 (reset, then accumulating; lines overlapping in ACC),
/// DWGEMM16 at every stride with and without the bias, beside plane-wise
/// GEMMs on the same rows; blocks at the end of the lower halves; an 8-bit
/// LOAD into the high plane between them; the accumulator pairs to int16
/// (REQUANT acc16). A generator of their own, so the cases before them keep
/// their values.
void addWideArrayCases(std::vector<TestCase> &cases) {
  std::mt19937 rng(1717);
  for (int variant = 0; variant < 6; ++variant) {
    SafeProgramBuilder b;
    std::vector<uint8_t> dram = randomDram(rng);
    putRows16(dram, 0, 80, rng, edgy16);
    for (int l = 0; l < kDim; ++l) { // REQUANT acc16's parameters at 12288
      putI32(dram, 12288 + 4 * l, int32_t((1u << 30) + 4099 * l));
      putI32(dram, 12288 + 4 * (kDim + l), -9 - l % 7 - variant);
      putI32(dram, 12288 + 4 * (2 * kDim + l), int32_t(rng()) >> 6);
    }
    const int64_t param = 60; // the bias's high word (row 62 + ACC_HALF) 0
    b.add(loadInsn(kAccM, param, 12288, 1, 3, 3));
    b.add(loadInsn(kWgtM, 0, 8192, 1, 3 * kDim, 3 * kDim));
    b.add(setregInsn(EMBER_NPU_REG_RQ16_MIN, -32768));
    b.add(setregInsn(EMBER_NPU_REG_RQ16_MAX, 32767));
    b.add(setregInsn(EMBER_NPU_REG_PAD_VALUE, variant % 2 ? 0 : -300));
    // 4 lines of 6 pixels padded to 6 x 8.
    b.add(load16Insn(kActM, 10, 0, 4, 6, 6, 1, 1, 1, 1));
    const int64_t w = 8;
    for (int tap = 0; tap < 3; ++tap) // a 3-tap row, tiles 0, 1, 2
      b.add(gemm16Insn(tap == 0, 100, 10 + w + tap, tap * kDim, 6, 4, w, 6));
    // Lines overlapping in ACC (acc_ostride < inner): read after written.
    b.add(gemm16Insn(variant % 3 == 0, 140, 10, kDim, 8, 3, w, 3 + variant));
    const int64_t stride = 1 + variant % 3, taps = variant < 3 ? 3 : kDim - 4;
    b.add(dwgemm16Insn(true, 200, 10 + w, 2 * kDim, (8 - taps % 8) / stride, 4,
                       w, 6, taps, stride, variant % 2 == 0));
    if (variant % 2) // an 8-bit LOAD rewrites part of the high plane
      b.add(loadInsn(kActM, 10 + kActHalf + 3, 9000, 1, 5, 5));
    // The plane-wise form beside it on the same rows.
    for (int plane = 0; plane < 2; ++plane)
      b.add(gemmInsn(true, 300 + plane * kAccHalf, 10 + plane * kActHalf + w,
                     kDim, 6, 4, w, 6));
    b.add(gemm16Insn(false, 300, 10 + w + 1, 0, 6, 4, w, 6));
    // The blocks' last rows at the end of the lower halves.
    b.add(load16Insn(kActM, kActHalf - 12, 3000, 1, 12, 12));
    b.add(gemm16Insn(true, kAccHalf - 8, kActHalf - 12, kDim, 4, 2, 8, 4));
    b.add(dwgemm16Insn(false, kAccHalf - 8, kActHalf - 12, 0, 4, 2, 2, 4, 4, 2,
                       variant == 5));
    b.add(requantInsn(0, 100, 24, param, 0, 0, 0, true, false, true, true));
    b.add(requantInsn(24, 200, 24, param, 0, 0, 0, false, false, true, true));
    dump16(b, kOutM, 0, 48, kOutArea);
    dump8(b, kAccM, 100, 40, kOutArea + 4096);
    dump8(b, kAccM, 100 + kAccHalf, 40, kOutArea + 12288);
    dump8(b, kAccM, kAccHalf - 8, 8, kOutArea + 20480);
    dump8(b, kAccM, 2 * kAccHalf - 8, 8, kOutArea + 24576);
    cases.push_back(
        {"gemm16_" + std::to_string(variant), b.finish(), std::move(dram)});
  }
}

} // namespace

void addWideCases(std::vector<TestCase> &cases, std::mt19937 &rng) {
  addWideDmaCases(cases, rng);
  addWideLayerCases(cases, rng);
  addWideRequantCases(cases, rng);
  addWideVectorCases(cases, rng);
  addWideArrayCases(cases);
  addReduceCases(cases, rng);
  addRowScalarCases(cases, rng);
  addRowMulCases(cases, rng);
  addSoftmaxCases(cases, rng);
}

bool addRandomWide(SafeProgramBuilder &b, std::mt19937 &rng, int kind,
                   int64_t window) {
  auto rnd = [&](int64_t lo, int64_t hi) { // inclusive
    return lo +
           static_cast<int64_t>(rng() % static_cast<uint32_t>(hi - lo + 1));
  };
  // 16-bit rows: mostly the low window, sometimes the last rows of the lower
  // half (8-bit instructions reach the upper half's rows as well).
  auto rowIn = [&](int mem, int64_t n) {
    if (rng() % 8 == 0)
      return wideHalf(mem) - n - rnd(0, 3);
    return rnd(0, std::max<int64_t>(0, window - n));
  };
  // 8-bit rows beside them: the low window, or the upper half's window (the
  // high planes of the 16-bit rows there).
  auto narrowIn = [&](int mem, int64_t n) {
    return rnd(0, std::max<int64_t>(0, window - n)) +
           (rng() % 2 ? wideHalf(mem) : 0);
  };
  switch (kind) {
  case 0: { // LOAD16 / MOVE w16
    int mem = rng() % 2 ? kActM : kOutM;
    int64_t ys = rnd(1, 3), xs = rnd(1, 8), stride = rnd(0, 10);
    int pt = int(rnd(0, 3)) * (rng() % 3 == 0),
        pb = int(rnd(0, 3)) * (rng() % 3 == 0),
        pl = int(rnd(0, 3)) * (rng() % 3 == 0),
        pr = int(rnd(0, 3)) * (rng() % 3 == 0);
    if (rng() % 4 == 0)
      b.add(setregInsn(EMBER_NPU_REG_PAD_VALUE, int32_t(rng())));
    if (mem == kOutM && rng() % 2) {
      int64_t span = (ys - 1) * stride + xs,
              rep = rng() % 4 == 0 ? rnd(1, 2) : 0;
      int64_t rows = (ys * (rep + 1) + pt + pb) * (xs * (rep + 1) + pl + pr);
      b.add(moveInsn(rowIn(kActM, rows), rowIn(kOutM, span), ys, xs, stride, pt,
                     pb, pl, pr, rep, true));
      return true;
    }
    int64_t rows = (ys + pt + pb) * (xs + pl + pr);
    int64_t extent = ((ys - 1) * stride + xs) * 2 * kDim;
    int64_t dram = rnd(0, 16384 - extent);
    b.add(load16Insn(mem, rowIn(mem, rows), dram, ys, xs, stride, pt, pb, pl,
                     pr));
    return true;
  }
  case 1: { // STORE16 (with repetition, x step, lanes sometimes)
    int mem = rng() % 2 ? kActM : kOutM;
    int64_t ys = rnd(1, 2), xs = rnd(1, 4), stride = rnd(0, 10), rep = 0,
            xstep = 0, lanes = 0;
    if (rng() % 3 == 0) {
      rep = rnd(0, 2);
      xstep = rng() % 2;
      lanes = rnd(0, (1 << kNumLaneGroups) - 1);
      stride = rnd(0, 2 * xs * (rep + 1) + 2);
    }
    int64_t extent = ((ys * (rep + 1) - 1) * stride +
                      (xs * (rep + 1) - 1) * (xstep + 1) + 1) *
                     2 * kDim;
    if (extent > 16384)
      return false;
    b.add(store16Insn(mem, rowIn(mem, ys * xs), rnd(16384, 32768 - extent), ys,
                      xs, stride, rep, xstep, lanes));
    return true;
  }
  case 2: { // REQUANT acc16 / out16 (parameters at ACC_HALF - 8: see
            // randomCase)
    int64_t rows = rnd(1, 12);
    bool acc16 = rng() % 3 != 0, out16 = rng() % 2, bias = rng() % 2;
    if (!acc16 && !out16)
      out16 = true;
    if (rng() % 3 == 0) {
      b.add(setregInsn(EMBER_NPU_REG_RQ16_MIN, rnd(-32768, 0)));
      b.add(setregInsn(EMBER_NPU_REG_RQ16_MAX, rnd(-100, 32767)));
    }
    int64_t src = acc16 ? rowIn(kAccM, rows) : narrowIn(kAccM, rows);
    int64_t dst = out16 ? rowIn(kOutM, rows) : narrowIn(kOutM, rows);
    b.add(requantInsn(dst, src, rows, kAccHalf - 8, out16 ? 0 : rnd(-128, 127),
                      out16 ? 0 : rnd(-128, 0), out16 ? 0 : rnd(-10, 127), bias,
                      !out16 && rng() % 3 == 0, acc16, out16));
    return true;
  }
  case 3: { // VADD w16 (fresh parameters sometimes; L 15 mostly)
    if (rng() % 2)
      setAddRegs(b, rng() % 4 ? 15 : int32_t(rnd(0, 31)),
                 int32_t(rnd(-300, 300)), int32_t(rng()), int32_t(rnd(-33, 33)),
                 int32_t(rnd(-300, 300)), int32_t(rng()), int32_t(rnd(-33, 33)),
                 int32_t(rng()), int32_t(rnd(-33, 33)), int32_t(rnd(-500, 500)),
                 int32_t(rnd(-32768, 0)), int32_t(rnd(0, 32767)));
    int64_t rows = rnd(1, 12);
    b.add(vaddInsn(rowIn(kOutM, rows), rowIn(kOutM, rows), rowIn(kOutM, rows),
                   rows, false, true));
    return true;
  }
  case 4: { // VMUL of any widths, `one`
    if (rng() % 2)
      setMulRegs(b, rng() % 3 ? 0 : int32_t(rng()),
                 rng() % 3 ? 0 : int32_t(rng()), int32_t(rng()),
                 int32_t(rnd(-33, 33)), int32_t(rnd(-128, 127)),
                 int32_t(rnd(-32768, 0)), int32_t(rnd(0, 32767)));
    bool a16 = rng() % 2, b16 = rng() % 2, out16 = rng() % 2,
         one = rng() % 4 == 0, bcast = !one && rng() % 3 == 0;
    if (!a16 && !b16 && !out16 && !one)
      a16 = true;
    int64_t rows = rnd(1, 12);
    auto row = [&](bool w16, int64_t n) {
      return w16 ? rowIn(kOutM, n) : narrowIn(kOutM, n);
    };
    b.add(vmulInsn(row(out16, rows), row(a16, rows),
                   one ? 0 : row(b16 && !one, bcast ? 1 : rows), rows, bcast,
                   !out16 && rng() % 3 == 0, a16, one ? false : b16, out16,
                   one));
    return true;
  }
  case 5: { // POOL w16, bounded or not
    int64_t kh = rnd(1, 4), kw = rnd(1, 4), stride = rnd(1, 2),
            inW = rnd(kw, 7), inH = rnd(1, 5);
    bool bounded = rng() % 2;
    int64_t pt = bounded ? rnd(0, kh - 1) : 0,
            pl = bounded ? rnd(0, kw - 1) : 0;
    int64_t outW =
        bounded ? (inW + 2 * pl - kw) / stride + 1 : (inW - kw) / stride + 1;
    outW = std::max<int64_t>(outW, 1);
    setPoolRegs(b, kh, kw, stride, inW, outW);
    Insn p = poolInsn(rng() % 2, 0, rnd(0, window), rnd(1, 2 * outW), pt, pl,
                      bounded ? inH : 0, false, true);
    int64_t span = 0;
    while (p.rows > 1 &&
           !checkPool(p, poolGeomFromRegs(b.regs()), span).empty())
      --p.rows;
    if (!checkPool(p, poolGeomFromRegs(b.regs()), span).empty())
      return false;
    p.dst = rowIn(kOutM, p.rows);
    b.add(p);
    return true;
  }
  case 6: { // UPSAMPLE w16
    int64_t k = rnd(0, 2), f = int64_t(1) << k,
            w = rnd(1, std::max<int64_t>(1, 8 / f)), h = rnd(1, 3),
            mode = rnd(0, 2);
    int64_t oy = rnd(0, f * h - 1);
    int64_t oh =
        rnd(1, std::max<int64_t>(1, std::min(f * h - oy, 32 / (f * w))));
    b.add(upsampleInsn(rowIn(kOutM, oh * f * w), rowIn(kOutM, h * w), w, h, oy,
                       oh, k, mode, rnd(-128, 127), false, true));
    return true;
  }
  case 8:
  case 9: { // GEMM16 / DWGEMM16: blocks in the lower halves, any weight tile
    int64_t inner = rnd(1, 16), outer = rnd(1, 3), aos = rnd(0, 20),
            cos = rnd(0, 20);
    int64_t wgt = rng() % 8 == 0 ? memRows(kWgtM) - kDim
                                 : rnd(0, std::max<int64_t>(0, window - kDim));
    int64_t accSpan = (outer - 1) * cos + inner;
    if (kind == 8) {
      b.add(gemm16Insn(rng() % 2, rowIn(kAccM, accSpan),
                       rowIn(kActM, (outer - 1) * aos + inner), wgt, inner,
                       outer, aos, cos));
      return true;
    }
    int64_t taps = rnd(1, kDwMaxTaps), stride = rnd(1, 3);
    int64_t span = (outer - 1) * aos + (inner - 1) * stride + taps;
    bool bias = taps <= kDim - 4 && rng() % 2;
    b.add(dwgemm16Insn(rng() % 2, rowIn(kAccM, accSpan), rowIn(kActM, span),
                       wgt, inner, outer, aos, cos, taps, stride, bias));
    return true;
  }
  case 10: { // VREDUCE (spec version 6): max or sum, 16-bit or 8-bit rows
    const bool w16 = rng() % 2, sq = rng() % 3 == 0;
    const bool exp = !sq && rng() % 3 == 0, sum = !sq && !exp && rng() % 2;
    const int64_t rows = rnd(1, 6), len = rnd(1, 4);
    if (sq && rng() % 2) { // fresh ROW_* registers (spec version 9)
      b.add(setregInsn(EMBER_NPU_REG_ROW_N, int32_t(rnd(1, 4 * kDim))));
      b.add(setregInsn(EMBER_NPU_REG_ROW_X_ZP, int32_t(rng()) >> rnd(0, 31)));
      b.add(setregInsn(EMBER_NPU_REG_ROW_EPS_LO, int32_t(rng())));
      b.add(setregInsn(EMBER_NPU_REG_ROW_EPS_HI, int32_t(rng()) >> rnd(0, 31)));
    }
    if (exp && rng() % 4) // fresh ROW_SM_IN_* registers (spec version 10)
      addSoftmaxInRegs(b, rng);
    // Contiguous groups, channel tiles apart (tile-major), or anything.
    int64_t gstride = len, kstride = 1;
    if (rng() % 3 == 0) {
      gstride = 1;
      kstride = rows;
    } else if (rng() % 2) {
      gstride = rnd(0, 6);
      kstride = rnd(0, 6);
    }
    const int64_t last = rng() % 2 ? 0 : rnd(1, kDim);
    const int64_t span = (rows - 1) * gstride + (len - 1) * kstride + 1;
    const int64_t src = w16 ? rowIn(kOutM, span) : narrowIn(kOutM, span);
    const int64_t dst = rng() % 8 ? rnd(0, window) : EMBER_NPU_ACC_ROWS - rows;
    // exp: over the groups' maxima (a real softmax: most of the time, since
    // an m far from the row's values saturates every e) or whatever ACC
    // holds.
    if (exp && rng() % 4)
      b.add(
          vreduceInsn(dst, src, rows, len, gstride, kstride, last, w16, false));
    b.add(vreduceInsn(dst, src, rows, len, gstride, kstride, last, w16, sum, sq,
                      sq && rng() % 2, exp));
    return true;
  }
  case 11: { // RSCALAR (spec version 7) of whatever ACC holds
    const int64_t rows = rnd(1, 6);
    const int64_t src =
        rng() % 8 ? rnd(0, window) : EMBER_NPU_ACC_ROWS - rows - rnd(0, 2);
    // In place, or apart (rows beyond src's).
    const int64_t dst =
        rng() % 3 == 0 ? src
        : rng() % 2    ? (src + rows + rnd(0, 4)) % (EMBER_NPU_ACC_ROWS - rows)
                       : rnd(0, window);
    if (dst != src && dst < src + rows && src < dst + rows)
      return false;
    b.add(rscalarInsn(dst, src, rows, rng() % 2));
    return true;
  }
  case 12: { // VROWMUL (spec version 8) or VROWEXP (spec version 11) of
             // whatever OUT and ACC hold
    const bool w16 = rng() % 2, out16 = rng() % 2, softmax = rng() % 2;
    const int64_t rows = rnd(1, 6), stride = rnd(1, 3);
    const int64_t span = (rows - 1) * stride + 1;
    const int64_t src = w16 ? rowIn(kOutM, span) : narrowIn(kOutM, span);
    const int64_t dst = w16 == out16 && rng() % 3 == 0 ? src
                        : out16                        ? rowIn(kOutM, span)
                                                       : narrowIn(kOutM, span);
    auto accIn = [&](int64_t n) {
      return rng() % 8 ? rnd(0, window) : EMBER_NPU_ACC_ROWS - n - rnd(0, 2);
    };
    if (rng() % 3 == 0) {
      b.add(setregInsn(EMBER_NPU_REG_ROW_N, int32_t(rnd(1, 4 * kDim))));
      b.add(setregInsn(EMBER_NPU_REG_ROW_X_ZP, int32_t(rng()) >> rnd(0, 31)));
      b.add(setregInsn(EMBER_NPU_REG_ROW_OUT_ZP, int32_t(rng()) >> rnd(0, 31)));
      b.add(setregInsn(EMBER_NPU_REG_ROW_MIN, int32_t(rng()) >> rnd(0, 31)));
      b.add(setregInsn(EMBER_NPU_REG_ROW_MAX, int32_t(rng()) >> rnd(0, 31)));
    }
    const int64_t scal = accIn(rows), sum = accIn(rows);
    // Softmax: half the time a whole one over these rows (each a group of one
    // tile: VREDUCE max and exp, RSCALAR, then VROWEXP with real output
    // parameters), else whatever ACC holds (an m far from the row's values
    // saturates every e).
    const bool chain =
        softmax && rng() % 2 && (scal >= sum + rows || sum >= scal + rows);
    if (softmax && (chain || rng() % 2)) {
      addSoftmaxInRegs(b, rng);
      b.add(setregInsn(EMBER_NPU_REG_ROW_SM_OUT_MULT,
                       chain ? int32_t((rng() >> 1) | 0x40000000u)
                             : int32_t(rng())));
      b.add(setregInsn(EMBER_NPU_REG_ROW_SM_OUT_SHIFT,
                       int32_t(chain ? rnd(0, 16) - 8 : rnd(0, 80) - 40)));
    }
    if (chain) {
      b.add(setregInsn(EMBER_NPU_REG_ROW_OUT_ZP, int32_t(rnd(0, 20)) - 10));
      b.add(setregInsn(EMBER_NPU_REG_ROW_MIN, out16 ? -32768 : -128));
      b.add(setregInsn(EMBER_NPU_REG_ROW_MAX, out16 ? 32767 : 127));
      const int64_t last = rng() % 2 ? 0 : rnd(1, kDim);
      b.add(vreduceInsn(sum, src, rows, 1, stride, 0, last, w16, false));
      b.add(vreduceInsn(sum, src, rows, 1, stride, 0, last, w16, false, false,
                        false, true));
      b.add(rscalarInsn(scal, sum, rows, false));
    }
    Insn i = softmax
                 ? vrowexpInsn(dst, src, rows, stride, scal, sum, w16, out16)
                 : vrowmulInsn(dst, src, rows, stride, scal, sum, accIn(4), w16,
                               out16, rng() % 2);
    if (!validate(i, kTestDramBytes).empty())
      return false; // a partial overlap of dst and src
    b.add(i);
    return true;
  }
  default: { // LUTLD w16 from whatever ACC holds, or LUT w16
    if (rng() % 3 == 0) {
      b.add(lutldInsn(rnd(0, EMBER_NPU_ACC_ROWS - kLut16Rows), true));
      return true;
    }
    int64_t rows = rnd(1, 8);
    b.add(lutInsn(rowIn(kOutM, rows), rowIn(kOutM, rows), rows, true));
    return true;
  }
  }
}

} // namespace ember::npu::test
