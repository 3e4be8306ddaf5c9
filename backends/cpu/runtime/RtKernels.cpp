// The runtime calls of RtAbi.h over the CPU kernel library
// (backends/cpu/kernels): glue only. Each call reads its parameter block,
// splits the work over the thread pool (ember_rt_parallel_for), places each
// worker's workspace and builds the kernels' epilogues and requantization;
// the arithmetic is the kernel library's.
// Linked natively into the plugin (JIT) and compiled to bitcode for x86-64
// bundles, so it must not depend on anything but the kernel library and
// libc.
#include "RtAbi.h"
#include "RtConvRows.h"
#include "RtGlue.h"
#include "RtQuant.h"
#include "RtRoundF16.h"
#include "RtTranspose.h"

#include "ember/cpu/Kernels.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
namespace {

using namespace ember::cpu;
using namespace ember::cpugen::rt;

Epilogue epilogueOf(int64_t act, int64_t resAfter, const float *bias,
                    BiasAxis axis, const float *residual, size_t ldr, float lo,
                    float hi) {
  Epilogue e;
  e.bias = bias;
  e.biasAxis = bias ? axis : BiasAxis::None;
  e.activation = act == EMBER_RT_ACT_RELU   ? Activation::Relu
                 : act == EMBER_RT_ACT_CLIP ? Activation::Clip
                                            : Activation::None;
  e.clipMin = lo;
  e.clipMax = hi;
  e.residual = residual;
  e.ldr = ldr;
  e.residualAfterActivation = resAfter != 0;
  return e;
}

// A step's post function (RtAbi.h, EMBER_RT_*_POST; fn 0: none) and, when
// the chain is a known activation (kind = 1 + PostActivation), the kernel
// library's form of it.
struct Post {
  int64_t fn = 0, kind = 0, alpha = 0, beta = 0;
  Isa isa = Isa::Auto;
};

Post postOf(const int64_t *p, int field, Isa isa) {
  // (The fields of the conv and GEMM blocks are in the same order.)
  static_assert(EMBER_RT_CONV_POST_KIND == EMBER_RT_CONV_POST + 2 &&
                    EMBER_RT_GEMM_POST_KIND == EMBER_RT_GEMM_POST + 2 &&
                    EMBER_RT_CONV_POST_BETA == EMBER_RT_CONV_POST + 4 &&
                    EMBER_RT_GEMM_POST_BETA == EMBER_RT_GEMM_POST + 4,
                "post fields");
  return {p[field], p[field + 2], p[field + 3], p[field + 4], isa};
}

float floatBits(int64_t v) {
  const uint32_t b = uint32_t(v);
  float f;
  std::memcpy(&f, &b, sizeof f);
  return f;
}

// The kernel library's form of a known post activation (kind != 0).
PostOp postOpOf(const Post &post) {
  PostOp op;
  op.kind = PostActivation(post.kind - 1);
  op.alpha = floatBits(post.alpha);
  op.beta = floatBits(post.beta);
  return op;
}

// Hands a known post activation to a kernel call in e (a GEMM-lowered
// step's tiles apply it to the values they have just stored, still in L1;
// the depthwise and grouped rows to each row: postActivation's bits), the
// post's residual with it, after the activation. True when it did: the step
// then has no pass of its own.
bool fusePost(const Post &post, const PostOp &op, const float *postRes,
              size_t ldr, Epilogue &e) {
  if (!post.fn || !post.kind || (postRes && e.residual))
    return false;
  e.post = &op;
  if (postRes) {
    e.residual = postRes;
    e.ldr = ldr;
    e.residualAfterActivation = true;
  }
  return true;
}

// The step's post on rows x cols results at y (row stride ldy) and the
// residual beside them (row stride ldr) when the chain reads it.
void applyPost(const Post &post, float *y, size_t ldy, const float *res,
               size_t ldr, size_t rows, size_t cols) {
  if (!post.fn || !rows || !cols)
    return;
  if (post.kind) {
    postActivation(postOpOf(post), y, ldy, res, ldr, rows, cols, post.isa);
    return;
  }
  reinterpret_cast<ember_rt_post>(static_cast<uintptr_t>(post.fn))(
      y, int64_t(ldy), res, int64_t(ldr), int64_t(rows), int64_t(cols));
}

// Results a step with a post function computes before applying it: the
// step runs in chunks of about this many floats (256 KB), so that the
// chunk is still in L2 when the post function reads it back. (A step's
// piece is its whole result at 1 thread: 1.6 MB for a YOLOv8n's first
// layer at 320x320.)
constexpr size_t kPostChunkFloats = size_t(1) << 16;
// The same for a depthwise or grouped channels-last step (convAllGroups)
// whose post the kernel does not apply in its rows (a generated post
// function, or a post residual beside the step's own): chunks of whole
// output rows of about 16 KB, which the post function reads back from L1. Their
// weights are a few taps a channel, so the smaller calls re-read only the KH -
// 1 input rows a chunk shares with the one before, still in cache. (HardSwish
// over 16 KB: 1.7-1.9 ns a 16-float vector, over 256 KB 2.7-2.9.)
constexpr size_t kPostChunkL1Floats = size_t(1) << 12;

Conv2DShape convShape(const int64_t *p, size_t c, size_t oc) {
  Conv2DShape s;
  s.channels = c;
  s.height = u(p[EMBER_RT_CONV_H]);
  s.width = u(p[EMBER_RT_CONV_W]);
  s.outChannels = oc;
  s.kernelH = u(p[EMBER_RT_CONV_KH]);
  s.kernelW = u(p[EMBER_RT_CONV_KW]);
  s.strideH = u(p[EMBER_RT_CONV_SH]);
  s.strideW = u(p[EMBER_RT_CONV_SW]);
  s.padTop = u(p[EMBER_RT_CONV_PT]);
  s.padLeft = u(p[EMBER_RT_CONV_PL]);
  s.padBottom = u(p[EMBER_RT_CONV_PB]);
  s.padRight = u(p[EMBER_RT_CONV_PR]);
  s.dilationH = u(p[EMBER_RT_CONV_DH]);
  s.dilationW = u(p[EMBER_RT_CONV_DW]);
  return s;
}

// Whether one kernel call runs every group of a channels-last step
// (depthwiseConv2dNhwc, groupedConv2dNhwc): tasks then cover all groups.
bool convAllGroups(const int64_t *p) {
  return p[EMBER_RT_CONV_NHWC] &&
         (p[EMBER_RT_CONV_DEPTHWISE] || p[EMBER_RT_CONV_GROUPED]);
}

// The shape of one group of the call: C/G -> OC/G channels (depthwise: the
// C channels, each its own group; a GROUPED step: C -> OC, all groups).
Conv2DShape groupShape(const int64_t *p) {
  size_t C = u(p[EMBER_RT_CONV_C]);
  if (p[EMBER_RT_CONV_DEPTHWISE])
    return convShape(p, C, C);
  if (p[EMBER_RT_CONV_GROUPED])
    return convShape(p, C, u(p[EMBER_RT_CONV_OC]));
  size_t G = u(p[EMBER_RT_CONV_GROUPS]);
  return convShape(p, C / G, u(p[EMBER_RT_CONV_OC]) / G);
}

// The max pool fused into a first layer (POOL_KH 0: none).
MaxPoolWindow poolWindow(const int64_t *p) {
  MaxPoolWindow w;
  w.kernelH = u(p[EMBER_RT_CONV_POOL_KH]);
  w.kernelW = u(p[EMBER_RT_CONV_POOL_KW]);
  w.strideH = u(p[EMBER_RT_CONV_POOL_SH]);
  w.strideW = u(p[EMBER_RT_CONV_POOL_SW]);
  w.padTop = u(p[EMBER_RT_CONV_POOL_PT]);
  w.padLeft = u(p[EMBER_RT_CONV_POOL_PL]);
  w.outHeight = u(p[EMBER_RT_CONV_POOL_OH]);
  w.outWidth = u(p[EMBER_RT_CONV_POOL_OW]);
  return w;
}

// Multiply-adds a piece of a split call should have at least (a few
// microseconds of a core): below, handing a piece to another worker (a
// spinning one takes about a microsecond to start) costs more than it
// saves.
constexpr size_t kMinWorkPerPiece = size_t(1) << 18;
// A depthwise multiply-add costs about as much as this many GEMM ones (it
// is bound by loads, not FMAs): its work is weighted so when splitting.
constexpr size_t kDepthwiseMacWeight = 8;
// Pieces a worker for calls split over pixels or channels with nothing
// prepared per call (channels-last convolutions): the pool balances them.
constexpr size_t kPiecesPerWorker = 4;
// The same for a first layer with its max pool (pieces of pooled rows).
constexpr size_t kPooledPiecesPerWorker = 2;
// The least 8-bit multiply-adds of a piece of a split int8 call:
// kMinWorkPerPiece / kPiecesPerWorker FMAs, 4 multiply-adds a vpdpbusd
// lane (2^18).
constexpr size_t kMinQMacs = kMinWorkPerPiece / kPiecesPerWorker * 4;
// Largest pieces this much above an even share still count as balanced
// when choosing how to split a channels-last convolution (ResNet-50's
// 28x28 layers: 4% over pixels). Splitting those over channels, so that
// every piece read the whole input, made the 2-thread run 3% slower.
constexpr double kSplitSlack = 1.06;
// Multiply-adds a weight streamed from L3 counts as when a pointwise call
// is bound by that stream (a weight from L3 takes about as long as 8 to
// 16 of the tile's multiply-adds on one core).
constexpr size_t kStreamedWeightMacs = 8;
// Output channels of a vector: the finest channel range of a split (the
// AVX-512 tiles skip a panel's vectors before a range's first one).
constexpr size_t kColVector = 16;

// The largest of pieceRange's pieces against an even share (1 = balanced).
double largestShare(size_t n, size_t granule, size_t pieces) {
  size_t units = (n + granule - 1) / granule;
  return double(std::min(n, (units + pieces - 1) / pieces * granule)) *
         double(pieces) / double(n);
}

struct ConvTask {
  const int64_t *p;
  const float *x;
  const void *w;
  const float *bias, *residual;
  float *y;
  float lo, hi;
  uint8_t *ws;
  size_t pieces;  // per (image, group)
  bool splitPix;  // pieces over pixels (else over output channels)
  int32_t status; // first failure (benign race: any failure is reported)
  // Two-phase split (pieces > 1, input prepared once per (image, group)
  // into worker slot (image * G + group) of the workspace: convPrepWork,
  // then every piece reads it).
  bool prepared = false;
  size_t prepPieces = 1; // channel pieces of the preparation
  size_t ocGranule = 1, pixGranule = 1;
  // Pieces over both (colPieces > 1): colPieces output-channel ranges,
  // each cut into pieces / colPieces pixel ranges; the channel range is
  // the outer index, so a worker's contiguous share is one range.
  size_t colPieces = 1;
  // A piece given outright (convNhwcRows): `range` of the image given.
  bool given = false;
  ConvRange range{};
};

void convPrepWork(void *ctx, int64_t begin, int64_t end, int64_t) {
  ConvTask &t = *static_cast<ConvTask *>(ctx);
  const int64_t *p = t.p;
  size_t G = u(p[EMBER_RT_CONV_GROUPS]);
  size_t C = u(p[EMBER_RT_CONV_C]), OC = u(p[EMBER_RT_CONV_OC]);
  size_t cg = C / G, ocg = OC / G;
  size_t inPlane = u(p[EMBER_RT_CONV_H] * p[EMBER_RT_CONV_W]);
  Isa isa = Isa(p[EMBER_RT_CONV_ISA]);
  for (int64_t task = begin; task < end; ++task) {
    size_t piece = size_t(task) % t.prepPieces;
    size_t ng = size_t(task) / t.prepPieces;
    size_t g = ng % G, n = ng / G;
    size_t c0, c1;
    pieceRange(cg, t.prepPieces, 1, piece, c0, c1);
    if (c0 == c1)
      continue;
    const void *w = static_cast<const uint8_t *>(t.w) +
                    g * u(p[EMBER_RT_CONV_W_GROUP_STRIDE]);
    Status s = conv2dPrepareInput(
        convShape(p, cg, ocg), t.x + (n * C + g * cg) * inPlane, w,
        t.ws + ng * u(p[EMBER_RT_CONV_WS_BYTES]), isa, c0, c1);
    if (s != Status::Ok)
      t.status = int32_t(s);
  }
}

// Piece `piece` of one (image, group) output: a pixel or an output-channel
// range aligned to the task's granules. False when it is empty.
bool convPiece(const ConvTask &t, size_t piece, size_t pixels, size_t channels,
               ConvRange &r) {
  if (t.colPieces > 1) {
    const size_t pixPieces = t.pieces / t.colPieces;
    pieceRange(channels, t.colPieces, t.ocGranule, piece / pixPieces, r.ocBegin,
               r.ocEnd);
    pieceRange(pixels, pixPieces, t.pixGranule, piece % pixPieces, r.pixBegin,
               r.pixEnd);
    return r.ocBegin != r.ocEnd && r.pixBegin != r.pixEnd;
  }
  if (t.splitPix) {
    pieceRange(pixels, t.pieces, t.pixGranule, piece, r.pixBegin, r.pixEnd);
    return r.pixBegin != r.pixEnd;
  }
  pieceRange(channels, t.pieces, t.ocGranule, piece, r.ocBegin, r.ocEnd);
  return r.ocBegin != r.ocEnd;
}

// The pixel granule of a channels-last call's kernel: whole output rows
// for the depthwise and narrow grouped rows, two (a row of 2x2 tiles) for
// Winograd, a tile's 6 pixels otherwise.
size_t nhwcPixGranule(const int64_t *p) {
  return convAllGroups(p)            ? u(p[EMBER_RT_CONV_OW])
         : p[EMBER_RT_CONV_WINOGRAD] ? 2 * u(p[EMBER_RT_CONV_OW])
                                     : 6;
}

// Piece `piece` of image n, group g of a channels-last call ([H][W][C] in,
// [OH][OW][OC] out, a channel slice of a wider result when LDY is set). A
// group reads channels [g cg, (g+1) cg) of each input pixel and writes
// [g ocg, (g+1) ocg) of each output pixel, with the full pixel strides
// (the kernels take ldx and ldy). False when the piece is empty.
bool convNhwcPiece(const ConvTask &t, size_t piece, size_t n, size_t g,
                   void *ws, Status &s) {
  const int64_t *p = t.p;
  const Conv2DShape shape = groupShape(p);
  const size_t cg = shape.channels, ocg = shape.outChannels;
  const size_t C = u(p[EMBER_RT_CONV_C]);
  const size_t OC = u(p[EMBER_RT_CONV_OC]); // (depthwise: C)
  const size_t inPlane = shape.height * shape.width;
  const size_t outPlane = u(p[EMBER_RT_CONV_OH] * p[EMBER_RT_CONV_OW]);
  // Pixel strides: of y, x and the residual inside wider values (LDY,
  // LDX, LDR; a row-major x, IN_NCHW, is contiguous).
  const size_t ldy = p[EMBER_RT_CONV_LDY] ? u(p[EMBER_RT_CONV_LDY]) : OC;
  const size_t ldx = p[EMBER_RT_CONV_LDX] ? u(p[EMBER_RT_CONV_LDX]) : C;
  const size_t ldr = p[EMBER_RT_CONV_LDR] ? u(p[EMBER_RT_CONV_LDR]) : OC;
  const float *x = t.x + n * ldx * inPlane + g * cg;
  const Isa isa = Isa(p[EMBER_RT_CONV_ISA]);
  const void *w = static_cast<const uint8_t *>(t.w) +
                  g * u(p[EMBER_RT_CONV_W_GROUP_STRIDE]);
  // (The residual is the post function's operand with POST_RES.)
  const float *res =
      t.residual ? t.residual + n * ldr * outPlane + g * ocg : nullptr;
  const Post post = postOf(p, EMBER_RT_CONV_POST, isa);
  Epilogue e =
      epilogueOf(p[EMBER_RT_CONV_ACT], p[EMBER_RT_CONV_RES_AFTER],
                 t.bias ? t.bias + g * ocg : nullptr, BiasAxis::PerColumn,
                 p[EMBER_RT_CONV_POST_RES] ? nullptr : res, ldr, t.lo, t.hi);
  const float *postRes = p[EMBER_RT_CONV_POST_RES] ? res : nullptr;
  if (p[EMBER_RT_CONV_POOL_KH]) { // pieces of pooled rows
    const MaxPoolWindow pool = poolWindow(p);
    size_t r0, r1;
    pieceRange(pool.outHeight, t.pieces, 1, piece, r0, r1);
    if (r0 == r1)
      return false;
    float *y = t.y + n * ldy * pool.outHeight * pool.outWidth;
    s = conv2dNhwcFromNchwMaxPool(shape, pool, x, w, y, ldy, e, isa, r0, r1,
                                  ws);
    if (p[EMBER_RT_CONV_ROUND_F16]) // (rounding commutes with the max)
      roundF16Rows(y + r0 * pool.outWidth * ldy, (r1 - r0) * pool.outWidth, OC,
                   ldy, isa);
    return true;
  }
  ConvRange piece_ = t.range;
  if (!t.given && !convPiece(t, piece, outPlane, ocg, piece_))
    return false;
  float *y = t.y + n * ldy * outPlane + g * ocg;
  const size_t p0 = piece_.pixEnd ? piece_.pixBegin : 0;
  const size_t p1 = piece_.pixEnd ? piece_.pixEnd : outPlane;
  const size_t c0 = piece_.ocEnd ? piece_.ocBegin : 0;
  const size_t c1 = piece_.ocEnd ? piece_.ocEnd : ocg;
  // With a post function, chunks of whole pixel granules whose results
  // stay in cache until it has read them back (kPostChunkFloats,
  // kPostChunkL1Floats).
  // A known post goes into the kernel instead: the GEMM-lowered steps'
  // tiles apply it to each tile, the depthwise and grouped rows to each
  // output row (HardSwish in registers).
  const PostOp op = post.kind ? postOpOf(post) : PostOp{};
  const bool fused =
      !p[EMBER_RT_CONV_WINOGRAD] && fusePost(post, op, postRes, ldr, e);
  size_t step = p1 - p0;
  if (post.fn && !fused) {
    const size_t gran = nhwcPixGranule(p);
    const size_t chunk =
        convAllGroups(p) ? kPostChunkL1Floats : kPostChunkFloats;
    step = std::max(chunk / (c1 - c0), gran);
    step = (step + gran - 1) / gran * gran;
  }
  for (size_t q0 = p0; q0 < p1; q0 += step) {
    ConvRange r = piece_;
    r.pixBegin = q0;
    r.pixEnd = std::min(p1, q0 + step);
    if (p[EMBER_RT_CONV_DEPTHWISE])
      s = depthwiseConv2dNhwc(shape, x, ldx, static_cast<const float *>(w), y,
                              ldy, e, isa, r);
    else if (p[EMBER_RT_CONV_GROUPED])
      s = groupedConv2dNhwc(shape, u(p[EMBER_RT_CONV_GROUPS]), x, ldx,
                            static_cast<const float *>(w), y, ldy, e, isa, r);
    else if (p[EMBER_RT_CONV_IN_NCHW])
      s = conv2dNhwcFromNchw(shape, x, w, y, ldy, e, isa, r, ws);
    else if (p[EMBER_RT_CONV_WINOGRAD])
      s = conv2dNhwcWinograd(shape, x, ldx, w, y, ldy, e, isa, r, ws);
    else
      s = conv2dNhwc(shape, x, ldx, w, y, ldy, e, isa, r, ws);
    if (s != Status::Ok)
      return true;
    float *yc = y + q0 * ldy + c0;
    if (!fused)
      applyPost(post, yc, ldy, postRes ? postRes + q0 * ldr + c0 : nullptr, ldr,
                r.pixEnd - q0, c1 - c0);
    if (p[EMBER_RT_CONV_ROUND_F16])
      roundF16Rows(yc, r.pixEnd - q0, c1 - c0, ldy, isa);
  }
  return true;
}

void convWork(void *ctx, int64_t begin, int64_t end, int64_t worker) {
  ConvTask &t = *static_cast<ConvTask *>(ctx);
  const int64_t *p = t.p;
  bool dw = p[EMBER_RT_CONV_DEPTHWISE] != 0;
  size_t G = dw || convAllGroups(p) ? 1 : u(p[EMBER_RT_CONV_GROUPS]);
  size_t C = u(p[EMBER_RT_CONV_C]), OC = u(p[EMBER_RT_CONV_OC]);
  size_t cg = C / G, ocg = OC / G;
  size_t inPlane = u(p[EMBER_RT_CONV_H] * p[EMBER_RT_CONV_W]);
  size_t outPlane = u(p[EMBER_RT_CONV_OH] * p[EMBER_RT_CONV_OW]);
  Isa isa = Isa(p[EMBER_RT_CONV_ISA]);
  void *ws =
      t.ws ? t.ws + size_t(worker) * u(p[EMBER_RT_CONV_WS_BYTES]) : nullptr;
  for (int64_t task = begin; task < end; ++task) {
    size_t piece = size_t(task) % t.pieces;
    size_t ng = size_t(task) / t.pieces;
    size_t g = ng % G, n = ng / G;
    Status s;
    if (p[EMBER_RT_CONV_NHWC]) {
      if (!convNhwcPiece(t, piece, n, g, ws, s))
        continue;
    } else if (dw) {
      size_t c0, c1;
      pieceRange(C, t.pieces, 1, piece, c0, c1);
      if (c0 == c1)
        continue;
      const float *res = t.residual ? t.residual + n * C * outPlane : nullptr;
      s = depthwiseConv2d(
          convShape(p, C, C), t.x + n * C * inPlane,
          static_cast<const float *>(t.w), t.y + n * C * outPlane,
          epilogueOf(p[EMBER_RT_CONV_ACT], p[EMBER_RT_CONV_RES_AFTER], t.bias,
                     BiasAxis::PerRow,
                     p[EMBER_RT_CONV_POST_RES] ? nullptr : res, outPlane, t.lo,
                     t.hi),
          isa, c0, c1, ws);
      if (s == Status::Ok)
        applyPost(postOf(p, EMBER_RT_CONV_POST, isa),
                  t.y + (n * C + c0) * outPlane, outPlane,
                  p[EMBER_RT_CONV_POST_RES] ? res + c0 * outPlane : nullptr,
                  outPlane, c1 - c0, outPlane);
      if (p[EMBER_RT_CONV_ROUND_F16])
        roundF16Rows(t.y + (n * C + c0) * outPlane, c1 - c0, outPlane, outPlane,
                     isa);
    } else {
      ConvRange r;
      if (!convPiece(t, piece, outPlane, ocg, r))
        continue;
      const float *x = t.x + (n * C + g * cg) * inPlane;
      float *y = t.y + (n * OC + g * ocg) * outPlane;
      const float *res =
          t.residual ? t.residual + (n * OC + g * ocg) * outPlane : nullptr;
      Epilogue e = epilogueOf(
          p[EMBER_RT_CONV_ACT], p[EMBER_RT_CONV_RES_AFTER],
          t.bias ? t.bias + g * ocg : nullptr, BiasAxis::PerRow,
          p[EMBER_RT_CONV_POST_RES] ? nullptr : res, outPlane, t.lo, t.hi);
      const void *w = static_cast<const uint8_t *>(t.w) +
                      g * u(p[EMBER_RT_CONV_W_GROUP_STRIDE]);
      if (t.prepared)
        s = conv2dPrepared(convShape(p, cg, ocg), x, w,
                           t.ws + ng * u(p[EMBER_RT_CONV_WS_BYTES]), y, e, isa,
                           r, ws);
      else
        s = conv2d(convShape(p, cg, ocg), x, w, y, e, isa, r, ws);
      const size_t p0 = r.pixEnd ? r.pixBegin : 0;
      const size_t p1 = r.pixEnd ? r.pixEnd : outPlane;
      const size_t c0 = r.ocEnd ? r.ocBegin : 0, c1 = r.ocEnd ? r.ocEnd : ocg;
      if (s == Status::Ok)
        applyPost(postOf(p, EMBER_RT_CONV_POST, isa), y + c0 * outPlane + p0,
                  outPlane,
                  p[EMBER_RT_CONV_POST_RES] ? res + c0 * outPlane + p0
                                            : nullptr,
                  outPlane, c1 - c0, p1 - p0);
      if (p[EMBER_RT_CONV_ROUND_F16])
        roundF16Rows(y + c0 * outPlane + p0, c1 - c0, p1 - p0, outPlane, isa);
    }
    if (s != Status::Ok)
      t.status = int32_t(s);
  }
}

struct GemmTask {
  const int64_t *p;
  const float *a;
  const void *b;
  const float *bias, *residual;
  float *c;
  float lo, hi;
  uint8_t *ws;
  size_t rowPieces; // per batch and column piece
  int32_t status;
};

void gemmWork(void *ctx, int64_t begin, int64_t end, int64_t worker) {
  GemmTask &t = *static_cast<GemmTask *>(ctx);
  const int64_t *p = t.p;
  size_t M = u(p[EMBER_RT_GEMM_M]), N = u(p[EMBER_RT_GEMM_N]),
         K = u(p[EMBER_RT_GEMM_K]);
  size_t lda = u(p[EMBER_RT_GEMM_LDA]), ldb = u(p[EMBER_RT_GEMM_LDB]),
         ldc = u(p[EMBER_RT_GEMM_LDC]);
  bool packed = p[EMBER_RT_GEMM_B_PACKED] != 0;
  size_t npieces = packed ? u(p[EMBER_RT_GEMM_NPIECES]) : 1;
  size_t pieceN = packed ? u(p[EMBER_RT_GEMM_PIECE_N]) : N;
  Isa isa = Isa(p[EMBER_RT_GEMM_ISA]);
  void *ws =
      t.ws ? t.ws + size_t(worker) * u(p[EMBER_RT_GEMM_WS_BYTES]) : nullptr;
  const int64_t *bd = p + EMBER_RT_GEMM_BATCH0;
  for (int64_t task = begin; task < end; ++task) {
    size_t rp = size_t(task) % t.rowPieces;
    size_t rest = size_t(task) / t.rowPieces;
    size_t piece = rest % npieces;
    size_t batch = rest / npieces;
    // Batch offsets from the 4 batch dims (innermost last).
    int64_t ao = 0, bo = 0, co = 0;
    size_t bi = batch;
    for (int d = 3; d >= 0; --d) {
      size_t ext = u(bd[4 * d]);
      size_t i = bi % ext;
      bi /= ext;
      ao += int64_t(i) * bd[4 * d + 1];
      bo += int64_t(i) * bd[4 * d + 2];
      co += int64_t(i) * bd[4 * d + 3];
    }
    size_t m0, m1;
    pieceRange(M, t.rowPieces, rowGranule(isa), rp, m0, m1);
    if (m0 == m1)
      continue;
    size_t n0 = piece * pieceN;
    size_t nw = n0 + pieceN < N ? pieceN : N - n0;
    float *c = t.c + co + n0;
    const float *res = t.residual ? t.residual + co + n0 : nullptr;
    // (The residual is the post function's operand with POST_RES.)
    const Post post = postOf(p, EMBER_RT_GEMM_POST, isa);
    const float *postRes = p[EMBER_RT_GEMM_POST_RES] ? res : nullptr;
    if (postRes)
      res = nullptr;
    Epilogue e = epilogueOf(p[EMBER_RT_GEMM_ACT], p[EMBER_RT_GEMM_RES_AFTER],
                            t.bias ? t.bias + n0 : nullptr, BiasAxis::PerColumn,
                            res, ldc, t.lo, t.hi);
    // A known post goes into the tiles (fusePost).
    const PostOp op = post.kind ? postOpOf(post) : PostOp{};
    const bool fused = fusePost(post, op, postRes, ldc, e);
    Status s = Status::Ok;
    if (packed) {
      const void *b = static_cast<const uint8_t *>(t.b) +
                      piece * u(p[EMBER_RT_GEMM_PIECE_STRIDE]);
      // With a post function, chunks of rows whose results stay in L2
      // until it has read them back (kPostChunkFloats).
      const size_t gran = rowGranule(isa);
      size_t step = m1 - m0;
      if (post.fn && !fused)
        step = (std::max(kPostChunkFloats / nw, gran) + gran - 1) / gran * gran;
      for (size_t r0 = m0; r0 < m1 && s == Status::Ok; r0 += step) {
        const size_t r1 = std::min(m1, r0 + step);
        s = sgemmPacked(M, nw, K, t.a + ao, lda, b, c, ldc, e, isa, r0, r1, ws);
        if (s == Status::Ok && !fused)
          applyPost(post, c + r0 * ldc, ldc,
                    postRes ? postRes + r0 * ldc : nullptr, ldc, r1 - r0, nw);
        if (p[EMBER_RT_GEMM_ROUND_F16])
          roundF16Rows(c + r0 * ldc, r1 - r0, nw, ldc, isa);
      }
    } else {
      const float *b = static_cast<const float *>(t.b) + bo;
      Epilogue eu = epilogueOf(p[EMBER_RT_GEMM_ACT], p[EMBER_RT_GEMM_RES_AFTER],
                               t.bias, BiasAxis::PerColumn,
                               res ? res + m0 * ldc : nullptr, ldc, t.lo, t.hi);
      const bool fusedU =
          fusePost(post, op, postRes ? postRes + m0 * ldc : nullptr, ldc, eu);
      s = sgemm(m1 - m0, N, K, t.a + ao + m0 * lda, lda, b, ldb, c + m0 * ldc,
                ldc, eu, isa, ws);
      if (s == Status::Ok && !fusedU)
        applyPost(post, c + m0 * ldc, ldc,
                  postRes ? postRes + m0 * ldc : nullptr, ldc, m1 - m0, N);
      if (p[EMBER_RT_GEMM_ROUND_F16])
        roundF16Rows(c + m0 * ldc, m1 - m0, N, ldc, isa);
    }
    if (s != Status::Ok)
      t.status = int32_t(s);
  }
}

// The kernel library's requantization of a step: the fixed-point tables at
// rq (count multipliers, then count shifts), y's kind and zero point, the
// fused clamp.
struct QGemmTask {
  const int64_t *p;
  const uint8_t *a;
  const void *b;
  const int32_t *rq;
  void *y;
  uint8_t *ws;
  size_t blocks;    // row blocks of rowGranule rows
  size_t colPieces; // column pieces (multiples of 64 columns)
  int32_t status;
};

// Tasks: (column piece, row block), the column piece outermost: a worker's
// contiguous share reads its share of the weights. A run of tasks in one
// column piece is one call over their rows.
void qgemmWork(void *ctx, int64_t begin, int64_t end, int64_t worker) {
  QGemmTask &t = *static_cast<QGemmTask *>(ctx);
  const int64_t *p = t.p;
  size_t M = u(p[EMBER_RT_QGEMM_M]), N = u(p[EMBER_RT_QGEMM_N]),
         K = u(p[EMBER_RT_QGEMM_K]);
  Isa isa = Isa(p[EMBER_RT_QGEMM_ISA]);
  void *ws =
      t.ws ? t.ws + size_t(worker) * u(p[EMBER_RT_QGEMM_WS_BYTES]) : nullptr;
  size_t g = rowGranule(isa);
  int64_t sc = p[EMBER_RT_QGEMM_SCALE_COUNT];
  Requantize rq =
      requantOf(p[EMBER_RT_QGEMM_Y_KIND], p[EMBER_RT_QGEMM_Y_ZP], t.rq, sc, sc,
                p[EMBER_RT_QGEMM_LO], p[EMBER_RT_QGEMM_HI],
                p[EMBER_RT_QGEMM_FLOAT_SCALE]);
  const int64_t blocks = int64_t(t.blocks);
  for (int64_t task = begin; task < end;) {
    int64_t cp = task / blocks;
    int64_t runEnd = std::min(end, (cp + 1) * blocks);
    size_t m0 = size_t(task % blocks) * g;
    size_t m1 = std::min(M, m0 + size_t(runEnd - task) * g);
    size_t n0, n1;
    pieceRange(N, t.colPieces, 64, size_t(cp), n0, n1);
    Status s = qgemmPackedCols(M, N, K, t.a, K, t.b, t.y, N, rq, isa, m0, m1,
                               n0, n1, ws);
    if (s != Status::Ok)
      t.status = int32_t(s);
    task = runEnd;
  }
}

struct QConvTask {
  const int64_t *p;
  const uint8_t *x;
  const uint8_t *w;
  const int32_t *rq;
  uint8_t *y;
  uint8_t *ws;
  size_t chunks;  // per (image, group)
  size_t chunk;   // pixels per chunk (<= EMBER_RT_QCONV_CHUNK)
  size_t cpieces; // depthwise: channel pieces per output row
  int32_t status;
  size_t colPieces = 1; // output-channel pieces per (image, group, chunk)
  bool xNhwc = false;   // x channels-last (a copy of a row-major one: xCopy)
  bool yNhwc = false;   // y channels-last (into a copy for a row-major one)
  uint8_t *yRowMajor = nullptr; // the step's y when y is that copy
  size_t wsShared = 0;          // bytes at the workspace's front shared by all
};

// Whether a depthwise convolution runs the channels-last kernels on
// copies of a row-major x or y: on AVX2 and AVX-512, whose row-major form
// reads one byte per channel per tap, an H*W stride apart (a channel
// shuffle's result is a view, which keeps its value row-major; a result
// read by a graph output or a reshape is row-major).
bool dwCopies(const int64_t *p) {
  return p[EMBER_RT_CONV_DEPTHWISE] && isaHasAvx2(Isa(p[EMBER_RT_CONV_ISA]));
}

// A row-major x read through a channels-last copy, made first in the front
// of the workspace: dense convs whose weights were packed for it (X_COPY),
// depthwise ones on AVX2 and AVX-512 (dwCopies). Bytes of that copy, or 0.
size_t xCopyBytes(const int64_t *p) {
  if (p[EMBER_RT_QCONV_IN_NHWC] || !(p[EMBER_RT_QCONV_X_COPY] || dwCopies(p)))
    return 0;
  return roundUp(u(p[EMBER_RT_CONV_N] * p[EMBER_RT_CONV_C] *
                   p[EMBER_RT_CONV_H] * p[EMBER_RT_CONV_W]),
                 64);
}

// A depthwise conv's row-major y written channels-last into the workspace
// (after x's copy) and transposed into y at the end. Bytes, or 0.
size_t yCopyBytes(const int64_t *p) {
  // (An int32 result is written row-major by the per-pixel loop.)
  if (p[EMBER_RT_QCONV_OUT_NHWC] || !dwCopies(p) ||
      p[EMBER_RT_QCONV_Y_KIND] == EMBER_RT_Y_I32)
    return 0;
  return roundUp(u(p[EMBER_RT_CONV_N] * p[EMBER_RT_CONV_C] *
                   p[EMBER_RT_CONV_OH] * p[EMBER_RT_CONV_OW]),
                 64);
}

// Output channels per panel of the int8 implicit-GEMM tile.
constexpr size_t kQConvPanel = 64;

// Pixel blocks of the copies, (image, block) per task.
constexpr size_t kCopyBlock = 256;

// The copy's blocks an image of HW pixels.
size_t copyBlocks(size_t HW) { return (HW + kCopyBlock - 1) / kCopyBlock; }

// Tasks [begin, end) of a copy, (image n, pixels [q0, q1)) each, over
// images of `pixels` pixels: fn(n, q0, q1).
template <class Fn>
void copyTasks(int64_t begin, int64_t end, size_t pixels, Fn fn) {
  const size_t blocks = copyBlocks(pixels);
  for (int64_t task = begin; task < end; ++task) {
    const size_t n = size_t(task) / blocks,
                 q0 = size_t(task) % blocks * kCopyBlock;
    fn(n, q0, std::min(pixels, q0 + kCopyBlock));
  }
}

// x (row-major) into its channels-last copy at the workspace's front.
void xCopyWork(void *ctx, int64_t begin, int64_t end, int64_t) {
  QConvTask &t = *static_cast<QConvTask *>(ctx);
  const size_t C = u(t.p[EMBER_RT_CONV_C]),
               HW = u(t.p[EMBER_RT_CONV_H] * t.p[EMBER_RT_CONV_W]);
  copyTasks(begin, end, HW, [&](size_t n, size_t q0, size_t q1) {
    ember::cpugen::transposeBytesToNhwc(t.x + n * C * HW, t.ws + n * C * HW, C,
                                        HW, q0, q1);
  });
}

// The channels-last result copy (t.y) into the row-major y.
void yCopyWork(void *ctx, int64_t begin, int64_t end, int64_t) {
  QConvTask &t = *static_cast<QConvTask *>(ctx);
  const size_t C = u(t.p[EMBER_RT_CONV_OC]),
               P = u(t.p[EMBER_RT_CONV_OH] * t.p[EMBER_RT_CONV_OW]);
  copyTasks(begin, end, P, [&](size_t n, size_t q0, size_t q1) {
    ember::cpugen::transposeBytes(t.y + (n * P + q0) * C, C,
                                  t.yRowMajor + n * C * P + q0, P, q1 - q0, C);
  });
}

// memcpy for the short spans of im2row: 16-byte moves inline (n >= 16),
// the library call only below that.
inline void copyBytes(uint8_t *d, const uint8_t *s, size_t n) {
  if (n < 16) {
    std::memcpy(d, s, n);
    return;
  }
  size_t i = 0;
  for (; i + 16 <= n; i += 16)
    std::memcpy(d + i, s + i, 16);
  if (i < n)
    std::memcpy(d + n - 16, s + n - 16, 16);
}

// One chunk of output pixels of one (image, group): im2row (or x itself),
// int8 GEMM against the packed W^T, and the result into y.
// Pixels [p0, p1) of group g's [pixel][channel] result `tmp` into the
// channels-first output.
// Elements of es bytes (1, or 4 for an int32 result).
void storeChannelsFirst(QConvTask &t, size_t n, size_t g, size_t p0, size_t p1,
                        const uint8_t *tmp, size_t es) {
  const int64_t *p = t.p;
  size_t G = u(p[EMBER_RT_CONV_GROUPS]), OC = u(p[EMBER_RT_CONV_OC]);
  size_t ocg = OC / G, P = u(p[EMBER_RT_CONV_OH] * p[EMBER_RT_CONV_OW]);
  if (es == 1) { // 16x16 byte blocks (RtTranspose.cpp)
    ember::cpugen::transposeBytes(tmp, ocg, t.y + (n * OC + g * ocg) * P + p0,
                                  P, p1 - p0, ocg);
    return;
  }
  int32_t *y = reinterpret_cast<int32_t *>(t.y) + (n * OC + g * ocg) * P;
  const int32_t *s = reinterpret_cast<const int32_t *>(tmp);
  for (size_t oc = 0; oc < ocg; ++oc)
    for (size_t pix = p0; pix < p1; ++pix)
      y[oc * P + pix] = s[(pix - p0) * ocg + oc];
}

// Whether a group's convolution (shape, its packed weights wg) takes the
// implicit-GEMM path, where qconv2dNhwc reads the windows from x in place
// (a dense conv's x is channels-last, or copied so: X_COPY): the kernel's
// output geometry the step's, and wg packed for it.
bool qconvImplicit(const int64_t *p, const Conv2DShape &shape, const void *wg) {
  return shape.outHeight() == u(p[EMBER_RT_CONV_OH]) &&
         shape.outWidth() == u(p[EMBER_RT_CONV_OW]) &&
         qconv2dNhwcSupported(shape, wg, Isa(p[EMBER_RT_CONV_ISA]));
}

void qconvChunk(QConvTask &t, size_t n, size_t g, size_t chunk, size_t cp,
                uint8_t *ws) {
  const int64_t *p = t.p;
  size_t C = u(p[EMBER_RT_CONV_C]), H = u(p[EMBER_RT_CONV_H]),
         W = u(p[EMBER_RT_CONV_W]), OC = u(p[EMBER_RT_CONV_OC]),
         OH = u(p[EMBER_RT_CONV_OH]), OW = u(p[EMBER_RT_CONV_OW]),
         KH = u(p[EMBER_RT_CONV_KH]), KW = u(p[EMBER_RT_CONV_KW]);
  int64_t SH = p[EMBER_RT_CONV_SH], SW = p[EMBER_RT_CONV_SW],
          PT = p[EMBER_RT_CONV_PT], PL = p[EMBER_RT_CONV_PL],
          DH = p[EMBER_RT_CONV_DH], DW = p[EMBER_RT_CONV_DW];
  size_t G = u(p[EMBER_RT_CONV_GROUPS]);
  size_t cg = C / G, ocg = OC / G, K = cg * KH * KW, P = OH * OW;
  size_t R = t.chunk;
  size_t p0 = chunk * R, p1 = p0 + R < P ? p0 + R : P;
  if (p0 >= p1)
    return;
  bool outNhwc = p[EMBER_RT_QCONV_OUT_NHWC] != 0;
  // x's zero point as a byte (an s8 one as its two's complement bits).
  uint8_t xzp = uint8_t(p[EMBER_RT_QCONV_X_ZP]);
  size_t es = p[EMBER_RT_QCONV_Y_KIND] == EMBER_RT_Y_I32 ? 4 : 1;
  uint8_t *rows = ws;
  uint8_t *tmp = ws + roundUp(R * K, 64);
  void *gws = tmp + roundUp(R * ocg * es, 64);
  const uint8_t *a = rows;
  size_t lda = K;
  const void *wg = t.w + g * u(p[EMBER_RT_CONV_W_GROUP_STRIDE]);
  int64_t sc = p[EMBER_RT_QCONV_SCALE_COUNT];
  const Requantize rq =
      requantOf(p[EMBER_RT_QCONV_Y_KIND], p[EMBER_RT_QCONV_Y_ZP],
                t.rq + (sc > 1 ? g * ocg : 0), sc > 1 ? int64_t(ocg) : 1, sc,
                p[EMBER_RT_QCONV_LO], p[EMBER_RT_QCONV_HI],
                p[EMBER_RT_QCONV_FLOAT_SCALE]);
  Conv2DShape shape = convShape(p, cg, ocg);
  if (qconvImplicit(p, shape, wg)) {
    // Implicit GEMM: the kernel reads the windows from x in place; output
    // channels [c0, c1) (panels of 64) when split over them.
    uint8_t *c = outNhwc ? t.y + ((n * P + p0) * OC + g * ocg) * es : tmp;
    size_t c0, c1;
    pieceRange(ocg, t.colPieces, kQConvPanel, cp, c0, c1);
    if (c0 >= c1)
      return;
    Status s = qconv2dNhwcCols(shape, t.x + n * H * W * C + g * cg, C,
                               int32_t(p[EMBER_RT_QCONV_X_ZP]), wg, c,
                               outNhwc ? OC : ocg, rq,
                               Isa(p[EMBER_RT_CONV_ISA]), p0, p1, c0, c1, gws);
    if (s != Status::Ok)
      t.status = int32_t(s);
    else if (!outNhwc)
      storeChannelsFirst(t, n, g, p0, p1, tmp, es);
    return;
  }
  // im2row from the channels-last x (or its copy), rows of K = (kh, kw, c).
  const uint8_t *x = t.x + n * H * W * C + g * cg;
  bool direct = KH == 1 && KW == 1 && SH == 1 && SW == 1 && PT == 0 &&
                PL == 0 && OH == H && OW == W;
  if (direct) {
    a = x + p0 * C;
    lda = C;
  } else {
    // With one group and unit dilation along W, the KW taps of a row are
    // one contiguous span of x: copied at once when it is inside.
    bool spans = G == 1 && DW == 1;
    int64_t oh = int64_t(p0 / OW), ow = int64_t(p0 % OW);
    for (size_t pix = p0; pix < p1; ++pix) {
      if (ow == int64_t(OW)) {
        ow = 0;
        ++oh;
      }
      int64_t iw0 = ow * SW - PL;
      bool colsIn = spans && iw0 >= 0 && iw0 + int64_t(KW) <= int64_t(W);
      uint8_t *r = rows + (pix - p0) * K;
      ++ow;
      for (size_t kh = 0; kh < KH; ++kh) {
        int64_t ih = oh * SH - PT + int64_t(kh) * DH;
        if (colsIn && ih >= 0 && ih < int64_t(H)) {
          copyBytes(r, x + (size_t(ih) * W + size_t(iw0)) * C, KW * cg);
          r += KW * cg;
          continue;
        }
        for (size_t kw = 0; kw < KW; ++kw, r += cg) {
          int64_t iw = iw0 + int64_t(kw) * DW;
          if (ih >= 0 && ih < int64_t(H) && iw >= 0 && iw < int64_t(W))
            copyBytes(r, x + (size_t(ih) * W + size_t(iw)) * C, cg);
          else
            std::memset(r, xzp, cg);
        }
      }
    }
  }
  uint8_t *c = outNhwc ? t.y + ((n * P + p0) * OC + g * ocg) * es : tmp;
  size_t ldc = outNhwc ? OC : ocg;
  Status s = qgemmPacked(p1 - p0, ocg, K, a, lda, wg, c, ldc, rq,
                         Isa(p[EMBER_RT_CONV_ISA]), 0, 0, gws);
  if (s != Status::Ok) {
    t.status = int32_t(s);
    return;
  }
  if (!outNhwc)
    storeChannelsFirst(t, n, g, p0, p1, tmp, es);
}

// The kernel library's view of a depthwise step (qdepthwiseConv2dRow).
QDepthwiseConv qdepthwiseOf(const QConvTask &t) {
  static_assert(kQDepthwiseVnniBlockBytes == EMBER_RT_DW_VNNI_BLOCK_BYTES,
                "one VNNI pack layout");
  const int64_t *p = t.p;
  QDepthwiseConv c;
  c.channels = p[EMBER_RT_CONV_C];
  c.height = p[EMBER_RT_CONV_H];
  c.width = p[EMBER_RT_CONV_W];
  c.outHeight = p[EMBER_RT_CONV_OH];
  c.outWidth = p[EMBER_RT_CONV_OW];
  c.kernelH = p[EMBER_RT_CONV_KH];
  c.kernelW = p[EMBER_RT_CONV_KW];
  c.strideH = p[EMBER_RT_CONV_SH];
  c.strideW = p[EMBER_RT_CONV_SW];
  c.padTop = p[EMBER_RT_CONV_PT];
  c.padLeft = p[EMBER_RT_CONV_PL];
  c.dilationH = p[EMBER_RT_CONV_DH];
  c.dilationW = p[EMBER_RT_CONV_DW];
  c.inNhwc = t.xNhwc;
  c.outNhwc = t.yNhwc;
  c.xZeroPoint = p[EMBER_RT_QCONV_X_ZP];
  c.xSigned = p[EMBER_RT_QCONV_X_SIGNED];
  c.yZeroPoint = p[EMBER_RT_QCONV_Y_ZP];
  c.ySigned = p[EMBER_RT_QCONV_Y_KIND] == EMBER_RT_Y_I8;
  c.yInt32 = p[EMBER_RT_QCONV_Y_KIND] == EMBER_RT_Y_I32;
  c.clampMin = p[EMBER_RT_QCONV_LO];
  c.clampMax = p[EMBER_RT_QCONV_HI];
  c.scaleCount = p[EMBER_RT_QCONV_SCALE_COUNT];
  c.biasOffset = p[EMBER_RT_QCONV_BIAS_OFFSET];
  c.vnniOffset = p[EMBER_RT_QCONV_DW_VNNI];
  c.isa = Isa(p[EMBER_RT_CONV_ISA]);
  c.x = t.x;
  c.y = t.y;
  c.packed = t.w;
  c.multiplier = t.rq;
  c.shift = t.rq + c.scaleCount;
  c.floatScale = p[EMBER_RT_QCONV_FLOAT_SCALE];
  qdepthwisePrepare(c); // once, not for every row
  return c;
}

// How a GEMM-form int8 convolution is split over more than one worker. Every
// worker gets several pieces (kPiecesPerWorker, down to kMinQMacs multiply-adds
// each: as many vpdpbusd as the fp32 splits' smallest pieces have FMAs), so one
// slowed by a core it shares with another process hands its tail to the others
// (a piece is one task of the pool's shares); 14x14 layers of VGG-19 were two
// pieces, one a worker, and the step waited for the slow one. Pixel chunks are
// dealt out evenly (784 pixels of at most 256: four of 198, not three of 256
// and one of 16). A layer whose weights outweigh its input, on the
// implicit-GEMM path, is cut over output channels first (panels of 64): each
// piece then streams only its share of the weights, as the fp32 channels-last
// convolutions do.
void qconvSplit(const int64_t *p, bool implicit, size_t workers, size_t &R,
                size_t &colPieces) {
  size_t G = u(p[EMBER_RT_CONV_GROUPS]), N = u(p[EMBER_RT_CONV_N]);
  size_t P = u(p[EMBER_RT_CONV_OH] * p[EMBER_RT_CONV_OW]);
  size_t cg = u(p[EMBER_RT_CONV_C]) / G, ocg = u(p[EMBER_RT_CONV_OC]) / G;
  size_t K = cg * u(p[EMBER_RT_CONV_KH] * p[EMBER_RT_CONV_KW]);
  size_t HW = u(p[EMBER_RT_CONV_H] * p[EMBER_RT_CONV_W]);
  size_t want = kPiecesPerWorker * workers, ng = N * G;
  size_t per = ng >= want ? 1 : (want + ng - 1) / ng; // pieces an (n, g)
  per = std::min(per, std::max<size_t>(1, P * ocg * K / kMinQMacs));
  size_t panels = (ocg + kQConvPanel - 1) / kQConvPanel;
  colPieces = 1;
  if (implicit && panels > 1 && K * ocg > HW * cg) {
    colPieces = std::min(panels, per);
    per = (per + colPieces - 1) / colPieces;
  }
  size_t chunks = std::max((P + R - 1) / R, per);
  size_t g6 = rowGranule(Isa(p[EMBER_RT_CONV_ISA]));
  size_t r = roundUp((P + chunks - 1) / chunks, g6);
  if (r < R)
    R = r; // (the workspace holds R rows)
}

// Tasks: (image, group, output-channel piece, pixel chunk) for GEMM convs,
// (image, output row) for depthwise ones.
void qconvWork(void *ctx, int64_t begin, int64_t end, int64_t worker) {
  QConvTask &t = *static_cast<QConvTask *>(ctx);
  const int64_t *p = t.p;
  bool dw = p[EMBER_RT_CONV_DEPTHWISE] != 0;
  size_t G = u(p[EMBER_RT_CONV_GROUPS]), OH = u(p[EMBER_RT_CONV_OH]);
  uint8_t *ws =
      t.ws + t.wsShared + size_t(worker) * u(p[EMBER_RT_CONV_WS_BYTES]);
  QDepthwiseConv dwc;
  if (dw)
    dwc = qdepthwiseOf(t);
  for (int64_t task = begin; task < end; ++task) {
    if (dw) {
      size_t row = size_t(task) / t.cpieces, piece = size_t(task) % t.cpieces;
      Status s = qdepthwiseConv2dRow(dwc, row / OH, row % OH, piece, t.cpieces,
                                     reinterpret_cast<int32_t *>(ws));
      if (s != Status::Ok)
        t.status = int32_t(s);
      continue;
    }
    // (image, group) outermost, then output-channel pieces: a worker's
    // contiguous share reads its share of the weights.
    size_t chunk = size_t(task) % t.chunks;
    size_t cp = size_t(task) / t.chunks % t.colPieces;
    size_t ng = size_t(task) / t.chunks / t.colPieces;
    qconvChunk(t, ng / G, ng % G, chunk, cp, ws);
  }
}

// Bytes of a Y_COPY step's channels-last result, at the workspace's front.
size_t convYCopyBytes(const int64_t *p) {
  if (!p[EMBER_RT_CONV_Y_COPY])
    return 0;
  return roundUp(u(p[EMBER_RT_CONV_N] * p[EMBER_RT_CONV_OC] *
                   p[EMBER_RT_CONV_OH] * p[EMBER_RT_CONV_OW]) *
                     sizeof(float),
                 64);
}

int64_t convWorkerBytes(const int64_t *p) {
  Isa isa = Isa(p[EMBER_RT_CONV_ISA]);
  if (convAllGroups(p))
    return 0;
  if (p[EMBER_RT_CONV_NHWC] && p[EMBER_RT_CONV_POOL_KH])
    return int64_t(
        conv2dNhwcFromNchwMaxPoolWorkspaceSize(groupShape(p), poolWindow(p)));
  if (p[EMBER_RT_CONV_NHWC] && p[EMBER_RT_CONV_IN_NCHW])
    return int64_t(conv2dNhwcFromNchwWorkspaceSize(groupShape(p)));
  if (p[EMBER_RT_CONV_WINOGRAD])
    return int64_t(conv2dNhwcWinogradWorkspaceSize(groupShape(p)));
  if (p[EMBER_RT_CONV_NHWC])
    return int64_t(conv2dNhwcWorkspaceSize(groupShape(p)));
  if (p[EMBER_RT_CONV_DEPTHWISE]) // the padded plane (was allocated per call)
    return int64_t(depthwiseConv2dWorkspaceSize(
        convShape(p, u(p[EMBER_RT_CONV_C]), u(p[EMBER_RT_CONV_C])), isa));
  size_t G = u(p[EMBER_RT_CONV_GROUPS]);
  return int64_t(conv2dWorkspaceSize(
      convShape(p, u(p[EMBER_RT_CONV_C]) / G, u(p[EMBER_RT_CONV_OC]) / G),
      isa));
}

// The y of a Y_COPY step, from its channels-last copy.
struct ConvYCopy {
  const int64_t *p;
  const float *from; // [N][P][OC]
  float *y;          // [N][OC][P]
};

void convYCopyWork(void *ctx, int64_t begin, int64_t end, int64_t) {
  const ConvYCopy &t = *static_cast<ConvYCopy *>(ctx);
  const size_t OC = u(t.p[EMBER_RT_CONV_OC]),
               P = u(t.p[EMBER_RT_CONV_OH] * t.p[EMBER_RT_CONV_OW]);
  copyTasks(begin, end, P, [&](size_t n, size_t q0, size_t q1) {
    ember::cpugen::transposeFloats(t.from + (n * P + q0) * OC, OC,
                                   t.y + n * OC * P + q0, P, q1 - q0, OC);
  });
}

// How a call splits over `workers`: t.pieces per (image, group) (1: not
// split), and for a channels-last or pooled call how (splitPix, colPieces,
// the granules). The row-major forms choose theirs in convStep, from their
// packed weights' granules.
void planConvSplit(const int64_t *p, size_t workers, ConvTask &t) {
  const bool all = convAllGroups(p);
  size_t G = p[EMBER_RT_CONV_DEPTHWISE] || all ? 1 : u(p[EMBER_RT_CONV_GROUPS]);
  size_t ng = u(p[EMBER_RT_CONV_N]) * G;
  // Enough work per piece to pay for waking a worker: a task's output
  // channels times the input channels of a group. (Depthwise: one input
  // channel per output channel, weighted.)
  const size_t cin = u(p[EMBER_RT_CONV_C]) / u(p[EMBER_RT_CONV_GROUPS]);
  size_t macs =
      u(p[EMBER_RT_CONV_OC] * p[EMBER_RT_CONV_OH] * p[EMBER_RT_CONV_OW] *
        p[EMBER_RT_CONV_KH] * p[EMBER_RT_CONV_KW]) /
      G * (p[EMBER_RT_CONV_DEPTHWISE] ? kDepthwiseMacWeight : cin);
  // A dense channels-last 1x1 (stride 1, unpadded: the GEMM with x read in
  // place) whose weights outweigh its input streams them from L3 at each
  // run (a model's weights do not stay in L2 from one run to the next):
  // the late 7x7 and 14x14 layers of a mobile network and the one-pixel
  // layers of a squeeze-excitation block are bound by that stream, not
  // by their multiply-adds, so each weight counts as kStreamedWeightMacs
  // of them when deciding whether to split.
  const bool pointwise =
      p[EMBER_RT_CONV_NHWC] && !all && !p[EMBER_RT_CONV_DEPTHWISE] &&
      !p[EMBER_RT_CONV_IN_NCHW] && !p[EMBER_RT_CONV_WINOGRAD] &&
      !p[EMBER_RT_CONV_POOL_KH] && p[EMBER_RT_CONV_KH] == 1 &&
      p[EMBER_RT_CONV_KW] == 1 && p[EMBER_RT_CONV_SH] == 1 &&
      p[EMBER_RT_CONV_SW] == 1 && !p[EMBER_RT_CONV_PT] &&
      !p[EMBER_RT_CONV_PL] && !p[EMBER_RT_CONV_PB] && !p[EMBER_RT_CONV_PR];
  // (Pointwise: G is the groups, x's pixels hold cin channels.)
  const size_t pwWeights = cin * u(p[EMBER_RT_CONV_OC]) / G;
  const bool weightBound =
      pointwise && pwWeights > u(p[EMBER_RT_CONV_H] * p[EMBER_RT_CONV_W]) * cin;
  if (weightBound)
    macs = std::max(macs, pwWeights * kStreamedWeightMacs);
  if (ng < workers)
    t.pieces = (workers + ng - 1) / ng;
  if (t.pieces > 1 && macs / t.pieces < kMinWorkPerPiece)
    t.pieces = macs / kMinWorkPerPiece > 1 ? macs / kMinWorkPerPiece : 1;
  if (p[EMBER_RT_CONV_POOL_KH] && t.pieces > 1) {
    // Pooled rows; each piece computes the conv rows its first window
    // shares with the piece before it again, so fewer pieces than the
    // other channels-last calls.
    t.pieces = std::min(t.pieces * kPooledPiecesPerWorker,
                        u(p[EMBER_RT_CONV_POOL_OH]));
  } else if (p[EMBER_RT_CONV_NHWC] && t.pieces > 1) {
    // Nothing is prepared per call, so cut several pieces a worker: one
    // that finishes its share early takes the others' last pieces
    // (ThreadPool.h), down to a few microseconds of work each.
    size_t most = macs / (kMinWorkPerPiece / kPiecesPerWorker);
    t.pieces = std::max(t.pieces, std::min(t.pieces * kPiecesPerWorker, most));
    // Tiles are 6 pixels x a panel of channels: split the better balanced way.
    // When both are balanced within kSplitSlack, split the operand that is not
    // the larger one: pixels when the input outweighs the weights (each
    // piece reads only its pixels, and a worker's pieces share weights in
    // its L2), else channels (each piece streams only its share of them).
    // (Per group: a grouped convolution's pieces split one group's
    // output channels or pixels.)
    size_t pix = u(p[EMBER_RT_CONV_OH] * p[EMBER_RT_CONV_OW]);
    size_t ocg = u(p[EMBER_RT_CONV_OC]) / G, cg = u(p[EMBER_RT_CONV_C]) / G;
    // (Depthwise and GROUPED: whole output rows, 16-channel vectors, whole
    // groups. Dense: 6 pixels x the path's panel, 64 channels on AVX-512,
    // 16 on AVX2.)
    bool dwn = all;
    // (Winograd: whole rows of 2x2 tiles, two output rows.)
    t.pixGranule = nhwcPixGranule(p);
    t.ocGranule = dwn ? 16 : colGranule(Isa(p[EMBER_RT_CONV_ISA]));
    double lp = largestShare(pix, t.pixGranule, t.pieces);
    double lo = largestShare(ocg, t.ocGranule, t.pieces);
    size_t weights = u(p[EMBER_RT_CONV_KH] * p[EMBER_RT_CONV_KW]) * cg * ocg;
    size_t input = u(p[EMBER_RT_CONV_H] * p[EMBER_RT_CONV_W]) * cg;
    // (A Winograd piece over channels transforms the whole input again:
    // pixels whenever each piece gets a tile row.)
    if (p[EMBER_RT_CONV_WINOGRAD])
      t.splitPix = pix >= t.pixGranule * t.pieces || ocg < 2 * t.ocGranule;
    else if (std::max(lp, lo) <= std::min(lp, lo) * kSplitSlack)
      t.splitPix = dwn || weights <= input;
    else
      t.splitPix = lp < lo;
    if (weightBound && workers > 1 && ocg >= kColVector * workers) {
      // Over pixels every worker would stream all the weights, over 64-
      // channel panels the pieces are few and uneven (160 channels: 128 |
      // 32). One range of 16-channel vectors a worker (80 | 80), its pixels
      // cut into the rest of the pieces: each worker streams its share of
      // the weights once and its pieces read it back from its L2.
      t.colPieces = workers;
      const size_t pixPieces = std::max<size_t>(
          1, std::min((t.pieces + workers - 1) / workers,
                      (pix + t.pixGranule - 1) / t.pixGranule));
      t.pieces = t.colPieces * pixPieces;
      t.ocGranule = kColVector;
    }
  }
}

// One conv2d call (ember_rt_conv2d) into y.
int32_t convStep(const int64_t *p, const float *x, const void *w,
                 const float *bias, const float *residual, float *y,
                 float clipLo, float clipHi, uint8_t *workspace) {
  size_t workers = size_t(ember_rt_num_workers());
  // Tasks per image: one per group, or one for all of them.
  const bool all = convAllGroups(p);
  size_t G = p[EMBER_RT_CONV_DEPTHWISE] || all ? 1 : u(p[EMBER_RT_CONV_GROUPS]);
  size_t ng = u(p[EMBER_RT_CONV_N]) * G;
  ConvTask t{p, x, w, bias, residual, y, clipLo, clipHi, workspace, 1, true, 0};
  planConvSplit(p, workers, t);
  if (!p[EMBER_RT_CONV_POOL_KH] && !p[EMBER_RT_CONV_NHWC] &&
      !p[EMBER_RT_CONV_DEPTHWISE] && t.pieces > 1) {
    Isa isa = Isa(p[EMBER_RT_CONV_ISA]);
    size_t pix = u(p[EMBER_RT_CONV_OH] * p[EMBER_RT_CONV_OW]);
    size_t OW = u(p[EMBER_RT_CONV_OW]);
    size_t cg = u(p[EMBER_RT_CONV_C]) / G, ocg = u(p[EMBER_RT_CONV_OC]) / G;
    Conv2DShape shape = convShape(p, cg, ocg);
    // The micro-tile of the form the weights were packed in (the
    // transposed one has pixels as rows: a small pixel granule).
    if (conv2dGranules(w, &t.ocGranule, &t.pixGranule) != Status::Ok) {
      t.ocGranule = rowGranule(isa);
      t.pixGranule = colGranule(isa);
    }
    bool transposed = t.ocGranule > t.pixGranule;
    // Prepare the input (phase planes) once per (image, group), pieces then
    // take output ranges of it, rather than each piece rebuilding it.
    t.prepared = workspace && conv2dNeedsPrepare(shape, w, isa);
    // The shifted (normal) form computes whole Wq-pitched output rows:
    // pixel pieces on row boundaries share none.
    if (t.prepared && !transposed)
      t.pixGranule = OW;
    // A 1x1 stride-1 unpadded convolution on AVX-512 reads x in place
    // whatever the split; a pixel cut inside a 64-pixel tile only costs a
    // narrower tile, so cut on vectors (28x28 = 784 pixels: 400 | 384
    // rather than 448 | 336).
    bool inPlace = isaHasAvx512(isa) && shape.kernelH == 1 &&
                   shape.kernelW == 1 && shape.strideH == 1 &&
                   shape.strideW == 1 && !shape.padTop && !shape.padLeft &&
                   !shape.padBottom && !shape.padRight;
    if (inPlace && !transposed)
      t.pixGranule = 16;
    if (t.prepared || inPlace) {
      // Nothing per piece depends on the split: take the better balanced
      // one (largest piece against an even share).
      double lp = largestShare(pix, t.pixGranule, t.pieces);
      double lo = largestShare(ocg, t.ocGranule, t.pieces);
      t.splitPix = lp < lo || (lp == lo && !transposed);
    } else {
      // Pixels when each piece still gets a few micro-panels of them (each
      // piece packs its own im2col blocks); otherwise output channels.
      t.splitPix = pix >= 2 * t.pixGranule * t.pieces ||
                   ocg < 2 * t.ocGranule * t.pieces;
    }
    if (t.prepared) {
      // Channel pieces of the copy, when it is worth waking workers for.
      size_t inPlane = u(p[EMBER_RT_CONV_H] * p[EMBER_RT_CONV_W]);
      t.prepPieces = cg * inPlane >= (size_t(1) << 14) ? t.pieces : 1;
      if (ng * t.prepPieces == 1)
        convPrepWork(&t, 0, 1, 0);
      else
        ember_rt_parallel_for(convPrepWork, &t, int64_t(ng * t.prepPieces));
      if (t.status)
        return t.status;
    }
  }
  if (ng * t.pieces == 1)
    convWork(&t, 0, 1, 0);
  else
    ember_rt_parallel_for(convWork, &t, int64_t(ng * t.pieces));
  return t.status;
}

} // namespace

