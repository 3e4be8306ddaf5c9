// Memory: where every tensor of a compiled model lives (README.md,
// "Memory"). Graph inputs and outputs are the caller's buffers; constants
// and pre-packed weights share one constant region (64-byte aligned
// entries); every other materialized tensor gets a buffer in one arena whose
// offsets the LIR memory planner (lir::planMemory) chooses over the groups'
// lifetimes. Reshapes are views (same bytes), and the value behind a graph
// output is computed straight into the caller's output buffer.
#include "Capability.h"
#include "Codegen.h"
#include "Geometry.h"

#include "ember/cpu/Kernels.h"
#include "runtime/RtAbi.h"
#include "runtime/RtPortable.h"

#include <algorithm>
#include <cstring>
#include <functional>

namespace ember::cpugen {

using ember::cpu::colGranule;
using ember::cpu::Isa;
using ember::cpu::packedBSize;
using ember::cpu::rowGranule;

namespace {

uint64_t alignUp(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

} // namespace

uint64_t Codegen::addWeights(const void *data, size_t bytes) {
  std::string &w = out_.weights;
  uint64_t off = alignUp(w.size(), 64);
  w.resize(size_t(off), '\0');
  if (data)
    w.append(static_cast<const char *>(data), bytes);
  else
    w.append(bytes, '\0');
  return off;
}

uint64_t Codegen::constantOffset(const Node *c) {
  auto it = constants_.find(c);
  if (it != constants_.end())
    return it->second;
  uint64_t off = addWeights(c->payload->raw(), c->payload->bytes());
  constants_[c] = off;
  return off;
}

std::vector<Value> Codegen::groupOperands(const Group &g) const {
  std::vector<Value> out;
  for (const Node *m : g.members)
    for (auto &in : m->inputs) {
      if (!in || contains(g, in.node))
        continue;
      if (std::find(out.begin(), out.end(), in) == out.end())
        out.push_back(in);
    }
  if (g.kind == GroupKind::Copy)
    out.push_back(g.copySource);
  return out;
}

// ---- runtime parameter blocks and weight packing ----------------------------

namespace {

// Calls the runtime flavor the code links against, natively, to size and
// pack weights at compile time.
int64_t convPackedSize(Kernels k, const int64_t *p) {
  return k == Kernels::Library ? ember_rt_conv_packed_size(p)
                               : ember_rtp_conv_packed_size(p);
}
int64_t convWorkspace(Kernels k, const int64_t *p) {
  return k == Kernels::Library ? ember_rt_conv_workspace_size(p)
                               : ember_rtp_conv_workspace_size(p);
}
int64_t gemmWorkspace(Kernels k, const int64_t *p) {
  return k == Kernels::Library ? ember_rt_gemm_workspace_size(p)
                               : ember_rtp_gemm_workspace_size(p);
}
int32_t convPack(Kernels k, const int64_t *p, const float *w, void *dst) {
  return k == Kernels::Library ? ember_rt_conv_pack(p, w, dst)
                               : ember_rtp_conv_pack(p, w, dst);
}
int32_t gemmPack(Kernels k, const int64_t *p, const float *b, void *dst) {
  return k == Kernels::Library ? ember_rt_gemm_pack(p, b, dst)
                               : ember_rtp_gemm_pack(p, b, dst);
}

} // namespace

// The window of a MaxPool that can run inside the convolution before it
// (conv2dNhwcFromNchwMaxPool): 2-D, undilated, every window holding a
// pixel of the convolution's output. False otherwise.
static bool fusablePoolWindow(const Node &pool, ember::cpu::MaxPoolWindow &pw) {
  Window w;
  std::string why;
  if (!windowOf(pool, pool.inputs[0].type(), pool.attrInts("kernel_shape"),
                pool.attrInt("ceil_mode", 0) != 0, w, why) ||
      pool.inputs[0].type().rank() != 4 || w.dh != 1 || w.dw != 1)
    return false;
  pw.kernelH = size_t(w.kh);
  pw.kernelW = size_t(w.kw);
  pw.strideH = size_t(w.sh);
  pw.strideW = size_t(w.sw);
  pw.padTop = size_t(w.pt);
  pw.padLeft = size_t(w.pl);
  pw.outHeight = size_t(w.oh);
  pw.outWidth = size_t(w.ow);
  return ember::cpu::maxPoolWindowFits(pw, size_t(w.h), size_t(w.w));
}

Status Codegen::prepareConv(const Group &g, Step &s) {
  const Node &n = *g.anchor;
  const Type &x = n.inputs[0].type(), &wt = n.inputs[1].type();
  std::vector<int64_t> kernel(wt.dims().begin() + 2, wt.dims().end());
  Window w;
  std::string why;
  if (!windowOf(n, x, kernel, false, w, why))
    return unsupported(n.describe(), ": ", why);
  int64_t groups = n.attrInt("group", 1);
  int64_t oc = wt.dim(0);
  bool lib = cfg_.kernels == Kernels::Library;
  std::vector<int64_t> &p = s.params;
  p.assign(EMBER_RT_CONV_NUM_FIELDS, 0);
  p[EMBER_RT_CONV_N] = w.n;
  p[EMBER_RT_CONV_C] = w.c;
  p[EMBER_RT_CONV_H] = w.h;
  p[EMBER_RT_CONV_W] = w.w;
  p[EMBER_RT_CONV_OC] = oc;
  p[EMBER_RT_CONV_OH] = w.oh;
  p[EMBER_RT_CONV_OW] = w.ow;
  p[EMBER_RT_CONV_KH] = w.kh;
  p[EMBER_RT_CONV_KW] = w.kw;
  p[EMBER_RT_CONV_SH] = w.sh;
  p[EMBER_RT_CONV_SW] = w.sw;
  p[EMBER_RT_CONV_PT] = w.pt;
  p[EMBER_RT_CONV_PL] = w.pl;
  p[EMBER_RT_CONV_PB] = w.pb;
  p[EMBER_RT_CONV_PR] = w.pr;
  p[EMBER_RT_CONV_DH] = w.dh;
  p[EMBER_RT_CONV_DW] = w.dw;
  p[EMBER_RT_CONV_GROUPS] = groups;
  p[EMBER_RT_CONV_DEPTHWISE] = lib && groups > 1 && groups == w.c && oc == w.c;
  p[EMBER_RT_CONV_ACT] = g.epi.act;
  p[EMBER_RT_CONV_RES_AFTER] = g.epi.residualAfter;
  p[EMBER_RT_CONV_ISA] = cfg_.isa;
  p[EMBER_RT_CONV_NHWC] = nhwc_.count(keyOf(g.root)) != 0;
  p[EMBER_RT_CONV_IN_NCHW] =
      p[EMBER_RT_CONV_NHWC] && !nhwc_.count(keyOf(n.inputs[0]));
  if (g.pool) {
    ember::cpu::MaxPoolWindow pw;
    if (!fusablePoolWindow(*g.pool, pw)) // (fusePools checked it)
      return makeError(ErrorCode::Internal, g.pool->describe(),
                       ": the fused pool's window does not fit");
    p[EMBER_RT_CONV_POOL_KH] = int64_t(pw.kernelH);
    p[EMBER_RT_CONV_POOL_KW] = int64_t(pw.kernelW);
    p[EMBER_RT_CONV_POOL_SH] = int64_t(pw.strideH);
    p[EMBER_RT_CONV_POOL_SW] = int64_t(pw.strideW);
    p[EMBER_RT_CONV_POOL_PT] = int64_t(pw.padTop);
    p[EMBER_RT_CONV_POOL_PL] = int64_t(pw.padLeft);
    p[EMBER_RT_CONV_POOL_OH] = int64_t(pw.outHeight);
    p[EMBER_RT_CONV_POOL_OW] = int64_t(pw.outWidth);
  }
  workspacePerWorker_ = std::max<uint64_t>(
      workspacePerWorker_,
      alignUp(uint64_t(convWorkspace(cfg_.kernels, p.data())), 64));
  int64_t per = convPackedSize(cfg_.kernels, p.data());
  p[EMBER_RT_CONV_W_GROUP_STRIDE] = int64_t(alignUp(uint64_t(per), 64));
  uint64_t total =
      p[EMBER_RT_CONV_DEPTHWISE]
          ? uint64_t(per)
          : uint64_t(groups) * uint64_t(p[EMBER_RT_CONV_W_GROUP_STRIDE]);
  const Value &wv = n.inputs[1];
  if (isConstant(wv)) {
    s.packedWeights = addWeights(nullptr, size_t(total));
    int32_t st =
        convPack(cfg_.kernels, p.data(), wv.node->payload->data<float>(),
                 &out_.weights[size_t(s.packedWeights)]);
    if (st)
      return makeError(ErrorCode::Internal, n.describe(),
                       ": packing the weights failed (status ", st, ")");
  } else {
    s.tempBytes.push_back(total); // packed at run time
  }
  if (g.epi.bias)
    s.bias = addWeights(g.epi.bias->raw(), g.epi.bias->bytes());
  return Status::ok();
}

Status Codegen::prepareMatMul(const Group &g, Step &s) {
  const Node &n = *g.anchor;
  Dims a = n.inputs[0].type().dims(), b = n.inputs[1].type().dims();
  if (a.size() == 1)
    a.insert(a.begin(), 1);
  bool bVec = b.size() == 1;
  if (bVec)
    b.push_back(1);
  int64_t M = a[a.size() - 2], K = a.back(), N = b.back();
  Dims ba(a.begin(), a.end() - 2), bb(b.begin(), b.end() - 2);
  Dims batch;
  if (!broadcastShapes(ba, bb, batch) || batch.size() > 4)
    return unsupported(n.describe(), ": batch dims do not broadcast");
  bool lib = cfg_.kernels == Kernels::Library;
  std::vector<int64_t> &p = s.params;
  p.assign(EMBER_RT_GEMM_NUM_FIELDS, 0);
  const Value &bv = n.inputs[1];
  bool bBatched = numElements(bb) != 1;
  bool packB = isConstant(bv) && !bBatched;
  // A [batch.., M, K] with B shared: one GEMM over all rows.
  int64_t rows = M;
  if (packB && numElements(ba) == numElements(batch)) {
    rows = M * numElements(batch);
    batch.clear();
  }
  p[EMBER_RT_GEMM_M] = rows;
  p[EMBER_RT_GEMM_N] = N;
  p[EMBER_RT_GEMM_K] = K;
  p[EMBER_RT_GEMM_LDA] = K;
  p[EMBER_RT_GEMM_LDB] = N;
  p[EMBER_RT_GEMM_LDC] = N;
  p[EMBER_RT_GEMM_B_PACKED] = packB;
  p[EMBER_RT_GEMM_HAS_BIAS] = g.epi.bias != nullptr;
  p[EMBER_RT_GEMM_ACT] = g.epi.act;
  p[EMBER_RT_GEMM_RES_AFTER] = g.epi.residualAfter;
  p[EMBER_RT_GEMM_ISA] = cfg_.isa;
  workspacePerWorker_ = std::max<uint64_t>(
      workspacePerWorker_,
      alignUp(uint64_t(gemmWorkspace(cfg_.kernels, p.data())), 64));
  // Batch dims, right-aligned in the 4 slots.
  for (int d = 0; d < 4; ++d)
    p[size_t(EMBER_RT_GEMM_BATCH0 + 4 * d)] = 1;
  auto batchStrides = [&](const Dims &own, int64_t matrix, size_t slot) {
    // Element strides of `own` (right-aligned to batch), 0 where it
    // broadcasts.
    std::vector<int64_t> st(batch.size(), 0);
    int64_t acc = matrix;
    for (size_t i = own.size(); i-- > 0;) {
      size_t bi = batch.size() - own.size() + i;
      st[bi] = own[i] == 1 ? 0 : acc;
      acc *= own[i];
    }
    for (size_t i = 0; i < batch.size(); ++i)
      p[size_t(EMBER_RT_GEMM_BATCH0) + 4 * (4 - batch.size() + i) + slot] =
          st[i];
  };
  for (size_t i = 0; i < batch.size(); ++i)
    p[size_t(EMBER_RT_GEMM_BATCH0) + 4 * (4 - batch.size() + i)] = batch[i];
  if (!batch.empty()) {
    batchStrides(ba, M * K, 1);
    batchStrides(bb, K * N, 2);
    batchStrides(batch, M * N, 3);
  }
  if (packB) {
    int64_t pieces = 1, pieceN = N;
    if (lib && cfg_.numThreads > 1) {
      int64_t rg = int64_t(rowGranule(Isa(cfg_.isa)));
      int64_t cg = int64_t(colGranule(Isa(cfg_.isa)));
      // Too few rows to give every worker its own: split the columns.
      if (rows < rg * int64_t(cfg_.numThreads)) {
        int64_t want = int64_t(cfg_.numThreads);
        pieceN = (N + want - 1) / want;
        pieceN = (pieceN + cg - 1) / cg * cg;
        pieces = (N + pieceN - 1) / pieceN;
      }
    }
    p[EMBER_RT_GEMM_NPIECES] = pieces;
    p[EMBER_RT_GEMM_PIECE_N] = pieceN;
    uint64_t stride =
        lib ? packedBSize(size_t(K), size_t(pieceN), Isa(cfg_.isa))
            : uint64_t(K * N) * sizeof(float);
    p[EMBER_RT_GEMM_PIECE_STRIDE] = int64_t(alignUp(stride, 64));
    uint64_t total = uint64_t(pieces) * uint64_t(p[EMBER_RT_GEMM_PIECE_STRIDE]);
    s.packedWeights = addWeights(nullptr, size_t(total));
    int32_t st =
        gemmPack(cfg_.kernels, p.data(), bv.node->payload->data<float>(),
                 &out_.weights[size_t(s.packedWeights)]);
    if (st)
      return makeError(ErrorCode::Internal, n.describe(),
                       ": packing the weights failed (status ", st, ")");
  }
  if (g.epi.bias)
    s.bias = addWeights(g.epi.bias->raw(), g.epi.bias->bytes());
  (void)bVec;
  return Status::ok();
}

Status Codegen::prepareConvT(const Group &g, Step &s) {
  const Node &n = *g.anchor;
  const Type &x = n.inputs[0].type(), &wty = n.inputs[1].type();
  std::vector<int64_t> pb, out;
  std::string why;
  if (!convTransposeGeometry(n, pb, out, why))
    return unsupported(n.describe(), ": ", why);
  bool oneD = x.rank() == 3; // as 2-D with H = 1
  if (oneD) {
    pb.insert(pb.begin(), 0);
    out.insert(out.begin(), 1);
  }
  int64_t G = n.attrInt("group", 1), C = x.dim(1), ocg = wty.dim(1),
          OC = ocg * G, cg = C / G, KH = oneD ? 1 : wty.dim(2),
          KW = wty.dims().back(), KK = KH * KW;
  auto st = n.hasAttr("strides") ? n.attrInts("strides")
                                 : std::vector<int64_t>(x.rank() - 2, 1);
  auto dl = n.hasAttr("dilations") ? n.attrInts("dilations")
                                   : std::vector<int64_t>(x.rank() - 2, 1);
  if (oneD) {
    st.insert(st.begin(), 1);
    dl.insert(dl.begin(), 1);
  }
  std::vector<int64_t> &p = s.params;
  p.assign(EMBER_RT_CONVT_NUM_FIELDS, 0);
  p[EMBER_RT_CONV_N] = x.dim(0);
  p[EMBER_RT_CONV_C] = C;
  p[EMBER_RT_CONV_H] = oneD ? 1 : x.dim(2);
  p[EMBER_RT_CONV_W] = x.dims().back();
  p[EMBER_RT_CONV_OC] = OC;
  p[EMBER_RT_CONV_OH] = out[0];
  p[EMBER_RT_CONV_OW] = out[1];
  p[EMBER_RT_CONV_KH] = KH;
  p[EMBER_RT_CONV_KW] = KW;
  p[EMBER_RT_CONV_SH] = st[0];
  p[EMBER_RT_CONV_SW] = st[1];
  p[EMBER_RT_CONV_PT] = pb[0];
  p[EMBER_RT_CONV_PL] = pb[1];
  p[EMBER_RT_CONV_DH] = dl[0];
  p[EMBER_RT_CONV_DW] = dl[1];
  p[EMBER_RT_CONV_GROUPS] = G;
  p[EMBER_RT_CONV_ISA] = cfg_.isa;
  int64_t M = ocg * KK, hw = p[EMBER_RT_CONV_H] * p[EMBER_RT_CONV_W];
  p[EMBER_RT_CONVT_CHUNK] = std::min<int64_t>(
      hw, std::max<int64_t>(64, (int64_t(2) << 20) / (M * 4)));
  // W [C][OCg][KH][KW] -> per group W^T [OCg*KH*KW][Cg]: now for constant
  // weights, at run time into a scratch buffer otherwise.
  if (isConstant(n.inputs[1])) {
    s.packedWeights = addWeights(nullptr, size_t(C * M) * sizeof(float));
    ember_rt_conv_transpose_pack(
        p.data(), n.inputs[1].node->payload->data<float>(),
        reinterpret_cast<float *>(&out_.weights[size_t(s.packedWeights)]));
  } else {
    s.tempBytes.push_back(uint64_t(C * M) * sizeof(float));
  }
  (void)cg;
  if (n.hasInput(2) && isConstant(n.inputs[2]))
    s.bias = constantOffset(n.inputs[2].node);
  int64_t ws = cfg_.kernels == Kernels::Library
                   ? ember_rt_conv_transpose_workspace_size(p.data())
                   : ember_rtp_conv_transpose_workspace_size(p.data());
  workspacePerWorker_ =
      std::max<uint64_t>(workspacePerWorker_, alignUp(uint64_t(ws), 64));
  return Status::ok();
}

// Quantization parameter `i` of n as a vector (one value or one per index).
static std::vector<double> paramValues(const Node &n, size_t i) {
  const Tensor &t = *n.inputs[i].node->payload;
  return t.toDoubles();
}

Status Codegen::prepareQConv(const Group &g, Step &s) {
  const Node &n = *g.anchor;
  if (cfg_.kernels != Kernels::Library)
    return unsupported(n.describe(),
                       ": the portable runtime has no int8 kernels");
  const Type &x = n.inputs[0].type();
  const Tensor &w = *n.inputs[3].node->payload;
  std::vector<int64_t> kernel(w.dims().begin() + 2, w.dims().end());
  Window win;
  std::string why;
  if (!windowOf(n, x, kernel, false, win, why))
    return unsupported(n.describe(), ": ", why);
  int64_t G = n.attrInt("group", 1), C = x.dim(1), OC = w.dim(0);
  int64_t cg = C / G, ocg = OC / G, KK = kernel[0] * kernel[1], K = cg * KK;
  bool dw = G > 1 && G == C && OC == C;
  bool inNhwc = nhwc_.count(keyOf(n.inputs[0])) != 0;
  bool wU8 = w.type().elem() == ElemKind::U8;
  int64_t xzp = n.inputs[2].node->payload->getInt(0);
  std::vector<double> wzp = paramValues(n, 5), wsc = paramValues(n, 4);
  float xs = float(n.inputs[1].node->payload->getDouble(0));
  float ys = float(n.inputs[6].node->payload->getDouble(0));
  auto wzpAt = [&](int64_t oc) {
    return int64_t(wzp[wzp.size() == 1 ? 0 : size_t(oc)]) - (wU8 ? 128 : 0);
  };
  auto wAt = [&](int64_t i) { return w.getInt(i) - (wU8 ? 128 : 0); };
  std::vector<int32_t> bias(size_t(OC), 0);
  if (n.hasInput(8))
    for (int64_t i = 0; i < OC; ++i)
      bias[size_t(i)] = int32_t(n.inputs[8].node->payload->getInt(i));
  std::vector<float> scales;
  for (size_t i = 0; i < wsc.size(); ++i)
    scales.push_back(ember::cpu::requantScale(xs, float(wsc[i]), ys));
  std::vector<int64_t> &p = s.params;
  p.assign(EMBER_RT_QCONV_NUM_FIELDS, 0);
  int64_t f[] = {win.n,  C,      win.h,  win.w,  OC,     win.oh,
                 win.ow, win.kh, win.kw, win.sh, win.sw, win.pt,
                 win.pl, win.pb, win.pr, win.dh, win.dw};
  for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); ++i)
    p[i] = f[i];
  p[EMBER_RT_CONV_GROUPS] = G;
  p[EMBER_RT_CONV_DEPTHWISE] = dw;
  p[EMBER_RT_CONV_ISA] = cfg_.isa;
  p[EMBER_RT_QCONV_X_ZP] = xzp;
  p[EMBER_RT_QCONV_Y_ZP] = n.inputs[7].node->payload->getInt(0);
  p[EMBER_RT_QCONV_Y_SIGNED] = n.types[0].elem() == ElemKind::I8;
  p[EMBER_RT_QCONV_SCALE_COUNT] = int64_t(scales.size());
  // Pixel chunks: at most 256 rows of im2row, and at least one per thread
  // when the conv has the work for it.
  {
    int64_t P = win.oh * win.ow, T = int64_t(cfg_.numThreads);
    int64_t per = (P + T - 1) / T;
    bool split = T > 1 && P * ocg * K >= (int64_t(1) << 20);
    p[EMBER_RT_QCONV_CHUNK] =
        split ? std::min<int64_t>(256,
                                  std::max<int64_t>(16, (per + 15) / 16 * 16))
              : 256;
  }
  p[EMBER_RT_QCONV_IN_NHWC] = inNhwc;
  p[EMBER_RT_QCONV_OUT_NHWC] = nhwc_.count(keyOf(g.root)) != 0;
  Isa isa = Isa(cfg_.isa);
  if (dw) {
    std::vector<int16_t> cw(size_t(C * KK));
    for (int64_t c = 0; c < C; ++c)
      for (int64_t k = 0; k < KK; ++k)
        cw[size_t(k * C + c)] = int16_t(wAt(c * KK + k) - wzpAt(c));
    uint64_t biasOff = alignUp(cw.size() * sizeof(int16_t), 64);
    p[EMBER_RT_QCONV_BIAS_OFFSET] = int64_t(biasOff);
    s.packedWeights = addWeights(nullptr, size_t(biasOff + bias.size() * 4));
    std::memcpy(&out_.weights[size_t(s.packedWeights)], cw.data(),
                cw.size() * sizeof(int16_t));
    std::memcpy(&out_.weights[size_t(s.packedWeights + biasOff)], bias.data(),
                bias.size() * 4);
    // The VNNI 3x3 channels-last kernel's copy (RtAbi.h, DW_VNNI): s8
    // weights, four taps per channel lane, when every centered weight fits.
    bool fits = true;
    for (int16_t v : cw)
      fits = fits && v >= -128 && v <= 127;
    bool outNhwc = p[EMBER_RT_QCONV_OUT_NHWC] != 0;
    if (fits && inNhwc && outNhwc && KK == 9 && kernel[0] == 3 &&
        ember::cpu::resolveIsa(isa) == Isa::Avx512Vnni) {
      int64_t blocks = (C + 63) / 64;
      std::vector<uint8_t> pk(size_t(blocks * EMBER_RT_DW_VNNI_BLOCK_BYTES), 0);
      for (int64_t blk = 0; blk < blocks; ++blk) {
        uint8_t *d = pk.data() + blk * EMBER_RT_DW_VNNI_BLOCK_BYTES;
        for (int64_t j = 0; j < 4; ++j)
          for (int64_t q = 0; q < 16; ++q) {
            int64_t c = ember_rt_dw_vnni_channel(blk, j, q);
            if (c >= C)
              continue;
            int32_t sum = 0;
            for (int64_t k = 0; k < 9; ++k) {
              int16_t v = cw[size_t(k * C + c)];
              sum += v;
              d[((k / 4) * 4 + j) * 64 + q * 4 + k % 4] = uint8_t(int8_t(v));
            }
            int32_t bIn = bias[size_t(c)] - int32_t(xzp) * sum;
            float sc = scales[scales.size() == 1 ? 0 : size_t(c)];
            std::memcpy(d + 768 + (j * 16 + q) * 4, &bIn, 4);
            std::memcpy(d + 1024 + (j * 16 + q) * 4, &sc, 4);
          }
      }
      uint64_t off = addWeights(pk.data(), pk.size());
      p[EMBER_RT_QCONV_DW_VNNI] = int64_t(off - s.packedWeights + 1);
    }
  } else {
    // The implicit-GEMM kernel (channels-last x, VNNI, no weight zero
    // point) reads 4 channels per step: a group whose channels are not a
    // multiple of 4 is packed with zero weights for the padding channels
    // (the kernel pads x to match).
    bool anyWzp = false;
    for (int64_t oc = 0; oc < OC; ++oc)
      anyWzp |= wzpAt(oc) != 0;
    int64_t cgp = cg;
    if (inNhwc && cg % 4 != 0 && !anyWzp &&
        ember::cpu::resolveIsa(isa) == Isa::Avx512Vnni)
      cgp = (cg + 3) / 4 * 4;
    int64_t Kp = cgp * KK;
    uint64_t stride =
        alignUp(ember::cpu::packedQBSize(size_t(Kp), size_t(ocg), isa), 64);
    p[EMBER_RT_CONV_W_GROUP_STRIDE] = int64_t(stride);
    s.packedWeights = addWeights(nullptr, size_t(stride * uint64_t(G)));
    std::vector<int8_t> wt(size_t(Kp * ocg), 0);
    std::vector<int8_t> zp;
    for (int64_t gi = 0; gi < G; ++gi) {
      // K runs (c, kh, kw) for NCHW x, (kh, kw, c) for channels-last x.
      for (int64_t oc = 0; oc < ocg; ++oc)
        for (int64_t k = 0; k < K; ++k) {
          int64_t kk = inNhwc ? (k % KK) * cgp + k / KK : k;
          wt[size_t(kk * ocg + oc)] = int8_t(wAt((gi * ocg + oc) * K + k));
        }
      zp.clear();
      if (wzp.size() == 1)
        zp.push_back(int8_t(wzpAt(0)));
      else
        for (int64_t oc = 0; oc < ocg; ++oc)
          zp.push_back(int8_t(wzpAt(gi * ocg + oc)));
      auto st = ember::cpu::packQB(
          size_t(Kp), size_t(ocg), wt.data(), size_t(ocg), uint8_t(xzp),
          zp.data(), zp.size(), bias.data() + gi * ocg,
          &out_.weights[size_t(s.packedWeights + uint64_t(gi) * stride)], isa);
      if (st != ember::cpu::Status::Ok)
        return makeError(ErrorCode::Internal, n.describe(),
                         ": packing the int8 weights failed");
    }
  }
  s.bias = addWeights(scales.data(), scales.size() * sizeof(float));
  workspacePerWorker_ = std::max<uint64_t>(
      workspacePerWorker_,
      alignUp(uint64_t(ember_rt_qconv_workspace_size(p.data())), 64));
  return Status::ok();
}

