// The reference simulator as a checker (ember/accel/RefSim.h): a program the
// layer schedules for a description runs clean; the same program with a
// hazard injected (a wait dropped, a barrier's depth shrunk, a write over
// rows another engine may still read, a field or an address out of range)
// is an error naming the operation, its engine and its cycle.
#include "AccelTestUtil.h"

#include "ember/accel/Program.h"
#include "ember/accel/RefSim.h"

#include <gtest/gtest.h>

#include <random>
#include <regex>

using namespace ember::accel;

namespace {

// A 3x3 convolution, C -> K channels on H x H, bias and requantization, in
// the layer IR; `inputs` and `outputs` get host buffers of its tensors.
Program convProgram(const Target &t, int64_t C, int64_t K, int64_t H,
                    std::vector<std::vector<uint8_t>> &ins,
                    std::vector<std::vector<uint8_t>> &outs) {
  LayerProgram lp;
  auto tensor = [&](const char *name, int64_t ch, NTensor::Kind kind) {
    NTensor x;
    x.name = name;
    x.kind = kind;
    x.dims = {1, ch, H, H};
    x.C = ch;
    x.P = H * H;
    x.lanes = t.lanes;
    lp.tensors.push_back(x);
    return int(lp.tensors.size() - 1);
  };
  const int x = tensor("x", C, NTensor::Kind::Input);
  const int y = tensor("y", K, NTensor::Kind::Output);
  Layer L;
  L.kind = Layer::Kind::Gemm;
  L.name = "conv";
  L.nodes = {"conv"};
  GemmLayer &g = L.gemm;
  g.in = x, g.out = y, g.C = C, g.H = H, g.W = H, g.K = K, g.OH = H, g.OW = H,
  g.kh = 3, g.kw = 3, g.pt = g.pl = g.pb = g.pr = 1;
  std::mt19937 rng(11);
  g.w.resize(size_t(K * C * 9));
  for (int8_t &v : g.w)
    v = int8_t(rng());
  g.bias.assign(size_t(K), 1000);
  g.rq.mult.assign(size_t(K), 1 << 30);
  g.rq.shift.assign(size_t(K), -8);
  L.usefulMacs = uint64_t(H * H * K * C * 9);
  lp.layers.push_back(L);
  lp.inputs = {x};
  lp.outputs = {y};
  Program p;
  EXPECT_EQ(generateProgram(t, lp, CodegenOptions(), p), "");
  packReference(t, lp, p);
  ins.assign(1, std::vector<uint8_t>(size_t(C * H * H)));
  for (uint8_t &b : ins[0])
    b = uint8_t(rng());
  outs.assign(1, std::vector<uint8_t>(size_t(K * H * H)));
  return p;
}

std::string simulate(const Target &t, const Program &p,
                     std::vector<std::vector<uint8_t>> &ins,
                     std::vector<std::vector<uint8_t>> &outs) {
  SimStats st;
  return simulateProgram(t, p, {ins[0].data()}, {outs[0].data()}, SimOptions(),
                         &st);
}

// "operation I (KIND on ENGINE, cycle C): ..." with ENGINE one of t's.
void expectNamed(const Target &t, const std::string &err, const char *kind,
                 int64_t op = -1) {
  std::smatch m;
  ASSERT_TRUE(std::regex_search(
      err, m,
      std::regex("^operation ([0-9]+) \\(([a-z0-9]+) on ([A-Za-z0-9_]+), "
                 "cycle [0-9]+\\): ")))
      << err;
  if (kind) {
    EXPECT_EQ(m[2].str(), kind) << err;
  }
  if (op >= 0) {
    EXPECT_EQ(m[1].str(), std::to_string(op)) << err;
  }
  bool known = false;
  for (const Engine &e : t.engines)
    known = known || e.name == m[3].str();
  EXPECT_TRUE(known) << err;
}

class RefSimHazards : public ::testing::TestWithParam<const char *> {};

} // namespace

