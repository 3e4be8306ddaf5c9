//===- gemm_bench.cpp - single-core GEMM / conv throughput vs FMA peak ----===//
//
// Times, on one thread:
//  - sgemmPacked (B pre-packed) for M = N = K = 1024 and for the implicit-GEMM
//    shape (M = out channels, N = OH*OW, K = C*KH*KW) of every distinct
//    convolution of ResNet-50, SqueezeNet 1.1 and dbnet-toy and every 1x1
//    one of MobileNetV2 at batch 1 (--only=mobilenetv2-1x1) and the main
//    ones of the mobile detector and classifier families (--only=mobile-1x1,
//    or mob.<family> for one);
//  - conv2d on the real convolution (weights pre-packed, input NCHW), which
//    adds the im2col packing the plain GEMM does not pay for;
//  - each model's whole set of convolutions weighted by how often each
//    occurs (ResNet-50: 53, SqueezeNet 1.1: 26; a summary line per model);
//  - qgemmPacked (u8 x s8 -> u8, per-column requantization) at 1024^3, in
//    GOP/s (no peak comparison: the fp32 FMA peak does not apply);
//  - qgemmPacked on a few MatMulInteger shapes (one-row classifiers,
//    transformer-sized GEMMs); with --only=qpaired, transformer GEMMs with
//    per-tensor weights on the exact tile and the paired one (AVX2); with
//    --only=qsplit-gemm, the AVX2 split tile against the exact one at
//    shares of hot bytes, the split one also against the int8 peak
//    measured in pairs with it (benchQGemm);
//  - with --only=vit (or bert, or transformers for both), the GEMMs of
//    vit-toy (DeiT-Tiny-sized: 197 tokens, dim 192, 3 heads, MLP 768) and
//    bert-toy (32 tokens, dim 32): the weight GEMMs through sgemmPacked with
//    the model's epilogue (per-column bias, the residual where the block
//    adds one), attention's Q x K^T and P x V through sgemm (both operands
//    run-time), and the model's total (each shape times its occurrences);
//  - with --only=winograd (or --layer= a 3x3 stride-1 one), the direct
//    channels-last convolution against Winograd F(2x2, 3x3)
//    (conv2dNhwcWinograd) on every 3x3 stride-1 layer of the sets, in
//    turn on the same data: the per-pair ratio direct / Winograd;
//  - with --only=grouped, grouped 3x3 layers (ResNeXt- and RegNet-style)
//    as conv2d per group (NCHW), conv2dNhwc per group and
//    groupedConv2dNhwc (all groups at once);
//  - with --only=depthwise, depthwiseConv2d (NCHW) and depthwiseConv2dNhwc
//    (channels-last) on the depthwise layers of MobileNetV2 and mnv3-toy
//    (bias + ReLU), in GFLOP/s and against the FMA peak;
//  - with --only=qconv (or qconv-resnet50 / qconv-mnv2 for one set),
//    qconv2dNhwc (int8, channels-last) on every distinct
//    convolution of ResNet-50 and the 1x1 ones of MobileNetV2, requantized
//    three ways in the same run: ONNX Runtime's fp32 form from u8 input,
//    Ember's fixed point (docs/quantization.md) from u8 input, and from s8
//    input (flipped to u8 as the tile reads it). On a path without
//    qconv2dNhwc (--isa=generic: what AVX2 hosts ran before the AVX2
//    kernel) it times the runtime's fallback, im2row + qgemmPacked.
// Each figure is the median of repeats (best also shown) and is printed
// against this machine's measured single-core FMA peak (FmaPeak.h).
//
// Usage: gemm_bench [--isa=auto|generic|avx2|avx512] [--peak=GFLOPS]
//                   [--min-time=SECONDS] [--cold-weights] [--cpu-time]
//                   [--residual] [--hot=PERCENT] [--qshape=M,N,K]  (qconv: u8
//                   input with that share of bytes >= 128 and zero point 0, as
//                   after a ReLU; default uniform bytes, zero point 125)
//                   [--only=1024|int8|qpaired|qconv|qconv-resnet50|qconv-mnv2|
//                           winograd|
//                           depthwise|grouped|resnet50|squeezenet1.1|dbnet-toy|
//                           mobilenetv2-1x1|mobile-1x1|
//                           vit|bert|transformers|
//                           LAYER-SUBSTRING]
//                   [--gemm=M,N,K[,sgemm]]  (one GEMM with a per-column
//                   bias: B packed, or both operands run-time with sgemm)
//                   [--layer=C,H,W,OC,K,STRIDE,PAD[,nchw]]   (one layer:
//                   square kernel K; nchw: the channels-last column unfolds
//                   a row-major input, conv2dNhwcFromNchw)
//
//===----------------------------------------------------------------------===//
#include "BenchTiming.h"
#include "FmaPeak.h"

#include "ember/cpu/Kernels.h"

#include "QGemm.h"      // the split tile's pass counts
#include "QGemmSplit.h" // and the GEMM's block counts

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <initializer_list>
#include <iterator>
#include <random>
#include <string>
#include <vector>

using namespace ember::cpu;
using ember::bench::gCpuTime;
using ember::bench::nowSeconds;
using ember::bench::timeIt;
using ember::bench::Timing;

