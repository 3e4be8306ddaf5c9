// Layers built directly in the layer IR (no graph), compiled by the code
// generator and run on the golden and SystemC models; results must equal a
// plain C++ reference of the layer's definition bit for bit.
#include "NpuTarget.h"
#include "Runtime.h"
#include "ember/accel/RefSim.h"
#include "ember/accel/Text.h"

#include "ember/npu/Arith.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <sstream>

using namespace ember::npusim;
namespace npu = ember::npu;

namespace {

struct Case {
  LayerProgram lp;
  std::vector<std::vector<uint8_t>> inputs; // host layout
  std::vector<std::vector<uint8_t>> expected;
};

int addTensor(LayerProgram &lp, std::string name, std::vector<int64_t> dims,
              NTensor::Kind kind, bool u8 = false, bool i32 = false) {
  NTensor t;
  t.name = std::move(name);
  t.kind = kind;
  t.dims = dims;
  t.axis = 1;
  t.u8 = u8;
  t.i32 = i32;
  t.C = dims.size() > 1 ? dims[1] : 1;
  t.lanes = npu::kDim;
  t.P = 1;
  for (size_t i = 0; i < dims.size(); ++i)
    if (i != 1)
      t.P *= dims[i];
  lp.tensors.push_back(t);
  return int(lp.tensors.size() - 1);
}

std::vector<uint8_t> randomBytes(size_t n, std::mt19937 &rng) {
  std::vector<uint8_t> v(n);
  for (auto &b : v)
    b = uint8_t(rng());
  return v;
}

// Stored int8 value of element i of a host tensor.
int32_t stored(const NTensor &t, const std::vector<uint8_t> &h, size_t i) {
  return t.u8 ? int32_t(h[i]) - 128 : int32_t(int8_t(h[i]));
}

struct ConvSpec {
  int64_t N = 1, C = 5, H = 6, W = 7, K = 9, kh = 3, kw = 3, sh = 1, sw = 1,
          dh = 1, dw = 1, pt = 1, pl = 1, pb = 1, pr = 1, groups = 1;
  bool u8in = false, u8out = false, requant = true;
  FusedPool pool;
  bool add = false, addBroadcast = false, convIsA = true;
  // Biases near the int32 edges (the accumulator wraps; beyond the bias
  // GEMM's reach), and the weights of input channels [0, zeroIn) zero.
  bool edgeBias = false;
  int64_t zeroIn = 0;
};

AddRegs randomAddRegs(std::mt19937 &rng) {
  AddRegs r;
  r.lshift = 20;
  r.aZp = int32_t(rng() % 21) - 10;
  r.bZp = int32_t(rng() % 21) - 10;
  r.aMult = int32_t((1u << 30) + rng() % (1u << 30));
  r.bMult = int32_t((1u << 30) + rng() % (1u << 30));
  r.aShift = -int32_t(rng() % 3);
  r.bShift = -int32_t(rng() % 3);
  r.outMult = int32_t((1u << 30) + rng() % (1u << 30));
  r.outShift = -18 - int32_t(rng() % 3);
  r.outZp = int32_t(rng() % 11) - 5;
  r.lo = -128 + int32_t(rng() % 40);
  r.hi = 127 - int32_t(rng() % 40);
  return r;
}

Case convCase(const ConvSpec &s, uint32_t seed,
              const std::vector<uint8_t> *input = nullptr) {
  std::mt19937 rng(seed);
  Case c;
  LayerProgram &lp = c.lp;
  int64_t ekh = (s.kh - 1) * s.dh + 1, ekw = (s.kw - 1) * s.dw + 1;
  int64_t OH = (s.H + s.pt + s.pb - ekh) / s.sh + 1;
  int64_t OW = (s.W + s.pl + s.pr - ekw) / s.sw + 1;
  int64_t POH = OH, POW = OW;
  if (s.pool.on) {
    POH = (OH - s.pool.kh) / s.pool.s + 1;
    POW = (OW - s.pool.kw) / s.pool.s + 1;
  }
  int x =
      addTensor(lp, "x", {s.N, s.C, s.H, s.W}, NTensor::Kind::Input, s.u8in);
  int y = addTensor(lp, "y", {s.N, s.K, POH, POW}, NTensor::Kind::Output,
                    s.u8out, !s.requant);
  Layer L;
  L.kind = Layer::Kind::Gemm;
  L.name = "conv";
  L.nodes = {"conv"};
  GemmLayer &g = L.gemm;
  g.in = x;
  g.out = y;
  g.N = s.N;
  g.C = s.C;
  g.H = s.H;
  g.W = s.W;
  g.K = s.K;
  g.OH = OH;
  g.OW = OW;
  g.kh = s.kh;
  g.kw = s.kw;
  g.sh = s.sh;
  g.sw = s.sw;
  g.dh = s.dh;
  g.dw = s.dw;
  g.pt = s.pt;
  g.pl = s.pl;
  g.pb = s.pb;
  g.pr = s.pr;
  g.groups = s.groups;
  g.flat = s.kh == 1 && s.kw == 1 && s.sh == 1 && s.sw == 1 && !s.pt && !s.pl &&
           !s.pb && !s.pr && !s.pool.on;
  int64_t Cg = s.C / s.groups, Kg = s.K / s.groups;
  g.w.resize(size_t(s.K * Cg * s.kh * s.kw));
  for (auto &v : g.w)
    v = int8_t(rng());
  // Some weights zero, so zero tiles are skipped somewhere.
  for (size_t i = 0; i < g.w.size(); i += 7)
    g.w[i] = 0;
  for (int64_t oc = 0; oc < s.K; ++oc)
    for (int64_t icg = 0; icg < Cg; ++icg)
      if ((oc / Kg) * Cg + icg < s.zeroIn)
        for (int64_t t = 0; t < s.kh * s.kw; ++t)
          g.w[size_t((oc * Cg + icg) * s.kh * s.kw + t)] = 0;
  g.bias.resize(size_t(s.K));
  for (auto &b : g.bias)
    b = s.edgeBias ? int32_t(uint32_t(rng() % 2 ? 0x7fffff00u : 0x80000010u) +
                             uint32_t(rng() % 256))
                   : int32_t(rng() % 200001) - 100000;
  g.padValue = int32_t(rng() % 256) - 128;
  g.requant = s.requant;
  int depth = int(Cg * s.kh * s.kw);
  int base = 6;
  while ((1 << base) < depth * 64)
    ++base;
  for (int64_t k = 0; k < s.K; ++k) {
    g.rq.mult.push_back(int32_t((1u << 30) + rng() % (1u << 30)));
    g.rq.shift.push_back(-(base - 4) + int32_t(rng() % 3));
  }
  g.rq.zp = int32_t(rng() % 21) - 10;
  g.rq.lo = rng() % 2 ? g.rq.zp : -128;
  g.rq.hi = rng() % 2 ? 127 : 100;
  g.pool = s.pool;
  int other = -1;
  if (s.add) {
    other = addTensor(lp, "z",
                      s.addBroadcast ? std::vector<int64_t>{1, s.K, 1, 1}
                                     : std::vector<int64_t>{s.N, s.K, POH, POW},
                      NTensor::Kind::Input, rng() % 2 == 0);
    g.add.on = true;
    g.add.other = other;
    g.add.otherBroadcast = s.addBroadcast;
    g.add.convIsA = s.convIsA;
    g.add.regs = randomAddRegs(rng);
  }
  L.usefulMacs = uint64_t(s.N * OH * OW * s.K * Cg * s.kh * s.kw);
  lp.layers.push_back(L);
  lp.inputs = {x};
  if (other >= 0)
    lp.inputs.push_back(other);
  lp.outputs = {y};

  const NTensor &tx = lp.tensors[size_t(x)];
  c.inputs.push_back(randomBytes(size_t(s.N * s.C * s.H * s.W), rng));
  if (input)
    c.inputs.back() = *input;
  if (other >= 0)
    c.inputs.push_back(randomBytes(
        size_t(lp.tensors[size_t(other)].C * lp.tensors[size_t(other)].P),
        rng));
  // Reference: accumulate, requantize, pool, add.
  const std::vector<uint8_t> &hx = c.inputs[0];
  std::vector<int32_t> acc(size_t(s.N * s.K * OH * OW));
  for (int64_t n = 0; n < s.N; ++n)
    for (int64_t oc = 0; oc < s.K; ++oc)
      for (int64_t oy = 0; oy < OH; ++oy)
        for (int64_t ox = 0; ox < OW; ++ox) {
          int32_t a = g.bias[size_t(oc)];
          int64_t grp = oc / Kg;
          for (int64_t icg = 0; icg < Cg; ++icg)
            for (int64_t ky = 0; ky < s.kh; ++ky)
              for (int64_t kx = 0; kx < s.kw; ++kx) {
                int64_t iy = oy * s.sh - s.pt + ky * s.dh;
                int64_t ix = ox * s.sw - s.pl + kx * s.dw;
                int64_t ic = grp * Cg + icg;
                int32_t v = g.padValue;
                if (iy >= 0 && iy < s.H && ix >= 0 && ix < s.W)
                  v = stored(tx, hx,
                             size_t(((n * s.C + ic) * s.H + iy) * s.W + ix));
                int32_t wv =
                    g.w[size_t(((oc * Cg + icg) * s.kh + ky) * s.kw + kx)];
                a = npu::wrapAdd(a, v * wv);
              }
          acc[size_t(((n * s.K + oc) * OH + oy) * OW + ox)] = a;
        }
  const NTensor &ty = lp.tensors[size_t(y)];
  std::vector<uint8_t> out;
  if (!s.requant) {
    out.resize(acc.size() * 4);
    std::memcpy(out.data(), acc.data(), out.size());
    c.expected.push_back(out);
    return c;
  }
  std::vector<int32_t> q(acc.size());
  for (int64_t n = 0; n < s.N; ++n)
    for (int64_t oc = 0; oc < s.K; ++oc)
      for (int64_t i = 0; i < OH * OW; ++i) {
        size_t k = size_t((n * s.K + oc) * OH * OW + i);
        q[k] =
            npu::requantize(acc[k], g.rq.mult[size_t(oc)],
                            g.rq.shift[size_t(oc)], g.rq.zp, g.rq.lo, g.rq.hi);
      }
  std::vector<int32_t> r(size_t(s.N * s.K * POH * POW));
  for (int64_t n = 0; n < s.N; ++n)
    for (int64_t oc = 0; oc < s.K; ++oc)
      for (int64_t oy = 0; oy < POH; ++oy)
        for (int64_t ox = 0; ox < POW; ++ox) {
          int32_t v;
          if (!s.pool.on) {
            v = q[size_t(((n * s.K + oc) * OH + oy) * OW + ox)];
          } else {
            int32_t sum = 0, mx = -128;
            for (int64_t ky = 0; ky < s.pool.kh; ++ky)
              for (int64_t kx = 0; kx < s.pool.kw; ++kx) {
                int32_t e =
                    q[size_t(((n * s.K + oc) * OH + oy * s.pool.s + ky) * OW +
                             ox * s.pool.s + kx)];
                sum += e;
                mx = std::max(mx, e);
              }
            v = s.pool.avg
                    ? npu::poolAverage(sum, int32_t(s.pool.kh * s.pool.kw))
                    : mx;
          }
          size_t k = size_t(((n * s.K + oc) * POH + oy) * POW + ox);
          if (s.add) {
            const NTensor &tz = lp.tensors[size_t(other)];
            size_t zi = s.addBroadcast ? size_t(oc) : k;
            int8_t zv = int8_t(stored(tz, c.inputs[1], zi));
            npu::AddParams ap{
                g.add.regs.lshift, g.add.regs.aZp,     g.add.regs.aMult,
                g.add.regs.aShift, g.add.regs.bZp,     g.add.regs.bMult,
                g.add.regs.bShift, g.add.regs.outMult, g.add.regs.outShift,
                g.add.regs.outZp,  g.add.regs.lo,      g.add.regs.hi};
            v = s.convIsA ? npu::quantAdd(int8_t(v), zv, ap)
                          : npu::quantAdd(zv, int8_t(v), ap);
          }
          r[k] = v;
        }
  out.resize(r.size());
  for (size_t i = 0; i < r.size(); ++i)
    out[i] = ty.u8 ? uint8_t(r[i] + 128) : uint8_t(int8_t(r[i]));
  c.expected.push_back(out);
  return c;
}

// Compiles `c` with `opts`, runs it on golden, SystemC and the SDK's
// reference simulator (the same program: this NPU packs its image in the
// reference arrangement; every check on) and compares; the program goes to
// *compiled, the SystemC cycles to *cycles.
void runCase(const Case &c, const std::string &what,
             const CodegenOptions &opts = {}, Program *compiled = nullptr,
             uint64_t *cycles = nullptr) {
  Program p;
  std::string err = compileLayers(c.lp, opts, p);
  ASSERT_EQ(err, "") << what;
  p.uid = newProgramUid();
  const uint32_t kReference = UINT32_MAX;
  for (uint32_t exec : {uint32_t(EMBER_NPU_EXECUTOR_GOLDEN),
                        uint32_t(EMBER_NPU_EXECUTOR_SYSTEMC), kReference}) {
    const std::string on = exec == kReference
                               ? std::string(" on the reference simulator")
                               : " on executor " + std::to_string(exec);
    std::vector<std::vector<uint8_t>> outs;
    std::vector<const void *> in;
    std::vector<void *> out;
    for (auto &v : c.inputs)
      in.push_back(v.data());
    for (auto &e : c.expected)
      outs.emplace_back(e.size(), 0xAB);
    for (auto &o : outs)
      out.push_back(o.data());
    RunConfig rc;
    rc.executor = exec;
    RunResult rr;
    SimStats st;
    err = exec == kReference
              ? simulateProgram(npuTarget(), p, in, out, SimOptions(), &st)
                    .message()
              : runProgram(p, rc, in, out, &rr);
    ASSERT_EQ(err, "") << what << on;
    if (compiled)
      *compiled = p;
    if (cycles && exec == uint32_t(EMBER_NPU_EXECUTOR_SYSTEMC))
      *cycles = rr.counters.cycles;
    for (size_t i = 0; i < outs.size(); ++i) {
      size_t bad = 0, first = SIZE_MAX;
      for (size_t k = 0; k < outs[i].size(); ++k)
        if (outs[i][k] != c.expected[i][k]) {
          ++bad;
          first = std::min(first, k);
        }
      ASSERT_EQ(bad, 0u) << what << on << ": " << bad << " of "
                         << outs[i].size() << " bytes differ, first at "
                         << first << " (got " << int(outs[i][first])
                         << ", want " << int(c.expected[i][first]) << ")";
    }
  }
}

std::string describe(const ConvSpec &s) {
  std::ostringstream os;
  os << "conv N" << s.N << " C" << s.C << " " << s.H << "x" << s.W << " K"
     << s.K << " k" << s.kh << "x" << s.kw << " s" << s.sh << "," << s.sw
     << " d" << s.dh << "," << s.dw << " p" << s.pt << "," << s.pl << ","
     << s.pb << "," << s.pr << " g" << s.groups << (s.u8in ? " u8in" : "")
     << (s.u8out ? " u8out" : "") << (s.requant ? "" : " i32out");
  if (s.pool.on)
    os << (s.pool.avg ? " avgpool" : " maxpool") << s.pool.kh << "x"
       << s.pool.kw << "/" << s.pool.s;
  if (s.add)
    os << " add" << (s.addBroadcast ? "(bcast)" : "")
       << (s.convIsA ? "" : "(conv is b)");
  return os.str();
}

} // namespace

