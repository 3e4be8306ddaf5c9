// Tiling and double buffering for a small sram space (docs/lir.md, "Tiling
// and double buffering"). A planner per op (MatMul, Conv) picks tile sizes
// and a loop order; one emitter turns the tile list into dma.start /
// dma.wait / compute instructions over double-buffered sram buffers.
#include "lir/Tiling.h"

#include "ir/Printer.h"

#include "ember/scratchpad/TilePlanner.h"

#include <algorithm>
#include <set>

namespace ember::lir {

namespace {

uint64_t alignUp(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }
int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

// The bytes of one tile inside a dram-side operand: `outer` dims outermost
// first as (count, byte stride), then `bytes` contiguous bytes. In sram the
// tile is compact and has type `type`.
struct Slice {
  uint64_t offset = 0; // bytes from the start of the operand
  std::vector<std::pair<int64_t, int64_t>> outer;
  int64_t bytes = 0;
  Type type;
  bool operator==(const Slice &o) const {
    return offset == o.offset && outer == o.outer && bytes == o.bytes &&
           type == o.type;
  }
  uint64_t extent() const {
    uint64_t e = uint64_t(bytes);
    for (auto &d : outer)
      e += uint64_t(d.first - 1) * uint64_t(d.second);
    return e;
  }
};

// Drops unit dims and merges dims that are contiguous with the next.
Slice normalized(Slice s) {
  std::vector<std::pair<int64_t, int64_t>> dims;
  for (auto &d : s.outer)
    if (d.first != 1)
      dims.push_back(d);
  while (!dims.empty() && dims.back().second == s.bytes) {
    s.bytes *= dims.back().first;
    dims.pop_back();
  }
  s.outer.clear();
  for (auto &d : dims) {
    if (!s.outer.empty() && s.outer.back().second == d.first * d.second)
      s.outer.back() = {s.outer.back().first * d.first, d.second};
    else
      s.outer.push_back(d);
  }
  return s;
}

// One tile: the compute attributes and one slice per present operand, in
// operand order.
struct Tile {
  AttrMap attrs;
  std::vector<Slice> slices;
};

struct Plan {
  std::vector<Tile> tiles;
  int64_t rows = 0, cols = 0;
  bool colsOuter = false;
};

std::vector<int64_t> intsAttr(const AttrMap &a, const char *name,
                              std::vector<int64_t> dflt) {
  auto it = a.find(name);
  if (it == a.end() || it->second.kind != Attr::Kind::Ints)
    return dflt;
  return it->second.ints;
}

std::string instName(const Function &f, const Instruction &in) {
  std::string s = opName(in.op);
  for (auto &op : in.operands)
    if (op.writes() && op.ref)
      return s + " " + valueRef(f.nameOf(op.ref));
  return s;
}

// ---- MatMul: A[M,K] @ B[K,N]; row blocks of A, column blocks of B --------

Expected<Plan> planMatMul(const Function &f, const Instruction &in,
                          uint64_t budget, uint64_t align) {
  std::string what = instName(f, in);
  if (in.operands.size() != 3 || in.operands[0].access != Access::In ||
      in.operands[1].access != Access::In ||
      in.operands[2].access != Access::Out)
    return unsupported(what, ": tiling needs operands (in A, in B, out Y)");
  const Type &ta = f.typeOf(in.operands[0].ref),
             &tb = f.typeOf(in.operands[1].ref),
             &ty = f.typeOf(in.operands[2].ref);
  if (ta.rank() != 2 || tb.rank() != 2 || ty.rank() != 2)
    return unsupported(what, ": tiling handles rank-2 operands, got ",
                       ta.toString(), " x ", tb.toString());
  int64_t M = ta.dim(0), K = ta.dim(1), N = tb.dim(1);
  uint64_t es = elemSize(ta.elem());
  if (M < 1 || K < 1 || N < 1 || tb.dim(0) != K || ty.dim(0) != M ||
      ty.dim(1) != N)
    return unsupported(what, ": tiling needs non-empty matching shapes");
  auto need = [&](int64_t rm, int64_t nb) {
    int64_t nI = ceilDiv(M, rm), nJ = ceilDiv(N, nb);
    uint64_t sa = nI > 1 ? 2 : 1, sb = nJ > 1 ? 2 : 1, sy = nI * nJ > 1 ? 2 : 1;
    return sa * alignUp(uint64_t(rm * K) * es, align) +
           sb * alignUp(uint64_t(K * nb) * es, align) +
           sy * alignUp(uint64_t(rm * nb) * es, align);
  };
  uint64_t bytesA = ta.sizeInBytes(), bytesB = tb.sizeInBytes();
  // The choice is the SDK's tile planner (core/scratchpad): row blocks of A
  // as large as fit for every column block size of B, both loop orders,
  // the fewest DMA bytes (then the fewest tiles). The stores of Y are the
  // same bytes whatever the tiling, so they are not counted.
  namespace sp = ember::scratchpad;
  sp::Problem pb;
  pb.spaces = {{"sram", budget}};
  pb.dims = {{"rows", M, false, {}}, {"cols", N, false, {}}};
  pb.greedyDim = 0;
  auto bytes = [&](int64_t n) { return alignUp(uint64_t(n) * es, align); };
  pb.operands = {
      {"A",
       0,
       sp::Role::Input,
       {0},
       [&](const std::vector<int64_t> &t) { return bytes(t[0] * K); },
       nullptr,
       [&](const std::vector<int64_t> &) { return bytesA; }},
      {"B",
       0,
       sp::Role::Input,
       {1},
       [&](const std::vector<int64_t> &t) { return bytes(K * t[1]); },
       nullptr,
       [&](const std::vector<int64_t> &) { return bytesB; }},
      {"Y",
       0,
       sp::Role::Output,
       {0, 1},
       [&](const std::vector<int64_t> &t) { return bytes(t[0] * t[1]); },
       nullptr,
       nullptr}};
  sp::PlanResult pr = sp::planTiles(pb);
  bool found = pr.ok;
  Plan best;
  if (found) {
    best.rows = pr.tiling.tile[0];
    best.cols = pr.tiling.tile[1];
    best.colsOuter = pr.tiling.order[0] == 1;
  }
  if (!found)
    return invalid(what,
                   ": cannot tile for sram: the smallest tile (1 row "
                   "of A ",
                   ta.withDims({1, K}).toString(), ", 1 column of B ",
                   tb.withDims({K, 1}).toString(),
                   " and 1 result element, double-buffered) needs ", need(1, 1),
                   " bytes, but only ", budget, " bytes are available");
  int64_t rm = best.rows, nb = best.cols;
  int64_t nI = ceilDiv(M, rm), nJ = ceilDiv(N, nb);
  int64_t ni = best.colsOuter ? nJ : nI, nj = best.colsOuter ? nI : nJ;
  for (int64_t a = 0; a < ni; ++a)
    for (int64_t b = 0; b < nj; ++b) {
      int64_t i = best.colsOuter ? b : a, j = best.colsOuter ? a : b;
      int64_t i0 = i * rm, ri = std::min(rm, M - i0);
      int64_t j0 = j * nb, cj = std::min(nb, N - j0);
      Tile t;
      t.attrs = in.attrs;
      int64_t rowA = K * int64_t(es), rowB = N * int64_t(es);
      t.slices.push_back(normalized(
          {uint64_t(i0 * rowA), {{ri, rowA}}, rowA, ta.withDims({ri, K})}));
      t.slices.push_back(normalized({uint64_t(j0) * es,
                                     {{K, rowB}},
                                     cj * int64_t(es),
                                     tb.withDims({K, cj})}));
      t.slices.push_back(normalized({uint64_t(i0 * N + j0) * es,
                                     {{ri, rowB}},
                                     cj * int64_t(es),
                                     ty.withDims({ri, cj})}));
      best.tiles.push_back(std::move(t));
    }
  return best;
}

// ---- Conv (2-D, group 1): output-row blocks x output-channel blocks ------

Expected<Plan> planConv(const Function &f, const Instruction &in,
                        uint64_t budget, uint64_t align) {
  std::string what = instName(f, in);
  std::vector<size_t> ins;
  size_t out = 0, nOut = 0;
  for (size_t k = 0; k < in.operands.size(); ++k) {
    if (in.operands[k].access == Access::InOut)
      return unsupported(what, ": tiling does not handle in-place operands");
    if (in.operands[k].access == Access::In)
      ins.push_back(k);
    else {
      out = k;
      ++nOut;
    }
  }
  if (ins.size() < 2 || ins.size() > 3 || nOut != 1 || ins[0] != 0 ||
      ins[1] != 1 || !in.operands[0].ref || !in.operands[1].ref)
    return unsupported(what, ": tiling needs operands (in X, in W, [in B], "
                             "out Y)");
  bool hasBias = ins.size() == 3 && in.operands[ins[2]].ref;
  const Type &tx = f.typeOf(in.operands[0].ref),
             &tw = f.typeOf(in.operands[1].ref),
             &ty = f.typeOf(in.operands[out].ref);
  if (tx.rank() != 4 || tw.rank() != 4 || ty.rank() != 4)
    return unsupported(what, ": tiling handles 2-D convolutions (rank 4), got ",
                       tx.toString());
  auto g = in.attrs.find("group");
  if (g != in.attrs.end() &&
      !(g->second.kind == Attr::Kind::Int && g->second.i == 1))
    return unsupported(what, ": tiling handles group 1 only");
  int64_t N = tx.dim(0), C = tx.dim(1), H = tx.dim(2), W = tx.dim(3);
  int64_t M = tw.dim(0), kh = tw.dim(2), kw = tw.dim(3);
  int64_t OH = ty.dim(2), OW = ty.dim(3);
  if (N < 1 || C < 1 || H < 1 || W < 1 || M < 1 || OH < 1 || OW < 1 ||
      tw.dim(1) != C || ty.dim(0) != N || ty.dim(1) != M)
    return unsupported(what, ": tiling needs non-empty matching shapes");
  std::vector<int64_t> st = intsAttr(in.attrs, "strides", {1, 1});
  std::vector<int64_t> dl = intsAttr(in.attrs, "dilations", {1, 1});
  std::vector<int64_t> pads = intsAttr(in.attrs, "pads", {0, 0, 0, 0});
  if (st.size() != 2 || dl.size() != 2 || pads.size() != 4)
    return unsupported(what, ": strides, dilations or pads do not have 2-D "
                             "sizes");
  std::string autoPad = "NOTSET";
  auto ap = in.attrs.find("auto_pad");
  if (ap != in.attrs.end() && ap->second.kind == Attr::Kind::String)
    autoPad = ap->second.s;
  int64_t ekh = (kh - 1) * dl[0] + 1, ekw = (kw - 1) * dl[1] + 1;
  if (autoPad == "VALID") {
    pads = {0, 0, 0, 0};
  } else if (autoPad == "SAME_UPPER" || autoPad == "SAME_LOWER") {
    int64_t o[2] = {OH, OW}, e[2] = {ekh, ekw}, i[2] = {H, W};
    for (int d = 0; d < 2; ++d) {
      int64_t total =
          std::max<int64_t>(0, (o[d] - 1) * st[size_t(d)] + e[d] - i[d]);
      int64_t small = total / 2, big = total - small;
      pads[size_t(d)] = autoPad == "SAME_UPPER" ? small : big;
      pads[size_t(d) + 2] = autoPad == "SAME_UPPER" ? big : small;
    }
  } else if (autoPad != "NOTSET" && !autoPad.empty()) {
    return unsupported(what, ": unknown auto_pad '", autoPad, "'");
  }
  int64_t sH = st[0], pT = pads[0], pL = pads[1], pR = pads[3];
  uint64_t es = elemSize(tx.elem());
  // Input rows [lo, hi) (unclamped) read by output rows [o0, o1).
  auto rowsFor = [&](int64_t o0, int64_t o1) {
    return std::make_pair(o0 * sH - pT, (o1 - 1) * sH - pT + ekh);
  };
  auto clampedRows = [&](int64_t o0, int64_t o1) {
    auto r = rowsFor(o0, o1);
    return std::max<int64_t>(0, std::min(H, r.second) -
                                    std::max<int64_t>(0, r.first));
  };
  uint64_t planeRow = uint64_t(W) * es;
  auto need = [&](int64_t R, int64_t mb) {
    int64_t nR = ceilDiv(OH, R), nM = ceilDiv(M, mb);
    int64_t rows = std::min(H, (R - 1) * sH + ekh);
    uint64_t sx = nR > 1 ? 2 : 1, sw = nM > 1 ? 2 : 1, sy = nR * nM > 1 ? 2 : 1;
    uint64_t n = sx * alignUp(uint64_t(N * C * rows) * planeRow, align) +
                 sw * alignUp(uint64_t(mb * C * kh * kw) * es, align) +
                 sy * alignUp(uint64_t(N * mb * R * OW) * es, align);
    if (hasBias)
      n += sw * alignUp(uint64_t(mb) * es, align);
    return n;
  };
  auto xBytes = [&](int64_t R) {
    uint64_t sum = 0;
    for (int64_t o0 = 0; o0 < OH; o0 += R)
      sum += uint64_t(clampedRows(o0, std::min(OH, o0 + R)));
    return sum * uint64_t(N * C) * planeRow;
  };
  uint64_t bytesW = tw.sizeInBytes() + (hasBias ? uint64_t(M) * es : 0);
  // The SDK's tile planner (see planMatMul): output-row blocks as large as
  // fit for every channel block size, both loop orders, fewest DMA bytes.
  namespace sp = ember::scratchpad;
  sp::Problem pb;
  pb.spaces = {{"sram", budget}};
  pb.dims = {{"rows", OH, false, {}}, {"channels", M, false, {}}};
  pb.greedyDim = 0;
  auto rowsOf = [&](int64_t R) { return std::min(H, (R - 1) * sH + ekh); };
  pb.operands = {{"X",
                  0,
                  sp::Role::Input,
                  {0},
                  [&](const std::vector<int64_t> &t) {
                    return alignUp(uint64_t(N * C * rowsOf(t[0])) * planeRow,
                                   align);
                  },
                  nullptr,
                  [&](const std::vector<int64_t> &t) { return xBytes(t[0]); }},
                 {"W",
                  0,
                  sp::Role::Input,
                  {1},
                  [&](const std::vector<int64_t> &t) {
                    return alignUp(uint64_t(t[1] * C * kh * kw) * es, align) +
                           (hasBias ? alignUp(uint64_t(t[1]) * es, align) : 0);
                  },
                  nullptr,
                  [&](const std::vector<int64_t> &) { return bytesW; }},
                 {"Y",
                  0,
                  sp::Role::Output,
                  {0, 1},
                  [&](const std::vector<int64_t> &t) {
                    return alignUp(uint64_t(N * t[1] * t[0] * OW) * es, align);
                  },
                  nullptr,
                  nullptr}};
  sp::PlanResult pr = sp::planTiles(pb);
  bool found = pr.ok;
  Plan best;
  if (found) {
    best.rows = pr.tiling.tile[0];
    best.cols = pr.tiling.tile[1];
    best.colsOuter = pr.tiling.order[0] == 1;
  }
  if (!found)
    return invalid(what,
                   ": cannot tile for sram: the smallest tile (1 "
                   "output row of 1 channel, its ",
                   std::min(H, ekh), " input rows of ",
                   tx.withDims({N, C, 1, W}).toString(),
                   " and 1 filter, double-buffered) needs ", need(1, 1),
                   " bytes, but only ", budget, " bytes are available");
  int64_t R = best.rows, mb = best.cols;
  int64_t nR = ceilDiv(OH, R), nM = ceilDiv(M, mb);
  int64_t na = best.colsOuter ? nM : nR, nbk = best.colsOuter ? nR : nM;
  int64_t filter = C * kh * kw * int64_t(es);
  for (int64_t a = 0; a < na; ++a)
    for (int64_t b = 0; b < nbk; ++b) {
      int64_t r = best.colsOuter ? b : a, m = best.colsOuter ? a : b;
      int64_t o0 = r * R, o1 = std::min(OH, o0 + R);
      int64_t m0 = m * mb, mc = std::min(mb, M - m0);
      auto lim = rowsFor(o0, o1);
      int64_t h0 = std::max<int64_t>(0, lim.first),
              h1 = std::min(H, lim.second);
      if (h1 <= h0)
        return unsupported(what, ": output rows ", o0, "..", o1 - 1,
                           " read only padding; tiling does not handle that");
      Tile t;
      t.attrs = in.attrs;
      t.attrs.erase("auto_pad");
      t.attrs["pads"] = Attr::ofInts({h0 - lim.first, pL, lim.second - h1, pR});
      t.slices.push_back(normalized({uint64_t(h0) * planeRow,
                                     {{N * C, int64_t(H * planeRow)}},
                                     int64_t((h1 - h0) * planeRow),
                                     tx.withDims({N, C, h1 - h0, W})}));
      t.slices.push_back(normalized({uint64_t(m0 * filter),
                                     {},
                                     mc * filter,
                                     tw.withDims({mc, C, kh, kw})}));
      if (hasBias)
        t.slices.push_back(
            normalized({uint64_t(m0) * es,
                        {},
                        mc * int64_t(es),
                        f.typeOf(in.operands[ins[2]].ref).withDims({mc})}));
      int64_t plane = OH * OW * int64_t(es);
      t.slices.push_back(normalized({uint64_t(m0 * OH + o0) * OW * es,
                                     {{N, M * plane}, {mc, plane}},
                                     (o1 - o0) * OW * int64_t(es),
                                     ty.withDims({N, mc, o1 - o0, OW})}));
      best.tiles.push_back(std::move(t));
    }
  return best;
}

// ---- emission --------------------------------------------------------------

class Emitter {
public:
  Emitter(Function &f, unsigned sram) : f_(f), sram_(sram) {
    for (auto &b : f.buffers)
      names_.insert(b.name);
    for (auto &v : f.views)
      names_.insert(v.name);
    for (auto &in : f.insts)
      if (!in.token.empty())
        tokens_.insert(in.token);
  }