Status Codegen::prepareQMatMul(const Group &g, Step &s) {
  const Node &n = *g.anchor;
  if (cfg_.kernels != Kernels::Library)
    return unsupported(n.describe(),
                       ": the portable runtime has no int8 kernels");
  const Tensor &b = *n.inputs[3].node->payload;
  int64_t K = b.dim(0), N = b.dim(1);
  int64_t rows = n.inputs[0].type().numElements() / K;
  bool bU8 = b.type().elem() == ElemKind::U8;
  std::vector<double> bzp = paramValues(n, 5), bsc = paramValues(n, 4);
  float as = float(n.inputs[1].node->payload->getDouble(0));
  float ys = float(n.inputs[6].node->payload->getDouble(0));
  std::vector<float> scales;
  for (double v : bsc)
    scales.push_back(ember::cpu::requantScale(as, float(v), ys));
  std::vector<int8_t> bw(size_t(K * N)), zp;
  for (int64_t i = 0; i < K * N; ++i)
    bw[size_t(i)] = int8_t(b.getInt(i) - (bU8 ? 128 : 0));
  for (double v : bzp)
    zp.push_back(int8_t(int64_t(v) - (bU8 ? 128 : 0)));
  std::vector<int64_t> &p = s.params;
  p.assign(EMBER_RT_QGEMM_NUM_FIELDS, 0);
  p[EMBER_RT_QGEMM_M] = rows;
  p[EMBER_RT_QGEMM_N] = N;
  p[EMBER_RT_QGEMM_K] = K;
  p[EMBER_RT_QGEMM_Y_ZP] = n.inputs[7].node->payload->getInt(0);
  p[EMBER_RT_QGEMM_Y_SIGNED] = n.types[0].elem() == ElemKind::I8;
  p[EMBER_RT_QGEMM_SCALE_COUNT] = int64_t(scales.size());
  p[EMBER_RT_QGEMM_ISA] = cfg_.isa;
  Isa isa = Isa(cfg_.isa);
  s.packedWeights =
      addWeights(nullptr, ember::cpu::packedQBSize(size_t(K), size_t(N), isa));
  auto st = ember::cpu::packQB(size_t(K), size_t(N), bw.data(), size_t(N),
                               uint8_t(n.inputs[2].node->payload->getInt(0)),
                               zp.data(), zp.size(), nullptr,
                               &out_.weights[size_t(s.packedWeights)], isa);
  if (st != ember::cpu::Status::Ok)
    return makeError(ErrorCode::Internal, n.describe(),
                     ": packing the int8 weights failed");
  s.bias = addWeights(scales.data(), scales.size() * sizeof(float));
  workspacePerWorker_ = std::max<uint64_t>(
      workspacePerWorker_,
      alignUp(uint64_t(ember_rt_qgemm_workspace_size(p.data())), 64));
  return Status::ok();
}

