// Code generation for the NPU (docs/npu-backend.md): tiling each layer with
// the SDK's tile planner, packing weights and tables into the static DRAM
// image, emitting double-buffered instruction streams, placing activations
// in DRAM with the SDK's interval planner, and assigning tokens.
#include "Cascade.h"
#include "CodegenInternal.h"
#include "Emit.h"
#include "Pack.h"
#include "Program.h"
#include "Stream.h"
#include "Stripes.h"
#include "Tokens.h"

#include "ember/npu/Arith.h"
#include "ember/scratchpad/IntervalPlanner.h"
#include "ember/scratchpad/TilePlanner.h"

#include <algorithm>
#include <cstring>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <tuple>

namespace ember::npusim {

using npu::Insn;
using npu::Opcode;
namespace sp = ember::scratchpad;

namespace {

// An operand of a tiling problem (the scratchpad library's aggregate).
sp::Operand
operand(std::string name, int space, sp::Role role, std::vector<size_t> dims,
        std::function<uint64_t(const std::vector<int64_t> &)> footprint,
        std::function<uint64_t(const std::vector<int64_t> &)> bytes) {
  sp::Operand o;
  o.name = std::move(name);
  o.space = size_t(space);
  o.role = role;
  o.dims = std::move(dims);
  o.footprint = std::move(footprint);
  o.bytes = std::move(bytes);
  return o;
}

// Plans a layer: by the cost model (predicted cycles) or by DMA bytes; or
// the tiling the tuner forces (checked to fit). With o.candidates, the
// model's best tilings go to info.candidates (bias filled in by the caller).
sp::PlanResult planLayer(const sp::Problem &layer, const CodegenOptions &o,
                         LayerInfo &info) {
  sp::Problem p = layer;
  sp::PlanOptions po;
  sp::Machine m = npuMachine(o);
  const unsigned keep = std::max(1u, o.candidates);
  if (o.cycleTiling && p.compute) {
    po.cost = sp::cycleCost(m, keep);
    po.greedyAlternatives = 8;
    po.keep = keep;
  }
  // One side of a striped boundary (Stripes.h): the y loop (dim 1 of a GEMM
  // or pool layer's problem) outside the output-tile loop (dim 2), so each
  // stripe of lines is complete across the channel tiles before the next
  // begins (Problem::outside).
  if (o.striped && p.dims.size() >= 3)
    p.outside = {{1, 2}};
  sp::PlanResult r;
  if (o.force) {
    sp::Tiling t;
    t.tile = o.force->tile;
    t.order = o.force->order;
    std::vector<size_t> sorted = t.order;
    std::sort(sorted.begin(), sorted.end());
    bool shape =
        t.tile.size() == p.dims.size() && sorted.size() == p.dims.size();
    for (size_t d = 0; shape && d < sorted.size(); ++d)
      shape = sorted[d] == d && t.tile[d] >= 1 &&
              t.tile[d] <= std::max<int64_t>(p.dims[d].extent, 1);
    sp::PlanOptions fit;
    if (!shape || !sp::evaluate(p, fit, t)) {
      r.error =
          "the tuned tiling (" + o.force->text() + ") does not fit this layer";
      return r;
    }
    if (!sp::keepsOrder(p, t)) {
      r.error = "the tuned tiling (" + o.force->text() +
                ") does not keep the lines outermost";
      return r;
    }
    r.ok = true;
    r.tiling = t;
    r.ranked = {t};
  } else {
    r = sp::planTiles(p, po);
  }
  if (!r.ok)
    return r;
  info.choice.tile = r.tiling.tile;
  info.choice.order = r.tiling.order;
  if (p.compute && o.predict) {
    const sp::Prediction pr = sp::predictCycles(p, r.tiling, m);
    info.predictedCycles = pr.cycles;
    info.predictedCompute = pr.computeCycles;
    info.predictedLoad = pr.loadCycles;
  }
  info.choice.predicted = info.predictedCycles;
  if (o.candidates && !o.force)
    for (const sp::Tiling &t : r.ranked) {
      TileChoice c;
      c.tile = t.tile;
      c.order = t.order;
      c.predicted = p.compute ? sp::predictCycles(p, t, m).cycles : t.cost;
      info.candidates.push_back(std::move(c));
    }
  return r;
}

// ---- per-layer code: a tiling and, per step, its loads, compute and tail --

// "" when LOAD and MOVE can encode padding (pt, pl, pb, pr), else why not.
std::string padError(int64_t pt, int64_t pl, int64_t pb, int64_t pr) {
  static_assert(
      EMBER_NPU_F_LOAD_PAD_TOP_WIDTH == EMBER_NPU_F_MOVE_PAD_TOP_WIDTH &&
          EMBER_NPU_F_LOAD_PAD_LEFT_WIDTH == EMBER_NPU_F_LOAD_PAD_TOP_WIDTH &&
          EMBER_NPU_F_LOAD_PAD_BOTTOM_WIDTH == EMBER_NPU_F_LOAD_PAD_TOP_WIDTH &&
          EMBER_NPU_F_LOAD_PAD_RIGHT_WIDTH == EMBER_NPU_F_LOAD_PAD_TOP_WIDTH,
      "one pad width for every side of LOAD and MOVE");
  const int64_t most = (int64_t(1) << EMBER_NPU_F_LOAD_PAD_TOP_WIDTH) - 1;
  if (std::max({pt, pl, pb, pr}) <= most && std::min({pt, pl, pb, pr}) >= 0)
    return "";
  return "pads " + std::to_string(pt) + "," + std::to_string(pl) + "," +
         std::to_string(pb) + "," + std::to_string(pr) +
         " (top, left, bottom, right) cannot be encoded: LOAD pads 0 to " +
         std::to_string(most) + " per side";
}

// Bytes of tensor `k` in DRAM (0 for a layer checked before it exists).
uint64_t tensorBytes(const std::vector<NTensor> &ts, int k) {
  return k >= 0 && size_t(k) < ts.size() ? ts[size_t(k)].bytes() : 0;
}

// Scratchpad rows of each operand's slots, allocated in order per space.
struct Slots {
  std::vector<std::vector<int64_t>> base; // per operand, per slot
  std::string error;
};

// Slots from the bottom of each scratchpad, or (fromTop) from its top down,
// so that consecutive layers, placed from alternate ends, overlap only when
// together they need more than the scratchpad: the next layer's weights
// can then load while the layer before still computes (weight prefetch).
Slots allocate(const sp::Problem &p, const sp::Tiling &t, bool fromTop) {
  Slots s;
  std::vector<int64_t> cursor(p.spaces.size(), 0);
  s.base.resize(p.operands.size());
  for (size_t k = 0; k < p.operands.size(); ++k) {
    const sp::Operand &op = p.operands[k];
    int64_t n = op.footprint ? int64_t(op.footprint(t.tile)) : 0;
    for (unsigned sl = 0; sl < t.slots[k]; ++sl) {
      cursor[op.space] += n;
      s.base[k].push_back(fromTop ? int64_t(npu::memRows(int(op.space))) -
                                        cursor[op.space]
                                  : cursor[op.space] - n);
    }
  }
  for (size_t i = 0; i < p.spaces.size(); ++i)
    if (p.spaces[i].capacity && uint64_t(cursor[i]) > p.spaces[i].capacity)
      s.error = "internal: slots overflow " + p.spaces[i].name;
  return s;
}

std::vector<sp::Space> npuSpaces() {
  std::vector<sp::Space> v;
  for (int m = 0; m < npu::kNumMems; ++m)
    v.push_back({npu::memName(m), uint64_t(npu::memRows(m))});
  return v;
}

std::string tilingText(const sp::Problem &p, const sp::Tiling &t) {
  std::ostringstream os;
  for (size_t i = 0; i < t.order.size(); ++i) {
    size_t d = t.order[i];
    os << (i ? " " : "") << p.dims[d].name << "=" << t.tile[d] << "x"
       << t.count[d];
  }
  return os.str();
}

// Emits one layer given its problem and a function producing step code.
// ---- GEMM layers -------------------------------------------------------

std::string genGemm(const Layer &L, const std::vector<NTensor> &ts,
                    const GemmTables &tb, const CodegenOptions &o, int biasPath,
                    LayerCode &code, LayerInfo &info) {
  // The path taken: the one asked for where the layer allows it, else DRAM.
  const int path = tb.biasPathUsable(biasPath) ? biasPath : 0;
  const bool gemmBias = path == 1;
  const bool rqBias = path == 2;
  const bool noBiasRows = gemmBias || rqBias || tb.dwBias; // no bias LOADs
  const GemmLayer &g = L.gemm;
  Addr addr{ts};
  // Weight tiles per input tile: one per tap, one per kernel row (DWGEMM).
  const int64_t Kt = ceilDiv(g.K, kDim),
                taps = g.sum ? 1 : (tb.dw ? g.kh : g.kh * g.kw);
  int64_t kcExt = 1;
  bool actByKo = false;
  for (auto &r : tb.rel) {
    kcExt = std::max<int64_t>(kcExt, int64_t(r.size()));
    if (r != tb.rel[0])
      actByKo = true;
  }
  const int64_t ekh = (g.kh - 1) * g.dh + 1, ekw = (g.kw - 1) * g.dw + 1;
  const int64_t Wp = g.W + g.pl + g.pr;
  const bool pool = g.pool.on, add = g.add.on;
  // The pooled output size (fused pooling has no padding).
  const int64_t POH = pool ? (g.OH - g.pool.kh) / g.pool.s + 1 : g.OH;
  const int64_t POW = pool ? (g.OW - g.pool.kw) / g.pool.s + 1 : g.OW;
  (void)ekw;

  sp::Problem p;
  p.spaces = npuSpaces();
  for (size_t m = 0; m < o.shareRows.size() && m < p.spaces.size(); ++m)
    if (o.shareRows[m])
      p.spaces[m].capacity = std::min(p.spaces[m].capacity, o.shareRows[m]);
  enum { dN, dY, dKo, dKc };
  const bool flat = g.flat;
  // A strided 1x1 convolution without padding reads every sh-th line and
  // sw-th pixel: one LOAD per output line picks those pixels (ysize = OW,
  // stride = sw rows), so the block is dense and one GEMM covers all its
  // rows (instead of one GEMM of OW rows per line, which wastes the array
  // when OW < DIM).
  const bool sub = !flat && !g.sum && g.kh == 1 && g.kw == 1 &&
                   (g.sh > 1 || g.sw > 1) && g.pt == 0 && g.pb == 0 &&
                   g.pl == 0 && g.pr == 0 && g.sw <= 4095;
  const int64_t P = g.N * g.OH * g.OW;
  // A flat block's input tiles in one 2-D LOAD (a line per input tile,
  // `actTileStride` DRAM rows apart) when every output tile reads its input
  // tiles at one constant step: one DRAM latency per block instead of one
  // per input tile (a 960-channel 7x7 layer paid 60 x 70 cycles for it).
  int64_t actTileStride = 0;
  if (flat) {
    int64_t step = 0;
    bool regular = true;
    for (auto &r : tb.rel)
      for (size_t i = 1; i < r.size(); ++i) {
        int64_t d = r[i] - r[i - 1];
        regular = regular && d > 0 && (step == 0 || d == step);
        step = d;
      }
    const int64_t rowStride =
        int64_t(addr(g.in, 1, 0) - addr(g.in, 0, 0)) / kDim;
    if (regular && rowStride > 0 &&
        std::max<int64_t>(step, 1) * rowStride <= kMaxStride)
      actTileStride = std::max<int64_t>(step, 1) * rowStride;
  }
  // DMA instructions that load `tiles` input tiles of `lines` flat rows.
  auto flatActTransfers = [&](int64_t tiles, int64_t lines) {
    if (actTileStride && lines <= kMaxLoop)
      return uint64_t(ceilDiv(tiles, kMaxLoop));
    return uint64_t(tiles) * moveRowsCount(lines);
  };
  if (flat) {
    p.dims = {{"n", 1, false, {1}},
              {"p", P, false, {}},
              {"ko", Kt, false, {1}},
              {"kc", kcExt, true, {}}};
  } else {
    p.dims = {{"n", g.N, false, {1}},
              {"y", POH, false, {}},
              {"ko", Kt, false, {1}},
              {"kc", kcExt, true, {}}};
  }
  p.greedyDim = dY;
  p.fillDim = dKc;
  p.fillPieces = std::max(1u, o.fillPieces);
  // The cost model may single-buffer an operand that double buffering
  // does not fit (Problem::singleBufferFallback); DMA-bytes tiling keeps
  // double buffering.
  p.singleBufferFallback = o.cycleTiling;
  // Output units (pixels or lines) -> conv lines, conv rows, input lines.
  auto convLines = [&](int64_t y) {
    return pool ? (y - 1) * g.pool.s + g.pool.kh : y;
  };
  auto accRows = [&](const std::vector<int64_t> &t) {
    return flat ? t[dY] : convLines(t[dY]) * g.OW;
  };
  auto inLines = [&](int64_t y) {
    return std::min(g.H + g.pt + g.pb, (convLines(y) - 1) * g.sh + ekh);
  };
  auto actRows = [&](const std::vector<int64_t> &t) {
    if (sub)
      return convLines(t[dY]) * g.OW * t[dKc];
    return (flat ? t[dY] : inLines(t[dY]) * Wp) * t[dKc];
  };
  // Of those, the rows read from the input (the rest is padding the LOAD
  // writes): an interior block's lines, at most H (edge blocks read fewer).
  auto actDataRows = [&](const std::vector<int64_t> &t) {
    if (flat || sub)
      return actRows(t);
    return std::min(g.H, inLines(t[dY])) * g.W * t[dKc];
  };
  auto outRows = [&](const std::vector<int64_t> &t) {
    return flat ? t[dY] : t[dY] * POW;
  };
  // The add's operand covers the conv rows (add before pool) or the
  // output rows.
  auto addRows = [&](const std::vector<int64_t> &t) {
    return g.add.beforePool ? accRows(t) : outRows(t);
  };
  enum { oAct, oWgt, oAcc, oBias, oParam, oConv, oPool, oAdd, oOnes, oBw };
  std::vector<size_t> actDims = {dN, dY, dKc};
  if (actByKo)
    actDims = {dN, dY, dKo, dKc};
  auto u = [](int64_t v) { return uint64_t(v); };
  p.operands.push_back(operand(
      "act", EMBER_NPU_MEM_ACT, sp::Role::Input, actDims,
      [&](const std::vector<int64_t> &t) { return u(actRows(t)); },
      [&](const std::vector<int64_t> &t) {
        return u(actDataRows(t) * kDim); // DRAM bytes: no padding
      }));
  p.operands.push_back(operand(
      "wgt", EMBER_NPU_MEM_WGT, sp::Role::Input, {dKo, dKc},
      [&](const std::vector<int64_t> &t) { return u(t[dKc] * taps * kDim); },
      [&](const std::vector<int64_t> &t) {
        return u(t[dKc] * taps * kDim * kDim);
      }));
  p.operands.push_back(operand(
      "acc", EMBER_NPU_MEM_ACC,
      g.requant ? sp::Role::Accumulator : sp::Role::Output, {dN, dY, dKo},
      [&](const std::vector<int64_t> &t) { return u(accRows(t)); },
      [&](const std::vector<int64_t> &t) { return u(accRows(t) * kDim * 4); }));
  p.operands.push_back(
      operand("bias", EMBER_NPU_MEM_ACC, sp::Role::Input, {dN, dY, dKo},
              nullptr, [&](const std::vector<int64_t> &t) {
                return noBiasRows ? 0 : u(accRows(t) * kDim * 4);
              }));
  // The requantization table of every output tile loaded once, when it
  // takes at most an eighth of ACC, instead of two rows per output tile
  // each time the output tile changes (one DMA latency per step on a layer
  // whose weights stream, e.g. a 1-pixel fully connected layer).
  // With the bias by REQUANT, a table is three rows (mult, shift, bias).
  const int64_t tableRows = rqBias ? 3 : 2;
  const bool paramOnce = g.requant && Kt > 1 &&
                         tableRows * Kt * 8 <= npu::memRows(EMBER_NPU_MEM_ACC);
  const int64_t paramRows =
      g.requant ? (paramOnce ? tableRows * Kt : tableRows) : 0;
  p.operands.push_back(operand(
      "param", EMBER_NPU_MEM_ACC, sp::Role::Input,
      paramOnce ? std::vector<size_t>{} : std::vector<size_t>{dKo},
      [&](const std::vector<int64_t> &) { return u(paramRows); },
      [&](const std::vector<int64_t> &) { return u(paramRows * kDim * 4); }));
  p.operands.push_back(operand(
      "conv", EMBER_NPU_MEM_OUT,
      pool || !g.requant ? sp::Role::Accumulator : sp::Role::Output,
      {dN, dY, dKo},
      [&](const std::vector<int64_t> &t) {
        return u(g.requant ? accRows(t) : 0);
      },
      [&](const std::vector<int64_t> &t) {
        return u(g.requant ? accRows(t) * kDim : 0);
      }));
  p.operands.push_back(operand(
      "pool", EMBER_NPU_MEM_OUT, sp::Role::Output, {dN, dY, dKo},
      [&](const std::vector<int64_t> &t) { return u(pool ? outRows(t) : 0); },
      [&](const std::vector<int64_t> &t) {
        return u(pool ? outRows(t) * kDim : 0);
      }));
  p.operands.push_back(operand(
      "add", EMBER_NPU_MEM_OUT, sp::Role::Input, {dN, dY, dKo},
      [&](const std::vector<int64_t> &t) { return u(add ? addRows(t) : 0); },
      [&](const std::vector<int64_t> &t) {
        return u(add ? addRows(t) * kDim : 0);
      }));
  // Bias by GEMM: the constant row in ACT, the bias tile of ko in WGT.
  p.operands.push_back(operand(
      "ones", EMBER_NPU_MEM_ACT, sp::Role::Input, {},
      [&](const std::vector<int64_t> &) { return u(gemmBias ? 1 : 0); },
      [&](const std::vector<int64_t> &) { return u(gemmBias ? kDim : 0); }));
  p.operands.push_back(operand(
      "biastile", EMBER_NPU_MEM_WGT, sp::Role::Input, {dKo},
      [&](const std::vector<int64_t> &) { return u(gemmBias ? kDim : 0); },
      [&](const std::vector<int64_t> &) {
        return u(gemmBias ? kDim * kDim : 0);
      }));
  // The cost model's side of each operand: DMA instructions per block, the
  // scratchpad rows they write, the engine using it (0 GEMM, 1 VECTOR).
  {
    auto &ops = p.operands;
    ops[oAct].transfers = [&](const std::vector<int64_t> &t) {
      if (sub)
        return u(t[dKc] * convLines(t[dY]));
      return flat ? flatActTransfers(t[dKc], t[dY]) : u(t[dKc]);
    };
    ops[oAct].rows = ops[oAct].footprint;
    ops[oAct].padRows = [&](const std::vector<int64_t> &t) {
      return u(actRows(t) - actDataRows(t));
    };
    ops[oWgt].transfers = [&](const std::vector<int64_t> &t) {
      return moveRowsCount(t[dKc] * taps * kDim);
    };
    ops[oWgt].rows = ops[oWgt].footprint;
    ops[oBias].transfers = [&](const std::vector<int64_t> &t) {
      return noBiasRows ? 0 : repeatRowCount(accRows(t));
    };
    ops[oBias].rows = [&](const std::vector<int64_t> &t) {
      return noBiasRows ? 0 : u(accRows(t));
    };
    ops[oOnes].rows = ops[oOnes].footprint;
    ops[oBw].rows = ops[oBw].footprint;
    ops[oBias].engine = g.requant ? 1 : 0; // the ACC slot frees on REQUANT
    ops[oBias].reader = 0;                 // GEMMs accumulate onto it
    ops[oParam].rows = ops[oParam].footprint;
    ops[oParam].engine = 1;
    ops[oAcc].transfers = [&](const std::vector<int64_t> &t) {
      return g.requant ? 0 : moveRowsCount(outRows(t));
    };
    ops[oAcc].rows = ops[oAcc].footprint;
    ops[oConv].transfers = [&](const std::vector<int64_t> &t) {
      return g.requant && !pool ? moveRowsCount(outRows(t)) : 0;
    };
    ops[oConv].rows = ops[oConv].footprint;
    ops[oConv].engine = 1;
    ops[oPool].transfers = [&](const std::vector<int64_t> &t) {
      return pool ? moveRowsCount(outRows(t)) : 0;
    };
    ops[oPool].rows = ops[oPool].footprint;
    ops[oPool].engine = 1;
    ops[oAdd].transfers = [&](const std::vector<int64_t> &t) {
      return !add                   ? 0
             : g.add.otherBroadcast ? repeatRowCount(addRows(t))
                                    : moveRowsCount(addRows(t));
    };
    ops[oAdd].rows = ops[oAdd].footprint;
    ops[oAdd].engine = 1;
    // The order the step code below issues its loads in.
    p.loadOrder = {oAct, oWgt, oParam, oOnes, oBw, oBias, oAdd};
    if (o.prefetchable) { // the constant loads first (weight prefetch)
      p.firstLoadOrder = {oWgt, oParam, oOnes, oBw, oBias, oAct, oAdd};
      // The fill pieces the input alone: the weights move to the layer
      // before (the code below loads them whole ahead of the pieces).
      p.fillAhead = {oWgt};
    }
    // Layer cascading: the input block comes by MOVE from OUT (the spec's
    // MOVE: one row a cycle on the LOAD engine, padding included, no DRAM
    // access and so no DRAM latency and no share of the DRAM channel), the
    // output stays in OUT (no STORE).
    if (o.inOnChip) {
      ops[oAct].onChip = true;
      ops[oAct].transfers = [](const std::vector<int64_t> &) {
        return uint64_t(0);
      };
    }
    if (o.outOnChip)
      for (int k : {int(oConv), int(oPool)})
        if (ops[size_t(k)].role == sp::Role::Output) {
          ops[size_t(k)].bytes = nullptr;
          ops[size_t(k)].transfers = nullptr;
        }
  }
  // Compute per step: the GEMMs the step code below emits, then (when the
  // accumulator block is complete) REQUANT, VADD, POOL on VECTOR.
  p.compute = [&](const sp::Tiling &t, const std::vector<int64_t> &idx,
                  const std::vector<int64_t> &tile,
                  const std::vector<sp::StepOperand> &so) {
    std::vector<uint64_t> cyc(2, 0);
    const int64_t ko = idx[dKo];
    const std::vector<int64_t> &rel = tb.rel[size_t(ko)];
    const int64_t ri0 = idx[dKc] * t.tile[dKc];
    const int64_t ri1 = std::min<int64_t>(int64_t(rel.size()), ri0 + tile[dKc]);
    const int64_t lines = tile[dY];
    const int64_t cLines = flat ? 0 : convLines(lines);
    uint64_t one = 0; // one (input tile, tap)
    if (flat) {
      for (int64_t r0 = 0; r0 < lines; r0 += kMaxLoop)
        one += gemmCycles(std::min(kMaxLoop, lines - r0));
    } else if (g.sum) {
      for (int64_t r0 = 0; r0 < g.H * g.W; r0 += kMaxLoop)
        one += gemmCycles(std::min(kMaxLoop, g.H * g.W - r0));
    } else if (sub) {
      for (int64_t r0 = 0; r0 < cLines * g.OW; r0 += kMaxLoop)
        one += gemmCycles(std::min(kMaxLoop, cLines * g.OW - r0));
    } else if (tb.dw) { // a line streams (OW - 1) * sw + kw rows
      for (int64_t r0 = 0; r0 < cLines; r0 += kMaxLoop)
        one += gemmCycles(std::min(kMaxLoop, cLines - r0) *
                          ((g.OW - 1) * g.sw + g.kw));
    } else if (g.sw == 1) {
      for (int64_t r0 = 0; r0 < cLines; r0 += kMaxLoop)
        one += gemmCycles(std::min(kMaxLoop, cLines - r0) * g.OW);
    } else {
      one = uint64_t(cLines) * gemmCycles(g.OW);
    }
    for (int64_t ri = ri0; ri < ri1; ++ri)
      for (int64_t tap = 0; tap < taps; ++tap)
        if (!tb.zero[size_t(ko)][size_t(ri * taps + tap)])
          cyc[0] += one;
    if (gemmBias && so[oAcc].begins) {
      const int64_t rows = flat ? lines : cLines * g.OW;
      for (int64_t r0 = 0; r0 < rows; r0 += kMaxLoop)
        cyc[0] += gemmCycles(std::min(kMaxLoop, rows - r0));
    }
    if (so[oAcc].ends && g.requant) {
      const int64_t rows = flat ? lines : cLines * g.OW;
      const int64_t outN = flat ? lines : lines * POW;
      cyc[1] += vectorCycles(rows);
      if (add)
        cyc[1] += vectorCycles(g.add.beforePool ? rows : outN);
      if (pool)
        cyc[1] += vectorCycles(outN * g.pool.kh * g.pool.kw);
    }
    return cyc;
  };
  sp::PlanResult plan = planLayer(p, o, info);
  if (!plan.ok)
    return "does not fit the scratchpads: " + plan.error;
  info.choice.bias = path;
  for (TileChoice &c : info.candidates)
    if (c.bias < 0)
      c.bias = path;
  const sp::Tiling &t = plan.tiling;
  Slots slots = allocate(p, t, o.slotsFromTop);
  if (!slots.error.empty())
    return slots.error;
  {
    // Compulsory DRAM bytes: the input, weights and tables once, the add
    // operand and the output once.
    uint64_t b = (o.inOnChip ? 0 : tensorBytes(ts, g.in)) +
                 (o.outOnChip ? 0 : tensorBytes(ts, g.out));
    for (auto &r : tb.rel)
      b += uint64_t(r.size() * taps * kDim * kDim) + uint64_t(kDim * 4) +
           (g.requant ? uint64_t(2 * kDim * 4) : 0);
    if (add)
      b += tensorBytes(ts, g.add.other);
    info.minDramBytes = b;
    std::ostringstream os;
    os << "C" << g.C << " K" << g.K << " " << g.kh << "x" << g.kw << "/" << g.sh
       << " g" << g.groups << " " << g.OH << "x" << g.OW;
    info.shape = os.str();
  }
  code.tiling = tilingText(p, t);
  info.tiling = code.tiling;

  code.setup.push_back(setregInsn(EMBER_NPU_REG_PAD_VALUE, g.padValue));
  if (pool) {
    code.setup.push_back(setregInsn(EMBER_NPU_REG_POOL_KH, int32_t(g.pool.kh)));
    code.setup.push_back(setregInsn(EMBER_NPU_REG_POOL_KW, int32_t(g.pool.kw)));
    code.setup.push_back(
        setregInsn(EMBER_NPU_REG_POOL_STRIDE, int32_t(g.pool.s)));
    code.setup.push_back(setregInsn(EMBER_NPU_REG_POOL_IN_W, int32_t(g.OW)));
    code.setup.push_back(setregInsn(EMBER_NPU_REG_POOL_OUT_W, int32_t(POW)));
  }
  if (add) {
    const AddRegs &r = g.add.regs;
    const std::pair<unsigned, int32_t> regs[] = {
        {EMBER_NPU_REG_ADD_LSHIFT, r.lshift},
        {EMBER_NPU_REG_ADD_A_ZP, r.aZp},
        {EMBER_NPU_REG_ADD_A_MULT, r.aMult},
        {EMBER_NPU_REG_ADD_A_SHIFT, r.aShift},
        {EMBER_NPU_REG_ADD_B_ZP, r.bZp},
        {EMBER_NPU_REG_ADD_B_MULT, r.bMult},
        {EMBER_NPU_REG_ADD_B_SHIFT, r.bShift},
        {EMBER_NPU_REG_ADD_OUT_MULT, r.outMult},
        {EMBER_NPU_REG_ADD_OUT_SHIFT, r.outShift},
        {EMBER_NPU_REG_ADD_OUT_ZP, r.outZp},
        {EMBER_NPU_REG_ADD_MIN, r.lo},
        {EMBER_NPU_REG_ADD_MAX, r.hi}};
    for (auto &kv : regs)
      code.setup.push_back(setregInsn(kv.first, kv.second));
  }

  std::vector<sp::Step> steps = sp::schedule(p, t);
  code.steps.resize(steps.size());
  const int64_t Y = flat ? P : POH;
  // The fill's pieces, as the cost model counted them.
  const int64_t firstPieces = sp::fillPieceCount(p, t, npuMachine(o));
  for (size_t s = 0; s < steps.size(); ++s) {
    const sp::Step &st = steps[s];
    StepCode &sc = code.steps[s];
    for (size_t k = 0; k < p.operands.size() && s > 0; ++k)
      sc.afterPrev = sc.afterPrev || (t.slots[k] == 1 && t.blocks[k] > 1 &&
                                      st.operands[k].begins);
    auto slot = [&](int op) {
      return slots.base[size_t(op)][st.operands[size_t(op)].slot];
    };
    const int64_t n = st.index[dN], ko = st.index[dKo], kc = st.index[dKc];
    const int64_t y0 = st.index[dY] * t.tile[dY];
    const int64_t y1 = std::min(Y, y0 + t.tile[dY]);
    const int64_t lines = y1 - y0;
    const std::vector<int64_t> &rel = tb.rel[size_t(ko)];
    const int64_t ri0 = kc * t.tile[dKc];
    const int64_t ri1 =
        std::min<int64_t>(int64_t(rel.size()), ri0 + t.tile[dKc]);
    // Conv lines of this tile and the input lines they read.
    const int64_t cy0 = flat ? 0 : (pool ? y0 * g.pool.s : y0);
    const int64_t cLines = flat ? 0 : convLines(lines);
    const int64_t rows = flat ? lines : cLines * g.OW; // accumulator rows
    const int64_t iy0 = cy0 * g.sh - g.pt;
    const int64_t iy1 = (cy0 + cLines - 1) * g.sh - g.pt + ekh;
    const int64_t vy0 = std::max<int64_t>(0, iy0),
                  vy1 = std::min<int64_t>(g.H, iy1);
    const int64_t blockLines = iy1 - iy0;
    // Loads.
    auto loadAct = [&](int64_t q0, int64_t q1) {
      if (flat && actTileStride && lines <= kMaxLoop) {
        for (int64_t a = q0; a < q1; a += kMaxLoop) {
          int64_t b = std::min(q1, a + kMaxLoop);
          sc.loads.push_back(loadInsn(EMBER_NPU_MEM_ACT, slot(oAct) + a * lines,
                                      addr(g.in, rel[size_t(ri0 + a)], y0),
                                      b - a, lines, actTileStride));
        }
        return;
      }
      for (int64_t ri = ri0 + q0; ri < ri0 + q1; ++ri) {
        int64_t q = ri - ri0, ci = rel[size_t(ri)];
        if (flat) {
          moveRows(sc.loads, false, EMBER_NPU_MEM_ACT, slot(oAct) + q * lines,
                   addr(g.in, ci, y0), lines);
        } else if (sub) {
          for (int64_t r = 0; r < cLines; ++r)
            sc.loads.push_back(loadInsn(
                EMBER_NPU_MEM_ACT, slot(oAct) + (q * cLines + r) * g.OW,
                addr(g.in, ci, (n * g.H + (cy0 + r) * g.sh) * g.W), g.OW, 1,
                g.sw));
        } else {
          sc.loads.push_back(loadInsn(EMBER_NPU_MEM_ACT,
                                      slot(oAct) + q * blockLines * Wp,
                                      addr(g.in, ci, (n * g.H + vy0) * g.W),
                                      std::max<int64_t>(0, vy1 - vy0), g.W, g.W,
                                      vy0 - iy0, iy1 - vy1, g.pl, g.pr));
        }
      }
    };
    auto loadWgt = [&](int64_t q0, int64_t q1) {
      if (q1 > q0)
        moveRows(
            sc.loads, false, EMBER_NPU_MEM_WGT, slot(oWgt) + q0 * taps * kDim,
            tb.wOff[size_t(ko)] + uint64_t((ri0 + q0) * taps * kDim * kDim),
            (q1 - q0) * taps * kDim);
    };
    // The pipeline fill (a step whose input and weight blocks both begin
    // with nothing before them): the input tiles in `pieces` groups, each
    // group's input rows and weight tiles together, so the GEMMs of the
    // first group start when it has arrived, not after the whole block
    // (Problem::fillPieces; the bias rows and tiles the first GEMM needs
    // come before them).
    const int64_t pieces =
        s == 0 && st.operands[oAct].begins && st.operands[oWgt].begins
            ? std::min<int64_t>(firstPieces, ri1 - ri0)
            : 1;
    auto loadParam = [&] {
      if (st.operands[oParam].begins && g.requant)
        moveRows(sc.loads, false, EMBER_NPU_MEM_ACC, slot(oParam),
                 (rqBias ? tb.rqParamOff : tb.paramOff) +
                     uint64_t((paramOnce ? 0 : ko) * tableRows * kDim * 4),
                 paramRows);
    };
    auto loadBias = [&] {
      if (gemmBias) {
        if (st.operands[oOnes].begins)
          moveRows(sc.loads, false, EMBER_NPU_MEM_ACT, slot(oOnes), tb.onesOff,
                   1);
        if (st.operands[oBw].begins)
          moveRows(sc.loads, false, EMBER_NPU_MEM_WGT, slot(oBw),
                   tb.biasTileOff + uint64_t(ko * kDim * kDim), kDim);
      } else if (st.operands[oAcc].begins && !noBiasRows) {
        repeatRow(sc.loads, EMBER_NPU_MEM_ACC, slot(oAcc),
                  tb.biasOff + uint64_t(ko * kDim * 4), rows);
      }
    };
    const int64_t outP = flat ? y0 : (n * POH + y0) * POW; // first out pixel
    const int64_t outN = flat ? lines : lines * POW;       // out rows
    // The add's rows: the conv rows of this tile (add before pool) or its
    // output rows.
    const int64_t addP = g.add.beforePool ? (n * g.OH + cy0) * g.OW : outP;
    const int64_t addN = g.add.beforePool ? rows : outN;
    auto loadAdd = [&] {
      if (add && st.operands[oAdd].begins) {
        if (g.add.otherBroadcast)
          repeatRow(sc.loads, EMBER_NPU_MEM_OUT, slot(oAdd),
                    addr(g.add.other, ko, 0), addN);
        else
          moveRows(sc.loads, false, EMBER_NPU_MEM_OUT, slot(oAdd),
                   addr(g.add.other, ko, addP), addN);
      }
    };
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
    // GEMMs: the bias first (reset) when it comes from the array.
    if (gemmBias && st.operands[oAcc].begins)
      for (int64_t r0 = 0; r0 < rows; r0 += kMaxLoop) {
        int64_t m = std::min(kMaxLoop, rows - r0);
        Insn gb =
            gemmInsn(true, slot(oAcc) + r0, slot(oOnes), slot(oBw), 1, m, 0, 1);
        sc.compute.push_back(gb);
        info.arrayMacs += uint64_t(m * kDim * kDim);
      }
    // Bias by REQUANT: the block's first GEMMs (one input tile and tap, all
    // its rows) reset the accumulators; when every tile of the block is zero,
    // its first tile runs anyway to clear them.
    bool resetNext = rqBias && st.operands[oAcc].begins;
    bool allZero = true;
    for (int64_t k = ri0 * taps; k < ri1 * taps && allZero; ++k)
      allZero = tb.zero[size_t(ko)][size_t(k)];
    for (int64_t ri = ri0; ri < ri1; ++ri) {
      int64_t q = ri - ri0;
      for (int64_t tap = 0; tap < taps; ++tap) {
        if (tb.zero[size_t(ko)][size_t(ri * taps + tap)] &&
            !(resetNext && allZero))
          continue;
        const bool rs = resetNext; // every GEMM of this (tile, tap)
        resetNext = false;
        int64_t wgt = slot(oWgt) + (q * taps + tap) * kDim;
        if (flat) {
          for (int64_t r0 = 0; r0 < lines; r0 += kMaxLoop) {
            int64_t m = std::min(kMaxLoop, lines - r0);
            sc.compute.push_back(gemmInsn(rs, slot(oAcc) + r0,
                                          slot(oAct) + q * lines + r0, wgt, m,
                                          1, 0, 0));
            info.arrayMacs += uint64_t(m * kDim * kDim);
          }
          continue;
        }
        if (sub) {
          for (int64_t r0 = 0; r0 < rows; r0 += kMaxLoop) {
            int64_t m = std::min(kMaxLoop, rows - r0);
            sc.compute.push_back(gemmInsn(rs, slot(oAcc) + r0,
                                          slot(oAct) + q * rows + r0, wgt, m, 1,
                                          0, 0));
            info.arrayMacs += uint64_t(m * kDim * kDim);
          }
          continue;
        }
        if (g.sum) { // every pixel of the block into one accumulator row
          int64_t base = slot(oAct) + q * blockLines * Wp;
          for (int64_t r0 = 0; r0 < g.H * g.W; r0 += kMaxLoop) {
            int64_t m = std::min(kMaxLoop, g.H * g.W - r0);
            sc.compute.push_back(
                gemmInsn(rs, slot(oAcc), base + r0, wgt, 1, m, 1, 0));
            info.arrayMacs += uint64_t(m * kDim * kDim);
          }
          continue;
        }
        if (tb.dw) { // one DWGEMM per kernel row: its kw taps along the line
          int64_t base = slot(oAct) + q * blockLines * Wp + tap * g.dh * Wp;
          for (int64_t r0 = 0; r0 < cLines; r0 += kMaxLoop) {
            int64_t m = std::min(kMaxLoop, cLines - r0);
            const bool dwBias = tb.dwBias && tap == 0;
            Insn d = dwgemmInsn(dwBias || rs, slot(oAcc) + r0 * g.OW,
                                base + r0 * g.sh * Wp, wgt, g.OW, m, g.sh * Wp,
                                g.OW, g.kw, g.sw, dwBias);
            sc.compute.push_back(d);
            info.arrayMacs += uint64_t(npu::streamedRows(d) * kDim * kDim);
          }
          continue;
        }
        int64_t ky = tap / g.kw, kx = tap % g.kw;
        int64_t base =
            slot(oAct) + q * blockLines * Wp + ky * g.dh * Wp + kx * g.dw;
        if (g.sw == 1) {
          for (int64_t r0 = 0; r0 < cLines; r0 += kMaxLoop) {
            int64_t m = std::min(kMaxLoop, cLines - r0);
            sc.compute.push_back(gemmInsn(rs, slot(oAcc) + r0 * g.OW,
                                          base + r0 * g.sh * Wp, wgt, g.OW, m,
                                          g.sh * Wp, g.OW));
            info.arrayMacs += uint64_t(m * g.OW * kDim * kDim);
          }
        } else {
          for (int64_t r = 0; r < cLines; ++r) {
            sc.compute.push_back(gemmInsn(rs, slot(oAcc) + r * g.OW,
                                          base + r * g.sh * Wp, wgt, 1, g.OW,
                                          g.sw, 1));
            info.arrayMacs += uint64_t(g.OW * kDim * kDim);
          }
        }
      }
    }
    // Tail: requantize (+ pool / add) and store, once the block is complete.
    if (!st.operands[oAcc].ends)
      continue;
    if (!g.requant) {
      moveRows(sc.tail, true, EMBER_NPU_MEM_ACC, slot(oAcc),
               addr(g.out, ko, outP), outN);
      continue;
    }
    sc.tail.push_back(
        requantInsn(slot(oConv), slot(oAcc), rows,
                    slot(oParam) + (paramOnce ? tableRows * ko : 0), g.rq.zp,
                    g.rq.lo, g.rq.hi, rqBias));
    int64_t result = slot(oConv);
    auto vadd = [&](int64_t at, int64_t n) {
      sc.tail.push_back(vaddInsn(at, g.add.convIsA ? at : slot(oAdd),
                                 g.add.convIsA ? slot(oAdd) : at, n));
    };
    if (add && g.add.beforePool)
      vadd(result, rows);
    if (pool) {
      sc.tail.push_back(poolInsn(g.pool.avg, slot(oPool), slot(oConv), outN));
      result = slot(oPool);
    }
    if (add && !g.add.beforePool)
      vadd(result, outN);
    moveRows(sc.tail, true, EMBER_NPU_MEM_OUT, result, addr(g.out, ko, outP),
             outN);
  }
  return "";
}

// ---- pooling layers ----------------------------------------------------

// An average pool without its padded taps (count_include_pad 0): the
// POOLs that redo the outputs whose window overlaps the padding, over the
// taps inside the image (POOL divides by KH x KW, here the taps' count),
// for output lines [y0, y1) of a block whose input lines start at line
// y0 * s - pt. Consecutive outputs of a line with the same window are one
// POOL (OUT_W = their count); rows are relative to the block's slots.
struct PoolFix {
  int64_t kh, kw, outW, src, dst, rows;
};

std::vector<PoolFix> poolBorderFixes(const PoolLayer &g, int64_t y0,
                                     int64_t y1) {
  std::vector<PoolFix> v;
  if (!g.avg || !g.excludePad)
    return v;
  const int64_t Wp = g.W + g.pl + g.pr;
  auto range = [](int64_t o, int64_t s, int64_t pad, int64_t k, int64_t n) {
    return std::make_pair(std::max<int64_t>(0, pad - o * s),
                          std::min<int64_t>(k, n + pad - o * s));
  };
  for (int64_t oy = y0; oy < y1; ++oy) {
    auto ry = range(oy, g.s, g.pt, g.kh, g.H);
    for (int64_t ox = 0; ox < g.OW;) {
      auto rx = range(ox, g.s, g.pl, g.kw, g.W);
      int64_t end = ox + 1;
      while (end < g.OW && range(end, g.s, g.pl, g.kw, g.W) == rx)
        ++end;
      if (ry.second - ry.first < g.kh || rx.second - rx.first < g.kw)
        v.push_back({ry.second - ry.first, rx.second - rx.first, end - ox,
                     ((oy - y0) * g.s + ry.first) * Wp + ox * g.s + rx.first,
                     (oy - y0) * g.OW + ox, end - ox});
      ox = end;
    }
  }
  // One geometry after the other: up to three SETREGs per change.
  std::stable_sort(v.begin(), v.end(), [](const PoolFix &a, const PoolFix &b) {
    return std::tie(a.kh, a.kw, a.outW) < std::tie(b.kh, b.kw, b.outW);
  });
  return v;
}

std::string genPool(const Layer &L, const std::vector<NTensor> &ts,
                    const CodegenOptions &o, LayerCode &code, LayerInfo &info) {
  const PoolLayer &g = L.pool;
  Addr addr{ts};
  const int64_t Ct = ceilDiv(g.C, kDim), Wp = g.W + g.pl + g.pr;
  // The POOLs (and geometry SETREGs) redoing the border outputs of the
  // output lines [y0, y1), the main geometry restored after them.
  auto fixes = [&](int64_t y0, int64_t y1, int64_t in, int64_t out,
                   std::vector<Insn> *emit) {
    uint64_t cyc = 0;
    std::vector<PoolFix> v = poolBorderFixes(g, y0, y1);
    int64_t kh = g.kh, kw = g.kw, ow = g.OW;
    auto geom = [&](int64_t h, int64_t w, int64_t n) {
      for (auto [reg, cur, want] :
           {std::tuple<int, int64_t *, int64_t>{EMBER_NPU_REG_POOL_KH, &kh, h},
            {EMBER_NPU_REG_POOL_KW, &kw, w},
            {EMBER_NPU_REG_POOL_OUT_W, &ow, n}})
        if (*cur != want) {
          *cur = want;
          cyc += 1;
          if (emit)
            emit->push_back(setregInsn(reg, int32_t(want)));
        }
    };
    for (const PoolFix &f : v) {
      geom(f.kh, f.kw, f.outW);
      cyc += vectorCycles(f.rows * f.kh * f.kw);
      if (emit)
        emit->push_back(poolInsn(true, out + f.dst, in + f.src, f.rows));
    }
    geom(g.kh, g.kw, g.OW);
    return cyc;
  };
  sp::Problem p;
  p.spaces = npuSpaces();
  enum { dN, dY, dC };
  p.dims = {
      {"n", g.N, false, {1}}, {"y", g.OH, false, {}}, {"c", Ct, false, {1}}};
  p.greedyDim = dY;
  auto inLines = [&](int64_t y) {
    return std::min(g.H + g.pt + g.pb, (y - 1) * g.s + g.kh);
  };
  auto u = [](int64_t v) { return uint64_t(v); };
  p.operands.push_back(operand(
      "in", EMBER_NPU_MEM_OUT, sp::Role::Input, {dN, dY, dC},
      [&](const std::vector<int64_t> &t) { return u(inLines(t[dY]) * Wp); },
      [&](const std::vector<int64_t> &t) {
        return u(inLines(t[dY]) * g.W * kDim);
      }));
  p.operands.push_back(operand(
      "out", EMBER_NPU_MEM_OUT, sp::Role::Output, {dN, dY, dC},
      [&](const std::vector<int64_t> &t) { return u(t[dY] * g.OW); },
      [&](const std::vector<int64_t> &t) { return u(t[dY] * g.OW * kDim); }));
  p.operands[0].rows = p.operands[0].footprint;
  p.operands[1].rows = p.operands[1].footprint;
  p.operands[1].transfers = [&](const std::vector<int64_t> &t) {
    return moveRowsCount(t[dY] * g.OW);
  };
  p.compute = [&](const sp::Tiling &tl, const std::vector<int64_t> &idx,
                  const std::vector<int64_t> &t,
                  const std::vector<sp::StepOperand> &) {
    const int64_t y0 = idx[dY] * tl.tile[dY];
    return std::vector<uint64_t>{vectorCycles(t[dY] * g.OW * g.kh * g.kw) +
                                 fixes(y0, y0 + t[dY], 0, 0, nullptr)};
  };
  sp::PlanResult plan = planLayer(p, o, info);
  if (!plan.ok)
    return "does not fit the scratchpads: " + plan.error;
  const sp::Tiling &t = plan.tiling;
  Slots slots = allocate(p, t, o.slotsFromTop);
  code.tiling = info.tiling = tilingText(p, t);
  info.minDramBytes = tensorBytes(ts, g.in) + tensorBytes(ts, g.out);
  code.setup = {setregInsn(EMBER_NPU_REG_PAD_VALUE, g.padValue),
                setregInsn(EMBER_NPU_REG_POOL_KH, int32_t(g.kh)),
                setregInsn(EMBER_NPU_REG_POOL_KW, int32_t(g.kw)),
                setregInsn(EMBER_NPU_REG_POOL_STRIDE, int32_t(g.s)),
                setregInsn(EMBER_NPU_REG_POOL_IN_W, int32_t(Wp)),
                setregInsn(EMBER_NPU_REG_POOL_OUT_W, int32_t(g.OW))};
  std::vector<sp::Step> steps = sp::schedule(p, t);
  code.steps.resize(steps.size());
  for (size_t s = 0; s < steps.size(); ++s) {
    const sp::Step &st = steps[s];
    StepCode &sc = code.steps[s];
    int64_t n = st.index[dN], c = st.index[dC];
    int64_t y0 = st.index[dY] * t.tile[dY];
    int64_t y1 = std::min(g.OH, y0 + t.tile[dY]);
    int64_t iy0 = y0 * g.s - g.pt, iy1 = (y1 - 1) * g.s - g.pt + g.kh;
    int64_t vy0 = std::max<int64_t>(0, iy0), vy1 = std::min(g.H, iy1);
    int64_t in = slots.base[0][st.operands[0].slot];
    int64_t out = slots.base[1][st.operands[1].slot];
    sc.loads.push_back(loadInsn(EMBER_NPU_MEM_OUT, in,
                                addr(g.in, c, (n * g.H + vy0) * g.W),
                                std::max<int64_t>(0, vy1 - vy0), g.W, g.W,
                                vy0 - iy0, iy1 - vy1, g.pl, g.pr));
    sc.compute.push_back(poolInsn(g.avg, out, in, (y1 - y0) * g.OW));
    fixes(y0, y1, in, out, &sc.compute);
    moveRows(sc.tail, true, EMBER_NPU_MEM_OUT, out,
             addr(g.out, c, (n * g.OH + y0) * g.OW), (y1 - y0) * g.OW);
  }
  return "";
}

// ---- add layers ----------------------------------------------------------

std::string genAdd(const Layer &L, const std::vector<NTensor> &ts,
                   const CodegenOptions &o, LayerCode &code, LayerInfo &info) {
  const AddLayer &g = L.add;
  Addr addr{ts};
  const NTensor &y = ts[size_t(g.out)];
  const int64_t Ct = y.tiles(), P = y.P;
  sp::Problem p;
  p.spaces = npuSpaces();
  enum { dP, dC };
  p.dims = {{"p", P, false, {}}, {"c", Ct, false, {1}}};
  p.greedyDim = dP;
  auto rows = [](const std::vector<int64_t> &t) { return uint64_t(t[dP]); };
  auto bytes = [](const std::vector<int64_t> &t) {
    return uint64_t(t[dP] * kDim);
  };
  p.operands.push_back(
      operand("a", EMBER_NPU_MEM_OUT, sp::Role::Input, {dP, dC}, rows, bytes));
  p.operands.push_back(
      operand("b", EMBER_NPU_MEM_OUT, sp::Role::Input, {dP, dC}, rows, bytes));
  p.operands.push_back(
      operand("y", EMBER_NPU_MEM_OUT, sp::Role::Output, {dP, dC}, rows, bytes));
  for (sp::Operand &op : p.operands) {
    op.rows = rows;
    op.transfers = [](const std::vector<int64_t> &t) {
      return moveRowsCount(t[dP]);
    };
  }
  if (g.bBroadcast)
    p.operands[1].transfers = [](const std::vector<int64_t> &t) {
      return repeatRowCount(t[dP]);
    };
  p.compute = [](const sp::Tiling &, const std::vector<int64_t> &,
                 const std::vector<int64_t> &t,
                 const std::vector<sp::StepOperand> &) {
    return std::vector<uint64_t>{vectorCycles(t[dP])};
  };
  sp::PlanResult plan = planLayer(p, o, info);
  if (!plan.ok)
    return "does not fit the scratchpads: " + plan.error;
  const sp::Tiling &t = plan.tiling;
  Slots slots = allocate(p, t, o.slotsFromTop);
  code.tiling = info.tiling = tilingText(p, t);
  info.minDramBytes = tensorBytes(ts, g.a) + tensorBytes(ts, g.out) +
                      (g.bBroadcast ? uint64_t(y.tiles() * y.rowBytes())
                                    : tensorBytes(ts, g.b));
  const AddRegs &r = g.regs;
  code.setup = {setregInsn(EMBER_NPU_REG_ADD_LSHIFT, r.lshift),
                setregInsn(EMBER_NPU_REG_ADD_A_ZP, r.aZp),
                setregInsn(EMBER_NPU_REG_ADD_A_MULT, r.aMult),
                setregInsn(EMBER_NPU_REG_ADD_A_SHIFT, r.aShift),
                setregInsn(EMBER_NPU_REG_ADD_B_ZP, r.bZp),
                setregInsn(EMBER_NPU_REG_ADD_B_MULT, r.bMult),
                setregInsn(EMBER_NPU_REG_ADD_B_SHIFT, r.bShift),
                setregInsn(EMBER_NPU_REG_ADD_OUT_MULT, r.outMult),
                setregInsn(EMBER_NPU_REG_ADD_OUT_SHIFT, r.outShift),
                setregInsn(EMBER_NPU_REG_ADD_OUT_ZP, r.outZp),
                setregInsn(EMBER_NPU_REG_ADD_MIN, r.lo),
                setregInsn(EMBER_NPU_REG_ADD_MAX, r.hi)};
  std::vector<sp::Step> steps = sp::schedule(p, t);
  code.steps.resize(steps.size());
  for (size_t s = 0; s < steps.size(); ++s) {
    const sp::Step &st = steps[s];
    StepCode &sc = code.steps[s];
    int64_t c = st.index[dC];
    int64_t p0 = st.index[dP] * t.tile[dP], p1 = std::min(P, p0 + t.tile[dP]);
    int64_t a = slots.base[0][st.operands[0].slot];
    int64_t b = slots.base[1][st.operands[1].slot];
    int64_t out = slots.base[2][st.operands[2].slot];
    moveRows(sc.loads, false, EMBER_NPU_MEM_OUT, a, addr(g.a, c, p0), p1 - p0);
    if (g.bBroadcast)
      repeatRow(sc.loads, EMBER_NPU_MEM_OUT, b, addr(g.b, c, 0), p1 - p0);
    else
      moveRows(sc.loads, false, EMBER_NPU_MEM_OUT, b, addr(g.b, c, p0),
               p1 - p0);
    sc.compute.push_back(vaddInsn(out, a, b, p1 - p0));
    moveRows(sc.tail, true, EMBER_NPU_MEM_OUT, out, addr(g.out, c, p0),
             p1 - p0);
  }
  return "";
}

std::string layerOp(const Layer &L) {
  switch (L.kind) {
  case Layer::Kind::Gemm: {
    const GemmLayer &g = L.gemm;
    std::string op = g.sum ? "sum" : g.flat ? "matmul" : "conv";
    if (g.add.on && g.add.beforePool)
      op += "+add";
    if (g.pool.on)
      op += g.pool.avg ? "+avgpool" : "+maxpool";
    if (g.add.on && !g.add.beforePool)
      op += "+add";
    return op;
  }
  case Layer::Kind::Pool:
    return L.pool.avg ? "avgpool" : "maxpool";
  case Layer::Kind::Add:
    return "add";
  }
  return "?";
}

// ---- DRAM placement of activations -------------------------------------

std::string placeActivations(std::vector<NTensor> &ts, const LayerProgram &lp,
                             const std::vector<char> &pairedWithNext,
                             uint64_t base, uint64_t &end) {
  // Lifetime of each tensor that owns storage, in layer indices: inputs
  // are live from the start, outputs to the end.
  const int64_t L = int64_t(lp.layers.size());
  std::vector<int64_t> first(ts.size(), INT64_MAX), last(ts.size(), -1);
  auto owner = [&](int k) {
    return ts[size_t(k)].base >= 0 ? ts[size_t(k)].base : k;
  };
  auto touch = [&](int k, int64_t at) {
    if (k < 0)
      return;
    int o = owner(k);
    first[size_t(o)] = std::min(first[size_t(o)], at);
    last[size_t(o)] = std::max(last[size_t(o)], at);
  };
  for (int64_t i = 0; i < L; ++i)
    for (int k : layerTensors(lp.layers[size_t(i)]))
      touch(k, i);
  // Two layers that may run interleaved (a striped boundary) keep each
  // other's tensors apart: each one's tensors live over both layers.
  for (int64_t i = 0; i + 1 < L; ++i)
    if (size_t(i) < pairedWithNext.size() && pairedWithNext[size_t(i)]) {
      for (int k : layerTensors(lp.layers[size_t(i)]))
        touch(k, i + 1);
      for (int k : layerTensors(lp.layers[size_t(i + 1)]))
        touch(k, i);
    }
  for (int k : lp.inputs)
    touch(k, -1);
  for (int k : lp.outputs)
    touch(k, L);
  std::vector<scratchpad::Interval> items;
  std::vector<size_t> who;
  for (size_t k = 0; k < ts.size(); ++k) {
    if (ts[k].base >= 0 || ts[k].kind == NTensor::Kind::Constant || last[k] < 0)
      continue;
    items.push_back({ts[k].bytes(), first[k], last[k]});
    who.push_back(k);
  }
  scratchpad::Placement pl = scratchpad::placeIntervals(items, kDramAlign);
  for (size_t i = 0; i < who.size(); ++i)
    ts[who[i]].dram = int64_t(base + pl.offsets[i]);
  end = base + pl.peak;
  return "";
}

} // namespace

sp::Machine npuMachine(const CodegenOptions &o) {
  sp::Machine m;
  // A DMA beat is at most the memory port (4 x DIM bytes); a LOAD or STORE
  // pays the DRAM latency and its issue overhead, and writes or reads at
  // most one scratchpad row a cycle (simulator/systemc/NpuModel.cpp).
  m.bytesPerCycle = double(std::min<uint32_t>(
      std::max<uint32_t>(o.bytesPerCycle, 1), uint32_t(4 * kDim)));
  m.latencyCycles = std::max<uint32_t>(o.latency, 1) + 2;
  m.transferOverhead = EMBER_NPU_DMA_ISSUE_OVERHEAD_CYCLES;
  m.rowsPerCycle = EMBER_NPU_SRAM_ROWS_PER_CYCLE;
  return m;
}

std::string layerFits(const Layer &L, const std::vector<NTensor> &ts) {
  Image img;
  LayerCode code;
  LayerInfo info;
  CodegenOptions fit; // whether it fits does not depend on the cost
  fit.cycleTiling = false;
  fit.predict = false;
  switch (L.kind) {
  case Layer::Kind::Gemm: {
    GemmTables tb = packGemm(L.gemm, img, true);
    return genGemm(L, ts, tb, fit, false, code, info);
  }
  case Layer::Kind::Pool:
    return genPool(L, ts, fit, code, info);
  case Layer::Kind::Add:
    return genAdd(L, ts, fit, code, info);
  }
  return "";
}

std::string generateProgram(const LayerProgram &lp, const CodegenOptions &o,
                            Program &out) {
  out = Program();
  std::vector<NTensor> ts = lp.tensors;
  Image img;
  // Constants (e.g. an add's constant operand) first, in NPU layout.
  for (NTensor &t : ts)
    if (t.kind == NTensor::Kind::Constant && t.base < 0) {
      if (t.data.size() != t.bytes())
        return "internal: constant '" + t.name + "' has " +
               std::to_string(t.data.size()) + " bytes, its layout " +
               std::to_string(t.bytes());
      t.dram = int64_t(img.put(t.data.data(), t.data.size()));
    }
  // Per GEMM layer: packed weights, bias rows and requantization tables.
  std::vector<GemmTables> tables(lp.layers.size());
  for (size_t i = 0; i < lp.layers.size(); ++i)
    if (lp.layers[i].kind == Layer::Kind::Gemm)
      tables[i] = packGemm(lp.layers[i].gemm, img, o.dwgemm);
  // Activations after the image (the SDK's interval planner).
  uint64_t actBase = alignUp(img.bytes.size(), kDramAlign), end = 0;
  // Boundaries that may run in stripes (Stripes.h), known before tiling.
  std::vector<char> stripeCand;
  if (o.stripes != StripeMode::Off)
    stripeCand = stripeCandidates(lp, ts);
  std::string err = placeActivations(ts, lp, stripeCand, actBase, end);
  if (!err.empty())
    return err;
  out.activationBase = actBase;
  out.dramBytes = end;
  if (end > o.dramCapacity || end > (uint64_t(1) << 32)) {
    // Name the layer whose tensors need the most.
    size_t worst = 0;
    uint64_t worstBytes = 0;
    for (size_t i = 0; i < lp.layers.size(); ++i) {
      const Layer &L = lp.layers[i];
      std::vector<int> used;
      if (L.kind == Layer::Kind::Gemm)
        used = {L.gemm.in, L.gemm.out};
      else if (L.kind == Layer::Kind::Pool)
        used = {L.pool.in, L.pool.out};
      else
        used = {L.add.a, L.add.b, L.add.out};
      uint64_t b = 0;
      for (int k : used)
        b += ts[size_t(k)].bytes();
      if (b > worstBytes) {
        worstBytes = b;
        worst = i;
      }
    }
    std::ostringstream os;
    os << "the program needs " << end << " bytes of NPU DRAM ("
       << img.bytes.size() << " of weights and tables, " << (end - actBase)
       << " of activations), over the DRAM's " << o.dramCapacity
       << " bytes (backend option dram_bytes); the largest layer is '"
       << (lp.layers.empty() ? std::string("?") : lp.layers[worst].name)
       << "' with " << worstBytes << " bytes of tensors";
    return os.str();
  }
  // Each layer's code; `inOn` / `outOn`: its input comes from OUT by MOVE,
  // its output stays in OUT (layer cascading, for the cost model);
  // `stripeShare`: one side of a striped boundary, with these rows of each
  // scratchpad (Stripes.h).
  std::vector<LayerCode> codes(lp.layers.size());
  out.layers.resize(lp.layers.size());
  auto genLayer = [&](size_t i, bool inOn, bool outOn, const TileChoice *keep,
                      const std::vector<uint64_t> *stripeShare =
                          nullptr) -> std::string {
    CodegenOptions lo = o; // plus the layer's forced tiling and slot side
    lo.inOnChip = inOn;
    lo.outOnChip = outOn;
    const Layer &L = lp.layers[i];
    codes[i] = LayerCode();
    out.layers[i] = LayerInfo();
    LayerInfo &info = out.layers[i];
    // Odd layers take their slots from the top of each scratchpad.
    lo.slotsFromTop = (o.prefetch || o.cascade) && i % 2 == 1;
    lo.prefetchable = o.prefetch && i > 0;
    if (stripeShare) {
      lo.striped = true;
      lo.shareRows = *stripeShare;
      lo.slotsFromTop = i % 2 == 1;
      lo.prefetchable = lo.prefetchable && !inOn; // no prefetch into it
    }
    info.name = L.name;
    for (const std::string &nm : L.nodes) // one name per source node
      if (std::find(info.nodes.begin(), info.nodes.end(), nm) ==
          info.nodes.end())
        info.nodes.push_back(nm);
    info.op = layerOp(L);
    info.usefulMacs = L.usefulMacs;
    lo.force =
        i < o.forced.size() && !o.forced[i].empty() ? &o.forced[i] : keep;
    // Padding reaches the hardware only through LOAD's (and MOVE's) pad
    // fields: a layer that needs more than they hold is refused here, not
    // truncated into wrong results (the selector never builds one).
    if (L.kind != Layer::Kind::Add) {
      err = padError(L.kind == Layer::Kind::Gemm ? L.gemm.pt : L.pool.pt,
                     L.kind == Layer::Kind::Gemm ? L.gemm.pl : L.pool.pl,
                     L.kind == Layer::Kind::Gemm ? L.gemm.pb : L.pool.pb,
                     L.kind == Layer::Kind::Gemm ? L.gemm.pr : L.pool.pr);
      if (!err.empty())
        return "layer '" + L.name + "' (" + info.op + "): " + err;
    }
    switch (L.kind) {
    case Layer::Kind::Gemm: {
      // The bias path: forced by the tuner, by the option, or every path
      // the layer allows scored by the cost model (REQUANT first where
      // possible, it moves the fewest bytes; another path only when
      // predicted strictly faster).
      const GemmTables &tb = tables[i];
      int path = lo.force                   ? std::max(lo.force->bias, 0)
                 : o.bias == BiasMode::Auto ? (tb.biasPathUsable(2) ? 2 : 0)
                                            : int(o.bias);
      if (lo.force && !tb.biasPathUsable(path)) {
        err = "the tuned tiling (" + lo.force->text() + ") takes the bias by " +
              biasPathName(path) + ", which this layer does not allow";
        break;
      }
      err = genGemm(L, ts, tb, lo, path, codes[i], info);
      std::vector<int> others;
      if (err.empty() && !lo.force && o.bias == BiasMode::Auto) {
        if (path != 0)
          others.push_back(0);
        if (tb.biasPathUsable(1))
          others.push_back(1);
      }
      for (int other : others) {
        LayerCode c2;
        LayerInfo i2 = info;
        i2.arrayMacs = 0;
        i2.candidates.clear();
        if (!genGemm(L, ts, tb, lo, other, c2, i2).empty())
          continue;
        std::vector<TileChoice> all = info.candidates;
        all.insert(all.end(), i2.candidates.begin(), i2.candidates.end());
        std::stable_sort(all.begin(), all.end(),
                         [](const TileChoice &a, const TileChoice &b) {
                           return a.predicted < b.predicted;
                         });
        if (all.size() > o.candidates)
          all.resize(o.candidates);
        if (i2.predictedCycles < info.predictedCycles) {
          codes[i] = std::move(c2);
          info = std::move(i2);
        }
        info.candidates = std::move(all);
      }
      break;
    }
    case Layer::Kind::Pool:
      err = genPool(L, ts, lo, codes[i], info);
      break;
    case Layer::Kind::Add:
      err = genAdd(L, ts, lo, codes[i], info);
      break;
    }
    if (!err.empty())
      return "layer '" + L.name + "' (" + info.op + "): " + err;
    return "";
  };
  const size_t nl = lp.layers.size();
  // Layers whose input will likely be cascaded are tiled with it costed as
  // MOVEs (Cascade.h, predictCascadedInputs); cascadeLayers corrects the
  // side of those whose boundary the code does not allow, keeping the tiling.
  std::vector<char> predIn(nl, 0), predOut(nl, 0);
  if (o.cascade && o.cascadePredict != CascadePredict::Off) {
    std::vector<char> likely = predictCascadedInputs(lp, ts);
    for (size_t i = 0; i + 1 < nl; ++i)
      predOut[i] = likely[i + 1];
    if (o.cascadePredict == CascadePredict::Both)
      predIn = likely;
  }
  for (size_t i = 0; i < nl; ++i) {
    err = genLayer(i, predIn[i], predOut[i], nullptr);
    if (!err.empty())
      return err;
  }
  // Layer cascading (Cascade.cpp), before prefetch: the MOVEs read OUT, so
  // they never move across a layer boundary.
  if (o.cascade) {
    err = cascadeLayers(
        codes, out.layers, lp, ts, predIn, predOut,
        [&](size_t j, bool inOn, bool outOn, const TileChoice *keep) {
          return genLayer(j, inOn, outOn, keep);
        });
    if (!err.empty())
      return err;
  }
  // Layer cascading in stripes (Stripes.cpp), after whole-tensor cascading
  // (its boundaries and their layers are left as they are).
  std::vector<StripedPair> pairs;
  if (o.stripes != StripeMode::Off) {
    stripeLayers(
        codes, out.layers, lp, ts, stripeCand, o.stripes == StripeMode::All,
        [&](size_t j, bool inOn, bool outOn,
            const std::vector<uint64_t> *share) {
          return genLayer(j, inOn, outOn, nullptr, share);
        },
        pairs);
  }
  emitStream(codes, pairs, o.prefetch, out);
  // DMA bytes per layer, by the layer each instruction is counted in.
  for (size_t k = 0; k < out.insns.size(); ++k) {
    const Insn &in = out.insns[k];
    if (out.insnLayer[k] < 0 ||
        (in.op != Opcode::LOAD && in.op != Opcode::STORE))
      continue;
    LayerInfo &info = out.layers[size_t(out.insnLayer[k])];
    uint64_t b = uint64_t(in.ysize * in.xsize * npu::memRowBytes(int(in.mem)));
    (in.op == Opcode::LOAD ? info.loadBytes : info.storeBytes) += b;
  }
  out.insns.push_back(makeInsn(Opcode::FINISH));
  out.insnLayer.push_back(-1);
  TokenStats st;
  err = assignTokens(out.insns, &st);
  if (!err.empty())
    return "internal: token assignment: " + err;
  out.image = std::move(img.bytes);
  for (int k : lp.inputs) {
    NTensor t = ts[size_t(k)];
    t.dram = int64_t(Addr{ts}(k, 0, 0));
    out.inputs.push_back(t);
  }
  for (int k : lp.outputs) {
    NTensor t = ts[size_t(k)];
    t.dram = int64_t(Addr{ts}(k, 0, 0));
    out.outputs.push_back(t);
  }
  return "";
}

} // namespace ember::npusim
