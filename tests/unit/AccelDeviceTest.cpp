// The layer's driver-glue helpers (ember/accel/Device.h): the tiled layout
// and one layer cut out of a scheduled program.
#include "AccelTestUtil.h"

#include "ember/accel/Device.h"
#include "ember/accel/Sync.h"

#include <cstring>
#include <numeric>
#include <vector>

using namespace ember::accel;

namespace {

NTensor tensor(std::vector<int64_t> dims, int axis, int64_t lanes,
               bool i32 = false, bool u8 = false) {
  NTensor t;
  t.dims = dims;
  t.axis = axis;
  t.C = dims[size_t(axis)];
  t.P = 1;
  for (size_t i = 0; i < dims.size(); ++i)
    if (int(i) != axis)
      t.P *= dims[i];
  t.lanes = lanes;
  t.i32 = i32;
  t.u8 = u8;
  return t;
}

TEST(AccelDevice, TiledLayoutPlacesChannelsInTilesOfLanes) {
  // N=2, C=40, H=1, W=3 with 32 lanes: two channel tiles of 6 pixels.
  NTensor t = tensor({2, 40, 1, 3}, 1, 32);
  std::vector<uint8_t> host(2 * 40 * 3);
  std::iota(host.begin(), host.end(), 0);
  std::vector<uint8_t> tiled(size_t(t.bytes()), 0xee);
  toTiled(t, host.data(), tiled.data());
  ASSERT_EQ(t.bytes(), 2u * 6 * 32);
  // n=1, c=35, w=2: host (1*40 + 35)*3 + 2; tile 1, pixel 1*3 + 2, lane 3.
  EXPECT_EQ(tiled[(1 * 6 + 5) * 32 + 3], host[(1 * 40 + 35) * 3 + 2]);
  EXPECT_EQ(tiled[(1 * 6 + 5) * 32 + 8], 0); // channel 40: padding
  std::vector<uint8_t> back(host.size());
  fromTiled(t, tiled.data(), back.data());
  EXPECT_EQ(back, host);
}

TEST(AccelDevice, TiledLayoutHoldsUint8AsInt8AndInt32Whole) {
  NTensor u = tensor({1, 5, 2}, 1, 8, false, true);
  std::vector<uint8_t> host = {0, 1, 127, 128, 255, 7, 8, 9, 10, 11};
  std::vector<uint8_t> tiled(size_t(u.bytes()));
  toTiled(u, host.data(), tiled.data());
  EXPECT_EQ(int8_t(tiled[0]), -128);         // c=0, p=0: 0 - 128
  EXPECT_EQ(int8_t(tiled[1 * 8 + 0]), -127); // c=0, p=1: 1 - 128
  EXPECT_EQ(int8_t(tiled[0 * 8 + 2]), 127);  // c=2, p=0: 255 - 128
  std::vector<uint8_t> back(host.size());
  fromTiled(u, tiled.data(), back.data());
  EXPECT_EQ(back, host);
  NTensor w = tensor({3, 4}, 1, 4, true);
  std::vector<int32_t> h(12);
  std::iota(h.begin(), h.end(), -6);
  std::vector<uint8_t> tw(size_t(w.bytes()));
  toTiled(w, h.data(), tw.data());
  std::vector<int32_t> hb(12);
  fromTiled(w, tw.data(), hb.data());
  EXPECT_EQ(hb, h);
}

// An input laid out as patches (NTensor::Patches): channel (dy kw + dx) C +
// c of output pixel (oy, ox) is input (c, oy sh - pt + dy dh, ox sw - pl +
// dx dw), the fill outside the map; u8 stored as int8, int16 whole.
TEST(AccelDevice, PatchesLayoutIsTheConvolutionsWindows) {
  for (bool i16 : {false, true}) {
    // N=2, C=3, 5x6 map; kernel 3x2, stride 2x1, dilation 1x2, pads
    // top 1 and left 2: OH = (5 + 1 + 1 - 3) / 2 + 1 = 3, OW = 5.
    const int64_t N = 2, C = 3, H = 5, W = 6, kh = 3, kw = 2, OH = 3, OW = 5;
    NTensor t = tensor({N, kh * kw * C, OH, OW}, 1, 8, false, !i16);
    t.i16 = i16;
    t.patches.kh = kh, t.patches.kw = kw, t.patches.sh = 2, t.patches.sw = 1,
    t.patches.dh = 1, t.patches.dw = 2, t.patches.pt = 1, t.patches.pl = 2;
    t.patches.srcDims = {N, C, H, W};
    t.patches.fill = i16 ? -300 : 77;
    const int64_t es = i16 ? 2 : 1;
    ASSERT_EQ(hostBytes(t), uint64_t(N * C * H * W * es));
    std::vector<int16_t> host16(size_t(N * C * H * W));
    std::iota(host16.begin(), host16.end(), int16_t(-150));
    std::vector<uint8_t> host8(host16.size());
    for (size_t i = 0; i < host8.size(); ++i)
      host8[i] = uint8_t(i * 7 + 3);
    const void *host = i16 ? static_cast<const void *>(host16.data())
                           : static_cast<const void *>(host8.data());
    std::vector<uint8_t> tiled(size_t(t.bytes()), 0xee);
    toTiled(t, host, tiled.data());
    ASSERT_EQ(t.bytes(), uint64_t(3 * N * OH * OW * 8 * es)); // 18: 3 tiles
    int checked = 0, filled = 0;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t dy = 0; dy < kh; ++dy)
        for (int64_t dx = 0; dx < kw; ++dx)
          for (int64_t c = 0; c < C; ++c)
            for (int64_t oy = 0; oy < OH; ++oy)
              for (int64_t ox = 0; ox < OW; ++ox) {
                const int64_t ch = (dy * kw + dx) * C + c;
                const int64_t iy = oy * 2 - 1 + dy, ix = ox - 2 + dx * 2;
                const bool in = iy >= 0 && iy < H && ix >= 0 && ix < W;
                const size_t src = size_t(((n * C + c) * H + iy) * W + ix);
                const size_t at = size_t(
                    ((ch / 8) * N * OH * OW + (n * OH + oy) * OW + ox) * 8 +
                    ch % 8);
                if (i16) {
                  int16_t got;
                  std::memcpy(&got, &tiled[at * 2], 2);
                  EXPECT_EQ(got, in ? host16[src] : int16_t(-300));
                } else {
                  EXPECT_EQ(tiled[at], uint8_t((in ? host8[src] : 77) - 128));
                }
                ++checked;
                filled += !in;
              }
    EXPECT_EQ(checked, N * kh * kw * C * OH * OW);
    EXPECT_GT(filled, 0);
  }
}

