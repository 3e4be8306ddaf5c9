// Movement chains that keep the device's bytes (form 'reshape';
// docs/npu-sdk.md, "Layer forms"): Reshape and Transpose nodes from value x
// to value y, each result read by the next alone, such that every element
// of y, laid out channel-tiled ([channel tile][pixel][lanes], the pixel
// every index but the channel axis, row-major), sits at the channel and
// pixel it had in x. The chain is then a view of x's tensor (no
// instruction), whatever its intermediate values would be laid out as.
// E.g. a convolution's [1, M, 1, W] result moved to the sequence [W, 1, M]
// or [W, M] (Transpose [3, 0, 1, 2] and Reshape): W pixels of M channels
// either way.
#include "SelectInternal.h"

#include <numeric>

namespace ember::accel::sel {

namespace {

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

} // namespace

std::string viewPattern(const View &v, int first, ViewPattern &p) {
  p = ViewPattern();
  const v1::Node &n0 = v.g.nodes(first);
  const int x = v.in(n0, 0);
  if (x < 0 || v.constant[size_t(x)] ||
      !(isQ8(v.dtype(x)) || (v.dtype(x) == "i16" && has16(v.t, "reshape"))))
    return "not a Reshape or Transpose of a computed i8/u8" +
           std::string(has16(v.t, "reshape") ? " or i16" : "") + " tensor";
  std::vector<int64_t> cur = v.dims(x);
  const int64_t n = prod(cur, 0, cur.size());
  if (n < 1 || n > kMaxViewElems)
    return "an empty tensor or one over " + std::to_string(kMaxViewElems) +
           " elements";
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
      return "";
    }
    i = v.soleReader(y);
  }
  p = ViewPattern();
  return "not a chain of Reshape and Transpose nodes that keeps every "
         "element's channel and pixel (each result read by the next alone)";
}

std::string whyViewNode(const View &v, Analysis &, int i, bool) {
  // (The nodes of a view are claimed by analyze, Analysis::viewOf.)
  ViewPattern p;
  return v.g.nodes(i).op() + " outside a byte view: " + viewPattern(v, i, p);
}

void claimViews(const View &v, Analysis &a) {
  const int nn = v.g.nodes_size();
  a.viewOf.assign(size_t(nn), -1);
  if (!v.t.form("reshape"))
    return;
  for (int i = 0; i < nn; ++i) {
    if (v.g.nodes(i).op() != "Transpose" || a.viewOf[size_t(i)] >= 0 ||
        a.permOf[size_t(i)] >= 0 || a.ilvOf[size_t(i)] >= 0)
      continue;
    ViewPattern p;
    if (!viewPattern(v, i, p).empty())
      continue;
    bool free = true;
    for (int k : p.nodes)
      free = free && a.permOf[size_t(k)] < 0 && a.ilvOf[size_t(k)] < 0 &&
             a.viewOf[size_t(k)] < 0;
    if (!free)
      continue;
    for (int k : p.nodes)
      a.viewOf[size_t(k)] = p.last;
    a.views.push_back(std::move(p));
  }
}

int viewInput(const Analysis &a, int last) {
  for (const ViewPattern &p : a.views)
    if (p.last == last)
      return p.x;
  return -1;
}

void settleViews(const View &v, Analysis &a, bool forCompile) {
  for (const ViewPattern &p : a.views) {
    std::string why;
    const int pi = v.producer[size_t(p.x)];
    // (A lone view of a host tensor is not worth a partition.)
    if (!forCompile && (pi < 0 || !a.why[size_t(pi)].empty()))
      why = "a view of " + q(v.name(p.x)) +
            ", which is not computed on the target (a lone view is not "
            "worth a partition)";
    for (int k : p.nodes)
      a.why[size_t(k)] = why;
    if (!why.empty())
      for (int k : p.nodes)
        a.viewOf[size_t(k)] = -1;
  }
}

} // namespace ember::accel::sel
