//===- qdw_bench.cpp - int8 depthwise convolution throughput --------------===//
//
// Times qdepthwiseConv2dRow, channels-last in and out (what the CPU backend
// calls for an int8 model's depthwise layers), over every output row of
// MobileNetV2's 17 depthwise layers (224x224 input), MobileNetV3-Large's
// 5x5 ones and DS-CNN's, and prints GMAC/s per layer and the total time.
//
//   qdw_bench [--isa=auto|generic|avx2|avx512|avx512vnni] [--only=SUBSTR]
//             [--signed] [--per-tensor] [--repeats=N] [--cpu-time] [--min]
//
// --signed: s8 activations (ORT QDQ models with s8 activations) instead of
// u8; --per-tensor: one multiplier (QLinear models) instead of one per
// channel. Each layer is run `repeats` times (after one warm-up run) and
// the median is reported; --cpu-time reads this thread's CPU clock, which
// a loaded machine disturbs less than the wall clock; --min reports the
// fastest run instead of the median (other processes only add time).
//
//===----------------------------------------------------------------------===//
#include "ember/cpu/Kernels.h"
#include "ember/quant/Arith.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <time.h>

using namespace ember::cpu;

namespace {

struct Layer {
  const char *name;
  int64_t c, h, w, k, stride;
};

// MobileNetV2 (224): the depthwise 3x3 of each inverted residual block.
// MobileNetV3-Large: its 5x5 ones. DS-CNN (KWS): 3x3 on 25x5.
const Layer kLayers[] = {
    {"mnv2.b0 32@112", 32, 112, 112, 3, 1},
    {"mnv2.b1 96@112/2", 96, 112, 112, 3, 2},
    {"mnv2.b2 144@56", 144, 56, 56, 3, 1},
    {"mnv2.b3 144@56/2", 144, 56, 56, 3, 2},
    {"mnv2.b4 192@28 x2", 192, 28, 28, 3, 1},
    {"mnv2.b6 192@28/2", 192, 28, 28, 3, 2},
    {"mnv2.b7 384@14 x4", 384, 14, 14, 3, 1},
    {"mnv2.b11 576@14 x2", 576, 14, 14, 3, 1},
    {"mnv2.b13 576@14/2", 576, 14, 14, 3, 2},
    {"mnv2.b14 960@7 x3", 960, 7, 7, 3, 1},
    {"mnv3.5x5 72@56/2", 72, 56, 56, 5, 2},
    {"mnv3.5x5 120@28 x2", 120, 28, 28, 5, 1},
    {"mnv3.5x5 672@14/2", 672, 14, 14, 5, 2},
    {"mnv3.5x5 960@7 x2", 960, 7, 7, 5, 1},
    {"dscnn 64@25x5 x4", 64, 25, 5, 3, 1},
};

// How many times each layer occurs in its model (the "xN" in its name).
int64_t countOf(const Layer &l) {
  const char *x = std::strstr(l.name, " x");
  return x ? std::atoi(x + 2) : 1;
}

double now(bool cpuTime) {
  if (cpuTime) {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
  }
  return std::chrono::duration<double>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

Isa parseIsa(const char *s) {
  const std::pair<const char *, Isa> names[] = {
      {"auto", Isa::Auto},
      {"generic", Isa::Generic},
      {"avx2", Isa::Avx2},
      {"avx512", Isa::Avx512},
      {"avx512vnni", Isa::Avx512Vnni}};
  for (auto &n : names)
    if (!std::strcmp(s, n.first))
      return n.second;
  std::fprintf(stderr, "unknown isa %s\n", s);
  std::exit(2);
}

} // namespace

int main(int argc, char **argv) {
  Isa isa = Isa::Auto;
  std::string only;
  bool xSigned = false, perTensor = false, cpuTime = false, useMin = false;
  int repeats = 21;
  for (int i = 1; i < argc; ++i) {
    const char *a = argv[i];
    if (!std::strncmp(a, "--isa=", 6))
      isa = parseIsa(a + 6);
    else if (!std::strncmp(a, "--only=", 7))
      only = a + 7;
    else if (!std::strcmp(a, "--signed"))
      xSigned = true;
    else if (!std::strcmp(a, "--per-tensor"))
      perTensor = true;
    else if (!std::strcmp(a, "--cpu-time"))
      cpuTime = true;
    else if (!std::strcmp(a, "--min"))
      useMin = true;
    else if (!std::strncmp(a, "--repeats=", 10))
      repeats = std::max(1, std::atoi(a + 10));
    else {
      std::fprintf(stderr, "unknown option %s\n", a);
      return 2;
    }
  }
  std::printf("isa %s (requested %s), x %s, %s scales, %s time, %s\n",
              isaName(resolveIsa(isa)), isaName(isa), xSigned ? "s8" : "u8",
              perTensor ? "per-tensor" : "per-channel",
              cpuTime ? "thread CPU" : "wall", useMin ? "fastest" : "median");
  std::printf("%-22s %8s %10s %10s\n", "layer", "MMAC", "ms", "GMAC/s");
  std::mt19937 rng(5);
  double totalMs = 0, totalMac = 0;
  for (const Layer &l : kLayers) {
    if (!only.empty() && std::string(l.name).find(only) == std::string::npos)
      continue;
    QDepthwiseConv c;
    c.channels = l.c;
    c.height = l.h;
    c.width = l.w;
    c.kernelH = c.kernelW = l.k;
    c.strideH = c.strideW = l.stride;
    c.padTop = c.padLeft = l.k / 2;
    c.outHeight = (l.h + 2 * (l.k / 2) - l.k) / l.stride + 1;
    c.outWidth = (l.w + 2 * (l.k / 2) - l.k) / l.stride + 1;
    c.inNhwc = c.outNhwc = 1;
    c.xSigned = xSigned;
    c.xZeroPoint = xSigned ? -3 : 125;
    c.yZeroPoint = xSigned ? -128 : 0;
    c.ySigned = xSigned;
    c.clampMin = c.yZeroPoint; // a fused ReLU6-like clamp
    c.clampMax = c.yZeroPoint + 200;
    c.scaleCount = perTensor ? 1 : l.c;
    c.isa = isa;
    const int64_t C = l.c, KK = l.k * l.k;
    std::vector<uint8_t> x(size_t(C * l.h * l.w));
    for (uint8_t &v : x)
      v = uint8_t(rng());
    size_t biasOff = (size_t(KK * C) * 2 + 63) / 64 * 64;
    std::vector<uint8_t> packed(biasOff + size_t(C) * 4);
    int16_t *w = reinterpret_cast<int16_t *>(packed.data());
    for (int64_t i = 0; i < KK * C; ++i)
      w[i] = int16_t(int(rng() % 255) - 127);
    int32_t *bias = reinterpret_cast<int32_t *>(packed.data() + biasOff);
    for (int64_t i = 0; i < C; ++i)
      bias[i] = int32_t(rng() % 20000) - 10000;
    c.biasOffset = int64_t(biasOff);
    std::vector<int32_t> mult(size_t(c.scaleCount)), shift(mult.size());
    for (size_t i = 0; i < mult.size(); ++i) {
      ember::quant::Multiplier m =
          ember::quant::quantizeMultiplier(0.002 + 0.001 * double(i % 7));
      mult[i] = m.mult;
      shift[i] = m.shift;
    }
    std::vector<uint8_t> y(size_t(C * c.outHeight * c.outWidth));
    std::vector<int32_t> acc(static_cast<size_t>(C));
    c.x = x.data();
    c.y = y.data();
    c.packed = packed.data();
    c.multiplier = mult.data();
    c.shift = shift.data();
    qdepthwisePrepare(c); // as the CPU backend's runtime does
    auto run = [&] {
      for (int64_t oh = 0; oh < c.outHeight; ++oh)
        if (qdepthwiseConv2dRow(c, 0, size_t(oh), 0, 1, acc.data()) !=
            Status::Ok) {
          std::fprintf(stderr, "qdepthwiseConv2dRow failed\n");
          std::exit(1);
        }
    };
    run();
    std::vector<double> t;
    for (int r = 0; r < repeats; ++r) {
      double t0 = now(cpuTime);
      run();
      t.push_back(now(cpuTime) - t0);
    }
    std::sort(t.begin(), t.end());
    double s = useMin ? t[0] : t[t.size() / 2];
    double mac = double(C * c.outHeight * c.outWidth * KK);
    int64_t n = countOf(l);
    totalMs += 1e3 * s * double(n);
    totalMac += mac * double(n);
    std::printf("%-22s %8.2f %10.4f %10.2f\n", l.name, mac * 1e-6, 1e3 * s,
                mac / s * 1e-9);
  }
  std::printf("%-22s %8.2f %10.4f %10.2f   (layers x their count)\n", "total",
              totalMac * 1e-6, totalMs, totalMac / (totalMs * 1e-3) * 1e-9);
  return 0;
}
