// A transposed convolution's phases interleaved by placement (form
// 'interleave'; docs/npu-backend.md, "Transposed convolutions"): the
// lowering computes each of the s x s output phases of a stride-s
// ConvTranspose as a convolution layer and interleaves them with
// Concat -> Reshape -> Transpose -> Reshape (DepthToSpace, DCR). The target
// runs those four nodes as no work at all: each phase layer stores its rows
// at their pixels of the result (NTensor::ilv, the store op's x step).
#include "SelectInternal.h"

namespace ember::accel::sel {

std::string ilvPattern(const View &v, int ci, IlvPattern &p) {
  const v1::Node &c = v.g.nodes(ci);
  const int y = v.out(c);
  if (c.op() != "Concat" || y < 0 || !isQ8(v.dtype(y)))
    return "not a Concat of i8/u8 maps";
  const auto yd = v.dims(y);
  int64_t axis = aInt(c, "axis", 0);
  if (yd.size() != 4 || (axis != 1 && axis != -3))
    return "not a Concat of 4-D maps on axis 1";
  int64_t s = 2;
  while (s * s < c.inputs_size())
    ++s;
  if (s * s != c.inputs_size() || s > 8)
    return "not s x s maps (s 2..8)";
  const auto xd = v.dims(c.inputs(0));
  p.phases.clear();
  for (int k = 0; k < c.inputs_size(); ++k) {
    const int x = c.inputs(k);
    if (x < 0 || v.constant[size_t(x)] || v.dims(x) != xd ||
        v.dtype(x) != v.dtype(y) || v.soleReader(x) != ci)
      return "a map that is not one of s x s equal maps read by the Concat "
             "alone";
    for (int q : p.phases)
      if (q == x)
        return "a map concatenated twice";
    p.phases.push_back(x);
  }
  const int64_t N = xd[0], K = xd[1], H = xd[2], W = xd[3];
  const int r1 = v.soleReader(y);
  if (r1 < 0 || v.g.nodes(r1).op() != "Reshape" ||
      v.in(v.g.nodes(r1), 0) != y ||
      v.dims(v.out(v.g.nodes(r1))) != std::vector<int64_t>{N, s, s, K, H, W})
    return "the Concat is not reshaped to [N, s, s, K, H, W] alone";
  const int t = v.soleReader(v.out(v.g.nodes(r1)));
  if (t < 0 || v.g.nodes(t).op() != "Transpose" ||
      aInts(v.g.nodes(t), "perm", {}) != std::vector<int64_t>{0, 3, 4, 1, 5, 2})
    return "the reshape is not transposed by [0, 3, 4, 1, 5, 2] alone";
  const int r2 = v.soleReader(v.out(v.g.nodes(t)));
  if (r2 < 0 || v.g.nodes(r2).op() != "Reshape" ||
      v.dims(v.out(v.g.nodes(r2))) != std::vector<int64_t>{N, K, s * H, s * W})
    return "the transpose is not reshaped to [N, K, s H, s W] alone";
  if (s * W > v.t.maxStride)
    return "result lines of " + std::to_string(s * W) +
           " pixels (strides reach at most " + std::to_string(v.t.maxStride) +
           " rows)";
  p.concat = ci;
  p.reshape1 = r1;
  p.transpose = t;
  p.reshape2 = r2;
  p.s = s;
  return "";
}

std::string whyInterleaveNode(const View &v, Analysis &, int i, bool) {
  // (The nodes of an interleave are claimed by analyze, Analysis::ilvOf.)
  return v.g.nodes(i).op() +
         " outside a transposed convolution's phase interleave (Concat of "
         "the s x s phase maps -> Reshape -> Transpose [0, 3, 4, 1, 5, 2] -> "
         "Reshape)";
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
    for (int k : {p.concat, p.reshape1, p.transpose, p.reshape2})
      a.ilvOf[size_t(k)] = p.reshape2;
    a.ilvs.push_back(p);
  }
}

void settleInterleaves(const View &v, Analysis &a) {
  for (const IlvPattern &p : a.ilvs) {
    const std::string why = whyPhases(v, a, p);
    for (int k : {p.concat, p.reshape1, p.transpose, p.reshape2})
      a.why[size_t(k)] = why.empty() ? "" : "not a phase interleave: " + why;
    if (!why.empty())
      for (int k : {p.concat, p.reshape1, p.transpose, p.reshape2})
        a.ilvOf[size_t(k)] = -1;
  }
}

} // namespace ember::accel::sel
