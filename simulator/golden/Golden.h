//===- Golden.h - Instruction-at-a-time reference model of the NPU --------===//
//
// The definition of every instruction: plain loops, no timing, no concurrency.
// Programs run in program order; a wait on an empty token channel is a token
// underflow (the program would deadlock on the concurrent machine), a signal
// into a full channel is an overflow.
//
//===----------------------------------------------------------------------===//
#ifndef EMBER_NPU_GOLDEN_H
#define EMBER_NPU_GOLDEN_H

#include "ember/npu/Isa.h"
#include "ember/npu/driver.h"

#include <array>
#include <functional>
#include <string>
#include <vector>

namespace ember::npu {

class GoldenMachine {
public:
  GoldenMachine();
  /// Zeroes scratchpads, registers and token counts.
  void reset();
  /// Called after each instruction retires (its tokens given) with its index;
  /// returning false stops the run.
  using RetireHook = std::function<bool(size_t index)>;
  /// Runs `program` (already checked with checkProgram) against `dram`.
  /// Returns "" or "instruction <i>: <cause>".
  std::string run(const std::vector<Insn> &program, std::vector<uint8_t> &dram,
                  ember_npu_counters_t &counters,
                  const RetireHook &onRetire = nullptr);
  uint8_t *sram(int mem) { return srams_[mem].data(); }
  /// The VECTOR engine's output table (LUTLD).
  const std::array<int8_t, 256> &lut() const { return lut_; }
  /// Its 16-bit table (LUTLD w16).
  const std::array<int16_t, 513> &lut16() const { return lut16_; }
  const std::array<int32_t, EMBER_NPU_NUM_REGS> &regs() const { return regs_; }

private:
  std::string execute(const Insn &insn, std::vector<uint8_t> &dram,
                      ember_npu_counters_t &counters);
  int32_t accAt(int64_t row, int lane) const;
  void setAcc(int64_t row, int lane, int32_t v);
  int8_t &i8At(int mem, int64_t row, int lane);

  std::array<std::vector<uint8_t>, kNumMems> srams_;
  /// Writes OUT row `row` lane `lane`, through the output table when `lut`.
  void writeOut(int64_t row, int lane, int8_t v, bool lut);
  /// 16-bit rows (spec version 3): lane `lane` of the 16-bit row `row` of
  /// ACT or OUT (the row pair row, row + half).
  int32_t wideAt(int mem, int64_t row, int lane);
  void setWide(int mem, int64_t row, int lane, int32_t v);
  /// An OUT result of either width: an int8 (through the table with `lut`)
  /// or, with `out16`, an int16.
  void writeOutAny(int64_t row, int lane, int32_t v, bool out16, bool lut);
  /// Operand lane `lane` of OUT row `row`: a 16-bit row's int16 or an int8.
  int32_t outAt(int64_t row, int lane, bool w16) {
    return w16 ? wideAt(EMBER_NPU_MEM_OUT, row, lane)
               : int32_t(i8At(EMBER_NPU_MEM_OUT, row, lane));
  }
  /// GEMM and DWGEMM on the rows actOff and accOff further (GEMM16 and
  /// DWGEMM16 run them once per plane); DWGEMM's bias only with `bias`.
  void gemmPlane(const Insn &insn, int64_t actOff, int64_t accOff);
  void dwgemmPlane(const Insn &insn, int64_t actOff, int64_t accOff, bool bias);
  std::string executeWideDma(const Insn &insn, std::vector<uint8_t> &dram,
                             ember_npu_counters_t &counters);

  std::array<int32_t, EMBER_NPU_NUM_REGS> regs_{};
  std::array<int8_t, 256> lut_{};    // the VECTOR engine's output table
  std::array<int16_t, 513> lut16_{}; // its 16-bit table (LUTLD w16)
  std::array<int, kNumChannels> tokens_{};
};

} // namespace ember::npu

#endif // EMBER_NPU_GOLDEN_H
