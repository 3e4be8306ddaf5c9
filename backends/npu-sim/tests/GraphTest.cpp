// Partition graphs as the host sends them (ember.backend.v1.Graph of int8
// primitives), built directly, selected into layers, compiled and run on
// the golden and SystemC models, against a C++ reference of the graph
// semantics (docs/quantization.md). The model-level tests compare with the
// reference interpreter itself; this one needs no core library.
#include "NpuTarget.h"
#include "Runtime.h"

#include "ember/accel/Select.h"

#include "ember/backend/v1/graph.pb.h"
#include "ember/npu/Arith.h"
#include "ember/quant/Arith.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <map>
#include <random>

using namespace ember::npusim;
namespace npu = ember::npu;
namespace v1 = ember::backend::v1;

namespace {

// A host tensor: dtype, dims, int64 values.
struct HT {
  std::string dtype;
  std::vector<int64_t> dims;
  std::vector<int64_t> v;
  int64_t size() const {
    int64_t n = 1;
    for (int64_t d : dims)
      n *= d;
    return n;
  }
};

std::string bytesOf(const HT &t) {
  size_t es = t.dtype == "i32" || t.dtype == "f32" ? 4
              : t.dtype == "i64"                   ? 8
              : t.dtype == "i16"                   ? 2
                                                   : 1;
  std::string s(t.v.size() * es, '\0');
  for (size_t i = 0; i < t.v.size(); ++i) {
    if (es == 1)
      s[i] = char(uint8_t(t.v[i]));
    else if (es == 2) {
      int16_t x = int16_t(t.v[i]);
      std::memcpy(&s[i * 2], &x, 2);
    } else if (t.dtype == "f32") {
      float x = float(t.v[i]);
      std::memcpy(&s[i * 4], &x, 4);
    } else if (es == 4) {
      int32_t x = int32_t(t.v[i]);
      std::memcpy(&s[i * 4], &x, 4);
    } else
      std::memcpy(&s[i * 8], &t.v[i], 8);
  }
  return s;
}

struct GB { // graph builder
  v1::Graph g;
  std::map<int, HT> consts;
  GB() { g.set_schema_version(1); }
  int value(const std::string &name, const std::string &dtype,
            std::vector<int64_t> dims) {
    v1::Value *v = g.add_values();
    v->set_name(name);
    v->mutable_type()->set_dtype(dtype);
    for (int64_t d : dims)
      v->mutable_type()->add_dims(d);
    return g.values_size() - 1;
  }
  int input(const std::string &name, const std::string &dtype,
            std::vector<int64_t> dims) {
    int v = value(name, dtype, dims);
    g.add_inputs(v);
    return v;
  }
  int constant(const std::string &name, const HT &t) {
    int v = value(name, t.dtype, t.dims);
    v1::Constant *c = g.add_constants();
    c->set_value(v);
    *c->mutable_data()->mutable_type() = g.values(v).type();
    c->mutable_data()->set_data(bytesOf(t));
    consts[v] = t;
    return v;
  }
  v1::Node *node(const std::string &op, const std::string &name,
                 std::vector<int> in, std::vector<int> out) {
    v1::Node *n = g.add_nodes();
    n->set_op(op);
    n->set_name(name);
    for (int i : in)
      n->add_inputs(i);
    for (int o : out)
      n->add_outputs(o);
    return n;
  }
  static void setInt(v1::Node *n, const std::string &k, int64_t v) {
    v1::Attribute *a = n->add_attributes();
    a->set_name(k);
    a->set_i(v);
  }
  static void setFloat(v1::Node *n, const std::string &k, double v) {
    v1::Attribute *a = n->add_attributes();
    a->set_name(k);
    a->set_f(v);
  }
  static void setInts(v1::Node *n, const std::string &k,
                      std::vector<int64_t> v) {
    v1::Attribute *a = n->add_attributes();
    a->set_name(k);
    for (int64_t x : v)
      a->mutable_ints()->add_values(x);
  }
  void output(int v) {
    g.add_outputs(v);
    g.add_output_names(g.values(v).name());
  }
};

HT randomT(std::mt19937 &rng, const std::string &dtype,
           std::vector<int64_t> dims, int64_t lo, int64_t hi) {
  HT t{dtype, dims, {}};
  t.v.resize(size_t(t.size()));
  for (auto &x : t.v)
    x = lo + int64_t(rng() % uint64_t(hi - lo + 1));
  return t;
}

int32_t mbqm(int64_t x, int64_t m, int64_t e) {
  return npu::mbqm(int32_t(x), int32_t(m), int32_t(e));
}

// ---- reference semantics (docs/quantization.md) ------------------------

HT convInteger(const HT &x, const HT &w, int64_t xzp, int64_t wzp,
               std::vector<int64_t> st, std::vector<int64_t> pads,
               std::vector<int64_t> dl, int64_t group) {
  int64_t N = x.dims[0], C = x.dims[1], H = x.dims[2], W = x.dims[3];
  int64_t K = w.dims[0], Cg = w.dims[1], kh = w.dims[2], kw = w.dims[3];
  int64_t OH = (H + pads[0] + pads[2] - ((kh - 1) * dl[0] + 1)) / st[0] + 1;
  int64_t OW = (W + pads[1] + pads[3] - ((kw - 1) * dl[1] + 1)) / st[1] + 1;
  HT y{"i32", {N, K, OH, OW}, {}};
  y.v.resize(size_t(y.size()));
  int64_t Kg = K / group;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t k = 0; k < K; ++k)
      for (int64_t oy = 0; oy < OH; ++oy)
        for (int64_t ox = 0; ox < OW; ++ox) {
          int32_t acc = 0;
          for (int64_t c = 0; c < Cg; ++c)
            for (int64_t ky = 0; ky < kh; ++ky)
              for (int64_t kx = 0; kx < kw; ++kx) {
                int64_t iy = oy * st[0] - pads[0] + ky * dl[0];
                int64_t ix = ox * st[1] - pads[1] + kx * dl[1];
                int64_t xv = xzp; // padding reads the zero point
                if (iy >= 0 && iy < H && ix >= 0 && ix < W)
                  xv = x.v[size_t(((n * C + (k / Kg) * Cg + c) * H + iy) * W +
                                  ix)];
                int64_t wv = w.v[size_t(((k * Cg + c) * kh + ky) * kw + kx)];
                acc = npu::wrapAdd(acc, int32_t((xv - xzp) * (wv - wzp)));
              }
          y.v[size_t(((n * K + k) * OH + oy) * OW + ox)] = acc;
        }
  return y;
}

HT requantize(const HT &x, const HT &m, const HT &s, int64_t xzp, int64_t yzp,
              const std::string &to, int64_t mn, int64_t mx) {
  HT y{to, x.dims, {}};
  int64_t C = x.dims[1], post = 1;
  for (size_t i = 2; i < x.dims.size(); ++i)
    post *= x.dims[i];
  int64_t lowest = to == "u8" ? 0 : -128, highest = to == "u8" ? 255 : 127;
  int64_t lo = std::max(mn, lowest), hi = std::min(mx, highest);
  for (size_t i = 0; i < x.v.size(); ++i) {
    int64_t c = (int64_t(i) / post) % C;
    int64_t mm = m.v[m.v.size() == 1 ? 0 : size_t(c)];
    int64_t ss = s.v[s.v.size() == 1 ? 0 : size_t(c)];
    int64_t r = int64_t(mbqm(x.v[i] - xzp, mm, ss)) + yzp;
    y.v.push_back(lo > hi ? lo : std::clamp(r, lo, hi));
  }
  return y;
}

std::vector<uint8_t> hostBytes(const HT &t) {
  std::string s = bytesOf(t);
  return {s.begin(), s.end()};
}

