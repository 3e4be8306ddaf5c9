// Layer cascading in stripes for the NPU backend (docs/npu-backend.md,
// "Stripes"): a tensor between two GEMM layers that does not fit OUT whole
// goes through a ring of lines in OUT, the two layers' instruction streams
// interleaved unit by unit.
//
// Both layers are generated with CodegenOptions::striped: each takes half of
// every scratchpad (from opposite ends, so their slots never meet) and less
// than half of OUT (the rest is for the ring), and its y loop is outside its
// output-tile loop, so the producer completes a stripe of lines across all
// channel tiles before it starts the next. The ring holds R pixels of every
// channel tile: pixel p of tile t lives in OUT row ring + t * R + p mod R.
// The rewrite is on the generated code, as cascadeBoundary's is, so it holds
// for every GEMM layer form: the producer's VECTOR ops that write the
// tensor's rows (for STOREs) write them into the ring (split in two where a
// block wraps), its STOREs go, and each LOAD of the consumer becomes MOVEs
// from the ring (split where a line wraps). Program order is what the token
// pass orders by (Tokens.cpp), so interleaving the two streams is enough:
// each consumer unit after the producer units that write what it reads, and
// each producer unit after the consumer units still reading the ring rows it
// overwrites.
#include "Stripes.h"
#include "Cascade.h"
#include "Emit.h"
#include "Tokens.h"
#include "ember/npu/Builders.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <map>

