// A transposed convolution's phases interleaved by placement (form
// 'interleave'; docs/npu-backend.md, "Transposed convolutions"): the
// lowering computes each of the sy x sx output phases of a ConvTranspose
// as a convolution layer and interleaves them with Concat -> Reshape ->
// Transpose -> Reshape (DepthToSpace, DCR), then crops the result with a
// Slice when the interleave is larger. The target runs those nodes as no
// work at all: each phase layer stores its rows at their pixels of the
// result (NTensor::ilv, the store op's x step), those outside it nowhere.
#include "SelectInternal.h"

namespace ember::accel::sel {

namespace {

// The crop of Slice node si from the [N, K, H, W] interleave: (top, left),
// or why it is not a crop of H and W with step 1.
std::string cropOf(const View &v, int si, int64_t &top, int64_t &left) {
  const v1::Node &n = v.g.nodes(si);
  const auto xd = v.dims(v.in(n, 0)), yd = v.dims(v.out(n));
  std::vector<int64_t> starts, axes{0, 1, 2, 3}, steps;
  if (!v.ints(v.in(n, 1), starts) ||
      (v.in(n, 3) >= 0 && !v.ints(v.in(n, 3), axes)) ||
      (v.in(n, 4) >= 0 && !v.ints(v.in(n, 4), steps)) ||
      starts.size() != axes.size() || yd.size() != 4)
    return "a Slice without constant starts and axes";
  for (int64_t st : steps)
    if (st != 1)
      return "a Slice with steps";
  std::vector<int64_t> from(4, 0);
  for (size_t k = 0; k < axes.size(); ++k) {
    const int64_t a = axes[k] < 0 ? axes[k] + 4 : axes[k];
    if (a < 0 || a > 3)
      return "a Slice axis outside the map";
    int64_t st = starts[k] < 0 ? starts[k] + xd[size_t(a)] : starts[k];
    from[size_t(a)] = std::clamp<int64_t>(st, 0, xd[size_t(a)]);
  }
  if (from[0] || from[1] || yd[0] != xd[0] || yd[1] != xd[1])
    return "a Slice of the images or channels";
  top = from[2], left = from[3];
  return "";
}

} // namespace

std::string ilvPattern(const View &v, int ci, IlvPattern &p) {
  const v1::Node &c = v.g.nodes(ci);
  const int y = v.out(c);
  if (c.op() != "Concat" || y < 0 || !isQ8(v.dtype(y)))
    return "not a Concat of i8/u8 maps";
  const auto yd = v.dims(y);
  int64_t axis = aInt(c, "axis", 0);
  if (yd.size() != 4 || (axis != 1 && axis != -3))
    return "not a Concat of 4-D maps on axis 1";
  const auto xd = v.dims(c.inputs(0));
  p.phases.clear();
  for (int k = 0; k < c.inputs_size(); ++k) {
    const int x = c.inputs(k);
    if (x < 0 || v.constant[size_t(x)] || v.dims(x) != xd ||
        v.dtype(x) != v.dtype(y) || v.soleReader(x) != ci)
      return "a map that is not one of sy x sx equal maps read by the Concat "
             "alone";
    for (int q : p.phases)
      if (q == x)
        return "a map concatenated twice";
    p.phases.push_back(x);
  }
  const int64_t N = xd[0], K = xd[1], H = xd[2], W = xd[3];
  const int r1 = v.soleReader(y);
  const auto r1d =
      r1 >= 0 ? v.dims(v.out(v.g.nodes(r1))) : std::vector<int64_t>{};
  if (r1 < 0 || v.g.nodes(r1).op() != "Reshape" ||
      v.in(v.g.nodes(r1), 0) != y || r1d.size() != 6 ||
      r1d != std::vector<int64_t>{N, r1d[1], r1d[2], K, H, W})
    return "the Concat is not reshaped to [N, sy, sx, K, H, W] alone";
  const int64_t sy = r1d[1], sx = r1d[2];
  if (sy < 1 || sx < 1 || sy > 8 || sx > 8 || sy * sx != c.inputs_size() ||
      sy * sx < 2)
    return "not sy x sx maps (strides 1..8, two maps or more)";
  const int t = v.soleReader(v.out(v.g.nodes(r1)));
  if (t < 0 || v.g.nodes(t).op() != "Transpose" ||
      aInts(v.g.nodes(t), "perm", {}) != std::vector<int64_t>{0, 3, 4, 1, 5, 2})
    return "the reshape is not transposed by [0, 3, 4, 1, 5, 2] alone";
  const int r2 = v.soleReader(v.out(v.g.nodes(t)));
  if (r2 < 0 || v.g.nodes(r2).op() != "Reshape" ||
      v.dims(v.out(v.g.nodes(r2))) !=
          std::vector<int64_t>{N, K, sy * H, sx * W})
    return "the transpose is not reshaped to [N, K, sy H, sx W] alone";
  // A Slice reading the interleave alone crops it (H and W).
  p.slice = -1, p.top = 0, p.left = 0;
  const int sl = v.soleReader(v.out(v.g.nodes(r2)));
  if (sl >= 0 && v.g.nodes(sl).op() == "Slice" &&
      v.in(v.g.nodes(sl), 0) == v.out(v.g.nodes(r2))) {
    const std::string why = cropOf(v, sl, p.top, p.left);
    if (!why.empty())
      return "the interleave is read by " + why;
    p.slice = sl;
  }
  p.last = p.slice >= 0 ? p.slice : r2;
  const int64_t OW = v.dims(v.out(v.g.nodes(p.last)))[3];
  if (OW * sy > v.t.maxStride)
    return "result lines of " + std::to_string(OW) + " pixels, " +
           std::to_string(sy) + " a phase line (strides reach at most " +
           std::to_string(v.t.maxStride) + " rows)";
  p.concat = ci;
  p.reshape1 = r1;
  p.transpose = t;
  p.reshape2 = r2;
  p.sy = sy;
  p.sx = sx;
  return "";
}

std::string whyInterleaveNode(const View &v, Analysis &, int i, bool) {
  // (The nodes of an interleave are claimed by analyze, Analysis::ilvOf.)
  return v.g.nodes(i).op() +
         " outside a transposed convolution's phase interleave (Concat of "
         "the sy x sx phase maps -> Reshape -> Transpose [0, 3, 4, 1, 5, 2] "
         "-> Reshape [-> Slice of H and W])";
}

// Each phase must be the requantized result of an 8-bit convolution the
// target runs (through its output table, if any), so its layer stores it at
// its pixels.
std::string whyPhases(const View &v, const Analysis &a, const IlvPattern &p) {
  for (int x : p.phases) {
    int pi = v.producer[size_t(x)];
    if (pi >= 0 && a.lutOf[size_t(pi)] == pi)
      for (const TableChain &tc : a.tables)
        if (tc.exit == pi)
          pi = v.producer[size_t(tc.root)];
    if (pi < 0 || v.g.nodes(pi).op() != "Requantize" ||
        !a.why[size_t(pi)].empty())
      return "phase " + q(v.name(x)) +
             " is not a requantized result the target computes";
    const Chain &ch = a.chainOf[size_t(v.in(v.g.nodes(pi), 0))];
    if (ch.root < 0 || v.g.nodes(ch.root).op() != "ConvInteger" ||
        v.dtype(v.in(v.g.nodes(ch.root), 0)) == "i16")
      return "phase " + q(v.name(x)) + " is not an 8-bit convolution's result";
  }
  return "";
}

void claimInterleaves(const View &v, Analysis &a) {
  const int nn = v.g.nodes_size();
  a.ilvOf.assign(size_t(nn), -1);
  if (!v.t.form("interleave"))
    return;
  for (int i = 0; i < nn; ++i) {
    IlvPattern p;
    if (v.g.nodes(i).op() != "Concat")
      continue;
    if (!ilvPattern(v, i, p).empty())
      continue;
    for (int k : p.nodes())
      a.ilvOf[size_t(k)] = p.last;
    a.ilvs.push_back(p);
  }
}

void settleInterleaves(const View &v, Analysis &a) {
  for (const IlvPattern &p : a.ilvs) {
    const std::string why = whyPhases(v, a, p);
    for (int k : p.nodes())
      a.why[size_t(k)] = why.empty() ? "" : "not a phase interleave: " + why;
    if (!why.empty())
      for (int k : p.nodes())
        a.ilvOf[size_t(k)] = -1;
  }
}

} // namespace ember::accel::sel
