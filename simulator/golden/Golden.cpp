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
    int64_t w = insn.pad_left + insn.xsize + insn.pad_right;
    int64_t h = insn.pad_top + insn.ysize + insn.pad_bottom;
    int8_t pad = static_cast<int8_t>(regs_[EMBER_NPU_REG_PAD_VALUE] & 0xff);
    for (int64_t y = 0; y < h; ++y) {
      for (int64_t x = 0; x < w; ++x) {
        int64_t sy = y - insn.pad_top, sx = x - insn.pad_left;
        bool data = sy >= 0 && sy < insn.ysize && sx >= 0 && sx < insn.xsize;
        for (int l = 0; l < kDim; ++l)
          i8At(EMBER_NPU_MEM_ACT, insn.dst + y * w + x, l) =
              data
                  ? i8At(EMBER_NPU_MEM_OUT, insn.src + sy * insn.stride + sx, l)
                  : pad;
      }
    }
    return "";
  }
  case Opcode::STORE: {
    int mem = static_cast<int>(insn.mem);
    size_t rowBytes = static_cast<size_t>(memRowBytes(mem));
    for (int64_t y = 0; y < insn.ysize; ++y) {
      for (int64_t x = 0; x < insn.xsize; ++x) {
        std::memcpy(&dram[insn.dram + (y * insn.stride + x) * rowBytes],
                    &srams_[mem][(insn.sram + y * insn.xsize + x) * rowBytes],
                    rowBytes);
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
        i8At(EMBER_NPU_MEM_OUT, insn.dst + i, l) = requantize(
            insn.bias
                ? wrapAdd(accAt(insn.src + i, l), accAt(insn.param + 2, l))
                : accAt(insn.src + i, l),
            accAt(insn.param, l), accAt(insn.param + 1, l),
            static_cast<int32_t>(insn.zp), static_cast<int32_t>(insn.min),
            static_cast<int32_t>(insn.max));
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
      reinterpret_cast<int8_t *>(
          &srams_[EMBER_NPU_MEM_OUT][insn.dst * kDim])[e] =
          quantAdd(a[e], b[e], p);
    return "";
  }
  case Opcode::POOL: {
    PoolGeom g = poolGeomFromRegs(regs_.data());
    int64_t span = 0;
    std::string err = checkPool(insn, g, span);
    if (!err.empty())
      return err;
    std::vector<int8_t> src(static_cast<size_t>(span) * kDim);
    std::memcpy(src.data(), &i8At(EMBER_NPU_MEM_OUT, insn.src, 0), src.size());
    for (int64_t i = 0; i < insn.rows; ++i) {
      for (int l = 0; l < kDim; ++l) {
        int32_t acc = insn.avg ? 0 : -128;
        for (int64_t ky = 0; ky < g.kh; ++ky) {
          for (int64_t kx = 0; kx < g.kw; ++kx) {
            int32_t v = src[poolInputRow(g, i, ky, kx) * kDim + l];
            acc = insn.avg ? acc + v : std::max(acc, v);
          }
        }
        i8At(EMBER_NPU_MEM_OUT, insn.dst + i, l) =
            insn.avg ? poolAverage(acc, static_cast<int32_t>(g.kh * g.kw))
                     : static_cast<int8_t>(acc);
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
