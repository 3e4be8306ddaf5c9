// Capability and layer building from the partition graph (Select.h).
#include "Select.h"

#include "Program.h"

#include "ember/backend/v1/graph.pb.h"
#include "ember/scratchpad/TilePlanner.h"

#include <algorithm>
#include <cstring>
#include <functional>
#include <map>
#include <numeric>
#include <sstream>

namespace ember::npusim {

namespace v1 = ember::backend::v1;

namespace {

// ---- reading the graph -------------------------------------------------

std::string q(const std::string &s) { return "'" + s + "'"; }

const v1::Attribute *attr(const v1::Node &n, const char *name) {
  for (const v1::Attribute &a : n.attributes())
    if (a.name() == name)
      return &a;
  return nullptr;
}
int64_t aInt(const v1::Node &n, const char *name, int64_t dflt) {
  const v1::Attribute *a = attr(n, name);
  return a && a->value_case() == v1::Attribute::kI ? a->i() : dflt;
}
std::vector<int64_t> aInts(const v1::Node &n, const char *name,
                           std::vector<int64_t> dflt) {
  const v1::Attribute *a = attr(n, name);
  if (!a || a->value_case() != v1::Attribute::kInts)
    return dflt;
  return {a->ints().values().begin(), a->ints().values().end()};
}
std::string aStr(const v1::Node &n, const char *name, std::string dflt) {
  const v1::Attribute *a = attr(n, name);
  return a && a->value_case() == v1::Attribute::kS ? a->s() : dflt;
}

bool isQ8(const std::string &d) { return d == "i8" || d == "u8"; }

struct View {
  const v1::Graph &g;
  std::vector<int> producer;
  std::vector<std::vector<int>> users;
  std::vector<int> outUses;
  std::vector<const v1::TensorData *> constant;
  std::vector<bool> isInput;
  std::string error;

