// A whole program on the reference simulator (RefSim.h): the reference
// arrangement of a GEMM layer's constants in the static image
// (packReference: the layer laid each out, Program::tables; this fills the
// bytes the reference simulator's array reads; the example NPU packs its
// image the same way), and the program run on a fresh machine with its
// inputs and outputs in the host layout (simulateProgram).
#include "ember/accel/Device.h"
#include "ember/accel/Pack.h"
#include "ember/accel/RefSim.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace ember::accel {

namespace {

void packGemm(const Target &t, const GemmLayer &g, const GemmTables &tb,
              uint8_t *img) {
  const int64_t L = t.lanes;
  const int64_t Kt = ceilDiv(g.K, L), Cg = g.C / g.groups, Kg = g.K / g.groups,
                taps = g.sum ? 1 : g.kh * g.kw;
  for (int64_t ko = 0; ko < Kt && tb.dw; ++ko) {
    int8_t *block = reinterpret_cast<int8_t *>(img + tb.wOff[size_t(ko)]);
    for (int64_t ky = 0; ky < g.kh; ++ky)
      for (int64_t j = 0; j < L && ko * L + j < g.K; ++j)
        for (int64_t x = 0; x < g.kw; ++x)
          block[(ky * L + j) * L + x] =
              g.w[size_t(((ko * L + j) * g.kh + ky) * g.kw + x)];
    for (int64_t j = 0; tb.dwBias && j < L && ko * L + j < g.K; ++j) {
      uint32_t b = uint32_t(g.bias.empty() ? 0 : g.bias[size_t(ko * L + j)]);
      for (int64_t k = 0; k < 4; ++k)
        block[j * L + L - 4 + k] = int8_t(uint8_t(b >> (8 * k)));
    }
  }
  // (Weights from an activation: the zero block stays zero.)
  for (int64_t ko = 0; ko < Kt && !tb.dw && g.wAct < 0; ++ko) {
    const std::vector<int64_t> &rel = tb.rel[size_t(ko)];
    int8_t *block = reinterpret_cast<int8_t *>(img + tb.wOff[size_t(ko)]);
    for (size_t ri = 0; ri < rel.size(); ++ri)
      for (int64_t tap = 0; tap < taps; ++tap)
        for (int64_t j = 0; j < L; ++j) {
          const int64_t oc = ko * L + j;
          if (oc >= g.K)
            continue;
          const int64_t grp = oc / Kg;
          for (int64_t k = 0; k < L; ++k) {
            const int64_t ic = rel[ri] * L + k;
            if (ic >= g.C || ic < grp * Cg || ic >= (grp + 1) * Cg)
              continue;
            block[((int64_t(ri) * taps + tap) * L + j) * L + k] =
                g.sum ? int8_t(ic == oc)
                      : g.w[size_t(((oc * Cg + (ic - grp * Cg)) * taps) + tap)];
          }
        }
  }
  std::vector<int32_t> bias(size_t(Kt * L), 0), params(size_t(Kt * 2 * L), 0);
  for (int64_t oc = 0; oc < g.K; ++oc) {
    bias[size_t(oc)] = g.bias.empty() ? 0 : g.bias[size_t(oc)];
    if (g.requant) {
      params[size_t((oc / L * 2) * L + oc % L)] = g.rq.mult[size_t(oc)];
      params[size_t((oc / L * 2 + 1) * L + oc % L)] = g.rq.shift[size_t(oc)];
    }
  }
  std::memcpy(img + tb.biasOff, bias.data(), bias.size() * 4);
  if (g.requant)
    std::memcpy(img + tb.paramOff, params.data(), params.size() * 4);
  if (tb.rqBias) {
    std::vector<int32_t> p3(size_t(Kt * 3 * L), 0);
    for (int64_t ko = 0; ko < Kt; ++ko)
      for (int64_t j = 0; j < L; ++j) {
        p3[size_t((ko * 3) * L + j)] = params[size_t((ko * 2) * L + j)];
        p3[size_t((ko * 3 + 1) * L + j)] = params[size_t((ko * 2 + 1) * L + j)];
        p3[size_t((ko * 3 + 2) * L + j)] = bias[size_t(ko * L + j)];
      }
    // 16x8: the int64 bias, its low word in the table, its high word in the
    // same place of the second table (a 16-bit accumulator's requantization
    // reads param + 2 and param + 2 + half the accumulator memory's rows).
    std::vector<int32_t> hi(size_t(g.in16 ? Kt * 3 * L : 0), 0);
    for (int64_t oc = 0; oc < g.K && g.in16; ++oc) {
      const uint64_t b = uint64_t(g.bias64[size_t(oc)]);
      const size_t at = size_t((oc / L * 3 + 2) * L + oc % L);
      p3[at] = int32_t(uint32_t(b));
      hi[at] = int32_t(uint32_t(b >> 32));
    }
    std::memcpy(img + tb.rqParamOff, p3.data(), p3.size() * 4);
    if (g.in16)
      std::memcpy(img + tb.rqParamHiOff, hi.data(), hi.size() * 4);
  }
  if (tb.gemmBias) {
    int8_t *ones = reinterpret_cast<int8_t *>(img + tb.onesOff);
    ones[0] = 1;
    std::fill(ones + 1, ones + L, int8_t(-128));
    int8_t *tiles = reinterpret_cast<int8_t *>(img + tb.biasTileOff);
    for (int64_t oc = 0; oc < Kt * L; ++oc)
      biasTileRow(L, bias[size_t(oc)], tiles + oc * L);
  }
}

} // namespace

