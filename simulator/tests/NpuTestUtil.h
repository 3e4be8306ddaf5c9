//===- NpuTestUtil.h - Run NPU programs on any executor through driver.h --===//
#ifndef EMBER_NPU_TESTS_NPUTESTUTIL_H
#define EMBER_NPU_TESTS_NPUTESTUTIL_H

#include "ember/npu/Isa.h"
#include "ember/npu/driver.h"

#include <array>
#include <cstring>
#include <string>
#include <vector>

namespace ember::npu::test {

struct RunOutput {
  ember_npu_status_t status = EMBER_NPU_STATUS_OK;
  std::string error;
  std::vector<uint8_t> dram;
  std::array<std::vector<uint8_t>, kNumMems> srams;
  ember_npu_counters_t counters{};
};

/// Creates a device; the caller destroys it.
inline ember_npu_device_t *makeDevice(ember_npu_executor_t executor,
                                      uint64_t dramBytes,
                                      uint32_t bytesPerCycle = 0) {
  ember_npu_config_t cfg;
  ember_npu_config_init(&cfg);
  cfg.executor = executor;
  cfg.dram_bytes = dramBytes;
  cfg.dram_bytes_per_cycle = bytesPerCycle;
  ember_npu_device_t *dev = nullptr;
  if (ember_npu_device_create(&cfg, &dev) != EMBER_NPU_STATUS_OK)
    return nullptr;
  return dev;
}

/// Writes `dramInit` at address 0, runs `program`, reads back DRAM, scratchpads
/// and counters.
inline RunOutput runProgram(ember_npu_device_t *dev,
                            const std::vector<Word> &program,
                            const std::vector<uint8_t> &dramInit,
                            bool readState = true) {
  RunOutput out;
  ember_npu_dram_write(dev, 0, dramInit.data(), dramInit.size());
  ember_npu_program_load(dev, program.data(), program.size());
  out.status = ember_npu_run(dev);
  if (out.status != EMBER_NPU_STATUS_OK)
    out.error = ember_npu_device_last_error(dev);
  out.counters.struct_size = sizeof out.counters;
  ember_npu_counters_read(dev, &out.counters);
  if (readState) {
    out.dram.resize(dramInit.size());
    ember_npu_dram_read(dev, 0, out.dram.data(), out.dram.size());
    for (int m = 0; m < kNumMems; ++m) {
      out.srams[m].resize(static_cast<size_t>(memRows(m)) * memRowBytes(m));
      ember_npu_sram_read(dev, static_cast<uint32_t>(m), 0, out.srams[m].data(),
                          static_cast<uint32_t>(memRows(m)));
    }
  }
  return out;
}

inline std::vector<Word> encodeAll(const std::vector<Insn> &program) {
  std::vector<Word> words;
  for (const Insn &i : program)
    words.push_back(encode(i));
  return words;
}

} // namespace ember::npu::test

#endif // EMBER_NPU_TESTS_NPUTESTUTIL_H