  explicit View(const v1::Graph &graph) : g(graph) {
    size_t nv = size_t(g.values_size());
    producer.assign(nv, -1);
    users.assign(nv, {});
    outUses.assign(nv, 0);
    constant.assign(nv, nullptr);
    isInput.assign(nv, false);
    auto ok = [&](int v) { return v >= 0 && size_t(v) < nv; };
    for (int v : g.inputs()) {
      if (!ok(v)) {
        error = "graph input id " + std::to_string(v) + " out of range";
        return;
      }
      isInput[size_t(v)] = true;
    }
    for (const v1::Constant &c : g.constants()) {
      if (!ok(c.value())) {
        error = "constant id out of range";
        return;
      }
      constant[size_t(c.value())] = &c.data();
    }
    for (int i = 0; i < g.nodes_size(); ++i) {
      const v1::Node &n = g.nodes(i);
      for (int v : n.inputs()) {
        if (v == -1)
          continue;
        if (!ok(v)) {
          error = "node " + std::to_string(i) + " reads value id " +
                  std::to_string(v) + ", out of range";
          return;
        }
        users[size_t(v)].push_back(i);
      }
      for (int v : n.outputs()) {
        if (!ok(v)) {
          error = "node " + std::to_string(i) + " writes value id " +
                  std::to_string(v) + ", out of range";
          return;
        }
        producer[size_t(v)] = i;
      }
    }
    for (int v : g.outputs()) {
      if (!ok(v)) {
        error = "graph output id out of range";
        return;
      }
      ++outUses[size_t(v)];
    }
  }
  const v1::TensorType &type(int v) const { return g.values(v).type(); }
  const std::string &dtype(int v) const { return type(v).dtype(); }
  std::vector<int64_t> dims(int v) const {
    return {type(v).dims().begin(), type(v).dims().end()};
  }
  const std::string &name(int v) const { return g.values(v).name(); }
  size_t uses(int v) const {
    return users[size_t(v)].size() + size_t(outUses[size_t(v)]);
  }
  int in(const v1::Node &n, int i) const {
    return i < n.inputs_size() ? n.inputs(i) : -1;
  }
  int out(const v1::Node &n, int i = 0) const {
    return i < n.outputs_size() ? n.outputs(i) : -1;
  }
  // Integer constant data (i8, u8, i16, i32, i64, u16, u32), row-major.
  bool ints(int v, std::vector<int64_t> &out) const {
    if (v < 0 || !constant[size_t(v)])
      return false;
    const std::string &d = constant[size_t(v)]->data();
    const std::string &t = dtype(v);
    size_t es = t == "i8" || t == "u8"     ? 1
                : t == "i16" || t == "u16" ? 2
                : t == "i32" || t == "u32" ? 4
                : t == "i64"               ? 8
                                           : 0;
    if (!es || d.size() % es)
      return false;
    out.resize(d.size() / es);
    for (size_t i = 0; i < out.size(); ++i) {
      const char *p = d.data() + i * es;
      if (t == "i8")
        out[i] = int8_t(p[0]);
      else if (t == "u8")
        out[i] = uint8_t(p[0]);
      else if (t == "i16") {
        int16_t x;
        std::memcpy(&x, p, 2);
        out[i] = x;
      } else if (t == "u16") {
        uint16_t x;
        std::memcpy(&x, p, 2);
        out[i] = x;
      } else if (t == "i32") {
        int32_t x;
        std::memcpy(&x, p, 4);
        out[i] = x;
      } else if (t == "u32") {
        uint32_t x;
        std::memcpy(&x, p, 4);
        out[i] = x;
      } else {
        std::memcpy(&out[i], p, 8);
      }
    }
    return true;
  }
};

int64_t prod(const std::vector<int64_t> &d, size_t from, size_t to) {
  int64_t p = 1;
  for (size_t i = from; i < to && i < d.size(); ++i)
    p *= d[i];
  return p;
}

// The stored (int8) value of a zero point of a tensor of dtype `d`.
int32_t storedZp(const std::string &d, int64_t zp) {
  return int32_t(d == "u8" ? zp - 128 : zp);
}

// ---- convolution geometry ------------------------------------------------

struct ConvGeom {
  int64_t N, C, H, W, K, OH, OW, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr, groups;
};

std::string convGeom(const View &v, const v1::Node &n, int x, int w, int y,
                     ConvGeom &g) {
  auto xd = v.dims(x), wd = v.dims(w), yd = v.dims(y);
  if (xd.size() != 4 || wd.size() != 4 || yd.size() != 4)
    return "the NPU runs 2-D convolutions (rank 4), " + q(v.name(x)) +
           " has rank " + std::to_string(xd.size());
  g.N = xd[0];
  g.C = xd[1];
  g.H = xd[2];
  g.W = xd[3];
  g.K = wd[0];
  g.groups = aInt(n, "group", 1);
  auto ks = aInts(n, "kernel_shape", {wd[2], wd[3]});
  auto st = aInts(n, "strides", {1, 1});
  auto dl = aInts(n, "dilations", {1, 1});
  auto pads = aInts(n, "pads", {0, 0, 0, 0});
  if (ks.size() != 2 || st.size() != 2 || dl.size() != 2 || pads.size() != 4)
    return "kernel_shape, strides, dilations or pads are not 2-D";
  g.kh = ks[0];
  g.kw = ks[1];
  g.sh = st[0];
  g.sw = st[1];
  g.dh = dl[0];
  g.dw = dl[1];
  if (g.kh != wd[2] || g.kw != wd[3])
    return "kernel_shape does not match the weights";
  int64_t ekh = (g.kh - 1) * g.dh + 1, ekw = (g.kw - 1) * g.dw + 1;
  std::string ap = aStr(n, "auto_pad", "NOTSET");
  if (ap == "VALID") {
    pads = {0, 0, 0, 0};
  } else if (ap == "SAME_UPPER" || ap == "SAME_LOWER") {
    int64_t o[2] = {yd[2], yd[3]}, e[2] = {ekh, ekw}, i[2] = {g.H, g.W},
            s[2] = {g.sh, g.sw};
    for (int d = 0; d < 2; ++d) {
      int64_t total = std::max<int64_t>(0, (o[d] - 1) * s[d] + e[d] - i[d]);
      int64_t small = total / 2, big = total - small;
      pads[size_t(d)] = ap == "SAME_UPPER" ? small : big;
      pads[size_t(d) + 2] = ap == "SAME_UPPER" ? big : small;
    }
  } else if (ap != "NOTSET" && !ap.empty()) {
    return "auto_pad " + ap + " is not known";
  }
  g.pt = pads[0];
  g.pl = pads[1];
  g.pb = pads[2];
  g.pr = pads[3];
  g.OH = yd[2];
  g.OW = yd[3];
  if (g.groups < 1 || g.C % g.groups || g.K % g.groups ||
      wd[1] != g.C / g.groups || yd[1] != g.K || yd[0] != g.N)
    return "the shapes do not match a grouped convolution";
  return "";
}

// The NPU's limits on a convolution (docs/npu-backend.md, "What runs").
std::string convLimits(const ConvGeom &g) {
  std::ostringstream os;
  if (g.kh < 1 || g.kh > 16 || g.kw < 1 || g.kw > 16)
    os << "kernel " << g.kh << "x" << g.kw << " (the NPU runs 1..16)";
  else if (g.kh * g.kw * kDim > npu::memRows(EMBER_NPU_MEM_WGT) / 2)
    os << "kernel " << g.kh << "x" << g.kw << ": its weights for one input "
       << "channel tile (" << g.kh * g.kw * kDim
       << " rows) exceed half of WGT (" << npu::memRows(EMBER_NPU_MEM_WGT) / 2
       << " rows)";
  else if (g.sh < 1 || g.sh > 4 || g.sw < 1 || g.sw > 4)
    os << "strides " << g.sh << "x" << g.sw << " (the NPU runs 1..4)";
  else if (g.dh < 1 || g.dh > 4 || g.dw < 1 || g.dw > 4)
    os << "dilations " << g.dh << "x" << g.dw << " (the NPU runs 1..4)";
  else if (std::max({g.pt, g.pl, g.pb, g.pr}) > 3 ||
           std::min({g.pt, g.pl, g.pb, g.pr}) < 0)
    os << "pads " << g.pt << "," << g.pl << "," << g.pb << "," << g.pr
       << " (LOAD pads at most 3 per side)";
  else if (g.W > 1023 || g.OW > 1023)
    os << "image width " << g.W << " (LOAD and GEMM rows at most 1023)";
  else if (g.sh * (g.W + g.pl + g.pr) > 4095)
    os << "stride x padded width " << g.sh * (g.W + g.pl + g.pr)
       << " (GEMM act_ostride at most 4095)";
  else if (((g.kh - 1) * g.dh + 1) * (g.W + g.pl + g.pr) >
           npu::memRows(EMBER_NPU_MEM_ACT) / 2)
    os << "one output line reads " << ((g.kh - 1) * g.dh + 1) << " lines of "
       << (g.W + g.pl + g.pr) << " pixels, over half of ACT ("
       << npu::memRows(EMBER_NPU_MEM_ACT) / 2 << " rows)";
  else if (g.OW > npu::memRows(EMBER_NPU_MEM_OUT) / 4)
    os << "output width " << g.OW << " (an output line must fit a quarter "
       << "of OUT, " << npu::memRows(EMBER_NPU_MEM_OUT) / 4 << " rows)";
  return os.str();
}

// A weight zero point folds into the weights when every w - zp fits int8.
// 8-bit weights are read from their bytes, not widened to int64 first: a
// fully connected layer's weights are tens of millions of elements (VGG's
// first FC layer 102 M), and each of querySupport and buildLayers folds them.
std::string foldWeights(const View &v, int w, int wzp, int64_t K,
                        std::vector<int8_t> &out) {
  const bool bytes = w >= 0 && v.constant[size_t(w)] &&
                     (v.dtype(w) == "i8" || v.dtype(w) == "u8");
  std::vector<int64_t> wv, zv;
  if (!bytes && !v.ints(w, wv))
    return "the weights " + q(v.name(w)) + " are not a constant";
  if (wzp >= 0 && !v.ints(wzp, zv))
    return "the weight zero point " + q(v.name(wzp)) + " is not a constant";
  if (!zv.empty() && zv.size() != 1 && int64_t(zv.size()) != K)
    return "the weight zero point has " + std::to_string(zv.size()) +
           " entries (1 or " + std::to_string(K) + " expected)";
  const std::string *raw = bytes ? &v.constant[size_t(w)]->data() : nullptr;
  const bool u8 = bytes && v.dtype(w) == "u8";
  const size_t n = raw ? raw->size() : wv.size();
  int64_t per = K ? int64_t(n) / K : 0;
  out.resize(n);
  for (size_t i = 0; i < n; ++i) {
    int64_t zp = zv.empty() ? 0 : zv.size() == 1 ? zv[0] : zv[i / size_t(per)];
    int64_t wi = !raw ? wv[i]
                 : u8 ? int64_t(uint8_t((*raw)[i]))
                      : int64_t(int8_t((*raw)[i]));
    int64_t x = wi - zp;
    if (x < -128 || x > 127)
      return "weight zero point " + std::to_string(zp) +
             " does not fold into int8 weights (w - zp = " + std::to_string(x) +
             "); the NPU multiplies int8 by int8";
    out[i] = int8_t(x);
  }
  return "";
}

// A scalar integer constant (absent: 0).
std::string scalarZp(const View &v, int z, int64_t &out) {
  out = 0;
  if (z < 0)
    return "";
  std::vector<int64_t> zv;
  if (!v.ints(z, zv) || zv.size() != 1)
    return "zero point " + q(v.name(z)) + " is not a constant scalar";
  out = zv[0];
  return "";
}

// ---- per-op local checks -------------------------------------------------

std::string whyConv(const View &v, const v1::Node &n) {
  int x = v.in(n, 0), w = v.in(n, 1), y = v.out(n);
  if (x < 0 || w < 0 || y < 0)
    return "ConvInteger needs x and w";
  if (!isQ8(v.dtype(x)))
    return "input " + q(v.name(x)) + " is " + v.dtype(x) + " (i8 or u8)";
  if (v.dtype(y) != "i32")
    return "result is " + v.dtype(y) + " (i32 expected)";
  ConvGeom g;
  std::string e = convGeom(v, n, x, w, y, g);
  if (!e.empty())
    return e;
  e = convLimits(g);
  if (!e.empty())
    return e;
  std::vector<int8_t> wf;
  e = foldWeights(v, w, v.in(n, 3), g.K, wf);
  if (!e.empty())
    return e;
  int64_t zp;
  return scalarZp(v, v.in(n, 2), zp);
}

std::string whyMatMul(const View &v, const v1::Node &n) {
  int a = v.in(n, 0), b = v.in(n, 1), y = v.out(n);
  if (a < 0 || b < 0 || y < 0)
    return "MatMulInteger needs A and B";
  if (!isQ8(v.dtype(a)))
    return "A " + q(v.name(a)) + " is " + v.dtype(a) + " (i8 or u8)";
  auto ad = v.dims(a), bd = v.dims(b);
  if (ad.size() != 2)
    return "A has rank " + std::to_string(ad.size()) +
           " (the NPU runs rank-2 A; batched MatMul falls back)";
  if (bd.size() != 2 || !v.constant[size_t(b)])
    return "B " + q(v.name(b)) +
           " is not a rank-2 constant (weights stay stationary in the array)";
  if (ad[1] != bd[0])
    return "shapes do not match";
  std::vector<int8_t> wf;
  std::string e = foldWeights(v, b, v.in(n, 3), 1, wf);
  if (!e.empty())
    return e;
  // A per-column B zero point folds too (checked when packing).
  int64_t zp;
  return scalarZp(v, v.in(n, 2), zp);
}

bool isGemmRoot(const v1::Node &n) {
  return n.op() == "ConvInteger" || n.op() == "MatMulInteger";
}

// The int32 accumulator chain of a value: the ConvInteger/MatMulInteger
// node (and the bias Add after it) when `x` is its only-used result.
struct Chain {
  int root = -1; // node index
  int bias = -1; // Add node index, or -1
};

// Bias operand of an Add node whose other operand is an accumulator: its
// per-channel values (size 1 or K).
bool biasValues(const View &v, int c, int64_t K, int rank,
                std::vector<int64_t> &out) {
  if (!v.ints(c, out) || v.dtype(c) != "i32")
    return false;
  auto d = v.dims(c);
  // [K], [1,K], [1,K,1,1] or a scalar / all-ones shape.
  int64_t n = prod(d, 0, d.size());
  if (n == 1)
    return true;
  if (n != K)
    return false;
  if (d.size() == 1)
    return true;
  if (int(d.size()) != rank)
    return false;
  for (size_t i = 0; i < d.size(); ++i)
    if (i != 1 && d[i] != 1)
      return false;
  return true;
}

struct Analysis {
  std::vector<std::string> why; // per node
  std::vector<Chain> chainOf;   // per value: accumulator chain producing it
  std::vector<int> sumOf;       // per node: the Cast of its sum chain, or -1
};

// Cast(x i8/u8 -> i32) [-> Sub(scalar zero point)] -> ReduceSum over H, W
// (keepdims): a per-channel sum the NPU does with an identity GEMM. The
// nodes of the chain, or empty when `cast` does not start one.
std::vector<int> sumChain(const View &v, int cast) {
  const v1::Node &c = v.g.nodes(cast);
  int x = v.in(c, 0), y = v.out(c);
  if (x < 0 || y < 0 || !isQ8(v.dtype(x)) || v.dtype(y) != "i32" ||
      v.dims(x).size() != 4 || v.uses(y) != 1 || v.users[size_t(y)].empty())
    return {};
  auto xd = v.dims(x);
  if (xd[3] > 1023 || xd[2] > 1023 ||
      xd[2] * xd[3] > npu::memRows(EMBER_NPU_MEM_ACT) / 2)
    return {};
  std::vector<int> chain = {cast};
  int cur = y, n = v.users[size_t(y)][0];
  if (v.g.nodes(n).op() == "Sub") {
    const v1::Node &s = v.g.nodes(n);
    std::vector<int64_t> z;
    if (v.in(s, 0) != cur || !v.ints(v.in(s, 1), z) || z.size() != 1 ||
        v.uses(v.out(s)) != 1 || v.users[size_t(v.out(s))].empty())
      return {};
    chain.push_back(n);
    cur = v.out(s);
    n = v.users[size_t(cur)][0];
  }
  const v1::Node &r = v.g.nodes(n);
  if (r.op() != "ReduceSum" || v.in(r, 0) != cur)
    return {};
  std::vector<int64_t> axes = aInts(r, "axes", {});
  if (v.in(r, 1) >= 0 && !v.ints(v.in(r, 1), axes))
    return {};
  for (auto &a : axes)
    if (a < 0)
      a += 4;
  std::sort(axes.begin(), axes.end());
  if (axes != std::vector<int64_t>{2, 3} || aInt(r, "keepdims", 1) != 1)
    return {};
  chain.push_back(n);
  return chain;
}

Chain accChain(const View &v, const Analysis &a, int x) {
  if (x < 0 || size_t(x) >= a.chainOf.size())
    return {};
  return a.chainOf[size_t(x)];
}

std::string whyRequant(const View &v, const Analysis &a, const v1::Node &n) {
  int x = v.in(n, 0), m = v.in(n, 1), s = v.in(n, 2), y = v.out(n);
  if (x < 0 || m < 0 || s < 0 || y < 0)
    return "Requantize needs x, multiplier and shift";
  if (!isQ8(v.dtype(y)))
    return "result is " + v.dtype(y) + " (i8 or u8)";
  auto xd = v.dims(x);
  if (xd.size() != 4 && xd.size() != 2)
    return "x has rank " + std::to_string(xd.size()) + " (2 or 4)";
  if (v.dtype(x) == "i32") {
    Chain c = accChain(v, a, x);
    if (c.root < 0)
      return "its int32 input " + q(v.name(x)) +
             " is not the only use of a ConvInteger/MatMulInteger the NPU "
             "runs (the NPU requantizes its own accumulators)";
  } else if (!isQ8(v.dtype(x))) {
    return "x is " + v.dtype(x);
  }
  int64_t C = xd[1];
  int64_t axis = aInt(n, "axis", 1);
  if (axis < 0)
    axis += int64_t(xd.size());
  std::vector<int64_t> mv, sv, zx, zy;
  if (!v.ints(m, mv) || !v.ints(s, sv))
    return "multiplier and shift must be constants";
  for (auto *t : {&mv, &sv})
    if (t->size() != 1 && int64_t(t->size()) != C)
      return "multiplier/shift have " + std::to_string(t->size()) +
             " entries (1 or " + std::to_string(C) + ")";
  if ((mv.size() > 1 || sv.size() > 1) && axis != 1)
    return "per-channel tables on axis " + std::to_string(axis) +
           " (the NPU's channel axis is 1)";
  int xz = v.in(n, 3), yz = v.in(n, 4);
  if (xz >= 0 &&
      (!v.ints(xz, zx) || (zx.size() != 1 && int64_t(zx.size()) != C)))
    return "x_zero_point is not a constant of 1 or C entries";
  if (yz >= 0 && (!v.ints(yz, zy) || zy.size() != 1))
    return "y_zero_point is not a constant scalar";
  if (isQ8(v.dtype(x)) && zx.size() > 1)
    return "per-channel x_zero_point on an int8 input";
  return "";
}

std::string whyPool(const View &v, const v1::Node &n) {
  int x = v.in(n, 0), y = v.out(n);
  if (x < 0 || y < 0)
    return "no input";
  if (!isQ8(v.dtype(x)) || v.dtype(y) != v.dtype(x))
    return "pools on " + v.dtype(x) + " (the NPU pools stored i8/u8)";
  if (n.outputs_size() > 1 && n.outputs(1) >= 0 && v.uses(n.outputs(1)))
    return "MaxPool indices are used";
  auto xd = v.dims(x), yd = v.dims(y);
  if (xd.size() != 4 || yd.size() != 4)
    return "rank " + std::to_string(xd.size()) + " (the NPU pools 2-D)";
  bool global = n.op() == "GlobalAveragePool";
  auto ks = global ? std::vector<int64_t>{xd[2], xd[3]}
                   : aInts(n, "kernel_shape", {});
  auto st = global ? std::vector<int64_t>{1, 1} : aInts(n, "strides", {1, 1});
  auto pads = global ? std::vector<int64_t>{0, 0, 0, 0}
                     : aInts(n, "pads", {0, 0, 0, 0});
  auto dl = aInts(n, "dilations", {1, 1});
  if (ks.size() != 2 || st.size() != 2 || pads.size() != 4)
    return "kernel_shape, strides or pads are not 2-D";
  std::string ap = aStr(n, "auto_pad", "NOTSET");
  if (ap != "NOTSET" && ap != "VALID" && !ap.empty())
    return "auto_pad " + ap;
  if (ap == "VALID")
    pads = {0, 0, 0, 0};
  if (dl[0] != 1 || dl[1] != 1)
    return "pooling with dilation";
  if (ks[0] < 1 || ks[0] > 16 || ks[1] < 1 || ks[1] > 16)
    return "window " + std::to_string(ks[0]) + "x" + std::to_string(ks[1]) +
           " (POOL windows at most 16x16)";
  int64_t s = global ? std::max<int64_t>(1, std::min(ks[0], ks[1])) : st[0];
  if (!global && st[0] != st[1])
    return "strides " + std::to_string(st[0]) + "x" + std::to_string(st[1]) +
           " (POOL has one stride for both axes)";
  if (s > 16)
    return "stride " + std::to_string(s) + " (at most 16)";
  if (*std::max_element(pads.begin(), pads.end()) > 3)
    return "pads over 3";
  bool anyPad = pads[0] || pads[1] || pads[2] || pads[3];
  const bool excludePad =
      n.op() == "AveragePool" && anyPad && !aInt(n, "count_include_pad", 0);
  if (anyPad && (pads[0] >= ks[0] || pads[2] >= ks[0] || pads[1] >= ks[1] ||
                 pads[3] >= ks[1]))
    return "a pad not below its kernel size (a window wholly in the "
           "padding)";
  if (n.op() == "AveragePool" && anyPad && !excludePad && !attr(n, "pad_value"))
    return "AveragePool counting padding without a pad_value (the input's "
           "zero point)";
  if (xd[3] + pads[1] + pads[3] > 1023)
    return "image width over 1023";
  int64_t OH = (xd[2] + pads[0] + pads[2] - ks[0]) / s + 1;
  int64_t OW = (xd[3] + pads[1] + pads[3] - ks[1]) / s + 1;
  if (yd[2] != OH || yd[3] != OW)
    return "the output shape is not floor mode's (ceil_mode)";
  return "";
}

// Reshapes that leave the NPU bytes as they are: the channel dim (1) and
// the product of the dims after it are kept.
bool sameLayout(const std::vector<int64_t> &a, const std::vector<int64_t> &b) {
  auto cp = [](const std::vector<int64_t> &d) {
    if (d.size() < 2)
      return std::make_pair(d.empty() ? int64_t(1) : d[0], int64_t(1));
    return std::make_pair(d[1], prod(d, 2, d.size()));
  };
  return cp(a) == cp(b) && prod(a, 0, a.size()) == prod(b, 0, b.size());
}

std::string whyMove(const View &v, const v1::Node &n) {
  int x = v.in(n, 0), y = v.out(n);
  if (x < 0 || y < 0 || !isQ8(v.dtype(x)))
    return "moves " + (x >= 0 ? v.dtype(x) : std::string("nothing")) +
           " (the NPU keeps i8/u8)";
  if (v.constant[size_t(x)])
    return "moves a constant";
  if (!sameLayout(v.dims(x), v.dims(y)))
    return "changes the channel-tiled layout (only reshapes that keep dim 1 "
           "and the pixel order are free)";
  return "";
}

// A flatten [N, C, H, W] -> [N, C*H*W] whose only use is a MatMulInteger's
// A: the pair is a convolution with an H x W kernel over the image (weights
// B rearranged), so the NPU runs it without a layout change.
bool flattensIntoMatMul(const View &v, const v1::Node &n) {
  int x = v.in(n, 0), y = v.out(n);
  if (x < 0 || y < 0 || !isQ8(v.dtype(x)) || v.constant[size_t(x)])
    return false;
  auto xd = v.dims(x), yd = v.dims(y);
  if (xd.size() != 4 || yd.size() != 2 || yd[0] != xd[0] ||
      yd[1] != xd[1] * xd[2] * xd[3] || v.uses(y) != 1 ||
      v.users[size_t(y)].size() != 1)
    return false;
  const v1::Node &m = v.g.nodes(v.users[size_t(y)][0]);
  if (m.op() != "MatMulInteger" || v.in(m, 0) != y || !whyMatMul(v, m).empty())
    return false;
  return xd[3] <= 1023 &&
         xd[2] * xd[3] * kDim <= npu::memRows(EMBER_NPU_MEM_WGT) / 2 &&
         xd[2] * xd[3] <= npu::memRows(EMBER_NPU_MEM_ACT) / 2;
}

std::string whyConcat(const View &v, const v1::Node &n, int self) {
  int y = v.out(n);
  if (y < 0 || !isQ8(v.dtype(y)))
    return "concatenates " + (y >= 0 ? v.dtype(y) : std::string("nothing"));
  auto yd = v.dims(y);
  int64_t axis = aInt(n, "axis", 0);
  if (axis < 0)
    axis += int64_t(yd.size());
  if (yd.size() < 2 || axis != 1)
    return "axis " + std::to_string(axis) +
           " (the NPU concatenates channels, axis 1, by placement)";
  for (int i = 0; i < n.inputs_size(); ++i) {
    int x = n.inputs(i);
    if (x < 0 || v.dtype(x) != v.dtype(y))
      return "inputs of different element types";
    if (v.constant[size_t(x)])
      return "a constant input";
    if (i + 1 < n.inputs_size() && v.dims(x)[1] % kDim)
      return "input " + q(v.name(x)) + " has " + std::to_string(v.dims(x)[1]) +
             " channels, not a multiple of DIM " + std::to_string(kDim) +
             " (inputs are placed at whole channel tiles)";
    for (int u : v.users[size_t(x)])
      if (u != self && v.g.nodes(u).op() == "Concat")
        return "input " + q(v.name(x)) + " feeds another Concat";
  }
  return "";
}

// QuantizedAdd parameters (docs/quantization.md): TFLite's add.
struct AddAttrs {
  int64_t lshift = 20, aZp = 0, aMult = 0, aShift = 0, bZp = 0, bMult = 0,
          bShift = 0, outMult = 0, outShift = 0, outZp = 0;
  // Absent: the output type's range (clamped to it in regsOf).
  int64_t lo = INT64_MIN, hi = INT64_MAX;
};

bool addAttrs(const v1::Node &n, AddAttrs &p) {
  struct {
    const char *name;
    int64_t AddAttrs::*f;
  } const names[] = {{"left_shift", &AddAttrs::lshift},
                     {"a_zero_point", &AddAttrs::aZp},
                     {"a_multiplier", &AddAttrs::aMult},
                     {"a_shift", &AddAttrs::aShift},
                     {"b_zero_point", &AddAttrs::bZp},
                     {"b_multiplier", &AddAttrs::bMult},
                     {"b_shift", &AddAttrs::bShift},
                     {"y_multiplier", &AddAttrs::outMult},
                     {"y_shift", &AddAttrs::outShift},
                     {"y_zero_point", &AddAttrs::outZp},
                     {"min", &AddAttrs::lo},
                     {"max", &AddAttrs::hi}};
  bool all = true;
  for (auto &e : names) {
    const v1::Attribute *a = attr(n, e.name);
    if (a && a->value_case() == v1::Attribute::kI)
      p.*(e.f) = a->i();
    else if (std::strcmp(e.name, "min") && std::strcmp(e.name, "max") &&
             std::strcmp(e.name, "left_shift"))
      all = false;
  }
  return all;
}

// How the second operand of an add repeats: 0 same shape, 1 one pixel
// (per channel or scalar) repeated.
int broadcastKind(const std::vector<int64_t> &big,
                  const std::vector<int64_t> &small) {
  if (big == small)
    return 0;
  if (big.size() < 2 || small.size() > big.size())
    return -1;
  // numpy: `small` aligns at the right; it repeats over every pixel when
  // each of its dims is 1 but (possibly) the channel dim, axis 1 of big.
  size_t off = big.size() - small.size();
  for (size_t i = 0; i < small.size(); ++i) {
    size_t bi = i + off;
    if (small[i] == 1)
      continue;
    if (bi != 1 || small[i] != big[1])
      return -1;
  }
  return 1;
}

// A value in its own NPU layout: channels on axis 1 (axis 0 below rank 2),
// pixels every other index.
int64_t ownChannels(const std::vector<int64_t> &d) {
  return d.empty() ? 1 : d[d.size() >= 2 ? 1 : 0];
}

// An add operand repeated over every pixel is read as one row per channel
// tile: lane c of that row must hold its value for channel c. A constant is
// laid out so at compile time (its one value or per-channel values spread
// over the C lanes); any other tensor must already be one pixel of C
// channels in its own layout ([1,C,1,1], [1,C], or [C] against a rank-2
// result). A scalar, [1] or [C,1,1] input is not: LOAD moves whole rows and
// cannot spread one value over the lanes, nor turn pixels into lanes.
std::string whyRepeated(const View &v, int x, int64_t C) {
  if (v.constant[size_t(x)])
    return "";
  auto d = v.dims(x);
  if (ownChannels(d) == C && prod(d, 0, d.size()) == C)
    return "";
  std::string shape;
  for (size_t i = 0; i < d.size(); ++i)
    shape += (i ? "," : "") + std::to_string(d[i]);
  return "operand " + q(v.name(x)) + " [" + shape + "] is repeated over " +
         std::to_string(C) +
         " channels but is not a constant: VADD reads one value per lane "
         "and LOAD cannot spread a value over the lanes (only a constant or a "
         "[1,C,...] tensor broadcasts)";
}

std::string whyQAdd(const View &v, const v1::Node &n) {
  int a = v.in(n, 0), b = v.in(n, 1), y = v.out(n);
  if (a < 0 || b < 0 || y < 0)
    return "QuantizedAdd needs two operands";
  for (int x : {a, b, y})
    if (!isQ8(v.dtype(x)))
      return q(v.name(x)) + " is " + v.dtype(x) + " (i8 or u8)";
  AddAttrs p;
  if (!addAttrs(n, p))
    return "QuantizedAdd without its multiplier/shift/zero-point attributes";
  auto yd = v.dims(y);
  if (yd.size() != 4 && yd.size() != 2)
    return "rank " + std::to_string(yd.size()) + " (2 or 4)";
  int ka = broadcastKind(yd, v.dims(a)), kb = broadcastKind(yd, v.dims(b));
  if (ka < 0 || kb < 0 || (ka && kb))
    return "broadcast other than one operand repeated per channel";
  if (ka || kb) {
    std::string why = whyRepeated(v, ka ? a : b, yd[1]);
    if (!why.empty())
      return why;
  }
  return "";
}

// Nodes the NPU runs for free or as part of a layer, and the checks that
// need the whole graph (chains).
Analysis analyze(const View &v, bool forCompile = false) {
  Analysis a;
  int nn = v.g.nodes_size();
  a.why.assign(size_t(nn), "");
  a.chainOf.assign(size_t(v.g.values_size()), Chain());
  a.sumOf.assign(size_t(nn), -1);
  for (int i = 0; i < nn; ++i) {
    const v1::Node &n = v.g.nodes(i);
    const std::string &op = n.op();
    std::string &why = a.why[size_t(i)];
    if (a.sumOf[size_t(i)] >= 0) {
      why = ""; // part of a sum chain (claimed with its Cast)
    } else if (op == "Cast") {
      std::vector<int> chain = sumChain(v, i);
      if (chain.empty()) {
        why = "a Cast that does not start a per-channel sum (Cast -> [Sub] "
              "-> ReduceSum over H, W -> Requantize)";
        continue;
      }
      for (int k : chain)
        a.sumOf[size_t(k)] = i;
      int end = v.out(v.g.nodes(chain.back()));
      if (v.uses(end) == 1)
        a.chainOf[size_t(end)] = {i, -1};
    } else if (op == "ConvInteger" || op == "MatMulInteger") {
      why = op == "ConvInteger" ? whyConv(v, n) : whyMatMul(v, n);
      int y = v.out(n);
      if (why.empty() && y >= 0 && v.uses(y) == 1)
        a.chainOf[size_t(y)] = {i, -1};
    } else if (op == "Add") {
      int x0 = v.in(n, 0), x1 = v.in(n, 1), y = v.out(n);
      int acc = -1, c = -1;
      for (auto [p, o] : {std::make_pair(x0, x1), std::make_pair(x1, x0)})
        if (p >= 0 && accChain(v, a, p).root >= 0 &&
            accChain(v, a, p).bias < 0) {
          acc = p;
          c = o;
        }
      if (acc < 0) {
        why = "an Add that is not an int32 bias on a ConvInteger/MatMulInteger "
              "the NPU runs (the NPU adds int8 with QuantizedAdd)";
        continue;
      }
      auto yd = v.dims(y);
      std::vector<int64_t> bv;
      if (c < 0 ||
          !biasValues(v, c, yd.size() > 1 ? yd[1] : 1, int(yd.size()), bv)) {
        why = "the bias " + (c >= 0 ? q(v.name(c)) : std::string("?")) +
              " is not an i32 constant per output channel";
        continue;
      }
      if (v.uses(y) == 1)
        a.chainOf[size_t(y)] = {accChain(v, a, acc).root, i};
      else
        why = "the biased accumulator " + q(v.name(y)) +
              " has several uses (the NPU requantizes it in place)";
    } else if (op == "Requantize") {
      why = whyRequant(v, a, n);
    } else if (op == "MaxPool" || op == "AveragePool" ||
               op == "GlobalAveragePool") {
      why = whyPool(v, n);
    } else if (op == "QuantizedAdd") {
      why = whyQAdd(v, n);
    } else if (op == "Concat") {
      why = whyConcat(v, n, i);
    } else if (op == "Reshape" || op == "Flatten" || op == "Squeeze" ||
               op == "Unsqueeze" || op == "Identity") {
      why = whyMove(v, n);
      if (!why.empty() && flattensIntoMatMul(v, n))
        why = ""; // the MatMul becomes a convolution over the whole image
      int x = v.in(n, 0);
      int p = x >= 0 ? v.producer[size_t(x)] : -1;
      if (why.empty() && !forCompile && (p < 0 || !a.why[size_t(p)].empty()))
        why = "its input is not computed on the NPU (a lone reshape is not "
              "worth a partition)";
    } else if (op == "Sub" || op == "ReduceSum") {
      why = "a " + op +
            " that is not part of a per-channel sum (Cast -> [Sub "
            "of a scalar zero point] -> ReduceSum over H, W -> Requantize)";
    } else {
      why = "op " + op + " is not in the NPU's set (see docs/npu-backend.md)";
    }
  }
  // An accumulator chain whose Requantize the NPU does not run still runs
  // (its int32 result is stored); nothing to undo.
  return a;
}

} // namespace

std::vector<std::string> whyNot(const v1::Graph &g) {
  View v(g);
  if (!v.error.empty())
    return std::vector<std::string>(size_t(g.nodes_size()), v.error);
  return analyze(v).why;
}

// ---- building the layers of a partition ----------------------------------

namespace {

struct Builder {
  const View &v;
  Analysis an;
  LayerProgram &lp;
  std::vector<int> tensorOf; // per value: NTensor index, -1: none yet
  // Layers not emitted yet, by the value they produce (so a following
  // Add, Requantize, pool or add can still fold into them).
  struct Pending {
    Layer layer;
    bool requantized = false;
  };
  std::map<int, Pending> pending;
  // Flattens folded into the following MatMul: value -> the 4-D input.
  std::map<int, int> flattened;
  std::string err;

