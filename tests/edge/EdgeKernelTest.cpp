// The Arm int8 runtime (backends/cpu/runtime/RtEdge.c) on this host: its
// requantization against ember/quant/Arith.h, and its packing and plain-C
// kernels (kernels=edge in the JIT) against the reference interpreter, bit
// for bit, on random QDQ convolutions and matrix products: dense, grouped
// and depthwise, every layout the compiler picks, u8 and s8 activations,
// weights with zero points (some centered weights outside int8: the int16
// rows), 1 and 2 threads. The SIMD kernels (NEON, SDOT, DSP, Helium) run
// the same code around their inner products under QEMU (ctest edge-*).
#include "compiler/Compiler.h"
#include "ember/quant/Arith.h"
#include "interp/Interpreter.h"
#include "runtime/RtEdge.h"
#include <gtest/gtest.h>
#include <random>
#include <string>
#include <vector>

#include "CpuTestUtil.h"

using namespace ember;
using namespace ember::cpugen;
using namespace ember::cpugen::test;

namespace {

CompileConfig edgeConfig(unsigned threads) {
  CompileConfig c;
  c.kernels = Kernels::Edge;
  c.numThreads = threads;
  return c;
}

// A random QDQ graph text: quantized activations of `xKind` (u8 or i8),
// weights of `wKind` with random zero points.
struct Gen {
  std::mt19937 &rng;
  std::string t;
  int id = 0;
  std::string name(const char *p) {
    return std::string("%") + p + std::to_string(++id);
  }
  std::string cst(const std::string &kind, const std::string &shape,
                  const void *data, size_t bytes) {
    std::string n = name("k");
    t += "  " + n + " = Constant " + hexDense(kind, shape, data, bytes) + "\n";
    return n;
  }
  int rand(int lo, int hi) { return lo + int(rng() % unsigned(hi - lo + 1)); }
  // Q then DQ of `v` into kind (u8/i8) with a random zero point.
  std::string qdq(const std::string &v, const std::string &dims, float s,
                  bool i8) {
    float sv = s;
    std::string sn = cst("f32", "", &sv, 4), q = name("q"), d = name("d");
    std::string zn;
    if (i8) {
      int8_t z = int8_t(rand(-20, 20));
      zn = cst("i8", "", &z, 1);
    } else {
      uint8_t z = uint8_t(rand(100, 150));
      zn = cst("u8", "", &z, 1);
    }
    t += "  " + q + " = QuantizeLinear(" + v + ", " + sn + ", " + zn +
         ") : " + (i8 ? "i8[" : "u8[") + dims + "]\n";
    t += "  " + d + " = DequantizeLinear(" + q + ", " + sn + ", " + zn +
         ") : f32[" + dims + "]\n";
    return d;
  }
  // DQ'd weights [d0, ...] (u8 with zero points around 128 when wU8, else
  // s8 per-channel symmetric) and the DQ'd int32 bias along axis.
  std::string weights(const std::vector<int64_t> &d, int64_t oc, int axis,
                      float xs, bool wU8, std::string &bias) {
    int64_t n = 1;
    for (int64_t v : d)
      n *= v;
    const std::string o = std::to_string(oc);
    const size_t noc = static_cast<size_t>(oc);
    std::vector<float> ws(noc), bs(noc);
    std::vector<int32_t> b(noc), bz(noc, 0);
    for (size_t i = 0; i < noc; ++i) {
      ws[i] = 0.004f * (0.5f + float(rng() % 100) / 100.0f);
      bs[i] = xs * ws[i];
      b[i] = rand(-3000, 3000);
    }
    std::string wn, zn;
    if (wU8) {
      std::vector<uint8_t> w(static_cast<size_t>(n)), z(noc);
      for (auto &v : w)
        v = uint8_t(rand(0, 255));
      for (auto &v : z)
        v = uint8_t(rand(100, 156)); // centered values reach past int8
      wn = cst("u8", dimsText(d), w.data(), w.size());
      zn = cst("u8", o, z.data(), z.size());
    } else {
      std::vector<int8_t> w(static_cast<size_t>(n)), z(noc, 0);
      for (auto &v : w)
        v = int8_t(rand(-127, 127));
      wn = cst("i8", dimsText(d), w.data(), w.size());
      zn = cst("i8", o, z.data(), z.size());
    }
    std::string wsn = cst("f32", o, ws.data(), ws.size() * 4);
    std::string bn = cst("i32", o, b.data(), b.size() * 4);
    std::string bsn = cst("f32", o, bs.data(), bs.size() * 4);
    std::string bzn = cst("i32", o, bz.data(), bz.size() * 4);
    std::string wd = name("wd");
    t += "  " + wd + " = DequantizeLinear(" + wn + ", " + wsn + ", " + zn +
         ") {axis = " + std::to_string(axis) + "} : f32[" + dimsText(d) + "]\n";
    bias = name("bd");
    t += "  " + bias + " = DequantizeLinear(" + bn + ", " + bsn + ", " + bzn +
         ") {axis = 0} : f32[" + o + "]\n";
    return wd;
  }
};

void expectEdgeBitExact(const std::string &text, std::mt19937 &rng) {
  auto m = parseLowered(text);
  ASSERT_TRUE(m);
  Function &f = *m->main();
  std::vector<Tensor> in = randomInputs(f, rng);
  auto want = interpret(f, in);
  ASSERT_TRUE(bool(want)) << want.status().message();
  expectIdentical(runCpu(f, edgeConfig(1), in), *want);
  expectIdentical(runCpu(f, edgeConfig(2), in), *want);
}

} // namespace

