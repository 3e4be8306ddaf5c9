// The second NPU's backend (docs/second-npu.md): its target description for
// the SDK's NPU compiler layer (target.json, compiled in), the emission of the
// layer's scheduled operations as its instructions, the packing of a
// program's constants in its arrangement, and the driver glue that runs a
// program on its simulator.
#pragma once

#include "ember/accel/Layers.h"
#include "ember/accel/Program.h"
#include "ember/accel/Target.h"

#include "snpu/Isa.h"
#include "snpu/driver.h"

#include <cstdint>
#include <string>
#include <vector>

namespace second_npu {

using namespace ember::accel;

// The description, parsed once; targetError() says why the layer refused it
// ("" when it did not).
const Target &target();
const std::string &targetError();
const char *targetJson();

// One operation as an instruction ("" or why the machine cannot run it), and
// a program's words (16 bytes each).
std::string emitOp(const Op &op, snpu::Insn &out);
std::string emitProgram(const Program &p, std::vector<uint8_t> &words);
// The program in the simulator's assembly text, a comment per layer.
std::string programAsm(const Program &p);

// Fills the image of `p` (scheduled from `lp`) with the weights, bias rows
// and tiles and requantization tables of every GEMM layer.
void packImage(const LayerProgram &lp, Program &p);

// The device: DRAM size and timing (0: the defaults of driver.h).
struct RunConfig {
  uint64_t dramBytes = 0;
  bool dramGiven = false;
  uint32_t bytesPerCycle = 0, latency = 0;
  bool zeroLatency = false;
  int profile = 0; // 0: counters; 1: per layer; 2: trace slices
};

struct LayerStats {
  uint64_t cycles = 0, arrayBusy = 0, dmaBusy = 0, stall = 0;
};

struct RunResult {
  snpu_counters counters{};
  std::vector<LayerStats> layers; // profile >= 1
  std::vector<uint64_t> alone;    // profile >= 1: each layer alone
  std::vector<snpu_span> spans;   // profile >= 2
};

// Runs `p`: inputs and outputs dense row-major host buffers in the graph's
// dtype (uint8 as is).
std::string runProgram(const Program &p, const RunConfig &c,
                       const std::vector<const void *> &inputs,
                       const std::vector<void *> &outputs, RunResult *r);

} // namespace second_npu
