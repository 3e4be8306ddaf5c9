// Scheduling for the NPU compiler layer (docs/npu-sdk.md): tiling each layer
// with the SDK's tile planner, laying out weights and tables in the static
// DRAM image, scheduling double-buffered operation streams, placing
// activations in DRAM with the SDK's interval planner, keeping tensors on
// chip (Cascade.h, Stripes.h) and inserting the synchronization (Sync.h).
// The GEMM layers' scheduler is GemmCode.cpp.
#include "Cascade.h"
#include "CodegenInternal.h"
#include "Emit.h"
#include "Form.h"
#include "Pack.h"
#include "Schedule.h"
#include "Stream.h"
#include "Stripes.h"

#include "ember/accel/Program.h"
#include "ember/accel/Sync.h"
#include "ember/scratchpad/IntervalPlanner.h"
#include "ember/scratchpad/TilePlanner.h"

#include <algorithm>
#include <cstring>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <tuple>

namespace ember::accel {

namespace sp = ember::scratchpad;

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

// By the cost model (predicted cycles) or by DMA bytes; or the tiling the
// tuner forces (checked to fit). With o.candidates, the model's best tilings
// go to info.candidates (bias filled in by the caller).
Expected<sp::PlanResult> planLayer(const Target &tg, const sp::Problem &layer,
                                   const CodegenOptions &o, LayerInfo &info) {
  sp::Problem p = layer;
  sp::PlanOptions po;
  sp::Machine m = machineOf(tg, o);
  const unsigned keep = std::max(1u, o.candidates);
  if (o.cycleTiling && p.compute) {
    po.cost = sp::cycleCost(m, keep);
    po.greedyAlternatives = 8;
    po.keep = keep;
    po.stepBudget = o.planSteps;
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
    if (!shape || !sp::evaluate(p, fit, t))
      return unsupported("does not fit the memories: the tuned tiling (" +
                         o.force->text() + ") does not fit this layer");
    if (!sp::keepsOrder(p, t))
      return unsupported("does not fit the memories: the tuned tiling (" +
                         o.force->text() +
                         ") does not keep the lines outermost");
    r.ok = true;
    r.tiling = t;
    r.ranked = {t};
  } else {
    r = sp::planTiles(p, po);
  }
  if (!r.ok)
    return unsupported("does not fit the memories: " + r.error);
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

uint64_t tensorBytes(const std::vector<NTensor> &ts, int k) {
  return k >= 0 && size_t(k) < ts.size() ? ts[size_t(k)].bytes() : 0;
}

// Slots from the bottom of each memory, or (fromTop) from its top down, so
// that consecutive layers, placed from alternate ends, overlap only when
// together they need more than the memory: the next layer's weights can then
// load while the layer before still computes (weight prefetch).
Expected<Slots> allocate(const Target &tg, const sp::Problem &p,
                         const sp::Tiling &t, bool fromTop,
                         uint64_t paramReserve,
                         const std::vector<int64_t> *tops) {
  Slots s;
  std::vector<int64_t> cursor(p.spaces.size(), 0);
  s.base.resize(p.operands.size());
  for (size_t k = 0; k < p.operands.size(); ++k) {
    const sp::Operand &op = p.operands[k];
    int64_t n = op.footprint ? int64_t(op.footprint(t.tile)) : 0;
    for (unsigned sl = 0; sl < t.slots[k]; ++sl) {
      cursor[op.space] += n;
      const int64_t top = tops && op.space < tops->size()
                              ? (*tops)[op.space]
                              : int64_t(tg.memRows(int(op.space))) -
                                    (int(op.space) == tg.memOf(Cls::Param)
                                         ? int64_t(paramReserve)
                                         : 0);
      s.base[k].push_back(fromTop ? top - cursor[op.space]
                                  : cursor[op.space] - n);
    }
  }
  for (size_t i = 0; i < p.spaces.size(); ++i)
    if (p.spaces[i].capacity && uint64_t(cursor[i]) > p.spaces[i].capacity)
      return makeError(ErrorCode::Internal,
                       "internal: the slots of the tiling overflow " +
                           p.spaces[i].name + " (" + std::to_string(cursor[i]) +
                           " of " + std::to_string(p.spaces[i].capacity) +
                           " rows)");
  return s;
}

std::vector<sp::Space> spacesOf(const Target &tg,
                                const std::vector<uint64_t> &share,
                                uint64_t paramReserve) {
  std::vector<sp::Space> v;
  for (size_t m = 0; m < tg.memories.size(); ++m) {
    uint64_t cap = tg.memories[m].rows;
    if (int(m) == tg.memOf(Cls::Param))
      cap -= std::min(cap, paramReserve);
    if (m < share.size() && share[m])
      cap = std::min(cap, share[m]);
    v.push_back({tg.memories[m].name, cap});
  }
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

namespace {

// "" when loads and copies can encode padding (pt, pl, pb, pr), else why
// not.
Status padError(const Target &tg, int64_t pt, int64_t pl, int64_t pb,
                int64_t pr) {
  const int64_t most = tg.maxPad;
  if (std::max({pt, pl, pb, pr}) <= most && std::min({pt, pl, pb, pr}) >= 0)
    return Status::ok();
  return unsupported("pads " + std::to_string(pt) + "," + std::to_string(pl) +
                     "," + std::to_string(pb) + "," + std::to_string(pr) +
                     " (top, left, bottom, right) cannot be encoded: " +
                     tg.engines[size_t(tg.engineFor(OpKind::Load))].name +
                     " pads 0 to " + std::to_string(most) + " per side");
}

// ---- pooling layers ----------------------------------------------------

// An average pool without its padded taps (count_include_pad 0): the
// Pools that redo the outputs whose window overlaps the padding, over the
// taps inside the image (Pool divides by kh x kw, here the taps' count),
// for output lines [y0, y1) and columns [x0, x1) of a block whose input
// lines start at line y0 * sh - pt and whose `wb` padded input columns at
// column x0 * sw (padded). Consecutive outputs of a line with the same
// window are one Pool (out_w = their count: one line, so only POOL_STRIDE
// = sw steps them); rows are relative to the block's slots.
struct PoolFix {
  int64_t kh, kw, outW, src, dst, rows;
};

std::vector<PoolFix> poolBorderFixes(const PoolLayer &g, int64_t y0, int64_t y1,
                                     int64_t x0, int64_t x1, int64_t wb) {
  std::vector<PoolFix> v;
  if (!g.avg || !g.excludePad)
    return v;
  auto range = [](int64_t o, int64_t s, int64_t pad, int64_t k, int64_t n) {
    return std::make_pair(std::max<int64_t>(0, pad - o * s),
                          std::min<int64_t>(k, n + pad - o * s));
  };
  for (int64_t oy = y0; oy < y1; ++oy) {
    auto ry = range(oy, g.sh, g.pt, g.kh, g.H);
    for (int64_t ox = x0; ox < x1;) {
      auto rx = range(ox, g.sw, g.pl, g.kw, g.W);
      int64_t end = ox + 1;
      while (end < x1 && range(end, g.sw, g.pl, g.kw, g.W) == rx)
        ++end;
      if (ry.second - ry.first < g.kh || rx.second - rx.first < g.kw)
        v.push_back(
            {ry.second - ry.first, rx.second - rx.first, end - ox,
             ((oy - y0) * g.sh + ry.first) * wb + (ox - x0) * g.sw + rx.first,
             (oy - y0) * (x1 - x0) + ox - x0, end - ox});
      ox = end;
    }
  }
  // One geometry after the other: up to three register writes per change.
  std::stable_sort(v.begin(), v.end(), [](const PoolFix &a, const PoolFix &b) {
    return std::tie(a.kh, a.kw, a.outW) < std::tie(b.kh, b.kw, b.outW);
  });
  return v;
}

} // namespace

namespace {

// The pool layer's dimensions: images, output lines, channel tiles, bands.
enum { dN, dY, dC, dX };

// The Pools (and geometry register writes) redoing the border outputs of the
// output lines [y0, y1) and columns [x0, x1), the block's geometry (x1 - x0
// output columns) restored after them; their cycles. Emitted into `emit`
// when given.
uint64_t poolFixes(const Target &tg, const PoolLayer &g, int64_t y0, int64_t y1,
                   int64_t x0, int64_t x1, int64_t wb, int64_t in, int64_t out,
                   std::vector<Op> *emit) {
  uint64_t cyc = 0;
  std::vector<PoolFix> v = poolBorderFixes(g, y0, y1, x0, x1, wb);
  int64_t kh = g.kh, kw = g.kw, ow = x1 - x0;
  auto geom = [&](int64_t h, int64_t w, int64_t n) {
    for (auto [reg, cur, want] :
         {std::tuple<Reg, int64_t *, int64_t>{Reg::PoolKh, &kh, h},
          {Reg::PoolKw, &kw, w},
          {Reg::PoolOutW, &ow, n}})
      if (*cur != want) {
        *cur = want;
        cyc += 1;
        if (emit)
          emit->push_back(setregOp(tg, reg, int32_t(want)));
      }
  };
  for (const PoolFix &f : v) {
    geom(f.kh, f.kw, f.outW);
    cyc += vectorCycles(tg, f.rows * f.kh * f.kw);
    if (emit)
      emit->push_back(poolOp(tg, true, out + f.dst, in + f.src, f.rows));
  }
  geom(g.kh, g.kw, x1 - x0);
  return cyc;
}

// One step of a pool layer: its block's load (with the padding), the
// geometry registers where the band changes them, the pooling op (or the
// form's op) and its border fixes, the store (upsampled, a band, or rows).
// curInW and curOutW: the geometry registers' values so far.
void poolStep(const Target &tg, const PoolLayer &g,
              const std::vector<NTensor> &ts, const PoolOps *ops,
              const sp::Tiling &t, const sp::Step &st, const Slots &slots,
              bool banded, int64_t &curInW, int64_t &curOutW, StepCode &sc) {
  Addr addr{ts};
  const int64_t Wp = g.W + g.pl + g.pr;
  const bool perLine = g.sh != g.sw;
  int64_t n = st.index[dN], c = st.index[dC];
  int64_t y0 = st.index[dY] * t.tile[dY];
  int64_t y1 = std::min(g.OH, y0 + t.tile[dY]);
  int64_t iy0 = y0 * g.sh - g.pt, iy1 = (y1 - 1) * g.sh - g.pt + g.kh;
  int64_t vy0 = std::max<int64_t>(0, iy0), vy1 = std::min(g.H, iy1);
  // The block's output columns [x0, x0 + ow), its image columns [ix0, ix1)
  // (padding outside the image) and padded width wb.
  const int64_t x0 = banded ? st.index[dX] * t.tile[dX] : 0;
  const int64_t ow = banded ? std::min(g.OW, x0 + t.tile[dX]) - x0 : g.OW;
  const int64_t ix0 = x0 * g.sw - g.pl,
                ix1 = (x0 + ow - 1) * g.sw - g.pl + g.kw;
  const int64_t vx0 = banded ? std::max<int64_t>(0, ix0) : 0;
  const int64_t vx1 = banded ? std::min(g.W, ix1) : g.W;
  const int64_t wb = banded ? ix1 - ix0 : Wp;
  int64_t in = slots.base[0][st.operands[0].slot];
  int64_t out = slots.base[1][st.operands[1].slot];
  loadBlock(tg, sc.loads, Cls::Out, in,
            addr(g.in, c, (n * g.H + vy0) * g.W + vx0),
            std::max<int64_t>(0, vy1 - vy0), vx1 - vx0, g.W, vy0 - iy0,
            iy1 - vy1, banded ? vx0 - ix0 : g.pl, banded ? ix1 - vx1 : g.pr);
  for (auto [reg, cur, want] :
       {std::tuple<Reg, int64_t *, int64_t>{Reg::PoolInW, &curInW, wb},
        {Reg::PoolOutW, &curOutW, ow}})
    if (*cur != want && !ops) {
      *cur = want;
      sc.compute.push_back(setregOp(tg, reg, int32_t(want)));
    }
  if (ops)
    sc.compute.push_back(ops->op(out, in, (y1 - y0) * ow));
  else if (perLine)
    for (int64_t oy = y0; oy < y1; ++oy)
      sc.compute.push_back(poolOp(tg, g.avg, out + (oy - y0) * ow,
                                  in + (oy - y0) * g.sh * wb, ow));
  else
    sc.compute.push_back(poolOp(tg, g.avg, out, in, (y1 - y0) * ow));
  poolFixes(tg, g, y0, y1, x0, x0 + ow, wb, in, out, &sc.compute);
  if (g.up > 1) {
    // Each result line (its band) to its up x up block of output lines.
    const int64_t upw = g.OW * g.up;
    upsampleStore(tg, sc.tail, Cls::Out, out,
                  addr(g.out, c, (n * g.OH + y0) * g.up * upw + x0 * g.up),
                  y1 - y0, ow, g.up, g.OW);
  } else if (banded) {
    moveBand(tg, sc.tail, true, Cls::Out, out,
             addr(g.out, c, (n * g.OH + y0) * g.OW + x0), y1 - y0, ow, g.OW,
             g.w16);
  } else {
    moveRows(tg, sc.tail, true, Cls::Out, out,
             addr(g.out, c, (n * g.OH + y0) * g.OW), (y1 - y0) * g.OW, g.w16);
  }
  if (g.w16) // the load (its padding PAD_VALUE's low 16 bits) and pools
    for (auto *ops : {&sc.loads, &sc.compute})
      for (Op &op : *ops)
        op.w16 = op.kind != OpKind::SetReg;
}

} // namespace

// A pool layer: blocks of output lines (and channel tiles) loaded with the
// padding into the output memory, the pooling op over each block, stored. A
// pool whose strides differ (sh != sw) runs one pooling op per output line,
// its source at the line's first window line and the stride register = sw. A
// line whose window lines do not fit the output memory
// (or wider than a load's x extent) runs in column bands, as a convolution's
// does: a band of output columns [x0, x0 + bw) reads the padded input columns
// [x0 sw, (x0 + bw - 1) sw + kw), the left padding only on the first band and
// the right only on the last, one 2-D load of lines the image width apart,
// the input and output width registers the band's (written where they change),
// and one 2-D store of lines the output width apart.
//
// A form's vector op over a map (PoolOps: a table lookup) runs as such a
// layer, with a 1x1 window: its op instead of the pool, its setup instead
// of the window registers.
Status genPool(const Target &tg, const Layer &L, const std::vector<NTensor> &ts,
               const CodegenOptions &o, LayerCode &code, LayerInfo &info,
               const PoolOps *ops) {
  const PoolLayer &g = L.pool;
  // Engine cycles of the layer's vector op over `rows` rows (a window of
  // kh x kw taps each).
  auto vecCycles = [&](int64_t rows) {
    if (ops)
      return ops->cycles(rows);
    return vectorCycles(tg, rows * g.kh * g.kw);
  };
  const int64_t lanes = tg.lanes;
  const int64_t Ct = ceilDiv(g.C, lanes), Wp = g.W + g.pl + g.pr;
  if (g.w16 && (!tg.wide16 || g.up > 1))
    return unsupported(
        "a 16-bit pool on a target without 16-bit activations, or stored "
        "upsampled");
  if (g.up > 1 && (g.sh != 1 || g.sw != 1))
    return unsupported("an upsampling store of a strided pool");
  const int64_t eb = g.w16 ? 2 : 1; // DRAM bytes per lane
  const bool perLine = g.sh != g.sw;
  sp::Problem p;
  p.spaces = spacesOf(tg, o.shareRows, o.paramReserve);
  const int outMem = tg.memOf(Cls::Out);
  if (g.w16) { // 16-bit row pairs: the blocks in the lower half
    sp::Space &s = p.spaces[size_t(outMem)];
    const uint64_t half = tg.memRows(outMem) / 2;
    s.capacity = s.capacity ? std::min(s.capacity, half) : half;
  }
  const uint64_t outCap = p.spaces[size_t(outMem)].capacity
                              ? p.spaces[size_t(outMem)].capacity
                              : tg.memRows(outMem);
  // Does one output line of `ow` columns, reading `w` image columns of a
  // `wp`-column padded line, fit: the load's x extent, and its window lines
  // and result double-buffered in the output memory.
  auto lineFits = [&](int64_t w, int64_t wp, int64_t ow) {
    return w <= tg.maxX && uint64_t(2 * (g.kh * wp + ow)) <= outCap;
  };
  const bool banded = !lineFits(g.W, Wp, g.OW);
  // The padded input columns of a band of b output columns.
  auto bandWp = [&](int64_t b) { return std::min(Wp, (b - 1) * g.sw + g.kw); };
  std::vector<int64_t> bandSizes; // the six widest that fit, widest first
  if (banded) {
    if (g.W > tg.maxStride || g.OW > tg.maxStride)
      return unsupported(
          "image width " + std::to_string(std::max(g.W, g.OW)) +
          " (a column band's lines are a line apart in DRAM: strides of "
          "loads and stores at most " +
          std::to_string(tg.maxStride) + " rows)");
    for (int64_t k = 2; k <= g.OW && bandSizes.size() < 6; ++k) {
      const int64_t b = ceilDiv(g.OW, k);
      if ((bandSizes.empty() || bandSizes.back() != b) &&
          lineFits(std::min(g.W, bandWp(b)), bandWp(b), b))
        bandSizes.push_back(b);
    }
    if (bandSizes.empty())
      return unsupported("no column band fits: one output pixel reads " +
                         std::to_string(g.kh) + " lines of " +
                         std::to_string(bandWp(1)) + " pixels");
  }
  p.dims = {
      {"n", g.N, false, {1}}, {"y", g.OH, false, {}}, {"c", Ct, false, {1}}};
  if (banded)
    p.dims.push_back({"x", g.OW, false, bandSizes});
  p.greedyDim = dY;
  auto inLines = [&](int64_t y) {
    return std::min(g.H + g.pt + g.pb, (y - 1) * g.sh + g.kh);
  };
  auto bandW = [&](const std::vector<int64_t> &t) {
    return banded ? t[dX] : g.OW;
  };
  auto blockWp = [&](const std::vector<int64_t> &t) {
    return banded ? bandWp(t[dX]) : Wp;
  };
  auto u = [](int64_t v) { return uint64_t(v); };
  std::vector<size_t> deps = {dN, dY, dC};
  if (banded)
    deps.push_back(dX);
  p.operands.push_back(operand(
      "in", outMem, sp::Role::Input, deps,
      [&](const std::vector<int64_t> &t) {
        return u(inLines(t[dY]) * blockWp(t));
      },
      [&](const std::vector<int64_t> &t) {
        return u(inLines(t[dY]) * std::min(g.W, blockWp(t)) * lanes * eb);
      }));
  p.operands.push_back(operand(
      "out", outMem, sp::Role::Output, deps,
      [&](const std::vector<int64_t> &t) { return u(t[dY] * bandW(t)); },
      [&](const std::vector<int64_t> &t) {
        return u(t[dY] * bandW(t) * g.up * g.up * lanes * eb);
      }));
  p.operands[0].rows = p.operands[0].footprint;
  p.operands[1].rows = p.operands[1].footprint;
  p.operands[0].transfers = [&](const std::vector<int64_t> &t) {
    return loadBlockCount(tg, std::min(g.H, inLines(t[dY])));
  };
  p.operands[1].transfers = [&](const std::vector<int64_t> &t) {
    return g.up > 1 ? upsampleStoreCount(tg, t[dY], bandW(t), g.up, g.OW)
           : banded ? moveBandCount(tg, t[dY])
                    : moveRowsCount(tg, t[dY] * g.OW);
  };
  p.compute = [&](const sp::Tiling &tl, const std::vector<int64_t> &idx,
                  const std::vector<int64_t> &t,
                  const std::vector<sp::StepOperand> &) {
    const int64_t y0 = idx[dY] * tl.tile[dY];
    const int64_t x0 = banded ? idx[dX] * tl.tile[dX] : 0;
    const int64_t ow = bandW(t);
    const uint64_t line = vecCycles(ow);
    return std::vector<uint64_t>{
        (perLine ? line * u(t[dY]) : vecCycles(t[dY] * ow)) +
        poolFixes(tg, g, y0, y0 + t[dY], x0, x0 + ow, blockWp(t), 0, 0,
                  nullptr) +
        (banded ? 2 : 0)};
  };
  EMBER_ASSIGN(sp::PlanResult plan, planLayer(tg, p, o, info));
  const sp::Tiling &t = plan.tiling;
  EMBER_ASSIGN(Slots slots,
               allocate(tg, p, t, o.slotsFromTop && !g.w16, o.paramReserve));
  code.tiling = info.tiling = tilingText(p, t);
  info.minDramBytes = tensorBytes(ts, g.in) + tensorBytes(ts, g.out);
  int64_t curInW = Wp, curOutW = g.OW; // the geometry registers' values
  if (ops) {
    code.setup = ops->setup;
  } else {
    code.setup = {setregOp(tg, Reg::PadValue, g.padValue),
                  setregOp(tg, Reg::PoolKh, int32_t(g.kh)),
                  setregOp(tg, Reg::PoolKw, int32_t(g.kw)),
                  setregOp(tg, Reg::PoolStride, int32_t(g.sw)),
                  setregOp(tg, Reg::PoolInW, int32_t(curInW)),
                  setregOp(tg, Reg::PoolOutW, int32_t(curOutW))};
  }
  std::vector<sp::Step> steps = sp::schedule(p, t);
  code.steps.resize(steps.size());
  for (size_t s = 0; s < steps.size(); ++s)
    poolStep(tg, g, ts, ops, t, steps[s], slots, banded, curInW, curOutW,
             code.steps[s]);
  return Status::ok();
}

// ---- add layers ----------------------------------------------------------

Status genAdd(const Target &tg, const Layer &L, const std::vector<NTensor> &ts,
              const CodegenOptions &o, LayerCode &code, LayerInfo &info) {
  const AddLayer &g = L.add;
  Addr addr{ts};
  const NTensor &y = ts[size_t(g.out)];
  const int64_t Ct = y.tiles(), P = y.P, lanes = tg.lanes;
  // The widths: a 16-bit add (w16) reads and writes 16-bit rows, an 8-bit
  // side converted first (VMul one, in place: the value unchanged), an
  // 8-bit result after; a multiply reads and writes each tensor's width.
  const bool a16 = ts[size_t(g.a)].i16, b16 = ts[size_t(g.b)].i16, y16 = y.i16;
  const bool w16 = g.w16 || (g.mul && (a16 || b16 || y16));
  if (w16 && !tg.wide16)
    return unsupported(
        "a 16-bit add or multiply on a target without 16-bit activations");
  if (g.w16 && g.mul)
    return unsupported("a multiply marked as a 16-bit add");
  const bool cvtA = g.w16 && !a16, cvtB = g.w16 && !b16, cvtY = g.w16 && !y16;
  if ((cvtA || cvtB || cvtY) && !tg.has(OpKind::VMul))
    return unsupported("a 16-bit add with an 8-bit operand or result (the "
                       "width conversion is vmul's, and the target has no "
                       "vmul)");
  sp::Problem p;
  p.spaces = spacesOf(tg, o.shareRows, o.paramReserve);
  if (w16) { // 16-bit row pairs: the blocks in the lower half
    sp::Space &s = p.spaces[size_t(tg.memOf(Cls::Out))];
    const uint64_t half = tg.memRows(tg.memOf(Cls::Out)) / 2;
    s.capacity = s.capacity ? std::min(s.capacity, half) : half;
  }
  enum { dP, dC };
  p.dims = {{"p", P, false, {}}, {"c", Ct, false, {1}}};
  p.greedyDim = dP;
  auto rows = [](const std::vector<int64_t> &t) { return uint64_t(t[dP]); };
  auto bytesOf = [lanes](bool wide) {
    return [lanes, wide](const std::vector<int64_t> &t) {
      return uint64_t(t[dP] * lanes * (wide ? 2 : 1));
    };
  };
  p.operands.push_back(operand("a", tg.memOf(Cls::Out), sp::Role::Input,
                               {dP, dC}, rows, bytesOf(a16)));
  p.operands.push_back(operand("b", tg.memOf(Cls::Out), sp::Role::Input,
                               {dP, dC}, rows, bytesOf(b16)));
  p.operands.push_back(operand("y", tg.memOf(Cls::Out), sp::Role::Output,
                               {dP, dC}, rows, bytesOf(y16)));
  for (sp::Operand &op : p.operands) {
    op.rows = rows;
    op.transfers = [&tg](const std::vector<int64_t> &t) {
      return moveRowsCount(tg, t[dP]);
    };
  }
  // A multiply reads a repeated operand's one row (bcast); an add a run
  // of it, loaded with stride 0.
  const bool bcast = g.mul && g.bBroadcast;
  if (bcast) {
    auto one = [](const std::vector<int64_t> &) { return uint64_t(1); };
    p.operands[1].footprint = one;
    p.operands[1].rows = one;
    p.operands[1].bytes = [lanes, b16](const std::vector<int64_t> &) {
      return uint64_t(lanes * (b16 ? 2 : 1));
    };
    p.operands[1].transfers = [&tg](const std::vector<int64_t> &) {
      return moveRowsCount(tg, 1);
    };
  } else if (g.bBroadcast) {
    p.operands[1].transfers = [&tg](const std::vector<int64_t> &t) {
      return repeatRowCount(tg, t[dP]);
    };
  }
  const int passes = 1 + int(cvtA) + int(cvtB) + int(cvtY); // conversions
  p.compute = [&tg, passes](const sp::Tiling &, const std::vector<int64_t> &,
                            const std::vector<int64_t> &t,
                            const std::vector<sp::StepOperand> &) {
    return std::vector<uint64_t>{vectorCycles(tg, t[dP]) * uint64_t(passes)};
  };
  EMBER_ASSIGN(sp::PlanResult plan, planLayer(tg, p, o, info));
  const sp::Tiling &t = plan.tiling;
  EMBER_ASSIGN(Slots slots,
               allocate(tg, p, t, o.slotsFromTop && !w16, o.paramReserve));
  code.tiling = info.tiling = tilingText(p, t);
  info.minDramBytes = tensorBytes(ts, g.a) + tensorBytes(ts, g.out) +
                      (g.bBroadcast ? uint64_t(y.tiles() * y.rowBytes())
                                    : tensorBytes(ts, g.b));
  const AddRegs &r = g.regs;
  const MulRegs &mr = g.mulRegs;
  if (g.mul)
    code.setup = {setregOp(tg, Reg::MulAZp, mr.aZp),
                  setregOp(tg, Reg::MulBZp, mr.bZp),
                  setregOp(tg, Reg::MulMult, mr.mult),
                  setregOp(tg, Reg::MulShift, mr.shift),
                  setregOp(tg, Reg::MulOutZp, mr.outZp),
                  setregOp(tg, Reg::MulMin, mr.lo),
                  setregOp(tg, Reg::MulMax, mr.hi)};
  else
    addRegSetup(tg, r, code.setup);
  if (cvtA || cvtB || cvtY) // the conversions: mbqm(x, 2^30, 1) = x
    for (auto [reg, val] : {std::pair<Reg, int32_t>{Reg::MulAZp, 0},
                            {Reg::MulBZp, 0},
                            {Reg::MulMult, int32_t(1) << 30},
                            {Reg::MulShift, 1},
                            {Reg::MulOutZp, 0},
                            {Reg::MulMin, -32768},
                            {Reg::MulMax, 32767}})
      code.setup.push_back(setregOp(tg, reg, val));
  // VMul's one form: rows of `at` to the other width, in place.
  auto convert = [&](std::vector<Op> &ops, int64_t at, int64_t n, bool from16) {
    Op m = vmulOp(tg, at, at, 0, n, false);
    m.one = true;
    m.a16 = from16;
    m.out16 = !from16;
    ops.push_back(m);
  };
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
    moveRows(tg, sc.loads, false, Cls::Out, a, addr(g.a, c, p0), p1 - p0, a16);
    const size_t bFirst = sc.loads.size();
    if (bcast)
      moveRows(tg, sc.loads, false, Cls::Out, b, addr(g.b, c, 0), 1);
    else if (g.bBroadcast)
      repeatRow(tg, sc.loads, Cls::Out, b, addr(g.b, c, 0), p1 - p0);
    else
      moveRows(tg, sc.loads, false, Cls::Out, b, addr(g.b, c, p0), p1 - p0,
               b16);
    for (size_t k = bFirst; k < sc.loads.size(); ++k)
      sc.loads[k].w16 = b16; // (a repeated row too)
    if (cvtA)
      convert(sc.compute, a, p1 - p0, false);
    if (cvtB)
      convert(sc.compute, b, p1 - p0, false);
    sc.compute.push_back(g.mul ? vmulOp(tg, out, a, b, p1 - p0, bcast)
                               : vaddOp(tg, out, a, b, p1 - p0));
    Op &e = sc.compute.back();
    e.exact = !g.mul && r.exact;
    e.w16 = g.w16;
    if (g.mul) {
      e.a16 = a16;
      e.b16 = b16;
      e.out16 = y16;
    }
    if (cvtY)
      convert(sc.compute, out, p1 - p0, true);
    moveRows(tg, sc.tail, true, Cls::Out, out, addr(g.out, c, p0), p1 - p0,
             y16);
  }
  return Status::ok();
}

namespace {

std::string layerOp(const Layer &L) {
  if (const FormPattern *f = emitterOf(L))
    if (f->opName)
      return f->opName(L);
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
    return L.add.mul ? "mul" : "add";
  }
  return "?";
}

// ---- DRAM placement of activations -------------------------------------

Status placeActivations(const Target &tg, std::vector<NTensor> &ts,
                        const LayerProgram &lp,
                        const std::vector<char> &pairedWithNext, uint64_t base,
                        uint64_t &end) {
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
  scratchpad::Placement pl =
      scratchpad::placeIntervals(items, tg.dram.alignment);
  for (size_t i = 0; i < who.size(); ++i)
    ts[who[i]].dram = int64_t(base + pl.offsets[i]);
  end = base + pl.peak;
  return Status::ok();
}

} // namespace

void writeConstants(const LayerProgram &lp, Program &p) {
  for (const auto &[k, at] : p.constants)
    if (k >= 0 && size_t(k) < lp.tensors.size()) {
      const std::vector<int8_t> &d = lp.tensors[size_t(k)].data;
      if (at + d.size() <= p.image.size() && !d.empty())
        std::memcpy(p.image.data() + at, d.data(), d.size());
    }
  for (size_t i = 0; i < lp.layers.size() && i < p.tables.size(); ++i) {
    const std::vector<int8_t> &lut = lp.layers[i].lut;
    const GemmTables &tb = p.tables[i];
    if (tb.lut && lut.size() == 256 && tb.lutOff + 256 <= p.image.size())
      std::memcpy(p.image.data() + tb.lutOff, lut.data(), 256);
    const std::vector<int16_t> &t16 = lp.layers[i].lut16;
    if (tb.lut16 && t16.size() == 513 && tb.lutOff + 1026 <= p.image.size())
      for (size_t k = 0; k < 513; ++k) {
        p.image[tb.lutOff + 2 * k] = uint8_t(uint16_t(t16[k]) & 0xff);
        p.image[tb.lutOff + 2 * k + 1] = uint8_t(uint16_t(t16[k]) >> 8);
      }
    // A form's own constants (FormPattern::pack).
    if (const FormPattern *f = emitterOf(lp.layers[i]); f && f->pack)
      f->pack(lp.layers[i], tb, p.lanes, p.image);
  }
}

sp::Machine machineOf(const Target &tg, const CodegenOptions &o) {
  sp::Machine m;
  // A DMA beat is at most the target's beat; a load or store pays the DRAM
  // latency (at least one cycle) plus its turnaround and issue overhead, and
  // writes or reads at most the target's rows a cycle.
  const uint32_t bw = o.bytesPerCycle ? o.bytesPerCycle : tg.dram.bytesPerCycle;
  const int64_t lat = o.latency >= 0 ? o.latency : int64_t(tg.dram.latency);
  m.bytesPerCycle =
      double(std::min<uint32_t>(std::max<uint32_t>(bw, 1), tg.dma.beatBytes));
  m.latencyCycles = uint64_t(std::max<int64_t>(lat, 1)) + tg.dma.turnaround;
  m.transferOverhead = tg.dma.issueOverhead;
  m.rowsPerCycle = tg.dma.rowsPerCycle;
  return m;
}

Status layerFits(const Target &tg, const Layer &L,
                 const std::vector<NTensor> &ts) {
  Image img(tg);
  LayerCode code;
  LayerInfo info;
  CodegenOptions fit; // whether it fits does not depend on the cost
  fit.cycleTiling = false;
  fit.predict = false;
  // (A layer with an output table keeps the table's rows free, as in
  // generateProgram; a layer beside one in a program needs these rows too.)
  fit.paramReserve = !L.lut16.empty() ? uint64_t(table16Reserve(tg))
                     : L.lut.empty()  ? 0
                                      : uint64_t(tg.lutRows());
  if (const FormPattern *f = emitterOf(L))
    return f->schedule(tg, L, ts, GemmTables(), fit, code, info);
  switch (L.kind) {
  case Layer::Kind::Gemm: {
    GemmTables tb = layoutGemm(tg, L.gemm, img, true);
    tb.lut = !L.lut.empty();
    return genGemm(tg, L, ts, tb, fit, 0, code, info);
  }
  case Layer::Kind::Pool:
    return genPool(tg, L, ts, fit, code, info);
  case Layer::Kind::Add:
    return genAdd(tg, L, ts, fit, code, info);
  }
  return Status::ok();
}

namespace {

// Constants (e.g. an add's constant operand) into the image first, in the
// tiled layout; then per GEMM layer its packed weights, bias rows and
// requantization tables, the output tables and the tables of the layers
// whose forms schedule them.
Status placeConstants(const Target &tg, const LayerProgram &lp,
                      const CodegenOptions &o, std::vector<NTensor> &ts,
                      Image &img, std::vector<GemmTables> &tables,
                      Program &out) {
  for (NTensor &t : ts)
    if (t.kind == NTensor::Kind::Constant && t.base < 0) {
      if (t.data.size() != t.bytes())
        return makeError(ErrorCode::Internal,
                         "internal: constant '" + t.name + "' has " +
                             std::to_string(t.data.size()) +
                             " bytes, its layout " + std::to_string(t.bytes()));
      t.dram = int64_t(img.put(t.data.data(), t.data.size()));
      out.constants.push_back({int(&t - ts.data()), uint64_t(t.dram)});
    }
  // Per GEMM layer: packed weights, bias rows and requantization tables.
  for (size_t i = 0; i < lp.layers.size(); ++i)
    if (lp.layers[i].kind == Layer::Kind::Gemm)
      tables[i] = layoutGemm(tg, lp.layers[i].gemm, img, o.dwgemm);
  // Per layer with an output table: its 256 bytes (param rows, entry k at
  // byte k, little-endian lanes).
  for (size_t i = 0; i < lp.layers.size(); ++i) {
    const Layer &L = lp.layers[i];
    if (L.lut.empty() || emitterOf(L))
      continue;
    if (L.lut.size() != 256)
      return makeError(ErrorCode::Internal, "internal: layer '" + L.name +
                                                "' has an output table of " +
                                                std::to_string(L.lut.size()) +
                                                " entries");
    if (!tg.has(OpKind::LutLd) || L.kind != Layer::Kind::Gemm ||
        !tg.lutFlag(OpKind::Requant))
      return unsupported("layer '" + L.name +
                         "': the target has no output table for it");
    tables[i].lut = true;
    tables[i].lutOff = img.put(L.lut.data(), L.lut.size());
  }
  // The constants of the layers whose forms schedule them (a form's
  // tables: a table layer's entries).
  for (size_t i = 0; i < lp.layers.size(); ++i) {
    const FormPattern *f = emitterOf(lp.layers[i]);
    if (!f || !f->tables)
      continue;
    EMBER_TRY(f->tables(tg, lp.layers[i], img, tables[i]));
  }
  return Status::ok();
}

// The DRAM a program needs over what it has: the error, naming the layer
// whose tensors need the most.
std::string dramOverflow(const LayerProgram &lp, const std::vector<NTensor> &ts,
                         uint64_t imageBytes, uint64_t actBase, uint64_t end,
                         uint64_t capacity, bool described) {
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
  os << "the program needs " << end << " bytes of NPU DRAM (" << imageBytes
     << " of weights and tables, " << (end - actBase)
     << " of activations), over the DRAM's " << capacity
     << (described ? " bytes (the description's dram.bytes)"
                   : " bytes (backend option dram_bytes)")
     << "; the largest layer is '"
     << (lp.layers.empty() ? std::string("?") : lp.layers[worst].name)
     << "' with " << worstBytes << " bytes of tensors";
  return os.str();
}

// Generates one layer's code into codes[i] and out.layers[i], with the
// program's options: `inOn` / `outOn`: its input comes from the out memory
// by copies, its output stays there (layer cascading, for the cost model);
// `keep`: a tiling to keep; `stripeShare`: one side of a striped boundary,
// with these rows of each memory (Stripes.h).
struct LayerGen {
  const Target &tg;
  const LayerProgram &lp;
  const CodegenOptions &o;
  const std::vector<NTensor> &ts;
  const std::vector<GemmTables> &tables;
  bool anyTable, anyTable16;
  std::vector<LayerCode> &codes;
  Program &out;