void run(GB &b, const std::vector<HT> &inputs, const std::vector<HT> &want,
         const std::string &what, size_t wantLayers = 0) {
  std::vector<std::string> why = whyNot(npuTarget(), b.g);
  for (size_t i = 0; i < why.size(); ++i) {
    ASSERT_EQ(why[i], "") << what << ": node " << i << " "
                          << b.g.nodes(int(i)).op();
  }
  LayerProgram lp;
  ASSERT_EQ(buildLayers(npuTarget(), b.g, lp).message(), "") << what;
  if (wantLayers) {
    EXPECT_EQ(lp.layers.size(), wantLayers) << what;
  }
  Program p;
  ASSERT_EQ(compileLayers(lp, {}, p), "") << what;
  if (getenv("NPU_DUMP"))
    printf("%s", programAsm(npuTarget(), p).c_str());
  p.uid = newProgramUid();
  for (uint32_t exec : {uint32_t(EMBER_NPU_EXECUTOR_GOLDEN),
                        uint32_t(EMBER_NPU_EXECUTOR_SYSTEMC)}) {
    std::vector<std::vector<uint8_t>> in, out;
    std::vector<const void *> ip;
    std::vector<void *> op;
    for (auto &t : inputs)
      in.push_back(hostBytes(t));
    for (auto &t : want)
      out.emplace_back(hostBytes(t).size(), 0xAB);
    for (auto &v : in)
      ip.push_back(v.data());
    for (auto &v : out)
      op.push_back(v.data());
    RunConfig rc;
    rc.executor = exec;
    ASSERT_EQ(runProgram(p, rc, ip, op, nullptr), "") << what;
    for (size_t i = 0; i < want.size(); ++i) {
      std::vector<uint8_t> w = hostBytes(want[i]);
      size_t bad = 0, first = 0;
      for (size_t k = 0; k < w.size(); ++k) {
        if (w[k] != out[i][k] && !bad++)
          first = k;
      }
      ASSERT_EQ(bad, 0u) << what << " executor " << exec << ": first at "
                         << first << " got " << int(out[i][first]) << " want "
                         << int(w[first]);
    }
  }
}

struct ConvQ {
  int64_t N = 1, C = 6, H = 9, W = 8, K = 20, k = 3, s = 1, pad = 1, group = 1;
  int64_t dil = 1;
  std::string xt = "u8", yt = "u8";
  bool wzp = false, relu = true;
  std::vector<int64_t> pads; // top, left, bottom, right (empty: `pad`)
};

// x -> ConvInteger -> Add(bias) -> Requantize -> y (returns y's reference).
struct Built {
  int y;
  HT yref;
};

Built convChain(GB &b, std::mt19937 &rng, int x, const HT &xv, const ConvQ &q,
                const std::string &tag) {
  int64_t Cg = q.C / q.group;
  HT w = randomT(rng, "i8", {q.K, Cg, q.k, q.k}, q.wzp ? -120 : -128,
                 q.wzp ? 120 : 127);
  int64_t wzpv = q.wzp ? int64_t(rng() % 9) - 4 : 0;
  int64_t xzpv =
      q.xt == "u8" ? int64_t(rng() % 256) : int64_t(rng() % 256) - 128;
  int wc = b.constant(tag + ".w", w);
  int xz = b.constant(tag + ".xzp", HT{q.xt, {}, {xzpv}});
  int wz = q.wzp ? b.constant(tag + ".wzp", HT{"i8", {}, {wzpv}}) : -1;
  std::vector<int64_t> st = {q.s, q.s}, pads = {q.pad, q.pad, q.pad, q.pad},
                       dl = {q.dil, q.dil};
  if (!q.pads.empty())
    pads = q.pads;
  HT acc = convInteger(xv, w, xzpv, wzpv, st, pads, dl, q.group);
  int a = b.value(tag + ".acc", "i32", acc.dims);
  std::vector<int> cin = {x, wc, xz};
  if (wz >= 0)
    cin.push_back(wz);
  v1::Node *cn = b.node("ConvInteger", tag + ".conv", cin, {a});
  GB::setInt(cn, "group", q.group);
  GB::setInts(cn, "kernel_shape", {q.k, q.k});
  GB::setInts(cn, "strides", st);
  GB::setInts(cn, "pads", pads);
  if (q.dil != 1)
    GB::setInts(cn, "dilations", dl);
  HT bias = randomT(rng, "i32", {q.K}, -20000, 20000);
  int bc = b.constant(tag + ".bias", bias);
  HT biased = acc;
  for (size_t i = 0; i < biased.v.size(); ++i)
    biased.v[i] = npu::wrapAdd(
        int32_t(biased.v[i]),
        int32_t(bias.v[(i / size_t(acc.dims[2] * acc.dims[3])) % size_t(q.K)]));
  int ab = b.value(tag + ".biased", "i32", acc.dims);
  b.node("Add", tag + ".add", {a, bc}, {ab});
  HT m = randomT(rng, "i32", {q.K}, 1 << 30, (1ll << 31) - 1);
  HT s = randomT(rng, "i32", {q.K}, -13, -9);
  int64_t yzp = q.yt == "u8" ? int64_t(rng() % 60) : int64_t(rng() % 60) - 30;
  int mc = b.constant(tag + ".mult", m), sc = b.constant(tag + ".shift", s);
  int yz = b.constant(tag + ".yzp", HT{q.yt, {}, {yzp}});
  int y = b.value(tag + ".y", q.yt, acc.dims);
  v1::Node *rn = b.node("Requantize", tag + ".rq", {ab, mc, sc, -1, yz}, {y});
  GB::setInt(rn, "axis", 1);
  int64_t mn = q.relu ? yzp : (q.yt == "u8" ? 0 : -128);
  GB::setInt(rn, "min", mn);
  GB::setInt(rn, "max", q.yt == "u8" ? 255 : 127);
  return {y,
          requantize(biased, m, s, 0, yzp, q.yt, mn, q.yt == "u8" ? 255 : 127)};
}

} // namespace

TEST(NpuGraph, ConvBiasRequant) {
  std::mt19937 rng(5);
  for (int round = 0; round < 12; ++round) {
    ConvQ q;
    q.C = 1 + int64_t(rng() % 40);
    q.K = 1 + int64_t(rng() % 40);
    q.k = 1 + int64_t(rng() % 5);
    q.pad = std::min<int64_t>(int64_t(rng() % 4), q.k - 1);
    q.s = 1 + int64_t(rng() % 2);
    q.H = q.k + int64_t(rng() % 10);
    q.W = q.k + int64_t(rng() % 10);
    q.xt = rng() % 2 ? "u8" : "i8";
    q.yt = rng() % 2 ? "u8" : "i8";
    q.wzp = rng() % 3 == 0;
    q.relu = rng() % 2;
    if (round % 4 == 3)
      q.K = q.C = q.group = 1 + int64_t(rng() % 40); // depthwise
    GB b;
    HT xv = randomT(rng, q.xt, {q.N, q.C, q.H, q.W}, q.xt == "u8" ? 0 : -128,
                    q.xt == "u8" ? 255 : 127);
    int x = b.input("x", q.xt, xv.dims);
    Built c = convChain(b, rng, x, xv, q, "l0");
    b.output(c.y);
    run(b, {xv}, {c.yref}, "round " + std::to_string(round), 1);
    if (HasFatalFailure())
      return;
  }
}

// One convolution (u8 or i8 in and out and a Relu, alternating with the
// round) run against its reference in `layers` NPU layers, unless the
// target refuses its weights: one tap's weight tile over half of the
// weight memory (an 11x11 or 9x9 kernel whose taps do not fit at DIM 32
// splits them over passes instead, docs/npu-sdk.md "Split tiling"),
// refused for that, not for the lines or padding these tests are about.
void runOneConv(std::mt19937 &rng, ConvQ q, int round, size_t layers) {
  q.xt = round % 2 ? "u8" : "i8";
  q.yt = round % 3 ? "u8" : "i8";
  q.relu = round % 2 == 0;
  GB b;
  HT xv = randomT(rng, q.xt, {q.N, q.C, q.H, q.W}, q.xt == "u8" ? 0 : -128,
                  q.xt == "u8" ? 255 : 127);
  int x = b.input("x", q.xt, xv.dims);
  Built bc = convChain(b, rng, x, xv, q, "l0");
  b.output(bc.y);
  const std::vector<std::string> why = whyNot(npuTarget(), b.g);
  if (!why.empty() &&
      why[0].find("the weights of one tap of one input channel tile") !=
          std::string::npos)
    return;
  run(b, {xv}, {bc.yref}, "case " + std::to_string(round), layers);
}

