// Helpers of the CPU backend's unit tests: parse and lower graph text (and
// write its constants and shapes), random inputs, compile + JIT + run a
// function, compare with the interpreter.
#pragma once

#include "compiler/Compiler.h"
#include "compiler/Jit.h"
#include "runtime/ThreadPool.h"

#include "interp/Interpreter.h"
#include "ir/Printer.h"
#include "passes/Pass.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace ember::cpugen::test {

inline std::unique_ptr<Module> parseLowered(const std::string &text) {
  auto m = parseModule(text, "<test>");
  EXPECT_TRUE(bool(m)) << m.status().message();
  if (!m)
    return nullptr;
  PipelineOptions po;
  Status s = runPipeline(**m, po);
  EXPECT_TRUE(s.isOk()) << s.message();
  return std::move(*m);
}

inline Tensor randomTensor(const Type &t, std::mt19937 &rng) {
  Tensor x(t);
  std::uniform_real_distribution<double> u(-2, 2);
  for (int64_t i = 0; i < x.size(); ++i)
    x.setDouble(i, t.elem() == ElemKind::F32 || t.elem() == ElemKind::F64
                       ? u(rng)
                       : std::floor(u(rng) * 4));
  return x;
}

// Compiles f with cfg, JITs it and runs it once; ember_main must return
// `status` (0, or the generated code's error, e.g. kStatusIndexOutOfRange).
inline std::vector<Tensor> runCpu(Function &f, const CompileConfig &cfg,
                                  const std::vector<Tensor> &inputs,
                                  int32_t status = 0) {
  auto cm = compileModel(f, cfg);
  EXPECT_TRUE(bool(cm)) << cm.status().message();
  if (!cm)
    return {};
  std::string weights = cm->weights;
  uint64_t arenaBytes = cm->arenaBytes;
  std::vector<Type> outTypes = cm->outputs;
  auto jit = JitModel::compile(*cm, cfg);
  EXPECT_TRUE(bool(jit)) << jit.status().message();
  if (!jit)
    return {};
  auto *w = static_cast<uint8_t *>(
      std::aligned_alloc(64, (weights.size() + 64) / 64 * 64));
  auto *arena = static_cast<uint8_t *>(
      std::aligned_alloc(64, (arenaBytes + 64) / 64 * 64));
  std::memcpy(w, weights.data(), weights.size());
  std::vector<Tensor> ins = inputs, outs;
  std::vector<void *> ip, op;
  for (auto &t : ins)
    ip.push_back(t.raw());
  for (auto &t : outTypes)
    outs.emplace_back(t);
  for (auto &t : outs)
    op.push_back(t.raw());
  std::unique_ptr<ThreadPool> pool;
  if (cfg.numThreads > 1)
    pool = std::make_unique<ThreadPool>(cfg.numThreads);
  {
    ThreadPool::Binding bind(pool.get());
    EXPECT_EQ((*jit)->entry()(w, arena, ip.data(), op.data()), status);
  }
  std::free(w);
  std::free(arena);
  return outs;
}

inline void expectClose(const std::vector<Tensor> &got,
                        const std::vector<Tensor> &want, double rtol,
                        double atol) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t k = 0; k < got.size(); ++k) {
    ASSERT_EQ(got[k].type().elem(), want[k].type().elem());
    ASSERT_EQ(got[k].size(), want[k].size());
    for (int64_t i = 0; i < got[k].size(); ++i) {
      double g = got[k].getDouble(i), w = want[k].getDouble(i);
      if (std::isnan(g) && std::isnan(w))
        continue;
      ASSERT_LE(std::fabs(g - w), atol + rtol * std::fabs(w))
          << "output " << k << " element " << i << ": got " << g
          << ", expected " << w;
    }
  }
}

// The text of a graph constant: dense<KIND[SHAPE]: 0x...> of raw
// little-endian bytes.
inline std::string hexDense(const std::string &kind, const std::string &shape,
                            const void *data, size_t bytes) {
  static const char *hex = "0123456789abcdef";
  const auto *p = static_cast<const uint8_t *>(data);
  std::string s = "dense<" + kind + "[" + shape + "]: 0x";
  for (size_t i = 0; i < bytes; ++i) {
    s += hex[p[i] >> 4];
    s += hex[p[i] & 15];
  }
  return s + ">";
}

// Dimensions as graph text writes them in a type: "1,16,28,28".
inline std::string dimsText(const std::vector<int64_t> &d) {
  std::string s;
  for (size_t i = 0; i < d.size(); ++i) {
    if (i) // (not `(i ? "," : "") + ...`: GCC 12's -Wrestrict misfires)
      s += ",";
    s += std::to_string(d[i]);
  }
  return s;
}

// Bit-exact: the same types and the same bytes (an integer path against the
// interpreter).
inline void expectIdentical(const std::vector<Tensor> &got,
                            const std::vector<Tensor> &want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t k = 0; k < got.size(); ++k) {
    ASSERT_EQ(got[k].type(), want[k].type());
    ASSERT_EQ(std::memcmp(got[k].raw(), want[k].raw(),
                          size_t(want[k].type().sizeInBytes())),
              0)
        << "output " << k << " differs from the interpreter";
  }
}

inline CompileConfig hostConfig() {
  CompileConfig c;
  c.isa = hostIsa();
  return c;
}

} // namespace ember::cpugen::test
