// Memory-planner figures on real models (docs/lir.md, "Measured"): prints
// peak / max-live lower bound / no-reuse bytes per space, and checks the
// planned LIR computes what the graph interpreter computes.
#include "import/OnnxImporter.h"
#include "interp/Interpreter.h"
#include "lir/LirPipeline.h"
#include "passes/Pass.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <random>
#include <sys/stat.h>

using namespace ember;

namespace {

struct ModelCase {
  const char *name;
  const char *path;
  std::map<std::string, Dims> shapes;
  bool run; // also compare LIR execution with the graph interpreter
};

void measure(const ModelCase &c) {
  struct stat st;
  if (stat(c.path, &st) != 0)
    GTEST_SKIP() << "no model at " << c.path;
  ImportOptions io;
  io.inputShapes = c.shapes;
  auto m = importOnnxFile(c.path, io);
  ASSERT_TRUE(m.hasValue()) << m.status().message();
  ASSERT_TRUE(runPipeline(**m, PipelineOptions()).isOk());
  const Function &g = *(*m)->main();
  auto t0 = std::chrono::steady_clock::now();
  lir::MemoryPlan plan;
  auto f = buildPlannedLir(g, &plan);
  ASSERT_TRUE(f.hasValue()) << f.status().message();
  double ms = std::chrono::duration<double, std::milli>(
                  std::chrono::steady_clock::now() - t0)
                  .count();
  for (auto &s : plan.spaces) {
    uint64_t best = UINT64_MAX;
    std::string all;
    for (auto &t : s.tried) {
      best = std::min(best, t.second);
      all += " " + t.first + "=" + std::to_string(t.second);
    }
    if (s.buffers) {
      EXPECT_EQ(s.peak, best) << s.space;
      std::printf("%s: space=%s tried:%s\n", c.name, s.space.c_str(),
                  all.c_str());
    }
    EXPECT_LE(s.lowerBound, s.peak) << s.space;
    EXPECT_LE(s.peak, s.noReuse) << s.space;
    if (s.buffers)
      std::printf("%s: space=%s buffers=%zu peak=%llu lower_bound=%llu "
                  "no_reuse=%llu peak/lb=%.4f heuristic=%s (irgen+plan %.1f "
                  "ms, %zu instructions)\n",
                  c.name, s.space.c_str(), s.buffers,
                  (unsigned long long)s.peak, (unsigned long long)s.lowerBound,
                  (unsigned long long)s.noReuse,
                  s.lowerBound ? double(s.peak) / double(s.lowerBound) : 1.0,
                  s.heuristic.c_str(), ms, f->insts.size());
  }
  if (!c.run)
    return;
  std::vector<Tensor> ins;
  std::mt19937 rng(5);
  for (Node *p : g.params()) {
    Tensor t(p->types[0]);
    for (int64_t i = 0; i < t.size(); ++i)
      t.setDouble(i, isFloatKind(t.elem()) ? double(rng() % 1000) / 500 - 1
                                           : double(rng() % 2));
    ins.push_back(std::move(t));
  }
  auto want = interpret(g, ins);
  ASSERT_TRUE(want.hasValue()) << want.status().message();
  auto got = lir::execute(*f, ins);
  ASSERT_TRUE(got.hasValue()) << got.status().message();
  ASSERT_EQ(want->size(), got->size());
  for (size_t i = 0; i < want->size(); ++i)
    EXPECT_TRUE((*want)[i].bitEqual((*got)[i])) << c.name << " output " << i;
}

} // namespace

TEST(LirModels, LightResNet50) {
  measure({"resnet50",
           "/work/shared/onnx-backend/light/light_resnet50.onnx",
           {},
           false});
}
TEST(LirModels, SqueezeNet) {
  measure({"squeezenet",
           "/work/shared/models/squeezenet1.1-fp32-from-fp16/model.onnx",
           {},
           true});
}
TEST(LirModels, MobileNetV2) {
  measure({"mobilenetv2",
           "/work/shared/models/mobilenetv2-12-fp32-dequant/model.onnx",
           {{"input", {1, 3, 224, 224}}},
           false});
}
TEST(LirModels, BertToy) {
  measure({"bert-toy",
           "/work/shared/models/bert-toy/model.onnx",
           {{"input_ids", {1, 32}},
            {"input_mask", {1, 32}},
            {"token_type_ids", {1, 32}}},
           true});
}