  // Appends the tiled form of `orig` to `out`.
  Status emit(const Instruction &orig, const Plan &plan,
              std::vector<Instruction> &out, TiledInst &rep) {
    const std::vector<Tile> &tiles = plan.tiles;
    std::vector<size_t> ops; // present operands, in order
    for (size_t k = 0; k < orig.operands.size(); ++k)
      if (orig.operands[k].ref)
        ops.push_back(k);
    size_t T = tiles.size();
    for (auto &t : tiles)
      if (t.slices.size() != ops.size())
        return makeError(ErrorCode::Internal, "tile has ", t.slices.size(),
                         " slices for ", ops.size(), " operands");
    std::string stem = orig.loc.empty() ? opName(orig.op) : orig.loc;
    // Per operand: which load (or store) each tile uses, and where a new
    // one starts.
    size_t nOps = ops.size();
    std::vector<std::vector<size_t>> loadOf(nOps, std::vector<size_t>(T));
    std::vector<std::vector<Ref>> sramView(nOps), dramView(nOps);
    std::vector<std::vector<std::string>> token(nOps);
    std::vector<std::vector<unsigned>> slotBuf(nOps);
    std::vector<bool> isOut(nOps);
    for (size_t j = 0; j < nOps; ++j) {
      const Operand &op = orig.operands[ops[j]];
      isOut[j] = op.writes();
      uint64_t maxBytes = 0;
      size_t loads = 0;
      for (size_t t = 0; t < T; ++t) {
        const Slice &s = tiles[t].slices[j];
        if (s.outer.size() > 2)
          return makeError(ErrorCode::Internal, "a tile slice of rank ",
                           s.outer.size() + 1, " is over DMA rank 3");
        if (t == 0 || isOut[j] || !(s == tiles[t - 1].slices[j]))
          ++loads;
        loadOf[j][t] = loads - 1;
        maxBytes = std::max<uint64_t>(maxBytes, s.type.sizeInBytes());
      }
      // Copies: adding buffers and views below moves the tables.
      const std::string base = f_.nameOf(op.ref);
      const Type full = f_.typeOf(op.ref);
      int64_t maxElems = int64_t(maxBytes / elemSize(full.elem()));
      for (size_t s = 0; s < (loads > 1 ? 2u : 1u); ++s) {
        Buffer b;
        b.name = unique(base + ".sram" + std::to_string(s));
        b.type = full.withDims({maxElems});
        b.space = sram_;
        b.kind = BufferKind::Activation;
        slotBuf[j].push_back(unsigned(f_.buffers.size()));
        rep.sramBytes += alignUp(b.bytes(), f_.spaces[sram_].alignment);
        f_.buffers.push_back(std::move(b));
      }
      // One sram view, one dram view and one token per load/store.
      size_t prev = SIZE_MAX;
      for (size_t t = 0; t < T; ++t) {
        if (loadOf[j][t] == prev)
          continue;
        prev = loadOf[j][t];
        const Slice &s = tiles[t].slices[j];
        std::string n = std::to_string(prev);
        sramView[j].push_back(addView(
            base + ".t" + n, slotBuf[j][prev % slotBuf[j].size()], 0, s.type));
        dramView[j].push_back(addView(
            base + ".d" + n, f_.baseOf(op.ref), f_.offsetOf(op.ref) + s.offset,
            Type(ElemKind::U8, {int64_t(s.extent())})));
        token[j].push_back(
            uniqueToken(stem + "." + base + (isOut[j] ? ".st" : ".ld") + n));
      }
    }
    auto dma = [&](size_t j, size_t t, size_t l) {
      const Slice &s = tiles[t].slices[j];
      Instruction d;
      d.kind = InstKind::DmaStart;
      d.token = token[j][l];
      d.loc = orig.loc;
      Ref sr = sramView[j][l], dr = dramView[j][l];
      d.operands = {{isOut[j] ? dr : sr, Access::Out},
                    {isOut[j] ? sr : dr, Access::In}};
      if (s.outer.empty()) {
        d.bytes = uint64_t(s.bytes);
      } else {
        std::vector<int64_t> compact(s.outer.size());
        int64_t acc = s.bytes;
        for (size_t k = s.outer.size(); k-- > 0;) {
          compact[k] = acc;
          acc *= s.outer[k].first;
        }
        for (auto &dim : s.outer) {
          d.shape.push_back(dim.first);
          (isOut[j] ? d.dstStrides : d.srcStrides).push_back(dim.second);
        }
        d.shape.push_back(s.bytes);
        (isOut[j] ? d.srcStrides : d.dstStrides) = compact;
      }
      ++rep.dmas;
      (isOut[j] ? rep.storeBytes : rep.loadBytes) += s.type.sizeInBytes();
      out.push_back(std::move(d));
    };
    auto wait = [&](size_t j, size_t l) {
      Instruction w;
      w.kind = InstKind::DmaWait;
      w.token = token[j][l];
      w.loc = orig.loc;
      out.push_back(std::move(w));
    };
    auto marker = [&](InstKind k, unsigned b) {
      Instruction m;
      m.kind = k;
      m.operands = {
          {Ref::buffer(b), k == InstKind::Alloc ? Access::Out : Access::In}};
      out.push_back(std::move(m));
    };
    auto startsLoad = [&](size_t j, size_t t) {
      return !isOut[j] && (t == 0 || loadOf[j][t] != loadOf[j][t - 1]);
    };
    for (size_t j = 0; j < nOps; ++j)
      for (unsigned b : slotBuf[j])
        marker(InstKind::Alloc, b);
    for (size_t j = 0; j < nOps; ++j) // prologue: tile 0's loads
      if (startsLoad(j, 0))
        dma(j, 0, loadOf[j][0]);
    for (size_t t = 0; t < T; ++t) {
      // Tile t+1's loads go into the other halves while tile t computes.
      if (t + 1 < T)
        for (size_t j = 0; j < nOps; ++j)
          if (startsLoad(j, t + 1))
            dma(j, t + 1, loadOf[j][t + 1]);
      for (size_t j = 0; j < nOps; ++j)
        if (startsLoad(j, t))
          wait(j, loadOf[j][t]);
      Instruction c = orig;
      c.attrs = tiles[t].attrs;
      for (size_t j = 0; j < nOps; ++j)
        c.operands[ops[j]].ref = sramView[j][loadOf[j][t]];
      out.push_back(std::move(c));
      // The previous store is waited before this one starts, so the result
      // half written by tile t+1 is free again.
      for (size_t j = 0; j < nOps; ++j) {
        if (!isOut[j])
          continue;
        if (t > 0)
          wait(j, loadOf[j][t - 1]);
        dma(j, t, loadOf[j][t]);
      }
    }
    for (size_t j = 0; j < nOps; ++j)
      if (isOut[j] && T > 0)
        wait(j, loadOf[j][T - 1]);
    for (size_t j = 0; j < nOps; ++j)
      for (unsigned b : slotBuf[j])
        marker(InstKind::Dealloc, b);
    rep.tiles = T;
    return Status::ok();
  }

private:
  std::string unique(const std::string &base) {
    std::string n = base;
    for (int k = 1; names_.count(n); ++k)
      n = base + "." + std::to_string(k);
    names_.insert(n);
    return n;
  }
  std::string uniqueToken(const std::string &base) {
    std::string n = base;
    for (int k = 1; tokens_.count(n); ++k)
      n = base + "." + std::to_string(k);
    tokens_.insert(n);
    return n;
  }
  Ref addView(const std::string &name, unsigned buffer, uint64_t offset,
              const Type &t) {
    View v;
    v.name = unique(name);
    v.buffer = buffer;
    v.offset = offset;
    v.type = t;
    f_.views.push_back(std::move(v));
    return Ref::view(unsigned(f_.views.size() - 1));
  }