namespace {

/// --residual: the channels-last convolutions (nhwc) add a residual of the
/// output's shape before the Relu (a ResNet block's last layer).
bool gResidual = false;
/// --hot: the share (percent) of qconv input bytes at 128 or more; < 0:
/// uniform random bytes.
double gHotPercent = -1;
// --qshape=M,N,K: qsplit-gemm runs that shape instead of its six.
size_t gQShape[3] = {0, 0, 0};

/// --layer=...,nchw: the channels-last column runs conv2dNhwcFromNchw (a
/// first layer reading a row-major input) whatever the channel count.
bool gFromNchw = false;

struct ConvLayer {
  const char *name;
  size_t C, H, W, OC, k, stride, pad;
  int count; ///< occurrences in ResNet-50 (torchvision v1.5 layout)
};

// Every distinct convolution of ResNet-50 at 224x224, batch 1.
const ConvLayer kResNet50[] = {
    {"conv1", 3, 224, 224, 64, 7, 2, 3, 1},
    {"l1.b1.conv1", 64, 56, 56, 64, 1, 1, 0, 1},
    {"l1.conv2", 64, 56, 56, 64, 3, 1, 1, 3},
    {"l1.conv3+ds", 64, 56, 56, 256, 1, 1, 0, 4},
    {"l1.conv1", 256, 56, 56, 64, 1, 1, 0, 2},
    {"l2.b1.conv1", 256, 56, 56, 128, 1, 1, 0, 1},
    {"l2.b1.conv2", 128, 56, 56, 128, 3, 2, 1, 1},
    {"l2.conv3", 128, 28, 28, 512, 1, 1, 0, 4},
    {"l2.b1.ds", 256, 56, 56, 512, 1, 2, 0, 1},
    {"l2.conv1", 512, 28, 28, 128, 1, 1, 0, 3},
    {"l2.conv2", 128, 28, 28, 128, 3, 1, 1, 3},
    {"l3.b1.conv1", 512, 28, 28, 256, 1, 1, 0, 1},
    {"l3.b1.conv2", 256, 28, 28, 256, 3, 2, 1, 1},
    {"l3.conv3", 256, 14, 14, 1024, 1, 1, 0, 6},
    {"l3.b1.ds", 512, 28, 28, 1024, 1, 2, 0, 1},
    {"l3.conv1", 1024, 14, 14, 256, 1, 1, 0, 5},
    {"l3.conv2", 256, 14, 14, 256, 3, 1, 1, 5},
    {"l4.b1.conv1", 1024, 14, 14, 512, 1, 1, 0, 1},
    {"l4.b1.conv2", 512, 14, 14, 512, 3, 2, 1, 1},
    {"l4.conv3", 512, 7, 7, 2048, 1, 1, 0, 3},
    {"l4.b1.ds", 1024, 14, 14, 2048, 1, 2, 0, 1},
    {"l4.conv1", 2048, 7, 7, 512, 1, 1, 0, 2},
    {"l4.conv2", 512, 7, 7, 512, 3, 1, 1, 2},
};

// Every distinct convolution of SqueezeNet 1.1 at 224x224, batch 1 (fire
// modules: squeeze 1x1, expand 1x1 and expand 3x3 side by side).
const ConvLayer kSqueezeNet[] = {
    {"sq.conv1", 3, 224, 224, 64, 3, 2, 0, 1},
    {"sq.fire2.s", 64, 55, 55, 16, 1, 1, 0, 1},
    {"sq.fire3.s", 128, 55, 55, 16, 1, 1, 0, 1},
    {"sq.fire23.e1", 16, 55, 55, 64, 1, 1, 0, 2},
    {"sq.fire23.e3", 16, 55, 55, 64, 3, 1, 1, 2},
    {"sq.fire4.s", 128, 27, 27, 32, 1, 1, 0, 1},
    {"sq.fire5.s", 256, 27, 27, 32, 1, 1, 0, 1},
    {"sq.fire45.e1", 32, 27, 27, 128, 1, 1, 0, 2},
    {"sq.fire45.e3", 32, 27, 27, 128, 3, 1, 1, 2},
    {"sq.fire6.s", 256, 13, 13, 48, 1, 1, 0, 1},
    {"sq.fire7.s", 384, 13, 13, 48, 1, 1, 0, 1},
    {"sq.fire67.e1", 48, 13, 13, 192, 1, 1, 0, 2},
    {"sq.fire67.e3", 48, 13, 13, 192, 3, 1, 1, 2},
    {"sq.fire8.s", 384, 13, 13, 64, 1, 1, 0, 1},
    {"sq.fire9.s", 512, 13, 13, 64, 1, 1, 0, 1},
    {"sq.fire89.e1", 64, 13, 13, 256, 1, 1, 0, 2},
    {"sq.fire89.e3", 64, 13, 13, 256, 3, 1, 1, 2},
    {"sq.conv10", 512, 13, 13, 1000, 1, 1, 0, 1},
};

// Every convolution of dbnet-toy at 320x320 (bench/cpu/dense_models.py):
// few output channels (16-64) on large maps, where a 64-channel tile runs a
// quarter to half full. The head's four 64->16 convs run at 80, 40, 20, 10.
const ConvLayer kDbnet[] = {
    {"db.conv1", 3, 320, 320, 16, 3, 2, 1, 1},
    {"db.c1", 16, 160, 160, 16, 3, 1, 1, 1},
    {"db.s2", 16, 160, 160, 32, 3, 2, 1, 1},
    {"db.c2", 32, 80, 80, 32, 3, 1, 1, 1},
    {"db.s3", 32, 80, 80, 64, 3, 2, 1, 1},
    {"db.c3", 64, 40, 40, 64, 3, 1, 1, 1},
    {"db.s4", 64, 40, 40, 128, 3, 2, 1, 1},
    {"db.c4", 128, 20, 20, 128, 3, 1, 1, 1},
    {"db.s5", 128, 20, 20, 256, 3, 2, 1, 1},
    {"db.c5", 256, 10, 10, 256, 3, 1, 1, 1},
    {"db.lat2", 32, 80, 80, 64, 1, 1, 0, 1},
    {"db.lat3", 64, 40, 40, 64, 1, 1, 0, 1},
    {"db.lat4", 128, 20, 20, 64, 1, 1, 0, 1},
    {"db.lat5", 256, 10, 10, 64, 1, 1, 0, 1},
    {"db.head80", 64, 80, 80, 16, 3, 1, 1, 2},
    {"db.head40", 64, 40, 40, 16, 3, 1, 1, 1},
    {"db.head20", 64, 20, 20, 16, 3, 1, 1, 1},
    {"db.head10", 64, 10, 10, 16, 3, 1, 1, 1},
};

// The 1x1 convolutions of MobileNetV2 (expand and project; the 3x3 ones
// are depthwise), at 224x224, batch 1.
const ConvLayer kMobileNetV2Pointwise[] = {
    {"mb.b1.proj", 32, 112, 112, 16, 1, 1, 0, 1},
    {"mb.b2.exp", 16, 112, 112, 96, 1, 1, 0, 1},
    {"mb.b2.proj", 96, 56, 56, 24, 1, 1, 0, 1},
    {"mb.b3.exp", 24, 56, 56, 144, 1, 1, 0, 2},
    {"mb.b3.proj", 144, 56, 56, 24, 1, 1, 0, 1},
    {"mb.b4.proj", 144, 28, 28, 32, 1, 1, 0, 1},
    {"mb.b5.exp", 32, 28, 28, 192, 1, 1, 0, 3},
    {"mb.b5.proj", 192, 28, 28, 32, 1, 1, 0, 2},
    {"mb.b7.proj", 192, 14, 14, 64, 1, 1, 0, 1},
    {"mb.b8.exp", 64, 14, 14, 384, 1, 1, 0, 4},
    {"mb.b8.proj", 384, 14, 14, 64, 1, 1, 0, 3},
    {"mb.b11.proj", 384, 14, 14, 96, 1, 1, 0, 1},
    {"mb.b12.exp", 96, 14, 14, 576, 1, 1, 0, 3},
    {"mb.b12.proj", 576, 14, 14, 96, 1, 1, 0, 2},
    {"mb.b14.proj", 576, 7, 7, 160, 1, 1, 0, 1},
    {"mb.b15.exp", 160, 7, 7, 960, 1, 1, 0, 3},
    {"mb.b15.proj", 960, 7, 7, 160, 1, 1, 0, 2},
    {"mb.b17.proj", 960, 7, 7, 320, 1, 1, 0, 1},
    {"mb.conv", 320, 7, 7, 1280, 1, 1, 0, 1},
};

// The 1x1 convolutions of the mobile families of the dense set
// (bench/cpu/mobile_models.py) that carry most of their work, at the
// sizes the set runs them (YOLOv8n and PicoDet-S 320x320, PP-LCNet,
// MobileNetV3-Large and EfficientNet-B0 224x224, PP-LCNet x2.0 224x224):
// small maps late in the networks (7x7, 10x10, 14x14) with deep inputs,
// few channels early. Counts are per model summed over the set.
const ConvLayer kMobilePointwise[] = {
    {"mob.yolo.c2f4", 384, 10, 10, 256, 1, 1, 0, 3},
    {"mob.yolo.c2f3", 192, 20, 20, 128, 1, 1, 0, 3},
    {"mob.yolo.c2f2", 192, 40, 40, 64, 1, 1, 0, 1},
    {"mob.yolo.head", 80, 40, 40, 80, 1, 1, 0, 1},
    {"mob.pico.p3", 96, 40, 40, 96, 1, 1, 0, 6},
    {"mob.pico.p4", 192, 20, 20, 192, 1, 1, 0, 5},
    {"mob.pico.lat3", 192, 40, 40, 48, 1, 1, 0, 2},
    {"mob.pico.p5", 96, 10, 10, 96, 1, 1, 0, 5},
    {"mob.lcnet.s4", 256, 14, 14, 256, 1, 1, 0, 5},
    {"mob.lcnet.s5", 512, 7, 7, 512, 1, 1, 0, 1},
    {"mob.lcnet.s1", 16, 112, 112, 32, 1, 1, 0, 1},
    {"mob.mnv3.exp14", 112, 14, 14, 672, 1, 1, 0, 2},
    {"mob.mnv3.exp7", 160, 7, 7, 960, 1, 1, 0, 3},
    {"mob.mnv3.proj7", 960, 7, 7, 160, 1, 1, 0, 2},
    {"mob.mnv3.proj14", 672, 14, 14, 112, 1, 1, 0, 1},
    {"mob.mnv3.proj80", 184, 14, 14, 80, 1, 1, 0, 2},
    {"mob.eff.exp14", 112, 14, 14, 672, 1, 1, 0, 3},
    {"mob.eff.exp7", 192, 7, 7, 1152, 1, 1, 0, 4},
    {"mob.eff.proj7", 1152, 7, 7, 192, 1, 1, 0, 3},
    {"mob.eff.proj14", 672, 14, 14, 112, 1, 1, 0, 2},
    {"mob.eff.head", 320, 7, 7, 1280, 1, 1, 0, 1},
    {"mob.eff.proj320", 1152, 7, 7, 320, 1, 1, 0, 1},
    {"mob.eff.exp112", 16, 112, 112, 96, 1, 1, 0, 1},
    {"mob.lcx2.s4", 512, 14, 14, 512, 1, 1, 0, 5},
    {"mob.lcx2.s5", 1024, 7, 7, 1024, 1, 1, 0, 1},
    {"mob.lcx2.s2", 128, 56, 56, 128, 1, 1, 0, 1},
};

struct ModelConvs {
  const char *name;
  const ConvLayer *layers;
  size_t count;
};
const ModelConvs kModels[] = {
    {"resnet50", kResNet50, sizeof(kResNet50) / sizeof(kResNet50[0])},
    {"squeezenet1.1", kSqueezeNet,
     sizeof(kSqueezeNet) / sizeof(kSqueezeNet[0])},
    {"dbnet-toy", kDbnet, sizeof(kDbnet) / sizeof(kDbnet[0])},
    {"mobilenetv2-1x1", kMobileNetV2Pointwise,
     sizeof(kMobileNetV2Pointwise) / sizeof(kMobileNetV2Pointwise[0])},
    {"mobile-1x1", kMobilePointwise, std::size(kMobilePointwise)},
};

Conv2DShape shapeOf(const ConvLayer &l) {
  Conv2DShape s;
  s.channels = l.C;
  s.height = l.H;
  s.width = l.W;
  s.outChannels = l.OC;
  s.kernelH = s.kernelW = l.k;
  s.strideH = s.strideW = l.stride;
  s.padTop = s.padLeft = s.padBottom = s.padRight = l.pad;
  return s;
}

std::vector<float> randomVec(std::mt19937 &rng, size_t n) {
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float &x : v)
    x = d(rng);
  return v;
}

