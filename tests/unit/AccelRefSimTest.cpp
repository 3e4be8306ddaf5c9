// The reference simulator as a checker (ember/accel/RefSim.h): a program the
// layer schedules for a description runs clean; the same program with a
// hazard injected (a wait dropped, a barrier's depth shrunk, a write over
// rows another engine may still read, a field or an address out of range)
// is an error naming the operation, its engine and its cycle.
#include "AccelTestUtil.h"

#include "backend/ProgramProto.h"
#include "interp/Interpreter.h"
#include "ir/Printer.h"
#include "passes/Pass.h"

#include "ember/accel/Program.h"
#include "ember/accel/RefSim.h"
#include "ember/accel/Select.h"
#include "ember/accel/Sync.h"
#include "ember/backend/v1/graph.pb.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <regex>
#include <sstream>

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
  EXPECT_EQ(generateProgram(t, lp, CodegenOptions(), p).message(), "");
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
                         &st)
      .message();
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

// Random convolutions (kernels 1 to 5, strides, padding, channel counts,
// some with a residual add) as graphs, selected and scheduled for the
// second NPU's description and run on the reference simulator: each output
// byte-equal to the interpreter's. A graph the description does not claim
// whole is skipped (counted: the adds in the exact form, which it lacks).
TEST(RefSimLayers, SecondNpuRandomConvsMatchTheInterpreter) {
  const Target &t = testTarget("second-npu");
  std::mt19937 rng(2024);
  auto pick = [&](int lo, int hi) { return lo + int(rng() % (hi - lo + 1)); };
  int ran = 0;
  for (int i = 0; i < 24; ++i) {
    const int k = pick(1, 5), s = pick(1, 2), p = pick(0, (k - 1) / 2 + 1);
    const int C = pick(1, 70), K = pick(1, 70);
    const int H = pick(std::max(1, k - 2 * p), 16),
              W = pick(std::max(1, k - 2 * p), 16);
    const int OH = (H + 2 * p - k) / s + 1, OW = (W + 2 * p - k) / s + 1;
    // The residual add in the exact form (its scales are not TFLite's),
    // which this description refuses, so a fifth of the graphs.
    const bool add = rng() % 5 == 0;
    std::ostringstream g;
    auto list = [&](int n, int lo, int hi) {
      std::string out;
      for (int j = 0; j < n; ++j)
        out += (j ? ", " : "") + std::to_string(pick(lo, hi));
      return out;
    };
    const std::string oshape = "[1," + std::to_string(K) + "," +
                               std::to_string(OH) + "," + std::to_string(OW) +
                               "]";
    g << "func @main(%x: u8[1," << C << "," << H << "," << W << "]"
      << (add ? ", %z: u8" + oshape : "") << ") {\n"
      << "  %w = Constant dense<i8[" << K << "," << C << "," << k << "," << k
      << "]: [" << list(K * C * k * k, -100, 100) << "]>\n"
      << "  %b = Constant dense<i32[1," << K << ",1,1]: ["
      << list(K, -5000, 5000) << "]>\n"
      << "  %m = Constant dense<i32[" << K << "]: ["
      << list(K, 1100000000, 2000000000) << "]>\n"
      << "  %s = Constant dense<i32[" << K << "]: [" << list(K, -12, -8)
      << "]>\n"
      << "  %zp = Constant dense<u8[]: [" << pick(0, 255) << "]>\n"
      << "  %yzp = Constant dense<u8[]: [" << pick(100, 150) << "]>\n"
      << "  %c = ConvInteger(%x, %w, %zp) {kernel_shape = [" << k << ", " << k
      << "], strides = [" << s << ", " << s << "], pads = [" << p << ", " << p
      << ", " << p << ", " << p << "]} : i32" << oshape << "\n"
      << "  %cb = Add(%c, %b) : i32" << oshape << "\n"
      << "  %r = Requantize(%cb, %m, %s, _, %yzp) {axis = 1, to = 2} : u8"
      << oshape << "\n";
    if (add)
      g << "  %sa = Constant dense<f32[]: [0.05]>\n"
        << "  %sz = Constant dense<f32[]: [0.04]>\n"
        << "  %so = Constant dense<f32[]: [0.07]>\n"
        << "  %mid = Constant dense<u8[]: [128]>\n"
        << "  %f = DequantizeLinear(%r, %sa, %yzp) : f32" << oshape << "\n"
        << "  %e = DequantizeLinear(%z, %sz, %mid) : f32" << oshape << "\n"
        << "  %sum = Add(%f, %e) : f32" << oshape << "\n"
        << "  %q = QuantizeLinear(%sum, %so, %mid) : u8" << oshape << "\n"
        << "  return %q\n}\n";
    else
      g << "  return %r\n}\n";
    const std::string what =
        "case " + std::to_string(i) + ": C" + std::to_string(C) + " K" +
        std::to_string(K) + " " + std::to_string(H) + "x" + std::to_string(W) +
        " k" + std::to_string(k) + " s" + std::to_string(s) + " p" +
        std::to_string(p) + (add ? " add" : "");
    auto m = ember::parseModule(g.str(), what);
    ASSERT_TRUE(m.hasValue()) << what << ": " << m.status().message();
    ASSERT_TRUE(ember::runPipeline(**m, ember::PipelineOptions()).isOk());
    const ember::Function &f = *(*m)->main();
    std::vector<ember::Tensor> ins;
    for (const ember::Node *ph : f.params()) {
      ember::Tensor x(ph->types[0]);
      for (size_t b = 0; b < x.bytes(); ++b)
        x.data<uint8_t>()[b] = uint8_t(rng());
      ins.push_back(std::move(x));
    }
    auto want = ember::interpret(f, ins);
    ASSERT_TRUE(want.hasValue()) << what << ": " << want.status().message();
    ember::backend::v1::Graph pg;
    ASSERT_TRUE(ember::backend::toProto(f, pg).isOk()) << what;
    LayerProgram lp;
    if (buildLayers(t, pg, lp).failed())
      continue; // not claimed whole
    Program prog;
    ASSERT_EQ(generateProgram(t, lp, CodegenOptions(), prog).message(), "")
        << what;
    packReference(t, lp, prog);
    ASSERT_EQ(prog.inputs.size(), ins.size()) << what;
    ASSERT_EQ(prog.outputs.size(), 1u) << what;
    std::vector<const void *> in;
    for (ember::Tensor &x : ins)
      in.push_back(x.data<uint8_t>());
    std::vector<uint8_t> got((*want)[0].bytes(), 0xAB);
    SimStats st;
    ASSERT_EQ(
        simulateProgram(t, prog, in, {got.data()}, SimOptions(), &st).message(),
        "")
        << what;
    EXPECT_EQ(std::memcmp(got.data(), (*want)[0].data<uint8_t>(), got.size()),
              0)
        << what;
    ++ran;
  }
  EXPECT_GE(ran, 18) << "the description claimed too few of the graphs";
}

