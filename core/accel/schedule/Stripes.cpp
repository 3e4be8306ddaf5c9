// Layer cascading in stripes (docs/npu-sdk.md,
// "Stripes"): a tensor between two GEMM layers that does not fit the out memory
// whole goes through a ring of lines in the out memory, the two layers'
// instruction streams interleaved unit by unit.
//
// Both layers are generated with CodegenOptions::striped: each takes half of
// every memory (from opposite ends, so their slots never meet) and less
// than half of the out memory (the rest is for the ring), and its y loop is
// outside its output-tile loop, so the producer completes a stripe of lines
// across all channel tiles before it starts the next. The ring holds R pixels
// of every channel tile: pixel p of tile t lives in the out memory row ring + t
// * R + p mod R. The rewrite is on the generated code, as cascadeBoundary's is,
// so it holds for every GEMM layer form: the producer's vector ops that write
// the tensor's rows (for stores) write them into the ring (split in two where a
// block wraps), its stores go, and each load of the consumer becomes copies
// from the ring (split where a line wraps). Program order is what the token
// pass orders by (Tokens.cpp), so interleaving the two streams is enough:
// each consumer unit after the producer units that write what it reads, and
// each producer unit after the consumer units still reading the ring rows it
// overwrites.
//
// An int16 tensor's ring is of 16-bit rows (row pairs: the lower half of the
// out memory, the high bytes half the memory up); a memory either layer uses
// at 16 bits is shared in quarters (stripeLayers).
#include "Stripes.h"
#include "Cascade.h"
#include "Emit.h"

#include "ember/accel/Sync.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <map>

