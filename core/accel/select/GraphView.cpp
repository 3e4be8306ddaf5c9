// The graph view of the selector (SelectInternal.h): the partition graph
// the host sends (ember.backend.v1.Graph) with producers, users and
// constants, attribute readers, convolution geometry and the target's limits
// on it, and weight folding.
#include "CodegenInternal.h"
#include "Form.h"
#include "SelectInternal.h"

#include <algorithm>
#include <cstring>
#include <sstream>

namespace ember::accel::sel {

std::string quoted(const std::string &s) { return "'" + s + "'"; }

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

Status convGeom(const View &v, const v1::Node &n, int x, int w, int y,
                ConvGeom &g) {
  auto xd = v.dims(x), wd = v.dims(w), yd = v.dims(y);
  if (xd.size() != 4 || wd.size() != 4 || yd.size() != 4)
    return Status(ErrorCode::Unsupported,
                  "the target runs 2-D convolutions (rank 4), " +
                      quoted(v.name(x)) + " has rank " +
                      std::to_string(xd.size()));
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
    return Status(ErrorCode::Unsupported,
                  "kernel_shape, strides, dilations or pads are not 2-D");
  g.kh = ks[0];
  g.kw = ks[1];
  g.sh = st[0];
  g.sw = st[1];
  g.dh = dl[0];
  g.dw = dl[1];
  if (g.kh != wd[2] || g.kw != wd[3])
    return Status(ErrorCode::Unsupported,
                  "kernel_shape does not match the weights");
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
    return Status(ErrorCode::Unsupported, "auto_pad " + ap + " is not known");
  }
  g.pt = pads[0];
  g.pl = pads[1];
  g.pb = pads[2];
  g.pr = pads[3];
  g.OH = yd[2];
  g.OW = yd[3];
  if (g.groups < 1 || g.C % g.groups || g.K % g.groups ||
      wd[1] != g.C / g.groups || yd[1] != g.K || yd[0] != g.N)
    return Status(ErrorCode::Unsupported,
                  "the shapes do not match a grouped convolution");
  return Status::ok();
}

// The rows of the memory holding class `c`, and its name.
uint64_t rowsOf(const Target &t, Cls c) { return t.memRows(t.memOf(c)); }
const std::string &nameOf(const Target &t, Cls c) {
  return t.memories[size_t(t.memOf(c))].name;
}
// The engine running loads (for messages).
const std::string &loadEngine(const Target &t) {
  return t.engines[size_t(t.engineFor(OpKind::Load))].name;
}

// The target's limits on a convolution (its conv form and its fields).
Status convLimits(const Target &t, const ConvGeom &g) {
  std::ostringstream os;
  const Form *f = t.form("conv");
  const int64_t kmax = f ? f->kernelMax : 0, smax = f ? f->strideMax : 0,
                dmax = f ? f->dilationMax : 0;
  const uint64_t wgt = rowsOf(t, Cls::Wgt), act = rowsOf(t, Cls::Act);
  // A line that does not fit whole runs in column bands (convLineFits,
  // genGemm): what is refused is a band of one output column that does not.
  const int64_t stride = t.maxStride;
  const int64_t ekh = (g.kh - 1) * g.dh + 1,
                one = std::min(g.W + g.pl + g.pr, (g.kw - 1) * g.dw + 1);
  // Padding the loads do not add is stored with the input (padPlan): the
  // convolution reads lines that much wider.
  const PadPlan pp =
      padPlan(t.maxPad, ekh, (g.kw - 1) * g.dw + 1, {g.pt, g.pl, g.pb, g.pr});
  const int64_t wider = g.pl + g.pr - pp.keep[1] - pp.keep[3];
  if (g.kh < 1 || g.kh > kmax || g.kw < 1 || g.kw > kmax)
    os << "kernel " << g.kh << "x" << g.kw << " (the target runs 1.." << kmax
       << ")";
  // The taps split over passes that accumulate (GemmSched::tapSplit): the
  // least a pass loads is one tap's weight tile.
  else if (uint64_t(t.lanes) > wgt / 2)
    os << "kernel " << g.kh << "x" << g.kw << ": the weights of one tap of "
       << "one input channel tile (" << t.lanes << " rows) exceed half of "
       << nameOf(t, Cls::Wgt) << " (" << wgt / 2 << " rows)";
  else if (g.sh < 1 || g.sh > smax || g.sw < 1 || g.sw > smax)
    os << "strides " << g.sh << "x" << g.sw << " (the target runs 1.." << smax
       << ")";
  else if (g.dh < 1 || g.dh > dmax || g.dw < 1 || g.dw > dmax)
    os << "dilations " << g.dh << "x" << g.dw << " (the target runs 1.." << dmax
       << ")";
  else if (!Form::allows(f->kernels, g.kh, g.kw))
    os << "kernel " << g.kh << "x" << g.kw
       << " (the target's conv form lists kernels "
       << Form::sizesText(f->kernels) << ")";
  else if (!Form::allows(f->strides, g.sh, g.sw))
    os << "strides " << g.sh << "x" << g.sw
       << " (the target's conv form lists strides "
       << Form::sizesText(f->strides) << ")";
  else if (!Form::allows(f->dilations, g.dh, g.dw))
    os << "dilations " << g.dh << "x" << g.dw
       << " (the target's conv form lists dilations "
       << Form::sizesText(f->dilations) << ")";
  else if (std::min({g.pt, g.pl, g.pb, g.pr}) < 0 ||
           (t.maxPad < 1 && std::max({g.pt, g.pl, g.pb, g.pr}) > 0))
    os << "pads " << g.pt << "," << g.pl << "," << g.pb << "," << g.pr << " ("
       << loadEngine(t) << " pads 0 to " << t.maxPad << " per side)";
  else if (g.W + wider > stride || g.OW > stride)
    os << "image width "
       << (g.W + wider > stride ? g.W + wider : std::max(g.W, g.OW))
       << (g.W + wider > stride && wider
               ? " with the padding the convolution's loads cannot add "
                 "(stored with the input)"
               : "")
       << " (a column band's lines are a line apart in DRAM: strides of "
       << "loads and stores at most " << stride << " rows)";
  else if (const Status band = convLineFits(t, one, one, 1, ekh, g.sh, act);
           !band.isOk())
    os << "one output pixel reads " << ekh << " lines of " << one
       << " pixels (its column band: " << band.message() << ")";
  if (os.str().empty())
    return Status::ok();
  return Status(ErrorCode::Unsupported, os.str());
}

