// Scheduling a GEMM layer (docs/npu-sdk.md, "Layout and tiling"): its tiling
// problem over the target's memories (operands, footprints, DMA and compute
// costs), the plan, and per step its loads, array ops and epilogue.
#include "CodegenInternal.h"
#include "Emit.h"
#include "Pack.h"

#include <algorithm>
#include <sstream>

namespace ember::accel {

namespace sp = ember::scratchpad;

namespace {

// The problem's dimensions and its operands' indices.
enum { dN, dY, dKo, dKc, dH };
// Column bands (dX, in the place of dH, which only sum layers have): an
// output line that does not fit whole (convLineFits) is computed in bands
// of output columns, each a loop over lines as a whole line is. A band
// reads its columns' windows, (bw - 1) * sw + ekw input columns, with the
// left padding only on the first band and the right only on the last: its
// input block's lines are one 2-D load of lines the image width apart in
// DRAM, its output lines one 2-D store of lines the output width apart.
constexpr size_t dX = 4;
enum { oAct, oWgt, oAcc, oBias, oParam, oConv, oPool, oAdd, oOnes, oBw };

uint64_t u(int64_t v) { return uint64_t(v); }

// A GEMM layer as its tiling problem, cost model and step code all see it:
// the layer, its tables, the options and what is derived from them once.
struct GemmSched {
  const Target &tg;
  const GemmLayer &g;
  const std::vector<NTensor> &ts;
  const GemmTables &tb;
  CodegenOptions o;
  Addr addr{ts};
  int64_t lanes = 0;
  bool in16 = false, wide = false, onePass16 = false, add16 = false;
  bool topOfHalves = false;
  int64_t maxDwOuter = 0;
  int path = 0; // the bias path: 0 DRAM rows, 1 by GEMM, 2 by Requant
  bool gemmBias = false, rqBias = false, noBiasRows = false;
  int64_t Kt = 0, taps = 0, kcExt = 1;
  // The tap split (Split tiling, docs/npu-sdk.md): the loop dim over groups
  // of taps (a reduction dim after kc; -1: every tap in each pass) and the
  // group sizes offered.
  int dT = -1;
  std::vector<int64_t> tapSizes;
  bool actByKo = false;
  int64_t ekh = 0, ekw = 0, Wp = 0;
  bool pool = false, add = false, flat = false;
  int64_t POH = 0, POW = 0;
  bool banded = false;
  std::vector<int64_t> bandSizes; // the widest first
  bool sub = false;
  int64_t P = 0;
  int64_t actTileStride = 0;
  int64_t tableRows = 0, paramRows = 0;
  bool paramOnce = false;
  // Every output tile's weights in one load, kept for the layer (see
  // weightsOnce); wgtRows: their rows.
  bool wgtOnce = false;
  int64_t wgtRows = 0;

  GemmSched(const Target &t, const GemmLayer &gl,
            const std::vector<NTensor> &tensors, const GemmTables &tables,
            const CodegenOptions &opts, int biasPath);
  Status columnBands();
  void flatTileStride();
  void tapSplit(const sp::Problem &p);
  void weightsOnce(const sp::Problem &p);

  // Where output tile ko's weights start in a weights-once slot (rows).
  int64_t wgtRowOf(int64_t ko) const {
    return int64_t(tb.wOff[size_t(ko)] - tb.wOff[0]) / lanes;
  }
  // The taps of a block (every tap without the split).
  int64_t tapTile(const std::vector<int64_t> &t) const {
    return dT >= 0 ? t[size_t(dT)] : taps;
  }

