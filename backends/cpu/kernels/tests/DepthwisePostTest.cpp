//===- DepthwisePostTest.cpp - the depthwise rows' post activation --------===//
//
// depthwiseConv2dNhwc and groupedConv2dNhwc take Epilogue::post: HardSwish
// is applied to each output vector in registers, the other kinds by
// postActivation's body over each row's block of channels right after it is
// stored. Each is checked bit for bit against what ran before: the same call
// without the post, then a postActivation pass over its result (the
// residual after the activation then the pass's), on odd channel counts and
// widths, pads, strides 1 and 2, 3x3 and 5x5 (the slides) and 7x7 and
// dilated windows (a pixel at a time), every activation and post kind, and
// ranges cut as a split over threads cuts them.
//
//===----------------------------------------------------------------------===//
#include "Reference.h"

#include <cstring>
#include <gtest/gtest.h>

namespace ember::cpu::test {
namespace {

class DepthwisePostTest : public ::testing::TestWithParam<Isa> {
protected:
  void SetUp() override {
    if (!isaSupported(GetParam()))
      GTEST_SKIP() << isaName(GetParam()) << " not supported on this CPU";
  }
};

constexpr PostActivation kKinds[] = {
    PostActivation::Sigmoid, PostActivation::Silu, PostActivation::HardSigmoid,
    PostActivation::XHardSigmoid, PostActivation::HardSwish};

/// One convolution of `groups` groups (depthwise when viaDepthwise) with
/// post `kind`: the fused call over a grid of ranges against the call
/// without the post and a postActivation pass after it.
void checkPost(Isa isa, std::mt19937 &rng, const Conv2DShape &s, size_t groups,
               PostActivation kind, bool viaDepthwise) {
  const size_t C = s.channels, OC = s.outChannels, H = s.height, W = s.width;
  const size_t taps = s.kernelH * s.kernelW;
  const size_t P = s.outHeight() * s.outWidth();
  const size_t ldx = C + randomIn(rng, 0, 3), ldy = OC + randomIn(rng, 0, 3);
  const size_t ldr = OC + randomIn(rng, 0, 2);
  // Inputs over [-2, 2] and a bias over [-3, 3]: sums on every piece of the
  // hard activations (below -3, inside, above 3).
  const std::vector<float> x = randomFloats(rng, H * W * ldx, -2.0f, 2.0f);
  const std::vector<float> w = randomFloats(rng, OC * (C / groups) * taps);
  const std::vector<float> bias = randomFloats(rng, OC, -3.0f, 3.0f);
  const std::vector<float> res = randomFloats(rng, P * ldr);
  Epilogue e;
  if (randomIn(rng, 0, 3)) {
    e.bias = bias.data();
    e.biasAxis = BiasAxis::PerColumn;
  }
  e.activation = static_cast<Activation>(randomIn(rng, 0, 2));
  e.clipMin = -2.5f;
  e.clipMax = 3.5f;
  if (randomIn(rng, 0, 2)) {
    e.residual = res.data();
    e.ldr = ldr;
    e.residualAfterActivation = randomIn(rng, 0, 1);
  }
  PostOp op;
  op.kind = kind;
  op.alpha = kind == PostActivation::XHardSigmoid ? 1.0f / 6.0f : 0.2f;
  op.beta = 0.5f;
  std::vector<float> packed((viaDepthwise
                                 ? packedDepthwiseNhwcSize(s)
                                 : packedGroupedConvNhwcSize(s, groups)) /
                            sizeof(float));
  ASSERT_EQ(viaDepthwise
                ? packDepthwiseNhwc(s, w.data(), packed.data())
                : packGroupedConvNhwc(s, groups, w.data(), packed.data()),
            Status::Ok);
  auto call = [&](const Epilogue &epi, std::vector<float> &y,
                  const ConvRange &r) {
    return viaDepthwise
               ? depthwiseConv2dNhwc(s, x.data(), ldx, packed.data(), y.data(),
                                     ldy, epi, isa, r)
               : groupedConv2dNhwc(s, groups, x.data(), ldx, packed.data(),
                                   y.data(), ldy, epi, isa, r);
  };
  const float sentinel = -12345.0f;
  // Before: no post in the call, then the pass.
  Epilogue pre = e;
  const bool postRes = e.residual && e.residualAfterActivation;
  if (postRes)
    pre.residual = nullptr;
  std::vector<float> want(P * ldy, sentinel);
  ASSERT_EQ(call(pre, want, ConvRange{}), Status::Ok);
  postActivation(op, want.data(), ldy, postRes ? res.data() : nullptr, ldr, P,
                 OC, isa);
  // Now: the post in the call, over ranges cut at a pixel and at a group.
  e.post = &op;
  std::vector<float> got(P * ldy, sentinel);
  const size_t cout = OC / groups;
  const size_t cCut = cout * randomIn(rng, 0, groups),
               pCut = randomIn(rng, 0, P);
  for (int a = 0; a < 2; ++a)
    for (int b = 0; b < 2; ++b) {
      ConvRange r;
      r.ocBegin = a ? cCut : 0;
      r.ocEnd = a ? OC : cCut;
      r.pixBegin = b ? pCut : 0;
      r.pixEnd = b ? P : pCut;
      if (r.ocBegin != r.ocEnd && r.pixBegin != r.pixEnd) {
        ASSERT_EQ(call(e, got, r), Status::Ok);
      }
    }
  size_t bad = 0;
  for (size_t i = 0; i < got.size(); ++i)
    if (std::memcmp(&got[i], &want[i], sizeof(float)) != 0 && bad++ < 5)
      ADD_FAILURE() << isaName(isa) << " kind " << int(kind) << " C=" << C
                    << " OC=" << OC << " groups " << groups << " " << H << "x"
                    << W << " k" << s.kernelH << "x" << s.kernelW << " s"
                    << s.strideW << ": pixel " << i / ldy << " channel "
                    << i % ldy << ": got " << got[i] << " want " << want[i];
  EXPECT_EQ(bad, 0u);
}

Conv2DShape window(std::mt19937 &rng, size_t k, size_t stride) {
  Conv2DShape s;
  s.kernelH = s.kernelW = k;
  s.strideH = s.strideW = stride;
  s.padTop = randomIn(rng, 0, 2);
  s.padBottom = randomIn(rng, 0, 2);
  s.padLeft = randomIn(rng, 0, 2);
  s.padRight = randomIn(rng, 0, 2);
  s.height = randomIn(rng, 1, 13);
  s.width = randomIn(rng, 1, 37) | 1; // odd widths
  return s;
}

// Depthwise: 3x3 and 5x5 at stride 1 and 2 (the slides), 7x7 and a
// dilated 3x3 (a pixel at a time), channel counts with a partial last
// vector, every post kind.
TEST_P(DepthwisePostTest, DepthwiseMatchesCallThenPass) {
  std::mt19937 rng(31 + static_cast<unsigned>(GetParam()));
  const size_t k[] = {3, 5, 7};
  for (int iter = 0; iter < 100; ++iter) {
    Conv2DShape s = window(rng, k[iter % 3], 1 + iter / 3 % 2);
    s.dilationH = s.dilationW = iter % 10 == 9 ? 2 : 1;
    s.channels =
        iter % 5 == 0 ? 16 * randomIn(rng, 1, 5) : randomIn(rng, 1, 90);
    s.outChannels = s.channels;
    if (!s.valid())
      continue;
    checkPost(GetParam(), rng, s, s.channels, kKinds[iter % 5],
              /*viaDepthwise=*/true);
    if (HasFailure())
      return;
  }
}

// Narrow groups and channel multipliers: the same rows, other kinds.
TEST_P(DepthwisePostTest, GroupedMatchesCallThenPass) {
  std::mt19937 rng(57 + static_cast<unsigned>(GetParam()));
  for (int iter = 0; iter < 40; ++iter) {
    Conv2DShape s = window(rng, iter % 2 ? 5 : 3, 1 + iter / 2 % 2);
    const size_t cin = iter % 4 == 3 ? 1 : 4, cout = iter % 4 == 3 ? 2 : 4;
    const size_t groups = randomIn(rng, 1, 20);
    s.channels = cin * groups;
    s.outChannels = cout * groups;
    if (!s.valid())
      continue;
    checkPost(GetParam(), rng, s, groups, kKinds[iter % 5],
              /*viaDepthwise=*/false);
    if (HasFailure())
      return;
  }
}

INSTANTIATE_TEST_SUITE_P(Paths, DepthwisePostTest,
                         ::testing::ValuesIn(fp32Paths()),
                         [](const auto &info) {
                           return std::string(isaName(info.param));
                         });

} // namespace
} // namespace ember::cpu::test