  Builder(const View &view, LayerProgram &out)
      : v(view), an(analyze(view, true)), lp(out),
        tensorOf(size_t(view.g.values_size()), -1) {}

  bool isOutput(int x) const { return v.outUses[size_t(x)] > 0; }
  // Fusable: one use, not a partition output.
  bool single(int x) const { return v.uses(x) == 1 && !isOutput(x); }

  int newTensor(int value, NTensor::Kind kind) {
    NTensor t;
    t.name = v.name(value);
    t.kind = kind;
    t.value = value;
    t.dims = v.dims(value);
    t.u8 = v.dtype(value) == "u8";
    t.i32 = v.dtype(value) == "i32";
    t.axis = t.dims.size() >= 2 ? 1 : 0;
    t.C = t.dims.empty() ? 1 : t.dims[size_t(t.axis)];
    t.P = t.C ? prod(t.dims, 0, t.dims.size()) / t.C : 0;
    lp.tensors.push_back(std::move(t));
    return int(lp.tensors.size() - 1);
  }

  // NPU layout of a constant i8/u8 tensor (an add's operand).
  int constTensor(int x) {
    int k = newTensor(x, NTensor::Kind::Constant);
    NTensor &t = lp.tensors[size_t(k)];
    std::vector<int64_t> vals;
    v.ints(x, vals);
    std::vector<uint8_t> host(vals.size());
    for (size_t i = 0; i < vals.size(); ++i)
      host[i] = uint8_t(vals[i]);
    t.data.assign(size_t(t.bytes()), 0);
    // (Runtime's host->NPU conversion, inlined: constants are small.)
    int64_t pre = 1, post = 1;
    for (size_t i = 0; i < t.dims.size(); ++i) {
      if (int(i) < t.axis)
        pre *= t.dims[i];
      else if (int(i) > t.axis)
        post *= t.dims[i];
    }
    for (int64_t a = 0; a < pre; ++a)
      for (int64_t c = 0; c < t.C; ++c)
        for (int64_t b = 0; b < post; ++b) {
          uint8_t h = host[size_t((a * t.C + c) * post + b)];
          t.data[size_t(((c / kDim) * t.P + a * post + b) * kDim + c % kDim)] =
              int8_t(t.u8 ? int(h) - 128 : int8_t(h));
        }
    tensorOf[size_t(x)] = k;
    return k;
  }

