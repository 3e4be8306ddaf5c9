//===- ember/cpu/Kernels.h - CPU compute kernels ---------------*- C++ -*-===//
//
// The hand-written compute kernels of Ember's CPU backend: fp32 GEMM with
// weight pre-packing and a fused epilogue, 2-D convolution (implicit GEMM),
// depthwise convolution, 2-D pooling, and a u8 x s8 -> s32 GEMM with ONNX
// requantization. The LLVM code generator calls these for the heavy ops.
//
// Contract shared by every entry point:
//  - Plain C++17 with intrinsics, no exceptions, no RTTI needed, no global
//    state apart from a read-only CPU-feature query. Every function is
//    reentrant; concurrent calls on disjoint outputs are safe.
//  - Matrices are row-major with explicit row strides in elements (lda, ldb,
//    ldc, ...). Tensors are NCHW, one image per call (batch: call per image).
//  - Each kernel exists as a generic C++ path and, where it pays, AVX2+FMA,
//    AVX-512 and AVX-512 VNNI paths. `Isa::Auto` picks the best path this CPU
//    supports; an explicit Isa forces a path (tests use this). A path the CPU
//    cannot run is never executed: the request falls back to the best
//    supported path below it (see resolveIsa).
//  - Errors are values: functions that can reject arguments return Status.
//  - Work partitioning: the GEMM-based kernels take an output range so a
//    caller's thread pool can split one call into disjoint pieces (see
//    sgemmPacked, conv2d, qgemmPacked). Ranges aligned to rowGranule() /
//    colGranule() waste no work; any range is correct.
//
// See backends/cpu/kernels/README.md for packed layouts, blocking and
// measured performance.
//
//===----------------------------------------------------------------------===//
#ifndef EMBER_CPU_KERNELS_H
#define EMBER_CPU_KERNELS_H

#include <cstddef>
#include <cstdint>

