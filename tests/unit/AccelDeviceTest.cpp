// The layer's driver-glue helpers (ember/accel/Device.h): the tiled layout
// and one layer cut out of a scheduled program.
#include "AccelTestUtil.h"

#include "ember/accel/Device.h"
#include "ember/accel/Sync.h"

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
  ASSERT_EQ(generateProgram(t, lp, CodegenOptions(), p), "");
  ASSERT_EQ(p.layers.size(), 2u);
  size_t total = 0;
  for (size_t i = 0; i < 2; ++i) {
    Program q;
    ASSERT_EQ(layerAlone(t, p, i, q), "");
    ASSERT_FALSE(q.ops.empty());
    EXPECT_EQ(q.ops.back().kind, OpKind::Finish);
    EXPECT_EQ(checkSync(t, q.ops), "");
    EXPECT_EQ(q.opLayer.size(), q.ops.size());
    total += q.ops.size() - 1;
  }
  size_t own = 0;
  for (size_t k = 0; k < p.ops.size(); ++k)
    own += p.ops[k].kind != OpKind::Finish;
  EXPECT_EQ(total, own);
  Program q;
  EXPECT_NE(layerAlone(t, p, 5, q), "");
}

} // namespace