// Convolutions whose output line does not fit the memories whole (or is
// wider than a load's line) run in column bands: AlexNet's first layer
// (11x11, stride 4, 224 wide), a 3x3 over 900 pixels, depthwise and grouped
// ones, padded, strided and dilated, up to 1300 pixels wide.
TEST(NpuGraph, ConvColumnBands) {
  std::mt19937 rng(11);
  struct Case {
    int64_t C, K, H, W, k, s, pad, group, dil;
  };
  const Case cases[] = {
      {3, 16, 15, 224, 11, 4, 0, 1, 1},  // AlexNet's first layer
      {3, 20, 19, 227, 11, 4, 2, 1, 1},  // padded, two output tiles
      {8, 8, 5, 900, 3, 1, 1, 1, 1},     // 3 lines of 902 pixels
      {16, 16, 6, 1100, 3, 2, 1, 16, 1}, // depthwise, wider than a line
      {16, 24, 5, 900, 3, 1, 1, 2, 1},   // grouped
      {8, 8, 7, 700, 3, 1, 2, 1, 2},     // dilated
      {4, 8, 6, 1300, 5, 2, 2, 1, 1},    // 5x5 stride 2, 1300 wide
      {16, 16, 9, 1000, 5, 1, 2, 16, 1}, // depthwise 5x5
  };
  int round = 0;
  for (const Case &c : cases) {
    ConvQ q;
    q.C = c.C;
    q.K = c.K;
    q.H = c.H;
    q.W = c.W;
    q.k = c.k;
    q.s = c.s;
    q.pad = c.pad;
    q.group = c.group;
    q.dil = c.dil;
    runOneConv(rng, q, round++, 1);
    if (HasFatalFailure())
      return;
  }
}

// Padding the loads cannot add (over 3 per side, LOAD's fields, or
// reaching the kernel's extent) is stored with the input by identity layers
// in front of the convolution (padPlan): the style-transfer model's 9x9
// with pads 4, pads up to 8, asymmetric, a 1x1 padded by 3, depthwise,
// grouped, strided and dilated, u8 and i8 inputs with nonzero zero points
// (the padding's value). The layer count checks the identity layers.
TEST(NpuGraph, ConvPadsBeyondLoads) {
  std::mt19937 rng(5);
  struct Case {
    int64_t C, K, H, W, k, s, group, dil;
    std::vector<int64_t> pads;
    size_t layers; // identity layers + the convolution
  };
  const Case cases[] = {
      {3, 32, 12, 14, 9, 1, 1, 1, {4, 4, 4, 4}, 2}, // fns-candy's first
      {32, 3, 10, 9, 9, 1, 1, 1, {4, 4, 4, 4}, 2},  // and its last
      {8, 8, 5, 6, 3, 1, 1, 1, {8, 5, 7, 6}, 5},    // pads up to 8
      {5, 16, 4, 7, 1, 1, 1, 1, {3, 0, 1, 2}, 3},   // 1x1 padded by 3
      {16, 16, 7, 9, 5, 2, 16, 1, {6, 0, 4, 5}, 3}, // depthwise, strided
      {12, 8, 6, 6, 3, 1, 4, 2, {5, 5, 5, 5}, 3},   // grouped, dilated
      {20, 40, 3, 3, 7, 1, 20, 1, {7, 7, 7, 7}, 4}, // x 2 depthwise
  };
  int round = 0;
  for (const Case &c : cases) {
    ConvQ q;
    q.C = c.C, q.K = c.K, q.H = c.H, q.W = c.W, q.k = c.k, q.s = c.s;
    q.group = c.group, q.dil = c.dil, q.pads = c.pads;
    runOneConv(rng, q, round++, c.layers);
    if (HasFatalFailure())
      return;
  }
}

namespace {

HT maxPool(const HT &x, int64_t k, int64_t s) {
  int64_t N = x.dims[0], C = x.dims[1], H = x.dims[2], W = x.dims[3];
  int64_t OH = (H - k) / s + 1, OW = (W - k) / s + 1;
  HT y{x.dtype, {N, C, OH, OW}, {}};
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t oy = 0; oy < OH; ++oy)
        for (int64_t ox = 0; ox < OW; ++ox) {
          int64_t m = INT64_MIN;
          for (int64_t ky = 0; ky < k; ++ky)
            for (int64_t kx = 0; kx < k; ++kx)
              m = std::max(m, x.v[size_t(((n * C + c) * H + oy * s + ky) * W +
                                         ox * s + kx)]);
          y.v.push_back(m);
        }
  return y;
}

} // namespace

// conv -> maxpool (fused), conv -> concat <- conv (placed), reshape ->
// matmul: the MNIST-like and Inception-like shapes.
TEST(NpuGraph, PoolConcatReshapeMatMul) {
  std::mt19937 rng(11);
  GB b;
  ConvQ q;
  q.C = 3;
  q.K = 2 * int64_t(ember::npu::kDim);
  q.H = q.W = 12;
  HT xv = randomT(rng, "u8", {1, q.C, q.H, q.W}, 0, 255);
  int x = b.input("x", "u8", xv.dims);
  Built c0 = convChain(b, rng, x, xv, q, "a");
  ConvQ q1 = q;
  q1.K = 5;
  Built c1 = convChain(b, rng, x, xv, q1, "b");
  // Concat along channels: 2*DIM + 5.
  HT cat{"u8", {1, q.K + q1.K, q.H, q.W}, {}};
  cat.v = c0.yref.v;
  cat.v.insert(cat.v.end(), c1.yref.v.begin(), c1.yref.v.end());
  int cy = b.value("cat", "u8", cat.dims);
  v1::Node *cn = b.node("Concat", "cat", {c0.y, c1.y}, {cy});
  GB::setInt(cn, "axis", 1);
  // Max pool 2x2/2 of the concat: a layer of its own.
  HT pooled = maxPool(cat, 2, 2);
  int py = b.value("pool", "u8", pooled.dims);
  v1::Node *pn = b.node("MaxPool", "pool", {cy}, {py});
  GB::setInts(pn, "kernel_shape", {2, 2});
  GB::setInts(pn, "strides", {2, 2});
  // A conv fused with its max pool, then flattened into a MatMul.
  ConvQ q2;
  q2.C = q.K + q1.K;
  q2.K = 7;
  q2.H = q2.W = 6;
  q2.k = 3;
  q2.pad = 0;
  Built c2 = convChain(b, rng, py, pooled, q2, "c");
  HT p2 = maxPool(c2.yref, 4, 4); // 4x4 -> 1x1
  int p2y = b.value("pool2", "u8", p2.dims);
  v1::Node *pn2 = b.node("MaxPool", "pool2", {c2.y}, {p2y});
  GB::setInts(pn2, "kernel_shape", {4, 4});
  GB::setInts(pn2, "strides", {4, 4});
  HT flat = p2;
  flat.dims = {1, 7};
  int fy = b.value("flat", "u8", flat.dims);
  b.node("Flatten", "flat", {p2y}, {fy});
  HT B = randomT(rng, "i8", {7, 10}, -128, 127);
  int bc = b.constant("B", B);
  int az = b.constant("azp", HT{"u8", {}, {5}});
  int mm = b.value("mm", "i32", {1, 10});
  b.node("MatMulInteger", "fc", {fy, bc, az}, {mm});
  HT acc{"i32", {1, 10}, {}};
  for (int64_t j = 0; j < 10; ++j) {
    int64_t s = 0;
    for (int64_t k = 0; k < 7; ++k)
      s += (flat.v[size_t(k)] - 5) * B.v[size_t(k * 10 + j)];
    acc.v.push_back(s);
  }
  HT m = randomT(rng, "i32", {1}, 1 << 30, (1ll << 31) - 1);
  HT s = HT{"i32", {1}, {-8}};
  int mc = b.constant("fc.m", m), sc = b.constant("fc.s", s);
  int out = b.value("out", "i8", {1, 10});
  b.node("Requantize", "fc.rq", {mm, mc, sc}, {out});
  b.output(out);
  HT want = requantize(acc, m, s, 0, 0, "i8", -128, 127);
  // Layers: a, b (into the concat), pool, c+pool2 (fused), fc.
  run(b, {xv}, {want}, "pool/concat/reshape/matmul", 5);
}