  // The operand of an add repeated over every pixel (whyRepeated): one
  // pixel of C channels. A constant gets a tensor of its own with its value
  // (or its per-channel values) in the C lanes.
  int repeatedTensor(int x, int64_t C) {
    if (!v.constant[size_t(x)])
      return materialize(x);
    auto done = repeated.find({x, C});
    if (done != repeated.end())
      return done->second;
    std::vector<int64_t> vals;
    v.ints(x, vals);
    NTensor t;
    t.name = v.name(x);
    t.kind = NTensor::Kind::Constant;
    t.value = x;
    t.u8 = v.dtype(x) == "u8";
    t.dims = {C};
    t.axis = 0;
    t.C = C;
    t.P = 1;
    t.data.assign(size_t(t.bytes()), 0);
    for (int64_t c = 0; c < C; ++c) {
      int64_t h = vals.size() == 1 ? vals[0] : vals[size_t(c)];
      t.data[size_t((c / kDim) * kDim + c % kDim)] = int8_t(t.u8 ? h - 128 : h);
    }
    lp.tensors.push_back(std::move(t));
    return repeated[{x, C}] = int(lp.tensors.size() - 1);
  }
  std::map<std::pair<int, int64_t>, int> repeated; // (value, C) -> tensor

  // The tensor holding value x in DRAM, emitting its pending layer.
  int materialize(int x, int base = -1, int64_t tileOffset = 0) {
    if (tensorOf[size_t(x)] >= 0)
      return tensorOf[size_t(x)];
    auto it = pending.find(x);
    if (it != pending.end()) {
      int k = newTensor(x, isOutput(x) ? NTensor::Kind::Output
                                       : NTensor::Kind::Activation);
      lp.tensors[size_t(k)].base = base;
      lp.tensors[size_t(k)].tileOffset = tileOffset;
      tensorOf[size_t(x)] = k;
      Layer L = std::move(it->second.layer);
      pending.erase(it);
      L.gemm.out = k;
      lp.layers.push_back(std::move(L));
      return k;
    }
    if (v.isInput[size_t(x)]) {
      int k = newTensor(x, NTensor::Kind::Input);
      tensorOf[size_t(x)] = k;
      return k;
    }
    if (v.constant[size_t(x)] && isQ8(v.dtype(x)))
      return constTensor(x);
    err = "value " + q(v.name(x)) + " is not computed in this partition";
    return -1;
  }

