// A MatMul of two activations on this NPU's operations, hand-built (no
// form selects it yet: docs/npu-sdk.md, "Two-activation MatMuls"), run on
// the golden and SystemC models and the SDK's reference simulator.
#include "NpuTarget.h"
#include "Runtime.h"
#include "ember/accel/RefSim.h"
#include "ember/accel/Sync.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>

using namespace ember::npusim;

namespace {

int addTensor(LayerProgram &lp, std::string name, std::vector<int64_t> dims,
              NTensor::Kind kind, bool i32 = false) {
  NTensor t;
  t.name = std::move(name);
  t.kind = kind;
  t.dims = dims;
  t.axis = 1;
  t.i32 = i32;
  t.C = dims[1];
  t.lanes = npuTarget().lanes;
  t.P = dims[0] * dims[2] * dims[3];
  lp.tensors.push_back(t);
  return int(lp.tensors.size() - 1);
}

// Accumulators (int32, host layout [1, C, 1, P]) of a hand-built program.
int32_t hostI32(const std::vector<uint8_t> &h, int64_t P, int64_t c,
                int64_t p) {
  int32_t x;
  std::memcpy(&x, h.data() + size_t((c * P + p) * 4), 4);
  return x;
}

// Places tensors `ids` in DRAM after `p`'s image: the first `inputs` of
// them are the program's inputs, the others its outputs.
void place(LayerProgram &lp, Program &p, const std::vector<int> &ids,
           size_t inputs) {
  p.activationBase = p.image.size();
  uint64_t at = p.activationBase;
  for (size_t i = 0; i < ids.size(); ++i) {
    NTensor &n = lp.tensors[size_t(ids[i])];
    n.dram = int64_t(at);
    at += (n.bytes() + 63) / 64 * 64;
    (i < inputs ? p.inputs : p.outputs).push_back(n);
  }
  p.dramBytes = at;
}

// Synchronizes `ops` (Finish appended) into `p` and runs it on golden,
// SystemC and the reference simulator: per executor (named in `names`),
// the outputs, of `sizes` bytes. "" or the first error.
std::string runEverywhere(Program &p, std::vector<Op> ops,
                          const std::vector<const void *> &ins,
                          const std::vector<size_t> &sizes,
                          std::vector<std::string> &names,
                          std::vector<std::vector<std::vector<uint8_t>>> &got) {
  const Target &t = npuTarget();
  ops.push_back(finishOp());
  std::string err = assignSync(t, ops, nullptr).message();
  if (!err.empty())
    return err;
  p.ops = ops;
  p.opLayer.assign(ops.size(), -1);
  p.uid = newProgramUid();
  const uint32_t kReference = UINT32_MAX;
  for (uint32_t exec : {uint32_t(EMBER_NPU_EXECUTOR_GOLDEN),
                        uint32_t(EMBER_NPU_EXECUTOR_SYSTEMC), kReference}) {
    names.push_back(exec == kReference ? "reference"
                                       : "executor " + std::to_string(exec));
    got.emplace_back();
    std::vector<void *> outs;
    for (size_t n : sizes) {
      got.back().emplace_back(n, 0xAB);
      outs.push_back(got.back().back().data());
    }
    RunConfig rc;
    rc.executor = exec;
    RunResult rr;
    SimStats st;
    err = exec == kReference
              ? simulateProgram(t, p, ins, outs, SimOptions(), &st).message()
              : runProgram(p, rc, ins, outs, &rr);
    if (!err.empty())
      return names.back() + ": " + err;
  }
  return "";
}

} // namespace