/// Times sgemmPacked on M x N x K with B pre-packed; returns seconds.
Timing benchGemm(size_t M, size_t N, size_t K, Isa isa, double minTime,
                 std::mt19937 &rng) {
  std::vector<float> A = randomVec(rng, M * K), B = randomVec(rng, K * N);
  std::vector<float> C(M * N);
  std::vector<char> packed(packedBSize(K, N, isa));
  std::vector<char> ws(gemmWorkspaceSize(isa));
  packB(K, N, B.data(), N, packed.data(), isa);
  return timeIt(
      [&] {
        sgemmPacked(M, N, K, A.data(), K, packed.data(), C.data(), N, {}, isa,
                    0, 0, ws.data());
      },
      minTime);
}

/// One GEMM of a transformer: packed (weights as B, sgemmPacked) or with
/// both operands run-time (sgemm, attention's products), a per-column bias
/// and optionally a residual of C's shape.
struct TransformerGemm {
  const char *name;
  size_t M, N, K;
  bool packed, bias, residual;
  int count; ///< occurrences in the model
};

// vit-toy (bench-set dense/vit-toy): 4 blocks; per block the QKV
// projection, 3 heads of Q x K^T (K = 64) and P x V (K = 197), the output
// projection (+ residual), the MLP (+ residual); and the patch embedding
// (a 16x16/16 convolution, here its GEMM: 196 patches x 768).
const TransformerGemm kVit[] = {
    {"vit.qkv", 197, 576, 192, true, true, false, 4},
    {"vit.qk", 197, 197, 64, false, false, false, 12},
    {"vit.pv", 197, 64, 197, false, false, false, 12},
    {"vit.proj", 197, 192, 192, true, true, true, 4},
    {"vit.fc1", 197, 768, 192, true, true, false, 4},
    {"vit.fc2", 197, 192, 768, true, true, true, 4},
    {"vit.patch", 196, 192, 768, true, true, false, 1},
};
// bert-toy (/work/shared/models/bert-toy at 32 tokens): hidden 32, 5 layers,
// intermediate 37; attention heads of 8 (4 per layer).
const TransformerGemm kBert[] = {
    {"bert.qkv", 32, 32, 32, true, true, false, 15},
    {"bert.qk", 32, 32, 8, false, false, false, 20},
    {"bert.pv", 32, 8, 32, false, false, false, 20},
    {"bert.out", 32, 32, 32, true, true, true, 5},
    {"bert.fc1", 32, 37, 32, true, true, false, 5},
    {"bert.fc2", 32, 32, 37, true, true, true, 5},
};

Timing benchTransformerGemm(const TransformerGemm &g, Isa isa, double minTime,
                            std::mt19937 &rng) {
  const size_t M = g.M, N = g.N, K = g.K;
  std::vector<float> A = randomVec(rng, M * K), B = randomVec(rng, K * N);
  std::vector<float> bias = randomVec(rng, N), res = randomVec(rng, M * N);
  std::vector<float> C(M * N);
  std::vector<char> ws(gemmWorkspaceSize(isa));
  Epilogue e;
  if (g.bias) {
    e.bias = bias.data();
    e.biasAxis = BiasAxis::PerColumn;
  }
  if (g.residual) {
    e.residual = res.data();
    e.ldr = N;
  }
  if (!g.packed)
    return timeIt(
        [&] {
          sgemm(M, N, K, A.data(), K, B.data(), N, C.data(), N, e, isa,
                ws.data());
        },
        minTime);
  std::vector<char> packed(packedBSize(K, N, isa));
  packB(K, N, B.data(), N, packed.data(), isa);
  return timeIt(
      [&] {
        sgemmPacked(M, N, K, A.data(), K, packed.data(), C.data(), N, e, isa, 0,
                    0, ws.data());
      },
      minTime);
}

/// Packed weights of `size` bytes, packed by `pack`: one copy, or with
/// `cold` enough copies (256 MB) that cycling through them finds none
/// cached, as a whole model's weights are.
template <typename F>
std::vector<std::vector<char>> weightCopies(size_t size, bool cold, F pack) {
  const size_t copies =
      cold ? std::max<size_t>(1, (size_t(256) << 20) / size + 1) : 1;
  std::vector<std::vector<char>> packed(copies, std::vector<char>(size));
  for (std::vector<char> &p : packed)
    pack(p.data());
  return packed;
}

/// Times conv2d (bias + ReLU epilogue) on one layer; returns seconds.
Timing benchConv(const Conv2DShape &s, Isa isa, double minTime,
                 bool coldWeights, std::mt19937 &rng) {
  std::vector<float> x = randomVec(rng, s.channels * s.height * s.width);
  std::vector<float> w =
      randomVec(rng, s.outChannels * s.channels * s.kernelH * s.kernelW);
  std::vector<float> bias = randomVec(rng, s.outChannels);
  std::vector<float> y(s.outChannels * s.outHeight() * s.outWidth());
  // Cold weights: as in a whole model, whose weights (ResNet-50: 100 MB) do
  // not fit in the caches, each call reads weights no recent call touched;
  // the input stays warm (the previous layer just wrote it).
  std::vector<std::vector<char>> packed =
      weightCopies(packedConvWeightsSize(s, isa), coldWeights,
                   [&](void *p) { packConvWeights(s, w.data(), p, isa); });
  const size_t copies = packed.size();
  std::vector<char> ws(conv2dWorkspaceSize(s, isa));
  Epilogue epi;
  epi.bias = bias.data();
  epi.activation = Activation::Relu;
  size_t next = 0;
  return timeIt(
      [&] {
        conv2d(s, x.data(), packed[next].data(), y.data(), epi, isa, {},
               ws.data());
        next = (next + 1) % copies;
      },
      minTime);
}

/// Times the channels-last convolution a model runs for `s` (bias + ReLU
/// epilogue), with weights cold or warm as benchConv; a zero median if the
/// path cannot run. First layers (fewer than 4 input channels, the graph's
/// NCHW input) run conv2dNhwcFromNchw, as the CPU backend compiles them;
/// the others conv2dNhwc.
Timing benchConvNhwc(const Conv2DShape &s, Isa isa, double minTime,
                     bool coldWeights, std::mt19937 &rng) {
  const size_t K = s.channels * s.kernelH * s.kernelW, N = s.outChannels;
  const bool fromNchw = s.channels < 4 || gFromNchw;
  std::vector<float> x = randomVec(rng, s.channels * s.height * s.width);
  std::vector<float> w = randomVec(rng, K * N);
  std::vector<float> bias = randomVec(rng, N);
  std::vector<float> y(N * s.outHeight() * s.outWidth());
  std::vector<std::vector<char>> packed = weightCopies(
      packedConvWeightsNhwcSize(s, isa), coldWeights,
      [&](void *p) { packConvWeightsNhwc(s, w.data(), p, isa, fromNchw); });
  const size_t copies = packed.size();
  if (fromNchw ? !conv2dNhwcFromNchwSupported(s, packed[0].data(), isa)
               : !conv2dNhwcSupported(s, packed[0].data(), isa))
    return Timing{};
  std::vector<char> ws(fromNchw ? conv2dNhwcFromNchwWorkspaceSize(s)
                                : conv2dNhwcWorkspaceSize(s));
  const std::vector<float> res =
      gResidual ? randomVec(rng, y.size()) : std::vector<float>();
  Epilogue epi;
  epi.bias = bias.data();
  epi.activation = Activation::Relu;
  if (gResidual) {
    epi.residual = res.data();
    epi.ldr = N;
  }
  size_t next = 0;
  return timeIt(
      [&] {
        if (fromNchw)
          conv2dNhwcFromNchw(s, x.data(), packed[next].data(), y.data(), N, epi,
                             isa, {}, ws.data());
        else
          conv2dNhwc(s, x.data(), s.channels, packed[next].data(), y.data(), N,
                     epi, isa, {}, ws.data());
        next = (next + 1) % copies;
      },
      minTime);
}

/// The int8 peak loop of a path (FmaPeak.h: vpdpbusd on the VNNI paths,
/// the vpmaddubsw sequence on AVX2), called with an iteration count; it
/// returns its GOP/s.
using PeakLoop = double (*)(int64_t);
PeakLoop int8PeakLoop(Isa path) {
  return path == Isa::Avx512Vnni ? ember::bench::dpbusdAvx512
         : path == Isa::AvxVnni  ? ember::bench::dpbusdAvxVnni
                                 : ember::bench::maddubsAvx2;
}