// Whether an fp32 Conv group can run channels-last: the library kernels
// on an AVX-512 path, a 2-D convolution of one group (conv2dNhwc) or
// depthwise (depthwiseConv2dNhwc).
bool Codegen::convNhwcCapable(const Group &g) const {
  if (g.kind != GroupKind::Conv || cfg_.kernels != Kernels::Library)
    return false;
  const Node &n = *g.anchor;
  Isa isa = ember::cpu::resolveIsa(Isa(cfg_.isa));
  const Type &x = n.inputs[0].type(), &w = n.inputs[1].type();
  if (!(isa == Isa::Avx512 || isa == Isa::Avx512Vnni) || x.rank() != 4 ||
      w.rank() != 4 || x.elem() != ElemKind::F32)
    return false;
  int64_t groups = n.attrInt("group", 1);
  // Depthwise (depthwiseConv2dNhwc), or dense reading channels-last
  // (conv2dNhwc) or unfolding a row-major input (conv2dNhwcFromNchw).
  if (groups == x.dim(1) && w.dim(0) == x.dim(1))
    return true;
  return groups == 1 && (convReadsNhwc(g) || convUnfoldsNchw(g));
}

// Whether an NHWC-capable dense Conv reads its input channels-last: when
// pointwise, or with at least 16 channels per tap (fewer, and building
// the tile's row pointers, one per tap and pixel, costs more than the FMAs
// they feed: MNIST's 8-channel 5x5 ran 20-50% slower than the NCHW form).
// Depthwise ones always do.
bool Codegen::convReadsNhwc(const Group &g) const {
  const Node &n = *g.anchor;
  const Type &x = n.inputs[0].type(), &w = n.inputs[1].type();
  if (n.attrInt("group", 1) != 1)
    return true;
  return (w.dim(2) == 1 && w.dim(3) == 1) || x.dim(1) >= 16;
}

