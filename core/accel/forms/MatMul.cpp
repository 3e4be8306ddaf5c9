// Form matmul (Forms.def): a MatMulInteger of an i8/u8 (or int16, 16x8)
// A by a constant rank-2 B as a GEMM layer over the rows of A (a 1x1
// convolution of its pixels: `flat`), a rank-3 A laid out as a sequence
// too; a Flatten [N, C, H, W] -> [N, C H W] feeding it alone makes it a
// convolution with a kernel the size of the image (flattensIntoMatMul).
// Its epilogue is the requant form's (Requant.cpp).
#include "Form.h"

namespace ember::accel::sel {

namespace {

Status whyMatMul(const View &v, const v1::Node &n) {
  int a = v.in(n, 0), b = v.in(n, 1), y = v.out(n);
  if (a < 0 || b < 0 || y < 0)
    return Status(ErrorCode::Unsupported, "MatMulInteger needs A and B");
  const bool in16 = v.dtype(a) == "i16";
  if (!isQ8(v.dtype(a)) && !in16)
    return Status(ErrorCode::Unsupported, "A " + quoted(v.name(a)) + " is " +
                                              v.dtype(a) + " (i8 or u8)");
  if (in16) {
    Status e = why16x8(v, "matmul", v.in(n, 2), v.in(n, 3), y);
    if (e.failed())
      return e;
  }
  auto ad = v.dims(a), bd = v.dims(b);
  // A rank-3 A laid out as a sequence (defaultChan) is the rank-2
  // [T B, K]: its leading dims are pixels.
  if (ad.size() == 3 && isSequence(v, a) && isSequence(v, y))
    ad = {ad[0] * ad[1], ad[2]};
  if (ad.size() != 2)
    return Status(
        ErrorCode::Unsupported,
        "A has rank " + std::to_string(ad.size()) +
            " (the target runs rank-2 A, or rank-3 A by a constant rank-2 B; "
            "a batched MatMul of two activations falls back)");
  if (bd.size() != 2 || !v.constant[size_t(b)])
    return Status(
        ErrorCode::Unsupported,
        "B " + quoted(v.name(b)) +
            " is not a rank-2 constant (weights stay stationary in the array; "
            "a batched MatMul of two activations falls back)");
  if (ad[1] != bd[0])
    return Status(ErrorCode::Unsupported, "shapes do not match");
  std::vector<int8_t> wf;
  Status e = foldWeights(v, b, v.in(n, 3), 1, wf);
  if (e.failed())
    return e;
  if (in16) { // B is [C, K]: output channel j's weights are column j
    std::vector<int8_t> byK(wf.size());
    for (int64_t k = 0; k < bd[0]; ++k)
      for (int64_t j = 0; j < bd[1]; ++j)
        byK[size_t(j * bd[0] + k)] = wf[size_t(k * bd[1] + j)];
    return fits16x8(byK, bd[1]);
  }
  // A per-column B zero point folds too (checked when packing).
  int64_t zp;
  return scalarZp(v, v.in(n, 2), zp);
}

} // namespace

// A flatten [N, C, H, W] -> [N, C*H*W] whose only use is a MatMulInteger's
// A: the pair is a convolution with an H x W kernel over the image (weights
// B rearranged), so the target runs it without a layout change.
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
  if (m.op() != "MatMulInteger" || v.in(m, 0) != y || whyMatMul(v, m).failed())
    return false;
  return xd[3] <= v.t.maxX &&
         uint64_t(xd[2] * xd[3] * v.t.lanes) <= rowsOf(v.t, Cls::Wgt) / 2 &&
         uint64_t(xd[2] * xd[3]) <= rowsOf(v.t, Cls::Act) / 2;
}

namespace {

Status whyMatMulNode(const View &v, Analysis &a, int i, bool) {
  const v1::Node &n = v.g.nodes(i);
  Status why = whyMatMul(v, n);
  int y = v.out(n);
  if (why.isOk() && y >= 0 && v.uses(y) == 1)
    a.chainOf[size_t(y)] = {i, -1};
  return why;
}

void buildMatMul(Builder &b, int i) {
  const View &v = b.v;
  const v1::Node &n = v.g.nodes(i);
  GemmLayer g;
  int x = v.in(n, 0), w = v.in(n, 1);
  int64_t xzp = 0;
  (void)scalarZp(v, v.in(n, 2), xzp); // checked when n was claimed
  int32_t sz = storedZp(v.dtype(x), xzp);
  if (b.flattened.count(x)) {
    // Flatten -> MatMul: a convolution with a kernel the size of the
    // image; weight (j, c, h, w) = B[(c * H + h) * W + w, j].
    x = b.flattened[x];
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
          b.refuse("B zero point does not fold into int8 weights");
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
          b.refuse("B zero point does not fold into int8 weights");
          return;
        }
        g.w[size_t(j * g.C + k)] = int8_t(val);
      }
  }
  b.gemmRoot(i, n, x, sz, std::move(g));
}

std::string matmulText(const Target &) {
  return "rank-2 A (or rank 3, a sequence: channels last), constant "
         "rank-2 B, scalar A zero point";
}

Status matmulNeeds(const Target &, const Form &f, FormNeeds &n) {
  gemmNeeds(f, n, true, false);
  return Status::ok();
}

} // namespace

} // namespace ember::accel::sel

namespace ember::accel {

const FormPattern &formMatMul() {
  static const FormPattern form = [] {
    FormPattern f;
    f.name = "matmul";
    f.needs = sel::matmulNeeds;
    sel::FormRow r;
    r.forms = "matmul";
    r.op = "MatMulInteger";
    r.rank = 10;
    r.dtypes = {"i8", "u8", "i32"};
    r.constraints = sel::matmulText;
    r.why = sel::whyMatMulNode;
    r.build = sel::buildMatMul;
    r.claim = sel::claimGemm16;
    f.rows = {r};
    return f;
  }();
  return form;
}

} // namespace ember::accel