// YOLO's C2f and an upsampling neck: a conv, a Split into views of its
// result, a conv of the second part, the Concat of both parts and that
// conv's result (the first conv's result placed whole: no copy), a nearest
// Resize by 2 of the second conv's result and its Concat with a partition
// input (which keeps its storage: copied).
TEST(NpuGraph, SplitConcatResize) {
  std::mt19937 rng(31);
  const int64_t D = npu::kDim;
  GB b;
  ConvQ q;
  q.C = 5;
  q.K = 2 * D;
  q.H = 5;
  q.W = 7;
  HT xv = randomT(rng, "u8", {1, q.C, q.H, q.W}, 0, 255);
  int x = b.input("x", "u8", xv.dims);
  Built c0 = convChain(b, rng, x, xv, q, "a");
  // Split into two parts of D channels.
  HT s0{"u8", {1, D, q.H, q.W}, {}}, s1 = s0;
  const size_t half = size_t(D * q.H * q.W);
  s0.v.assign(c0.yref.v.begin(), c0.yref.v.begin() + long(half));
  s1.v.assign(c0.yref.v.begin() + long(half), c0.yref.v.end());
  int sy0 = b.value("s0", "u8", s0.dims), sy1 = b.value("s1", "u8", s1.dims);
  int sizes = b.constant("sizes", HT{"i64", {2}, {D, D}});
  GB::setInt(b.node("Split", "split", {c0.y, sizes}, {sy0, sy1}), "axis", 1);
  ConvQ q1 = q;
  q1.C = D;
  q1.K = D + 3;
  Built c1 = convChain(b, rng, sy1, s1, q1, "b");
  HT cat{"u8", {1, 2 * D + q1.K, q.H, q.W}, c0.yref.v};
  cat.v.insert(cat.v.end(), c1.yref.v.begin(), c1.yref.v.end());
  int cy = b.value("cat", "u8", cat.dims);
  GB::setInt(b.node("Concat", "cat", {sy0, sy1, c1.y}, {cy}), "axis", 1);
  b.output(cy);
  // Nearest Resize by 2 (asymmetric, floor) of the second conv's result.
  HT up{"u8", {1, q1.K, 2 * q.H, 2 * q.W}, {}};
  for (int64_t c = 0; c < q1.K; ++c)
    for (int64_t y = 0; y < 2 * q.H; ++y)
      for (int64_t xx = 0; xx < 2 * q.W; ++xx)
        up.v.push_back(c1.yref.v[size_t((c * q.H + y / 2) * q.W + xx / 2)]);
  int scales = b.constant("scales", HT{"f32", {4}, {1, 1, 2, 2}});
  int uy = b.value("up", "u8", up.dims);
  v1::Node *rn = b.node("Resize", "up", {c1.y, -1, scales}, {uy});
  v1::Attribute *a = rn->add_attributes();
  a->set_name("coordinate_transformation_mode");
  a->set_s("asymmetric");
  a = rn->add_attributes();
  a->set_name("nearest_mode");
  a->set_s("floor");
  HT skip = randomT(rng, "u8", {1, D, 2 * q.H, 2 * q.W}, 0, 255);
  int sk = b.input("skip", "u8", skip.dims);
  HT cat2{"u8", {1, D + q1.K, 2 * q.H, 2 * q.W}, skip.v};
  cat2.v.insert(cat2.v.end(), up.v.begin(), up.v.end());
  int cy2 = b.value("cat2", "u8", cat2.dims);
  GB::setInt(b.node("Concat", "cat2", {sk, uy}, {cy2}), "axis", 1);
  b.output(cy2);
  // Layers: a, b (into the concat), up (a 1x1 pool stored repeated, into
  // cat2), the copy of skip into cat2.
  run(b, {xv, skip}, {cat, cat2}, "split/concat/resize", 4);
}

// A transposed convolution's phases as the lowering writes them
// (docs/quantization.md, "ConvTranspose"): s x s convolution layers (here
// 1x1: kernel = stride) interleaved by Concat -> Reshape -> Transpose ->
// Reshape, which the target runs as placement (each phase stored at its
// pixels: STORE's x step at stride 2, one-row lines at stride 3), then a
// convolution reading the interleaved map.
TEST(NpuGraph, ConvTransposePhases) {
  const int64_t D = npu::kDim;
  for (int64_t s : {2, 3}) {
    std::mt19937 rng(unsigned(40 + s));
    GB b;
    ConvQ q;
    q.C = 5;
    q.K = D + 3;
    q.H = 4;
    q.W = 7;
    q.k = 1;
    q.pad = 0;
    HT xv = randomT(rng, "u8", {1, q.C, q.H, q.W}, 0, 255);
    int x = b.input("x", "u8", xv.dims);
    std::vector<Built> ph;
    for (int64_t p = 0; p < s * s; ++p)
      ph.push_back(convChain(b, rng, x, xv, q, "p" + std::to_string(p)));
    const int64_t K = q.K, H = q.H, W = q.W;
    std::vector<int> ins;
    for (const Built &c : ph)
      ins.push_back(c.y);
    int cy = b.value("cat", "u8", {1, s * s * K, H, W});
    GB::setInt(b.node("Concat", "cat", ins, {cy}), "axis", 1);
    int r1s = b.constant("r1s", HT{"i64", {6}, {1, s, s, K, H, W}});
    int r1 = b.value("r1", "u8", {1, s, s, K, H, W});
    b.node("Reshape", "r1", {cy, r1s}, {r1});
    int t = b.value("t", "u8", {1, K, H, s, W, s});
    GB::setInts(b.node("Transpose", "t", {r1}, {t}), "perm",
                {0, 3, 4, 1, 5, 2});
    int r2s = b.constant("r2s", HT{"i64", {4}, {1, K, s * H, s * W}});
    HT up{"u8", {1, K, s * H, s * W}, {}};
    up.v.resize(size_t(up.size()));
    for (int64_t p = 0; p < s * s; ++p)
      for (int64_t k = 0; k < K; ++k)
        for (int64_t y = 0; y < H; ++y)
          for (int64_t xx = 0; xx < W; ++xx)
            up.v[size_t((k * s * H + s * y + p / s) * s * W + s * xx + p % s)] =
                ph[size_t(p)].yref.v[size_t((k * H + y) * W + xx)];
    int uy = b.value("up", "u8", up.dims);
    b.node("Reshape", "r2", {t, r2s}, {uy});
    b.output(uy);
    ConvQ q2;
    q2.C = K;
    q2.K = 9;
    q2.H = s * H;
    q2.W = s * W;
    Built after = convChain(b, rng, uy, up, q2, "after");
    b.output(after.y);
    // Layers: the s x s phases and the convolution after them.
    run(b, {xv}, {up, after.yref}, "convtranspose phases s" + std::to_string(s),
        size_t(s * s + 1));
  }
}

