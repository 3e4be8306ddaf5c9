// Layer cascading (docs/npu-sdk.md, "Residency"): which tensors between
// consecutive layers stay in the out memory, and the rewrite of the two
// layers' code (vector results into it, stores dropped, the consumer's loads
// turned into copies).
#include "Cascade.h"

#include "ember/accel/Sync.h"

#include <algorithm>

namespace ember::accel {

// Every range of domain `mem` the operations of a layer touch.
void layerRanges(const Target &t, const LayerCode &c, int mem, Ranges &out) {
  std::vector<int32_t> regs(t.regCount, 0);
  auto scan = [&](const std::vector<Op> &v) {
    for (const Op &in : v) {
      if (in.kind == OpKind::SetReg && in.reg >= 0 &&
          uint64_t(in.reg) < regs.size())
        regs[size_t(in.reg)] = int32_t(in.value);
      accessedRanges(t, in, regs.data(), mem, out);
    }
  };
  scan(c.setup);
  for (const StepCode &sc : c.steps) {
    scan(sc.loads);
    scan(sc.compute);
    scan(sc.tail);
  }
}

// Whether any range in `rs` meets [lo, hi).
bool overlaps(const Ranges &rs, uint64_t lo, uint64_t hi) {
  for (const auto &r : rs)
    if (r.first < hi && lo < r.second)
      return true;
  return false;
}

// Whether tensor x, placed in T's storage, is all of T in T's tiled layout.
bool wholeView(const NTensor &x, const NTensor &T) {
  return x.tileOffset == 0 && x.pixOff < 0 && x.laneFrom < 0 && x.ilv == 0 &&
         x.C == T.C && x.P == T.P && x.lanes == T.lanes && x.i16 == T.i16 &&
         x.i32 == T.i32 && x.u8 == T.u8;
}

// The rules of cascadeBoundary that hold of tensor T between layers i and
// i + 1 whatever the code: an int8 or int16 activation (int16: row pairs, the
// high bytes half the out memory up, Target::wide16) of its own storage,
// neither an input nor an output of the program, referenced by layers i and
// i + 1 only.
bool cascadableTensor(const std::vector<NTensor> &ts, const LayerProgram &lp,
                      size_t i, int tensor) {
  const NTensor &T = ts[size_t(tensor)];
  auto isProgramTensor = [&](int k) {
    return ts[size_t(k)].kind != NTensor::Kind::Activation ||
           std::find(lp.outputs.begin(), lp.outputs.end(), k) !=
               lp.outputs.end() ||
           std::find(lp.inputs.begin(), lp.inputs.end(), k) != lp.inputs.end();
  };
  if (T.i32 || isProgramTensor(tensor))
    return false;
  // T's own storage, referenced by layers i and i + 1 only (other layers'
  // instructions may touch its DRAM bytes for tensors that share them at
  // other times: the DRAM planner reuses bytes across lifetimes). A whole
  // view of T (a Reshape that keeps the tiled layout: a MatMul's [M, K] read
  // as a one-pixel convolution's [M, K, 1, 1]) is T under another name and
  // obeys the same rules; any other tensor placed in T's bytes keeps T in
  // DRAM.
  if (T.base >= 0)
    return false;
  std::vector<int> names{tensor};
  for (size_t k = 0; k < ts.size(); ++k)
    if (ts[k].base == tensor) {
      if (!wholeView(ts[k], T) || isProgramTensor(int(k)))
        return false;
      names.push_back(int(k));
    }
  for (size_t l = 0; l < lp.layers.size(); ++l) {
    std::vector<int> refs = layerTensors(lp.layers[l]);
    bool uses = std::any_of(names.begin(), names.end(), [&](int n) {
      return std::find(refs.begin(), refs.end(), n) != refs.end();
    });
    if (uses && l != i && l != i + 1)
      return false;
  }
  return true;
}

Status storedRows(const std::vector<Op> &tail, size_t k, uint64_t lo,
                  uint64_t rb, StoredRows &out) {
  const Op &st = tail[k];
  // Walk back over the stores of the same op.
  size_t v = k;
  int64_t offset = 0; // rows of the op before this store
  while (v > 0 && tail[v - 1].kind == OpKind::Store) {
    --v;
    offset += tail[v].ysize * tail[v].xsize;
  }
  if (v == 0)
    return unsupported("a store of the tensor follows no vector op");
  --v;
  const Op &op = tail[v];
  if ((op.kind != OpKind::Requant && op.kind != OpKind::VAdd &&
       op.kind != OpKind::Pool && op.kind != OpKind::Lut) ||
      st.row != op.dst + offset || offset + st.ysize * st.xsize > op.rows)
    return unsupported(
        "a store of the tensor is not of the vector op before it");
  const int64_t row = int64_t((uint64_t(st.dram) - lo) / rb) - offset;
  // The op's rows must all be stored, contiguously in T: checked at its
  // first store, which a later one needs to be of T too.
  int64_t covered = 0;
  for (size_t q = v + 1; q < tail.size() && tail[q].kind == OpKind::Store;
       ++q) {
    if (tail[q].row != op.dst + covered || uint64_t(tail[q].dram) < lo ||
        int64_t((uint64_t(tail[q].dram) - lo) / rb) != row + covered)
      return unsupported("a vector op's rows are not stored contiguously");
    covered += tail[q].ysize * tail[q].xsize;
    if (offset > 0)
      break; // the first store is of T; the rest was checked with it
  }
  if (offset == 0 && covered != op.rows)
    return unsupported("a vector op's rows are not all stored");
  out = {v, row, offset == 0};
  return Status::ok();
}

namespace {

// The lowest gap of `rows` rows of memory `mem` that no range in `used`
// touches; -1 if none.
int64_t findGap(const Target &t, int mem, Ranges used, uint64_t rows) {
  std::sort(used.begin(), used.end());
  uint64_t at = 0;
  for (const auto &r : used) {
    if (r.first >= at + rows)
      break;
    at = std::max(at, r.second);
  }
  return at + rows <= t.memRows(mem) ? int64_t(at) : -1;
}

// The lowest gap of `rows` 16-bit rows of memory `mem`: in its lower half,
// the same rows of the upper half (their high bytes) untouched too.
int64_t findGap16(const Target &t, int mem, const Ranges &used, uint64_t rows) {
  const uint64_t half = t.memRows(mem) / 2;
  Ranges folded;
  for (const auto &r : used) {
    if (r.first < half)
      folded.push_back({r.first, std::min(r.second, half)});
    if (r.second > half)
      folded.push_back({std::max(r.first, half) - half, r.second - half});
  }
  folded.push_back({half, t.memRows(mem)});
  return findGap(t, mem, std::move(folded), rows);
}

// Layer code `c` without the vector ops at `vecs` (step, index in its tail)
// and the stores at `stores`: the operations of the producer's slot that the
// rewrite below moves into the gap or drops.
template <class Vec, class Site>
LayerCode withoutTensorOps(const LayerCode &c, const std::vector<Vec> &vecs,
                           const std::vector<Site> &stores) {
  LayerCode r = c;
  std::vector<std::vector<size_t>> drop(r.steps.size());
  for (const Vec &v : vecs)
    drop[v.step].push_back(v.vec);
  for (const Site &s : stores)
    drop[s.step].push_back(s.k);
  for (size_t s = 0; s < drop.size(); ++s) {
    std::sort(drop[s].begin(), drop[s].end());
    for (size_t j = drop[s].size(); j-- > 0;)
      r.steps[s].tail.erase(r.steps[s].tail.begin() +
                            std::ptrdiff_t(drop[s][j]));
  }
  return r;
}

// A tensor T that layer i stores and only layer i + 1 loads (into the act
// memory) stays in the out memory when its rows fit in a gap of the out memory
// that neither layer's slots use. Decided on the generated code, by footprints,
// so it holds for every layer kind and load form: no other layer refers to T,
// and every instruction of the two layers that touches T's DRAM bytes must be
// one of layer i's stores from the out memory, each right after the vector op
// that wrote exactly its source rows, or one of layer i + 1's loads into the
// act memory. Then each such vector op writes T's rows in the out memory
// directly (row r of T at gap + r) and its stores go; each load becomes a copy
// with the same geometry (a load's rows are linear in the DRAM address, so src
// = gap + (dram - T's address) / row bytes) and padding. The token pass orders
// the copies after the vector ops by their out-memory footprints, as it ordered
// loads after stores by DRAM bytes.
//
// Tries to keep the output of layer i in the out memory for layer i + 1; true
// if done.
//
// When T alone fits the out memory but not beside the two layers' slots,
// `consumerRows` (if given) is set to the out-memory rows layer i + 1's slots
// may take for it to fit (0: none would).
bool cascadeBoundary(const Target &t, std::vector<LayerCode> &codes, size_t i,
                     const std::vector<NTensor> &ts, const LayerProgram &lp,
                     int tensor, uint64_t *consumerRows = nullptr) {
  if (!cascadableTensor(ts, lp, i, tensor))
    return false;
  const NTensor &T = ts[size_t(tensor)];
  const uint64_t rb = uint64_t(T.rowBytes());
  const uint64_t lo = Addr{ts}(tensor, 0, 0), hi = lo + T.bytes();
  const uint64_t rows = T.bytes() / rb;
  const int dram = int(t.memories.size()), outMem = t.memOf(Cls::Out),
            actMem = t.memOf(Cls::Act);
  // Every instruction touching [lo, hi) of DRAM: producer stores from the out
  // memory (after the vector op writing their rows) in layer i, the act memory
  // loads in layer i + 1, nothing else.
  struct Site {
    size_t step;
    size_t k; // index in the step's tail or loads
  };
  std::vector<Site> stores, loads;
  Ranges tmp;
  for (size_t l = i; l <= i + 1; ++l) {
    const LayerCode &c = codes[l];
    auto check = [&](const std::vector<Op> &v, size_t step, bool isTail,
                     bool isLoads) {
      for (size_t k = 0; k < v.size(); ++k) {
        const Op &in = v[k];
        tmp.clear();
        if (in.kind == OpKind::Pool)
          continue; // never touches DRAM
        accessedRanges(t, in, nullptr, dram, tmp);
        if (!overlaps(tmp, lo, hi))
          continue;
        uint64_t b = uint64_t(in.dram);
        bool inside = b >= lo && (b - lo) % rb == 0 && tmp.size() == 1 &&
                      tmp[0].second <= hi;
        if (l == i && isTail && in.kind == OpKind::Store && in.mem == outMem &&
            inside && in.stride == in.xsize)
          stores.push_back({step, k});
        else if (l == i + 1 && isLoads && in.kind == OpKind::Load &&
                 in.mem == actMem && inside)
          loads.push_back({step, k});
        else
          return false;
      }
      return true;
    };
    if (!check(c.setup, 0, false, false))
      return false;
    for (size_t s = 0; s < c.steps.size(); ++s)
      if (!check(c.steps[s].loads, s, false, true) ||
          !check(c.steps[s].compute, s, false, false) ||
          !check(c.steps[s].tail, s, true, false))
        return false;
  }
  if (stores.empty() || loads.empty())
    return false;
  // Each store's rows come from the vector op before it.
  struct Redirect {
    size_t step, vec;
    int64_t dstRow; // T's row of the op's first row
  };
  std::vector<Redirect> redirects;
  for (const Site &st : stores) {
    StoredRows sr;
    if (storedRows(codes[i].steps[st.step].tail, st.k, lo, rb, sr).failed())
      return false;
    if (sr.first)
      redirects.push_back({st.step, sr.vec, sr.row});
  }
  // Out-memory rows for T beside both layers' own. Layer i's are counted as
  // they will be after the rewrite: without the rows its redirected vector ops
  // and dropped stores touched (T's results in its slot, now in the gap), so
  // a tensor that leaves little of the out memory beside it is kept there
  // when the rest of the two layers fits.
  Ranges used;
  layerRanges(t, withoutTensorOps(codes[i], redirects, stores), outMem, used);
  const size_t producerRanges = used.size();
  layerRanges(t, codes[i + 1], outMem, used);
  int64_t gap =
      T.i16 ? findGap16(t, outMem, used, rows) : findGap(t, outMem, used, rows);
  if (gap < 0) {
    if (consumerRows && !T.i16) {
      // The producer's rows left, as one span: the consumer's slots, from
      // the other end, may take what T and that span leave.
      uint64_t first = t.memRows(outMem), last = 0;
      for (size_t k = 0; k < producerRanges; ++k) {
        first = std::min(first, used[k].first);
        last = std::max(last, used[k].second);
      }
      const uint64_t span = last > first ? last - first : 0;
      *consumerRows =
          t.memRows(outMem) > rows + span ? t.memRows(outMem) - rows - span : 0;
    }
    return false;
  }
  // Rewrite: vector results into the gap, stores dropped, loads -> copies.
  for (const Redirect &r : redirects)
    codes[i].steps[r.step].tail[r.vec].dst = gap + r.dstRow;
  for (size_t j = stores.size(); j-- > 0;) {
    std::vector<Op> &tail = codes[i].steps[stores[j].step].tail;
    tail.erase(tail.begin() + std::ptrdiff_t(stores[j].k));
  }
  for (const Site &s : loads) {
    Op &in = codes[i + 1].steps[s.step].loads[s.k];
    const bool w16 = in.w16;
    in = copyOp(t, in.row, gap + int64_t((uint64_t(in.dram) - lo) / rb),
                in.ysize, in.xsize, in.stride, in.padTop, in.padBottom,
                in.padLeft, in.padRight);
    in.w16 = w16; // 16-bit rows: both halves of each memory
  }
  return true;
}

} // namespace

namespace {

// Whether tensor `in` is T (`tensor`) or a whole view of it.
bool readsTensor(const std::vector<NTensor> &ts, int in, int tensor) {
  if (in == tensor)
    return true;
  return in >= 0 && ts[size_t(in)].base == tensor &&
         wholeView(ts[size_t(in)], ts[size_t(tensor)]);
}

} // namespace

bool fitsHalfOfOut(const Target &t, const NTensor &T) {
  const uint64_t rows = T.bytes() / uint64_t(T.rowBytes());
  return 2 * rows * (T.i16 ? 2 : 1) <= t.memRows(t.memOf(Cls::Out));
}

std::vector<char> predictCascadedInputs(const Target &tg,
                                        const LayerProgram &lp,
                                        const std::vector<NTensor> &ts) {
  const size_t nl = lp.layers.size();
  std::vector<char> in(nl, 0);
  for (size_t i = 0; i + 1 < nl; ++i) {
    const Layer &C = lp.layers[i + 1];
    const int tensor = layerOutput(lp.layers[i]);
    if (tensor < 0 || C.kind != Layer::Kind::Gemm ||
        !readsTensor(ts, C.gemm.in, tensor) ||
        !cascadableTensor(ts, lp, i, tensor))
      continue;
    in[i + 1] = fitsHalfOfOut(tg, ts[size_t(tensor)]);
  }
  return in;
}

namespace {

// Boundaries whose tensor fits the out memory but not beside both layers'
// slots: the consumer (a GEMM layer) is tiled again with its slots within
// the out-memory rows the tensor and the producer's other rows leave
// (`budget`), its input costed as copies, and kept so when the cost model
// predicts it no slower than before (the producer only gains: its stores
// go) and the boundary then holds. Boundaries are taken in order, each on
// the code the ones before it left (a consumer that copies a tensor in has
// no room for its own output beside it), so in a chain of such layers every
// other boundary stays on chip.
Status budgetConsumers(const Target &t, std::vector<LayerCode> &codes,
                       std::vector<LayerInfo> &infos, const LayerProgram &lp,
                       const std::vector<NTensor> &ts, std::vector<char> &genIn,
                       const std::vector<char> &genOut,
                       std::vector<uint64_t> &budget,
                       const RegenerateFn &regenerate) {
  std::vector<LayerCode> scratch = codes;
  for (size_t i = 0; i + 1 < codes.size(); ++i) {
    const int tensor = layerOutput(lp.layers[i]);
    uint64_t rows = 0;
    if (tensor < 0 || lp.layers[i + 1].kind != Layer::Kind::Gemm ||
        cascadeBoundary(t, scratch, i, ts, lp, tensor, &rows) || rows == 0)
      continue;
    const LayerCode oldCode = codes[i + 1];
    const LayerInfo oldInfo = infos[i + 1];
    bool kept = false;
    if (!regenerate(i + 1, true, genOut[i + 1], nullptr, rows).failed() &&
        infos[i + 1].predictedCycles <= oldInfo.predictedCycles) {
      const LayerCode producer = scratch[i];
      scratch[i + 1] = codes[i + 1];
      kept = cascadeBoundary(t, scratch, i, ts, lp, tensor);
      if (!kept) {
        scratch[i] = producer;
        scratch[i + 1] = oldCode;
      }
    }
    if (!kept) {
      codes[i + 1] = oldCode;
      infos[i + 1] = oldInfo;
      continue;
    }
    budget[i + 1] = rows;
    genIn[i + 1] = 1;
  }
  return Status::ok();
}

} // namespace

Status cascadeLayers(const Target &t, std::vector<LayerCode> &codes,
                     std::vector<LayerInfo> &infos, const LayerProgram &lp,
                     const std::vector<NTensor> &ts,
                     const std::vector<char> &generatedIn,
                     const std::vector<char> &generatedOut,
                     const RegenerateFn &regenerate) {
  const size_t nl = lp.layers.size();
  std::vector<char> genIn = generatedIn, genOut = generatedOut;
  genIn.resize(nl, 0);
  genOut.resize(nl, 0);
  std::vector<uint64_t> budget(nl, 0);
  if (nl > 1)
    EMBER_TRY(budgetConsumers(t, codes, infos, lp, ts, genIn, genOut, budget,
                              regenerate));
  // The sides each layer was tiled for (a budgeted consumer's input on chip).
  const std::vector<char> planIn = genIn, planOut = genOut;
  // The tilings kept from here on (a budgeted consumer's is its new one).
  std::vector<TileChoice> firstChoice(nl);
  std::vector<std::vector<TileChoice>> firstCandidates(nl);
  for (size_t i = 0; i < nl; ++i) {
    firstChoice[i] = infos[i].choice;
    firstCandidates[i] = infos[i].candidates;
  }
  // Which boundaries hold on `c` (the rewrite done in it).
  auto boundaries = [&](std::vector<LayerCode> &c, std::vector<char> &in2,
                        std::vector<char> &out2) {
    in2.assign(nl, 0);
    out2.assign(nl, 0);
    for (size_t i = 0; i + 1 < nl; ++i) {
      int tensor = layerOutput(lp.layers[i]);
      if (tensor >= 0 && cascadeBoundary(t, c, i, ts, lp, tensor))
        out2[i] = in2[i + 1] = 1;
    }
  };
  bool retiled = false;
  for (int round = 0; nl > 1; ++round) {
    std::vector<LayerCode> trial = codes;
    std::vector<char> in2, out2;
    boundaries(trial, in2, out2);
    const bool settled = in2 == genIn && out2 == genOut;
    if (settled && !retiled && round < 3) {
      // Once settled, a GEMM layer whose sides are not the ones it was tiled
      // for (its input or output on chip where its tiling costed DRAM
      // transfers, or the reverse) is tiled again for the sides it has. It
      // keeps the new tiling only when the cost model predicts it at least
      // 10% faster and every boundary still holds with it: the model predicts
      // a layer alone, and in the network its smaller predicted gains ran
      // slower (DS-CNN's depthwise layers, -4% predicted, +5% simulated),
      // while a per-channel affine tiled with its stores costed (small
      // blocks, each load paying the DRAM latency) gains a fifth with whole
      // channel tiles once its output stays on chip.
      retiled = true;
      bool changed = false;
      for (size_t j = 0; j < nl; ++j) {
        if (lp.layers[j].kind != Layer::Kind::Gemm ||
            (genIn[j] == planIn[j] && genOut[j] == planOut[j]))
          continue;
        const LayerCode oldCode = codes[j];
        const LayerInfo oldInfo = infos[j];
        bool keep =
            !regenerate(j, genIn[j], genOut[j], nullptr, budget[j]).failed() &&
            infos[j].predictedCycles * 10 < oldInfo.predictedCycles * 9;
        if (keep) {
          std::vector<LayerCode> check = codes;
          std::vector<char> in3, out3;
          boundaries(check, in3, out3);
          keep = in3 == genIn && out3 == genOut;
        }
        if (!keep) {
          codes[j] = oldCode;
          infos[j] = oldInfo;
          continue;
        }
        firstChoice[j] = infos[j].choice;
        firstCandidates[j] = infos[j].candidates;
        changed = true;
      }
      if (changed)
        continue;
    }
    if (settled || round == 3) {
      codes = std::move(trial);
      for (size_t i = 0; i < nl; ++i) {
        infos[i].cascadedIn = in2[i];
        infos[i].cascadedOut = out2[i];
      }
      break;
    }
    for (size_t j = 0; j < nl; ++j) {
      if (in2[j] == genIn[j] && out2[j] == genOut[j])
        continue;
      genIn[j] = in2[j];
      genOut[j] = out2[j];
      if (lp.layers[j].kind != Layer::Kind::Gemm)
        continue; // its cost model has no cascading side
      EMBER_TRY(regenerate(j, genIn[j], genOut[j], &firstChoice[j], budget[j]));
      infos[j].candidates = firstCandidates[j];
    }
  }
  return Status::ok();
}

} // namespace ember::accel