/// Times qgemmPacked (u8 x s8, per-column float requantization to u8), B
/// packed for path packIsa (Auto: isa's own).
/// With `weights` (a weight width sigma > 0), B as a per-tensor quantizer
/// makes it (a rounded normal, saturated), packed with `extra`.
/// With `peak`, also the kernel's share of the int8 peak measured in pairs
/// (`*peakShare`): the peak loop (about 4 ms) then the call, the share of
/// each pair its GOP/s over the loop's, the median of the pairs. A host
/// whose speed drifts between repeats (other jobs, clock changes) moves
/// both halves of a pair alike, where a best-of peak against a median call
/// reads the drift as the kernel's.
Timing benchQGemm(size_t M, size_t N, size_t K, Isa isa, double minTime,
                  std::mt19937 &rng, Isa packIsa = Isa::Auto,
                  double weights = 0, QPackExtra extra = QPackExtra::SplitTile,
                  PeakLoop peak = nullptr, double *peakShare = nullptr) {
  if (packIsa == Isa::Auto)
    packIsa = isa;
  std::vector<uint8_t> A(M * K);
  std::vector<int8_t> B(K * N);
  for (uint8_t &v : A)
    v = static_cast<uint8_t>(rng());
  if (gHotPercent >= 0) // post-ReLU-like, as qconv's input
    for (uint8_t &v : A)
      v = static_cast<uint8_t>((rng() % 10000 < gHotPercent * 100 ? 128 : 0) +
                               v % 128);
  std::normal_distribution<double> normal(0.0, weights > 0 ? weights : 1.0);
  for (int8_t &v : B)
    v = weights > 0 ? static_cast<int8_t>(std::max(
                          -128.0, std::min(127.0, std::round(normal(rng)))))
                    : static_cast<int8_t>(rng());
  std::vector<float> scale(N, 0.0005f);
  const int8_t zp = 0;
  std::vector<uint8_t> C(M * N);
  std::vector<char> packed(packedQBSize(K, N, packIsa));
  std::vector<char> ws(qgemmWorkspaceSize(K, isa));
  packQB(K, N, B.data(), N, 128, &zp, 1, nullptr, packed.data(), packIsa, false,
         extra);
  Requantize rq;
  rq.output = QOutput::UInt8;
  rq.kind = QScaleKind::Float; // (FixedPoint, the default, needs tables)
  rq.scale = scale.data();
  rq.scaleCount = N;
  rq.zeroPoint = 128;
  auto call = [&] {
    qgemmPacked(M, N, K, A.data(), K, packed.data(), C.data(), N, rq, isa, 0, 0,
                ws.data());
  };
  const Timing t = timeIt(call, minTime);
  if (peak && peakShare) {
    const double ops = 2.0 * static_cast<double>(M * N * K);
    std::vector<double> share;
    double total = 0;
    while (total < minTime || share.size() < 9) {
      const double peakGops = peak(ember::bench::kIters / 16);
      const double t0 = nowSeconds();
      call();
      const double secs = nowSeconds() - t0;
      total += secs;
      share.push_back(ops / secs * 1e-9 / peakGops);
    }
    std::sort(share.begin(), share.end());
    *peakShare = share[share.size() / 2];
  }
  return t;
}

// The depthwise layers of MobileNetV2 (3x3, pad 1) at 224x224 and of
// mnv3-toy (3x3 and 5x5; bench/cpu/dense_models.py), batch 1: C, H, W,
// kernel, stride, pad (OC = C).
const ConvLayer kDepthwise[] = {
    {"mb.dw1", 32, 112, 112, 32, 3, 1, 1, 1},
    {"mb.dw2", 96, 112, 112, 96, 3, 2, 1, 1},
    {"mb.dw3", 144, 56, 56, 144, 3, 1, 1, 1},
    {"mb.dw4", 144, 56, 56, 144, 3, 2, 1, 1},
    {"mb.dw5", 192, 28, 28, 192, 3, 1, 1, 2},
    {"mb.dw7", 192, 28, 28, 192, 3, 2, 1, 1},
    {"mb.dw8", 384, 14, 14, 384, 3, 1, 1, 4},
    {"mb.dw12", 576, 14, 14, 576, 3, 1, 1, 2},
    {"mb.dw14", 576, 14, 14, 576, 3, 2, 1, 1},
    {"mb.dw15", 960, 7, 7, 960, 3, 1, 1, 3},
    {"m3.dw1", 16, 112, 112, 16, 3, 2, 1, 1},
    {"m3.dw2", 72, 56, 56, 72, 3, 2, 1, 1},
    {"m3.dw3", 88, 28, 28, 88, 3, 1, 1, 1},
    {"m3.dw4", 96, 28, 28, 96, 5, 2, 2, 1},
    {"m3.dw5", 240, 14, 14, 240, 5, 1, 2, 2},
    {"m3.dw7", 120, 14, 14, 120, 5, 1, 2, 1},
    {"m3.dw8", 144, 14, 14, 144, 5, 1, 2, 1},
    {"m3.dw9", 288, 14, 14, 288, 5, 2, 2, 1},
    {"m3.dw10", 576, 7, 7, 576, 5, 1, 2, 2},
};

// Grouped 3x3 layers (pad 1): resnext-toy's (bench/cpu/dense_models.py,
// 32 groups of 4, 8, 16 and 32 channels) and RegNetX-400MF-style ones (16
// channels a group). C, H, W, OC, kernel, stride, pad, groups.
struct GroupedLayer {
  const char *name;
  ConvLayer l;
  size_t groups;
};
const GroupedLayer kGrouped[] = {
    {"rx.g1", {"", 128, 56, 56, 128, 3, 1, 1, 1}, 32},
    {"rx.g2", {"", 256, 56, 56, 256, 3, 2, 1, 1}, 32},
    {"rx.g3", {"", 512, 28, 28, 512, 3, 2, 1, 1}, 32},
    {"rx.g4", {"", 1024, 14, 14, 1024, 3, 2, 1, 1}, 32},
    {"rg.s1", {"", 32, 56, 56, 32, 3, 1, 1, 1}, 2},
    {"rg.s2", {"", 64, 28, 28, 64, 3, 1, 1, 4}, 4},
    {"rg.s3", {"", 160, 14, 14, 160, 3, 1, 1, 6}, 10},
    {"rg.s4", {"", 384, 7, 7, 384, 3, 1, 1, 11}, 24},
};

/// Times a grouped convolution on one layer (bias + ReLU): `form` 0 runs
/// conv2d (NCHW) per group, 1 conv2dNhwc per group (each group's channel
/// slices of the channels-last x and y), 2 groupedConv2dNhwc (all groups in
/// one call).
Timing benchGrouped(const Conv2DShape &s, size_t G, int form, Isa isa,
                    double minTime, std::mt19937 &rng) {
  const size_t taps = s.kernelH * s.kernelW, P = s.outHeight() * s.outWidth();
  Conv2DShape g = s;
  g.channels = s.channels / G;
  g.outChannels = s.outChannels / G;
  std::vector<float> x = randomVec(rng, s.channels * s.height * s.width);
  std::vector<float> w = randomVec(rng, s.outChannels * g.channels * taps);
  std::vector<float> bias = randomVec(rng, s.outChannels);
  std::vector<float> y(s.outChannels * P);
  Epilogue epi;
  epi.bias = bias.data();
  epi.activation = Activation::Relu;
  if (form == 2) {
    std::vector<float> packed(packedGroupedConvNhwcSize(s, G) / sizeof(float));
    packGroupedConvNhwc(s, G, w.data(), packed.data());
    return timeIt(
        [&] {
          groupedConv2dNhwc(s, G, x.data(), s.channels, packed.data(), y.data(),
                            s.outChannels, epi, isa);
        },
        minTime);
  }
  const size_t per =
      form ? packedConvWeightsNhwcSize(g, isa) : packedConvWeightsSize(g, isa);
  std::vector<std::vector<char>> packed(G, std::vector<char>(per));
  for (size_t k = 0; k < G; ++k) {
    const float *wg = w.data() + k * g.outChannels * g.channels * taps;
    if (form)
      packConvWeightsNhwc(g, wg, packed[k].data(), isa);
    else
      packConvWeights(g, wg, packed[k].data(), isa);
  }
  std::vector<char> ws(form ? conv2dNhwcWorkspaceSize(g)
                            : conv2dWorkspaceSize(g, isa));
  return timeIt(
      [&] {
        for (size_t k = 0; k < G; ++k) {
          Epilogue e = epi;
          e.bias = bias.data() + k * g.outChannels;
          if (form)
            conv2dNhwc(g, x.data() + k * g.channels, s.channels,
                       packed[k].data(), y.data() + k * g.outChannels,
                       s.outChannels, e, isa, {}, ws.data());
          else
            conv2d(g, x.data() + k * g.channels * s.height * s.width,
                   packed[k].data(), y.data() + k * g.outChannels * P, e, isa,
                   {}, ws.data());
        }
      },
      minTime);
}

/// Channels-last im2row of output pixels [p0, p1) in (kh, kw, c) order,
/// padding reading zp: what the CPU backend's runtime does before
/// qgemmPacked when qconv2dNhwc has no path (RtKernels.cpp, qconvChunk).
void im2rowNhwc(const Conv2DShape &s, const uint8_t *x, size_t p0, size_t p1,
                uint8_t zp, uint8_t *rows) {
  const size_t C = s.channels, OW = s.outWidth();
  for (size_t pix = p0; pix < p1; ++pix) {
    const ptrdiff_t oh = ptrdiff_t(pix / OW), ow = ptrdiff_t(pix % OW);
    for (size_t kh = 0; kh < s.kernelH; ++kh)
      for (size_t kw = 0; kw < s.kernelW; ++kw, rows += C) {
        const ptrdiff_t ih = oh * ptrdiff_t(s.strideH) - ptrdiff_t(s.padTop) +
                             ptrdiff_t(kh * s.dilationH);
        const ptrdiff_t iw = ow * ptrdiff_t(s.strideW) - ptrdiff_t(s.padLeft) +
                             ptrdiff_t(kw * s.dilationW);
        if (ih >= 0 && iw >= 0 && ih < ptrdiff_t(s.height) &&
            iw < ptrdiff_t(s.width))
          std::memcpy(rows, x + (size_t(ih) * s.width + size_t(iw)) * C, C);
        else
          std::memset(rows, zp, C);
      }
  }
}