// A global mean with new output parameters: Cast -> Sub -> ReduceSum ->
// Requantize (docs/quantization.md), and one with the input's parameters:
// AveragePool over the whole image (rounding half up). Rounds 6 and 7: maps
// larger than half of ACT (60x70, and EfficientNet's 112x112), loaded in
// bands of lines summed into the same accumulator row.
TEST(NpuGraph, GlobalMeans) {
  std::mt19937 rng(21);
  for (int round = 0; round < 8; ++round) {
    std::string dt = round % 2 ? "u8" : "i8";
    int64_t N = 1 + round % 2, C = 1 + int64_t(rng() % 70),
            H = 1 + int64_t(rng() % 12), W = 1 + int64_t(rng() % 12);
    if (round == 5) {
      H = 25; // DS-CNN's 25x5
      W = 5;
    }
    if (round == 6)
      H = 60, W = 70;
    if (round == 7)
      C = 24, H = 112, W = 112;
    GB b;
    HT xv = randomT(rng, dt, {N, C, H, W}, dt == "u8" ? 0 : -128,
                    dt == "u8" ? 255 : 127);
    int x = b.input("x", dt, xv.dims);
    int c = b.value("c", "i32", xv.dims);
    v1::Node *cn = b.node("Cast", "cast", {x}, {c});
    GB::setInt(cn, "to", 6);
    int64_t zp = dt == "u8" ? int64_t(rng() % 256) : int64_t(rng() % 256) - 128;
    int zc = b.constant("zp", HT{"i32", {}, {zp}});
    int s = b.value("s", "i32", xv.dims);
    b.node("Sub", "sub", {c, zc}, {s});
    int axes = b.constant("axes", HT{"i64", {2}, {2, 3}});
    int r = b.value("r", "i32", {N, C, 1, 1});
    v1::Node *rn = b.node("ReduceSum", "sum", {s, axes}, {r});
    GB::setInt(rn, "keepdims", 1);
    HT sum{"i32", {N, C, 1, 1}, {}};
    for (int64_t n = 0; n < N; ++n)
      for (int64_t ch = 0; ch < C; ++ch) {
        int64_t acc = 0;
        for (int64_t k = 0; k < H * W; ++k)
          acc += xv.v[size_t((n * C + ch) * H * W + k)] - zp;
        sum.v.push_back(acc);
      }
    HT m{"i32", {1}, {int64_t(1) << 30}}, sh{"i32", {1}, {-int64_t(rng() % 7)}};
    if (round >= 6) // sums of thousands of pixels: within int8 after it
      sh.v[0] = -14;
    int mc = b.constant("m", m), sc = b.constant("sh", sh);
    int yz = b.constant("yz", HT{dt, {}, {dt == "u8" ? 100 : 3}});
    int y = b.value("y", dt, {N, C, 1, 1});
    b.node("Requantize", "rq", {r, mc, sc, -1, yz}, {y});
    // The AveragePool branch (same parameters as the input).
    int p = b.value("p", dt, {N, C, 1, 1});
    v1::Node *pn = b.node("AveragePool", "gap", {x}, {p});
    GB::setInts(pn, "kernel_shape", {H, W});
    HT avg{dt, {N, C, 1, 1}, {}};
    for (int64_t n = 0; n < N; ++n)
      for (int64_t ch = 0; ch < C; ++ch) {
        int64_t acc = 0;
        for (int64_t k = 0; k < H * W; ++k)
          acc += xv.v[size_t((n * C + ch) * H * W + k)];
        // floor(sum / n + 1/2)
        int64_t cnt = H * W, num = 2 * acc + cnt, den = 2 * cnt;
        int64_t qv = num / den - ((num % den != 0 && num < 0) ? 1 : 0);
        avg.v.push_back(qv);
      }
    b.output(y);
    if (H <= 16 && W <= 16)
      b.output(p);
    std::vector<HT> want = {
        requantize(sum, m, sh, 0, dt == "u8" ? 100 : 3, dt, -1000, 1000)};
    if (H <= 16 && W <= 16)
      want.push_back(avg);
    else
      b.g.mutable_nodes()->RemoveLast();
    run(b, {xv}, want, "global means round " + std::to_string(round));
    if (HasFatalFailure())
      return;
  }
}

// A global mean of an int16 map (16x8: Cast to i64 -> ReduceSum ->
// Requantize of the int64 into int8) over maps within a quarter of ACT (two
// byte planes in its lower half), exactly a quarter (32x32 at DIM 16) and
// larger (loaded in bands of lines).
TEST(NpuGraph, GlobalMeans16) {
  std::mt19937 rng(22);
  const int64_t shapes[][4] = {{1, 20, 9, 11},
                               {1, 20, 32, 32},
                               {1, 20, 33, 32},
                               {2, 37, 40, 60},
                               {1, 16, 112, 112}};
  for (const auto &sh4 : shapes) {
    const int64_t N = sh4[0], C = sh4[1], H = sh4[2], W = sh4[3];
    GB b;
    HT xv = randomT(rng, "i16", {N, C, H, W}, -32768, 32767);
    int x = b.input("x", "i16", xv.dims);
    int c = b.value("c", "i64", xv.dims);
    v1::Node *cn = b.node("Cast", "cast", {x}, {c});
    GB::setInt(cn, "to", 7);
    int axes = b.constant("axes", HT{"i64", {2}, {2, 3}});
    int r = b.value("r", "i64", {N, C, 1, 1});
    v1::Node *rn = b.node("ReduceSum", "sum", {c, axes}, {r});
    GB::setInt(rn, "keepdims", 1);
    HT sum{"i64", {N, C, 1, 1}, {}};
    for (int64_t n = 0; n < N; ++n)
      for (int64_t ch = 0; ch < C; ++ch) {
        int64_t acc = 0;
        for (int64_t k = 0; k < H * W; ++k)
          acc += xv.v[size_t((n * C + ch) * H * W + k)];
        sum.v.push_back(acc);
      }
    HT m{"i32", {1}, {int64_t(1) << 30}}, sh{"i32", {1}, {-16}};
    int mc = b.constant("m", m), sc = b.constant("sh", sh);
    int yz = b.constant("yz", HT{"i8", {}, {3}});
    int y = b.value("y", "i8", {N, C, 1, 1});
    b.node("Requantize", "rq", {r, mc, sc, -1, yz}, {y});
    b.output(y);
    HT want{"i8", {N, C, 1, 1}, {}};
    for (int64_t v : sum.v) // the 16x8 requantization of docs/quantization.md
      want.v.push_back(
          ember::quant::requantize16x8(v, {1 << 30, -16}, 3, -128, 127));
    run(b, {xv}, {want},
        "int16 global mean " + std::to_string(H) + "x" + std::to_string(W));
    if (HasFatalFailure())
      return;
  }
}

// AveragePool with padding and count_include_pad 0 (Inception's 3x3/1 pad 1
// branch, ShuffleNet's 3x3/2 pad 1 shortcut): claimed by the NPU, and each
// window that overlaps the padding divides by its taps inside the image.
TEST(NpuGraph, AveragePoolExcludingPadding) {
  std::mt19937 rng(31);
  for (int64_t s : {1, 2}) {
    std::string dt = s == 1 ? "u8" : "i8";
    int64_t N = 1, C = 20, H = 9, W = 7, k = 3, pad = 1;
    GB b;
    HT xv = randomT(rng, dt, {N, C, H, W}, dt == "u8" ? 0 : -128,
                    dt == "u8" ? 255 : 127);
    int x = b.input("x", dt, xv.dims);
    int64_t OH = (H + 2 * pad - k) / s + 1, OW = (W + 2 * pad - k) / s + 1;
    int y = b.value("y", dt, {N, C, OH, OW});
    v1::Node *pn = b.node("AveragePool", "avg", {x}, {y});
    GB::setInts(pn, "kernel_shape", {k, k});
    GB::setInts(pn, "strides", {s, s});
    GB::setInts(pn, "pads", {pad, pad, pad, pad});
    b.output(y);
    HT want{dt, {N, C, OH, OW}, {}};
    for (int64_t c = 0; c < C; ++c)
      for (int64_t oy = 0; oy < OH; ++oy)
        for (int64_t ox = 0; ox < OW; ++ox) {
          int64_t sum = 0, cnt = 0;
          for (int64_t ky = 0; ky < k; ++ky)
            for (int64_t kx = 0; kx < k; ++kx) {
              int64_t iy = oy * s - pad + ky, ix = ox * s - pad + kx;
              if (iy >= 0 && iy < H && ix >= 0 && ix < W) {
                sum += xv.v[size_t((c * H + iy) * W + ix)];
                ++cnt;
              }
            }
          // floor(sum / cnt + 1/2)
          int64_t num = 2 * sum + cnt, den = 2 * cnt;
          want.v.push_back(num / den - ((num % den != 0 && num < 0) ? 1 : 0));
        }
    run(b, {xv}, {want},
        "average pool excluding padding, stride " + std::to_string(s), 1);
    if (HasFatalFailure())
      return;
  }
}