  // --- per op ---

  void gemmRoot(int i, const v1::Node &n) {
    GemmLayer g;
    Layer L;
    L.kind = Layer::Kind::Gemm;
    L.name = n.name();
    L.nodes = {n.name()};
    int x = v.in(n, 0), w = v.in(n, 1), y = v.out(n);
    int64_t xzp = 0;
    scalarZp(v, v.in(n, 2), xzp);
    int32_t sz = storedZp(v.dtype(x), xzp);
    if (n.op() == "ConvInteger") {
      ConvGeom c;
      err = convGeom(v, n, x, w, y, c);
      if (!err.empty())
        return;
      g.N = c.N, g.C = c.C, g.H = c.H, g.W = c.W, g.K = c.K, g.OH = c.OH,
      g.OW = c.OW;
      g.kh = c.kh, g.kw = c.kw, g.sh = c.sh, g.sw = c.sw, g.dh = c.dh,
      g.dw = c.dw;
      g.pt = c.pt, g.pl = c.pl, g.pb = c.pb, g.pr = c.pr, g.groups = c.groups;
      err = foldWeights(v, w, v.in(n, 3), g.K, g.w);
      if (!err.empty())
        return;
    } else if (flattened.count(x)) {
      // Flatten -> MatMul: a convolution with a kernel the size of the
      // image; weight (j, c, h, w) = B[(c * H + h) * W + w, j].
      x = flattened[x];
      auto xd = v.dims(x), bd = v.dims(w);
      g.N = xd[0], g.C = xd[1], g.H = g.kh = xd[2], g.W = g.kw = xd[3];
      g.K = bd[1], g.OH = g.OW = 1;
      sz = storedZp(v.dtype(x), xzp);
      std::vector<int64_t> bv, zv;
      v.ints(w, bv);
      if (v.in(n, 3) >= 0)
        v.ints(v.in(n, 3), zv);
      int64_t per = g.C * g.H * g.W;
      g.w.resize(size_t(g.K * per));
      for (int64_t k = 0; k < per; ++k)
        for (int64_t j = 0; j < g.K; ++j) {
          int64_t zp = zv.empty() ? 0 : zv.size() == 1 ? zv[0] : zv[size_t(j)];
          int64_t val = bv[size_t(k * g.K + j)] - zp;
          if (val < -128 || val > 127) {
            err = "B zero point does not fold into int8 weights";
            return;
          }
          g.w[size_t(j * per + k)] = int8_t(val);
        }
    } else {
      auto ad = v.dims(x), bd = v.dims(w);
      g.N = 1, g.C = ad[1], g.H = 1, g.W = ad[0], g.K = bd[1], g.OH = 1,
      g.OW = ad[0];
      // B is [K, N]: the layer wants [N][K] (output channel major), and a
      // B zero point per column.
      std::vector<int64_t> bv, zv;
      v.ints(w, bv);
      if (v.in(n, 3) >= 0)
        v.ints(v.in(n, 3), zv);
      g.w.resize(size_t(g.C * g.K));
      for (int64_t k = 0; k < g.C; ++k)
        for (int64_t j = 0; j < g.K; ++j) {
          int64_t zp = zv.empty() ? 0 : zv.size() == 1 ? zv[0] : zv[size_t(j)];
          int64_t val = bv[size_t(k * g.K + j)] - zp;
          if (val < -128 || val > 127) {
            err = "B zero point does not fold into int8 weights";
            return;
          }
          g.w[size_t(j * g.C + k)] = int8_t(val);
        }
    }
    g.flat = g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1 && !g.pt &&
             !g.pl && !g.pb && !g.pr;
    g.padValue = sz;
    g.requant = false;
    g.bias.assign(size_t(g.K), 0);
    int64_t per = g.K ? int64_t(g.w.size()) / g.K : 0;
    for (int64_t k = 0; k < g.K; ++k) {
      int64_t sum = 0;
      for (int64_t t = 0; t < per; ++t)
        sum += g.w[size_t(k * per + t)];
      g.bias[size_t(k)] = int32_t(int64_t(g.bias[size_t(k)]) - sz * sum);
    }
    g.in = materialize(x);
    L.usefulMacs = uint64_t(g.N * g.OH * g.OW * g.K * per);
    L.gemm = std::move(g);
    pending[y] = {std::move(L), false};
    (void)i;
  }

