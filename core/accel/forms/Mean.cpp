// Form mean (Forms.def): a per-channel sum as the importer lowers a
// GlobalAveragePool or ReduceMean over H, W (docs/quantization.md,
// "Pooling"): Cast(x i8/u8 -> i32) [-> Sub(scalar zero point)] ->
// ReduceSum over H, W (keepdims) -> Requantize, one GEMM layer of an
// identity weight tile whose GEMMs accumulate every pixel into one
// accumulator row (GemmLayer::sum); a 16-bit map (int16 -> int64) too. The
// Requantize is the epilogue's (Requant.cpp).
#include "Form.h"

#include <algorithm>

namespace ember::accel::sel {

namespace {

// The users of `x` but the quantized multiplies reading it (a value the
// importer's CSE shares between a per-channel sum and a multiply).
std::vector<int> usersButMuls(const View &v, int x) {
  std::vector<int> out;
  for (int u : v.users[size_t(x)]) {
    MulPattern mp;
    if (!(v.t.form("mul") && v.g.nodes(u).op() == "Mul" &&
          mulPattern(v, u, mp).isOk()))
      out.push_back(u);
  }
  return out;
}

// The nodes of the sum chain that Cast node `cast` starts, or empty when it
// starts none.
std::vector<int> sumChain(const View &v, int cast) {
  const v1::Node &c = v.g.nodes(cast);
  int x = v.in(c, 0), y = v.out(c);
  // 16x8: an int16 map (zero point 0) summed in int64 (docs/quantization.md,
  // "Pooling"), on a target whose mean form declares 16-bit activations
  // and whose requantization has the bias row (the int64 bias's).
  const bool in16 = x >= 0 && y >= 0 && v.dtype(x) == "i16" &&
                    v.dtype(y) == "i64" && has16(v.t, "mean") &&
                    v.t.requant.biasRow;
  if (x < 0 || y < 0 || ((!isQ8(v.dtype(x)) || v.dtype(y) != "i32") && !in16) ||
      v.dims(x).size() != 4 || v.outUses[size_t(y)] ||
      usersButMuls(v, y).size() != 1)
    return {};
  auto xd = v.dims(x);
  // The map loads in bands of lines (summed into the same accumulator row):
  // one line must fit half of the act memory (a quarter for int16: two byte
  // planes).
  if (xd[3] > v.t.maxX ||
      uint64_t(xd[3]) > rowsOf(v.t, Cls::Act) / (in16 ? 4 : 2))
    return {};
  std::vector<int> chain = {cast};
  int cur = y, n = usersButMuls(v, y)[0];
  if (v.g.nodes(n).op() == "Sub" && in16)
    return {}; // an int16 map has no zero point to subtract
  if (v.g.nodes(n).op() == "Sub") {
    const v1::Node &s = v.g.nodes(n);
    std::vector<int64_t> z;
    if (v.in(s, 0) != cur || !v.ints(v.in(s, 1), z) || z.size() != 1 ||
        v.outUses[size_t(v.out(s))] || usersButMuls(v, v.out(s)).size() != 1)
      return {};
    chain.push_back(n);
    cur = v.out(s);
    n = usersButMuls(v, cur)[0];
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

// A Cast starting a sum claims the chain (its Sub and ReduceSum: parts of
// the pattern, built node by node).
Status whyCastNode(const View &v, Analysis &a, int i, bool) {
  std::vector<int> chain = sumChain(v, i);
  const int x = v.in(v.g.nodes(i), 0);
  if (chain.empty() && x >= 0 && v.dtype(x) == "i16" && has16(v.t, "mean") &&
      !v.t.requant.biasRow)
    return Status(ErrorCode::Unsupported,
                  "a sum of an int16 map is a 16x8 layer, whose int64 bias is "
                  "added in the requantization, and target '" +
                      v.t.name + "' has no bias row (requant.bias_row)");
  if (chain.empty())
    return Status(ErrorCode::Unsupported,
                  "a Cast that does not start a per-channel sum (Cast -> [Sub] "
                  "-> ReduceSum over H, W -> Requantize)");
  a.claim(chain, formMean(), i);
  int end = v.out(v.g.nodes(chain.back()));
  if (v.uses(end) == 1)
    a.chainOf[size_t(end)] = {i, -1};
  return Status::ok();
}

Status whySumPartNode(const View &v, Analysis &, int i, bool) {
  return Status(
      ErrorCode::Unsupported,
      "a " + v.g.nodes(i).op() +
          " that is not part of a per-channel sum (Cast -> [Sub of a scalar "
          "zero point] -> ReduceSum over H, W -> Requantize)");
}

// Cast, Sub, ReduceSum of a per-channel sum (see sumChain).
void sumNode(Builder &b, const v1::Node &n) {
  int x = b.v.in(n, 0), y = b.v.out(n);
  if (n.op() == "Cast") {
    int in = b.materialize(x);
    if (in < 0)
      return;
    const NTensor &t = b.lp.tensors[size_t(in)];
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
    b.pending[y] = {std::move(L), false, "mean"};
    return;
  }
  auto it = b.pending.find(x);
  if (it == b.pending.end()) {
    b.refuse(n.op() + " " + quoted(n.name()) +
             ": its sum is not in the partition");
    return;
  }
  Builder::Pending p = std::move(it->second);
  b.pending.erase(it);
  p.layer.nodes.push_back(n.name());
  if (n.op() == "Sub") {
    std::vector<int64_t> z;
    b.v.ints(b.v.in(n, 1), z);
    GemmLayer &g = p.layer.gemm;
    for (auto &bias : g.bias)
      bias = int32_t(int64_t(bias) - z[0] * g.H * g.W);
  }
  b.pending[y] = std::move(p);
}

void buildSum(Builder &b, int i, int) { sumNode(b, b.v.g.nodes(i)); }
void buildCast(Builder &b, int i) { sumNode(b, b.v.g.nodes(i)); }

std::string castText(const Target &) {
  return "i8/u8 to i32 starting a per-channel sum: Cast -> [Sub] -> "
         "ReduceSum over H, W -> Requantize";
}
std::string subText(const Target &) {
  return "the zero point of a per-channel sum";
}
std::string reduceText(const Target &) {
  return "over H, W (keepdims) in a per-channel sum";
}

const char *const kSum =
    "fused: a per-channel sum, Cast(i8/u8 -> i32) -> [Sub of a scalar zero "
    "point] -> ReduceSum over H, W (keepdims) -> Requantize";

// (The mean form's 16-bit map and sum, docs/npu-backend.md, "16-bit
// activations (16x8)".)
void claimCast16(const Target &t, const FormRow &, OpClaim &c) {
  if (has16(t, "mean"))
    c.dtypes.insert(c.dtypes.end(), {"i16", "i64"});
}
void claimSum16(const Target &t, const FormRow &, OpClaim &c) {
  if (has16(t, "mean"))
    c.dtypes.push_back("i64");
}

Status meanNeeds(const Target &, const Form &f, FormNeeds &n) {
  gemmNeeds(f, n, false, false);
  return Status::ok();
}

FormRow meanRow(const char *op, int rank, std::vector<const char *> dtypes,
                std::string (*text)(const Target &), WhyFn why) {
  FormRow r;
  r.forms = "mean";
  r.op = op;
  r.rank = rank;
  r.dtypes = std::move(dtypes);
  r.context = kSum;
  r.constraints = text;
  r.why = why;
  r.build = buildCast;
  return r;
}

} // namespace

} // namespace ember::accel::sel

namespace ember::accel {

const FormPattern &formMean() {
  static const FormPattern form = [] {
    using namespace sel;
    FormPattern f;
    f.name = "mean";
    f.needs = meanNeeds;
    f.buildPart = buildSum;
    FormRow cast =
        meanRow("Cast", 250, {"i8", "u8", "i32"}, castText, whyCastNode);
    cast.claim = claimCast16;
    FormRow sub = meanRow("Sub", 260, {"i32"}, subText, whySumPartNode);
    FormRow sum =
        meanRow("ReduceSum", 270, {"i32"}, reduceText, whySumPartNode);
    sum.indexDtypes = {"i64"};
    sum.claim = claimSum16;
    f.rows = {cast, sub, sum};
    return f;
  }();
  return form;
}

} // namespace ember::accel