namespace {

// QuantizedAdd (docs/quantization.md) with numpy broadcasting of b.
// f(a, b) of each element, numpy broadcasting of b.
template <typename F>
HT broadcastAdd(const HT &a, const HT &b, const std::vector<int64_t> &ydims,
                const std::string &to, F f) {
  HT y{to, ydims, {}};
  int64_t n = 1;
  for (int64_t d : ydims)
    n *= d;
  // b's strides against y (numpy: aligned at the right, size-1 dims repeat).
  size_t off = ydims.size() - b.dims.size();
  for (int64_t i = 0; i < n; ++i) {
    int64_t rest = i, bi = 0, stride = 1;
    for (size_t d = ydims.size(); d-- > 0;) {
      int64_t idx = rest % ydims[d];
      rest /= ydims[d];
      if (d >= off) {
        int64_t bd = b.dims[d - off];
        bi += (bd == 1 ? 0 : idx) * stride;
        stride *= bd;
      }
    }
    y.v.push_back(f(int32_t(a.v[size_t(i)]), int32_t(b.v[size_t(bi)])));
  }
  return y;
}

HT quantizedAdd(const HT &a, const HT &b, const std::vector<int64_t> &ydims,
                const ember::quant::AddParams &p, const std::string &to) {
  return broadcastAdd(a, b, ydims, to, [&](int32_t x, int32_t y) {
    return ember::quant::quantizedAdd(x, y, p);
  });
}

} // namespace

// A QuantizedAdd whose b is one pixel repeated: scalar, [1], [C,1,1],
// [1,C,1,1] (constants laid out over the C lanes), a [1,C,1,1] or [C]
// input, against rank-2 and rank-4 results. Before the fix a scalar or [1]
// b was a one-channel tensor, so channels 1.. added 0 (the kit's
// QuantizedAdd(i8[23,17], i8[]) and QuantizedAdd(u8[5,5,7,11], u8[1])).
TEST(NpuGraph, QuantizedAddBroadcast) {
  std::mt19937 rng(31);
  struct Case {
    std::vector<int64_t> y, b;
    bool bConst;
  };
  const Case cases[] = {
      {{23, 17}, {}, true},
      {{5, 5, 7, 11}, {1}, true},
      {{2, 20, 3, 5}, {}, true},
      {{2, 20, 3, 5}, {20, 1, 1}, true},
      {{1, 37, 4, 3}, {1, 37, 1, 1}, true},
      {{1, 37, 4, 3}, {1, 37, 1, 1}, false},
      {{9, 33}, {33}, false},
      {{9, 33}, {1, 1}, true},
      {{3, 1, 2, 2}, {1}, false}, // one channel: a scalar input is fine
  };
  int round = 0;
  for (const Case &c : cases) {
    for (const char *dtc : {"i8", "u8"}) {
      std::string dt = dtc;
      ++round;
      GB b;
      int64_t lo = dt == "u8" ? 0 : -128, hi = dt == "u8" ? 255 : 127;
      HT av = randomT(rng, dt, c.y, lo, hi);
      HT bv = randomT(rng, dt, c.b, lo, hi);
      int a = b.input("a", dt, av.dims);
      int bb = c.bConst ? b.constant("b", bv) : b.input("b", dt, bv.dims);
      int y = b.value("y", dt, c.y);
      ember::quant::AddParams p;
      p.aZp = int32_t(lo + int64_t(rng() % 256));
      p.bZp = int32_t(lo + int64_t(rng() % 256));
      p.yZp = int32_t(lo + int64_t(rng() % 256));
      p.a = {int32_t((1u << 30) + rng() % (1u << 30)), -int32_t(rng() % 8)};
      p.b = {int32_t((1u << 30) + rng() % (1u << 30)), -int32_t(rng() % 8)};
      p.y = {int32_t((1u << 30) + rng() % (1u << 30)),
             -16 - int32_t(rng() % 4)};
      p.lo = int32_t(lo);
      p.hi = int32_t(hi);
      v1::Node *n = b.node("QuantizedAdd", "add", {a, bb}, {y});
      GB::setInt(n, "left_shift", 20);
      GB::setInt(n, "a_zero_point", p.aZp);
      GB::setInt(n, "a_multiplier", p.a.mult);
      GB::setInt(n, "a_shift", p.a.shift);
      GB::setInt(n, "b_zero_point", p.bZp);
      GB::setInt(n, "b_multiplier", p.b.mult);
      GB::setInt(n, "b_shift", p.b.shift);
      GB::setInt(n, "y_multiplier", p.y.mult);
      GB::setInt(n, "y_shift", p.y.shift);
      GB::setInt(n, "y_zero_point", p.yZp);
      b.output(y);
      std::vector<HT> in = {av};
      if (!c.bConst)
        in.push_back(bv);
      run(b, in, {quantizedAdd(av, bv, c.y, p, dt)},
          "round " + std::to_string(round) + " (" + dt + ", b " +
              (c.bConst ? "constant" : "input") + ")");
      if (HasFatalFailure())
        return;
    }
  }
}

// The fixed profile's exact add (a_scale, b_scale, y_scale: VADD exact) on
// the NPU against the rational definition (quant::AddExact), HardSwish's
// x + 3 scales (exact ties) and general ones, i8 and u8, b the same shape,
// a constant pixel or an input pixel, with and without a clamp.
TEST(NpuGraph, QuantizedAddExact) {
  std::mt19937 rng(43);
  struct Case {
    std::vector<int64_t> y, b;
    bool bConst;
  };
  const Case cases[] = {{{1, 16, 16, 16}, {1, 16, 16, 16}, false},
                        {{1, 37, 4, 3}, {1, 37, 1, 1}, true},
                        {{1, 37, 4, 3}, {1, 37, 1, 1}, false},
                        {{9, 33}, {9, 33}, false}};
  int round = 0;
  for (const Case &c : cases)
    for (const char *dtc : {"i8", "u8"}) {
      std::string dt = dtc;
      ++round;
      int64_t lo = dt == "u8" ? 0 : -128, hi = lo + 255;
      ember::quant::AddScales s;
      auto scale = [&](double a, double b) {
        return float(std::exp(std::uniform_real_distribution<double>(
                         std::log(a), std::log(b))(rng)) /
                     255.0);
      };
      s.sa = scale(0.5, 40);
      s.za = int32_t(lo + int64_t(rng() % 256));
      if (round % 2) { // HardSwish's x + 3
        s.sb = float(3.0 / 255);
        s.sy = float(6.0 / 255);
        s.zb = s.zy = int32_t(lo == 0 ? 0 : -128);
      } else {
        s.sb = scale(0.5, 40);
        s.sy = scale(0.5, 60);
        s.zb = int32_t(lo + int64_t(rng() % 256));
        s.zy = int32_t(lo + int64_t(rng() % 256));
      }
      const int64_t cmin = round % 3 == 0 ? s.zy : lo;
      GB b;
      HT av = randomT(rng, dt, c.y, lo, hi);
      HT bv = randomT(rng, dt, c.b, lo, hi);
      int a = b.input("a", dt, av.dims);
      int bb = c.bConst ? b.constant("b", bv) : b.input("b", dt, bv.dims);
      int y = b.value("y", dt, c.y);
      v1::Node *n = b.node("QuantizedAdd", "add", {a, bb}, {y});
      GB::setFloat(n, "a_scale", double(s.sa));
      GB::setFloat(n, "b_scale", double(s.sb));
      GB::setFloat(n, "y_scale", double(s.sy));
      GB::setInt(n, "a_zero_point", s.za);
      GB::setInt(n, "b_zero_point", s.zb);
      GB::setInt(n, "y_zero_point", s.zy);
      if (cmin != lo)
        GB::setInt(n, "min", cmin); // a fused Relu
      b.output(y);
      std::vector<HT> in = {av};
      if (!c.bConst)
        in.push_back(bv);
      ember::quant::AddExact e(s);
      HT want = broadcastAdd(av, bv, c.y, dt, [&](int32_t x, int32_t z) {
        return ember::quant::addExact(x, z, e, int32_t(cmin), int32_t(hi));
      });
      run(b, in, {want},
          "round " + std::to_string(round) + " (" + dt + ", b " +
              (c.bConst ? "constant" : "input") + ")");
      if (HasFatalFailure())
        return;
    }
}