  // Cast, Sub, ReduceSum of a per-channel sum (see sumChain).
  void sumNode(const v1::Node &n) {
    int x = v.in(n, 0), y = v.out(n);
    if (n.op() == "Cast") {
      int in = materialize(x);
      if (in < 0)
        return;
      const NTensor &t = lp.tensors[size_t(in)];
      Layer L;
      L.kind = Layer::Kind::Gemm;
      L.name = n.name();
      L.nodes = {n.name()};
      GemmLayer &g = L.gemm;
      g.in = in;
      g.N = t.dims[0], g.C = g.K = g.groups = t.dims[1];
      g.H = g.kh = t.dims[2], g.W = g.kw = t.dims[3];
      g.OH = g.OW = 1;
      g.sum = true;
      g.requant = false;
      // NPU sum = sum of stored values = sum(q) - HW * offset.
      g.bias.assign(size_t(g.K), int32_t((t.u8 ? 128 : 0) * g.H * g.W));
      pending[y] = {std::move(L), false};
      return;
    }
    auto it = pending.find(x);
    if (it == pending.end()) {
      err = n.op() + " " + q(n.name()) + ": its sum is not in the partition";
      return;
    }
    Pending p = std::move(it->second);
    pending.erase(it);
    p.layer.nodes.push_back(n.name());
    if (n.op() == "Sub") {
      std::vector<int64_t> z;
      v.ints(v.in(n, 1), z);
      GemmLayer &g = p.layer.gemm;
      for (auto &b : g.bias)
        b = int32_t(int64_t(b) - z[0] * g.H * g.W);
    }
    pending[y] = std::move(p);
  }