namespace ember::accel {

namespace {

// Pixels [p0, p1) of channel tile `tile` of the striped tensor.
struct Span {
  int64_t tile, p0, p1;
};

// How far the producer runs ahead: a consumer unit whose lines are there is
// emitted after this many more producer units (when the ring allows), so the
// array has the producer's next step to compute while the consumer's copies
// wait for the vector ops that wrote their lines.
constexpr size_t kLag = 1;

// The cycles of two layers run interleaved, estimated from their
// predictions alone: no less than either layer, nor than the busiest
// compute engine's or the load engine's work of both together (they share
// the array and the DMA engine).
double stripedEstimate(const LayerInfo &p, const LayerInfo &c) {
  return std::max({p.predictedCycles, c.predictedCycles,
                   p.predictedCompute + c.predictedCompute,
                   p.predictedLoad + c.predictedLoad});
}

// A boundary runs in stripes only when that estimate is below this share of
// the two layers run one after the other: the striped tilings are smaller
// (each layer has half of the memories, and the y loops outermost), so a
// pair whose layers both keep the array busy gains nothing and loses the
// larger tiles (MobileNetV2's 56x56 depthwise -> projection pairs ran 5-16%
// slower striped, their estimate 0.95-0.98).
constexpr double kStripeGain = 0.93;

// Whether `in` touches DRAM bytes [lo, hi).
bool touchesDram(const Target &t, const Op &in, uint64_t lo, uint64_t hi) {
  return touchesRows(t, in, int(t.memories.size()), lo, hi);
}

// The copies that bring the block load `in` would bring, its lines read from
// the ring (`a0`: the tensor row of its first data row; P pixels a tile, R
// ring pixels a tile). Lines that wrap are split, with the padding kept
// where load puts it.
void ringMoves(const Target &t, const Op &in, int64_t a0, int64_t P, int64_t R,
               int64_t ring, std::vector<Op> &out) {
  struct Piece {
    int64_t src, x, pl, pr;
    bool full;
  };
  std::vector<Piece> pieces;
  for (int64_t j = 0; j < in.ysize; ++j) {
    const int64_t a = a0 + j * in.stride, tl = a / P, p = a % P;
    int64_t pos = p % R, left = in.xsize;
    if (pos + left <= R) {
      pieces.push_back(
          {ring + tl * R + pos, left, in.padLeft, in.padRight, true});
      continue;
    }
    bool first = true;
    while (left > 0) {
      const int64_t take = std::min(left, R - pos);
      pieces.push_back({ring + tl * R + pos, take, first ? in.padLeft : 0,
                        take == left ? in.padRight : 0, false});
      first = false;
      left -= take;
      pos = 0;
    }
  }
  const int64_t w = in.padLeft + in.xsize + in.padRight;
  int64_t dst = in.row;
  const size_t n = pieces.size();
  if (n > 0 && !pieces[0].full && in.padTop > 0) { // padding lines alone
    out.push_back(copyOp(t, dst, ring, 0, in.xsize, in.xsize, in.padTop, 0,
                         in.padLeft, in.padRight));
    dst += in.padTop * w;
  }
  for (size_t a = 0; a < n;) {
    const Piece &pa = pieces[a];
    if (!pa.full) {
      out.push_back(copyOp(t, dst, pa.src, 1, pa.x, pa.x, 0, 0, pa.pl, pa.pr));
      dst += pa.pl + pa.x + pa.pr;
      ++a;
      continue;
    }
    // Consecutive whole lines at one ring pitch: one copy.
    size_t b = a + 1;
    int64_t stride = in.xsize;
    if (b < n && pieces[b].full)
      stride = pieces[b].src - pa.src;
    if (stride < 0 || stride > t.maxStride)
      stride = in.xsize;
    else
      while (b < n && pieces[b].full &&
             pieces[b].src - pieces[b - 1].src == stride &&
             int64_t(b - a) < t.maxY)
        ++b;
    const int64_t top = a == 0 ? in.padTop : 0,
                  bottom = b == n ? in.padBottom : 0;
    out.push_back(copyOp(t, dst, pa.src, int64_t(b - a), in.xsize, stride, top,
                         bottom, in.padLeft, in.padRight));
    dst += (top + int64_t(b - a) + bottom) * w;
    a = b;
  }
  if (n > 0 && !pieces[n - 1].full && in.padBottom > 0)
    out.push_back(copyOp(t, dst, ring, 0, in.xsize, in.xsize, 0, in.padBottom,
                         in.padLeft, in.padRight));
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

// The register write values of a layer's setup.
std::map<int64_t, int64_t> setupRegs(const LayerCode &c) {
  std::map<int64_t, int64_t> m;
  for (const Op &in : c.setup)
    if (in.kind == OpKind::SetReg)
      m[in.reg] = in.value;
  return m;
}

// Whether layer L keeps 16-bit rows (row pairs) in memory `mem`: a 16x8
// layer in the act, accumulator and parameter memories, a layer with an
// int16 result in the out memory (the code generator's halving, GemmCode.cpp).
bool halves16(const Target &t, const Layer &L, int mem) {
  if (L.kind != Layer::Kind::Gemm)
    return false;
  if (mem == t.memOf(Cls::Out))
    return L.gemm.out16;
  return L.gemm.in16 && (mem == t.memOf(Cls::Act) || mem == t.memOf(Cls::Acc) ||
                         mem == t.memOf(Cls::Param));
}

// A producer's store of the tensor (the vector op writing its rows, the
// span of the tensor) and a consumer's load of it.
struct StripeWrite {
  size_t step, vec;
  Span span;
};
struct StripeRead {
  size_t step, k;
};

// Striping the boundary between two layers over one tensor: the tensor's
// place, copies of both layers' code being rewritten, and what each step
// of the rewrite finds (the stores and loads of the tensor, the ring, the
// order of units, the registers both layers set).
struct Boundary {
  const Target &t;
  const std::vector<NTensor> &ts;
  const NTensor &T;
  int outMem, actMem, dram;
  uint64_t outRows, rb, lo, hi;
  int64_t P, tiles, W;
  LayerCode prod, cons;
  Ranges usedOut; // the out-memory rows either layer uses
  std::vector<StripeWrite> writes;
  std::vector<std::vector<char>> drop; // producer's tail ops to drop
  std::vector<StripeRead> reads;
  // Per unit: the spans the producer writes, the consumer reads.
  std::vector<std::vector<Span>> wrote, need;
  int64_t R = 0, ring = 0; // pixels per channel tile, first ring row
  uint64_t best = 0;       // the ring's gap, rows
  std::vector<std::pair<int, size_t>> order;
  // Registers both layers set differently and use: (reg, (prod, cons)).
  std::vector<std::pair<int64_t, std::pair<int64_t, int64_t>>> both;

  Boundary(const Target &tg, const std::vector<LayerCode> &codes, size_t i,
           const std::vector<NTensor> &tensors, int tensor)
      : t(tg), ts(tensors), T(tensors[size_t(tensor)]),
        outMem(tg.memOf(Cls::Out)), actMem(tg.memOf(Cls::Act)),
        dram(int(tg.memories.size())), outRows(tg.memRows(outMem)),
        rb(uint64_t(T.rowBytes())), lo(Addr{tensors}(tensor, 0, 0)),
        hi(lo + T.bytes()), P(T.P), tiles(T.tiles()),
        W(T.dims.size() == 4 ? std::max<int64_t>(T.dims[3], 1) : 1),
        prod(codes[i]), cons(codes[i + 1]) {}

  Status jointFit();
  Status producerStores();
  Status consumerLoads();
  Status unitSpans();
  Status placeRing();
  Status interleave();
  Status mergeSetups();
  bool opUses(const Op &in, int64_t reg) const;
  bool uses(const LayerCode &c, int64_t reg) const;
  Status rewriteProducer();
  void rewriteConsumer();
  void setRegistersAgain();
};

// Joint fit: no memory row both layers use, no DRAM byte but the tensor's
// that both touch (their instructions run interleaved). The out-memory rows
// both use are kept for the ring.
Status Boundary::jointFit() {
  for (int mem = 0; mem <= dram; ++mem) {
    Ranges a, b;
    layerRanges(t, prod, mem, a);
    layerRanges(t, cons, mem, b);
    if (mem == outMem) {
      usedOut = a;
      usedOut.insert(usedOut.end(), b.begin(), b.end());
    }
    if (mem == dram) // the tensor itself is what they share
      for (Ranges *v : {&a, &b})
        v->erase(std::remove_if(v->begin(), v->end(),
                                [&](const std::pair<uint64_t, uint64_t> &r) {
                                  return r.first >= lo && r.second <= hi;
                                }),
                 v->end());
    if (meet(merged(a), merged(b)))
      return unsupported(std::string("the two layers share ") +
                         (mem == dram ? "DRAM" : t.memories[size_t(mem)].name) +
                         " rows");
  }
  return Status::ok();
}

// The producer: stores of the tensor from the out memory, each run right
// after the vector op that wrote its rows; nothing else touches the tensor.
Status Boundary::producerStores() {
  drop.resize(prod.steps.size());
  for (const Op &in : prod.setup)
    if (touchesDram(t, in, lo, hi))
      return unsupported("the producer's setup touches the tensor");
  for (size_t s = 0; s < prod.steps.size(); ++s) {
    const StepCode &sc = prod.steps[s];
    for (const auto *v : {&sc.loads, &sc.compute})
      for (const Op &in : *v)
        if (touchesDram(t, in, lo, hi))
          return unsupported("the producer reads the tensor");
    const std::vector<Op> &tail = sc.tail;
    drop[s].assign(tail.size(), 0);
    for (size_t k = 0; k < tail.size(); ++k) {
      const Op &st = tail[k];
      if (!touchesDram(t, st, lo, hi))
        continue;
      const uint64_t b = uint64_t(st.dram);
      if (st.kind != OpKind::Store || st.mem != outMem ||
          st.stride != st.xsize || b < lo || (b - lo) % rb != 0 ||
          b + uint64_t(st.ysize * st.xsize) * rb > hi)
        return unsupported(
            "the producer writes the tensor other than by stores from " +
            t.memories[size_t(outMem)].name);
      StoredRows sr;
      EMBER_TRY(storedRows(tail, k, lo, rb, sr));
      if (sr.first) {
        const int64_t rows = tail[sr.vec].rows;
        if (sr.row % P + rows > P)
          return unsupported(
              "a vector op's rows are not one run of the tensor");
        writes.push_back(
            {s, sr.vec, {sr.row / P, sr.row % P, sr.row % P + rows}});
      }
      drop[s][k] = 1;
    }
  }
  return Status::ok();
}

// The consumer: loads of the tensor into the act memory, nothing else.
Status Boundary::consumerLoads() {
  for (const Op &in : cons.setup)
    if (touchesDram(t, in, lo, hi))
      return unsupported("the consumer's setup touches the tensor");
  for (size_t s = 0; s < cons.steps.size(); ++s) {
    const StepCode &sc = cons.steps[s];
    for (const auto *v : {&sc.compute, &sc.tail})
      for (const Op &in : *v)
        if (touchesDram(t, in, lo, hi))
          return unsupported(
              "the consumer touches the tensor other than by loads");
    for (size_t k = 0; k < sc.loads.size(); ++k) {
      const Op &in = sc.loads[k];
      if (!touchesDram(t, in, lo, hi))
        continue;
      const uint64_t b = uint64_t(in.dram);
      if (in.kind != OpKind::Load || in.mem != actMem || b < lo ||
          (b - lo) % rb != 0 ||
          b + uint64_t((in.ysize - 1) * in.stride + in.xsize) * rb > hi)
        return unsupported(
            "the consumer reads the tensor other than by loads into " +
            t.memories[size_t(actMem)].name);
      reads.push_back({s, k});
    }
  }
  if (writes.empty() || reads.empty())
    return unsupported("no stores or loads of the tensor");
  return Status::ok();
}

// Per unit: the spans the producer writes, the consumer reads.
Status Boundary::unitSpans() {
  wrote.resize(layerUnitCount(prod));
  need.resize(layerUnitCount(cons));
  for (const StripeWrite &w : writes)
    wrote[w.step + 1].push_back(w.span);
  for (const StripeRead &r : reads) {
    const Op &in = cons.steps[r.step].loads[r.k];
    const int64_t a0 = int64_t((uint64_t(in.dram) - lo) / rb);
    for (int64_t j = 0; j < in.ysize; ++j) {
      const int64_t a = a0 + j * in.stride;
      if (a % P + in.xsize > P)
        return unsupported("a load line crosses channel tiles");
      need[r.step].push_back({a / P, a % P, a % P + in.xsize});
    }
  }
  return Status::ok();
}

// The ring: the largest gap of the out memory that neither layer uses, R
// pixels per channel tile (whole lines when it holds one and the producer's
// widest block).
// A 16-bit tensor's ring is of 16-bit rows: row pairs, in the lower half
// with their high bytes half the memory up, both free.
Status Boundary::placeRing() {
  Ranges used = std::move(usedOut);
  const uint64_t ringEnd = T.i16 ? outRows / 2 : outRows;
  if (T.i16) {
    Ranges folded;
    for (const auto &r : used) {
      if (r.first < ringEnd)
        folded.push_back({r.first, std::min(r.second, ringEnd)});
      if (r.second > ringEnd)
        folded.push_back(
            {std::max(r.first, ringEnd) - ringEnd, r.second - ringEnd});
    }
    used = std::move(folded);
  }
  std::sort(used.begin(), used.end());
  uint64_t at = 0, bestAt = 0;
  for (const auto &r : used) {
    if (r.first > at && r.first - at > best) {
      best = r.first - at;
      bestAt = at;
    }
    at = std::max(at, r.second);
  }
  if (ringEnd > at && ringEnd - at > best) {
    best = ringEnd - at;
    bestAt = at;
  }
  R = int64_t(best) / tiles;
  int64_t widest = 0;
  for (const StripeWrite &w : writes)
    widest = std::max(widest, w.span.p1 - w.span.p0);
  if (W > 1 && R - R % W >= std::max(W, widest))
    R -= R % W;
  if (R < widest)
    return unsupported(t.memories[size_t(outMem)].name, " has ", best,
                       T.i16 ? " free 16-bit rows" : " free rows",
                       ", not a ring of ", widest, " pixels per channel tile");
  ring = int64_t(bestAt);
  return Status::ok();
}

// Interleave: a consumer unit once every span it reads is written, a
// producer unit once no pending consumer unit reads what it overwrites.
Status Boundary::interleave() {
  const size_t PU = wrote.size(), CU = need.size();
  std::vector<std::vector<int64_t>> lowest(
      CU + 1, std::vector<int64_t>(size_t(tiles), INT64_MAX));
  for (size_t u = CU; u-- > 0;) {
    lowest[u] = lowest[u + 1];
    for (const Span &sp : need[u])
      lowest[u][size_t(sp.tile)] = std::min(lowest[u][size_t(sp.tile)], sp.p0);
  }
  std::vector<int64_t> produced(size_t(tiles), 0);
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
          return unsupported(
              "the producer writes a channel tile's lines out of order");
        produced[size_t(sp.tile)] = sp.p1;
      }
      order.push_back({0, pu++});
    } else {
      return unsupported(
          "a ring of " + std::to_string(R) +
          " pixels per channel tile is too small for the consumer's "
          "blocks");
    }
  }
  return Status::ok();
}

