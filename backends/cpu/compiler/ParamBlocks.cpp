// Runtime parameter blocks and weight packing (README.md, "Memory" and
// "Runtime, kernels and threads"): for every Conv, MatMul, ConvTranspose,
// ConvInteger and MatMulInteger group, the constant i64 block its ember_rt_*
// call reads (geometry, epilogue, instruction-set path, workspace) and its
// weights packed at compile time for that path into the constant region.
#include "Capability.h"
#include "Codegen.h"
#include "Geometry.h"
#include "QuantParams.h"

#include "ember/cpu/Kernels.h"
#include "runtime/RtAbi.h"
#include "runtime/RtEdge.h"
#include "runtime/RtPortable.h"

#include <algorithm>
#include <cstring>
#include <functional>

namespace ember::cpugen {

using ember::cpu::colGranule;
using ember::cpu::Isa;
using ember::cpu::packedBSize;
using ember::cpu::rowGranule;

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
bool fusablePoolWindow(const Node &pool, ember::cpu::MaxPoolWindow &pw) {
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

namespace {
// Channels this many or more in and out per group: a channels-last 3x3
// stride-1 convolution runs as Winograd F(2x2, 3x3). Below, the transforms
// cost about what the products save (gemm_bench --only=winograd: 16 -> 64
// and 64 -> 16 channels at 0.95-1.02 of the direct tiles; 32 -> 32 and up
// at 1.3-2).
constexpr int64_t kWinogradMinChannels = 32;

// Whether a dense channels-last conv step (params p, window w, `groups`
// groups, `oc` output channels) runs conv2dNhwcWinograd: x channels-last,
// no fused pool, a shape the kernel takes on `isa`, enough channels.
bool usesWinograd(const std::vector<int64_t> &p, const Window &w,
                  int64_t groups, int64_t oc, int64_t isa) {
  if (!p[EMBER_RT_CONV_NHWC] || p[EMBER_RT_CONV_IN_NCHW] ||
      p[EMBER_RT_CONV_DEPTHWISE] || p[EMBER_RT_CONV_POOL_KH] ||
      w.c / groups < kWinogradMinChannels || oc / groups < kWinogradMinChannels)
    return false;
  ember::cpu::Conv2DShape s;
  s.channels = size_t(w.c / groups);
  s.outChannels = size_t(oc / groups);
  s.height = size_t(w.h);
  s.width = size_t(w.w);
  s.kernelH = size_t(w.kh);
  s.kernelW = size_t(w.kw);
  s.strideH = size_t(w.sh);
  s.strideW = size_t(w.sw);
  s.padTop = size_t(w.pt);
  s.padLeft = size_t(w.pl);
  s.padBottom = size_t(w.pb);
  s.padRight = size_t(w.pr);
  s.dilationH = size_t(w.dh);
  s.dilationW = size_t(w.dw);
  return ember::cpu::conv2dNhwcWinogradShape(s, ember::cpu::Isa(isa));
}
} // namespace

// A post chain that is an activation the kernel library has runs there
// (RtAbi.h, POST_KIND; the library's runtime only, the portable one calls
// the generated function): its kind and HardSigmoid's alpha and beta.
static void setPostKind(const Epilogue &e, bool lib, std::vector<int64_t> &p,
                        size_t kindField) {
  float alpha = 0, beta = 0;
  const int kind = lib ? Codegen::postActivationKind(e, alpha, beta) : 0;
  uint32_t a, b;
  std::memcpy(&a, &alpha, sizeof a);
  std::memcpy(&b, &beta, sizeof b);
  p[kindField] = kind;
  p[kindField + 1] = kind ? int64_t(a) : 0;
  p[kindField + 2] = kind ? int64_t(b) : 0;
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
  p[EMBER_RT_CONV_ROUND_F16] = g.epi.roundF16;
  p[EMBER_RT_CONV_POST_RES] = g.epi.postResidual; // (POST: emitConv)
  setPostKind(g.epi, lib, p, EMBER_RT_CONV_POST_KIND);
  p[EMBER_RT_CONV_ISA] = cfg_.isa;
  // A row-major result from the channels-last step, copied into y
  // (Y_COPY; chooseLayouts keeps a channels-last x with a row-major result
  // only where convCopiesY holds).
  const bool xLast = nhwc_.count(keyOf(n.inputs[0])) != 0;
  const bool yLast = nhwc_.count(keyOf(g.root)) != 0;
  p[EMBER_RT_CONV_Y_COPY] = !yLast && convCopiesY(g, xLast);
  p[EMBER_RT_CONV_NHWC] = yLast || p[EMBER_RT_CONV_Y_COPY];
  p[EMBER_RT_CONV_IN_NCHW] = p[EMBER_RT_CONV_NHWC] && !xLast;
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
  p[EMBER_RT_CONV_WINOGRAD] =
      lib && cfg_.winograd && usesWinograd(p, w, groups, oc, cfg_.isa);
  p[EMBER_RT_CONV_GROUPED] = p[EMBER_RT_CONV_NHWC] &&
                             !p[EMBER_RT_CONV_IN_NCHW] &&
                             !p[EMBER_RT_CONV_POOL_KH] && convGroupedNhwc(n);
  workspacePerWorker_ = std::max<uint64_t>(
      workspacePerWorker_,
      alignUp(uint64_t(convWorkspace(cfg_.kernels, p.data())), 64));
  int64_t per = convPackedSize(cfg_.kernels, p.data());
  p[EMBER_RT_CONV_W_GROUP_STRIDE] = int64_t(alignUp(uint64_t(per), 64));
  uint64_t total =
      p[EMBER_RT_CONV_DEPTHWISE] || p[EMBER_RT_CONV_GROUPED]
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
  p[EMBER_RT_GEMM_ROUND_F16] = g.epi.roundF16;
  p[EMBER_RT_GEMM_POST_RES] = g.epi.postResidual; // (POST: emitMatMul)
  setPostKind(g.epi, lib, p, EMBER_RT_GEMM_POST_KIND);
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
  // Each side in the layout chooseLayouts stored it (ChannelsLast.cpp).
  p[EMBER_RT_CONVT_X_NHWC] = nhwc_.count(keyOf(n.inputs[0])) ? 1 : 0;
  p[EMBER_RT_CONVT_Y_NHWC] = nhwc_.count(keyOf(g.root)) ? 1 : 0;
  p[EMBER_RT_CONVT_COMPUTED_W] = n.attrInt("computed_weights", 0) != 0;
  // W [C][OCg][KH][KW] -> per group W^T [OCg*KH*KW][Cg] (y row-major) or
  // W' [Cg][KH*KW*OCg] (y channels-last): now for constant weights, at run
  // time into a scratch buffer otherwise.
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

namespace {

int64_t f32Bits(double v) {
  float f = float(v);
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return int64_t(u);
}

int64_t recurrentActCode(const std::string &name) {
  static const char *const names[] = {
      "Sigmoid",         "Tanh",       "Relu",        "Affine", "LeakyRelu",
      "ThresholdedRelu", "ScaledTanh", "HardSigmoid", "Elu",    "Softsign"};
  for (int64_t i = 0; i < int64_t(std::size(names)); ++i)
    if (name == names[i])
      return i; // EMBER_RT_RNN_SIGMOID + i
  return -1;
}

} // namespace

// RNN/GRU/LSTM: the problem and activations into the parameter block; W, R
// and B packed now when constant (else at run time into a scratch buffer,
// temps[0]); the recurrence's scratch is the last temp.
Status Codegen::prepareRecurrent(const Group &g, Step &s) {
  const Node &n = *g.anchor;
  RecurrentCell cell;
  RecurrentShape r;
  std::string why;
  if (!recurrentGeometry(n, cell, r, why))
    return unsupported(n.describe(), ": ", why);
  // (16-bit cells arrive widened to f32: WidenHalf.cpp.)
  for (size_t i = 0; i < n.inputs.size(); ++i)
    if (i != 4 && n.hasInput(i) && n.inputs[i].type().elem() != ElemKind::F32)
      return unsupported(n.describe(), ": operand ", i, " is not f32");
  std::vector<int64_t> &p = s.params;
  p.assign(EMBER_RT_RNN_NUM_FIELDS, 0);
  p[EMBER_RT_RNN_CELL] = cell == RecurrentCell::Rnn   ? EMBER_RT_RNN_CELL_RNN
                         : cell == RecurrentCell::Gru ? EMBER_RT_RNN_CELL_GRU
                                                      : EMBER_RT_RNN_CELL_LSTM;
  p[EMBER_RT_RNN_S] = r.S;
  p[EMBER_RT_RNN_B] = r.B;
  p[EMBER_RT_RNN_I] = r.I;
  p[EMBER_RT_RNN_H] = r.H;
  p[EMBER_RT_RNN_D] = r.D;
  p[EMBER_RT_RNN_REVERSE] = r.direction == "reverse" ? 1 : 0;
  p[EMBER_RT_RNN_LAYOUT] = r.layout;
  p[EMBER_RT_RNN_HAS_CLIP] = n.hasAttr("clip") ? 1 : 0;
  p[EMBER_RT_RNN_CLIP] = f32Bits(n.attrFloat("clip", 0.0));
  p[EMBER_RT_RNN_LBR] = n.attrInt("linear_before_reset", 0) != 0 ? 1 : 0;
  p[EMBER_RT_RNN_INPUT_FORGET] = n.attrInt("input_forget", 0) != 0 ? 1 : 0;
  p[EMBER_RT_RNN_LENS_BYTES] = !n.hasInput(4)                               ? 0
                               : n.inputs[4].type().elem() == ElemKind::I32 ? 4
                                                                            : 8;
  p[EMBER_RT_RNN_ISA] = cfg_.isa;
  // Direction d's activation k at slot 3 d + k.
  for (int64_t d = 0; d < r.D; ++d)
    for (size_t k = 0; k < r.actsPerDir; ++k) {
      const RecurrentAct &a = r.acts[size_t(d) * r.actsPerDir + k];
      int64_t code = recurrentActCode(a.name);
      if (code < 0)
        return unsupported(n.describe(), ": activation ", a.name);
      int64_t *slot = &p[EMBER_RT_RNN_ACT0 + 3 * (3 * d + int64_t(k))];
      slot[0] = code;
      slot[1] = f32Bits(a.alpha);
      slot[2] = f32Bits(a.beta);
    }
  // One packed layout and one scratch for both runtimes (RtRecurrent.h);
  // only the kernel library's SGEMM wants a workspace.
  uint64_t packedBytes = uint64_t(ember_rt_recurrent_packed_size(p.data()));
  if (isConstant(n.inputs[1]) && isConstant(n.inputs[2]) &&
      (!n.hasInput(3) || isConstant(n.inputs[3]))) {
    s.packedWeights = addWeights(nullptr, size_t(packedBytes));
    ember_rt_recurrent_pack(
        p.data(), n.inputs[1].node->payload->data<float>(),
        n.inputs[2].node->payload->data<float>(),
        n.hasInput(3) ? n.inputs[3].node->payload->data<float>() : nullptr,
        reinterpret_cast<float *>(&out_.weights[size_t(s.packedWeights)]));
  } else {
    s.tempBytes.push_back(packedBytes);
  }
  s.tempBytes.push_back(uint64_t(ember_rt_recurrent_scratch_size(p.data())));
  int64_t ws = cfg_.kernels == Kernels::Library
                   ? ember_rt_recurrent_workspace_size(p.data())
                   : ember_rtp_recurrent_workspace_size(p.data());
  workspacePerWorker_ =
      std::max<uint64_t>(workspacePerWorker_, alignUp(uint64_t(ws), 64));
  return Status::ok();
}

// A QGEMM parameter block's shape, output and ISA fields (the rest zero).
void qgemmParams(std::vector<int64_t> &p, int64_t M, int64_t N, int64_t K,
                 const QOut &qo, int64_t isa) {
  p.assign(EMBER_RT_QGEMM_NUM_FIELDS, 0);
  p[EMBER_RT_QGEMM_M] = M;
  p[EMBER_RT_QGEMM_N] = N;
  p[EMBER_RT_QGEMM_K] = K;
  p[EMBER_RT_QGEMM_Y_ZP] = qo.zp;
  p[EMBER_RT_QGEMM_Y_KIND] = qo.kind;
  p[EMBER_RT_QGEMM_SCALE_COUNT] = int64_t(qo.count());
  p[EMBER_RT_QGEMM_LO] = qo.lo;
  p[EMBER_RT_QGEMM_HI] = qo.hi;
  p[EMBER_RT_QGEMM_ISA] = isa;
  p[EMBER_RT_QGEMM_FLOAT_SCALE] = qo.floatScale;
}

QOut qoutOf(const Group &g) {
  QOut o;
  const Node *rq = g.requant;
  if (!rq)
    return o;
  ElemKind yk = rq->types[0].elem();
  o.kind = yk == ElemKind::I8 ? EMBER_RT_Y_I8 : EMBER_RT_Y_U8;
  o.zp = rq->hasInput(4) ? rq->inputs[4].node->payload->getInt(0) : 0;
  // The clamp of quant::requantize: [min, max] within the type's range; an
  // empty range is its lower bound (clampTo).
  int64_t tlo = yk == ElemKind::I8 ? -128 : 0,
          thi = yk == ElemKind::I8 ? 127 : 255;
  o.lo = std::max<int64_t>(rq->attrInt("min", tlo), tlo);
  o.hi = std::max(o.lo, std::min<int64_t>(rq->attrInt("max", thi), thi));
  const Tensor &m = *rq->inputs[1].node->payload;
  o.table.clear();
  if (m.elem() == ElemKind::F32) {
    o.floatScale = 1;
    for (int64_t i = 0; i < m.size(); ++i) {
      int32_t bitsOf;
      std::memcpy(&bitsOf, &m.data<float>()[i], 4);
      o.table.push_back(bitsOf);
    }
    o.table.resize(size_t(2 * m.size()), 0);
    return o;
  }
  const Tensor &e = *rq->inputs[2].node->payload;
  for (int64_t i = 0; i < m.size(); ++i)
    o.table.push_back(int32_t(m.getInt(i)));
  for (int64_t i = 0; i < e.size(); ++i)
    o.table.push_back(int32_t(e.getInt(i)));
  return o;
}

// Zero point operand i of n (absent: 0), value `c` of a per-channel one.
int64_t zeroPointAt(const Node &n, size_t i, int64_t c) {
  if (!n.hasInput(i))
    return 0;
  const Tensor &t = *n.inputs[i].node->payload;
  return t.getInt(t.size() == 1 ? 0 : c);
}

Status Codegen::prepareQConv(const Group &g, Step &s) {
  const Node &n = *g.anchor;
  if (cfg_.kernels == Kernels::Edge)
    return prepareQConvEdge(g, s);
  if (cfg_.kernels != Kernels::Library)
    return unsupported(n.describe(),
                       ": the portable runtime has no int8 kernels");
  const Type &x = n.inputs[0].type();
  const Tensor &w = *n.inputs[1].node->payload;
  std::vector<int64_t> kernel(w.dims().begin() + 2, w.dims().end());
  Window win;
  std::string why;
  if (!windowOf(n, x, kernel, false, win, why))
    return unsupported(n.describe(), ": ", why);
  const QOut qo = qoutOf(g);
  int64_t G = n.attrInt("group", 1), C = x.dim(1), OC = w.dim(0);
  int64_t cg = C / G, ocg = OC / G, KK = kernel[0] * kernel[1], K = cg * KK;
  // Depthwise: its own kernel (an 8-bit result, or ConvInteger's int32
  // accumulators).
  bool dw = G > 1 && G == C && OC == C;
  // A dense conv reads x channels-last, a row-major x through the
  // runtime's channels-last copy (X_COPY): the copy is C*H*W bytes, the
  // row-major im2row it replaces gathers K bytes per output pixel one at a
  // time.
  bool inNhwc = nhwc_.count(keyOf(n.inputs[0])) != 0;
  bool xCopy = !dw && !inNhwc;
  bool xSigned = x.elem() == ElemKind::I8;
  bool wU8 = w.type().elem() == ElemKind::U8;
  int64_t xzp = zeroPointAt(n, 2, 0);
  // The kernels take s8 weights: u8 ones (and their zero points) - 128.
  auto wzpAt = [&](int64_t oc) {
    return zeroPointAt(n, 3, oc) - (wU8 ? 128 : 0);
  };
  auto wAt = [&](int64_t i) { return w.getInt(i) - (wU8 ? 128 : 0); };
  std::vector<int32_t> bias(size_t(OC), 0);
  if (!g.qbias.empty())
    bias = g.qbias;
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
  p[EMBER_RT_QCONV_X_SIGNED] = xSigned;
  p[EMBER_RT_QCONV_Y_ZP] = qo.zp;
  p[EMBER_RT_QCONV_Y_KIND] = qo.kind;
  p[EMBER_RT_QCONV_SCALE_COUNT] = int64_t(qo.count());
  p[EMBER_RT_QCONV_LO] = qo.lo;
  p[EMBER_RT_QCONV_HI] = qo.hi;
  p[EMBER_RT_QCONV_FLOAT_SCALE] = qo.floatScale;
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
  p[EMBER_RT_QCONV_X_COPY] = xCopy;
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
    // A row-major x is made channels-last at run time (RtKernels.cpp,
    // xCopyBytes), so only the result's layout matters.
    bool fits = true;
    for (int16_t v : cw)
      fits = fits && v >= -128 && v <= 127;
    bool outNhwc = p[EMBER_RT_QCONV_OUT_NHWC] != 0;
    if (fits && outNhwc && KK == 9 && kernel[0] == 3 &&
        ember::cpu::resolveIsa(isa) == Isa::Avx512Vnni) {
      int64_t blocks = (C + 63) / 64;
      size_t cnt = qo.count();
      // The kernel reads s8 x as x + 128 (vpdpbusd is u8 x s8).
      int32_t xzpU = int32_t(xzp) + (xSigned ? 128 : 0);
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
            int32_t bIn = int32_t(uint32_t(bias[size_t(c)]) -
                                  uint32_t(xzpU) * uint32_t(sum));
            size_t si = cnt == 1 ? 0 : size_t(c);
            std::memcpy(d + 768 + (j * 16 + q) * 4, &bIn, 4);
            std::memcpy(d + 1024 + (j * 16 + q) * 4, &qo.table[si], 4);
            std::memcpy(d + 1280 + (j * 16 + q) * 4, &qo.table[cnt + si], 4);
          }
      }
      uint64_t off = addWeights(pk.data(), pk.size());
      p[EMBER_RT_QCONV_DW_VNNI] = int64_t(off - s.packedWeights + 1);
    }
  } else {
    // The implicit-GEMM kernel (channels-last x; VNNI without weight zero
    // points, or AVX2, which folds them into its s16 weights) reads 4
    // channels per step: a group whose channels are not a multiple of 4 is
    // packed with zero weights for the padding channels (the kernel pads x
    // to match).
    bool anyWzp = false;
    for (int64_t oc = 0; oc < OC; ++oc)
      anyWzp |= wzpAt(oc) != 0;
    int64_t cgp = cg;
    if (cg % 4 != 0 && ember::cpu::qconv2dNhwcAvailable(isa, anyWzp))
      cgp = (cg + 3) / 4 * 4;
    int64_t Kp = cgp * KK;
    uint64_t stride =
        alignUp(ember::cpu::packedQBSize(size_t(Kp), size_t(ocg), isa), 64);
    p[EMBER_RT_CONV_W_GROUP_STRIDE] = int64_t(stride);
    s.packedWeights = addWeights(nullptr, size_t(stride * uint64_t(G)));
    std::vector<int8_t> wt(size_t(Kp * ocg), 0);
    std::vector<int8_t> zp;
    bool perChannelWzp = n.hasInput(3) && n.inputs[3].type().numElements() > 1;
    for (int64_t gi = 0; gi < G; ++gi) {
      // K runs (kh, kw, c): x is channels-last, or copied so (X_COPY).
      for (int64_t oc = 0; oc < ocg; ++oc)
        for (int64_t k = 0; k < K; ++k) {
          int64_t kk = (k % KK) * cgp + k / KK;
          wt[size_t(kk * ocg + oc)] = int8_t(wAt((gi * ocg + oc) * K + k));
        }
      zp.clear();
      if (!perChannelWzp)
        zp.push_back(int8_t(wzpAt(0)));
      else
        for (int64_t oc = 0; oc < ocg; ++oc)
          zp.push_back(int8_t(wzpAt(gi * ocg + oc)));
      auto st = ember::cpu::packQB(
          size_t(Kp), size_t(ocg), wt.data(), size_t(ocg), int32_t(xzp),
          zp.data(), zp.size(), bias.data() + gi * ocg,
          &out_.weights[size_t(s.packedWeights + uint64_t(gi) * stride)], isa,
          xSigned,
          cfg_.int8Split ? ember::cpu::QPackExtra::SplitTile
                         : ember::cpu::QPackExtra::None);
      if (st != ember::cpu::Status::Ok)
        return makeError(ErrorCode::Internal, n.describe(),
                         ": packing the int8 weights failed");
    }
  }
  s.bias = addWeights(qo.table.data(), qo.table.size() * sizeof(int32_t));
  workspacePerWorker_ = std::max<uint64_t>(
      workspacePerWorker_,
      alignUp(uint64_t(ember_rt_qconv_workspace_size(p.data())), 64));
  return Status::ok();
}

