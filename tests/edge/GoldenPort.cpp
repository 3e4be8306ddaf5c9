// A port of the heterogeneous bundle's NPU driver interface (ember_npu.h,
// written into every such bundle) for Linux, over the example NPU's golden
// model: each invoke decodes and checks the command stream, runs it
// instruction by instruction against a copy of the window and writes the
// window back. Built as a shared library that bundle tests link
// (libember_edge_golden_port.so exports ember_npu_port).
#include "ember/npu/Isa.h"
#include "golden/Golden.h"

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

extern "C" {

typedef struct ember_npu_driver {
  uint32_t struct_size;
  void *ctx;
  int32_t (*invoke)(void *ctx, const uint8_t *insns, uint32_t count,
                    uint8_t *window, uint64_t window_bytes);
} ember_npu_driver_t;

static int32_t goldenInvoke(void *, const uint8_t *insns, uint32_t count,
                            uint8_t *window, uint64_t windowBytes) {
  std::vector<ember::npu::Word> words(count);
  for (uint32_t i = 0; i < count; ++i) {
    std::memcpy(&words[i].lo, insns + 16 * size_t(i), 8);
    std::memcpy(&words[i].hi, insns + 16 * size_t(i) + 8, 8);
  }
  std::vector<ember::npu::Insn> program;
  std::string err = ember::npu::checkProgram(words, windowBytes, program);
  if (!err.empty()) {
    std::fprintf(stderr, "error: NPU program: %s\n", err.c_str());
    return 1;
  }
  std::vector<uint8_t> dram(window, window + windowBytes);
  ember::npu::GoldenMachine m;
  ember_npu_counters_t counters{};
  counters.struct_size = sizeof counters;
  err = m.run(program, dram, counters);
  if (!err.empty()) {
    std::fprintf(stderr, "error: NPU run: %s\n", err.c_str());
    return 1;
  }
  std::memcpy(window, dram.data(), size_t(windowBytes));
  return 0;
}

__attribute__((visibility("default"))) const ember_npu_driver_t *
ember_npu_port(void) {
  static const ember_npu_driver_t d = {sizeof(ember_npu_driver_t), nullptr,
                                       goldenInvoke};
  return &d;
}

} // extern "C"
