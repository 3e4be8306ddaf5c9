// Split at any channel offset that is not a multiple of the lanes, and
// Concat at multiples of 8 that are not, or at any channel as a merged run
// (form concat, Concat.cpp; docs/npu-backend.md, "What runs on the NPU").
//
// A Split part that starts inside a channel tile (a "lane part") has no
// storage of its own: a convolution reads the tiles the part lies in and
// puts its weights at the part's lanes (zero for the other lanes, so the
// other channels add nothing), and a Concat that takes every part of the
// Split, consecutively and in order, reads the Split's input instead (the
// parts reassembled). Any other use of a lane part keeps the Split on the
// host.
#include "Form.h"

#include "ember/quant/Arith.h"

namespace ember::accel::sel {

int64_t splitOffset(const View &v, int x, int *split) {
  int p = x >= 0 ? v.producer[size_t(x)] : -1;
  if (p < 0 || v.g.nodes(p).op() != "Split")
    return -1;
  const v1::Node &s = v.g.nodes(p);
  int64_t off = 0;
  for (int i = 0; i < s.outputs_size(); ++i) {
    int y = v.out(s, i);
    if (y == x) {
      if (split)
        *split = p;
      return off;
    }
    if (y < 0)
      return -1;
    auto d = v.dims(y);
    if (d.size() < 2)
      return -1;
    off += d[1];
  }
  return -1;
}

bool lanePart(const View &v, int x) {
  int64_t off = splitOffset(v, x, nullptr);
  return off > 0 && off % v.t.lanes != 0;
}

namespace {

// Whether Split s has a lane part.
bool hasLaneParts(const View &v, const v1::Node &s) {
  for (int i = 0; i < s.outputs_size(); ++i)
    if (lanePart(v, v.out(s, i)))
      return true;
  return false;
}

} // namespace

std::vector<int> concatInputs(const View &v, const v1::Node &n) {
  std::vector<int> ins;
  const int m = n.inputs_size();
  for (int i = 0; i < m;) {
    int x = n.inputs(i), s = -1;
    if (splitOffset(v, x, &s) == 0 && hasLaneParts(v, v.g.nodes(s))) {
      const v1::Node &sp = v.g.nodes(s);
      const int k = sp.outputs_size();
      bool run = i + k <= m;
      for (int j = 0; run && j < k; ++j)
        run = n.inputs(i + j) == v.out(sp, j);
      if (run) {
        ins.push_back(v.in(sp, 0));
        i += k;
        continue;
      }
    }
    ins.push_back(x);
    ++i;
  }
  return ins;
}

Status whyLaneParts(const View &v, const v1::Node &s) {
  for (int i = 0; i < s.outputs_size(); ++i) {
    int y = v.out(s, i);
    // (At any channel: a convolution's weights and the identity GEMM's
    // pick any lane; a Concat of all the parts reads the input whole.)
    int64_t off = splitOffset(v, y, nullptr);
    if (!lanePart(v, y))
      continue;
    const std::string where = "output " + quoted(v.name(y)) +
                              " starts inside a channel tile (channel " +
                              std::to_string(off) + ")";
    if (v.dtype(y) == "i16")
      return Status(ErrorCode::Unsupported,
                    where +
                        " (16-bit parts are placed at whole channel tiles)");
    // (With the conv form, any other reader gets a copy at lane 0: an
    // identity GEMM, Builder::laneCopy.)
    if (v.t.form("conv"))
      continue;
    if (v.outUses[size_t(y)])
      return Status(ErrorCode::Unsupported,
                    where + " and is a result of the partition");
    for (int u : v.users[size_t(y)]) {
      const v1::Node &c = v.g.nodes(u);
      if (c.op() == "ConvInteger" && v.in(c, 0) == y &&
          aInt(c, "group", 1) == 1)
        continue;
      if (c.op() == "Concat") {
        bool whole = false;
        for (int x : concatInputs(v, c))
          whole = whole || x == v.in(s, 0);
        bool alone = true;
        for (int x : concatInputs(v, c))
          alone = alone && x != y;
        if (whole && alone)
          continue;
      }
      return Status(
          ErrorCode::Unsupported,
          where + " and is read by " + c.op() + " " + quoted(c.name()) +
              " (only an ungrouped convolution, which puts its weights at "
              "the part's lanes, or a Concat of all the parts in order reads "
              "one)");
    }
  }
  return Status::ok();
}

int64_t placeableChannels(const View &v, const std::string &dtype) {
  return isQ8(dtype) && v.t.declares(OpKind::Store, "lanes") &&
                 v.t.lanes % 8 == 0
             ? 8
             : v.t.lanes;
}

std::vector<std::pair<int, int>> mergedRuns(const View &v,
                                            const std::vector<int> &ins) {
  std::vector<std::pair<int, int>> runs;
  int64_t at = 0;
  for (int i = 0; i < int(ins.size()); ++i) {
    const int x = ins[size_t(i)];
    if (x < 0 || v.dims(x).size() < 2)
      return {};
    if (i > 0 && at % placeableChannels(v, v.dtype(x))) {
      if (!runs.empty() && runs.back().second == i - 1)
        runs.back().second = i;
      else
        runs.push_back({i - 1, i});
    }
    at += v.dims(x)[1];
  }
  return runs;
}

bool identityAddRegs(const Target &t, AddRegs &r) {
  r = AddRegs();
  if (t.computes(quant::RequantProfile::Fixed)) {
    // The exact add of two values of one scale, zero points 0, on the
    // stored int8 lanes.
    quant::AddScales s;
    quant::AddFixed f;
    if (!quant::makeAddFixed(s, -128, -128, -128, 127, f))
      return false;
    r.exact = true;
    r.xaMult = f.aMult;
    r.xbMult = f.bMult;
    r.xOffset = f.offset;
    r.xShift = f.shift;
    return true;
  }
  // TFLite's add in the target's arithmetic, kept only when it returns
  // each value plus 0 unchanged (every case the merged copies meet).
  for (quant::RequantProfile p : t.arithmetic) {
    const quant::AddParams q = quant::makeAddParams(
        1.0, 0, 1.0, 0, 1.0, 0, -128, 127, quant::addLeftShift(p, false));
    bool same = true;
    for (int32_t x = -128; same && x <= 127; ++x)
      same = quant::quantizedAddIn(p, x, 0, q) == x &&
             quant::quantizedAddIn(p, 0, x, q) == x;
    if (!same)
      continue;
    r.lshift = q.leftShift;
    r.aMult = q.a.mult, r.aShift = q.a.shift;
    r.bMult = q.b.mult, r.bShift = q.b.shift;
    r.outMult = q.y.mult, r.outShift = q.y.shift;
    return true;
  }
  return false;
}

namespace {

// ok or why the inputs ins[first..last] of a merged run cannot be merged.
Status whyMergedRun(const View &v, const std::vector<int> &ins, int first,
                    int last) {
  int64_t at = 0;
  for (int i = 0; i < first; ++i)
    at += v.dims(ins[size_t(i)])[1];
  for (int i = first; i <= last; ++i) {
    const int x = ins[size_t(i)];
    const std::string where = "input " + quoted(v.name(x)) + " (channels " +
                              std::to_string(at) + ".." +
                              std::to_string(at + v.dims(x)[1] - 1) +
                              ") shares a channel group with its neighbour";
    at += v.dims(x)[1];
    if (!isQ8(v.dtype(x)))
      return Status(ErrorCode::Unsupported,
                    where + " (16-bit inputs are placed at whole channel "
                            "tiles)");
    if (!v.t.has(OpKind::Gemm) || !v.t.has(OpKind::Requant))
      return Status(ErrorCode::Unsupported,
                    where + " and the target has no GEMM to copy it with");
  }
  AddRegs r;
  if (!identityAddRegs(v.t, r) ||
      !(fuses(v.t, "conv", "add") || v.t.form("add")))
    return Status(ErrorCode::Unsupported,
                  "inputs " + quoted(v.name(ins[size_t(first)])) + ".." +
                      quoted(v.name(ins[size_t(last)])) +
                      " share channel groups and the target has no add to "
                      "merge their copies with");
  return Status::ok();
}

} // namespace

Status whyMerged(const View &v, const std::vector<int> &ins,
                 std::vector<bool> &merged) {
  merged.assign(ins.size(), false);
  for (auto [first, last] : mergedRuns(v, ins)) {
    Status why = whyMergedRun(v, ins, first, last);
    if (why.failed())
      return why;
    for (int i = first; i <= last; ++i)
      merged[size_t(i)] = true;
  }
  return Status::ok();
}

Status whyInsideTiles(const View &v, const Analysis &a, const v1::Node &n) {
  const std::vector<int> ins = concatInputs(v, n);
  const int64_t lanes = v.t.lanes;
  int64_t at = 0;
  bool anyInside = false;
  for (size_t i = 0; i + 1 < ins.size(); ++i) { // (the boundaries)
    at += v.dims(ins[i])[1];
    anyInside = anyInside || at % lanes;
  }
  // Every input computed on the target: an input from the host would cut
  // the partition before the Concat, leaving the producers that place
  // their channels inside tiles in an earlier one.
  // (A constant is copied to its lanes, Concat.cpp.)
  for (int x : anyInside ? ins : std::vector<int>()) {
    int p = v.producer[size_t(x)];
    if (!v.constant[size_t(x)] && (p < 0 || !a.why[size_t(p)].empty()))
      return Status(
          ErrorCode::Unsupported,
          "input " + quoted(v.name(x)) +
              " is not computed on the target, and other inputs lie inside "
              "channel tiles (their producers must be in the Concat's "
              "partition)");
  }
  // (The inputs of a merged run are copied: whyMerged.)
  std::vector<bool> merged;
  if (Status why = whyMerged(v, ins, merged); why.failed())
    return why;
  at = 0;
  for (size_t i = 0; i < ins.size(); ++i) {
    const int x = ins[i];
    const int64_t c = v.dims(x)[1];
    const bool inside = at % lanes || (i + 1 < ins.size() && (at + c) % lanes);
    at += c;
    if (!inside || merged[i])
      continue;
    const std::string where =
        "input " + quoted(v.name(x)) + " (channels " + std::to_string(at - c) +
        ".." + std::to_string(at - 1) + ") lies inside channel tiles";
    if (!v.t.declares(OpKind::Store, "lanes"))
      return Status(ErrorCode::Unsupported,
                    where + " and the target's store has no lane groups");
    if ((at - c) % 8)
      return Status(ErrorCode::Unsupported,
                    where + " at a channel that is not a multiple of 8");
    // (A Split's input the Concat reassembles is read by that Split: its
    // layer stores it whole at a tile, only the lanes past it left.)
    bool regrouped = true;
    for (int k = 0; k < n.inputs_size(); ++k)
      regrouped = regrouped && n.inputs(k) != x;
    if (regrouped && (at - c) % lanes)
      return Status(
          ErrorCode::Unsupported,
          where + ", reassembled from a Split's parts, and does not start "
                  "at a whole channel tile");
    // Any other int8 input is copied to its lanes by an identity GEMM
    // (Concat.cpp, laneCopyInto): a pooled, added, permuted or shared one.
    if (isQ8(v.dtype(x)) && v.t.has(OpKind::Gemm) && v.t.has(OpKind::Requant))
      continue;
    if (v.uses(x) != 1 || v.outUses[size_t(x)])
      return Status(ErrorCode::Unsupported,
                    where +
                        " and has other uses (its producer computes it at its "
                        "lanes of the Concat's result)");
    // x <- [table chain or TableLookup] <- Requantize <- [bias Add] <- GEMM
    int p = v.producer[size_t(x)];
    if (p >= 0 && !a.free(p)) {
      if (const TableChain *tc = tableChainAt(a, p))
        p = v.producer[size_t(tc->root)];
    } else if (p >= 0 && v.g.nodes(p).op() == "TableLookup")
      p = v.producer[size_t(v.in(v.g.nodes(p), 0))];
    int root = -1;
    bool identity = false; // a Requantize of an int8 tensor (an identity GEMM)
    if (p >= 0 && v.g.nodes(p).op() == "Requantize" &&
        a.why[size_t(p)].empty() && a.free(p) && v.in(v.g.nodes(p), 0) >= 0) {
      const int acc = v.in(v.g.nodes(p), 0);
      root = a.chainOf[size_t(acc)].root;
      identity = root < 0 && isQ8(v.dtype(acc));
    }
    const v1::Node *r = root >= 0 ? &v.g.nodes(root) : nullptr;
    const bool gemm =
        identity || (r &&
                     ((r->op() == "ConvInteger" && aInt(*r, "group", 1) == 1) ||
                      r->op() == "MatMulInteger") &&
                     isQ8(v.dtype(v.in(*r, 0))));
    if (!gemm)
      return Status(ErrorCode::Unsupported,
                    where +
                        " and is not the requantized result of an ungrouped "
                        "int8 convolution or MatMul, nor a requantized int8 "
                        "tensor (the producer that computes it at its lanes)");
  }
  return Status::ok();
}

void settleLaneParts(const View &v, Analysis &a) {
  for (bool changed = true; changed;) {
    changed = false;
    for (int i = 0; i < v.g.nodes_size(); ++i) {
      const v1::Node &n = v.g.nodes(i);
      if (!a.why[size_t(i)].empty())
        continue;
      std::string why;
      if (n.op() == "Split" && hasLaneParts(v, n) && !v.t.form("conv")) {
        for (int k = 0; why.empty() && k < n.outputs_size(); ++k)
          for (int u : v.users[size_t(v.out(n, k))])
            if (!a.why[size_t(u)].empty() && lanePart(v, v.out(n, k)))
              why = "output " + quoted(v.name(v.out(n, k))) +
                    " starts inside a channel tile and its reader " +
                    v.g.nodes(u).op() + " " + quoted(v.g.nodes(u).name()) +
                    " runs on the host";
      } else if (n.op() == "Concat" && a.free(i) &&
                 !(v.t.form("pixels") && isPixelOp(v, n))) {
        why = whyInsideTiles(v, a, n).message(); // (its producers may move)
        // Parts read as the Split's input: the Split must run too.
        const std::vector<int> ins = concatInputs(v, n);
        for (int x : ins) {
          int p = x >= 0 ? v.producer[size_t(x)] : -1;
          bool regrouped = true;
          for (int k = 0; k < n.inputs_size(); ++k)
            regrouped = regrouped && n.inputs(k) != x;
          if (!regrouped)
            continue;
          for (int k = 0; k < n.inputs_size(); ++k) {
            int s = -1;
            if (splitOffset(v, n.inputs(k), &s) >= 0 &&
                v.in(v.g.nodes(s), 0) == x && !a.why[size_t(s)].empty())
              why = "its inputs " + quoted(v.name(n.inputs(k))) +
                    "... are the parts of a Split that runs on the host";
          }
          if (why.empty() && (p < 0 || !a.why[size_t(p)].empty()) &&
              !v.isInput[size_t(x)])
            why = "the Split it reassembles reads " + quoted(v.name(x)) +
                  ", which the target does not compute";
        }
      }
      if (!why.empty()) {
        a.why[size_t(i)] = why;
        changed = true;
      }
    }
  }
}

} // namespace ember::accel::sel
