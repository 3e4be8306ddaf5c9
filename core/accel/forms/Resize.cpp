// Form resize (Forms.def): a nearest Resize of H and W by one integer
// factor (2..8) that reads source pixel floor(X / f), as a 1x1 pool layer
// whose result is stored repeated (PoolLayer::up: the store's rep field
// where the target declares it, else strided stores). The bilinear Resize
// is the upsample form's (Upsample.cpp).
#include "Form.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace ember::accel::sel {

namespace {

// The source index ONNX's nearest Resize reads for output index X of an
// axis of `in` -> `out` elements at scale f; -1 for a mode it does not know.
int64_t nearestSource(const std::string &ctm, const std::string &nm, int64_t X,
                      int64_t f, int64_t in, int64_t out) {
  const double s = double(f);
  double x;
  if (ctm == "asymmetric")
    x = double(X) / s;
  else if (ctm == "half_pixel" || (ctm == "pytorch_half_pixel" && out > 1))
    x = (double(X) + 0.5) / s - 0.5;
  else if (ctm == "pytorch_half_pixel")
    x = 0;
  else if (ctm == "align_corners")
    x = out == 1 ? 0 : double(X) * double(in - 1) / double(out - 1);
  else if (ctm == "tf_half_pixel_for_nn")
    x = (double(X) + 0.5) / s;
  else
    return -1;
  double r;
  if (nm == "floor")
    r = std::floor(x);
  else if (nm == "ceil")
    r = std::ceil(x);
  else if (nm == "round_prefer_ceil")
    r = std::floor(x + 0.5);
  else if (nm == "round_prefer_floor")
    r = x - std::floor(x) == 0.5 ? std::floor(x) : std::round(x);
  else
    return -1;
  return std::clamp<int64_t>(int64_t(r), 0, in - 1);
}

// A float constant's elements (f32), or false.
bool floats(const View &v, int x, std::vector<double> &out) {
  if (x < 0 || !v.constant[size_t(x)] || v.dtype(x) != "f32")
    return false;
  const std::string &d = v.constant[size_t(x)]->data();
  out.resize(d.size() / 4);
  for (size_t i = 0; i < out.size(); ++i) {
    float f;
    std::memcpy(&f, d.data() + 4 * i, 4);
    out[i] = double(f);
  }
  return true;
}

} // namespace

// Why a Resize's region of interest and scales inputs (1 and 2) are not
// those of an upsampling of H and W by f: none given or empty, or scales
// the constant 1, 1, f, f. Empty when they are.
Status whyResizeOperands(const View &v, const v1::Node &n, int64_t f) {
  int roi = v.in(n, 1), sc = v.in(n, 2);
  if (roi >= 0 && v.type(roi).dims_size() && v.type(roi).dims(0) > 0)
    return Status(ErrorCode::Unsupported, "a region of interest");
  std::vector<double> s;
  if (sc >= 0 && v.type(sc).dims_size() && v.type(sc).dims(0) > 0 &&
      (!floats(v, sc, s) || s.size() != 4 || s[0] != 1 || s[1] != 1 ||
       s[2] != double(f) || s[3] != double(f)))
    return Status(ErrorCode::Unsupported,
                  "scales that are not the constant 1, 1, f, f");
  return Status::ok();
}

