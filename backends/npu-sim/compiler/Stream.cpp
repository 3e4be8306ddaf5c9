// The instruction stream of an NPU program (Stream.h): the layers' code
// in order, striped pairs interleaved, weight loads prefetched across layer
// boundaries.
#include "Stream.h"
#include "Tokens.h"

#include <algorithm>

namespace ember::npusim {

using npu::Opcode;

void emitStream(std::vector<LayerCode> &codes,
                const std::vector<StripedPair> &pairs, bool prefetch,
                Program &out) {
  std::vector<const StripedPair *> pairOf(codes.size(), nullptr);
  for (const StripedPair &sp : pairs)
    pairOf[sp.producer] = &sp;
  // The stream: per layer, its setup, then the steps software-pipelined.
  auto emit = [&](const std::vector<Insn> &v, int32_t layer) {
    for (const Insn &in : v) {
      out.insns.push_back(in);
      out.insnLayer.push_back(layer);
    }
  };
  //
  // Weight prefetch across layers: the first step's loads of layer i + 1 that
  // read only the constant image (weights, requantization and bias tables;
  // never activations, which the layers before may still be writing) are
  // issued where layer i's last step would issue the loads of a next step,
  // so they run while that step computes. Only when none of them writes a
  // scratchpad row that layer i's last step still reads or writes: moved
  // across that step's instructions they must not change what it computes
  // (the token pass then orders them after the earlier users of those rows).
  std::vector<std::vector<Insn>> early(codes.size());
  if (prefetch)
    for (size_t i = 0; i + 1 < codes.size(); ++i) {
      LayerCode &c = codes[i], &nx = codes[i + 1];
      if (c.steps.empty() || nx.steps.empty() || pairOf[i])
        continue; // (a striped consumer's loads interleave anyway)
      const StepCode &last = c.steps.back();
      std::vector<Insn> moved, kept;
      for (const Insn &in : nx.steps[0].loads) {
        bool constant =
            in.op == Opcode::LOAD && in.mem != EMBER_NPU_MEM_OUT &&
            uint64_t(in.dram) +
                    uint64_t((std::max<int64_t>(in.ysize, 1) - 1) * in.stride +
                             in.xsize) *
                        uint64_t(npu::memRowBytes(int(in.mem))) <=
                out.activationBase;
        uint64_t lo = uint64_t(in.sram),
                 hi = lo + uint64_t((in.pad_top + in.ysize + in.pad_bottom) *
                                    (in.pad_left + in.xsize + in.pad_right));
        for (const auto *v : {&last.compute, &last.tail})
          for (const Insn &u : *v)
            constant = constant && !touchesRows(u, int(in.mem), lo, hi);
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
      out.layers[i + 1].prefetchFirst = out.insns.size();
      emit(early[i + 1], int32_t(i));
      out.layers[i + 1].prefetchEnd = out.insns.size();
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
          info.firstInsn = out.insns.size();
        emitUnit(i + size_t(side), u);
        info.endInsn = out.insns.size();
      }
      ++i;
      continue;
    }
    LayerInfo &info = out.layers[i];
    info.firstInsn = out.insns.size();
    for (size_t u = 0; u < layerUnitCount(codes[i]); ++u)
      emitUnit(i, u);
    info.endInsn = out.insns.size();
  }
}

} // namespace ember::npusim