namespace ember::npusim {

namespace {

using npu::Opcode;

// Pixels [p0, p1) of channel tile `tile` of the striped tensor.
struct Span {
  int64_t tile, p0, p1;
};

// How far the producer runs ahead: a consumer unit whose lines are there is
// emitted after this many more producer units (when the ring allows), so the
// array has the producer's next step to compute while the consumer's MOVEs
// wait for the VECTOR ops that wrote their lines.
constexpr size_t kLag = 1;

// The cycles of two layers run interleaved, estimated from their
// predictions alone: no less than either layer, nor than the busiest
// compute engine's or the LOAD engine's work of both together (they share
// the array and the DMA engine).
double stripedEstimate(const LayerInfo &p, const LayerInfo &c) {
  return std::max({p.predictedCycles, c.predictedCycles,
                   p.predictedCompute + c.predictedCompute,
                   p.predictedLoad + c.predictedLoad});
}

// A boundary runs in stripes only when that estimate is below this share of
// the two layers run one after the other: the striped tilings are smaller
// (each layer has half of the scratchpads, and the y loops outermost), so a
// pair whose layers both keep the array busy gains nothing and loses the
// larger tiles (MobileNetV2's 56x56 depthwise -> projection pairs ran 5-16%
// slower striped, their estimate 0.95-0.98).
constexpr double kStripeGain = 0.93;

// Whether `in` touches DRAM bytes [lo, hi).
bool touchesDram(const Insn &in, uint64_t lo, uint64_t hi) {
  return touchesRows(in, npu::kNumMems, lo, hi);
}

// The MOVEs that bring the block LOAD `in` would bring, its lines read from
// the ring (`a0`: the tensor row of its first data row; P pixels a tile, R
// ring pixels a tile). Lines that wrap are split, with the padding kept
// where LOAD puts it.
void ringMoves(const Insn &in, int64_t a0, int64_t P, int64_t R, int64_t ring,
               std::vector<Insn> &out) {
  struct Piece {
    int64_t src, x, pl, pr;
    bool full;
  };
  std::vector<Piece> pieces;
  for (int64_t j = 0; j < in.ysize; ++j) {
    const int64_t a = a0 + j * in.stride, t = a / P, p = a % P;
    int64_t pos = p % R, left = in.xsize;
    if (pos + left <= R) {
      pieces.push_back(
          {ring + t * R + pos, left, in.pad_left, in.pad_right, true});
      continue;
    }
    bool first = true;
    while (left > 0) {
      const int64_t take = std::min(left, R - pos);
      pieces.push_back({ring + t * R + pos, take, first ? in.pad_left : 0,
                        take == left ? in.pad_right : 0, false});
      first = false;
      left -= take;
      pos = 0;
    }
  }
  const int64_t w = in.pad_left + in.xsize + in.pad_right;
  int64_t dst = in.sram;
  const size_t n = pieces.size();
  if (n > 0 && !pieces[0].full && in.pad_top > 0) { // padding lines alone
    out.push_back(npu::moveInsn(dst, ring, 0, in.xsize, in.xsize, in.pad_top, 0,
                                in.pad_left, in.pad_right));
    dst += in.pad_top * w;
  }
  for (size_t a = 0; a < n;) {
    const Piece &pa = pieces[a];
    if (!pa.full) {
      out.push_back(
          npu::moveInsn(dst, pa.src, 1, pa.x, pa.x, 0, 0, pa.pl, pa.pr));
      dst += pa.pl + pa.x + pa.pr;
      ++a;
      continue;
    }
    // Consecutive whole lines at one ring pitch: one MOVE.
    size_t b = a + 1;
    int64_t stride = in.xsize;
    if (b < n && pieces[b].full)
      stride = pieces[b].src - pa.src;
    if (stride < 0 || stride > kMaxStride)
      stride = in.xsize;
    else
      while (b < n && pieces[b].full &&
             pieces[b].src - pieces[b - 1].src == stride &&
             int64_t(b - a) < kMaxLoop)
        ++b;
    const int64_t top = a == 0 ? in.pad_top : 0,
                  bottom = b == n ? in.pad_bottom : 0;
    out.push_back(npu::moveInsn(dst, pa.src, int64_t(b - a), in.xsize, stride,
                                top, bottom, in.pad_left, in.pad_right));
    dst += (top + int64_t(b - a) + bottom) * w;
    a = b;
  }
  if (n > 0 && !pieces[n - 1].full && in.pad_bottom > 0)
    out.push_back(npu::moveInsn(dst, ring, 0, in.xsize, in.xsize, 0,
                                in.pad_bottom, in.pad_left, in.pad_right));
}

// `rs` sorted, overlapping and touching ranges joined.
Ranges merged(Ranges rs) {
  std::sort(rs.begin(), rs.end());
  Ranges out;
  for (const auto &r : rs) {
    if (r.first >= r.second)
      continue;
    if (!out.empty() && r.first <= out.back().second)
      out.back().second = std::max(out.back().second, r.second);
    else
      out.push_back(r);
  }
  return out;
}

// Whether two merged range lists meet.
bool meet(const Ranges &a, const Ranges &b) {
  for (size_t x = 0, y = 0; x < a.size() && y < b.size();) {
    if (a[x].first < b[y].second && b[y].first < a[x].second)
      return true;
    (a[x].second <= b[y].second ? x : y)++;
  }
  return false;
}

// The SETREG values of a layer's setup.
std::map<int64_t, int64_t> setupRegs(const LayerCode &c) {
  std::map<int64_t, int64_t> m;
  for (const Insn &in : c.setup)
    if (in.op == Opcode::SETREG)
      m[in.reg] = in.value;
  return m;
}

} // namespace

std::vector<char> stripeCandidates(const LayerProgram &lp,
                                   const std::vector<NTensor> &ts) {
  const size_t nl = lp.layers.size();
  std::vector<char> out(nl, 0);
  for (size_t i = 0; i + 1 < nl; ++i) {
    const Layer &A = lp.layers[i], &B = lp.layers[i + 1];
    if (A.kind != Layer::Kind::Gemm || B.kind != Layer::Kind::Gemm)
      continue;
    const int t = A.gemm.out;
    if (t < 0 || B.gemm.in != t || A.gemm.N != 1 || B.gemm.N != 1 ||
        !A.gemm.requant || B.gemm.sum ||
        (B.gemm.add.on && B.gemm.add.other == t) ||
        !cascadableTensor(ts, lp, i, t))
      continue;
    out[i] = !fitsHalfOfOut(ts[size_t(t)]);
  }
  return out;
}

std::string stripeBoundary(std::vector<LayerCode> &codes, size_t i,
                           const std::vector<NTensor> &ts, int tensor,
                           StripedPair &pair) {
  const NTensor &T = ts[size_t(tensor)];
  const uint64_t rb = uint64_t(T.rowBytes());
  const uint64_t lo = Addr{ts}(tensor, 0, 0), hi = lo + T.bytes();
  const int64_t P = T.P, tiles = T.tiles();
  const int64_t W = T.dims.size() == 4 ? std::max<int64_t>(T.dims[3], 1) : 1;
  LayerCode prod = codes[i], cons = codes[i + 1];

  // Joint fit: no scratchpad row both layers use, no DRAM byte but the
  // tensor's that both touch (their instructions run interleaved). The OUT
  // rows both use are kept for the ring.
  Ranges usedOut;
  for (int mem = 0; mem <= npu::kNumMems; ++mem) {
    Ranges a, b;
    layerRanges(prod, mem, a);
    layerRanges(cons, mem, b);
    if (mem == EMBER_NPU_MEM_OUT) {
      usedOut = a;
      usedOut.insert(usedOut.end(), b.begin(), b.end());
    }
    if (mem == npu::kNumMems) // the tensor itself is what they share
      for (Ranges *v : {&a, &b})
        v->erase(std::remove_if(v->begin(), v->end(),
                                [&](const std::pair<uint64_t, uint64_t> &r) {
                                  return r.first >= lo && r.second <= hi;
                                }),
                 v->end());
    if (meet(merged(a), merged(b)))
      return std::string("the two layers share ") +
             (mem == npu::kNumMems ? "DRAM" : npu::memName(mem)) + " rows";
  }

  // The producer: STOREs of the tensor from OUT, each run right after the
  // VECTOR op that wrote its rows; nothing else touches the tensor.
  struct Write {
    size_t step, vec;
    Span span;
  };
  std::vector<Write> writes;
  std::vector<std::vector<char>> drop(prod.steps.size());
  for (const Insn &in : prod.setup)
    if (touchesDram(in, lo, hi))
      return "the producer's setup touches the tensor";
  for (size_t s = 0; s < prod.steps.size(); ++s) {
    const StepCode &sc = prod.steps[s];
    for (const auto *v : {&sc.loads, &sc.compute})
      for (const Insn &in : *v)
        if (touchesDram(in, lo, hi))
          return "the producer reads the tensor";
    const std::vector<Insn> &tail = sc.tail;
    drop[s].assign(tail.size(), 0);
    for (size_t k = 0; k < tail.size(); ++k) {
      const Insn &st = tail[k];
      if (!touchesDram(st, lo, hi))
        continue;
      const uint64_t b = uint64_t(st.dram);
      if (st.op != Opcode::STORE || st.mem != EMBER_NPU_MEM_OUT ||
          st.stride != st.xsize || b < lo || (b - lo) % rb != 0 ||
          b + uint64_t(st.ysize * st.xsize) * rb > hi)
        return "the producer writes the tensor other than by STOREs from OUT";
      StoredRows sr;
      std::string why = storedRows(tail, k, lo, rb, sr);
      if (!why.empty())
        return why;
      if (sr.first) {
        const int64_t rows = tail[sr.vec].rows;
        if (sr.row % P + rows > P)
          return "a VECTOR op's rows are not one run of the tensor";
        writes.push_back(
            {s, sr.vec, {sr.row / P, sr.row % P, sr.row % P + rows}});
      }
      drop[s][k] = 1;
    }
  }
  // The consumer: LOADs of the tensor into ACT, nothing else.
  struct Read {
    size_t step, k;
  };
  std::vector<Read> reads;
  for (const Insn &in : cons.setup)
    if (touchesDram(in, lo, hi))
      return "the consumer's setup touches the tensor";
  for (size_t s = 0; s < cons.steps.size(); ++s) {
    const StepCode &sc = cons.steps[s];
    for (const auto *v : {&sc.compute, &sc.tail})
      for (const Insn &in : *v)
        if (touchesDram(in, lo, hi))
          return "the consumer touches the tensor other than by LOADs";
    for (size_t k = 0; k < sc.loads.size(); ++k) {
      const Insn &in = sc.loads[k];
      if (!touchesDram(in, lo, hi))
        continue;
      const uint64_t b = uint64_t(in.dram);
      if (in.op != Opcode::LOAD || in.mem != EMBER_NPU_MEM_ACT || b < lo ||
          (b - lo) % rb != 0 ||
          b + uint64_t((in.ysize - 1) * in.stride + in.xsize) * rb > hi)
        return "the consumer reads the tensor other than by LOADs into ACT";
      reads.push_back({s, k});
    }
  }
  if (writes.empty() || reads.empty())
    return "no STOREs or LOADs of the tensor";

  // Per unit: the spans the producer writes, the consumer reads.
  const size_t PU = layerUnitCount(prod), CU = layerUnitCount(cons);
  std::vector<std::vector<Span>> wrote(PU), need(CU);
  for (const Write &w : writes)
    wrote[w.step + 1].push_back(w.span);
  for (const Read &r : reads) {
    const Insn &in = cons.steps[r.step].loads[r.k];
    const int64_t a0 = int64_t((uint64_t(in.dram) - lo) / rb);
    for (int64_t j = 0; j < in.ysize; ++j) {
      const int64_t a = a0 + j * in.stride;
      if (a % P + in.xsize > P)
        return "a LOAD line crosses channel tiles";
      need[r.step].push_back({a / P, a % P, a % P + in.xsize});
    }
  }

  // The ring: the largest gap of OUT that neither layer uses, R pixels per
  // channel tile (whole lines when it holds one and the producer's widest
  // block).
  Ranges used = std::move(usedOut);
  std::sort(used.begin(), used.end());
  uint64_t at = 0, best = 0, bestAt = 0;
  for (const auto &r : used) {
    if (r.first > at && r.first - at > best) {
      best = r.first - at;
      bestAt = at;
    }
    at = std::max(at, r.second);
  }
  if (uint64_t(EMBER_NPU_OUT_ROWS) > at &&
      uint64_t(EMBER_NPU_OUT_ROWS) - at > best) {
    best = uint64_t(EMBER_NPU_OUT_ROWS) - at;
    bestAt = at;
  }
  int64_t R = int64_t(best) / tiles;
  int64_t widest = 0;
  for (const Write &w : writes)
    widest = std::max(widest, w.span.p1 - w.span.p0);
  if (W > 1 && R - R % W >= std::max(W, widest))
    R -= R % W;
  if (R < widest)
    return "OUT has " + std::to_string(best) + " free rows, not a ring of " +
           std::to_string(widest) + " pixels per channel tile";
  const int64_t ring = int64_t(bestAt);

  // Interleave: a consumer unit once every span it reads is written, a
  // producer unit once no pending consumer unit reads what it overwrites.
  std::vector<std::vector<int64_t>> lowest(
      CU + 1, std::vector<int64_t>(size_t(tiles), INT64_MAX));
  for (size_t u = CU; u-- > 0;) {
    lowest[u] = lowest[u + 1];
    for (const Span &sp : need[u])
      lowest[u][size_t(sp.tile)] = std::min(lowest[u][size_t(sp.tile)], sp.p0);
  }
  std::vector<int64_t> produced(size_t(tiles), 0);
  std::vector<std::pair<int, size_t>> order;
  size_t pu = 0, cu = 0, readyAt = SIZE_MAX;
  while (pu < PU || cu < CU) {
    // The consumer's last unit after the producer's last (the weight
    // prefetch of the layer after goes into it and must follow every
    // instruction of both layers).
    bool consReady = cu < CU && (cu + 1 < CU || pu == PU);
    for (size_t k = 0; consReady && k < need[cu].size(); ++k)
      consReady = need[cu][k].p1 <= produced[size_t(need[cu][k].tile)];
    bool prodOk = pu < PU;
    for (size_t k = 0; prodOk && k < wrote[pu].size(); ++k) {
      const Span &sp = wrote[pu][k];
      prodOk = sp.p1 - 1 - R < lowest[cu][size_t(sp.tile)];
    }
    if (consReady && readyAt == SIZE_MAX)
      readyAt = pu;
    if (consReady && (!prodOk || pu >= readyAt + kLag)) {
      order.push_back({1, cu++});
      readyAt = SIZE_MAX;
    } else if (prodOk) {
      for (const Span &sp : wrote[pu]) {
        if (sp.p0 != produced[size_t(sp.tile)])
          return "the producer writes a channel tile's lines out of order";
        produced[size_t(sp.tile)] = sp.p1;
      }
      order.push_back({0, pu++});
    } else {
      return "a ring of " + std::to_string(R) +
             " pixels per channel tile is too small for the consumer's "
             "blocks";
    }
  }

  // The setups' registers: a value both set differently is dropped from the
  // consumer's setup when the consumer does not use it, else the producer
  // must not use it after the consumer's setup (its first unit) has run.
  // That takes the producer's setup first, so that the consumer's value is
  // the one in effect for the consumer (its first unit reads lines the
  // producer writes, so it always comes later; checked).
  if (order.front().first != 0)
    return "the consumer's setup would run before the producer's";
  auto uses = [](const LayerCode &c, int64_t reg) {
    for (const StepCode &sc : c.steps)
      for (const auto *v : {&sc.loads, &sc.compute, &sc.tail})
        for (const Insn &in : *v) {
          const bool padded =
              (in.op == Opcode::LOAD || in.op == Opcode::MOVE) &&
              (in.pad_top || in.pad_bottom || in.pad_left || in.pad_right);
          const bool vec = in.op == Opcode::POOL || in.op == Opcode::VADD;
          if (reg == EMBER_NPU_REG_PAD_VALUE ? padded : vec)
            return true;
        }
    return false;
  };
  std::map<int64_t, int64_t> pr = setupRegs(prod), cr = setupRegs(cons);
  for (const auto &kv : pr) {
    auto it = cr.find(kv.first);
    if (it == cr.end() || it->second == kv.second)
      continue;
    if (!uses(cons, kv.first)) {
      std::vector<Insn> kept;
      for (const Insn &in : cons.setup)
        if (in.op != Opcode::SETREG || in.reg != kv.first)
          kept.push_back(in);
      cons.setup = std::move(kept);
    } else if (uses(prod, kv.first)) {
      return "the two layers set register " + std::to_string(kv.first) +
             " differently";
    }
  }

  // Rewrite the producer: VECTOR results into the ring, STOREs dropped.
  std::map<std::pair<size_t, size_t>, const Write *> writeAt;
  for (const Write &x : writes)
    writeAt[{x.step, x.vec}] = &x;
  for (size_t s = 0; s < prod.steps.size(); ++s) {
    std::vector<Insn> &tail = prod.steps[s].tail;
    std::vector<Insn> nt;
    for (size_t k = 0; k < tail.size(); ++k) {
      if (drop[s][k])
        continue;
      auto found = writeAt.find({s, k});
      const Write *w = found == writeAt.end() ? nullptr : found->second;
      if (!w) {
        nt.push_back(tail[k]);
        continue;
      }
      const int64_t n = w->span.p1 - w->span.p0, pos = w->span.p0 % R;
      const int64_t first = std::min(n, R - pos);
      Insn a = tail[k];
      a.dst = ring + w->span.tile * R + pos;
      a.rows = first;
      nt.push_back(a);
      if (first < n) {
        if (a.op == Opcode::POOL)
          return "a POOL's rows wrap around the ring";
        Insn b = tail[k];
        b.dst = ring + w->span.tile * R;
        b.rows = n - first;
        if (b.op == Opcode::REQUANT) {
          b.src += first;
        } else {
          b.a += first;
          b.b += first;
        }
        nt.push_back(b);
      }
    }
    tail = std::move(nt);
  }
  // Rewrite the consumer: LOADs -> MOVEs from the ring.
  std::vector<std::vector<char>> isRead(cons.steps.size());
  for (size_t s = 0; s < cons.steps.size(); ++s)
    isRead[s].assign(cons.steps[s].loads.size(), 0);
  for (const Read &r : reads)
    isRead[r.step][r.k] = 1;
  for (size_t s = 0; s < cons.steps.size(); ++s) {
    std::vector<Insn> &loads = cons.steps[s].loads;
    std::vector<Insn> nl;
    for (size_t k = 0; k < loads.size(); ++k) {
      if (!isRead[s][k]) {
        nl.push_back(loads[k]);
        continue;
      }
      const Insn &in = loads[k];
      ringMoves(in, int64_t((uint64_t(in.dram) - lo) / rb), P, R, ring, nl);
    }
    loads = std::move(nl);
  }
  codes[i] = std::move(prod);
  codes[i + 1] = std::move(cons);
  pair.producer = i;
  pair.ringRows = R * tiles;
  pair.order = std::move(order);
  return "";
}

void stripeLayers(std::vector<LayerCode> &codes, std::vector<LayerInfo> &infos,
                  const LayerProgram &lp, const std::vector<NTensor> &ts,
                  const std::vector<char> &candidates, bool all,
                  const StripeRegenerateFn &regenerate,
                  std::vector<StripedPair> &pairs) {
  const size_t nl = lp.layers.size();
  auto whole = [&](size_t j) {
    return infos[j].cascadedIn || infos[j].cascadedOut;
  };
  for (size_t i = 0; i + 1 < nl; ++i) {
    if (i >= candidates.size() || !candidates[i] || whole(i) || whole(i + 1))
      continue;
    // The two layers one after the other, as predicted alone; interleaved
    // they still share the array (striped tilings are no faster on it).
    const double apart =
        infos[i].predictedCycles + infos[i + 1].predictedCycles;
    auto pct = [&](double est) {
      return std::to_string(int(est / apart * 100 + 0.5)) + "%";
    };
    const double compute =
        infos[i].predictedCompute + infos[i + 1].predictedCompute;
    if (!all && compute >= kStripeGain * apart) {
      infos[i].notStriped =
          "no gain (the array alone is " + pct(compute) + " of the two apart)";
      continue;
    }
    const LayerCode keepP = codes[i], keepC = codes[i + 1];
    const LayerInfo infoP = infos[i], infoC = infos[i + 1];
    // Half of each scratchpad per layer; of OUT, a half or three quarters
    // for the ring. Each done pair is estimated, and the fastest kept.
    double best = HUGE_VAL;
    LayerCode bestP, bestC;
    LayerInfo bestIP, bestIC;
    StripedPair bestPair;
    std::string why; // of the last share tried, when neither is kept
    for (int64_t ringShare : {2, 3}) {
      std::vector<uint64_t> share;
      for (int m = 0; m < npu::kNumMems; ++m)
        share.push_back(uint64_t(npu::memRows(m)) / 2);
      share[EMBER_NPU_MEM_OUT] =
          uint64_t(EMBER_NPU_OUT_ROWS - EMBER_NPU_OUT_ROWS * ringShare / 4) / 2;
      std::string err = regenerate(i, false, true, &share);
      if (!err.empty())
        err = "the producer does not fit its share of the scratchpads";
      else if (!regenerate(i + 1, true, false, &share).empty())
        err = "the consumer does not fit its share of the scratchpads";
      const double est =
          err.empty() ? stripedEstimate(infos[i], infos[i + 1]) : HUGE_VAL;
      if (!err.empty())
        why = err;
      else if (!all && est >= kStripeGain * apart)
        why = "no gain (estimated " + pct(est) + " of the two apart)";
      if (est >= best || (!all && est >= kStripeGain * apart))
        continue;
      StripedPair pair;
      err = stripeBoundary(codes, i, ts, layerOutput(lp.layers[i]), pair);
      if (!err.empty()) {
        why = err;
        continue;
      }
      best = est;
      bestP = codes[i];
      bestC = codes[i + 1];
      bestIP = infos[i];
      bestIC = infos[i + 1];
      bestPair = std::move(pair);
    }
    if (best < HUGE_VAL) { // (only pairs that pass the gain test are kept)
      codes[i] = std::move(bestP);
      codes[i + 1] = std::move(bestC);
      infos[i] = std::move(bestIP);
      infos[i + 1] = std::move(bestIC);
      infos[i].stripedOut = true;
      infos[i + 1].stripedIn = true;
      infos[i].ringRows = infos[i + 1].ringRows = uint32_t(bestPair.ringRows);
      pairs.push_back(std::move(bestPair));
      ++i; // the consumer is in this pair
      continue;
    }
    codes[i] = keepP;
    codes[i + 1] = keepC;
    infos[i] = infoP;
    infos[i + 1] = infoC;
    infos[i].notStriped = why;
  }
}

} // namespace ember::npusim
