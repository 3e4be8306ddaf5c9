// Form pixels (Forms.def; docs/npu-sdk.md, "Layer forms"): channel axes
// other than dim 1 (View::chan, for reshapes that move the channels without
// moving a byte), a Slice or Gather of pixels as a view of its input (its
// readers' loads start at the offset, NTensor::pixOff), and a Concat along
// pixels by placement (each input's producer stores at its pixels of the
// result); an input that cannot be placed is copied by a 1x1 pool.
#include "Form.h"

#include <algorithm>
#include <functional>

namespace ember::accel::sel {

bool isPixelOp(const View &v, const v1::Node &n) {
  const std::string &op = n.op();
  if (op != "Slice" && op != "Gather" && op != "Concat")
    return false;
  const int x = v.in(n, 0), y = v.out(n);
  if (x < 0 || y < 0)
    return false;
  const int64_t rank = int64_t(v.dims(op == "Concat" ? y : x).size());
  if (op == "Concat") {
    int64_t axis = aInt(n, "axis", 0);
    axis += axis < 0 ? rank : 0;
    return axis != v.chan[size_t(y)];
  }
  if (op == "Gather") {
    int64_t axis = aInt(n, "axis", 0);
    axis += axis < 0 ? rank : 0;
    return axis != v.chan[size_t(x)];
  }
  // Slice: one that keeps its input is a view at offset 0 whatever its
  // axes; else every sliced axis another than the channels (axes constant).
  if (v.dims(x) == v.dims(y))
    return true;
  const int ax = v.in(n, 3);
  std::vector<int64_t> axes;
  if (ax >= 0 && !v.ints(ax, axes))
    return false;
  if (ax < 0)
    for (int64_t k = 0;
         k < int64_t(v.dims(v.in(n, 1)).empty() ? 0 : v.dims(v.in(n, 1))[0]);
         ++k)
      axes.push_back(k);
  for (int64_t a : axes)
    if ((a < 0 ? a + rank : a) == v.chan[size_t(x)])
      return false;
  return !axes.empty();
}

PixelRun pixelRun(const View &v, const v1::Node &n) {
  PixelRun r;
  const std::string &op = n.op();
  const int x = v.in(n, 0), y = v.out(n);
  const std::vector<int64_t> xd = v.dims(x), yd = v.dims(y);
  const int64_t rank = int64_t(op == "Concat" ? yd.size() : xd.size());
  r.axis = aInt(n, "axis", 0);
  std::vector<int64_t> st, ax;
  if (op == "Slice") {
    r.axis = -1;
    for (size_t k = 0; k < yd.size() && k < xd.size(); ++k)
      if (yd[k] != xd[k])
        r.axis = int64_t(k);
    if (v.in(n, 3) >= 0)
      v.ints(v.in(n, 3), ax);
    if (r.axis < 0)
      return r; // (the whole input: a view at offset 0)
  }
  r.axis += r.axis < 0 ? rank : 0;
  if (op == "Concat" || r.axis < 0 || r.axis >= rank)
    return r;
  if (v.in(n, 1) >= 0)
    v.ints(v.in(n, 1), st);
  for (size_t k = 0; k < st.size(); ++k) {
    int64_t a = op == "Gather" ? r.axis : k < ax.size() ? ax[k] : int64_t(k);
    if ((a < 0 ? a + rank : a) == r.axis)
      r.start = st[k];
  }
  const int64_t dim = xd[size_t(r.axis)];
  r.start = r.start < 0 ? std::max<int64_t>(0, r.start + dim)
                        : std::min(r.start, dim);
  for (int64_t k = r.axis + 1; k < rank; ++k)
    if (k != v.chan[size_t(x)])
      r.post *= xd[size_t(k)];
  return r;
}

int64_t pixelRuns(const View &v, const v1::Node &n) {
  const int y = v.out(n);
  const std::vector<int64_t> yd = v.dims(y);
  const int64_t axis = pixelRun(v, n).axis;
  int64_t runs = 1;
  for (int64_t k = 0; k < axis && k < int64_t(yd.size()); ++k)
    if (k != v.chan[size_t(y)])
      runs *= yd[size_t(k)];
  return runs;
}

// Channel axes other than dim 1 (the pixels form): the result of a
// reshape that moves the channels to another axis keeping the bytes
// ([1, H] -> [1, 1, 1, H]: H channels of one pixel), when every reader is a
// movement or pixel op (nothing else reads such a layout); Concat, Slice,
// Split and Gather results keep their input's channels (Gather one axis
// fewer).
void layoutChannels(View &v) {
  // A per-tensor Requantize is elementwise: any layout (Y of an LSTM of one
  // step, its h reshaped, requantized to its QuantizeLinear's parameters).
  auto scalarRequant = [&](const v1::Node &n) {
    bool scalar = n.op() == "Requantize" && v.in(n, 0) >= 0 && v.out(n) >= 0 &&
                  v.dims(v.in(n, 0)) == v.dims(v.out(n));
    for (int k = 1; k < n.inputs_size() && scalar; ++k)
      scalar = n.inputs(k) < 0 || v.intCount(n.inputs(k)) == 1;
    return scalar;
  };
  // (A Split's parts keep its input's layout: their readers must too.)
  std::function<bool(int)> moveReaders = [&](int y) {
    for (int u : v.users[size_t(y)]) {
      const v1::Node &r = v.g.nodes(u);
      const std::string &op = r.op();
      if (op == "Split") {
        for (int k = 0; k < r.outputs_size(); ++k)
          if (v.out(r, k) >= 0 && !moveReaders(v.out(r, k)))
            return false;
        continue;
      }
      if (!isMoveOp(op) && op != "Concat" && op != "Slice" && op != "Gather" &&
          !scalarRequant(r))
        return false;
    }
    return true;
  };
  // A partition input read only by reshapes that agree on one layout of
  // it takes that layout (the host converts inputs to any channel axis):
  // [T, B, I] -> [T B, I] reads I channels of T B pixels.
  for (int x : v.g.inputs()) {
    const std::vector<int64_t> xd = v.dims(x);
    int pick = -1;
    bool agree = !v.users[size_t(x)].empty() && !v.outUses[size_t(x)];
    for (int u : v.users[size_t(x)]) {
      const v1::Node &n = v.g.nodes(u);
      const int y = v.out(n);
      if (!isMoveOp(n.op()) || y < 0 || v.in(n, 0) != x) {
        agree = false;
        break;
      }
      const std::array<int64_t, 3> ly = v.layout(y);
      int found = -1;
      for (size_t k = 0; k < xd.size() && found < 0; ++k)
        if (prod(xd, 0, k) == ly[0] && xd[k] == ly[1] &&
            prod(xd, k + 1, xd.size()) == ly[2])
          found = int(k);
      if (found < 0 || (pick >= 0 && found != pick)) {
        agree = false;
        break;
      }
      pick = found;
    }
    if (agree && pick >= 0)
      v.chan[size_t(x)] = pick;
  }
  for (int i = 0; i < v.g.nodes_size(); ++i) {
    const v1::Node &n = v.g.nodes(i);
    const int x = v.in(n, 0), y = v.out(n);
    // A Split's parts keep its input's channels (a YOLOv8 head's boxes and
    // classes of its [1, C, anchors] Concat).
    if (n.op() == "Split" && x >= 0)
      for (int k = 0; k < n.outputs_size(); ++k) {
        const int yk = v.out(n, k);
        if (yk >= 0 && v.dims(yk).size() == v.dims(x).size())
          v.chan[size_t(yk)] = v.chan[size_t(x)];
      }
    if (x < 0 || y < 0 || n.outputs_size() != 1)
      continue;
    const std::vector<int64_t> yd = v.dims(y);
    const std::string &op = n.op();
    if (isMoveOp(op)) {
      const std::array<int64_t, 3> lx = v.layout(x);
      if (v.layout(y) == lx || !moveReaders(y))
        continue;
      for (size_t k = 0; k < yd.size(); ++k)
        if (prod(yd, 0, k) == lx[0] && yd[k] == lx[1] &&
            prod(yd, k + 1, yd.size()) == lx[2]) {
          v.chan[size_t(y)] = int(k);
          break;
        }
    } else if (op == "Concat" || op == "Slice") {
      if (v.dims(x).size() == yd.size())
        v.chan[size_t(y)] = v.chan[size_t(x)];
    } else if (op == "Requantize" &&
               v.chan[size_t(x)] != defaultChan(yd.size())) {
      if (scalarRequant(n))
        v.chan[size_t(y)] = v.chan[size_t(x)];
    } else if (op == "Gather") {
      const int64_t rank = int64_t(v.dims(x).size());
      int64_t axis = aInt(n, "axis", 0);
      axis += axis < 0 ? rank : 0;
      const int c = v.chan[size_t(x)];
      if (int64_t(yd.size()) == rank - 1 && axis != c)
        v.chan[size_t(y)] = c - (axis < c ? 1 : 0);
    }
  }
}

// A Concat of pixels whose result has `runs` runs per channel tile (dims
// other than the channels before its axis): input xi lands in `runs` runs,
// one per block of its pixels, so it is placed only where each of its
// stores stays inside one block. Such an input is a placed Concat of
// pixels (read by this Concat alone) whose every input lies inside one
// block: a bidirectional LSTM's Y of each direction, its steps' rows.
namespace {

Status whyPlacedRuns(const View &v, const Analysis &a, int xi, int64_t runs) {
  const int p = v.producer[size_t(xi)];
  if (p < 0 || v.g.nodes(p).op() != "Concat" || !a.why[size_t(p)].empty() ||
      !isPixelOp(v, v.g.nodes(p)) || pixelRuns(v, v.g.nodes(p)) != 1 ||
      v.outUses[size_t(xi)] || v.users[size_t(xi)].size() != 1)
    return Status(
        ErrorCode::Unsupported,
        "input " + quoted(v.name(xi)) +
            " is not a Concat of pixels on the target read by this one alone "
            "(its stores would cross the runs)");
  const int64_t block = v.layout(xi)[0] * v.layout(xi)[2] / runs;
  int64_t at = 0;
  for (int xj : v.g.nodes(p).inputs()) {
    const std::array<int64_t, 3> l = v.layout(xj);
    const int64_t P = l[0] * l[2];
    if (block <= 0 || at / block != (at + P - 1) / block)
      return Status(ErrorCode::Unsupported, "input " + quoted(v.name(xj)) +
                                                " of " + quoted(v.name(xi)) +
                                                " crosses a run");
    at += P;
  }
  return Status::ok();
}

} // namespace

Status placeRuns(std::vector<NTensor> &ts, int from, int to, int64_t runs,
                 int64_t at) {
  const int64_t block = ts[size_t(from)].P / runs,
                run = ts[size_t(to)].P / runs;
  for (NTensor &t : ts) {
    if (t.base != from)
      continue;
    const int64_t s = std::max<int64_t>(t.pixOff, 0);
    if (block <= 0 || s / block != (s + t.P - 1) / block || t.tileOffset != 0 ||
        t.laneFrom >= 0 || t.ilv)
      return Status(ErrorCode::Unsupported, t.name);
    t.base = to;
    t.pixOff = s / block * run + at + s % block;
  }
  return Status::ok();
}

// The pixels form: a Slice or Gather of pixels as a view of its input (an
// addressed read: its loads at the offset), a Concat along an axis other
// than the channels by placement (each input's producer stores at its
// pixels of the result). Each is one contiguous run of pixels per channel
// tile: every dim before the axis other than the channels is 1.
namespace {

Status whyPixelNode(const View &v, Analysis &a, int i, bool forCompile) {
  const v1::Node &n = v.g.nodes(i);
  const std::string &op = n.op();
  const int x = v.in(n, 0), y = v.out(n);
  if (x < 0 || y < 0)
    return Status(ErrorCode::Unsupported, op + " needs its input and result");
  if (!isPixelOp(v, n))
    return Status(ErrorCode::Unsupported,
                  op +
                      " along the channel axis (the pixels form moves pixels)");
  const std::string &dt = v.dtype(y);
  if (!isQ8(dt) && !(dt == "i16" && has16(v.t, "pixels")))
    return Status(ErrorCode::Unsupported,
                  "moves " + dt + " pixels (the target keeps i8/u8" +
                      (has16(v.t, "pixels") ? " and i16)" : ")"));
  const std::vector<int64_t> yd = v.dims(y);
  const std::vector<int64_t> xd = v.dims(x);
  const int64_t rank = int64_t(op == "Concat" ? yd.size() : xd.size());
  int64_t axis = op == "Slice" ? -1 : aInt(n, "axis", 0);
  if (op == "Slice") {
    std::vector<int64_t> st, en, ax, sp;
    if (v.in(n, 1) < 0 || v.in(n, 2) < 0 || !v.constant[size_t(v.in(n, 1))] ||
        !v.constant[size_t(v.in(n, 2))] || !v.ints(v.in(n, 1), st) ||
        !v.ints(v.in(n, 2), en) ||
        (v.in(n, 3) >= 0 && !v.ints(v.in(n, 3), ax)) ||
        (v.in(n, 4) >= 0 && !v.ints(v.in(n, 4), sp)))
      return Status(
          ErrorCode::Unsupported,
          "a Slice whose starts, ends, axes or steps are not constants");
    for (int64_t s : sp)
      if (s != 1)
        return Status(ErrorCode::Unsupported,
                      "a Slice with steps (a view is one run of pixels)");
    // The one axis the result is shorter along.
    for (size_t k = 0; k < yd.size() && k < xd.size(); ++k)
      if (yd[k] != xd[k]) {
        if (axis >= 0)
          return Status(ErrorCode::Unsupported,
                        "a Slice along two axes (a view is one run of pixels)");
        axis = int64_t(k);
      }
    // One that keeps its input is a view at offset 0 (an LSTM of one
    // step takes its only row of the input projection).
    if (axis < 0) {
      if (v.constant[size_t(x)])
        return Status(ErrorCode::Unsupported, "Slice of a constant");
      return Status::ok();
    }
  }
  axis += axis < 0 ? rank : 0;
  const int c = v.chan[size_t(op == "Concat" ? y : x)];
  const std::vector<int64_t> &d = op == "Concat" ? yd : xd;
  int64_t runs = 1; // runs of pixels per channel tile
  for (int64_t k = 0; k < axis && k < int64_t(d.size()); ++k)
    if (k != c && d[size_t(k)] != 1) {
      if (op != "Concat")
        return Status(
            ErrorCode::Unsupported,
            op + " along axis " + std::to_string(axis) + " with dim " +
                std::to_string(k) + " of " + std::to_string(d[size_t(k)]) +
                " before it (a pixel view is one run of pixels per channel "
                "tile)");
      runs *= d[size_t(k)];
    }
  if (op == "Gather") {
    std::vector<int64_t> idx;
    const int ix = v.in(n, 1);
    if (ix < 0 || !v.constant[size_t(ix)] || !v.dims(ix).empty() ||
        !v.ints(ix, idx) || idx.size() != 1)
      return Status(
          ErrorCode::Unsupported,
          "a Gather of other than one constant index (a view is one run "
          "of pixels)");
  }
  if (op == "Concat") {
    for (int k = 0; k < n.inputs_size(); ++k) {
      const int xi = n.inputs(k);
      if (xi < 0 || v.dtype(xi) != dt || v.dims(xi).size() != yd.size() ||
          v.chan[size_t(xi)] != c)
        return Status(ErrorCode::Unsupported,
                      "inputs of different element types or layouts");
      // A constant input (a transformer's class token before its patch
      // tokens; 8- or 16-bit, as the result) is a constant tensor of the
      // layer program copied into its pixels of the result by a 1x1 pool
      // (pixelNode).
      if (v.constant[size_t(xi)]) {
        if (runs > 1)
          return Status(
              ErrorCode::Unsupported,
              op + " along axis " + std::to_string(axis) + " in " +
                  std::to_string(runs) +
                  " runs of pixels per channel tile with a constant input");
        continue;
      }
      if (runs > 1) {
        const Status why = whyPlacedRuns(v, a, xi, runs);
        if (why.failed())
          return Status(
              ErrorCode::Unsupported,
              op + " along axis " + std::to_string(axis) + " in " +
                  std::to_string(runs) +
                  " runs of pixels per channel tile: " + why.message());
        continue;
      }
      // Every input computed on the target in the partition: a layer's
      // result (through free reshapes of it alone) is placed, its stores
      // going to the input's pixels of the result; a view of another
      // Concat's, a Split's or a pixel op's result (a YOLOv8 head's levels,
      // each a channel Concat flattened to [N, C, H*W]) is copied there by
      // a 1x1 pool on the vector unit (Builder::pixelLayer). An input
      // from the host is not worth the partition.
      if (forCompile)
        continue;
      int src = xi, p = v.producer[size_t(xi)];
      while (p >= 0 && isMoveOp(v.g.nodes(p).op()) &&
             a.why[size_t(p)].empty()) {
        src = v.in(v.g.nodes(p), 0);
        p = v.producer[size_t(src)];
      }
      if (p < 0 || !a.why[size_t(p)].empty())
        return Status(
            ErrorCode::Unsupported,
            "input " + quoted(v.name(xi)) +
                " is not computed on the target (a Concat of pixels places "
                "or copies its inputs' results)");
      if ((isMoveOp(v.g.nodes(p).op()) || isPixelOp(v, v.g.nodes(p)) ||
           v.g.nodes(p).op() == "Split" || v.g.nodes(p).op() == "Concat") &&
          !v.t.has(OpKind::Pool))
        return Status(
            ErrorCode::Unsupported,
            "input " + quoted(v.name(xi)) +
                " is not a layer result (its stores cannot be placed) and the "
                "target has no pool to copy it");
    }
    return Status::ok();
  }
  // (A view of a host tensor reads it as a partition input; a view between
  // host nodes alone is an island, Islands.cpp.)
  if (v.constant[size_t(x)])
    return Status(ErrorCode::Unsupported, op + " of a constant");
  return Status::ok();
}

// After the per-node checks (not when compiling a partition): a view
// whose input and readers are all on the host is left there.
void settlePixelViews(const View &v, Analysis &a, bool forCompile) {
  if (forCompile)
    return;
  for (bool changed = true; changed;) {
    changed = false;
    for (int i = 0; i < v.g.nodes_size(); ++i) {
      const v1::Node &n = v.g.nodes(i);
      if (!a.why[size_t(i)].empty() || n.op() == "Concat" || !isPixelOp(v, n))
        continue;
      const int x = v.in(n, 0), y = v.out(n);
      const int p = v.producer[size_t(x)];
      bool used = false;
      for (int u : v.users[size_t(y)])
        used = used || a.why[size_t(u)].empty();
      if ((p < 0 || !a.why[size_t(p)].empty()) && !used) {
        a.why[size_t(i)] = "its input and its readers are not computed on "
                           "the target (a lone view is not worth a "
                           "partition)";
        changed = true;
      }
    }
  }
}

// Points every tensor stored in `from` (its own storage) into `to` at
// pixel `off`.
void rebasePixels(std::vector<NTensor> &ts, int from, int to, int64_t off) {
  for (size_t k = 0; k < ts.size(); ++k) {
    NTensor &t = ts[k];
    if (int(k) == from || t.base == from) {
      t.base = to;
      t.pixOff = std::max<int64_t>(t.pixOff, 0) + off;
    }
  }
}

void pixelNode(Builder &b, const v1::Node &n) {
  const std::string &op = n.op();
  const int x = b.v.in(n, 0), y = b.v.out(n);
  const PixelRun run = pixelRun(b.v, n);
  const size_t axis = size_t(run.axis);
  if (op == "Concat") {
    int ty = b.newTensor(y, b.isOutput(y) ? NTensor::Kind::Output
                                          : NTensor::Kind::Activation);
    b.tensorOf[size_t(y)] = ty;
    b.concatOuts.insert(ty);
    const int64_t runs = pixelRuns(b.v, n);
    int64_t at = 0;
    for (int i = 0; i < n.inputs_size() && b.err.isOk(); ++i) {
      const int xi = n.inputs(i);
      const int64_t P =
          b.lp.tensors[size_t(ty)].P * b.v.dims(xi)[axis] / b.v.dims(y)[axis];
      if (runs > 1) {
        // In runs (whyPlacedRuns): xi's own Concat's stores, each
        // inside one of its blocks, go to that block's run of the result.
        const int k = b.materialize(xi);
        if (k < 0)
          return;
        const Status bad = placeRuns(b.lp.tensors, k, ty, runs, at);
        if (bad.failed()) {
          b.refuse("Concat " + quoted(n.name()) + ": " + quoted(bad.message()) +
                   " is not inside one run of pixels of the result");
          return;
        }
        at += P / runs;
        continue;
      }
      if (b.tensorOf[size_t(xi)] < 0 && b.pending.count(xi)) {
        b.materialize(xi, ty, 0, at);
        at += P;
        continue;
      }
      const int k = b.materialize(xi);
      if (k < 0)
        return;
      const NTensor &t = b.lp.tensors[size_t(k)];
      const int o = t.base >= 0 ? t.base : k;
      const NTensor &ot = b.lp.tensors[size_t(o)];
      if (ot.kind == NTensor::Kind::Activation && ot.base < 0 &&
          !b.concatOuts.count(o) && t.pixOff < 0 && t.tileOffset == 0 &&
          t.laneFrom < 0 && !t.ilv && ot.P == t.P && ot.C == t.C &&
          ot.i16 == t.i16)
        rebasePixels(b.lp.tensors, o, ty,
                     at); // (the view moves with its owner)
      else
        b.pixelLayer(n.name() + "/copy" + std::to_string(at), n, k, xi, ty, at);
      at += P;
    }
    return;
  }
  // A view: the input's pixels from the run's first on.
  const int k = b.materialize(x);
  if (k < 0)
    return;
  const NTensor src = b.lp.tensors[size_t(k)];
  if (src.laneFrom >= 0 || src.ilv) {
    b.refuse(op + " " + quoted(n.name()) +
             ": a view of a tensor placed inside "
             "channel tiles or at phases");
    return;
  }
  int t = b.newTensor(y, NTensor::Kind::Activation);
  b.lp.tensors[size_t(t)].name += "/view";
  b.lp.tensors[size_t(t)].base = src.base >= 0 ? src.base : k;
  b.lp.tensors[size_t(t)].tileOffset = src.tileOffset;
  b.lp.tensors[size_t(t)].pixOff =
      std::max<int64_t>(src.pixOff, 0) + run.start * run.post;
  b.tensorOf[size_t(y)] = t;
  // A partition output has storage of its own: the view copied there.
  if (b.isOutput(y))
    b.tensorOf[size_t(y)] = b.pixelLayer(n.name() + "/copy", n, t, y, -1, -1);
}

void buildPixels(Builder &b, int i) { pixelNode(b, b.v.g.nodes(i)); }

std::string pixelsText(const Target &) {
  return "along an axis other than the channels, one run of pixels per "
         "channel tile (every other dim before the axis 1); Slice with "
         "constant bounds and steps 1, Gather of one constant index";
}

const char *const kPixels =
    "placement: a Slice or Gather of pixels is a view of its input (loads at "
    "the offset); a Concat of pixels of layer results the target computes "
    "(their stores at the offsets)";

void claimPixels16(const Target &t, const FormRow &, OpClaim &c) {
  if (has16(t, "pixels"))
    c.dtypes.push_back("i16");
}

// Pixel views and placements beside the channel ones (or the interleave's
// crop).
void widenPixels(const Target &t, const FormRow &r, OpClaim &c) {
  c.constraints += "; or " + r.constraints(t);
  c.context = c.context.empty() ? std::string(r.context)
                                : c.context + "; or " + r.context;
  if (has16(t, "pixels") &&
      std::find(c.dtypes.begin(), c.dtypes.end(), "i16") == c.dtypes.end())
    c.dtypes.push_back("i16");
}

Status pixelsNeeds(const Target &, const Form &, FormNeeds &n) {
  // (An input a Concat of pixels cannot place is copied by a 1x1 pool.)
  n.classes.insert(int(Cls::Out));
  n.pools = true;
  return Status::ok();
}

FormRow pixelRow(const char *op, int rank, unsigned minRank) {
  FormRow r;
  r.forms = "pixels";
  r.op = op;
  r.rank = rank;
  r.dtypes = {"i8", "u8"};
  r.minRank = minRank;
  r.context = kPixels;
  r.indexDtypes = {"i64"};
  if (std::string(op) == "Concat")
    r.indexDtypes.clear();
  r.constraints = pixelsText;
  r.why = whyPixelNode;
  r.build = buildPixels;
  r.applies = isPixelOp;
  r.anyLayout = true;
  r.claim = claimPixels16;
  r.widen = widenPixels;
  return r;
}

} // namespace

} // namespace ember::accel::sel

namespace ember::accel {

const FormPattern &formPixels() {
  static const FormPattern form = [] {
    using namespace sel;
    FormPattern f;
    f.name = "pixels";
    f.needs = pixelsNeeds;
    f.layout = layoutChannels;
    f.settle = settlePixelViews;
    // (Gather: the index is rank 0; the data's rank is checked.)
    f.rows = {pixelRow("Slice", 310, 1), pixelRow("Gather", 320, 0),
              pixelRow("Concat", 330, 2)};
    return f;
  }();
  return form;
}

} // namespace ember::accel
