//===- Coverage.cpp - Functional coverage of NPU programs -----------------===//
#include "ember/npu/Coverage.h"

#include "../golden/Golden.h"
#include "ember/npu/Arith.h"
#include "ember/npu/Footprint.h"

#include <algorithm>
#include <array>

namespace ember::npu {

namespace {

bool isDma(Opcode op) {
  return op == Opcode::LOAD || op == Opcode::LOAD16 || op == Opcode::STORE ||
         op == Opcode::STORE16;
}

std::vector<Opcode> allOpcodes() {
  std::vector<Opcode> ops;
  for (unsigned v = 0; v < 256; ++v)
    if (isKnownOpcode(v))
      ops.push_back(static_cast<Opcode>(v));
  return ops;
}

/// The scratchpads an opcode can touch (its footprint's spaces for a
/// representative encoding are not enough: LOAD's `mem` picks any).
std::vector<int> memsOf(Opcode op) {
  switch (op) {
  case Opcode::LOAD:
  case Opcode::STORE:
    return {EMBER_NPU_MEM_ACT, EMBER_NPU_MEM_WGT, EMBER_NPU_MEM_ACC,
            EMBER_NPU_MEM_OUT};
  case Opcode::LOAD16:
  case Opcode::STORE16:
    return {EMBER_NPU_MEM_ACT, EMBER_NPU_MEM_OUT};
  case Opcode::MOVE:
    return {EMBER_NPU_MEM_ACT, EMBER_NPU_MEM_OUT};
  case Opcode::GEMM:
  case Opcode::DWGEMM:
  case Opcode::GEMM16:
  case Opcode::DWGEMM16:
    return {EMBER_NPU_MEM_ACT, EMBER_NPU_MEM_WGT, EMBER_NPU_MEM_ACC};
  case Opcode::REQUANT:
  case Opcode::VREDUCE:
  case Opcode::VROWMUL:
  case Opcode::VROWEXP:
    return {EMBER_NPU_MEM_ACC, EMBER_NPU_MEM_OUT};
  case Opcode::LUTLD:
  case Opcode::RSCALAR:
    return {EMBER_NPU_MEM_ACC};
  case Opcode::VADD:
  case Opcode::POOL:
  case Opcode::LUT:
  case Opcode::VMUL:
  case Opcode::UPSAMPLE:
    return {EMBER_NPU_MEM_OUT};
  case Opcode::SETREG:
  case Opcode::FENCE:
  case Opcode::FINISH:
    return {};
  }
  return {};
}

std::string opName(Opcode op) { return opcodeName(op); }

/// The legal range of a field of up to 8 bits where the spec's checks narrow
/// its encoding (ember/npu/Isa.h, validate); the encoding's range otherwise.
void fieldRange(Opcode op, const FieldDesc &f, int64_t &lo, int64_t &hi) {
  lo = 0;
  hi = (int64_t(1) << f.width) - 1;
  const std::string n = f.name;
  const bool dw = isDwgemm(op);
  if (dw && n == "taps") {
    lo = 1;
    hi = kDwMaxTaps;
  } else if (dw && n == "stride") {
    lo = 1;
    hi = 3;
  } else if (n == "lanes") {
    hi = (int64_t(1) << kNumLaneGroups) - 1;
  } else if (op == Opcode::UPSAMPLE && n == "mode") {
    hi = 2;
  } else if (op == Opcode::VREDUCE && n == "last") {
    hi = kDim;
  }
}

} // namespace

CoverageModel::CoverageModel(uint64_t burstBytes, uint64_t dramBytes)
    : burst_(burstBytes), dram_(dramBytes) {
  for (Opcode op : allOpcodes()) {
    const std::string o = opName(op);
    for (const FieldDesc &f : fieldsOf(op)) {
      const std::string n = o + "." + f.name;
      if (f.width == 1) {
        hits_[n + "=0"] = 0;
        hits_[n + "=1"] = 0;
      } else if (f.isSigned) {
        hits_[n + "<0"] = 0;
        hits_[n + "=0"] = 0;
        hits_[n + ">0"] = 0;
      } else if (op == Opcode::SETREG && std::string(f.name) == "reg") {
        for (unsigned r = 0; r < 256; ++r)
          if (regName(r))
            hits_[n + "=" + regName(r)] = 0;
      } else if (f.width <= 8) {
        hits_[n + "=min"] = 0;
        hits_[n + "=max"] = 0;
      }
    }
    for (int m : memsOf(op))
      hits_[o + "." + memName(m) + ".last_row"] = 0;
    if (isDma(op)) {
      hits_[o + ".DRAM.end"] = 0;
      hits_[o + ".burst.split"] = 0;
      // Rows longer than a burst exist only when the widest row is.
      uint64_t widest =
          op == Opcode::LOAD16 || op == Opcode::STORE16 ? 2 * kDim : 4 * kDim;
      if (widest > burst_)
        hits_[o + ".burst.multi"] = 0;
    }
  }
  hits_["POOL.avg16.result=min"] = 0;
  hits_["LUT.w16.round=half"] = 0;
  for (int a = 0; a < kNumEngines; ++a)
    for (int b = 0; b < kNumEngines; ++b)
      if (a != b) {
        std::string pair =
            std::string(engineName(Engine(a))) + ">" + engineName(Engine(b));
        hits_["pair." + pair] = 0;
        hits_["token." + pair + ".full"] = 0;
        hits_["token." + pair + ".empty"] = 0;
      }
}

void CoverageModel::bump(const std::string &bin) {
  auto it = hits_.find(bin);
  if (it != hits_.end())
    ++it->second;
}

size_t CoverageModel::hit() const {
  size_t n = 0;
  for (const auto &b : hits_)
    n += b.second != 0;
  return n;
}

std::vector<std::string> CoverageModel::misses() const {
  std::vector<std::string> out;
  for (const auto &b : hits_)
    if (!b.second)
      out.push_back(b.first);
  return out;
}

void CoverageModel::sample(const std::vector<Insn> &program) {
  std::array<int32_t, EMBER_NPU_NUM_REGS> regs{};
  std::array<int, kNumChannels> tokens{};
  int prevEngine = -1;
  for (const Insn &insn : program) {
    const std::string o = opName(insn.op);
    for (const FieldDesc &f : fieldsOf(insn.op)) {
      const int64_t v = insn.*f.member;
      const std::string n = o + "." + f.name;
      if (f.width == 1) {
        bump(n + (v ? "=1" : "=0"));
      } else if (f.isSigned) {
        bump(n + (v < 0 ? "<0" : v == 0 ? "=0" : ">0"));
      } else if (insn.op == Opcode::SETREG && std::string(f.name) == "reg") {
        if (regName(unsigned(v)))
          bump(n + "=" + regName(unsigned(v)));
      } else if (f.width <= 8) {
        int64_t lo, hi;
        fieldRange(insn.op, f, lo, hi);
        if (v == lo)
          bump(n + "=min");
        if (v == hi)
          bump(n + "=max");
      }
    }
    // Scratchpads touched at their last row, DRAM at its end.
    if (insn.op != Opcode::SETREG && insn.op != Opcode::FENCE &&
        insn.op != Opcode::FINISH) {
      for (const Access &a : footprint(insn, regs.data(), false)) {
        if (a.space < kNumMems &&
            a.hi == static_cast<uint64_t>(memRows(a.space)) *
                        static_cast<uint64_t>(memRowBytes(a.space)))
          bump(o + "." + memName(a.space) + ".last_row");
        if (a.space == kSpaceDram && a.hi == dram_)
          bump(o + ".DRAM.end");
      }
    }
    // DMA rows against the burst size.
    if (isDma(insn.op) && burst_) {
      const uint64_t rb = static_cast<uint64_t>(dmaRowBytes(insn));
      if (rb > burst_)
        bump(o + ".burst.multi");
      const bool load = insn.op == Opcode::LOAD || insn.op == Opcode::LOAD16;
      const int64_t r = load ? 1 : insn.rep + 1, s = load ? 1 : insn.xstep + 1;
      bool split = false;
      for (int64_t y = 0; y < insn.ysize * r && !split; ++y)
        for (int64_t x = 0; x < insn.xsize * r && !split; ++x) {
          uint64_t a =
              uint64_t(insn.dram) + uint64_t(y * insn.stride + x * s) * rb;
          split = a / burst_ != (a + rb - 1) / burst_;
        }
      if (split)
        bump(o + ".burst.split");
    }
    // Tokens as the golden model counts them, in program order.
    const int e = static_cast<int>(engineOf(insn));
    for (int ch = 0; ch < kNumChannels; ++ch) {
      const std::string pair = std::string("token.") +
                               engineName(Engine(ch / kNumEngines)) + ">" +
                               engineName(Engine(ch % kNumEngines));
      if ((insn.wait >> ch) & 1u) {
        if (--tokens[ch] == 0)
          bump(pair + ".empty");
      }
      if ((insn.signal >> ch) & 1u) {
        if (++tokens[ch] >= EMBER_NPU_TOKEN_FIFO_DEPTH)
          bump(pair + ".full");
      }
    }
    // Concurrency: this engine right after another with no token from it.
    if (e < kNumEngines && prevEngine >= 0 && prevEngine < kNumEngines &&
        prevEngine != e &&
        !((insn.wait >> (prevEngine * kNumEngines + e)) & 1u))
      bump(std::string("pair.") + engineName(Engine(prevEngine)) + ">" +
           engineName(Engine(e)));
    if (insn.op == Opcode::SETREG)
      regs[static_cast<size_t>(insn.reg)] = static_cast<int32_t>(insn.value);
    if (e < kNumEngines)
      prevEngine = e;
  }
}

std::string CoverageModel::sampleRun(const std::vector<Insn> &program,
                                     std::vector<uint8_t> dram) {
  GoldenMachine m;
  ember_npu_counters_t c{};
  c.struct_size = sizeof c;
  const int out = EMBER_NPU_MEM_OUT;
  const int64_t rb = memRowBytes(out), half = wideHalf(out);
  auto wide = [&](int64_t row, int lane) {
    const uint8_t *s = m.sram(out);
    return wideValue(int8_t(s[row * rb + lane]),
                     int8_t(s[(row + half) * rb + lane]));
  };
  // LUT w16 before it runs: its inputs against the table.
  auto beforeLut = [&](const Insn &in) {
    if (in.op != Opcode::LUT || !in.w16)
      return;
    const auto &t = m.lut16();
    for (int64_t r = 0; r < in.rows; ++r)
      for (int l = 0; l < kDim; ++l) {
        int32_t x = wide(in.src + r, l), i = 256 + (x >> 7), off = x & 127;
        int32_t slope = int32_t(t[size_t(i) + 1]) - t[size_t(i)];
        if (((slope * off) & 127) == 64) {
          bump("LUT.w16.round=half");
          return;
        }
      }
  };
  if (!program.empty())
    beforeLut(program[0]);
  std::string err = m.run(program, dram, c, [&](size_t i) {
    const Insn &in = program[i];
    if (in.op == Opcode::POOL && in.avg && in.w16) {
      bool hit = false;
      for (int64_t r = 0; r < in.rows && !hit; ++r)
        for (int l = 0; l < kDim && !hit; ++l)
          hit = wide(in.dst + r, l) == -32768;
      if (hit)
        bump("POOL.avg16.result=min");
    }
    if (i + 1 < program.size())
      beforeLut(program[i + 1]);
    return true;
  });
  if (err.empty())
    sample(program);
  return err;
}

} // namespace ember::npu
