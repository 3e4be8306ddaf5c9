// Form upsample (Forms.def): a bilinear Resize as the importer lowers it
// (docs/quantization.md, "Upsampling"): Requantize(Resize(Cast(x) [- z]),
// 1, z), x i8/u8, the Resize linear by 2, 4 or 8 on H and W, claimed whole;
// one layer (a pool layer with PoolLayer::upMode) of the target's upsample
// operations on the vector engine, which this form schedules: bands of
// result lines, each run on the source lines it reads.
#include "Emit.h"
#include "Form.h"

#include <algorithm>

namespace ember::accel::sel {

namespace {

// A bilinear Resize as the importer lowers it: the Cast, the Sub (-1 when z
// is 0), the Resize and the Requantize, x the i8/u8 map and z its zero
// point, f the factor, `mode` the Upsample op's (1 half_pixel, 2
// asymmetric).
struct UpPattern {
  int cast = -1, sub = -1, resize = -1, requant = -1;
  int x = -1;    // the i8/u8 map (value)
  int64_t z = 0; // its zero point
  int64_t f = 0; // the factor
  int mode = 0;  // the Upsample op's: 1 half_pixel, 2 asymmetric
};

// The upsamplings claimed (Analysis::state).
struct UpState {
  std::vector<UpPattern> ups;
};

// ok and the pattern of the Resize node `resize`, or why it is none.
Status upPattern(const View &v, int ri, UpPattern &p) {
  p = UpPattern();
  const v1::Node &n = v.g.nodes(ri);
  int c = v.in(n, 0), y = v.out(n);
  if (n.op() != "Resize" || c < 0 || y < 0 || v.dtype(c) != "i32" ||
      v.dtype(y) != "i32")
    return Status(ErrorCode::Unsupported, "not an int32 Resize");
  if (aStr(n, "mode", "nearest") != "linear")
    return Status(ErrorCode::Unsupported,
                  "mode " + quoted(aStr(n, "mode", "nearest")) +
                      " (the target's int32 Resize is bilinear)");
  if (aInt(n, "antialias", 0) || aInt(n, "exclude_outside", 0) ||
      attr(n, "axes"))
    return Status(ErrorCode::Unsupported, "antialias, exclude_outside or axes");
  auto xd = v.dims(c), yd = v.dims(y);
  if (xd.size() != 4 || yd.size() != 4 || xd[2] < 1 || xd[3] < 1)
    return Status(ErrorCode::Unsupported,
                  "rank " + std::to_string(xd.size()) + " (images, NCHW)");
  const int64_t f = yd[2] / xd[2];
  const int64_t fMax = int64_t(1) << std::min<int64_t>(
                           3, v.t.ops[size_t(OpKind::Upsample)].max("factor"));
  if ((f != 2 && f != 4 && f != 8) || f > fMax || yd[0] != xd[0] ||
      yd[1] != xd[1] || yd[2] != f * xd[2] || yd[3] != f * xd[3])
    return Status(
        ErrorCode::Unsupported,
        "from " + std::to_string(xd[2]) + "x" + std::to_string(xd[3]) + " to " +
            std::to_string(yd[2]) + "x" + std::to_string(yd[3]) +
            " (the target upsamples H and W by one factor 2, 4 or 8 up to " +
            std::to_string(fMax) + ")");
  const std::string ctm =
      aStr(n, "coordinate_transformation_mode", "half_pixel");
  if (ctm == "half_pixel" ||
      (ctm == "pytorch_half_pixel" && yd[2] > 1 && yd[3] > 1))
    p.mode = 1;
  else if (ctm == "asymmetric")
    p.mode = 2;
  else
    return Status(ErrorCode::Unsupported,
                  "coordinate_transformation_mode " + quoted(ctm) +
                      " (the target's are half_pixel and asymmetric)");
  if (Status why = whyResizeOperands(v, n, f); why.failed())
    return why;
  int sz = v.in(n, 3);
  std::vector<int64_t> zs;
  if (sz >= 0 && v.type(sz).dims_size() && v.type(sz).dims(0) > 0 &&
      (!v.ints(sz, zs) || zs != yd))
    return Status(ErrorCode::Unsupported,
                  "sizes that are not the constant output shape");
  // The map: Cast(x) [- z], each read only here.
  int pn = v.producer[size_t(c)];
  auto only = [&](int node, int user) {
    int o = v.out(v.g.nodes(node));
    return o >= 0 && !v.outUses[size_t(o)] && v.users[size_t(o)].size() == 1 &&
           v.users[size_t(o)][0] == user;
  };
  if (pn >= 0 && v.g.nodes(pn).op() == "Sub") {
    std::vector<int64_t> zv;
    const v1::Node &sn = v.g.nodes(pn);
    if (!v.ints(v.in(sn, 1), zv) || zv.size() != 1 || v.in(sn, 0) < 0 ||
        !only(pn, ri))
      return Status(ErrorCode::Unsupported,
                    "its map's Sub is not of a scalar zero point, used once");
    p.sub = pn;
    p.z = zv[0];
    pn = v.producer[size_t(v.in(sn, 0))];
  }
  if (pn < 0 || v.g.nodes(pn).op() != "Cast" ||
      !only(pn, p.sub >= 0 ? p.sub : ri))
    return Status(ErrorCode::Unsupported,
                  "its map is not a Cast of an i8/u8 tensor, used once");
  p.cast = pn;
  p.x = v.in(v.g.nodes(pn), 0);
  if (p.x < 0 || !isQ8(v.dtype(p.x)) || v.constant[size_t(p.x)])
    return Status(ErrorCode::Unsupported,
                  "its map is not a Cast of an i8/u8 tensor");
  const std::string &xt = v.dtype(p.x);
  const int64_t lowest = xt == "u8" ? 0 : -128, highest = lowest + 255;
  if (p.z < lowest || p.z > highest)
    return Status(ErrorCode::Unsupported, "a zero point outside its type");
  // The result: Requantize by exactly 1 back to x's type and zero point.
  if (v.uses(y) != 1 || v.outUses[size_t(y)])
    return Status(ErrorCode::Unsupported, "its result has several uses");
  const int qi = v.users[size_t(y)][0];
  const v1::Node &r = v.g.nodes(qi);
  std::vector<int64_t> m, e, zy, xz;
  if (r.op() != "Requantize" || v.in(r, 0) != y || v.out(r) < 0 ||
      v.dtype(v.out(r)) != xt || !v.ints(v.in(r, 1), m) ||
      !v.ints(v.in(r, 2), e) || m.size() != 1 || e.size() != 1)
    return Status(ErrorCode::Unsupported,
                  "its result is not requantized per tensor to " + xt);
  if (e[0] < 0 || e[0] > 30 || m[0] != (int64_t(1) << (31 - e[0])))
    return Status(ErrorCode::Unsupported,
                  "its Requantize does not multiply by 1");
  if (v.in(r, 3) >= 0 && (!v.ints(v.in(r, 3), xz) || xz.size() != 1 || xz[0]))
    return Status(ErrorCode::Unsupported,
                  "its Requantize has an input zero point");
  if (v.in(r, 4) >= 0 && (!v.ints(v.in(r, 4), zy) || zy.size() != 1))
    return Status(ErrorCode::Unsupported,
                  "its Requantize has no scalar output zero point");
  if ((zy.empty() ? 0 : zy[0]) != p.z)
    return Status(ErrorCode::Unsupported,
                  "its Requantize's zero point is not the map's");
  if (aInt(r, "min", lowest) > lowest || aInt(r, "max", highest) < highest)
    return Status(ErrorCode::Unsupported,
                  "its Requantize clamps (the target's upsampling does not)");
  if (xd[3] > v.t.ops[size_t(OpKind::Upsample)].max("w") || xd[3] > v.t.maxX)
    return Status(
        ErrorCode::Unsupported,
        "lines of " + std::to_string(xd[3]) +
            " pixels (upsample reads at "
            "most " +
            std::to_string(std::min(v.t.ops[size_t(OpKind::Upsample)].max("w"),
                                    v.t.maxX)) +
            ")");
  // A band of one result line: the source lines it reads and the line,
  // double-buffered (the output slots are).
  const int64_t band = std::min<int64_t>(xd[2], 2) * xd[3] + 2 * f * xd[3];
  if (uint64_t(band) > rowsOf(v.t, Cls::Out))
    return Status(ErrorCode::Unsupported,
                  "lines of " + std::to_string(xd[3]) + " pixels by " +
                      std::to_string(f) +
                      " (two result lines and the two source lines of one, " +
                      std::to_string(band) + " rows, exceed the " +
                      nameOf(v.t, Cls::Out) + " memory's " +
                      std::to_string(rowsOf(v.t, Cls::Out)) + ")");
  p.resize = ri;
  p.requant = qi;
  p.f = f;
  return Status::ok();
}

// (A bilinear upsampling is claimed whole by claimUps: a Resize the check
// reaches is not one, or its map's Cast is a quantized multiply's factor.)
Status whyUpsampleNode(const View &v, Analysis &, int i, bool) {
  UpPattern p;
  Status why = upPattern(v, i, p);
  if (why.isOk())
    return Status(ErrorCode::Unsupported,
                  "a bilinear upsampling whose map's Cast is a quantized "
                  "multiply's factor");
  return Status(ErrorCode::Unsupported,
                "not a bilinear upsampling: " + why.message());
}

// Bilinear upsamplings: Cast -> [Sub] -> Resize -> Requantize, one layer.
void claimUps(const View &v, Analysis &a) {
  if (!v.t.has(OpKind::Upsample))
    return;
  UpState &s = a.state<UpState>(formUpsample());
  for (int i = 0; i < v.g.nodes_size(); ++i) {
    UpPattern up;
    if (v.g.nodes(i).op() != "Resize" || upPattern(v, i, up).failed() ||
        !a.free(up.cast))
      continue;
    a.claim({up.cast, up.sub, up.resize, up.requant}, formUpsample(),
            up.requant);
    s.ups.push_back(up);
  }
}

// Bilinear upsampling (an UpState pattern): Cast -> [Sub] -> Resize ->
// Requantize, one layer of Upsample ops on the vector engine.
void upLayer(Builder &b, int ri) {
  const UpPattern *up =
      b.patternEndingAt(b.an.state<UpState>(formUpsample()).ups,
                        &UpPattern::requant, ri, "upsampling");
  if (!up)
    return;
  const v1::Node &r = b.v.g.nodes(ri);
  int in = b.materialize(up->x);
  if (in < 0)
    return;
  int y = b.v.out(r);
  auto xd = b.v.dims(up->x);
  Layer L;
  L.kind = Layer::Kind::Pool;
  L.name = b.v.g.nodes(up->resize).name();
  for (int k : {up->cast, up->sub, up->resize, ri})
    if (k >= 0)
      L.nodes.push_back(b.v.g.nodes(k).name());
  PoolLayer &g = L.pool;
  g.in = in;
  g.N = xd[0], g.C = xd[1], g.H = g.OH = xd[2], g.W = g.OW = xd[3];
  g.up = up->f;
  g.upMode = up->mode;
  g.upZp = storedZp(b.v.dtype(up->x), up->z);
  g.out = b.newTensor(y, b.isOutput(y) ? NTensor::Kind::Output
                                       : NTensor::Kind::Activation);
  b.tensorOf[size_t(y)] = g.out;
  b.lp.layers.push_back(std::move(L));
}

void buildUpPart(Builder &b, int node, int last) {
  if (node == last)
    upLayer(b, last);
}

// (The Resize of an upsampling is built with its pattern.)
void buildPatternPart(Builder &b, int i) {
  b.internal("internal: node " + std::to_string(i) + " outside its pattern");
}

std::string upsampleText(const Target &) {
  return "bilinear, H and W by one factor 2, 4 or 8 (half_pixel or "
         "asymmetric coordinates) of an i8/u8 map with equal input and "
         "output parameters";
}

const char *const kUpsample =
    "fused: a bilinear upsampling as the importer lowers it, Requantize("
    "Resize(Cast(x) - z), 1, z) (docs/quantization.md, \"Upsampling\")";

// The pattern's Cast, Sub and Requantize are claimed by this form too: a
// target without the forms that claim them runs them in the upsampling.
void upsampleManifest(const Target &t, std::vector<OpClaim> &claims) {
  ensureClaim(claims, "Cast", {"i8", "u8", "i32"}, upsampleText(t), kUpsample);
  ensureClaim(claims, "Sub", {"i32"}, upsampleText(t), kUpsample);
  ensureClaim(claims, "Requantize", {"i32", "i8", "u8"}, upsampleText(t),
              kUpsample);
}

Status upsampleNeeds(const Target &, const Form &, FormNeeds &n) {
  n.classes.insert(int(Cls::Out));
  n.kinds.insert(int(OpKind::Upsample));
  return Status::ok();
}

} // namespace

} // namespace ember::accel::sel