TEST(NpuLayer, Conv3x3) {
  ConvSpec s;
  runCase(convCase(s, 1), describe(s));
}

// Padding LOAD cannot encode (2-bit fields: 0..3 per side) is refused by the
// code generator, naming the layer and the pads, not truncated into a
// program that computes something else. The selector never builds such a
// layer; a layer-IR caller can.
TEST(NpuLayer, RefusesPaddingLoadCannotEncode) {
  ConvSpec s;
  s.kh = s.kw = 9;
  s.H = s.W = 6;
  s.pt = 4; // 6 + 4 + 1 - 9 + 1 = 3 output lines
  Case c = convCase(s, 3);
  Program p;
  std::string err = compileLayers(c.lp, CodegenOptions{}, p);
  EXPECT_NE(err.find("layer 'conv'"), std::string::npos) << err;
  EXPECT_NE(err.find("pads 4,1,1,1"), std::string::npos) << err;
  EXPECT_NE(err.find("LOAD pads 0 to 3"), std::string::npos) << err;

  Case pc;
  PoolLayer g;
  g.C = 16, g.H = g.W = 8, g.kh = g.kw = 9, g.sh = g.sw = 1;
  g.pt = g.pb = 1, g.pl = g.pr = 5;
  g.OH = g.H + g.pt + g.pb - g.kh + 1;
  g.OW = g.W + g.pl + g.pr - g.kw + 1;
  g.in = addTensor(pc.lp, "x", {1, g.C, g.H, g.W}, NTensor::Kind::Input);
  g.out = addTensor(pc.lp, "y", {1, g.C, g.OH, g.OW}, NTensor::Kind::Output);
  Layer L;
  L.kind = Layer::Kind::Pool;
  L.name = "pool";
  L.pool = g;
  pc.lp.layers.push_back(L);
  pc.lp.inputs = {g.in};
  pc.lp.outputs = {g.out};
  err = compileLayers(pc.lp, CodegenOptions{}, p);
  EXPECT_NE(err.find("layer 'pool'"), std::string::npos) << err;
  EXPECT_NE(err.find("pads 1,5,1,5"), std::string::npos) << err;
}

TEST(NpuLayer, PointwiseFlat) {
  ConvSpec s;
  s.kh = s.kw = 1;
  s.pt = s.pl = s.pb = s.pr = 0;
  s.C = 40;
  s.K = 37;
  runCase(convCase(s, 2), describe(s));
}

