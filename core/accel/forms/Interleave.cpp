// A transposed convolution's phases interleaved by placement (form
// 'interleave'; docs/npu-backend.md, "Transposed convolutions"): the
// lowering computes each of the sy x sx output phases of a ConvTranspose
// as a convolution layer and interleaves them with Concat -> Reshape ->
// Transpose -> Reshape (DepthToSpace, DCR), then crops the result with a
// Slice when the interleave is larger. The target runs those nodes as no
// work at all: each phase layer stores its rows at their pixels of the
// result (NTensor::ilv, the store op's x step), those outside it nowhere.
#include "Form.h"

#include <algorithm>

namespace ember::accel::sel {

namespace {

// A transposed convolution's phases interleaved: Concat of sy x sx equal
// i8/u8 maps on axis 1, each read by it alone -> Reshape [N, sy, sx, K, H,
// W] -> Transpose [0, 3, 4, 1, 5, 2] -> Reshape [N, K, sy H, sx W] -> [a
// Slice of H and W from (top, left): the result cropped], each result read
// by the next alone. Node indices (slice -1 when there is none; last the
// final node); `phases` the maps (values) in phase order.
struct IlvPattern {
  int concat = -1, reshape1 = -1, transpose = -1, reshape2 = -1, slice = -1;
  int last = -1;
  std::vector<int> phases;
  int64_t sy = 0, sx = 0, top = 0, left = 0;
  std::vector<int> nodes() const {
    std::vector<int> n{concat, reshape1, transpose, reshape2};
    if (slice >= 0)
      n.push_back(slice);
    return n;
  }
};

// The interleaves claimed (Analysis::state).
struct IlvState {
  std::vector<IlvPattern> ilvs;
};

// The crop of Slice node si from the [N, K, H, W] interleave: (top, left),
// or why it is not a crop of H and W with step 1.
Status cropOf(const View &v, int si, int64_t &top, int64_t &left) {
  const v1::Node &n = v.g.nodes(si);
  const auto xd = v.dims(v.in(n, 0)), yd = v.dims(v.out(n));
  std::vector<int64_t> starts, axes{0, 1, 2, 3}, steps;
  if (!v.ints(v.in(n, 1), starts) ||
      (v.in(n, 3) >= 0 && !v.ints(v.in(n, 3), axes)) ||
      (v.in(n, 4) >= 0 && !v.ints(v.in(n, 4), steps)) ||
      starts.size() != axes.size() || yd.size() != 4)
    return Status(ErrorCode::Unsupported,
                  "a Slice without constant starts and axes");
  for (int64_t st : steps)
    if (st != 1)
      return Status(ErrorCode::Unsupported, "a Slice with steps");
  std::vector<int64_t> from(4, 0);
  for (size_t k = 0; k < axes.size(); ++k) {
    const int64_t a = axes[k] < 0 ? axes[k] + 4 : axes[k];
    if (a < 0 || a > 3)
      return Status(ErrorCode::Unsupported, "a Slice axis outside the map");
    int64_t st = starts[k] < 0 ? starts[k] + xd[size_t(a)] : starts[k];
    from[size_t(a)] = std::clamp<int64_t>(st, 0, xd[size_t(a)]);
  }
  if (from[0] || from[1] || yd[0] != xd[0] || yd[1] != xd[1])
    return Status(ErrorCode::Unsupported, "a Slice of the images or channels");
  top = from[2], left = from[3];
  return Status::ok();
}

// ok and the pattern of the Concat node `ci`, or why it is none.
Status ilvPattern(const View &v, int ci, IlvPattern &p) {
  const v1::Node &c = v.g.nodes(ci);
  const int y = v.out(c);
  if (c.op() != "Concat" || y < 0 || !isQ8(v.dtype(y)))
    return Status(ErrorCode::Unsupported, "not a Concat of i8/u8 maps");
  const auto yd = v.dims(y);
  int64_t axis = aInt(c, "axis", 0);
  if (yd.size() != 4 || (axis != 1 && axis != -3))
    return Status(ErrorCode::Unsupported, "not a Concat of 4-D maps on axis 1");
  const auto xd = v.dims(c.inputs(0));
  p.phases.clear();
  for (int k = 0; k < c.inputs_size(); ++k) {
    const int x = c.inputs(k);
    if (x < 0 || v.constant[size_t(x)] || v.dims(x) != xd ||
        v.dtype(x) != v.dtype(y) || v.soleReader(x) != ci)
      return Status(
          ErrorCode::Unsupported,
          "a map that is not one of sy x sx equal maps read by the Concat "
          "alone");
    for (int q : p.phases)
      if (q == x)
        return Status(ErrorCode::Unsupported, "a map concatenated twice");
    p.phases.push_back(x);
  }
  const int64_t N = xd[0], K = xd[1], H = xd[2], W = xd[3];
  const int r1 = v.soleReader(y);
  const auto r1d =
      r1 >= 0 ? v.dims(v.out(v.g.nodes(r1))) : std::vector<int64_t>{};
  if (r1 < 0 || v.g.nodes(r1).op() != "Reshape" ||
      v.in(v.g.nodes(r1), 0) != y || r1d.size() != 6 ||
      r1d != std::vector<int64_t>{N, r1d[1], r1d[2], K, H, W})
    return Status(ErrorCode::Unsupported,
                  "the Concat is not reshaped to [N, sy, sx, K, H, W] alone");
  const int64_t sy = r1d[1], sx = r1d[2];
  if (sy < 1 || sx < 1 || sy > 8 || sx > 8 || sy * sx != c.inputs_size() ||
      sy * sx < 2)
    return Status(ErrorCode::Unsupported,
                  "not sy x sx maps (strides 1..8, two maps or more)");
  const int t = v.soleReader(v.out(v.g.nodes(r1)));
  if (t < 0 || v.g.nodes(t).op() != "Transpose" ||
      aInts(v.g.nodes(t), "perm", {}) != std::vector<int64_t>{0, 3, 4, 1, 5, 2})
    return Status(ErrorCode::Unsupported,
                  "the reshape is not transposed by [0, 3, 4, 1, 5, 2] alone");
  const int r2 = v.soleReader(v.out(v.g.nodes(t)));
  if (r2 < 0 || v.g.nodes(r2).op() != "Reshape" ||
      v.dims(v.out(v.g.nodes(r2))) !=
          std::vector<int64_t>{N, K, sy * H, sx * W})
    return Status(ErrorCode::Unsupported,
                  "the transpose is not reshaped to [N, K, sy H, sx W] alone");
  // A Slice reading the interleave alone crops it (H and W).
  p.slice = -1, p.top = 0, p.left = 0;
  const int sl = v.soleReader(v.out(v.g.nodes(r2)));
  if (sl >= 0 && v.g.nodes(sl).op() == "Slice" &&
      v.in(v.g.nodes(sl), 0) == v.out(v.g.nodes(r2))) {
    const Status why = cropOf(v, sl, p.top, p.left);
    if (why.failed())
      return Status(ErrorCode::Unsupported,
                    "the interleave is read by " + why.message());
    p.slice = sl;
  }
  p.last = p.slice >= 0 ? p.slice : r2;
  const int64_t OW = v.dims(v.out(v.g.nodes(p.last)))[3];
  if (OW * sy > v.t.maxStride)
    return Status(ErrorCode::Unsupported,
                  "result lines of " + std::to_string(OW) + " pixels, " +
                      std::to_string(sy) +
                      " a phase line (strides reach at most " +
                      std::to_string(v.t.maxStride) + " rows)");
  p.concat = ci;
  p.reshape1 = r1;
  p.transpose = t;
  p.reshape2 = r2;
  p.sy = sy;
  p.sx = sx;
  return Status::ok();
}

Status whyInterleaveNode(const View &v, Analysis &, int i, bool) {
  // (The nodes of an interleave are claimed whole, claimInterleaves.)
  return Status(
      ErrorCode::Unsupported,
      v.g.nodes(i).op() +
          " outside a transposed convolution's phase interleave (Concat of "
          "the sy x sx phase maps -> Reshape -> Transpose [0, 3, 4, 1, 5, 2] "
          "-> Reshape [-> Slice of H and W])");
}

// Each phase must be the requantized result of an 8-bit convolution the
// target runs (through its output table, if any), so its layer stores it at
// its pixels.
Status whyPhases(const View &v, const Analysis &a, const IlvPattern &p) {
  for (int x : p.phases) {
    int pi = v.producer[size_t(x)];
    if (const TableChain *tc = pi >= 0 ? tableChainAt(a, pi) : nullptr)
      pi = v.producer[size_t(tc->root)];
    if (pi < 0 || v.g.nodes(pi).op() != "Requantize" ||
        !a.why[size_t(pi)].empty())
      return Status(ErrorCode::Unsupported,
                    "phase " + quoted(v.name(x)) +
                        " is not a requantized result the target computes");
    const Chain &ch = a.chainOf[size_t(v.in(v.g.nodes(pi), 0))];
    if (ch.root < 0 || v.g.nodes(ch.root).op() != "ConvInteger" ||
        v.dtype(v.in(v.g.nodes(ch.root), 0)) == "i16")
      return Status(ErrorCode::Unsupported,
                    "phase " + quoted(v.name(x)) +
                        " is not an 8-bit convolution's result");
  }
  return Status::ok();
}

void claimInterleaves(const View &v, Analysis &a) {
  IlvState &s = a.state<IlvState>(formInterleave());
  for (int i = 0; i < v.g.nodes_size(); ++i) {
    IlvPattern p;
    if (v.g.nodes(i).op() != "Concat")
      continue;
    if (ilvPattern(v, i, p).failed())
      continue;
    a.claim(p.nodes(), formInterleave(), p.last);
    s.ilvs.push_back(p);
  }
}

// After the per-node checks: an interleave whose phases are not
// convolutions the target runs is let go.
void settleInterleaves(const View &v, Analysis &a, bool) {
  for (const IlvPattern &p : a.state<IlvState>(formInterleave()).ilvs) {
    const Status why = whyPhases(v, a, p);
    for (int k : p.nodes())
      a.why[size_t(k)] =
          why.isOk() ? "" : "not a phase interleave: " + why.message();
    if (why.failed())
      for (int k : p.nodes())
        a.part[size_t(k)] = Analysis::Part();
  }
}

// A phase interleave (an IlvState pattern) ending in node ri (its last
// Reshape, or the Slice cropping it): the result gets its tensor, and
// each phase's pending convolution layer stores its rows at their pixels
// of it (NTensor::ilv).
void ilvLayer(Builder &b, int ri) {
  const IlvPattern *p =
      b.patternEndingAt(b.an.state<IlvState>(formInterleave()).ilvs,
                        &IlvPattern::last, ri, "interleave");
  if (!p)
    return;
  const v1::Node &r = b.v.g.nodes(ri);
  const int y = b.v.out(r);
  const int owner = b.newTensor(y, b.isOutput(y) ? NTensor::Kind::Output
                                                 : NTensor::Kind::Activation);
  b.tensorOf[size_t(y)] = owner;
  for (size_t k = 0; k < p->phases.size(); ++k) {
    const int x = p->phases[k];
    auto it = b.pending.find(x);
    const GemmLayer *g =
        it != b.pending.end() && it->second.layer.kind == Layer::Kind::Gemm
            ? &it->second.layer.gemm
            : nullptr;
    if (!g || !g->requant || g->pool.on || g->add.on || g->out16 ||
        b.tensorOf[size_t(x)] >= 0) {
      b.refuse("interleave " + quoted(r.name()) + ": phase " +
               quoted(b.v.name(x)) +
               " is not a convolution layer computed for it alone");
      return;
    }
    const int t = b.materialize(x, owner, 0);
    if (t < 0)
      return;
    NTensor &pt = b.lp.tensors[size_t(t)];
    pt.ilv = p->sy;
    pt.ilvX = p->sx == p->sy ? 0 : p->sx;
    pt.phase = int64_t(k);
    pt.top = p->top;
    pt.left = p->left;
  }
  // (The interleave's nodes are the last phase layer's too, for the
  // report.)
  if (!b.lp.layers.empty())
    for (int k : p->nodes())
      b.lp.layers.back().nodes.push_back(b.v.g.nodes(k).name());
}

void buildIlvPart(Builder &b, int node, int last) {
  if (node == last)
    ilvLayer(b, last);
}

// (The nodes of an interleave are built with its pattern.)
void buildPatternPart(Builder &b, int i) {
  b.internal("internal: node " + std::to_string(i) + " outside its pattern");
}

std::string interleaveText(const Target &) {
  return "the sy x sx phases of a transposed convolution (strides 1..8, "
         "two phases or more), each the requantized result of an 8-bit "
         "convolution read by the Concat alone, the interleave cropped by a "
         "Slice of H and W when larger than the result";
}

const char *const kInterleave =
    "placement: a transposed convolution's phase interleave, Concat of the "
    "sy x sx phase maps -> Reshape -> Transpose [0, 3, 4, 1, 5, 2] -> Reshape "
    "[-> Slice of H and W] (each phase layer stores at its pixels of the "
    "result)";

// (A phase interleave's Concat, Reshape and Transpose hold the rank-6
// [N, s, s, K, H, W] between them; query_support refuses them elsewhere.
// Its Concat and Reshapes are claimed by this form too: a target without
// the concat or reshape form runs them in the interleave alone.)
void interleaveRanks(const Target &t, std::vector<OpClaim> &claims) {
  ensureClaim(claims, "Concat", {"i8", "u8"}, interleaveText(t), kInterleave,
              {}, 4);
  ensureClaim(claims, "Reshape", {"i8", "u8"}, interleaveText(t), kInterleave,
              {"i64"});
  for (OpClaim &c : claims)
    if (c.op == "Concat" || c.op == "Reshape" || c.op == "Transpose")
      c.maxRank = std::max(c.maxRank, 6u);
}

FormRow ilvRow(const char *op, int rank, unsigned minRank,
               std::vector<const char *> index) {
  FormRow r;
  r.forms = "interleave";
  r.op = op;
  r.rank = rank;
  r.dtypes = {"i8", "u8"};
  r.minRank = minRank;
  r.context = kInterleave;
  r.indexDtypes = std::move(index);
  r.constraints = interleaveText;
  r.why = whyInterleaveNode;
  r.build = buildPatternPart;
  return r;
}

} // namespace

} // namespace ember::accel::sel

namespace ember::accel {

const FormPattern &formInterleave() {
  static const FormPattern form = [] {
    using namespace sel;
    FormPattern f;
    f.name = "interleave";
    f.claim = claimInterleaves;
    f.settle = settleInterleaves;
    f.manifest = interleaveRanks;
    f.buildPart = buildIlvPart;
    // (Slice: its starts, ends and axes are rank 1; the map's rank is
    // checked.)
    f.rows = {ilvRow("Transpose", 150, 4, {}),
              ilvRow("Slice", 160, 0, {"i64"})};
    return f;
  }();
  return form;
}

} // namespace ember::accel