// RtEdge.c's requantization is quant::requantize and requantizeFloat32 on
// every input class: random values, the extremes, every shift the clamp
// keeps or cuts, ties of the float profile.
TEST(EdgeKernels, RequantizationIsTheReference) {
  std::mt19937 rng(7);
  const int32_t edges[] = {INT32_MIN, INT32_MIN + 1, -1, 0, 1, INT32_MAX};
  for (int i = 0; i < 200000; ++i) {
    int32_t acc = int32_t(rng()), mult = int32_t(rng());
    if (i % 7 == 0)
      acc = edges[rng() % 6];
    if (i % 11 == 0)
      mult = edges[rng() % 6];
    int32_t shift = int32_t(rng() % 81) - 40;
    int32_t yzp = int32_t(rng() % 256) - 128, lo = -128, hi = 127;
    if (i % 3 == 0) {
      lo = int32_t(rng() % 200) - 128;
      hi = int32_t(rng() % 200) - 100;
    }
    quant::Multiplier m{mult, shift};
    ASSERT_EQ(ember_rte_edge_requantize(acc, mult, shift, yzp, lo, hi),
              quant::requantize(acc, 0, m, yzp, lo, hi))
        << acc << " " << mult << " " << shift;
    float scale = float(rng() % 100000) / 1e7f;
    if (i % 5 == 0) // exact halves: acc * scale = k + 0.5
      scale = 0.5f;
    ASSERT_EQ(ember_rte_edge_requantize_f32(acc, scale, yzp, lo, hi),
              quant::requantizeFloat32(acc, 0, scale, yzp, lo, hi))
        << acc << " " << scale;
  }
}

