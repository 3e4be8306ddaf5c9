// libFuzzer target: arbitrary bytes as an NPU compiler layer target
// description (ember/accel/Target.h). A description is refused with an
// error naming the field, or accepted; an accepted one must then be usable:
// its capability claims, and the scheduling of a small convolution (which
// may fail with an error, never crash or hang). Build: scripts/fuzz.sh
// (clang-19, -fsanitize=fuzzer,address,undefined); seeds: the test targets
// in tests/accel/targets.
#include "ember/accel/Program.h"
#include "ember/accel/Select.h"
#include "ember/accel/Target.h"

#include <cstddef>
#include <cstdint>
#include <string>

namespace {

// A 3x3 convolution, 12 -> 20 channels on 9 x 7, with bias and
// requantization: padded loads, several channel tiles at small lanes.
ember::accel::LayerProgram smallConv(int64_t lanes) {
  using namespace ember::accel;
  LayerProgram lp;
  auto tensor = [&](std::vector<int64_t> dims, NTensor::Kind kind) {
    NTensor x;
    x.name = "t" + std::to_string(lp.tensors.size());
    x.kind = kind;
    x.dims = dims;
    x.C = dims[1];
    x.P = dims[0] * dims[2] * dims[3];
    x.lanes = lanes;
    lp.tensors.push_back(x);
    return int(lp.tensors.size() - 1);
  };
  Layer L;
  L.name = "conv";
  GemmLayer &g = L.gemm;
  g.in = tensor({1, 12, 9, 7}, NTensor::Kind::Input);
  g.out = tensor({1, 20, 9, 7}, NTensor::Kind::Output);
  g.C = 12, g.H = 9, g.W = 7, g.K = 20, g.OH = 9, g.OW = 7, g.kh = g.kw = 3;
  g.pt = g.pl = g.pb = g.pr = 1;
  g.w.assign(20 * 12 * 9, 1);
  g.bias.assign(20, 5);
  g.rq.mult.assign(20, 1 << 30);
  g.rq.shift.assign(20, -8);
  lp.layers.push_back(L);
  lp.inputs = {g.in};
  lp.outputs = {g.out};
  return lp;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  using namespace ember::accel;
  Target t;
  const std::string text(reinterpret_cast<const char *>(data), size);
  if (!parseTarget(text, t).isOk())
    return 0;
  (void)claimedOps(t);
  // Bound the work a description may ask for: the lanes set the tile sizes.
  if (t.lanes > 64)
    return 0;
  Program p;
  (void)generateProgram(t, smallConv(t.lanes), CodegenOptions(), p);
  return 0;
}
