//===- GemmTune.cpp - time candidate micro-kernels and blockings ----------===//
//
// Development tool, not part of the library's interface. Runs the blocked
// driver with each candidate tile (pre-packed B, A packed per block, the
// sgemmPacked configuration) on M x N x K and prints GFLOP/s (median).
//
//   ember_cpu_kernels_tune [M N K] [--mc=..] [--kc=..] [--nc=..] [--reps=..]
//                          [--conv]   (pre-packed A, B packed per block)
//                          [--direct-a] [--direct-b] (read in place)
//                          [--pointwise]  (AVX-512: a 1x1 convolution's
//                          GEMM, bias and Relu, M pixels x N channels x K:
//                          the general driver against pointwiseNarrowAvx512)
//
//===----------------------------------------------------------------------===//
#include "Internal.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

using namespace ember::cpu;
using namespace ember::cpu::detail;

int main(int argc, char **argv) {
  size_t M = 1024, N = 1024, K = 1024;
  size_t mc = 0, kc = 0, nc = 0;
  int reps = 7;
  bool conv = false, directA = false, directB = false, pointwise = false;
  std::vector<size_t> pos;
  for (int i = 1; i < argc; ++i) {
    if (!std::strncmp(argv[i], "--mc=", 5))
      mc = std::strtoul(argv[i] + 5, nullptr, 10);
    else if (!std::strncmp(argv[i], "--kc=", 5))
      kc = std::strtoul(argv[i] + 5, nullptr, 10);
    else if (!std::strncmp(argv[i], "--nc=", 5))
      nc = std::strtoul(argv[i] + 5, nullptr, 10);
    else if (!std::strncmp(argv[i], "--reps=", 7))
      reps = std::atoi(argv[i] + 7);
    else if (!std::strcmp(argv[i], "--conv"))
      conv = true;
    else if (!std::strcmp(argv[i], "--direct-a"))
      directA = true;
    else if (!std::strcmp(argv[i], "--direct-b"))
      directB = true;
    else if (!std::strcmp(argv[i], "--pointwise"))
      pointwise = true;
    else
      pos.push_back(std::strtoul(argv[i], nullptr, 10));
  }
  if (pos.size() == 3) {
    M = pos[0];
    N = pos[1];
    K = pos[2];
  }
  std::vector<float> A(M * K), B(K * N), C(M * N);
  for (size_t i = 0; i < A.size(); ++i)
    A[i] = static_cast<float>((i * 7) % 13) * 0.1f - 0.6f;
  for (size_t i = 0; i < B.size(); ++i)
    B[i] = static_cast<float>((i * 5) % 11) * 0.1f - 0.5f;

  if (pointwise) {
    if (!isaSupported(Isa::Avx512)) {
      std::fprintf(stderr, "--pointwise needs AVX-512\n");
      return 1;
    }
    const GemmKernel &k = gemmKernelAvx512();
    std::vector<float> packed(packedBSize(K, N, Isa::Avx512) / sizeof(float));
    packB(K, N, B.data(), N, packed.data(), Isa::Avx512);
    std::vector<float> bias(N, 0.25f);
    Epilogue epi;
    epi.bias = bias.data();
    epi.biasAxis = BiasAxis::PerColumn;
    epi.activation = Activation::Relu;
    ASource as;
    as.a = A.data();
    as.lda = K;
    as.direct = true;
    BSource bs;
    bs.packed = packedPanels(packed.data());
    GemmKernel kk = k;
    kk.kc = K;
    std::vector<double> tg, tn;
    for (int r = 0; r < reps + 1; ++r) {
      auto t0 = std::chrono::steady_clock::now();
      gemmDriver(kk, M, N, K, as, bs, C.data(), N, epi, 0, M, 0, N, nullptr);
      auto t1 = std::chrono::steady_clock::now();
      pointwiseNarrowAvx512(A.data(), K, K, packed.data(), C.data(), N, epi, 0,
                            M, 0, N);
      auto t2 = std::chrono::steady_clock::now();
      if (r) {
        tg.push_back(std::chrono::duration<double>(t1 - t0).count());
        tn.push_back(std::chrono::duration<double>(t2 - t1).count());
      }
    }
    std::sort(tg.begin(), tg.end());
    std::sort(tn.begin(), tn.end());
    const double flop = 2.0 * M * N * K * 1e-9;
    std::printf("%zux%zux%zu bias+relu  driver median %.1f  narrow median "
                "%.1f GFLOP/s  (%.1f / %.1f us)\n",
                M, N, K, flop / tg[tg.size() / 2], flop / tn[tn.size() / 2],
                tg[tg.size() / 2] * 1e6, tn[tn.size() / 2] * 1e6);
    return 0;
  }

  std::vector<GemmKernel> kernels;
  size_t count = 0;
  const GemmKernel *v = gemmKernelAvx512Variants(&count);
  if (isaSupported(Isa::Avx512))
    kernels.assign(v, v + count);
  if (isaSupported(Isa::Avx2))
    kernels.push_back(gemmKernelAvx2());

  // Set every candidate up first, then time them round-robin so that
  // interference from other processes hits all candidates alike.
  struct Candidate {
    GemmKernel k;
    std::vector<float> packed, ws;
    ASource a;
    BSource b;
    std::vector<double> t;
  };
  std::vector<Candidate> cands;
  for (GemmKernel k : kernels) {
    if (mc)
      k.mc = std::max<size_t>(mc / k.mr, 1) * k.mr;
    if (kc)
      k.kc = kc;
    if (nc)
      k.nc = std::max<size_t>(nc / k.nr, 1) * k.nr;
    Candidate c;
    c.k = k;
    if (conv) {
      c.packed.resize(ceilDiv(M, k.mr) * k.mr * K);
      packAPanels(M, K, A.data(), K, k.mr, c.packed.data());
      c.a.packed = c.packed.data();
      c.b.b = B.data();
      c.b.ldb = N;
      c.b.direct = directB && k.direct;
    } else {
      c.packed.resize(ceilDiv(N, k.nr) * k.nr * K);
      packBPanels(K, N, B.data(), N, k.nr, c.packed.data());
      c.b.packed = c.packed.data();
      c.a.a = A.data();
      c.a.lda = K;
      c.a.direct = directA && k.direct;
    }
    c.ws.resize(gemmWorkspaceFloats(k) + 16);
    cands.push_back(std::move(c));
  }
  for (int r = 0; r < reps + 1; ++r)
    for (Candidate &c : cands) {
      auto t0 = std::chrono::steady_clock::now();
      gemmDriver(c.k, M, N, K, c.a, c.b, C.data(), N, Epilogue{}, 0, M, 0, N,
                 c.ws.data());
      auto t1 = std::chrono::steady_clock::now();
      if (r)
        c.t.push_back(std::chrono::duration<double>(t1 - t0).count());
    }
  for (Candidate &c : cands) {
    std::sort(c.t.begin(), c.t.end());
    double flop = 2.0 * M * N * K * 1e-9;
    std::printf("%-8s %2dx%-2d mc=%-4zu kc=%-4zu nc=%-5zu %zux%zux%zu %s  "
                "median %.1f best %.1f GFLOP/s\n",
                isaName(c.k.isa), c.k.mr, c.k.nr, c.k.mc, c.k.kc, c.k.nc, M, N,
                K, conv ? "conv" : "packB", flop / c.t[c.t.size() / 2],
                flop / c.t[0]);
  }
  return 0;
}
