// Building the layers of a partition (Select.h, buildLayers): per node, the
// form table's builder; a layer stays pending while a following bias Add,
// Requantize, pool or add may still fold into it.
#include "SelectInternal.h"

#include "ember/accel/Program.h"
#include "ember/accel/Select.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <numeric>
#include <optional>
#include <set>

namespace ember::accel::sel {

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
    std::string form; // the target form that started it (its epilogue)
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
    t.i16 = v.dtype(value) == "i16";
    t.axis = v.chan[size_t(value)];
    t.C = t.dims.empty() ? 1 : t.dims[size_t(t.axis)];
    t.P = t.C ? prod(t.dims, 0, t.dims.size()) / t.C : 0;
    t.lanes = v.t.lanes;
    lp.tensors.push_back(std::move(t));
    return int(lp.tensors.size() - 1);
  }

  // The tiled layout of a constant i8/u8 tensor (an add's operand).
  int constTensor(int x) {
    int k = newTensor(x, NTensor::Kind::Constant);
    NTensor &t = lp.tensors[size_t(k)];
    std::vector<int64_t> vals;
    v.ints(x, vals);
    std::vector<uint8_t> host(vals.size());
    for (size_t i = 0; i < vals.size(); ++i)
      host[i] = uint8_t(vals[i]);
    t.data.assign(size_t(t.bytes()), 0);
    // (A host -> device layout conversion, inlined: constants are small.)
    const int64_t L = t.lanes;
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
          t.data[size_t(((c / L) * t.P + a * post + b) * L + c % L)] =
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
    t.lanes = v.t.lanes;
    const int64_t L = t.lanes;
    t.data.assign(size_t(t.bytes()), 0);
    for (int64_t c = 0; c < C; ++c) {
      int64_t h = vals.size() == 1 ? vals[0] : vals[size_t(c)];
      t.data[size_t((c / L) * L + c % L)] = int8_t(t.u8 ? h - 128 : h);
    }
    lp.tensors.push_back(std::move(t));
    return repeated[{x, C}] = int(lp.tensors.size() - 1);
  }
  std::map<std::pair<int, int64_t>, int> repeated; // (value, C) -> tensor

  // The tensor holding value x in DRAM, emitting its pending layer.
  int materialize(int x, int base = -1, int64_t tileOffset = 0,
                  int64_t pixOff = -1) {
    if (tensorOf[size_t(x)] >= 0)
      return tensorOf[size_t(x)];
    if (lanePart(v, x))
      return laneCopy(x);
    auto it = pending.find(x);
    if (it != pending.end()) {
      int k = newTensor(x, isOutput(x) ? NTensor::Kind::Output
                                       : NTensor::Kind::Activation);
      lp.tensors[size_t(k)].base = base;
      lp.tensors[size_t(k)].tileOffset = tileOffset;
      lp.tensors[size_t(k)].pixOff = pixOff;
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
      const int64_t M = prod(ad, 0, ad.size() - 1); // pixels (rank 2 or 3)
      g.N = 1, g.C = ad.back(), g.H = 1, g.W = g.OW = M, g.K = bd[1], g.OH = 1;
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
    if (v.dtype(x) == "i16") { // zero points 0 (checked): padding reads 0
      g.in16 = true;
      g.padValue = 0;
      g.bias64.assign(size_t(g.K), 0);
      for (int64_t k = 0; k < g.K; ++k)
        for (int64_t t = 0; t < per; ++t)
          g.bias64[size_t(k)] += 128 * int64_t(g.w[size_t(k * per + t)]);
    }
    for (int64_t k = 0; k < g.K; ++k) {
      int64_t sum = 0;
      for (int64_t t = 0; t < per; ++t)
        sum += g.w[size_t(k * per + t)];
      g.bias[size_t(k)] = int32_t(int64_t(g.bias[size_t(k)]) - sz * sum);
    }
    // A product recomputed for another reader (Unshare.cpp): the model's
    // MACs are its original's.
    const int copy = v.copyOf(i);
    if (copy)
      L.name += "/recompute" + std::to_string(copy);
    const PadPlan pads =
        padPlan(v.t.maxPad, (g.kh - 1) * g.dh + 1, (g.kw - 1) * g.dw + 1,
                {g.pt, g.pl, g.pb, g.pr});
    g.in =
        lanePart(v, x) && pads.steps.empty() ? laneView(x, g) : materialize(x);
    for (size_t k = 0; k < pads.steps.size() && g.in >= 0; ++k)
      g.in = padLayer(g, pads.steps[k], n.name(),
                      L.name + "/pad" + (k ? std::to_string(k) : ""));
    L.usefulMacs = copy ? 0 : uint64_t(g.N * g.OH * g.OW * g.K * per);
    L.gemm = std::move(g);
    pending[y] = {std::move(L), false,
                  n.op() == "ConvInteger" ? "conv" : "matmul"};
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
      // The device's sum = sum of stored values = sum(q) - HW * offset.
      g.bias.assign(size_t(g.K), int32_t((t.u8 ? 128 : 0) * g.H * g.W));
      if (t.i16) { // 16x8: the low plane's excess-128 over every pixel
        g.in16 = true;
        g.bias64.assign(size_t(g.K), 128 * g.H * g.W);
      }
      pending[y] = {std::move(L), false, "mean"};
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
    for (int64_t k = 0; k < g.K && g.in16; ++k)
      g.bias64[size_t(k)] += bv[bv.size() == 1 ? 0 : size_t(k)];
    for (int64_t k = 0; k < g.K && !g.in16; ++k)
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
    } else if (isQ8(v.dtype(x)) || v.dtype(x) == "i16") {
      // An identity GEMM brings int8 (or int16: both byte planes) into the
      // accumulators.
      p.form = "requant";
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
      if (d.size() == 4 && t.axis == 1) {
        g.N = d[0], g.H = g.OH = d[2], g.W = g.OW = d[3];
      } else {
        g.N = 1, g.H = g.OH = 1, g.W = g.OW = t.P;
      }
      g.flat = true;
      g.w.assign(size_t(g.K), 1);
      g.bias.assign(size_t(g.K), 0);
      // The device's accumulator = stored x; Requantize wants q - x_zp.
      g.padValue = 0;
      p.layer.usefulMacs = 0;
      // The input's stored offset is folded below with x_zero_point.
      if (t.u8)
        for (auto &b : g.bias)
          b += 128;
      if (t.i16) { // the low plane's excess-128 (zero point 0)
        g.in16 = true;
        g.bias64.assign(size_t(g.K), 128);
      }
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
    g.out16 = to == "i16";
    int64_t lowest = to == "u8" ? 0
                     : g.out16  ? -32768
                                : -128,
            highest = to == "u8" ? 255
                      : g.out16  ? 32767
                                 : 127;
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

  // A TableLookup of a requantized pending layer: its output table
  // (stored entries: index k is the stored input k - 128, a u8 table's
  // values shifted by -128).
  // A TableLookup of an int16 tensor (form table16): a layer of its own, a
  // 1x1 pool on 16-bit rows whose vector op looks each value up in the
  // 513-entry table (Layer::lut16).
  void table16(const v1::Node &n) {
    std::vector<int64_t> vals;
    v.ints(v.in(n, 1), vals);
    int in = materialize(v.in(n, 0));
    if (in < 0)
      return;
    tensorOf[size_t(v.out(n))] = pixelLayer(n.name(), n, in, v.out(n), -1, -1);
    for (int64_t e : vals)
      lp.layers.back().lut16.push_back(int16_t(e));
  }

  void table(const v1::Node &n) {
    int x = v.in(n, 0), y = v.out(n);
    if (v.dtype(x) == "i16") {
      table16(n);
      return;
    }
    auto it = pending.find(x);
    if (it == pending.end() || !it->second.requantized ||
        !it->second.layer.lut.empty() || !fuses(v.t, it->second.form, "lut")) {
      err = "TableLookup " + q(n.name()) +
            ": its input is not the result of a layer with an output table";
      return;
    }
    std::vector<int64_t> vals;
    v.ints(v.in(n, 1), vals);
    const bool inU8 = v.dtype(x) == "u8", outU8 = v.dtype(y) == "u8";
    std::vector<int8_t> lut(256);
    for (int k = 0; k < 256; ++k) {
      // Stored input k - 128 is the graph value k - 128 (i8) or k (u8); the
      // table is indexed by value - lowest, which is k in both cases.
      int64_t out = vals[size_t(k)];
      lut[size_t(k)] = int8_t(outU8 ? out - 128 : out);
    }
    (void)inU8;
    Pending p = std::move(it->second);
    pending.erase(it);
    p.layer.nodes.push_back(n.name());
    p.layer.lut = std::move(lut);
    pending[y] = std::move(p);
  }

  // The pattern of `list` (an Analysis list) whose last node, member `end`,
  // is node ri; null with an internal error when the selector claimed the
  // node for a pattern the analysis did not record.
  template <class P>
  const P *patternEndingAt(const std::vector<P> &list, int P::*end, int ri,
                           const char *what) {
    for (const P &p : list)
      if (p.*end == ri)
        return &p;
    const v1::Node &n = v.g.nodes(ri);
    err = "internal: " + n.op() + " " + q(n.name()) + " outside its " + what;
    return nullptr;
  }

  // A quantized multiply (Analysis::muls), ending at Requantize `ri`: a
  // layer of its own, b the repeated per-channel operand if any.
  void mulLayer(int ri) {
    const MulPattern *mp =
        patternEndingAt(an.muls, &MulPattern::requant, ri, "multiply");
    if (!mp)
      return;
    const v1::Node &r = v.g.nodes(ri);
    int y = v.out(r);
    auto yd = v.dims(y);
    int ta = materialize(mp->a);
    int tb = mp->kind ? repeatedTensor(mp->b, yd[1]) : materialize(mp->b);
    if (ta < 0 || tb < 0)
      return;
    Layer L;
    L.kind = Layer::Kind::Add;
    L.name = v.g.nodes(mp->mul).name();
    for (int k : {mp->castA, mp->subA, mp->castB, mp->subB, mp->mul, ri})
      if (k >= 0)
        L.nodes.push_back(v.g.nodes(k).name());
    L.add.a = ta;
    L.add.b = tb;
    L.add.bBroadcast = mp->kind == 1;
    L.add.mul = true;
    MulRegs &g = L.add.mulRegs;
    g.aZp = storedZp(v.dtype(mp->a), mp->za);
    g.bZp = storedZp(v.dtype(mp->b), mp->zb);
    std::vector<int64_t> m, e, zy;
    v.ints(v.in(r, 1), m);
    v.ints(v.in(r, 2), e);
    if (v.in(r, 4) >= 0)
      v.ints(v.in(r, 4), zy);
    g.mult = int32_t(m[0]);
    g.shift = int32_t(e[0]);
    const std::string &to = v.dtype(y);
    const int64_t lowest = to == "u8"    ? 0
                           : to == "i16" ? -32768
                                         : -128,
                  highest = to == "i16" ? 32767 : lowest + 255;
    const int64_t lo = std::max(aInt(r, "min", lowest), lowest);
    const int64_t hi = std::min(aInt(r, "max", highest), highest);
    const int64_t off = to == "u8" ? 128 : 0;
    g.outZp = int32_t((zy.empty() ? 0 : zy[0]) - off);
    g.lo = int32_t(lo - off);
    g.hi = int32_t(std::max(lo, hi) - off);
    L.add.out = newTensor(y, isOutput(y) ? NTensor::Kind::Output
                                         : NTensor::Kind::Activation);
    tensorOf[size_t(y)] = L.add.out;
    lp.layers.push_back(std::move(L));
  }

  // The last node of a table chain (Analysis::tables): the chain's table
  // becomes the output table of the layer computing its root.
  void tableChainEnd(int exit) {
    const TableChain *tc = nullptr;
    for (const TableChain &c : an.tables)
      if (c.exit == exit)
        tc = &c;
    const v1::Node &n = v.g.nodes(exit);
    auto it = tc ? pending.find(tc->root) : pending.end();
    if (it == pending.end() || !it->second.requantized ||
        !it->second.layer.lut.empty() || !fuses(v.t, it->second.form, "lut")) {
      err = n.op() + " " + q(n.name()) +
            ": its chain's input is not the result of a layer with an output "
            "table";
      return;
    }
    Pending p = std::move(it->second);
    pending.erase(it);
    for (int m : tc->nodes)
      p.layer.nodes.push_back(v.g.nodes(m).name());
    p.layer.lut = tc->lut;
    pending[v.out(n)] = std::move(p);
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
    const bool w16 = v.dtype(x) == "i16"; // 16-bit rows: a layer of its own
    // (A fused pool has one stride for both axes.)
    const int64_t sh = global ? s : st[0], sw = global ? s : st[1];
    if (!w16 && noPad && sh == sw && it != pending.end() &&
        it->second.requantized && single(x) && it->second.layer.lut.empty() &&
        !it->second.layer.gemm.pool.on && !it->second.layer.gemm.add.on &&
        fuses(v.t, it->second.form, "pool")) {
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
    g.kh = ks[0], g.kw = ks[1], g.sh = sh, g.sw = sw;
    g.pt = pads[0], g.pl = pads[1], g.pb = pads[2], g.pr = pads[3];
    g.avg = avg;
    g.excludePad = avg && !noPad && n.op() == "AveragePool" &&
                   !aInt(n, "count_include_pad", 0);
    g.padValue = w16 ? -32768 : -128;
    if (avg && !noPad)
      g.padValue = storedZp(v.dtype(x), aInt(n, "pad_value", 0));
    g.w16 = w16;
    // Padding over the loads' fields: identity layers store the input
    // with it (padPlan; each window reads the image, pads below the
    // kernel), their padding the pool's.
    const PadPlan pp =
        padPlan(v.t.maxPad, g.kh, g.kw, {g.pt, g.pl, g.pb, g.pr});
    if (!pp.steps.empty()) {
      GemmLayer t;
      t.in = g.in, t.N = g.N, t.C = g.C, t.H = g.H, t.W = g.W;
      t.pt = g.pt, t.pl = g.pl, t.pb = g.pb, t.pr = g.pr;
      t.padValue = g.padValue, t.in16 = w16;
      for (size_t k = 0; k < pp.steps.size(); ++k)
        t.in = padLayer(t, pp.steps[k], n.name(),
                        L.name + "/pad" + (k ? std::to_string(k) : ""));
      g.in = t.in, g.H = t.H, g.W = t.W;
      g.pt = t.pt, g.pl = t.pl, g.pb = t.pb, g.pr = t.pr;
    }
    g.out = newTensor(y, isOutput(y) ? NTensor::Kind::Output
                                     : NTensor::Kind::Activation);
    tensorOf[size_t(y)] = g.out;
    lp.layers.push_back(std::move(L));
  }

  AddRegs regsOf(const v1::Node &n, int a, int b, int y, bool swap) {
    AddAttrs p;
    addAttrs(n, p);
    AddRegs r;
    if (p.exact) {
      exactAddRegs(v, p, a, b, y, swap, r); // checked by whyQAdd
      return r;
    }
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
    const bool w16 = v.dtype(y) == "i16";
    int64_t lowest = v.dtype(y) == "u8" ? 0 : w16 ? -32768 : -128;
    int64_t highest = v.dtype(y) == "u8" ? 255 : w16 ? 32767 : 127;
    int64_t lo = std::max(p.lo, lowest), hi = std::min(p.hi, highest);
    r.outZp = int32_t(p.outZp - off);
    r.lo = int32_t(lo - off);
    r.hi = int32_t(std::max(lo, hi) - off);
    return r;
  }

  void qadd(const v1::Node &n) {
    int a = v.in(n, 0), b = v.in(n, 1), y = v.out(n);
    auto yd = v.dims(y);
    int ka = broadcastKind(v, y, a), kb = broadcastKind(v, y, b);
    const int64_t C = yd[isSequence(v, y) ? 2 : 1]; // (defaultChan)
    // Fuse into the GEMM layer producing one operand, when it is its only
    // use and the layer has no pooling or add yet.
    // (A 16-bit add fuses into a 16-bit layer when both operands and the sum
    // are int16 maps of one shape: the int16 add; else a layer of its own.)
    const bool any16 =
        v.dtype(a) == "i16" || v.dtype(b) == "i16" || v.dtype(y) == "i16";
    const bool all16 =
        v.dtype(a) == "i16" && v.dtype(b) == "i16" && v.dtype(y) == "i16";
    for (int side = 0; side < 2 && (!any16 || all16); ++side) {
      int mine = side == 0 ? a : b, other = side == 0 ? b : a;
      int kMine = side == 0 ? ka : kb, kOther = side == 0 ? kb : ka;
      auto it = pending.find(mine);
      if (all16 && (kOther != 0 || it == pending.end() ||
                    it->second.layer.kind != Layer::Kind::Gemm ||
                    !it->second.layer.gemm.out16))
        continue;
      if (kMine != 0 || it == pending.end() || !it->second.requantized ||
          !single(mine) || it->second.layer.gemm.add.on ||
          !it->second.layer.lut.empty() || !fuses(v.t, it->second.form, "add"))
        continue;
      int ot = kOther ? repeatedTensor(other, C) : materialize(other);
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
    int tb = (swap ? ka : kb) ? repeatedTensor(swap ? a : b, C)
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
    L.add.w16 = any16;
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

  // A copy of tensor k into channel tile `off` of `to`: a 1x1 max pool on
  // the vector unit (for an input that cannot be placed).
  void copyInto(const v1::Node &n, int x, int k, int to, int64_t off) {
    auto xd = v.dims(x);
    if (xd.size() >= 2 && xd.size() != 4) // [N, C, rest...]: an N x rest x 1
      xd = {xd[0], xd[1], prod(xd, 2, xd.size()), 1}; // map (the same rows)
    if (xd.size() != 4) {
      err = "Concat " + q(n.name()) + ": input " + q(v.name(x)) +
            " cannot be placed in the output and is not an image to copy";
      return;
    }
    if (!v.t.has(OpKind::Pool)) {
      err = "Concat " + q(n.name()) + ": input " + q(v.name(x)) +
            " cannot be placed in the output and the target has no pool to "
            "copy it";
      return;
    }
    Layer L;
    L.kind = Layer::Kind::Pool;
    L.name = n.name() + "/copy" + std::to_string(off);
    L.nodes = {n.name()};
    PoolLayer &g = L.pool;
    g.in = k;
    g.N = xd[0], g.C = xd[1], g.H = g.OH = xd[2], g.W = g.OW = xd[3];
    g.w16 = lp.tensors[size_t(k)].i16; // (a 16-bit copy: 16-bit rows)
    g.padValue = g.w16 ? -32768 : g.padValue;
    g.out = newTensor(x, NTensor::Kind::Activation);
    lp.tensors[size_t(g.out)].name += "/placed";
    lp.tensors[size_t(g.out)].base = to;
    lp.tensors[size_t(g.out)].tileOffset = off;
    lp.layers.push_back(std::move(L));
  }

  // Concat by placement: each input's producer writes its channel tiles of
  // the output. A pending layer stores there; a computed tensor with storage
  // of its own is rebased there; views of one tensor (split parts, a
  // reshape) move their owner there when they are consecutive inputs that
  // cover it exactly. Any other input (a partition input, output or
  // constant, a tensor placed in another Concat) is copied there.
  void concat(const v1::Node &n) {
    int y = v.out(n);
    int ty = newTensor(y, isOutput(y) ? NTensor::Kind::Output
                                      : NTensor::Kind::Activation);
    tensorOf[size_t(y)] = ty;
    concatOuts.insert(ty);
    // (All the parts of a Split with parts inside a tile: its input.)
    const std::vector<int> ins = concatInputs(v, n);
    const int m = int(ins.size());
    // Channel offsets, and tile offsets (an input inside tiles: the tile
    // it starts in).
    std::vector<int64_t> chans(size_t(m) + 1, 0), offs(size_t(m) + 1, 0);
    for (int i = 0; i < m; ++i)
      chans[size_t(i) + 1] = chans[size_t(i)] + v.dims(ins[size_t(i)])[1];
    for (int i = 0; i < m; ++i)
      offs[size_t(i)] = chans[size_t(i)] / v.t.lanes;
    offs[size_t(m)] = ceilDiv(chans[size_t(m)], v.t.lanes);
    auto inside = [&](int i) {
      return chans[size_t(i)] % v.t.lanes ||
             (i + 1 < m && chans[size_t(i) + 1] % v.t.lanes);
    };
    // Owners of views among the inputs: the shift that puts each view at
    // its slot, and the tiles the views cover (-1: they disagree).
    std::map<int, std::pair<int64_t, int64_t>> owners;
    std::set<std::pair<int, int64_t>> seen;
    for (int i = 0; i < m; ++i) {
      int k = tensorOf[size_t(ins[size_t(i)])];
      if (k < 0 || lp.tensors[size_t(k)].base < 0)
        continue;
      const NTensor &t = lp.tensors[size_t(k)];
      int64_t at = offs[size_t(i)] - t.tileOffset;
      auto [it, fresh] = owners.insert({t.base, {at, 0}});
      if (!seen.insert({t.base, t.tileOffset}).second || it->second.first != at)
        it->second.second = -1;
      else if (it->second.second >= 0)
        it->second.second += offs[size_t(i) + 1] - offs[size_t(i)];
      (void)fresh;
    }
    for (const auto &[o, shift] : owners) {
      const NTensor &ot = lp.tensors[size_t(o)];
      if (ot.kind == NTensor::Kind::Activation && !concatOuts.count(o) &&
          shift.first >= 0 && shift.second == ot.tiles() &&
          shift.first + ot.tiles() <= lp.tensors[size_t(ty)].tiles())
        rebase(o, ty, shift.first);
    }
    for (int i = 0; i < m && err.empty(); ++i) {
      int x = ins[size_t(i)];
      if (inside(i)) {
        placeAtLanes(n, x, ty, chans[size_t(i)]);
        continue;
      }
      if (tensorOf[size_t(x)] < 0 && pending.count(x)) {
        materialize(x, ty, offs[size_t(i)]);
        continue;
      }
      int k = materialize(x);
      if (k < 0)
        return;
      const NTensor &t = lp.tensors[size_t(k)];
      if (t.base == ty && t.tileOffset == offs[size_t(i)])
        continue; // a view already in its slot
      if (t.base < 0 && t.kind == NTensor::Kind::Activation) {
        rebase(k, ty, offs[size_t(i)]); // (a Concat's result moves whole)
        continue;
      }
      copyInto(n, x, k, ty, offs[size_t(i)]);
    }
  }
  std::set<int> concatOuts; // tensors Concats place their inputs in

  // A Concat input at channel `at` that does not span whole channel tiles:
  // its (pending, ungrouped) GEMM layer computes it at its lanes of the
  // output (weight rows, bias and requantization moved up by at % lanes,
  // zero rows before) and stores only its lane groups (NTensor::laneFrom).
  void placeAtLanes(const v1::Node &n, int x, int to, int64_t at) {
    // A result computed already (a Split's input the Concat reassembles)
    // that starts at a whole tile: it moves with its views, and its stores
    // leave the lanes past its channels.
    const int had = tensorOf[size_t(x)];
    if (at % v.t.lanes == 0 && had >= 0 && lp.tensors[size_t(had)].base < 0 &&
        lp.tensors[size_t(had)].kind == NTensor::Kind::Activation) {
      rebase(had, to, at / v.t.lanes);
      lp.tensors[size_t(had)].laneFrom = 0;
      return;
    }
    auto it = pending.find(x);
    GemmLayer *g =
        it != pending.end() && it->second.layer.kind == Layer::Kind::Gemm
            ? &it->second.layer.gemm
            : nullptr;
    // A Requantize of a tensor (a per-channel identity GEMM) becomes an
    // ungrouped one, whose weight rows can move to other lanes.
    if (g && it->second.form == "requant" && g->groups == g->C &&
        g->K == g->C && int64_t(g->w.size()) == g->K && g->kh == 1 &&
        g->kw == 1) {
      std::vector<int8_t> w(size_t(g->K * g->C), 0);
      for (int64_t k = 0; k < g->K; ++k)
        w[size_t(k * g->C + k)] = g->w[size_t(k)];
      g->w = std::move(w);
      g->groups = 1;
    }
    // (A grouped layer keeps its weight rows where they are only at lane 0.)
    if (!g || (g->groups != 1 && at % v.t.lanes) || g->in16 || g->out16 ||
        g->add.on || !g->requant || g->sum || !it->second.requantized ||
        !single(x) || had >= 0) {
      laneCopyInto(n, x, to, at);
      return;
    }
    const int64_t l0 = at % v.t.lanes, K = g->K, Kw = l0 + K;
    const int64_t per = K ? int64_t(g->w.size()) / K : 0;
    std::vector<int8_t> w(size_t(Kw * per), 0);
    std::copy(g->w.begin(), g->w.end(), w.begin() + l0 * per);
    g->w = std::move(w);
    auto shift = [&](auto &vec) {
      if (int64_t(vec.size()) == K)
        vec.insert(vec.begin(), size_t(l0), 0);
    };
    shift(g->bias);
    shift(g->rq.mult);
    shift(g->rq.shift);
    g->K = Kw;
    int k = materialize(x, to, at / v.t.lanes);
    if (k < 0)
      return;
    NTensor &t = lp.tensors[size_t(k)];
    t.dims[1] = Kw;
    t.C = Kw;
    t.laneFrom = l0;
  }

  // A Concat input inside channel tiles that no layer computes for it alone
  // (a pool's, an add's or a shared result, a grouped convolution's):
  // copied to its lanes of the output by an identity GEMM (weights 1 at
  // row at % lanes + c, column c; requantization by exactly 1), which stores
  // only its lane groups.
  void laneCopyInto(const v1::Node &n, int x, int to, int64_t at) {
    const int k = materialize(x);
    if (k < 0)
      return;
    const auto d = v.dims(x);
    const int64_t l0 = at % v.t.lanes, C = d[1], Kw = l0 + C;
    Layer L;
    L.kind = Layer::Kind::Gemm;
    L.name = n.name() + "/copy" + std::to_string(at);
    L.nodes = {n.name()};
    GemmLayer &g = L.gemm;
    g.in = k;
    g.C = C;
    g.K = Kw;
    if (d.size() == 4) {
      g.N = d[0], g.H = g.OH = d[2], g.W = g.OW = d[3];
    } else {
      g.N = 1, g.H = g.OH = 1, g.W = g.OW = prod(d, 0, d.size()) / C;
    }
    g.flat = true;
    g.w.assign(size_t(Kw * C), 0);
    for (int64_t c = 0; c < C; ++c)
      g.w[size_t((l0 + c) * C + c)] = 1;
    g.bias.assign(size_t(Kw), 0);
    g.rq.mult.assign(size_t(Kw), int32_t(1) << 30);
    g.rq.shift.assign(size_t(Kw), 1);
    g.out = newTensor(x, NTensor::Kind::Activation);
    NTensor &t = lp.tensors[size_t(g.out)];
    t.name += "/placed";
    t.base = to;
    t.tileOffset = at / v.t.lanes;
    t.dims[1] = Kw;
    t.C = Kw;
    t.laneFrom = l0;
    lp.layers.push_back(std::move(L));
  }

  // Nearest upsampling: a 1x1 max pool whose result is stored repeated.
  void resize(const v1::Node &n) {
    int x = v.in(n, 0), y = v.out(n);
    int in = materialize(x);
    if (in < 0)
      return;
    auto xd = v.dims(x), yd = v.dims(y);
    Layer L;
    L.kind = Layer::Kind::Pool;
    L.name = n.name();
    L.nodes = {n.name()};
    PoolLayer &g = L.pool;
    g.in = in;
    g.N = xd[0], g.C = xd[1], g.H = g.OH = xd[2], g.W = g.OW = xd[3];
    g.up = yd[2] / xd[2];
    g.out = newTensor(y, isOutput(y) ? NTensor::Kind::Output
                                     : NTensor::Kind::Activation);
    tensorOf[size_t(y)] = g.out;
    lp.layers.push_back(std::move(L));
  }

  // Bilinear upsampling (Analysis::ups): Cast -> [Sub] -> Resize ->
  // Requantize, one layer of Upsample ops on the vector engine.
  void upLayer(int ri) {
    const UpPattern *up =
        patternEndingAt(an.ups, &UpPattern::requant, ri, "upsampling");
    if (!up)
      return;
    const v1::Node &r = v.g.nodes(ri);
    int in = materialize(up->x);
    if (in < 0)
      return;
    int y = v.out(r);
    auto xd = v.dims(up->x);
    Layer L;
    L.kind = Layer::Kind::Pool;
    L.name = v.g.nodes(up->resize).name();
    for (int k : {up->cast, up->sub, up->resize, ri})
      if (k >= 0)
        L.nodes.push_back(v.g.nodes(k).name());
    PoolLayer &g = L.pool;
    g.in = in;
    g.N = xd[0], g.C = xd[1], g.H = g.OH = xd[2], g.W = g.OW = xd[3];
    g.up = up->f;
    g.upMode = up->mode;
    g.upZp = storedZp(v.dtype(up->x), up->z);
    g.out = newTensor(y, isOutput(y) ? NTensor::Kind::Output
                                     : NTensor::Kind::Activation);
    tensorOf[size_t(y)] = g.out;
    lp.layers.push_back(std::move(L));
  }

  // A phase interleave (Analysis::ilvs) ending in node ri (its last
  // Reshape, or the Slice cropping it): the result gets its tensor, and
  // each phase's pending convolution layer stores its rows at their pixels
  // of it (NTensor::ilv).
  void ilvLayer(int ri) {
    const IlvPattern *p =
        patternEndingAt(an.ilvs, &IlvPattern::last, ri, "interleave");
    if (!p)
      return;
    const v1::Node &r = v.g.nodes(ri);
    const int y = v.out(r);
    const int owner = newTensor(y, isOutput(y) ? NTensor::Kind::Output
                                               : NTensor::Kind::Activation);
    tensorOf[size_t(y)] = owner;
    for (size_t k = 0; k < p->phases.size(); ++k) {
      const int x = p->phases[k];
      auto it = pending.find(x);
      const GemmLayer *g =
          it != pending.end() && it->second.layer.kind == Layer::Kind::Gemm
              ? &it->second.layer.gemm
              : nullptr;
      if (!g || !g->requant || g->pool.on || g->add.on || g->out16 ||
          tensorOf[size_t(x)] >= 0) {
        err = "interleave " + q(r.name()) + ": phase " + q(v.name(x)) +
              " is not a convolution layer computed for it alone";
        return;
      }
      const int t = materialize(x, owner, 0);
      if (t < 0)
        return;
      NTensor &pt = lp.tensors[size_t(t)];
      pt.ilv = p->sy;
      pt.ilvX = p->sx == p->sy ? 0 : p->sx;
      pt.phase = int64_t(k);
      pt.top = p->top;
      pt.left = p->left;
    }
    // (The interleave's nodes are the last phase layer's too, for the
    // report.)
    if (!lp.layers.empty())
      for (int k : p->nodes())
        lp.layers.back().nodes.push_back(v.g.nodes(k).name());
  }

  // A channel permutation (Analysis::perms) ending at node `last`: folded
  // into the pending GEMM layer computing its input when that layer is
  // computed for it alone and the fold costs the array no more passes
  // (permuteOutputs), else a 1x1 GEMM of 0/1 weights with a requantization
  // by exactly 1 (multiplier 2^30, shift 1: stored values unchanged). Either
  // stays pending, so a following pool, add or Concat placement folds in.
  void permLayer(int last) {
    const PermPattern *p =
        patternEndingAt(an.perms, &PermPattern::last, last, "permutation");
    if (!p)
      return;
    const int x = p->x, y = p->y;
    auto it = pending.find(x);
    if (it != pending.end() && tensorOf[size_t(x)] < 0 && single(x) &&
        it->second.requantized && it->second.layer.kind == Layer::Kind::Gemm &&
        !it->second.layer.gemm.add.on) {
      Layer trial = it->second.layer;
      if (permuteOutputs(v.t.lanes, trial.gemm, p->perm) && fits(trial)) {
        for (int k : p->nodes)
          trial.nodes.push_back(v.g.nodes(k).name());
        Pending moved = std::move(it->second);
        pending.erase(it);
        moved.layer = std::move(trial);
        pending[y] = std::move(moved);
        return;
      }
    }
    const int in = materialize(x);
    if (in < 0)
      return;
    Layer L;
    L.kind = Layer::Kind::Gemm;
    L.name = v.g.nodes(last).name();
    for (int k : p->nodes)
      L.nodes.push_back(v.g.nodes(k).name());
    GemmLayer &g = L.gemm;
    selectChannels(g, v.dims(x), p->perm);
    g.in = in;
    g.requant = true;
    pending[y] = {std::move(L), true, "requant"};
  }

  // Padding g's loads do not add (padPlan): an identity layer stores g's
  // input with `p` more (top, left, bottom, right): depthwise, one weight 1
  // at tap (bottom, right) of a (top + bottom + 1) x (left + right + 1)
  // kernel, padded by top + bottom and left + right on each side, no bias,
  // requantization by exactly 1. Its output line y is input line y - top
  // (column likewise): the border is the padding's stored value (the input
  // zero point), the interior the input unchanged. g then reads the padded
  // map with that much less padding of its own. Returns the padded tensor.
  int padLayer(GemmLayer &g, const std::array<int64_t, 4> &p,
               const std::string &node, const std::string &name) {
    Layer L;
    L.kind = Layer::Kind::Gemm;
    L.name = name;
    L.nodes = {node};
    GemmLayer &c = L.gemm;
    c.in = g.in;
    c.N = g.N, c.C = c.K = c.groups = g.C, c.H = g.H, c.W = g.W;
    c.kh = p[0] + p[2] + 1, c.kw = p[1] + p[3] + 1;
    c.pt = c.pb = p[0] + p[2], c.pl = c.pr = p[1] + p[3];
    c.OH = g.H + p[0] + p[2], c.OW = g.W + p[1] + p[3];
    c.w.assign(size_t(c.K * c.kh * c.kw), 0);
    for (int64_t k = 0; k < c.K; ++k)
      c.w[size_t((k * c.kh + p[2]) * c.kw + p[3])] = 1;
    c.bias.assign(size_t(c.K), 0);
    c.padValue = g.padValue;
    c.rq.mult.assign(size_t(c.K), int32_t(1) << 30);
    c.rq.shift.assign(size_t(c.K), 1);
    if (g.in16) { // both byte planes; the low plane's excess-128
      c.in16 = c.out16 = true;
      c.bias64.assign(size_t(c.K), 128);
      c.rq.lo = -32768, c.rq.hi = 32767;
    }
    NTensor t = lp.tensors[size_t(g.in)];
    t.name = name;
    t.kind = NTensor::Kind::Activation;
    t.value = -1;
    t.dims = {c.N, c.C, c.OH, c.OW};
    t.axis = 1;
    t.C = c.C;
    t.P = c.N * c.OH * c.OW;
    t.base = -1, t.tileOffset = 0, t.dram = -1, t.laneFrom = -1;
    t.ilv = 0, t.phase = 0;
    t.data.clear();
    lp.tensors.push_back(std::move(t));
    const int out = int(lp.tensors.size() - 1);
    c.out = out;
    g.H = c.OH, g.W = c.OW;
    g.pt -= p[0], g.pl -= p[1], g.pb -= p[2], g.pr -= p[3];
    lp.layers.push_back(std::move(L));
    return out;
  }

  // A 1x1 GEMM over a map of dims d whose output channel o is input channel
  // from[o]: 0/1 weights, no bias, requantization by exactly 1 (multiplier
  // 2^30, shift 1), so the stored values are unchanged.
  static void selectChannels(GemmLayer &g, const std::vector<int64_t> &d,
                             const std::vector<int64_t> &from) {
    g.C = g.K = d[1];
    if (d.size() == 4) {
      g.N = d[0], g.H = g.OH = d[2], g.W = g.OW = d[3];
    } else {
      g.N = 1, g.H = g.OH = 1, g.W = g.OW = prod(d, 0, d.size()) / d[1];
    }
    g.flat = true;
    g.w.assign(size_t(g.K * g.C), 0);
    for (int64_t o = 0; o < g.K; ++o)
      g.w[size_t(o * g.C + from[size_t(o)])] = 1;
    g.bias.assign(size_t(g.K), 0);
    g.rq.mult.assign(size_t(g.K), int32_t(1) << 30);
    g.rq.shift.assign(size_t(g.K), 1);
  }

  // Split along channels at whole tiles: each part is a view of the input's
  // storage (no layer, no copy).
  void split(const v1::Node &n) {
    int x = v.in(n, 0);
    int k = materialize(x);
    if (k < 0)
      return;
    int64_t off = 0; // in channels
    for (int i = 0; i < n.outputs_size(); ++i) {
      int y = v.out(n, i);
      if (y < 0)
        continue;
      const int64_t at = off;
      off += v.dims(y)[1];
      if (at % v.t.lanes)
        continue; // a lane part: its readers place it (laneView)
      int t = newTensor(y, isOutput(y) ? NTensor::Kind::Output
                                       : NTensor::Kind::Activation);
      const NTensor &src = lp.tensors[size_t(k)];
      lp.tensors[size_t(t)].base = src.base >= 0 ? src.base : k;
      lp.tensors[size_t(t)].tileOffset = src.tileOffset + at / v.t.lanes;
      tensorOf[size_t(y)] = t;
    }
  }

  // A Split part inside a channel tile read by anything but a convolution
  // (or a Concat of all the parts): copied to lanes 0.. of a tensor of its
  // own by an identity GEMM (weights at the part's lanes, requantization by
  // exactly 1: multiplier 2^30, shift 1), stored values unchanged.
  int laneCopy(int x) {
    int s = -1;
    splitOffset(v, x, &s);
    const auto d = v.dims(x);
    Layer L;
    L.kind = Layer::Kind::Gemm;
    L.name = v.name(x) + "/copy";
    L.nodes = {v.g.nodes(s).name()};
    GemmLayer &g = L.gemm;
    std::vector<int64_t> same(static_cast<size_t>(d[1]));
    std::iota(same.begin(), same.end(), int64_t(0));
    selectChannels(g, d, same);
    g.in = laneView(x, g);
    if (g.in < 0)
      return -1;
    g.out = newTensor(x, isOutput(x) ? NTensor::Kind::Output
                                     : NTensor::Kind::Activation);
    tensorOf[size_t(x)] = g.out;
    const int k = g.out;
    lp.layers.push_back(std::move(L));
    return k;
  }

  // A convolution of a Split part that starts inside a channel tile: it
  // reads the whole tiles the part lies in (a view of the Split's input) and
  // its weights [K][C][kh][kw] move to the part's lanes, zero elsewhere.
  // Returns the view, or -1 (err set).
  int laneView(int x, GemmLayer &g) {
    int s = -1;
    const int64_t off = splitOffset(v, x, &s);
    int k = off >= 0 ? materialize(v.in(v.g.nodes(s), 0)) : -1;
    if (k < 0 || g.groups != 1 || g.in16) {
      if (err.empty())
        err = "value " + q(v.name(x)) +
              " starts inside a channel tile and is not read by an "
              "ungrouped int8 convolution";
      return -1;
    }
    const int64_t lanes = v.t.lanes, l0 = off % lanes;
    const int64_t C = g.C, Cw = ceilDiv(l0 + C, lanes) * lanes;
    const int64_t taps = g.kh * g.kw;
    std::vector<int8_t> w(size_t(g.K * Cw * taps), 0);
    for (int64_t j = 0; j < g.K; ++j)
      for (int64_t c = 0; c < C; ++c)
        for (int64_t t = 0; t < taps; ++t)
          w[size_t((j * Cw + l0 + c) * taps + t)] =
              g.w[size_t((j * C + c) * taps + t)];
    g.w = std::move(w);
    g.C = Cw;
    NTensor view = lp.tensors[size_t(k)];
    view.name = v.name(x);
    view.value = x;
    view.kind = NTensor::Kind::Activation;
    view.dims[1] = Cw;
    view.C = Cw;
    view.base = view.base >= 0 ? view.base : k;
    view.tileOffset += off / lanes;
    view.dram = -1;
    lp.tensors.push_back(std::move(view));
    return int(lp.tensors.size() - 1);
  }

  // ---- the pixels form: views and placements along pixels ----

  // A 1x1 pool layer `name` of node n over tensor k's P pixels of C
  // channels (lines of at most the load's x extent) into a tensor of value
  // y: placed at pixel `at` of `to` (to >= 0), else y's own. A copy, or with
  // a 16-bit table its lookup.
  int pixelLayer(const std::string &name, const v1::Node &n, int k, int y,
                 int to, int64_t at) {
    const NTensor src = lp.tensors[size_t(k)];
    Layer L;
    L.kind = Layer::Kind::Pool;
    L.name = name;
    L.nodes = {n.name()};
    PoolLayer &g = L.pool;
    g.in = k;
    g.N = 1, g.C = src.C, g.W = src.P;
    for (int64_t w = std::min<int64_t>(src.P, v.t.maxX); g.W > v.t.maxX; --w)
      if (src.P % w == 0)
        g.W = w;
    g.H = g.OH = src.P / g.W, g.OW = g.W;
    g.w16 = src.i16;
    g.padValue = g.w16 ? -32768 : -128;
    g.out = newTensor(y, to < 0 && isOutput(y) ? NTensor::Kind::Output
                                               : NTensor::Kind::Activation);
    if (to >= 0) {
      lp.tensors[size_t(g.out)].name += "/placed";
      lp.tensors[size_t(g.out)].base = to;
      lp.tensors[size_t(g.out)].pixOff = at;
    }
    const int out = g.out;
    lp.layers.push_back(std::move(L));
    return out;
  }

  // Points every tensor stored in `from` (its own storage) into `to` at
  // pixel `off`.
  void rebasePixels(int from, int to, int64_t off) {
    for (size_t k = 0; k < lp.tensors.size(); ++k) {
      NTensor &t = lp.tensors[k];
      if (int(k) == from || t.base == from) {
        t.base = to;
        t.pixOff = std::max<int64_t>(t.pixOff, 0) + off;
      }
    }
  }

  void pixelNode(const v1::Node &n) {
    const std::string &op = n.op();
    const int x = v.in(n, 0), y = v.out(n);
    const PixelRun run = pixelRun(v, n);
    const size_t axis = size_t(run.axis);
    if (op == "Concat") {
      int ty = newTensor(y, isOutput(y) ? NTensor::Kind::Output
                                        : NTensor::Kind::Activation);
      tensorOf[size_t(y)] = ty;
      concatOuts.insert(ty);
      const int64_t runs = pixelRuns(v, n);
      int64_t at = 0;
      for (int i = 0; i < n.inputs_size() && err.empty(); ++i) {
        const int xi = n.inputs(i);
        const int64_t P =
            lp.tensors[size_t(ty)].P * v.dims(xi)[axis] / v.dims(y)[axis];
        if (runs > 1) {
          // In runs (whyPlacedRuns): xi's own Concat's stores, each
          // inside one of its blocks, go to that block's run of the result.
          const int k = materialize(xi);
          if (k < 0)
            return;
          const std::string bad = placeRuns(lp.tensors, k, ty, runs, at);
          if (!bad.empty()) {
            err = "Concat " + q(n.name()) + ": " + q(bad) +
                  " is not inside one run of pixels of the result";
            return;
          }
          at += P / runs;
          continue;
        }
        if (tensorOf[size_t(xi)] < 0 && pending.count(xi)) {
          materialize(xi, ty, 0, at);
          at += P;
          continue;
        }
        const int k = materialize(xi);
        if (k < 0)
          return;
        const NTensor &t = lp.tensors[size_t(k)];
        const int o = t.base >= 0 ? t.base : k;
        const NTensor &ot = lp.tensors[size_t(o)];
        if (ot.kind == NTensor::Kind::Activation && ot.base < 0 &&
            !concatOuts.count(o) && t.pixOff < 0 && t.tileOffset == 0 &&
            t.laneFrom < 0 && !t.ilv && ot.P == t.P && ot.C == t.C &&
            ot.i16 == t.i16)
          rebasePixels(o, ty, at); // (the view moves with its owner)
        else
          pixelLayer(n.name() + "/copy" + std::to_string(at), n, k, xi, ty, at);
        at += P;
      }
      return;
    }
    // A view: the input's pixels from the run's first on.
    const int k = materialize(x);
    if (k < 0)
      return;
    const NTensor src = lp.tensors[size_t(k)];
    if (src.laneFrom >= 0 || src.ilv) {
      err = op + " " + q(n.name()) +
            ": a view of a tensor placed inside "
            "channel tiles or at phases";
      return;
    }
    int t = newTensor(y, NTensor::Kind::Activation);
    lp.tensors[size_t(t)].name += "/view";
    lp.tensors[size_t(t)].base = src.base >= 0 ? src.base : k;
    lp.tensors[size_t(t)].tileOffset = src.tileOffset;
    lp.tensors[size_t(t)].pixOff =
        std::max<int64_t>(src.pixOff, 0) + run.start * run.post;
    tensorOf[size_t(y)] = t;
    // A partition output has storage of its own: the view copied there.
    if (isOutput(y))
      tensorOf[size_t(y)] = pixelLayer(n.name() + "/copy", n, t, y, -1, -1);
  }

  void move(const v1::Node &n, int from = -1) { // from: a byte view's input
    int x = from >= 0 ? from : v.in(n, 0), y = v.out(n);
    if (from < 0 && v.layout(x) != v.layout(y)) {
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
    lp.tensors[size_t(t)].pixOff = src.pixOff;
    tensorOf[size_t(y)] = t;
  }

  bool fits(const Layer &L) const {
    return layerFits(v.t, L, lp.tensors).empty();
  }

  std::string run() {
    for (int i = 0; i < v.g.nodes_size() && err.empty(); ++i) {
      const v1::Node &n = v.g.nodes(i);
      if (!an.why[size_t(i)].empty())
        return "node " + std::to_string(v.sourceNode(i)) + " " + n.op() + " " +
               q(n.name()) + ": " + an.why[size_t(i)];
      if (an.sumOf[size_t(i)] >= 0) {
        sumNode(n);
        continue;
      }
      if (an.mulOf[size_t(i)] >= 0) {
        if (an.mulOf[size_t(i)] == i)
          mulLayer(i);
        continue;
      }
      if (an.upOf[size_t(i)] >= 0) {
        if (an.upOf[size_t(i)] == i)
          upLayer(i);
        continue;
      }
      if (an.lutOf[size_t(i)] >= 0) {
        if (an.lutOf[size_t(i)] == i)
          tableChainEnd(i);
        continue;
      }
      if (an.ilvOf[size_t(i)] >= 0) {
        if (an.ilvOf[size_t(i)] == i)
          ilvLayer(i);
        continue;
      }
      if (an.permOf[size_t(i)] >= 0 || an.viewOf[size_t(i)] >= 0) {
        if (an.permOf[size_t(i)] == i)
          permLayer(i);
        else if (an.viewOf[size_t(i)] == i)
          move(n, viewInput(an, i));
        continue;
      }
      if (v.t.form("pixels") && isPixelOp(v, n)) {
        pixelNode(n);
        continue;
      }
      // The form table's builder (analyze found the row: the node is
      // claimed).
      const FormRow *row = rowFor(v.t, n.op());
      if (!row)
        return "internal: no form builds node " + std::to_string(i);
      row->build(*this, i);
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

// The form table's builders.
void buildGemmRoot(Builder &b, int i) { b.gemmRoot(i, b.v.g.nodes(i)); }
void buildBias(Builder &b, int i) { b.biasAdd(b.v.g.nodes(i)); }
void buildRequant(Builder &b, int i) { b.requantize(b.v.g.nodes(i)); }
void buildPool(Builder &b, int i) { b.pool(b.v.g.nodes(i)); }
void buildAdd(Builder &b, int i) { b.qadd(b.v.g.nodes(i)); }
void buildConcat(Builder &b, int i) { b.concat(b.v.g.nodes(i)); }
void buildSplit(Builder &b, int i) { b.split(b.v.g.nodes(i)); }
void buildResize(Builder &b, int i) { b.resize(b.v.g.nodes(i)); }
void buildMove(Builder &b, int i) { b.move(b.v.g.nodes(i)); }
void buildTable(Builder &b, int i) { b.table(b.v.g.nodes(i)); }
// (Chain members are built by Builder::run through Analysis::lutOf.)
void buildInterleave(Builder &b, int i) { b.ilvLayer(i); }
void buildPixels(Builder &b, int i) { b.pixelNode(b.v.g.nodes(i)); }
void buildPatternPart(Builder &b, int i) {
  // (Built by Builder::run through Analysis::permOf, viewOf and lutOf.)
  b.err = "internal: node " + std::to_string(i) + " outside its pattern";
}
void buildSumPart(Builder &b, int i) { b.sumNode(b.v.g.nodes(i)); }

} // namespace ember::accel::sel

namespace ember::accel {

std::string buildLayers(const Target &t, const backend::v1::Graph &g,
                        LayerProgram &out, const SelectOptions &o) {
  out = LayerProgram();
  sel::View v(t, g);
  if (!v.error.empty())
    return v.error;
  sel::Unshared u;
  std::optional<sel::View> vu;
  if (sel::unshareProducts(v, u)) { // a product per reader, as whyNot
    vu.emplace(t, u.g);
    vu->origin = std::move(u.origin);
    vu->copyNo = std::move(u.copyNo);
  }
  std::string err = sel::Builder(vu ? *vu : v, out).run();
  if (err.empty() && o.patches)
    packPatches(t, out);
  return err;
}

} // namespace ember::accel