// Whether a dense Conv can write channels-last from a row-major input by
// unfolding it (conv2dNhwcFromNchw): first layers, K = C*KH*KW <= 256,
// with at least 32 output channels (MNIST's 8- and 16-channel ones ran
// 2-4 times slower so than in the NCHW form, whose tiles are channels x
// 64 pixels).
bool Codegen::convUnfoldsNchw(const Group &g) const {
  const Node &n = *g.anchor;
  const Type &w = n.inputs[1].type();
  return n.attrInt("group", 1) == 1 && w.dim(0) >= 32 &&
         w.dim(1) * w.dim(2) * w.dim(3) <= 256;
}

// Channels-last storage for 4-D activations between convolutions (README,
// "Memory"): [N][H][W][C], so convolutions need no transposes and read
// each pixel's channels in place.
//   - Producers that can write it: QLinearConv (int8), an fp32 Conv that
//     runs conv2dNhwc (then its input and residual are channels-last too),
//     and the generated loops (elementwise, Concat, MaxPool/AveragePool),
//     which address any strides.
//   - Readers that can take it: QLinearConv's input, an NHWC Conv's input
//     or residual, and the generated loops (elementwise, Concat, Split,
//     Reduce, pooling). Anything else (a graph output, a view, a MatMul)
//     keeps the value row-major.
// A result is stored channels-last when its producer and every reader
// agree; loop and pool results only when a convolution reads them
// (directly or through loops and pools that stay channels-last). The
// NHWC convolutions couple their input, residual and output, so the
// choice is a fixed point: start from every candidate and drop the ones
// whose producer or readers cannot take it until none changes.
void Codegen::chooseLayouts() {
  nhwc_.clear();
  auto users = f_.computeUsers();
  std::map<const Node *, const Group *> groupOf;
  for (auto &g : groups_)
    for (const Node *m : g.members)
      groupOf[m] = &g;
  auto loopLike = [](const Group &g) {
    return g.kind == GroupKind::Loop || g.kind == GroupKind::Concat ||
           (g.kind == GroupKind::Pool &&
            g.anchor->inputs[0].type().elem() == ElemKind::F32);
  };
  std::set<ValueKey> cand;
  for (auto &g : groups_) {
    if (g.kind != GroupKind::QConv && !loopLike(g) && !convNhwcCapable(g))
      continue;
    Value r(const_cast<Node *>(g.root), 0);
    if (r.type().rank() == 4 && g.root->numResults() == 1 &&
        users.count(g.root) && !users.at(g.root).empty())
      cand.insert(keyOf(r));
  }
  for (bool changed = true; changed;) {
    changed = false;
    for (auto &g : groups_) {
      const ValueKey r = keyOf(g.root);
      if (!cand.count(r))
        continue;
      bool ok = true, toConv = false;
      if (g.kind == GroupKind::Conv) { // the residual as y; x as y, or
        // row-major x unfolded
        bool xNhwc = cand.count(keyOf(g.anchor->inputs[0])) != 0;
        ok = (xNhwc ? convReadsNhwc(g) : convUnfoldsNchw(g)) &&
             (!g.epi.residual || cand.count(keyOf(g.epi.residual)));
      }
      for (auto &u : users.at(g.root)) {
        auto gu = u.user ? groupOf.find(u.user) : groupOf.end();
        if (!ok || gu == groupOf.end()) {
          ok = false; // a graph output
          break;
        }
        const Group &ug = *gu->second;
        const Value read = u.user->inputs[u.operand];
        if (ug.kind == GroupKind::QConv) {
          ok = u.operand == 0 && u.user == ug.anchor;
          toConv = true;
        } else if (ug.kind == GroupKind::Conv) {
          ok = cand.count(keyOf(ug.root)) &&
               ((u.user == ug.anchor && u.operand == 0 && convReadsNhwc(ug)) ||
                (ug.epi.residual && read == ug.epi.residual));
          toConv = true;
        } else {
          ok = loopLike(ug) || ug.kind == GroupKind::Split ||
               ug.kind == GroupKind::Reduce;
          if (ug.kind == GroupKind::Pool)
            ok = ok && u.user == ug.anchor && u.operand == 0;
          // A loop or pool whose result stays channels-last carries the
          // layout on to a convolution.
          toConv = toConv || (loopLike(ug) && cand.count(keyOf(ug.root)));
        }
      }
      if (ok && g.kind != GroupKind::QConv && g.kind != GroupKind::Conv)
        ok = toConv;
      if (!ok) {
        cand.erase(r);
        changed = true;
      }
    }
  }
  nhwc_ = std::move(cand);
}

