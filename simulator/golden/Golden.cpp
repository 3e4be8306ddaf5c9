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

std::string GoldenMachine::run(const std::vector<Insn> &program,
                               std::vector<uint8_t> &dram,
                               ember_npu_counters_t &counters) {
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
    if (insn.op == Opcode::FINISH)
      return "";
  }
  return "instruction " + std::to_string(program.size()) +
         ": program does not end with finish";
}

std::string GoldenMachine::execute(const Insn &insn, std::vector<uint8_t> &dram,
                                   ember_npu_counters_t &counters) {
  switch (insn.op) {
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
  case Opcode::GEMM: {
    for (int64_t o = 0; o < insn.outer; ++o) {
      for (int64_t i = 0; i < insn.inner; ++i) {
        int64_t ar = insn.act + o * insn.act_ostride + i;
        int64_t cr = insn.acc + o * insn.acc_ostride + i;
        for (int j = 0; j < kDim; ++j) {
          int32_t sum = 0;
          for (int k = 0; k < kDim; ++k)
            sum += int32_t(i8At(EMBER_NPU_MEM_ACT, ar, k)) *
                   int32_t(i8At(EMBER_NPU_MEM_WGT, insn.wgt + j, k));
          setAcc(cr, j, insn.reset ? sum : wrapAdd(accAt(cr, j), sum));
        }
      }
    }
    counters.macs +=
        static_cast<uint64_t>(insn.outer * insn.inner) * kDim * kDim;
    return "";
  }
  case Opcode::DWGEMM: {
    // Per lane: output row i of line o correlates rows i * stride .. i * stride
    // + taps - 1 of the line with the taps of its channel (row j of the weight
    // tile, lane t = tap t).
    for (int64_t o = 0; o < insn.outer; ++o) {
      for (int64_t i = 0; i < insn.inner; ++i) {
        int64_t ar = insn.act + o * insn.act_ostride + i * insn.stride;
        int64_t cr = insn.acc + o * insn.acc_ostride + i;
        for (int j = 0; j < kDim; ++j) {
          int32_t sum = 0;
          for (int64_t t = 0; t < insn.taps; ++t)
            sum += int32_t(i8At(EMBER_NPU_MEM_ACT, ar + t, j)) *
                   int32_t(i8At(EMBER_NPU_MEM_WGT, insn.wgt + j,
                                static_cast<int>(t)));
          if (insn.bias)
            sum =
                wrapAdd(sum, dwBias(&i8At(EMBER_NPU_MEM_WGT, insn.wgt + j, 0)));
          setAcc(cr, j, insn.reset ? sum : wrapAdd(accAt(cr, j), sum));
        }
      }
    }
    // The array's slots: every streamed row passes all DIM x DIM PEs.
    counters.macs += static_cast<uint64_t>(streamedRows(insn)) * kDim * kDim;
    return "";
  }
  case Opcode::REQUANT: {
    // With bias, the per-column bias row param + 2 joins the accumulator
    // (int32, wrapping: docs/quantization.md) before the multiply-shift.
    for (int64_t i = 0; i < insn.rows; ++i)
      for (int l = 0; l < kDim; ++l)
        writeOut(insn.dst + i, l,
                 requantize(insn.bias ? wrapAdd(accAt(insn.src + i, l),
                                                accAt(insn.param + 2, l))
                                      : accAt(insn.src + i, l),
                            accAt(insn.param, l), accAt(insn.param + 1, l),
                            static_cast<int32_t>(insn.zp),
                            static_cast<int32_t>(insn.min),
                            static_cast<int32_t>(insn.max)),
                 insn.lut);
    return "";
  }
  case Opcode::VADD: {
    // All source rows are read before any destination row is written.
    size_t bytes = static_cast<size_t>(insn.rows) * kDim;
    std::vector<int8_t> a(bytes), b(bytes);
    std::memcpy(a.data(), &i8At(EMBER_NPU_MEM_OUT, insn.a, 0), bytes);
    std::memcpy(b.data(), &i8At(EMBER_NPU_MEM_OUT, insn.b, 0), bytes);
    AddParams p = addParamsFromRegs(regs_.data());
    for (size_t e = 0; e < bytes; ++e)
      writeOut(insn.dst + int64_t(e) / kDim, int(e % kDim),
               quantAdd(a[e], b[e], p), insn.lut);
    return "";
  }
  case Opcode::POOL: {
    PoolGeom g = poolGeom(regs_.data(), insn);
    int64_t span = 0;
    std::string err = checkPool(insn, g, span);
    if (!err.empty())
      return err;
    std::vector<int8_t> src(static_cast<size_t>(span) * kDim);
    std::memcpy(src.data(), &i8At(EMBER_NPU_MEM_OUT, insn.src, 0), src.size());
    for (int64_t i = 0; i < insn.rows; ++i) {
      for (int l = 0; l < kDim; ++l) {
        // Taps outside a bounded source are skipped: -inf padding for max,
        // count_include_pad = 0 for the average.
        int32_t acc = insn.avg ? 0 : -128, taps = 0;
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
        writeOut(insn.dst + i, l,
                 insn.avg ? poolAverage(acc, taps) : static_cast<int8_t>(acc),
                 insn.lut);
      }
    }
    return "";
  }
  case Opcode::LUTLD: {
    // Byte k of the table rows is entry k (little-endian int32 lanes).
    std::memcpy(lut_.data(), &srams_[EMBER_NPU_MEM_ACC][insn.src * 4 * kDim],
                lut_.size());
    return "";
  }
  case Opcode::LUT: {
    std::vector<int8_t> src(static_cast<size_t>(insn.rows) * kDim);
    std::memcpy(src.data(), &i8At(EMBER_NPU_MEM_OUT, insn.src, 0), src.size());
    for (size_t e = 0; e < src.size(); ++e)
      writeOut(insn.dst + int64_t(e) / kDim, int(e % kDim), src[e], true);
    return "";
  }
  case Opcode::VMUL: {
    // All source rows are read before any destination row is written; with
    // bcast, row b multiplies every row of a (one pixel over every pixel).
    size_t bytes = static_cast<size_t>(insn.rows) * kDim;
    std::vector<int8_t> a(bytes), b(insn.bcast ? size_t(kDim) : bytes);
    std::memcpy(a.data(), &i8At(EMBER_NPU_MEM_OUT, insn.a, 0), bytes);
    std::memcpy(b.data(), &i8At(EMBER_NPU_MEM_OUT, insn.b, 0), b.size());
    MulParams p = mulParamsFromRegs(regs_.data());
    for (size_t e = 0; e < bytes; ++e)
      writeOut(insn.dst + int64_t(e) / kDim, int(e % kDim),
               quantMul(a[e], b[insn.bcast ? e % kDim : e], p), insn.lut);
    return "";
  }
  case Opcode::UPSAMPLE: {
    const int64_t f = int64_t(1) << insn.factor, ow = f * insn.w;
    std::vector<int8_t> src(static_cast<size_t>(insn.h * insn.w) * kDim);
    std::memcpy(src.data(), &i8At(EMBER_NPU_MEM_OUT, insn.src, 0), src.size());
    for (int64_t r = 0; r < insn.oh; ++r) {
      UpTaps ty = upsampleTaps(insn.oy + r, insn.h, insn.factor, insn.mode);
      for (int64_t x = 0; x < ow; ++x) {
        UpTaps tx = upsampleTaps(x, insn.w, insn.factor, insn.mode);
        for (int l = 0; l < kDim; ++l) {
          int8_t v[2][2];
          for (int a = 0; a < 2; ++a)
            for (int b = 0; b < 2; ++b)
              v[a][b] =
                  src[((a ? ty.i1 : ty.i0) * insn.w + (b ? tx.i1 : tx.i0)) *
                          kDim +
                      l];
          writeOut(insn.dst + r * ow + x, l,
                   upsampleValue(v, ty, tx, insn.factor,
                                 static_cast<int32_t>(insn.zp)),
                   insn.lut);
        }
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