  // The layer's output tensor, or null while it is checked for fit.
  const NTensor *outTensor() const {
    return g.out >= 0 && size_t(g.out) < ts.size() ? &ts[size_t(g.out)]
                                                   : nullptr;
  }
  // The output columns and the padded input columns of a block's band.
  int64_t bandW(const std::vector<int64_t> &t) const {
    return banded ? t[dX] : g.OW;
  }
  int64_t bandWp(const std::vector<int64_t> &t) const {
    return banded ? std::min(Wp, (t[dX] - 1) * g.sw + ekw) : Wp;
  }
  // Input tile ci's act and weight tensors and its tile in them: with the
  // reduction in segments (GemmLayer::segs), segment ci / (C' / lanes).
  struct SegTile {
    int act, wgt;
    int64_t tile;
  };
  SegTile segTile(int64_t ci) const {
    if (g.segs.empty())
      return {g.in, g.wAct, ci};
    const int64_t per = g.C / int64_t(g.segs.size()) / lanes;
    const auto &sg = g.segs[size_t(ci / per)];
    return {sg[0] >= 0 ? sg[0] : g.in, sg[1] >= 0 ? sg[1] : g.wAct, ci % per};
  }
  // DMA ops that load `tiles` input tiles of `lines` flat rows.
  uint64_t flatActTransfers(int64_t tiles, int64_t lines) const {
    if (actTileStride && lines <= tg.maxX)
      return uint64_t(ceilDiv(tiles, tg.maxY));
    return uint64_t(tiles) * moveRowsCount(tg, lines);
  }
  // Output units (pixels or lines) -> conv lines, conv rows, input lines.
  int64_t convLines(int64_t y) const {
    return pool ? (y - 1) * g.pool.s + g.pool.kh : y;
  }
  int64_t accRows(const std::vector<int64_t> &t) const {
    return flat ? t[dY] : convLines(t[dY]) * bandW(t);
  }
  int64_t inLines(int64_t y) const {
    return std::min(g.H + g.pt + g.pb, (convLines(y) - 1) * g.sh + ekh);
  }
  int64_t actRows(const std::vector<int64_t> &t) const {
    if (g.sum)
      return t[dH] * g.W * t[dKc];
    if (sub)
      return convLines(t[dY]) * g.OW * t[dKc];
    return (flat ? t[dY] : inLines(t[dY]) * bandWp(t)) * t[dKc];
  }
  // Of those, the rows read from the input (the rest is padding the load
  // writes): an interior block's lines, at most H (edge blocks read fewer).
  int64_t actDataRows(const std::vector<int64_t> &t) const {
    if (flat || sub || g.sum)
      return actRows(t);
    return std::min(g.H, inLines(t[dY])) * std::min(g.W, bandWp(t)) * t[dKc];
  }
  int64_t outRows(const std::vector<int64_t> &t) const {
    return flat ? t[dY] : t[dY] * (banded ? t[dX] : POW);
  }
  // The add's operand covers the conv rows (add before pool) or the
  // output rows.
  int64_t addRows(const std::vector<int64_t> &t) const {
    return g.add.beforePool ? accRows(t) : outRows(t);
  }
};

GemmSched::GemmSched(const Target &t, const GemmLayer &gl,
                     const std::vector<NTensor> &tensors,
                     const GemmTables &tables, const CodegenOptions &opts,
                     int biasPath)
    : tg(t), g(gl), ts(tensors), tb(tables), o(opts) {
  lanes = tg.lanes;
  in16 = g.in16;
  wide = g.in16 || g.out16;
  // Both byte planes in one array op (Target.h, act16OnePass).
  onePass16 = in16 && tg.array.act16OnePass && opts.act16OnePass;
  add16 = g.add.on && g.out16;
  // A 16-bit layer keeps its blocks in the lower halves of the memories its
  // row pairs use (Target::wide16), so its slots are allocated from the
  // bottom; one side of a striped pair that takes its slots from the top
  // (Stripes.h) takes them from the top of those lower halves.
  topOfHalves = wide && opts.striped && opts.slotsFromTop;
  if (wide)
    o.slotsFromTop = false;
  maxDwOuter = tg.has(OpKind::DwGemm)
                   ? tg.ops[size_t(OpKind::DwGemm)].max("outer")
                   : tg.maxOuter;
  // The path taken: the one asked for where the layer allows it, else DRAM.
  // (a 16x8 layer: the int64 bias by Requant, always)
  path = in16 ? 2 : tb.biasPathUsable(biasPath) ? biasPath : 0;
  gemmBias = path == 1;
  rqBias = path == 2;
  noBiasRows = gemmBias || rqBias || tb.dwBias; // no bias loads
  // Weight tiles per input tile: one per tap, one per kernel row (DwGemm).
  Kt = ceilDiv(g.K, lanes);
  taps = g.sum ? 1 : (tb.dw ? g.kh : g.kh * g.kw);
  for (auto &r : tb.rel) {
    kcExt = std::max<int64_t>(kcExt, int64_t(r.size()));
    if (r != tb.rel[0])
      actByKo = true;
  }
  ekh = (g.kh - 1) * g.dh + 1;
  ekw = (g.kw - 1) * g.dw + 1;
  Wp = g.W + g.pl + g.pr;
  pool = g.pool.on;
  add = g.add.on;
  // The pooled output size (fused pooling has no padding).
  POH = pool ? (g.OH - g.pool.kh) / g.pool.s + 1 : g.OH;
  POW = pool ? (g.OW - g.pool.kw) / g.pool.s + 1 : g.OW;
  flat = g.flat;
  P = g.N * g.OH * g.OW;
  // The requantization table of every output tile loaded once, when it
  // takes at most an eighth of its memory, instead of two rows per output
  // tile each time the output tile changes (one DMA latency per step on a
  // layer whose weights stream, e.g. a 1-pixel fully connected layer).
  // With the bias by Requant, a table is three rows (mult, shift, bias).
  tableRows = rqBias ? 3 : 2;
  paramOnce = g.requant && Kt > 1 &&
              uint64_t(tableRows * Kt * 8) <= tg.memRows(tg.memOf(Cls::Param));
  paramRows = g.requant ? (paramOnce ? tableRows * Kt : tableRows) : 0;
}

// Whether the output line is computed in column bands, and their widths
// (whether to band: the selector's rule, on the whole memory; a band's
// width: on the rows the layer has, half of them for 16-bit rows). Then
// whether the layer reads a strided subsample (which bands exclude).
Status GemmSched::columnBands() {
  const uint64_t actMem = tg.memRows(tg.memOf(Cls::Act));
  const uint64_t actCap = actMem / (in16 ? 2 : 1);
  const uint64_t outCap = tg.memRows(tg.memOf(Cls::Out)) / (g.out16 ? 2 : 1);
  const Status whole = convLineFits(tg, g.W, Wp, g.OW, ekh, g.sh, actMem);
  banded = !flat && !g.sum && !whole.isOk();
  if (banded) {
    const NTensor *ot = outTensor();
    if (pool)
      return unsupported("a fused pool over a line in column bands (",
                         whole.message(), ")");
    if (ot && ot->ilv)
      return unsupported("a transposed convolution's phase in column bands");
    for (int64_t k = 2; k <= g.OW && bandSizes.size() < 6; ++k) {
      const int64_t b = ceilDiv(g.OW, k);
      const int64_t wb = std::min(Wp, (b - 1) * g.sw + ekw);
      if ((bandSizes.empty() || bandSizes.back() != b) &&
          uint64_t(b) <= outCap / 4 &&
          convLineFits(tg, wb, wb, b, ekh, g.sh, actCap).isOk())
        bandSizes.push_back(b);
    }
    if (bandSizes.empty())
      return unsupported("no column band fits: one output pixel reads ", ekh,
                         " lines of ", std::min(Wp, ekw), " pixels");
  }
  // A strided 1x1 convolution without padding reads every sh-th line and
  // sw-th pixel: one load per output line picks those pixels (ysize = OW,
  // stride = sw rows), so the block is dense and one GEMM covers all its
  // rows (instead of one GEMM of OW rows per line, which wastes the array
  // when OW < lanes).
  sub = !flat && !g.sum && !banded && g.kh == 1 && g.kw == 1 &&
        (g.sh > 1 || g.sw > 1) && g.pt == 0 && g.pb == 0 && g.pl == 0 &&
        g.pr == 0 && g.sw <= tg.maxStride;
  return Status::ok();
}

// A flat block's input tiles in one 2-D load (a line per input tile,
// `actTileStride` DRAM rows apart) when every output tile reads its input
// tiles at one constant step: one DRAM latency per block instead of one
// per input tile (a 960-channel 7x7 layer paid 60 x 70 cycles for it).
void GemmSched::flatTileStride() {
  if (!flat || !g.segs.empty()) // (segments: tiles of several tensors)
    return;
  int64_t step = 0;
  bool regular = true;
  for (auto &r : tb.rel)
    for (size_t i = 1; i < r.size(); ++i) {
      int64_t d = r[i] - r[i - 1];
      regular = regular && d > 0 && (step == 0 || d == step);
      step = d;
    }
  const int64_t rowStride =
      int64_t(addr(g.in, 1, 0) - addr(g.in, 0, 0)) / (lanes * (in16 ? 2 : 1));
  if (regular && rowStride > 0 &&
      std::max<int64_t>(step, 1) * rowStride <= tg.maxStride)
    actTileStride = std::max<int64_t>(step, 1) * rowStride;
}

// Whether the taps are split over passes that accumulate into the same
// accumulator rows, and the group sizes: with option taps=N, at most N a
// group, always; by default only when one input tile's weights for every
// tap do not fit half of the weight space (double-buffered), the sizes that
// fit it, the largest first, for the cost model to choose from (a smaller
// group loads the same weights in more, smaller blocks). Kernels of one tap,
// sum layers and 1x1 forms have nothing to split.
void GemmSched::tapSplit(const sp::Problem &p) {
  if (taps < 2 || flat || sub || g.sum)
    return;
  const uint64_t wgtRows = p.spaces[size_t(tg.memOf(Cls::Wgt))].capacity;
  const int64_t most = o.tapGroup > 0 ? std::min(o.tapGroup, taps) : taps;
  if (o.tapGroup == 0 && (!wgtRows || uint64_t(taps * lanes) * 2 <= wgtRows))
    return;
  for (int64_t k = 1; k <= taps && tapSizes.size() < 6; ++k) {
    const int64_t b = ceilDiv(taps, k);
    if (b > most || (!tapSizes.empty() && tapSizes.back() == b))
      continue;
    if (o.tapGroup == 0 && wgtRows && uint64_t(b * lanes) * 2 > wgtRows)
      continue;
    tapSizes.push_back(b);
  }
  if (tapSizes.empty())
    tapSizes.push_back(1); // the planner names what does not fit
}

// Whether every output tile's weights load once, in one DMA op, and stay
// for the whole layer, instead of each output tile's when the tile changes:
// for a flat layer whose output tiles read one weight tile each (a
// per-channel affine, or a grouped 1x1 layer whose groups stay inside a
// channel tile), when they take at most an eighth of the weight space and
// lie back to back in DRAM. Such a tile is `lanes` rows, whose transfer
// the DRAM latency dwarfs (16 rows against 64 cycles on a 16-lane array
// with the example description's DRAM). Layers with more weight rows per
// output tile keep loading them per tile: there the latency is a small
// share, and one larger load up front delays the layer's first step (a
// weight prefetch into the layer before waits for that layer's last
// GEMM). Not with the tap split, weights from an activation, reduction
// segments or 16-bit layers.
void GemmSched::weightsOnce(const sp::Problem &p) {
  if (!flat || kcExt != 1 || taps != 1 || Kt < 2 || dT >= 0 || g.wAct >= 0 ||
      wide || !g.segs.empty())
    return;
  int64_t rows = 0;
  for (int64_t ko = 0; ko < Kt; ++ko) {
    const int64_t n = int64_t(tb.rel[size_t(ko)].size());
    if (tb.wOff[size_t(ko)] != tb.wOff[0] + uint64_t(rows * lanes))
      return; // not back to back
    rows += n * taps * lanes;
  }
  const int m = tg.memOf(Cls::Wgt);
  const uint64_t cap = p.spaces[size_t(m)].capacity;
  const uint64_t wgtSpace = cap ? cap : tg.memRows(m);
  if (uint64_t(rows) * 8 > wgtSpace)
    return;
  wgtOnce = true;
  wgtRows = rows;
}

// The memories' spaces: 16-bit row pairs keep the blocks in the lower half,
// the upper half their high bytes (or high plane, or the int64 bias's high
// words). The output table's rows at the top of the parameter memory
// (tg.lutRows()) are in its upper half: the blocks there stay below half
// minus those rows, so that their high halves miss the table; so do the
// rows a program's 16-bit tables reserve below it (a reserve beyond the
// output table's).
void gemmSpaces(const GemmSched &s, sp::Problem &p) {
  const Target &tg = s.tg;
  p.spaces = spacesOf(tg, s.o.shareRows, s.o.paramReserve);
  const uint64_t tableTop =
      s.tb.lut || s.o.paramReserve > uint64_t(tg.lutRows())
          ? std::max<uint64_t>(s.o.paramReserve, uint64_t(tg.lutRows()))
          : 0;
  auto halve = [&](Cls c) {
    const int m = tg.memOf(c);
    sp::Space &space = p.spaces[size_t(m)];
    uint64_t half = tg.memRows(m) / 2;
    if (m == tg.memOf(Cls::Param))
      half -= std::min<uint64_t>(half, tableTop);
    space.capacity = space.capacity ? std::min(space.capacity, half) : half;
  };
  if (s.in16)
    for (Cls c : {Cls::Act, Cls::Acc, Cls::Param})
      halve(c);
  if (s.g.out16)
    halve(Cls::Out);
}

// The loop dimensions: images, lines (or flat pixels), output and input
// tiles, and a sum layer's bands of input lines (dH, an accumulation into
// the same rows, for a map larger than the act memory) or the column bands.
void gemmDims(const GemmSched &s, sp::Problem &p) {
  const GemmLayer &g = s.g;
  if (s.flat) {
    p.dims = {{"n", 1, false, {1}},
              {"p", s.P, false, {}},
              {"ko", s.Kt, false, {1}},
              {"kc", s.kcExt, true, {}}};
  } else {
    p.dims = {{"n", g.N, false, {1}},
              {"y", s.POH, false, {}},
              {"ko", s.Kt, false, {1}},
              {"kc", s.kcExt, true, {}}};
  }
  if (g.sum) { // bands of at most maxY lines (one load each)
    std::vector<int64_t> bands;
    for (int64_t k = 1; k <= g.H; ++k) {
      const int64_t b = ceilDiv(g.H, k);
      if (b <= s.tg.maxY && (bands.empty() || bands.back() != b))
        bands.push_back(b);
    }
    p.dims.push_back({"h", g.H, true, bands});
  }
  if (s.banded)
    p.dims.push_back({"x", g.OW, false, s.bandSizes});
  if (s.dT >= 0) // after kc: a block's taps inside its input tiles' loop
    p.dims.push_back({"t", s.taps, true, s.tapSizes});
  p.greedyDim = dY;
  p.fillDim = dKc;
  p.fillPieces = std::max(1u, s.o.fillPieces);
  // The cost model may single-buffer an operand that double buffering
  // does not fit (Problem::singleBufferFallback); DMA-bytes tiling keeps
  // double buffering.
  p.singleBufferFallback = s.o.cycleTiling;
}

// The operands (in the order of oAct..oBw): their dimensions, footprints
// in rows and DRAM bytes per block.
void gemmOperands(const GemmSched &s, sp::Problem &p) {
  const Target &tg = s.tg;
  const GemmLayer &g = s.g;
  const int64_t lanes = s.lanes;
  const GemmSched *c = &s;
  using T = const std::vector<int64_t> &;
  std::vector<size_t> actDims = {dN, dY, dKc};
  if (s.actByKo)
    actDims = {dN, dY, dKo, dKc};
  if (g.sum)
    actDims.push_back(dH);
  // The operands a band selects: the input block and the output's.
  auto px = [&](std::vector<size_t> d) {
    if (s.banded)
      d.push_back(dX);
    return d;
  };
  actDims = px(actDims);
  p.operands.push_back(operand(
      "act", tg.memOf(Cls::Act), sp::Role::Input, actDims,
      [c](T t) { return u(c->actRows(t)); },
      [c](T t) {
        return u(c->actDataRows(t) * c->lanes * (c->in16 ? 2 : 1)); // no pad
      }));
  std::vector<size_t> wgtDims = {dKo, dKc};
  if (s.dT >= 0)
    wgtDims.push_back(size_t(s.dT));
  if (s.wgtOnce)
    wgtDims.clear();
  p.operands.push_back(operand(
      "wgt", tg.memOf(Cls::Wgt), sp::Role::Input, wgtDims,
      [c](T t) {
        return u(c->wgtOnce ? c->wgtRows : t[dKc] * c->tapTile(t) * c->lanes);
      },
      [c](T t) {
        return u((c->wgtOnce ? c->wgtRows : t[dKc] * c->tapTile(t) * c->lanes) *
                 c->lanes);
      }));
  p.operands.push_back(operand(
      "acc", tg.memOf(Cls::Acc),
      g.requant ? sp::Role::Accumulator : sp::Role::Output, px({dN, dY, dKo}),
      [c](T t) { return u(c->accRows(t)); },
      [c](T t) { return u(c->accRows(t) * c->lanes * 4); }));
  p.operands.push_back(operand("bias", tg.memOf(Cls::Acc), sp::Role::Input,
                               px({dN, dY, dKo}), nullptr, [c](T t) {
                                 return c->noBiasRows
                                            ? 0
                                            : u(c->accRows(t) * c->lanes * 4);
                               }));
  const int64_t paramRows = s.paramRows;
  p.operands.push_back(operand(
      "param", tg.memOf(Cls::Param), sp::Role::Input,
      s.paramOnce ? std::vector<size_t>{} : std::vector<size_t>{dKo},
      [=](T) { return u(paramRows); },
      [=](T) { return u(paramRows * lanes * 4); }));
  p.operands.push_back(operand(
      "conv", tg.memOf(Cls::Out),
      s.pool || !g.requant ? sp::Role::Accumulator : sp::Role::Output,
      px({dN, dY, dKo}),
      [c](T t) { return u(c->g.requant ? c->accRows(t) : 0); },
      [c](T t) {
        return u(c->g.requant ? c->accRows(t) * c->lanes * (c->g.out16 ? 2 : 1)
                              : 0);
      }));
  p.operands.push_back(operand(
      "pool", tg.memOf(Cls::Out), sp::Role::Output, px({dN, dY, dKo}),
      [c](T t) { return u(c->pool ? c->outRows(t) : 0); },
      [c](T t) { return u(c->pool ? c->outRows(t) * c->lanes : 0); }));
  p.operands.push_back(operand(
      "add", tg.memOf(Cls::Out), sp::Role::Input, px({dN, dY, dKo}),
      [c](T t) { return u(c->add ? c->addRows(t) : 0); },
      [c](T t) {
        return u(c->add ? c->addRows(t) * c->lanes * (c->add16 ? 2 : 1) : 0);
      }));
  // Bias by GEMM: the constant row with the activations, the bias tile of ko
  // with the weights.
  const bool gemmBias = s.gemmBias;
  p.operands.push_back(operand(
      "ones", tg.memOf(Cls::Act), sp::Role::Input, {},
      [=](T) { return u(gemmBias ? 1 : 0); },
      [=](T) { return u(gemmBias ? lanes : 0); }));
  p.operands.push_back(operand(
      "biastile", tg.memOf(Cls::Wgt), sp::Role::Input, {dKo},
      [=](T) { return u(gemmBias ? lanes : 0); },
      [=](T) { return u(gemmBias ? lanes * lanes : 0); }));
}

// The cost model's side of each operand: DMA ops per block, the memory
// rows they write, the compute engine using it (0 the array, 1 the vector
// unit); the order the step code issues its loads in; layer cascading.
void gemmOperandCosts(const GemmSched &s, sp::Problem &p) {
  const GemmSched *c = &s;
  using T = const std::vector<int64_t> &;
  auto &ops = p.operands;
  ops[oAct].transfers = [c](T t) {
    if (c->sub)
      return u(t[dKc] * c->convLines(t[dY]));
    return c->flat
               ? c->flatActTransfers(t[dKc], t[dY])
               : u(t[dKc]) *
                     loadBlockCount(c->tg, std::min(c->g.H, c->inLines(t[dY])));
  };
  ops[oAct].rows = ops[oAct].footprint;
  ops[oAct].padRows = [c](T t) { return u(c->actRows(t) - c->actDataRows(t)); };
  ops[oWgt].transfers = [c](T t) {
    if (c->wgtOnce)
      return moveRowsCount(c->tg, c->wgtRows);
    // Split: a group's taps of each input tile are contiguous, the tiles
    // taps * lanes rows apart in DRAM (a move per input tile).
    if (c->dT >= 0)
      return u(t[dKc]) * moveRowsCount(c->tg, c->tapTile(t) * c->lanes);
    return moveRowsCount(c->tg, t[dKc] * c->taps * c->lanes);
  };
  ops[oWgt].rows = ops[oWgt].footprint;
  ops[oBias].transfers = [c](T t) {
    return c->noBiasRows ? 0 : repeatRowCount(c->tg, c->accRows(t));
  };
  ops[oBias].rows = [c](T t) { return c->noBiasRows ? 0 : u(c->accRows(t)); };
  ops[oOnes].rows = ops[oOnes].footprint;
  ops[oBw].rows = ops[oBw].footprint;
  ops[oBias].engine = s.g.requant ? 1 : 0; // the slot frees on Requant
  ops[oBias].reader = 0;                   // GEMMs accumulate onto it
  ops[oParam].rows = ops[oParam].footprint;
  ops[oParam].engine = 1;
  ops[oAcc].transfers = [c](T t) {
    return c->g.requant ? 0
           : c->banded  ? moveBandCount(c->tg, t[dY])
                        : moveRowsCount(c->tg, c->outRows(t));
  };
  ops[oAcc].rows = ops[oAcc].footprint;
  ops[oConv].transfers = [c](T t) {
    if (!c->g.requant || c->pool)
      return uint64_t(0);
    // (A phase map's stores: counted from its first line.)
    const NTensor *ot = c->outTensor();
    return ot && ot->ilv
               ? phaseStoreCount(c->tg, 0, c->outRows(t),
                                 phasePlace(*ot, c->ts[size_t(ot->base)]))
           : c->banded ? moveBandCount(c->tg, t[dY])
                       : moveRowsCount(c->tg, c->outRows(t));
  };
  ops[oConv].rows = ops[oConv].footprint;
  ops[oConv].engine = 1;
  ops[oPool].transfers = [c](T t) {
    return c->pool ? moveRowsCount(c->tg, c->outRows(t)) : 0;
  };
  ops[oPool].rows = ops[oPool].footprint;
  ops[oPool].engine = 1;
  ops[oAdd].transfers = [c](T t) {
    return !c->add                   ? 0
           : c->g.add.otherBroadcast ? repeatRowCount(c->tg, c->addRows(t))
           : c->banded               ? moveBandCount(c->tg, t[dY])
                                     : moveRowsCount(c->tg, c->addRows(t));
  };
  ops[oAdd].rows = ops[oAdd].footprint;
  ops[oAdd].engine = 1;
  // The order the step code issues its loads in.
  p.loadOrder = {oAct, oWgt, oParam, oOnes, oBw, oBias, oAdd};
  if (s.o.prefetchable) { // the constant loads first (weight prefetch)
    p.firstLoadOrder = {oWgt, oParam, oOnes, oBw, oBias, oAct, oAdd};
    // The fill pieces the input alone: the weights move to the layer
    // before (the step code loads them whole ahead of the pieces).
    p.fillAhead = {oWgt};
  }
  if (s.wgtOnce) // the step code loads them whole, ahead of the pieces
    p.fillAhead = {oWgt};
  // Layer cascading: the input block comes by copies from the out memory
  // (a row a cycle on the load engine, padding included, no DRAM access
  // and so no DRAM latency and no share of the DRAM channel), the output
  // stays there (no store).
  if (s.o.inOnChip) {
    ops[oAct].onChip = true;
    ops[oAct].transfers = [](T) { return uint64_t(0); };
  }
  if (s.o.outOnChip)
    for (int k : {int(oConv), int(oPool)})
      if (ops[size_t(k)].role == sp::Role::Output) {
        ops[size_t(k)].bytes = nullptr;
        ops[size_t(k)].transfers = nullptr;
      }
}

// Compute per step: the array ops the step code emits, then (when the
// accumulator block is complete) Requant, VAdd, Pool on the vector unit; an
// output-stationary array drains each accumulator block.
std::vector<uint64_t> gemmStepCycles(const GemmSched &s, const sp::Tiling &t,
                                     const std::vector<int64_t> &idx,
                                     const std::vector<int64_t> &tile,
                                     const std::vector<sp::StepOperand> &so) {
  const Target &tg = s.tg;
  const GemmLayer &g = s.g;
  const GemmTables &tb = s.tb;
  const bool flat = s.flat;
  std::vector<uint64_t> cyc(2, 0);
  const int64_t ko = idx[dKo];
  const std::vector<int64_t> &rel = tb.rel[size_t(ko)];
  const int64_t ri0 = idx[dKc] * t.tile[dKc];
  const int64_t ri1 = std::min<int64_t>(int64_t(rel.size()), ri0 + tile[dKc]);
  const int64_t lines = tile[dY];
  const int64_t cLines = flat ? 0 : s.convLines(lines);
  const int64_t ow = s.banded ? tile[dX] : g.OW; // the band's output columns
  uint64_t one = 0;                              // one (input tile, tap)
  if (flat) {
    for (int64_t r0 = 0; r0 < lines; r0 += tg.maxInner)
      one += gemmCycles(tg, std::min(tg.maxInner, lines - r0));
  } else if (g.sum) {
    const int64_t px = tile[dH] * g.W;
    for (int64_t r0 = 0; r0 < px; r0 += tg.maxOuter)
      one += gemmCycles(tg, std::min(tg.maxOuter, px - r0));
  } else if (s.sub) {
    for (int64_t r0 = 0; r0 < cLines * g.OW; r0 += tg.maxInner)
      one += gemmCycles(tg, std::min(tg.maxInner, cLines * g.OW - r0));
  } else if (tb.dw) { // a line streams (OW - 1) * sw + kw rows
    for (int64_t r0 = 0; r0 < cLines; r0 += s.maxDwOuter)
      one += gemmCycles(tg, std::min(s.maxDwOuter, cLines - r0) *
                                ((ow - 1) * g.sw + g.kw));
  } else if (g.sw == 1) {
    for (int64_t r0 = 0; r0 < cLines; r0 += tg.maxOuter)
      one += gemmCycles(tg, std::min(tg.maxOuter, cLines - r0) * ow);
  } else {
    one = uint64_t(cLines) * gemmCycles(tg, ow);
  }
  const int64_t tp0 = s.dT >= 0 ? idx[size_t(s.dT)] * t.tile[size_t(s.dT)] : 0;
  const int64_t tp1 = std::min(s.taps, tp0 + s.tapTile(tile));
  for (int64_t ri = ri0; ri < ri1; ++ri)
    for (int64_t tap = tp0; tap < tp1; ++tap)
      if (!tb.zero[size_t(ko)][size_t(ri * s.taps + tap)])
        cyc[0] += one;
  if (s.gemmBias && so[oAcc].begins) {
    const int64_t rows = flat ? lines : cLines * ow;
    for (int64_t r0 = 0; r0 < rows; r0 += tg.maxOuter)
      cyc[0] += gemmCycles(tg, std::min(tg.maxOuter, rows - r0));
  }
  if (so[oAcc].ends && tg.array.drainRows)
    cyc[0] += uint64_t(tg.array.drainRows);
  if (s.in16 && !s.onePass16) // the two byte planes: every array op twice
    cyc[0] *= 2;
  if (so[oAcc].ends && g.requant) {
    const int64_t rows = flat ? lines : cLines * ow;
    const int64_t outN = flat ? lines : lines * (s.banded ? ow : s.POW);
    cyc[1] += vectorCycles(tg, rows);
    if (s.add)
      cyc[1] += vectorCycles(tg, g.add.beforePool ? rows : outN);
    if (s.pool)
      cyc[1] += vectorCycles(tg, outN * g.pool.kh * g.pool.kw);
  }
  return cyc;
}

// The slots of the planned tiling; one side of a striped 16-bit pair takes
// them from the top of the lower halves (below the tables' reserve).
Expected<Slots> gemmSlots(const GemmSched &s, const sp::Problem &p,
                          const sp::Tiling &t) {
  const Target &tg = s.tg;
  std::vector<int64_t> tops;
  if (s.topOfHalves)
    for (size_t m = 0; m < p.spaces.size(); ++m) {
      const int mem = int(m);
      const bool halved = mem == tg.memOf(Cls::Out)
                              ? s.g.out16
                              : s.in16 && (mem == tg.memOf(Cls::Act) ||
                                           mem == tg.memOf(Cls::Acc) ||
                                           mem == tg.memOf(Cls::Param));
      const int64_t reserve =
          mem == tg.memOf(Cls::Param)
              ? std::max<int64_t>(int64_t(s.o.paramReserve),
                                  s.tb.lut ? tg.lutRows() : 0)
              : 0;
      tops.push_back(
          (halved ? int64_t(tg.memRows(mem) / 2) : int64_t(tg.memRows(mem))) -
          reserve);
    }
  return allocate(tg, p, t, s.o.slotsFromTop || s.topOfHalves, s.o.paramReserve,
                  s.topOfHalves ? &tops : nullptr);
}

// Compulsory DRAM bytes (the input, weights and tables once, the add
// operand and the output once) and the layer's shape, for the report.
void gemmSummary(const GemmSched &s, LayerInfo &info) {
  const GemmLayer &g = s.g;
  const int64_t lanes = s.lanes;
  uint64_t b = (s.o.inOnChip ? 0 : tensorBytes(s.ts, g.in)) +
               (s.o.outOnChip ? 0 : tensorBytes(s.ts, g.out));
  for (auto &r : s.tb.rel)
    b += uint64_t(r.size() * s.taps * lanes * lanes) + uint64_t(lanes * 4) +
         (g.requant ? uint64_t(2 * lanes * 4) : 0);
  if (s.add)
    b += tensorBytes(s.ts, g.add.other);
  info.minDramBytes = b;
  std::ostringstream os;
  os << "C" << g.C << " K" << g.K << " " << g.kh << "x" << g.kw << "/" << g.sh
     << " g" << g.groups << " " << g.OH << "x" << g.OW;
  info.shape = os.str();
}

// The layer's setup: pad value, the int16 result's clamp, the output table,
// the pool's and the add's registers.
Status gemmSetup(const GemmSched &s, LayerCode &code) {
  const Target &tg = s.tg;
  const GemmLayer &g = s.g;
  code.setup.push_back(setregOp(tg, Reg::PadValue, g.padValue));
  if (g.out16) { // the int16 result's clamp
    code.setup.push_back(setregOp(tg, Reg::Rq16Min, g.rq.lo));
    code.setup.push_back(setregOp(tg, Reg::Rq16Max, g.rq.hi));
  }
  if (s.tb.lut) {
    // The output table: into the top param rows, then to the vector engine
    // (dependency insertion orders it against other users of those rows).
    if (!g.requant || !tg.has(OpKind::LutLd))
      return unsupported(
          "an output table needs the requantized result and the target's "
          "lutld");
    const int64_t at = int64_t(tg.memRows(tg.memOf(Cls::Param))) - tg.lutRows();
    moveRows(tg, code.setup, false, Cls::Param, at, s.tb.lutOff, tg.lutRows());
    code.setup.push_back(lutldOp(tg, at));
  }
  if (s.pool) {
    code.setup.push_back(setregOp(tg, Reg::PoolKh, int32_t(g.pool.kh)));
    code.setup.push_back(setregOp(tg, Reg::PoolKw, int32_t(g.pool.kw)));
    code.setup.push_back(setregOp(tg, Reg::PoolStride, int32_t(g.pool.s)));
    code.setup.push_back(setregOp(tg, Reg::PoolInW, int32_t(g.OW)));
    code.setup.push_back(setregOp(tg, Reg::PoolOutW, int32_t(s.POW)));
  }
  if (s.add) {
    addRegSetup(tg, g.add.regs, code.setup);
  }
  return Status::ok();
}

// One step of the schedule: its blocks' coordinates, and its code (loads,
// array ops, the tail once the accumulator block is complete).
struct GemmStep {
  const GemmSched &s;
  const sp::Step &st;
  const Slots &slots;
  StepCode &sc;
  int64_t n = 0, ko = 0, kc = 0, y0 = 0, y1 = 0, lines = 0;
  const std::vector<int64_t> &rel;
  int64_t ri0 = 0, ri1 = 0;
  int64_t tp0 = 0, tp1 = 0; // the block's taps
  // Conv lines of this tile and the input lines they read.
  int64_t cy0 = 0, cLines = 0;
  // The band's output columns [x0, x0 + ow) and its input columns [ix0,
  // ix1) (padding included; a whole line: the padded width), of which
  // [vx0, vx1) are in the image.
  int64_t x0 = 0, ow = 0, ix0 = 0, ix1 = 0, vx0 = 0, vx1 = 0, Wb = 0;
  int64_t rows = 0; // accumulator rows
  // (A sum layer: its band of input lines.)
  int64_t h0 = 0, h1 = 0, iy0 = 0, iy1 = 0, vy0 = 0, vy1 = 0, blockLines = 0;
  int64_t outP = 0, outN = 0, addP = 0, addN = 0;