// A MaxPool that reads a first layer's result (a Conv that unfolds its
// row-major input, conv2dNhwcFromNchw) runs inside the convolution
// (conv2dNhwcFromNchwMaxPool): the pool reads bands of convolution rows
// while they are in L2, and the convolution's output (3 MB in SqueezeNet
// and ResNet-50) is never stored. Both results must be channels-last, the
// pool's only reader of the convolution's result, undilated, with every
// window holding a pixel.
void Codegen::fusePools() {
  if (!cfg_.fuse)
    return;
  auto users = f_.computeUsers();
  std::set<const Node *> fused;
  for (auto &g : groups_) {
    if (g.kind != GroupKind::Conv || !nhwc_.count(keyOf(g.root)) ||
        nhwc_.count(keyOf(g.anchor->inputs[0])) || !convUnfoldsNchw(g))
      continue;
    auto it = users.find(g.root);
    if (it == users.end() || it->second.size() != 1 || !it->second[0].user)
      continue;
    const Node *pool = it->second[0].user;
    ember::cpu::MaxPoolWindow pw;
    if (pool->kind != OpKind::MaxPool || pool->numResults() != 1 ||
        !nhwc_.count(keyOf(pool)) || !fusablePoolWindow(*pool, pw))
      continue;
    nhwc_.erase(keyOf(g.root)); // no longer stored
    g.members.push_back(pool);
    g.root = pool;
    g.pool = pool;
    fused.insert(pool);
  }
  if (fused.empty())
    return;
  groups_.erase(std::remove_if(groups_.begin(), groups_.end(),
                               [&](const Group &g) {
                                 return g.kind == GroupKind::Pool &&
                                        fused.count(g.anchor);
                               }),
                groups_.end());
  out_.fusion.fusedPools += fused.size();
  out_.fusion.groups = groups_.size();
}