/// Times depthwiseConv2d (NCHW) or depthwiseConv2dNhwc on one layer (bias
/// + ReLU).
Timing benchDepthwise(const Conv2DShape &s, bool nhwc, Isa isa, double minTime,
                      std::mt19937 &rng) {
  const size_t taps = s.kernelH * s.kernelW;
  std::vector<float> x = randomVec(rng, s.channels * s.height * s.width);
  std::vector<float> w = randomVec(rng, s.channels * taps);
  std::vector<float> bias = randomVec(rng, s.channels);
  std::vector<float> y(s.channels * s.outHeight() * s.outWidth());
  std::vector<float> packed(packedDepthwiseNhwcSize(s) / sizeof(float));
  packDepthwiseNhwc(s, w.data(), packed.data());
  std::vector<char> ws(depthwiseConv2dWorkspaceSize(s, isa));
  Epilogue epi;
  epi.bias = bias.data();
  epi.activation = Activation::Relu;
  return timeIt(
      [&] {
        if (nhwc)
          depthwiseConv2dNhwc(s, x.data(), s.channels, packed.data(), y.data(),
                              s.channels, epi, isa);
        else
          depthwiseConv2d(s, x.data(), w.data(), y.data(), epi, isa, 0, 0,
                          ws.data());
      },
      minTime);
}

/// Times qconv2dNhwc on one layer (per-channel requantization to u8 with a
/// fused ReLU) on path `isa`: kind Float or FixedPoint, u8 or s8 input.
/// Where the path has no qconv2dNhwc (generic), times the runtime's
/// fallback instead: im2row of 256-pixel chunks + qgemmPacked.
Timing benchQConv(const Conv2DShape &s, QScaleKind kind, bool signedInput,
                  Isa isa, double minTime, std::mt19937 &rng) {
  const bool implicit = qconv2dNhwcAvailable(isa, false);
  const size_t Cp = implicit ? (s.channels + 3) / 4 * 4 : s.channels;
  const size_t K = s.kernelH * s.kernelW * Cp, N = s.outChannels;
  std::vector<uint8_t> x(s.height * s.width * s.channels);
  for (uint8_t &v : x)
    v = static_cast<uint8_t>(rng());
  if (gHotPercent >= 0) // post-ReLU-like: that share of bytes at 128 or more
    for (uint8_t &v : x)
      v = static_cast<uint8_t>((rng() % 10000 < gHotPercent * 100 ? 128 : 0) +
                               v % 128);
  std::vector<int8_t> w(K * N);
  for (int8_t &v : w)
    v = static_cast<int8_t>(rng());
  std::vector<int32_t> bias(N), mult(N), shift(N);
  std::vector<float> scale(N);
  for (size_t n = 0; n < N; ++n) {
    bias[n] = static_cast<int32_t>(rng() % 20000) - 10000;
    scale[n] = 0.0003f + 0.0001f * static_cast<float>(n % 7);
    double f = scale[n];
    int e = 0;
    double m = std::frexp(f, &e);
    mult[n] = static_cast<int32_t>(m * 2147483648.0);
    shift[n] = e;
  }
  const int8_t wzp = 0;
  const int32_t xzp = signedInput ? -3 : gHotPercent >= 0 ? 0 : 125;
  std::vector<char> packed(packedQBSize(K, N, isa));
  packQB(K, N, w.data(), N, xzp, &wzp, 1, bias.data(), packed.data(), isa,
         signedInput);
  if (implicit && !qconv2dNhwcSupported(s, packed.data(), isa))
    return Timing{};
  const size_t P = s.outHeight() * s.outWidth(), chunk = 256;
  std::vector<uint8_t> y(P * N);
  std::vector<char> ws(implicit ? qconv2dNhwcWorkspaceSize(s, isa)
                                : qgemmWorkspaceSize(K, isa));
  std::vector<uint8_t> rows(implicit ? 0 : chunk * K);
  Requantize rq;
  rq.output = QOutput::UInt8;
  rq.kind = kind;
  rq.scale = scale.data();
  rq.multiplier = mult.data();
  rq.shift = shift.data();
  rq.scaleCount = N;
  rq.zeroPoint = 10;
  rq.clampMin = 10;
  return timeIt(
      [&] {
        if (implicit) {
          qconv2dNhwc(s, x.data(), s.channels, xzp, packed.data(), y.data(), N,
                      rq, isa, 0, 0, ws.data());
          return;
        }
        for (size_t p0 = 0; p0 < P; p0 += chunk) {
          const size_t p1 = std::min(P, p0 + chunk);
          im2rowNhwc(s, x.data(), p0, p1, uint8_t(xzp), rows.data());
          qgemmPacked(p1 - p0, N, K, rows.data(), K, packed.data(),
                      y.data() + p0 * N, N, rq, isa, 0, 0, ws.data());
        }
      },
      minTime);
}

/// The int8 convolution sets of --only=qconv* and qsplit*: ResNet-50's
/// convolutions and MobileNetV2's 1x1 ones; `which` is the option's suffix
/// ("-resnet50", "-mnv2", or "" for both).
std::vector<ModelConvs> qconvSets(const std::string &which) {
  std::vector<ModelConvs> sets;
  if (which != "-mnv2")
    sets.push_back(kModels[0]);
  if (which != "-resnet50")
    sets.push_back(
        {"mobilenetv2-1x1", kMobileNetV2Pointwise,
         sizeof(kMobileNetV2Pointwise) / sizeof(kMobileNetV2Pointwise[0])});
  return sets;
}

/// Times A and B in turn (A B A B ...) for at least minTime each: their
/// medians, and the median of the per-pair ratios time(B) / time(A), which
/// holds when the machine's speed drifts between pairs.
struct PairTiming {
  Timing a, b;
  double ratio = 0;
};
template <typename FA, typename FB>
PairTiming timePair(FA fa, FB fb, double minTime, int minReps = 9) {
  fa();
  fb();
  std::vector<double> ta, tb, r;
  double total = 0;
  while (total < minTime || static_cast<int>(ta.size()) < minReps) {
    double t0 = nowSeconds();
    fa();
    ta.push_back(nowSeconds() - t0);
    t0 = nowSeconds();
    fb();
    tb.push_back(nowSeconds() - t0);
    r.push_back(tb.back() / ta.back());
    total += ta.back();
  }
  auto med = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return Timing{v[v.size() / 2], v[0]};
  };
  return PairTiming{med(ta), med(tb), med(r).median};
}

/// qconv2dNhwc on one layer through the split tile against the exact tile
/// on the same input (u8, gHotPercent of its bytes >= 128, 2 if not given;
/// zero point 0, as after a ReLU): the exact tile's weights are packed with
/// a weight zero point of 1, which keeps them off the split tile. Also
/// returns how many of the split run's passes took the split tile.
PairTiming benchQConvSplit(const Conv2DShape &s, Isa isa, double minTime,
                           std::mt19937 &rng, double &splitShare) {
  const size_t Cp = (s.channels + 3) / 4 * 4;
  const size_t K = s.kernelH * s.kernelW * Cp, N = s.outChannels;
  const double hot = gHotPercent >= 0 ? gHotPercent : 2.0;
  std::vector<uint8_t> x(s.height * s.width * s.channels);
  for (uint8_t &v : x)
    v = static_cast<uint8_t>((rng() % 10000 < hot * 100 ? 128 : 0) +
                             rng() % 128);
  std::vector<int8_t> w(K * N);
  for (int8_t &v : w)
    v = static_cast<int8_t>(rng());
  std::vector<int32_t> bias(N), mult(N), shift(N);
  for (size_t n = 0; n < N; ++n) {
    bias[n] = static_cast<int32_t>(rng() % 20000) - 10000;
    int e = 0;
    mult[n] = static_cast<int32_t>(
        std::frexp(0.0003 + 0.0001 * static_cast<double>(n % 7), &e) *
        2147483648.0);
    shift[n] = e;
  }
  const int8_t zp[2] = {0, 1};
  std::vector<char> packed[2];
  for (int i = 0; i < 2; ++i) {
    packed[i].resize(packedQBSize(K, N, isa));
    packQB(K, N, w.data(), N, 0, &zp[i], 1, bias.data(), packed[i].data(), isa);
  }
  std::vector<uint8_t> y(s.outHeight() * s.outWidth() * N);
  std::vector<char> ws(qconv2dNhwcWorkspaceSize(s, isa));
  Requantize rq;
  rq.output = QOutput::UInt8;
  rq.kind = QScaleKind::FixedPoint;
  rq.multiplier = mult.data();
  rq.shift = shift.data();
  rq.scaleCount = N;
  auto run = [&](int i) {
    qconv2dNhwc(s, x.data(), s.channels, 0, packed[i].data(), y.data(), N, rq,
                isa, 0, 0, ws.data());
  };
  const ember::cpu::detail::QConvPassCounts before =
      ember::cpu::detail::qconvPassCounts();
  PairTiming t = timePair([&] { run(0); }, [&] { run(1); }, minTime);
  const ember::cpu::detail::QConvPassCounts &after =
      ember::cpu::detail::qconvPassCounts();
  const double split = static_cast<double>(after.split - before.split);
  const double wide = static_cast<double>(after.wide - before.wide);
  // The exact runs' passes are all wide: half of the calls.
  splitShare = split / (split + wide / 2 > 0 ? split + wide / 2 : 1);
  return t;
}