TEST(NpuLayer, SingleBufferedInputBlocks) {
  // A pointwise layer on 7x7 with 128 input tiles per pixel (ResNet-50's
  // 2048 -> 512 at DIM 16) and 4 output tiles: 49 pixels do not fit ACT,
  // and double-buffered blocks only fit 2048 / 128 = 16 pixels, each block
  // streaming all the weights. The cost model single-buffers the input
  // (Problem::singleBufferFallback) in two blocks; the second block's
  // loads must wait for the first block's GEMMs (StepCode::afterPrev), or
  // they overwrite rows still read: the result would differ.
  ConvSpec s;
  s.C = 128 * npu::kDim, s.K = 4 * npu::kDim, s.H = s.W = 7, s.kh = s.kw = 1;
  s.pt = s.pl = s.pb = s.pr = 0;
  Program p;
  runCase(convCase(s, 17), describe(s), {}, &p);
  if (HasFatalFailure())
    return;
  ASSERT_EQ(p.layers.size(), 1u);
  const std::vector<int64_t> &tile = p.layers[0].choice.tile; // n, p, ko, kc
  ASSERT_EQ(tile.size(), 4u);
  if (npu::kDim == 16 && npu::memRows(EMBER_NPU_MEM_ACT) == 4096) {
    EXPECT_GT(tile[1] * 128 * 2, npu::memRows(EMBER_NPU_MEM_ACT))
        << "the input is not single-buffered: " << p.layers[0].tiling;
    EXPECT_LT(tile[1], 49) << p.layers[0].tiling;
  }
}

TEST(NpuLayer, FillInPiecesAndMergedInputLoads) {
  // A pointwise layer on a small map with many input tiles (as MobileNetV2's
  // 14x14 projections; at DIM 16, 40 input and 4 output tiles): one 2-D LOAD
  // brings a block's input tiles (a line per
  // tile, a DRAM latency per block instead of per tile), the first step
  // loads its input and weights in pieces so the GEMMs start after the first
  // (Problem::fillPieces), and the requantization table of all output tiles
  // is loaded once. Bit-exact either way; the pieces take fewer cycles.
  ConvSpec s;
  s.kh = s.kw = 1;
  s.pt = s.pl = s.pb = s.pr = 0;
  s.C = 640;
  s.K = 64;
  s.H = s.W = 14; // compute-bound at DIM 8, 16 and 32 (at 7x7, DIM 32 is not)
  Case c = convCase(s, 21);
  uint64_t cycPieces = 0, cycOne = 0;
  Program pp, p1;
  runCase(c, describe(s) + " fill=4", {}, &pp, &cycPieces);
  ASSERT_EQ(pp.layers.size(), 1u);
  // The same tiling without pieces.
  CodegenOptions one;
  one.fillPieces = 1;
  one.forced = {pp.layers[0].choice};
  runCase(c, describe(s) + " fill=1", one, &p1, &cycOne);
  // The input LOADs (the bias GEMM's constant row aside): each a 2-D
  // transfer of input tiles, 196 rows apart in DRAM.
  auto inputLoads = [](const Program &p, std::vector<int64_t> &tiles) {
    for (const npu::Insn &in : encodeProgram(npuTarget(), p))
      if (in.op == npu::Opcode::LOAD && in.mem == EMBER_NPU_MEM_ACT &&
          in.xsize > 1) {
        EXPECT_EQ(in.stride, 196);
        tiles.push_back(in.ysize);
      }
  };
  std::vector<int64_t> t1, tp;
  inputLoads(p1, t1);
  inputLoads(pp, tp);
  const int64_t tiles = (s.C + npu::kDim - 1) / npu::kDim,
                outTiles = (s.K + npu::kDim - 1) / npu::kDim;
  ASSERT_FALSE(t1.empty());
  for (int64_t n : t1) // without pieces: all input tiles of a block
    EXPECT_EQ(n, tiles);
  // With pieces: the first block in several LOADs, all its tiles in all.
  EXPECT_GT(tp.size(), 1u);
  int64_t first = 0;
  for (size_t i = 0; i < tp.size() && first < tiles; ++i)
    first += tp[i];
  EXPECT_EQ(first, tiles);
  EXPECT_LT(tp.front(), tiles);
  size_t params = 0;
  for (const npu::Insn &in : encodeProgram(npuTarget(), pp))
    if (in.op == npu::Opcode::LOAD && in.mem == EMBER_NPU_MEM_ACC &&
        in.ysize * in.xsize ==
            (pp.layers[0].choice.bias == 2 ? 3 : 2) * outTiles)
      ++params; // every output tile's table, once
  EXPECT_EQ(params, 1u);
  EXPECT_LT(cycPieces, cycOne)
      << "the fill in pieces should end sooner on the same tiling";
  // The cost model counts the pieces too: its prediction is close.
  EXPECT_NEAR(double(pp.layers[0].predictedCycles), double(cycPieces),
              0.1 * double(cycPieces));
}

TEST(NpuLayer, StridedPointwise) {
  // 1x1 with stride and no padding: one LOAD per output line picks every
  // sw-th pixel, one GEMM covers the whole block (Codegen.cpp, `sub`).
  ConvSpec s;
  s.kh = s.kw = 1;
  s.sh = s.sw = 2;
  s.pt = s.pl = s.pb = s.pr = 0;
  s.C = 40;
  s.K = 37;
  s.H = 13;
  s.W = 11;
  runCase(convCase(s, 12), describe(s));
  s.sh = 3;
  s.sw = 1;
  s.pool.on = true;
  s.pool.kh = s.pool.kw = 2;
  s.pool.s = 2;
  runCase(convCase(s, 13), describe(s));
}

TEST(NpuLayer, Depthwise) {
  ConvSpec s;
  s.C = s.K = s.groups = 21;
  runCase(convCase(s, 3), describe(s));
}

TEST(NpuLayer, Int32Output) {
  ConvSpec s;
  s.requant = false;
  runCase(convCase(s, 4), describe(s));
}

namespace {

// Layers covering every GEMM form the bias paths meet: padded 3x3 (several
// input and output tiles), 1x1 flat, 1x1 strided, width stride 2 (a GEMM per
// line), depthwise by DWGEMM with its own bias and with a kernel row too long
// for it, grouped, fused pooling, fused add, the first input tile's weights
// zero (a later tile resets the accumulators) and every weight zero (the
// first tile runs anyway), biases at the int32 edges.
std::vector<ConvSpec> biasSpecs() {
  std::vector<ConvSpec> v;
  ConvSpec a;
  a.C = 40, a.K = 40, a.H = 9, a.W = 8;
  v.push_back(a);
  ConvSpec f = a;
  f.C = 64, f.K = 96, f.kh = f.kw = 1, f.pt = f.pl = f.pb = f.pr = 0;
  v.push_back(f);
  ConvSpec st = f;
  st.sh = st.sw = 2, st.H = 10, st.W = 9;
  v.push_back(st);
  ConvSpec w2 = a;
  w2.sw = 2, w2.K = 20;
  v.push_back(w2);
  ConvSpec dw = a;
  dw.groups = dw.C = dw.K = 24;
  v.push_back(dw);
  ConvSpec dwl = dw; // kw 13 > DIM - 4 (DIM 16): no DWGEMM bias
  dwl.kh = 1, dwl.kw = 13, dwl.W = 20, dwl.pt = dwl.pb = 0, dwl.pl = dwl.pr = 3;
  v.push_back(dwl);
  ConvSpec gr = a;
  gr.groups = 4, gr.C = 32, gr.K = 20;
  v.push_back(gr);
  ConvSpec pl = a;
  pl.pool.on = true, pl.pool.avg = true;
  pl.pool.kh = pl.pool.kw = pl.pool.s = 2;
  v.push_back(pl);
  ConvSpec ad = f;
  ad.add = true, ad.u8out = true;
  v.push_back(ad);
  ConvSpec z = a;
  z.zeroIn = 16;
  v.push_back(z);
  ConvSpec zz = f;
  zz.zeroIn = zz.C;
  v.push_back(zz);
  ConvSpec e = a;
  e.edgeBias = true;
  v.push_back(e);
  return v;
}

} // namespace

