//===- QDepthwiseTest.cpp - int8 depthwise rows must match bit for bit ----===//
//
// qdepthwiseConv2dRow on every path (generic, AVX2, AVX-512, and AVX-512
// VNNI with the 3x3 VNNI pack) against an exact-integer reference of the
// documented computation: int32 accumulation of (x - x_zp) * w over the
// taps inside the input (u8 or s8 x), then Ember's requantization
// (quant::requantize) with per-tensor or per-channel tables, fast or
// general (FixedPoint.h), and a fused clamp; or, for ConvInteger's int32
// result, the accumulators as they are.
//
//===----------------------------------------------------------------------===//
#include "Reference.h"

#include <gtest/gtest.h>

#include <cstring>

namespace ember::cpu::test {
namespace {

class QDepthwiseTest : public ::testing::TestWithParam<Isa> {
protected:
  void SetUp() override {
    if (!isaSupported(GetParam()))
      GTEST_SKIP() << isaName(GetParam()) << " not supported on this CPU";
  }
};

struct DwCase {
  QDepthwiseConv c;
  int64_t n = 1;
  std::vector<uint8_t> x, packed;
  std::vector<int16_t> w; // [KH*KW][C], centered
  std::vector<int32_t> bias, mult, shift;

  int64_t xAt(int64_t b, int64_t ch, int64_t ih, int64_t iw) const {
    int64_t C = c.channels, H = c.height, W = c.width;
    uint8_t v = c.inNhwc ? x[size_t(((b * H + ih) * W + iw) * C + ch)]
                         : x[size_t(((b * C + ch) * H + ih) * W + iw)];
    return c.xSigned ? int64_t(int8_t(v)) : int64_t(v);
  }
  size_t yIndex(int64_t b, int64_t ch, int64_t oh, int64_t ow) const {
    int64_t C = c.channels, OH = c.outHeight, OW = c.outWidth;
    return size_t(c.outNhwc ? ((b * OH + oh) * OW + ow) * C + ch
                            : ((b * C + ch) * OH + oh) * OW + ow);
  }
};

// wide: kernels 1..7 (KH, KW apart), strides 1..3, pads 0..3 on each
// side, centered weights over their whole range [-255, 255], channel
// counts around the 16-channel blocks, mostly channels-last (the AVX2
// kernel's cases: qdwAvx2Takes). Otherwise the original small cases.
DwCase makeCase(std::mt19937 &rng, bool vnniPack, bool wide = false,
                bool three = false) {
  DwCase d;
  QDepthwiseConv &c = d.c;
  static const int64_t kChannels[] = {1, 5, 16, 37, 64, 70, 130};
  static const int64_t kWideChannels[] = {16, 17, 24, 31,  32,  40, 48,
                                          72, 96, 8,  144, 200, 1,  5};
  c.channels = wide ? kWideChannels[randomIn(rng, 0, 13)]
                    : kChannels[randomIn(rng, 0, 6)];
  int64_t kmax = wide ? 7 : 3, smax = wide ? 3 : 2, pmax = wide ? 3 : 1;
  c.kernelH = vnniPack || three ? 3 : int64_t(randomIn(rng, 1, size_t(kmax)));
  c.kernelW = vnniPack || three ? 3 : int64_t(randomIn(rng, 1, size_t(kmax)));
  c.strideH = int64_t(randomIn(rng, 1, size_t(smax)));
  c.strideW = int64_t(randomIn(rng, 1, three ? 2 : size_t(smax)));
  c.dilationH = int64_t(randomIn(rng, 1, 2));
  c.dilationW = three ? 1 : int64_t(randomIn(rng, 1, 2));
  c.padTop = int64_t(randomIn(rng, 0, size_t(pmax)));
  c.padLeft = int64_t(randomIn(rng, 0, size_t(pmax)));
  int64_t padBottom = wide ? int64_t(randomIn(rng, 0, 3)) : c.padTop;
  int64_t padRight = wide ? int64_t(randomIn(rng, 0, 3)) : c.padLeft;
  int64_t ekh = (c.kernelH - 1) * c.dilationH + 1;
  int64_t ekw = (c.kernelW - 1) * c.dilationW + 1;
  c.height = ekh + int64_t(randomIn(rng, 0, 6));
  c.width = ekw + int64_t(randomIn(rng, 0, wide ? 20 : 8));
  c.outHeight = (c.height + c.padTop + padBottom - ekh) / c.strideH + 1;
  c.outWidth = (c.width + c.padLeft + padRight - ekw) / c.strideW + 1;
  c.inNhwc =
      vnniPack || (wide ? randomIn(rng, 0, 7) != 0 : randomIn(rng, 0, 1));
  c.outNhwc =
      vnniPack || (wide ? randomIn(rng, 0, 7) != 0 : randomIn(rng, 0, 1));
  c.xSigned = int64_t(randomIn(rng, 0, 1));
  c.xZeroPoint = int64_t(randomIn(rng, 0, 255)) - (c.xSigned ? 128 : 0);
  c.ySigned = int64_t(randomIn(rng, 0, 1));
  c.yZeroPoint = c.ySigned ? int64_t(randomIn(rng, 0, 40)) - 20
                           : int64_t(randomIn(rng, 0, 255));
  if (randomIn(rng, 0, 3) == 0) { // a fused ReLU(6)
    c.clampMin = c.yZeroPoint;
    c.clampMax = c.yZeroPoint + int64_t(randomIn(rng, 10, 200));
  }
  c.scaleCount = randomIn(rng, 0, 1) ? c.channels : 1;
  d.n = int64_t(randomIn(rng, 1, 2));
  int64_t C = c.channels, KK = c.kernelH * c.kernelW;
  d.x.resize(size_t(d.n * C * c.height * c.width));
  for (uint8_t &v : d.x)
    v = uint8_t(randomIn(rng, 0, 255));
  d.w.resize(size_t(KK * C));
  for (int16_t &v : d.w) // fits s8 (VNNI pack), or any centered weight
    v = wide ? int16_t(int(randomIn(rng, 0, 510)) - 255)
             : int16_t(int(randomIn(rng, 0, 255)) - 128);
  d.bias.resize(size_t(C));
  for (int32_t &v : d.bias)
    v = int32_t(randomIn(rng, 0, 40000)) - 20000;
  d.mult.resize(size_t(c.scaleCount));
  d.shift.resize(size_t(c.scaleCount));
  const bool general = randomIn(rng, 0, 4) == 0;
  for (size_t i = 0; i < d.mult.size(); ++i) {
    // Conv-like multipliers (the fast form), or any (the general one).
    quant::Multiplier m = quant::quantizeMultiplier(
        general ? std::uniform_real_distribution<double>(1e-3, 3.0)(rng)
                : std::uniform_real_distribution<double>(0.0005, 0.02)(rng));
    d.mult[i] = m.mult;
    d.shift[i] = m.shift;
  }
  // Weights, bias at a 64-byte offset, then (3x3) the VNNI pack.
  size_t biasOff = (d.w.size() * 2 + 63) / 64 * 64;
  size_t vnniOff = (biasOff + d.bias.size() * 4 + 63) / 64 * 64;
  int64_t blocks = (C + 63) / 64;
  d.packed.assign(vnniOff + (vnniPack ? size_t(blocks) * 1536 : 0), 0);
  std::memcpy(d.packed.data(), d.w.data(), d.w.size() * 2);
  std::memcpy(d.packed.data() + biasOff, d.bias.data(), d.bias.size() * 4);
  c.biasOffset = int64_t(biasOff);
  if (vnniPack) {
    static_assert(kQDepthwiseVnniBlockBytes == 1536, "the documented layout");
    for (int64_t b = 0; b < blocks; ++b) {
      uint8_t *blk = d.packed.data() + vnniOff + size_t(b) * 1536;
      for (int64_t j = 0; j < 4; ++j)
        for (int64_t q = 0; q < 16; ++q) {
          int64_t ch = 64 * b + 16 * (q / 4) + 4 * j + q % 4;
          if (ch >= C)
            continue;
          int32_t sum = 0;
          for (int64_t k = 0; k < 9; ++k) {
            int16_t v = d.w[size_t(k * C + ch)];
            sum += v;
            blk[((k / 4) * 4 + j) * 64 + q * 4 + k % 4] = uint8_t(int8_t(v));
          }
          int32_t xzp = int32_t(c.xZeroPoint) + (c.xSigned ? 128 : 0);
          int32_t bIn = d.bias[size_t(ch)] - xzp * sum;
          size_t si = c.scaleCount > 1 ? size_t(ch) : 0;
          std::memcpy(blk + 768 + (j * 16 + q) * 4, &bIn, 4);
          std::memcpy(blk + 1024 + (j * 16 + q) * 4, &d.mult[si], 4);
          std::memcpy(blk + 1280 + (j * 16 + q) * 4, &d.shift[si], 4);
        }
    }
    c.vnniOffset = int64_t(vnniOff) + 1;
  }
  return d;
}

// The int32 accumulator of one output element: the bias plus (x - x_zp) * w
// over the taps inside the input.
int32_t accAt(const DwCase &d, int64_t b, int64_t ch, int64_t oh, int64_t ow) {
  const QDepthwiseConv &c = d.c;
  int32_t acc = d.bias[size_t(ch)];
  for (int64_t kh = 0; kh < c.kernelH; ++kh)
    for (int64_t kw = 0; kw < c.kernelW; ++kw) {
      int64_t ih = oh * c.strideH - c.padTop + kh * c.dilationH;
      int64_t iw = ow * c.strideW - c.padLeft + kw * c.dilationW;
      if (ih < 0 || ih >= c.height || iw < 0 || iw >= c.width)
        continue;
      acc += (int32_t(d.xAt(b, ch, ih, iw)) - int32_t(c.xZeroPoint)) *
             int32_t(d.w[size_t((kh * c.kernelW + kw) * c.channels + ch)]);
    }
  return acc;
}

// The documented computation, element by element.
std::vector<uint8_t> reference(const DwCase &d) {
  const QDepthwiseConv &c = d.c;
  std::vector<uint8_t> y(size_t(d.n * c.channels * c.outHeight * c.outWidth));
  quant::Range r = quant::rangeOf(c.ySigned != 0);
  int32_t lo = std::max(r.lo, int32_t(std::max<int64_t>(c.clampMin, -999)));
  int32_t hi =
      std::max(lo, std::min(r.hi, int32_t(std::min<int64_t>(c.clampMax, 999))));
  for (int64_t b = 0; b < d.n; ++b)
    for (int64_t ch = 0; ch < c.channels; ++ch)
      for (int64_t oh = 0; oh < c.outHeight; ++oh)
        for (int64_t ow = 0; ow < c.outWidth; ++ow) {
          int32_t acc = accAt(d, b, ch, oh, ow);
          size_t si = c.scaleCount > 1 ? size_t(ch) : 0;
          int32_t q = quant::requantize(acc, 0, {d.mult[si], d.shift[si]},
                                        int32_t(c.yZeroPoint), lo, hi);
          y[d.yIndex(b, ch, oh, ow)] = uint8_t(q);
        }
  return y;
}

void runRows(DwCase &d, Isa isa, size_t pieces, std::vector<uint8_t> &y) {
  d.c.isa = isa;
  d.c.x = d.x.data();
  d.c.y = y.data();
  d.c.packed = d.packed.data();
  d.c.multiplier = d.mult.data();
  d.c.shift = d.shift.data();
  std::vector<int32_t> acc(size_t(d.c.channels));
  for (int64_t b = 0; b < d.n; ++b)
    for (int64_t oh = 0; oh < d.c.outHeight; ++oh)
      for (size_t piece = 0; piece < pieces; ++piece)
        ASSERT_EQ(qdepthwiseConv2dRow(d.c, size_t(b), size_t(oh), piece, pieces,
                                      acc.data()),
                  Status::Ok);
}

TEST_P(QDepthwiseTest, RowsMatchReferenceExactly) {
  std::mt19937 rng(1234 + unsigned(GetParam()));
  for (int trial = 0; trial < 120; ++trial) {
    bool vnni = trial % 3 == 0;
    DwCase d = makeCase(rng, vnni);
    std::vector<uint8_t> want = reference(d);
    for (size_t pieces : {size_t(1), size_t(3)}) {
      std::vector<uint8_t> got(want.size(), 0xAB);
      runRows(d, GetParam(), pieces, got);
      ASSERT_EQ(got, want) << "trial " << trial << " pieces " << pieces
                           << " C=" << d.c.channels << " k=" << d.c.kernelH
                           << "x" << d.c.kernelW << " nhwc=" << d.c.inNhwc
                           << d.c.outNhwc << " vnni=" << vnni
                           << " signed=" << d.c.xSigned;
    }
  }
}

// Every kernel size up to 7x7, strides up to 3, asymmetric pads, any
// centered weight, channel ranges (pieces) of every path; on AVX2 hosts
// the channels-last cases run qdepthwiseRowAvx2Nhwc.
TEST_P(QDepthwiseTest, WideCasesMatchReferenceExactly) {
  std::mt19937 rng(4321 + unsigned(GetParam()));
  for (int trial = 0; trial < 300; ++trial) {
    DwCase d = makeCase(rng, false, true);
    std::vector<uint8_t> want = reference(d);
    d.c.shift = d.shift.data();
    d.c.multiplier = d.mult.data();
    if (trial % 2) // the runtime's way: derived fields filled once
      qdepthwisePrepare(d.c);
    for (size_t pieces : {size_t(1), size_t(2), size_t(5)}) {
      std::vector<uint8_t> got(want.size(), 0xAB);
      runRows(d, GetParam(), pieces, got);
      ASSERT_EQ(got, want) << "trial " << trial << " pieces " << pieces
                           << " C=" << d.c.channels << " k=" << d.c.kernelH
                           << "x" << d.c.kernelW << " s=" << d.c.strideH << "x"
                           << d.c.strideW << " d=" << d.c.dilationH << "x"
                           << d.c.dilationW << " p=" << d.c.padTop << ","
                           << d.c.padLeft << " in=" << d.c.height << "x"
                           << d.c.width << " nhwc=" << d.c.inNhwc << d.c.outNhwc
                           << " signed=" << d.c.xSigned
                           << " scales=" << d.c.scaleCount;
    }
  }
}

// 3x3 at stride 1 and 2, undilated along rows, channels-last: on AVX2
// hosts the rows with all three input rows inside x run the sliding-window
// kernel (qdw3x3Avx2), the others the per-tap one.
TEST_P(QDepthwiseTest, ThreeByThreeMatchesReferenceExactly) {
  std::mt19937 rng(777 + unsigned(GetParam()));
  for (int trial = 0; trial < 150; ++trial) {
    DwCase d = makeCase(rng, false, true, true);
    d.c.inNhwc = d.c.outNhwc = 1;
    std::vector<uint8_t> want = reference(d);
    d.c.shift = d.shift.data();
    d.c.multiplier = d.mult.data();
    if (trial % 2)
      qdepthwisePrepare(d.c);
    for (size_t pieces : {size_t(1), size_t(3)}) {
      std::vector<uint8_t> got(want.size(), 0xAB);
      runRows(d, GetParam(), pieces, got);
      ASSERT_EQ(got, want) << "trial " << trial << " pieces " << pieces
                           << " C=" << d.c.channels << " s=" << d.c.strideH
                           << "x" << d.c.strideW << " dh=" << d.c.dilationH
                           << " p=" << d.c.padTop << "," << d.c.padLeft
                           << " in=" << d.c.height << "x" << d.c.width
                           << " signed=" << d.c.xSigned << d.c.ySigned
                           << " scales=" << d.c.scaleCount;
    }
  }
}

// ConvInteger's int32 result (yInt32): the accumulators plus the bias, no
// requantization and no tables, channels-last (the AVX2 per-tap kernel on
// AVX2 and AVX-512 hosts) and row-major (the per-pixel loop), in channel
// ranges.
TEST_P(QDepthwiseTest, Int32ResultsMatchReferenceExactly) {
  std::mt19937 rng(999 + unsigned(GetParam()));
  for (int trial = 0; trial < 200; ++trial) {
    DwCase d = makeCase(rng, false, true);
    const QDepthwiseConv &c = d.c;
    std::vector<int32_t> want(
        size_t(d.n * c.channels * c.outHeight * c.outWidth));
    for (int64_t b = 0; b < d.n; ++b)
      for (int64_t ch = 0; ch < c.channels; ++ch)
        for (int64_t oh = 0; oh < c.outHeight; ++oh)
          for (int64_t ow = 0; ow < c.outWidth; ++ow)
            want[d.yIndex(b, ch, oh, ow)] = accAt(d, b, ch, oh, ow);
    d.c.yInt32 = 1;
    d.c.scaleCount = 0; // no tables: they must not be read
    qdepthwisePrepare(d.c);
    for (size_t pieces : {size_t(1), size_t(3)}) {
      std::vector<int32_t> got(want.size(), int32_t(0xABABABAB));
      d.c.isa = GetParam();
      d.c.x = d.x.data();
      d.c.y = reinterpret_cast<uint8_t *>(got.data());
      d.c.packed = d.packed.data();
      d.c.multiplier = d.c.shift = nullptr;
      std::vector<int32_t> acc(size_t(d.c.channels));
      for (int64_t b = 0; b < d.n; ++b)
        for (int64_t oh = 0; oh < d.c.outHeight; ++oh)
          for (size_t piece = 0; piece < pieces; ++piece)
            ASSERT_EQ(qdepthwiseConv2dRow(d.c, size_t(b), size_t(oh), piece,
                                          pieces, acc.data()),
                      Status::Ok);
      ASSERT_EQ(got, want) << "trial " << trial << " pieces " << pieces
                           << " C=" << c.channels << " k=" << c.kernelH << "x"
                           << c.kernelW << " s=" << c.strideH << "x"
                           << c.strideW << " nhwc=" << c.inNhwc << c.outNhwc
                           << " signed=" << c.xSigned;
    }
  }
}

TEST(QDepthwise, RefusesMissingPointers) {
  QDepthwiseConv c;
  int32_t acc = 0;
  EXPECT_EQ(qdepthwiseConv2dRow(c, 0, 0, 0, 1, &acc), Status::InvalidArgument);
}

INSTANTIATE_TEST_SUITE_P(Paths, QDepthwiseTest,
                         ::testing::Values(Isa::Generic, Isa::Avx2,
                                           Isa::AvxVnni, Isa::Avx512,
                                           Isa::Avx512Vnni),
                         [](const auto &info) {
                           return std::string(isaName(info.param));
                         });

} // namespace
} // namespace ember::cpu::test