/// conv2dNhwc (direct) and conv2dNhwcWinograd on the same 3x3 stride-1
/// layer, input and weights (bias + ReLU), in turn: medians and the
/// median of the per-pair ratios direct / Winograd.
PairTiming benchWinograd(const Conv2DShape &s, Isa isa, double minTime,
                         std::mt19937 &rng) {
  const size_t K = s.channels * 9, N = s.outChannels;
  std::vector<float> x = randomVec(rng, s.channels * s.height * s.width);
  std::vector<float> w = randomVec(rng, K * N), bias = randomVec(rng, N);
  std::vector<float> y(N * s.outHeight() * s.outWidth());
  std::vector<char> direct(packedConvWeightsNhwcSize(s, isa));
  std::vector<char> wino(packedConvWeightsWinogradSize(s, isa));
  packConvWeightsNhwc(s, w.data(), direct.data(), isa);
  if (packConvWeightsWinograd(s, w.data(), wino.data(), isa) != Status::Ok)
    return PairTiming{};
  std::vector<char> ws(
      std::max(conv2dNhwcWorkspaceSize(s), conv2dNhwcWinogradWorkspaceSize(s)));
  Epilogue epi;
  epi.bias = bias.data();
  epi.activation = Activation::Relu;
  return timePair(
      [&] {
        conv2dNhwc(s, x.data(), s.channels, direct.data(), y.data(), N, epi,
                   isa, {}, ws.data());
      },
      [&] {
        conv2dNhwcWinograd(s, x.data(), s.channels, wino.data(), y.data(), N,
                           epi, isa, {}, ws.data());
      },
      minTime);
}

} // namespace

