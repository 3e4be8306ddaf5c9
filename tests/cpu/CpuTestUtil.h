// Helpers of the CPU backend's unit tests: parse and lower graph text (and
// write its constants and shapes), random inputs, compile + JIT + run a
// function, compare with the interpreter.
#pragma once

#include "compiler/Compiler.h"
#include "compiler/Jit.h"
#include "ember/cpu/Kernels.h"
#include "runtime/RtAbi.h"
#include "runtime/ThreadPool.h"

#include "interp/Interpreter.h"
#include "ir/Printer.h"
#include "passes/Pass.h"

#include <gtest/gtest.h>
#include <llvm/IR/Constants.h>
#include <llvm/IR/GlobalVariable.h>
#include <llvm/IR/Module.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <initializer_list>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace ember::cpugen::test {

inline std::unique_ptr<Module>
parseLowered(const std::string &text,
             quant::RequantProfile requant = quant::RequantProfile::Fixed) {
  auto m = parseModule(text, "<test>");
  EXPECT_TRUE(bool(m)) << m.status().message();
  if (!m)
    return nullptr;
  PipelineOptions po;
  po.requant = requant;
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

// A random tensor (randomTensor) for each parameter of f, in order.
inline std::vector<Tensor> randomInputs(const Function &f, std::mt19937 &rng) {
  std::vector<Tensor> in;
  for (auto *p : f.params())
    in.push_back(randomTensor(p->types[0], rng));
  return in;
}

// Compiles f with cfg, JITs it and runs it once; ember_main must return
// `status` (0, or the generated code's error, e.g. kStatusIndexOutOfRange).
// `stats`: what the pool (cfg.numThreads > 1) counted in the run.
inline std::vector<Tensor> runCpu(Function &f, const CompileConfig &cfg,
                                  const std::vector<Tensor> &inputs,
                                  int32_t status = 0,
                                  ThreadPool::Stats *stats = nullptr) {
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
  if (stats && pool)
    *stats = pool->stats();
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

// Builds QDQ graph text in the forms ORT's quantize_static writes:
// per-channel s8 weights, u8 activations, int32 biases at x_scale * w_scale.
struct QdqText {
  std::mt19937 &rng;
  std::string t;
  int id = 0;

  std::string name(const char *p) {
    return std::string("%") + p + std::to_string(++id);
  }
  void cst(const std::string &n, const std::string &dense) {
    t += "  " + n + " = Constant " + dense + "\n";
  }
  // Named scalar constants.
  std::string f32(float v) {
    std::string n = name("s");
    cst(n, hexDense("f32", "", &v, 4));
    return n;
  }
  std::string u8(uint8_t v) {
    std::string n = name("z");
    cst(n, hexDense("u8", "", &v, 1));
    return n;
  }
  // Q then DQ of a float value of dimensions `dims` (dimsText).
  std::string qdq(const std::string &v, const std::string &dims, float s,
                  uint8_t z) {
    std::string sn = f32(s), zn = u8(z), q = name("q"), d = name("d");
    t += "  " + q + " = QuantizeLinear(" + v + ", " + sn + ", " + zn +
         ") : u8[" + dims + "]\n";
    t += "  " + d + " = DequantizeLinear(" + q + ", " + sn + ", " + zn +
         ") : f32[" + dims + "]\n";
    return d;
  }
  // DQ'd per-channel s8 weights [oc, ...] (scales wscale * [0.5, 1.5)) and,
  // in `bias`, the DQ'd int32 bias at xs * those scales.
  std::string weights(const std::vector<int64_t> &d, float xs, float wscale,
                      std::string &bias) {
    int64_t oc = d[0], n = 1;
    for (int64_t v : d)
      n *= v;
    std::vector<int8_t> w(static_cast<size_t>(n));
    for (auto &v : w)
      v = int8_t(int(rng() % 255) - 127);
    size_t noc = static_cast<size_t>(oc);
    std::vector<float> ws(noc), bs(noc);
    std::vector<int8_t> wz(noc, 0);
    std::vector<int32_t> b(noc), bz(noc, 0);
    for (size_t i = 0; i < noc; ++i) {
      ws[i] = wscale * (0.5f + float(rng() % 100) / 100.0f);
      bs[i] = xs * ws[i];
      b[i] = int32_t(rng() % 4001) - 2000;
    }
    std::string wn = name("w"), wsn = name("ws"), wzn = name("wz"),
                wd = name("wd"), bn = name("b"), bsn = name("bs"),
                bzn = name("bz");
    std::string o = std::to_string(oc);
    cst(wn, hexDense("i8", dimsText(d), w.data(), w.size()));
    cst(wsn, hexDense("f32", o, ws.data(), ws.size() * 4));
    cst(wzn, hexDense("i8", o, wz.data(), wz.size()));
    cst(bn, hexDense("i32", o, b.data(), b.size() * 4));
    cst(bsn, hexDense("f32", o, bs.data(), bs.size() * 4));
    cst(bzn, hexDense("i32", o, bz.data(), bz.size() * 4));
    t += "  " + wd + " = DequantizeLinear(" + wn + ", " + wsn + ", " + wzn +
         ") {axis = 0} : f32[" + dimsText(d) + "]\n";
    bias = name("bd");
    t += "  " + bias + " = DequantizeLinear(" + bn + ", " + bsn + ", " + bzn +
         ") {axis = 0} : f32[" + o + "]\n";
    return wd;
  }
  // A square Conv ("same" pads) of x (scale xs) with weights of dimensions
  // w (scales 0.002 * [0.5, 1.5)) and an int32 bias.
  std::string conv(const std::string &x, float xs,
                   const std::vector<int64_t> &w, int64_t group, int64_t stride,
                   const std::vector<int64_t> &out) {
    std::string bd, wd = weights(w, xs, 0.002f, bd), y = name("c");
    int64_t k = w[2], pad = k / 2;
    std::string ks = std::to_string(k), ps = std::to_string(pad),
                ss = std::to_string(stride);
    t += "  " + y + " = Conv(" + x + ", " + wd + ", " + bd +
         ") {group = " + std::to_string(group) + ", kernel_shape = [" + ks +
         ", " + ks + "], pads = [" + ps + ", " + ps + ", " + ps + ", " + ps +
         "], strides = [" + ss + ", " + ss + "]} : f32[" + dimsText(out) +
         "]\n";
    return y;
  }
};

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

// f on `in` at 1 thread within rtol/atol of the interpreter's `want`, at 2
// threads identical to 1, and on the portable runtime within rtol/atol.
inline void expectCloseOnEveryRuntime(Function &f,
                                      const std::vector<Tensor> &in,
                                      const std::vector<Tensor> &want,
                                      double rtol, double atol) {
  CompileConfig two = hostConfig(), portable = hostConfig();
  two.numThreads = 2;
  portable.kernels = Kernels::Portable;
  std::vector<Tensor> one = runCpu(f, hostConfig(), in);
  expectClose(one, want, rtol, atol);
  std::vector<Tensor> twoOut = runCpu(f, two, in);
  ASSERT_EQ(twoOut.size(), one.size());
  for (size_t k = 0; k < one.size(); ++k)
    ASSERT_EQ(std::memcmp(twoOut[k].raw(), one[k].raw(),
                          size_t(one[k].type().sizeInBytes())),
              0)
        << "output " << k << ": 2 threads differ from 1";
  expectClose(runCpu(f, portable, in), want, rtol, atol);
}

/// Whether this host's kernel path has the fp32 channels-last convolutions
/// (AVX2 or AVX-512), so the compiler chooses channels-last layouts.
inline bool channelsLastHost() {
  return ember::cpu::isaHasAvx2(ember::cpu::Isa(hostIsa()));
}

/// Whether they are the AVX2 ones, whose thresholds differ (ChannelsLast.cpp:
/// any channels per tap, at least 3 output channels, first layers unfolded
/// whatever their border).
inline bool avx2ChannelsLastHost() {
  using ember::cpu::Isa;
  return ember::cpu::fp32Family(Isa(hostIsa())) == Isa::Avx2;
}

// dense<f32[..]: 0x...> text of `count` values uniform in [-scale, scale].
inline std::string randomDense(size_t count, float scale, std::mt19937 &rng) {
  std::uniform_real_distribution<float> u(-scale, scale);
  static const char *hex = "0123456789abcdef";
  std::string s = "0x";
  for (size_t i = 0; i < count; ++i) {
    float v = u(rng);
    uint8_t b[4];
    std::memcpy(b, &v, 4);
    for (int k = 0; k < 4; ++k) {
      s += hex[b[k] >> 4];
      s += hex[b[k] & 15];
    }
  }
  return s;
}

// dense(shape, count, scale): the text of an f32 Constant of that shape
// holding `count` random values in [-scale, scale] (randomDense).
struct DenseConstant {
  std::mt19937 &rng;
  std::string operator()(const std::string &shape, size_t count,
                         float scale) const {
    return "Constant dense<f32[" + shape +
           "]: " + randomDense(count, scale, rng) + ">";
  }
};

// How many of a compiled model's fp32 conv steps have parameter `field`
// (RtAbi.h ember_rt_conv_field) set: their parameter blocks are the
// module's `params.*` globals of EMBER_RT_CONV_NUM_FIELDS int64s.
inline size_t convStepsWith(const CompiledModel &cm, int field) {
  size_t n = 0;
  for (const llvm::GlobalVariable &g : cm.module->globals()) {
    // (A block with a post function's address is a ConstantArray.)
    const auto *t = llvm::dyn_cast<llvm::ArrayType>(g.getValueType());
    if (!g.getName().starts_with("params.") || !g.hasInitializer() || !t ||
        !t->getElementType()->isIntegerTy(64) ||
        t->getNumElements() != EMBER_RT_CONV_NUM_FIELDS)
      continue;
    const llvm::Constant *v =
        g.getInitializer()->getAggregateElement(unsigned(field));
    const auto *ci = llvm::dyn_cast_or_null<llvm::ConstantInt>(v);
    n += !ci || !ci->isZero(); // (an address counts as set)
  }
  return n;
}

// Runs m's main on random inputs: the interpreter's result, then
// compileModel at one thread, whose channels-last values (and the same as
// one line for messages) `check` looks at, then the backend at 1 and 2
// threads against the interpreter.
inline void
expectLayoutsAndResults(Module &m, std::mt19937 &rng,
                        const std::function<void(const CompiledModel &,
                                                 const std::set<std::string> &,
                                                 const std::string &)> &check) {
  std::vector<Tensor> in = randomInputs(*m.main(), rng);
  auto want = interpret(*m.main(), in);
  ASSERT_TRUE(bool(want));
  CompileConfig one = hostConfig(), two = hostConfig();
  two.numThreads = 2;
  auto cm = compileModel(*m.main(), one);
  ASSERT_TRUE(bool(cm)) << cm.status().message();
  std::set<std::string> nhwc(cm->channelsLast.begin(), cm->channelsLast.end());
  std::string list;
  for (auto &v : nhwc)
    list += v + " ";
  check(*cm, nhwc, list);
  expectClose(runCpu(*m.main(), one, in), *want, 1e-4, 1e-5);
  expectClose(runCpu(*m.main(), two, in), *want, 1e-4, 1e-5);
}

// The same, checking that the values `channelsLast` are chosen
// channels-last and the values `rowMajor` are not.
inline void
expectLayoutsAndResults(Module &m, std::mt19937 &rng,
                        std::initializer_list<const char *> channelsLast,
                        std::initializer_list<const char *> rowMajor = {}) {
  expectLayoutsAndResults(
      m, rng,
      [&](const CompiledModel &, const std::set<std::string> &nhwc,
          const std::string &list) {
        for (const char *v : channelsLast)
          EXPECT_TRUE(nhwc.count(v)) << v << " not channels-last: " << list;
        for (const char *v : rowMajor)
          EXPECT_FALSE(nhwc.count(v)) << v << " channels-last: " << list;
      });
}

} // namespace ember::cpugen::test