// Every bias path (DRAM rows, the bias GEMM, REQUANT's bias row) gives the
// reference's result bit for bit on golden and SystemC; with bias=requant no
// bias row is loaded per accumulator row and every REQUANT of a layer
// without DWGEMM's own bias carries the bias bit.
TEST(NpuLayer, BiasPathsAgree) {
  std::vector<ConvSpec> specs = biasSpecs();
  for (size_t i = 0; i < specs.size(); ++i) {
    Case c = convCase(specs[i], 700 + uint32_t(i));
    Program dram, rq;
    for (BiasMode m : {BiasMode::Dram, BiasMode::Gemm, BiasMode::Requant}) {
      CodegenOptions o;
      o.bias = m;
      Program p;
      runCase(c, describe(specs[i]) + " bias=" + biasPathName(int(m)), o, &p);
      if (HasFatalFailure())
        return;
      if (m == BiasMode::Dram)
        dram = p;
      if (m == BiasMode::Requant)
        rq = p;
    }
    const bool dwBias = specs[i].groups == specs[i].C &&
                        specs[i].kw <= npu::kDim - 4 &&
                        specs[i].kw <= npu::kDwMaxTaps && specs[i].kw > 1;
    size_t requants = 0, withBias = 0;
    for (const npu::Insn &in : encodeProgram(npuTarget(), rq))
      if (in.op == npu::Opcode::REQUANT) {
        ++requants;
        withBias += in.bias;
      }
    EXPECT_GT(requants, 0u) << describe(specs[i]);
    EXPECT_EQ(withBias, dwBias ? 0u : requants) << describe(specs[i]);
    EXPECT_EQ(rq.layers[0].choice.bias, dwBias ? 0 : 2) << describe(specs[i]);
    // The DRAM path's bias rows: stride-0 LOADs of one ACC row repeated.
    auto biasRowLoads = [](const Program &p) {
      size_t n = 0;
      for (const npu::Insn &in : encodeProgram(npuTarget(), p))
        n += in.op == npu::Opcode::LOAD && in.mem == EMBER_NPU_MEM_ACC &&
             in.stride == 0 && in.xsize == 1;
      return n;
    };
    EXPECT_EQ(biasRowLoads(dram) > 0, !dwBias) << describe(specs[i]);
    EXPECT_EQ(biasRowLoads(rq), 0u) << describe(specs[i]);
  }
}

// The bias reaches the output through REQUANT's bias bit: the same program
// with the bit cleared computes something else (so a simulator or RTL that
// ignored the bit, or a backend that set it without loading the row, fails).
TEST(NpuLayer, BiasByRequantIsNotDropped) {
  ConvSpec s = biasSpecs()[1]; // 64 -> 96, 1x1
  Case c = convCase(s, 77);
  CodegenOptions o;
  o.bias = BiasMode::Requant;
  Program p;
  runCase(c, describe(s), o, &p);
  if (HasFatalFailure())
    return;
  size_t cleared = 0;
  for (Op &in : p.ops)
    if (in.kind == OpKind::Requant && in.bias) {
      in.bias = false;
      ++cleared;
    }
  ASSERT_GT(cleared, 0u);
  p.uid = newProgramUid();
  for (uint32_t exec : {uint32_t(EMBER_NPU_EXECUTOR_GOLDEN),
                        uint32_t(EMBER_NPU_EXECUTOR_SYSTEMC)}) {
    std::vector<uint8_t> out(c.expected[0].size(), 0xAB);
    std::vector<const void *> in = {c.inputs[0].data()};
    std::vector<void *> outs = {out.data()};
    RunConfig rc;
    rc.executor = exec;
    RunResult rr;
    ASSERT_EQ(runProgram(p, rc, in, outs, &rr), "");
    size_t differ = 0;
    for (size_t k = 0; k < out.size(); ++k)
      differ += out[k] != c.expected[0][k];
    EXPECT_GT(differ, out.size() / 2) << "executor " << exec;
  }
}

// The cost model takes REQUANT's bias where it is cheaper: on a 64 -> 384
// pointwise layer over 14x14 (MobileNetV2's expansions) the array rows of the
// bias GEMM and the DRAM bias rows both cost cycles that REQUANT's bias row
// does not; bias=auto picks it, and it is the fastest of the three on SystemC.
TEST(NpuLayer, AutoPicksTheCheapestBiasPath) {
  ConvSpec s;
  s.C = 64, s.K = 384, s.H = s.W = 14, s.kh = s.kw = 1;
  s.pt = s.pl = s.pb = s.pr = 0;
  Case c = convCase(s, 91);
  uint64_t cyc[3] = {0, 0, 0}, autoCycles = 0;
  Program p;
  for (BiasMode m : {BiasMode::Dram, BiasMode::Gemm, BiasMode::Requant}) {
    CodegenOptions o;
    o.bias = m;
    runCase(c, describe(s) + " bias=" + biasPathName(int(m)), o, nullptr,
            &cyc[int(m)]);
  }
  runCase(c, describe(s) + " bias=auto", {}, &p, &autoCycles);
  if (HasFatalFailure())
    return;
  EXPECT_EQ(p.layers[0].choice.bias, 2);
  EXPECT_EQ(autoCycles, cyc[2]);
  EXPECT_LT(cyc[2], cyc[0]);
  EXPECT_LT(cyc[2], cyc[1]);
}

// A tuned tiling (a hand-edited tuning cache, say) that asks for a bias path
// the layer does not allow is refused with the layer named, whichever path it
// names: a depthwise layer whose DWGEMM adds its own bias takes no bias by
// the bias GEMM or by REQUANT, and compiling it as DRAM instead would
// silently not be what the file asked for.
TEST(NpuLayer, RefusesATunedBiasPathTheLayerCannotTake) {
  ConvSpec s;
  s.C = s.K = s.groups = 32; // DWGEMM, 3x3: its own bias
  Case c = convCase(s, 5);
  Program p;
  ASSERT_EQ(compileLayers(c.lp, CodegenOptions{}, p), "");
  ASSERT_EQ(p.layers.size(), 1u);
  EXPECT_EQ(p.layers[0].choice.bias, 0);
  for (int path : {1, 2}) {
    CodegenOptions o;
    o.forced = {p.layers[0].choice};
    o.forced[0].bias = path;
    Program q;
    const std::string err = compileLayers(c.lp, o, q);
    EXPECT_NE(err.find("layer 'conv'"), std::string::npos) << err;
    EXPECT_NE(err.find("does not allow"), std::string::npos) << err;
  }
  // The path it does allow compiles.
  CodegenOptions o;
  o.forced = {p.layers[0].choice};
  Program q;
  EXPECT_EQ(compileLayers(c.lp, o, q), "");
}

TEST(NpuLayer, FusedMaxPoolAndAdd) {
  ConvSpec s;
  s.pool.on = true;
  s.pool.kh = s.pool.kw = 2;
  s.pool.s = 2;
  runCase(convCase(s, 5), describe(s));
  ConvSpec a;
  a.add = true;
  a.u8out = true;
  runCase(convCase(a, 6), describe(a));
}

namespace {

ConvSpec randomConv(std::mt19937 &rng, bool big) {
  ConvSpec s;
  auto pick = [&](int64_t lo, int64_t hi) {
    return lo + int64_t(rng() % uint64_t(hi - lo + 1));
  };
  s.N = pick(1, 2);
  s.kh = pick(1, 7);
  s.kw = rng() % 3 ? s.kh : pick(1, 7);
  s.sh = pick(1, 2);
  s.sw = rng() % 4 ? s.sh : pick(1, 2);
  s.dh = rng() % 5 ? 1 : 2;
  s.dw = rng() % 5 ? s.dh : pick(1, 2);
  s.pt = pick(0, std::min<int64_t>(3, s.kh - 1));
  s.pb = rng() % 3 ? s.pt : pick(0, std::min<int64_t>(3, s.kh - 1));
  s.pl = pick(0, std::min<int64_t>(3, s.kw - 1));
  s.pr = rng() % 3 ? s.pl : pick(0, std::min<int64_t>(3, s.kw - 1));
  int64_t ekh = (s.kh - 1) * s.dh + 1, ekw = (s.kw - 1) * s.dw + 1;
  s.H = pick(std::max<int64_t>(1, ekh - s.pt - s.pb), big ? 64 : 14);
  s.W = pick(std::max<int64_t>(1, ekw - s.pl - s.pr), big ? 64 : 14);
  int mode = int(rng() % 4);
  if (mode == 0) { // depthwise (channel multiplier 1 or 2)
    s.C = pick(1, big ? 80 : 40);
    s.groups = s.C;
    s.K = s.C * pick(1, 2);
  } else if (mode == 1) { // grouped
    s.groups = pick(2, 4);
    s.C = s.groups * pick(1, big ? 40 : 12);
    s.K = s.groups * pick(1, big ? 40 : 12);
  } else {
    s.C = pick(1, big ? 300 : 70);
    s.K = pick(1, big ? 200 : 70);
  }
  s.u8in = rng() % 2;
  s.u8out = rng() % 2;
  s.requant = rng() % 10 != 0;
  int64_t OH = (s.H + s.pt + s.pb - ekh) / s.sh + 1;
  int64_t OW = (s.W + s.pl + s.pr - ekw) / s.sw + 1;
  if (s.requant && rng() % 4 == 0 && OH >= 2 && OW >= 2) {
    s.pool.on = true;
    s.pool.avg = rng() % 2;
    s.pool.kh = pick(1, std::min<int64_t>(3, OH));
    s.pool.kw = pick(1, std::min<int64_t>(3, OW));
    s.pool.s = pick(1, 2);
  } else if (s.requant && rng() % 4 == 0) {
    s.add = true;
    s.addBroadcast = rng() % 3 == 0;
    s.convIsA = rng() % 2;
  }
  return s;
}

} // namespace