std::vector<int64_t> Codegen::physStrides(const Value &v) const {
  const Dims &d = v.type().dims();
  std::vector<int64_t> s(d.size());
  if (d.size() == 4 && nhwc_.count(keyOf(v))) {
    s = {d[1] * d[2] * d[3], 1, d[3] * d[1], d[1]};
    return s;
  }
  int64_t acc = 1;
  for (size_t i = d.size(); i-- > 0;) {
    s[i] = acc;
    acc *= d[i];
  }
  return s;
}

Status Codegen::prepare() {
  workspacePerWorker_ = 0;
  chooseLayouts();
  fusePools();
  out_.channelsLast.clear();
  for (const ValueKey &k : nhwc_)
    out_.channelsLast.push_back(k.node->outNames[k.idx]);
  steps_.assign(groups_.size(), Step());
  for (size_t i = 0; i < groups_.size(); ++i) {
    const Group &g = groups_[i];
    Status s = Status::ok();
    if (g.kind == GroupKind::Conv)
      s = prepareConv(g, steps_[i]);
    else if (g.kind == GroupKind::MatMul)
      s = prepareMatMul(g, steps_[i]);
    else if (g.kind == GroupKind::QConv)
      s = prepareQConv(g, steps_[i]);
    else if (g.kind == GroupKind::ConvT)
      s = prepareConvT(g, steps_[i]);
    else if (g.kind == GroupKind::QMatMul)
      s = prepareQMatMul(g, steps_[i]);
    if (!s.isOk())
      return s;
  }
  // Every kernel call gets the largest workspace any of them needs.
  for (size_t i = 0; i < groups_.size(); ++i) {
    if (groups_[i].kind == GroupKind::Conv)
      steps_[i].params[EMBER_RT_CONV_WS_BYTES] = int64_t(workspacePerWorker_);
    else if (groups_[i].kind == GroupKind::MatMul)
      steps_[i].params[EMBER_RT_GEMM_WS_BYTES] = int64_t(workspacePerWorker_);
    else if (groups_[i].kind == GroupKind::QConv ||
             groups_[i].kind == GroupKind::ConvT)
      steps_[i].params[EMBER_RT_CONV_WS_BYTES] = int64_t(workspacePerWorker_);
    else if (groups_[i].kind == GroupKind::QMatMul)
      steps_[i].params[EMBER_RT_QGEMM_WS_BYTES] = int64_t(workspacePerWorker_);
  }
  return Status::ok();
}

