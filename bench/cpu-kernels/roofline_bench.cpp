//===- roofline_bench.cpp - mobile-net kernels against their roofline -----===//
//
// The kernels of the fp32 mobile nets (PP-LCNet x1.0 at 224, the depthwise
// 5x5 layers of MobileNetV3-Large), one thread, each against the bound of
// its path on this core, whichever of the two is lower:
//  - the FMA peak of the path (FmaPeak.h: two FMA pipes x 8 lanes on AVX2,
//    x 16 on AVX-512), for the kernel's multiply-adds;
//  - memory: the time the same core takes to read the kernel's inputs
//    (activations, weights, bias; a residual) and write its output, over the
//    kernel's own buffers, so at the same cache level as the kernel's calls
//    (a stream of whole-vector loads and stores, `streamOnce`).
// The kernels: depthwiseConv2dNhwc (bias + HardSwish, as PP-LCNet runs its
// depthwise layers), conv2dNhwc on the 1x1 layers (bias + HardSwish; the
// squeeze-excitation block's two 1x1 layers on a 1x1 map: ReLU, HardSigmoid),
// and postActivation over PP-LCNet's activation sizes (HardSwish,
// HardSigmoid, HardSwish with a residual added after it). Per kernel: the
// median time, GFLOP/s, % of the FMA peak, the memory stream's time and
// GB/s, which bound applies and the roofline ratio bound / median time (1.0:
// the kernel runs at its bound). A summary per kernel kind gives the ratio of
// the summed bounds to the summed times (layers weighted by occurrence).
//
// Usage: roofline_bench [--isa=avx2|avx512|auto] [--peak=GFLOPS]
//                       [--min-time=SECONDS] [--cpu-time]
//                       [--only=depthwise|pointwise|elementwise|NAME-SUBSTRING]
//
//===----------------------------------------------------------------------===//
#include "BenchTiming.h"
#include "FmaPeak.h"

#include "ember/cpu/Kernels.h"

#include <immintrin.h>

#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

using namespace ember::cpu;
using ember::bench::timeIt;
using ember::bench::Timing;

namespace {

struct Layer {
  const char *name;
  size_t C, H, W, OC, k, stride;
  int count; ///< occurrences in the model
};

// PP-LCNet x1.0 at 224x224 (its depthwise-separable blocks: a depthwise
// kxk, stride s, then a 1x1), and MobileNetV3-Large's 5x5 depthwise layers.
const Layer kDepthwise[] = {
    {"lc.dw1", 16, 112, 112, 16, 3, 1, 1},
    {"lc.dw2", 32, 112, 112, 32, 3, 2, 1},
    {"lc.dw3", 64, 56, 56, 64, 3, 1, 1},
    {"lc.dw4", 64, 56, 56, 64, 3, 2, 1},
    {"lc.dw5", 128, 28, 28, 128, 3, 1, 1},
    {"lc.dw6", 128, 28, 28, 128, 3, 2, 1},
    {"lc.dw7", 256, 14, 14, 256, 5, 1, 5},
    {"lc.dw8", 256, 14, 14, 256, 5, 2, 1},
    {"lc.dw9", 512, 7, 7, 512, 5, 1, 1},
    {"m3.dw5x5s2", 72, 56, 56, 72, 5, 2, 1},
    {"m3.dw5x5", 120, 28, 28, 120, 5, 1, 2},
    {"m3.dw5x5.7", 960, 7, 7, 960, 5, 1, 2},
};
const Layer kPointwise[] = {
    {"lc.pw1", 16, 112, 112, 32, 1, 1, 1},
    {"lc.pw2", 32, 56, 56, 64, 1, 1, 1},
    {"lc.pw3", 64, 56, 56, 64, 1, 1, 1},
    {"lc.pw4", 64, 28, 28, 128, 1, 1, 1},
    {"lc.pw5", 128, 28, 28, 128, 1, 1, 1},
    {"lc.pw6", 128, 14, 14, 256, 1, 1, 1},
    {"lc.pw7", 256, 14, 14, 256, 1, 1, 5},
    {"lc.pw8", 256, 7, 7, 512, 1, 1, 1},
    {"lc.pw9", 512, 7, 7, 512, 1, 1, 1},
    {"lc.se.fc1", 512, 1, 1, 128, 1, 1, 2}, // ReLU
    {"lc.se.fc2", 128, 1, 1, 512, 1, 1, 2}, // HardSigmoid
};
// Elementwise: rows x cols of a channels-last map (pixels x channels).
const Layer kElementwise[] = {
    {"ew.hswish.112", 16, 112, 112, 16, 1, 1, 1},
    {"ew.hswish.56", 64, 56, 56, 64, 1, 1, 1},
    {"ew.hswish.14", 256, 14, 14, 256, 1, 1, 1},
    {"ew.hsigmoid.1", 512, 1, 1, 512, 1, 1, 2},
    {"ew.hswish+res.28", 128, 28, 28, 128, 1, 1, 1},
};

std::vector<float> randomVec(std::mt19937 &rng, size_t n) {
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float &x : v)
    x = d(rng);
  return v;
}

