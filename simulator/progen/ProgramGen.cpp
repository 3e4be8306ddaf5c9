//===- ProgramGen.cpp - Race-free NPU test programs (directed and random) -===//
#include "ProgramGen.h"

#include "ember/npu/Arith.h"

#include <cassert>
#include <climits>
#include <cstring>

namespace ember::npu::test {

namespace {

constexpr int kActM = EMBER_NPU_MEM_ACT, kWgtM = EMBER_NPU_MEM_WGT,
              kAccM = EMBER_NPU_MEM_ACC, kOutM = EMBER_NPU_MEM_OUT;

int64_t rowBytes(int mem) { return memRowBytes(mem); }

std::vector<uint8_t> randomDram(std::mt19937 &rng) {
  std::vector<uint8_t> d(kTestDramBytes);
  for (auto &b : d)
    b = static_cast<uint8_t>(rng());
  return d;
}

void putI32(std::vector<uint8_t> &d, uint64_t addr, int32_t v) {
  std::memcpy(&d[addr], &v, 4);
}

/// The sign of the int32 at `addr` (0 or 1): an int64's high word that
/// sign-extends it is minus this.
int32_t putI32Sign(const std::vector<uint8_t> &d, uint64_t addr) {
  int32_t v;
  std::memcpy(&v, &d[addr], 4);
  return v < 0 ? 1 : 0;
}

/// Stores every scratchpad row range the program may have written, so DRAM
/// shows it too.
void dumpOut(SafeProgramBuilder &b, int mem, int64_t row, int64_t rows,
             int64_t dram) {
  b.add(storeInsn(mem, row, dram, 1, rows, rows));
}

} // namespace

SafeProgramBuilder::SafeProgramBuilder() {
  for (auto &r : orderedUpTo_)
    r.fill(-1);
}

std::vector<SafeProgramBuilder::Range>
SafeProgramBuilder::accesses(const Insn &i) const {
  std::vector<Range> r;
  // A 16-bit operand (spec version 3) occupies its rows in both halves.
  auto rows = [&](int mem, int64_t lo, int64_t hi, bool w16, bool write) {
    r.push_back({mem, lo, hi, write});
    if (w16)
      r.push_back({mem, lo + wideHalf(mem), hi + wideHalf(mem), write});
  };
  auto dmaExtent = [&](int64_t rowBytes) {
    return ((i.ysize - 1) * i.stride + i.xsize) * rowBytes;
  };
  switch (i.op) {
  case Opcode::LOAD:
  case Opcode::LOAD16: {
    int mem = static_cast<int>(i.mem);
    int64_t n = (i.ysize + i.pad_top + i.pad_bottom) *
                (i.xsize + i.pad_left + i.pad_right);
    r.push_back({kNumMems, i.dram, i.dram + dmaExtent(dmaRowBytes(i)), false});
    rows(mem, i.sram, i.sram + n, i.op == Opcode::LOAD16, true);
    break;
  }
  case Opcode::MOVE: {
    int64_t n = (i.ysize * (i.rep + 1) + i.pad_top + i.pad_bottom) *
                (i.xsize * (i.rep + 1) + i.pad_left + i.pad_right);
    rows(kOutM, i.src, i.src + (i.ysize - 1) * i.stride + i.xsize, i.w16,
         false);
    rows(kActM, i.dst, i.dst + n, i.w16, true);
    break;
  }
  case Opcode::STORE:
  case Opcode::STORE16: {
    int mem = static_cast<int>(i.mem);
    int64_t rp = i.rep + 1, extent = ((i.ysize * rp - 1) * i.stride +
                                      (i.xsize * rp - 1) * (i.xstep + 1) + 1) *
                                     dmaRowBytes(i);
    r.push_back({kNumMems, i.dram, i.dram + extent, true});
    rows(mem, i.sram, i.sram + i.ysize * i.xsize, i.op == Opcode::STORE16,
         false);
    break;
  }
  case Opcode::GEMM:
  case Opcode::DWGEMM:
  case Opcode::GEMM16:
  case Opcode::DWGEMM16: { // the 16x8 forms: both planes (spec version 5)
    const bool dw = i.op == Opcode::DWGEMM || i.op == Opcode::DWGEMM16,
               w16 = i.op == Opcode::GEMM16 || i.op == Opcode::DWGEMM16;
    rows(kActM, i.act,
         i.act + (i.outer - 1) * i.act_ostride +
             (dw ? (i.inner - 1) * i.stride + i.taps : i.inner),
         w16, false);
    r.push_back({kWgtM, i.wgt, i.wgt + kDim, false});
    rows(kAccM, i.acc, i.acc + (i.outer - 1) * i.acc_ostride + i.inner, w16,
         true);
    break;
  }
  case Opcode::REQUANT:
    rows(kAccM, i.src, i.src + i.rows, i.acc16, false);
    r.push_back({kAccM, i.param, i.param + (i.bias ? 3 : 2), false});
    if (i.acc16 && i.bias)
      r.push_back({kAccM, i.param + 2 + EMBER_NPU_ACC_HALF,
                   i.param + 3 + EMBER_NPU_ACC_HALF, false});
    rows(kOutM, i.dst, i.dst + i.rows, i.out16, true);
    break;
  case Opcode::VADD:
    rows(kOutM, i.a, i.a + i.rows, i.w16, false);
    rows(kOutM, i.b, i.b + i.rows, i.w16, false);
    rows(kOutM, i.dst, i.dst + i.rows, i.w16, true);
    break;
  case Opcode::POOL: {
    int64_t span = 0;
    checkPool(i, poolGeomFromRegs(regs_.data()), span);
    rows(kOutM, i.src, i.src + span, i.w16, false);
    rows(kOutM, i.dst, i.dst + i.rows, i.w16, true);
    break;
  }
  case Opcode::LUTLD: // the tables themselves are VECTOR's alone: no tokens
    r.push_back({kAccM, i.src, i.src + (i.w16 ? kLut16Rows : kLutRows), false});
    break;
  case Opcode::LUT:
    rows(kOutM, i.src, i.src + i.rows, i.w16, false);
    rows(kOutM, i.dst, i.dst + i.rows, i.w16, true);
    break;
  case Opcode::VMUL:
    rows(kOutM, i.a, i.a + i.rows, i.a16, false);
    if (!i.one)
      rows(kOutM, i.b, i.b + (i.bcast ? 1 : i.rows), i.b16, false);
    rows(kOutM, i.dst, i.dst + i.rows, i.out16, true);
    break;
  case Opcode::UPSAMPLE:
    rows(kOutM, i.src, i.src + i.h * i.w, i.w16, false);
    rows(kOutM, i.dst, i.dst + i.oh * (i.w << i.factor), i.w16, true);
    break;
  case Opcode::VREDUCE: // 16-bit sources, ACC results in the lower half only
    rows(kOutM, i.src, i.src + reduceSpan(i), i.w16, false);
    if (i.sq || i.exp)
      r.push_back({kAccM, i.dst, i.dst + i.rows, false});
    r.push_back({kAccM, i.dst, i.dst + i.rows, true});
    break;
  case Opcode::RSCALAR: // one ACC row a scalar
    r.push_back({kAccM, i.src, i.src + i.rows, false});
    r.push_back({kAccM, i.dst, i.dst + i.rows, true});
    break;
  case Opcode::VROWMUL: // the span of the rows, the ACC scalars and params
  case Opcode::VROWEXP: // (no params)
    rows(kOutM, i.src, i.src + (i.rows - 1) * i.stride + 1, i.w16, false);
    r.push_back({kAccM, i.scal, i.scal + i.rows, false});
    r.push_back({kAccM, i.sum, i.sum + i.rows, false});
    if (i.op == Opcode::VROWMUL)
      r.push_back({kAccM, i.param, i.param + 4, false});
    rows(kOutM, i.dst, i.dst + (i.rows - 1) * i.stride + 1, i.out16, true);
    break;
  case Opcode::SETREG:
  case Opcode::FENCE:
  case Opcode::FINISH:
    break;
  }
  return r;
}

void SafeProgramBuilder::add(Insn insn) {
  Engine e = engineOf(insn);
  if (insn.op == Opcode::SETREG)
    regs_[insn.reg] = static_cast<int32_t>(insn.value);
  if (e == Engine::Fetch) {
    if (insn.op == Opcode::FENCE)
      for (int a = 0; a < kNumEngines; ++a)
        for (int f = 0; f < kNumEngines; ++f)
          orderedUpTo_[a][f] = static_cast<int64_t>(hist_[f].size()) - 1;
    prog_.push_back(insn);
    return;
  }
  int eng = static_cast<int>(e);
  std::vector<Range> mine = accesses(insn);
  for (int f = 0; f < kNumEngines; ++f) {
    if (f == eng)
      continue;
    for (int64_t k = static_cast<int64_t>(hist_[f].size()) - 1;
         k > orderedUpTo_[eng][f]; --k) {
      bool conflict = false;
      for (const Range &a : hist_[f][k].ranges)
        for (const Range &b : mine)
          conflict |= a.space == b.space && (a.write || b.write) &&
                      a.lo < b.hi && b.lo < a.hi;
      if (!conflict)
        continue;
      uint32_t bit = 1u << EMBER_NPU_TOKEN_CHANNEL(f, eng);
      assert(!(prog_[hist_[f][k].index].signal & bit));
      prog_[hist_[f][k].index].signal |= bit;
      insn.wait |= bit;
      orderedUpTo_[eng][f] = k;
      break;
    }
  }
  hist_[eng].push_back(Entry{prog_.size(), mine});
  prog_.push_back(insn);
}

std::vector<Insn> SafeProgramBuilder::finish() {
  prog_.push_back(makeInsn(Opcode::FINISH));
  return prog_;
}

namespace {

void addCase(std::vector<TestCase> &cases, const std::string &name,
             SafeProgramBuilder &b, std::vector<uint8_t> dram) {
  cases.push_back(TestCase{name, b.finish(), std::move(dram)});
}

/// A random 256-byte output table as ACC rows at DRAM `addr`.
void putTable(std::vector<uint8_t> &dram, uint64_t addr, std::mt19937 &rng) {
  for (int e = 0; e < 256; ++e)
    dram[addr + e] = static_cast<uint8_t>(rng());
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

/// The output path of spec version 2: the output table (LUTLD, LUT and each
/// producer's lut flag), VMUL (zero points, multiplier and clip edges, the
/// per-channel broadcast, aliasing), POOL over a bounded source (padding:
/// SPPF's chained 5x5 stride-1 max pools, separable windows, averages that
/// exclude the padding, strides).
void addOutputPathCases(std::vector<TestCase> &cases, std::mt19937 &rng) {
  const int64_t outArea = 32 * 1024;
  const int64_t accRows = EMBER_NPU_ACC_ROWS, outRows = EMBER_NPU_OUT_ROWS;
  // LUTLD from the last ACC rows and from rows a REQUANT reads too; each
  // producer with lut; a second table replaces the first; LUT in place,
  // ahead of its source (staged) and at the last OUT rows.
  for (int variant = 0; variant < 4; ++variant) {
    SafeProgramBuilder b;
    std::vector<uint8_t> dram = randomDram(rng);
    putTable(dram, 20000, rng);
    putTable(dram, 20256, rng);
    for (int l = 0; l < 2 * kDim; ++l)
      putI32(dram, 21000 + 4 * l,
             l < kDim ? static_cast<int32_t>((1u << 30) + 977 * l)
                      : static_cast<int32_t>(-9 + l % 5));
    int64_t table = variant % 2 ? accRows - kLutRows : 40;
    b.add(loadInsn(kAccM, table, 20000, 1, kLutRows, kLutRows));
    b.add(loadInsn(kAccM, 200, 21000, 1, 2, 2));
    b.add(loadInsn(kAccM, 0, 0, 1, 30, 30));
    b.add(loadInsn(kOutM, 0, 4096, 1, 100, 100));
    b.add(lutldInsn(table));
    b.add(requantInsn(100, 0, 30, 200, 3, -128, 127, false, true));
    b.add(setregInsn(EMBER_NPU_REG_ADD_LSHIFT, 20));
    b.add(setregInsn(EMBER_NPU_REG_ADD_A_MULT, 1 << 30));
    b.add(setregInsn(EMBER_NPU_REG_ADD_B_MULT, 1 << 30));
    b.add(setregInsn(EMBER_NPU_REG_ADD_OUT_MULT, 1 << 30));
    b.add(setregInsn(EMBER_NPU_REG_ADD_OUT_SHIFT, -19));
    b.add(setregInsn(EMBER_NPU_REG_ADD_MIN, -128));
    b.add(setregInsn(EMBER_NPU_REG_ADD_MAX, 127));
    b.add(vaddInsn(130, 0, 20, 16, true));
    setPoolRegs(b, 2, 2, 2, 8, 4);
    b.add(poolInsn(variant % 2, 150, 0, 8, 0, 0, 0, true));
    setMulRegs(b, 3, -5, 1518500250, -7, 2, -128, 127);
    b.add(vmulInsn(160, 0, 30, 12, variant % 2 == 0, true));
    b.add(lutInsn(180, 40, 20));
    b.add(lutInsn(42, 40, 20)); // ahead of its source: staged
    b.add(lutInsn(60, 60, 10)); // in place
    if (variant >= 2) {         // a second table replaces the first
      b.add(loadInsn(kAccM, table, 20256, 1, kLutRows, kLutRows));
      b.add(lutldInsn(table));
    }
    b.add(lutInsn(outRows - 7, 70, 7));
    b.add(upsampleInsn(200, 0, 3, 2, 0, 4, 1, 1, -3, true));
    dumpOut(b, kOutM, 0, 250, outArea);
    dumpOut(b, kOutM, outRows - 7, 7, outArea + 8192);
    addCase(cases, "lut_" + std::to_string(variant), b, std::move(dram));
  }
  // VMUL: zero points at the int8 edges and beyond 8 bits (their low 8 bits
  // count), multiplier and shift edges, clip, per-channel broadcast (also a b
  // row inside the destination), destinations ahead of a source (staged).
  const int32_t zps[][2] = {{0, 0}, {-128, 127}, {127, -128}, {0x17f, -0x181}};
  const int32_t mults[] = {1 << 30, INT32_MAX, INT32_MIN, 0, 1518500250};
  for (int variant = 0; variant < 20; ++variant) {
    SafeProgramBuilder b;
    const int32_t *zp = zps[variant % 4];
    int32_t shift = variant % 5 == 0 ? 31 : (variant % 5 == 1 ? -31 : -7);
    setMulRegs(b, zp[0], zp[1], mults[variant % 5], shift, variant * 11 - 100,
               variant % 3 ? -128 : -20, variant % 2 ? 127 : 40);
    b.add(loadInsn(kOutM, 0, 0, 1, 60, 60));
    bool bcast = variant % 3 == 1;
    b.add(vmulInsn(100, 0, 40, 20, bcast));
    b.add(vmulInsn(5, 0, bcast ? 9 : 7, 12 + variant % 7, bcast));
    b.add(vmulInsn(61, 3, 62, 4, true)); // b inside the destination
    b.add(storeInsn(kOutM, 0, outArea, 1, 120, 120));
    addCase(cases, "vmul_" + std::to_string(variant), b, randomDram(rng));
  }
  // POOL over a bounded source: SPPF (three chained 5x5 stride-1 max pools,
  // pad 2, each output the next input), separable 5x1 + 1x5, averages
  // excluding the padding, strides 2 and 3, a map of one line or one column.
  const int64_t shapes[][7] = {
      // kh, kw, stride, pad_top, pad_left, in_h, in_w
      {5, 5, 1, 2, 2, 6, 7}, {5, 1, 1, 2, 0, 6, 7}, {1, 5, 1, 0, 2, 6, 7},
      {3, 3, 2, 1, 1, 7, 7}, {3, 3, 2, 1, 1, 8, 8}, {2, 3, 3, 1, 2, 5, 9},
      {5, 5, 1, 2, 2, 1, 9}, {5, 5, 1, 2, 2, 9, 1}, {16, 16, 1, 15, 15, 3, 3},
      {3, 3, 1, 0, 0, 4, 4}};
  for (const auto &sh : shapes) {
    for (int avg = 0; avg < 2; ++avg) {
      SafeProgramBuilder b;
      int64_t kh = sh[0], kw = sh[1], st = sh[2], pt = sh[3], pl = sh[4],
              ih = sh[5], iw = sh[6];
      int64_t ow = (iw + 2 * pl - kw) / st + 1,
              oh = (ih + 2 * pt - kh) / st + 1;
      ow = std::max<int64_t>(ow, 1);
      oh = std::max<int64_t>(oh, 1);
      setPoolRegs(b, kh, kw, st, iw, ow);
      b.add(loadInsn(kOutM, 0, 0, 1, 90, 90));
      b.add(poolInsn(avg, 100, 0, oh * ow, pt, pl, ih));
      if (st == 1 && ow == iw && oh == ih) { // chained: SPPF
        b.add(poolInsn(avg, 200, 100, oh * ow, pt, pl, ih));
        b.add(poolInsn(avg, 300, 200, oh * ow, pt, pl, ih, avg == 1));
        b.add(poolInsn(avg, 302, 300, oh * ow, pt, pl, ih)); // staged
      }
      b.add(storeInsn(kOutM, 0, outArea, 1, 400, 400));
      std::string name = avg ? "pool_pad_avg" : "pool_pad_max";
      for (int64_t v : sh)
        name += "_" + std::to_string(v);
      addCase(cases, name, b, randomDram(rng));
    }
  }
}

/// Upsampling and placement: UPSAMPLE (nearest and bilinear, half_pixel and
/// asymmetric, factors 1-8, maps of one pixel to odd sizes, stripes of
/// output lines, zero points, staging), STORE with repetition, x step and lane
/// groups (every memory, unaligned addresses, bursts split at boundaries,
/// overlapping writes), MOVE with repetition and padding.
void addUpsamplingCases(std::vector<TestCase> &cases, std::mt19937 &rng) {
  const int64_t outArea = 32 * 1024;
  const int64_t maps[][2] = {{1, 1}, {2, 3}, {3, 2}, {5, 4}, {1, 6}};
  for (int mode = 0; mode < 3; ++mode) {
    for (int k = 0; k < 4; ++k) {
      SafeProgramBuilder b;
      b.add(loadInsn(kOutM, 0, 0, 1, 40, 40));
      int64_t dst = 40;
      for (const auto &m : maps) {
        int64_t h = m[0], w = m[1], f = int64_t(1) << k;
        int64_t lines = std::min<int64_t>(f * h, 600 / (f * w));
        if (lines < 1)
          continue;
        // The whole result when it fits, else its first and last lines.
        int64_t oy = f * h - lines, zp = (mode * 37 + k * 11 + w) % 256 - 128;
        b.add(upsampleInsn(dst, (h * w) % 7, w, h, oy, lines, k, mode, zp));
        dst += lines * f * w;
        if (dst > 1200)
          break;
      }
      b.add(upsampleInsn(3, 0, 4, 2, k ? 1 : 0, 2, k, mode)); // staged
      // The result rows that fit the test DRAM (all 1,400 up to DIM 16),
      // in two STOREs: xsize is a 10-bit field.
      const int64_t n =
          std::min<int64_t>(1400, (int64_t(kTestDramBytes) - outArea) / kDim);
      b.add(storeInsn(kOutM, 0, outArea, 1, 700, 700));
      b.add(storeInsn(kOutM, 700, outArea + 700 * kDim, 1, n - 700, n - 700));
      addCase(cases,
              "upsample_m" + std::to_string(mode) + "_f" +
                  std::to_string(1 << k),
              b, randomDram(rng));
    }
  }
  // STORE: repetition 1..8, x step, lane groups, each memory; unaligned DRAM
  // addresses and bursts split inside rows; overlapping writes (last wins).
  for (int mem = 0; mem < kNumMems; ++mem) {
    for (int variant = 0; variant < 6; ++variant) {
      SafeProgramBuilder b;
      int64_t rep = (variant * 3) % 8, xstep = variant % 2,
              lanes = (variant * 5 + 1) % (1 << kNumLaneGroups);
      int64_t ys = 1 + variant % 3, xs = 2 + variant % 4, stride = 0;
      // The largest repetition whose DRAM extent fits 30 KB.
      for (;; --rep) {
        int64_t r = rep + 1, s = xstep + 1;
        stride = (xs * r - 1) * s + 1 + variant % 3;
        if (((ys * r - 1) * stride + (xs * r - 1) * s + 1) * rowBytes(mem) <=
                30 * 1024 ||
            rep == 0)
          break;
      }
      b.add(loadInsn(mem, 0, 0, 1, 64, 64));
      int64_t dram = outArea + 13 * (variant % 2);
      b.add(storeInsn(mem, 2, dram, ys, xs, stride, rep, xstep, lanes));
      if (variant == 5) // overlapping: a repeated store over the first
        b.add(storeInsn(mem, 7, dram, 2, 3, 2, 1, 0, 0));
      addCase(cases,
              "store_rep" + std::to_string(rep) + "_x" + std::to_string(xstep) +
                  "_l" + std::to_string(lanes) + "_" + memName(mem),
              b, randomDram(rng));
    }
  }
  // MOVE with repetition: padding on each side, the pad value, strides.
  for (int variant = 0; variant < 6; ++variant) {
    SafeProgramBuilder b;
    b.add(setregInsn(EMBER_NPU_REG_PAD_VALUE, variant * 20 - 60));
    b.add(loadInsn(kOutM, 0, 0, 1, 64, 64));
    int64_t rep = variant < 3 ? 1 : (variant == 5 ? 7 : 3);
    int64_t ys = 1 + variant % 3, xs = 1 + (variant * 2) % 5;
    int p = variant % 4;
    b.add(moveInsn(5, 3, ys, xs, xs + variant % 2, p, 3 - p, p % 2, 3, rep));
    int64_t rows = (ys * (rep + 1) + 3) * (xs * (rep + 1) + p % 2 + 3);
    dumpOut(b, kActM, 5, rows, outArea);
    addCase(cases,
            "move_rep" + std::to_string(rep) + "_" + std::to_string(variant), b,
            randomDram(rng));
  }
}

} // namespace

std::vector<TestCase> directedCases() {
  std::vector<TestCase> cases;
  std::mt19937 rng(1234);
  auto addCase = [&](const std::string &name, SafeProgramBuilder &b,
                     std::vector<uint8_t> dram) {
    cases.push_back(TestCase{name, b.finish(), std::move(dram)});
  };
  const int64_t outArea = 32 * 1024; // DRAM results land in [32K, 64K)

  // LOAD: every memory, padding at each edge and at its maximum, pad value, 2-D
  // strides.
  const int pads[][4] = {{0, 0, 0, 0}, {3, 3, 3, 3}, {1, 0, 0, 0}, {0, 2, 0, 0},
                         {0, 0, 1, 0}, {0, 0, 0, 3}, {1, 1, 1, 1}};
  for (int mem = 0; mem < kNumMems; ++mem) {
    for (const auto &p : pads) {
      for (int padValue : {0, -128}) {
        SafeProgramBuilder b;
        if (padValue)
          b.add(setregInsn(EMBER_NPU_REG_PAD_VALUE, padValue));
        int64_t ys = 3, xs = 5, stride = 7;
        b.add(loadInsn(mem, 2, 128, ys, xs, stride, p[0], p[1], p[2], p[3]));
        int64_t rows = (ys + p[0] + p[1]) * (xs + p[2] + p[3]);
        dumpOut(b, mem, 2, rows, outArea);
        addCase("load_" + std::string(memName(mem)) + "_pad" +
                    std::to_string(p[0]) + std::to_string(p[1]) +
                    std::to_string(p[2]) + std::to_string(p[3]) + "_v" +
                    std::to_string(padValue),
                b, randomDram(rng));
      }
    }
  }
  // MOVE (OUT -> ACT): every padding side and its maximum, pad value, line
  // strides (0: one line repeated; below xsize: overlapping lines), the last
  // rows of OUT and ACT, a MOVE into rows a GEMM then reads and a REQUANT ->
  // MOVE -> GEMM chain (a layer's output consumed on chip).
  for (const auto &p : pads) {
    for (int padValue : {0, -128, 77}) {
      SafeProgramBuilder b;
      if (padValue)
        b.add(setregInsn(EMBER_NPU_REG_PAD_VALUE, padValue));
      b.add(loadInsn(kOutM, 0, 0, 1, 64, 64));
      int64_t ys = 3, xs = 5, stride = padValue == 77 ? 2 : 7;
      b.add(moveInsn(3, 1, ys, xs, stride, p[0], p[1], p[2], p[3]));
      int64_t rows = (ys + p[0] + p[1]) * (xs + p[2] + p[3]);
      dumpOut(b, kActM, 3, rows, outArea);
      addCase("move_pad" + std::to_string(p[0]) + std::to_string(p[1]) +
                  std::to_string(p[2]) + std::to_string(p[3]) + "_v" +
                  std::to_string(padValue),
              b, randomDram(rng));
    }
  }
  {
    SafeProgramBuilder b;
    const int64_t outRows = EMBER_NPU_OUT_ROWS, actRows = EMBER_NPU_ACT_ROWS;
    b.add(loadInsn(kOutM, outRows - 40, 0, 1, 40, 40));
    b.add(loadInsn(kOutM, 0, 2048, 1, 500, 500));
    b.add(
        moveInsn(actRows - 12, outRows - 4, 1, 4, 4, 1, 1, 0, 0)); // last rows
    b.add(moveInsn(0, outRows - 40, 4, 3, 0, 0, 0, 1, 2));         // stride 0
    b.add(moveInsn(40, 0, 1, 500, 0));                         // one long line
    b.add(moveInsn(1100, outRows - 40, 13, 1, 3, 3, 3, 3, 3)); // a column
    dumpOut(b, kActM, actRows - 12, 12, outArea);
    dumpOut(b, kActM, 0, 24, outArea + 1024);
    dumpOut(b, kActM, 1100, 133, outArea + 2048);
    dumpOut(b, kActM, 40, 500, outArea + 8192);
    addCase("move_edges", b, randomDram(rng));
  }
  for (int variant = 0; variant < 4; ++variant) {
    SafeProgramBuilder b;
    std::vector<uint8_t> dram = randomDram(rng);
    for (int l = 0; l < 2 * kDim; ++l)
      putI32(dram, 12288 + 4 * l,
             l < kDim ? static_cast<int32_t>((1u << 30) + 977 * l)
                      : static_cast<int32_t>(-9 + l % 5));
    b.add(setregInsn(EMBER_NPU_REG_PAD_VALUE, -3 * variant));
    b.add(loadInsn(kAccM, 0, 0, 1, 60, 60));         // "layer 1" results
    b.add(loadInsn(kAccM, 100, 12288, 1, 2, 2));     // its requant table
    b.add(requantInsn(7, 0, 48, 100, 5, -128, 127)); // 6 lines x 8 pixels
    int pad = variant % 2;
    b.add(
        moveInsn(20, 7, 6, 8, 8, pad, pad, pad, pad)); // "layer 2" input block
    b.add(loadInsn(kWgtM, 0, 8192, 1, 2 * kDim, 2 * kDim));
    int64_t w = 8 + 2 * pad;
    b.add(gemmInsn(true, 200, 20, 0, 8, 6, w, 8));
    b.add(dwgemmInsn(false, 200, 20, kDim, 6, 6, w, 8, 3));
    b.add(requantInsn(300, 200, 48, 100, -2, -100, 100));
    b.add(moveInsn(21 + variant, 300, 2, 24, 24)); // overwrite the block
    dumpOut(b, kAccM, 200, 48, outArea);
    dumpOut(b, kActM, 20, 6 * 10 + 40, outArea + 8192);
    addCase("move_cascade_" + std::to_string(variant), b, std::move(dram));
  }
  // LOAD/STORE at the last rows of each memory, stride 0 (broadcast), maximal
  // sizes.
  for (int mem = 0; mem < kNumMems; ++mem) {
    SafeProgramBuilder b;
    int64_t rows = memRows(mem);
    b.add(loadInsn(mem, rows - 4, 0, 1, 4, 4));
    b.add(storeInsn(mem, rows - 4, outArea, 1, 4, 4));
    b.add(
        loadInsn(mem, 0, 64, 4, 2, 0)); // stride 0: the same 2 rows four times
    b.add(storeInsn(mem, 0, outArea + 4096, 2, 4,
                    0)); // overlapping writes, last line wins
    int64_t maxRows = std::min<int64_t>(rows, (outArea / 2) / rowBytes(mem));
    int64_t xs = std::min<int64_t>(maxRows, 1023);
    b.add(loadInsn(mem, 8, 0, 1, xs, 0));
    b.add(storeInsn(mem, 8, outArea, 1, xs, 0));
    addCase("dma_edges_" + std::string(memName(mem)), b, randomDram(rng));
  }
  // GEMM: reset, loop shapes, overlapping accumulator rows, extreme operands,
  // last weight tile.
  for (int variant = 0; variant < 24; ++variant) {
    std::vector<uint8_t> dram = randomDram(rng);
    if (variant % 3 == 1)
      std::memset(dram.data(), 0x80, 8192); // all -128: largest products
    if (variant % 3 == 2)
      for (int e = 0; e < 8192; ++e)
        dram[e] = (e & 1) ? 0x7f : 0x80;
    SafeProgramBuilder b;
    bool reset = variant & 1;
    int64_t outer = 1 + (variant / 2) % 3, inner = 1 + (variant * 7) % 40;
    int64_t aos = (variant / 6) % 2 ? inner : 3,
            cos = (variant / 4) % 3 == 0 ? 0 : inner + 1;
    int64_t wgt =
        variant >= 20 ? EMBER_NPU_WGT_ROWS - kDim : 16 * (variant % 4);
    b.add(loadInsn(kActM, 0, 0, 1, 160, 160));
    b.add(loadInsn(kWgtM, wgt, 4096, 1, kDim, kDim));
    b.add(loadInsn(kAccM, 0, 8192, 1, 200, 200));
    b.add(gemmInsn(reset, 5, 1, wgt, inner, outer, aos, cos));
    b.add(gemmInsn(false, 5, 2, wgt, inner, outer, aos, cos));
    int64_t accRows = 5 + (outer - 1) * cos + inner;
    b.add(storeInsn(kAccM, 0, outArea, 1, accRows + 5, accRows + 5));
    addCase("gemm_" + std::to_string(variant), b, std::move(dram));
  }
  // DWGEMM: taps 1..DIM (lanes past taps must not contribute), loop shapes,
  // overlapping accumulator rows, extreme operands, the last weight tile,
  // back-to-back with GEMM.
  for (int variant = 0; variant < 12; ++variant) {
    std::vector<uint8_t> dram = randomDram(rng);
    if (variant % 3 == 1)
      std::memset(dram.data(), 0x80, 8192);
    SafeProgramBuilder b;
    bool reset = variant & 1;
    int64_t taps = variant < 4 ? 1 + variant
                               : (variant < 8 ? kDwMaxTaps - (variant - 4) : 3);
    int64_t outer = 1 + (variant / 2) % 3, inner = 1 + (variant * 5) % 30;
    int64_t aos = (variant / 3) % 2 ? inner + taps - 1 : 2,
            cos = variant % 4 == 0 ? 0 : inner;
    int64_t wgt =
        variant >= 10 ? EMBER_NPU_WGT_ROWS - kDim : 16 * (variant % 4);
    b.add(loadInsn(kActM, 0, 0, 1, 160, 160));
    b.add(loadInsn(kWgtM, wgt, 4096, 1, kDim, kDim));
    b.add(loadInsn(kAccM, 0, 8192, 1, 200, 200));
    int64_t stride = 1 + variant % 3;
    b.add(dwgemmInsn(reset, 5, 1, wgt, inner, outer, aos, cos, taps, stride,
                     taps <= kDim - 4 && variant % 2 == 0));
    b.add(gemmInsn(false, 5, 2, wgt, inner, outer, aos, cos));
    b.add(dwgemmInsn(false, 5, 3, wgt, inner, outer, aos, cos, taps,
                     1 + (variant + 1) % 3));
    int64_t accRows = 5 + (outer - 1) * cos + inner;
    b.add(storeInsn(kAccM, 0, outArea, 1, accRows + 5, accRows + 5));
    addCase("dwgemm_" + std::to_string(variant), b, std::move(dram));
  }
  // REQUANT: multiplier/shift/zero-point/clip edges (per-channel parameters in
  // DRAM).
  const int32_t mults[] = {INT32_MIN, INT32_MAX, 0, 1 << 30, 1, -(1 << 30)};
  const int32_t shifts[] = {-31, -12, -1, 0, 1, 7, 31, 40, -40};
  int rq = 0;
  for (int32_t mult : mults) {
    for (int32_t shift : shifts) {
      if ((rq++ % 2) && mult != INT32_MIN)
        continue;
      std::vector<uint8_t> dram = randomDram(rng);
      for (int l = 0; l < kDim; ++l) {
        putI32(dram, 16384 + 4 * l, l == 1 ? mult ^ 1 : mult);
        putI32(dram, 16384 + 4 * (kDim + l), l == 2 ? shift / 2 : shift);
      }
      for (int l = 0; l < kDim; ++l)
        putI32(dram, 0 + 4 * l,
               l == 0 ? INT32_MIN : (l == 1 ? INT32_MAX : int32_t(rng())));
      SafeProgramBuilder b;
      b.add(loadInsn(kAccM, 10, 0, 1, 8, 8));
      b.add(loadInsn(kAccM, EMBER_NPU_ACC_ROWS - 2, 16384, 1, 2, 2));
      int zp = static_cast<int>(rng() % 256) - 128;
      b.add(requantInsn(0, 10, 8, EMBER_NPU_ACC_ROWS - 2, zp, -128, 127));
      b.add(requantInsn(8, 10, 8, EMBER_NPU_ACC_ROWS - 2, -128, -10, 10));
      b.add(requantInsn(16, 10, 8, EMBER_NPU_ACC_ROWS - 2, 127, 5,
                        -5)); // min > max
      b.add(storeInsn(kOutM, 0, outArea, 1, 24, 24));
      if (rq % 3 == 0) { // with a bias row (wrapping int32 sums at lanes 0-3)
        for (int l = 0; l < kDim; ++l)
          putI32(dram, 16384 + 4 * (2 * kDim + l),
                 l == 0 ? -1          // INT32_MIN - 1 wraps to INT32_MAX
                        : (l == 1 ? 1 // INT32_MAX + 1 wraps to INT32_MIN
                                  : (l == 2 ? INT32_MAX
                                            : (l == 3 ? INT32_MIN
                                                      : int32_t(rng())))));
        b.add(loadInsn(kAccM, EMBER_NPU_ACC_ROWS - 3, 16384, 1, 3, 3));
        b.add(requantInsn(24, 10, 8, EMBER_NPU_ACC_ROWS - 3, zp, -128, 127,
                          true));
        b.add(
            requantInsn(32, 10, 1, EMBER_NPU_ACC_ROWS - 3, -3, -100, 90, true));
        b.add(storeInsn(kOutM, 24, outArea + 24 * kDim, 1, 9, 9));
      }
      addCase(std::string(rq % 3 == 0 ? "requant_bias_m" : "requant_m") +
                  std::to_string(mult) + "_s" + std::to_string(shift),
              b, std::move(dram));
    }
  }
  // VADD: left shift, zero points, multipliers, clipping, aliasing destination.
  for (int variant = 0; variant < 16; ++variant) {
    SafeProgramBuilder b;
    const int lshifts[] = {0, 20, 31, 8};
    b.add(setregInsn(EMBER_NPU_REG_ADD_LSHIFT, lshifts[variant % 4]));
    b.add(setregInsn(EMBER_NPU_REG_ADD_A_ZP, variant % 2 ? -128 : 3));
    b.add(setregInsn(EMBER_NPU_REG_ADD_B_ZP, variant % 3 ? 127 : -7));
    b.add(setregInsn(EMBER_NPU_REG_ADD_A_MULT,
                     variant % 5 ? 1073741824 + variant : INT32_MAX));
    b.add(setregInsn(EMBER_NPU_REG_ADD_A_SHIFT, variant % 4 ? -1 : -31));
    b.add(setregInsn(EMBER_NPU_REG_ADD_B_MULT,
                     variant % 7 ? 1518500250 : INT32_MIN));
    b.add(setregInsn(EMBER_NPU_REG_ADD_B_SHIFT, variant % 2 ? -2 : 3));
    b.add(setregInsn(EMBER_NPU_REG_ADD_OUT_MULT, 1992864825 - variant * 1000));
    b.add(setregInsn(EMBER_NPU_REG_ADD_OUT_SHIFT, -(variant % 4) * 6 - 1));
    b.add(setregInsn(EMBER_NPU_REG_ADD_OUT_ZP, variant * 13 - 100));
    b.add(setregInsn(EMBER_NPU_REG_ADD_MIN, variant % 2 ? -128 : 0));
    b.add(setregInsn(EMBER_NPU_REG_ADD_MAX, variant % 3 ? 127 : 50));
    b.add(loadInsn(kOutM, 0, 0, 1, 40, 40));
    b.add(vaddInsn(100, 0, 20, 20));
    b.add(vaddInsn(5, 0, 7, 12 + variant)); // destination overlaps the sources
    b.add(storeInsn(kOutM, 0, outArea, 1, 120, 120));
    addCase("vadd_" + std::to_string(variant), b, randomDram(rng));
  }
  // VADD exact (spec version 4): the parameters the compiler derives from
  // quantize_static-like scales (u8 and i8 operands, a u8 result held as
  // int8), then register values at and beyond the ranges' edges (the
  // multipliers' 48 bits, the offset's saturation, shifts outside [0, 62],
  // sums beyond int32).
  for (int variant = 0; variant < 12; ++variant) {
    SafeProgramBuilder b;
    int64_t am = 0, bm = 0, off = 0;
    int32_t sh = 0, lo = -128, hi = 127;
    if (variant < 6) {
      quant::AddScales s;
      s.sa = float(0.001 + 0.01 * variant);
      s.sb = variant % 2 ? float(3.0 / 255) : float(0.02 + 0.003 * variant);
      s.sy = variant % 2 ? float(6.0 / 255) : float(0.03 - 0.002 * variant);
      s.za = 17 * variant;
      s.zb = variant % 2 ? 0 : 255 - 9 * variant;
      s.zy = variant % 2 ? 0 : 40 + variant;
      const int32_t lowest = variant % 3 ? 0 : -128;
      quant::AddFixed f;
      bool ok = quant::makeAddFixed(s, lowest, lowest, lowest, lowest + 255, f);
      assert(ok);
      (void)ok;
      am = f.aMult;
      bm = f.bMult;
      off = f.offset - (lowest ? 0 : int64_t(128) << f.shift);
      sh = f.shift;
      lo = variant == 4 ? -20 : -128;
      hi = variant == 2 ? 90 : 127;
    } else {
      const int64_t m48 = (int64_t(1) << 48) - 1;
      const int64_t offs[] = {INT64_MAX, INT64_MIN,           int64_t(1) << 61,
                              -1,        -(int64_t(1) << 40), 12345};
      const int32_t shifts[] = {62, -5, 100, 0, 40, 31};
      am = variant % 2 ? m48 : int64_t(1) << 47;
      bm = variant % 3 ? m48 - 77 : 0;
      off = offs[variant - 6];
      sh = shifts[variant - 6];
      lo = variant == 7 ? 100 : -128; // lo above hi: lo
      hi = variant == 7 ? 50 : 127;
    }
    b.add(setregInsn(EMBER_NPU_REG_ADD_X_A_MULT, int32_t(uint32_t(am))));
    b.add(setregInsn(EMBER_NPU_REG_ADD_X_A_MULT_HI,
                     int32_t(uint32_t(uint64_t(am) >> 32))));
    b.add(setregInsn(EMBER_NPU_REG_ADD_X_B_MULT, int32_t(uint32_t(bm))));
    b.add(setregInsn(EMBER_NPU_REG_ADD_X_B_MULT_HI,
                     int32_t(uint32_t(uint64_t(bm) >> 32))));
    b.add(setregInsn(EMBER_NPU_REG_ADD_X_OFFSET_LO, int32_t(uint32_t(off))));
    b.add(setregInsn(EMBER_NPU_REG_ADD_X_OFFSET_HI,
                     int32_t(uint32_t(uint64_t(off) >> 32))));
    b.add(setregInsn(EMBER_NPU_REG_ADD_X_SHIFT, sh));
    b.add(setregInsn(EMBER_NPU_REG_ADD_MIN, lo));
    b.add(setregInsn(EMBER_NPU_REG_ADD_MAX, hi));
    b.add(loadInsn(kOutM, 0, 0, 1, 40, 40));
    Insn x = vaddInsn(100, 0, 20, 20, variant % 4 == 3);
    x.exact = 1;
    b.add(x);
    x = vaddInsn(5, 0, 7, 12 + variant); // destination overlaps the sources
    x.exact = 1;
    b.add(x);
    b.add(storeInsn(kOutM, 0, outArea, 1, 120, 120));
    addCase("vadd_exact_" + std::to_string(variant), b, randomDram(rng));
  }
  // POOL: max and average, window and stride edges, partial last line.
  for (int avg = 0; avg < 2; ++avg) {
    for (int kh = 1; kh <= 3; ++kh) {
      for (int stride = 1; stride <= 2; ++stride) {
        for (int kw : {1, 3}) {
          SafeProgramBuilder b;
          int inW = 9, outW = (inW - kw) / stride + 1;
          b.add(setregInsn(EMBER_NPU_REG_POOL_KH, kh));
          b.add(setregInsn(EMBER_NPU_REG_POOL_KW, kw));
          b.add(setregInsn(EMBER_NPU_REG_POOL_STRIDE, stride));
          b.add(setregInsn(EMBER_NPU_REG_POOL_IN_W, inW));
          b.add(setregInsn(EMBER_NPU_REG_POOL_OUT_W, outW));
          b.add(loadInsn(kOutM, 0, 0, 1, 90, 90));
          b.add(poolInsn(avg, 200, 0, 2 * outW + 1));
          b.add(storeInsn(kOutM, 200, outArea, 1, 2 * outW + 1, 2 * outW + 1));
          addCase("pool_" + std::string(avg ? "avg" : "max") + "_k" +
                      std::to_string(kh) + std::to_string(kw) + "_s" +
                      std::to_string(stride),
                  b, randomDram(rng));
        }
      }
    }
  }
  addOutputPathCases(cases, rng);
  addUpsamplingCases(cases, rng);
  addWideCases(cases, rng);
  // Tokens: a full FIFO (depth signals before any wait), FENCE between engines.
  {
    std::vector<Insn> p;
    for (int k = 0; k < EMBER_NPU_TOKEN_FIFO_DEPTH; ++k) {
      Insn ld = loadInsn(kActM, 16 * k, 64 * k, 1, 1, 1);
      ld.signal = 1u << EMBER_NPU_TOKEN_CHANNEL(EMBER_NPU_ENGINE_LOAD,
                                                EMBER_NPU_ENGINE_GEMM);
      p.push_back(ld);
    }
    for (int k = 0; k < EMBER_NPU_TOKEN_FIFO_DEPTH; ++k) {
      Insn g = gemmInsn(true, 16 * k, 16 * k, 0, 1, 1, 0, 0);
      g.wait = 1u << EMBER_NPU_TOKEN_CHANNEL(EMBER_NPU_ENGINE_LOAD,
                                             EMBER_NPU_ENGINE_GEMM);
      p.push_back(g);
    }
    Insn f = makeInsn(Opcode::FENCE);
    p.push_back(f);
    p.push_back(storeInsn(kAccM, 0, outArea, 1, 16 * EMBER_NPU_TOKEN_FIFO_DEPTH,
                          16 * EMBER_NPU_TOKEN_FIFO_DEPTH));
    p.push_back(makeInsn(Opcode::FINISH));
    cases.push_back(TestCase{"tokens_full_fifo_fence", p, randomDram(rng)});
  }
  // LOAD runs ahead of slow GEMMs until the LOAD->GEMM FIFO is full and then
  // blocks on the signal: valid in program order (never more than depth
  // tokens), back-pressure when concurrent.
  for (int extra : {1, 4}) {
    std::vector<Insn> p;
    const uint32_t lg = 1u << EMBER_NPU_TOKEN_CHANNEL(EMBER_NPU_ENGINE_LOAD,
                                                      EMBER_NPU_ENGINE_GEMM);
    const int depth = EMBER_NPU_TOKEN_FIFO_DEPTH, loads = depth + extra;
    p.push_back(loadInsn(kWgtM, 0, 8192, 1, kDim, kDim));
    int consumed = 0;
    // GEMM #c reads only the 4 rows written by load #c, 250 times (1000 cycles,
    // slow).
    auto slowGemm = [&]() {
      Insn g =
          gemmInsn(consumed % 2, 4 * consumed, 32 * consumed, 0, 4, 250, 0, 0);
      g.wait = lg;
      ++consumed;
      return g;
    };
    for (int k = 0; k < loads; ++k) {
      if (k >= depth)
        p.push_back(
            slowGemm()); // keeps the program-order count at the FIFO depth
      Insn ld = loadInsn(kActM, 32 * k, 256 * k, 1, 4, 4);
      ld.signal = lg;
      p.push_back(ld);
    }
    while (consumed < loads)
      p.push_back(slowGemm());
    p.push_back(makeInsn(Opcode::FENCE));
    p.push_back(storeInsn(kAccM, 0, outArea, 1, 4 * loads, 4 * loads));
    p.push_back(makeInsn(Opcode::FINISH));
    cases.push_back(TestCase{"tokens_backpressure_" + std::to_string(extra), p,
                             randomDram(rng)});
  }
  {
    SafeProgramBuilder b;
    b.add(loadInsn(kActM, 0, 0, 4, 4, 4));
    b.add(makeInsn(Opcode::FENCE));
    b.add(makeInsn(Opcode::FENCE));
    b.add(storeInsn(kActM, 0, outArea, 4, 4, 8));
    addCase("fence_only_ordering", b, randomDram(rng));
  }
  return cases;
}

namespace {
/// Whether instruction kind `kind` (randomCase's numbering: 0..26, then the
/// 16-bit kinds from 27) belongs to `bias`'s class.
bool inBias(GenBias bias, int kind) {
  int wide = kind >= 27 ? (kind - 27) % kRandomWideKinds : -1;
  switch (bias) {
  case GenBias::Dma:
    return kind < 8 || wide == 0 || wide == 1;
  case GenBias::Gemm:
    return (kind >= 8 && kind < 12) || wide == 8 || wide == 9;
  case GenBias::Vector:
    return (kind >= 12 && kind < 27) || (wide >= 2 && wide < 8) || wide >= 10;
  case GenBias::None:
  case GenBias::Hazards:
    return true;
  }
  return true;
}
/// A FENCE (every token channel empty), then eight instructions on engine
/// `a` and eight on engine `b`, the i-th of b conflicting with the i-th of a
/// only: the builder's tokens fill channel a->b to the FIFO's depth before b
/// takes the first. Rows from 200 up, outside the random window.
void addTokenFlood(SafeProgramBuilder &b, int ea, int eb) {
  const int64_t act = 200, out = 200, dst = 240, acc = 300;
  auto one = [&](int e, int partner, int i, bool first) -> Insn {
    // What engine e does to the region it shares with `partner`.
    const Engine E = static_cast<Engine>(e), P = static_cast<Engine>(partner);
    auto region = [&](Engine x, Engine y) { // the space x and y share
      if ((x == Engine::LOAD && y == Engine::GEMM) ||
          (y == Engine::LOAD && x == Engine::GEMM) ||
          (x == Engine::STORE && y == Engine::LOAD) ||
          (y == Engine::STORE && x == Engine::LOAD))
        return kActM;
      if ((x == Engine::GEMM || y == Engine::GEMM))
        return kAccM;
      return kOutM;
    };
    const int mem = region(E, P);
    const int64_t row = mem == kActM   ? act + i
                        : mem == kAccM ? acc + i
                        : (E == Engine::VECTOR || P == Engine::VECTOR) &&
                                !(first && E == Engine::LOAD)
                            ? dst + i
                            : out + i;
    switch (E) {
    case Engine::LOAD:
      return loadInsn(mem, row, 64 * i, 1, 1, 1);
    case Engine::STORE:
      return storeInsn(mem, row, 50000 + 128 * i, 1, 1, 1);
    case Engine::GEMM:
      return gemmInsn(true, mem == kAccM ? row : acc + i,
                      mem == kActM ? row : act + i, 0, 1, 1);
    case Engine::VECTOR:
      if (mem == kAccM)
        return requantInsn(dst + i, row, 1, EMBER_NPU_ACC_ROWS - 2, 0, -128,
                           127);
      return vaddInsn(dst + i, out + i, out + i, 1);
    case Engine::Fetch:
      break;
    }
    return makeInsn(Opcode::FENCE);
  };
  b.add(makeInsn(Opcode::FENCE));
  for (int i = 0; i < EMBER_NPU_TOKEN_FIFO_DEPTH; ++i)
    b.add(one(ea, eb, i, true));
  for (int i = 0; i < EMBER_NPU_TOKEN_FIFO_DEPTH; ++i)
    b.add(one(eb, ea, i, false));
}
} // namespace

TestCase randomCase(uint32_t seed, int length, GenBias bias) {
  std::mt19937 rng(seed);
  auto rnd = [&](int64_t lo, int64_t hi) { // inclusive
    return lo +
           static_cast<int64_t>(rng() % static_cast<uint32_t>(hi - lo + 1));
  };
  TestCase tc;
  tc.name = "random_" + std::to_string(seed);
  tc.dram = randomDram(rng);
  SafeProgramBuilder b;
  // Scratchpad rows used, small so that accesses conflict often (with the
  // hazards bias smaller still: most instructions then wait on a token).
  const int64_t window = bias == GenBias::Hazards ? 24 : 96;
  auto rowIn = [&](int mem, int64_t n) {
    // Mostly the low window; sometimes the last rows of the memory.
    if (rng() % 8 == 0)
      return memRows(mem) - n - rnd(0, 3);
    return rnd(0, std::max<int64_t>(0, window - n));
  };
  // Parameter rows for REQUANT with reasonable values somewhere in DRAM.
  for (int l = 0; l < 2 * kDim; ++l)
    putI32(tc.dram, 60000 + 4 * l,
           l < kDim ? static_cast<int32_t>((1u << 30) + rng() % (1u << 30))
                    : static_cast<int32_t>(rnd(-14, 2)));
  b.add(loadInsn(kAccM, EMBER_NPU_ACC_ROWS - 2, 60000, 1, 2, 2));
  // And a table with a bias row (REQUANT's bias) at ACC_ROWS - 5.
  for (int l = 0; l < kDim; ++l)
    putI32(tc.dram, 60000 + 4 * (2 * kDim + l),
           rng() % 8 ? static_cast<int32_t>(rnd(-5000, 5000))
                     : static_cast<int32_t>(rng()));
  b.add(loadInsn(kAccM, EMBER_NPU_ACC_ROWS - 5, 60000, 1, 3, 3));
  // REQUANT acc16's parameters at ACC_HALF - 8 (the int64 bias's low word
  // at ACC_HALF - 6, its high word at ACC_ROWS - 6: mostly the sign
  // extension, sometimes beyond 48 bits).
  for (int l = 0; l < kDim; ++l)
    putI32(tc.dram, 59000 + 4 * l,
           rng() % 8 ? -(putI32Sign(tc.dram, 60000 + 4 * (2 * kDim + l)))
                     : static_cast<int32_t>(rng()));
  b.add(loadInsn(kAccM, EMBER_NPU_ACC_HALF - 8, 60000, 1, 3, 3));
  b.add(loadInsn(kAccM, EMBER_NPU_ACC_ROWS - 6, 59000, 1, 1, 1));
  bool poolReady = false;
  auto lutFlag = [&]() { return rng() % 3 == 0; };
  while (static_cast<int>(b.size()) < length) {
    // Kinds 0 .. 26: spec versions 1 and 2; 27 ..: the 16-bit forms (each
    // twice as likely).
    int kind = static_cast<int>(rng() % (27 + 2 * kRandomWideKinds));
    // A bias draws again, three times in four, a kind outside its class.
    for (int t = 0; t < 8 && !inBias(bias, kind) && rng() % 4 != 0; ++t)
      kind = static_cast<int>(rng() % (27 + 2 * kRandomWideKinds));
    // Hazards: now and then a token channel filled to its depth.
    if (bias == GenBias::Hazards && rng() % 30 == 0) {
      int ea = static_cast<int>(rng() % kNumEngines);
      int eb =
          (ea + 1 + static_cast<int>(rng() % (kNumEngines - 1))) % kNumEngines;
      addTokenFlood(b, ea, eb);
      continue;
    }
    if (kind >= 27) {
      addRandomWide(b, rng, (kind - 27) % kRandomWideKinds, window);
      continue;
    }
    if (kind < 5) { // LOAD
      int mem = static_cast<int>(rng() % kNumMems);
      int64_t ys = rnd(1, 4), xs = rnd(1, 10), stride = rnd(0, 14);
      int pt = rng() % 3 == 0 ? static_cast<int>(rnd(0, 3)) : 0;
      int pb = rng() % 3 == 0 ? static_cast<int>(rnd(0, 3)) : 0;
      int pl = rng() % 3 == 0 ? static_cast<int>(rnd(0, 3)) : 0;
      int pr = rng() % 3 == 0 ? static_cast<int>(rnd(0, 3)) : 0;
      int64_t rows = (ys + pt + pb) * (xs + pl + pr);
      int64_t extent = ((ys - 1) * stride + xs) * rowBytes(mem);
      int64_t dram = rnd(0, 16384 - extent) & ~int64_t(3);
      if (rng() % 4 == 0)
        b.add(setregInsn(EMBER_NPU_REG_PAD_VALUE, rnd(-128, 127)));
      if (mem == kAccM &&
          rng() % 2) { // keep accumulators in a sane range sometimes
        dram = 60000;
        ys = 1;
        xs = std::min<int64_t>(xs, 2);
        pt = pb = 0;
        rows = (xs + pl + pr);
      }
      if (kind == 4 && mem == kOutM) { // MOVE instead (OUT -> ACT)
        int64_t span = (ys - 1) * stride + xs;
        int64_t rep = rng() % 4 == 0 ? rnd(1, 3) : 0; // nearest upsampling
        rows = (ys * (rep + 1) + pt + pb) * (xs * (rep + 1) + pl + pr);
        b.add(moveInsn(rowIn(kActM, rows), rowIn(kOutM, span), ys, xs, stride,
                       pt, pb, pl, pr, rep));
        continue;
      }
      b.add(loadInsn(mem, rowIn(mem, rows), dram, ys, xs, stride, pt, pb, pl,
                     pr));
    } else if (kind < 8) { // STORE into the upper DRAM area
      int mem = static_cast<int>(rng() % kNumMems);
      int64_t ys = rnd(1, 3), xs = rnd(1, 8), stride = rnd(0, 10);
      // Sometimes repeated (nearest upsampling), interleaved or lane-masked.
      int64_t rep = 0, xstep = 0, lanes = 0;
      if (rng() % 3 == 0) {
        rep = rng() % 2 ? rnd(1, 3) : 0;
        xstep = rng() % 3 == 0;
        lanes = rnd(0, (1 << kNumLaneGroups) - 1);
        ys = std::min<int64_t>(ys, 2);
        xs = std::min<int64_t>(xs, 4);
        stride = rnd(0, 2 * xs * (rep + 1) + 2);
      }
      int64_t extent = ((ys * (rep + 1) - 1) * stride +
                        (xs * (rep + 1) - 1) * (xstep + 1) + 1) *
                       rowBytes(mem);
      if (extent > 16384)
        continue;
      int64_t dram = rnd(16384, 16384 + 16384 - extent);
      b.add(storeInsn(mem, rowIn(mem, ys * xs), dram, ys, xs, stride, rep,
                      xstep, lanes));
    } else if (kind < 12) { // GEMM
      int64_t inner = rnd(1, 24), outer = rnd(1, 3), aos = rnd(0, 30),
              cos = rnd(0, 30);
      int64_t actSpan = (outer - 1) * aos + inner,
              accSpan = (outer - 1) * cos + inner;
      if (kind == 11 && rng() % 2) { // DWGEMM
        int64_t taps = rnd(1, kDwMaxTaps), stride = rnd(1, 3);
        int64_t span = (outer - 1) * aos + (inner - 1) * stride + taps;
        bool bias = taps <= kDim - 4 && rng() % 2;
        b.add(dwgemmInsn(rng() % 2, rowIn(kAccM, accSpan), rowIn(kActM, span),
                         rowIn(kWgtM, kDim), inner, outer, aos, cos, taps,
                         stride, bias));
      } else {
        b.add(gemmInsn(rng() % 2, rowIn(kAccM, accSpan), rowIn(kActM, actSpan),
                       rowIn(kWgtM, kDim), inner, outer, aos, cos));
      }
    } else if (kind < 14) { // REQUANT
      int64_t rows = rnd(1, 16);
      bool bias = rng() % 3 == 0;
      int64_t param = rng() % 3 ? EMBER_NPU_ACC_ROWS - (bias ? 5 : 2)
                                : rowIn(kAccM, bias ? 3 : 2);
      b.add(requantInsn(rowIn(kOutM, rows), rowIn(kAccM, rows), rows, param,
                        static_cast<int>(rnd(-128, 127)),
                        static_cast<int>(rnd(-128, 0)),
                        static_cast<int>(rnd(-10, 127)), bias, lutFlag()));
    } else if (kind < 16) { // VADD (with fresh parameters sometimes)
      if (rng() % 2) {
        b.add(setregInsn(EMBER_NPU_REG_ADD_LSHIFT, rnd(0, 31)));
        b.add(setregInsn(EMBER_NPU_REG_ADD_A_ZP, rnd(-128, 127)));
        b.add(
            setregInsn(EMBER_NPU_REG_ADD_A_MULT, static_cast<int32_t>(rng())));
        b.add(setregInsn(EMBER_NPU_REG_ADD_A_SHIFT, rnd(-33, 33)));
        b.add(setregInsn(EMBER_NPU_REG_ADD_B_ZP, rnd(-128, 127)));
        b.add(
            setregInsn(EMBER_NPU_REG_ADD_B_MULT, static_cast<int32_t>(rng())));
        b.add(setregInsn(EMBER_NPU_REG_ADD_B_SHIFT, rnd(-33, 33)));
        b.add(setregInsn(EMBER_NPU_REG_ADD_OUT_MULT,
                         static_cast<int32_t>(rng())));
        b.add(setregInsn(EMBER_NPU_REG_ADD_OUT_SHIFT, rnd(-33, 33)));
        b.add(setregInsn(EMBER_NPU_REG_ADD_OUT_ZP, rnd(-128, 127)));
        b.add(setregInsn(EMBER_NPU_REG_ADD_MIN, rnd(-128, 0)));
        b.add(setregInsn(EMBER_NPU_REG_ADD_MAX, rnd(0, 127)));
      }
      if (rng() % 2) { // the exact add's registers
        b.add(setregInsn(EMBER_NPU_REG_ADD_X_SHIFT, rnd(-4, 66)));
        for (unsigned r :
             {EMBER_NPU_REG_ADD_X_OFFSET_LO, EMBER_NPU_REG_ADD_X_OFFSET_HI,
              EMBER_NPU_REG_ADD_X_A_MULT, EMBER_NPU_REG_ADD_X_A_MULT_HI,
              EMBER_NPU_REG_ADD_X_B_MULT, EMBER_NPU_REG_ADD_X_B_MULT_HI})
          b.add(setregInsn(r, static_cast<int32_t>(rng())));
      }
      int64_t rows = rnd(1, 16);
      Insn add = vaddInsn(rowIn(kOutM, rows), rowIn(kOutM, rows),
                          rowIn(kOutM, rows), rows, lutFlag());
      add.exact = rng() % 3 == 0;
      b.add(add);
    } else if (kind < 18) { // POOL with geometry that fits
      if (!poolReady || rng() % 2) {
        int64_t kh = rnd(1, 3), kw = rnd(1, 3), stride = rnd(1, 2),
                inW = rnd(kw, 8);
        b.add(setregInsn(EMBER_NPU_REG_POOL_KH, kh));
        b.add(setregInsn(EMBER_NPU_REG_POOL_KW, kw));
        b.add(setregInsn(EMBER_NPU_REG_POOL_STRIDE, stride));
        b.add(setregInsn(EMBER_NPU_REG_POOL_IN_W, inW));
        b.add(setregInsn(EMBER_NPU_REG_POOL_OUT_W, (inW - kw) / stride + 1));
        poolReady = true;
      }
      Insn p = poolInsn(rng() % 2, 0, 0, rnd(1, 10));
      int64_t span = 0;
      checkPool(p, poolGeomFromRegs(b.regs()), span);
      p.src = rnd(0, window);
      p.dst = rowIn(kOutM, p.rows);
      p.lut = lutFlag();
      b.add(p);
    } else if (kind == 18) {
      b.add(makeInsn(Opcode::FENCE));
    } else if (kind == 19) {
      b.add(setregInsn(EMBER_NPU_REG_PAD_VALUE, rnd(-128, 127)));
    } else if (kind == 20) { // a new output table from whatever ACC holds
      b.add(lutldInsn(rowIn(kAccM, kLutRows)));
    } else if (kind == 21) {
      int64_t rows = rnd(1, 16);
      b.add(lutInsn(rowIn(kOutM, rows), rowIn(kOutM, rows), rows));
    } else if (kind < 24) { // VMUL (with fresh parameters sometimes)
      if (rng() % 2) {
        // Zero points sometimes beyond 8 bits: only their low 8 bits count.
        b.add(setregInsn(EMBER_NPU_REG_MUL_A_ZP,
                         rng() % 4 ? rnd(-128, 127) : int32_t(rng())));
        b.add(setregInsn(EMBER_NPU_REG_MUL_B_ZP,
                         rng() % 4 ? rnd(-128, 127) : int32_t(rng())));
        b.add(setregInsn(EMBER_NPU_REG_MUL_MULT, static_cast<int32_t>(rng())));
        b.add(setregInsn(EMBER_NPU_REG_MUL_SHIFT, rnd(-33, 33)));
        b.add(setregInsn(EMBER_NPU_REG_MUL_OUT_ZP, rnd(-128, 127)));
        b.add(setregInsn(EMBER_NPU_REG_MUL_MIN, rnd(-128, 0)));
        b.add(setregInsn(EMBER_NPU_REG_MUL_MAX, rnd(0, 127)));
      }
      int64_t rows = rnd(1, 16);
      bool bcast = rng() % 2;
      b.add(vmulInsn(rowIn(kOutM, rows), rowIn(kOutM, rows),
                     rowIn(kOutM, bcast ? 1 : rows), rows, bcast, lutFlag()));
    } else if (kind < 26) { // UPSAMPLE: a stripe of output lines
      int64_t k = rnd(0, 3), f = int64_t(1) << k,
              w = rnd(1, std::max<int64_t>(1, 12 / f)), h = rnd(1, 4),
              mode = rnd(0, 2);
      int64_t oy = rnd(0, f * h - 1);
      int64_t oh =
          rnd(1, std::max<int64_t>(1, std::min(f * h - oy, 48 / (f * w))));
      b.add(upsampleInsn(rowIn(kOutM, oh * f * w), rowIn(kOutM, h * w), w, h,
                         oy, oh, k, mode, rnd(-128, 127), lutFlag()));
    } else { // POOL over a bounded source (padding), geometry that fits
      int64_t kh = rnd(1, 5), kw = rnd(1, 5), stride = rnd(1, 2),
              inW = rnd(1, 8), inH = rnd(1, 6);
      int64_t pt = rnd(0, kh - 1), pl = rnd(0, kw - 1);
      int64_t outW = std::max<int64_t>(1, (inW + 2 * pl - kw) / stride + 1);
      b.add(setregInsn(EMBER_NPU_REG_POOL_KH, kh));
      b.add(setregInsn(EMBER_NPU_REG_POOL_KW, kw));
      b.add(setregInsn(EMBER_NPU_REG_POOL_STRIDE, stride));
      b.add(setregInsn(EMBER_NPU_REG_POOL_IN_W, inW));
      b.add(setregInsn(EMBER_NPU_REG_POOL_OUT_W, outW));
      poolReady = false; // the unbounded kind sets its own geometry again
      Insn p = poolInsn(rng() % 2, 0, rnd(0, window), rnd(1, 3 * outW), pt, pl,
                        inH, lutFlag());
      int64_t span = 0;
      // Fewer output rows until every window holds a tap inside the map.
      while (p.rows > 1 &&
             !checkPool(p, poolGeomFromRegs(b.regs()), span).empty())
        --p.rows;
      if (!checkPool(p, poolGeomFromRegs(b.regs()), span).empty())
        continue;
      p.dst = rowIn(kOutM, p.rows);
      b.add(p);
    }
  }
  // Make every scratchpad's low window visible in DRAM too.
  b.add(storeInsn(kOutM, 0, 40000, 1, window, window));
  tc.program = b.finish();
  return tc;
}

} // namespace ember::npu::test