namespace ember::accel {

namespace {

namespace sp = ember::scratchpad;

int64_t floorDiv(int64_t a, int64_t b) {
  return a >= 0 ? a / b : -((-a + b - 1) / b);
}

// The source lines [lo, hi) bilinear upsampling by f reads for result lines
// [y0, y1) of an h-line map (the Upsample op's taps, clamped to the map).
std::pair<int64_t, int64_t> upTaps(int64_t y0, int64_t y1, int64_t f, int mode,
                                   int64_t h) {
  auto pos = [&](int64_t y) { return mode == 1 ? 2 * y + 1 - f : 2 * y; };
  const int64_t lo = floorDiv(pos(y0), 2 * f);
  const int64_t hi = floorDiv(pos(y1 - 1), 2 * f) + 2;
  return {std::clamp<int64_t>(lo, 0, h - 1), std::clamp<int64_t>(hi, 1, h)};
}

int64_t log2Of(int64_t f) {
  int64_t k = 0;
  while ((int64_t(1) << k) < f)
    ++k;
  return k;
}

// Bilinear upsampling on the vector engine (PoolLayer::upMode): bands of
// result lines over channel tiles; each step loads the source lines its band
// reads and runs Upsample ops on them as a map of their own (the op's line
// offset oy places the band; only the map's true edges clamp, so each band's
// result is the whole map's), then stores the band.
Status scheduleUpsample(const Target &tg, const Layer &L,
                        const std::vector<NTensor> &ts, const GemmTables &,
                        const CodegenOptions &o, LayerCode &code,
                        LayerInfo &info) {
  const PoolLayer &g = L.pool;
  if (!tg.has(OpKind::Upsample))
    return Status(ErrorCode::Unsupported,
                  "the target has no upsample operation");
  Addr addr{ts};
  const int64_t lanes = tg.lanes, f = g.up, Ct = ceilDiv(g.C, lanes);
  const int64_t OH = g.H * f, OW = g.W * f;
  const OpDesc &ud = tg.ops[size_t(OpKind::Upsample)];
  if (g.W > ud.max("w") || log2Of(f) > ud.max("factor") || g.upZp < -128 ||
      g.upZp > 127)
    return Status(ErrorCode::Unsupported,
                  "lines of " + std::to_string(g.W) + " pixels or factor " +
                      std::to_string(f) +
                      " beyond the upsample operation's fields");
  // Result lines one op writes: its oh and oy fields, its map's h.
  const int64_t opLines = std::max<int64_t>(
      1, std::min({ud.max("oh"), ud.max("oy") / 2, f * (ud.max("h") - 3)}));
  sp::Problem p;
  p.spaces = spacesOf(tg, o.shareRows, o.paramReserve);
  enum { dN, dY, dC };
  p.dims = {
      {"n", g.N, false, {1}}, {"y", OH, false, {}}, {"c", Ct, false, {1}}};
  p.greedyDim = dY;
  // (A band too large to double-buffer single-buffers: a wide map's one
  // result line and its two source lines fill most of the output memory.)
  p.singleBufferFallback = true;
  auto u = [](int64_t v) { return uint64_t(v); };
  // The most source lines a band of t result lines reads.
  auto srcLines = [&](int64_t t) {
    return std::min(g.H, ceilDiv(t - 1, f) + 2);
  };
  p.operands.push_back(operand(
      "in", tg.memOf(Cls::Out), sp::Role::Input, {dN, dY, dC},
      [&](const std::vector<int64_t> &t) { return u(srcLines(t[dY]) * g.W); },
      [&](const std::vector<int64_t> &t) {
        return u(srcLines(t[dY]) * g.W * lanes);
      }));
  p.operands.push_back(operand(
      "out", tg.memOf(Cls::Out), sp::Role::Output, {dN, dY, dC},
      [&](const std::vector<int64_t> &t) { return u(t[dY] * OW); },
      [&](const std::vector<int64_t> &t) { return u(t[dY] * OW * lanes); }));
  p.operands[0].rows = p.operands[0].footprint;
  p.operands[1].rows = p.operands[1].footprint;
  p.operands[0].transfers = [&](const std::vector<int64_t> &t) {
    return moveRowsCount(tg, srcLines(t[dY]) * g.W);
  };
  p.operands[1].transfers = [&](const std::vector<int64_t> &t) {
    return moveRowsCount(tg, t[dY] * OW);
  };
  // One result row every two cycles (two taps a cycle).
  p.compute = [&](const sp::Tiling &, const std::vector<int64_t> &,
                  const std::vector<int64_t> &t,
                  const std::vector<sp::StepOperand> &) {
    return std::vector<uint64_t>{vectorCycles(tg, 2 * t[dY] * OW) +
                                 uint64_t(ceilDiv(t[dY], opLines) - 1) *
                                     tg.vector.issueOverhead};
  };
  EMBER_ASSIGN(sp::PlanResult plan, planLayer(tg, p, o, info));
  const sp::Tiling &t = plan.tiling;
  EMBER_ASSIGN(Slots slots, allocate(tg, p, t, o.slotsFromTop, o.paramReserve));
  code.tiling = info.tiling = tilingText(p, t);
  info.minDramBytes = tensorBytes(ts, g.in) + tensorBytes(ts, g.out);
  std::vector<sp::Step> steps = sp::schedule(p, t);
  code.steps.resize(steps.size());
  for (size_t s = 0; s < steps.size(); ++s) {
    const sp::Step &st = steps[s];
    StepCode &sc = code.steps[s];
    // A single-buffered input (Problem::singleBufferFallback): the next
    // band's lines overwrite the ones this band reads, so they load after it.
    sc.afterPrev = s > 0 && t.slots[0] == 1;
    const int64_t n = st.index[dN], c = st.index[dC];
    const int64_t y0 = st.index[dY] * t.tile[dY];
    const int64_t y1 = std::min(OH, y0 + t.tile[dY]);
    const auto [s0, s1] = upTaps(y0, y1, f, g.upMode, g.H);
    const int64_t in = slots.base[0][st.operands[0].slot];
    const int64_t out = slots.base[1][st.operands[1].slot];
    moveRows(tg, sc.loads, false, Cls::Out, in,
             addr(g.in, c, (n * g.H + s0) * g.W), (s1 - s0) * g.W);
    for (int64_t a = y0; a < y1; a += opLines) {
      const int64_t b = std::min(y1, a + opLines);
      const auto [m0, m1] = upTaps(a, b, f, g.upMode, g.H);
      sc.compute.push_back(
          upsampleOp(tg, out + (a - y0) * OW, in + (m0 - s0) * g.W, g.W,
                     m1 - m0, a - f * m0, b - a, log2Of(f), g.upMode, g.upZp));
    }
    moveRows(tg, sc.tail, true, Cls::Out, out,
             addr(g.out, c, (n * OH + y0) * OW), (y1 - y0) * OW);
  }
  return Status::ok();
}

bool emitsUpsample(const Layer &L) {
  return L.kind == Layer::Kind::Pool && L.pool.upMode;
}

std::string upsampleName(const Layer &) { return "bilinear"; }

} // namespace

const FormPattern &formUpsample() {
  static const FormPattern form = [] {
    using namespace sel;
    FormPattern f;
    f.name = "upsample";
    f.needs = upsampleNeeds;
    f.manifest = upsampleManifest;
    f.claim = claimUps;
    f.buildPart = buildUpPart;
    f.emits = emitsUpsample;
    f.opName = upsampleName;
    f.schedule = scheduleUpsample;
    FormRow r;
    r.forms = "upsample";
    r.op = "Resize";
    r.rank = 140;
    r.dtypes = {"i32"};
    r.context = kUpsample;
    r.contextDtypes = {"i32"};
    r.indexDtypes = {"f32", "i64"};
    r.constraints = upsampleText;
    r.why = whyUpsampleNode;
    r.build = buildPatternPart;
    f.rows = {r};
    return f;
  }();
  return form;
}

} // namespace ember::accel