  Status operator()(size_t i, bool inOn, bool outOn, const TileChoice *keep,
                    const std::vector<uint64_t> *stripeShare = nullptr,
                    uint64_t outRows = 0) const;
  Status gemm(size_t i, const CodegenOptions &lo, LayerInfo &info) const;
};

Status LayerGen::operator()(size_t i, bool inOn, bool outOn,
                            const TileChoice *keep,
                            const std::vector<uint64_t> *stripeShare,
                            uint64_t outRows) const {
  CodegenOptions lo = o; // plus the layer's forced tiling and slot side
  lo.paramReserve = anyTable16 ? uint64_t(table16Reserve(tg))
                    : anyTable ? uint64_t(tg.lutRows())
                               : 0;
  lo.inOnChip = inOn;
  lo.outOnChip = outOn;
  const Layer &L = lp.layers[i];
  codes[i] = LayerCode();
  out.layers[i] = LayerInfo();
  LayerInfo &info = out.layers[i];
  // Odd layers take their slots from the top of each memory.
  lo.slotsFromTop = (o.prefetch || o.cascade) && i % 2 == 1;
  lo.prefetchable = o.prefetch && i > 0;
  if (outRows) { // a cascaded tensor's budget (Cascade.cpp, budgetConsumers)
    lo.shareRows.assign(tg.memories.size(), 0);
    lo.shareRows[size_t(tg.memOf(Cls::Out))] = outRows;
  }
  if (stripeShare) {
    lo.striped = true;
    lo.shareRows = *stripeShare;
    lo.slotsFromTop = i % 2 == 1;
    lo.prefetchable = lo.prefetchable && !inOn; // no prefetch into it
  }
  info.name = L.name;
  for (const std::string &nm : L.nodes) // one name per source node
    if (std::find(info.nodes.begin(), info.nodes.end(), nm) == info.nodes.end())
      info.nodes.push_back(nm);
  info.op = layerOp(L);
  info.usefulMacs = L.usefulMacs;
  lo.force = i < o.forced.size() && !o.forced[i].empty() ? &o.forced[i] : keep;
  // Padding reaches the hardware only through the loads' (and copies')
  // pad fields: a layer that needs more than they hold is refused here,
  // not truncated into wrong results (the selector never builds one).
  auto ctx = [&] { return "layer '" + L.name + "' (" + info.op + ")"; };
  Status err;
  if (L.kind != Layer::Kind::Add) {
    err = padError(tg, L.kind == Layer::Kind::Gemm ? L.gemm.pt : L.pool.pt,
                   L.kind == Layer::Kind::Gemm ? L.gemm.pl : L.pool.pl,
                   L.kind == Layer::Kind::Gemm ? L.gemm.pb : L.pool.pb,
                   L.kind == Layer::Kind::Gemm ? L.gemm.pr : L.pool.pr);
    if (err.failed())
      return err.withContext(ctx());
  }
  const FormPattern *emitter = emitterOf(L);
  if (emitter)
    return emitter->schedule(tg, L, ts, tables[i], lo, codes[i], info)
        .withContext(ctx());
  switch (L.kind) {
  case Layer::Kind::Gemm:
    err = gemm(i, lo, info);
    break;
  case Layer::Kind::Pool:
    err = genPool(tg, L, ts, lo, codes[i], info);
    break;
  case Layer::Kind::Add:
    err = genAdd(tg, L, ts, lo, codes[i], info);
    break;
  }
  return err.withContext(ctx());
}

// A GEMM layer's code, its bias path chosen.
Status LayerGen::gemm(size_t i, const CodegenOptions &lo,
                      LayerInfo &info) const {
  const Layer &L = lp.layers[i];
  // The bias path: forced by the tuner, by the option, or every path
  // the layer allows scored by the cost model (Requant first where
  // possible, it moves the fewest bytes; another path only when
  // predicted strictly faster).
  const GemmTables &tb = tables[i];
  int path = lo.force                   ? std::max(lo.force->bias, 0)
             : o.bias == BiasMode::Auto ? (tb.biasPathUsable(2) ? 2 : 0)
                                        : int(o.bias);
  if (lo.force && !tb.biasPathUsable(path))
    return unsupported("the tuned tiling (", lo.force->text(),
                       ") takes the bias by ", biasPathName(path),
                       ", which this layer does not allow");
  // Every path this layer may take, planned; the one predicted fastest (the
  // first of equals, in this order) is emitted, or, should its code fail,
  // the next. So a path replaces the first when predicted strictly faster,
  // or when the first does not fit (Requant's bias takes a third parameter
  // row per output tile, which a small parameter memory may not hold;
  // layerFits asks for any path).
  std::vector<int> paths = {path};
  if (!lo.force && o.bias == BiasMode::Auto) {
    if (path != 0)
      paths.push_back(0);
    if (tb.biasPathUsable(1))
      paths.push_back(1);
  }
  struct Planned {
    int path;
    GemmPlanPtr plan;
    LayerInfo info;
  };
  std::vector<Planned> planned;
  Status first; // the first path's error, reported when no path works
  for (int pth : paths) {
    LayerInfo li = info;
    Expected<GemmPlanPtr> pl = planGemm(tg, L, ts, tb, lo, pth, li);
    if (!pl.hasValue()) {
      if (pth == path)
        first = pl.status();
      continue;
    }
    planned.push_back({pth, std::move(*pl), std::move(li)});
  }
  std::vector<size_t> byCycles(planned.size());
  for (size_t k = 0; k < planned.size(); ++k)
    byCycles[k] = k;
  std::stable_sort(byCycles.begin(), byCycles.end(), [&](size_t a, size_t b) {
    return planned[a].info.predictedCycles < planned[b].info.predictedCycles;
  });
  for (size_t k : byCycles) {
    Planned &pd = planned[k];
    LayerCode code;
    const Status err = emitGemm(L, *pd.plan, code, pd.info);
    if (err.failed()) {
      if (pd.path == path)
        first = err;
      continue;
    }
    if (planned.size() > 1) { // the candidates of every path, fastest first
      std::vector<TileChoice> all;
      for (const Planned &other : planned)
        all.insert(all.end(), other.info.candidates.begin(),
                   other.info.candidates.end());
      std::stable_sort(all.begin(), all.end(),
                       [](const TileChoice &a, const TileChoice &b) {
                         return a.predicted < b.predicted;
                       });
      if (all.size() > o.candidates)
        all.resize(o.candidates);
      pd.info.candidates = std::move(all);
    }
    codes[i] = std::move(code);
    info = std::move(pd.info);
    return Status::ok();
  }
  return first;
}

} // namespace

std::vector<uint64_t> layerImageBytes(const Target &tg, const LayerProgram &lp,
                                      const CodegenOptions &o) {
  std::vector<uint64_t> bytes(lp.layers.size(), 0);
  std::vector<bool> counted(lp.tensors.size(), false);
  for (size_t i = 0; i < lp.layers.size(); ++i) {
    const Layer &L = lp.layers[i];
    Image img(tg);
    for (int k : layerTensors(L))
      if (k >= 0 && size_t(k) < lp.tensors.size() && !counted[size_t(k)] &&
          lp.tensors[size_t(k)].kind == NTensor::Kind::Constant &&
          lp.tensors[size_t(k)].base < 0) {
        counted[size_t(k)] = true;
        img.reserve(lp.tensors[size_t(k)].data.size());
      }
    GemmTables tb;
    if (L.kind == Layer::Kind::Gemm)
      tb = layoutGemm(tg, L.gemm, img, o.dwgemm);
    if (!L.lut.empty() && !emitterOf(L))
      img.reserve(L.lut.size());
    if (const FormPattern *f = emitterOf(L); f && f->tables)
      (void)f->tables(tg, L, img, tb); // (its errors are generateProgram's)
    bytes[i] = img.bytes.size();
  }
  return bytes;
}

Status tileLayers(const Target &tg, const LayerProgram &lp,
                  const CodegenOptions &o, ScheduleState &st) {
  st.out.lanes = tg.lanes;
  std::vector<NTensor> &ts = st.ts;
  ts = lp.tensors;
  for (NTensor &t : ts)
    if (!t.lanes)
      t.lanes = tg.lanes;
  for (const NTensor &t : ts)
    if (t.lanes != tg.lanes)
      return makeError(ErrorCode::Internal,
                       "internal: tensor '" + t.name + "' has " +
                           std::to_string(t.lanes) + " lanes, the target " +
                           std::to_string(tg.lanes));
  st.tables.assign(lp.layers.size(), GemmTables());
  EMBER_TRY(placeConstants(tg, lp, o, ts, st.img, st.tables, st.out));
  for (const GemmTables &tb : st.tables) {
    st.anyTable = st.anyTable || tb.lut;
    st.anyTable16 = st.anyTable16 || tb.lut16;
  }
  // Activations after the image (the SDK's interval planner).
  uint64_t actBase = alignUp(st.img.bytes.size(), tg.dram.alignment), end = 0;
  // Boundaries that may run in stripes (Stripes.h), known before tiling.
  if (o.stripes != StripeMode::Off)
    st.stripeCand = stripeCandidates(tg, lp, ts);
  EMBER_TRY(placeActivations(tg, ts, lp, st.stripeCand, actBase, end));
  st.out.activationBase = actBase;
  st.out.dramBytes = end;
  // The DRAM is the description's dram.bytes unless the backend option
  // dram_bytes gives the device's; never beyond the address space.
  const uint64_t space = tg.dram.addressBits < 64
                             ? uint64_t(1) << tg.dram.addressBits
                             : UINT64_MAX;
  const uint64_t capacity = o.dramCapacity ? o.dramCapacity : tg.dram.bytes;
  if (end > capacity || end > space)
    return unsupported(dramOverflow(lp, ts, st.img.bytes.size(), actBase, end,
                                    std::min(capacity, space),
                                    !o.dramCapacity));
  // Each layer's code (LayerGen).
  const size_t nl = lp.layers.size();
  st.codes.assign(nl, LayerCode());
  st.out.layers.resize(nl);
  const LayerGen genLayer{
      tg, lp, o, ts, st.tables, st.anyTable, st.anyTable16, st.codes, st.out};
  // Layers whose input will likely be cascaded are tiled with it costed as
  // copies (Cascade.h, predictCascadedInputs); cascadeLayers corrects the
  // side of those whose boundary the code does not allow, keeping the tiling.
  st.predIn.assign(nl, 0);
  st.predOut.assign(nl, 0);
  if (o.cascade && o.cascadePredict != CascadePredict::Off) {
    std::vector<char> likely = predictCascadedInputs(tg, lp, ts);
    for (size_t i = 0; i + 1 < nl; ++i)
      st.predOut[i] = likely[i + 1];
    if (o.cascadePredict == CascadePredict::Both)
      st.predIn = likely;
  }
  for (size_t i = 0; i < nl; ++i)
    EMBER_TRY(genLayer(i, st.predIn[i], st.predOut[i], nullptr));
  return Status::ok();
}

Status keepOnChip(const Target &tg, const LayerProgram &lp,
                  const CodegenOptions &o, ScheduleState &st) {
  const LayerGen genLayer{
      tg,       lp,    o, st.ts, st.tables, st.anyTable, st.anyTable16,
      st.codes, st.out};
  // Layer cascading (Cascade.cpp), before prefetch: the copies read the out
  // memory, so they never move across a layer boundary. It needs a copy
  // operation.
  if (o.cascade && tg.has(OpKind::Copy)) {
    EMBER_TRY(cascadeLayers(
        tg, st.codes, st.out.layers, lp, st.ts, st.predIn, st.predOut,
        [&](size_t j, bool inOn, bool outOn, const TileChoice *keep,
            uint64_t outRows) {
          return genLayer(j, inOn, outOn, keep, nullptr, outRows);
        }));
  }
  // Layer cascading in stripes (Stripes.cpp), after whole-tensor cascading
  // (its boundaries and their layers are left as they are).
  if (o.stripes != StripeMode::Off && tg.has(OpKind::Copy)) {
    stripeLayers(
        tg, st.codes, st.out.layers, lp, st.ts, st.stripeCand,
        o.stripes == StripeMode::All,
        [&](size_t j, bool inOn, bool outOn,
            const std::vector<uint64_t> *share) {
          return genLayer(j, inOn, outOn, nullptr, share);
        },
        st.pairs);
  }
  return Status::ok();
}

Status generateProgram(const Target &tg, const LayerProgram &lp,
                       const CodegenOptions &o, Program &out) {
  out = Program();
  ScheduleState st(tg);
  EMBER_TRY(tileLayers(tg, lp, o, st));
  EMBER_TRY(keepOnChip(tg, lp, o, st));
  EMBER_TRY(emitProgram(tg, lp, o, st, out));
  if (!o.sync)
    return Status::ok();
  const Status sync = assignSync(tg, out.ops, nullptr);
  if (sync.failed())
    return makeError(ErrorCode::Internal,
                     "internal: dependency insertion: ", sync.message());
  return Status::ok();
}

} // namespace ember::accel