  GemmStep(const GemmSched &sched, const sp::Tiling &t, const sp::Step &step,
           const Slots &sl, StepCode &code);
  int64_t slot(int op) const {
    return slots.base[size_t(op)][st.operands[size_t(op)].slot];
  }
  void loadAct(int64_t q0, int64_t q1);
  void loadWgt(int64_t q0, int64_t q1);
  void loadParam();
  void loadBias();
  void loadAdd();
  void loads(const sp::Problem &p, int64_t pieces);
  void arrayOps(LayerInfo &info);
  void tail();
};

GemmStep::GemmStep(const GemmSched &sched, const sp::Tiling &t,
                   const sp::Step &step, const Slots &sl, StepCode &code)
    : s(sched), st(step), slots(sl), sc(code),
      rel(sched.tb.rel[size_t(step.index[dKo])]) {
  const GemmLayer &g = s.g;
  const bool flat = s.flat, banded = s.banded;
  const int64_t Y = flat ? s.P : s.POH;
  n = st.index[dN];
  ko = st.index[dKo];
  kc = st.index[dKc];
  y0 = st.index[dY] * t.tile[dY];
  y1 = std::min(Y, y0 + t.tile[dY]);
  lines = y1 - y0;
  ri0 = kc * t.tile[dKc];
  ri1 = std::min<int64_t>(int64_t(rel.size()), ri0 + t.tile[dKc]);
  tp0 = s.dT >= 0 ? st.index[size_t(s.dT)] * t.tile[size_t(s.dT)] : 0;
  tp1 = std::min(s.taps, tp0 + s.tapTile(t.tile));
  cy0 = flat ? 0 : (s.pool ? y0 * g.pool.s : y0);
  cLines = flat ? 0 : s.convLines(lines);
  x0 = banded ? st.index[dX] * t.tile[dX] : 0;
  ow = banded ? std::min(g.OW, x0 + t.tile[dX]) - x0 : g.OW;
  ix0 = banded ? x0 * g.sw - g.pl : -g.pl;
  ix1 = banded ? (x0 + ow - 1) * g.sw - g.pl + s.ekw : g.W + g.pr;
  vx0 = std::max<int64_t>(0, ix0);
  vx1 = std::min<int64_t>(g.W, ix1);
  Wb = ix1 - ix0;
  rows = flat ? lines : cLines * ow;
  h0 = g.sum ? st.index[dH] * t.tile[dH] : 0;
  h1 = g.sum ? std::min(g.H, h0 + t.tile[dH]) : 0;
  iy0 = g.sum ? h0 : cy0 * g.sh - g.pt;
  iy1 = g.sum ? h1 : (cy0 + cLines - 1) * g.sh - g.pt + s.ekh;
  vy0 = std::max<int64_t>(0, iy0);
  vy1 = std::min<int64_t>(g.H, iy1);
  blockLines = iy1 - iy0;
  outP = flat ? y0 : (n * s.POH + y0) * s.POW + x0;    // first out pixel
  outN = flat ? lines : lines * (banded ? ow : s.POW); // out rows
  // The add's rows: the conv rows of this tile (add before pool) or its
  // output rows.
  addP = g.add.beforePool ? (n * g.OH + cy0) * g.OW + x0 : outP;
  addN = g.add.beforePool ? rows : outN;
}

void GemmStep::loadAct(int64_t q0, int64_t q1) {
  const Target &tg = s.tg;
  const GemmLayer &g = s.g;
  if (s.flat && s.actTileStride && lines <= tg.maxX) {
    for (int64_t a = q0; a < q1; a += tg.maxY) {
      int64_t b = std::min(q1, a + tg.maxY);
      sc.loads.push_back(loadOp(tg, Cls::Act, slot(oAct) + a * lines,
                                s.addr(g.in, rel[size_t(ri0 + a)], y0), b - a,
                                lines, s.actTileStride));
    }
    return;
  }
  for (int64_t ri = ri0 + q0; ri < ri0 + q1; ++ri) {
    int64_t q = ri - ri0, ci = rel[size_t(ri)];
    if (s.flat) {
      const GemmSched::SegTile st = s.segTile(ci);
      moveRows(tg, sc.loads, false, Cls::Act, slot(oAct) + q * lines,
               s.addr(st.act, st.tile, y0), lines, g.in16);
    } else if (s.sub) {
      for (int64_t r = 0; r < cLines; ++r)
        sc.loads.push_back(
            loadOp(tg, Cls::Act, slot(oAct) + (q * cLines + r) * g.OW,
                   s.addr(g.in, ci, (n * g.H + (cy0 + r) * g.sh) * g.W), g.OW,
                   1, g.sw));
    } else {
      loadBlock(tg, sc.loads, Cls::Act, slot(oAct) + q * blockLines * Wb,
                s.addr(g.in, ci, (n * g.H + vy0) * g.W + vx0),
                std::max<int64_t>(0, vy1 - vy0), vx1 - vx0, g.W, vy0 - iy0,
                iy1 - vy1, vx0 - ix0, ix1 - vx1);
    }
  }
}

// Each input tile's weights are its taps' tiles in DRAM: the block's taps
// [tp0, tp1) of input tiles [q0, q1), in the slot tile after tile (all taps:
// one move for them all).
void GemmStep::loadWgt(int64_t q0, int64_t q1) {
  const int64_t lanes = s.lanes, taps = s.taps, n = tp1 - tp0;
  if (q1 <= q0)
    return;
  if (s.wgtOnce) { // every output tile's, once (GemmSched::weightsOnce)
    if (st.operands[oWgt].begins)
      moveRows(s.tg, sc.loads, false, Cls::Wgt, slot(oWgt), s.tb.wOff[0],
               s.wgtRows);
    return;
  }
  if (s.g.wAct >= 0) {
    // Weights from an activation: output channel j's row is its pixel j
    // (GemmLayer::wAct), the rows past K from the zero block.
    const int64_t valid = std::min(lanes, s.g.K - ko * lanes);
    for (int64_t q = q0; q < q1; ++q) {
      const int64_t row = slot(oWgt) + q * lanes;
      const GemmSched::SegTile st = s.segTile(rel[size_t(ri0 + q)]);
      moveRows(s.tg, sc.loads, false, Cls::Wgt, row,
               s.addr(st.wgt, st.tile, ko * lanes), valid);
      if (valid < lanes)
        moveRows(s.tg, sc.loads, false, Cls::Wgt, row + valid,
                 s.tb.wOff[size_t(ko)], lanes - valid);
    }
    return;
  }
  if (n == taps) {
    moveRows(s.tg, sc.loads, false, Cls::Wgt, slot(oWgt) + q0 * taps * lanes,
             s.tb.wOff[size_t(ko)] +
                 uint64_t((ri0 + q0) * taps * lanes * lanes),
             (q1 - q0) * taps * lanes);
    return;
  }
  for (int64_t q = q0; q < q1; ++q)
    moveRows(s.tg, sc.loads, false, Cls::Wgt, slot(oWgt) + q * n * lanes,
             s.tb.wOff[size_t(ko)] +
                 uint64_t(((ri0 + q) * taps + tp0) * lanes * lanes),
             n * lanes);
}

void GemmStep::loadParam() {
  if (st.operands[oParam].begins && s.g.requant)
    moveRows(s.tg, sc.loads, false, Cls::Param, slot(oParam),
             (s.rqBias ? s.tb.rqParamOff : s.tb.paramOff) +
                 uint64_t((s.paramOnce ? 0 : ko) * s.tableRows * s.lanes * 4),
             s.paramRows);
}

void GemmStep::loadBias() {
  const Target &tg = s.tg;
  const int64_t lanes = s.lanes;
  if (s.gemmBias) {
    if (st.operands[oOnes].begins)
      moveRows(tg, sc.loads, false, Cls::Act, slot(oOnes), s.tb.onesOff, 1);
    if (st.operands[oBw].begins)
      moveRows(tg, sc.loads, false, Cls::Wgt, slot(oBw),
               s.tb.biasTileOff + uint64_t(ko * lanes * lanes), lanes);
  } else if (st.operands[oAcc].begins && !s.noBiasRows) {
    repeatRow(tg, sc.loads, Cls::Acc, slot(oAcc),
              s.tb.biasOff + uint64_t(ko * lanes * 4), rows);
  }
}

void GemmStep::loadAdd() {
  const Target &tg = s.tg;
  const GemmLayer &g = s.g;
  if (s.add && st.operands[oAdd].begins) {
    if (g.add.otherBroadcast)
      repeatRow(tg, sc.loads, Cls::Out, slot(oAdd), s.addr(g.add.other, ko, 0),
                addN);
    else if (s.banded) // (no pool: its conv lines are its output lines)
      moveBand(tg, sc.loads, false, Cls::Out, slot(oAdd),
               s.addr(g.add.other, ko, addP), lines, ow, g.OW, s.add16);
    else
      moveRows(tg, sc.loads, false, Cls::Out, slot(oAdd),
               s.addr(g.add.other, ko, addP), addN, s.add16);
  }
}

// The step's loads. The pipeline fill (a step whose input and weight blocks
// both begin with nothing before them): the input tiles in `pieces` groups,
// each group's input rows and weight tiles together, so the GEMMs of the
// first group start when it has arrived, not after the whole block
// (Problem::fillPieces; the bias rows and tiles the first GEMM needs come
// before them).
void GemmStep::loads(const sp::Problem &p, int64_t pieces) {
  if (pieces > 1) {
    // Weights a prefetching layer loads whole, ahead of the input's
    // pieces (Problem::fillAhead): weight prefetch moves them into the
    // layer before.
    const bool wgtAhead = std::find(p.fillAhead.begin(), p.fillAhead.end(),
                                    size_t(oWgt)) != p.fillAhead.end();
    if (wgtAhead)
      loadWgt(0, ri1 - ri0);
    loadBias();
    for (int64_t k = 0; k < pieces; ++k) {
      const int64_t q0 = (ri1 - ri0) * k / pieces,
                    q1 = (ri1 - ri0) * (k + 1) / pieces;
      loadAct(q0, q1);
      if (!wgtAhead)
        loadWgt(q0, q1);
    }
    loadParam();
    loadAdd();
  } else {
    if (st.operands[oAct].begins)
      loadAct(0, ri1 - ri0);
    if (st.operands[oWgt].begins)
      loadWgt(0, ri1 - ri0);
    loadParam();
    loadBias();
    loadAdd();
  }
}

// The step's array ops: the bias first (reset) when it comes from the
// array, then per input tile and tap the GEMMs of its form.
void GemmStep::arrayOps(LayerInfo &info) {
  const Target &tg = s.tg;
  const GemmLayer &g = s.g;
  const GemmTables &tb = s.tb;
  const int64_t lanes = s.lanes, taps = s.taps;
  if (s.gemmBias && st.operands[oAcc].begins)
    for (int64_t r0 = 0; r0 < rows; r0 += tg.maxOuter) {
      int64_t m = std::min(tg.maxOuter, rows - r0);
      Op gb =
          gemmOp(tg, true, slot(oAcc) + r0, slot(oOnes), slot(oBw), 1, m, 0, 1);
      sc.compute.push_back(gb);
      info.arrayMacs += uint64_t(m * lanes * lanes);
    }
  // Bias by Requant: the block's first GEMMs (one input tile and tap, all
  // its rows) reset the accumulators; when every tile of the block is zero,
  // its first tile runs anyway to clear them.
  bool resetNext = s.rqBias && st.operands[oAcc].begins;
  bool allZero = true;
  for (int64_t ri = ri0; ri < ri1 && allZero; ++ri)
    for (int64_t tap = tp0; tap < tp1 && allZero; ++tap)
      allZero = tb.zero[size_t(ko)][size_t(ri * taps + tap)];
  for (int64_t ri = ri0; ri < ri1; ++ri) {
    int64_t q = ri - ri0;
    for (int64_t tap = tp0; tap < tp1; ++tap) {
      if (tb.zero[size_t(ko)][size_t(ri * taps + tap)] &&
          !(resetNext && allZero))
        continue;
      const bool rs = resetNext; // every GEMM of this (tile, tap)
      resetNext = false;
      int64_t wgt =
          s.wgtOnce ? slot(oWgt) + s.wgtRowOf(ko) + (ri * taps + tap) * lanes
                    : slot(oWgt) + (q * (tp1 - tp0) + tap - tp0) * lanes;
      if (s.flat || s.sub) { // the tile's rows (flat: its lines) in runs
        const int64_t span = s.flat ? lines : rows;
        for (int64_t r0 = 0; r0 < span; r0 += tg.maxInner) {
          int64_t m = std::min(tg.maxInner, span - r0);
          sc.compute.push_back(gemmOp(tg, rs, slot(oAcc) + r0,
                                      slot(oAct) + q * span + r0, wgt, m, 1, 0,
                                      0));
          info.arrayMacs += uint64_t(m * lanes * lanes);
        }
        continue;
      }
      if (g.sum) { // every pixel of the block into one accumulator row
        int64_t base = slot(oAct) + q * blockLines * s.Wp;
        const int64_t px = blockLines * g.W; // the band's pixels
        for (int64_t r0 = 0; r0 < px; r0 += tg.maxOuter) {
          int64_t m = std::min(tg.maxOuter, px - r0);
          // One accumulator row: a reset clears it with the first pixel
          // alone (reset applies to every pixel of a GEMM), the rest add.
          int64_t first = 0;
          if (rs && r0 == 0) {
            sc.compute.push_back(
                gemmOp(tg, true, slot(oAcc), base, wgt, 1, 1, 1, 0));
            first = 1;
          }
          if (m > first)
            sc.compute.push_back(gemmOp(tg, false, slot(oAcc),
                                        base + r0 + first, wgt, 1, m - first, 1,
                                        0));
          info.arrayMacs += uint64_t(m * lanes * lanes);
        }
        continue;
      }
      if (tb.dw) { // one DwGemm per kernel row: its kw taps along the line
        int64_t base = slot(oAct) + q * blockLines * Wb + tap * g.dh * Wb;
        for (int64_t r0 = 0; r0 < cLines; r0 += s.maxDwOuter) {
          int64_t m = std::min(s.maxDwOuter, cLines - r0);
          const bool dwBias = tb.dwBias && tap == 0;
          Op d = dwgemmOp(tg, dwBias || rs, slot(oAcc) + r0 * ow,
                          base + r0 * g.sh * Wb, wgt, ow, m, g.sh * Wb, ow,
                          g.kw, g.sw, dwBias);
          sc.compute.push_back(d);
          info.arrayMacs += uint64_t(streamedRows(d) * lanes * lanes);
        }
        continue;
      }
      int64_t ky = tap / g.kw, kx = tap % g.kw;
      int64_t base =
          slot(oAct) + q * blockLines * Wb + ky * g.dh * Wb + kx * g.dw;
      if (g.sw == 1) {
        for (int64_t r0 = 0; r0 < cLines; r0 += tg.maxOuter) {
          int64_t m = std::min(tg.maxOuter, cLines - r0);
          sc.compute.push_back(gemmOp(tg, rs, slot(oAcc) + r0 * ow,
                                      base + r0 * g.sh * Wb, wgt, ow, m,
                                      g.sh * Wb, ow));
          info.arrayMacs += uint64_t(m * ow * lanes * lanes);
        }
      } else {
        for (int64_t r = 0; r < cLines; ++r) {
          sc.compute.push_back(gemmOp(tg, rs, slot(oAcc) + r * ow,
                                      base + r * g.sh * Wb, wgt, 1, ow, g.sw,
                                      1));
          info.arrayMacs += uint64_t(ow * lanes * lanes);
        }
      }
    }
  }
}

// The tail, once the block is complete: requantize (+ pool / add) and
// store, or store the accumulators.
void GemmStep::tail() {
  const Target &tg = s.tg;
  const GemmLayer &g = s.g;
  const bool banded = s.banded;
  if (!g.requant) {
    if (banded)
      moveBand(tg, sc.tail, true, Cls::Acc, slot(oAcc), s.addr(g.out, ko, outP),
               lines, ow, g.OW);
    else
      moveRows(tg, sc.tail, true, Cls::Acc, slot(oAcc), s.addr(g.out, ko, outP),
               outN);
    return;
  }
  sc.tail.push_back(
      requantOp(tg, slot(oConv), slot(oAcc), rows,
                slot(oParam) + (s.paramOnce ? s.tableRows * ko : 0), g.rq.zp,
                g.rq.lo, g.rq.hi, s.rqBias));
  int64_t result = slot(oConv);
  auto vadd = [&](int64_t at, int64_t n) {
    sc.tail.push_back(vaddOp(tg, at, g.add.convIsA ? at : slot(oAdd),
                             g.add.convIsA ? slot(oAdd) : at, n));
    sc.tail.back().exact = g.add.regs.exact;
    sc.tail.back().w16 = s.add16; // 16-bit rows: a, b and the sum
  };
  if (s.add && g.add.beforePool)
    vadd(result, rows);
  if (s.pool) {
    sc.tail.push_back(poolOp(tg, g.pool.avg, slot(oPool), slot(oConv), outN));
    result = slot(oPool);
  }
  if (s.add && !g.add.beforePool)
    vadd(result, outN);
  // The table applies to the layer's result: the vector op writing it.
  sc.tail.back().lut = s.tb.lut;
  const NTensor *ot = s.outTensor();
  if (ot && ot->ilv) { // a transposed convolution's phase, at its pixels
    const NTensor &own = s.ts[size_t(ot->base)];
    const uint64_t tile = uint64_t(own.dram) + uint64_t((ot->tileOffset + ko) *
                                                        own.P * own.rowBytes());
    phaseStore(tg, sc.tail, Cls::Out, result, tile, outP, outN,
               phasePlace(*ot, own));
  } else if (banded) {
    moveBand(tg, sc.tail, true, Cls::Out, result, s.addr(g.out, ko, outP),
             lines, ow, g.OW, g.out16);
  } else {
    moveRows(tg, sc.tail, true, Cls::Out, result, s.addr(g.out, ko, outP), outN,
             g.out16);
  }
}

} // namespace

// A GEMM layer planned for one bias path (planGemm): its schedule's
// parameters, the loop-nest problem (whose cost model refers to them) and
// the tiling chosen.
struct GemmPlan {
  GemmSched s;
  sp::Problem p;
  sp::PlanResult plan;
  GemmPlan(const Target &tg, const GemmLayer &g, const std::vector<NTensor> &ts,
           const GemmTables &tb, const CodegenOptions &opts, int biasPath)
      : s(tg, g, ts, tb, opts, biasPath) {}
};

void GemmPlanDeleter::operator()(GemmPlan *pl) const { delete pl; }

Expected<GemmPlanPtr> planGemm(const Target &tg, const Layer &L,
                               const std::vector<NTensor> &ts,
                               const GemmTables &tb, const CodegenOptions &opts,
                               int biasPath, LayerInfo &info) {
  EMBER_TRY(refuseForm(tg, L.gemm, ts, tb));
  GemmPlanPtr pl(new GemmPlan(tg, L.gemm, ts, tb, opts, biasPath));
  GemmSched &s = pl->s;
  sp::Problem &p = pl->p;
  gemmSpaces(s, p);
  EMBER_TRY(s.columnBands());
  s.flatTileStride();
  s.tapSplit(p);
  if (!s.tapSizes.empty())
    s.dT = s.banded ? int(dX) + 1 : int(dX);
  s.weightsOnce(p);
  gemmDims(s, p);
  gemmOperands(s, p);
  gemmOperandCosts(s, p);
  p.compute = [&s](const sp::Tiling &t, const std::vector<int64_t> &idx,
                   const std::vector<int64_t> &tile,
                   const std::vector<sp::StepOperand> &so) {
    return gemmStepCycles(s, t, idx, tile, so);
  };
  EMBER_ASSIGN(pl->plan, planLayer(tg, p, s.o, info));
  info.choice.bias = s.path;
  for (TileChoice &c : info.candidates)
    if (c.bias < 0)
      c.bias = s.path;
  return pl;
}

Status emitGemm(const Layer &L, GemmPlan &pl, LayerCode &code,
                LayerInfo &info) {
  const GemmSched &s = pl.s;
  const Target &tg = s.tg;
  const GemmTables &tb = s.tb;
  const sp::Problem &p = pl.p;
  const sp::Tiling &t = pl.plan.tiling;
  EMBER_ASSIGN(Slots slots, gemmSlots(s, p, t));
  gemmSummary(s, info);
  code.tiling = tilingText(p, t);
  info.tiling = code.tiling;
  EMBER_TRY(gemmSetup(s, code));

  std::vector<sp::Step> steps = sp::schedule(p, t);
  code.steps.resize(steps.size());
  // The fill's pieces, as the cost model counted them.
  const int64_t firstPieces = sp::fillPieceCount(p, t, machineOf(tg, s.o));
  for (size_t i = 0; i < steps.size(); ++i) {
    const sp::Step &st = steps[i];
    StepCode &sc = code.steps[i];
    for (size_t k = 0; k < p.operands.size() && i > 0; ++k)
      sc.afterPrev = sc.afterPrev || (t.slots[k] == 1 && t.blocks[k] > 1 &&
                                      st.operands[k].begins);
    GemmStep step(s, t, st, slots, sc);
    const int64_t pieces =
        i == 0 && st.operands[oAct].begins && st.operands[oWgt].begins
            ? std::min<int64_t>(firstPieces, step.ri1 - step.ri0)
            : 1;
    step.loads(p, pieces);
    step.arrayOps(info);
    if (st.operands[oAcc].ends)
      step.tail();
  }
  if (s.wide)
    widen16(tg, L.gemm, tb, s.onePass16, code);
  return Status::ok();
}

Status genGemm(const Target &tg, const Layer &L, const std::vector<NTensor> &ts,
               const GemmTables &tb, const CodegenOptions &opts, int biasPath,
               LayerCode &code, LayerInfo &info) {
  EMBER_ASSIGN(GemmPlanPtr pl, planGemm(tg, L, ts, tb, opts, biasPath, info));
  return emitGemm(L, *pl, code, info);
}

} // namespace ember::accel