TEST_P(RefSimHazards, CleanProgramRunsAndEachHazardIsNamed) {
  const Target &t = testTarget(GetParam());
  std::vector<std::vector<uint8_t>> ins, outs;
  const Program p = convProgram(t, 40, 24, 12, ins, outs);
  ASSERT_EQ(simulate(t, p, ins, outs), "");

  // A wait dropped: the array reads rows before their load's signal (or the
  // load then writes rows the array read): an ordering error.
  size_t dropped = 0;
  for (size_t i = 0; i < p.ops.size(); ++i) {
    if (p.ops[i].kind != OpKind::Gemm || !p.ops[i].wait)
      continue;
    Program q = p;
    q.ops[i].wait = 0;
    const std::string err = simulate(t, q, ins, outs);
    ASSERT_NE(err, "") << "wait of operation " << i << " dropped";
    expectNamed(t, err, nullptr);
    EXPECT_NE(err.find("no signal"), std::string::npos) << err;
    if (++dropped == 3)
      break;
  }
  EXPECT_EQ(dropped, 3u);

  // The program run on a machine whose counters (or FIFOs) are 1 deep.
  Target shallow = t;
  shallow.sync.depth = 1;
  {
    const std::string err = simulate(shallow, p, ins, outs);
    expectNamed(t, err, nullptr);
    if (t.sync.kind == SyncKind::Barriers) {
      EXPECT_NE(err.find("signalled beyond its counter's depth 1"),
                std::string::npos)
          << err;
    } else { // a full FIFO holds its producer: the waits then deadlock
      EXPECT_NE(err.find("deadlock"), std::string::npos) << err;
    }
  }

  // A load of the next input or weight tile into the rows the array is
  // reading (the other half of the double buffer): a write over rows still
  // being read.
  bool overlapped = false;
  for (size_t i = 0; i < p.ops.size() && !overlapped; ++i) {
    const Op &o = p.ops[i];
    if (o.kind != OpKind::Load || (o.cls != Cls::Act && o.cls != Cls::Wgt))
      continue;
    for (size_t j = i; j-- > 0;)
      if (p.ops[j].kind == OpKind::Gemm) {
        Program q = p;
        q.ops[i].row = o.cls == Cls::Act ? p.ops[j].act : p.ops[j].wgt;
        const std::string err = simulate(t, q, ins, outs);
        if (err.find("may still read") != std::string::npos) {
          expectNamed(t, err, "load", int64_t(i));
          overlapped = true;
        }
        break;
      }
  }
  EXPECT_TRUE(overlapped) << "no load overwrote rows the array reads";

  // Out of range: a field past its declared bits, rows past the memory,
  // bytes past the DRAM.
  size_t ld = 0;
  while (p.ops[ld].kind != OpKind::Load)
    ++ld;
  {
    Program q = p;
    q.ops[ld].row = t.ops[size_t(OpKind::Load)].max("row") + 1;
    const std::string err = simulate(t, q, ins, outs);
    expectNamed(t, err, "load", int64_t(ld));
    EXPECT_NE(err.find("field row = "), std::string::npos) << err;
  }
  {
    Program q = p;
    q.ops[ld].row = t.memRows(q.ops[ld].mem) - 1;
    const std::string err = simulate(t, q, ins, outs);
    expectNamed(t, err, "load", int64_t(ld));
    EXPECT_NE(err.find("beyond its " +
                       std::to_string(t.memRows(q.ops[ld].mem)) + " rows"),
              std::string::npos)
        << err;
  }
  {
    Program q = p;
    q.ops[ld].dram = int64_t(p.dramBytes);
    const std::string err = simulate(t, q, ins, outs);
    expectNamed(t, err, "load", int64_t(ld));
    EXPECT_NE(err.find("beyond the DRAM's"), std::string::npos) << err;
  }
}

INSTANTIATE_TEST_SUITE_P(Targets, RefSimHazards,
                         ::testing::Values("edge-ws", "second-npu",
                                           "scratchpads"));