// Random convolutions: shapes, strides, dilations, asymmetric pads,
// groups (dense, grouped, depthwise), u8 and s8 activations, u8 weights
// with zero points or s8 symmetric ones, chains of two (the second reads
// the first's channels-last result) and a fused Relu.
TEST(EdgeKernels, RandomConvolutionsMatchTheInterpreter) {
  std::mt19937 rng(2024);
  for (int trial = 0; trial < 36; ++trial) {
    Gen g{rng, "", 0};
    const bool xI8 = trial % 3 == 1, wU8 = trial % 4 == 2;
    const int64_t n = 1 + trial % 2, c = g.rand(1, 19), h = g.rand(1, 11),
                  w = g.rand(1, 11);
    int64_t groups = 1;
    const int kind = trial % 3; // dense, depthwise, grouped
    if (kind == 1)
      groups = c;
    else if (kind == 2 && c % 2 == 0)
      groups = 2;
    const int64_t oc = kind == 1 ? c : groups * g.rand(1, 9);
    const int64_t k = g.rand(1, 3) * 2 - 1, s = g.rand(1, 2), dl = g.rand(1, 2);
    const int64_t pt = g.rand(0, int(k / 2 + 1)), pl = g.rand(0, int(k / 2)),
                  pb = g.rand(0, int(k / 2)), pr = g.rand(0, int(k / 2 + 1));
    const int64_t span = (k - 1) * dl + 1;
    const int64_t oh = (h + pt + pb - span) / s + 1,
                  ow = (w + pl + pr - span) / s + 1;
    if (oh < 1 || ow < 1) {
      --trial;
      continue;
    }
    std::vector<int64_t> in{n, c, h, w}, wd{oc, c / groups, k, k},
        out{n, oc, oh, ow};
    g.t = "func @main(%x: f32[" + dimsText(in) + "]) {\n";
    std::string x = g.qdq("%x", dimsText(in), 0.02f, xI8);
    std::string bd, wq = g.weights(wd, oc, 0, 0.02f, wU8, bd);
    std::string y = g.name("c");
    auto ints = [](const std::vector<int64_t> &v) {
      std::string s("[");
      s += dimsText(v);
      s += ']';
      return s;
    };
    g.t += "  " + y + " = Conv(" + x + ", " + wq + ", " + bd +
           ") {dilations = " + ints({dl, dl}) +
           ", group = " + std::to_string(groups) +
           ", kernel_shape = " + ints({k, k}) +
           ", pads = " + ints({pt, pl, pb, pr}) +
           ", strides = " + ints({s, s}) + "} : f32[" + dimsText(out) + "]\n";
    if (trial % 2 == 0) {
      std::string r = g.name("r");
      g.t += "  " + r + " = Relu(" + y + ") : f32[" + dimsText(out) + "]\n";
      y = r;
    }
    std::string d = g.qdq(y, dimsText(out), 0.05f, xI8);
    if (trial % 5 == 0) { // a 1x1 reading the result channels-last
      std::string bd2, wq2 = g.weights({oc, oc, 1, 1}, oc, 0, 0.05f, wU8, bd2);
      std::string y2 = g.name("c");
      g.t += "  " + y2 + " = Conv(" + d + ", " + wq2 + ", " + bd2 +
             ") {kernel_shape = [1, 1]} : f32[" + dimsText(out) + "]\n";
      d = g.qdq(y2, dimsText(out), 0.05f, xI8);
    }
    g.t += "  return " + d + "\n}\n";
    SCOPED_TRACE(g.t);
    expectEdgeBitExact(g.t, rng);
  }
}

// Random matrix products with a constant B: rows, K and N across the
// kernels' steps and tails (K not a multiple of 4 or 16, N of 1).
TEST(EdgeKernels, RandomMatMulsMatchTheInterpreter) {
  std::mt19937 rng(99);
  for (int trial = 0; trial < 16; ++trial) {
    Gen g{rng, "", 0};
    const bool xI8 = trial % 2 == 1, wU8 = trial % 3 == 0;
    const int64_t rows = g.rand(1, 9), K = g.rand(1, 70), N = g.rand(1, 21);
    g.t = "func @main(%x: f32[" + std::to_string(rows) + ", " +
          std::to_string(K) + "]) {\n";
    std::string x = g.qdq("%x", dimsText({rows, K}), 0.02f, xI8);
    std::string bd, wq = g.weights({K, N}, N, 1, 0.02f, wU8, bd);
    std::string y = g.name("m"), a = g.name("a");
    g.t += "  " + y + " = MatMul(" + x + ", " + wq + ") : f32[" +
           dimsText({rows, N}) + "]\n";
    g.t += "  " + a + " = Add(" + y + ", " + bd + ") : f32[" +
           dimsText({rows, N}) + "]\n";
    std::string d = g.qdq(a, dimsText({rows, N}), 0.05f, xI8);
    g.t += "  return " + d + "\n}\n";
    SCOPED_TRACE(g.t);
    expectEdgeBitExact(g.t, rng);
  }
}