/// Reads every input buffer and writes `y` (read and written when `rmw`:
/// an in-place kernel) with whole 8-lane vectors: what a kernel bound by
/// memory could at best do with the same buffers.
struct Stream {
  std::vector<std::pair<const float *, size_t>> reads;
  float *y = nullptr;
  size_t ny = 0;
  bool rmw = false;
};

volatile float gOne = 1.0f;

__attribute__((target("avx2"))) float streamOnce(const Stream &s) {
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  for (const auto &r : s.reads) {
    size_t i = 0;
    for (; i + 32 <= r.second; i += 32) {
      a0 = _mm256_add_ps(a0, _mm256_loadu_ps(r.first + i));
      a1 = _mm256_add_ps(a1, _mm256_loadu_ps(r.first + i + 8));
      a2 = _mm256_add_ps(a2, _mm256_loadu_ps(r.first + i + 16));
      a3 = _mm256_add_ps(a3, _mm256_loadu_ps(r.first + i + 24));
    }
    for (; i < r.second; ++i)
      a0 = _mm256_add_ps(a0, _mm256_set1_ps(r.first[i]));
  }
  // A scale the compiler cannot know is 1: the read-modify-write stays.
  const float scale = gOne;
  const __m256 one = _mm256_set1_ps(scale);
  size_t i = 0;
  if (s.rmw) {
    for (; i + 8 <= s.ny; i += 8)
      _mm256_storeu_ps(s.y + i, _mm256_mul_ps(_mm256_loadu_ps(s.y + i), one));
  } else {
    for (; i + 8 <= s.ny; i += 8)
      _mm256_storeu_ps(s.y + i, one);
  }
  for (; i < s.ny; ++i)
    s.y[i] = s.rmw ? s.y[i] * scale : scale;
  __m256 a = _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3));
  float out[8];
  _mm256_storeu_ps(out, a);
  return out[0];
}

/// Keeps the stream's reads from being optimized away.
volatile float gSink = 0;

size_t streamBytes(const Stream &s) {
  size_t n = s.ny * (s.rmw ? 2 : 1);
  for (const auto &r : s.reads)
    n += r.second;
  return n * sizeof(float);
}

struct Totals {
  double time = 0, bound = 0;
};

/// One kernel against its roofline; adds to `tot`.
void report(const char *name, const char *shape, int count, double flop,
            const Timing &k, const Timing &m, size_t bytes, double peak,
            Totals &tot) {
  const double tc = flop / (peak * 1e9), bound = tc > m.median ? tc : m.median;
  const double gf = flop / k.median * 1e-9;
  std::printf("%-17s %-22s x%d %8.1f us %6.1f GFLOP/s %5.1f%%  mem %7.1f us "
              "%6.1f GB/s  bound %-3s  roofline %.2f\n",
              name, shape, count, k.median * 1e6, gf, 100.0 * gf / peak,
              m.median * 1e6, double(bytes) / m.median * 1e-9,
              tc > m.median ? "fma" : "mem", bound / k.median);
  std::fflush(stdout);
  tot.time += k.median * count;
  tot.bound += bound * count;
}

