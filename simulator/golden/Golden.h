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
#include <string>
#include <vector>

namespace ember::npu {

class GoldenMachine {
public:
  GoldenMachine();
  /// Zeroes scratchpads, registers and token counts.
  void reset();
  /// Runs `program` (already checked with checkProgram) against `dram`.
  /// Returns "" or "instruction <i>: <cause>".
  std::string run(const std::vector<Insn> &program, std::vector<uint8_t> &dram,
                  ember_npu_counters_t &counters);
  uint8_t *sram(int mem) { return srams_[mem].data(); }
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

  std::array<int32_t, EMBER_NPU_NUM_REGS> regs_{};
  std::array<int8_t, 256> lut_{}; // the VECTOR engine's output table
  std::array<int, kNumChannels> tokens_{};
};

} // namespace ember::npu

#endif // EMBER_NPU_GOLDEN_H
