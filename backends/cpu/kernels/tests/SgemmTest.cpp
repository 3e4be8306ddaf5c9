//===- SgemmTest.cpp - fp32 GEMM against the naive reference --------------===//
#include "Reference.h"

#include <gtest/gtest.h>

#include <cstring>

namespace ember::cpu::test {
namespace {

class SgemmTest : public ::testing::TestWithParam<Isa> {
protected:
  void SetUp() override {
    if (!isaSupported(GetParam()))
      GTEST_SKIP() << isaName(GetParam()) << " not supported on this CPU";
  }
};

/// One random problem: operands with padded strides and an epilogue.
struct Problem {
  size_t M, N, K, lda, ldb, ldc, ldr;
  std::vector<float> A, B, C, bias, residual;
  Epilogue epi;

  Problem(std::mt19937 &rng, size_t M_, size_t N_, size_t K_)
      : M(M_), N(N_), K(K_) {
    lda = K + randomIn(rng, 0, 3);
    ldb = N + randomIn(rng, 0, 3);
    ldc = N + randomIn(rng, 0, 3);
    ldr = N + randomIn(rng, 0, 2);
    A = randomFloats(rng, M * lda);
    B = randomFloats(rng, K * ldb);
    C = randomFloats(rng, M * ldc);
    switch (randomIn(rng, 0, 2)) {
    case 1:
      bias = randomFloats(rng, N);
      epi.biasAxis = BiasAxis::PerColumn;
      epi.bias = bias.data();
      break;
    case 2:
      bias = randomFloats(rng, M);
      epi.biasAxis = BiasAxis::PerRow;
      epi.bias = bias.data();
      break;
    default:
      break;
    }
    epi.activation = static_cast<Activation>(randomIn(rng, 0, 2));
    epi.clipMin = -0.5f;
    epi.clipMax = 0.75f;
    if (randomIn(rng, 0, 1)) {
      residual = randomFloats(rng, M * ldr);
      epi.residual = residual.data();
      epi.ldr = ldr;
      epi.residualAfterActivation = randomIn(rng, 0, 1);
    }
    epi.accumulate = randomIn(rng, 0, 1);
  }