// A MatMulInteger whose B is computed at run time ([batch..][K][N]): the
// runtime packs each batch matrix into the workspace and runs the int8
// GEMM over A's rows of that batch (ember_rt_qgemm, B_DYNAMIC).
Status Codegen::prepareQMatMulDynamic(const Group &g, Step &s) {
  const Node &n = *g.anchor;
  const Dims &a = n.inputs[0].type().dims(), &b = n.inputs[1].type().dims();
  int64_t M = a[a.size() - 2], K = a.back(), N = b.back();
  Dims ba(a.begin(), a.end() - 2), bb(b.begin(), b.end() - 2), batch;
  if (!broadcastShapes(ba, bb, batch) || batch.size() > 4)
    return unsupported(n.describe(), ": batch dims do not broadcast");
  const QOut qo = qoutOf(g);
  std::vector<int64_t> &p = s.params;
  qgemmParams(p, M, N, K, qo, cfg_.isa);
  p[EMBER_RT_QGEMM_B_DYNAMIC] = 1;
  p[EMBER_RT_QGEMM_A_SIGNED] = n.inputs[0].type().elem() == ElemKind::I8;
  p[EMBER_RT_QGEMM_B_SIGNED] = n.inputs[1].type().elem() == ElemKind::I8;
  p[EMBER_RT_QGEMM_A_ZP] = zeroPointAt(n, 2, 0);
  p[EMBER_RT_QGEMM_B_ZP] = zeroPointAt(n, 3, 0);
  p[EMBER_RT_QGEMM_HAS_BIAS] = !g.qbias.empty();
  // Batch dims right-aligned in the 4 slots: extent, then the element
  // strides of A, B and the result (0 where an operand broadcasts).
  for (int d = 0; d < 4; ++d)
    p[size_t(EMBER_RT_QGEMM_BATCH0 + 4 * d)] = 1;
  const size_t first = 4 - batch.size();
  auto strides = [&](const Dims &own, int64_t matrix, size_t slot) {
    int64_t acc = matrix;
    for (size_t i = own.size(); i-- > 0;) {
      size_t bi = first + batch.size() - own.size() + i;
      p[size_t(EMBER_RT_QGEMM_BATCH0) + 4 * bi + slot] = own[i] == 1 ? 0 : acc;
      acc *= own[i];
    }
  };
  for (size_t i = 0; i < batch.size(); ++i)
    p[size_t(EMBER_RT_QGEMM_BATCH0) + 4 * (first + i)] = batch[i];
  strides(ba, M * K, 1);
  strides(bb, K * N, 2);
  strides(batch, M * N, 3);
  std::vector<int32_t> table = qo.table;
  table.insert(table.end(), g.qbias.begin(), g.qbias.end());
  s.bias = addWeights(table.data(), table.size() * sizeof(int32_t));
  const int64_t ws = cfg_.kernels == Kernels::Edge
                         ? ember_rte_qgemm_workspace_size(p.data())
                         : ember_rt_qgemm_workspace_size(p.data());
  workspacePerWorker_ =
      std::max<uint64_t>(workspacePerWorker_, alignUp(uint64_t(ws), 64));
  return Status::ok();
}