  void biasAdd(const v1::Node &n) {
    int x0 = v.in(n, 0), x1 = v.in(n, 1), y = v.out(n);
    int acc = pending.count(x0) ? x0 : x1, c = acc == x0 ? x1 : x0;
    auto it = pending.find(acc);
    if (it == pending.end() || it->second.requantized) {
      err = "Add " + q(n.name()) + ": its accumulator is not in the partition";
      return;
    }
    GemmLayer &g = it->second.layer.gemm;
    std::vector<int64_t> bv;
    v.ints(c, bv);
    for (int64_t k = 0; k < g.K; ++k)
      g.bias[size_t(k)] = int32_t(uint32_t(g.bias[size_t(k)]) +
                                  uint32_t(bv[bv.size() == 1 ? 0 : size_t(k)]));
    Pending p = std::move(it->second);
    pending.erase(it);
    p.layer.nodes.push_back(n.name());
    pending[y] = std::move(p);
  }

  void requantize(const v1::Node &n) {
    int x = v.in(n, 0), y = v.out(n);
    Pending p;
    auto it = pending.find(x);
    if (it != pending.end() && !it->second.requantized) {
      p = std::move(it->second);
      pending.erase(it);
    } else if (isQ8(v.dtype(x))) {
      // An identity GEMM brings int8 into the accumulators.
      int in = materialize(x);
      if (in < 0)
        return;
      const NTensor &t = lp.tensors[size_t(in)];
      GemmLayer &g = p.layer.gemm;
      p.layer.kind = Layer::Kind::Gemm;
      p.layer.name = n.name();
      g.in = in;
      auto d = t.dims;
      g.C = g.K = g.groups = t.C;
      if (d.size() == 4) {
        g.N = d[0], g.H = g.OH = d[2], g.W = g.OW = d[3];
      } else {
        g.N = 1, g.H = g.OH = 1, g.W = g.OW = t.P;
      }
      g.flat = true;
      g.w.assign(size_t(g.K), 1);
      g.bias.assign(size_t(g.K), 0);
      // NPU acc = stored x; Requantize wants q - x_zp.
      g.padValue = 0;
      p.layer.usefulMacs = 0;
      // The input's stored offset is folded below with x_zero_point.
      if (t.u8)
        for (auto &b : g.bias)
          b += 128;
    } else {
      err = "Requantize " + q(n.name()) + ": its input is not in the partition";
      return;
    }
    GemmLayer &g = p.layer.gemm;
    p.layer.nodes.push_back(n.name());
    std::vector<int64_t> mv, sv, zx, zy;
    v.ints(v.in(n, 1), mv);
    v.ints(v.in(n, 2), sv);
    if (v.in(n, 3) >= 0)
      v.ints(v.in(n, 3), zx);
    if (v.in(n, 4) >= 0)
      v.ints(v.in(n, 4), zy);
    for (int64_t k = 0; k < g.K; ++k) {
      if (!zx.empty())
        g.bias[size_t(k)] =
            int32_t(uint32_t(g.bias[size_t(k)]) -
                    uint32_t(zx[zx.size() == 1 ? 0 : size_t(k)]));
      g.rq.mult.push_back(int32_t(mv[mv.size() == 1 ? 0 : size_t(k)]));
      g.rq.shift.push_back(int32_t(sv[sv.size() == 1 ? 0 : size_t(k)]));
    }
    const std::string &to = v.dtype(y);
    int64_t lowest = to == "u8" ? 0 : -128, highest = to == "u8" ? 255 : 127;
    int64_t lo = std::max(aInt(n, "min", lowest), lowest);
    int64_t hi = std::min(aInt(n, "max", highest), highest);
    int64_t off = to == "u8" ? 128 : 0;
    g.rq.zp = int32_t((zy.empty() ? 0 : zy[0]) - off);
    g.rq.lo = int32_t(lo - off);
    g.rq.hi = int32_t(std::max(lo, hi) - off);
    g.requant = true;
    p.requantized = true;
    pending[y] = std::move(p);
  }

  void pool(const v1::Node &n) {
    int x = v.in(n, 0), y = v.out(n);
    auto xd = v.dims(x);
    bool global = n.op() == "GlobalAveragePool";
    auto ks = global ? std::vector<int64_t>{xd[2], xd[3]}
                     : aInts(n, "kernel_shape", {1, 1});
    auto st = global ? std::vector<int64_t>{1, 1} : aInts(n, "strides", {1, 1});
    auto pads = global || aStr(n, "auto_pad", "NOTSET") == "VALID"
                    ? std::vector<int64_t>{0, 0, 0, 0}
                    : aInts(n, "pads", {0, 0, 0, 0});
    int64_t s = global ? std::max<int64_t>(1, std::min(ks[0], ks[1])) : st[0];
    bool avg = n.op() != "MaxPool";
    bool noPad = !pads[0] && !pads[1] && !pads[2] && !pads[3];
    auto it = pending.find(x);
    if (noPad && it != pending.end() && it->second.requantized && single(x) &&
        !it->second.layer.gemm.pool.on && !it->second.layer.gemm.add.on) {
      Layer trial = it->second.layer;
      trial.gemm.pool = {true, avg, ks[0], ks[1], s};
      trial.gemm.flat = false; // pooling needs image lines
      trial.nodes.push_back(n.name());
      if (fits(trial)) {
        Pending p = std::move(it->second);
        pending.erase(it);
        p.layer = std::move(trial);
        pending[y] = std::move(p);
        return;
      }
    }
    int in = materialize(x);
    if (in < 0)
      return;
    Layer L;
    L.kind = Layer::Kind::Pool;
    L.name = n.name();
    L.nodes = {n.name()};
    PoolLayer &g = L.pool;
    g.in = in;
    g.N = xd[0], g.C = xd[1], g.H = xd[2], g.W = xd[3];
    auto yd = v.dims(y);
    g.OH = yd[2], g.OW = yd[3];
    g.kh = ks[0], g.kw = ks[1], g.s = s;
    g.pt = pads[0], g.pl = pads[1], g.pb = pads[2], g.pr = pads[3];
    g.avg = avg;
    g.excludePad = avg && !noPad && n.op() == "AveragePool" &&
                   !aInt(n, "count_include_pad", 0);
    g.padValue = -128;
    if (avg && !noPad)
      g.padValue = storedZp(v.dtype(x), aInt(n, "pad_value", 0));
    g.out = newTensor(y, isOutput(y) ? NTensor::Kind::Output
                                     : NTensor::Kind::Activation);
    tensorOf[size_t(y)] = g.out;
    lp.layers.push_back(std::move(L));
  }