  RefResult reference() const {
    return refGemm(M, N, K, A.data(), lda, B.data(), ldb, C.data(), ldc, epi);
  }
};

void expectNear(const RefResult &ref, const std::vector<float> &got, size_t M,
                size_t N, size_t ldc, const std::string &what) {
  size_t bad = 0;
  for (size_t m = 0; m < M; ++m)
    for (size_t n = 0; n < N; ++n) {
      double want = ref.value[m * N + n];
      double have = got[m * ldc + n];
      if (std::fabs(want - have) > ref.bound[m * N + n] && bad++ < 5)
        ADD_FAILURE() << what << " at (" << m << "," << n << "): got " << have
                      << " want " << want;
    }
  EXPECT_EQ(bad, 0u) << what;
}

std::string describe(const Problem &p) {
  return "M=" + std::to_string(p.M) + " N=" + std::to_string(p.N) +
         " K=" + std::to_string(p.K) +
         " bias=" + std::to_string(int(p.epi.biasAxis)) +
         " act=" + std::to_string(int(p.epi.activation)) +
         " res=" + std::to_string(p.epi.residual != nullptr) +
         " acc=" + std::to_string(p.epi.accumulate);
}

void checkAllEntryPoints(Isa isa, std::mt19937 &rng, Problem &p) {
  const RefResult ref = p.reference();
  const std::string what = std::string(isaName(isa)) + " " + describe(p);

  // Unpacked.
  std::vector<float> c = p.C;
  ASSERT_EQ(sgemm(p.M, p.N, p.K, p.A.data(), p.lda, p.B.data(), p.ldb, c.data(),
                  p.ldc, p.epi, isa),
            Status::Ok);
  expectNear(ref, c, p.M, p.N, p.ldc, "sgemm " + what);

  // Pre-packed, whole M in one call.
  std::vector<char> packed(packedBSize(p.K, p.N, isa));
  ASSERT_EQ(packB(p.K, p.N, p.B.data(), p.ldb, packed.data(), isa), Status::Ok);
  c = p.C;
  ASSERT_EQ(sgemmPacked(p.M, p.N, p.K, p.A.data(), p.lda, packed.data(),
                        c.data(), p.ldc, p.epi, isa),
            Status::Ok);
  expectNear(ref, c, p.M, p.N, p.ldc, "sgemmPacked " + what);

  // Pre-packed, M split at random points (as a thread pool would), with a
  // caller-provided workspace.
  c = p.C;
  std::vector<char> ws(gemmWorkspaceSize(isa));
  size_t m0 = 0;
  while (m0 < p.M) {
    size_t m1 = std::min(p.M, m0 + randomIn(rng, 1, p.M));
    ASSERT_EQ(sgemmPacked(p.M, p.N, p.K, p.A.data(), p.lda, packed.data(),
                          c.data(), p.ldc, p.epi, isa, m0, m1, ws.data()),
              Status::Ok);
    m0 = m1;
  }
  expectNear(ref, c, p.M, p.N, p.ldc, "sgemmPacked split " + what);
}

TEST_P(SgemmTest, RandomSmallShapes) {
  std::mt19937 rng(1234 + static_cast<unsigned>(GetParam()));
  for (int iter = 0; iter < 250; ++iter) {
    Problem p(rng, randomIn(rng, 1, 70), randomIn(rng, 1, 70),
              randomIn(rng, 1, 70));
    checkAllEntryPoints(GetParam(), rng, p);
    if (HasFailure())
      return;
  }
}

TEST_P(SgemmTest, ShapesCrossingEveryBlock) {
  // Larger than mc, kc and nc of every kernel, with ragged edges.
  std::mt19937 rng(99);
  const size_t shapes[][3] = {
      {131, 2100, 520}, {257, 67, 1031}, {7, 4099, 300}, {300, 33, 17}};
  for (const auto &s : shapes) {
    Problem p(rng, s[0], s[1], s[2]);
    checkAllEntryPoints(GetParam(), rng, p);
  }
}

TEST_P(SgemmTest, TransformerShapes) {
  // A transformer's GEMMs (vit-toy: 197 tokens, dim 192, heads of 64, MLP
  // 768): on AVX2 A is read in place, K up to 1024 is one block of
  // sgemmPacked (a longer K equal blocks, which read C back: 1031, 2100),
  // and sgemm packs B per block of 256 k; sgemmPacked also runs each with M
  // split at random rows, as the runtime's threads run it.
  std::mt19937 rng(197);
  const size_t shapes[][3] = {{197, 576, 192}, {197, 197, 64},  {197, 64, 197},
                              {197, 192, 768}, {196, 40, 1031}, {37, 21, 2100}};
  for (const auto &s : shapes) {
    Problem p(rng, s[0], s[1], s[2]);
    checkAllEntryPoints(GetParam(), rng, p);
    if (HasFailure())
      return;
  }
}

TEST_P(SgemmTest, EmptyDepthAppliesEpilogueOnly) {
  std::mt19937 rng(5);
  Problem p(rng, 9, 37, 0);
  checkAllEntryPoints(GetParam(), rng, p);
}

TEST_P(SgemmTest, PackedElsewhereRunsEverywhere) {
  // B packed for each path must give the same result on this path (a
  // portable kernel reads foreign layouts).
  std::mt19937 rng(77);
  Problem p(rng, 23, 61, 45);
  const RefResult ref = p.reference();
  for (Isa packIsa : fp32Paths()) {
    if (!isaSupported(packIsa))
      continue;
    std::vector<char> packed(packedBSize(p.K, p.N, packIsa));
    ASSERT_EQ(packB(p.K, p.N, p.B.data(), p.ldb, packed.data(), packIsa),
              Status::Ok);
    std::vector<float> c = p.C;
    ASSERT_EQ(sgemmPacked(p.M, p.N, p.K, p.A.data(), p.lda, packed.data(),
                          c.data(), p.ldc, p.epi, GetParam()),
              Status::Ok);
    expectNear(ref, c, p.M, p.N, p.ldc,
               std::string("packed for ") + isaName(packIsa));
  }
}

TEST_P(SgemmTest, RejectsMismatchedPacking) {
  std::vector<float> B(12 * 8, 1.0f), A(4 * 12, 1.0f), C(4 * 8);
  std::vector<char> packed(packedBSize(12, 8, GetParam()));
  ASSERT_EQ(packB(12, 8, B.data(), 8, packed.data(), GetParam()), Status::Ok);
  EXPECT_EQ(sgemmPacked(4, 8, 11, A.data(), 12, packed.data(), C.data(), 8, {},
                        GetParam()),
            Status::LayoutMismatch);
  EXPECT_EQ(sgemmPacked(4, 8, 12, A.data(), 12, packed.data(), C.data(), 8, {},
                        GetParam(), 3, 2),
            Status::InvalidArgument);
  EXPECT_EQ(
      sgemm(4, 8, 12, A.data(), 11, B.data(), 8, C.data(), 8, {}, GetParam()),
      Status::InvalidArgument);
}

INSTANTIATE_TEST_SUITE_P(Paths, SgemmTest, ::testing::ValuesIn(fp32Paths()),
                         [](const auto &info) {
                           return std::string(isaName(info.param));
                         });

TEST(CpuFeatures, ResolveNeverExceedsTheCpu) {
  EXPECT_TRUE(isaSupported(resolveIsa(Isa::Auto)));
  EXPECT_TRUE(isaSupported(resolveIsa(Isa::Avx512Vnni)));
  EXPECT_EQ(resolveIsa(Isa::Generic), Isa::Generic);
  EXPECT_EQ(resolveIsa(Isa::Auto), detectIsa());
}

// Every request resolves to itself when the CPU runs it, else to a path
// the CPU runs that has nothing the request lacks: the VNNI paths fall to
// each other and to the plain paths, never an AVX2 request to AVX-512 or
// to AVX-VNNI. The fp32 families fold the VNNI paths into their bases.
TEST(CpuFeatures, ResolveFallsBackWithinTheRequestsExtensions) {
  const Isa all[] = {Isa::Generic, Isa::Avx2, Isa::AvxVnni, Isa::Avx512,
                     Isa::Avx512Vnni};
  for (Isa r : all) {
    const Isa got = resolveIsa(r);
    EXPECT_TRUE(isaSupported(got)) << isaName(r);
    if (isaSupported(r)) {
      EXPECT_EQ(got, r) << isaName(r);
      continue;
    }
    switch (r) {
    case Isa::Avx512Vnni:
      EXPECT_NE(got, Isa::Avx512Vnni);
      break;
    case Isa::Avx512:
    case Isa::AvxVnni:
      EXPECT_TRUE(got == Isa::Avx2 || got == Isa::Generic) << isaName(r);
      break;
    case Isa::Avx2:
      EXPECT_EQ(got, Isa::Generic);
      break;
    case Isa::Auto:
    case Isa::Generic:
      break;
    }
  }
  for (Isa r : all) {
    const Isa f = fp32Family(r);
    EXPECT_TRUE(f == Isa::Generic || f == Isa::Avx2 || f == Isa::Avx512)
        << isaName(r);
  }
  if (isaSupported(Isa::AvxVnni)) {
    EXPECT_EQ(fp32Family(Isa::AvxVnni), Isa::Avx2);
    EXPECT_TRUE(isaHasAvx2(Isa::AvxVnni));
    EXPECT_FALSE(isaHasAvx512(Isa::AvxVnni));
  }
  if (isaSupported(Isa::Avx512Vnni)) {
    EXPECT_TRUE(isaHasAvx512(Isa::Avx512Vnni));
    // A host with both (Sapphire Rapids) prefers the AVX-512 path.
    EXPECT_EQ(detectIsa(), Isa::Avx512Vnni);
  }
  EXPECT_FALSE(isaHasAvx2(Isa::Generic));
  EXPECT_STREQ(isaName(Isa::AvxVnni), "avxvnni");
}

} // namespace
} // namespace ember::cpu::test