// A program whose input is laid out as patches keeps the geometry through
// the binary form, and one whose geometry does not describe its tensor (a
// hostile or corrupt program: the host would read the graph's tensor
// through it) is refused.
TEST(AccelDevice, PatchesSurviveSerializationAndBadOnesAreRefused) {
  const Target &t = testTarget("second-npu");
  Program p;
  p.lanes = t.lanes;
  NTensor x = tensor({2, 27, 4, 5}, 1, t.lanes, false, true);
  x.kind = NTensor::Kind::Input;
  x.dram = 0;
  x.patches.kh = 3, x.patches.kw = 3, x.patches.sh = 2, x.patches.sw = 2;
  x.patches.pt = 1, x.patches.pl = 1;
  x.patches.srcDims = {2, 3, 8, 10};
  x.patches.fill = 77;
  p.inputs.push_back(x);
  Program back;
  ASSERT_EQ(deserializeProgram(t, serializeProgram(t, p), back).message(), "");
  ASSERT_EQ(back.inputs.size(), 1u);
  const NTensor::Patches &q = back.inputs[0].patches;
  EXPECT_EQ(q.kh, 3);
  EXPECT_EQ(q.sw, 2);
  EXPECT_EQ(q.pl, 1);
  EXPECT_EQ(q.srcDims, (std::vector<int64_t>{2, 3, 8, 10}));
  EXPECT_EQ(q.fill, 77);
  EXPECT_EQ(hostBytes(back.inputs[0]), 2u * 3 * 8 * 10);
  for (int bad = 0; bad < 3; ++bad) {
    Program b = p;
    NTensor::Patches &bp = b.inputs[0].patches;
    if (bad == 0)
      bp.srcDims = {2, 3, 8}; // not 4-D
    else if (bad == 1)
      bp.srcDims[1] = 4; // 3 x 3 x 4 is not the tensor's 27 channels
    else
      bp.sh = 0;
    EXPECT_NE(deserializeProgram(t, serializeProgram(t, b), back).message(), "")
        << bad;
  }
}

// Two 1x1 convolutions scheduled for the second NPU's shape: each layer
// alone is its own operations with valid synchronization.
TEST(AccelDevice, LayerAloneIsTheLayersOperationsWithFreshSync) {
  const Target &t = testTarget("second-npu");
  LayerProgram lp;
  for (int i = 0; i < 3; ++i) {
    NTensor x = tensor({1, 48, 6, 6}, 1, t.lanes);
    x.name = "t" + std::to_string(i);
    x.kind = i == 0   ? NTensor::Kind::Input
             : i == 2 ? NTensor::Kind::Output
                      : NTensor::Kind::Activation;
    lp.tensors.push_back(x);
  }
  for (int i = 0; i < 2; ++i) {
    Layer L;
    L.name = "conv" + std::to_string(i);
    GemmLayer &g = L.gemm;
    g.in = i, g.out = i + 1, g.C = 48, g.K = 48, g.H = g.W = g.OH = g.OW = 6;
    g.flat = true;
    g.w.assign(48 * 48, 1);
    g.bias.assign(48, 3);
    g.rq.mult.assign(48, 1 << 30);
    g.rq.shift.assign(48, 0);
    L.usefulMacs = 48 * 48 * 36;
    lp.layers.push_back(L);
  }
  lp.inputs = {0};
  lp.outputs = {2};
  Program p;
  ASSERT_EQ(generateProgram(t, lp, CodegenOptions(), p).message(), "");
  ASSERT_EQ(p.layers.size(), 2u);
  size_t total = 0;
  for (size_t i = 0; i < 2; ++i) {
    Program q;
    ASSERT_EQ(layerAlone(t, p, i, q).message(), "");
    ASSERT_FALSE(q.ops.empty());
    EXPECT_EQ(q.ops.back().kind, OpKind::Finish);
    EXPECT_EQ(checkSync(t, q.ops).message(), "");
    EXPECT_EQ(q.opLayer.size(), q.ops.size());
    total += q.ops.size() - 1;
  }
  size_t own = 0;
  for (size_t k = 0; k < p.ops.size(); ++k)
    own += p.ops[k].kind != OpKind::Finish;
  EXPECT_EQ(total, own);
  Program q;
  EXPECT_NE(layerAlone(t, p, 5, q).message(), "");
}

} // namespace