TEST(NpuLayer, RandomSmallConvs) {
  std::mt19937 rng(1234);
  for (int i = 0; i < 120; ++i) {
    ConvSpec s = randomConv(rng, false);
    runCase(convCase(s, 100 + uint32_t(i)), describe(s));
    if (HasFatalFailure())
      return;
  }
}

// The tap split (CodegenOptions::tapGroup; docs/npu-sdk.md, "Split
// tiling"): a kernel's taps over passes that accumulate into the same
// accumulator rows, each pass loading one group's weights. Forced here (the
// example NPU's weight memory holds every tap of a tile), bit-exact on the
// golden model and the SystemC model over kernel sizes, strides, dilations,
// groups, depthwise and channel counts, each with its tiling showing the
// split.
TEST(NpuLayer, TapSplitRandomConvs) {
  std::mt19937 rng(63);
  int split = 0;
  for (int i = 0; i < 24; ++i) {
    ConvSpec s = randomConv(rng, false);
    while (s.kh * s.kw == 1) // a 1x1 kernel has no taps to split
      s = randomConv(rng, false);
    CodegenOptions o;
    o.tapGroup = 1 + int64_t(rng() % 3);
    Program p;
    runCase(convCase(s, 900 + uint32_t(i)),
            describe(s) + " taps=" + std::to_string(o.tapGroup), o, &p);
    if (HasFatalFailure())
      return;
    ASSERT_EQ(p.layers.size(), 1u);
    split += p.layers[0].tiling.find(" t=") != std::string::npos;
  }
  EXPECT_GE(split, 20) << "the split was not taken";
}

TEST(NpuLayer, RandomLargeConvs) {
  std::mt19937 rng(99);
  for (int i = 0; i < 5; ++i) {
    ConvSpec s = randomConv(rng, true);
    runCase(convCase(s, 500 + uint32_t(i)), describe(s));
    if (HasFatalFailure())
      return;
  }
}

// A program of one pool layer `g` named `name`, from x [N, C, H, W] to
// y [N, C, OH, OW] (the tensors are made here and set in g), with a random
// input; the expected output is the caller's.
Case poolProgram(PoolLayer &g, const char *name, int64_t OH, int64_t OW,
                 bool u8, std::mt19937 &rng) {
  Case c;
  LayerProgram &lp = c.lp;
  g.in = addTensor(lp, "x", {g.N, g.C, g.H, g.W}, NTensor::Kind::Input, u8);
  g.out = addTensor(lp, "y", {g.N, g.C, OH, OW}, NTensor::Kind::Output, u8);
  Layer L;
  L.kind = Layer::Kind::Pool;
  L.name = name;
  L.pool = g;
  lp.layers.push_back(L);
  lp.inputs = {g.in};
  lp.outputs = {g.out};
  c.inputs.push_back(randomBytes(size_t(g.N * g.C * g.H * g.W), rng));
  return c;
}

// A standalone pool layer `g` (geometry and padding set; the tensors are
// made here) on random input, with its expected output computed directly:
// padded taps read g.padValue, or are left out of an average that
// excludes them (then divided by the taps inside the image).
Case poolCase(PoolLayer g, bool u8, std::mt19937 &rng) {
  Case c = poolProgram(g, "pool", g.OH, g.OW, u8, rng);
  const NTensor &tx = c.lp.tensors[size_t(g.in)];
  std::vector<uint8_t> out(size_t(g.N * g.C * g.OH * g.OW));
  for (int64_t n = 0; n < g.N; ++n)
    for (int64_t ch = 0; ch < g.C; ++ch)
      for (int64_t oy = 0; oy < g.OH; ++oy)
        for (int64_t ox = 0; ox < g.OW; ++ox) {
          int32_t sum = 0, count = 0, mx = -128;
          for (int64_t ky = 0; ky < g.kh; ++ky)
            for (int64_t kx = 0; kx < g.kw; ++kx) {
              int64_t iy = oy * g.sh - g.pt + ky, ix = ox * g.sw - g.pl + kx;
              bool inside = iy >= 0 && iy < g.H && ix >= 0 && ix < g.W;
              if (!inside && g.excludePad)
                continue;
              int32_t v =
                  inside
                      ? stored(tx, c.inputs[0],
                               size_t(((n * g.C + ch) * g.H + iy) * g.W + ix))
                      : g.padValue;
              sum += v;
              ++count;
              mx = std::max(mx, v);
            }
          int32_t r = g.avg ? npu::poolAverage(sum, count) : mx;
          out[size_t(((n * g.C + ch) * g.OH + oy) * g.OW + ox)] =
              u8 ? uint8_t(r + 128) : uint8_t(int8_t(r));
        }
  c.expected.push_back(out);
  return c;
}

// An average pool without its padded taps (count_include_pad 0): the
// outputs whose window overlaps the padding divide by the taps inside the
// image (the border POOLs of genPool), against a direct computation, for
// random shapes, strides, asymmetric pads below the kernel and y blocks.
TEST(NpuLayer, AveragePoolExcludingPadding) {
  std::mt19937 rng(91);
  int ran = 0, blocked = 0;
  for (int i = 0; ran < 16 && i < 200; ++i) {
    auto pick = [&](int64_t lo, int64_t hi) {
      return lo + int64_t(rng() % uint64_t(hi - lo + 1));
    };
    PoolLayer g;
    g.N = pick(1, 2), g.C = pick(1, 40), g.H = pick(1, 40), g.W = pick(1, 30);
    g.kh = pick(1, 5), g.kw = pick(1, 5), g.sh = pick(1, 3),
    g.sw = i % 3 ? g.sh : pick(1, 3); // a third with strides of their own
    g.pt = pick(0, std::min<int64_t>(3, g.kh - 1));
    g.pb = pick(0, std::min<int64_t>(3, g.kh - 1));
    g.pl = pick(0, std::min<int64_t>(3, g.kw - 1));
    g.pr = pick(0, std::min<int64_t>(3, g.kw - 1));
    if (g.pt + g.pb + g.pl + g.pr == 0 || g.H + g.pt + g.pb < g.kh ||
        g.W + g.pl + g.pr < g.kw)
      continue;
    g.avg = g.excludePad = true;
    g.OH = (g.H + g.pt + g.pb - g.kh) / g.sh + 1;
    g.OW = (g.W + g.pl + g.pr - g.kw) / g.sw + 1;
    g.padValue = int32_t(pick(-128, 127)); // read, then overwritten
    bool u8 = rng() % 2;
    Case c = poolCase(g, u8, rng);
    std::ostringstream what;
    what << "pool " << i << ": " << g.H << "x" << g.W << " k" << g.kh << "x"
         << g.kw << "/" << g.sh << "x" << g.sw << " pads " << g.pt << ","
         << g.pl << "," << g.pb << "," << g.pr;
    Program p;
    runCase(c, what.str(), {}, &p);
    if (HasFatalFailure())
      return;
    ++ran;
    // y blocks that start or end inside the image (tiling "n=.. y=AxB ..").
    const std::string &tl = p.layers.at(0).tiling;
    size_t at = tl.find("y=");
    if (at != std::string::npos &&
        std::stoll(tl.substr(tl.find('x', at) + 1)) > 1)
      ++blocked;
  }
  EXPECT_EQ(ran, 16);
  EXPECT_GT(blocked, 0) << "no case ran in several y blocks";
}

// Pools over lines whose window lines do not fit OUT (twice kh x the padded
// width plus the output width; a 2x2 pool over 450 pixels at 16 lanes), or
// wider than a load's x extent: column bands (genPool), with strides of
// their own per axis, padding at the first and last band, the average with
// and without the padded taps, against a direct computation. Before the
// bands every one of them failed to compile ("does not fit the memories").
TEST(NpuLayer, PoolColumnBands) {
  std::mt19937 rng(29);
  int banded = 0;
  for (int i = 0; i < 12; ++i) {
    auto pick = [&](int64_t lo, int64_t hi) {
      return lo + int64_t(rng() % uint64_t(hi - lo + 1));
    };
    PoolLayer g;
    g.N = 1, g.C = pick(1, 24), g.H = pick(2, 7), g.W = pick(450, 1400);
    g.kh = pick(2, 4), g.kw = pick(1, 4), g.sh = pick(1, 2);
    g.sw = i % 3 ? g.sh : pick(1, 3);
    g.avg = i % 2;
    g.excludePad = g.avg && i % 4 == 1;
    g.pt = g.pb = std::min<int64_t>(pick(0, 2), g.kh - 1);
    g.pl = g.pr = std::min<int64_t>(pick(0, 2), g.kw - 1);
    if (g.excludePad && g.pt + g.pl == 0)
      g.pl = g.pr = g.kw - 1, g.pt = g.kh - 1;
    if (g.H + g.pt + g.pb < g.kh)
      g.H = g.kh;
    g.OH = (g.H + g.pt + g.pb - g.kh) / g.sh + 1;
    g.OW = (g.W + g.pl + g.pr - g.kw) / g.sw + 1;
    g.padValue = g.avg && !g.excludePad ? int32_t(pick(-128, 127)) : -128;
    std::ostringstream what;
    what << "pool " << i << ": " << g.H << "x" << g.W << " k" << g.kh << "x"
         << g.kw << "/" << g.sh << "x" << g.sw << " pads " << g.pt << ","
         << g.pl << (g.avg ? " avg" : " max")
         << (g.excludePad ? " exclude-pad" : "");
    Program p;
    runCase(poolCase(g, rng() % 2, rng), what.str(), {}, &p);
    if (HasFatalFailure())
      return;
    if (p.layers.at(0).tiling.find("x=") != std::string::npos)
      ++banded;
  }
  EXPECT_GE(banded, 10) << "most of these lines do not fit OUT whole";
}

