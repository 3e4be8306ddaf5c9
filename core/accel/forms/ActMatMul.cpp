// Form actmatmul (Forms.def): a MatMulInteger whose B is an activation (no
// stationary weights: attention's Q x K^T and scores x V) as a flat GEMM
// layer whose weight rows are loaded from B's own DRAM rows for each tile
// (GemmLayer::wAct; rows past B's columns from a zero block). B is laid out
// with its channels on axis 0 (View::chan), so that its pixel j, the
// column j, is output channel j's weights over the input channels in the
// lanes: the transpose is the layout the host writes, or, for B a
// Transpose of a matrix the device computes channels last (K of Q x K^T),
// the bytes that matrix already has (a byte view). Runs: rank-2 int8
// A and B, B a value the host hands to the device (a partition input),
// such a Transpose, or a matrix the device computes channels last (V of
// scores x V, transposed by the array first). A shared dimension that is
// not a multiple of the lanes (heads narrower than the lanes) reads B with
// zero pad lanes, copied so where its tiles may hold other bytes, so that
// A's pad lanes add nothing. The zero points' cross terms are more of the
// reduction (buildActMatMul). Its epilogue is the requant form's
// (Requant.cpp).
#include "Form.h"

#include <numeric>

namespace ember::accel::sel {

namespace {

// Whether B is a Transpose (perm [1, 0]) of a rank-2 value laid out
// channels last, read by nothing else: with B's channels on axis 0 it has
// that value's bytes (column j of B is row j of the value, its channels in
// the lanes), a byte view (form reshape, Reshape.cpp) of the projection
// that computed K, so Q x K^T reads K where its producer stored it.
bool transposedView(const View &v, int b) {
  const int t = v.producer[size_t(b)];
  if (t < 0 || v.g.nodes(t).op() != "Transpose")
    return false;
  const v1::Node &n = v.g.nodes(t);
  const int k = v.in(n, 0);
  const auto perm = aInts(n, "perm", {});
  return k >= 0 && v.dims(k).size() == 2 && perm.size() == 2 && perm[0] == 1 &&
         perm[1] == 0 && v.chan[size_t(k)] == defaultChan(2) &&
         v.dtype(k) == v.dtype(b) && v.uses(b) == 1;
}

// Whether B is a matrix the device computes, laid out channels last (V of
// scores x V, a projection's result or a head's Split view of it): read as
// weights it is transposed first, by the array (transposeLayer).
bool deviceB(const View &v, int b) {
  return (!v.isInput[size_t(b)] || v.producer[size_t(b)] >= 0) &&
         !transposedView(v, b) && v.dims(b).size() == 2 &&
         v.chan[size_t(b)] == defaultChan(2);
}

// ok or why the target does not run n as a two-activation MatMul.
Status whyActMatMul(const View &v, const v1::Node &n) {
  int a = v.in(n, 0), b = v.in(n, 1), y = v.out(n);
  if (a < 0 || b < 0 || y < 0)
    return Status(ErrorCode::Unsupported, "MatMulInteger needs A and B");
  if (v.constant[size_t(b)])
    return Status(ErrorCode::Unsupported,
                  "B " + quoted(v.name(b)) +
                      " is a constant (the matmul form's)");
  if (!isQ8(v.dtype(a)) || !isQ8(v.dtype(b)))
    return Status(ErrorCode::Unsupported, "A and B are " + v.dtype(a) + ", " +
                                              v.dtype(b) + " (i8 or u8)");
  auto ad = v.dims(a), bd = v.dims(b);
  if (ad.size() != 2 || bd.size() != 2 || ad[1] != bd[0])
    return Status(ErrorCode::Unsupported,
                  "A and B of rank " + std::to_string(ad.size()) + ", " +
                      std::to_string(bd.size()) +
                      " (rank-2 A by rank-2 B; batched heads fall back)");
  if (v.chan[size_t(a)] != defaultChan(2))
    return Status(ErrorCode::Unsupported,
                  "A " + quoted(v.name(a)) + " is not laid out channels last");
  if ((!v.isInput[size_t(b)] || v.producer[size_t(b)] >= 0) &&
      !transposedView(v, b) && !deviceB(v, b))
    return Status(
        ErrorCode::Unsupported,
        "B " + quoted(v.name(b)) +
            " is computed on the device, not laid out channels last and not "
            "a Transpose of a matrix laid out so");
  int64_t za = 0, zb = 0;
  Status e = scalarZp(v, v.in(n, 2), za);
  if (e.isOk())
    e = scalarZp(v, v.in(n, 3), zb);
  return e;
}

// A tensor of the layer program of `like`'s shape and layout in DRAM of
// its own (no view), named `name`.
NTensor ownTensor(const NTensor &like, const std::string &name,
                  NTensor::Kind kind) {
  NTensor t = like;
  t.name = name;
  t.kind = kind;
  t.value = -1;
  t.base = -1, t.tileOffset = 0, t.dram = -1, t.laneFrom = -1, t.pixOff = -1;
  t.ilv = 0, t.phase = 0;
  t.data.clear();
  return t;
}

// The constant tensor laid out as tensor k, every stored byte c: a
// segment's act or weight rows (GemmLayer::segs).
int constantLike(Builder &b, int k, int8_t c) {
  NTensor t =
      ownTensor(b.lp.tensors[size_t(k)],
                b.lp.tensors[size_t(k)].name + "/zp" + std::to_string(int(c)),
                NTensor::Kind::Constant);
  t.u8 = t.i32 = t.i16 = false;
  // c in its channels, 0 in the last tile's pad lanes.
  t.data.assign(size_t(t.bytes()), 0);
  for (int64_t tile = 0; tile < t.tiles(); ++tile)
    for (int64_t p = 0; p < t.P; ++p)
      for (int64_t l = 0; l < t.lanes && tile * t.lanes + l < t.C; ++l)
        t.data[size_t((tile * t.P + p) * t.lanes + l)] = c;
  b.lp.tensors.push_back(std::move(t));
  return int(b.lp.tensors.size() - 1);
}

// B^T of a matrix B [R, N] the device stores channels last (tensor vb: R
// pixels of N channels), as the array computes it: the identity [N, N]
// (a constant) times B read as weights (wAct: pixel j of B is output
// channel j over its N channels), requantized by exactly 1 with no zero
// point in stored values, so B^T's stored bytes are B's: N pixels of R
// channels, which is B laid out with its channels on axis 0, the weight
// rows a GEMM by B reads. Returns B^T's tensor.
int transposeLayer(Builder &b, int vb, const std::string &node) {
  const NTensor src = b.lp.tensors[size_t(vb)];
  const int64_t R = src.P, N = src.C, lanes = src.lanes;
  NTensor id = ownTensor(src, src.name + "/identity", NTensor::Kind::Constant);
  id.u8 = id.i32 = id.i16 = false;
  id.dims = {N, N};
  id.axis = 1;
  id.C = N, id.P = N;
  id.data.assign(size_t(id.bytes()), 0);
  for (int64_t c = 0; c < N; ++c) // channel c of pixel c (tile c / lanes)
    id.data[size_t(((c / lanes) * N + c) * lanes + c % lanes)] = 1;
  b.lp.tensors.push_back(std::move(id));
  const int idk = int(b.lp.tensors.size() - 1);
  NTensor t = ownTensor(src, src.name + "/T", NTensor::Kind::Activation);
  t.dims = {N, R};
  t.axis = 1;
  t.C = R, t.P = N;
  b.lp.tensors.push_back(std::move(t));
  const int tk = int(b.lp.tensors.size() - 1);
  Layer L;
  L.kind = Layer::Kind::Gemm;
  L.name = node + "/transpose";
  L.nodes = {node};
  GemmLayer &g = L.gemm;
  g.in = idk, g.out = tk, g.wAct = vb;
  g.N = 1, g.C = N, g.H = 1, g.W = g.OW = N, g.K = R, g.OH = 1;
  g.flat = true;
  g.bias.assign(size_t(R), 0);
  g.rq.mult.assign(size_t(R), int32_t(1) << 30);
  g.rq.shift.assign(size_t(R), 1);
  b.lp.layers.push_back(std::move(L));
  return tk;
}

// A copy of tensor vb (P pixels of C channels) in DRAM of its own with
// zero pad lanes, by the identity GEMM (requantization by exactly 1, no zero
// point): the B of a shared dimension that is not a multiple of the lanes,
// whose pad lanes the A's pad lanes multiply. Returns the copy's tensor.
int zeroPadLayer(Builder &b, int vb, const std::string &node) {
  const NTensor src = b.lp.tensors[size_t(vb)];
  Layer L;
  L.kind = Layer::Kind::Gemm;
  L.name = node + "/lanes";
  L.nodes = {node};
  GemmLayer &g = L.gemm;
  std::vector<int64_t> same(static_cast<size_t>(src.C));
  std::iota(same.begin(), same.end(), int64_t(0));
  b.selectChannels(g, {src.P, src.C}, same);
  g.in = vb;
  b.lp.tensors.push_back(
      ownTensor(src, src.name + "/lanes", NTensor::Kind::Activation));
  g.out = int(b.lp.tensors.size() - 1);
  b.lp.layers.push_back(std::move(L));
  return g.out;
}

// Whether B's stored pad lanes are zero already: a B the host hands over
// (toTiled zeroes the channels past C), a B the array transposes
// (transposeLayer) or a Transpose of a Split part copied to lanes of its
// own (Builder::laneCopy); else its tiles may hold other channels (a view
// of a wider tensor).
bool zeroPads(const View &v, int b) {
  if (deviceB(v, b) || (v.isInput[size_t(b)] && v.producer[size_t(b)] < 0))
    return true;
  return transposedView(v, b) &&
         lanePart(v, v.in(v.g.nodes(v.producer[size_t(b)]), 0));
}

// B of every MatMulInteger the form runs: channels on axis 0.
void layoutActMatMul(View &v) {
  for (int i = 0; i < v.g.nodes_size(); ++i) {
    const v1::Node &n = v.g.nodes(i);
    int b = v.in(n, 1);
    if (n.op() == "MatMulInteger" && b >= 0 && v.dims(b).size() == 2 &&
        whyActMatMul(v, n).isOk() && !deviceB(v, b))
      v.chan[size_t(b)] = 0;
  }
}

Status whyActMatMulNode(const View &v, Analysis &a, int i, bool) {
  const v1::Node &n = v.g.nodes(i);
  Status why = whyActMatMul(v, n);
  if (why.isOk() && v.chan[size_t(v.in(n, 1))] != 0 && !deviceB(v, v.in(n, 1)))
    why = Status(ErrorCode::Unsupported, "B " + quoted(v.name(v.in(n, 1))) +
                                             " is read laid out otherwise");
  int y = v.out(n);
  if (why.isOk() && y >= 0 && v.uses(y) == 1)
    a.chainOf[size_t(y)] = {i, -1};
  return why;
}

// The zero points' cross terms as more of the reduction (stored values a,
// b and zero points za, zb over C channels):
//   sum (a - za)(b - zb) = sum a b + sum (-za) b + sum a (-zb) + C za zb,
// a segment of constant act rows -za beside B, one of A beside constant
// weight rows -zb (a constant of 128 as two segments of 64: an int8 holds
// neither 128 nor -(-128)), and C za zb in the bias. Exact; the array does
// up to five times the MACs of the product.
void buildActMatMul(Builder &b, int i) {
  const View &v = b.v;
  const v1::Node &n = v.g.nodes(i);
  int x = v.in(n, 0), w = v.in(n, 1);
  auto ad = v.dims(x), bd = v.dims(w);
  GemmLayer g;
  g.N = 1, g.C = ad[1], g.H = 1, g.W = g.OW = ad[0], g.K = bd[1], g.OH = 1;
  g.wAct = b.materialize(w);
  if (g.wAct >= 0 && deviceB(v, w))
    g.wAct = transposeLayer(b, g.wAct, n.name());
  else if (g.wAct >= 0 && g.C % v.t.lanes && !zeroPads(v, w))
    g.wAct = zeroPadLayer(b, g.wAct, n.name());
  int64_t za = 0, zb = 0;
  if (scalarZp(v, v.in(n, 2), za).failed() ||
      scalarZp(v, v.in(n, 3), zb).failed()) {
    b.internal("internal: node " + std::to_string(i) +
               ": zero points the check took");
    return;
  }
  const int64_t sa = storedZp(v.dtype(x), za), sb = storedZp(v.dtype(w), zb);
  const int64_t C = g.C;
  // (A's tensor, for the layout of its segments' constant rows.)
  const int xk = sa ? b.materialize(x) : -1;
  if (sa && xk < 0)
    return;
  if (sa || sb) {
    g.segs.push_back({-1, -1});
    auto constants = [&](int64_t z, bool act) {
      const int64_t c = -z, half = c / 2;
      const bool two = c > 127 || c < -128;
      const int k = constantLike(b, act ? xk : g.wAct, int8_t(two ? half : c));
      for (int r = 0; r < (two ? 2 : 1); ++r)
        g.segs.push_back(act ? std::array<int, 2>{k, -1}
                             : std::array<int, 2>{-1, k});
    };
    if (sa)
      constants(sa, true);
    if (sb)
      constants(sb, false);
    // (Segments of whole tiles: a ragged C's pad lanes are zero in B and
    // in the constant weights.)
    g.C = ceilDiv(C, v.t.lanes) * v.t.lanes * int64_t(g.segs.size());
  }
  const int y = v.out(n);
  b.gemmRoot(i, n, x, 0, std::move(g));
  auto it = b.pending.find(y);
  if (it != b.pending.end() && (sa || sb))
    for (int32_t &bias : it->second.layer.gemm.bias)
      bias = int32_t(int64_t(bias) + C * sa * sb);
}

std::string actmatmulText(const Target &t) {
  return "rank-2 A by a rank-2 B the host hands over, a matrix the target "
         "computes or the Transpose of one (i8, or u8); a shared dimension "
         "that is not a multiple of " +
         std::to_string(t.lanes) + " reads B copied with zero pad lanes";
}

Status actmatmulNeeds(const Target &, const Form &f, FormNeeds &n) {
  gemmNeeds(f, n, true, false);
  return Status::ok();
}

} // namespace

} // namespace ember::accel::sel

namespace ember::accel {

const FormPattern &formActMatMul() {
  static const FormPattern form = [] {
    FormPattern f;
    f.name = "actmatmul";
    f.needs = sel::actmatmulNeeds;
    f.layout = sel::layoutActMatMul;
    sel::FormRow r;
    r.forms = "actmatmul";
    r.op = "MatMulInteger";
    r.rank = 11;
    r.dtypes = {"i8", "u8", "i32"};
    r.constraints = sel::actmatmulText;
    r.why = sel::whyActMatMulNode;
    r.build = sel::buildActMatMul;
    r.anyLayout = true;
    r.appendReason = true;
    f.rows = {r};
    return f;
  }();
  return form;
}

} // namespace ember::accel