void packReference(const Target &t, const LayerProgram &lp, Program &p) {
  writeConstants(lp, p);
  for (size_t i = 0; i < lp.layers.size() && i < p.tables.size(); ++i)
    if (lp.layers[i].kind == Layer::Kind::Gemm)
      packGemm(t, lp.layers[i].gemm, p.tables[i], p.image.data());
}

Status simulateProgram(const Target &t, const Program &p,
                       const std::vector<const void *> &inputs,
                       const std::vector<void *> &outputs, const SimOptions &o,
                       SimStats *stats) {
  // No buffers at all: a timing run (the inputs zero, no outputs read).
  const bool timing = inputs.empty() && outputs.empty();
  if (!timing &&
      (inputs.size() != p.inputs.size() || outputs.size() != p.outputs.size()))
    return invalid("the program has " + std::to_string(p.inputs.size()) +
                   " inputs and " + std::to_string(p.outputs.size()) +
                   " outputs");
  const uint64_t need = std::max<uint64_t>(p.dramBytes, p.image.size());
  if (t.dram.bytes && need > t.dram.bytes)
    return invalid("the program needs " + std::to_string(need) +
                   " bytes of DRAM, the description's dram.bytes is " +
                   std::to_string(t.dram.bytes));
  RefMachine m(t, need);
  std::memcpy(m.dram().data(), p.image.data(), p.image.size());
  m.setConstants(p.image.size());
  std::vector<uint8_t> buf;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const NTensor &nt = p.inputs[i];
    if (nt.dram < 0 || uint64_t(nt.dram) + nt.bytes() > need)
      return invalid("input " + std::to_string(i) + " lies outside the DRAM");
    buf.assign(size_t(nt.bytes()), 0);
    toTiled(nt, inputs[i], buf.data());
    std::memcpy(m.dram().data() + nt.dram, buf.data(), buf.size());
  }
  const Status st = m.run(p.ops, o, stats);
  if (st.failed()) {
    std::string err = st.message();
    size_t at = 0;
    if (std::sscanf(err.c_str(), "operation %zu", &at) == 1 &&
        at < p.opLayer.size() && p.opLayer[at] >= 0 &&
        size_t(p.opLayer[at]) < p.layers.size())
      err += " (layer '" + p.layers[size_t(p.opLayer[at])].name + "')";
    return Status(st.code(), err);
  }
  for (size_t i = 0; i < outputs.size(); ++i) {
    const NTensor &nt = p.outputs[i];
    if (nt.dram < 0 || uint64_t(nt.dram) + nt.bytes() > need)
      return invalid("output " + std::to_string(i) + " lies outside the DRAM");
    fromTiled(nt, m.dram().data() + nt.dram, outputs[i]);
  }
  return Status::ok();
}

} // namespace ember::accel
