// Form pool (Forms.def): MaxPool, AveragePool (with or without its padded
// taps) and GlobalAveragePool on stored i8/u8 (or int16) maps, fused into
// the pending GEMM layer before it when the layer's form fuses the pool
// stage and the window has no padding and one stride, else a pool layer of
// its own (the pool kind's scheduler, schedule/Codegen.cpp, genPool):
// padding the loads cannot add stored with the input by identity layers,
// column bands for lines too wide for the output memory.
#include "Form.h"

#include <algorithm>

namespace ember::accel::sel {

namespace {

Status whyPool(const View &v, const v1::Node &n) {
  int x = v.in(n, 0), y = v.out(n);
  if (x < 0 || y < 0)
    return Status(ErrorCode::Unsupported, "no input");
  if ((!isQ8(v.dtype(x)) && !(v.dtype(x) == "i16" && has16(v.t, "pool"))) ||
      v.dtype(y) != v.dtype(x))
    return Status(ErrorCode::Unsupported,
                  "pools on " + v.dtype(x) + " (the target pools stored i8/u8" +
                      (has16(v.t, "pool") ? " and i16)" : ")"));
  if (n.outputs_size() > 1 && n.outputs(1) >= 0 && v.uses(n.outputs(1)))
    return Status(ErrorCode::Unsupported, "MaxPool indices are used");
  auto xd = v.dims(x), yd = v.dims(y);
  if (xd.size() != 4 || yd.size() != 4)
    return Status(ErrorCode::Unsupported, "rank " + std::to_string(xd.size()) +
                                              " (the target pools 2-D)");
  bool global = n.op() == "GlobalAveragePool";
  auto ks = global ? std::vector<int64_t>{xd[2], xd[3]}
                   : aInts(n, "kernel_shape", {});
  auto st = global ? std::vector<int64_t>{1, 1} : aInts(n, "strides", {1, 1});
  auto pads = global ? std::vector<int64_t>{0, 0, 0, 0}
                     : aInts(n, "pads", {0, 0, 0, 0});
  auto dl = aInts(n, "dilations", {1, 1});
  if (ks.size() != 2 || st.size() != 2 || pads.size() != 4)
    return Status(ErrorCode::Unsupported,
                  "kernel_shape, strides or pads are not 2-D");
  std::string ap = aStr(n, "auto_pad", "NOTSET");
  if (ap != "NOTSET" && ap != "VALID" && !ap.empty())
    return Status(ErrorCode::Unsupported, "auto_pad " + ap);
  if (ap == "VALID")
    pads = {0, 0, 0, 0};
  if (dl[0] != 1 || dl[1] != 1)
    return Status(ErrorCode::Unsupported, "pooling with dilation");
  const Form *pf = v.t.form("pool");
  const int64_t wmax = pf ? pf->windowMax : 0, smax = pf ? pf->strideMax : 0;
  if (ks[0] < 1 || ks[0] > wmax || ks[1] < 1 || ks[1] > wmax)
    return Status(ErrorCode::Unsupported,
                  "window " + std::to_string(ks[0]) + "x" +
                      std::to_string(ks[1]) + " (pooling windows at most " +
                      std::to_string(wmax) + "x" + std::to_string(wmax) + ")");
  if (!Form::allows(pf->windows, ks[0], ks[1]))
    return Status(ErrorCode::Unsupported,
                  "window " + std::to_string(ks[0]) + "x" +
                      std::to_string(ks[1]) +
                      " (the target's pool form lists windows " +
                      Form::sizesText(pf->windows) + ")");
  // (Strides that differ run one pooling op per output line: genPool.)
  int64_t s = global ? std::max<int64_t>(1, std::min(ks[0], ks[1])) : st[0];
  const int64_t sh = global ? s : st[0], sw = global ? s : st[1];
  if (sh < 1 || sw < 1 || sh > smax || sw > smax)
    return Status(ErrorCode::Unsupported,
                  "strides " + std::to_string(sh) + "x" + std::to_string(sw) +
                      " (at most " + std::to_string(smax) + ")");
  if (!Form::allows(pf->strides, sh, sw))
    return Status(ErrorCode::Unsupported,
                  "strides " + std::to_string(sh) + "x" + std::to_string(sw) +
                      " (the target's pool form lists strides " +
                      Form::sizesText(pf->strides) + ")");
  bool anyPad = pads[0] || pads[1] || pads[2] || pads[3];
  const bool excludePad =
      n.op() == "AveragePool" && anyPad && !aInt(n, "count_include_pad", 0);
  // Padding over the loads' fields is stored with the input (padPlan) but
  // for an average without it, whose border windows divide by their taps
  // inside the image.
  if (*std::max_element(pads.begin(), pads.end()) > v.t.maxPad &&
      (excludePad || v.t.maxPad < 1))
    return Status(ErrorCode::Unsupported,
                  "pads over " + std::to_string(v.t.maxPad) +
                      (excludePad
                           ? " of an average without its padding (its border "
                             "windows divide by their taps inside the image)"
                           : ""));
  if (*std::min_element(pads.begin(), pads.end()) < 0)
    return Status(ErrorCode::Unsupported, "negative pads");
  if (anyPad && (pads[0] >= ks[0] || pads[2] >= ks[0] || pads[1] >= ks[1] ||
                 pads[3] >= ks[1]))
    return Status(ErrorCode::Unsupported,
                  "a pad not below its kernel size (a window wholly in the "
                  "padding)");
  if (n.op() == "AveragePool" && anyPad && !excludePad && !attr(n, "pad_value"))
    return Status(
        ErrorCode::Unsupported,
        "AveragePool counting padding without a pad_value (the input's "
        "zero point)");
  // A line whose window lines do not fit the output memory runs in column
  // bands (genPool):
  // its lines must be addressable a line apart, and a band of one output
  // column (kh lines of its window's columns and the result, double-buffered)
  // must fit the output memory (its lower half for 16-bit rows).
  // (With padding the loads cannot add, the identity layers' wider map.)
  const int64_t storedW =
      xd[3] + (*std::max_element(pads.begin(), pads.end()) > v.t.maxPad
                   ? pads[1] + pads[3]
                   : 0);
  if (storedW > v.t.maxStride)
    return Status(
        ErrorCode::Unsupported,
        "image width " + std::to_string(storedW) +
            " (a column band's lines are a line apart in DRAM: strides of "
            "loads and stores at most " +
            std::to_string(v.t.maxStride) + " rows)");
  const int outMem = v.t.memOf(Cls::Out);
  const uint64_t outRows = v.t.memRows(outMem) / (v.dtype(x) == "i16" ? 2 : 1);
  const int64_t oneWp = std::min(xd[3] + pads[1] + pads[3], ks[1]);
  if (uint64_t(2 * (ks[0] * oneWp + 1)) > outRows)
    return Status(ErrorCode::Unsupported,
                  "one output pixel reads " + std::to_string(ks[0]) +
                      " lines of " + std::to_string(oneWp) +
                      " pixels (twice that and its result over " +
                      std::to_string(outRows) + " rows of " +
                      v.t.memories[size_t(outMem)].name + ")");
  int64_t OH = (xd[2] + pads[0] + pads[2] - ks[0]) / sh + 1;
  int64_t OW = (xd[3] + pads[1] + pads[3] - ks[1]) / sw + 1;
  if (yd[2] != OH || yd[3] != OW)
    return Status(ErrorCode::Unsupported,
                  "the output shape is not floor mode's (ceil_mode)");
  return Status::ok();
}

Status whyPoolNode(const View &v, Analysis &, int i, bool) {
  return whyPool(v, v.g.nodes(i));
}

void pool(Builder &b, const v1::Node &n) {
  int x = b.v.in(n, 0), y = b.v.out(n);
  auto xd = b.v.dims(x);
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
  auto it = b.pending.find(x);
  const bool w16 = b.v.dtype(x) == "i16"; // 16-bit rows: a layer of its own
  // (A fused pool has one stride for both axes.)
  const int64_t sh = global ? s : st[0], sw = global ? s : st[1];
  if (!w16 && noPad && sh == sw && it != b.pending.end() &&
      it->second.requantized && b.single(x) && it->second.layer.lut.empty() &&
      !it->second.layer.gemm.pool.on && !it->second.layer.gemm.add.on &&
      fuses(b.v.t, it->second.form, "pool")) {
    Layer trial = it->second.layer;
    trial.gemm.pool = {true, avg, ks[0], ks[1], s};
    trial.gemm.flat = false; // pooling needs image lines
    trial.nodes.push_back(n.name());
    if (b.fits(trial)) {
      Builder::Pending p = std::move(it->second);
      b.pending.erase(it);
      p.layer = std::move(trial);
      b.pending[y] = std::move(p);
      return;
    }
  }
  int in = b.materialize(x);
  if (in < 0)
    return;
  Layer L;
  L.kind = Layer::Kind::Pool;
  L.name = n.name();
  L.nodes = {n.name()};
  PoolLayer &g = L.pool;
  g.in = in;
  g.N = xd[0], g.C = xd[1], g.H = xd[2], g.W = xd[3];
  auto yd = b.v.dims(y);
  g.OH = yd[2], g.OW = yd[3];
  g.kh = ks[0], g.kw = ks[1], g.sh = sh, g.sw = sw;
  g.pt = pads[0], g.pl = pads[1], g.pb = pads[2], g.pr = pads[3];
  g.avg = avg;
  g.excludePad = avg && !noPad && n.op() == "AveragePool" &&
                 !aInt(n, "count_include_pad", 0);
  g.padValue = w16 ? -32768 : -128;
  if (avg && !noPad)
    g.padValue = storedZp(b.v.dtype(x), aInt(n, "pad_value", 0));
  g.w16 = w16;
  // Padding over the loads' fields: identity layers store the input
  // with it (padPlan; each window reads the image, pads below the
  // kernel), their padding the pool's.
  const PadPlan pp =
      padPlan(b.v.t.maxPad, g.kh, g.kw, {g.pt, g.pl, g.pb, g.pr});
  if (!pp.steps.empty()) {
    GemmLayer t;
    t.in = g.in, t.N = g.N, t.C = g.C, t.H = g.H, t.W = g.W;
    t.pt = g.pt, t.pl = g.pl, t.pb = g.pb, t.pr = g.pr;
    t.padValue = g.padValue, t.in16 = w16;
    for (size_t k = 0; k < pp.steps.size(); ++k)
      t.in = b.padLayer(t, pp.steps[k], n.name(),
                        L.name + "/pad" + (k ? std::to_string(k) : ""));
    g.in = t.in, g.H = t.H, g.W = t.W;
    g.pt = t.pt, g.pl = t.pl, g.pb = t.pb, g.pr = t.pr;
  }
  g.out = b.newTensor(y, b.isOutput(y) ? NTensor::Kind::Output
                                       : NTensor::Kind::Activation);
  b.tensorOf[size_t(y)] = g.out;
  b.lp.layers.push_back(std::move(L));
}

void buildPool(Builder &b, int i) { pool(b, b.v.g.nodes(i)); }

std::string maxPoolText(const Target &t) {
  const Form *f = t.form("pool");
  const std::string w = std::to_string(f ? f->windowMax : 0);
  return "2-D, window <= " + w + "x" + w +
         ", strides <= " + std::to_string(f ? f->strideMax : 0) +
         " per axis, pads below the window (over " + std::to_string(t.maxPad) +
         ": stored with the input by identity layers)";
}
std::string avgPoolText(const Target &t) {
  return maxPoolText(t) +
         " (with count_include_pad 0: each <= " + std::to_string(t.maxPad) +
         ")";
}
std::string globalPoolText(const Target &t) {
  const Form *f = t.form("pool");
  return "H, W <= " + std::to_string(f ? f->windowMax : 0);
}

void claimPool16(const Target &t, const FormRow &, OpClaim &c) {
  if (has16(t, "pool"))
    c.dtypes.push_back("i16");
}

Status poolFields(const Form &f) {
  if (!f.windowMax || !f.strideMax)
    return Status(ErrorCode::Invalid, "pool needs window_max and stride_max");
  return Status::ok();
}

Status poolNeeds(const Target &, const Form &, FormNeeds &n) {
  n.classes.insert(int(Cls::Out));
  n.pools = n.pads = true;
  return Status::ok();
}

FormRow poolRow(const char *op, int rank, std::string (*text)(const Target &)) {
  FormRow r;
  r.forms = "pool";
  r.op = op;
  r.rank = rank;
  r.dtypes = {"i8", "u8"};
  r.constraints = text;
  r.why = whyPoolNode;
  r.build = buildPool;
  r.claim = claimPool16;
  return r;
}

} // namespace

} // namespace ember::accel::sel

namespace ember::accel {

const FormPattern &formPool() {
  static const FormPattern form = [] {
    using namespace sel;
    FormPattern f;
    f.name = "pool";
    f.fields = poolFields;
    f.needs = poolNeeds;
    f.lutOp = OpKind::Pool;
    f.rows = {poolRow("MaxPool", 80, maxPoolText),
              poolRow("AveragePool", 90, avgPoolText),
              poolRow("GlobalAveragePool", 100, globalPoolText)};
    return f;
  }();
  return form;
}

} // namespace ember::accel