TEST(NpuLayer, StandalonePoolAndAdd) {
  std::mt19937 rng(77);
  for (int i = 0; i < 30; ++i) {
    Case c;
    LayerProgram &lp = c.lp;
    auto pick = [&](int64_t lo, int64_t hi) {
      return lo + int64_t(rng() % uint64_t(hi - lo + 1));
    };
    int64_t N = pick(1, 2), C = pick(1, 40), H = pick(1, 30), W = pick(1, 30);
    bool u8 = rng() % 2;
    if (i % 2 == 0) { // pooling
      PoolLayer g;
      g.N = N;
      g.C = C;
      g.H = H;
      g.W = W;
      g.kh = pick(1, std::min<int64_t>(7, H + 2));
      g.kw = pick(1, std::min<int64_t>(7, W + 2));
      g.sh = pick(1, 3);
      g.sw = i % 4 ? g.sh : pick(1, 3); // strides of their own
      g.avg = rng() % 2;
      g.pt = g.pb = std::min<int64_t>(pick(0, 3), g.kh - 1);
      g.pl = g.pr = std::min<int64_t>(pick(0, 3), g.kw - 1);
      if (g.H + g.pt + g.pb < g.kh || g.W + g.pl + g.pr < g.kw)
        continue;
      g.OH = (g.H + g.pt + g.pb - g.kh) / g.sh + 1;
      g.OW = (g.W + g.pl + g.pr - g.kw) / g.sw + 1;
      g.padValue = g.avg ? int32_t(pick(-128, 127)) : -128;
      runCase(poolCase(g, u8, rng), "pool " + std::to_string(i));
    } else { // add
      AddLayer g;
      g.bBroadcast = rng() % 3 == 0;
      g.regs = randomAddRegs(rng);
      bool u8b = rng() % 2, u8y = rng() % 2;
      g.a = addTensor(lp, "a", {N, C, H, W}, NTensor::Kind::Input, u8);
      g.b = addTensor(lp, "b",
                      g.bBroadcast ? std::vector<int64_t>{1, C, 1, 1}
                                   : std::vector<int64_t>{N, C, H, W},
                      NTensor::Kind::Input, u8b);
      g.out = addTensor(lp, "y", {N, C, H, W}, NTensor::Kind::Output, u8y);
      Layer L;
      L.kind = Layer::Kind::Add;
      L.name = "add";
      L.add = g;
      lp.layers.push_back(L);
      lp.inputs = {g.a, g.b};
      lp.outputs = {g.out};
      c.inputs.push_back(randomBytes(size_t(N * C * H * W), rng));
      c.inputs.push_back(
          randomBytes(size_t(g.bBroadcast ? C : N * C * H * W), rng));
      npu::AddParams ap{g.regs.lshift, g.regs.aZp,     g.regs.aMult,
                        g.regs.aShift, g.regs.bZp,     g.regs.bMult,
                        g.regs.bShift, g.regs.outMult, g.regs.outShift,
                        g.regs.outZp,  g.regs.lo,      g.regs.hi};
      std::vector<uint8_t> out(size_t(N * C * H * W));
      const NTensor &ta = lp.tensors[size_t(g.a)],
                    &tb = lp.tensors[size_t(g.b)];
      for (size_t k = 0; k < out.size(); ++k) {
        size_t ch = (k / size_t(H * W)) % size_t(C);
        int8_t av = int8_t(stored(ta, c.inputs[0], k));
        int8_t bv = int8_t(stored(tb, c.inputs[1], g.bBroadcast ? ch : k));
        int32_t r = npu::quantAdd(av, bv, ap);
        out[k] = u8y ? uint8_t(r + 128) : uint8_t(int8_t(r));
      }
      c.expected.push_back(out);
      runCase(c, "add " + std::to_string(i));
    }
    if (HasFatalFailure())
      return;
  }
}

namespace {

// A chain of convolutions (each spec's C, H, W the previous output's), as one
// partition: the reference of each layer takes the previous one's expected
// output as its input.
Case chainCase(std::vector<ConvSpec> specs, uint32_t seed) {
  Case all;
  std::vector<uint8_t> carry;
  int prevOut = -1;
  for (size_t k = 0; k < specs.size(); ++k) {
    Case c = convCase(specs[k], seed + uint32_t(k), k ? &carry : nullptr);
    int off = int(all.lp.tensors.size());
    for (NTensor &t : c.lp.tensors)
      all.lp.tensors.push_back(t);
    Layer L = c.lp.layers[0];
    L.name = "conv" + std::to_string(k);
    L.nodes = {L.name};
    L.gemm.out += off;
    if (k == 0) {
      L.gemm.in += off;
      all.inputs.push_back(c.inputs[0]);
      all.lp.inputs = {L.gemm.in};
    } else {
      L.gemm.in = prevOut;
      all.lp.tensors[size_t(prevOut)].kind = NTensor::Kind::Activation;
    }
    all.lp.layers.push_back(L);
    prevOut = L.gemm.out;
    carry = c.expected[0];
  }
  all.lp.outputs = {prevOut};
  all.expected = {carry};
  return all;
}

size_t countOp(const Program &p, npu::Opcode op) {
  size_t n = 0;
  for (const npu::Insn &in : encodeProgram(npuTarget(), p))
    n += in.op == op;
  return n;
}

} // namespace

// Layer cascading: an intermediate tensor that fits in OUT beside both
// layers' slots goes OUT -> ACT by MOVE (no STORE, no LOAD), through every
// form of activation load (padded 3x3 block, 1x1 flat, 1x1 strided,
// depthwise DWGEMM, fused pool as producer); bit-exact on golden and
// SystemC, with and without cascading.
TEST(NpuCascade, ChainsStayOnChip) {
  std::vector<ConvSpec> specs(5);
  specs[0].C = 5, specs[0].H = 12, specs[0].W = 11, specs[0].K = 20;
  specs[1].C = 20, specs[1].H = 12, specs[1].W = 11, specs[1].K = 20;
  specs[1].groups = 20; // depthwise 3x3, pad 1
  specs[1].u8out = true;
  specs[2].C = 20, specs[2].H = 12, specs[2].W = 11, specs[2].K = 35;
  specs[2].kh = specs[2].kw = 1; // 1x1 flat
  specs[2].pt = specs[2].pl = specs[2].pb = specs[2].pr = 0;
  specs[2].u8in = true;
  specs[2].pool.on = true; // fused 2x2/2 max pool: 6x5
  specs[2].pool.kh = specs[2].pool.kw = specs[2].pool.s = 2;
  specs[3].C = 35, specs[3].H = 6, specs[3].W = 5, specs[3].K = 17;
  specs[3].kh = specs[3].kw = 1; // 1x1 stride 2 (one LOAD per line)
  specs[3].sh = specs[3].sw = 2;
  specs[3].pt = specs[3].pl = specs[3].pb = specs[3].pr = 0;
  specs[4].C = 17, specs[4].H = 3, specs[4].W = 3, specs[4].K = 9;
  specs[4].pt = specs[4].pl = specs[4].pb = specs[4].pr = 2; // 3x3 pad 2
  Case c = chainCase(specs, 40);
  Program on, off;
  runCase(c, "cascaded chain", {}, &on);
  CodegenOptions noCascade;
  noCascade.cascade = false;
  runCase(c, "chain without cascading", noCascade, &off);
  if (HasFatalFailure())
    return;
  EXPECT_EQ(countOp(off, npu::Opcode::MOVE), 0u);
  EXPECT_GT(countOp(on, npu::Opcode::MOVE), 0u);
  for (size_t i = 0; i + 1 < specs.size(); ++i) {
    EXPECT_TRUE(on.layers[i].cascadedOut) << "layer " << i;
    EXPECT_TRUE(on.layers[i + 1].cascadedIn) << "layer " << i + 1;
    EXPECT_FALSE(off.layers[i].cascadedOut) << "layer " << i;
    // Only the partition's input is loaded and only its output stored.
    EXPECT_EQ(on.layers[i].storeBytes, 0u) << "layer " << i;
  }
  EXPECT_LT(countOp(on, npu::Opcode::STORE), countOp(off, npu::Opcode::STORE));
  for (size_t i = 1; i < specs.size(); ++i) // no activation LOADs left
    EXPECT_LT(on.layers[i].loadBytes, off.layers[i].loadBytes) << "layer " << i;
}

