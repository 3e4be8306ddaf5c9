//===- ProgramGen.h - Race-free NPU test programs (directed and random) ---===//
//
// SafeProgramBuilder appends instructions and inserts the dependency tokens
// that order every pair of conflicting accesses (same scratchpad rows or DRAM
// bytes, one a write) on different engines, so a program's result is
// independent of timing and the golden model is its oracle.
//
//===----------------------------------------------------------------------===//
#ifndef EMBER_NPU_PROGEN_PROGRAMGEN_H
#define EMBER_NPU_PROGEN_PROGRAMGEN_H

#include "ember/npu/Builders.h"
#include "ember/npu/Isa.h"

#include <array>
#include <random>
#include <string>
#include <vector>

namespace ember::npu::test {

class SafeProgramBuilder {
public:
  SafeProgramBuilder();
  void add(Insn insn);
  /// Appends FINISH and returns the program.
  std::vector<Insn> finish();
  size_t size() const { return prog_.size(); }
  const int32_t *regs() const { return regs_.data(); }

private:
  struct Range {
    int space; // memory id, or kNumMems for DRAM (bytes)
    int64_t lo, hi;
    bool write;
  };
  struct Entry {
    size_t index;
    std::vector<Range> ranges;
  };
  std::vector<Range> accesses(const Insn &insn) const;

  std::vector<Insn> prog_;
  std::array<std::vector<Entry>, kNumEngines> hist_;
  std::array<std::array<int64_t, kNumEngines>, kNumEngines> orderedUpTo_;
  std::array<int32_t, EMBER_NPU_NUM_REGS> regs_{};
};

struct TestCase {
  std::string name;
  std::vector<Insn> program;
  std::vector<uint8_t> dram;
};

constexpr uint64_t kTestDramBytes = 64 * 1024;

/// Directed programs: every instruction, every field at its edges.
std::vector<TestCase> directedCases();
/// What a random program draws more of: DMA (LOAD, STORE, MOVE and their
/// 16-bit forms), GEMM, VECTOR, or hazards (every kind, on fewer rows, so
/// that most instructions wait on a token).
enum class GenBias { None, Dma, Gemm, Vector, Hazards };
/// A random valid race-free program of about `length` instructions (the
/// generator behind `ember-npu gen`).
TestCase randomCase(uint32_t seed, int length, GenBias bias = GenBias::None);

// 16-bit activations (spec version 3), ProgramGen16.cpp.
/// Directed programs of every 16-bit form.
void addWideCases(std::vector<TestCase> &cases, std::mt19937 &rng);
/// Appends a random 16-bit instruction of kind 0..11 (LOAD16/MOVE, STORE16,
/// REQUANT, VADD, VMUL, POOL, UPSAMPLE, the 16-bit table, GEMM16, DWGEMM16,
/// VREDUCE of 16-bit or 8-bit rows, RSCALAR of whatever ACC holds)
/// using rows near the start of each lower half (`window`) or at its end;
/// false if it drew nothing that fits.
bool addRandomWide(SafeProgramBuilder &b, std::mt19937 &rng, int kind,
                   int64_t window);
constexpr int kRandomWideKinds = 12;

} // namespace ember::npu::test

#endif // EMBER_NPU_PROGEN_PROGRAMGEN_H