namespace ember::cpu {

//===----------------------------------------------------------------------===//
// Instruction-set paths and status
//===----------------------------------------------------------------------===//

/// A kernel implementation family. The values are stored in packed buffers
/// and compiled artifacts: a new path takes the next free value, so the
/// order of the values is not the order of capability (see resolveIsa).
enum class Isa : uint8_t {
  Auto = 0,   ///< the best path this CPU supports
  Generic,    ///< portable C++ (whatever the compiler's baseline allows)
  Avx2,       ///< AVX2 + FMA
  Avx512,     ///< AVX-512 F/BW/DQ/VL + FMA
  Avx512Vnni, ///< Avx512 plus VNNI (vpdpbusd) for the int8 kernels
  AvxVnni,    ///< Avx2 plus AVX-VNNI (vpdpbusd on ymm) for the int8 kernels
};

/// The best Isa this CPU supports (cpuid, queried once): Avx512Vnni, Avx512,
/// AvxVnni, Avx2 or Generic, in that order of preference.
Isa detectIsa();
/// Whether this CPU can run `isa` (Auto and Generic: always).
bool isaSupported(Isa isa);
/// The path a request resolves to: Auto -> detectIsa(); a supported Isa ->
/// itself; an unsupported one -> the first supported path of its fallbacks:
/// Avx512Vnni -> Avx512, AvxVnni, Avx2, Generic; Avx512 -> Avx2, Generic;
/// AvxVnni -> Avx2, Generic; Avx2 -> Generic.
Isa resolveIsa(Isa requested);
/// The family a path belongs to for the fp32 kernels, which have no VNNI
/// forms: Avx512Vnni -> Avx512, AvxVnni -> Avx2, others unchanged (Auto is
/// resolved first).
Isa fp32Family(Isa isa);
/// Whether a path has AVX-512 (F/BW/DQ/VL), and whether it has AVX2 + FMA
/// (every x86 path but Generic).
bool isaHasAvx512(Isa isa);
bool isaHasAvx2(Isa isa);
/// "auto", "generic", "avx2", "avx512", "avx512vnni", "avxvnni".
const char *isaName(Isa isa);

enum class Status : uint8_t {
  Ok = 0,
  InvalidArgument, ///< a size, stride or range is inconsistent
  LayoutMismatch,  ///< a packed buffer does not match the call's shape
  OutOfMemory,     ///< no workspace was given and allocating one failed
};
const char *statusName(Status s);

//===----------------------------------------------------------------------===//
// Fused epilogue (fp32)
//===----------------------------------------------------------------------===//

/// An activation the CPU backend applies to a step's result while it is in
/// cache. Each is the sequence of f32 operations Ember's lowering writes for
/// it, in its order, so the bits are the interpreter's: min(v, 1) and
/// max(v, 0) are `1 < v ? 1 : v` and `0 > v ? 0 : v`, a NaN giving the
/// quiet NaN 0x7fc00000 (as the Loop ops Min and Max).
enum class PostActivation : uint8_t {
  Sigmoid,      ///< sigmoid(x), ember/math/Sigmoid.h
  Silu,         ///< x * sigmoid(x) (SiLU, Swish)
  HardSigmoid,  ///< max(min(x * alpha + beta, 1), 0)
  XHardSigmoid, ///< x * HardSigmoid(x) (HardSwish written with HardSigmoid)
  HardSwish,    ///< x * max(min(x / 6 + 0.5, 1), 0) (ONNX HardSwish)
};

struct PostOp {
  PostActivation kind = PostActivation::Sigmoid;
  float alpha = 0.0f, beta = 0.0f; ///< HardSigmoid's
};

enum class Activation : uint8_t { None, Relu, Clip };
enum class BiasAxis : uint8_t {
  None,
  PerColumn, ///< bias[n] added to column n (MatMul/Gemm bias)
  PerRow,    ///< bias[m] added to row m (conv: one bias per output channel)
};

/// What happens to an output element after its dot product `acc` is done:
///
///   v = acc + (accumulate ? C_old : 0) + bias
///   if residual && !residualAfterActivation: v += R
///   v = activation(v)           // relu: max(v, 0); clip: min(max(v, lo), hi)
///   if post: v = post(v)        // a PostActivation, postActivation's bits
///   if residual && residualAfterActivation:  v += R
///   C = v
///
/// The default (residual before the activation) is ResNet's
/// relu(conv(x) + b + shortcut). `residual` is a matrix shaped like C with
/// row stride `ldr`; it must not overlap C (for C += ... in place, use
/// `accumulate`).
struct Epilogue {
  const float *bias = nullptr;
  BiasAxis biasAxis = BiasAxis::None;
  Activation activation = Activation::None;
  float clipMin = 0.0f;
  float clipMax = 0.0f;
  const float *residual = nullptr;
  size_t ldr = 0;
  bool residualAfterActivation = false;
  bool accumulate = false; ///< C += A*B ... instead of C = A*B ...
  /// Non-null: a known activation after `activation`, applied by each output
  /// tile (depthwise/grouped rows: each row) to the values just computed, with
  /// postActivation's vector bodies, so the bits are a postActivation pass's.
  /// Taken by sgemm, sgemmPacked, conv2dNhwc, depthwiseConv2dNhwc and
  /// groupedConv2dNhwc (HardSwish in registers, other kinds from L1); the
  /// other entry points return InvalidArgument when it is set.
  const PostOp *post = nullptr;
};

//===----------------------------------------------------------------------===//
// SGEMM: C[M,N] (+)= A[M,K] * B[K,N], then the epilogue
//===----------------------------------------------------------------------===//

/// Row granule of the GEMM micro-kernel for `isa` (MR): M ranges that start
/// and end on a multiple of it (or at M) waste no work.
size_t rowGranule(Isa isa);
/// Column granule (NR): width of one packed-B panel.
size_t colGranule(Isa isa);

/// Bytes of scratch sgemm/sgemmPacked need per concurrent call (conv2d:
/// conv2dWorkspaceSize). Pass a buffer of this many bytes (any alignment; 64
/// is best) as `workspace`, or nullptr to have the call allocate and free
/// one itself.
size_t gemmWorkspaceSize(Isa isa);

/// Bytes needed to hold B[K,N] packed for `isa` (header included).
size_t packedBSize(size_t K, size_t N, Isa isa = Isa::Auto);
/// Packs B (row stride ldb >= N) into `packed` (packedBSize bytes, 64-byte
/// alignment recommended). The packed buffer records K, N and the panel
/// width, so any later sgemmPacked call can validate it. Do this once for
/// constant weights.
Status packB(size_t K, size_t N, const float *B, size_t ldb, void *packed,
             Isa isa = Isa::Auto);

/// C rows [mBegin, mEnd) of C = A * packedB (+ epilogue). M is the full row
/// count of A and C; mEnd == 0 means M. Disjoint row ranges may run
/// concurrently, each with its own workspace. If `isa` is not the path B was
/// packed for, a portable kernel that reads that panel layout is used.
Status sgemmPacked(size_t M, size_t N, size_t K, const float *A, size_t lda,
                   const void *packedB, float *C, size_t ldc,
                   const Epilogue &epilogue = {}, Isa isa = Isa::Auto,
                   size_t mBegin = 0, size_t mEnd = 0,
                   void *workspace = nullptr);

/// sgemm without pre-packing: B is read in place (AVX-512) or packed block
/// by block into the workspace as the call goes.
Status sgemm(size_t M, size_t N, size_t K, const float *A, size_t lda,
             const float *B, size_t ldb, float *C, size_t ldc,
             const Epilogue &epilogue = {}, Isa isa = Isa::Auto,
             void *workspace = nullptr);

//===----------------------------------------------------------------------===//
// Conv2D, NCHW fp32, groups = 1 (implicit GEMM on pre-packed weights)
//===----------------------------------------------------------------------===//

/// Geometry of one 2-D convolution or pooling window over one image.
struct Conv2DShape {
  size_t channels = 0;    ///< C (input channels)
  size_t height = 0;      ///< H
  size_t width = 0;       ///< W
  size_t outChannels = 0; ///< OC (conv only; pooling ignores it)
  size_t kernelH = 1, kernelW = 1;
  size_t strideH = 1, strideW = 1;
  size_t padTop = 0, padLeft = 0, padBottom = 0, padRight = 0;
  size_t dilationH = 1, dilationW = 1;
  /// Pooling only (ONNX ceil_mode = 1): round the output size up, dropping
  /// a last window that would start inside the end padding.
  bool ceilMode = false;

