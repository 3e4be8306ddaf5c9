// Form concat (Forms.def; docs/npu-backend.md, "Concatenation and split by
// placement"): a Concat along the channels by placement (each input's
// producer stores into its channel tiles of the result; an input that
// cannot be placed is copied by a 1x1 pool, or by an identity GEMM into
// lanes inside a tile; inputs sharing a lane group are merged: mergeRun),
// and a Split along the channels into views of its
// input (parts at whole tiles) or parts inside a tile its readers place
// (Lanes.cpp).
#include "Form.h"

#include <map>
#include <set>

namespace ember::accel::sel {

namespace {

Status whyConcat(const View &v, const v1::Node &n, int self) {
  int y = v.out(n);
  if (y < 0 ||
      (!isQ8(v.dtype(y)) && !(v.dtype(y) == "i16" && has16(v.t, "concat"))))
    return Status(ErrorCode::Unsupported,
                  "concatenates " +
                      (y >= 0 ? v.dtype(y) : std::string("nothing")));
  auto yd = v.dims(y);
  int64_t axis = aInt(n, "axis", 0);
  if (axis < 0)
    axis += int64_t(yd.size());
  if (yd.size() < 2 || axis != 1 || v.chan[size_t(y)] != 1)
    return Status(
        ErrorCode::Unsupported,
        "axis " + std::to_string(axis) +
            " (the target concatenates channels, axis 1, by placement)");
  // (All the parts of a Split with parts inside a tile count as its input.)
  const std::vector<int> ins = concatInputs(v, n);
  for (int x : ins)
    if (x < 0 || v.dtype(x) != v.dtype(y))
      return Status(ErrorCode::Unsupported,
                    "inputs of different element types");
    else if (v.dims(x).size() != yd.size())
      return Status(ErrorCode::Unsupported, "inputs of different ranks");
  // Inputs sharing a channel group are merged by copies (whyMerged).
  std::vector<bool> merged;
  if (Status why = whyMerged(v, ins, merged); why.failed())
    return why;
  for (size_t i = 0; i < ins.size(); ++i) {
    int x = ins[i];
    // (A constant input, 8- or 16-bit as the result, is a constant tensor
    // of the layer program copied into its channels of the result:
    // copyInto, laneCopyInto.)
    // (A lane part with the conv form: a copy at lane 0 first,
    // Builder::laneCopy, then placed as any computed input.)
    if (lanePart(v, x) && !v.t.form("conv"))
      return Status(
          ErrorCode::Unsupported,
          "input " + quoted(v.name(x)) +
              " starts inside a channel tile of its Split's input and the "
              "Concat does not take every part of that Split in order");
    if (!merged[i] && i + 1 < ins.size() && v.dims(x)[1] % v.t.lanes &&
        (v.dims(x)[1] % 8 || !v.t.declares(OpKind::Store, "lanes") ||
         v.dtype(x) == "i16"))
      return Status(
          ErrorCode::Unsupported,
          "input " + quoted(v.name(x)) + " has " +
              std::to_string(v.dims(x)[1]) +
              " channels, not a multiple of the lanes " +
              std::to_string(v.t.lanes) +
              (v.dtype(x) == "i16"
                   ? std::string(" (16-bit inputs are placed at whole channel "
                                 "tiles)")
               : v.t.declares(OpKind::Store, "lanes")
                   ? std::string(" nor of 8 (inputs inside a tile are placed "
                                 "by 8-lane groups)")
                   : std::string(" (inputs are placed at whole channel tiles; "
                                 "the target's store has no lane groups)")));
    // An input that cannot be placed is copied by a 1x1 pool: without one,
    // an input another Concat places cannot be placed in this one too.
    if (!v.t.has(OpKind::Pool))
      for (int u : v.users[size_t(x)])
        if (u != self && v.g.nodes(u).op() == "Concat")
          return Status(
              ErrorCode::Unsupported,
              "input " + quoted(v.name(x)) +
                  " feeds another Concat (the target has no pool to copy it)");
  }
  return Status::ok();
}

// Split along channels into views of the input (parts at whole channel
// tiles) or parts inside a tile that their readers place (Lanes.cpp).
Status whySplit(const View &v, const v1::Node &n) {
  int x = v.in(n, 0);
  if (x < 0 ||
      (!isQ8(v.dtype(x)) && !(v.dtype(x) == "i16" && has16(v.t, "concat"))))
    return Status(ErrorCode::Unsupported,
                  "splits " + (x >= 0 ? v.dtype(x) : std::string("nothing")));
  if (v.constant[size_t(x)])
    return Status(ErrorCode::Unsupported, "splits a constant");
  auto xd = v.dims(x);
  int64_t axis = aInt(n, "axis", 0);
  if (axis < 0)
    axis += int64_t(xd.size());
  if (xd.size() < 2 || axis != 1 || v.chan[size_t(x)] != 1)
    return Status(ErrorCode::Unsupported,
                  "axis " + std::to_string(axis) +
                      " (the target splits channels, axis 1, by placement)");
  for (int i = 0; i < n.outputs_size(); ++i) {
    int y = v.out(n, i);
    if (y < 0)
      return Status(ErrorCode::Unsupported, "an omitted output");
    if (v.dtype(y) != v.dtype(x))
      return Status(ErrorCode::Unsupported, "outputs of another element type");
  }
  // Parts start at whole channel tiles (views) or inside one, at a multiple
  // of 8 (Lanes.cpp).
  return whyLaneParts(v, n);
}

Status whyConcatNode(const View &v, Analysis &a, int i, bool) {
  const v1::Node &n = v.g.nodes(i);
  Status why = whyConcat(v, n, i);
  if (why.isOk())
    why = whyInsideTiles(v, a, n); // (inputs placed by lane groups)
  // Without a pool to copy with, every input must be a result the target
  // computes, so its producer can store it in place.
  for (int k = 0; why.isOk() && !v.t.has(OpKind::Pool) && k < n.inputs_size();
       ++k) {
    int x = n.inputs(k), p = x >= 0 ? v.producer[size_t(x)] : -1;
    if (p < 0 || !a.why[size_t(p)].empty())
      why = Status(ErrorCode::Unsupported,
                   "input " + quoted(v.name(x)) +
                       " is not computed on the target (the target has no "
                       "pool to copy it into place)");
  }
  return why;
}

Status whySplitNode(const View &v, Analysis &a, int i, bool forCompile) {
  const v1::Node &n = v.g.nodes(i);
  Status why = whySplit(v, n);
  int x = v.in(n, 0);
  int p = x >= 0 ? v.producer[size_t(x)] : -1;
  if (why.isOk() && !forCompile && (p < 0 || !a.why[size_t(p)].empty()))
    why = Status(ErrorCode::Unsupported,
                 "its input is not computed on the target (a lone split is "
                 "not worth a partition)");
  return why;
}

// A copy of tensor k into channel tile `off` of `to`: a 1x1 max pool on
// the vector unit (for an input that cannot be placed).
void copyInto(Builder &b, const v1::Node &n, int x, int k, int to,
              int64_t off) {
  auto xd = b.v.dims(x);
  if (xd.size() >= 2 && xd.size() != 4) // [N, C, rest...]: b.an N x rest x 1
    xd = {xd[0], xd[1], prod(xd, 2, xd.size()), 1}; // map (the same rows)
  if (xd.size() != 4) {
    b.refuse("Concat " + quoted(n.name()) + ": input " + quoted(b.v.name(x)) +
             " cannot be placed in the output and is not an image to copy");
    return;
  }
  if (!b.v.t.has(OpKind::Pool)) {
    b.refuse("Concat " + quoted(n.name()) + ": input " + quoted(b.v.name(x)) +
             " cannot be placed in the output and the target has no pool to "
             "copy it");
    return;
  }
  Layer L;
  L.kind = Layer::Kind::Pool;
  L.name = n.name() + "/copy" + std::to_string(off);
  L.nodes = {n.name()};
  PoolLayer &g = L.pool;
  g.in = k;
  g.N = xd[0], g.C = xd[1], g.H = g.OH = xd[2], g.W = g.OW = xd[3];
  g.w16 = b.lp.tensors[size_t(k)].i16; // (a 16-bit copy: 16-bit rows)
  g.padValue = g.w16 ? -32768 : g.padValue;
  g.out = b.newTensor(x, NTensor::Kind::Activation);
  b.lp.tensors[size_t(g.out)].name += "/placed";
  b.lp.tensors[size_t(g.out)].base = to;
  b.lp.tensors[size_t(g.out)].tileOffset = off;
  b.lp.layers.push_back(std::move(L));
}

// A Concat input inside channel tiles that no layer computes for it alone
// (a pool's, an add's or a shared result, a grouped convolution's):
// copied to its lanes of the output by an identity GEMM (weights 1 at
// row at % lanes + c, column c; requantization by exactly 1), which stores
// only its lane groups.
void laneCopyInto(Builder &b, const v1::Node &n, int x, int to, int64_t at) {
  const int k = b.materialize(x);
  if (k < 0)
    return;
  const auto d = b.v.dims(x);
  const int64_t l0 = at % b.v.t.lanes, C = d[1], Kw = l0 + C;
  Layer L;
  L.kind = Layer::Kind::Gemm;
  L.name = n.name() + "/copy" + std::to_string(at);
  L.nodes = {n.name()};
  GemmLayer &g = L.gemm;
  g.in = k;
  g.C = C;
  g.K = Kw;
  if (d.size() == 4) {
    g.N = d[0], g.H = g.OH = d[2], g.W = g.OW = d[3];
  } else {
    g.N = 1, g.H = g.OH = 1, g.W = g.OW = prod(d, 0, d.size()) / C;
  }
  g.flat = true;
  g.w.assign(size_t(Kw * C), 0);
  for (int64_t c = 0; c < C; ++c)
    g.w[size_t((l0 + c) * C + c)] = 1;
  g.bias.assign(size_t(Kw), 0);
  g.rq.mult.assign(size_t(Kw), int32_t(1) << 30);
  g.rq.shift.assign(size_t(Kw), 1);
  g.out = b.newTensor(x, NTensor::Kind::Activation);
  NTensor &t = b.lp.tensors[size_t(g.out)];
  t.name += "/placed";
  t.base = to;
  t.tileOffset = at / b.v.t.lanes;
  t.dims[1] = Kw;
  t.C = Kw;
  t.laneFrom = l0;
  b.lp.layers.push_back(std::move(L));
}

// A Concat input at channel `at` that does not span whole channel tiles:
// its (pending, ungrouped) GEMM layer computes it at its lanes of the
// output (weight rows, bias and requantization moved up by at % lanes,
// zero rows before) and stores only its lane groups (NTensor::laneFrom).
void placeAtLanes(Builder &b, const v1::Node &n, int x, int to, int64_t at) {
  // A result computed already (a Split's input the Concat reassembles)
  // that starts at a whole tile: it moves with its views, and its stores
  // leave the lanes past its channels.
  const int had = b.tensorOf[size_t(x)];
  if (at % b.v.t.lanes == 0 && had >= 0 && b.lp.tensors[size_t(had)].base < 0 &&
      b.lp.tensors[size_t(had)].kind == NTensor::Kind::Activation) {
    b.rebase(had, to, at / b.v.t.lanes);
    b.lp.tensors[size_t(had)].laneFrom = 0;
    return;
  }
  auto it = b.pending.find(x);
  GemmLayer *g =
      it != b.pending.end() && it->second.layer.kind == Layer::Kind::Gemm
          ? &it->second.layer.gemm
          : nullptr;
  // A Requantize of a tensor (a per-channel identity GEMM) becomes an
  // ungrouped one, whose weight rows can move to other lanes.
  if (g && it->second.form == "requant" && g->groups == g->C && g->K == g->C &&
      int64_t(g->w.size()) == g->K && g->kh == 1 && g->kw == 1) {
    std::vector<int8_t> w(size_t(g->K * g->C), 0);
    for (int64_t k = 0; k < g->K; ++k)
      w[size_t(k * g->C + k)] = g->w[size_t(k)];
    g->w = std::move(w);
    g->groups = 1;
  }
  // (A grouped layer keeps its weight rows where they are only at lane 0,
  // as does a layer whose weight rows are an activation's pixels,
  // GemmLayer::wAct.)
  if (!g || ((g->groups != 1 || g->wAct >= 0) && at % b.v.t.lanes) || g->in16 ||
      g->out16 || g->add.on || !g->requant || g->sum ||
      !it->second.requantized || !b.single(x) || had >= 0) {
    laneCopyInto(b, n, x, to, at);
    return;
  }
  const int64_t l0 = at % b.v.t.lanes, K = g->K, Kw = l0 + K;
  const int64_t per = K ? int64_t(g->w.size()) / K : 0;
  std::vector<int8_t> w(size_t(Kw * per), 0);
  std::copy(g->w.begin(), g->w.end(), w.begin() + l0 * per);
  g->w = std::move(w);
  auto shift = [&](auto &vec) {
    if (int64_t(vec.size()) == K)
      vec.insert(vec.begin(), size_t(l0), 0);
  };
  shift(g->bias);
  shift(g->rq.mult);
  shift(g->rq.shift);
  g->K = Kw;
  int k = b.materialize(x, to, at / b.v.t.lanes);
  if (k < 0)
    return;
  NTensor &t = b.lp.tensors[size_t(k)];
  t.dims[1] = Kw;
  t.C = Kw;
  t.laneFrom = l0;
}

// A merged run of Concat inputs, ins[first..last] at channels chans[first..]
// of `to` (mergedRuns): they share channel groups that no store can split
// between them. Each input is copied by an identity GEMM to its channels
// of a tensor spanning the run from the run's first channel tile (zeros at
// the others), each copy after the first adding the previous copy (fused,
// or an add layer), with registers that return a stored value plus 0
// exactly; the last sum is stored into the run's channels of `to`.
void mergeRun(Builder &b, const v1::Node &n, const std::vector<int> &ins,
              const std::vector<int64_t> &chans, int first, int last, int to) {
  const int64_t lanes = b.v.t.lanes, at = chans[size_t(first)];
  const int64_t a0 = at - at % lanes, K = chans[size_t(last) + 1] - a0;
  AddRegs regs;
  if (!identityAddRegs(b.v.t, regs)) {
    b.refuse("Concat " + quoted(n.name()) +
             ": the target has no add to merge the copies of its inputs with");
    return;
  }
  int prev = -1;
  for (int i = first; i <= last && b.err.isOk(); ++i) {
    const int x = ins[size_t(i)];
    const int k = b.materialize(x);
    if (k < 0)
      return;
    std::vector<int64_t> from(size_t(K), -1);
    const auto d = b.v.dims(x);
    for (int64_t c = 0; c < d[1]; ++c)
      from[size_t(chans[size_t(i)] - a0 + c)] = c;
    Layer L;
    L.kind = Layer::Kind::Gemm;
    L.name = n.name() + "/merge" + std::to_string(chans[size_t(i)]);
    L.nodes = {n.name()};
    Builder::selectChannels(L.gemm, d, from);
    L.gemm.in = k;
    auto runTensor = [&](bool placed) {
      int t = b.newTensor(x, NTensor::Kind::Activation);
      NTensor &nt = b.lp.tensors[size_t(t)];
      nt.name += placed ? "/placed" : "/merged";
      nt.dims[1] = K;
      nt.C = K;
      if (placed) {
        nt.base = to;
        nt.tileOffset = a0 / lanes;
        if (b.v.t.declares(OpKind::Store, "lanes"))
          nt.laneFrom = at - a0; // (its lane groups only)
      }
      return t;
    };
    const bool placed = i == last;
    if (prev >= 0 && fuses(b.v.t, "conv", "add")) {
      Layer trial = L;
      trial.gemm.add.on = true;
      trial.gemm.add.other = prev;
      trial.gemm.add.regs = regs;
      if (b.fits(trial)) {
        trial.gemm.out = prev = runTensor(placed);
        b.lp.layers.push_back(std::move(trial));
        continue;
      }
    }
    if (prev >= 0 && !b.v.t.form("add")) {
      b.refuse("Concat " + quoted(n.name()) + ": the copy of input " +
               quoted(b.v.name(x)) +
               " with the previous copy added does not fit the target's "
               "memories, and the target has no add layer");
      return;
    }
    L.gemm.out = runTensor(placed && prev < 0);
    const int copy = L.gemm.out;
    b.lp.layers.push_back(std::move(L));
    if (prev < 0) {
      prev = copy;
      continue;
    }
    Layer A;
    A.kind = Layer::Kind::Add;
    A.name = n.name() + "/merge" + std::to_string(chans[size_t(i)]) + "/add";
    A.nodes = {n.name()};
    A.add.a = prev;
    A.add.b = copy;
    A.add.regs = regs;
    A.add.out = prev = runTensor(placed);
    b.lp.layers.push_back(std::move(A));
  }
}

// Concat by placement: each input's producer writes its channel tiles of
// the output. A pending layer stores there; a computed tensor with storage
// of its own is rebased there; views of one tensor (split parts, a
// reshape) move their owner there when they are consecutive inputs that
// cover it exactly. Any other input (a partition input, output or
// constant, a tensor placed in another Concat) is copied there.
void concat(Builder &b, const v1::Node &n) {
  int y = b.v.out(n);
  int ty = b.newTensor(y, b.isOutput(y) ? NTensor::Kind::Output
                                        : NTensor::Kind::Activation);
  b.tensorOf[size_t(y)] = ty;
  b.concatOuts.insert(ty);
  // (All the parts of a Split with parts inside a tile: its input.)
  const std::vector<int> ins = concatInputs(b.v, n);
  const int m = int(ins.size());
  // Channel offsets, and tile offsets (an input inside tiles: the tile
  // it starts in).
  std::vector<int64_t> chans(size_t(m) + 1, 0), offs(size_t(m) + 1, 0);
  for (int i = 0; i < m; ++i)
    chans[size_t(i) + 1] = chans[size_t(i)] + b.v.dims(ins[size_t(i)])[1];
  for (int i = 0; i < m; ++i)
    offs[size_t(i)] = chans[size_t(i)] / b.v.t.lanes;
  offs[size_t(m)] = ceilDiv(chans[size_t(m)], b.v.t.lanes);
  // Inputs sharing a channel group: merged by copies (mergeRun).
  const std::vector<std::pair<int, int>> runs = mergedRuns(b.v, ins);
  std::vector<bool> merged(size_t(m), false);
  for (auto [first, last] : runs)
    for (int i = first; i <= last; ++i)
      merged[size_t(i)] = true;
  auto inside = [&](int i) {
    return chans[size_t(i)] % b.v.t.lanes ||
           (i + 1 < m && chans[size_t(i) + 1] % b.v.t.lanes);
  };
  // Owners of views among the inputs: the shift that puts each view at
  // its slot, and the tiles the views cover (-1: they disagree).
  std::map<int, std::pair<int64_t, int64_t>> owners;
  std::set<std::pair<int, int64_t>> seen;
  for (int i = 0; i < m; ++i) {
    int k = b.tensorOf[size_t(ins[size_t(i)])];
    if (merged[size_t(i)] || k < 0 || b.lp.tensors[size_t(k)].base < 0)
      continue;
    const NTensor &t = b.lp.tensors[size_t(k)];
    int64_t at = offs[size_t(i)] - t.tileOffset;
    auto [it, fresh] = owners.insert({t.base, {at, 0}});
    if (!seen.insert({t.base, t.tileOffset}).second || it->second.first != at)
      it->second.second = -1;
    else if (it->second.second >= 0)
      it->second.second += offs[size_t(i) + 1] - offs[size_t(i)];
    (void)fresh;
  }
  for (const auto &[o, shift] : owners) {
    const NTensor &ot = b.lp.tensors[size_t(o)];
    if (ot.kind == NTensor::Kind::Activation && !b.concatOuts.count(o) &&
        shift.first >= 0 && shift.second == ot.tiles() &&
        shift.first + ot.tiles() <= b.lp.tensors[size_t(ty)].tiles())
      b.rebase(o, ty, shift.first);
  }
  for (auto [first, last] : runs)
    if (b.err.isOk())
      mergeRun(b, n, ins, chans, first, last, ty);
  for (int i = 0; i < m && b.err.isOk(); ++i) {
    int x = ins[size_t(i)];
    if (merged[size_t(i)])
      continue;
    if (inside(i)) {
      placeAtLanes(b, n, x, ty, chans[size_t(i)]);
      continue;
    }
    if (b.tensorOf[size_t(x)] < 0 && b.pending.count(x)) {
      b.materialize(x, ty, offs[size_t(i)]);
      continue;
    }
    int k = b.materialize(x);
    if (k < 0)
      return;
    const NTensor &t = b.lp.tensors[size_t(k)];
    if (t.base == ty && t.tileOffset == offs[size_t(i)])
      continue; // a view already in its slot
    if (t.base < 0 && t.kind == NTensor::Kind::Activation) {
      b.rebase(k, ty, offs[size_t(i)]); // (a Concat's result moves whole)
      continue;
    }
    copyInto(b, n, x, k, ty, offs[size_t(i)]);
  }
}

// Split along channels at whole tiles: each part is a view of the input's
// storage (no layer, no copy).
void split(Builder &b, const v1::Node &n) {
  int x = b.v.in(n, 0);
  int k = b.materialize(x);
  if (k < 0)
    return;
  int64_t off = 0; // in channels
  for (int i = 0; i < n.outputs_size(); ++i) {
    int y = b.v.out(n, i);
    if (y < 0)
      continue;
    const int64_t at = off;
    off += b.v.dims(y)[1];
    if (at % b.v.t.lanes)
      continue; // a lane part: its readers place it (b.laneView)
    int t = b.newTensor(y, b.isOutput(y) ? NTensor::Kind::Output
                                         : NTensor::Kind::Activation);
    const NTensor &src = b.lp.tensors[size_t(k)];
    b.lp.tensors[size_t(t)].base = src.base >= 0 ? src.base : k;
    b.lp.tensors[size_t(t)].tileOffset = src.tileOffset + at / b.v.t.lanes;
    b.tensorOf[size_t(y)] = t;
  }
}

void buildConcat(Builder &b, int i) { concat(b, b.v.g.nodes(i)); }
void buildSplit(Builder &b, int i) { split(b, b.v.g.nodes(i)); }

std::string concatText(const Target &) {
  return "axis 1, inputs at any channel (at whole channel tiles or lane "
         "groups: placed; sharing a group: merged by copies)";
}
std::string splitText(const Target &) {
  return "axis 1, parts at whole channel tiles (lane multiples but the last)";
}

const char *const kViews =
    "placement: of a tensor the target computes in the same partition, every "
    "part but the last a whole number of channel tiles (views of the input)";
const char *const kPlaced =
    "placement: producers store into the output (inputs at whole channel "
    "tiles or lane groups), copies merge inputs sharing a group";

void claimConcat16(const Target &t, const FormRow &, OpClaim &c) {
  if (has16(t, "concat"))
    c.dtypes.push_back("i16");
}

void settleConcats(const View &v, Analysis &a, bool) { settleLaneParts(v, a); }

} // namespace

} // namespace ember::accel::sel

namespace ember::accel {

const FormPattern &formConcat() {
  static const FormPattern form = [] {
    using namespace sel;
    FormPattern f;
    f.name = "concat";
    f.settle = settleConcats;
    FormRow concat;
    concat.forms = "concat";
    concat.op = "Concat";
    concat.rank = 110;
    concat.dtypes = {"i8", "u8"};
    concat.minRank = 2;
    concat.context = kPlaced;
    concat.constraints = concatText;
    concat.why = whyConcatNode;
    concat.build = buildConcat;
    concat.claim = claimConcat16;
    // (The split sizes are rank 1; the data's rank is checked.)
    FormRow split;
    split.forms = "concat";
    split.op = "Split";
    split.rank = 120;
    split.dtypes = {"i8", "u8"};
    split.context = kViews;
    split.indexDtypes = {"i64"};
    split.constraints = splitText;
    split.why = whySplitNode;
    split.build = buildSplit;
    split.claim = claimConcat16;
    f.rows = {concat, split};
    return f;
  }();
  return form;
}

} // namespace ember::accel