namespace {

// Nearest upsampling of H and W by one integer factor (2..8) that reads
// source pixel floor(X / f): a 1x1 pool whose result is stored repeated.
Status whyResize(const View &v, const v1::Node &n) {
  if (!v.t.has(OpKind::Pool))
    return Status(
        ErrorCode::Unsupported,
        "the target has no pool (nearest upsampling is a 1x1 pool stored "
        "repeated)");
  int x = v.in(n, 0), y = v.out(n);
  if (x < 0 || y < 0 || !isQ8(v.dtype(x)) || v.dtype(y) != v.dtype(x))
    return Status(ErrorCode::Unsupported,
                  "resizes " + (x >= 0 ? v.dtype(x) : std::string("nothing")) +
                      " (the target upsamples i8/u8)");
  if (v.constant[size_t(x)])
    return Status(ErrorCode::Unsupported, "resizes a constant");
  auto xd = v.dims(x), yd = v.dims(y);
  if (xd.size() != 4 || yd.size() != 4)
    return Status(ErrorCode::Unsupported,
                  "rank " + std::to_string(xd.size()) + " (images, NCHW)");
  const std::string mode = aStr(n, "mode", "nearest");
  if (mode != "nearest")
    return Status(ErrorCode::Unsupported,
                  "mode " + quoted(mode) + " (the target upsamples nearest)");
  if (aInt(n, "antialias", 0) || attr(n, "axes"))
    return Status(ErrorCode::Unsupported, "antialias or axes");
  const int64_t f = xd[2] ? yd[2] / xd[2] : 0;
  if (yd[0] != xd[0] || yd[1] != xd[1] || f < 2 || f > 8 ||
      yd[2] != f * xd[2] || yd[3] != f * xd[3])
    return Status(ErrorCode::Unsupported,
                  "from " + std::to_string(xd[2]) + "x" +
                      std::to_string(xd[3]) + " to " + std::to_string(yd[2]) +
                      "x" + std::to_string(yd[3]) +
                      " (the target upsamples H and W by one factor 2..8)");
  if (Status why = whyResizeOperands(v, n, f); why.failed())
    return why;
  const std::string ctm =
      aStr(n, "coordinate_transformation_mode", "half_pixel");
  const std::string nm = aStr(n, "nearest_mode", "round_prefer_floor");
  for (int a = 2; a < 4; ++a)
    for (int64_t X = 0; X < yd[size_t(a)]; ++X)
      if (nearestSource(ctm, nm, X, f, xd[size_t(a)], yd[size_t(a)]) != X / f)
        return Status(ErrorCode::Unsupported,
                      "coordinate_transformation_mode " + quoted(ctm) +
                          " with " + "nearest_mode " + quoted(nm) +
                          " (the target repeats source pixel floor(X / f))");
  if (xd[3] > v.t.maxX)
    return Status(ErrorCode::Unsupported, "lines of " + std::to_string(xd[3]) +
                                              " pixels (loads move at most " +
                                              std::to_string(v.t.maxX) + ")");
  return Status::ok();
}

Status whyResizeNode(const View &v, Analysis &, int i, bool) {
  return whyResize(v, v.g.nodes(i));
}

// Nearest upsampling: a 1x1 max pool whose result is stored repeated.
void resize(Builder &b, const v1::Node &n) {
  int x = b.v.in(n, 0), y = b.v.out(n);
  int in = b.materialize(x);
  if (in < 0)
    return;
  auto xd = b.v.dims(x), yd = b.v.dims(y);
  Layer L;
  L.kind = Layer::Kind::Pool;
  L.name = n.name();
  L.nodes = {n.name()};
  PoolLayer &g = L.pool;
  g.in = in;
  g.N = xd[0], g.C = xd[1], g.H = g.OH = xd[2], g.W = g.OW = xd[3];
  g.up = yd[2] / xd[2];
  g.out = b.newTensor(y, b.isOutput(y) ? NTensor::Kind::Output
                                       : NTensor::Kind::Activation);
  b.tensorOf[size_t(y)] = g.out;
  b.lp.layers.push_back(std::move(L));
}

void buildResize(Builder &b, int i) { resize(b, b.v.g.nodes(i)); }

std::string resizeText(const Target &) {
  return "nearest, H and W by one integer factor 2..8 reading source pixel "
         "floor(X / f) (asymmetric + floor, half_pixel + round_prefer_*, ...)";
}

Status resizeNeeds(const Target &, const Form &, FormNeeds &n) {
  n.classes.insert(int(Cls::Out));
  n.pools = n.pads = true;
  return Status::ok();
}

} // namespace

} // namespace ember::accel::sel

namespace ember::accel {

const FormPattern &formResize() {
  static const FormPattern form = [] {
    using namespace sel;
    FormPattern f;
    f.name = "resize";
    f.needs = resizeNeeds;
    // (Scales and sizes are rank 1; the image's rank is checked.)
    FormRow r;
    r.forms = "resize";
    r.op = "Resize";
    r.rank = 130;
    r.dtypes = {"i8", "u8"};
    r.indexDtypes = {"f32", "i64"};
    r.constraints = resizeText;
    r.why = whyResizeNode;
    r.build = buildResize;
    f.rows = {r};
    return f;
  }();
  return form;
}

} // namespace ember::accel