// A MatMul of two activations on this NPU's operations (docs/npu-sdk.md,
// "Two-activation MatMuls"): Q x K^T with K's weight tiles loaded from K's
// own DRAM rows (rows beyond its tokens from a zero region of the image),
// both zero points' cross terms as array passes (the constant row -zq by
// K's tiles over every row, act_ostride 0; Q's tiles by the constant tile
// -zk), and V^T by the array (the identity by V's rows). A hand-built
// program of random S (not a multiple of the lanes), D and zero points;
// its int32 accumulators stored and compared on golden, SystemC and the
// reference simulator with sum_d (q - zq)(k - zk) less the constant D zq zk
// and with V transposed.
TEST(NpuLayer, ActivationOperandsRunAsWeights) {
  const Target &t = npuTarget();
  const int64_t L = t.lanes;
  std::mt19937 rng(67);
  for (int round = 0; round < 3; ++round) {
    const int64_t S = 3 + int64_t(rng() % 30), dt = 1 + int64_t(rng() % 2),
                  D = dt * L, Kt = (S + L - 1) / L;
    const int zq = int(rng() % 255) - 127, zk = int(rng() % 255) - 127;
    LayerProgram lp;
    const int q = addTensor(lp, "q", {1, D, 1, S}, NTensor::Kind::Input),
              k = addTensor(lp, "k", {1, D, 1, S}, NTensor::Kind::Input),
              v = addTensor(lp, "v", {1, D, 1, S}, NTensor::Kind::Input),
              qk = addTensor(lp, "qk", {1, S, 1, S}, NTensor::Kind::Output,
                             true),
              vt = addTensor(lp, "vt", {1, S, 1, D}, NTensor::Kind::Output,
                             true);
    // The image: zero rows, the row of -zq, the tile of -zk, the identity.
    Program p;
    p.lanes = L;
    p.image.assign(size_t(4 * L * L), 0);
    const uint64_t Z = 0, ZQ = uint64_t(L * L), ZK = uint64_t(2 * L * L),
                   I = uint64_t(3 * L * L);
    for (int64_t l = 0; l < L; ++l) {
      p.image[ZQ + uint64_t(l)] = uint8_t(int8_t(-zq));
      for (int64_t j = 0; j < L; ++j) {
        p.image[ZK + uint64_t(j * L + l)] = uint8_t(int8_t(-zk));
        p.image[I + uint64_t(j * L + l)] = j == l ? 1 : 0;
      }
    }
    place(lp, p, {q, k, v, qk, vt}, 3);
    auto row = [&](int x, int64_t tile, int64_t pixel) { // a tiled row
      const NTensor &n = lp.tensors[size_t(x)];
      return n.dram + (tile * n.P + pixel) * n.rowBytes();
    };
    // B's weight tile (ko, ri) at WGT row `w`: rows ko L .. of B's tile ri.
    std::vector<Op> ops;
    auto weights = [&](int B, int64_t ko, int64_t ri, int64_t w) {
      const int64_t valid = std::min(L, S - ko * L);
      ops.push_back(
          loadOp(t, Cls::Wgt, w, row(B, ri, ko * L), 1, valid, valid));
      if (valid < L)
        ops.push_back(
            loadOp(t, Cls::Wgt, w + valid, int64_t(Z), 1, L - valid, 1));
    };
    for (int64_t ko = 0; ko < Kt; ++ko) {
      const int64_t cq = dt * S, ck = dt * L; // the constants' rows
      for (int64_t ri = 0; ri < dt; ++ri) {
        ops.push_back(loadOp(t, Cls::Act, ri * S, row(q, ri, 0), 1, S, S));
        weights(k, ko, ri, ri * L);
      }
      ops.push_back(loadOp(t, Cls::Act, cq, int64_t(ZQ), 1, 1, 1));
      ops.push_back(loadOp(t, Cls::Wgt, ck, int64_t(ZK), 1, L, L));
      for (int64_t ri = 0; ri < dt; ++ri) {
        ops.push_back(gemmOp(t, ri == 0, 0, ri * S, ri * L, S, 1));
        ops.push_back(gemmOp(t, false, 0, cq, ri * L, 1, S, 0, 1));
        ops.push_back(gemmOp(t, false, 0, ri * S, ck, S, 1));
      }
      ops.push_back(storeOp(t, Cls::Acc, 0, row(qk, ko, 0), 1, S, S));
    }
    for (int64_t ko = 0; ko < Kt; ++ko)
      for (int64_t ri = 0; ri < dt; ++ri) {
        ops.push_back(loadOp(t, Cls::Act, 0, int64_t(I), 1, L, L));
        weights(v, ko, ri, 0);
        ops.push_back(gemmOp(t, true, 0, 0, 0, L, 1));
        ops.push_back(storeOp(t, Cls::Acc, 0, row(vt, ko, ri * L), 1, L, L));
      }
    std::vector<std::vector<uint8_t>> in;
    for (int i = 0; i < 3; ++i) {
      in.emplace_back(size_t(S * D));
      for (uint8_t &b : in.back())
        b = uint8_t(rng());
    }
    auto val = [&](int i, int64_t s, int64_t d) { // host [1, D, 1, S]
      return int64_t(int8_t(in[size_t(i)][size_t(d * S + s)]));
    };
    std::vector<std::string> names;
    std::vector<std::vector<std::vector<uint8_t>>> got;
    ASSERT_EQ(runEverywhere(p, ops, {in[0].data(), in[1].data(), in[2].data()},
                            {size_t(S * S * 4), size_t(S * D * 4)}, names, got),
              "");
    for (size_t e = 0; e < got.size(); ++e) {
      const std::vector<uint8_t> &oqk = got[e][0], &ovt = got[e][1];
      const std::string &exec = names[e];
      for (int64_t s = 0; s < S; ++s)
        for (int64_t j = 0; j < S; ++j) {
          int64_t want = -D * zq * zk;
          for (int64_t d = 0; d < D; ++d)
            want += (val(0, s, d) - zq) * (val(1, j, d) - zk);
          ASSERT_EQ(hostI32(oqk, S, j, s), want)
              << exec << " S " << S << " D " << D << " row " << s << " col "
              << j;
        }
      for (int64_t d = 0; d < D; ++d)
        for (int64_t s = 0; s < S; ++s)
          ASSERT_EQ(hostI32(ovt, D, s, d), val(2, s, d))
              << exec << " V^T row " << d << " lane " << s;
    }
  }
}

