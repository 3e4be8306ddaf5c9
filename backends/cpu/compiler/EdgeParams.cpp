// Parameter blocks and weight packing for the Arm int8 runtime (kernels
// "edge": runtime/RtEdge.h has the layout and the arithmetic). Dense
// convolutions and constant-B matrix products get centered weights, one row
// of K = (kh, kw, c) per output channel, after the folded bias' of each;
// depthwise convolutions the library's centered int16 taps and a bias with
// x's zero point folded in.
#include "Codegen.h"
#include "Geometry.h"
#include "QuantParams.h"

#include "runtime/RtEdge.h"

#include <algorithm>
#include <cstring>

namespace ember::cpugen {

namespace {

// Where element k of channel oc's int8 row lies in a group's weights
// (RtEdge.h): rows KP apart, or DSP4's words of 4 channels in turn.
int64_t edgeWeightOffset(int64_t layout, int64_t oc, int64_t k, int64_t KP) {
  if (layout == EMBER_RTE_LAYOUT_DSP4)
    return (oc / 4) * 4 * KP + (k / 4) * 16 + (oc % 4) * 4 + k % 4;
  return oc * KP + k;
}

// Writes one group's block (RtEdge.h): bias'[ocg] = bias - xzs * sum(wc),
// then wc, int16 rows KP apart or int8 in `layout`.
void packEdgeGroup(uint8_t *dst, const std::vector<int32_t> &wc, int64_t ocg,
                   int64_t K, int64_t KP, bool w16, int64_t layout,
                   const int32_t *bias, int64_t xzs) {
  for (int64_t oc = 0; oc < ocg; ++oc) {
    uint32_t sum = 0;
    for (int64_t k = 0; k < K; ++k)
      sum += uint32_t(wc[size_t(oc * K + k)]);
    int32_t b = int32_t(uint32_t(bias[oc]) - uint32_t(xzs) * sum);
    std::memcpy(dst + oc * 4, &b, 4);
    uint8_t *w = dst + ocg * 4;
    for (int64_t k = 0; k < K; ++k) {
      if (w16) {
        int16_t v = int16_t(wc[size_t(oc * K + k)]);
        std::memcpy(w + 2 * (oc * KP + k), &v, 2);
      } else {
        w[edgeWeightOffset(layout, oc, k, KP)] =
            uint8_t(int8_t(wc[size_t(oc * K + k)]));
      }
    }
  }
}

bool fitsInt8(const std::vector<int32_t> &v) {
  return std::all_of(v.begin(), v.end(),
                     [](int32_t x) { return x >= -128 && x <= 127; });
}

} // namespace

Status Codegen::prepareQConvEdge(const Group &g, Step &s) {
  const Node &n = *g.anchor;
  const Type &x = n.inputs[0].type();
  const Tensor &w = *n.inputs[1].node->payload;
  std::vector<int64_t> kernel(w.dims().begin() + 2, w.dims().end());
  Window win;
  std::string why;
  if (!windowOf(n, x, kernel, false, win, why))
    return unsupported(n.describe(), ": ", why);
  const QOut qo = qoutOf(g);
  const int64_t G = n.attrInt("group", 1), C = x.dim(1), OC = w.dim(0);
  const int64_t cg = C / G, ocg = OC / G, KK = kernel[0] * kernel[1],
                K = cg * KK;
  const bool dw = G > 1 && G == C && OC == C;
  const bool xSigned = x.elem() == ElemKind::I8;
  const int64_t xzp = zeroPointAt(n, 2, 0);
  // Centered weights in ONNX order [OC][cg][KH][KW].
  auto wc = [&](int64_t oc, int64_t i) {
    return int32_t(w.getInt(oc * K + i) - zeroPointAt(n, 3, oc));
  };
  std::vector<int32_t> bias(size_t(OC), 0);
  if (!g.qbias.empty())
    bias = g.qbias;
  std::vector<int64_t> &p = s.params;
  p.assign(EMBER_RTE_QCONV_NUM_FIELDS, 0);
  const int64_t f[] = {win.n,  C,      win.h,  win.w,  OC,     win.oh,
                       win.ow, win.kh, win.kw, win.sh, win.sw, win.pt,
                       win.pl, win.pb, win.pr, win.dh, win.dw};
  for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); ++i)
    p[i] = f[i];
  p[EMBER_RT_CONV_GROUPS] = G;
  p[EMBER_RT_CONV_DEPTHWISE] = dw;
  p[EMBER_RT_QCONV_X_ZP] = xzp;
  p[EMBER_RT_QCONV_X_SIGNED] = xSigned;
  p[EMBER_RT_QCONV_Y_ZP] = qo.zp;
  p[EMBER_RT_QCONV_Y_KIND] = qo.kind;
  p[EMBER_RT_QCONV_SCALE_COUNT] = int64_t(qo.count());
  p[EMBER_RT_QCONV_LO] = qo.lo;
  p[EMBER_RT_QCONV_HI] = qo.hi;
  p[EMBER_RT_QCONV_FLOAT_SCALE] = qo.floatScale;
  p[EMBER_RT_QCONV_CHUNK] = EMBER_RTE_CHUNK;
  p[EMBER_RT_QCONV_IN_NHWC] = nhwc_.count(keyOf(n.inputs[0])) != 0;
  p[EMBER_RT_QCONV_OUT_NHWC] = nhwc_.count(keyOf(g.root)) != 0;
  if (dw) {
    // int16 taps [KH*KW][C], then the int32 bias' at BIAS_OFFSET: bias -
    // x_zp * sum of the channel's taps (x's zero point as stored).
    std::vector<int16_t> cw(size_t(C * KK));
    for (int64_t c = 0; c < C; ++c) {
      uint32_t sum = 0;
      for (int64_t k = 0; k < KK; ++k) {
        cw[size_t(k * C + c)] = int16_t(wc(c, k));
        sum += uint32_t(wc(c, k));
      }
      bias[size_t(c)] =
          int32_t(uint32_t(bias[size_t(c)]) - uint32_t(xzp) * sum);
    }
    const uint64_t biasOff = alignUp(cw.size() * sizeof(int16_t), 16);
    p[EMBER_RT_QCONV_BIAS_OFFSET] = int64_t(biasOff);
    s.packedWeights = addWeights(nullptr, size_t(biasOff + bias.size() * 4));
    std::memcpy(&out_.weights[size_t(s.packedWeights)], cw.data(),
                cw.size() * sizeof(int16_t));
    std::memcpy(&out_.weights[size_t(s.packedWeights + biasOff)], bias.data(),
                bias.size() * 4);
  } else {
    // Per group: rows of K = (kh, kw, c) from ONNX's (c, kh, kw).
    std::vector<std::vector<int32_t>> rows(static_cast<size_t>(G));
    bool all8 = true;
    for (int64_t gi = 0; gi < G; ++gi) {
      auto &r = rows[size_t(gi)];
      r.resize(size_t(ocg * K));
      for (int64_t oc = 0; oc < ocg; ++oc)
        for (int64_t c = 0; c < cg; ++c)
          for (int64_t k = 0; k < KK; ++k)
            r[size_t(oc * K + k * cg + c)] = wc(gi * ocg + oc, c * KK + k);
      all8 = all8 && fitsInt8(r);
    }
    const int64_t KP = ember_rte_padded_k(K);
    const int64_t layout = all8 ? cfg_.edgeLayout : EMBER_RTE_LAYOUT_ROWS;
    const uint64_t stride =
        uint64_t(ember_rte_group_bytes(ocg, KP, !all8, layout));
    const int64_t xzs = xzp - (xSigned ? 0 : 128);
    p[EMBER_RT_CONV_W_GROUP_STRIDE] = int64_t(stride);
    p[EMBER_RTE_QCONV_W16] = !all8;
    p[EMBER_RTE_QCONV_K] = K;
    p[EMBER_RTE_QCONV_KP] = KP;
    p[EMBER_RTE_QCONV_LAYOUT] = layout;
    s.packedWeights = addWeights(nullptr, size_t(stride * uint64_t(G)));
    for (int64_t gi = 0; gi < G; ++gi)
      packEdgeGroup(reinterpret_cast<uint8_t *>(
                        &out_.weights[size_t(s.packedWeights + gi * stride)]),
                    rows[size_t(gi)], ocg, K, KP, !all8, layout,
                    bias.data() + gi * ocg, xzs);
  }
  s.bias = addWeights(qo.table.data(), qo.table.size() * sizeof(int32_t));
  workspacePerWorker_ = std::max<uint64_t>(
      workspacePerWorker_,
      alignUp(uint64_t(ember_rte_qconv_workspace_size(p.data())), 16));
  return Status::ok();
}

