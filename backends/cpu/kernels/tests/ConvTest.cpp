//===- ConvTest.cpp - conv2d, depthwise and pooling vs the reference ------===//
#include "Reference.h"

#include "Internal.h"
#include "PointwiseNarrow.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <gtest/gtest.h>

#include <initializer_list>

namespace ember::cpu::test {
namespace {

class ConvTest : public ::testing::TestWithParam<Isa> {
protected:
  void SetUp() override {
    if (!isaSupported(GetParam()))
      GTEST_SKIP() << isaName(GetParam()) << " not supported on this CPU";
  }
};

std::string describe(const Conv2DShape &s) {
  auto n = [](size_t v) { return std::to_string(v); };
  return "C=" + n(s.channels) + " HxW=" + n(s.height) + "x" + n(s.width) +
         " OC=" + n(s.outChannels) + " k=" + n(s.kernelH) + "x" + n(s.kernelW) +
         " s=" + n(s.strideH) + "," + n(s.strideW) + " p=" + n(s.padTop) + "," +
         n(s.padLeft) + "," + n(s.padBottom) + "," + n(s.padRight) +
         " d=" + n(s.dilationH) + "," + n(s.dilationW) +
         (s.ceilMode ? " ceil" : "");
}

Conv2DShape randomShape(std::mt19937 &rng, size_t maxK) {
  for (;;) {
    Conv2DShape s;
    s.channels = randomIn(rng, 1, 9);
    s.height = randomIn(rng, 1, 13);
    // Mostly narrow; sometimes wide enough for full vectors after stride 2.
    s.width = randomIn(rng, 1, randomIn(rng, 0, 3) ? 21 : 45);
    s.outChannels = randomIn(rng, 1, 20);
    s.kernelH = randomIn(rng, 1, maxK);
    s.kernelW = randomIn(rng, 1, maxK);
    s.strideH = randomIn(rng, 1, 3);
    s.strideW = randomIn(rng, 1, 3);
    s.padTop = randomIn(rng, 0, 2);
    s.padLeft = randomIn(rng, 0, 2);
    s.padBottom = randomIn(rng, 0, 2);
    s.padRight = randomIn(rng, 0, 2);
    s.dilationH = randomIn(rng, 1, 2);
    s.dilationW = randomIn(rng, 1, 2);
    if (s.valid())
      return s;
  }
}

/// A random epilogue whose buffers live in `store`.
struct RandomEpilogue {
  std::vector<float> bias, residual;
  Epilogue epi;
  RandomEpilogue(std::mt19937 &rng, size_t channels, size_t outSize) {
    if (randomIn(rng, 0, 1)) {
      bias = randomFloats(rng, channels);
      epi.bias = bias.data();
      epi.biasAxis = BiasAxis::PerRow;
    }
    epi.activation = static_cast<Activation>(randomIn(rng, 0, 2));
    epi.clipMin = -0.3f;
    epi.clipMax = 0.6f;
    if (randomIn(rng, 0, 1)) {
      residual = randomFloats(rng, outSize);
      epi.residual = residual.data();
      epi.residualAfterActivation = randomIn(rng, 0, 1);
    }
    epi.accumulate = randomIn(rng, 0, 3) == 0;
  }
};

void expectNear(const RefResult &ref, const std::vector<float> &got,
                const std::string &what) {
  ASSERT_EQ(ref.value.size(), got.size());
  size_t bad = 0;
  for (size_t i = 0; i < got.size(); ++i)
    if (!(std::fabs(ref.value[i] - got[i]) <= ref.bound[i]) && bad++ < 5)
      ADD_FAILURE() << what << " at " << i << ": got " << got[i] << " want "
                    << ref.value[i];
  EXPECT_EQ(bad, 0u) << what;
}

/// The non-empty ranges of a 2x2 grid cut at (pixCut, ocCut) over P
/// pixels x N channels, channel-major; `odd` alternates between
/// neighbouring cells (the tests pass a workspace to half of them and
/// nullptr to the others), `origin` is the cell at channel 0, pixel 0.
struct GridCell {
  ConvRange r;
  bool odd;
  bool origin;
};
std::vector<GridCell> rangeGrid(size_t P, size_t N, size_t pixCut,
                                size_t ocCut) {
  std::vector<GridCell> cells;
  for (size_t a = 0; a < 2; ++a)
    for (size_t b = 0; b < 2; ++b) {
      ConvRange r;
      r.ocBegin = a ? ocCut : 0;
      r.ocEnd = a ? N : ocCut;
      r.pixBegin = b ? pixCut : 0;
      r.pixEnd = b ? P : pixCut;
      if (r.ocBegin != r.ocEnd && r.pixBegin != r.pixEnd)
        cells.push_back({r, (a + b) % 2 != 0, a + b == 0});
    }
  return cells;
}

void checkConv(Isa isa, std::mt19937 &rng, const Conv2DShape &s) {
  const size_t OH = s.outHeight(), OW = s.outWidth(), P = OH * OW;
  std::vector<float> x = randomFloats(rng, s.channels * s.height * s.width);
  std::vector<float> w =
      randomFloats(rng, s.outChannels * s.channels * s.kernelH * s.kernelW);
  std::vector<float> y0 = randomFloats(rng, s.outChannels * P);
  RandomEpilogue re(rng, s.outChannels, s.outChannels * P);
  const RefResult ref = refConv(s, x.data(), w.data(), y0.data(), re.epi,
                                /*depthwise=*/false);
  const std::string what = std::string(isaName(isa)) + " " + describe(s);

  std::vector<char> packed(packedConvWeightsSize(s, isa));
  ASSERT_EQ(packConvWeights(s, w.data(), packed.data(), isa), Status::Ok);
  std::vector<float> y = y0;
  ASSERT_EQ(conv2d(s, x.data(), packed.data(), y.data(), re.epi, isa),
            Status::Ok);
  expectNear(ref, y, "conv2d " + what);

  size_t ocGranule = 0, pixGranule = 0;
  ASSERT_EQ(conv2dGranules(packed.data(), &ocGranule, &pixGranule), Status::Ok);
  EXPECT_GT(ocGranule, 0u);
  EXPECT_GT(pixGranule, 0u);

  // Split into a grid of output-channel x pixel pieces.
  y = y0;
  std::vector<char> ws(conv2dWorkspaceSize(s, isa));
  const size_t ocCut = randomIn(rng, 0, s.outChannels);
  const size_t pixCut = randomIn(rng, 0, P);
  const std::vector<GridCell> grid = rangeGrid(P, s.outChannels, pixCut, ocCut);
  for (const GridCell &g : grid)
    ASSERT_EQ(conv2d(s, x.data(), packed.data(), y.data(), re.epi, isa, g.r,
                     ws.data()),
              Status::Ok);
  expectNear(ref, y, "conv2d split " + what);

  // Two-phase: the input prepared once (in two channel pieces) into one
  // workspace, then the same grid of pieces, one of them using that
  // workspace as its own too. Same ranges, same arithmetic: equal bits.
  std::vector<float> y2 = y0;
  std::vector<char> shared(conv2dWorkspaceSize(s, isa));
  const size_t cCut = randomIn(rng, 0, s.channels);
  if (cCut > 0) {
    ASSERT_EQ(conv2dPrepareInput(s, x.data(), packed.data(), shared.data(), isa,
                                 0, cCut),
              Status::Ok);
  }
  ASSERT_EQ(conv2dPrepareInput(s, x.data(), packed.data(), shared.data(), isa,
                               cCut, s.channels),
            Status::Ok);
  for (const GridCell &g : grid)
    ASSERT_EQ(conv2dPrepared(s, x.data(), packed.data(), shared.data(),
                             y2.data(), re.epi, isa, g.r,
                             g.origin ? shared.data() : ws.data()),
              Status::Ok);
  size_t diff = 0;
  for (size_t i = 0; i < y.size(); ++i)
    diff += std::memcmp(&y[i], &y2[i], sizeof(float)) != 0;
  EXPECT_EQ(diff, 0u) << "conv2dPrepared " << what << " (needs prepare: "
                      << conv2dNeedsPrepare(s, packed.data(), isa) << ")";
}

TEST_P(ConvTest, Conv2DRandomShapes) {
  std::mt19937 rng(42 + static_cast<unsigned>(GetParam()));
  for (int iter = 0; iter < 200; ++iter) {
    checkConv(GetParam(), rng, randomShape(rng, 4));
    if (HasFailure())
      return;
  }
}

TEST_P(ConvTest, Conv2DPointwiseAndDeep) {
  std::mt19937 rng(7);
  // 1x1 stride 1 (read as a plain GEMM), and shapes whose depth and pixel
  // count cross the kc / nc blocks.
  Conv2DShape pw;
  pw.channels = 37;
  pw.height = 9;
  pw.width = 11;
  pw.outChannels = 29;
  checkConv(GetParam(), rng, pw);
  Conv2DShape deep;
  deep.channels = 70;
  deep.height = 14;
  deep.width = 15;
  deep.outChannels = 33;
  deep.kernelH = deep.kernelW = 3;
  deep.padTop = deep.padLeft = deep.padBottom = deep.padRight = 1;
  checkConv(GetParam(), rng, deep);
  Conv2DShape strided;
  strided.channels = 40;
  strided.height = strided.width = 14;
  strided.outChannels = 30;
  strided.strideH = strided.strideW = 2; // 1x1 stride 2 (downsample)
  checkConv(GetParam(), rng, strided);
  Conv2DShape wide = deep;
  wide.channels = 3;
  wide.height = 70;
  wide.width = 75;
  wide.outChannels = 8;
  wide.kernelH = wide.kernelW = 7;
  wide.strideH = wide.strideW = 2;
  wide.padTop = wide.padLeft = wide.padBottom = wide.padRight = 3;
  checkConv(GetParam(), rng, wide);
}

TEST_P(ConvTest, Conv2DFewPixelsManyChannels) {
  // Shapes where AVX-512 packs the weights for the transposed orientation
  // (pixels as rows, channels as lanes): 7x7 and 5x5 outputs with hundreds
  // of output channels, including a channel count that is not a multiple
  // of 16 and a 1x1.
  std::mt19937 rng(17);
  Conv2DShape a;
  a.channels = 16;
  a.height = a.width = 7;
  a.outChannels = 256;
  a.kernelH = a.kernelW = 3;
  a.padTop = a.padLeft = a.padBottom = a.padRight = 1;
  checkConv(GetParam(), rng, a);
  Conv2DShape b = a;
  b.channels = 8;
  b.height = b.width = 13;
  b.outChannels = 512 + 7;
  b.strideH = b.strideW = 2;
  checkConv(GetParam(), rng, b);
  Conv2DShape c;
  c.channels = 24;
  c.height = c.width = 5;
  c.outChannels = 1024;
  checkConv(GetParam(), rng, c);
}

TEST_P(ConvTest, WeightsPackedElsewhereRunEverywhere) {
  // Weights packed for any path (im2col or shifted K order, A panels or
  // transposed B panels, any panel size) must give the same result on this
  // path.
  std::mt19937 rng(123);
  Conv2DShape a;
  a.channels = 13;
  a.height = 11;
  a.width = 19;
  a.outChannels = 17;
  a.kernelH = a.kernelW = 3;
  a.strideW = 2;
  a.padTop = a.padLeft = a.padRight = 1;
  Conv2DShape t; // transposed on AVX-512
  t.channels = 16;
  t.height = t.width = 7;
  t.outChannels = 256;
  t.kernelH = t.kernelW = 3;
  t.padTop = t.padLeft = t.padBottom = t.padRight = 1;
  for (const Conv2DShape &s : {a, t}) {
    std::vector<float> x = randomFloats(rng, s.channels * s.height * s.width);
    std::vector<float> w = randomFloats(rng, s.outChannels * s.channels * 9);
    const size_t P = s.outHeight() * s.outWidth();
    std::vector<float> y0(s.outChannels * P, 0.0f);
    const RefResult ref = refConv(s, x.data(), w.data(), y0.data(), {}, false);
    for (Isa packIsa : fp32Paths()) {
      if (!isaSupported(packIsa))
        continue;
      std::vector<char> packed(packedConvWeightsSize(s, packIsa));
      ASSERT_EQ(packConvWeights(s, w.data(), packed.data(), packIsa),
                Status::Ok);
      std::vector<float> y = y0;
      ASSERT_EQ(conv2d(s, x.data(), packed.data(), y.data(), {}, GetParam()),
                Status::Ok);
      expectNear(ref, y,
                 std::string("packed for ") + isaName(packIsa) + " " +
                     describe(s));
    }
  }
}

/// The channels-first copy [C][pixels] of a channels-last v (pixel stride
/// ld), and the channels-last copy (pixel stride ld, the padding zero) of
/// a channels-first one.
std::vector<float> toChannelsFirst(const std::vector<float> &v, size_t pixels,
                                   size_t C, size_t ld) {
  std::vector<float> out(C * pixels);
  for (size_t c = 0; c < C; ++c)
    for (size_t q = 0; q < pixels; ++q)
      out[c * pixels + q] = v[q * ld + c];
  return out;
}
std::vector<float> toChannelsLast(const float *v, size_t pixels, size_t C,
                                  size_t ld) {
  std::vector<float> out(pixels * ld);
  for (size_t c = 0; c < C; ++c)
    for (size_t q = 0; q < pixels; ++q)
      out[q * ld + c] = v[c * pixels + q];
  return out;
}

/// Checks a channels-last result y (P pixels, pixel stride ldy) of `fn`
/// against ref (channel-major, N channels): within ref's bound below N,
/// still `sentinel` from N to ldy. Reports mismatches while `bad` is below
/// 5 and counts all of them in `bad`.
void expectNhwcMatches(const char *fn, const std::string &what,
                       const std::vector<float> &y, size_t ldy, size_t P,
                       size_t N, const RefResult &ref, float sentinel,
                       size_t &bad) {
  for (size_t q = 0; q < P; ++q)
    for (size_t c = 0; c < ldy; ++c) {
      const float got = y[q * ldy + c];
      const bool ok =
          c < N ? std::fabs(ref.value[c * P + q] - got) <= ref.bound[c * P + q]
                : got == sentinel;
      if (!ok && bad++ < 5)
        ADD_FAILURE() << fn << " " << what << " pixel " << q << " channel " << c
                      << ": got " << got << " want "
                      << (c < N ? ref.value[c * P + q] : sentinel);
    }
}

/// A channels-last convolution case: x and y with padded pixel strides,
/// random weights W[OC][C][KH][KW], a random epilogue (bias per channel,
/// any bias axis, a channels-last residual) and the definition's result.
struct NhwcCase {
  size_t ldx, ldy, ldr;
  std::vector<float> x, xN, w, res;
  RandomEpilogue re;
  RefResult ref;
  Epilogue e;
  NhwcCase(std::mt19937 &rng, const Conv2DShape &s)
      : ldx(s.channels + randomIn(rng, 0, 3)),
        ldy(s.outChannels + randomIn(rng, 0, 3)),
        ldr(s.outChannels + randomIn(rng, 0, 2)),
        x(randomFloats(rng, s.height * s.width * ldx)),
        xN(toChannelsFirst(x, s.height * s.width, s.channels, ldx)),
        w(randomFloats(rng,
                       s.outChannels * s.channels * s.kernelH * s.kernelW)),
        re(rng, s.outChannels, s.outChannels * s.outHeight() * s.outWidth()) {
    const size_t P = s.outHeight() * s.outWidth(), OC = s.outChannels;
    re.epi.accumulate = false;
    // (A channels-last copy of the NCHW-shaped residual.)
    if (re.epi.residual)
      res = toChannelsLast(re.residual.data(), P, OC, ldr);
    const std::vector<float> y0(OC * P, 0.0f);
    ref = refConv(s, xN.data(), w.data(), y0.data(), re.epi,
                  /*depthwise=*/false);
    e = re.epi;
    e.biasAxis = randomIn(rng, 0, 1) ? BiasAxis::PerColumn : BiasAxis::PerRow;
    if (e.residual) {
      e.residual = res.data();
      e.ldr = ldr;
    }
  }
};

/// conv2dNhwc against the definition: channels-last x and y with padded
/// pixel strides, random epilogue (bias per channel, channels-last
/// residual), the output split into a random grid of channel x pixel
/// ranges. Padding columns past OC must stay untouched.
void checkConvNhwc(Isa isa, std::mt19937 &rng, const Conv2DShape &s) {
  const size_t C = s.channels, OC = s.outChannels;
  const size_t taps = s.kernelH * s.kernelW, K = taps * C;
  const size_t P = s.outHeight() * s.outWidth();
  const NhwcCase k(rng, s);
  const size_t ldx = k.ldx, ldy = k.ldy;
  const std::vector<float> &x = k.x, &xN = k.xN, &w = k.w;
  const RefResult &ref = k.ref;
  const Epilogue &e = k.e;
  std::vector<float> B(K * OC);
  for (size_t oc = 0; oc < OC; ++oc)
    for (size_t c = 0; c < C; ++c)
      for (size_t tap = 0; tap < taps; ++tap)
        B[(tap * C + c) * OC + oc] = w[(oc * C + c) * taps + tap];
  std::vector<char> packed(packedBSize(K, OC, isa));
  ASSERT_EQ(packB(K, OC, B.data(), OC, packed.data(), isa), Status::Ok);
  std::vector<char> fromOnnx(packedConvWeightsNhwcSize(s, isa));
  ASSERT_EQ(packConvWeightsNhwc(s, w.data(), fromOnnx.data(), isa), Status::Ok);
  ASSERT_EQ(fromOnnx, packed) << "packConvWeightsNhwc differs from packB";
  const std::string what = std::string(isaName(isa)) + " " + describe(s);
  const float sentinel = -12345.0f;
  std::vector<float> y(P * ldy, sentinel);
  if (!conv2dNhwcSupported(s, packed.data(), isa)) {
    // (AVX-512 and AVX2 have the channels-last kernels.)
    EXPECT_EQ(resolveIsa(isa), Isa::Generic) << what;
    EXPECT_EQ(
        conv2dNhwc(s, x.data(), ldx, packed.data(), y.data(), ldy, e, isa),
        Status::LayoutMismatch);
    return;
  }
  std::vector<char> ws(conv2dNhwcWorkspaceSize(s));
  const size_t ocCut = randomIn(rng, 0, OC), pixCut = randomIn(rng, 0, P);
  const std::vector<GridCell> grid = rangeGrid(P, OC, pixCut, ocCut);
  for (const GridCell &g : grid)
    ASSERT_EQ(conv2dNhwc(s, x.data(), ldx, packed.data(), y.data(), ldy, e, isa,
                         g.r, g.odd ? ws.data() : nullptr),
              Status::Ok)
        << what;
  // The row-major-input variant, on the NCHW copy of x, same ranges, with
  // its (c, kh, kw) weights; the (kh, kw, c) ones are refused.
  std::vector<char> packedC(packedConvWeightsNhwcSize(s, isa));
  ASSERT_EQ(packConvWeightsNhwc(s, w.data(), packedC.data(), isa, true),
            Status::Ok);
  std::vector<float> y2(P * ldy, sentinel);
  EXPECT_EQ(
      conv2dNhwcFromNchw(s, xN.data(), packed.data(), y2.data(), ldy, e, isa),
      Status::LayoutMismatch);
  std::vector<char> ws2(conv2dNhwcFromNchwWorkspaceSize(s));
  for (const GridCell &g : grid)
    ASSERT_EQ(conv2dNhwcFromNchw(s, xN.data(), packedC.data(), y2.data(), ldy,
                                 e, isa, g.r, g.odd ? nullptr : ws2.data()),
              Status::Ok)
        << what;
  size_t bad = 0;
  expectNhwcMatches("conv2dNhwcFromNchw", what, y2, ldy, P, OC, ref, sentinel,
                    bad);
  expectNhwcMatches("conv2dNhwc", what, y, ldy, P, OC, ref, sentinel, bad);
  EXPECT_EQ(bad, 0u) << what;
}

TEST_P(ConvTest, Conv2DNhwcRandomShapes) {
  std::mt19937 rng(99 + static_cast<unsigned>(GetParam()));
  for (int iter = 0; iter < 300; ++iter) {
    Conv2DShape s = randomShape(rng, 4);
    if (iter % 10 == 0) { // several panels, pixel blocks and K blocks
      s.outChannels = randomIn(rng, 60, 200);
      s.height = randomIn(rng, 12, 20);
      s.width = randomIn(rng, 12, 20);
    }
    if (iter % 4 == 1) { // pointwise: a plain GEMM with x read in place
      s.kernelH = s.kernelW = s.strideH = s.strideW = 1;
      s.padTop = s.padLeft = s.padBottom = s.padRight = 0;
    }
    if (iter % 15 == 0) // whole taps per K block, or chunks of a tap
      s.channels = randomIn(rng, 0, 1) ? randomIn(rng, 100, 300)
                                       : randomIn(rng, 641, 1400);
    if (!s.valid())
      continue;
    checkConvNhwc(GetParam(), rng, s);
    if (HasFailure())
      return;
  }
}

// The pointwise GEMM (x read in place) with deep inputs on small maps, as
// the late layers of mobile networks have them: K up to 1280 runs as one
// block, deeper ones as two or three equal blocks (the later ones reading
// the output back), on maps of 1 to 7 pixels a side and 14x14 (one tile
// row, 1 to 9 tiles, a lone last pixel); MobileNetV3's and
// EfficientNet's 672 -> 112 (14x14), 960 -> 160 and 1152 -> 192 / 320
// (7x7) among them. Random epilogues and channel x pixel splits as
// checkConvNhwc.
TEST_P(ConvTest, Conv2DNhwcPointwiseDeepSmallMaps) {
  std::mt19937 rng(1280 + static_cast<unsigned>(GetParam()));
  const size_t fixed[][4] = {{672, 14, 14, 112},
                             {960, 7, 7, 160},
                             {1152, 7, 7, 192},
                             {1152, 7, 7, 320},
                             {1024, 7, 7, 80}};
  for (int iter = 0; iter < 30; ++iter) {
    Conv2DShape s;
    if (iter < 5) {
      s.channels = fixed[iter][0];
      s.height = fixed[iter][1];
      s.width = fixed[iter][2];
      s.outChannels = fixed[iter][3];
    } else {
      s.channels = iter % 3 == 0   ? randomIn(rng, 1281, 2700)
                   : iter % 3 == 1 ? randomIn(rng, 641, 1280)
                                   : randomIn(rng, 300, 640);
      s.height = randomIn(rng, 1, 7);
      s.width = iter % 7 == 0 ? 14 : randomIn(rng, 1, 7);
      s.outChannels = randomIn(rng, 1, 200);
    }
    ASSERT_TRUE(s.valid()) << describe(s);
    checkConvNhwc(GetParam(), rng, s);
    if (HasFailure())
      return;
  }
}

/// conv2dNhwcWinograd against the definition, as checkConvNhwc (NhwcCase),
/// the output in a grid of channel x pixel ranges
/// (pixel cuts inside tile rows: both pieces compute the row, each stores
/// its pixels), columns past OC untouched.
void checkConvWinograd(Isa isa, std::mt19937 &rng, const Conv2DShape &s) {
  const size_t OC = s.outChannels, P = s.outHeight() * s.outWidth();
  const NhwcCase k(rng, s);
  const size_t ldx = k.ldx, ldy = k.ldy;
  const std::vector<float> &x = k.x, &w = k.w;
  const RefResult &ref = k.ref;
  const Epilogue &e = k.e;
  const std::string what = std::string(isaName(isa)) + " " + describe(s);
  std::vector<char> packed(packedConvWeightsWinogradSize(s, isa));
  const float sentinel = -12345.0f;
  std::vector<float> y(P * ldy, sentinel);
  if (!conv2dNhwcWinogradShape(s, isa)) {
    EXPECT_EQ(resolveIsa(isa), Isa::Generic) << what;
    EXPECT_EQ(packConvWeightsWinograd(s, w.data(), packed.data(), isa),
              Status::InvalidArgument);
    return;
  }
  ASSERT_EQ(packConvWeightsWinograd(s, w.data(), packed.data(), isa),
            Status::Ok);
  ASSERT_TRUE(conv2dNhwcWinogradSupported(s, packed.data(), isa)) << what;
  // conv2dNhwc's weights are refused, and these by conv2dNhwc.
  std::vector<char> direct(packedConvWeightsNhwcSize(s, isa));
  ASSERT_EQ(packConvWeightsNhwc(s, w.data(), direct.data(), isa), Status::Ok);
  EXPECT_FALSE(conv2dNhwcWinogradSupported(s, direct.data(), isa));
  EXPECT_FALSE(conv2dNhwcSupported(s, packed.data(), isa));
  std::vector<char> ws(conv2dNhwcWinogradWorkspaceSize(s));
  const size_t ocCut = randomIn(rng, 0, OC), pixCut = randomIn(rng, 0, P);
  for (const GridCell &g : rangeGrid(P, OC, pixCut, ocCut))
    ASSERT_EQ(conv2dNhwcWinograd(s, x.data(), ldx, packed.data(), y.data(), ldy,
                                 e, isa, g.r, g.odd ? ws.data() : nullptr),
              Status::Ok)
        << what;
  size_t bad = 0;
  expectNhwcMatches("conv2dNhwcWinograd", what, y, ldy, P, OC, ref, sentinel,
                    bad);
  EXPECT_EQ(bad, 0u) << what;
}

// Winograd F(2x2, 3x3) on random 3x3 stride-1 shapes: odd and even maps
// (a last tile row or column half outside), pads 0 to 2 on each side
// (tiles reading the padding), 1 to 80 channels in and out (partial
// vectors and panels), some deep (several blocks of tiles, K blocks of
// the products) and some large maps (several blocks of tiles).
TEST_P(ConvTest, Conv2DNhwcWinogradRandomShapes) {
  std::mt19937 rng(31 + static_cast<unsigned>(GetParam()));
  for (int iter = 0; iter < 120; ++iter) {
    Conv2DShape s;
    s.channels = randomIn(rng, 1, iter % 8 == 0 ? 700 : 80);
    s.outChannels = randomIn(rng, 1, iter % 8 == 4 ? 300 : 80);
    s.height = randomIn(rng, 1, iter % 10 == 3 ? 40 : 14);
    s.width = randomIn(rng, 1, iter % 10 == 3 ? 40 : 14);
    s.kernelH = s.kernelW = 3;
    s.padTop = randomIn(rng, 0, 2);
    s.padLeft = randomIn(rng, 0, 2);
    s.padBottom = randomIn(rng, 0, 2);
    s.padRight = randomIn(rng, 0, 2);
    if (!s.valid())
      continue;
    checkConvWinograd(GetParam(), rng, s);
    if (HasFailure())
      return;
  }
  // Not 3x3 stride 1 undilated: not this kernel's.
  Conv2DShape s;
  s.channels = s.outChannels = 8;
  s.height = s.width = 8;
  s.kernelH = s.kernelW = 3;
  s.strideH = 2;
  EXPECT_FALSE(conv2dNhwcWinogradShape(s, GetParam()));
  s.strideH = 1;
  s.dilationW = 2;
  EXPECT_FALSE(conv2dNhwcWinogradShape(s, GetParam()));
  s.dilationW = 1;
  s.kernelW = 5;
  EXPECT_FALSE(conv2dNhwcWinogradShape(s, GetParam()));
}

// conv2dNhwcFromNchw on a padded input: a small image (32x32) is copied
// with its pads into the workspace, each call its own rows, and runs as
// direct tiles only; one over the copy's size limit (3 x 220 x 220)
// unfolds its border pixels, with windows 3 to 13 wide (direct tiles of
// runs of 3 to 13 values). Against the reference, with pixel and channel
// ranges.
TEST_P(ConvTest, Conv2DNhwcFromNchwPaddedCopyAndUnfoldedBorders) {
  std::mt19937 rng(7 + static_cast<unsigned>(GetParam()));
  const size_t cases[][2] = {{32, 3}, {220, 3}, {220, 6}, {220, 9}, {220, 13}};
  for (const auto &c : cases) {
    const size_t hw = c[0], k = c[1];
    Conv2DShape s;
    s.channels = 3;
    s.height = s.width = hw;
    s.outChannels = 16;
    s.kernelH = s.kernelW = k;
    s.strideH = s.strideW = hw == 32 ? 1 : 2;
    s.padTop = s.padLeft = s.padBottom = s.padRight = k / 2;
    checkConvNhwc(GetParam(), rng, s);
    if (HasFailure())
      return;
  }
}

// Panels with 1-3 live vectors (fewer than 64 output channels, or the last
// panel of e.g. 96) on maps wide enough for the pointer-free interior tiles
// and their edge pieces; both row sources (conv2dNhwc's rows and
// conv2dNhwcFromNchw's strided rows), with thread-like channel x pixel
// splits that cut tiles and panels anywhere.
TEST_P(ConvTest, Conv2DNhwcNarrowPanelsWideMaps) {
  std::mt19937 rng(4242 + static_cast<unsigned>(GetParam()));
  for (int iter = 0; iter < 60; ++iter) {
    Conv2DShape s = randomShape(rng, 3);
    s.outChannels =
        iter % 4 == 3 ? randomIn(rng, 65, 112)
                      : randomIn(rng, 1 + 16 * (iter % 4), 16 * (iter % 4 + 1));
    s.height = randomIn(rng, 4, 30);
    s.width = randomIn(rng, 26, 80);
    s.dilationW = iter % 5 == 0 ? 2 : 1;
    if (iter % 3 == 0) // several K blocks of whole taps, or channel chunks
      s.channels = randomIn(rng, 0, 1) ? randomIn(rng, 70, 300)
                                       : randomIn(rng, 641, 800);
    if (!s.valid())
      continue;
    checkConvNhwc(GetParam(), rng, s);
    if (HasFailure())
      return;
  }
}

// The narrow-K pointwise kernel (pointwiseNarrowAvx512, conv2dNhwc's
// 1x1 convolutions of at most kNarrowK input channels on the AVX-512 path,
// and its AVX2 form, pointwiseNarrowAvx2, on the AVX2 path):
// every K from 1 to 64, then 80, 96, 127 and 128, output channels not a
// multiple of 16 (1 to 200: one to four vectors of a panel, several panels),
// odd pixel counts (a last tile of 1 to 5 rows, several pixel blocks), padded
// pixel strides, every activation (none, Relu, Clip), with or without a bias, a
// residual before or after the activation, a post (Silu, HardSwish). Bit for
// bit against the general pointwise GEMM (gemmDriver with x in place, the path
// it replaces) on the whole output and on two pixel halves or two channel
// pieces, as two workers split a call; then conv2dNhwc on the same shape
// against the definition (checkConvNhwc, random range grids).
TEST_P(ConvTest, Conv2DNhwcPointwiseNarrowK) {
  using namespace detail;
  const Isa isa = GetParam();
  const bool avx512 = resolveIsa(isa) == Isa::Avx512;
  if (!avx512 && resolveIsa(isa) != Isa::Avx2)
    GTEST_SKIP() << "the narrow-K kernels are the AVX-512 and AVX2 paths'";
  const auto narrow = avx512 ? &pointwiseNarrowAvx512 : &pointwiseNarrowAvx2;
  std::mt19937 rng(1664 + static_cast<unsigned>(isa));
  PostOp silu, hardSwish;
  silu.kind = PostActivation::Silu;
  hardSwish.kind = PostActivation::HardSwish;
  std::vector<size_t> ks;
  for (size_t K = 1; K <= 64; ++K)
    ks.push_back(K);
  for (size_t K : {80, 96, 127, 128})
    ks.push_back(K);
  for (size_t K : ks) {
    const size_t N = K % 5 == 0 ? randomIn(rng, 65, 200)
                                : randomIn(rng, 1 + 16 * (K % 4),
                                           16 * (K % 4 + 1) - (K % 2));
    const size_t P = K % 7 == 0 ? 2 * randomIn(rng, 400, 1200) + 1
                                : 2 * randomIn(rng, 0, 60) + 1;
    const size_t ldx = K + randomIn(rng, 0, 3), ldy = N + randomIn(rng, 0, 3);
    const size_t ldr = N + randomIn(rng, 0, 2);
    const std::vector<float> x = randomFloats(rng, P * ldx);
    const std::vector<float> B = randomFloats(rng, K * N);
    const std::vector<float> bias = randomFloats(rng, N);
    const std::vector<float> res = randomFloats(rng, P * ldr);
    std::vector<char> packed(packedBSize(K, N, isa));
    ASSERT_EQ(packB(K, N, B.data(), N, packed.data(), isa), Status::Ok);
    Epilogue e;
    e.bias = K % 3 ? bias.data() : nullptr;
    e.biasAxis = e.bias ? BiasAxis::PerColumn : BiasAxis::None;
    e.activation = static_cast<Activation>(K % 3);
    e.clipMin = -0.3f;
    e.clipMax = 0.4f;
    if (K % 4 == 1) {
      e.residual = res.data();
      e.ldr = ldr;
      e.residualAfterActivation = K % 8 == 5;
    }
    e.post = K % 6 == 2 ? &silu : K % 6 == 4 ? &hardSwish : nullptr;
    const std::string what = "K=" + std::to_string(K) +
                             " N=" + std::to_string(N) +
                             " P=" + std::to_string(P);
    const float sentinel = -12345.0f;
    std::vector<float> want(P * ldy, sentinel), got(P * ldy, sentinel),
        halves(P * ldy, sentinel), pieces(P * ldy, sentinel);
    GemmKernel k = avx512 ? gemmKernelAvx512() : gemmKernelAvx2Direct();
    k.kc = K;
    ASource as;
    as.a = x.data();
    as.lda = ldx;
    as.direct = true;
    BSource bs;
    bs.packed = packedPanels(packed.data());
    gemmDriver(k, P, N, K, as, bs, want.data(), ldy, e, 0, P, 0, N, nullptr);
    narrow(x.data(), ldx, K, packed.data(), got.data(), ldy, e, 0, P, 0, N);
    const size_t pCut = randomIn(rng, 0, P), nCut = randomIn(rng, 0, N);
    narrow(x.data(), ldx, K, packed.data(), halves.data(), ldy, e, 0, pCut, 0,
           N);
    narrow(x.data(), ldx, K, packed.data(), halves.data(), ldy, e, pCut, P, 0,
           N);
    narrow(x.data(), ldx, K, packed.data(), pieces.data(), ldy, e, 0, P, 0,
           nCut);
    narrow(x.data(), ldx, K, packed.data(), pieces.data(), ldy, e, 0, P, nCut,
           N);
    size_t bad = 0;
    for (const std::vector<float> *v : {&got, &halves, &pieces})
      for (size_t i = 0; i < P * ldy; ++i)
        if (std::memcmp(&want[i], &(*v)[i], sizeof(float)) != 0 && bad++ < 5)
          ADD_FAILURE() << what << " pixel " << i / ldy << " channel "
                        << i % ldy << ": general " << want[i] << ", narrow "
                        << (*v)[i] << " (cuts " << pCut << ", " << nCut << ")";
    ASSERT_EQ(bad, 0u) << what;
    Conv2DShape s;
    s.channels = K;
    s.outChannels = N;
    s.height = 1;
    s.width = P;
    // conv2dNhwc: the kernel's whole tiles, the driver's last 1-5 pixels
    // (AVX2), the driver's bits either way.
    ASSERT_EQ(conv2dNhwc(s, x.data(), ldx, packed.data(), got.data(), ldy, e,
                         isa, {0, N, pCut, P}),
              Status::Ok);
    for (size_t i = pCut * ldy; i < P * ldy; ++i)
      if (std::memcmp(&want[i], &got[i], sizeof(float)) != 0 && bad++ < 5)
        ADD_FAILURE() << what << " conv2dNhwc pixel " << i / ldy;
    ASSERT_EQ(bad, 0u) << what;
    s.width = std::min<size_t>(P, 301);
    checkConvNhwc(isa, rng, s);
    if (HasFailure())
      return;
  }
}

// A HardSwish post on the AVX-512 path runs in registers before each
// vector's store (the narrow-K kernel's chunks and every 6 x 64 tile:
// TileArgs::hardSwish), where it used to run by rows over the stored tile
// (withPost). Bit for bit against that path: the same call with no post (and
// no residual when it comes after the activation), then postActivation by
// rows, adding that residual after the HardSwish. Pointwise shapes with K of
// 1 to 1400 (the narrow-K kernel, one K block of the GEMM, and two, whose last
// takes storeRow's epilogue), output channels not a multiple of 16, pixel
// counts with a last tile of 1 to 5 rows and 7x7-like maps; 3x3 windows at
// stride 1 and 2 (the pointer and strided tiles) and the same shapes through
// conv2dNhwcFromNchw (its first-layer tiles). Every activation before the
// post (None in registers; Relu and Clip by storeRow and by rows in the
// narrow-K kernel), with or without a bias, a residual before or after the
// activation; the output split into 2 x 2 channel x pixel pieces as two
// workers take it, and whole.
TEST_P(ConvTest, Conv2DNhwcHardSwishInRegisters) {
  const Isa isa = GetParam();
  if (resolveIsa(isa) == Isa::Generic)
    GTEST_SKIP() << "no channels-last kernels on this path";
  std::mt19937 rng(6150 + static_cast<unsigned>(isa));
  PostOp hardSwish;
  hardSwish.kind = PostActivation::HardSwish;
  const size_t ks[] = {1,   3,   15,  16,  17,  40,   64, 96, 127, 128,
                       129, 200, 256, 512, 700, 1400, 5,  24, 33,  160};
  for (size_t iter = 0; iter < 60; ++iter) {
    Conv2DShape s;
    const size_t K = ks[iter % 20];
    s.channels = K;
    s.outChannels = iter % 3 == 0 ? randomIn(rng, 1, 15)
                    : iter % 3 == 1
                        ? randomIn(rng, 17, 63)
                        : 16 * randomIn(rng, 4, 12) + randomIn(rng, 1, 15);
    const bool window = iter >= 40;
    if (window) {
      s.channels = std::min<size_t>(K, 160);
      s.kernelH = s.kernelW = 3;
      s.strideH = s.strideW = iter % 2 ? 2 : 1;
      s.padTop = s.padLeft = s.padBottom = s.padRight = 1;
    }
    // Pixels: 6a + r for r = 1..5 (a tile of r rows last), 7x7, 14x14.
    const size_t shape = iter % 7;
    s.height = shape == 5 ? 7 : shape == 6 ? 14 : 1;
    s.width = shape >= 5 ? s.height : 6 * randomIn(rng, 0, 40) + shape + 1;
    if (window)
      s.height = randomIn(rng, 3, 9);
    if (!s.valid())
      continue;
    const size_t C = s.channels, OC = s.outChannels;
    const size_t P = s.outHeight() * s.outWidth();
    const size_t HW = s.height * s.width, taps = s.kernelH * s.kernelW;
    const size_t ldx = C + randomIn(rng, 0, 3), ldy = OC + randomIn(rng, 0, 3);
    const size_t ldr = OC + randomIn(rng, 0, 2);
    std::vector<float> x = randomFloats(rng, HW * ldx);
    std::fill(x.begin(), x.begin() + std::min<size_t>(7, HW) * ldx, 0.0f);
    std::vector<float> xN(C * HW);
    for (size_t c = 0; c < C; ++c)
      for (size_t p = 0; p < HW; ++p)
        xN[c * HW + p] = x[p * ldx + c];
    // (Scaled so that outputs cover HardSwish's three pieces.)
    std::vector<float> w = randomFloats(rng, OC * C * taps);
    for (float &v : w)
      v *= 8.0f / std::sqrt(static_cast<float>(C * taps));
    std::vector<float> bias = randomFloats(rng, OC);
    // Sums of exactly -0 (every third channel: bias -0, weights negative,
    // the first pixels' inputs +0), whose sign the HardSwish keeps.
    for (size_t oc = 0; oc < OC; oc += 3) {
      bias[oc] = -0.0f;
      for (size_t i = 0; i < C * taps; ++i)
        w[oc * C * taps + i] = -std::fabs(w[oc * C * taps + i]);
    }
    const std::vector<float> res = randomFloats(rng, P * ldr);
    std::vector<char> packed(packedConvWeightsNhwcSize(s, isa)),
        packedC(packedConvWeightsNhwcSize(s, isa));
    ASSERT_EQ(packConvWeightsNhwc(s, w.data(), packed.data(), isa), Status::Ok);
    ASSERT_EQ(packConvWeightsNhwc(s, w.data(), packedC.data(), isa, true),
              Status::Ok);
    Epilogue e;
    e.bias = iter % 4 != 3 ? bias.data() : nullptr;
    e.biasAxis = BiasAxis::PerRow;
    e.activation = static_cast<Activation>(iter % 5 < 3 ? 0 : iter % 5 - 2);
    e.clipMin = -0.5f;
    e.clipMax = 2.5f;
    if (iter % 3 != 2) {
      e.residual = res.data();
      e.ldr = ldr;
      e.residualAfterActivation = iter % 3 == 1;
    } else {
      e.residualAfterActivation = iter % 2 == 0; // (and no residual)
    }
    e.post = &hardSwish;
    // The previous path: no post, then HardSwish by rows and the residual
    // it adds after itself.
    Epilogue plain = e;
    plain.post = nullptr;
    const bool resAfter = e.residual && e.residualAfterActivation;
    if (resAfter)
      plain.residual = nullptr;
    const std::string what =
        std::string(isaName(isa)) + " " + describe(s) + " act " +
        std::to_string(static_cast<int>(e.activation)) +
        (e.residual ? resAfter ? " res after" : " res" : "");
    const float sentinel = -12345.0f;
    std::vector<char> ws(std::max(conv2dNhwcWorkspaceSize(s),
                                  conv2dNhwcFromNchwWorkspaceSize(s)));
    for (int fromNchw = 0; fromNchw < (window ? 2 : 1); ++fromNchw) {
      const auto run = [&](const Epilogue &ep, const ConvRange &r,
                           std::vector<float> &y) {
        return fromNchw
                   ? conv2dNhwcFromNchw(s, xN.data(), packedC.data(), y.data(),
                                        ldy, ep, isa, r, ws.data())
                   : conv2dNhwc(s, x.data(), ldx, packed.data(), y.data(), ldy,
                                ep, isa, r, ws.data());
      };
      std::vector<float> want(P * ldy, sentinel), whole(P * ldy, sentinel),
          split(P * ldy, sentinel);
      ASSERT_EQ(run(plain, {}, want), Status::Ok) << what;
      postActivation(hardSwish, want.data(), ldy,
                     resAfter ? res.data() : nullptr, ldr, P, OC, isa);
      ASSERT_EQ(run(e, {}, whole), Status::Ok) << what;
      for (const GridCell &g :
           rangeGrid(P, OC, randomIn(rng, 0, P), randomIn(rng, 0, OC)))
        ASSERT_EQ(run(e, g.r, split), Status::Ok) << what;
      size_t bad = 0;
      for (const std::vector<float> *v : {&whole, &split})
        for (size_t i = 0; i < P * ldy; ++i)
          if (std::memcmp(&want[i], &(*v)[i], sizeof(float)) != 0 && bad++ < 5)
            ADD_FAILURE() << what << (fromNchw ? " (from NCHW)" : "")
                          << " pixel " << i / ldy << " channel " << i % ldy
                          << ": by rows " << want[i] << ", in registers "
                          << (*v)[i];
      ASSERT_EQ(bad, 0u) << what;
    }
  }
}

// Panels with one live vector (at most 16 output channels, or the last 16
// or fewer of e.g. 80): two 6-pixel interior tiles of one output row run
// as one 12-row body (tileStridedTallAvx512). Output rows of 12 to 40
// pixels give every pairing (an even or odd number of interior tiles, a
// partial second tile, a lone one before the border), stride 1 and 2, with
// the random epilogues (bias, residual before or after the activation) and
// channel x pixel splits of checkConvNhwc.
TEST_P(ConvTest, Conv2DNhwcTallStridedTiles) {
  std::mt19937 rng(1212 + static_cast<unsigned>(GetParam()));
  for (int iter = 0; iter < 40; ++iter) {
    Conv2DShape s;
    s.channels = iter % 5 == 4 ? randomIn(rng, 17, 70) : randomIn(rng, 1, 16);
    s.outChannels =
        iter % 4 == 3 ? randomIn(rng, 65, 80) : randomIn(rng, 1, 16);
    s.kernelH = s.kernelW = randomIn(rng, 0, 3) ? 3 : 1;
    s.strideH = s.strideW = randomIn(rng, 0, 2) ? 1 : 2;
    const size_t pad = s.kernelH / 2;
    s.padTop = s.padLeft = s.padBottom = s.padRight = pad;
    s.height = randomIn(rng, 3, 9);
    s.width = s.strideW * randomIn(rng, 12, 40);
    if (!s.valid())
      continue;
    checkConvNhwc(GetParam(), rng, s);
    if (HasFailure())
      return;
  }
}

// First layers with 1 to 4 input channels and windows 3 to 7 (the stems
// of mobile networks): whole interior tiles take the window bodies (each
// run's KW steps unrolled at a fixed stride), anything else the general
// strided bodies. Odd widths, asymmetric pads, strides 1 and 2, 1 to 80
// output channels (one to four live vectors, the 12-row tile at one).
// Against the definition with the random epilogues and channel x pixel
// splits of checkConvNhwc; then bit for bit against the general bodies:
// the whole image in one call (window bodies) and pixel by pixel (tiles of
// one row, general bodies), with a HardSwish post on half the shapes.
TEST_P(ConvTest, Conv2DNhwcFromNchwWindowBodies) {
  std::mt19937 rng(3377 + static_cast<unsigned>(GetParam()));
  const Isa isa = GetParam();
  for (int iter = 0; iter < 60; ++iter) {
    Conv2DShape s;
    s.channels = randomIn(rng, 1, 4);
    s.kernelH = randomIn(rng, 3, 7);
    s.kernelW = iter % 3 == 0 ? randomIn(rng, 3, 7) : s.kernelH;
    s.strideH = randomIn(rng, 1, 2);
    s.strideW = iter % 4 == 0 ? 3 - s.strideH : s.strideH;
    s.padTop = randomIn(rng, 0, s.kernelH / 2);
    s.padBottom = randomIn(rng, 0, s.kernelH / 2);
    s.padLeft = randomIn(rng, 0, s.kernelW / 2);
    s.padRight = randomIn(rng, 0, s.kernelW / 2);
    s.height = randomIn(rng, s.kernelH, 20);
    s.width = 2 * randomIn(rng, 10, 40) + 1;
    if (iter % 8 == 7) // over the padded copy's size: unfolded borders
      s.height = s.width = 2 * randomIn(rng, 70, 90) + 1;
    s.outChannels =
        iter % 4 == 3 ? randomIn(rng, 65, 80)
                      : randomIn(rng, 1 + 16 * (iter % 4), 16 * (iter % 4 + 1));
    if (!s.valid())
      continue;
    const std::string what = std::string(isaName(isa)) + " " + describe(s);
    if (iter % 8 != 7) {
      checkConvNhwc(isa, rng, s);
      if (HasFailure())
        return;
    }
    const size_t OC = s.outChannels, P = s.outHeight() * s.outWidth();
    const std::vector<float> x =
        randomFloats(rng, s.channels * s.height * s.width);
    const std::vector<float> w =
        randomFloats(rng, OC * s.channels * s.kernelH * s.kernelW);
    const std::vector<float> bias = randomFloats(rng, OC);
    std::vector<char> packed(packedConvWeightsNhwcSize(s, isa));
    ASSERT_EQ(packConvWeightsNhwc(s, w.data(), packed.data(), isa, true),
              Status::Ok);
    if (!conv2dNhwcFromNchwSupported(s, packed.data(), isa))
      continue; // (the generic path has no channels-last kernels)
    PostOp hardSwish;
    hardSwish.kind = PostActivation::HardSwish;
    Epilogue e;
    e.bias = bias.data();
    e.biasAxis = BiasAxis::PerColumn;
    e.post = iter % 2 ? &hardSwish : nullptr;
    std::vector<char> ws(conv2dNhwcFromNchwWorkspaceSize(s));
    std::vector<float> whole(P * OC), single(P * OC);
    ASSERT_EQ(conv2dNhwcFromNchw(s, x.data(), packed.data(), whole.data(), OC,
                                 e, isa, {}, ws.data()),
              Status::Ok)
        << what;
    for (size_t p = 0; p < P; ++p) {
      ConvRange r;
      r.pixBegin = p;
      r.pixEnd = p + 1;
      ASSERT_EQ(conv2dNhwcFromNchw(s, x.data(), packed.data(), single.data(),
                                   OC, e, isa, r, ws.data()),
                Status::Ok)
          << what;
    }
    size_t bad = 0;
    for (size_t i = 0; i < P * OC; ++i)
      if (std::memcmp(&whole[i], &single[i], sizeof(float)) != 0 && bad++ < 5)
        ADD_FAILURE() << what << " pixel " << i / OC << " channel " << i % OC
                      << ": whole tiles " << whole[i] << ", pixel by pixel "
                      << single[i];
    ASSERT_EQ(bad, 0u) << what;
  }
}

/// depthwiseConv2dNhwc against the definition, like checkConvNhwc.
/// conv2dNhwcFromNchwMaxPool against conv2dNhwcFromNchw followed by a
/// plain max pool (the reference's rule: the first pixel of the clipped
/// window, then v > max), bit for bit: random epilogue, a pooled pixel
/// stride past OC whose padding must stay untouched, the pooled rows in
/// three calls (the middle one without a workspace).
void checkFirstLayerMaxPool(Isa isa, std::mt19937 &rng, const Conv2DShape &s,
                            const MaxPoolWindow &pw) {
  const size_t C = s.channels, OC = s.outChannels, H = s.height, W = s.width;
  const size_t OH = s.outHeight(), OW = s.outWidth(), P = OH * OW;
  const size_t PH = pw.outHeight, PW = pw.outWidth;
  const std::vector<float> x = randomFloats(rng, C * H * W);
  const std::vector<float> w =
      randomFloats(rng, OC * C * s.kernelH * s.kernelW);
  RandomEpilogue re(rng, OC, OC * P);
  Epilogue e = re.epi;
  e.accumulate = false;
  e.biasAxis = BiasAxis::PerColumn;
  e.ldr = OC;
  const std::string what = std::string(isaName(isa)) + " " + describe(s) +
                           " pool " + std::to_string(pw.kernelH) + "x" +
                           std::to_string(pw.kernelW) + "/" +
                           std::to_string(pw.strideH) + " -> " +
                           std::to_string(PH) + "x" + std::to_string(PW);
  std::vector<char> packed(packedConvWeightsNhwcSize(s, isa));
  ASSERT_EQ(packConvWeightsNhwc(s, w.data(), packed.data(), isa, true),
            Status::Ok);
  const size_t ldy = OC + 3;
  const float sentinel = -12345.0f;
  std::vector<float> got(PH * PW * ldy, sentinel);
  if (!conv2dNhwcFromNchwSupported(s, packed.data(), isa)) {
    EXPECT_EQ(resolveIsa(isa), Isa::Generic) << what;
    EXPECT_EQ(conv2dNhwcFromNchwMaxPool(s, pw, x.data(), packed.data(),
                                        got.data(), ldy, e, isa),
              Status::LayoutMismatch)
        << what;
    return;
  }
  std::vector<float> conv(P * OC);
  ASSERT_EQ(
      conv2dNhwcFromNchw(s, x.data(), packed.data(), conv.data(), OC, e, isa),
      Status::Ok)
      << what;
  std::vector<float> want(PH * PW * ldy, sentinel);
  for (size_t pr = 0; pr < PH; ++pr)
    for (size_t pc = 0; pc < PW; ++pc)
      for (size_t c = 0; c < OC; ++c) {
        bool any = false;
        float m = 0;
        for (size_t kh = 0; kh < pw.kernelH; ++kh)
          for (size_t kw = 0; kw < pw.kernelW; ++kw) {
            const ptrdiff_t h =
                ptrdiff_t(pr * pw.strideH + kh) - ptrdiff_t(pw.padTop);
            const ptrdiff_t v =
                ptrdiff_t(pc * pw.strideW + kw) - ptrdiff_t(pw.padLeft);
            if (h < 0 || v < 0 || h >= ptrdiff_t(OH) || v >= ptrdiff_t(OW))
              continue;
            const float val = conv[(size_t(h) * OW + size_t(v)) * OC + c];
            if (!any || val > m)
              m = val;
            any = true;
          }
        ASSERT_TRUE(any) << what;
        want[(pr * PW + pc) * ldy + c] = m;
      }
  std::vector<char> ws(conv2dNhwcFromNchwMaxPoolWorkspaceSize(s, pw));
  const size_t cut1 = randomIn(rng, 0, PH), cut2 = randomIn(rng, cut1, PH);
  const size_t cuts[][2] = {{0, cut1}, {cut1, cut2}, {cut2, PH}};
  for (const auto &cut : cuts)
    ASSERT_EQ(conv2dNhwcFromNchwMaxPool(s, pw, x.data(), packed.data(),
                                        got.data(), ldy, e, isa, cut[0], cut[1],
                                        cut[0] == cut1 ? nullptr : ws.data()),
              Status::Ok)
        << what << " rows " << cut[0] << ".." << cut[1];
  size_t bad = 0;
  for (size_t i = 0; i < got.size(); ++i)
    if (std::memcmp(&got[i], &want[i], sizeof(float)) != 0 && bad++ < 5)
      ADD_FAILURE() << what << ": pooled pixel " << i / ldy << " channel "
                    << i % ldy << ": got " << got[i] << " want " << want[i];
  EXPECT_EQ(bad, 0u) << what;
}

TEST_P(ConvTest, FirstLayerMaxPoolMatchesConvThenPool) {
  std::mt19937 rng(7 + static_cast<unsigned>(GetParam()));
  auto conv = [](size_t C, size_t H, size_t W, size_t OC, size_t k, size_t st,
                 size_t pad) {
    Conv2DShape s;
    s.channels = C;
    s.height = H;
    s.width = W;
    s.outChannels = OC;
    s.kernelH = s.kernelW = k;
    s.strideH = s.strideW = st;
    s.padTop = s.padLeft = s.padBottom = s.padRight = pad;
    return s;
  };
  auto pool = [](const Conv2DShape &s, size_t k, size_t st, size_t pad,
                 bool ceil) {
    MaxPoolWindow w;
    w.kernelH = w.kernelW = k;
    w.strideH = w.strideW = st;
    w.padTop = w.padLeft = pad;
    auto out = [&](size_t in) {
      const size_t span = in + 2 * pad - k;
      return (ceil ? (span + st - 1) / st : span / st) + 1;
    };
    w.outHeight = out(s.outHeight());
    w.outWidth = out(s.outWidth());
    return w;
  };
  // SqueezeNet's first layer (111 x 111 x 64: bands of 4 pooled rows,
  // each keeping the row it shares with the next; ceil mode), ResNet-50's
  // shape at a smaller size (pads on both), windows as tall as their
  // stride (nothing kept), stride-1 windows (two rows kept), and a channel
  // count that leaves a partial vector and a partial panel.
  const Conv2DShape sq = conv(3, 224, 224, 64, 3, 2, 0);
  checkFirstLayerMaxPool(GetParam(), rng, sq, pool(sq, 3, 2, 0, true));
  const Conv2DShape rn = conv(3, 96, 96, 64, 7, 2, 3);
  checkFirstLayerMaxPool(GetParam(), rng, rn, pool(rn, 3, 2, 1, false));
  const Conv2DShape wide = conv(3, 60, 400, 40, 3, 1, 1);
  checkFirstLayerMaxPool(GetParam(), rng, wide, pool(wide, 2, 2, 0, false));
  const Conv2DShape deep = conv(1, 50, 300, 72, 5, 1, 2);
  checkFirstLayerMaxPool(GetParam(), rng, deep, pool(deep, 3, 1, 1, false));
  const Conv2DShape odd = conv(2, 41, 37, 35, 3, 2, 1);
  checkFirstLayerMaxPool(GetParam(), rng, odd, pool(odd, 3, 2, 1, true));
}

/// groupedConv2dNhwc with `groups` groups of shape s (outChannels set)
/// against the reference, over a grid of ranges cut at a group boundary,
/// with padded pixel strides, a random epilogue and a channels-last
/// residual.
void checkGroupedNhwc(Isa isa, std::mt19937 &rng, const Conv2DShape &s,
                      size_t groups, bool viaDepthwise = false) {
  const size_t C = s.channels, OC = s.outChannels, H = s.height, W = s.width;
  const size_t taps = s.kernelH * s.kernelW, cout = OC / groups;
  const size_t P = s.outHeight() * s.outWidth();
  const size_t ldx = C + randomIn(rng, 0, 3), ldy = OC + randomIn(rng, 0, 3);
  const size_t ldr = OC + randomIn(rng, 0, 2);
  const std::vector<float> x = randomFloats(rng, H * W * ldx);
  const std::vector<float> xN = toChannelsFirst(x, H * W, C, ldx);
  std::vector<float> w = randomFloats(rng, OC * (C / groups) * taps);
  RandomEpilogue re(rng, OC, OC * P);
  re.epi.accumulate = false;
  const std::vector<float> res =
      re.epi.residual ? toChannelsLast(re.residual.data(), P, OC, ldr)
                      : std::vector<float>();
  const std::vector<float> y0(OC * P, 0.0f);
  const RefResult ref = refConv(s, xN.data(), w.data(), y0.data(), re.epi,
                                /*depthwise=*/false, groups);
  Epilogue e = re.epi;
  if (e.residual) {
    e.residual = res.data();
    e.ldr = ldr;
  }
  std::vector<float> packed((viaDepthwise
                                 ? packedDepthwiseNhwcSize(s)
                                 : packedGroupedConvNhwcSize(s, groups)) /
                            sizeof(float));
  ASSERT_EQ(viaDepthwise
                ? packDepthwiseNhwc(s, w.data(), packed.data())
                : packGroupedConvNhwc(s, groups, w.data(), packed.data()),
            Status::Ok);
  const std::string what = std::string(isaName(isa)) + " " + describe(s) +
                           " groups " + std::to_string(groups);
  const float sentinel = -12345.0f;
  std::vector<float> y(P * ldy, sentinel);
  const size_t cCut = cout * randomIn(rng, 0, groups),
               pixCut = randomIn(rng, 0, P);
  for (const GridCell &g : rangeGrid(P, OC, pixCut, cCut))
    ASSERT_EQ(viaDepthwise
                  ? depthwiseConv2dNhwc(s, x.data(), ldx, packed.data(),
                                        y.data(), ldy, e, isa, g.r)
                  : groupedConv2dNhwc(s, groups, x.data(), ldx, packed.data(),
                                      y.data(), ldy, e, isa, g.r),
              Status::Ok)
        << what;
  size_t bad = 0;
  expectNhwcMatches(viaDepthwise ? "depthwiseConv2dNhwc" : "groupedConv2dNhwc",
                    what, y, ldy, P, OC, ref, sentinel, bad);
  EXPECT_EQ(bad, 0u) << what;
}

/// depthwiseConv2dNhwc (and packDepthwiseNhwc), the grouped form's entry
/// for C groups of one channel.
void checkDepthwiseNhwc(Isa isa, std::mt19937 &rng, Conv2DShape s) {
  s.outChannels = s.channels;
  checkGroupedNhwc(isa, rng, s, s.channels, /*viaDepthwise=*/true);
}

// Narrow groups (ResNeXt's and RegNet's cin = cout = 2..16, channel
// multipliers cin = 1 < cout) on every window the row body distinguishes:
// 3x3 and 5x5 at stride 1 and 2 (the slides), 1x1, 7x7 and 2x4, dilated
// ones, pads 0-2, rows too short to slide, a group count that leaves a
// partial last vector and a single group. Where the path has no vector
// form (generic; a group as wide as the vector) the portable loop runs.
TEST_P(ConvTest, GroupedNhwcNarrowGroups) {
  std::mt19937 rng(1303 + static_cast<unsigned>(GetParam()));
  const size_t even[] = {2, 4, 8, 16};
  const size_t mult[] = {2, 4, 8, 16};
  size_t vector = 0;
  for (int iter = 0; iter < 120; ++iter) {
    Conv2DShape s;
    const bool multiplier = iter % 4 == 3;
    const size_t cin = multiplier ? 1 : even[randomIn(rng, 0, 3)];
    const size_t cout = multiplier ? mult[randomIn(rng, 0, 3)] : cin;
    const size_t groups = iter % 9 == 0 ? 1 : randomIn(rng, 1, 40);
    s.channels = cin * groups;
    s.outChannels = cout * groups;
    const size_t k[][2] = {{3, 3}, {5, 5}, {1, 1}, {7, 7}, {2, 4}};
    const size_t ki = iter % 3 == 0 ? randomIn(rng, 0, 4) : iter % 2;
    s.kernelH = k[ki][0];
    s.kernelW = k[ki][1];
    s.strideH = randomIn(rng, 1, 2);
    s.strideW = randomIn(rng, 1, 2);
    s.padTop = randomIn(rng, 0, 2);
    s.padBottom = randomIn(rng, 0, 2);
    s.padLeft = randomIn(rng, 0, 2);
    s.padRight = randomIn(rng, 0, 2);
    s.dilationH = iter % 7 == 6 ? 2 : 1;
    s.dilationW = iter % 11 == 10 ? 2 : 1;
    s.height = randomIn(rng, 1, 12);
    s.width = randomIn(rng, 3, 40);
    if (!s.valid())
      continue;
    vector += groupedConv2dNhwcSupported(s.channels, s.outChannels, groups,
                                         GetParam());
    checkGroupedNhwc(GetParam(), rng, s, groups);
    if (HasFailure())
      return;
  }
  // The vector paths take most of them (not a vector's width of channels
  // a group: AVX-512 16, AVX2 8 or 16).
  if (GetParam() == Isa::Avx512) {
    EXPECT_GT(vector, 60u);
  } else if (GetParam() == Isa::Avx2) {
    EXPECT_GT(vector, 30u);
  }
}

// Argument checks: groups that do not divide the channels, and a range
// that cuts a group.
TEST(ConvNhwc, GroupedRefusesBadGroups) {
  Conv2DShape s;
  s.channels = 8;
  s.outChannels = 8;
  s.height = s.width = 4;
  s.kernelH = s.kernelW = 3;
  s.padTop = s.padLeft = s.padBottom = s.padRight = 1;
  std::vector<float> x(16 * 8), w(8 * 2 * 9), y(16 * 8);
  std::vector<float> packed(packedGroupedConvNhwcSize(s, 4) / sizeof(float));
  EXPECT_EQ(packGroupedConvNhwc(s, 3, w.data(), packed.data()),
            Status::InvalidArgument);
  ASSERT_EQ(packGroupedConvNhwc(s, 4, w.data(), packed.data()), Status::Ok);
  EXPECT_EQ(groupedConv2dNhwc(s, 3, x.data(), 8, packed.data(), y.data(), 8),
            Status::InvalidArgument);
  ConvRange cut;
  cut.ocBegin = 1;
  EXPECT_EQ(groupedConv2dNhwc(s, 4, x.data(), 8, packed.data(), y.data(), 8, {},
                              Isa::Auto, cut),
            Status::InvalidArgument);
  EXPECT_FALSE(groupedConv2dNhwcSupported(8, 8, 3));
}

TEST_P(ConvTest, DepthwiseNhwcRandomShapes) {
  std::mt19937 rng(77 + static_cast<unsigned>(GetParam()));
  for (int iter = 0; iter < 300; ++iter) {
    Conv2DShape s = randomShape(rng, iter % 7 == 0 ? 9 : 4);
    if (iter % 3 == 0) { // MobileNet's: 3x3, stride 1 or 2, pad 1
      s.kernelH = s.kernelW = 3;
      s.padTop = s.padLeft = s.padBottom = s.padRight = 1;
      s.dilationH = s.dilationW = 1;
      s.strideH = s.strideW = randomIn(rng, 1, 2);
    }
    if (iter % 2 == 0)
      s.channels = randomIn(rng, 10, 100);
    if (!s.valid())
      continue;
    checkDepthwiseNhwc(GetParam(), rng, s);
    if (HasFailure())
      return;
  }
}

// A depthwise window as MobileNets have them over `channels` channels
// (drawn by the caller, first): 3x3 on even iterations, 5x5 on odd ones,
// stride 1 or 2, pads 0 to 2 on each side; the map is the caller's.
Conv2DShape mobileNetWindow(std::mt19937 &rng, int iter, size_t channels) {
  Conv2DShape s;
  s.channels = channels;
  s.kernelH = s.kernelW = iter % 2 ? 5 : 3;
  s.strideH = s.strideW = randomIn(rng, 1, 2);
  s.padTop = randomIn(rng, 0, 2);
  s.padBottom = randomIn(rng, 0, 2);
  s.padLeft = randomIn(rng, 0, 2);
  s.padRight = randomIn(rng, 0, 2);
  return s;
}

// The windows MobileNets use (3x3 and 5x5, stride 1 and 2, pads 0-2) on
// rows wide enough for several 8-pixel interior runs (the vector paths
// slide each kernel row along them) and their leftovers, top and bottom
// rows that clip the window, vertical dilation, and channel counts with and
// without a partial last block, up to two groups of four 16-lane blocks.
TEST_P(ConvTest, DepthwiseNhwcMobileNetWindows) {
  std::mt19937 rng(2024 + static_cast<unsigned>(GetParam()));
  for (int iter = 0; iter < 60; ++iter) {
    Conv2DShape s = mobileNetWindow(rng, iter,
                                    iter % 3 == 0 ? 8 * randomIn(rng, 1, 16)
                                                  : randomIn(rng, 1, 140));
    s.dilationH = iter % 5 == 4 ? 2 : 1;
    s.height = randomIn(rng, 1, 12);
    s.width = randomIn(rng, 5, 60);
    if (!s.valid())
      continue;
    checkDepthwiseNhwc(GetParam(), rng, s);
    if (HasFailure())
      return;
  }
}

// Rows as narrow as a late layer's (1 to 10 columns: 7x7 and 6x6 maps,
// 5x5 windows wider than the inside run) and the border columns of every
// row: the slide's steps that skip the input columns outside the row and
// store only the columns wanted, against the reference; the range grid of
// checkGroupedNhwc also cuts rows in the middle.
TEST_P(ConvTest, DepthwiseNhwcNarrowRows) {
  std::mt19937 rng(4099 + static_cast<unsigned>(GetParam()));
  for (int iter = 0; iter < 80; ++iter) {
    Conv2DShape s = mobileNetWindow(rng, iter,
                                    iter % 4 == 0 ? 16 * randomIn(rng, 1, 12)
                                                  : randomIn(rng, 1, 200));
    s.height = randomIn(rng, 1, 10);
    s.width = randomIn(rng, 1, 10);
    if (!s.valid())
      continue;
    checkDepthwiseNhwc(GetParam(), rng, s);
    if (HasFailure())
      return;
  }
}

// Maps whose rows of all channels do not fit L1 beside the next rows: a
// 3x3 window at stride 1 then goes in strips of output columns, row by
// row within a strip (GroupedConvNhwcRow.inc, stripColumns). Mostly that
// window (pads 0-2), with 24-300 channels (a partial last block on most)
// on rows of 20-90 columns, so strips of 8 to 48 columns, a last strip
// narrower than the others, and the range grid's partial first and last
// rows around the striped ones; channel multipliers and narrow groups
// (the grouped kinds) too; every sixth case another window (5x5, stride
// 2, vertical dilation) on the same maps, which keeps whole rows.
TEST_P(ConvTest, DepthwiseNhwcStrips) {
  std::mt19937 rng(8191 + static_cast<unsigned>(GetParam()));
  for (int iter = 0; iter < 40; ++iter) {
    Conv2DShape s = mobileNetWindow(rng, iter, randomIn(rng, 24, 300));
    if (iter % 6 != 5) {
      s.kernelH = s.kernelW = 3;
      s.strideH = s.strideW = 1;
    } else {
      s.dilationH = randomIn(rng, 1, 2);
    }
    s.height = randomIn(rng, 6, 20);
    s.width = randomIn(rng, 20, 90);
    if (!s.valid())
      continue;
    if (iter % 4 == 3) {
      const size_t cin = iter % 8 == 3 ? 1 : 4, cout = 4;
      s.channels = s.channels / 4 * cin + cin;
      const size_t groups = s.channels / cin;
      s.outChannels = groups * cout;
      checkGroupedNhwc(GetParam(), rng, s, groups);
    } else {
      checkDepthwiseNhwc(GetParam(), rng, s);
    }
    if (HasFailure())
      return;
  }
}

void checkDepthwise(Isa isa, std::mt19937 &rng, Conv2DShape s) {
  s.outChannels = s.channels;
  const size_t P = s.outHeight() * s.outWidth();
  std::vector<float> x = randomFloats(rng, s.channels * s.height * s.width);
  std::vector<float> w = randomFloats(rng, s.channels * s.kernelH * s.kernelW);
  std::vector<float> y0 = randomFloats(rng, s.channels * P);
  RandomEpilogue re(rng, s.channels, s.channels * P);
  const RefResult ref = refConv(s, x.data(), w.data(), y0.data(), re.epi,
                                /*depthwise=*/true);
  std::vector<float> y = y0;
  const size_t cut = randomIn(rng, 0, s.channels);
  if (cut) {
    ASSERT_EQ(
        depthwiseConv2d(s, x.data(), w.data(), y.data(), re.epi, isa, 0, cut),
        Status::Ok);
  }
  if (cut < s.channels) {
    ASSERT_EQ(depthwiseConv2d(s, x.data(), w.data(), y.data(), re.epi, isa, cut,
                              s.channels),
              Status::Ok);
  }
  expectNear(ref, y,
             std::string("depthwise ") + isaName(isa) + " " + describe(s));
}

TEST_P(ConvTest, DepthwiseRandomShapes) {
  std::mt19937 rng(11 + static_cast<unsigned>(GetParam()));
  for (int iter = 0; iter < 200; ++iter) {
    checkDepthwise(GetParam(), rng, randomShape(rng, 5));
    if (HasFailure())
      return;
  }
}

TEST_P(ConvTest, Depthwise3x3) {
  // The dedicated 3x3 kernels: stride 1 and 2, all pad combinations, widths
  // around the 8- and 16-lane vectors (AVX2, AVX-512).
  std::mt19937 rng(3);
  for (size_t stride : {1, 2})
    for (size_t pad = 0; pad <= 1; ++pad)
      for (size_t width : {1, 3, 7, 8, 9, 15, 16, 17, 33, 56}) {
        Conv2DShape s;
        s.channels = randomIn(rng, 1, 5);
        s.height = randomIn(rng, 3, 20);
        s.width = std::max<size_t>(width, 3 - 2 * pad);
        s.kernelH = s.kernelW = 3;
        s.strideH = s.strideW = stride;
        s.padTop = s.padLeft = pad;
        s.padBottom = s.padRight = randomIn(rng, 0, pad);
        if (!s.valid())
          continue;
        checkDepthwise(GetParam(), rng, s);
        if (HasFailure())
          return;
      }
}

TEST_P(ConvTest, PoolingRandomShapes) {
  std::mt19937 rng(19 + static_cast<unsigned>(GetParam()));
  for (int iter = 0; iter < 300; ++iter) {
    Conv2DShape s = randomShape(rng, 4);
    s.ceilMode = randomIn(rng, 0, 1);
    // ONNX requires pads smaller than the kernel.
    s.padTop = std::min(s.padTop, s.kernelH - 1);
    s.padBottom = std::min(s.padBottom, s.kernelH - 1);
    s.padLeft = std::min(s.padLeft, s.kernelW - 1);
    s.padRight = std::min(s.padRight, s.kernelW - 1);
    if (!s.valid())
      continue;
    const PoolKind kind = static_cast<PoolKind>(randomIn(rng, 0, 2));
    const size_t P = s.outHeight() * s.outWidth();
    std::vector<float> x = randomFloats(rng, s.channels * s.height * s.width);
    std::vector<float> y0 = randomFloats(rng, s.channels * P);
    RandomEpilogue re(rng, s.channels, s.channels * P);
    const RefResult ref = refPool(kind, s, x.data(), y0.data(), re.epi);
    std::vector<float> y = y0;
    ASSERT_EQ(pool2d(kind, s, x.data(), y.data(), re.epi, GetParam()),
              Status::Ok);
    expectNear(ref, y,
               "pool kind=" + std::to_string(int(kind)) + " " + describe(s));
    if (HasFailure())
      return;
  }
}

TEST_P(ConvTest, RejectsBadArguments) {
  Conv2DShape s;
  s.channels = 2;
  s.height = s.width = 4;
  s.outChannels = 3;
  s.kernelH = s.kernelW = 5; // larger than the unpadded input
  EXPECT_FALSE(s.valid());
  std::vector<float> x(32), w(2 * 3 * 25), y(64);
  std::vector<char> packed(4096);
  EXPECT_EQ(packConvWeights(s, w.data(), packed.data(), GetParam()),
            Status::InvalidArgument);
  s.kernelH = s.kernelW = 3;
  ASSERT_EQ(packConvWeights(s, w.data(), packed.data(), GetParam()),
            Status::Ok);
  Conv2DShape other = s;
  other.outChannels = 4;
  EXPECT_EQ(conv2d(other, x.data(), packed.data(), y.data(), {}, GetParam()),
            Status::LayoutMismatch);
  ConvRange r;
  r.ocBegin = 2;
  r.ocEnd = 1;
  EXPECT_EQ(conv2d(s, x.data(), packed.data(), y.data(), {}, GetParam(), r),
            Status::InvalidArgument);
  // A fused pool whose first window holds no pixel of the 2 x 2 output,
  // one whose last does not, and rows past the pooled extent.
  MaxPoolWindow pw;
  pw.kernelH = pw.kernelW = pw.strideH = pw.strideW = 2;
  pw.padTop = 2;
  pw.outHeight = pw.outWidth = 1;
  auto pooled = [&](size_t r0, size_t r1) {
    return conv2dNhwcFromNchwMaxPool(s, pw, x.data(), packed.data(), y.data(),
                                     3, {}, GetParam(), r0, r1);
  };
  EXPECT_EQ(pooled(0, 0), Status::InvalidArgument);
  pw.padTop = 0;
  pw.outHeight = 2;
  EXPECT_EQ(pooled(0, 0), Status::InvalidArgument);
  pw.outHeight = 1;
  EXPECT_EQ(pooled(0, 2), Status::InvalidArgument);
  EXPECT_EQ(pooled(2, 0), Status::InvalidArgument);
}

INSTANTIATE_TEST_SUITE_P(Paths, ConvTest, ::testing::ValuesIn(fp32Paths()),
                         [](const auto &info) {
                           return std::string(isaName(info.param));
                         });

} // namespace
} // namespace ember::cpu::test