PadPlan padPlan(int64_t most, int64_t ekh, int64_t ekw,
                const std::array<int64_t, 4> &pads) {
  PadPlan p;
  const int64_t ext[4] = {ekh, ekw, ekh, ekw};
  std::array<int64_t, 4> rest{};
  for (size_t i = 0; i < 4; ++i) {
    p.keep[i] = std::clamp<int64_t>(std::min(most, ext[i] - 1), 0, pads[i]);
    rest[i] = pads[i] - p.keep[i];
  }
  if (most < 1)
    return p;
  for (;;) {
    std::array<int64_t, 4> s{};
    s[0] = std::min(rest[0], most);
    s[2] = std::min(rest[2], most - s[0]);
    s[1] = std::min(rest[1], most);
    s[3] = std::min(rest[3], most - s[1]);
    if (!s[0] && !s[1] && !s[2] && !s[3])
      return p;
    for (size_t i = 0; i < 4; ++i)
      rest[i] -= s[i];
    p.steps.push_back(s);
  }
}

// A weight zero point folds into the weights when every w - zp fits int8.
// 8-bit weights are read from their bytes, not widened to int64 first: a
// fully connected layer's weights are tens of millions of elements (VGG's
// first FC layer 102 M), and each of querySupport and buildLayers folds them.
Status foldWeights(const View &v, int w, int wzp, int64_t K,
                   std::vector<int8_t> &out) {
  const bool bytes = w >= 0 && v.constant[size_t(w)] &&
                     (v.dtype(w) == "i8" || v.dtype(w) == "u8");
  std::vector<int64_t> wv, zv;
  if (!bytes && !v.ints(w, wv))
    return Status(ErrorCode::Unsupported,
                  "the weights " + quoted(v.name(w)) + " are not a constant");
  if (wzp >= 0 && !v.ints(wzp, zv))
    return Status(ErrorCode::Unsupported, "the weight zero point " +
                                              quoted(v.name(wzp)) +
                                              " is not a constant");
  if (!zv.empty() && zv.size() != 1 && int64_t(zv.size()) != K)
    return Status(ErrorCode::Unsupported,
                  "the weight zero point has " + std::to_string(zv.size()) +
                      " entries (1 or " + std::to_string(K) + " expected)");
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
      return Status(ErrorCode::Unsupported,
                    "weight zero point " + std::to_string(zp) +
                        " does not fold into int8 weights (w - zp = " +
                        std::to_string(x) +
                        "); the target multiplies int8 by int8");
    out[i] = int8_t(x);
  }
  return Status::ok();
}

