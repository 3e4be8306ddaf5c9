//===- Coverage.h - Functional coverage of NPU programs --------*- C++ -*-===//
//
// Coverage points defined from the spec (hw/spec/npu.json through the
// generated ISA tables), collected from golden-model runs:
//   - op.FLAG=0|1       every opcode x every one-bit field, both values;
//   - op.FIELD=min|max  every multi-bit field of up to 8 bits at its least
//                       and largest legal value; signed fields negative,
//                       zero and positive; SETREG of every register;
//   - op.MEM.last_row   every scratchpad an opcode reads or writes, touched
//                       at its last row; op.DRAM.end: a DMA that reaches the
//                       last byte of DRAM;
//   - pair.A>B          an instruction on engine B right after one on engine
//                       A in program order without a token between them (the
//                       two may overlap: engine concurrency pairs);
//   - token.CH.full|empty  every token channel filled to its FIFO depth and
//                       drained to empty by a wait;
//   - op.burst.split    a LOAD/STORE(16) row that crosses a DRAM burst
//                       boundary; op.burst.multi: a row longer than a burst
//                       (a bin only when the widest row is);
//   - arithmetic edges seen in the data as the golden model runs:
//     POOL.avg16.result=min  a 16-bit average whose result is -32768 (the
//                       clamp's lower bound); LUT.w16.round=half  a 16-bit
//                       table lookup where slope x offset is 64 modulo 128
//                       (the interpolation's rounding at its half).
// docs/npu-rtl.md, "Coverage".
//
//===----------------------------------------------------------------------===//
#ifndef EMBER_NPU_COVERAGE_H
#define EMBER_NPU_COVERAGE_H

#include "ember/npu/Isa.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace ember::npu {

class CoverageModel {
public:
  /// Every bin, none hit (burstBytes: the DRAM burst size the split bins are
  /// about; dramBytes: the DRAM of the programs sampled).
  CoverageModel(uint64_t burstBytes, uint64_t dramBytes);
  /// Counts the bins `program` hits (it must have run to FINISH on the
  /// golden model).
  void sample(const std::vector<Insn> &program);
  /// Runs `program` (checked) on the golden model from `dram` and counts
  /// the bins it hits, the data bins included: "" or the run's error.
  std::string sampleRun(const std::vector<Insn> &program,
                        std::vector<uint8_t> dram);
  size_t bins() const { return hits_.size(); }
  size_t hit() const;
  std::vector<std::string> misses() const;
  const std::map<std::string, uint64_t> &hits() const { return hits_; }

private:
  void bump(const std::string &bin);
  std::map<std::string, uint64_t> hits_;
  uint64_t burst_, dram_;
};

} // namespace ember::npu

#endif // EMBER_NPU_COVERAGE_H