Conv2DShape shapeOf(const Layer &l) {
  Conv2DShape s;
  s.channels = l.C;
  s.height = l.H;
  s.width = l.W;
  s.outChannels = l.OC;
  s.kernelH = s.kernelW = l.k;
  s.strideH = s.strideW = l.stride;
  s.padTop = s.padLeft = s.padBottom = s.padRight = l.k / 2;
  return s;
}

bool selected(const std::string &only, const char *kind, const char *name) {
  return only.empty() || only == kind ||
         std::string(name).find(only) != std::string::npos;
}

} // namespace

int main(int argc, char **argv) {
  Isa isa = Isa::Auto;
  double peak = 0, minTime = 0.2;
  std::string only;
  for (int i = 1; i < argc; ++i) {
    const char *a = argv[i];
    if (!std::strncmp(a, "--isa=", 6)) {
      const std::string v = a + 6;
      isa = v == "avx2" ? Isa::Avx2 : v == "avx512" ? Isa::Avx512 : Isa::Auto;
      if (v != "avx2" && v != "avx512" && v != "auto") {
        std::fprintf(stderr, "error: --isa takes avx2, avx512 or auto "
                             "(roofline_bench)\n");
        return 1;
      }
    } else if (!std::strncmp(a, "--peak=", 7)) {
      peak = std::atof(a + 7);
    } else if (!std::strncmp(a, "--min-time=", 11)) {
      minTime = std::atof(a + 11);
    } else if (!std::strcmp(a, "--cpu-time")) {
      ember::bench::gCpuTime = true;
    } else if (!std::strncmp(a, "--only=", 7)) {
      only = a + 7;
    } else {
      std::fprintf(stderr, "error: unknown argument '%s' (roofline_bench)\n",
                   a);
      return 1;
    }
  }
  const Isa path = fp32Family(resolveIsa(isa));
  if (!isaHasAvx2(path)) {
    std::fprintf(stderr, "error: this CPU has no AVX2 path (roofline_bench)\n");
    return 1;
  }
  if (peak <= 0) {
    ember::bench::FmaPeak p = ember::bench::measureFmaPeak(25);
    peak = isaHasAvx512(path) ? p.avx512 : p.avx2;
    std::printf("peak_gflops avx512=%.1f avx2=%.1f\n", p.avx512, p.avx2);
  }
  std::printf("isa=%s peak=%.1f GFLOP/s (single core); medians; roofline = "
              "max(FMA time at peak, memory stream time) / kernel time\n",
              isaName(path), peak);
  std::mt19937 rng(1);
  char shape[64];
  const PostOp hardSwish{PostActivation::HardSwish, 0, 0};
  const PostOp hardSigmoid{PostActivation::HardSigmoid, 1.0f / 6, 0.5f};

  Totals dw, pw, ew;
  for (const Layer &l : kDepthwise) {
    if (!selected(only, "depthwise", l.name))
      continue;
    const Conv2DShape s = shapeOf(l);
    const size_t taps = l.k * l.k, P = s.outHeight() * s.outWidth();
    std::vector<float> x = randomVec(rng, l.C * l.H * l.W);
    std::vector<float> w = randomVec(rng, l.C * taps);
    std::vector<float> bias = randomVec(rng, l.C), y(l.C * P);
    std::vector<float> packed(packedDepthwiseNhwcSize(s) / sizeof(float));
    packDepthwiseNhwc(s, w.data(), packed.data());
    Epilogue e;
    e.bias = bias.data();
    e.post = &hardSwish;
    const Timing k = timeIt(
        [&] {
          depthwiseConv2dNhwc(s, x.data(), l.C, packed.data(), y.data(), l.C, e,
                              path);
        },
        minTime);
    Stream st{{{x.data(), x.size()},
               {packed.data(), packed.size()},
               {bias.data(), bias.size()}},
              y.data(),
              y.size()};
    const Timing m = timeIt([&] { gSink = streamOnce(st); }, minTime);
    std::snprintf(shape, sizeof shape, "%zu %zux%zu %zux%zu/%zu", l.C, l.H, l.W,
                  l.k, l.k, l.stride);
    report(l.name, shape, l.count, 2.0 * l.C * P * taps, k, m, streamBytes(st),
           peak, dw);
  }
  for (const Layer &l : kPointwise) {
    if (!selected(only, "pointwise", l.name))
      continue;
    const Conv2DShape s = shapeOf(l);
    const size_t P = l.H * l.W;
    std::vector<float> x = randomVec(rng, l.C * P);
    std::vector<float> w = randomVec(rng, l.OC * l.C);
    std::vector<float> bias = randomVec(rng, l.OC), y(l.OC * P);
    std::vector<char> packed(packedConvWeightsNhwcSize(s, path));
    packConvWeightsNhwc(s, w.data(), packed.data(), path);
    std::vector<char> ws(conv2dNhwcWorkspaceSize(s));
    Epilogue e;
    e.bias = bias.data();
    const bool se = std::strstr(l.name, ".se.") != nullptr;
    if (se && l.OC > l.C)
      e.post = &hardSigmoid;
    else if (se)
      e.activation = Activation::Relu;
    else
      e.post = &hardSwish;
    const Timing k = timeIt(
        [&] {
          conv2dNhwc(s, x.data(), l.C, packed.data(), y.data(), l.OC, e, path,
                     {}, ws.data());
        },
        minTime);
    // The stream reads the packed weights: what the kernel reads.
    Stream st{{{x.data(), x.size()},
               {reinterpret_cast<const float *>(packed.data()),
                packed.size() / sizeof(float)},
               {bias.data(), bias.size()}},
              y.data(),
              y.size()};
    const Timing m = timeIt([&] { gSink = streamOnce(st); }, minTime);
    std::snprintf(shape, sizeof shape, "%zu->%zu %zux%zu", l.C, l.OC, l.H, l.W);
    report(l.name, shape, l.count, 2.0 * l.C * l.OC * P, k, m, streamBytes(st),
           peak, pw);
  }
  for (const Layer &l : kElementwise) {
    if (!selected(only, "elementwise", l.name))
      continue;
    const size_t rows = l.H * l.W, cols = l.C;
    // Values at least 3 in magnitude: fixed points of HardSwish (x or 0),
    // so calls in place keep them there (repeated on small values, they
    // would reach denormals, which slow the stream and the kernel alike).
    std::vector<float> y = randomVec(rng, rows * cols);
    for (float &v : y)
      v = v < 0 ? v * 3 - 3 : v * 3 + 3;
    const bool res = std::strstr(l.name, "+res") != nullptr;
    std::vector<float> r = randomVec(rng, res ? rows * cols : 0);
    const PostOp &op =
        std::strstr(l.name, "hsigmoid") ? hardSigmoid : hardSwish;
    const Timing k = timeIt(
        [&] {
          postActivation(op, y.data(), cols, res ? r.data() : nullptr, cols,
                         rows, cols, path);
        },
        minTime);
    Stream st{{}, y.data(), y.size(), true};
    if (res)
      st.reads.push_back({r.data(), r.size()});
    const Timing m = timeIt([&] { gSink = streamOnce(st); }, minTime);
    std::snprintf(shape, sizeof shape, "%zux%zu", rows, cols);
    report(l.name, shape, l.count, 0, k, m, streamBytes(st), peak, ew);
  }
  const char *kinds[] = {"depthwise", "pointwise (1x1)", "elementwise"};
  const Totals *tots[] = {&dw, &pw, &ew};
  for (int i = 0; i < 3; ++i)
    if (tots[i]->time > 0)
      std::printf("%s: %.1f us, bound %.1f us, roofline %.2f\n", kinds[i],
                  tots[i]->time * 1e6, tots[i]->bound * 1e6,
                  tots[i]->bound / tots[i]->time);
  return 0;
}