  AddRegs regsOf(const v1::Node &n, int a, int b, int y, bool swap) {
    AddAttrs p;
    addAttrs(n, p);
    AddRegs r;
    r.lshift = int32_t(p.lshift);
    int32_t za = storedZp(v.dtype(a), p.aZp), zb = storedZp(v.dtype(b), p.bZp);
    r.aZp = swap ? zb : za;
    r.bZp = swap ? za : zb;
    r.aMult = int32_t(swap ? p.bMult : p.aMult);
    r.aShift = int32_t(swap ? p.bShift : p.aShift);
    r.bMult = int32_t(swap ? p.aMult : p.bMult);
    r.bShift = int32_t(swap ? p.aShift : p.bShift);
    r.outMult = int32_t(p.outMult);
    r.outShift = int32_t(p.outShift);
    int64_t off = v.dtype(y) == "u8" ? 128 : 0;
    int64_t lowest = v.dtype(y) == "u8" ? 0 : -128;
    int64_t highest = v.dtype(y) == "u8" ? 255 : 127;
    int64_t lo = std::max(p.lo, lowest), hi = std::min(p.hi, highest);
    r.outZp = int32_t(p.outZp - off);
    r.lo = int32_t(lo - off);
    r.hi = int32_t(std::max(lo, hi) - off);
    return r;
  }

  void qadd(const v1::Node &n) {
    int a = v.in(n, 0), b = v.in(n, 1), y = v.out(n);
    auto yd = v.dims(y);
    int ka = broadcastKind(yd, v.dims(a)), kb = broadcastKind(yd, v.dims(b));
    // Fuse into the GEMM layer producing one operand, when it is its only
    // use and the layer has no pooling or add yet.
    for (int side = 0; side < 2; ++side) {
      int mine = side == 0 ? a : b, other = side == 0 ? b : a;
      int kMine = side == 0 ? ka : kb, kOther = side == 0 ? kb : ka;
      auto it = pending.find(mine);
      if (kMine != 0 || it == pending.end() || !it->second.requantized ||
          !single(mine) || it->second.layer.gemm.add.on)
        continue;
      int ot = kOther ? repeatedTensor(other, yd[1]) : materialize(other);
      if (ot < 0)
        return;
      it = pending.find(mine);
      Layer trial = it->second.layer;
      FusedAdd &f = trial.gemm.add;
      f.on = true;
      f.other = ot;
      f.otherBroadcast = kOther == 1;
      f.convIsA = side == 0;
      // Registers: A is the add's first operand, whatever computes it.
      f.regs = regsOf(n, a, b, y, false);
      trial.nodes.push_back(n.name());
      if (!fits(trial))
        continue;
      Pending p = std::move(it->second);
      pending.erase(it);
      p.layer = std::move(trial);
      pending[y] = std::move(p);
      return;
    }
    // A layer of its own: the repeated operand (if any) is b.
    bool swap = ka == 1;
    int ta = materialize(swap ? b : a);
    int tb = (swap ? ka : kb) ? repeatedTensor(swap ? a : b, yd[1])
                              : materialize(swap ? a : b);
    if (ta < 0 || tb < 0)
      return;
    Layer L;
    L.kind = Layer::Kind::Add;
    L.name = n.name();
    L.nodes = {n.name()};
    L.add.a = ta;
    L.add.b = tb;
    L.add.bBroadcast = (swap ? ka : kb) == 1;
    L.add.regs = regsOf(n, a, b, y, swap);
    L.add.out = newTensor(y, isOutput(y) ? NTensor::Kind::Output
                                         : NTensor::Kind::Activation);
    tensorOf[size_t(y)] = L.add.out;
    lp.layers.push_back(std::move(L));
  }

  // Points every tensor stored in `from` into `to` at a tile offset.
  void rebase(int from, int to, int64_t off) {
    for (size_t k = 0; k < lp.tensors.size(); ++k) {
      NTensor &t = lp.tensors[k];
      if (int(k) == from || t.base == from) {
        t.base = to;
        t.tileOffset += off;
      }
    }
  }

  void concat(const v1::Node &n) {
    int y = v.out(n);
    int ty = newTensor(y, isOutput(y) ? NTensor::Kind::Output
                                      : NTensor::Kind::Activation);
    tensorOf[size_t(y)] = ty;
    int64_t off = 0;
    for (int i = 0; i < n.inputs_size(); ++i) {
      int x = n.inputs(i);
      if (tensorOf[size_t(x)] < 0 && pending.count(x)) {
        materialize(x, ty, off);
      } else {
        int k = materialize(x);
        if (k < 0)
          return;
        NTensor &t = lp.tensors[size_t(k)];
        if (t.base >= 0 || t.kind == NTensor::Kind::Constant) {
          err = "Concat " + q(n.name()) + ": input " + q(v.name(x)) +
                " is already placed elsewhere";
          return;
        }
        rebase(k, ty, off);
      }
      off += ceilDiv(v.dims(x)[1], kDim);
    }
  }

  void move(const v1::Node &n) {
    int x = v.in(n, 0), y = v.out(n);
    if (!sameLayout(v.dims(x), v.dims(y))) {
      if (!flattensIntoMatMul(v, n)) {
        err = n.op() + " " + q(n.name()) +
              ": changes the layout and its MatMul is not in the partition";
        return;
      }
      flattened[y] = x;
      return;
    }
    int k = materialize(x);
    if (k < 0)
      return;
    int t = newTensor(y, isOutput(y) ? NTensor::Kind::Output
                                     : NTensor::Kind::Activation);
    const NTensor &src = lp.tensors[size_t(k)];
    lp.tensors[size_t(t)].base = src.base >= 0 ? src.base : k;
    lp.tensors[size_t(t)].tileOffset = src.tileOffset;
    tensorOf[size_t(y)] = t;
  }

  bool fits(const Layer &L) const { return layerFits(L, lp.tensors).empty(); }

  std::string run() {
    for (int i = 0; i < v.g.nodes_size() && err.empty(); ++i) {
      const v1::Node &n = v.g.nodes(i);
      if (!an.why[size_t(i)].empty())
        return "node " + std::to_string(i) + " " + n.op() + " " + q(n.name()) +
               ": " + an.why[size_t(i)];
      const std::string &op = n.op();
      if (an.sumOf[size_t(i)] >= 0)
        sumNode(n);
      else if (isGemmRoot(n))
        gemmRoot(i, n);
      else if (op == "Add")
        biasAdd(n);
      else if (op == "Requantize")
        requantize(n);
      else if (op == "MaxPool" || op == "AveragePool" ||
               op == "GlobalAveragePool")
        pool(n);
      else if (op == "QuantizedAdd")
        qadd(n);
      else if (op == "Concat")
        concat(n);
      else
        move(n);
    }
    for (int x : v.g.outputs())
      if (err.empty())
        materialize(x);
    if (!err.empty())
      return err;
    if (!pending.empty())
      return "internal: a layer was left unfinished (" +
             pending.begin()->second.layer.name + ")";
    for (int x : v.g.inputs())
      lp.inputs.push_back(materialize(x));
    for (int x : v.g.outputs())
      lp.outputs.push_back(tensorOf[size_t(x)]);
    return err;
  }
};

} // namespace

std::string buildLayers(const v1::Graph &g, LayerProgram &out) {
  out = LayerProgram();
  View v(g);
  if (!v.error.empty())
    return v.error;
  Builder b(v, out);
  return b.run();
}

} // namespace ember::npusim