Status Codegen::prepareQMatMul(const Group &g, Step &s) {
  const Node &n = *g.anchor;
  if (cfg_.kernels == Kernels::Edge && isConstant(n.inputs[1]) &&
      n.inputs[1].type().rank() == 2)
    return prepareQMatMulEdge(g, s);
  if (cfg_.kernels != Kernels::Library && cfg_.kernels != Kernels::Edge)
    return unsupported(n.describe(),
                       ": the portable runtime has no int8 kernels");
  if (!isConstant(n.inputs[1]) || n.inputs[1].type().rank() != 2)
    return prepareQMatMulDynamic(g, s);
  const Tensor &b = *n.inputs[1].node->payload;
  int64_t K = b.dim(0), N = b.dim(1);
  int64_t rows = n.inputs[0].type().numElements() / K;
  bool bU8 = b.type().elem() == ElemKind::U8;
  bool aSigned = n.inputs[0].type().elem() == ElemKind::I8;
  const QOut qo = qoutOf(g);
  std::vector<int8_t> bw(size_t(K * N)), zp;
  for (int64_t i = 0; i < K * N; ++i)
    bw[size_t(i)] = int8_t(b.getInt(i) - (bU8 ? 128 : 0));
  if (n.hasInput(3) && n.inputs[3].type().numElements() > 1)
    for (int64_t c = 0; c < N; ++c)
      zp.push_back(int8_t(zeroPointAt(n, 3, c) - (bU8 ? 128 : 0)));
  else
    zp.push_back(int8_t(zeroPointAt(n, 3, 0) - (bU8 ? 128 : 0)));
  std::vector<int32_t> bias(size_t(N), 0);
  if (!g.qbias.empty())
    bias = g.qbias;
  std::vector<int64_t> &p = s.params;
  qgemmParams(p, rows, N, K, qo, cfg_.isa);
  // The layout for this many rows (AVX2: s8 panels for a one- or two-row
  // product, which streams every weight once per call).
  Isa isa = ember::cpu::qgemmPackIsa(Isa(cfg_.isa), size_t(rows));
  s.packedWeights =
      addWeights(nullptr, ember::cpu::packedQBSize(size_t(K), size_t(N), isa));
  auto st = ember::cpu::packQB(
      size_t(K), size_t(N), bw.data(), size_t(N), int32_t(zeroPointAt(n, 2, 0)),
      zp.data(), zp.size(), bias.data(), &out_.weights[size_t(s.packedWeights)],
      isa, aSigned,
      cfg_.int8Paired && cfg_.int8Split ? ember::cpu::QPackExtra::PairedKOrSplit
      : cfg_.int8Paired                 ? ember::cpu::QPackExtra::PairedK
      : cfg_.int8Split                  ? ember::cpu::QPackExtra::SplitTile
                                        : ember::cpu::QPackExtra::None);
  if (st != ember::cpu::Status::Ok)
    return makeError(ErrorCode::Internal, n.describe(),
                     ": packing the int8 weights failed");
  s.bias = addWeights(qo.table.data(), qo.table.size() * sizeof(int32_t));
  workspacePerWorker_ = std::max<uint64_t>(
      workspacePerWorker_,
      alignUp(uint64_t(ember_rt_qgemm_workspace_size(p.data())), 64));
  return Status::ok();
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
    else if (g.kind == GroupKind::Recurrent)
      s = prepareRecurrent(g, steps_[i]);
    if (!s.isOk())
      return s;
  }
  pairConvs();
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
    else if (groups_[i].kind == GroupKind::Recurrent)
      steps_[i].params[EMBER_RT_RNN_WS_BYTES] = int64_t(workspacePerWorker_);
  }
  return Status::ok();
}

} // namespace ember::cpugen
