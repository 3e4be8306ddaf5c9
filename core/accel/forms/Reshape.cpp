// Form reshape (Forms.def): reshapes that keep the channel-tiled layout
// (dim 1 and the pixel order) as views of their input, a flatten into the
// MatMul that reads it (MatMul.cpp), and movement chains that keep the
// device's bytes (docs/npu-sdk.md, "Layer forms"): Reshape and Transpose
// nodes from value x
// to value y, each result read by the next alone, such that every element
// of y, laid out channel-tiled ([channel tile][pixel][lanes], the pixel
// every index but the channel axis, row-major), sits at the channel and
// pixel it had in x. The chain is then a view of x's tensor (no
// instruction), whatever its intermediate values would be laid out as.
// E.g. a convolution's [1, M, 1, W] result moved to the sequence [W, 1, M]
// or [W, M] (Transpose [3, 0, 1, 2] and Reshape): W pixels of M channels
// either way.
#include "Form.h"

#include <numeric>

namespace ember::accel::sel {

namespace {

// A movement chain that keeps the device's bytes: Reshape and Transpose
// nodes from value x to value y, each result read by the next alone, every
// element of y at the channel and pixel it had in x (e.g. [1, M, 1, W] ->
// Transpose [3, 0, 1, 2] -> Reshape [W, M]): a view of x's tensor. Node
// indices in order.
struct ViewPattern {
  std::vector<int> nodes;
  int last = -1; // nodes.back()
  int x = -1, y = -1;
};

// The byte views claimed (Analysis::state).
struct ViewState {
  std::vector<ViewPattern> views;
};

// The largest tensor whose element map the check follows (an int32 per
// element).
constexpr int64_t kMaxViewElems = int64_t(1) << 22;

// Element e (flat, row-major) of a value of dims d with channel axis c: its
// channel and pixel.
std::pair<int64_t, int64_t> chanPixel(const std::vector<int64_t> &d, size_t c,
                                      int64_t e) {
  int64_t ch = 0, pix = 0, stride = 1;
  for (size_t k = d.size(); k-- > 0;) {
    const int64_t i = e % d[k];
    e /= d[k];
    if (k == c) {
      ch = i;
    } else {
      pix += i * stride;
      stride *= d[k];
    }
  }
  return {ch, pix};
}

// Whether the element map src (y's element -> x's) keeps every element's
// channel and pixel.
bool keepsBytes(const View &v, int x, int y, const std::vector<int32_t> &src) {
  const auto xd = v.dims(x), yd = v.dims(y);
  const size_t cx = size_t(v.chan[size_t(x)]), cy = size_t(v.chan[size_t(y)]);
  if (xd.empty() || yd.empty() || xd[cx] != yd[cy])
    return false;
  for (size_t e = 0; e < src.size(); ++e)
    if (chanPixel(yd, cy, int64_t(e)) != chanPixel(xd, cx, src[e]))
      return false;
  return true;
}

// ok and the view starting at node `first`, or why there is none.
Status viewPattern(const View &v, int first, ViewPattern &p) {
  p = ViewPattern();
  const v1::Node &n0 = v.g.nodes(first);
  const int x = v.in(n0, 0);
  if (x < 0 || v.constant[size_t(x)] ||
      !(isQ8(v.dtype(x)) || (v.dtype(x) == "i16" && has16(v.t, "reshape"))))
    return Status(ErrorCode::Unsupported,
                  "not a Reshape or Transpose of a computed i8/u8" +
                      std::string(has16(v.t, "reshape") ? " or i16" : "") +
                      " tensor");
  std::vector<int64_t> cur = v.dims(x);
  const int64_t n = prod(cur, 0, cur.size());
  if (n < 1 || n > kMaxViewElems)
    return Status(ErrorCode::Unsupported, "an empty tensor or one over " +
                                              std::to_string(kMaxViewElems) +
                                              " elements");
  // src[e]: the element of x at (flat) element e of the current value.
  std::vector<int32_t> src(static_cast<size_t>(n));
  std::iota(src.begin(), src.end(), 0);
  bool moved = false;
  for (int i = first; i >= 0;) {
    const v1::Node &nd = v.g.nodes(i);
    const int y = v.out(nd);
    if ((nd.op() != "Reshape" && nd.op() != "Transpose") || y < 0 ||
        v.in(nd, 0) != (i == first ? x : v.out(v.g.nodes(p.nodes.back()))) ||
        v.dtype(y) != v.dtype(x))
      break;
    const auto yd = v.dims(y);
    if (prod(yd, 0, yd.size()) != n)
      break;
    if (nd.op() == "Transpose") {
      const auto perm = aInts(nd, "perm", {});
      if (perm.size() != cur.size() || yd.size() != cur.size())
        break;
      // Output element (row-major over yd) <- input element.
      std::vector<int64_t> istride(cur.size(), 1);
      for (size_t k = cur.size() - 1; k-- > 0;)
        istride[k] = istride[k + 1] * cur[k + 1];
      std::vector<int32_t> next(src.size());
      std::vector<int64_t> idx(yd.size(), 0);
      for (size_t e = 0; e < next.size(); ++e) {
        int64_t at = 0;
        for (size_t k = 0; k < yd.size(); ++k)
          at += idx[k] * istride[size_t(perm[k])];
        next[e] = src[size_t(at)];
        for (size_t k = yd.size(); k-- > 0;)
          if (++idx[k] < yd[k])
            break;
          else
            idx[k] = 0;
      }
      src = std::move(next);
      moved = true;
    }
    p.nodes.push_back(i);
    cur = yd;
    // The chain ends where a transpose's bytes are x's again.
    if (moved && keepsBytes(v, x, y, src)) {
      p.last = i;
      p.x = x;
      p.y = y;
      return Status::ok();
    }
    i = v.soleReader(y);
  }
  p = ViewPattern();
  return Status(
      ErrorCode::Unsupported,
      "not a chain of Reshape and Transpose nodes that keeps every "
      "element's channel and pixel (each result read by the next alone)");
}

Status whyViewNode(const View &v, Analysis &, int i, bool) {
  // (The nodes of a view are claimed whole, claimViews.)
  ViewPattern p;
  return Status(ErrorCode::Unsupported,
                v.g.nodes(i).op() +
                    " outside a byte view: " + viewPattern(v, i, p).message());
}

Status whyMove(const View &v, const v1::Node &n);

// Claims every byte-keeping chain that starts at a Transpose (after the
// permutations), or at a Reshape that changes the layout alone and reaches
// a Transpose that restores the bytes (a Squeeze of [1, M, 1, W] to
// [1, M, W], then Transpose [0, 2, 1]: the sequence [1, W, M]).
void claimViews(const View &v, Analysis &a) {
  ViewState &s = a.state<ViewState>(formReshape());
  for (int i = 0; i < v.g.nodes_size(); ++i) {
    const v1::Node &n = v.g.nodes(i);
    const bool reshape = n.op() == "Reshape" && v.out(n) >= 0 &&
                         v.soleReader(v.out(n)) >= 0 && whyMove(v, n).failed();
    if ((n.op() != "Transpose" && !reshape) || !a.free(i))
      continue;
    ViewPattern p;
    if (viewPattern(v, i, p).failed())
      continue;
    bool free = true;
    for (int k : p.nodes)
      free = free && a.free(k);
    if (!free)
      continue;
    a.claim(p.nodes, formReshape(), p.last);
    s.views.push_back(std::move(p));
  }
}

// After the per-node checks (not when compiling a partition): a lone view
// of a host tensor is let go.
void settleViews(const View &v, Analysis &a, bool forCompile) {
  for (const ViewPattern &p : a.state<ViewState>(formReshape()).views) {
    std::string why;
    const int pi = v.producer[size_t(p.x)];
    // (A lone view of a host tensor is not worth a partition.)
    if (!forCompile && (pi < 0 || !a.why[size_t(pi)].empty()))
      why = "a view of " + quoted(v.name(p.x)) +
            ", which is not computed on the target (a lone view is not "
            "worth a partition)";
    for (int k : p.nodes)
      a.why[size_t(k)] = why;
    if (!why.empty())
      for (int k : p.nodes)
        a.part[size_t(k)] = Analysis::Part();
  }
}

} // namespace

// Reshapes that leave the device bytes as they are: the channel dim (1) and
// the product of the dims after it are kept.
bool sameLayout(const std::vector<int64_t> &a, const std::vector<int64_t> &b) {
  auto cp = [](const std::vector<int64_t> &d) {
    if (d.size() < 2)
      return std::make_pair(d.empty() ? int64_t(1) : d[0], int64_t(1));
    return std::make_pair(d[1], prod(d, 2, d.size()));
  };
  return cp(a) == cp(b) && prod(a, 0, a.size()) == prod(b, 0, b.size());
}

namespace {

// ok or why Reshape-like node n is not a view of its input alone.
Status whyMove(const View &v, const v1::Node &n) {
  int x = v.in(n, 0), y = v.out(n);
  if (x < 0 || y < 0 ||
      (!isQ8(v.dtype(x)) && !(v.dtype(x) == "i16" && has16(v.t, "reshape"))))
    return Status(ErrorCode::Unsupported,
                  "moves " + (x >= 0 ? v.dtype(x) : std::string("nothing")) +
                      " (the target keeps i8/u8" +
                      (has16(v.t, "reshape") ? " and i16)" : ")"));
  if (v.constant[size_t(x)])
    return Status(ErrorCode::Unsupported, "moves a constant");
  if (v.layout(x) != v.layout(y))
    return Status(
        ErrorCode::Unsupported,
        "changes the channel-tiled layout (only reshapes that keep dim 1 "
        "and the pixel order are free" +
            std::string(v.t.form("pixels")
                            ? ", or move the channels to another axis read "
                              "only by movement and pixel ops)"
                            : ")"));
  return Status::ok();
}

Status whyMoveNode(const View &v, Analysis &a, int i, bool forCompile) {
  const v1::Node &n = v.g.nodes(i);
  Status why = whyMove(v, n);
  if (why.failed() && flattensIntoMatMul(v, n))
    why = Status::ok(); // the MatMul becomes a convolution over the whole image
  int x = v.in(n, 0);
  int p = x >= 0 ? v.producer[size_t(x)] : -1;
  // (An input laid out for this reshape, View::chan, or a sequence, whose
  // channels are its last axis, is read through it: channels off axis 1.)
  const size_t rx = x >= 0 ? v.dims(x).size() : 0;
  const bool laidOut =
      x >= 0 && v.isInput[size_t(x)] && v.chan[size_t(x)] != (rx >= 2 ? 1 : 0);
  if (why.isOk() && !forCompile && !laidOut &&
      (p < 0 || !a.why[size_t(p)].empty()))
    why = Status(ErrorCode::Unsupported,
                 "its input is not computed on the target (a lone reshape is "
                 "not worth a partition)");
  return why;
}

void move(Builder &b, const v1::Node &n,
          int from = -1) { // from: a byte view's input
  int x = from >= 0 ? from : b.v.in(n, 0), y = b.v.out(n);
  if (from < 0 && b.v.layout(x) != b.v.layout(y)) {
    if (!flattensIntoMatMul(b.v, n)) {
      b.refuse(n.op() + " " + quoted(n.name()) +
               ": changes the layout and its MatMul is not in the partition");
      return;
    }
    b.flattened[y] = x;
    return;
  }
  int k = b.materialize(x);
  if (k < 0)
    return;
  int t = b.newTensor(y, b.isOutput(y) ? NTensor::Kind::Output
                                       : NTensor::Kind::Activation);
  const NTensor &src = b.lp.tensors[size_t(k)];
  b.lp.tensors[size_t(t)].base = src.base >= 0 ? src.base : k;
  b.lp.tensors[size_t(t)].tileOffset = src.tileOffset;
  b.lp.tensors[size_t(t)].pixOff = src.pixOff;
  b.tensorOf[size_t(y)] = t;
}

void buildMove(Builder &b, int i) { move(b, b.v.g.nodes(i)); }

// A byte view: its last node's result is a view of the chain's input.
void buildViewPart(Builder &b, int node, int last) {
  if (node != last)
    return;
  for (const ViewPattern &p : b.an.state<ViewState>(formReshape()).views)
    if (p.last == last)
      move(b, b.v.g.nodes(last), p.x);
}

// (The Transpose of a byte view is built with its pattern.)
void buildPatternPart(Builder &b, int i) {
  b.internal("internal: node " + std::to_string(i) + " outside its pattern");
}

std::string moveText(const Target &) {
  return "of a tensor the target computes, keeping dim 1 and the pixel order "
         "(or a flatten into the MatMul that follows, or the first node of a "
         "byte view)";
}
std::string byteViewText(const Target &) {
  return "ending at a tensor of the same bytes: each element at its channel "
         "and pixel of the input (channel-tiled layout), each result read "
         "by the next alone";
}

const char *const kMove =
    "placement: of a tensor the target computes in the same partition (a "
    "free reshape; a lone one is not worth a partition)";
const char *const kByteView =
    "placement: a view, Reshape and Transpose nodes of a tensor the target "
    "computes in the same partition that keep every element's channel and "
    "pixel (a convolution's [1, M, 1, W] result as the sequence [W, M])";

void claimMove16(const Target &t, const FormRow &, OpClaim &c) {
  if (has16(t, "reshape"))
    c.dtypes.push_back("i16");
}

// A byte view's Transpose beside an earlier row's: that context and
// constraint, its lower rank (a matrix's transpose read as B of Q x K^T,
// ActMatMul.cpp) and the reshape form's int16.
void widenView(const Target &t, const FormRow &r, OpClaim &c) {
  c.minRank = std::min(c.minRank, r.minRank);
  c.context = c.context.empty() ? std::string(r.context)
                                : c.context + "; or " + r.context;
  c.constraints += "; or " + r.constraints(t);
  if (has16(t, "reshape") &&
      std::find(c.dtypes.begin(), c.dtypes.end(), "i16") == c.dtypes.end())
    c.dtypes.push_back("i16");
}

FormRow moveRow(const char *op, int rank, std::vector<const char *> index) {
  FormRow r;
  r.forms = "reshape";
  r.op = op;
  r.rank = rank;
  r.dtypes = {"i8", "u8"};
  r.context = kMove;
  r.indexDtypes = std::move(index);
  r.constraints = moveText;
  r.why = whyMoveNode;
  r.build = buildMove;
  r.claim = claimMove16;
  return r;
}

} // namespace

} // namespace ember::accel::sel

namespace ember::accel {

const FormPattern &formReshape() {
  static const FormPattern form = [] {
    using namespace sel;
    FormPattern f;
    f.name = "reshape";
    f.claim = claimViews;
    f.settle = settleViews;
    f.buildPart = buildViewPart;
    FormRow view;
    view.forms = "reshape";
    view.op = "Transpose";
    view.rank = 240;
    view.dtypes = {"i8", "u8"};
    view.minRank = 2;
    view.context = kByteView;
    view.constraints = byteViewText;
    view.why = whyViewNode;
    view.build = buildPatternPart;
    view.appendReason = true;
    view.claim = claimMove16;
    view.widen = widenView;
    f.rows = {
        moveRow("Reshape", 180, {"i64"}), moveRow("Flatten", 190, {}),
        moveRow("Squeeze", 200, {"i64"}), moveRow("Unsqueeze", 210, {"i64"}),
        moveRow("Identity", 220, {}),     view};
    return f;
  }();
  return form;
}

} // namespace ember::accel
