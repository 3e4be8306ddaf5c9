//===- QGemmTest.cpp - int8 GEMM must match the reference bit for bit -----===//
#include "Reference.h"

#include "QGemm.h"
#include "QGemmSplit.h"

#include <gtest/gtest.h>

namespace ember::cpu::test {
namespace {

using detail::packedQLayout;
using detail::QGemmBlockCounts;
using detail::qgemmBlockCounts;
using detail::QLayout;

class QGemmTest : public ::testing::TestWithParam<Isa> {
protected:
  void SetUp() override {
    if (!isaSupported(GetParam()))
      GTEST_SKIP() << isaName(GetParam()) << " not supported on this CPU";
  }
};

struct QProblem {
  size_t M, N, K, lda, ldb, ldc;
  std::vector<uint8_t> A;
  std::vector<int8_t> B, bZp;
  std::vector<int32_t> bias, mult, shift;
  std::vector<float> scale;
  int32_t aZp;
  bool aSigned; // A holds s8 values (the same bytes)
  Requantize rq;

  QProblem(std::mt19937 &rng, size_t M_, size_t N_, size_t K_)
      : M(M_), N(N_), K(K_) {
    lda = K + randomIn(rng, 0, 5);
    ldb = N + randomIn(rng, 0, 5);
    ldc = N + randomIn(rng, 0, 5);
    A.resize(M * lda);
    B.resize(K * ldb);
    for (uint8_t &v : A)
      v = static_cast<uint8_t>(randomIn(rng, 0, 255));
    for (int8_t &v : B)
      v = static_cast<int8_t>(int(randomIn(rng, 0, 255)) - 128);
    aSigned = randomIn(rng, 0, 2) == 0;
    aZp = int32_t(randomIn(rng, 0, 3) ? randomIn(rng, 0, 255) : 0);
    if (aSigned)
      aZp = aZp == 0 ? 0 : aZp - 128;
    const size_t zpCount = randomIn(rng, 0, 1) ? N : 1;
    bZp.resize(zpCount);
    const bool zeroB = randomIn(rng, 0, 1);
    for (int8_t &v : bZp)
      v = zeroB ? 0 : static_cast<int8_t>(int(randomIn(rng, 0, 40)) - 20);
    if (randomIn(rng, 0, 1)) {
      bias.resize(N);
      for (int32_t &v : bias)
        v = int32_t(randomIn(rng, 0, 200000)) - 100000;
    }
    rq.output = static_cast<QOutput>(randomIn(rng, 0, 2));
    rq.kind = static_cast<QScaleKind>(randomIn(rng, 0, 1));
    rq.scaleCount = randomIn(rng, 0, 1) ? N : 1;
    const bool fastTable = randomIn(rng, 0, 2) != 0;
    scale.resize(rq.scaleCount);
    mult.resize(rq.scaleCount);
    shift.resize(rq.scaleCount);
    for (size_t i = 0; i < rq.scaleCount; ++i) {
      // Typical conv scales (~1e-4 .. 1e-2) plus a few that saturate.
      scale[i] = requantScale(
          std::uniform_real_distribution<float>(0.001f, 0.05f)(rng),
          std::uniform_real_distribution<float>(0.001f, 0.05f)(rng),
          std::uniform_real_distribution<float>(0.01f, 0.5f)(rng));
      // What quantizeMultiplier encodes for typical conv multipliers
      // (~1e-4 .. 0.5: shifts -13 .. -1, the fast form), or anything at all
      // (the general form: any shift, left shifts that saturate, negative
      // multipliers). A call takes the fast form only when every column
      // has a shift <= -2.
      if (fastTable) {
        quant::Multiplier q = quant::quantizeMultiplier(
            std::uniform_real_distribution<double>(1e-4, 0.249)(rng));
        mult[i] = q.mult;
        shift[i] = q.shift;
      } else {
        mult[i] = int32_t(randomIn(rng, 0, INT32_MAX));
        shift[i] = int32_t(randomIn(rng, 0, 70)) - 35;
        if (randomIn(rng, 0, 9) == 0)
          mult[i] = INT32_MIN; // not a Q31 value; defined all the same
        else if (randomIn(rng, 0, 9) == 0)
          mult[i] = -mult[i];
      }
    }
    rq.scale = scale.data();
    rq.multiplier = mult.data();
    rq.shift = shift.data();
    rq.zeroPoint = int32_t(randomIn(rng, 0, 40)) - 20;
    if (rq.output == QOutput::UInt8)
      rq.zeroPoint += 128;
    if (randomIn(rng, 0, 3) == 0) {
      rq.clampMin = rq.zeroPoint; // a fused ReLU
      rq.clampMax = rq.zeroPoint + 90;
    } else if (randomIn(rng, 0, 20) == 0) {
      rq.clampMin = rq.zeroPoint + 5; // an empty range: its lower bound
      rq.clampMax = rq.zeroPoint;
    }
  }

  /// The exact corrected accumulator of element (m, n), then requantized.
  int32_t expected(size_t m, size_t n) const {
    int64_t acc = bias.empty() ? 0 : bias[n];
    const int32_t zb = bZp[bZp.size() > 1 ? n : 0];
    for (size_t k = 0; k < K; ++k)
      acc += (a(m * lda + k) - aZp) * (int64_t(B[k * ldb + n]) - zb);
    // The accumulator wraps as int32 arithmetic does.
    return refRequant(int32_t(uint32_t(uint64_t(acc))), rq, n);
  }