int main(int argc, char **argv) {
  Isa isa = Isa::Auto;
  double peak = 0, peakInt8 = 0, minTime = 0.3;
  std::string only;
  ConvLayer custom{"layer", 0, 0, 0, 0, 0, 0, 0, 1};
  bool coldWeights = false;
  TransformerGemm customGemm{"gemm", 0, 0, 0, true, true, false, 1};
  for (int i = 1; i < argc; ++i) {
    const char *a = argv[i];
    if (!std::strncmp(a, "--isa=", 6)) {
      std::string v = a + 6;
      isa = v == "generic"      ? Isa::Generic
            : v == "avx2"       ? Isa::Avx2
            : v == "avxvnni"    ? Isa::AvxVnni
            : v == "avx512"     ? Isa::Avx512
            : v == "avx512vnni" ? Isa::Avx512Vnni
                                : Isa::Auto;
    } else if (!std::strncmp(a, "--peak=", 7)) {
      peak = std::atof(a + 7);
    } else if (!std::strncmp(a, "--peak-int8=", 12)) {
      peakInt8 = std::atof(a + 12);
    } else if (!std::strncmp(a, "--min-time=", 11)) {
      minTime = std::atof(a + 11);
    } else if (!std::strcmp(a, "--cpu-time")) {
      gCpuTime = true;
    } else if (!std::strncmp(a, "--qshape=", 9)) {
      if (std::sscanf(a + 9, "%zu,%zu,%zu", &gQShape[0], &gQShape[1],
                      &gQShape[2]) != 3 ||
          !gQShape[0] || !gQShape[1] || !gQShape[2]) {
        std::fprintf(stderr, "error: --qshape takes M,N,K (gemm_bench)\n");
        return 1;
      }
    } else if (!std::strncmp(a, "--hot=", 6)) {
      gHotPercent = std::atof(a + 6);
    } else if (!std::strcmp(a, "--residual")) {
      gResidual = true;
    } else if (!std::strcmp(a, "--cold-weights")) {
      coldWeights = true;
    } else if (!std::strncmp(a, "--layer=", 8)) {
      char mode[8] = "";
      if (std::sscanf(a + 8, "%zu,%zu,%zu,%zu,%zu,%zu,%zu,%7s", &custom.C,
                      &custom.H, &custom.W, &custom.OC, &custom.k,
                      &custom.stride, &custom.pad, mode) < 7 ||
          !shapeOf(custom).valid()) {
        std::fprintf(stderr, "error: bad --layer '%s' (gemm_bench)\n", a);
        return 1;
      }
      gFromNchw = !std::strcmp(mode, "nchw");
      only = "layer";
    } else if (!std::strncmp(a, "--gemm=", 7)) {
      char mode[8] = "";
      if (std::sscanf(a + 7, "%zu,%zu,%zu,%7s", &customGemm.M, &customGemm.N,
                      &customGemm.K, mode) < 3) {
        std::fprintf(stderr, "error: bad --gemm '%s' (gemm_bench)\n", a);
        return 1;
      }
      customGemm.packed = std::strcmp(mode, "sgemm") != 0;
      only = "gemm";
    } else if (!std::strncmp(a, "--only=", 7)) {
      only = a + 7;
    } else {
      std::fprintf(stderr, "error: unknown argument '%s' (gemm_bench)\n", a);
      return 1;
    }
  }
  const Isa path = resolveIsa(isa);
  if (peak <= 0) {
    // More repeats than fma_peak's default: the best one is the peak, and
    // on a shared machine some repeats get preempted.
    ember::bench::FmaPeak p = ember::bench::measureFmaPeak(25);
    peak = isaHasAvx512(path) ? p.avx512
           : isaHasAvx2(path) ? p.avx2
                              : p.avx2 / 8;
    std::printf("peak_gflops avx512=%.1f avx2=%.1f\n", p.avx512, p.avx2);
  }
  std::printf("isa=%s peak=%.1f GFLOP/s (single core), median of repeats "
              "(best in brackets)\n",
              isaName(path), peak);
  std::mt19937 rng(1);
  auto pct = [&](double gf) { return 100.0 * gf / peak; };

  if (only.empty() || only == "1024") {
    const double flop = 2.0 * 1024 * 1024 * 1024;
    Timing t = benchGemm(1024, 1024, 1024, isa, minTime, rng);
    std::printf("gemm 1024x1024x1024            sgemm %6.1f GFLOP/s "
                "%5.1f%% [%5.1f%%]\n",
                flop / t.median * 1e-9, pct(flop / t.median * 1e-9),
                pct(flop / t.best * 1e-9));
  }

  struct Totals {
    double flop = 0, gemm = 0, conv = 0, nhwc = 0;
  };
  std::vector<ModelConvs> models(std::begin(kModels), std::end(kModels));
  if (only == "layer")
    models = {{"layer", &custom, 1}};
  std::vector<Totals> totals(models.size());
  for (size_t mi = 0; mi < models.size(); ++mi) {
    for (size_t li = 0; li < models[mi].count; ++li) {
      const ConvLayer &l = models[mi].layers[li];
      if (!only.empty() &&
          (std::string(l.name).find(only) == std::string::npos ||
           only == "qconv") &&
          only != models[mi].name)
        continue;
      const Conv2DShape s = shapeOf(l);
      const size_t M = s.outChannels, N = s.outHeight() * s.outWidth();
      const size_t K = s.channels * s.kernelH * s.kernelW;
      const double flop = 2.0 * M * N * K;
      Timing g = benchGemm(M, N, K, isa, minTime, rng);
      Timing c = benchConv(s, isa, minTime, coldWeights, rng);
      Timing h = benchConvNhwc(s, isa, minTime, coldWeights, rng);
      const double gg = flop / g.median * 1e-9, cg = flop / c.median * 1e-9;
      const double hg = h.median > 0 ? flop / h.median * 1e-9 : 0;
      const double hb = h.best > 0 ? flop / h.best * 1e-9 : 0;
      std::printf("%-12s %4zux%5zux%4zu x%d  sgemm %6.1f GFLOP/s %5.1f%% "
                  "[%5.1f%%]  conv2d %6.1f GFLOP/s %5.1f%% [%5.1f%%]  "
                  "nhwc %5.1f%% [%5.1f%%]\n",
                  l.name, M, N, K, l.count, gg, pct(gg),
                  pct(flop / g.best * 1e-9), cg, pct(cg),
                  pct(flop / c.best * 1e-9), pct(hg), pct(hb));
      std::fflush(stdout);
      totals[mi].flop += flop * l.count;
      totals[mi].gemm += g.median * l.count;
      totals[mi].conv += c.median * l.count;
      totals[mi].nhwc += h.median * l.count;
    }
  }
  if (only == "winograd" ||
      (only == "layer" && custom.k == 3 && custom.stride == 1)) {
    // Every 3x3 stride-1 layer of the sets (or --layer's), direct against
    // Winograd F(2x2, 3x3); GFLOP/s count the direct convolution's work.
    double ms[2] = {0, 0};
    for (const ModelConvs &m : models)
      for (size_t li = 0; li < m.count; ++li) {
        const ConvLayer &l = m.layers[li];
        const Conv2DShape s = shapeOf(l);
        if (!conv2dNhwcWinogradShape(s, isa) || s.channels < 4)
          continue;
        const double flop =
            2.0 * s.outChannels * s.outHeight() * s.outWidth() * s.channels * 9;
        const PairTiming t = benchWinograd(s, isa, minTime, rng);
        std::printf("%-14s %-12s C=%-4zu OC=%-4zu %3zux%-3zu direct %6.1f "
                    "GFLOP/s  winograd %6.1f  direct/winograd %.2f\n",
                    m.name, l.name, s.channels, s.outChannels, s.outHeight(),
                    s.outWidth(), flop / t.a.median * 1e-9,
                    flop / t.b.median * 1e-9, t.ratio > 0 ? 1 / t.ratio : 0);
        std::fflush(stdout);
        ms[0] += t.a.median * l.count * 1e3;
        ms[1] += t.b.median * l.count * 1e3;
      }
    std::printf("3x3 stride-1 layers: direct %.3f ms  winograd %.3f ms  "
                "direct/winograd %.2f\n",
                ms[0], ms[1], ms[1] > 0 ? ms[0] / ms[1] : 0.0);
  }
  // int8 figures against the int8 peak of the path (FmaPeak.h,
  // measureInt8Peak): the vpdpbusd rate on the VNNI paths, the vpmaddubsw
  // sequence's on AVX2.
  const bool int8Runs = only.empty() || only == "int8" ||
                        only == "qsplit-gemm" || only == "qpaired";
  if (int8Runs && peakInt8 <= 0 && path != Isa::Generic) {
    const ember::bench::Int8Peak q = ember::bench::measureInt8Peak(15);
    std::printf("peak_int8_gops avx512vnni=%.1f avxvnni=%.1f avx2=%.1f "
                "avx2_exact=%.1f\n",
                q.avx512vnni, q.avxvnni, q.avx2, q.avx2Exact);
    peakInt8 = path == Isa::Avx512Vnni ? q.avx512vnni
               : path == Isa::AvxVnni  ? q.avxvnni
                                       : q.avx2;
  }
  auto pctQ = [&](double gops) {
    return peakInt8 > 0 ? 100.0 * gops / peakInt8 : 0.0;
  };
  if (int8Runs)
    std::printf("int8 peak %.1f GOP/s (%s); activations %s\n", peakInt8,
                isaName(path),
                gHotPercent >= 0 ? "post-ReLU-like (--hot)" : "uniform bytes");
  if (only.empty() || only == "int8") {
    const double ops = 2.0 * 1024 * 1024 * 1024;
    Timing t = benchQGemm(1024, 1024, 1024, isa, minTime, rng);
    std::printf("qgemm u8xs8 1024x1024x1024 (%s) %6.1f GOP/s %5.1f%% "
                "[best %5.1f%%]\n",
                isaName(path), ops / t.median * 1e-9,
                pctQ(ops / t.median * 1e-9), pctQ(ops / t.best * 1e-9));
    // MatMulInteger shapes: a batch-1 classifier (one row), and the
    // token-by-hidden GEMMs of a small transformer.
    const size_t shapes[][3] = {
        {1, 1000, 2048}, {1, 128, 640}, {128, 768, 768}, {128, 3072, 768}};
    for (const auto &sh : shapes) {
      const double o = 2.0 * sh[0] * sh[1] * sh[2];
      Timing q = benchQGemm(sh[0], sh[1], sh[2], isa, minTime, rng);
      std::printf("qgemm u8xs8 %zux%zux%zu (%s) %6.1f GOP/s %5.1f%% "
                  "[best %5.1f%%]\n",
                  sh[0], sh[1], sh[2], isaName(path), o / q.median * 1e-9,
                  pctQ(o / q.median * 1e-9), pctQ(o / q.best * 1e-9));
      // B packed as the compiler packs it for this many rows (on AVX2 the
      // s8 panels of its few-row kernel for one or two rows).
      const Isa pi = qgemmPackIsa(isa, sh[0]);
      if (pi != path) {
        Timing r = benchQGemm(sh[0], sh[1], sh[2], isa, minTime, rng, pi);
        std::printf("qgemm u8xs8 %zux%zux%zu (%s, packed for %s) %6.1f GOP/s "
                    "[best %6.1f]\n",
                    sh[0], sh[1], sh[2], isaName(path), isaName(pi),
                    o / r.median * 1e-9, o / r.best * 1e-9);
      }
    }
  }
  if (only == "qsplit-gemm") {
    // qgemmPacked's split tile (QGemmSplit.cpp) against the exact tile on
    // the same data, in turn: per-channel-like weights that do not pair
    // (each column's largest at +-127), A post-ReLU-like with P% of its
    // bytes at 128 or more (--hot, else 0, 1, 2, 4, 8 and 16).
    std::vector<std::array<size_t, 3>> shapes = {
        {1024, 1024, 1024}, {256, 256, 256},  {197, 768, 192},
        {197, 192, 768},    {128, 3072, 768}, {784, 64, 576}};
    if (gQShape[0])
      shapes = {{gQShape[0], gQShape[1], gQShape[2]}};
    std::vector<double> hots = {0, 1, 2, 4, 8, 16};
    if (gHotPercent >= 0)
      hots = {gHotPercent};
    const double saved = gHotPercent;
    for (double hot : hots) {
      gHotPercent = hot;
      for (const auto &sh : shapes) {
        const double o = 2.0 * sh[0] * sh[1] * sh[2];
        std::mt19937 r1(9), r2(9);
        const auto c0 = detail::qgemmBlockCounts();
        double share = 0;
        Timing s =
            benchQGemm(sh[0], sh[1], sh[2], isa, minTime, r1, isa, 30.0,
                       QPackExtra::SplitTile, int8PeakLoop(path), &share);
        const auto c1 = detail::qgemmBlockCounts();
        Timing e = benchQGemm(sh[0], sh[1], sh[2], isa, minTime, r2, isa, 30.0,
                              QPackExtra::None);
        std::printf("qgemm %4zux%4zux%4zu hot %4.1f%%  split %6.1f GOP/s "
                    "%5.1f%% (paired %5.1f%%)  exact %6.1f GOP/s %5.1f%%  "
                    "exact/split %.2f  (blocks split %zu exact %zu)\n",
                    sh[0], sh[1], sh[2], hot, o / s.median * 1e-9,
                    pctQ(o / s.median * 1e-9), 100.0 * share,
                    o / e.median * 1e-9, pctQ(o / e.median * 1e-9),
                    s.median / e.median, c1.split - c0.split,
                    c1.exact - c0.exact);
        std::fflush(stdout);
      }
    }
    gHotPercent = saved;
  }
  if (only == "qpaired") {
    // Transformer products with per-tensor weights (quantize_dynamic's:
    // a rounded normal of width 20 of the 127 steps), exact tile against
    // the paired one (QPackExtra::PairedK), in turn in one run.
    const size_t shapes[][3] = {
        {128, 768, 768},  {128, 3072, 768}, {128, 768, 3072}, {128, 256, 256},
        {128, 1024, 256}, {128, 256, 1024}, {197, 576, 192},  {197, 768, 192},
        {197, 192, 768},  {197, 192, 192}};
    for (const auto &sh : shapes) {
      const double o = 2.0 * sh[0] * sh[1] * sh[2];
      std::mt19937 r1(7), r2(7);
      Timing e = benchQGemm(sh[0], sh[1], sh[2], isa, minTime, r1, isa, 20.0,
                            QPackExtra::None);
      Timing p = benchQGemm(sh[0], sh[1], sh[2], isa, minTime, r2, isa, 20.0,
                            QPackExtra::PairedK);
      std::printf("qgemm %zux%zux%zu exact %6.1f GOP/s paired %6.1f GOP/s "
                  "exact/paired %.2f\n",
                  sh[0], sh[1], sh[2], o / e.median * 1e-9, o / p.median * 1e-9,
                  e.median / p.median);
    }
  }
  if (only == "vit" || only == "bert" || only == "transformers" ||
      only == "gemm" || only.rfind("vit.", 0) == 0 ||
      only.rfind("bert.", 0) == 0) {
    struct Set {
      const char *name;
      const TransformerGemm *gemms;
      size_t count;
    };
    const Set all[] = {{"vit", kVit, std::size(kVit)},
                       {"bert", kBert, std::size(kBert)}};
    const std::vector<Set> sets =
        only == "gemm" ? std::vector<Set>{{"gemm", &customGemm, 1}}
                       : std::vector<Set>(std::begin(all), std::end(all));
    for (const Set &set : sets) {
      double ms = 0, flops = 0;
      for (size_t i = 0; i < set.count; ++i) {
        const TransformerGemm &g = set.gemms[i];
        if (only != "transformers" && only != "gemm" && only != set.name &&
            std::string(g.name).find(only) == std::string::npos)
          continue;
        const double flop = 2.0 * g.M * g.N * g.K;
        const Timing t = benchTransformerGemm(g, isa, minTime, rng);
        const double gf = flop / t.median * 1e-9;
        std::printf("%-10s %4zux%4zux%4zu %-6s x%-2d %6.1f GFLOP/s %5.1f%% "
                    "[%5.1f%%] %7.1f us\n",
                    g.name, g.M, g.N, g.K, g.packed ? "packed" : "sgemm",
                    g.count, gf, pct(gf), pct(flop / t.best * 1e-9),
                    t.median * 1e6);
        std::fflush(stdout);
        ms += t.median * g.count * 1e3;
        flops += flop * g.count;
      }
      if (flops > 0)
        std::printf("%s gemms %.3f GFLOP: %.3f ms %.1f GFLOP/s %.1f%%\n",
                    set.name, flops * 1e-9, ms, flops / ms * 1e-6,
                    pct(flops / ms * 1e-6));
    }
  }
  if (only == "grouped") {
    double ms[3] = {0, 0, 0}, flops = 0;
    for (const GroupedLayer &gl : kGrouped) {
      const Conv2DShape s = shapeOf(gl.l);
      const double flop = 2.0 * s.outChannels * s.outHeight() * s.outWidth() *
                          s.kernelH * s.kernelW * s.channels / gl.groups;
      double t[3];
      for (int form = 0; form < 3; ++form)
        t[form] = benchGrouped(s, gl.groups, form, isa, minTime, rng).median;
      std::printf("%-6s %4zu x %3zux%-3zu /%zu g%-3zu x%d  nchw %5.1f%%  "
                  "per-group nhwc %5.1f%%  grouped %5.1f%%  (%.1f / %.1f / "
                  "%.1f us)\n",
                  gl.name, s.channels, s.height, s.width, s.strideH, gl.groups,
                  gl.l.count, pct(flop / t[0] * 1e-9), pct(flop / t[1] * 1e-9),
                  pct(flop / t[2] * 1e-9), t[0] * 1e6, t[1] * 1e6, t[2] * 1e6);
      std::fflush(stdout);
      for (int form = 0; form < 3; ++form)
        ms[form] += t[form] * gl.l.count * 1e3;
      flops += flop * gl.l.count;
    }
    std::printf("grouped layers %.3f GFLOP: nchw %.3f ms  per-group nhwc %.3f "
                "ms  grouped %.3f ms\n",
                flops * 1e-9, ms[0], ms[1], ms[2]);
  }
  if (only == "depthwise") {
    double ms[2] = {0, 0}, flops = 0;
    for (const ConvLayer &l : kDepthwise) {
      const Conv2DShape s = shapeOf(l);
      const double flop = 2.0 * s.channels * s.outHeight() * s.outWidth() *
                          s.kernelH * s.kernelW;
      const Timing c = benchDepthwise(s, false, isa, minTime, rng);
      const Timing h = benchDepthwise(s, true, isa, minTime, rng);
      const double cg = flop / c.median * 1e-9, hg = flop / h.median * 1e-9;
      std::printf("%-8s %4zu x %3zux%-3zu %zux%zu/%zu x%d  nchw %6.1f GFLOP/s "
                  "%5.1f%%  nhwc %6.1f GFLOP/s %5.1f%%  (%.1f / %.1f us)\n",
                  l.name, s.channels, s.height, s.width, s.kernelH, s.kernelW,
                  s.strideH, l.count, cg, pct(cg), hg, pct(hg), c.median * 1e6,
                  h.median * 1e6);
      std::fflush(stdout);
      ms[0] += c.median * l.count * 1e3;
      ms[1] += h.median * l.count * 1e3;
      flops += flop * l.count;
    }
    std::printf("depthwise layers %.3f GFLOP: nchw %.3f ms  nhwc %.3f ms\n",
                flops * 1e-9, ms[0], ms[1]);
  }
  if (only == "qsplit-sweep") {
    // Where the split tile pays: channels x output channels, 3x3 and 1x1,
    // at this --hot.
    std::printf("qsplit sweep, %.1f%% of input bytes >= 128: exact/split "
                "(rows: C, columns: OC 16 32 64 128 256)\n",
                gHotPercent >= 0 ? gHotPercent : 2.0);
    // One row of the table: C in, every OC of `ocs` out, k x k on a map x
    // map input (stride 1, same padding).
    auto row = [&](size_t k, size_t map, size_t C,
                   std::initializer_list<size_t> ocs) {
      std::printf("%zux%zu C=%-4zu", k, k, C);
      for (size_t OC : ocs) {
        ConvLayer l{"sweep", C, map, map, OC, k, 1, k / 2, 1};
        double share = 0;
        const PairTiming t =
            benchQConvSplit(shapeOf(l), isa, minTime, rng, share);
        std::printf("  %5.2f%s", t.ratio, share < 1 ? "*" : " ");
      }
      std::printf("\n");
      std::fflush(stdout);
    };
    for (size_t k : {3, 1})
      for (size_t C : {8, 16, 32, 64, 128, 256})
        row(k, 28, C, {16, 32, 64, 128, 256});
    // 1x1 layers with many input channels and few output ones (MobileNet's
    // projections) on a 14 x 14 map.
    std::printf("1x1 14x14 (rows: C, columns: OC 16 24 32 64 96 160)\n");
    for (size_t C : {96, 144, 192, 384, 576, 960})
      row(1, 14, C, {16, 24, 32, 64, 96, 160});
  }
  if (only == "qsplit" || only == "qsplit-resnet50" || only == "qsplit-mnv2") {
    for (const ModelConvs &m : qconvSets(only.substr(6))) {
      double ms[2] = {0, 0}, ops = 0;
      for (size_t li = 0; li < m.count; ++li) {
        const ConvLayer &l = m.layers[li];
        const Conv2DShape s = shapeOf(l);
        const double op = 2.0 * s.outChannels * s.outHeight() * s.outWidth() *
                          s.channels * s.kernelH * s.kernelW;
        double share = 0;
        const PairTiming t = benchQConvSplit(s, isa, minTime, rng, share);
        std::printf("%-12s %4zux%5zux%4zu x%d  qconv GOP/s: split %6.1f  "
                    "exact %6.1f  exact/split %.2f  split passes %3.0f%%\n",
                    l.name, s.outChannels, s.outHeight() * s.outWidth(),
                    s.channels * s.kernelH * s.kernelW, l.count,
                    op / t.a.median * 1e-9, op / t.b.median * 1e-9, t.ratio,
                    100 * share);
        std::fflush(stdout);
        ms[0] += t.a.median * l.count * 1e3;
        ms[1] += t.b.median * l.count * 1e3;
        ops += op * l.count;
      }
      std::printf("%s qconv %.2f GOP, %.1f%% of input bytes >= 128: split "
                  "%.3f ms  exact %.3f ms  exact/split %.2f\n",
                  m.name, ops * 1e-9, gHotPercent >= 0 ? gHotPercent : 2.0,
                  ms[0], ms[1], ms[1] / ms[0]);
    }
  }
  if (only == "qconv" || only == "qconv-resnet50" || only == "qconv-mnv2") {
    for (const ModelConvs &m : qconvSets(only.substr(5))) {
      double ms[3] = {0, 0, 0}, ops = 0;
      for (size_t li = 0; li < m.count; ++li) {
        const ConvLayer &l = m.layers[li];
        const Conv2DShape s = shapeOf(l);
        const double op = 2.0 * s.outChannels * s.outHeight() * s.outWidth() *
                          s.channels * s.kernelH * s.kernelW;
        Timing t[3] = {
            benchQConv(s, QScaleKind::Float, false, isa, minTime, rng),
            benchQConv(s, QScaleKind::FixedPoint, false, isa, minTime, rng),
            benchQConv(s, QScaleKind::FixedPoint, true, isa, minTime, rng)};
        std::printf("%-12s %4zux%5zux%4zu x%d  qconv GOP/s: float-u8 %6.1f  "
                    "fixed-u8 %6.1f  fixed-s8 %6.1f\n",
                    l.name, s.outChannels, s.outHeight() * s.outWidth(),
                    s.channels * s.kernelH * s.kernelW, l.count,
                    op / t[0].median * 1e-9, op / t[1].median * 1e-9,
                    op / t[2].median * 1e-9);
        std::fflush(stdout);
        for (int k = 0; k < 3; ++k)
          ms[k] += t[k].median * l.count * 1e3;
        ops += op * l.count;
      }
      std::printf("%s qconv %.2f GOP: float-u8 %.3f ms  fixed-u8 %.3f ms  "
                  "fixed-s8 %.3f ms\n",
                  m.name, ops * 1e-9, ms[0], ms[1], ms[2]);
    }
  }
  for (size_t mi = 0; mi < models.size(); ++mi) {
    const Totals &t = totals[mi];
    if (t.flop > 0)
      std::printf("%s convs %.2f GFLOP: sgemm %.2f ms %.1f GFLOP/s %.1f%%  "
                  "conv2d %.2f ms %.1f GFLOP/s %.1f%%  nhwc %.2f ms %.1f%%\n",
                  models[mi].name, t.flop * 1e-9, t.gemm * 1e3,
                  t.flop / t.gemm * 1e-9, pct(t.flop / t.gemm * 1e-9),
                  t.conv * 1e3, t.flop / t.conv * 1e-9,
                  pct(t.flop / t.conv * 1e-9), t.nhwc * 1e3,
                  t.nhwc > 0 ? pct(t.flop / t.nhwc * 1e-9) : 0.0);
  }
  return 0;
}