// What a MatMul of two activations asks of the machine, on the operations
// every description has (docs/npu-sdk.md, "Two-activation MatMuls"): B's
// weight tiles loaded from B's own DRAM rows (rows beyond its columns from
// a zero region), the zero points' cross terms as array passes (a constant
// activation row by B's tiles over every row, act_ostride 0; A's tiles by
// a constant weight tile), and a transpose by the array (the identity by
// the operand's rows). Random Q [S, D], K [S, D], V [S, D] in the
// channel-tiled layout, S not a multiple of the lanes; the accumulators are
// compared with sum_d (q - zq)(k - zk) less the constant D zq zk, and with
// V transposed.
TEST(RefSimOps, ActivationOperandsRunAsWeights) {
  const Target &t = testTarget("scratchpads");
  const int64_t L = t.lanes;
  const int acc = t.memOf(Cls::Acc);
  const int64_t accBytes = t.memories[size_t(acc)].rowBytes;
  std::mt19937 rng(67);
  for (int round = 0; round < 6; ++round) {
    const int64_t S = 3 + int64_t(rng() % 22), dt = 1 + int64_t(rng() % 2),
                  D = dt * L, Kt = (S + L - 1) / L;
    const int zq = int(rng() % 255) - 127, zk = int(rng() % 255) - 127;
    // DRAM: Q, K, V (tile t of X at X + t S L), then the constants: zero
    // rows, the row of -zq, the tile of -zk, the identity.
    const uint64_t Q = 0, K = 4096, V = 8192, Z = 12288, ZQ = Z + 64 * L,
                   ZK = ZQ + 64, I = ZK + 64 * L;
    RefMachine m(t, 65536);
    std::vector<uint8_t> &dram = m.dram();
    std::vector<int8_t> q(size_t(S * D)), k(size_t(S * D)), v(size_t(S * D));
    auto at = [&](uint64_t base, int64_t s, int64_t d) {
      return base + uint64_t(((d / L) * S + s) * L + d % L);
    };
    for (int64_t s = 0; s < S; ++s)
      for (int64_t d = 0; d < D; ++d) {
        q[size_t(s * D + d)] = int8_t(rng());
        k[size_t(s * D + d)] = int8_t(rng());
        v[size_t(s * D + d)] = int8_t(rng());
        dram[at(Q, s, d)] = uint8_t(q[size_t(s * D + d)]);
        dram[at(K, s, d)] = uint8_t(k[size_t(s * D + d)]);
        dram[at(V, s, d)] = uint8_t(v[size_t(s * D + d)]);
      }
    for (int64_t l = 0; l < L; ++l) {
      dram[ZQ + uint64_t(l)] = uint8_t(int8_t(-zq));
      for (int64_t j = 0; j < L; ++j) {
        dram[ZK + uint64_t(j * L + l)] = uint8_t(int8_t(-zk));
        dram[I + uint64_t(j * L + l)] = j == l ? 1 : 0;
      }
    }
    m.setConstants(0);
    auto run = [&](std::vector<Op> ops) {
      ops.push_back(finishOp());
      ASSERT_EQ(assignSync(t, ops, nullptr).message(), "");
      SimStats st;
      ASSERT_EQ(m.run(ops, SimOptions(), &st).message(), "");
    };
    auto accAt = [&](int64_t r, int64_t l) {
      int32_t x;
      std::memcpy(&x, m.memory(acc).data() + r * accBytes + 4 * l, 4);
      return x;
    };
    // B's weight tile (ko, ri): rows ko L .. of B's tile ri, the rest 0.
    auto weights = [&](std::vector<Op> &ops, uint64_t B, int64_t ko, int64_t ri,
                       int64_t row) {
      const int64_t valid = std::min(L, S - ko * L);
      ops.push_back(loadOp(t, Cls::Wgt, row, int64_t(at(B, ko * L, ri * L)), 1,
                           valid, valid));
      if (valid < L)
        ops.push_back(
            loadOp(t, Cls::Wgt, row + valid, int64_t(Z), 1, L - valid, 1));
    };
    for (int64_t ko = 0; ko < Kt; ++ko) { // Q x K^T, output tile ko
      std::vector<Op> ops;
      const int64_t cq = dt * S, ck = dt * L; // the constants' rows
      for (int64_t ri = 0; ri < dt; ++ri) {
        ops.push_back(
            loadOp(t, Cls::Act, ri * S, int64_t(at(Q, 0, ri * L)), 1, S, S));
        weights(ops, K, ko, ri, ri * L);
      }
      ops.push_back(loadOp(t, Cls::Act, cq, int64_t(ZQ), 1, 1, 1));
      ops.push_back(loadOp(t, Cls::Wgt, ck, int64_t(ZK), 1, L, L));
      for (int64_t ri = 0; ri < dt; ++ri) {
        ops.push_back(gemmOp(t, ri == 0, 0, ri * S, ri * L, S, 1));
        ops.push_back(gemmOp(t, false, 0, cq, ri * L, 1, S, 0, 1));
        ops.push_back(gemmOp(t, false, 0, ri * S, ck, S, 1));
      }
      run(ops);
      for (int64_t s = 0; s < S; ++s)
        for (int64_t j = 0; j < L && ko * L + j < S; ++j) {
          int64_t want = 0;
          for (int64_t d = 0; d < D; ++d)
            want += (q[size_t(s * D + d)] - zq) *
                    int64_t(k[size_t((ko * L + j) * D + d)] - zk);
          ASSERT_EQ(accAt(s, j) + D * zq * zk, want)
              << "S " << S << " D " << D << " row " << s << " col "
              << ko * L + j;
        }
    }
    for (int64_t ko = 0; ko < Kt; ++ko) // V^T: its tile ri rows d, lanes s
      for (int64_t ri = 0; ri < dt; ++ri) {
        std::vector<Op> ops;
        ops.push_back(loadOp(t, Cls::Act, 0, int64_t(I), 1, L, L));
        weights(ops, V, ko, ri, 0);
        ops.push_back(gemmOp(t, true, 0, 0, 0, L, 1));
        run(ops);
        for (int64_t p = 0; p < L; ++p)
          for (int64_t j = 0; j < L; ++j) {
            const int64_t s = ko * L + j, d = ri * L + p;
            ASSERT_EQ(accAt(p, j), s < S ? v[size_t(s * D + d)] : 0)
                << "V^T row " << d << " lane " << s;
          }
      }
  }
}