// A scalar integer constant (absent: 0).
Status scalarZp(const View &v, int z, int64_t &out) {
  out = 0;
  if (z < 0)
    return Status::ok();
  std::vector<int64_t> zv;
  if (!v.ints(z, zv) || zv.size() != 1)
    return Status(ErrorCode::Unsupported, "zero point " + quoted(v.name(z)) +
                                              " is not a constant scalar");
  out = zv[0];
  return Status::ok();
}

View::View(const Target &target, const v1::Graph &graph) : t(target), g(graph) {
  size_t nv = size_t(g.values_size());
  producer.assign(nv, -1);
  users.assign(nv, {});
  outUses.assign(nv, 0);
  constant.assign(nv, nullptr);
  isInput.assign(nv, false);
  auto ok = [&](int v) { return v >= 0 && size_t(v) < nv; };
  for (int v : g.inputs()) {
    if (!ok(v)) {
      error = invalid("graph input id ", v, " out of range");
      return;
    }
    isInput[size_t(v)] = true;
  }
  for (const v1::Constant &c : g.constants()) {
    if (!ok(c.value())) {
      error = invalid("constant id out of range");
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
        error = invalid("node ", i, " reads value id ", v, ", out of range");
        return;
      }
      users[size_t(v)].push_back(i);
    }
    for (int v : n.outputs()) {
      if (!ok(v)) {
        error = invalid("node ", i, " writes value id ", v, ", out of range");
        return;
      }
      producer[size_t(v)] = i;
    }
  }
  for (int v : g.outputs()) {
    if (!ok(v)) {
      error = invalid("graph output id out of range");
      return;
    }
    ++outUses[size_t(v)];
  }
  chan.assign(nv, 0);
  for (size_t v = 0; v < nv; ++v)
    chan[v] = defaultChan(size_t(g.values(int(v)).type().dims_size()));
  // (The forms that lay values out otherwise: the pixels form's channel
  // axes.)
  for (const FormPattern *f : formPatterns())
    if (f->layout && t.form(f->name))
      f->layout(*this);
}

bool isMoveOp(const std::string &op) {
  return op == "Reshape" || op == "Flatten" || op == "Squeeze" ||
         op == "Unsqueeze" || op == "Identity";
}

std::array<int64_t, 3> View::layout(int v) const {
  const std::vector<int64_t> d = dims(v);
  const size_t c = size_t(chan[size_t(v)]);
  if (d.empty())
    return {1, 1, 1};
  return {prod(d, 0, c), d[c], prod(d, c + 1, d.size())};
}

namespace {

template <typename T>
void widen(const std::string &d, std::vector<int64_t> &out) {
  out.resize(d.size() / sizeof(T));
  for (size_t i = 0; i < out.size(); ++i) {
    T x;
    std::memcpy(&x, d.data() + i * sizeof(T), sizeof(T));
    out[i] = int64_t(x);
  }
}

} // namespace

size_t dtypeBytes(const std::string &t) {
  static const std::pair<const char *, size_t> kSizes[] = {
      {"bool", 1}, {"i8", 1},   {"u8", 1},  {"i16", 2}, {"u16", 2},
      {"f16", 2},  {"bf16", 2}, {"i32", 4}, {"u32", 4}, {"f32", 4},
      {"i64", 8},  {"u64", 8},  {"f64", 8}};
  for (const auto &s : kSizes)
    if (t == s.first)
      return s.second;
  return 0;
}

int64_t View::intCount(int v) const {
  if (v < 0 || !constant[size_t(v)])
    return -1;
  // The integer kinds ints() widens to int64 (not u64: it may not fit).
  const std::string &t = dtype(v);
  const bool widens = !t.empty() && (t[0] == 'i' || t[0] == 'u') && t != "u64";
  const size_t es = widens ? dtypeBytes(t) : 0;
  const size_t n = constant[size_t(v)]->data().size();
  return es && n % es == 0 ? int64_t(n / es) : -1;
}

bool View::ints(int v, std::vector<int64_t> &out) const {
  if (intCount(v) < 0)
    return false;
  const std::string &d = constant[size_t(v)]->data();
  const std::string &t = dtype(v);
  if (t == "i8")
    widen<int8_t>(d, out);
  else if (t == "u8")
    widen<uint8_t>(d, out);
  else if (t == "i16")
    widen<int16_t>(d, out);
  else if (t == "u16")
    widen<uint16_t>(d, out);
  else if (t == "i32")
    widen<int32_t>(d, out);
  else if (t == "u32")
    widen<uint32_t>(d, out);
  else
    widen<int64_t>(d, out);
  return true;
}

} // namespace ember::accel::sel