// The boundaries predicted before tiling (predictCascadedInputs) are those
// the code then keeps in OUT when the tensors are small beside OUT (the
// prediction is a guess: a tensor up to half of OUT may find no gap beside
// two layers' large slots), and tiling with them on chip (the default,
// cascade_predict=out, and both) stays bit-exact and cascades the same ones.
TEST(NpuCascade, PredictedBoundariesAreKept) {
  std::vector<ConvSpec> specs(4);
  specs[0].C = 5, specs[0].H = 6, specs[0].W = 4, specs[0].K = 64;
  specs[1].C = 64, specs[1].H = 6, specs[1].W = 4, specs[1].K = 64;
  specs[1].groups = 64; // depthwise 3x3
  specs[2].C = 64, specs[2].H = 6, specs[2].W = 4, specs[2].K = 64;
  specs[2].kh = specs[2].kw = 1; // pointwise
  specs[2].pt = specs[2].pl = specs[2].pb = specs[2].pr = 0;
  specs[3].C = 64, specs[3].H = 6, specs[3].W = 4, specs[3].K = 64;
  specs[3].groups = 64;
  Case c = chainCase(specs, 41);
  // Every boundary is likely cascaded (Cascade.h, predictCascadedInputs):
  // each tensor is an activation of the chain only and fits half of OUT;
  // not the partition's input.
  const std::vector<char> likely = {0, 1, 1, 1};
  for (CascadePredict mode :
       {CascadePredict::Off, CascadePredict::Out, CascadePredict::Both}) {
    CodegenOptions o;
    o.cascadePredict = mode;
    Program p;
    runCase(c, "predicted chain, mode " + std::to_string(int(mode)), o, &p);
    if (HasFatalFailure())
      return;
    for (size_t i = 1; i < specs.size(); ++i) {
      EXPECT_TRUE(likely[i]) << "layer " << i;
      EXPECT_EQ(p.layers[i].cascadedIn, bool(likely[i])) << "layer " << i;
    }
  }
}

// Tensors larger than half of OUT stay on chip when the consumer, tiled
// again within the rows the tensor leaves (Cascade.cpp, budgetConsumers),
// fits beside it: a chain of 1x1 layers of one channel tile over tensors of
// about 73% of OUT's rows (1,500 of 2,048 at DIM 16), the second reading a
// whole view of the first's output (a Reshape that keeps the layout). In
// such a chain every other boundary is on chip (a consumer that copies its
// input in has no room for its own output beside it). Whole-tensor
// cascading alone (stripes off); bit-exact on golden and SystemC, with and
// without cascading.
TEST(NpuCascade, LargeTensorsLeaveTheConsumerABudget) {
  const Target &tg = npuTarget();
  const int64_t outRows = int64_t(tg.memRows(tg.memOf(Cls::Out)));
  std::vector<ConvSpec> specs(3);
  for (ConvSpec &s : specs) {
    s.C = s.K = tg.lanes, s.H = 30, s.W = outRows * 3 / 4 / 30;
    s.kh = s.kw = 1;
    s.pt = s.pl = s.pb = s.pr = 0;
  }
  Case c = chainCase(specs, 80);
  // Layer 1 reads a whole view of layer 0's output.
  const int t0 = c.lp.layers[0].gemm.out;
  NTensor view = c.lp.tensors[size_t(t0)];
  view.name += ".view";
  view.base = t0;
  c.lp.tensors.push_back(view);
  c.lp.layers[1].gemm.in = int(c.lp.tensors.size() - 1);
  CodegenOptions whole, none;
  whole.stripes = none.stripes = StripeMode::Off;
  none.cascade = false;
  Program on, off;
  runCase(c, "chain of large tensors", whole, &on);
  runCase(c, "chain of large tensors without cascading", none, &off);
  if (HasFatalFailure())
    return;
  EXPECT_TRUE(on.layers[0].cascadedOut);
  EXPECT_TRUE(on.layers[1].cascadedIn);
  EXPECT_EQ(on.layers[0].storeBytes, 0u);
  EXPECT_GT(countOp(on, npu::Opcode::MOVE), 0u);
  EXPECT_EQ(countOp(off, npu::Opcode::MOVE), 0u);
  EXPECT_LT(on.layers[1].loadBytes, off.layers[1].loadBytes);
}

// Not cascaded: a tensor too large for OUT, and one a later layer (not the
// next) reads too; both stay correct through DRAM (whole-tensor cascading
// alone: with stripes, the default, the large one goes through a ring).
TEST(NpuCascade, FallsBackToDram) {
  std::vector<ConvSpec> specs(2);
  specs[0].C = 16, specs[0].H = 48, specs[0].W = 48, specs[0].K = 32;
  specs[1].C = 32, specs[1].H = 48, specs[1].W = 48, specs[1].K = 8;
  specs[1].kh = specs[1].kw = 1;
  specs[1].pt = specs[1].pl = specs[1].pb = specs[1].pr = 0;
  Case big = chainCase(specs, 50); // 2 x 2304 rows > OUT's 2048
  Program p;
  CodegenOptions whole;
  whole.stripes = StripeMode::Off;
  runCase(big, "large chain", whole, &p);
  if (HasFatalFailure())
    return;
  EXPECT_FALSE(p.layers[0].cascadedOut);
  EXPECT_EQ(countOp(p, npu::Opcode::MOVE), 0u);

  std::vector<ConvSpec> small(2);
  small[0].K = 12;
  small[1].C = 12;
  Case c = chainCase(small, 60);
  c.lp.outputs.insert(c.lp.outputs.begin(), c.lp.layers[0].gemm.out);
  c.lp.tensors[size_t(c.lp.layers[0].gemm.out)].kind = NTensor::Kind::Output;
  Case first = convCase(small[0], 60);
  c.expected.insert(c.expected.begin(), first.expected[0]);
  runCase(c, "chain whose middle tensor is also an output", {}, &p);
  if (HasFatalFailure())
    return;
  EXPECT_FALSE(p.layers[0].cascadedOut);
  EXPECT_EQ(countOp(p, npu::Opcode::MOVE), 0u);
}

// Layer cascading in stripes: tensors too large for OUT go through a ring of
// lines in OUT, the two layers' instructions interleaved (Stripes.cpp);
// bit-exact on golden and SystemC with and without stripes. Pairs: a 1x1
// expand into a padded depthwise DWGEMM, a 1x1 into a padded 3x3 GEMM; then
// a 3x3 into a flat 1x1 (blocks of pixels, split at the ring's wrap).
TEST(NpuStripes, PairsRunThroughARing) {
  std::vector<ConvSpec> a(4);
  a[0].C = 8, a[0].H = 40, a[0].W = 37, a[0].K = 48;
  a[0].kh = a[0].kw = 1; // 1x1 flat: 37 x 40 x 3 tiles = 4440 rows
  a[0].pt = a[0].pl = a[0].pb = a[0].pr = 0;
  a[1].C = 48, a[1].H = 40, a[1].W = 37, a[1].K = 48;
  a[1].groups = 48; // depthwise 3x3, pad 1
  a[1].u8out = true;
  a[2].C = 48, a[2].H = 40, a[2].W = 37, a[2].K = 40;
  a[2].kh = a[2].kw = 1;
  a[2].pt = a[2].pl = a[2].pb = a[2].pr = 0;
  a[2].u8in = true;
  a[3].C = 40, a[3].H = 40, a[3].W = 37, a[3].K = 8; // 3x3, pad 1
  std::vector<ConvSpec> b(2);
  b[0].C = 5, b[0].H = 36, b[0].W = 29, b[0].K = 64; // 3x3: 4176 rows
  b[1].C = 64, b[1].H = 36, b[1].W = 29, b[1].K = 24;
  b[1].kh = b[1].kw = 1; // 1x1 flat
  b[1].pt = b[1].pl = b[1].pb = b[1].pr = 0;
  int seed = 70;
  for (const auto &specs : {a, b}) {
    Case c = chainCase(specs, uint32_t(seed++));
    Program on, off, gain;
    CodegenOptions striped, plain;
    striped.stripes = StripeMode::All;
    plain.stripes = StripeMode::Off;
    runCase(c, "chain in stripes", striped, &on);
    runCase(c, "chain without stripes", plain, &off);
    CodegenOptions gated; // stripes=on: where the estimate gains
    gated.stripes = StripeMode::On;
    runCase(c, "chain in stripes where they gain", gated, &gain);
    if (HasFatalFailure())
      return;
    // A boundary striped with stripes=all but not where they gain: the
    // producer says the estimate rejected it.
    for (size_t i = 0; i + 1 < specs.size(); ++i) {
      if (!on.layers[i].stripedOut)
        continue;
      EXPECT_EQ(on.layers[i].notStriped, "") << "layer " << i;
      if (!gain.layers[i].stripedOut && !gain.layers[i].stripedIn) {
        EXPECT_EQ(gain.layers[i].notStriped.rfind("no gain (", 0), 0u)
            << "layer " << i << ": " << gain.layers[i].notStriped;
      }
    }
    // Which boundaries run in stripes depends on DIM (the ring must hold
    // the consumer's lines of every channel tile): at DIM 16 all of them,
    // (0, 1) and (2, 3) of the first chain; at least one at any DIM.
    size_t pairs = 0;
    for (size_t i = 0; i + 1 < specs.size(); ++i) {
      EXPECT_FALSE(off.layers[i].stripedOut) << "layer " << i;
      if (!on.layers[i].stripedOut)
        continue;
      ++pairs;
      EXPECT_TRUE(on.layers[i + 1].stripedIn) << "layer " << i + 1;
      EXPECT_GT(on.layers[i].ringRows, 0u) << "layer " << i;
      EXPECT_EQ(on.layers[i].storeBytes, 0u) << "layer " << i;
      EXPECT_GT(off.layers[i].storeBytes, 0u) << "layer " << i;
      EXPECT_LT(on.layers[i + 1].loadBytes, off.layers[i + 1].loadBytes)
          << "layer " << i + 1;
    }
    if (npu::kDim == 16) {
      EXPECT_EQ(pairs, specs.size() / 2);
    }
    EXPECT_GE(pairs, 1u);
    EXPECT_EQ(countOp(off, npu::Opcode::MOVE), 0u);
    EXPECT_GT(countOp(on, npu::Opcode::MOVE), 0u);
    // Serialized and back: the flags and ring survive.
    Program back;
    ASSERT_EQ(
        deserializeProgram(npuTarget(), serializeProgram(npuTarget(), on), back)
            .message(),
        "");
    for (size_t i = 0; i < specs.size(); ++i) {
      EXPECT_EQ(back.layers[i].stripedOut, on.layers[i].stripedOut);
      EXPECT_EQ(back.layers[i].stripedIn, on.layers[i].stripedIn);
      EXPECT_EQ(back.layers[i].ringRows, on.layers[i].ringRows);
      EXPECT_EQ(back.layers[i].notStriped, on.layers[i].notStriped);
    }
  }
}

