//===- Golden.cpp - Instruction-at-a-time reference model of the NPU ------===//
#include "Golden.h"

#include "ember/npu/Arith.h"

#include <cstring>

namespace ember::npu {

GoldenMachine::GoldenMachine() {
  for (int m = 0; m < kNumMems; ++m)
    srams_[m].assign(static_cast<size_t>(memRows(m)) * memRowBytes(m), 0);
}

void GoldenMachine::reset() {
  for (auto &s : srams_)
    std::fill(s.begin(), s.end(), 0);
  regs_.fill(0);
  lut_.fill(0);
  lut16_.fill(0);
  tokens_.fill(0);
}

int32_t GoldenMachine::accAt(int64_t row, int lane) const {
  int32_t v;
  std::memcpy(&v, &srams_[EMBER_NPU_MEM_ACC][(row * kDim + lane) * 4], 4);
  return v;
}

void GoldenMachine::setAcc(int64_t row, int lane, int32_t v) {
  std::memcpy(&srams_[EMBER_NPU_MEM_ACC][(row * kDim + lane) * 4], &v, 4);
}

int8_t &GoldenMachine::i8At(int mem, int64_t row, int lane) {
  return reinterpret_cast<int8_t &>(srams_[mem][row * kDim + lane]);
}

void GoldenMachine::writeOut(int64_t row, int lane, int8_t v, bool lut) {
  i8At(EMBER_NPU_MEM_OUT, row, lane) = lut ? lut_[lutIndex(v)] : v;
}

int32_t GoldenMachine::wideAt(int mem, int64_t row, int lane) {
  return wideValue(i8At(mem, row, lane), i8At(mem, row + wideHalf(mem), lane));
}

void GoldenMachine::setWide(int mem, int64_t row, int lane, int32_t v) {
  i8At(mem, row, lane) = wideLo(v);
  i8At(mem, row + wideHalf(mem), lane) = wideHi(v);
}

void GoldenMachine::writeOutAny(int64_t row, int lane, int32_t v, bool out16,
                                bool lut) {
  if (out16)
    setWide(EMBER_NPU_MEM_OUT, row, lane, v);
  else
    writeOut(row, lane, static_cast<int8_t>(v), lut);
}

// LOAD16, STORE16 and MOVE w16: rows of DIM int16 (2 DIM bytes, little-endian)
// in DRAM, row pairs in the scratchpads.
std::string GoldenMachine::executeWideDma(const Insn &insn,
                                          std::vector<uint8_t> &dram,
                                          ember_npu_counters_t &counters) {
  const int64_t rowBytes = 2 * kDim;
  auto dramAt = [&](int64_t row, int lane) {
    const uint8_t *p = &dram[insn.dram + row * rowBytes + 2 * lane];
    return int32_t(int16_t(uint16_t(p[0] | (p[1] << 8))));
  };
  const int32_t pad = int16_t(regs_[EMBER_NPU_REG_PAD_VALUE] & 0xffff);
  if (insn.op == Opcode::STORE16) {
    const int mem = static_cast<int>(insn.mem);
    const int64_t r = insn.rep + 1, s = insn.xstep + 1;
    for (int64_t oy = 0; oy < insn.ysize * r; ++oy) {
      for (int64_t ox = 0; ox < insn.xsize * r; ++ox) {
        int64_t src = insn.sram + (oy / r) * insn.xsize + ox / r;
        uint8_t *dst =
            &dram[insn.dram + (oy * insn.stride + ox * s) * rowBytes];
        for (int l = 0; l < kDim; ++l) {
          if (insn.lanes && !((insn.lanes >> (l / kLaneGroup)) & 1))
            continue;
          int32_t v = wideAt(mem, src, l);
          dst[2 * l] = uint8_t(v & 0xff);
          dst[2 * l + 1] = uint8_t((v >> 8) & 0xff);
        }
        counters.store_bytes += rowBytes;
      }
    }
    return "";
  }
  // LOAD16 (from DRAM into ACT or OUT) and MOVE w16 (from OUT into ACT): the
  // padded block of LOAD/MOVE, the padding PAD_VALUE's low 16 bits.
  const bool move = insn.op == Opcode::MOVE;
  const int mem = move ? EMBER_NPU_MEM_ACT : static_cast<int>(insn.mem);
  const int64_t r = move ? insn.rep + 1 : 1;
  const int64_t base = move ? insn.dst : insn.sram;
  const int64_t w = insn.pad_left + insn.xsize * r + insn.pad_right;
  const int64_t h = insn.pad_top + insn.ysize * r + insn.pad_bottom;
  for (int64_t y = 0; y < h; ++y) {
    for (int64_t x = 0; x < w; ++x) {
      int64_t sy = y - insn.pad_top, sx = x - insn.pad_left;
      bool data =
          sy >= 0 && sy < insn.ysize * r && sx >= 0 && sx < insn.xsize * r;
      int64_t src = (sy / r) * insn.stride + sx / r;
      for (int l = 0; l < kDim; ++l)
        setWide(mem, base + y * w + x, l,
                !data  ? pad
                : move ? wideAt(EMBER_NPU_MEM_OUT, insn.src + src, l)
                       : dramAt(src, l));
      if (data && !move)
        counters.load_bytes += rowBytes;
    }
  }
  return "";
}

void GoldenMachine::gemmPlane(const Insn &insn, int64_t actOff,
                              int64_t accOff) {
  for (int64_t o = 0; o < insn.outer; ++o) {
    for (int64_t i = 0; i < insn.inner; ++i) {
      int64_t ar = actOff + insn.act + o * insn.act_ostride + i;
      int64_t cr = accOff + insn.acc + o * insn.acc_ostride + i;
      for (int j = 0; j < kDim; ++j) {
        int32_t sum = 0;
        for (int k = 0; k < kDim; ++k)
          sum += int32_t(i8At(EMBER_NPU_MEM_ACT, ar, k)) *
                 int32_t(i8At(EMBER_NPU_MEM_WGT, insn.wgt + j, k));
        setAcc(cr, j, insn.reset ? sum : wrapAdd(accAt(cr, j), sum));
      }
    }
  }
}

void GoldenMachine::dwgemmPlane(const Insn &insn, int64_t actOff,
                                int64_t accOff, bool bias) {
  // Per lane: output row i of line o correlates rows i * stride .. i * stride
  // + taps - 1 of the line with the taps of its channel (row j of the weight
  // tile, lane t = tap t).
  for (int64_t o = 0; o < insn.outer; ++o) {
    for (int64_t i = 0; i < insn.inner; ++i) {
      int64_t ar = actOff + insn.act + o * insn.act_ostride + i * insn.stride;
      int64_t cr = accOff + insn.acc + o * insn.acc_ostride + i;
      for (int j = 0; j < kDim; ++j) {
        int32_t sum = 0;
        for (int64_t t = 0; t < insn.taps; ++t)
          sum += int32_t(i8At(EMBER_NPU_MEM_ACT, ar + t, j)) *
                 int32_t(i8At(EMBER_NPU_MEM_WGT, insn.wgt + j,
                              static_cast<int>(t)));
        if (bias)
          sum = wrapAdd(sum, dwBias(&i8At(EMBER_NPU_MEM_WGT, insn.wgt + j, 0)));
        setAcc(cr, j, insn.reset ? sum : wrapAdd(accAt(cr, j), sum));
      }
    }
  }
}

std::string GoldenMachine::run(const std::vector<Insn> &program,
                               std::vector<uint8_t> &dram,
                               ember_npu_counters_t &counters,
                               const RetireHook &onRetire) {
  for (size_t i = 0; i < program.size(); ++i) {
    const Insn &insn = program[i];
    for (int ch = 0; ch < kNumChannels; ++ch) {
      if (!((insn.wait >> ch) & 1u))
        continue;
      if (tokens_[ch] == 0)
        return "instruction " + std::to_string(i) +
               ": token underflow on channel " + channelName(ch) +
               " (would deadlock)";
      --tokens_[ch];
    }
    std::string err = execute(insn, dram, counters);
    if (!err.empty())
      return "instruction " + std::to_string(i) + ": " + err;
    for (int ch = 0; ch < kNumChannels; ++ch) {
      if (!((insn.signal >> ch) & 1u))
        continue;
      if (tokens_[ch] == EMBER_NPU_TOKEN_FIFO_DEPTH)
        return "instruction " + std::to_string(i) +
               ": token overflow on channel " + channelName(ch) +
               " (FIFO depth " + std::to_string(EMBER_NPU_TOKEN_FIFO_DEPTH) +
               ")";
      ++tokens_[ch];
    }
    ++counters.insns;
    if (onRetire && !onRetire(i))
      return "instruction " + std::to_string(i) +
             ": stopped by the retirement callback";
    if (insn.op == Opcode::FINISH)
      return "";
  }
  return "instruction " + std::to_string(program.size()) +
         ": program does not end with finish";
}

std::string GoldenMachine::execute(const Insn &insn, std::vector<uint8_t> &dram,
                                   ember_npu_counters_t &counters) {
  switch (insn.op) {
  case Opcode::LOAD16:
  case Opcode::STORE16:
    return executeWideDma(insn, dram, counters);
  case Opcode::LOAD: {
    int mem = static_cast<int>(insn.mem);
    size_t rowBytes = static_cast<size_t>(memRowBytes(mem));
    int64_t w = insn.pad_left + insn.xsize + insn.pad_right;
    int64_t h = insn.pad_top + insn.ysize + insn.pad_bottom;
    int32_t pad = static_cast<int8_t>(regs_[EMBER_NPU_REG_PAD_VALUE] & 0xff);
    for (int64_t y = 0; y < h; ++y) {
      for (int64_t x = 0; x < w; ++x) {
        uint8_t *dst = &srams_[mem][(insn.sram + y * w + x) * rowBytes];
        int64_t sy = y - insn.pad_top, sx = x - insn.pad_left;
        if (sy >= 0 && sy < insn.ysize && sx >= 0 && sx < insn.xsize) {
          std::memcpy(dst,
                      &dram[insn.dram + (sy * insn.stride + sx) * rowBytes],
                      rowBytes);
          counters.load_bytes += rowBytes;
        } else if (mem == EMBER_NPU_MEM_ACC) {
          for (int l = 0; l < kDim; ++l)
            std::memcpy(dst + 4 * l, &pad, 4);
        } else {
          std::memset(dst, pad & 0xff, rowBytes);
        }
      }
    }
    return "";
  }
  case Opcode::MOVE: {
    if (insn.w16)
      return executeWideDma(insn, dram, counters);
    // LOAD's padded block layout, from OUT instead of DRAM; no DRAM bytes.
    // With rep, the data block is ysize r x xsize r, each source row and line
    // repeated r times (nearest upsampling).
    const int64_t r = insn.rep + 1;
    int64_t w = insn.pad_left + insn.xsize * r + insn.pad_right;
    int64_t h = insn.pad_top + insn.ysize * r + insn.pad_bottom;
    int8_t pad = static_cast<int8_t>(regs_[EMBER_NPU_REG_PAD_VALUE] & 0xff);
    for (int64_t y = 0; y < h; ++y) {
      for (int64_t x = 0; x < w; ++x) {
        int64_t sy = y - insn.pad_top, sx = x - insn.pad_left;
        bool data =
            sy >= 0 && sy < insn.ysize * r && sx >= 0 && sx < insn.xsize * r;
        for (int l = 0; l < kDim; ++l)
          i8At(EMBER_NPU_MEM_ACT, insn.dst + y * w + x, l) =
              data ? i8At(EMBER_NPU_MEM_OUT,
                          insn.src + (sy / r) * insn.stride + sx / r, l)
                   : pad;
      }
    }
    return "";
  }
  case Opcode::STORE: {
    // Block row (y, x) goes to DRAM row (y r + dy) stride + (x r + dx) s for
    // dy, dx < r (r = rep + 1, s = xstep + 1), only the lane groups of
    // `lanes` (0: all); in that order, so the last write of a row wins.
    int mem = static_cast<int>(insn.mem);
    size_t rowBytes = static_cast<size_t>(memRowBytes(mem));
    const int64_t r = insn.rep + 1, s = insn.xstep + 1;
    const size_t groupBytes = rowBytes / kNumLaneGroups;
    for (int64_t oy = 0; oy < insn.ysize * r; ++oy) {
      for (int64_t ox = 0; ox < insn.xsize * r; ++ox) {
        uint8_t *dst =
            &dram[insn.dram + (oy * insn.stride + ox * s) * rowBytes];
        const uint8_t *src =
            &srams_[mem]
                   [(insn.sram + (oy / r) * insn.xsize + ox / r) * rowBytes];
        for (int g = 0; g < kNumLaneGroups; ++g)
          if (!insn.lanes || ((insn.lanes >> g) & 1))
            std::memcpy(dst + g * groupBytes, src + g * groupBytes, groupBytes);
        counters.store_bytes += rowBytes;
      }
    }
    return "";
  }
  case Opcode::GEMM:
    gemmPlane(insn, 0, 0);
    counters.macs +=
        static_cast<uint64_t>(insn.outer * insn.inner) * kDim * kDim;
    return "";
  case Opcode::DWGEMM:
    dwgemmPlane(insn, 0, 0, insn.bias != 0);
    // The array's slots: every streamed row passes all DIM x DIM PEs.
    counters.macs += static_cast<uint64_t>(streamedRows(insn)) * kDim * kDim;
    return "";
  case Opcode::GEMM16:
  case Opcode::DWGEMM16:
    // Spec version 5: the two planes' array ops, low then high (the high
    // plane's DWGEMM without the bias); each 16x8 multiply-accumulate counts
    // once, as the one-plane op's.
    for (int p = 0; p < 2; ++p) {
      const int64_t actOff = p * EMBER_NPU_ACT_HALF,
                    accOff = p * EMBER_NPU_ACC_HALF;
      if (insn.op == Opcode::GEMM16)
        gemmPlane(insn, actOff, accOff);
      else
        dwgemmPlane(insn, actOff, accOff, p == 0 && insn.bias);
    }
    counters.macs += static_cast<uint64_t>(streamedRows(insn)) * kDim * kDim;
    return "";
  case Opcode::REQUANT: {
    // With bias, the per-column bias row param + 2 joins the accumulator
    // (int32, wrapping: docs/quantization.md) before the multiply-shift. With
    // acc16 the accumulator is the 16x8 one from its plane sums (src + i and
    // src + i + ACC_HALF) and the bias an int64 (param + 2 and its high word
    // ACC_HALF rows above); out16 writes an int16, clamped to RQ16_MIN/MAX.
    const int64_t half = EMBER_NPU_ACC_HALF;
    const int32_t lo = insn.out16 ? regs_[EMBER_NPU_REG_RQ16_MIN]
                                  : static_cast<int32_t>(insn.min),
                  hi = insn.out16 ? regs_[EMBER_NPU_REG_RQ16_MAX]
                                  : static_cast<int32_t>(insn.max);
    for (int64_t i = 0; i < insn.rows; ++i)
      for (int l = 0; l < kDim; ++l) {
        int32_t x = accAt(insn.src + i, l);
        int64_t x16 = 0;
        if (insn.acc16)
          x16 = acc16Value(x, accAt(insn.src + i + half, l),
                           insn.bias ? wideWord(accAt(insn.param + 2, l),
                                                accAt(insn.param + 2 + half, l))
                                     : 0);
        else if (insn.bias)
          x = wrapAdd(x, accAt(insn.param + 2, l));
        writeOutAny(insn.dst + i, l,
                    requantizeAny(insn.acc16, x, x16, accAt(insn.param, l),
                                  accAt(insn.param + 1, l),
                                  static_cast<int32_t>(insn.zp), lo, hi,
                                  insn.out16),
                    insn.out16, insn.lut);
      }
    return "";
  }
  case Opcode::VADD: {
    // All source rows are read before any destination row is written.
    const size_t n = static_cast<size_t>(insn.rows) * kDim;
    std::vector<int32_t> a(n), b(n);
    for (size_t e = 0; e < n; ++e) {
      a[e] = outAt(insn.a + int64_t(e) / kDim, int(e % kDim), insn.w16);
      b[e] = outAt(insn.b + int64_t(e) / kDim, int(e % kDim), insn.w16);
    }
    AddParams p = addParamsFromRegs(regs_.data());
    AddExactRegs x = addExactFromRegs(regs_.data());
    const bool exact = insn.exact && !insn.w16;
    for (size_t e = 0; e < n; ++e)
      writeOutAny(insn.dst + int64_t(e) / kDim, int(e % kDim),
                  insn.w16 ? int32_t(quantAdd16(a[e], b[e], p))
                  : exact
                      ? int32_t(quantAddExact(int8_t(a[e]), int8_t(b[e]), x))
                      : int32_t(quantAdd(int8_t(a[e]), int8_t(b[e]), p)),
                  insn.w16, insn.lut);
    return "";
  }
  case Opcode::POOL: {
    PoolGeom g = poolGeom(regs_.data(), insn);
    int64_t span = 0;
    std::string err = checkPool(insn, g, span);
    if (!err.empty())
      return err;
    std::vector<int32_t> src(static_cast<size_t>(span) * kDim);
    for (size_t e = 0; e < src.size(); ++e)
      src[e] = outAt(insn.src + int64_t(e) / kDim, int(e % kDim), insn.w16);
    const int32_t lowest = insn.w16 ? quant::kInt16Min : -128;
    for (int64_t i = 0; i < insn.rows; ++i) {
      for (int l = 0; l < kDim; ++l) {
        // Taps outside a bounded source are skipped: -inf padding for max,
        // count_include_pad = 0 for the average.
        int32_t acc = insn.avg ? 0 : lowest, taps = 0;
        for (int64_t ky = 0; ky < g.kh; ++ky) {
          for (int64_t kx = 0; kx < g.kw; ++kx) {
            int64_t row = poolTapRow(g, i, ky, kx);
            if (row < 0)
              continue;
            int32_t v = src[row * kDim + l];
            acc = insn.avg ? acc + v : std::max(acc, v);
            ++taps;
          }
        }
        int32_t v = acc;
        if (insn.avg)
          v = insn.w16 ? clampI16(quant::averageHalfUp(acc, taps),
                                  quant::kInt16Min, quant::kInt16Max)
                       : poolAverage(acc, taps);
        writeOutAny(insn.dst + i, l, v, insn.w16, insn.lut);
      }
    }
    return "";
  }
  case Opcode::LUTLD: {
    // Byte k of the table rows is entry k (little-endian int32 lanes); the
    // 16-bit table's entries are little-endian int16s.
    const uint8_t *rows = &srams_[EMBER_NPU_MEM_ACC][insn.src * 4 * kDim];
    if (insn.w16)
      for (size_t e = 0; e < lut16_.size(); ++e)
        lut16_[e] = int16_t(uint16_t(rows[2 * e] | (rows[2 * e + 1] << 8)));
    else
      std::memcpy(lut_.data(), rows, lut_.size());
    return "";
  }
  case Opcode::LUT: {
    const size_t n = static_cast<size_t>(insn.rows) * kDim;
    std::vector<int32_t> src(n);
    for (size_t e = 0; e < n; ++e)
      src[e] = outAt(insn.src + int64_t(e) / kDim, int(e % kDim), insn.w16);
    for (size_t e = 0; e < n; ++e)
      writeOutAny(insn.dst + int64_t(e) / kDim, int(e % kDim),
                  insn.w16 ? quant::tableLookup16(src[e], lut16_.data())
                           : src[e],
                  insn.w16, !insn.w16);
    return "";
  }
  case Opcode::VMUL: {
    // All source rows are read before any destination row is written; with
    // bcast, row b multiplies every row of a (one pixel over every pixel);
    // with one there is no b (a requantization of a).
    const size_t n = static_cast<size_t>(insn.rows) * kDim;
    std::vector<int32_t> a(n), b(n);
    for (size_t e = 0; e < n; ++e) {
      a[e] = outAt(insn.a + int64_t(e) / kDim, int(e % kDim), insn.a16);
      if (!insn.one)
        b[e] = outAt(insn.b + (insn.bcast ? 0 : int64_t(e) / kDim),
                     int(e % kDim), insn.b16);
    }
    MulForm f{insn.a16 != 0, insn.b16 != 0, insn.out16 != 0, insn.one != 0};
    for (size_t e = 0; e < n; ++e)
      writeOutAny(insn.dst + int64_t(e) / kDim, int(e % kDim),
                  quantMulAny(a[e], b[e], regs_.data(), f), insn.out16,
                  insn.lut);
    return "";
  }
  case Opcode::UPSAMPLE: {
    const int64_t f = int64_t(1) << insn.factor, ow = f * insn.w;
    std::vector<int32_t> src(static_cast<size_t>(insn.h * insn.w) * kDim);
    for (size_t e = 0; e < src.size(); ++e)
      src[e] = outAt(insn.src + int64_t(e) / kDim, int(e % kDim), insn.w16);
    for (int64_t r = 0; r < insn.oh; ++r) {
      UpTaps ty = upsampleTaps(insn.oy + r, insn.h, insn.factor, insn.mode);
      for (int64_t x = 0; x < ow; ++x) {
        UpTaps tx = upsampleTaps(x, insn.w, insn.factor, insn.mode);
        for (int l = 0; l < kDim; ++l) {
          int32_t v[2][2];
          for (int a = 0; a < 2; ++a)
            for (int b = 0; b < 2; ++b)
              v[a][b] =
                  src[((a ? ty.i1 : ty.i0) * insn.w + (b ? tx.i1 : tx.i0)) *
                          kDim +
                      l];
          int32_t out;
          if (insn.w16) {
            out = upsampleValue16(v, ty, tx, insn.factor,
                                  static_cast<int32_t>(insn.zp));
          } else {
            int8_t v8[2][2] = {{int8_t(v[0][0]), int8_t(v[0][1])},
                               {int8_t(v[1][0]), int8_t(v[1][1])}};
            out = upsampleValue(v8, ty, tx, insn.factor,
                                static_cast<int32_t>(insn.zp));
          }
          writeOutAny(insn.dst + r * ow + x, l, out, insn.w16, insn.lut);
        }
      }
    }
    return "";
  }
  case Opcode::VREDUCE: {
    // Spec version 6: one per-row scalar per group, in every lane of its ACC
    // row (the sources are OUT rows, the results ACC rows: no aliasing).
    for (int64_t g = 0; g < insn.rows; ++g) {
      int32_t acc = 0;
      bool first = true;
      // sq (spec version 9): the group's sum is its destination row's; exp
      // (spec version 10): so is its maximum.
      const int32_t sum = accAt(insn.dst + g, 0);
      quant::UInt128 w = squareStart(regs_.data());
      uint64_t s = 0;
      for (int64_t k = 0; k < insn.len; ++k)
        for (int l = 0; l < reduceLanes(insn, k); ++l) {
          const int32_t x = outAt(reduceRow(insn, g, k), l, insn.w16);
          if (insn.sq)
            w = squareStep(w, rowDeviation(x, insn.center,
                                           regs_[EMBER_NPU_REG_ROW_N], sum,
                                           regs_[EMBER_NPU_REG_ROW_X_ZP]));
          if (insn.exp)
            s += uint64_t(softmaxExp(x, sum, regs_.data()));
          acc = reduceStep(insn.sum, first, acc, x);
          first = false;
        }
      for (int l = 0; l < kDim; ++l)
        setAcc(insn.dst + g, l,
               insn.exp   ? expSumLane(s, sum, l)
               : !insn.sq ? acc
               : l < 3    ? int32_t(uint32_t(w >> (32 * l)))
                          : 0);
    }
    return "";
  }
  case Opcode::RSCALAR: {
    // Spec version 7: row by row (dst is src or apart from it).
    for (int64_t g = 0; g < insn.rows; ++g) {
      uint32_t w[3];
      for (int l = 0; l < 3; ++l)
        w[l] = uint32_t(accAt(insn.src + g, l));
      const RowScalar s = rowScalar(w, insn.rsqrt);
      for (int l = 0; l < kDim; ++l)
        setAcc(insn.dst + g, l, l == 0 ? s.value : l == 1 ? s.shift : 0);
    }
    return "";
  }
  case Opcode::VROWMUL: {
    // Spec version 8: row by row (dst is src or apart from it).
    const int32_t *rg = regs_.data();
    for (int64_t g = 0; g < insn.rows; ++g) {
      const int64_t at = g * insn.stride;
      const int32_t r = accAt(insn.scal + g, 0), s = accAt(insn.scal + g, 1),
                    sum = accAt(insn.sum + g, 0);
      for (int l = 0; l < kDim; ++l) {
        const int64_t d = rowDeviation(outAt(insn.src + at, l, insn.w16),
                                       insn.center, rg[EMBER_NPU_REG_ROW_N],
                                       sum, rg[EMBER_NPU_REG_ROW_X_ZP]);
        const int64_t bias =
            int64_t(uint64_t(uint32_t(accAt(insn.param + 2, l))) |
                    (uint64_t(uint32_t(accAt(insn.param + 3, l))) << 32));
        writeOutAny(insn.dst + at, l,
                    rowMulNorm(d, r, s, accAt(insn.param, l),
                               accAt(insn.param + 1, l), bias,
                               rg[EMBER_NPU_REG_ROW_OUT_ZP],
                               rg[EMBER_NPU_REG_ROW_MIN],
                               rg[EMBER_NPU_REG_ROW_MAX], insn.out16),
                    insn.out16, false);
      }
    }
    return "";
  }
  case Opcode::VROWEXP: {
    // Spec version 11: row by row (dst is src or apart from it).
    const int32_t *rg = regs_.data();
    for (int64_t g = 0; g < insn.rows; ++g) {
      const int64_t at = g * insn.stride;
      const int32_t r = accAt(insn.scal + g, 0), p = accAt(insn.scal + g, 1),
                    m = accAt(insn.sum + g, 3);
      for (int l = 0; l < kDim; ++l) {
        const int32_t e = softmaxExp(outAt(insn.src + at, l, insn.w16), m, rg);
        writeOutAny(insn.dst + at, l, rowExpOut(e, r, p, rg, insn.out16),
                    insn.out16, false);
      }
    }
    return "";
  }
  case Opcode::SETREG:
    regs_[insn.reg] = static_cast<int32_t>(insn.value);
    return "";
  case Opcode::FENCE:
  case Opcode::FINISH:
    return "";
  }
  return "unknown opcode";
}

} // namespace ember::npu