// RtConvRows.h: rows of one channels-last conv step, for the pair's call.
int32_t ember::cpugen::rt::convNhwcRows(const int64_t *p, const ConvOperands &o,
                                        size_t n, size_t pixBegin,
                                        size_t pixEnd, void *ws) {
  ConvTask t{p,    o.x,  o.w,     o.bias, o.residual, o.y,
             o.lo, o.hi, nullptr, 1,      true,       0};
  t.given = true;
  t.range = ConvRange{0, 0, pixBegin, pixEnd};
  Status s = Status::Ok;
  convNhwcPiece(t, 0, n, 0, ws, s);
  return int32_t(s);
}

int64_t ember::cpugen::rt::convWorkspaceBytes(const int64_t *p) {
  return convWorkerBytes(p);
}

extern "C" {

int64_t ember_rt_qgemm_workspace_size(const int64_t *p) {
  if (p[EMBER_RT_QGEMM_B_DYNAMIC])
    return int64_t(qgemmDynamicBWorkspace(p));
  return int64_t(
      qgemmWorkspaceSize(u(p[EMBER_RT_QGEMM_K]), Isa(p[EMBER_RT_QGEMM_ISA])));
}

int32_t ember_rt_qgemm(const int64_t *p, const uint8_t *a, const void *b,
                       const int32_t *rq, void *y, uint8_t *workspace) {
  if (p[EMBER_RT_QGEMM_B_DYNAMIC])
    return qgemmDynamicB(p, a, static_cast<const uint8_t *>(b), rq, y,
                         workspace);
  size_t M = u(p[EMBER_RT_QGEMM_M]), N = u(p[EMBER_RT_QGEMM_N]),
         K = u(p[EMBER_RT_QGEMM_K]);
  size_t g = rowGranule(Isa(p[EMBER_RT_QGEMM_ISA]));
  QGemmTask t{p, a, b, rq, y, workspace, (M + g - 1) / g, 1, 0};
  size_t workers = size_t(ember_rt_num_workers());
  // Few row blocks (a fully-connected layer at batch 1 has one): cut the
  // columns too, so that every worker gets a few pieces, each streaming
  // its share of the weights; down to kMinQMacs multiply-adds a piece
  // (as qconvSplit).
  size_t want = kPiecesPerWorker * workers;
  if (workers > 1 && t.blocks < want) {
    size_t panels = (N + 63) / 64;
    size_t most = std::max<size_t>(1, M * N * K / kMinQMacs / t.blocks);
    t.colPieces = std::min({panels, (want + t.blocks - 1) / t.blocks, most});
  }
  int64_t tasks = int64_t(t.blocks * t.colPieces);
  if (workers == 1 || tasks < 2)
    qgemmWork(&t, 0, tasks, 0);
  else
    ember_rt_parallel_for(qgemmWork, &t, tasks);
  return t.status;
}

// (The copies of x and y are shared by the workers, at the front of the
// workspace, and counted in each worker's bytes: the last worker's area
// then still ends inside the workers' total.)
int64_t ember_rt_qconv_workspace_size(const int64_t *p) {
  size_t copies = xCopyBytes(p) + yCopyBytes(p);
  if (p[EMBER_RT_CONV_DEPTHWISE]) // the copies and accumulators
    return int64_t(copies) + p[EMBER_RT_CONV_C] * int64_t(sizeof(int32_t));
  size_t G = u(p[EMBER_RT_CONV_GROUPS]);
  size_t K =
      u(p[EMBER_RT_CONV_C]) / G * u(p[EMBER_RT_CONV_KH] * p[EMBER_RT_CONV_KW]);
  size_t ocg = u(p[EMBER_RT_CONV_OC]) / G, R = u(p[EMBER_RT_QCONV_CHUNK]);
  size_t gemm = qgemmWorkspaceSize(K, Isa(p[EMBER_RT_CONV_ISA]));
  size_t implicit = qconv2dNhwcWorkspaceSize(
      convShape(p, u(p[EMBER_RT_CONV_C]) / G, ocg), Isa(p[EMBER_RT_CONV_ISA]));
  size_t es = p[EMBER_RT_QCONV_Y_KIND] == EMBER_RT_Y_I32 ? 4 : 1;
  return int64_t(copies + roundUp(R * K, 64) + roundUp(R * ocg * es, 64) +
                 (gemm > implicit ? gemm : implicit));
}

void ember_rt_qconv_split(const int64_t *p, const void *w, int64_t workers,
                          int64_t *chunk, int64_t *colPieces) {
  size_t R = u(p[EMBER_RT_QCONV_CHUNK]), cp = 1;
  if (!p[EMBER_RT_CONV_DEPTHWISE] && workers > 1)
    qconvSplit(p, qconvImplicit(p, groupShape(p), w), u(workers), R, cp);
  *chunk = int64_t(R);
  *colPieces = int64_t(cp);
}

int32_t ember_rt_qconv2d(const int64_t *p, const uint8_t *x, const void *w,
                         const int32_t *rq, void *y, uint8_t *workspace) {
  bool dw = p[EMBER_RT_CONV_DEPTHWISE] != 0;
  size_t P = u(p[EMBER_RT_CONV_OH] * p[EMBER_RT_CONV_OW]);
  size_t R = u(p[EMBER_RT_QCONV_CHUNK]);
  size_t G = u(p[EMBER_RT_CONV_GROUPS]);
  size_t N = u(p[EMBER_RT_CONV_N]), OH = u(p[EMBER_RT_CONV_OH]);
  size_t workers = size_t(ember_rt_num_workers());
  // A conv split into pixel chunks (the compiler's choice, R at most) is
  // re-split for this pool's workers (qconvSplit).
  size_t colPieces = 1;
  if (!dw && workers > 1) {
    int64_t r, cp;
    ember_rt_qconv_split(p, w, int64_t(workers), &r, &cp);
    R = u(r);
    colPieces = u(cp);
  }
  const size_t xCopy = xCopyBytes(p), yCopy = yCopyBytes(p);
  bool xNhwc = p[EMBER_RT_QCONV_IN_NHWC] != 0 || xCopy != 0;
  bool yNhwc = p[EMBER_RT_QCONV_OUT_NHWC] != 0 || yCopy != 0;
  // Depthwise rows that do not divide over the workers: split the channels
  // too (the AVX-512 channels-last 3x3 kernel takes a channel range, and
  // the AVX2 channels-last one for any kernel size).
  size_t cpieces = 1;
  bool rangeKernel = (p[EMBER_RT_CONV_KH] == 3 && p[EMBER_RT_CONV_KW] == 3) ||
                     fp32Family(Isa(p[EMBER_RT_CONV_ISA])) == Isa::Avx2;
  if (dw && workers > 1 && (N * OH) % workers != 0 && N * OH < 16 * workers &&
      xNhwc && yNhwc && rangeKernel && u(p[EMBER_RT_CONV_C]) >= 32 * workers)
    cpieces = workers;
  QConvTask t{p,
              x,
              static_cast<const uint8_t *>(w),
              rq,
              static_cast<uint8_t *>(y),
              workspace,
              (P + R - 1) / R,
              R,
              cpieces,
              0};
  t.xNhwc = xNhwc;
  t.yNhwc = yNhwc;
  t.colPieces = colPieces;
  auto run = [&](void (*work)(void *, int64_t, int64_t, int64_t),
                 int64_t tasks) {
    if (workers == 1)
      work(&t, 0, tasks, 0);
    else
      ember_rt_parallel_for(work, &t, tasks);
  };
  if (xCopy) {
    run(xCopyWork,
        int64_t(N * copyBlocks(u(p[EMBER_RT_CONV_H] * p[EMBER_RT_CONV_W]))));
    t.x = workspace;
  }
  if (yCopy) {
    t.yRowMajor = t.y;
    t.y = workspace + xCopy;
  }
  t.wsShared = xCopy + yCopy;
  run(qconvWork,
      dw ? int64_t(N * OH * cpieces) : int64_t(N * G * colPieces * t.chunks));
  if (yCopy && t.status == int32_t(Status::Ok))
    run(yCopyWork, int64_t(N * copyBlocks(P)));
  return t.status;
}

int64_t ember_rt_conv_packed_size(const int64_t *p) {
  if (p[EMBER_RT_CONV_NHWC] && p[EMBER_RT_CONV_DEPTHWISE])
    return int64_t(packedDepthwiseNhwcSize(groupShape(p)));
  if (p[EMBER_RT_CONV_NHWC] && p[EMBER_RT_CONV_GROUPED])
    return int64_t(
        packedGroupedConvNhwcSize(groupShape(p), u(p[EMBER_RT_CONV_GROUPS])));
  if (p[EMBER_RT_CONV_WINOGRAD])
    return int64_t(packedConvWeightsWinogradSize(groupShape(p),
                                                 Isa(p[EMBER_RT_CONV_ISA])));
  if (p[EMBER_RT_CONV_NHWC])
    return int64_t(
        packedConvWeightsNhwcSize(groupShape(p), Isa(p[EMBER_RT_CONV_ISA])));
  if (p[EMBER_RT_CONV_DEPTHWISE])
    return p[EMBER_RT_CONV_C] * p[EMBER_RT_CONV_KH] * p[EMBER_RT_CONV_KW] *
           int64_t(sizeof(float));
  size_t G = u(p[EMBER_RT_CONV_GROUPS]);
  return int64_t(packedConvWeightsSize(
      convShape(p, u(p[EMBER_RT_CONV_C]) / G, u(p[EMBER_RT_CONV_OC]) / G),
      Isa(p[EMBER_RT_CONV_ISA])));
}

int64_t ember_rt_conv_workspace_size(const int64_t *p) {
  // (A Y_COPY step's result copy is shared by the workers and counted in
  // each worker's bytes, as the int8 copies are.)
  return int64_t(convYCopyBytes(p)) + convWorkerBytes(p);
}

int32_t ember_rt_conv_pack(const int64_t *p, const float *w, void *packed) {
  if (p[EMBER_RT_CONV_NHWC] && p[EMBER_RT_CONV_DEPTHWISE])
    return int32_t(
        packDepthwiseNhwc(groupShape(p), w, static_cast<float *>(packed)));
  if (p[EMBER_RT_CONV_NHWC] && p[EMBER_RT_CONV_GROUPED])
    return int32_t(packGroupedConvNhwc(groupShape(p),
                                       u(p[EMBER_RT_CONV_GROUPS]), w,
                                       static_cast<float *>(packed)));
  if (p[EMBER_RT_CONV_NHWC]) { // each group's at g * W_GROUP_STRIDE
    const Conv2DShape s = groupShape(p);
    const size_t per = s.outChannels * s.channels * s.kernelH * s.kernelW;
    for (size_t g = 0; g < u(p[EMBER_RT_CONV_GROUPS]); ++g) {
      void *to = static_cast<uint8_t *>(packed) +
                 g * u(p[EMBER_RT_CONV_W_GROUP_STRIDE]);
      const Isa isa = Isa(p[EMBER_RT_CONV_ISA]);
      Status st = p[EMBER_RT_CONV_WINOGRAD]
                      ? packConvWeightsWinograd(s, w + g * per, to, isa)
                      : packConvWeightsNhwc(s, w + g * per, to, isa,
                                            p[EMBER_RT_CONV_IN_NCHW] != 0);
      if (st != Status::Ok)
        return int32_t(st);
    }
    return 0;
  }
  if (p[EMBER_RT_CONV_DEPTHWISE]) {
    std::memcpy(packed, w, size_t(ember_rt_conv_packed_size(p)));
    return 0;
  }
  size_t G = u(p[EMBER_RT_CONV_GROUPS]);
  size_t cg = u(p[EMBER_RT_CONV_C]) / G, ocg = u(p[EMBER_RT_CONV_OC]) / G;
  Conv2DShape s = convShape(p, cg, ocg);
  size_t per = ocg * cg * s.kernelH * s.kernelW;
  for (size_t g = 0; g < G; ++g) {
    Status st = packConvWeights(s, w + g * per,
                                static_cast<uint8_t *>(packed) +
                                    g * u(p[EMBER_RT_CONV_W_GROUP_STRIDE]),
                                Isa(p[EMBER_RT_CONV_ISA]));
    if (st != Status::Ok)
      return int32_t(st);
  }
  return 0;
}

void ember_rt_conv_split(const int64_t *p, int64_t workers, int64_t *pieces,
                         int64_t *colPieces) {
  ConvTask t{p, nullptr, nullptr, nullptr, nullptr, nullptr,
             0, 0,       nullptr, 1,       true,    0};
  planConvSplit(p, workers > 1 ? u(workers) : 1, t);
  *pieces = int64_t(t.pieces);
  *colPieces = int64_t(t.colPieces);
}

int32_t ember_rt_conv2d(const int64_t *p, const float *x, const void *w,
                        const float *bias, const float *residual, float *y,
                        float clipLo, float clipHi, uint8_t *workspace) {
  if (const size_t copy = convYCopyBytes(p)) {
    // The channels-last step into the copy, then the copy into y.
    float *last = reinterpret_cast<float *>(workspace);
    int32_t s = convStep(p, x, w, bias, residual, last, clipLo, clipHi,
                         workspace + copy);
    if (s != 0)
      return s;
    ConvYCopy c{p, last, y};
    // (ember_rt_parallel_for runs one task, or a pool of one, inline.)
    ember_rt_parallel_for(
        convYCopyWork, &c,
        int64_t(u(p[EMBER_RT_CONV_N]) *
                copyBlocks(u(p[EMBER_RT_CONV_OH] * p[EMBER_RT_CONV_OW]))));
    return 0;
  }
  return convStep(p, x, w, bias, residual, y, clipLo, clipHi, workspace);
}

int64_t ember_rt_gemm_packed_size(const int64_t *p) {
  return p[EMBER_RT_GEMM_NPIECES] * p[EMBER_RT_GEMM_PIECE_STRIDE];
}

int64_t ember_rt_gemm_workspace_size(const int64_t *p) {
  return int64_t(gemmWorkspaceSize(Isa(p[EMBER_RT_GEMM_ISA])));
}

int32_t ember_rt_gemm_pack(const int64_t *p, const float *b, void *packed) {
  size_t N = u(p[EMBER_RT_GEMM_N]), K = u(p[EMBER_RT_GEMM_K]);
  size_t pieceN = u(p[EMBER_RT_GEMM_PIECE_N]);
  for (int64_t i = 0; i < p[EMBER_RT_GEMM_NPIECES]; ++i) {
    size_t n0 = size_t(i) * pieceN;
    size_t nw = n0 + pieceN < N ? pieceN : N - n0;
    Status st = packB(K, nw, b + n0, u(p[EMBER_RT_GEMM_LDB]),
                      static_cast<uint8_t *>(packed) +
                          size_t(i) * u(p[EMBER_RT_GEMM_PIECE_STRIDE]),
                      Isa(p[EMBER_RT_GEMM_ISA]));
    if (st != Status::Ok)
      return int32_t(st);
  }
  return 0;
}

int32_t ember_rt_gemm(const int64_t *p, const float *a, const void *b,
                      const float *bias, const float *residual, float *c,
                      float clipLo, float clipHi, uint8_t *workspace) {
  size_t workers = size_t(ember_rt_num_workers());
  size_t batches = 1;
  for (int d = 0; d < 4; ++d)
    batches *= u(p[EMBER_RT_GEMM_BATCH0 + 4 * d]);
  size_t npieces = p[EMBER_RT_GEMM_B_PACKED] ? u(p[EMBER_RT_GEMM_NPIECES]) : 1;
  GemmTask t{p, a, b, bias, residual, c, clipLo, clipHi, workspace, 1, 0};
  size_t outer = batches * npieces;
  // Fewer batches (and column pieces) than workers, or a few that do not
  // divide among them (attention's 3 heads on 2 workers: one worker would
  // run two heads while the other waits on it): rows are split too, so
  // that every worker gets as many pieces (3 heads x 2 row pieces).
  size_t split = outer < workers ? (workers + outer - 1) / outer
                 : outer % workers != 0 && outer < kPiecesPerWorker * workers
                     ? workers / std::gcd(outer, workers)
                     : 1;
  if (split > 1) {
    Isa isa = Isa(p[EMBER_RT_GEMM_ISA]);
    size_t maxPieces =
        (u(p[EMBER_RT_GEMM_M]) + rowGranule(isa) - 1) / rowGranule(isa);
    t.rowPieces = split;
    if (t.rowPieces > maxPieces)
      t.rowPieces = maxPieces ? maxPieces : 1;
    size_t macs =
        u(p[EMBER_RT_GEMM_M] * p[EMBER_RT_GEMM_N] * p[EMBER_RT_GEMM_K]);
    if (t.rowPieces > 1 && macs / t.rowPieces < kMinWorkPerPiece)
      t.rowPieces = macs / kMinWorkPerPiece > 1 ? macs / kMinWorkPerPiece : 1;
  }
  size_t tasks = outer * t.rowPieces;
  if (tasks == 1)
    gemmWork(&t, 0, 1, 0);
  else
    ember_rt_parallel_for(gemmWork, &t, int64_t(tasks));
  return t.status;
}

} // extern "C"