  /// Element i of A as the value it holds (u8, or s8 when aSigned).
  int64_t a(size_t i) const {
    return aSigned ? int64_t(int8_t(A[i])) : int64_t(A[i]);
  }
};

int32_t readOut(const std::vector<int32_t> &buf, QOutput out, size_t i) {
  switch (out) {
  case QOutput::Int32:
    return buf[i];
  case QOutput::UInt8:
    return reinterpret_cast<const uint8_t *>(buf.data())[i];
  case QOutput::Int8:
    return reinterpret_cast<const int8_t *>(buf.data())[i];
  }
  return 0;
}

/// qgemmPacked on path `isa` with B packed for path `packIsa` (the same
/// path unless given) against the exact reference.
/// `layout`: if given, the layout packQB must have chosen.
void check(Isa isa, std::mt19937 &rng, const QProblem &p,
           Isa packIsa = Isa::Auto, QPackExtra extra = QPackExtra::SplitTile,
           const QLayout *layout = nullptr) {
  if (packIsa == Isa::Auto)
    packIsa = isa;
  std::vector<char> packed(packedQBSize(p.K, p.N, packIsa));
  ASSERT_EQ(packQB(p.K, p.N, p.B.data(), p.ldb, p.aZp, p.bZp.data(),
                   p.bZp.size(), p.bias.empty() ? nullptr : p.bias.data(),
                   packed.data(), packIsa, p.aSigned, extra),
            Status::Ok);
  if (layout) {
    ASSERT_EQ(int(packedQLayout(packed.data())), int(*layout))
        << "M=" << p.M << " N=" << p.N << " K=" << p.K;
  }
  // Output buffer large enough for int32 elements; sentinel-filled so
  // writes outside the matrix are caught.
  std::vector<int32_t> out(p.M * p.ldc + 16, 0x5a5a5a5a);
  const std::vector<int32_t> untouched = out;
  std::vector<char> ws(qgemmWorkspaceSize(p.K, isa));
  size_t m0 = 0;
  while (m0 < p.M) {
    size_t m1 = std::min(p.M, m0 + randomIn(rng, 1, p.M));
    void *w = randomIn(rng, 0, 1) ? ws.data() : nullptr;
    if (randomIn(rng, 0, 1)) {
      ASSERT_EQ(qgemmPacked(p.M, p.N, p.K, p.A.data(), p.lda, packed.data(),
                            out.data(), p.ldc, p.rq, isa, m0, m1, w),
                Status::Ok);
    } else {
      // Column pieces of whole 64-column units (qgemmPackedCols), the
      // later ones first.
      std::vector<size_t> cuts{p.N};
      for (size_t c = (p.N - 1) / 64 * 64; c > 0; c -= 64)
        if (randomIn(rng, 0, 1))
          cuts.push_back(c);
      cuts.push_back(0);
      for (size_t i = 0; i + 1 < cuts.size(); ++i)
        ASSERT_EQ(qgemmPackedCols(p.M, p.N, p.K, p.A.data(), p.lda,
                                  packed.data(), out.data(), p.ldc, p.rq, isa,
                                  m0, m1, cuts[i + 1], cuts[i], w),
                  Status::Ok);
    }
    m0 = m1;
  }
  const size_t elem = p.rq.output == QOutput::Int32 ? 4 : 1;
  size_t bad = 0;
  for (size_t m = 0; m < p.M; ++m)
    for (size_t n = 0; n < p.N; ++n) {
      int32_t want = p.expected(m, n);
      int32_t have = readOut(out, p.rq.output, m * p.ldc + n);
      if (want != have && bad++ < 5)
        ADD_FAILURE() << isaName(isa) << " (packed for " << isaName(packIsa)
                      << ") M=" << p.M << " N=" << p.N << " K=" << p.K
                      << " out=" << int(p.rq.output)
                      << " kind=" << int(p.rq.kind) << " signed=" << p.aSigned
                      << " at (" << m << "," << n << "): got " << have
                      << " want " << want;
    }
  EXPECT_EQ(bad, 0u);
  // Padding between rows is never written.
  const char *o = reinterpret_cast<const char *>(out.data());
  const char *u = reinterpret_cast<const char *>(untouched.data());
  for (size_t m = 0; m < p.M; ++m)
    for (size_t n = p.N * elem; n < p.ldc * elem; ++n)
      ASSERT_EQ(o[m * p.ldc * elem + n], u[m * p.ldc * elem + n])
          << "row padding written at row " << m;
}

TEST_P(QGemmTest, RandomSmallShapesBitExact) {
  std::mt19937 rng(2024 + static_cast<unsigned>(GetParam()));
  for (int iter = 0; iter < 400; ++iter) {
    QProblem p(rng, randomIn(rng, 1, 70), randomIn(rng, 1, 70),
               randomIn(rng, 1, 70));
    check(GetParam(), rng, p);
    if (HasFailure())
      return;
  }
}

TEST_P(QGemmTest, LargeShapesBitExact) {
  std::mt19937 rng(8);
  const size_t shapes[][3] = {{600, 70, 300}, {13, 200, 4608}, {97, 131, 1}};
  for (const auto &s : shapes)
    for (int rep = 0; rep < 3; ++rep)
      check(GetParam(), rng, QProblem(rng, s[0], s[1], s[2]));
}

// Whole 64-column panels at every depth: from 3 groups of 4 k on, the
// VNNI path's 6 x 64 tile runs its loop in inline assembly (QGemmVnni.cpp,
// vnniLoop6x4), each of its 24 accumulators in a register of its own; below
// that, the intrinsic loop. Both row tiles whole and partial, both panels
// of N = 128, every output kind and form (QProblem draws them).
TEST_P(QGemmTest, WholePanelsAtEveryDepthBitExact) {
  std::mt19937 rng(77);
  for (size_t K : {5, 9, 12, 13, 16, 31, 64, 129, 640})
    for (size_t M : {6, 13})
      for (int rep = 0; rep < 4; ++rep) {
        check(GetParam(), rng, QProblem(rng, M, 128, K));
        if (HasFailure())
          return;
      }
}

// B packed for one path runs on another: the packed header records the
// layout (QLayout: VNNI's and the generic s8 quads, AVX2's s16 pairs with
// the weight zero points folded in), and a path whose kernel does not use
// it runs a portable kernel for that layout.
TEST_P(QGemmTest, PackedForAnotherPathBitExact) {
  std::mt19937 rng(4321 + static_cast<unsigned>(GetParam()));
  for (Isa packIsa : {Isa::Generic, Isa::Avx2, Isa::AvxVnni, Isa::Avx512Vnni}) {
    if (!isaSupported(packIsa) || packIsa == GetParam())
      continue;
    for (int iter = 0; iter < 60; ++iter) {
      QProblem p(rng, randomIn(rng, 1, 40), randomIn(rng, 1, 70),
                 randomIn(rng, 1, 70));
      check(GetParam(), rng, p, packIsa);
      if (HasFailure())
        return;
    }
  }
}

// One- and two-row products (batch-1 classifiers) with B packed for the
// path qgemmPackIsa names for them: on AVX2 the generic path's s8 panels,
// which AVX2 runs with its few-row kernel (and any other number of rows
// too: the cross-layout test above has those).
TEST_P(QGemmTest, FewRowProductsBitExact) {
  std::mt19937 rng(99 + static_cast<unsigned>(GetParam()));
  for (int iter = 0; iter < 150; ++iter) {
    const size_t M = randomIn(rng, 1, 2);
    QProblem p(rng, M, randomIn(rng, 1, 300), randomIn(rng, 1, 700));
    const Isa packIsa = qgemmPackIsa(GetParam(), M);
    if (resolveIsa(GetParam()) == Isa::Avx2) {
      ASSERT_EQ(packIsa, Isa::Generic);
      std::vector<char> packed(packedQBSize(p.K, p.N, packIsa));
      ASSERT_EQ(packQB(p.K, p.N, p.B.data(), p.ldb, p.aZp, p.bZp.data(),
                       p.bZp.size(), nullptr, packed.data(), packIsa,
                       p.aSigned),
                Status::Ok);
      EXPECT_TRUE(qgemmPackedNative(packed.data(), GetParam()));
      EXPECT_FALSE(qgemmPackedNative(packed.data(), Isa::Generic));
    }
    check(GetParam(), rng, p, packIsa);
    if (HasFailure())
      return;
  }
  EXPECT_EQ(qgemmPackIsa(GetParam(), 3), resolveIsa(GetParam()));
  EXPECT_EQ(qgemmPackIsa(GetParam(), 0), resolveIsa(GetParam()));
}

/// Weights as quantizers make them, with no zero point: most small (a
/// rounded normal of width `sigma`), a few at the ends of the range (each
/// column's largest, as per-channel scales put there, when `perColumnMax`),
/// and A at its extremes now and then (255 everywhere: every pair sum at
/// its largest), so a pair that could saturate vpmaddubsw shows.
QProblem quantizerWeights(std::mt19937 &rng, size_t M, size_t N, size_t K,
                          double sigma, bool perColumnMax) {
  QProblem p(rng, M, N, K);
  std::normal_distribution<double> normal(0.0, sigma);
  for (int8_t &v : p.B)
    v = static_cast<int8_t>(
        std::max(-128.0, std::min(127.0, std::round(normal(rng)))));
  if (perColumnMax)
    for (size_t n = 0; n < N; ++n)
      p.B[randomIn(rng, 0, K - 1) * p.ldb + n] =
          randomIn(rng, 0, 1) ? int8_t(127) : int8_t(-128);
  std::fill(p.bZp.begin(), p.bZp.end(), int8_t(0));
  const size_t extreme = randomIn(rng, 0, 3);
  if (extreme == 0)
    std::fill(p.A.begin(), p.A.end(), uint8_t(p.aSigned ? 0x7f : 0xff));
  else if (extreme == 1)
    for (uint8_t &v : p.A)
      v = randomIn(rng, 0, 1) ? (p.aSigned ? 0x7f : 0xff)
                              : (p.aSigned ? 0x80 : 0x00);
  return p;
}

// qgemmPacked's split tile on AVX2 (QGemmSplit.cpp): blocks of A whose
// bytes mostly fit a window of 128 values (after a ReLU: [0, 127]; around a
// zero point near 128: [64, 191]; crowding the top: [128, 255]) run the
// vpmaddubsw tile with corrections for the bytes outside, others the exact
// tile. Weights of the extremes side by side (127 and -128: every pair can
// saturate), s8 and u8 A, 0-15% of the bytes outside the window, row pieces
// and column pieces: every output bit-exact, and both kinds of block seen.
// Dropping the corrections, or the shift's column terms, fails it.
TEST_P(QGemmTest, GemmSplitActivationsBitExact) {
  const Isa path = resolveIsa(GetParam());
  if (path != Isa::Avx2 && path != Isa::Avx512)
    GTEST_SKIP() << "the split GEMM tile is the AVX2 kernel's";
  std::mt19937 rng(4711);
  const QGemmBlockCounts before = qgemmBlockCounts();
  for (int iter = 0; iter < 60; ++iter) {
    QProblem p(rng, randomIn(rng, 1, iter % 10 == 0 ? 700 : 90),
               randomIn(rng, 1, 100), randomIn(rng, 1, 300));
    std::fill(p.bZp.begin(), p.bZp.end(), int8_t(0));
    const int8_t ext[] = {127, 127, -128, -128, 126, -127, 3, -2};
    for (int8_t &v : p.B)
      v = ext[randomIn(rng, 0, 7)];
    // The window's start (in the u8 domain the kernel reads), and the share
    // (per mille) of bytes outside it; the last kind: uniform bytes.
    const int kind = iter % 4;
    const uint8_t base = kind == 0 ? 0 : kind == 1 ? 64 : 128;
    const size_t outside = randomIn(rng, 0, 150);
    for (uint8_t &v : p.A) {
      uint8_t u = static_cast<uint8_t>(base + randomIn(rng, 0, 127));
      if (kind == 3)
        u = static_cast<uint8_t>(randomIn(rng, 0, 255));
      else if (randomIn(rng, 0, 999) < outside)
        u = static_cast<uint8_t>(u + 128); // above or below the window
      v = p.aSigned ? static_cast<uint8_t>(u ^ 0x80) : u;
    }
    check(GetParam(), rng, p);
    if (HasFailure())
      return;
  }
  const QGemmBlockCounts &after = qgemmBlockCounts();
  EXPECT_GT(after.split, before.split) << "no block took the split tile";
  EXPECT_GT(after.exact, before.exact) << "no block took the exact tile";
}

// QPackExtra::PairedK: weights whose rows pair take the Paired layout (on
// AVX2, the vpmaddubsw tile over A gathered into the pairs' order), others
// the exact one; every result bit-exact, A at its extremes included. The
// same buffers on the other paths (a portable tile over the same order).
TEST_P(QGemmTest, PairedWeightsBitExact) {
  std::mt19937 rng(555 + static_cast<unsigned>(GetParam()));
  const bool avx2 = resolveIsa(GetParam()) == Isa::Avx2;
  size_t paired = 0;
  for (int iter = 0; iter < 160; ++iter) {
    const size_t K = randomIn(rng, 1, iter % 8 == 0 ? 900 : 200);
    const size_t N = randomIn(rng, 1, iter % 8 == 1 ? 300 : 70);
    const double sigma = iter % 3 == 0 ? 8.0 : iter % 3 == 1 ? 20.0 : 30.0;
    QProblem p =
        quantizerWeights(rng, randomIn(rng, 1, 70), N, K, sigma, iter % 2 == 0);
    std::vector<char> packed(packedQBSize(p.K, p.N, GetParam()));
    ASSERT_EQ(packQB(p.K, p.N, p.B.data(), p.ldb, p.aZp, p.bZp.data(),
                     p.bZp.size(), nullptr, packed.data(), GetParam(),
                     p.aSigned, QPackExtra::PairedK),
              Status::Ok);
    const QLayout l = packedQLayout(packed.data());
    paired += l == QLayout::Paired;
    if (!avx2) {
      EXPECT_NE(int(l), int(QLayout::Paired)) << "only the AVX2 path pairs";
    }
    check(GetParam(), rng, p, GetParam(), QPackExtra::PairedK, &l);
    for (Isa other : {Isa::Generic, Isa::Avx2})
      if (other != GetParam() && isaSupported(other))
        check(other, rng, p, GetParam(), QPackExtra::PairedK, &l);
    if (HasFailure())
      return;
  }
  if (avx2) {
    EXPECT_GT(paired, 100u) << "most quantizer-like weights pair";
  }
}

// Weights that cannot pair keep the exact layout: nearly all at the ends of
// the range (no two rows fit), and a weight zero point (the paired tile
// multiplies B as it is). Rows that must go with a zero row (a column's
// 127 and 100 in every other row but one) still pair within the budget.
TEST_P(QGemmTest, PairedFallsBackAndPadsBitExact) {
  if (resolveIsa(GetParam()) != Isa::Avx2)
    GTEST_SKIP() << "the Paired layout is the AVX2 path's";
  std::mt19937 rng(808);
  const QLayout pair16 = QLayout::Pair16, paired = QLayout::Paired;
  for (int iter = 0; iter < 20; ++iter) {
    QProblem p(rng, randomIn(rng, 1, 40), randomIn(rng, 1, 60),
               randomIn(rng, 8, 120));
    for (int8_t &v : p.B)
      v = randomIn(rng, 0, 1) ? int8_t(127 - randomIn(rng, 0, 20))
                              : int8_t(-128 + randomIn(rng, 0, 20));
    std::fill(p.bZp.begin(), p.bZp.end(), int8_t(0));
    check(GetParam(), rng, p, GetParam(), QPackExtra::PairedK, &pair16);
    QProblem z = quantizerWeights(rng, 7, 20, 64, 8.0, false);
    z.bZp.assign(1, 3);
    check(GetParam(), rng, z, GetParam(), QPackExtra::PairedK, &pair16);
    // One hot row per 8: row 8i holds 127 in column i % N, which only
    // rows holding at most 1 there may join (all others hold 100).
    QProblem h = quantizerWeights(rng, 13, 24, 64, 1.0, false);
    for (size_t k = 0; k < h.K; ++k)
      for (size_t n = 0; n < h.N; ++n)
        h.B[k * h.ldb + n] = int8_t(k % 8 == 0 && n == (k / 8) % h.N ? 127
                                    : n == (k / 8) % h.N             ? 100
                                                                     : 0);
    check(GetParam(), rng, h, GetParam(), QPackExtra::PairedK, &paired);
    if (HasFailure())
      return;
  }
}

TEST_P(QGemmTest, RequantizeOneMatchesReference) {
  std::mt19937 rng(31);
  for (int iter = 0; iter < 20000; ++iter) {
    Requantize rq;
    rq.output = static_cast<QOutput>(randomIn(rng, 1, 2));
    rq.kind = static_cast<QScaleKind>(randomIn(rng, 0, 1));
    float scale = std::uniform_real_distribution<float>(1e-6f, 0.1f)(rng);
    int32_t mult = int32_t(randomIn(rng, 0, INT32_MAX));
    int32_t shift = int32_t(randomIn(rng, 0, 80)) - 40;
    rq.scale = &scale;
    rq.multiplier = &mult;
    rq.shift = &shift;
    rq.zeroPoint = int32_t(randomIn(rng, 0, 300)) - 150;
    int32_t acc = int32_t(uint32_t(rng()));
    if (iter % 7 == 0)
      acc = int32_t(randomIn(rng, 0, 2000)) - 1000;
    // Exact .5 products exercise round-half-to-even.
    if (iter % 11 == 0) {
      scale = 0.5f;
      acc = int32_t(randomIn(rng, 0, 400)) - 200;
    }
    ASSERT_EQ(requantizeOne(acc, rq, 0), refRequant(acc, rq, 0))
        << "acc=" << acc << " scale=" << scale << " mult=" << mult
        << " shift=" << shift << " kind=" << int(rq.kind);
  }
}

TEST_P(QGemmTest, RejectsMismatchedPacking) {
  std::vector<int8_t> B(16 * 8, 1), zp(1, 0);
  std::vector<uint8_t> A(4 * 16, 1);
  std::vector<int32_t> C(4 * 8);
  std::vector<char> packed(packedQBSize(16, 8, GetParam()));
  ASSERT_EQ(packQB(16, 8, B.data(), 8, 0, zp.data(), 1, nullptr, packed.data(),
                   GetParam()),
            Status::Ok);
  EXPECT_EQ(qgemmPacked(4, 8, 15, A.data(), 16, packed.data(), C.data(), 8, {},
                        GetParam()),
            Status::LayoutMismatch);
  Requantize rq;
  rq.output = QOutput::UInt8; // no scale given
  EXPECT_EQ(qgemmPacked(4, 8, 16, A.data(), 16, packed.data(), C.data(), 8, rq,
                        GetParam()),
            Status::InvalidArgument);
  EXPECT_EQ(packQB(16, 8, B.data(), 8, 0, zp.data(), 3, nullptr, packed.data(),
                   GetParam()),
            Status::InvalidArgument);
  // Column ranges: whole 64-column units (or up to N), inside [0, N].
  rq = {};
  for (auto [n0, n1] : {std::pair<size_t, size_t>{4, 8}, {0, 9}, {6, 2}})
    EXPECT_EQ(qgemmPackedCols(4, 8, 16, A.data(), 16, packed.data(), C.data(),
                              8, rq, GetParam(), 0, 4, n0, n1),
              Status::InvalidArgument)
        << n0 << ".." << n1;
  EXPECT_EQ(qgemmPackedCols(4, 8, 16, A.data(), 16, packed.data(), C.data(), 8,
                            rq, GetParam(), 0, 4, 0, 8),
            Status::Ok);
}

/// A random convolution geometry (may be invalid: callers skip those):
/// channels, kernels up to 5x5, strides, pads and dilations up to 2; every
/// 25th iteration a large map (several slabs per call) with 3 or 64
/// channels.
Conv2DShape randomConvShape(std::mt19937 &rng, int iter) {
  Conv2DShape sh;
  const size_t cs[] = {1, 3, 4, 5, 8, 12, 16, 32, 64};
  sh.channels = cs[randomIn(rng, 0, 8)];
  sh.height = randomIn(rng, 1, 12);
  sh.width = randomIn(rng, 1, 12);
  sh.outChannels = randomIn(rng, 1, 150);
  sh.kernelH = randomIn(rng, 1, 3);
  sh.kernelW = randomIn(rng, 1, 3);
  if (randomIn(rng, 0, 9) == 0)
    sh.kernelH = sh.kernelW = 5;
  sh.strideH = randomIn(rng, 1, 2);
  sh.strideW = randomIn(rng, 1, 2);
  if (randomIn(rng, 0, 2)) {
    sh.padTop = randomIn(rng, 0, 2);
    sh.padLeft = randomIn(rng, 0, 2);
    sh.padBottom = randomIn(rng, 0, 2);
    sh.padRight = randomIn(rng, 0, 2);
  }
  sh.dilationH = randomIn(rng, 1, 2);
  sh.dilationW = randomIn(rng, 1, 2);
  if (iter % 25 == 0) { // several slabs per call; wide 3-channel rows
    sh.channels = iter % 50 == 0 ? 3 : 64;
    sh.height = randomIn(rng, 40, 70);
    sh.width = randomIn(rng, 40, 70);
    sh.outChannels = randomIn(rng, 1, 8);
  }
  return sh;
}

/// q.B (GEMM order [(kh*KW + kw)*C + c][n]) packed for qconv2dNhwc on
/// `isa`: the channels of a tap padded to a multiple of 4 by zero rows.
std::vector<char> packQConv(const Conv2DShape &sh, const QProblem &q, Isa isa) {
  const size_t C = sh.channels, Cp = (C + 3) / 4 * 4;
  const size_t taps = sh.kernelH * sh.kernelW, OC = sh.outChannels;
  std::vector<int8_t> Bp(taps * Cp * q.ldb, 0);
  for (size_t tap = 0; tap < taps; ++tap)
    for (size_t c = 0; c < C; ++c)
      for (size_t n = 0; n < OC; ++n)
        Bp[(tap * Cp + c) * q.ldb + n] = q.B[(tap * C + c) * q.ldb + n];
  std::vector<char> packed(packedQBSize(taps * Cp, OC, isa));
  EXPECT_EQ(packQB(taps * Cp, OC, Bp.data(), q.ldb, q.aZp, q.bZp.data(),
                   q.bZp.size(), q.bias.empty() ? nullptr : q.bias.data(),
                   packed.data(), isa, q.aSigned),
            Status::Ok);
  return packed;
}

/// qconv2dNhwc of `sh` (weights q.B in GEMM order [(kh*KW + kw)*C + c][n],
/// packed as `packed`) over x in random pieces of pixels and of output
/// channels, against the convolution's definition (int64 sums over the
/// window, padding reading the input's zero point); output row padding is
/// never written.
void checkQConv(std::mt19937 &rng, const Conv2DShape &sh,
                const std::vector<uint8_t> &x, size_t ldx, size_t ldy,
                const QProblem &q, const std::vector<char> &packed, Isa isa,
                int iter) {
  const size_t C = sh.channels, OC = sh.outChannels;
  const size_t KH = sh.kernelH, KW = sh.kernelW;
  const size_t OW = sh.outWidth(), P = sh.outHeight() * OW;
  std::vector<int32_t> out(P * ldy + 16, 0x5a5a5a5a);
  std::vector<char> ws(qconv2dNhwcWorkspaceSize(sh, isa));
  const size_t elem = q.rq.output == QOutput::Int32 ? 4 : 1;
  for (size_t p0 = 0; p0 < P;) {
    size_t p1 = std::min(P, p0 + randomIn(rng, 1, P));
    char *y = reinterpret_cast<char *>(out.data()) + p0 * ldy * elem;
    void *w = randomIn(rng, 0, 1) ? ws.data() : nullptr;
    if (randomIn(rng, 0, 1)) {
      ASSERT_EQ(qconv2dNhwc(sh, x.data(), ldx, q.aZp, packed.data(), y, ldy,
                            q.rq, isa, p0, p1, w),
                Status::Ok);
    } else {
      // Output channels in two pieces cut at a panel (64) boundary, the
      // later one first (qconv2dNhwcCols).
      size_t cut = std::min(OC, 64 * randomIn(rng, 0, (OC + 63) / 64));
      ASSERT_EQ(qconv2dNhwcCols(sh, x.data(), ldx, q.aZp, packed.data(), y, ldy,
                                q.rq, isa, p0, p1, cut, OC, w),
                Status::Ok);
      ASSERT_EQ(qconv2dNhwcCols(sh, x.data(), ldx, q.aZp, packed.data(), y, ldy,
                                q.rq, isa, p0, p1, 0, cut, w),
                Status::Ok);
      if (OC > 1) {
        EXPECT_EQ(qconv2dNhwcCols(sh, x.data(), ldx, q.aZp, packed.data(), y,
                                  ldy, q.rq, isa, p0, p1, 1, OC, w),
                  Status::InvalidArgument)
            << "a column range must start on a panel";
      }
    }
    p0 = p1;
  }
  size_t bad = 0;
  for (size_t pix = 0; pix < P; ++pix)
    for (size_t n = 0; n < OC; ++n) {
      int64_t acc = q.bias.empty() ? 0 : q.bias[n];
      const int64_t zb = q.bZp[q.bZp.size() > 1 ? n : 0];
      size_t oh = pix / OW, ow = pix % OW;
      for (size_t kh = 0; kh < KH; ++kh)
        for (size_t kw = 0; kw < KW; ++kw) {
          ptrdiff_t ih = ptrdiff_t(oh * sh.strideH + kh * sh.dilationH) -
                         ptrdiff_t(sh.padTop);
          ptrdiff_t iw = ptrdiff_t(ow * sh.strideW + kw * sh.dilationW) -
                         ptrdiff_t(sh.padLeft);
          bool in = ih >= 0 && iw >= 0 && ih < ptrdiff_t(sh.height) &&
                    iw < ptrdiff_t(sh.width);
          for (size_t c = 0; c < C; ++c) {
            int64_t xv = q.aZp;
            if (in) {
              uint8_t xb = x[(size_t(ih) * sh.width + size_t(iw)) * ldx + c];
              xv = q.aSigned ? int64_t(int8_t(xb)) : int64_t(xb);
            }
            acc +=
                (xv - q.aZp) * (q.B[((kh * KW + kw) * C + c) * q.ldb + n] - zb);
          }
        }
      int32_t want = refRequant(int32_t(uint32_t(uint64_t(acc))), q.rq, n);
      int32_t have = readOut(out, q.rq.output, pix * ldy + n);
      if (want != have && bad++ < 5)
        ADD_FAILURE() << isaName(isa) << " iter " << iter << " C=" << C
                      << " OC=" << OC << " " << KH << "x" << KW << " stride "
                      << sh.strideH << "," << sh.strideW << " pads "
                      << sh.padTop << "," << sh.padLeft << "," << sh.padBottom
                      << "," << sh.padRight << " dilation " << sh.dilationH
                      << "," << sh.dilationW << " map " << sh.height << "x"
                      << sh.width << " x_zp " << q.aZp
                      << (q.aSigned ? " s8" : " u8") << " at (" << pix << ","
                      << n << "): got " << have << " want " << want;
    }
  ASSERT_EQ(bad, 0u);
  const char *o = reinterpret_cast<const char *>(out.data());
  for (size_t pix = 0; pix < P; ++pix)
    for (size_t b = OC * elem; b < ldy * elem; ++b)
      ASSERT_EQ(o[pix * ldy * elem + b], 0x5a) << "padding written";
}

/// qconv2dNhwc against the convolution's definition, random geometry.
TEST_P(QGemmTest, ConvNhwcImplicitBitExact) {
  std::mt19937 rng(1234);
  size_t ran[6] = {0, 0, 0, 0, 0, 0};
  for (int iter = 0; iter < 400; ++iter) {
    const Conv2DShape sh = randomConvShape(rng, iter);
    if (!sh.valid())
      continue;
    const size_t C = sh.channels, OC = sh.outChannels;
    const size_t K = sh.kernelH * sh.kernelW * C;
    const size_t P = sh.outHeight() * sh.outWidth();
    const size_t ldx = C + (iter % 50 == 0 ? 0 : randomIn(rng, 0, 5)),
                 ldy = OC + randomIn(rng, 0, 3);
    std::vector<uint8_t> x(sh.height * sh.width * ldx);
    for (uint8_t &v : x)
      v = static_cast<uint8_t>(randomIn(rng, 0, 255));
    // Weights in GEMM order: B[(kh*KW + kw)*C + c][oc], packed with the
    // channels padded to Cp by zero rows.
    QProblem q(rng, P, OC, K);
    // Weight zero points: only where the path folds them into the weights.
    if (!qconv2dNhwcAvailable(GetParam(), true))
      std::fill(q.bZp.begin(), q.bZp.end(), 0);
    ++ran[4 + (q.bZp[0] != 0 || q.bZp.back() != 0)];
    const std::vector<char> packed = packQConv(sh, q, GetParam());
    if (!qconv2dNhwcSupported(sh, packed.data(), GetParam())) {
      EXPECT_NE(GetParam(), Isa::Avx512Vnni);
      std::vector<int32_t> out(4);
      EXPECT_EQ(qconv2dNhwc(sh, x.data(), ldx, q.aZp, packed.data(), out.data(),
                            ldy, q.rq, GetParam(), 0, 0),
                Status::LayoutMismatch);
      return;
    }
    const bool inPlace = C % 4 == 0 && !sh.padTop && !sh.padLeft &&
                         !sh.padBottom && !sh.padRight;
    ++ran[(inPlace ? 1 : 0) + (q.aSigned ? 2 : 0)];
    checkQConv(rng, sh, x, ldx, ldy, q, packed, GetParam(), iter);
    if (HasFatalFailure())
      return;
  }
  // Every path of the kernel ran (slab and in place, u8 and s8 input; on
  // AVX2, which always reads through its widened slab, the geometries that
  // VNNI reads in place), with weight zero points where the path has them.
  EXPECT_GT(ran[0] * ran[1] * ran[2] * ran[3] * ran[4], 0u);
  if (qconv2dNhwcAvailable(GetParam(), true)) {
    EXPECT_GT(ran[5], 0u);
  }
  // A nonzero weight zero point needs row sums on VNNI: not this path
  // there; AVX2's packing folds it into the weights.
  Conv2DShape sh;
  sh.channels = 8;
  sh.height = sh.width = 4;
  sh.outChannels = 8;
  std::vector<int8_t> B(64, 1), zp(1, 3);
  std::vector<char> packed(packedQBSize(8, 8, GetParam()));
  ASSERT_EQ(packQB(8, 8, B.data(), 8, 0, zp.data(), 1, nullptr, packed.data(),
                   GetParam()),
            Status::Ok);
  EXPECT_EQ(qconv2dNhwcSupported(sh, packed.data(), GetParam()),
            qconv2dNhwcAvailable(GetParam(), true));
}

/// On AVX2, qconv2dNhwc runs a pass through the split tile (vpmaddubsw on
/// 7-bit activations: x - shift, the window [shift, shift + 127] that holds
/// most of the pass's activations; +-128 x B added for each activation
/// outside) when few fall outside, else through the exact tile. Both must equal
/// the definition: activations after a ReLU (zero point near 0, 0-40% of
/// them at 128 or more), spread around a zero point near 128 (u8 or s8,
/// 0-40% of them more than 64 away, on both sides) and crowding the top of
/// the range (zero point near 0, 0-40% below 128), weights of the
/// extremes that make vpmaddubsw saturate on whole bytes (127 and -128 next
/// to each other), random geometry. Fails if the corrections are dropped,
/// the slab keeps the high bits or the shift is not undone.
TEST_P(QGemmTest, ConvNhwcSplitActivationsBitExact) {
  if (!qconv2dNhwcAvailable(GetParam(), false))
    GTEST_SKIP() << "no implicit-GEMM convolution on this path";
  std::mt19937 rng(4321);
  const detail::QConvPassCounts before = detail::qconvPassCounts();
  const int hotPercent[] = {0, 1, 2, 3, 40};
  for (int iter = 0; iter < 250; ++iter) {
    Conv2DShape sh = randomConvShape(rng, iter);
    if (iter % 2) { // enough work per pixel for the split tile to pay
      sh.channels = randomIn(rng, 0, 1) ? 32 : 64;
      sh.outChannels = randomIn(rng, 64, 150);
      sh.kernelH = sh.kernelW = 3;
    }
    if (!sh.valid())
      continue;
    const size_t C = sh.channels, OC = sh.outChannels;
    const size_t K = sh.kernelH * sh.kernelW * C;
    const size_t P = sh.outHeight() * sh.outWidth();
    const size_t ldx = C + randomIn(rng, 0, 3), ldy = OC + randomIn(rng, 0, 3);
    const int hot = hotPercent[iter % 5];
    QProblem q(rng, P, OC, K);
    std::fill(q.bZp.begin(), q.bZp.end(), 0); // the split tile's weights
    std::vector<uint8_t> x(sh.height * sh.width * ldx);
    const int mode = int(randomIn(rng, 0, 3));
    if (mode == 0) { // after a ReLU; now and then a zero point >= 128
      q.aSigned = false;
      q.aZp = randomIn(rng, 0, 3) ? int32_t(randomIn(rng, 0, 9))
                                  : int32_t(randomIn(rng, 128, 255));
      for (uint8_t &v : x)
        v = static_cast<uint8_t>(randomIn(rng, 0, 127) +
                                 (int(randomIn(rng, 0, 99)) < hot ? 128 : 0));
    } else if (mode == 3) { // crowding the top of the range, zero point 0
      q.aSigned = false;
      q.aZp = int32_t(randomIn(rng, 0, 9));
      for (uint8_t &v : x)
        v = static_cast<uint8_t>(int(randomIn(rng, 0, 99)) < hot
                                     ? randomIn(rng, 0, 127)
                                     : randomIn(rng, 128, 255));
    } else { // around the zero point (u8 near 128, or s8 near 0)
      q.aSigned = mode == 2;
      q.aZp = int32_t(randomIn(rng, 90, 170)) - (q.aSigned ? 128 : 0);
      for (uint8_t &v : x) {
        int d = int(randomIn(rng, 0, 120)) - 60;
        if (int(randomIn(rng, 0, 99)) < hot) // outside the window
          d = randomIn(rng, 0, 1) ? int(randomIn(rng, 64, 127))
                                  : -int(randomIn(rng, 65, 128));
        v = static_cast<uint8_t>(
            std::clamp(q.aZp + d, q.aSigned ? -128 : 0, q.aSigned ? 127 : 255));
      }
    }
    if (iter % 4 < 2) { // saturating neighbours
      const int8_t ext[] = {127, 127, -128, -128, 126, -127, 0, 1};
      for (int8_t &v : q.B)
        v = ext[randomIn(rng, 0, 7)];
    }
    const std::vector<char> packed = packQConv(sh, q, GetParam());
    checkQConv(rng, sh, x, ldx, ldy, q, packed, GetParam(), iter);
    if (HasFatalFailure())
      return;
  }
  const detail::QConvPassCounts &after = detail::qconvPassCounts();
  const Isa path = resolveIsa(GetParam());
  if (path == Isa::Avx2 || path == Isa::Avx512) {
    EXPECT_GT(after.split, before.split) << "no pass took the split tile";
    EXPECT_GT(after.shifted, before.shifted) << "no pass shifted";
    EXPECT_GT(after.below, before.below) << "no activation below a window";
    EXPECT_GT(after.entries, before.entries) << "no correction ran";
    EXPECT_GT(after.wide, before.wide) << "no pass took the exact tile";
  }
}

// Activations whose pairs (channels 2i, 2i + 1 of a pixel) sum to at most
// 256, many of them above 127, beside weights at both extremes: the split
// tile reads them in place, exact (a pair of 128 and 128 against -128 and
// -128 is -32768, s16's least). A pass with one pair of 257 (129 + 128
// against -128 twice: -32,896, which vpmaddubsw would saturate) goes through
// the slab instead, whose map clears that pair, and stays exact.
TEST_P(QGemmTest, ConvNhwcPairsInPlaceBitExact) {
  if (!qconv2dNhwcAvailable(GetParam(), false))
    GTEST_SKIP() << "no implicit-GEMM convolution on this path";
  std::mt19937 rng(977);
  const detail::QConvPassCounts before = detail::qconvPassCounts();
  for (int iter = 0; iter < 120; ++iter) {
    Conv2DShape sh;
    const size_t cs[] = {4, 8, 16, 32, 96};
    sh.channels = cs[randomIn(rng, 0, 4)];
    sh.height = randomIn(rng, 1, 20);
    sh.width = randomIn(rng, 1, 20);
    sh.outChannels =
        randomIn(rng, 0, 2) ? randomIn(rng, 1, 32) : randomIn(rng, 33, 150);
    sh.kernelH = sh.kernelW = randomIn(rng, 0, 3) ? 1 : 3;
    sh.strideH = sh.strideW = randomIn(rng, 1, 2);
    if (!sh.valid())
      continue;
    const size_t C = sh.channels, OC = sh.outChannels;
    const size_t K = sh.kernelH * sh.kernelW * C;
    const size_t P = sh.outHeight() * sh.outWidth();
    QProblem q(rng, P, OC, K);
    std::fill(q.bZp.begin(), q.bZp.end(), 0);
    q.aSigned = false;
    q.aZp = int32_t(randomIn(rng, 0, 9));
    std::vector<uint8_t> x(sh.height * sh.width * C);
    for (size_t i = 0; i < x.size(); i += 2) { // a pair in either order
      const bool edge = randomIn(rng, 0, 3) == 0;
      const int a0 = edge ? 128 : int(randomIn(rng, 0, 255));
      const int a1 =
          edge ? 128 : int(randomIn(rng, 0, std::min(256 - a0, 255)));
      const bool swap = randomIn(rng, 0, 1) != 0;
      x[i] = uint8_t(swap ? a1 : a0);
      x[i + 1] = uint8_t(swap ? a0 : a1);
    }
    const bool over = iter % 3 == 2;
    if (over) { // one pair past the bound, now and then the last (a slab's
                // tail of fewer than 32 bytes)
      const size_t at =
          iter % 6 == 5 ? x.size() - 2 : 2 * randomIn(rng, 0, x.size() / 2 - 1);
      x[at] = 129;
      x[at + 1] = 128;
    }
    const int8_t ext[] = {127, 127, -128, -128, 126, -127, 0, 1};
    for (int8_t &v : q.B)
      v = ext[randomIn(rng, 0, 7)];
    const std::vector<char> packed = packQConv(sh, q, GetParam());
    checkQConv(rng, sh, x, C, OC + randomIn(rng, 0, 3), q, packed, GetParam(),
               iter);
    if (HasFatalFailure())
      return;
  }
  const detail::QConvPassCounts &after = detail::qconvPassCounts();
  if (resolveIsa(GetParam()) == Isa::Avx2) {
    EXPECT_GT(after.inPlace, before.inPlace) << "no pass read x in place";
    EXPECT_GT(after.split + after.wide - after.inPlace,
              before.split + before.wide - before.inPlace)
        << "every pass read x in place";
  }
}

// The split slab's map against its definition, byte by byte, over lengths
// with and without a tail of fewer than 32 bytes: a byte is cleared when it
// lies below the window (at least `from`, when that is asked) or has its
// high bit in a pair whose sum, the bytes below cleared, passes 256; the
// count before the slab (pairHotGroupsAvx2) agrees with it.
TEST(QGemmSplitMap, ClearsBelowAndPairsOver256) {
  if (!isaSupported(Isa::Avx2))
    GTEST_SKIP() << "no AVX2 on this CPU";
  std::mt19937 rng(31);
  for (int iter = 0; iter < 400; ++iter) {
    const size_t n = 4 * randomIn(rng, 1, 40);
    const uint8_t shift = uint8_t(iter % 3 ? randomIn(rng, 1, 128) : 0);
    const bool below = shift != 0;
    const uint8_t from = uint8_t(256 - shift);
    std::vector<uint8_t> x(n);
    for (size_t i = 0; i < n; i += 2) { // pairs near 256 after the shift
      const int a0 = int(randomIn(rng, 0, 255));
      const int a1 = std::clamp(256 - a0 + int(randomIn(rng, 0, 4)) - 2 +
                                    (randomIn(rng, 0, 3) ? 0 : -100),
                                0, 255);
      x[i] = uint8_t(a0 + shift);
      x[i + 1] = uint8_t(a1 + shift);
      if (below && randomIn(rng, 0, 7) == 0) // below the window
        x[i + randomIn(rng, 0, 1)] = uint8_t(randomIn(rng, 0, shift - 1));
    }
    std::vector<uint8_t> slab(n);
    for (size_t i = 0; i < n; ++i)
      slab[i] = uint8_t(x[i] - shift);
    std::vector<uint8_t> want = slab;
    std::vector<bool> cleared(n, false);
    size_t groups = 0;
    for (size_t i = 0; i < n; i += 2) {
      const bool b0 = below && slab[i] >= from,
                 b1 = below && slab[i + 1] >= from;
      const unsigned s0 = b0 ? slab[i] & 0x7f : slab[i],
                     s1 = b1 ? slab[i + 1] & 0x7f : slab[i + 1];
      cleared[i] = b0 || (s0 + s1 > 256 && slab[i] >= 128);
      cleared[i + 1] = b1 || (s0 + s1 > 256 && slab[i + 1] >= 128);
    }
    for (size_t i = 0; i < n; ++i)
      if (cleared[i])
        want[i] &= 0x7f;
    for (size_t g = 0; g < n; g += 4)
      groups +=
          cleared[g] || cleared[g + 1] || cleared[g + 2] || cleared[g + 3];
    std::vector<uint64_t> bits((n + 63) / 64 + 1, ~0ull),
        low((n + 63) / 64 + 1, ~0ull);
    const size_t got = detail::slabHighBitsAvx2(
        slab.data(), n, bits.data(), from, below ? low.data() : nullptr);
    ASSERT_EQ(got, groups) << "iteration " << iter;
    EXPECT_EQ(
        detail::pairHotGroupsAvx2(x.data(), n, uint8_t(-shift), from, below, n),
        groups)
        << "iteration " << iter;
    for (size_t i = 0; i < n; ++i) {
      ASSERT_EQ(slab[i], want[i]) << "iteration " << iter << " byte " << i;
      ASSERT_EQ((bits[i / 64] >> (i % 64)) & 1, uint64_t(cleared[i]))
          << "iteration " << iter << " byte " << i;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Paths, QGemmTest,
                         ::testing::Values(Isa::Generic, Isa::Avx2,
                                           Isa::AvxVnni, Isa::Avx512Vnni),
                         [](const auto &info) {
                           return std::string(isaName(info.param));
                         });

} // namespace
} // namespace ember::cpu::test