// Whether an op reads the register (the pad value: padded loads and copies;
// the int16 clamp: Requant into 16 bits; the rest: the vector unit's).
bool Boundary::opUses(const Op &in, int64_t reg) const {
  if (reg == t.regs[size_t(Reg::PadValue)])
    return (in.kind == OpKind::Load || in.kind == OpKind::Copy) &&
           (in.padTop || in.padBottom || in.padLeft || in.padRight);
  if (reg == t.regs[size_t(Reg::Rq16Min)] ||
      reg == t.regs[size_t(Reg::Rq16Max)])
    return in.kind == OpKind::Requant && in.out16;
  return in.kind == OpKind::Pool || in.kind == OpKind::VAdd;
}

bool Boundary::uses(const LayerCode &c, int64_t reg) const {
  for (const StepCode &sc : c.steps)
    for (const auto *v : {&sc.loads, &sc.compute, &sc.tail})
      for (const Op &in : *v)
        if (opUses(in, reg))
          return true;
  return false;
}

// The setups' registers: a value both set differently is dropped from the
// consumer's setup when the consumer does not use it; when both use it,
// each unit that uses it after the other layer's value was set sets its
// own again first (a register write goes to the queue of the engine that
// reads the register, so it takes effect in program order there). The
// producer's setup comes first (the consumer's first unit reads lines the
// producer writes, so it always comes later; checked).
Status Boundary::mergeSetups() {
  if (order.front().first != 0)
    return unsupported("the consumer's setup would run before the producer's");
  // One output table at a time: interleaved, the consumer's lutld would
  // replace the producer's table while the producer still uses it.
  auto loadsTable = [](const LayerCode &c) {
    for (const Op &in : c.setup)
      if (in.kind == OpKind::LutLd)
        return true;
    return false;
  };
  if (loadsTable(prod) && loadsTable(cons))
    return unsupported("both layers load an output table");
  std::map<int64_t, int64_t> pr = setupRegs(prod), cr = setupRegs(cons);
  for (const auto &kv : pr) {
    auto it = cr.find(kv.first);
    if (it == cr.end() || it->second == kv.second)
      continue;
    if (!uses(cons, kv.first)) {
      std::vector<Op> kept;
      for (const Op &in : cons.setup)
        if (in.kind != OpKind::SetReg || in.reg != kv.first)
          kept.push_back(in);
      cons.setup = std::move(kept);
    } else if (uses(prod, kv.first)) {
      both.push_back({kv.first, {kv.second, it->second}});
    }
  }
  return Status::ok();
}

