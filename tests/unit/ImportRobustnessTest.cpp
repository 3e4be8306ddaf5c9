// Truncated and bit-flipped ONNX files must give an error (or, if the damage
// happens to be harmless, a model that verifies), never a crash or hang.
#include "import/OnnxImporter.h"
#include "import/TensorIO.h"
#include "interp/Interpreter.h"
#include "ir/Verifier.h"
#include "passes/Pass.h"

#include <gtest/gtest.h>

#include <random>

using namespace ember;

static std::string mnistBytes() {
  auto b = readFileBytes(std::string(EMBER_SOURCE_DIR) +
                         "/examples/mnist/model.onnx");
  return b ? *b : std::string();
}

static void importAndCompile(const std::string &bytes) {
  auto m = importOnnxBytes(bytes, ".", {});
  if (!m) {
    EXPECT_FALSE(m.status().message().empty());
    return;
  }
  PipelineOptions po;
  Status s = runPipeline(**m, po);
  if (s.isOk()) {
    EXPECT_TRUE(verifyFunction(*(*m)->main(), /*lowered=*/true).isOk());
  }
}

TEST(ImportRobustness, EveryTruncationIsAnErrorOrValid) {
  std::string b = mnistBytes();
  ASSERT_FALSE(b.empty());
  for (size_t len = 0; len < b.size(); len += 97)
    importAndCompile(b.substr(0, len));
}

TEST(ImportRobustness, BitFlipsNeverCrash) {
  std::string b = mnistBytes();
  ASSERT_FALSE(b.empty());
  std::mt19937 rng(1234);
  int errors = 0;
  for (int iter = 0; iter < 3000; ++iter) {
    std::string m = b;
    int flips = 1 + int(rng() % 4);
    for (int k = 0; k < flips; ++k)
      m[rng() % m.size()] ^= char(1u << (rng() % 8));
    auto r = importOnnxBytes(m, ".", {});
    if (!r) {
      ++errors;
      continue;
    }
    PipelineOptions po;
    (void)runPipeline(**r, po);
  }
  // Most flips land in weight bytes (harmless); some must hit structure.
  EXPECT_GT(errors, 0);
}

TEST(ImportRobustness, GarbageIsRejected) {
  auto m = importOnnxBytes(std::string("\x08\x07\x12\xff\xff\xff\xff\x0f", 8),
                           ".", {});
  ASSERT_FALSE(m.hasValue());
  EXPECT_NE(m.status().message().find("ONNX"), std::string::npos);
}
