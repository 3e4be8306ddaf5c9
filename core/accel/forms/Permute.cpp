// Constant channel permutations (form 'permute'; docs/npu-backend.md,
// "Channel permutations"): a chain of Reshape and Transpose nodes on an i8/u8
// tensor that keeps the batch and every pixel where they are and only
// reorders the channels, e.g. ShuffleNet's channel shuffle of g groups,
// Reshape [N, g, C/g, H, W] -> Transpose [0, 2, 1, 3, 4] -> Reshape
// [N, C, H, W]. The builder folds the permutation into the GEMM layer that
// produces the tensor (its output channels reordered: weight rows, bias,
// requantization) when that costs the array no more passes than a separate
// copy, else runs it as a 1x1 GEMM with 0/1 weights and a requantization by
// exactly 1 (stored values unchanged), whose all-zero weight tiles the code
// skips.
#include "Form.h"

#include <algorithm>
#include <set>

namespace ember::accel::sel {

namespace {

// A constant channel permutation: Reshape and Transpose nodes from value x
// to value y, each result read by the next alone, that keep the batch and
// the pixels and reorder the channels: channel o of y is channel perm[o] of
// x. Node indices in order.
struct PermPattern {
  std::vector<int> nodes;
  int last = -1; // nodes.back()
  int x = -1, y = -1;
  std::vector<int64_t> perm;
};

// The permutations claimed (Analysis::state).
struct PermState {
  std::vector<PermPattern> perms;
};

// A shape's axes of more than one element (size-1 axes move freely).
std::vector<int> bigAxes(const std::vector<int64_t> &s) {
  std::vector<int> a;
  for (size_t i = 0; i < s.size(); ++i)
    if (s[i] != 1)
      a.push_back(int(i));
  return a;
}

// Splits the dims d into a batch prefix [0, a) of N elements, a channel
// middle [a, b) and a pixel suffix [b, end) of P elements; false when no
// split exists.
bool splitDims(const std::vector<int64_t> &d, int64_t N, int64_t P, size_t &a,
               size_t &b) {
  int64_t p = 1;
  for (a = 0; a < d.size() && p != N; ++a)
    p *= d[a];
  if (p != N)
    return false;
  p = 1;
  for (b = d.size(); b > a && p != P; --b)
    p *= d[b - 1];
  return p == P;
}

// ok and the permutation starting at node `first`, or why there is none.
Status permPattern(const View &v, int first, PermPattern &p) {
  p = PermPattern();
  const v1::Node &n0 = v.g.nodes(first);
  const int x = v.in(n0, 0);
  if (x < 0 || !isQ8(v.dtype(x)) || v.constant[size_t(x)])
    return Status(ErrorCode::Unsupported,
                  "not a Reshape or Transpose of a computed i8/u8 tensor");
  const auto xd = v.dims(x);
  if (xd.size() < 2)
    return Status(ErrorCode::Unsupported, "rank " + std::to_string(xd.size()));
  const int64_t N = xd[0], C = xd[1], P = prod(xd, 2, xd.size());
  if (N < 1 || C < 1 || P < 1)
    return Status(ErrorCode::Unsupported, "an empty tensor");
  // src[c]: the input channel at (flat) channel c of the current tensor.
  std::vector<int64_t> src(static_cast<size_t>(C));
  for (int64_t c = 0; c < C; ++c)
    src[size_t(c)] = c;
  std::vector<int64_t> cur = xd;
  bool moved = false;
  for (int i = first; i >= 0;) {
    const v1::Node &n = v.g.nodes(i);
    const int y = v.out(n);
    if ((n.op() != "Reshape" && n.op() != "Transpose") || y < 0 ||
        v.dtype(y) != v.dtype(x))
      break;
    const auto yd = v.dims(y);
    if (n.op() == "Transpose") {
      // The permutation of the axes of more than one element.
      const auto perm = aInts(n, "perm", {});
      const std::vector<int> ib = bigAxes(cur), ob = bigAxes(yd);
      if (perm.size() != cur.size() || ib.size() != ob.size())
        break;
      std::vector<int64_t> q; // output big axis j <- input big axis q[j]
      for (int o : ob) {
        const auto it = std::find(ib.begin(), ib.end(), int(perm[size_t(o)]));
        if (it == ib.end())
          break;
        q.push_back(int64_t(it - ib.begin()));
      }
      std::vector<int64_t> bi;
      for (int a : ib)
        bi.push_back(cur[size_t(a)]);
      size_t a = 0, b = 0;
      if (q.size() != ib.size() || !splitDims(bi, N, P, a, b))
        break;
      bool keeps = true; // the batch and pixel axes stay in place
      for (size_t j = 0; j < q.size(); ++j)
        keeps = keeps && ((j >= a && j < b) || q[j] == int64_t(j));
      for (size_t j = a; j < b; ++j)
        keeps = keeps && q[j] >= int64_t(a) && q[j] < int64_t(b);
      if (!keeps)
        break;
      // Output channel digits (over the permuted middle dims) -> input's.
      std::vector<int64_t> mi(bi.begin() + long(a), bi.begin() + long(b)), mo;
      for (size_t j = a; j < b; ++j)
        mo.push_back(bi[size_t(q[j])]);
      std::vector<int64_t> next(static_cast<size_t>(C)), digit(mo.size());
      for (int64_t co = 0; co < C; ++co) {
        int64_t r = co;
        for (size_t j = mo.size(); j-- > 0;) {
          digit[j] = r % mo[j];
          r /= mo[j];
        }
        std::vector<int64_t> din(mi.size());
        for (size_t j = 0; j < mo.size(); ++j)
          din[size_t(q[a + j]) - a] = digit[j];
        int64_t ci = 0;
        for (size_t j = 0; j < mi.size(); ++j)
          ci = ci * mi[j] + din[j];
        next[size_t(co)] = src[size_t(ci)];
      }
      src = std::move(next);
      moved = true;
    } else {
      // A reshape keeps the flat order: a split of the new dims into batch,
      // channels and pixels keeps every channel index.
      size_t a = 0, b = 0;
      if (!splitDims(yd, N, P, a, b))
        break;
    }
    p.nodes.push_back(i);
    cur = yd;
    // The chain ends at a tensor of the input's layout after a transpose.
    if (moved && cur.size() >= 2 && cur[0] == N && cur[1] == C &&
        sameLayout(cur, xd)) {
      p.last = i;
      p.x = x;
      p.y = y;
      p.perm = src;
      return Status::ok();
    }
    i = v.soleReader(y);
  }
  p = PermPattern();
  return Status(
      ErrorCode::Unsupported,
      "not a chain of Reshape and Transpose nodes that only reorders the "
      "channels (batch and pixels kept, each result read by the next "
      "alone)");
}

Status whyPermuteNode(const View &v, Analysis &, int i, bool) {
  // (The nodes of a permutation are claimed whole, claimPermutations.)
  PermPattern p;
  return Status(ErrorCode::Unsupported, v.g.nodes(i).op() +
                                            " outside a channel permutation: " +
                                            permPattern(v, i, p).message());
}

void claimPermutations(const View &v, Analysis &a) {
  PermState &s = a.state<PermState>(formPermute());
  for (int i = 0; i < v.g.nodes_size(); ++i) {
    const std::string &op = v.g.nodes(i).op();
    if ((op != "Reshape" && op != "Transpose") || !a.free(i))
      continue;
    PermPattern p;
    if (permPattern(v, i, p).failed())
      continue;
    bool free = true;
    for (int k : p.nodes)
      free = free && a.free(k);
    if (!free)
      continue;
    a.claim(p.nodes, formPermute(), p.nodes.back());
    s.perms.push_back(std::move(p));
  }
}

// After the per-node checks (not when compiling a partition): a lone
// permutation of a host tensor is let go.
void settlePermutations(const View &v, Analysis &a, bool forCompile) {
  for (const PermPattern &p : a.state<PermState>(formPermute()).perms) {
    std::string why;
    const int pi = v.producer[size_t(p.x)];
    // (A lone permutation of a host tensor is not worth a partition.)
    if (!forCompile && (pi < 0 || !a.why[size_t(pi)].empty()))
      why = "a channel permutation of " + quoted(v.name(p.x)) +
            ", which is not computed on the target (a lone permutation is "
            "not worth a partition)";
    for (int k : p.nodes)
      a.why[size_t(k)] = why;
    if (!why.empty())
      for (int k : p.nodes)
        a.part[size_t(k)] = Analysis::Part();
  }
}

int64_t weightTiles(int64_t lanes, const GemmLayer &g) {
  const int64_t taps = g.sum ? 1 : g.kh * g.kw, Cg = g.C / g.groups,
                Kg = g.K / g.groups, Ct = ceilDiv(g.C, lanes);
  std::set<int64_t> nz;
  for (int64_t oc = 0; oc < g.K; ++oc)
    for (int64_t icl = 0; icl < Cg; ++icl)
      for (int64_t t = 0; t < taps; ++t)
        if (g.w[size_t((oc * Cg + icl) * taps + t)]) {
          const int64_t ic = (oc / Kg) * Cg + icl;
          nz.insert(((oc / lanes) * Ct + ic / lanes) * taps + t);
        }
  return int64_t(nz.size());
}

int64_t permTiles(int64_t lanes, const std::vector<int64_t> &perm) {
  std::set<std::pair<int64_t, int64_t>> nz;
  for (size_t o = 0; o < perm.size(); ++o)
    nz.insert({int64_t(o) / lanes, perm[o] / lanes});
  return int64_t(nz.size());
}

bool permuteOutputs(int64_t lanes, GemmLayer &g,
                    const std::vector<int64_t> &perm) {
  const int64_t K = g.K;
  if (g.sum || g.add.on || int64_t(perm.size()) != K || g.w.empty())
    return false;
  const int64_t per = int64_t(g.w.size()) / K, Kg = K / g.groups,
                Cg = g.C / g.groups, taps = per / Cg;
  // Each output channel stays in its group: the layer stays grouped.
  bool keeps = true;
  for (int64_t o = 0; o < K; ++o)
    keeps = keeps && o / Kg == perm[size_t(o)] / Kg;
  GemmLayer t = g;
  if (keeps) {
    for (int64_t o = 0; o < K; ++o)
      std::copy_n(g.w.begin() + long(perm[size_t(o)] * per), per,
                  t.w.begin() + long(o * per));
  } else {
    // Ungrouped: each row's group's inputs at their channels, zeros
    // elsewhere (the code skips all-zero weight tiles).
    t.groups = 1;
    t.w.assign(size_t(K * g.C * taps), 0);
    for (int64_t o = 0; o < K; ++o) {
      const int64_t s = perm[size_t(o)], grp = s / Kg;
      for (int64_t c = 0; c < Cg; ++c)
        for (int64_t k = 0; k < taps; ++k)
          t.w[size_t((o * g.C + grp * Cg + c) * taps + k)] =
              g.w[size_t((s * Cg + c) * taps + k)];
    }
    // Not worth it when the array makes more passes than the layer and a
    // permutation GEMM together (a depthwise producer).
    if (weightTiles(lanes, t) > weightTiles(lanes, g) + permTiles(lanes, perm))
      return false;
  }
  auto reorder = [&](auto &vec) {
    if (int64_t(vec.size()) != K)
      return;
    auto old = vec;
    for (int64_t o = 0; o < K; ++o)
      vec[size_t(o)] = old[size_t(perm[size_t(o)])];
  };
  reorder(t.bias);
  reorder(t.bias64);
  reorder(t.rq.mult);
  reorder(t.rq.shift);
  g = std::move(t);
  return true;
}

// A channel permutation (a PermState pattern) ending at node `last`: folded
// into the pending GEMM layer computing its input when that layer is
// computed for it alone and the fold costs the array no more passes
// (permuteOutputs), else a 1x1 GEMM of 0/1 weights with a requantization
// by exactly 1 (multiplier 2^30, shift 1: stored values unchanged). Either
// stays pending, so a following pool, add or Concat placement folds in.
void permLayer(Builder &b, int last) {
  const PermPattern *p =
      b.patternEndingAt(b.an.state<PermState>(formPermute()).perms,
                        &PermPattern::last, last, "permutation");
  if (!p)
    return;
  const int x = p->x, y = p->y;
  auto it = b.pending.find(x);
  if (it != b.pending.end() && b.tensorOf[size_t(x)] < 0 && b.single(x) &&
      it->second.requantized && it->second.layer.kind == Layer::Kind::Gemm &&
      !it->second.layer.gemm.add.on) {
    Layer trial = it->second.layer;
    if (permuteOutputs(b.v.t.lanes, trial.gemm, p->perm) && b.fits(trial)) {
      for (int k : p->nodes)
        trial.nodes.push_back(b.v.g.nodes(k).name());
      Builder::Pending moved = std::move(it->second);
      b.pending.erase(it);
      moved.layer = std::move(trial);
      b.pending[y] = std::move(moved);
      return;
    }
  }
  const int in = b.materialize(x);
  if (in < 0)
    return;
  Layer L;
  L.kind = Layer::Kind::Gemm;
  L.name = b.v.g.nodes(last).name();
  for (int k : p->nodes)
    L.nodes.push_back(b.v.g.nodes(k).name());
  GemmLayer &g = L.gemm;
  b.selectChannels(g, b.v.dims(x), p->perm);
  g.in = in;
  g.requant = true;
  b.pending[y] = {std::move(L), true, "requant"};
}

void buildPermPart(Builder &b, int node, int last) {
  if (node == last)
    permLayer(b, last);
}

// (The nodes of a permutation are built with its pattern.)
void buildPatternPart(Builder &b, int i) {
  b.internal("internal: node " + std::to_string(i) + " outside its pattern");
}

std::string permuteText(const Target &) {
  return "a constant channel permutation: Reshape/Transpose chains of an "
         "i8/u8 tensor keeping the batch and the pixels (a channel shuffle "
         "of g groups: [N, g, C/g, H, W], perm [0, 2, 1, 3, 4])";
}

const char *const kPermute =
    "placement: a constant channel permutation, Reshape and Transpose nodes "
    "of a tensor that only reorder its channels (folded into the producing "
    "layer's output channels, or a 1x1 GEMM of 0/1 weights)";

// A Reshape or Transpose claimed by an earlier row: the permutation's
// context and constraint too.
void widenPermute(const Target &t, const FormRow &r, OpClaim &c) {
  c.context = c.context.empty() ? std::string(r.context)
                                : c.context + "; or " + r.context;
  c.constraints += "; or " + r.constraints(t);
}

// (A channel permutation's [N, g, C/g, H, W], or more axes.)
void permuteRanks(const Target &, std::vector<OpClaim> &claims) {
  for (OpClaim &c : claims)
    if (c.op == "Reshape" || c.op == "Transpose")
      c.maxRank = std::max(c.maxRank, 6u);
}

Status permuteNeeds(const Target &, const Form &f, FormNeeds &n) {
  // (A channel permutation runs as a GEMM with a requantization by 1.)
  gemmNeeds(f, n, true, false);
  return Status::ok();
}

FormRow permRow(const char *op, int rank, unsigned minRank,
                std::vector<const char *> index) {
  FormRow r;
  r.forms = "permute";
  r.op = op;
  r.rank = rank;
  r.dtypes = {"i8", "u8"};
  r.minRank = minRank;
  r.context = kPermute;
  r.indexDtypes = std::move(index);
  r.constraints = permuteText;
  r.why = whyPermuteNode;
  r.build = buildPatternPart;
  r.widen = widenPermute;
  return r;
}

} // namespace

} // namespace ember::accel::sel

namespace ember::accel {

const FormPattern &formPermute() {
  static const FormPattern form = [] {
    using namespace sel;
    FormPattern f;
    f.name = "permute";
    f.needs = permuteNeeds;
    f.claim = claimPermutations;
    f.settle = settlePermutations;
    f.manifest = permuteRanks;
    f.buildPart = buildPermPart;
    // (After the interleave's and the move's rows: a Reshape or Transpose
    // outside a permutation gets their reasons, and a Transpose this one's
    // too.)
    FormRow transpose = permRow("Transpose", 170, 2, {});
    transpose.appendReason = true;
    f.rows = {transpose, permRow("Reshape", 230, 0, {"i64"})};
    return f;
  }();
  return form;
}

} // namespace ember::accel