// Not in stripes, and still correct through DRAM: a boundary whose consumer
// needs more lines than OUT holds (a 3x3 over 1000-pixel lines of 4 channel
// tiles: 12,000 rows), and one whose tensor is also a partition output.
TEST(NpuStripes, FallsBackToDram) {
  std::vector<ConvSpec> wide(2);
  wide[0].C = 3, wide[0].H = 5, wide[0].W = 1000, wide[0].K = 64;
  wide[0].kh = wide[0].kw = 1;
  wide[0].pt = wide[0].pl = wide[0].pb = wide[0].pr = 0;
  wide[1].C = 64, wide[1].H = 5, wide[1].W = 1000, wide[1].K = 4;
  CodegenOptions striped;
  striped.stripes = StripeMode::All;
  Program p;
  runCase(chainCase(wide, 80), "wide chain", striped, &p);
  if (HasFatalFailure())
    return;
  EXPECT_FALSE(p.layers[0].stripedOut);
  EXPECT_FALSE(p.layers[1].stripedIn);
  EXPECT_GT(p.layers[0].storeBytes, 0u);
  // The candidate's reason, for --npu-report, and serialized with it.
  EXPECT_EQ(p.layers[0].notStriped,
            "the consumer does not fit its share of the scratchpads");
  Program back;
  ASSERT_EQ(
      deserializeProgram(npuTarget(), serializeProgram(npuTarget(), p), back)
          .message(),
      "");
  EXPECT_EQ(back.layers[0].notStriped, p.layers[0].notStriped);

  std::vector<ConvSpec> two(2);
  two[0].C = 16, two[0].H = 48, two[0].W = 48, two[0].K = 32;
  two[1].C = 32, two[1].H = 48, two[1].W = 48, two[1].K = 8;
  Case c = chainCase(two, 81);
  c.lp.outputs.insert(c.lp.outputs.begin(), c.lp.layers[0].gemm.out);
  c.lp.tensors[size_t(c.lp.layers[0].gemm.out)].kind = NTensor::Kind::Output;
  Case first = convCase(two[0], 81);
  c.expected.insert(c.expected.begin(), first.expected[0]);
  runCase(c, "chain whose middle tensor is also an output", striped, &p);
  if (HasFatalFailure())
    return;
  EXPECT_FALSE(p.layers[0].stripedOut);
  EXPECT_EQ(p.layers[0].notStriped, ""); // (not a candidate)
  EXPECT_EQ(countOp(p, npu::Opcode::MOVE), 0u);
}

// Bilinear upsampling (PoolLayer::upMode) against the formula of
// docs/npu-architecture.md written out here: per axis the position P = 2X +
// 1 - f (half_pixel) or 2X, taps floor(P / 2f) and the next clamped to the
// map, weights 2f - P mod 2f and P mod 2f, the four-tap sum of (v - zp)
// divided by 4 f^2, rounded half to even, plus zp. Each case runs with the
// cost model's tiling and with bands of a few result lines forced, so that
// interior bands (no clamping but at the map's true edges) are checked.
TEST(NpuLayer, BilinearUpsampleInBands) {
  std::mt19937 rng(123);
  auto pick = [&](int64_t lo, int64_t hi) {
    return lo + int64_t(rng() % uint64_t(hi - lo + 1));
  };
  for (int i = 0; i < 12; ++i) {
    PoolLayer g;
    g.N = pick(1, 2);
    g.C = pick(1, 40);
    g.H = g.OH = pick(1, 12);
    g.W = g.OW = pick(1, 12);
    g.up = int64_t(1) << pick(1, 3);
    g.upMode = int(pick(1, 2));
    g.upZp = int32_t(pick(-128, 127));
    const bool u8 = rng() % 2;
    const int64_t f = g.up, OH = g.H * f, OW = g.W * f;
    Case c = poolProgram(g, "bilinear", OH, OW, u8, rng);
    const LayerProgram &lp = c.lp;
    const NTensor &tx = lp.tensors[size_t(g.in)];
    auto taps = [&](int64_t X, int64_t n, int64_t &t0, int64_t &t1, int64_t &w0,
                    int64_t &w1) {
      const int64_t P = g.upMode == 1 ? 2 * X + 1 - f : 2 * X;
      const int64_t lo = P >= 0 ? P / (2 * f) : -((-P + 2 * f - 1) / (2 * f));
      w1 = P - lo * 2 * f;
      w0 = 2 * f - w1;
      t0 = std::clamp<int64_t>(lo, 0, n - 1);
      t1 = std::clamp<int64_t>(lo + 1, 0, n - 1);
    };
    std::vector<uint8_t> out(size_t(g.N * g.C * OH * OW));
    for (int64_t n = 0; n < g.N; ++n)
      for (int64_t ch = 0; ch < g.C; ++ch)
        for (int64_t Y = 0; Y < OH; ++Y)
          for (int64_t X = 0; X < OW; ++X) {
            int64_t y0, y1, wy0, wy1, x0, x1, wx0, wx1;
            taps(Y, g.H, y0, y1, wy0, wy1);
            taps(X, g.W, x0, x1, wx0, wx1);
            auto v = [&](int64_t y, int64_t x) {
              return int64_t(
                         stored(tx, c.inputs[0],
                                size_t(((n * g.C + ch) * g.H + y) * g.W + x))) -
                     g.upZp;
            };
            const int64_t sum = wy0 * (wx0 * v(y0, x0) + wx1 * v(y0, x1)) +
                                wy1 * (wx0 * v(y1, x0) + wx1 * v(y1, x1));
            const int64_t d = 4 * f * f;
            int64_t q = sum >= 0 ? sum / d : -((-sum + d - 1) / d);
            const int64_t r = sum - q * d; // 0 <= r < d
            if (2 * r > d || (2 * r == d && (q & 1)))
              ++q;
            const int32_t res =
                int32_t(std::clamp<int64_t>(q + g.upZp, -128, 127));
            out[size_t(((n * g.C + ch) * OH + Y) * OW + X)] =
                u8 ? uint8_t(res + 128) : uint8_t(int8_t(res));
          }
    c.expected.push_back(out);
    // The layer text keeps the mode and the zero point.
    LayerProgram back;
    ASSERT_EQ(
        parseLayers(npuTarget(), printLayers(npuTarget(), lp), back).message(),
        "");
    ASSERT_EQ(back.layers.size(), 1u);
    EXPECT_EQ(back.layers[0].pool.upMode, g.upMode);
    EXPECT_EQ(back.layers[0].pool.upZp, g.upZp);
    EXPECT_EQ(back.layers[0].pool.up, g.up);
    const std::string what = "bilinear " + std::to_string(i) + " f" +
                             std::to_string(f) + " mode " +
                             std::to_string(g.upMode);
    runCase(c, what);
    if (HasFatalFailure())
      return;
    // Bands of 1..5 result lines, each channel tile a step of its own.
    CodegenOptions o;
    TileChoice t;
    t.tile = {1, std::min<int64_t>(OH, pick(1, 5)), 1};
    t.order = {0, 1, 2};
    o.forced = {t};
    runCase(c, what + " bands of " + std::to_string(t.tile[1]), o);
    if (HasFatalFailure())
      return;
  }
}