// A b that is neither a constant nor one pixel of C channels in its own
// layout cannot be repeated over the lanes: refused, naming why.
TEST(NpuGraph, QuantizedAddRepeatedInputRefused) {
  for (std::vector<int64_t> bd :
       {std::vector<int64_t>{}, {1}, {20, 1, 1}, {1, 1, 1, 1}}) {
    GB b;
    int a = b.input("a", "i8", {2, 20, 3, 5});
    int bb = b.input("b", "i8", bd);
    int y = b.value("y", "i8", {2, 20, 3, 5});
    v1::Node *n = b.node("QuantizedAdd", "add", {a, bb}, {y});
    for (const char *k :
         {"a_zero_point", "a_multiplier", "a_shift", "b_zero_point",
          "b_multiplier", "b_shift", "y_multiplier", "y_shift", "y_zero_point"})
      GB::setInt(n, k, 1);
    b.output(y);
    std::vector<std::string> why = whyNot(npuTarget(), b.g);
    ASSERT_EQ(why.size(), 1u);
    EXPECT_NE(why[0].find("is repeated over 20 channels but is not a "
                          "constant"),
              std::string::npos)
        << why[0];
    LayerProgram lp;
    EXPECT_TRUE(buildLayers(npuTarget(), b.g, lp).failed());
  }
}

namespace {

// A product read by `readers` accumulator chains (a bias Add and a
// Requantize, or a Requantize alone), as common-subexpression elimination
// leaves sibling convolutions with one input and one set of weights. With
// `shared16`: an int16 input, an int64 product and int16 results (16x8).
struct SharedCase {
  GB b;
  std::vector<HT> inputs, want;
  size_t layers = 0;
};

// The chains on product `a` (reference `acc`): reader r has a bias Add
// unless r % 3 == 2; the first reader's bias Add is shared by two
// Requantizes when `sharedBias`. One layer per Requantize.
void sharedChains(SharedCase &c, std::mt19937 &rng, int a, const HT &acc,
                  int readers, bool sharedBias, bool w16) {
  const int64_t K = acc.dims[1];
  const size_t per = size_t(acc.size() / (acc.dims[0] * K));
  const std::string rt = w16 ? "i16" : "u8", bt = w16 ? "i64" : "i32";
  for (int r = 0; r < readers; ++r) {
    const std::string tag = "r" + std::to_string(r);
    int src = a;
    HT in = acc;
    if (r % 3 != 2) {
      HT bias = randomT(rng, bt, {K}, -20000, 20000);
      if (acc.dims.size() == 4)
        bias.dims = {1, K, 1, 1};
      int bc = c.b.constant(tag + ".bias", bias);
      for (size_t i = 0; i < in.v.size(); ++i) {
        const int64_t bv = bias.v[(i / per) % size_t(K)];
        in.v[i] =
            w16 ? in.v[i] + bv : npu::wrapAdd(int32_t(in.v[i]), int32_t(bv));
      }
      src = c.b.value(tag + ".biased", bt, acc.dims);
      c.b.node("Add", tag + ".add", {a, bc}, {src});
    }
    const int copies = sharedBias && src != a && r == 0 ? 2 : 1;
    for (int k = 0; k < copies; ++k) {
      const std::string rq = tag + ".rq" + std::to_string(k);
      HT m = randomT(rng, "i32", {K}, 1 << 30, (1ll << 31) - 1);
      HT s = randomT(rng, "i32", {K}, -17, -13);
      const int64_t yzp = w16 ? 0 : int64_t(rng() % 60);
      int mc = c.b.constant(rq + ".m", m), sc = c.b.constant(rq + ".s", s);
      int yz = c.b.constant(rq + ".yzp", HT{rt, {}, {yzp}});
      int y = c.b.value(rq + ".y", rt, acc.dims);
      v1::Node *rn = c.b.node("Requantize", rq, {src, mc, sc, -1, yz}, {y});
      GB::setInt(rn, "axis", 1);
      c.b.output(y);
      if (!w16) {
        c.want.push_back(requantize(in, m, s, 0, yzp, rt, 0, 255));
        continue;
      }
      HT want{rt, acc.dims, {}};
      for (size_t i = 0; i < in.v.size(); ++i) {
        const size_t ch = (i / per) % size_t(K);
        want.v.push_back(ember::quant::requantize16x8(
            in.v[i], {int32_t(m.v[ch]), int32_t(s.v[ch])}, 0, -32768, 32767));
      }
      c.want.push_back(want);
    }
    c.layers += size_t(copies);
  }
}

} // namespace

// Each reader of a shared ConvInteger or MatMulInteger result gets a copy
// of the product (core/accel/Unshare.cpp): every node runs, one GEMM layer
// per reader, bit-exact on the golden and SystemC models.
TEST(NpuGraph, SharedProducts) {
  std::mt19937 rng(23);
  for (int round = 0; round < 6; ++round) {
    const bool w16 = round >= 4, matmul = round % 2 == 1;
    const int readers = 2 + round % 4;
    const int64_t C = 1 + int64_t(rng() % 24), K = 1 + int64_t(rng() % 40),
                  H = 3 + int64_t(rng() % 5), W = 3 + int64_t(rng() % 5);
    SharedCase c;
    const std::string xt = w16 ? "i16" : "u8";
    // (An int16 A is rank 2: the flatten into a MatMulInteger is int8's.)
    std::vector<int64_t> xd = {1, C, H, W};
    if (matmul && w16)
      xd = {1, C * H * W};
    HT xv = randomT(rng, xt, xd, w16 ? -32768 : 0, w16 ? 32767 : 255);
    int x = c.b.input("x", xt, xv.dims);
    c.inputs.push_back(xv);
    const int64_t xzp = w16 ? 0 : int64_t(rng() % 256);
    std::vector<int> in = {x, -1};
    if (!w16)
      in.push_back(c.b.constant("xzp", HT{xt, {}, {xzp}}));
    HT acc;
    int a = -1;
    if (!matmul) { // a 3x3 convolution, padded
      HT w = randomT(rng, "i8", {K, C, 3, 3}, -128, 127);
      in[1] = c.b.constant("w", w);
      acc = convInteger(xv, w, xzp, 0, {1, 1}, {1, 1, 1, 1}, {1, 1}, 1);
      if (w16) { // int64, no wrap
        acc.dtype = "i64";
        for (int64_t k = 0; k < K; ++k)
          for (int64_t p = 0; p < H * W; ++p) {
            int64_t s = 0;
            for (int64_t ch = 0; ch < C; ++ch)
              for (int64_t t = 0; t < 9; ++t) {
                int64_t iy = p / W + t / 3 - 1, ix = p % W + t % 3 - 1;
                if (iy >= 0 && iy < H && ix >= 0 && ix < W)
                  s += xv.v[size_t((ch * H + iy) * W + ix)] *
                       w.v[size_t((k * C + ch) * 9 + t)];
              }
            acc.v[size_t(k * H * W + p)] = s;
          }
      }
      a = c.b.value("acc", acc.dtype, acc.dims);
      v1::Node *cn = c.b.node("ConvInteger", "conv", in, {a});
      GB::setInts(cn, "kernel_shape", {3, 3});
      GB::setInts(cn, "pads", {1, 1, 1, 1});
    } else { // a MatMulInteger, int8 through a flatten (a convolution over
             // the image)
      HT B = randomT(rng, "i8", {C * H * W, K}, -128, 127), xa = xv;
      in[1] = c.b.constant("B", B);
      if (!w16) { // (the flatten of a tensor computed on the NPU: here an
                  // int8 requantization by exactly 1, an identity GEMM)
        const HT one{"i32", {1}, {1 << 30}}, left{"i32", {1}, {1}};
        int m1 = c.b.constant("m1", one), s1 = c.b.constant("s1", left);
        xa = requantize(xv, one, left, 0, 0, xt, 0, 255);
        int xq = c.b.value("xq", xt, xd);
        c.b.node("Requantize", "xq", {x, m1, s1}, {xq});
        in[0] = c.b.value("flat", xt, {1, C * H * W});
        c.b.node("Flatten", "flat", {xq}, {in[0]});
        c.layers = 1;
      }
      acc = HT{w16 ? "i64" : "i32", {1, K}, {}};
      for (int64_t j = 0; j < K; ++j) {
        int64_t s = 0;
        for (int64_t k = 0; k < C * H * W; ++k)
          s += (xa.v[size_t(k)] - xzp) * B.v[size_t(k * K + j)];
        acc.v.push_back(w16 ? s : int64_t(int32_t(uint32_t(s))));
      }
      a = c.b.value("acc", acc.dtype, acc.dims);
      c.b.node("MatMulInteger", "fc", in, {a});
    }
    sharedChains(c, rng, a, acc, readers, round % 3 == 1, w16);
    run(c.b, c.inputs, c.want, "round " + std::to_string(round), c.layers);
    if (HasFatalFailure())
      return;
  }
}

