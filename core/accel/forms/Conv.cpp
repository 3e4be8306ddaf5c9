// Form conv (Forms.def): a ConvInteger, 2-D with groups (depthwise
// included) and dilation, as a GEMM layer over the target's array (or
// DwGemm for a depthwise one), with its bias, requantization and output
// table (the epilogue: Requant.cpp), pooling and add fused after it, its
// padding added by the loads or stored with the input by identity layers
// (padPlan), and a 16x8 form for an int16 input (docs/quantization.md,
// "16-bit activations").
#include "Form.h"

#include <algorithm>
#include <cstdlib>

namespace ember::accel::sel {

// A 16x8 layer (docs/quantization.md, "16-bit activations"): an int16
// input with int8 symmetric weights and an int64 accumulator, on a target
// form declaring 16-bit activations.
Status why16x8(const View &v, const char *form, int xzp, int wzp, int y) {
  const Form *f = v.t.form(form);
  if (!f || !f->act16 || !v.t.wide16)
    return Status(ErrorCode::Unsupported,
                  std::string("an int16 input (target '") + v.t.name + "''s " +
                      form + " form has no 16-bit activations)");
  if (v.dtype(y) != "i64")
    return Status(ErrorCode::Unsupported,
                  "result is " + v.dtype(y) +
                      " (i64 expected for an int16 input)");
  if (!v.t.requant.biasRow)
    return Status(ErrorCode::Unsupported,
                  "a 16x8 layer adds its int64 bias in the requantization, "
                  "and target '" +
                      v.t.name + "' has no bias row (requant.bias_row)");
  for (int z : {xzp, wzp}) {
    std::vector<int64_t> zv;
    if (z >= 0 &&
        (!v.ints(z, zv) ||
         std::any_of(zv.begin(), zv.end(), [](int64_t e) { return e != 0; })))
      return Status(ErrorCode::Unsupported,
                    "a 16x8 layer with a nonzero zero point " +
                        quoted(v.name(z)));
  }
  return Status::ok();
}

// The array sums each byte plane in int32: the low plane's excess-128
// values need 128 * sum |w| < 2^31 per output channel.
Status fits16x8(const std::vector<int8_t> &w, int64_t K) {
  const int64_t per = K ? int64_t(w.size()) / K : 0;
  for (int64_t k = 0; k < K; ++k) {
    int64_t s = 0;
    for (int64_t t = 0; t < per; ++t)
      s += std::abs(int64_t(w[size_t(k * per + t)]));
    if (s * 128 >= (int64_t(1) << 31))
      return Status(
          ErrorCode::Unsupported,
          "output channel " + std::to_string(k) +
              ": 128 x its summed weight magnitude reaches 2^31 (a byte "
              "plane's int32 sum could wrap)");
  }
  return Status::ok();
}

namespace {

// Whether value x comes from the host: a partition input, or the result of
// a node no form of the target runs (a QuantizeLinear of the model's
// input).
bool fromHost(const View &v, int x) {
  if (v.isInput[size_t(x)])
    return true;
  const int p = v.producer[size_t(x)];
  return p >= 0 && rowsFor(v.t, v, v.g.nodes(p)).empty();
}

// A convolution outside the target's kernel, stride or dilation limits
// that reads a host value alone as its whole windows (a ViT's 16x16
// stride-16 patch embedding): the 1x1 layer over kh kw C channels it
// becomes (packPatches) is what must fit. ok when it does, else why not.
Status whyOnPatches(const View &v, int x, const ConvGeom &g,
                    const Status &limits) {
  const int64_t bytes = v.dtype(x) == "i16" ? 2 : 1;
  if (!v.patches || !fromHost(v, x) || v.soleReader(x) < 0 ||
      !wholePatchesPay(v.t.lanes, g, bytes))
    return limits;
  const Status e = convLimits(v.t, patchGeom(g));
  if (e.isOk())
    return Status::ok();
  return Status(ErrorCode::Unsupported,
                limits.message() + "; on its patches: " + e.message());
}

Status whyConv(const View &v, const v1::Node &n) {
  int x = v.in(n, 0), w = v.in(n, 1), y = v.out(n);
  if (x < 0 || w < 0 || y < 0)
    return Status(ErrorCode::Unsupported, "ConvInteger needs x and w");
  const bool in16 = v.dtype(x) == "i16";
  if (!isQ8(v.dtype(x)) && !in16)
    return Status(ErrorCode::Unsupported, "input " + quoted(v.name(x)) +
                                              " is " + v.dtype(x) +
                                              " (i8 or u8)");
  if (in16) {
    EMBER_TRY(why16x8(v, "conv", v.in(n, 2), v.in(n, 3), y));
  } else if (v.dtype(y) != "i32")
    return Status(ErrorCode::Unsupported,
                  "result is " + v.dtype(y) + " (i32 expected)");
  ConvGeom g;
  EMBER_TRY(convGeom(v, n, x, w, y, g));
  const Status limits = convLimits(v.t, g);
  const bool patches = limits.failed();
  if (patches)
    EMBER_TRY(whyOnPatches(v, x, g, limits));
  std::vector<int8_t> wf;
  EMBER_TRY(foldWeights(v, w, v.in(n, 3), g.K, wf));
  if (in16)
    EMBER_TRY(fits16x8(wf, g.K));
  else {
    int64_t zp;
    EMBER_TRY(scalarZp(v, v.in(n, 2), zp));
  }
  return convFits(v, x, y, patches ? patchGeom(g) : g, std::move(wf));
}

Status whyConvNode(const View &v, Analysis &a, int i, bool) {
  const v1::Node &n = v.g.nodes(i);
  Status why = whyConv(v, n);
  int y = v.out(n);
  if (why.isOk() && y >= 0 && v.uses(y) == 1)
    a.chainOf[size_t(y)] = {i, -1};
  return why;
}

void buildConv(Builder &b, int i) {
  const View &v = b.v;
  const v1::Node &n = v.g.nodes(i);
  GemmLayer g;
  int x = v.in(n, 0), w = v.in(n, 1), y = v.out(n);
  int64_t xzp = 0;
  (void)scalarZp(v, v.in(n, 2), xzp); // checked when n was claimed
  const int32_t sz = storedZp(v.dtype(x), xzp);
  ConvGeom c;
  b.err = convGeom(v, n, x, w, y, c);
  if (b.err.failed())
    return;
  g.N = c.N, g.C = c.C, g.H = c.H, g.W = c.W, g.K = c.K, g.OH = c.OH,
  g.OW = c.OW;
  g.kh = c.kh, g.kw = c.kw, g.sh = c.sh, g.sw = c.sw, g.dh = c.dh, g.dw = c.dw;
  g.pt = c.pt, g.pl = c.pl, g.pb = c.pb, g.pr = c.pr, g.groups = c.groups;
  b.err = foldWeights(v, w, v.in(n, 3), g.K, g.w);
  if (b.err.failed())
    return;
  b.gemmRoot(i, n, x, sz, std::move(g));
}

std::string convText(const Target &t) {
  const Form *f = t.form("conv");
  const std::string k = std::to_string(f ? f->kernelMax : 0);
  return "2-D, kernel up to " + k + "x" + k +
         " (taps x lanes <= half of the weight memory), stride 1.." +
         std::to_string(f ? f->strideMax : 0) + ", dilation 1.." +
         std::to_string(f ? f->dilationMax : 0) +
         (t.maxPad < 1
              ? std::string(", no pads")
              : ", any pads (the loads pad up to " + std::to_string(t.maxPad) +
                    " per side and below the kernel's extent; "
                    "identity layers store the input with the "
                    "rest)") +
         ", groups (depthwise included), constant int8 weights (a weight "
         "zero point folds when w - zp fits int8), scalar input zero point";
}

Status convFields(const Form &f) {
  if (!f.kernelMax || !f.strideMax || !f.dilationMax)
    return Status(ErrorCode::Invalid,
                  "conv needs kernel_max, stride_max and dilation_max");
  return Status::ok();
}

Status convNeeds(const Target &, const Form &f, FormNeeds &n) {
  gemmNeeds(f, n, true, true);
  return Status::ok();
}

} // namespace

} // namespace ember::accel::sel

namespace ember::accel {

const FormPattern &formConv() {
  static const FormPattern form = [] {
    FormPattern f;
    f.name = "conv";
    f.fields = sel::convFields;
    f.needs = sel::convNeeds;
    sel::FormRow r;
    r.forms = "conv";
    r.op = "ConvInteger";
    r.rank = 0;
    r.dtypes = {"i8", "u8", "i32"};
    r.constraints = sel::convText;
    r.why = sel::whyConvNode;
    r.build = sel::buildConv;
    r.claim = sel::claimGemm16;
    f.rows = {r};
    return f;
  }();
  return form;
}

} // namespace ember::accel
