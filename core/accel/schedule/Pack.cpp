// The static image's layout of a GEMM layer's constants (Pack.h).
#include "Pack.h"

#include <algorithm>
#include <set>

namespace ember::accel {

bool biasTileRow(int64_t lanes, int64_t b, int8_t *w) {
  // b = w0 + 128 q with w0 in [-128, -1]; then sum_{k>=1} w_k = -q.
  int64_t q = (b + 128) >= 0 ? (b + 128) / 128 : -((-(b + 128) + 127) / 128);
  int64_t w0 = b - 128 * q;
  if (w0 < -128 || w0 > 127)
    return false;
  int64_t rest = -q;
  if (rest < -128 * (lanes - 1) || rest > 127 * (lanes - 1))
    return false;
  w[0] = int8_t(w0);
  for (int64_t k = 1; k < lanes; ++k) {
    int64_t x = std::clamp<int64_t>(rest, -128, 127);
    w[k] = int8_t(x);
    rest -= x;
  }
  return rest == 0;
}

bool dwgemmLayer(const Target &t, const GemmLayer &g) {
  if (!t.has(OpKind::DwGemm))
    return false;
  return !g.sum && !g.flat && g.groups == g.C && g.K == g.C && g.kw > 1 &&
         g.kw <= t.dw.maxTaps &&
         g.sw <= t.ops[size_t(OpKind::DwGemm)].max("stride") && g.dw == 1;
}

GemmTables layoutGemm(const Target &t, const GemmLayer &g, Image &img,
                      bool useDwgemm) {
  const int64_t lanes = t.lanes;
  GemmTables tb;
  tb.sum = g.sum;
  tb.dw = useDwgemm && dwgemmLayer(t, g);
  // A 16x8 layer's int64 bias goes by Requant (acc16), never the array.
  tb.dwBias =
      tb.dw && !g.in16 && t.dw.biasLanes > 0 && g.kw <= lanes - t.dw.biasLanes;
  int64_t Kt = ceilDiv(g.K, lanes);
  int64_t Cg = g.C / g.groups, Kg = g.K / g.groups,
          taps = g.sum ? 1 : g.kh * g.kw;
  tb.rel.resize(size_t(Kt));
  tb.wOff.resize(size_t(Kt));
  tb.zero.resize(size_t(Kt));
  for (int64_t ko = 0; ko < Kt && tb.dw; ++ko) {
    // DwGemm: [kernel row][j][t], row j = channel ko*lanes + j, lane t = tap.
    std::vector<bool> zero(size_t(g.kh), true);
    for (int64_t ky = 0; ky < g.kh; ++ky)
      for (int64_t j = 0; j < lanes && ko * lanes + j < g.K; ++j)
        for (int64_t x = 0; x < g.kw; ++x)
          if (g.w[size_t(((ko * lanes + j) * g.kh + ky) * g.kw + x)])
            zero[size_t(ky)] = false;
    if (tb.dwBias) // the bias in the first kernel row's tile
      zero[0] = false;
    tb.wOff[size_t(ko)] = img.reserve(size_t(g.kh * lanes * lanes));
    tb.rel[size_t(ko)] = {ko};
    tb.zero[size_t(ko)] = zero;
  }
  // Weights from an activation (GemmLayer::wAct): every input tile, none
  // known zero, and one zero block the rows past K load from.
  const uint64_t zeroBlock =
      g.wAct >= 0 ? img.reserve(size_t(lanes * lanes)) : 0;
  for (int64_t ko = 0; ko < Kt && g.wAct >= 0; ++ko) {
    for (int64_t ri = 0; ri < ceilDiv(g.C, lanes); ++ri)
      tb.rel[size_t(ko)].push_back(ri);
    tb.wOff[size_t(ko)] = zeroBlock;
    tb.zero[size_t(ko)].assign(tb.rel[size_t(ko)].size(), false);
  }
  for (int64_t ko = 0; ko < Kt && !tb.dw && g.wAct < 0; ++ko) {
    std::set<int64_t> tiles;
    for (int64_t oc = ko * lanes; oc < std::min(g.K, (ko + 1) * lanes); ++oc) {
      int64_t grp = oc / Kg;
      for (int64_t ic = grp * Cg; ic < (grp + 1) * Cg; ic += 1)
        tiles.insert(ic / lanes);
    }
    std::vector<int64_t> rel(tiles.begin(), tiles.end());
    // Tile (ri, tap) holds output channels ko*lanes + j and input channels
    // rel[ri]*lanes + k.
    std::vector<bool> zero(size_t(rel.size() * taps), true);
    for (size_t ri = 0; ri < rel.size(); ++ri)
      for (int64_t tap = 0; tap < taps; ++tap)
        for (int64_t j = 0; j < lanes; ++j) {
          int64_t oc = ko * lanes + j;
          if (oc >= g.K)
            continue;
          int64_t grp = oc / Kg;
          for (int64_t k = 0; k < lanes; ++k) {
            int64_t ic = rel[ri] * lanes + k;
            if (ic >= g.C || ic < grp * Cg || ic >= (grp + 1) * Cg)
              continue;
            bool nz =
                g.sum
                    ? ic == oc
                    : g.w[size_t(((oc * Cg + (ic - grp * Cg)) * taps) + tap)] !=
                          0;
            if (nz)
              zero[size_t(int64_t(ri) * taps + tap)] = false;
          }
        }
    tb.wOff[size_t(ko)] =
        img.reserve(size_t(int64_t(rel.size()) * taps * lanes * lanes));
    tb.rel[size_t(ko)] = rel;
    tb.zero[size_t(ko)] = zero;
  }
  tb.biasOff = img.reserve(size_t(Kt * lanes * 4));
  if (g.requant)
    tb.paramOff = img.reserve(size_t(Kt * 2 * lanes * 4));
  if (biasByRequantPossible(t, g)) {
    tb.rqBias = true;
    tb.rqParamOff = img.reserve(size_t(Kt * 3 * lanes * 4));
    // 16x8: the int64 bias's high words, the same layout (rows 0-1 unused),
    // loaded rows/2 above the table (Target::wide16).
    if (g.in16)
      tb.rqParamHiOff = img.reserve(size_t(Kt * 3 * lanes * 4));
  }
  if (!g.sum && biasByGemmPossible(t, g)) {
    tb.gemmBias = true;
    tb.onesOff = img.reserve(size_t(lanes));
    tb.biasTileOff = img.reserve(size_t(Kt * lanes * lanes));
  }
  return tb;
}

bool biasByRequantPossible(const Target &t, const GemmLayer &g) {
  // (A sum's int8 bias goes by DRAM rows; a 16x8 sum's int64 one by
  // Requant, its GEMMs clearing the row first: GemmCode.cpp.)
  return t.requant.biasRow && g.requant && (!g.sum || g.in16);
}

const char *biasPathName(int bias) {
  return bias == 2 ? "requant" : (bias == 1 ? "gemm" : "dram");
}

bool biasByGemmPossible(const Target &t, const GemmLayer &g) {
  if (g.sum || g.in16)
    return false;
  std::vector<int8_t> row(size_t(t.lanes));
  for (int64_t oc = 0; oc < ceilDiv(g.K, t.lanes) * t.lanes; ++oc)
    if (!biasTileRow(t.lanes,
                     g.bias.empty() || oc >= g.K ? 0 : g.bias[size_t(oc)],
                     row.data()))
      return false;
  return true;
}

} // namespace ember::accel
