// Packing a GEMM layer's constants into the NPU's DRAM image (Pack.h).
#include "Pack.h"
#include "Program.h"

#include "ember/npu/Isa.h"

#include <algorithm>
#include <set>

namespace ember::npusim {

namespace {

// Row j of the bias tile (v = (1, -128, ..., -128)): false when `b` is out
// of reach (|b| beyond about 128 x 128 x (DIM - 1)).
bool biasRow(int64_t b, int8_t *w) {
  // b = w0 + 128 q with w0 in [-128, -1]; then sum_{k>=1} w_k = -q.
  int64_t q = (b + 128) >= 0 ? (b + 128) / 128 : -((-(b + 128) + 127) / 128);
  int64_t w0 = b - 128 * q;
  if (w0 < -128 || w0 > 127)
    return false;
  int64_t rest = -q;
  if (rest < -128 * (kDim - 1) || rest > 127 * (kDim - 1))
    return false;
  w[0] = int8_t(w0);
  for (int64_t k = 1; k < kDim; ++k) {
    int64_t x = std::clamp<int64_t>(rest, -128, 127);
    w[k] = int8_t(x);
    rest -= x;
  }
  return rest == 0;
}

} // namespace

// A depthwise convolution (one input channel per output channel) that
// DWGEMM runs: no dilation along the width (a kernel row's taps are
// consecutive rows of the padded line), a width stride DWGEMM's field holds,
// a kernel row of at most DIM taps.
bool dwgemmLayer(const GemmLayer &g) {
  return !g.sum && !g.flat && g.groups == g.C && g.K == g.C && g.kw > 1 &&
         g.kw <= npu::kDwMaxTaps &&
         g.sw <= (1 << EMBER_NPU_F_DWGEMM_STRIDE_WIDTH) - 1 && g.dw == 1;
}

GemmTables packGemm(const GemmLayer &g, Image &img, bool useDwgemm) {
  GemmTables tb;
  tb.sum = g.sum;
  tb.dw = useDwgemm && dwgemmLayer(g);
  tb.dwBias = tb.dw && g.kw <= kDim - 4;
  int64_t Kt = ceilDiv(g.K, kDim), Ct = ceilDiv(g.C, kDim);
  int64_t Cg = g.C / g.groups, Kg = g.K / g.groups,
          taps = g.sum ? 1 : g.kh * g.kw;
  tb.rel.resize(size_t(Kt));
  tb.wOff.resize(size_t(Kt));
  tb.zero.resize(size_t(Kt));
  for (int64_t ko = 0; ko < Kt && tb.dw; ++ko) {
    // DWGEMM: [kernel row][j][t], row j = channel ko*DIM + j, lane t = tap.
    std::vector<int8_t> block(size_t(g.kh * kDim * kDim), 0);
    std::vector<bool> zero(size_t(g.kh), true);
    for (int64_t ky = 0; ky < g.kh; ++ky)
      for (int64_t j = 0; j < kDim && ko * kDim + j < g.K; ++j)
        for (int64_t t = 0; t < g.kw; ++t) {
          int8_t v = g.w[size_t(((ko * kDim + j) * g.kh + ky) * g.kw + t)];
          block[size_t((ky * kDim + j) * kDim + t)] = v;
          if (v)
            zero[size_t(ky)] = false;
        }
    if (tb.dwBias) { // the bias in the first kernel row's tile
      zero[0] = false;
      for (int64_t j = 0; j < kDim && ko * kDim + j < g.K; ++j) {
        uint32_t b =
            uint32_t(g.bias.empty() ? 0 : g.bias[size_t(ko * kDim + j)]);
        for (int64_t k = 0; k < 4; ++k)
          block[size_t(j * kDim + kDim - 4 + k)] =
              int8_t(uint8_t(b >> (8 * k)));
      }
    }
    tb.wOff[size_t(ko)] = img.put(block.data(), block.size());
    tb.rel[size_t(ko)] = {ko};
    tb.zero[size_t(ko)] = zero;
  }
  for (int64_t ko = 0; ko < Kt && !tb.dw; ++ko) {
    std::set<int64_t> tiles;
    for (int64_t oc = ko * kDim; oc < std::min(g.K, (ko + 1) * kDim); ++oc) {
      int64_t grp = oc / Kg;
      for (int64_t ic = grp * Cg; ic < (grp + 1) * Cg; ic += 1)
        tiles.insert(ic / kDim);
    }
    (void)Ct;
    std::vector<int64_t> rel(tiles.begin(), tiles.end());
    // [ri][tap][j][k]: tile (ri, tap) row j = output channel ko*DIM + j,
    // lane k = input channel rel[ri]*DIM + k.
    std::vector<int8_t> block(size_t(rel.size() * taps * kDim * kDim), 0);
    std::vector<bool> zero(size_t(rel.size() * taps), true);
    for (size_t ri = 0; ri < rel.size(); ++ri)
      for (int64_t tap = 0; tap < taps; ++tap)
        for (int64_t j = 0; j < kDim; ++j) {
          int64_t oc = ko * kDim + j;
          if (oc >= g.K)
            continue;
          int64_t grp = oc / Kg;
          for (int64_t k = 0; k < kDim; ++k) {
            int64_t ic = rel[ri] * kDim + k;
            if (ic >= g.C || ic < grp * Cg || ic >= (grp + 1) * Cg)
              continue;
            int8_t v =
                g.sum ? int8_t(ic == oc)
                      : g.w[size_t(((oc * Cg + (ic - grp * Cg)) * taps) + tap)];
            block[size_t(((int64_t(ri) * taps + tap) * kDim + j) * kDim + k)] =
                v;
            if (v)
              zero[size_t(int64_t(ri) * taps + tap)] = false;
          }
        }
    tb.wOff[size_t(ko)] = img.put(block.data(), block.size());
    tb.rel[size_t(ko)] = rel;
    tb.zero[size_t(ko)] = zero;
  }
  std::vector<int32_t> bias(size_t(Kt * kDim), 0),
      params(size_t(Kt * 2 * kDim), 0);
  for (int64_t oc = 0; oc < g.K; ++oc) {
    bias[size_t(oc)] = g.bias.empty() ? 0 : g.bias[size_t(oc)];
    if (g.requant) {
      int64_t ko = oc / kDim, j = oc % kDim;
      params[size_t((ko * 2) * kDim + j)] = g.rq.mult[size_t(oc)];
      params[size_t((ko * 2 + 1) * kDim + j)] = g.rq.shift[size_t(oc)];
    }
  }
  tb.biasOff = img.put(bias.data(), bias.size() * 4);
  if (g.requant)
    tb.paramOff = img.put(params.data(), params.size() * 4);
  if (biasByRequantPossible(g)) {
    std::vector<int32_t> p3(size_t(Kt * 3 * kDim), 0);
    for (int64_t ko = 0; ko < Kt; ++ko)
      for (int64_t j = 0; j < kDim; ++j) {
        p3[size_t((ko * 3) * kDim + j)] = params[size_t((ko * 2) * kDim + j)];
        p3[size_t((ko * 3 + 1) * kDim + j)] =
            params[size_t((ko * 2 + 1) * kDim + j)];
        p3[size_t((ko * 3 + 2) * kDim + j)] = bias[size_t(ko * kDim + j)];
      }
    tb.rqBias = true;
    tb.rqParamOff = img.put(p3.data(), p3.size() * 4);
  }
  if (!g.sum) {
    std::vector<int8_t> tiles(size_t(Kt * kDim * kDim), 0);
    bool ok = true;
    for (int64_t oc = 0; oc < Kt * kDim && ok; ++oc)
      ok = biasRow(bias[size_t(oc)], &tiles[size_t(oc * kDim)]);
    if (ok) {
      std::vector<int8_t> ones(size_t(kDim), -128);
      ones[0] = 1;
      tb.gemmBias = true;
      tb.onesOff = img.put(ones.data(), ones.size());
      tb.biasTileOff = img.put(tiles.data(), tiles.size());
    }
  }
  return tb;
}

bool biasByRequantPossible(const GemmLayer &g) { return g.requant && !g.sum; }

const char *biasPathName(int bias) {
  return bias == 2 ? "requant" : (bias == 1 ? "gemm" : "dram");
}

bool biasByGemmPossible(const GemmLayer &g) {
  if (g.sum)
    return false;
  int8_t row[kDim];
  for (int64_t oc = 0; oc < g.K; ++oc)
    if (!biasRow(g.bias.empty() ? 0 : g.bias[size_t(oc)], row))
      return false;
  return true;
}

} // namespace ember::npusim