  /// floor((H + pads - dilation*(KH-1) - 1) / stride) + 1 (ceil with
  /// ceilMode); 0 when the window never fits.
  size_t outHeight() const;
  size_t outWidth() const;
  /// False when a size or stride is 0 or the window never fits.
  bool valid() const;
};

/// Bytes of packed weights for conv2d (header included).
size_t packedConvWeightsSize(const Conv2DShape &shape, Isa isa = Isa::Auto);
/// Packs weights W[OC][C][KH][KW] (ONNX layout) into micro-kernel panels,
/// in the form (im2col, shifted or transposed; README, "Convolution") that
/// suits this shape on path `isa`. The header records the form: any path
/// can run the result.
Status packConvWeights(const Conv2DShape &shape, const float *weights,
                       void *packed, Isa isa = Isa::Auto);

/// A piece of a conv2d call's output: output channels [ocBegin, ocEnd) x
/// output pixels [pixBegin, pixEnd) (pixel = oh*OW + ow). End 0 means "to
/// the end". Disjoint pieces may run concurrently.
struct ConvRange {
  size_t ocBegin = 0, ocEnd = 0;
  size_t pixBegin = 0, pixEnd = 0;
};

/// Bytes of scratch one conv2d call needs (any range of this shape).
size_t conv2dWorkspaceSize(const Conv2DShape &shape, Isa isa = Isa::Auto);

/// y[OC][OH][OW] = conv(x[C][H][W], W) + epilogue, for one image. The
/// epilogue's bias, if any, is per output channel (biasAxis is taken as
/// PerRow); its residual is shaped like y (row stride ldr >= OH*OW; 0 means
/// OH*OW). The input is never unfolded in full: 1x1 stride-1 unpadded
/// convolutions read x as the B matrix in place; on AVX-512 other shapes
/// read shifted rows of a zero-padded, phase-split copy of x in place
/// (README, "Convolution"); elsewhere each (k-block x pixel-block) of the
/// im2col matrix is packed from x as it is needed. `workspace`: nullptr or
/// conv2dWorkspaceSize(shape, isa) bytes.
Status conv2d(const Conv2DShape &shape, const float *x, const void *packedW,
              float *y, const Epilogue &epilogue = {}, Isa isa = Isa::Auto,
              const ConvRange &range = {}, void *workspace = nullptr);

/// Two-phase conv2d for a thread pool: the input form conv2d builds for
/// its range (AVX-512 shifted and transposed forms: the zero-padded phase
/// planes) is built once for the whole image by conv2dPrepareInput, then
/// any number of concurrent conv2dPrepared calls (disjoint ranges, each
/// with its own workspace) read it. Results equal conv2d's bit for bit.
///
/// Whether conv2dPrepareInput does anything for these weights on `isa`
/// (false: conv2d reads x in place or unfolds per block; conv2dPrepared
/// then simply is conv2d).
bool conv2dNeedsPrepare(const Conv2DShape &shape, const void *packedW,
                        Isa isa = Isa::Auto);
/// Builds input channels [cBegin, cEnd) (cEnd 0 = C) of the prepared input
/// into `workspace` (conv2dWorkspaceSize bytes, not nullptr). Disjoint
/// channel ranges may run concurrently into the same workspace.
Status conv2dPrepareInput(const Conv2DShape &shape, const float *x,
                          const void *packedW, void *workspace,
                          Isa isa = Isa::Auto, size_t cBegin = 0,
                          size_t cEnd = 0);
/// conv2d reading the input prepared in `prepared` (the workspace given to
/// conv2dPrepareInput for every channel; read only, so it may also be this
/// call's `workspace`). `x` is still needed (forms that read it in place).
Status conv2dPrepared(const Conv2DShape &shape, const float *x,
                      const void *packedW, const void *prepared, float *y,
                      const Epilogue &epilogue = {}, Isa isa = Isa::Auto,
                      const ConvRange &range = {}, void *workspace = nullptr);

/// The split sizes that waste no work for weights packed by
/// packConvWeights: ConvRange bounds on multiples of `*ocGranule` (output
/// channels) or of `*pixGranule` (pixels) keep every micro-tile whole.
/// (Normal orientation: MR channels x 64 pixels; the transposed one, chosen
/// at pack time for few pixels and many channels: 64 channels x MR pixels.)
Status conv2dGranules(const void *packedW, size_t *ocGranule,
                      size_t *pixGranule);

/// fp32 convolution over channels-last (NHWC) input and output, one image,
/// one group (README, "Channels-last convolution"). Weights: packB of
/// W[kh][kw][c][oc] as a K x N matrix, K = KH*KW*C ordered (kh, kw, c),
/// N = OC. x: input pixel (0, 0)'s first channel, pixel stride ldx >= C
/// floats; y: output pixel (0, 0)'s first channel, pixel stride ldy >= OC.
/// The epilogue's bias, if any, is per output channel (any biasAxis); its
/// residual is channels-last like y, pixel stride ldr >= OC; accumulate is
/// not supported. Only output pixels [pixBegin, pixEnd) x channels
/// [ocBegin, ocEnd) of `range` are written; bounds on multiples of 6
/// pixels and 64 channels waste no work. `workspace`: nullptr or
/// conv2dNhwcWorkspaceSize(shape) bytes.
size_t conv2dNhwcWorkspaceSize(const Conv2DShape &shape);
/// conv2dNhwc for a row-major (NCHW) input x[C][H][W] and channels-last
/// output, for first layers (few channels, the graph's own input), K
/// ordered (c, kh, kw): each (c, kh) a run of one input row. Pixels whose
/// window lies inside the input are read in place; the others are
/// unfolded (im2row, up to 240 pixels) into the workspace and multiplied
/// by the weights as a plain GEMM. Weights: packConvWeightsNhwc with
/// channelsOuter; epilogue and ranges as conv2dNhwc. `workspace`: nullptr
/// or conv2dNhwcFromNchwWorkspaceSize(shape) bytes.
size_t conv2dNhwcFromNchwWorkspaceSize(const Conv2DShape &shape);
bool conv2dNhwcFromNchwSupported(const Conv2DShape &shape, const void *packedB,
                                 Isa isa = Isa::Auto);
Status conv2dNhwcFromNchw(const Conv2DShape &shape, const float *x,
                          const void *packedB, float *y, size_t ldy,
                          const Epilogue &epilogue = {}, Isa isa = Isa::Auto,
                          const ConvRange &range = {},
                          void *workspace = nullptr);
/// A max pool over a convolution's output, run inside the convolution
/// (conv2dNhwcFromNchwMaxPool): window, strides and leading pads over the
/// convolution's output rows and columns, and the pooled extent. Windows
/// are clipped to the convolution's output (so trailing pads and ceil mode
/// are in outHeight / outWidth); each must hold at least one pixel.
struct MaxPoolWindow {
  size_t kernelH = 1, kernelW = 1;
  size_t strideH = 1, strideW = 1;
  size_t padTop = 0, padLeft = 0;
  size_t outHeight = 0, outWidth = 0;
};
/// Whether every window of `pool` over a height x width image holds at
/// least one pixel (what conv2dNhwcFromNchwMaxPool requires).
bool maxPoolWindowFits(const MaxPoolWindow &pool, size_t height, size_t width);
/// conv2dNhwcFromNchw then a max pool of its output (after the epilogue),
/// pooled rows [rowBegin, rowEnd) (rowEnd 0 = to the end), channels-last
/// (pixel stride ldy >= OC). The convolution rows those need are computed
/// in bands of about 256 KB in the workspace, where the pool reads them
/// while they are in L2; the convolution's whole output is never written.
/// A band keeps the rows the next one shares with it, so only the first
/// band of a call computes rows another call may compute too. The max of
/// a window starts from its first pixel (row-major) and takes a value when
/// it is greater: the results equal the two calls' bit for bit. The
/// residual, if any, is shaped like the convolution's output. AVX-512 only
/// (conv2dNhwcFromNchwSupported). `workspace`: nullptr or
/// conv2dNhwcFromNchwMaxPoolWorkspaceSize(shape, pool) bytes.
size_t conv2dNhwcFromNchwMaxPoolWorkspaceSize(const Conv2DShape &shape,
                                              const MaxPoolWindow &pool);
Status conv2dNhwcFromNchwMaxPool(const Conv2DShape &shape,
                                 const MaxPoolWindow &pool, const float *x,
                                 const void *packedB, float *y, size_t ldy,
                                 const Epilogue &epilogue = {},
                                 Isa isa = Isa::Auto, size_t rowBegin = 0,
                                 size_t rowEnd = 0, void *workspace = nullptr);
/// Bytes of conv2dNhwc weights (packedBSize(KH*KW*C, OC, isa)).
size_t packedConvWeightsNhwcSize(const Conv2DShape &shape, Isa isa = Isa::Auto);
/// Packs W[OC][C][KH][KW] (ONNX layout) for conv2dNhwc: the same bytes as
/// packB of W[kh][kw][c][oc]. channelsOuter: K ordered (c, kh, kw) instead,
/// for conv2dNhwcFromNchw (recorded in the header; each function rejects
/// the other order).
Status packConvWeightsNhwc(const Conv2DShape &shape, const float *weights,
                           void *packed, Isa isa = Isa::Auto,
                           bool channelsOuter = false);
/// Whether conv2dNhwc runs `shape` with `packedB` on `isa`: the AVX-512
/// path, weights packed by packB for it with K = KH*KW*C and N = OC.
/// Otherwise use conv2d (NCHW).
bool conv2dNhwcSupported(const Conv2DShape &shape, const void *packedB,
                         Isa isa = Isa::Auto);
Status conv2dNhwc(const Conv2DShape &shape, const float *x, size_t ldx,
                  const void *packedB, float *y, size_t ldy,
                  const Epilogue &epilogue = {}, Isa isa = Isa::Auto,
                  const ConvRange &range = {}, void *workspace = nullptr);

/// A 3x3 stride-1 undilated convolution (pads up to 2), channels-last like
/// conv2dNhwc, as Winograd's F(2x2, 3x3): the input and output in tiles of
/// 2x2 output pixels, transformed, and 16 matrix products of C x OC per
/// tile on the path's GEMM tile, 2.25 times fewer multiply-adds than the
/// direct convolution (README, "Winograd F(2x2, 3x3)"). Results differ from
/// conv2dNhwc's by rounding. AVX2 and AVX-512 paths only.
bool conv2dNhwcWinogradShape(const Conv2DShape &shape, Isa isa = Isa::Auto);
/// Bytes of packConvWeightsWinograd's buffer.
size_t packedConvWeightsWinogradSize(const Conv2DShape &shape,
                                     Isa isa = Isa::Auto);
/// Packs W[OC][C][3][3] (ONNX layout): the 16 transformed C x OC matrices.
Status packConvWeightsWinograd(const Conv2DShape &shape, const float *weights,
                               void *packed, Isa isa = Isa::Auto);
/// Whether conv2dNhwcWinograd runs `shape` with `packed` on `isa`.
bool conv2dNhwcWinogradSupported(const Conv2DShape &shape, const void *packed,
                                 Isa isa = Isa::Auto);
/// Scratch bytes of one conv2dNhwcWinograd call.
size_t conv2dNhwcWinogradWorkspaceSize(const Conv2DShape &shape);
/// conv2dNhwc's contract (strides, epilogue, ranges) with Winograd weights.
/// A range computes the whole tile rows its pixels meet: bounds on
/// multiples of 2 output rows waste no work.
Status conv2dNhwcWinograd(const Conv2DShape &shape, const float *x, size_t ldx,
                          const void *packed, float *y, size_t ldy,
                          const Epilogue &epilogue = {}, Isa isa = Isa::Auto,
                          const ConvRange &range = {},
                          void *workspace = nullptr);

/// Depthwise convolution (groups == C == OC, one KHxKW filter per channel):
/// Bytes of scratch one depthwiseConv2d call needs (the 3x3 paths' padded
/// channel plane, or one output row).
size_t depthwiseConv2dWorkspaceSize(const Conv2DShape &shape,
                                    Isa isa = Isa::Auto);

/// y[c] = conv(x[c], w[c]) + epilogue. weights: [C][1][KH][KW] (ONNX layout),
/// no packing needed. 3x3 stride 1/2 have dedicated vector paths. Channels
/// [cBegin, cEnd) only (cEnd 0 = C), for thread splitting. The residual,
/// if any, has ldr = OH*OW (the value in the epilogue is ignored).
/// `workspace`: nullptr (allocated per call) or
/// depthwiseConv2dWorkspaceSize(shape, isa) bytes.
Status depthwiseConv2d(const Conv2DShape &shape, const float *x,
                       const float *weights, float *y,
                       const Epilogue &epilogue = {}, Isa isa = Isa::Auto,
                       size_t cBegin = 0, size_t cEnd = 0,
                       void *workspace = nullptr);

/// Grouped convolution over channels-last input and output, one image, all
/// groups in one call: `groups` groups of cin = C/G input and cout = OC/G
/// output channels, y[p][o] = sum over taps and j < cin of
/// x[.][.][(o / cout) cin + j] * w[o][j][.][.] + epilogue (bias per output
/// channel, channels-last residual with pixel stride ldr >= OC; no
/// accumulate). Weights packed by packGroupedConvNhwc ([KH][KW][cin][OC]).
/// Only output pixels [pixBegin, pixEnd) x output channels [ocBegin, ocEnd)
/// of `range`, whole groups (multiples of cout). Vectorized across groups
/// (lanes are output channels, permuted inputs) where
/// groupedConv2dNhwcSupported holds, portable elsewhere. No workspace.
/// groupedConv2dNhwcSupported: the AVX-512 or AVX2 path of `isa` has the
/// vector form: cout divides the vector (16 or 8 lanes) and cin == 1 (a
/// depthwise convolution or channel multiplier) or cin == cout, fewer than
/// the vector's lanes (wider groups: conv2dNhwc per group).
bool groupedConv2dNhwcSupported(size_t channels, size_t outChannels,
                                size_t groups, Isa isa = Isa::Auto);
size_t packedGroupedConvNhwcSize(const Conv2DShape &shape, size_t groups);
Status packGroupedConvNhwc(const Conv2DShape &shape, size_t groups,
                           const float *weights, float *packed);
Status groupedConv2dNhwc(const Conv2DShape &shape, size_t groups,
                         const float *x, size_t ldx, const float *packedW,
                         float *y, size_t ldy, const Epilogue &epilogue = {},
                         Isa isa = Isa::Auto, const ConvRange &range = {});

/// Depthwise convolution over channels-last input and output (groups == C
/// == OC): groupedConv2dNhwc with C groups. Weights packed by
/// packDepthwiseNhwc ([KH][KW][C]).
size_t packedDepthwiseNhwcSize(const Conv2DShape &shape);
Status packDepthwiseNhwc(const Conv2DShape &shape, const float *weights,
                         float *packed);
Status depthwiseConv2dNhwc(const Conv2DShape &shape, const float *x, size_t ldx,
                           const float *packedW, float *y, size_t ldy,
                           const Epilogue &epilogue = {}, Isa isa = Isa::Auto,
                           const ConvRange &range = {});

enum class PoolKind : uint8_t {
  Max,
  AvgExcludePad, ///< ONNX AveragePool count_include_pad = 0
  AvgIncludePad, ///< ONNX AveragePool count_include_pad = 1
};
/// 2-D pooling over each channel: kernelH/W, strides, pads and dilations of
/// `shape` (outChannels ignored). Padded positions never win a max and,
/// for AvgExcludePad, do not count. The epilogue applies per channel (bias
/// PerRow = per channel, activation, residual with ldr = OH*OW).
/// Channels [cBegin, cEnd) only (cEnd 0 = C).
Status pool2d(PoolKind kind, const Conv2DShape &shape, const float *x, float *y,
              const Epilogue &epilogue = {}, Isa isa = Isa::Auto,
              size_t cBegin = 0, size_t cEnd = 0);

//===----------------------------------------------------------------------===//
// int8 GEMM: 8-bit A[M,K] x s8 B[K,N] -> s32, requantized as Ember defines
// it (docs/quantization.md, ember/quant/Arith.h)
//===----------------------------------------------------------------------===//

/// What packQB adds to the AVX2 path's exact packing (s16 pairs, whose
/// vpmaddwd tile cannot saturate) when every weight zero point is 0; room
/// for either is in packedQBSize. Results are bit-exact whichever is taken.
enum class QPackExtra : uint8_t {
  /// Nothing: every call runs the exact tile.
  None,
  /// B again as s8 panels, for the 7-bit split tile of qconv2dNhwc and of
  /// qgemmPacked (blocks of A whose bytes mostly fit a window of 128
  /// values run vpmaddubsw with corrections for the others).
  SplitTile,
  /// For qgemmPacked: when K's rows can be paired so that no pair of
  /// u8 x s8 products can saturate vpmaddubsw's s16 sum (for every column,
  /// the two weights' sum lies in [-128, 128]; a row without a partner
  /// goes with a zero row) within 9/8 of K, B takes that order as s8
  /// panels and A is gathered into it as it is packed: the vpmaddubsw tile
  /// (6 vector operations for 64 products where the exact tile issues 8).
  /// Per-tensor weights (ONNX Runtime's quantize_dynamic) usually pair;
  /// per-channel ones with many columns usually do not, and stay exact.
  PairedK,
  /// PairedK, and when the weights do not pair, SplitTile (qgemmPacked's
  /// split tile then takes the blocks of A whose bytes mostly fit 7 bits).
  PairedKOrSplit,
};

/// Bytes needed for B[K,N] (s8) packed with its zero-point terms.
size_t packedQBSize(size_t K, size_t N, Isa isa = Isa::Auto);

/// Packs s8 weights B[K,N] and precomputes the zero-point correction.
/// aZeroPoint: the zero point of A in A's own type (known at compile time
/// for static quantization): 0..255 for u8 A, -128..127 when aSigned.
/// aSigned: A is s8. The kernels multiply u8 by s8 (vpdpbusd), so they
/// read such an A as A + 128 (the sign bit flipped) with zero point
/// aZeroPoint + 128: (A + 128) - (zp + 128) = A - zp, exactly. bZeroPoint:
/// `bZeroPointCount` values, 1 (per tensor) or N (per column). bias:
/// optional int32 per-column bias (already in the accumulator's scale),
/// folded into the correction; nullptr for none. The packed buffer records
/// aSigned: every call with it reads A that way. extra: what the AVX2 path
/// adds when every weight zero point is 0 (QPackExtra).
Status packQB(size_t K, size_t N, const int8_t *B, size_t ldb,
              int32_t aZeroPoint, const int8_t *bZeroPoint,
              size_t bZeroPointCount, const int32_t *bias, void *packed,
              Isa isa = Isa::Auto, bool aSigned = false,
              QPackExtra extra = QPackExtra::SplitTile);

enum class QOutput : uint8_t {
  Int32, ///< the exact corrected accumulator (ConvInteger/MatMulInteger + bias)
  UInt8, ///< requantized, saturated to [0, 255]
  Int8,  ///< requantized, saturated to [-128, 127]
};

enum class QScaleKind : uint8_t {
  /// y = saturate(round_half_even(float(acc) * scale[n]) + zeroPoint), in
  /// fp32 as ONNX Runtime does; scale[n] = a_scale * b_scale[n] / y_scale
  /// (see requantScale).
  Float,
  /// Ember's requantization (ember/quant/Arith.h, quant::requantize):
  /// y = clamp(MBQM(acc, multiplier[n], shift[n]) + zeroPoint, lo, hi),
  /// MBQM(x, m, e) = floor((x * m + 2^(30 - e)) / 2^(31 - e)) with the
  /// shift clamped to [-31, 30], one rounding (half up), saturated to
  /// int32; the zero point is added with int32 wraparound.
  FixedPoint,
};

/// How the s32 accumulator becomes the output. Counts are 1 (per tensor) or
/// N (per column / output channel).
struct Requantize {
  QOutput output = QOutput::Int32;
  QScaleKind kind = QScaleKind::FixedPoint;
  const float *scale = nullptr;        ///< Float
  const int32_t *multiplier = nullptr; ///< FixedPoint (any int32)
  const int32_t *shift = nullptr;      ///< FixedPoint, > 0 is a left shift
  size_t scaleCount = 1;
  int32_t zeroPoint = 0;
  /// Optional fused clamp in the output domain (a ReLU or Clip folded into
  /// the quantized range): outputs are clamped to [max(clampMin, type min),
  /// min(clampMax, type max)], and to the lower bound when that range is
  /// empty (quant::clampTo). Defaults are the full range of the output type.
  int32_t clampMin = INT32_MIN;
  int32_t clampMax = INT32_MAX;
};

/// The float multiplier ONNX Runtime uses: a_scale * b_scale / y_scale in
/// fp32, in that order.
float requantScale(float aScale, float bScale, float yScale);

/// Whether qgemmPacked runs `packedB` (packed by packQB) on path `isa`'s own
/// kernel: true when it was packed for that path (VNNI, AVX2), false when a
/// portable kernel for its layout would run it (packed for another path, or
/// the generic path).
bool qgemmPackedNative(const void *packedB, Isa isa = Isa::Auto);

/// The path to pack B for (packedQBSize, packQB) when every qgemmPacked
/// call on path `isa` will have at most `rows` rows of A (0: unknown):
/// `isa`, except that on AVX2 one or two rows take s8 panels (the generic
/// path's layout), which AVX2 runs with a matrix-vector tile: its s16
/// panels would double the weight bytes such a product streams.
Isa qgemmPackIsa(Isa isa, size_t rows);

/// Bytes of scratch qgemmPacked needs per concurrent call.
size_t qgemmWorkspaceSize(size_t K, Isa isa = Isa::Auto);

/// Rows [mBegin, mEnd) of C = requantize(sum_k (A[m,k] - a_zp) *
/// (B[k,n] - b_zp[n]) + bias[n]). A holds u8 values, or s8 ones (the same
/// bytes) when packedB was packed with aSigned. C's element type is given
/// by requant.output (int32_t, uint8_t or int8_t), row stride ldc
/// elements. Bit-exact across Isa paths.
Status qgemmPacked(size_t M, size_t N, size_t K, const uint8_t *A, size_t lda,
                   const void *packedB, void *C, size_t ldc,
                   const Requantize &requant, Isa isa = Isa::Auto,
                   size_t mBegin = 0, size_t mEnd = 0,
                   void *workspace = nullptr);

/// qgemmPacked for columns [nBegin, nEnd) of C only: nBegin a multiple of
/// 64 (every path's panel divides it), nEnd too or N. C still points at
/// column 0 of row 0. Lets a caller split a product with few rows (a
/// fully-connected layer at batch 1) over its columns, each piece streaming
/// only its share of the weights. Bit-exact with qgemmPacked.
Status qgemmPackedCols(size_t M, size_t N, size_t K, const uint8_t *A,
                       size_t lda, const void *packedB, void *C, size_t ldc,
                       const Requantize &requant, Isa isa, size_t mBegin,
                       size_t mEnd, size_t nBegin, size_t nEnd,
                       void *workspace = nullptr);

/// Bytes of scratch one qconv2dNhwc call on path `isa` (the call's) needs.
size_t qconv2dNhwcWorkspaceSize(const Conv2DShape &shape, Isa isa = Isa::Auto);

/// Whether qconv2dNhwc has a path for `isa`: AVX-512 VNNI without weight
/// zero points, or AVX2 (also on AVX-512 without VNNI), whose packing folds
/// the zero points into the weights.
bool qconv2dNhwcAvailable(Isa isa, bool weightZeroPoints);

/// Whether qconv2dNhwc runs `shape` with `packedW` on `isa`: a path that
/// qconv2dNhwcAvailable, and weights packed by packQB for this path with
/// K = KH*KW*roundUp(channels, 4) (the channels of a tap padded to 4 with
/// zero weights: a k step never straddles two taps), N = outChannels (and
/// on VNNI no nonzero weight zero point). Otherwise unfold the input
/// (im2row, k ordered (kh, kw, c)) and call qgemmPacked.
bool qconv2dNhwcSupported(const Conv2DShape &shape, const void *packedW,
                          Isa isa = Isa::Auto);

/// Output pixels [pixBegin, pixEnd) (pixel = oh*OW + ow; end 0: all) of an
/// 8-bit convolution of one image (one group: shape.channels and
/// outChannels are the group's) over channels-last input, as an implicit
/// GEMM: the micro-kernel reads each pixel's window from x in place (no
/// im2row copy, no A packing); taps in the padding read xZeroPoint. x: the
/// group's first channel of input pixel (0, 0), pixel stride ldx bytes, u8
/// values (s8 when the weights were packed with aSigned). y: output pixel
/// pixBegin's first channel, pixel stride ldy elements. Weights: packQB of
/// W[kh][kw][c][oc] (K ordered (kh, kw, c)), with aZeroPoint = xZeroPoint
/// (in x's own type). Bit-exact with im2row + qgemmPacked.
Status qconv2dNhwc(const Conv2DShape &shape, const uint8_t *x, size_t ldx,
                   int32_t xZeroPoint, const void *packedW, void *y, size_t ldy,
                   const Requantize &requant, Isa isa, size_t pixBegin,
                   size_t pixEnd, void *workspace = nullptr);

/// qconv2dNhwc for output channels [colBegin, colEnd) only: colBegin a
/// multiple of the path's panel (64 on VNNI, 16 on AVX2: multiples of 64
/// suit both), colEnd too or outChannels. y is still
/// output pixel pixBegin's channel 0. Lets a caller split a layer whose
/// weights outweigh its input over output channels, so that each piece
/// streams only its share of the weights.
Status qconv2dNhwcCols(const Conv2DShape &shape, const uint8_t *x, size_t ldx,
                       int32_t xZeroPoint, const void *packedW, void *y,
                       size_t ldy, const Requantize &requant, Isa isa,
                       size_t pixBegin, size_t pixEnd, size_t colBegin,
                       size_t colEnd, void *workspace = nullptr);

/// An int8 depthwise convolution (ConvInteger with groups == channels, then
/// the bias and Ember's requantization): u8 activations (s8 when xSigned),
/// weights centered on their zero point as int16 [KH*KW][C] at `packed`,
/// then int32 bias [C] at packed + biasOffset. vnniOffset, when not 0, is 1
/// + the byte offset of the VNNI pack of a 3x3 channels-last convolution:
/// per block of 64 channels, 3 groups x 4 vectors x 64 s8 bytes (4 taps per
/// channel lane, channel of lane q of vector j in block b: 64b + 16(q/4) +
/// 4j + q%4), then, in that channel order, the block's bias - x_zp' *
/// sum(w) (x_zp' = xZeroPoint, + 128 when xSigned: the kernel reads s8 x
/// as x + 128), multipliers and shifts (kQDepthwiseVnniBlockBytes per
/// block). Results requantize as Ember defines it (quant::requantize,
/// docs/quantization.md): multiplier and shift (one, or per channel when
/// scaleCount > 1), yZeroPoint, clamped to [clampMin, clampMax] within y's
/// type; y is u8, or s8 when ySigned. With floatScale the multipliers (and
/// the VNNI pack's) are f32 bits and the shifts are unused: the float32
/// profile, quant::requantizeFloat32. With yInt32, y is int32 instead: the
/// accumulator plus the bias, unrequantized (ConvInteger's result; the
/// requantization fields and tables are not read).
struct QDepthwiseConv {
  int64_t channels = 0, height = 0, width = 0, outHeight = 0, outWidth = 0;
  int64_t kernelH = 1, kernelW = 1, strideH = 1, strideW = 1;
  int64_t padTop = 0, padLeft = 0, dilationH = 1, dilationW = 1;
  int64_t inNhwc = 0, outNhwc = 0; // x / y stored channels-last
  int64_t xZeroPoint = 0, xSigned = 0;
  int64_t yZeroPoint = 0, ySigned = 0;
  int64_t clampMin = INT32_MIN, clampMax = INT32_MAX;
  int64_t scaleCount = 1, biasOffset = 0, vnniOffset = 0;
  int64_t yInt32 = 0;     // y is int32 (acc + bias), not requantized
  int64_t floatScale = 0; // the multipliers are f32 (float32 profile)
  /// Whether the shifts allow the fixed point's fast form (FixedPoint.h),
  /// or -1: worked out by every call, a pass over the per-channel shifts
  /// for every row. qdepthwisePrepare sets it once.
  int64_t requantFast = -1;
  Isa isa = Isa::Auto;
  const uint8_t *x = nullptr; // [N][C][H][W] or [N][H][W][C]
  uint8_t *y = nullptr;       // [N][C][OH][OW] or [N][OH][OW][C]
  const uint8_t *packed = nullptr;
  const int32_t *multiplier = nullptr, *shift = nullptr;
};
constexpr size_t kQDepthwiseVnniBlockBytes = 1536;
/// Output row `outRow` of image `image`: the channels in `pieces` ranges
/// (multiples of 16, or 64 with the VNNI pack), range `piece` of them. The
/// AVX-512 channels-last 3x3 kernel and the AVX2 channels-last one (any
/// kernel up to 64 taps, at least 16 channels; a last range narrower than
/// 16 channels joins the one before) compute a range; every other path
/// computes the whole row for piece 0 and nothing for the others. `acc`:
/// channels int32 of scratch.
Status qdepthwiseConv2dRow(const QDepthwiseConv &conv, size_t image,
                           size_t outRow, size_t piece, size_t pieces,
                           int32_t *acc);

/// Fills conv's derived fields (requantFast) from the others, so that
/// qdepthwiseConv2dRow does not work them out for every row.
void qdepthwisePrepare(QDepthwiseConv &conv);

/// The reference requantization of one accumulator (exactly what every path
/// computes): `index` selects the per-column scale when scaleCount > 1.
int32_t requantizeOne(int32_t acc, const Requantize &requant, size_t index);

//===----------------------------------------------------------------------===//
// Recurrent cells: the per-step product and the gate activations
//===----------------------------------------------------------------------===//

/// C[m][0, n) += A[m][0, k) x B[k][0, n) (row-major, row strides lda, ldb,
/// ldc; B read in place, nothing packed): an RNN/GRU/LSTM step's few state
/// rows times the recurrent weights R^T. Each C element adds its k products
/// in order of i (fused multiply-adds on the vector paths), whatever m and
/// the column range, so rows and column slices computed apart agree bit for
/// bit. On AVX2 and up one row runs 64 columns at a time (independent FMA
/// chains), 2-4 rows share each load of B.
void stepGemmAccumulate(size_t m, size_t k, size_t n, const float *a,
                        size_t lda, const float *b, size_t ldb, float *c,
                        size_t ldc, Isa isa = Isa::Auto);

/// v[i] = sigmoid(v[i]) and v[i] = tanh(v[i]) for i < n, as Ember's f32
/// functions compute them (ember/math/Exp.h, Tanh.h; Sigmoid as the CPU
/// backend's generated loops: exp(-|x|) once, 1 / (1 + e) or e / (1 + e)),
/// bit for bit on every path.
void sigmoidF32(float *v, size_t n, Isa isa = Isa::Auto);
void tanhF32(float *v, size_t n, Isa isa = Isa::Auto);

//===----------------------------------------------------------------------===//
// Activations after a convolution or matrix product
//===----------------------------------------------------------------------===//

/// y[i*ldy + j] = act(y[i*ldy + j]) (+ res[i*ldr + j] when res is not
/// null: a residual added after the activation), i < rows, j < cols. The
/// same bits on every path (the AVX-512 path's exp scales with vscalefps,
/// HardSwish's x / 6 is a product and two FMAs: README, "Activations").
void postActivation(const PostOp &op, float *y, size_t ldy, const float *res,
                    size_t ldr, size_t rows, size_t cols, Isa isa = Isa::Auto);

} // namespace ember::cpu

#endif // EMBER_CPU_KERNELS_H
