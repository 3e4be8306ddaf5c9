// The operation stream of a scheduled program (Stream.h): the layers' code
// in order, striped pairs interleaved, weight loads prefetched across layer
// boundaries; and the program emitted from the scheduler's state
// (Schedule.h, emitProgram).
#include "Stream.h"
#include "Schedule.h"

#include "ember/accel/Sync.h"

#include <algorithm>

namespace ember::accel {

void emitStream(const Target &t, std::vector<LayerCode> &codes,
                const std::vector<StripedPair> &pairs, bool prefetch,
                Program &out) {
  std::vector<const StripedPair *> pairOf(codes.size(), nullptr);
  for (const StripedPair &sp : pairs)
    pairOf[sp.producer] = &sp;
  // The stream: per layer, its setup, then the steps software-pipelined.
  auto emit = [&](const std::vector<Op> &v, int32_t layer) {
    for (const Op &in : v) {
      out.ops.push_back(in);
      out.opLayer.push_back(layer);
    }
  };
  //
  // Weight prefetch across layers: the first step's loads of layer i + 1 that
  // read only the constant image (weights, requantization and bias tables;
  // never activations, which the layers before may still be writing) are
  // issued where layer i's last step would issue the loads of a next step,
  // so they run while that step computes. Only when none of them writes a
  // memory row that layer i's last step still reads or writes: moved
  // across that step's instructions they must not change what it computes
  // (the token pass then orders them after the earlier users of those rows).
  std::vector<std::vector<Op>> early(codes.size());
  if (prefetch)
    for (size_t i = 0; i + 1 < codes.size(); ++i) {
      LayerCode &c = codes[i], &nx = codes[i + 1];
      if (c.steps.empty() || nx.steps.empty() || pairOf[i])
        continue; // (a striped consumer's loads interleave anyway)
      const StepCode &last = c.steps.back();
      std::vector<Op> moved, kept;
      for (const Op &in : nx.steps[0].loads) {
        bool constant =
            in.kind == OpKind::Load && in.mem != t.memOf(Cls::Out) &&
            uint64_t(in.dram) +
                    uint64_t((std::max<int64_t>(in.ysize, 1) - 1) * in.stride +
                             in.xsize) *
                        uint64_t(t.clsRowBytes(in.cls)) <=
                out.activationBase;
        uint64_t lo = uint64_t(in.row),
                 hi = lo + uint64_t((in.padTop + in.ysize + in.padBottom) *
                                    (in.padLeft + in.xsize + in.padRight));
        for (const auto *v : {&last.compute, &last.tail})
          for (const Op &u : *v)
            constant = constant && !touchesRows(t, u, in.mem, lo, hi);
        (constant ? moved : kept).push_back(in);
      }
      if (moved.empty())
        continue;
      early[i + 1] = std::move(moved);
      nx.steps[0].loads = std::move(kept);
    }
  // Unit u of layer i's stream (Stripes.h, layerUnitCount): 0 is the setup
  // and the first step's loads, s + 1 the next step's loads, step s's
  // compute and tail.
  auto emitUnit = [&](size_t i, size_t u) {
    const LayerCode &c = codes[i];
    if (u == 0) {
      emit(c.setup, int32_t(i));
      if (!c.steps.empty())
        emit(c.steps[0].loads, int32_t(i));
      return;
    }
    const size_t s = u - 1;
    const bool after = s + 1 < c.steps.size() && c.steps[s + 1].afterPrev;
    if (s + 1 < c.steps.size()) {
      if (!after)
        emit(c.steps[s + 1].loads, int32_t(i));
    } else if (i + 1 < codes.size()) { // counted as the layer they run in
      out.layers[i + 1].prefetchFirst = out.ops.size();
      emit(early[i + 1], int32_t(i));
      out.layers[i + 1].prefetchEnd = out.ops.size();
    }
    emit(c.steps[s].compute, int32_t(i));
    emit(c.steps[s].tail, int32_t(i));
    if (after)
      emit(c.steps[s + 1].loads, int32_t(i));
  };
  for (size_t i = 0; i < codes.size(); ++i) {
    if (const StripedPair *sp = pairOf[i]) {
      // Two layers interleaved; each side's units come in order from 0.
      for (const auto &[side, u] : sp->order) {
        LayerInfo &info = out.layers[i + size_t(side)];
        if (u == 0)
          info.firstInsn = out.ops.size();
        emitUnit(i + size_t(side), u);
        info.endInsn = out.ops.size();
      }
      ++i;
      continue;
    }
    LayerInfo &info = out.layers[i];
    info.firstInsn = out.ops.size();
    for (size_t u = 0; u < layerUnitCount(codes[i]); ++u)
      emitUnit(i, u);
    info.endInsn = out.ops.size();
  }
}

namespace {

// Tensors placed inside channel tiles (NTensor::laneFrom): every store of
// their rows writes only the tensor's 8-lane groups of its tile (the store
// op's `lanes`, a bit per group; 0 for a whole row), so the producers sharing a
// tile may store in any order.
Status maskPlacedStores(const Target &tg, const LayerProgram &lp,
                        const std::vector<NTensor> &ts, Program &p) {
  for (size_t k = 0; k < p.ops.size(); ++k) {
    Op &op = p.ops[k];
    if (op.kind != OpKind::Store || p.opLayer[k] < 0)
      continue;
    const int x = layerOutput(lp.layers[size_t(p.opLayer[k])]);
    if (x < 0 || ts[size_t(x)].laneFrom < 0)
      continue;
    const NTensor &t = ts[size_t(x)];
    const uint64_t first = Addr{ts}(x, 0, 0);
    const uint64_t tileBytes = uint64_t(t.P * t.rowBytes());
    if (uint64_t(op.dram) < first || !tileBytes)
      continue;
    const int64_t tile = int64_t((uint64_t(op.dram) - first) / tileBytes);
    if (tile >= t.tiles())
      continue;
    if (!tg.declares(OpKind::Store, "lanes") || t.i16 || t.i32)
      return unsupported(
          "tensor '" + t.name +
          "' is placed inside channel tiles and the target's store has "
          "no lane groups");
    const int64_t lo = tile == 0 ? t.laneFrom : 0;
    const int64_t hi = std::min(tg.lanes, t.C - tile * tg.lanes);
    int64_t mask = 0;
    for (int64_t g = lo / 8; g < ceilDiv(hi, int64_t(8)); ++g)
      mask |= int64_t(1) << g;
    op.lanes = mask == (int64_t(1) << (tg.lanes / 8)) - 1 ? 0 : mask;
  }
  return Status::ok();
}

// DMA bytes per layer, by the layer each operation is counted in.
void countDmaBytes(const Target &tg, Program &out) {
  for (size_t k = 0; k < out.ops.size(); ++k) {
    const Op &in = out.ops[k];
    if (out.opLayer[k] < 0 ||
        (in.kind != OpKind::Load && in.kind != OpKind::Store))
      continue;
    LayerInfo &info = out.layers[size_t(out.opLayer[k])];
    uint64_t b = uint64_t(in.ysize * in.xsize * tg.clsRowBytes(in.cls) *
                          (in.w16 ? 2 : 1));
    (in.kind == OpKind::Load ? info.loadBytes : info.storeBytes) += b;
  }
}

} // namespace

Status emitProgram(const Target &tg, const LayerProgram &lp,
                   const CodegenOptions &o, ScheduleState &st, Program &out) {
  out = std::move(st.out);
  emitStream(tg, st.codes, st.pairs, o.prefetch, out);
  EMBER_TRY(maskPlacedStores(tg, lp, st.ts, out));
  countDmaBytes(tg, out);
  out.ops.push_back(finishOp());
  out.opLayer.push_back(-1);
  out.image = std::move(st.img.bytes);
  out.tables = std::move(st.tables);
  for (int k : lp.inputs) {
    NTensor t = st.ts[size_t(k)];
    t.dram = int64_t(Addr{st.ts}(k, 0, 0));
    out.inputs.push_back(t);
  }
  for (int k : lp.outputs) {
    NTensor t = st.ts[size_t(k)];
    t.dram = int64_t(Addr{st.ts}(k, 0, 0));
    out.outputs.push_back(t);
  }
  return Status::ok();
}

} // namespace ember::accel
