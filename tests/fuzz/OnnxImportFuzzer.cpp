// libFuzzer target: arbitrary bytes through the ONNX importer and the whole
// compile pipeline (which runs reference kernels in constant folding).
// Build: scripts/fuzz.sh (clang-19, -fsanitize=fuzzer,address,undefined).
#include "import/OnnxImporter.h"
#include "passes/Pass.h"

#include <cstddef>
#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string bytes(reinterpret_cast<const char *>(data), size);
  ember::ImportOptions opts;
  auto m = ember::importOnnxBytes(bytes, "/nonexistent", opts);
  if (!m)
    return 0;
  ember::PipelineOptions po;
  (void)ember::runPipeline(**m, po);
  return 0;
}