// The 16x8 form of the same: an int16 Q (zero point 0, both byte planes
// through the array in one op, into the accumulator pairs at r and r +
// rows/2) by an int8 K loaded from its DRAM rows, K's zero point by the
// constant tile -zk over both planes, and the low plane's excess-128 as
// 128 K's column sums (constant rows 127 and 1 by K's tiles over every
// low-plane row). Stored, low + 256 high is sum_d q (k - zk) plus the
// constant 128 D zk.
TEST(NpuLayer, ActivationOperandsRunAsWeights16x8) {
  const Target &t = npuTarget();
  const int64_t L = t.lanes;
  const int64_t accHalf = int64_t(t.memRows(t.memOf(Cls::Acc)) / 2);
  std::mt19937 rng(68);
  for (int round = 0; round < 3; ++round) {
    const int64_t S = 3 + int64_t(rng() % 30), dt = 1 + int64_t(rng() % 2),
                  D = dt * L, Kt = (S + L - 1) / L;
    const int zk = int(rng() % 255) - 127;
    LayerProgram lp;
    const int q = addTensor(lp, "q", {1, D, 1, S}, NTensor::Kind::Input),
              k = addTensor(lp, "k", {1, D, 1, S}, NTensor::Kind::Input),
              lo = addTensor(lp, "lo", {1, S, 1, S}, NTensor::Kind::Output,
                             true),
              hi = addTensor(lp, "hi", {1, S, 1, S}, NTensor::Kind::Output,
                             true);
    lp.tensors[size_t(q)].i16 = true;
    Program p;
    p.lanes = L;
    p.image.assign(size_t(3 * L * L), 0);
    const uint64_t Z = 0, ZK = uint64_t(L * L), C = uint64_t(2 * L * L);
    for (int64_t l = 0; l < L; ++l) {
      for (int64_t j = 0; j < L; ++j)
        p.image[ZK + uint64_t(j * L + l)] = uint8_t(int8_t(-zk));
      p.image[C + uint64_t(l)] = 127;
      p.image[C + uint64_t(L + l)] = 1;
    }
    place(lp, p, {q, k, lo, hi}, 2);
    auto row = [&](int x, int64_t tile, int64_t pixel) {
      const NTensor &n = lp.tensors[size_t(x)];
      return n.dram + (tile * n.P + pixel) * n.rowBytes();
    };
    std::vector<Op> ops;
    for (int64_t ko = 0; ko < Kt; ++ko) {
      const int64_t c = dt * S, ck = dt * L;
      const int64_t valid = std::min(L, S - ko * L);
      for (int64_t ri = 0; ri < dt; ++ri) {
        Op a = loadOp(t, Cls::Act, ri * S, row(q, ri, 0), 1, S, S);
        a.w16 = true;
        ops.push_back(a);
        ops.push_back(
            loadOp(t, Cls::Wgt, ri * L, row(k, ri, ko * L), 1, valid, valid));
        if (valid < L)
          ops.push_back(
              loadOp(t, Cls::Wgt, ri * L + valid, int64_t(Z), 1, L - valid, 1));
      }
      ops.push_back(loadOp(t, Cls::Act, c, int64_t(C), 1, 2, 2));
      ops.push_back(loadOp(t, Cls::Wgt, ck, int64_t(ZK), 1, L, L));
      for (int64_t ri = 0; ri < dt; ++ri) {
        Op g = gemmOp(t, ri == 0, 0, ri * S, ri * L, S, 1);
        g.w16 = true;
        ops.push_back(g);
        Op z = gemmOp(t, false, 0, ri * S, ck, S, 1);
        z.w16 = true;
        ops.push_back(z);
        ops.push_back(gemmOp(t, false, 0, c, ri * L, 1, S, 0, 1));
        ops.push_back(gemmOp(t, false, 0, c + 1, ri * L, 1, S, 0, 1));
      }
      ops.push_back(storeOp(t, Cls::Acc, 0, row(lo, ko, 0), 1, S, S));
      ops.push_back(storeOp(t, Cls::Acc, accHalf, row(hi, ko, 0), 1, S, S));
    }
    std::vector<int16_t> qv(size_t(S * D));
    std::vector<uint8_t> kv(size_t(S * D));
    for (int16_t &x : qv)
      x = int16_t(rng());
    for (uint8_t &x : kv)
      x = uint8_t(rng());
    std::vector<std::string> names;
    std::vector<std::vector<std::vector<uint8_t>>> got;
    ASSERT_EQ(runEverywhere(p, ops, {qv.data(), kv.data()},
                            {size_t(S * S * 4), size_t(S * S * 4)}, names, got),
              "");
    for (size_t e = 0; e < got.size(); ++e) {
      const std::vector<uint8_t> &olo = got[e][0], &ohi = got[e][1];
      const std::string &exec = names[e];
      for (int64_t s = 0; s < S; ++s)
        for (int64_t j = 0; j < S; ++j) {
          int64_t want = 128 * D * zk;
          for (int64_t d = 0; d < D; ++d)
            want += int64_t(qv[size_t(d * S + s)]) *
                    (int64_t(int8_t(kv[size_t(d * S + j)])) - zk);
          ASSERT_EQ(int64_t(hostI32(olo, S, j, s)) +
                        256 * int64_t(hostI32(ohi, S, j, s)),
                    want)
              << exec << " S " << S << " D " << D << " row " << s << " col "
              << j;
        }
    }
  }
}