  Function &f_;
  unsigned sram_;
  std::set<std::string> names_, tokens_;
};

// Bytes of the sram space free while instruction `idx` runs: the budget
// minus buffers bound there and activations live across `idx`.
uint64_t freeBytes(const Function &f, unsigned sram, size_t idx, uint64_t cap) {
  uint64_t used = 0, align = f.spaces[sram].alignment;
  std::vector<char> live(f.buffers.size(), 0);
  for (size_t i = 0; i < idx && i < f.insts.size(); ++i) {
    const Instruction &in = f.insts[i];
    if ((in.kind == InstKind::Alloc || in.kind == InstKind::Dealloc) &&
        !in.operands.empty() && in.operands[0].ref.kind == Ref::Kind::Buffer)
      live[in.operands[0].ref.index] = in.kind == InstKind::Alloc;
  }
  for (size_t b = 0; b < f.buffers.size(); ++b) {
    const Buffer &buf = f.buffers[b];
    if (buf.space != sram)
      continue;
    if (buf.kind != BufferKind::Activation)
      used += buf.bytes();
    else if (live[b])
      used += alignUp(buf.bytes(), align);
  }
  return used >= cap ? 0 : cap - used;
}

bool inSpace(const Function &f, const Instruction &in, unsigned s) {
  for (auto &op : in.operands)
    if (op.ref && f.buffers[f.baseOf(op.ref)].space == s)
      return true;
  return false;
}

uint64_t operandBytes(const Function &f, const Instruction &in,
                      uint64_t align) {
  uint64_t n = 0;
  for (auto &op : in.operands)
    if (op.ref)
      n += alignUp(f.typeOf(op.ref).sizeInBytes(), align);
  return n;
}

} // namespace

Expected<TilingReport> tileForSram(Function &f, const TilingOptions &o) {
  int si = f.findSpace(o.sramSpace);
  if (si < 0)
    return invalid("tiling: no memory space '", o.sramSpace, "'");
  unsigned sram = unsigned(si);
  uint64_t cap = o.capacity ? o.capacity : f.spaces[sram].capacity;
  uint64_t align = f.spaces[sram].alignment;
  TilingReport report;
  if (cap == 0)
    return report; // unbounded: everything fits
  for (size_t i : o.only) {
    if (i >= f.insts.size())
      return invalid("tiling: instruction #", i, " does not exist (",
                     f.insts.size(), " instructions)");
    const Instruction &in = f.insts[i];
    if (in.kind != InstKind::Compute ||
        (in.op != OpKind::MatMul && in.op != OpKind::Conv))
      return unsupported("tiling: ", describeInst(f, i),
                         " is not a MatMul or Conv");
  }
  Function g = f; // f stays unchanged on error
  Emitter em(g, sram);
  std::vector<Instruction> out;
  for (size_t i = 0; i < f.insts.size(); ++i) {
    const Instruction &in = f.insts[i];
    bool candidate = in.kind == InstKind::Compute &&
                     (in.op == OpKind::MatMul || in.op == OpKind::Conv);
    uint64_t budget = candidate ? freeBytes(f, sram, i, cap) : 0;
    bool selected = o.only.empty() ? candidate && !inSpace(f, in, sram) &&
                                         operandBytes(f, in, align) > budget
                                   : std::find(o.only.begin(), o.only.end(),
                                               i) != o.only.end();
    if (!selected) {
      out.push_back(in);
      continue;
    }
    if (inSpace(f, in, sram))
      return unsupported("tiling: ", describeInst(f, i),
                         " already has an operand in space '", o.sramSpace,
                         "'");
    Expected<Plan> plan = in.op == OpKind::MatMul
                              ? planMatMul(f, in, budget, align)
                              : planConv(f, in, budget, align);
    if (!plan)
      return plan.status().withContext("tiling " + describeInst(f, i));
    TiledInst rep;
    rep.op = opName(in.op);
    rep.loc = in.loc;
    rep.index = i;
    rep.tileRows = plan->rows;
    rep.tileCols = plan->cols;
    rep.outerOverCols = plan->colsOuter;
    rep.sramBudget = budget;
    EMBER_TRY(em.emit(in, *plan, out, rep));
    report.tiled.push_back(rep);
  }
  g.insts = std::move(out);
  f = std::move(g);
  return report;
}

} // namespace ember::lir