// Rewrite the producer: vector results into the ring, stores dropped.
Status Boundary::rewriteProducer() {
  std::map<std::pair<size_t, size_t>, const StripeWrite *> writeAt;
  for (const StripeWrite &x : writes)
    writeAt[{x.step, x.vec}] = &x;
  for (size_t s = 0; s < prod.steps.size(); ++s) {
    std::vector<Op> &tail = prod.steps[s].tail;
    std::vector<Op> nt;
    for (size_t k = 0; k < tail.size(); ++k) {
      if (drop[s][k])
        continue;
      auto found = writeAt.find({s, k});
      const StripeWrite *w = found == writeAt.end() ? nullptr : found->second;
      if (!w) {
        nt.push_back(tail[k]);
        continue;
      }
      const int64_t n = w->span.p1 - w->span.p0, pos = w->span.p0 % R;
      const int64_t first = std::min(n, R - pos);
      Op a = tail[k];
      a.dst = ring + w->span.tile * R + pos;
      a.rows = first;
      nt.push_back(a);
      if (first < n) {
        if (a.kind == OpKind::Pool)
          return unsupported("a pool's rows wrap around the ring");
        Op b = tail[k];
        b.dst = ring + w->span.tile * R;
        b.rows = n - first;
        if (b.kind == OpKind::Requant) {
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
  return Status::ok();
}

// Rewrite the consumer: loads -> copies from the ring.
void Boundary::rewriteConsumer() {
  std::vector<std::vector<char>> isRead(cons.steps.size());
  for (size_t s = 0; s < cons.steps.size(); ++s)
    isRead[s].assign(cons.steps[s].loads.size(), 0);
  for (const StripeRead &r : reads)
    isRead[r.step][r.k] = 1;
  for (size_t s = 0; s < cons.steps.size(); ++s) {
    std::vector<Op> &loads = cons.steps[s].loads;
    std::vector<Op> nl;
    for (size_t k = 0; k < loads.size(); ++k) {
      if (!isRead[s][k]) {
        nl.push_back(loads[k]);
        continue;
      }
      const Op &in = loads[k];
      const size_t from = nl.size();
      ringMoves(t, in, int64_t((uint64_t(in.dram) - lo) / rb), P, R, ring, nl);
      for (size_t j = from; j < nl.size(); ++j)
        nl[j].w16 = in.w16; // 16-bit rows: the ring's row pairs
    }
    loads = std::move(nl);
  }
}

// The registers both layers use, set again where the other's value is in
// effect. Walk the order: unit u > 0 of a layer holds step u's loads and
// step u - 1's compute and tail (Stripes.h, layerUnitCount); a register
// read by vector ops is set again at the head of the tail, one read by
// loads and copies at the head of the loads.
void Boundary::setRegistersAgain() {
  for (const auto &[reg, values] : both) {
    int current = 0; // whose value is in effect: the producer's setup first
    std::vector<std::pair<size_t, size_t>> at[2]; // (unit, 0: loads, 1: tail)
    for (const auto &[side, u] : order) {
      LayerCode &c = side == 0 ? prod : cons;
      if (u == 0) {
        current = side; // its setup sets its value
        continue;
      }
      bool loadsUse = false, tailUses = false;
      if (u < c.steps.size())
        for (const Op &in : c.steps[u].loads)
          loadsUse = loadsUse || opUses(in, reg);
      for (const Op &in : c.steps[u - 1].tail)
        tailUses = tailUses || opUses(in, reg);
      if (!loadsUse && !tailUses)
        continue;
      if (current != side) {
        at[side].push_back({u, loadsUse ? 0 : 1});
        current = side;
      }
    }
    for (int side : {0, 1}) {
      LayerCode &c = side == 0 ? prod : cons;
      const int64_t value = side == 0 ? values.first : values.second;
      Op set; // the layer's own register write (its engine), its value
      for (const Op &in : c.setup)
        if (in.kind == OpKind::SetReg && in.reg == reg)
          set = in;
      set.value = value;
      for (const auto &[u, where] : at[side]) {
        std::vector<Op> &v =
            where == 0 ? c.steps[u].loads : c.steps[u - 1].tail;
        v.insert(v.begin(), set);
      }
    }
  }
}

} // namespace

std::vector<char> stripeCandidates(const Target &tg, const LayerProgram &lp,
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
    out[i] = !fitsHalfOfOut(tg, ts[size_t(t)]);
  }
  return out;
}

Status stripeBoundary(const Target &t, std::vector<LayerCode> &codes, size_t i,
                      const std::vector<NTensor> &ts, int tensor,
                      StripedPair &pair) {
  Boundary b(t, codes, i, ts, tensor);
  for (Status (Boundary::*step)() :
       {&Boundary::jointFit, &Boundary::producerStores,
        &Boundary::consumerLoads, &Boundary::unitSpans, &Boundary::placeRing,
        &Boundary::interleave, &Boundary::mergeSetups,
        &Boundary::rewriteProducer})
    EMBER_TRY((b.*step)());
  b.rewriteConsumer();
  b.setRegistersAgain();
  codes[i] = std::move(b.prod);
  codes[i + 1] = std::move(b.cons);
  pair.producer = i;
  pair.ringRows = b.R * b.tiles;
  pair.order = std::move(b.order);
  return Status::ok();
}

void stripeLayers(const Target &t, std::vector<LayerCode> &codes,
                  std::vector<LayerInfo> &infos, const LayerProgram &lp,
                  const std::vector<NTensor> &ts,
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
    const int mid = layerOutput(lp.layers[i]);
    const bool tensor16 = mid >= 0 && ts[size_t(mid)].i16;
    const LayerCode keepP = codes[i], keepC = codes[i + 1];
    const LayerInfo infoP = infos[i], infoC = infos[i + 1];
    // Half of each memory per layer; of the out memory, a half or three
    // quarters for the ring. Each done pair is estimated, and the fastest kept.
    double best = HUGE_VAL;
    LayerCode bestP, bestC;
    LayerInfo bestIP, bestIC;
    StripedPair bestPair;
    std::string why; // of the last share tried, when neither is kept
    for (int64_t ringShare : {2, 3}) {
      std::vector<uint64_t> share;
      for (size_t m = 0; m < t.memories.size(); ++m) {
        const int mem = int(m);
        const uint64_t rows = t.memRows(mem);
        // A memory either layer uses at 16 bits (row pairs, the blocks in its
        // lower half): a quarter each, so that one side's blocks from the
        // bottom and the other's from the top of the lower half (or, at 8
        // bits, of the memory) miss each other and each other's high rows
        // (the parameter memory less its table rows at the top).
        if (halves16(t, lp.layers[i], mem) ||
            halves16(t, lp.layers[i + 1], mem) ||
            (mem == t.memOf(Cls::Out) && tensor16)) {
          const uint64_t half = rows / 2;
          if (mem == t.memOf(Cls::Out))
            share.push_back(uint64_t(half - half * uint64_t(ringShare) / 4) /
                            2);
          else
            share.push_back((half - (mem == t.memOf(Cls::Param)
                                         ? std::min<uint64_t>(half, t.lutRows())
                                         : 0)) /
                            2);
          continue;
        }
        share.push_back(mem == t.memOf(Cls::Out)
                            ? (rows - rows * uint64_t(ringShare) / 4) / 2
                            : rows / 2);
      }
      std::string err;
      if (regenerate(i, false, true, &share).failed())
        err = "the producer does not fit its share of the scratchpads";
      else if (regenerate(i + 1, true, false, &share).failed())
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
      const Status st =
          stripeBoundary(t, codes, i, ts, layerOutput(lp.layers[i]), pair);
      if (st.failed()) {
        why = st.message();
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

} // namespace ember::accel