namespace {

// x [N, C, pixels...] with its channels split into the digits `split`
// (C = prod split) and those digits reordered by `order` (output digit j is
// input digit order[j]): what Reshape -> Transpose -> Reshape computes.
HT permuteChannels(const HT &x, const std::vector<int64_t> &split,
                   const std::vector<int64_t> &order) {
  const int64_t N = x.dims[0], C = x.dims[1];
  const int64_t P = x.size() / (N * C);
  std::vector<int64_t> out(split.size());
  for (size_t j = 0; j < order.size(); ++j)
    out[j] = split[size_t(order[j])];
  HT y = x;
  for (int64_t co = 0; co < C; ++co) {
    // Output digits of co (over `out`), then the input channel.
    std::vector<int64_t> d(out.size()), din(split.size());
    int64_t r = co;
    for (size_t j = out.size(); j-- > 0;) {
      d[j] = r % out[j];
      r /= out[j];
    }
    for (size_t j = 0; j < order.size(); ++j)
      din[size_t(order[j])] = d[j];
    int64_t ci = 0;
    for (size_t j = 0; j < split.size(); ++j)
      ci = ci * split[j] + din[j];
    for (int64_t n = 0; n < N; ++n)
      for (int64_t p = 0; p < P; ++p)
        y.v[size_t((n * C + co) * P + p)] = x.v[size_t((n * C + ci) * P + p)];
  }
  return y;
}

// Appends Reshape [N, split..., H, W] -> Transpose -> Reshape [N, C, H, W]
// of x to the graph; returns the result.
int shuffleNodes(GB &b, int x, const std::vector<int64_t> &dims,
                 const std::vector<int64_t> &split,
                 const std::vector<int64_t> &order, const std::string &tag) {
  std::vector<int64_t> r1{dims[0]}, t{dims[0]}, perm{0};
  r1.insert(r1.end(), split.begin(), split.end());
  for (int64_t o : order) {
    t.push_back(split[size_t(o)]);
    perm.push_back(1 + o);
  }
  for (size_t i = 2; i < dims.size(); ++i) {
    r1.push_back(dims[i]);
    t.push_back(dims[i]);
    perm.push_back(int64_t(r1.size()) - 1);
  }
  const std::string dt = b.g.values(x).type().dtype();
  int s1 = b.constant(tag + ".s1", HT{"i64", {int64_t(r1.size())}, r1});
  int v1 = b.value(tag + ".r1", dt, r1);
  b.node("Reshape", tag + ".r1", {x, s1}, {v1});
  int v2 = b.value(tag + ".t", dt, t);
  GB::setInts(b.node("Transpose", tag + ".t", {v1}, {v2}), "perm", perm);
  int s2 = b.constant(tag + ".s2", HT{"i64", {int64_t(dims.size())}, dims});
  int v3 = b.value(tag + ".y", dt, dims);
  b.node("Reshape", tag + ".r2", {v2, s2}, {v3});
  return v3;
}

} // namespace

// Channel permutations (form 'permute', core/accel/Permute.cpp): ShuffleNet's
// shuffle of g groups after a grouped 1x1 convolution is folded into that
// convolution's output channels (two layers: it and the depthwise
// convolution after the shuffle); a shuffle of a max pool's result, and a
// three-digit permutation, run as a 1x1 GEMM of 0/1 weights. Every result
// is checked against the permuted reference, so a mapping applied the
// other way round (the inverse permutation) fails.
TEST(NpuGraph, ChannelShuffle) {
  const int64_t D = npu::kDim;
  int round = 0;
  for (int64_t g : {2, 3, 4}) {
    std::mt19937 rng(unsigned(70 + g));
    // A grouped 1x1 convolution -> shuffle -> depthwise 3x3.
    GB b;
    ConvQ q;
    q.C = 2 * g;
    q.K = g * (g == 3 ? 10 : D / 2 + 3);
    q.k = 1, q.pad = 0, q.group = g;
    q.H = 5, q.W = 6;
    HT xv = randomT(rng, "u8", {1, q.C, q.H, q.W}, 0, 255);
    int x = b.input("x", "u8", xv.dims);
    Built c = convChain(b, rng, x, xv, q, "gconv");
    const std::vector<int64_t> split{g, q.K / g}, order{1, 0};
    HT sh = permuteChannels(c.yref, split, order);
    int s = shuffleNodes(b, c.y, c.yref.dims, split, order, "shuffle");
    ConvQ dq;
    dq.C = dq.K = dq.group = q.K;
    dq.H = q.H, dq.W = q.W;
    Built dw = convChain(b, rng, s, sh, dq, "dw");
    b.output(dw.y);
    run(b, {xv}, {dw.yref}, "shuffle g" + std::to_string(g) + " folded", 2);
    if (HasFatalFailure())
      return;
    // A max pool -> shuffle: the permutation GEMM (output and a conv of it).
    GB b2;
    HT pv = randomT(rng, "i8", {1, q.K, 4, 7}, -128, 127);
    int p = b2.input("p", "i8", pv.dims);
    HT pooled = maxPool(pv, 2, 1);
    int pm = b2.value("pool", "i8", pooled.dims);
    v1::Node *pn = b2.node("MaxPool", "pool", {p}, {pm});
    GB::setInts(pn, "kernel_shape", {2, 2});
    GB::setInts(pn, "strides", {1, 1});
    HT psh = permuteChannels(pooled, split, order);
    int ps = shuffleNodes(b2, pm, pooled.dims, split, order, "ps");
    b2.output(ps);
    run(b2, {pv}, {psh}, "shuffle g" + std::to_string(g) + " of a pool", 2);
    if (HasFatalFailure())
      return;
    ++round;
  }
  // Three digits, (a, b, c) -> (c, a, b), of an ungrouped convolution read
  // twice (the permutation cannot fold: a GEMM of its own).
  std::mt19937 rng(77);
  GB b;
  ConvQ q;
  q.C = 5, q.K = 2 * 3 * 4, q.k = 1, q.pad = 0, q.H = 3, q.W = 4;
  HT xv = randomT(rng, "u8", {1, q.C, q.H, q.W}, 0, 255);
  int x = b.input("x", "u8", xv.dims);
  Built c = convChain(b, rng, x, xv, q, "conv");
  const std::vector<int64_t> split{2, 3, 4}, order{2, 0, 1};
  HT sh = permuteChannels(c.yref, split, order);
  int s = shuffleNodes(b, c.y, c.yref.dims, split, order, "p3");
  b.output(c.y);
  b.output(s);
  run(b, {xv}, {c.yref, sh}, "three-digit permutation", 2);
  EXPECT_EQ(round, 3);
}