// A MatMulInteger with a constant 2-D B [K][N]: one group of N rows of K.
Status Codegen::prepareQMatMulEdge(const Group &g, Step &s) {
  const Node &n = *g.anchor;
  const Tensor &b = *n.inputs[1].node->payload;
  const int64_t K = b.dim(0), N = b.dim(1);
  const int64_t rows = n.inputs[0].type().numElements() / K;
  const bool aSigned = n.inputs[0].type().elem() == ElemKind::I8;
  const QOut qo = qoutOf(g);
  std::vector<int32_t> wc(size_t(N * K));
  for (int64_t k = 0; k < K; ++k)
    for (int64_t c = 0; c < N; ++c)
      wc[size_t(c * K + k)] =
          int32_t(b.getInt(k * N + c) - zeroPointAt(n, 3, c));
  std::vector<int32_t> bias(size_t(N), 0);
  if (!g.qbias.empty())
    bias = g.qbias;
  std::vector<int64_t> &p = s.params;
  qgemmParams(p, rows, N, K, qo, 0);
  p.resize(EMBER_RTE_QGEMM_NUM_FIELDS, 0);
  const bool w16 = !fitsInt8(wc);
  const int64_t KP = ember_rte_padded_k(K);
  const int64_t layout = w16 ? EMBER_RTE_LAYOUT_ROWS : cfg_.edgeLayout;
  p[EMBER_RT_QGEMM_A_SIGNED] = aSigned;
  p[EMBER_RTE_QGEMM_W16] = w16;
  p[EMBER_RTE_QGEMM_KP] = KP;
  p[EMBER_RTE_QGEMM_LAYOUT] = layout;
  const int64_t azs = zeroPointAt(n, 2, 0) - (aSigned ? 0 : 128);
  const size_t bytes = size_t(ember_rte_group_bytes(N, KP, w16, layout));
  s.packedWeights = addWeights(nullptr, bytes);
  packEdgeGroup(
      reinterpret_cast<uint8_t *>(&out_.weights[size_t(s.packedWeights)]), wc,
      N, K, KP, w16, layout, bias.data(), azs);
  s.bias = addWeights(qo.table.data(), qo.table.size() * sizeof(int32_t));
  return Status::ok();
}

} // namespace ember::cpugen