// ---- locations and planning ---------------------------------------------

Loc Codegen::locOf(const Value &v) {
  auto it = locs_.find(keyOf(v));
  if (it != locs_.end())
    return it->second;
  if (isConstant(v)) {
    Loc l;
    l.kind = LocKind::Weight;
    l.offset = constantOffset(v.node);
    return l;
  }
  return Loc();
}

Status Codegen::layout() {
  // Graph inputs.
  const auto &params = f_.params();
  for (size_t i = 0; i < params.size(); ++i)
    locs_[keyOf(Value(params[i]))] = Loc{LocKind::Input, unsigned(i), 0};
  // View groups alias their operand: the value that really holds the bytes.
  std::map<ValueKey, Value> storageOf;
  auto storage = [&](const Value &v) {
    auto it = storageOf.find(keyOf(v));
    return it == storageOf.end() ? v : it->second;
  };
  std::map<ValueKey, const Group *> producer;
  for (auto &g : groups_) {
    for (unsigned k = 0; k < g.root->numResults(); ++k)
      producer[keyOf(Value(const_cast<Node *>(g.root), k))] = &g;
    if (g.kind == GroupKind::View)
      storageOf[keyOf(g.root)] = storage(g.root->inputs[0]);
  }
  // Graph outputs: the value behind each is computed into the output
  // buffer; outputs that cannot be (inputs, constants, a value already
  // bound to another output) get a copy at the end.
  std::vector<Group> copies;
  const auto &outs = f_.outputs();
  for (size_t i = 0; i < outs.size(); ++i) {
    Value s = storage(outs[i].value);
    auto pit = producer.find(keyOf(s));
    bool computed = pit != producer.end() &&
                    pit->second->kind != GroupKind::View &&
                    !locs_.count(keyOf(s));
    if (computed) {
      locs_[keyOf(s)] = Loc{LocKind::Output, unsigned(i), 0};
      continue;
    }
    Group c;
    c.kind = GroupKind::Copy;
    c.root = outs[i].value.node;
    c.copySource = outs[i].value;
    c.outputIndex = unsigned(i);
    copies.push_back(c);
  }
  // Concat inputs computed straight into their slice of the result (when
  // the slice is contiguous and the concat is their only reader): decided
  // from the last concat back, so nested concats chain.
  std::map<ValueKey, std::pair<Value, uint64_t>> placed;
  if (cfg_.fuse) {
    auto users = f_.computeUsers();
    for (size_t gi = groups_.size(); gi-- > 0;) {
      const Group &g = groups_[gi];
      if (g.kind != GroupKind::Concat)
        continue;
      const Node &n = *g.root;
      const Dims &od = n.types[0].dims();
      int64_t axis = n.attrInt("axis", 0);
      if (axis < 0)
        axis += int64_t(od.size());
      // A channels-last result's channel slices interleave: only an NHWC
      // convolution can write one in place (pixel stride = the result's
      // channels, EMBER_RT_CONV_LDY).
      const bool channelsLast = nhwc_.count(keyOf(&n)) != 0;
      bool contiguous = true;
      for (int64_t d = 0; d < axis; ++d)
        contiguous = contiguous && od[size_t(d)] == 1;
      if (channelsLast ? axis != 1 : !contiguous)
        continue;
      uint64_t at = 0;
      for (auto &in : n.inputs) {
        uint64_t bytes = channelsLast ? uint64_t(in.type().dim(1)) *
                                            uint64_t(elemSize(in.type().elem()))
                                      : in.type().sizeInBytes();
        auto pit = producer.find(keyOf(in));
        auto uit = users.find(in.node);
        bool ok =
            pit != producer.end() && pit->second->kind != GroupKind::View &&
            pit->second->kind != GroupKind::Copy && !locs_.count(keyOf(in)) &&
            uit != users.end() && uit->second.size() == 1 &&
            uit->second[0].user == &n && in.node->numResults() == 1 &&
            // stored as the slice is: row-major, or by an NHWC conv
            nhwc_.count(keyOf(in)) == (channelsLast ? 1u : 0u) &&
            (!channelsLast || pit->second->kind == GroupKind::Conv);
        if (ok) {
          placed[keyOf(in)] = {Value(const_cast<Node *>(g.root), 0), at};
          if (channelsLast)
            steps_[size_t(pit->second - groups_.data())]
                .params[EMBER_RT_CONV_LDY] = od[1];
        }
        at += bytes;
      }
    }
  }
  // Arena buffers for the other group results.
  lir_ = lir::Function();
  lir_.spaces.push_back({"arena", 0, 64});
  auto newBuffer = [&](const std::string &name, Type t) {
    lir::Buffer b;
    b.name = name;
    b.type = std::move(t);
    b.space = 0;
    b.kind = lir::BufferKind::Activation;
    lir_.buffers.push_back(std::move(b));
    return unsigned(lir_.buffers.size() - 1);
  };
  for (auto &g : groups_) {
    if (g.kind == GroupKind::View)
      continue;
    for (unsigned k = 0; k < g.root->numResults(); ++k) {
      Value r(const_cast<Node *>(g.root), k);
      if (locs_.count(keyOf(r)) || placed.count(keyOf(r)))
        continue;
      locs_[keyOf(r)] =
          Loc{LocKind::Arena, newBuffer(g.root->outNames[k], r.type()), 0};
    }
  }
  std::function<Loc(const Value &)> placedLoc = [&](const Value &v) {
    auto it = locs_.find(keyOf(v));
    if (it != locs_.end())
      return it->second;
    auto &pl = placed.at(keyOf(v));
    Loc l = placedLoc(pl.first);
    l.offset += pl.second;
    locs_[keyOf(v)] = l;
    return l;
  };
  for (auto &kv : placed)
    placedLoc(Value(const_cast<Node *>(kv.first.node), kv.first.idx));
  // Views share their storage's location.
  for (auto &g : groups_) {
    if (g.kind != GroupKind::View)
      continue;
    Value r(const_cast<Node *>(g.root), 0);
    Value s = storage(r);
    Loc l = locOf(s);
    if (!l)
      return makeError(ErrorCode::Internal, g.root->describe(),
                       ": view of a value with no storage");
    locs_[keyOf(r)] = l;
  }
  for (auto &c : copies) {
    groups_.push_back(c);
    steps_.push_back(Step());
  }
  // One planner instruction per group: the arena buffers it touches.
  for (size_t i = 0; i < groups_.size(); ++i) {
    const Group &g = groups_[i];
    if (g.kind == GroupKind::View)
      continue;
    lir::Instruction in;
    in.kind = lir::InstKind::Compute;
    in.op = g.root->kind;
    in.loc = g.root->name;
    auto addRef = [&](const Loc &l, lir::Access a) {
      if (l.kind == LocKind::Arena)
        in.operands.push_back({lir::Ref::buffer(l.index), a});
    };
    for (auto &v : groupOperands(g))
      addRef(locOf(v), lir::Access::In);
    if (g.kind != GroupKind::Copy)
      for (unsigned k = 0; k < g.root->numResults(); ++k)
        addRef(locOf(Value(const_cast<Node *>(g.root), k)), lir::Access::Out);
    for (uint64_t bytes : steps_[i].tempBytes) {
      unsigned t = newBuffer(
          concat(g.root->outNames[0], ".scratch", steps_[i].temps.size()),
          Type(ElemKind::U8, {int64_t(bytes)}));
      steps_[i].temps.push_back(t);
      in.operands.push_back({lir::Ref::buffer(t), lir::Access::InOut});
    }
    lir_.insts.push_back(std::move(in));
  }
  EMBER_ASSIGN(out_.plan, lir::planMemory(lir_));
  bufferOffset_.resize(lir_.buffers.size());
  for (size_t b = 0; b < lir_.buffers.size(); ++b)
    bufferOffset_[b] = uint64_t(lir_.buffers[b].offset);
  uint64_t peak = out_.plan.spaces.empty() ? 0 : out_.plan.spaces[0].peak;
  workspaceOffset_ = alignUp(peak, 64);
  out_.workspaceBytes = workspacePerWorker_ * cfg_.numThreads;
  out_.arenaBytes = workspaceOffset_ + out_.workspaceBytes;
  if (out_.arenaBytes == 0)
    out_.arenaBytes = 64;
  return Status::ok();
}

} // namespace ember::cpugen
