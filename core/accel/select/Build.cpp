// Building the layers of a partition (Builder.h; Select.h, buildLayers):
// the builder's shared steps, and the walk over the graph that calls each
// node's form builder.
#include "Builder.h"
#include "Form.h"

#include "ember/accel/Device.h"
#include "ember/accel/Program.h"
#include "ember/accel/Select.h"

#include <algorithm>
#include <numeric>
#include <optional>

namespace ember::accel::sel {

Builder::Builder(const View &view, LayerProgram &out, Analysis analysis)
    : v(view), an(std::move(analysis)), lp(out),
      tensorOf(size_t(view.g.values_size()), -1) {}

NTensor viewTensor(const View &v, int value, NTensor::Kind kind) {
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
  return t;
}

int Builder::newTensor(int value, NTensor::Kind kind) {
  lp.tensors.push_back(viewTensor(v, value, kind));
  return int(lp.tensors.size() - 1);
}

namespace {

// Whether the chain after a GEMM's result y (its bias add, ...) stores it
// as int16: the first Requantize along y's sole readers writes i16.
bool storedAs16(const View &v, int y) {
  for (int hop = 0;
       hop < 4 && y >= 0 && v.uses(y) == 1 && v.users[size_t(y)].size() == 1;
       ++hop) {
    const v1::Node &n = v.g.nodes(v.users[size_t(y)][0]);
    if (n.op() == "Requantize")
      return v.out(n) >= 0 && v.dtype(v.out(n)) == "i16";
    y = v.out(n);
  }
  return false;
}

} // namespace

Status convFits(const View &v, int x, int y, const ConvGeom &c,
                std::vector<int8_t> w) {
  std::vector<NTensor> ts = {viewTensor(v, x, NTensor::Kind::Input),
                             viewTensor(v, y, NTensor::Kind::Output)};
  // The result as the chain stores it: requantized to int8, or to int16
  // (16-bit rows: pairs of rows of the out memory).
  ts[1].i32 = false;
  ts[1].i16 = storedAs16(v, y);
  Layer L;
  L.kind = Layer::Kind::Gemm;
  L.name = v.name(y);
  GemmLayer &g = L.gemm;
  g.in = 0, g.out = 1;
  g.N = c.N, g.C = c.C, g.H = c.H, g.W = c.W, g.K = c.K, g.OH = c.OH,
  g.OW = c.OW;
  g.kh = c.kh, g.kw = c.kw, g.sh = c.sh, g.sw = c.sw, g.dh = c.dh, g.dw = c.dw;
  g.groups = c.groups;
  // The padding the loads do not add is stored with the input first
  // (Builder::gemmRoot): the layer reads a larger input.
  const PadPlan pp = padPlan(v.t.maxPad, (g.kh - 1) * g.dh + 1,
                             (g.kw - 1) * g.dw + 1, {c.pt, c.pl, c.pb, c.pr});
  g.pt = pp.keep[0], g.pl = pp.keep[1], g.pb = pp.keep[2], g.pr = pp.keep[3];
  g.H += c.pt + c.pb - g.pt - g.pb;
  g.W += c.pl + c.pr - g.pl - g.pr;
  NTensor &in = ts[0];
  if (in.dims.size() == 4 && in.axis == 1) {
    in.dims[1] = g.C, in.dims[2] = g.H, in.dims[3] = g.W; // (patches: kh kw C)
    in.C = g.C;
    in.P = g.N * g.H * g.W;
  }
  g.flat = g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1 && !g.pt && !g.pl &&
           !g.pb && !g.pr;
  g.w = std::move(w);
  g.bias.assign(size_t(g.K), 0);
  g.rq.mult.assign(size_t(g.K), 1 << 30);
  g.rq.shift.assign(size_t(g.K), 0);
  // 16-bit rows: a 16x8 layer reads both byte planes of an int16 input
  // (zero point 0: padding reads 0) and adds its int64 bias in the
  // requantization; an int16 result is stored as row pairs.
  g.in16 = ts[0].i16;
  g.out16 = ts[1].i16;
  if (g.in16) {
    g.padValue = 0;
    g.bias64.assign(size_t(g.K), 0);
  }
  const Status st = layerFits(v.t, L, ts);
  if (st.isOk())
    return Status::ok();
  return Status(ErrorCode::Unsupported, "as a layer alone: " + st.message());
}

// The tiled layout of a constant i8/u8 tensor (an add's operand), or of an
// int16 one (a 16-bit class token: little-endian elements, as toTiled lays
// out a 16-bit input).
int Builder::constTensor(int x) {
  int k = newTensor(x, NTensor::Kind::Constant);
  NTensor &t = lp.tensors[size_t(k)];
  std::vector<int64_t> vals;
  v.ints(x, vals);
  const size_t es = size_t(t.elemBytes());
  std::vector<uint8_t> host(vals.size() * es);
  for (size_t i = 0; i < vals.size(); ++i)
    for (size_t j = 0; j < es; ++j)
      host[i * es + j] = uint8_t(uint64_t(vals[i]) >> (8 * j));
  std::vector<uint8_t> tiled(size_t(t.bytes()));
  toTiled(t, host.data(), tiled.data());
  t.data.assign(tiled.begin(), tiled.end());
  tensorOf[size_t(x)] = k;
  return k;
}

// The operand of an add repeated over every pixel (whyRepeated): one
// pixel of C channels. A constant gets a tensor of its own with its value
// (or its per-channel values) in the C lanes.
int Builder::repeatedTensor(int x, int64_t C) {
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
  // (An int32 constant, a multiply's folded factor: as an 8-bit row.)
  const int64_t off = v.dtype(x) == "i32" ? constRowOffset(vals) : 0;
  t.data.assign(size_t(t.bytes()), 0);
  for (int64_t c = 0; c < C; ++c) {
    int64_t h = vals.size() == 1 ? vals[0] : vals[size_t(c)];
    t.data[size_t((c / L) * L + c % L)] = int8_t(t.u8 ? h - 128 : h + off);
  }
  lp.tensors.push_back(std::move(t));
  return repeated[{x, C}] = int(lp.tensors.size() - 1);
}

// The tensor holding value x in DRAM, emitting its pending layer.
int Builder::materialize(int x, int base, int64_t tileOffset, int64_t pixOff) {
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
  if (v.constant[size_t(x)] && (isQ8(v.dtype(x)) || v.dtype(x) == "i16"))
    return constTensor(x);
  refuse("value " + quoted(v.name(x)) + " is not computed in this partition");
  return -1;
}

// The GEMM layer of a ConvInteger or MatMulInteger node n (a conv or
// matmul form's builder), g filled with its geometry and folded weights,
// reading value x whose stored zero point is sz: the zero points folded into
// the bias, padding the loads cannot add stored by identity layers, pending
// for its epilogue.
void Builder::gemmRoot(int i, const v1::Node &n, int x, int32_t sz,
                       GemmLayer g) {
  Layer L;
  L.kind = Layer::Kind::Gemm;
  L.name = n.name();
  L.nodes = {n.name()};
  const int y = v.out(n);
  g.flat = g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1 && !g.pt && !g.pl &&
           !g.pb && !g.pr;
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
  const PadPlan pads = padPlan(v.t.maxPad, (g.kh - 1) * g.dh + 1,
                               (g.kw - 1) * g.dw + 1, {g.pt, g.pl, g.pb, g.pr});
  // (Weights from an activation cannot move to a part's lanes: the part is
  // copied to lanes of its own.)
  g.in = lanePart(v, x) && pads.steps.empty() && g.wAct < 0 ? laneView(x, g)
                                                            : materialize(x);
  for (size_t k = 0; k < pads.steps.size() && g.in >= 0; ++k)
    g.in = padLayer(g, pads.steps[k], n.name(),
                    L.name + "/pad" + (k ? std::to_string(k) : ""));
  // (Weights from an activation: C per output.)
  const int64_t macsPer =
      g.wAct >= 0 ? g.C / std::max<int64_t>(1, int64_t(g.segs.size())) : per;
  L.usefulMacs = copy ? 0 : uint64_t(g.N * g.OH * g.OW * g.K * macsPer);
  L.gemm = std::move(g);
  pending[y] = {std::move(L), false,
                n.op() == "ConvInteger" ? "conv" : "matmul"};
}

// Padding g's loads do not add (padPlan): an identity layer stores g's
// input with `p` more (top, left, bottom, right): depthwise, one weight 1
// at tap (bottom, right) of a (top + bottom + 1) x (left + right + 1)
// kernel, padded by top + bottom and left + right on each side, no bias,
// requantization by exactly 1. Its output line y is input line y - top
// (column likewise): the border is the padding's stored value (the input
// zero point), the interior the input unchanged. g then reads the padded
// map with that much less padding of its own. Returns the padded tensor.
int Builder::padLayer(GemmLayer &g, const std::array<int64_t, 4> &p,
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
void Builder::selectChannels(GemmLayer &g, const std::vector<int64_t> &d,
                             const std::vector<int64_t> &from) {
  g.C = d[1];
  g.K = int64_t(from.size());
  if (d.size() == 4) {
    g.N = d[0], g.H = g.OH = d[2], g.W = g.OW = d[3];
  } else {
    g.N = 1, g.H = g.OH = 1, g.W = g.OW = prod(d, 0, d.size()) / d[1];
  }
  g.flat = true;
  g.w.assign(size_t(g.K * g.C), 0);
  for (int64_t o = 0; o < g.K; ++o)
    if (from[size_t(o)] >= 0)
      g.w[size_t(o * g.C + from[size_t(o)])] = 1;
  g.bias.assign(size_t(g.K), 0);
  g.rq.mult.assign(size_t(g.K), int32_t(1) << 30);
  g.rq.shift.assign(size_t(g.K), 1);
}

// Points every tensor stored in `from` into `to` at a tile offset.
void Builder::rebase(int from, int to, int64_t off) {
  for (size_t k = 0; k < lp.tensors.size(); ++k) {
    NTensor &t = lp.tensors[k];
    if (int(k) == from || t.base == from) {
      t.base = to;
      t.tileOffset += off;
    }
  }
}

// A Split part inside a channel tile read by anything but a convolution
// (or a Concat of all the parts): copied to lanes 0.. of a tensor of its
// own by an identity GEMM (weights at the part's lanes, requantization by
// exactly 1: multiplier 2^30, shift 1), stored values unchanged.
int Builder::laneCopy(int x) {
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
int Builder::laneView(int x, GemmLayer &g) {
  int s = -1;
  const int64_t off = splitOffset(v, x, &s);
  int k = off >= 0 ? materialize(v.in(v.g.nodes(s), 0)) : -1;
  if (k < 0 || g.groups != 1 || g.in16) {
    if (err.isOk())
      refuse("value " + quoted(v.name(x)) +
             " starts inside a channel tile and is not read by an "
             "ungrouped int8 convolution");
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

// A 1x1 pool layer `name` of node n over tensor k's P pixels of C
// channels (lines of at most the load's x extent) into a tensor of value
// y: placed at pixel `at` of `to` (to >= 0), else y's own. A copy, or with
// a 16-bit table its lookup.
int Builder::pixelLayer(const std::string &name, const v1::Node &n, int k,
                        int y, int to, int64_t at) {
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

bool Builder::fits(const Layer &L) const {
  return layerFits(v.t, L, lp.tensors).isOk();
}

Status Builder::run() {
  for (int i = 0; i < v.g.nodes_size() && err.isOk(); ++i) {
    const v1::Node &n = v.g.nodes(i);
    if (!an.why[size_t(i)].empty()) {
      failed = i;
      return Status(ErrorCode::Unsupported,
                    "node " + std::to_string(v.sourceNode(i)) + " " + n.op() +
                        " " + quoted(n.name()) + ": " + an.why[size_t(i)]);
    }
    // A node of a pattern of several nodes: its form builds it (most of
    // them at the pattern's last node).
    const Analysis::Part &part = an.part[size_t(i)];
    if (part.form) {
      part.form->buildPart(*this, i, part.last);
    } else if (const FormRow *row = an.row[size_t(i)]) {
      row->build(*this, i); // the form table's row that claimed it
    } else {
      return Status(ErrorCode::Internal,
                    "internal: no form builds node " + std::to_string(i));
    }
    if (err.failed())
      failed = i;
  }
  for (int x : v.g.outputs())
    if (err.isOk())
      materialize(x);
  if (err.failed())
    return err;
  if (!pending.empty())
    return Status(ErrorCode::Internal,
                  "internal: a layer was left unfinished (" +
                      pending.begin()->second.layer.name + ")");
  for (int x : v.g.inputs())
    lp.inputs.push_back(materialize(x));
  for (int x : v.g.outputs())
    lp.outputs.push_back(tensorOf[size_t(x)]);
  return err;
}

} // namespace ember::accel::sel

namespace ember::accel {

Status buildLayersUnpacked(const Target &t, const backend::v1::Graph &g,
                           LayerProgram &out, const SelectOptions &o,
                           int *failedNode) {
  if (failedNode)
    *failedNode = -1;
  out = LayerProgram();
  sel::View v(t, g);
  if (v.error.failed())
    return v.error;
  v.patches = o.patches;
  sel::Unshared u;
  std::optional<sel::View> vu;
  if (sel::unshareProducts(v, u)) { // a product per reader, as whyNot
    vu.emplace(t, u.g);
    vu->patches = o.patches;
    vu->origin = std::move(u.origin);
    vu->copyNo = std::move(u.copyNo);
  }
  const sel::View &view = vu ? *vu : v;
  sel::Builder b(view, out, sel::analyze(view, true));
  Status err = b.run();
  if (failedNode && b.failed >= 0)
    *failedNode = vu ? vu->origin[size_t(b.failed)] : b.failed;
  return err;
}

Status buildLayers(const Target &t, const backend::v1::Graph &g,
                   LayerProgram &out, const SelectOptions &o, int *failedNode) {
  Status err = buildLayersUnpacked(t, g, out, o, failedNode);
  if (err.failed() || !o.patches)
    return err;
  packPatches(t, out);
  std::string layer;
  err = patchedLimits(t, out, &layer);
  for (int i = 0; err.failed() && failedNode && i < g.nodes_size(); ++i)
    if (g.nodes(i).name() == layer)
      *failedNode = i;
  return err;
}

} // namespace ember::accel
