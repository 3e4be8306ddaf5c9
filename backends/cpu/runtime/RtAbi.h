/*
 * The calls generated code makes into the CPU backend's runtime (C ABI).
 *
 * ember_main, the function the code generator emits for a model, computes
 * elementwise, movement and reduction steps in its own loops and calls these
 * functions for the heavy ops. Each takes a pointer to a constant int64
 * parameter block (a private constant global in the generated module, laid
 * out by the enums below), tensor pointers, and a per-worker workspace.
 *
 * Two implementations exist:
 *   - RtKernels.cpp over backends/cpu/kernels (pre-packed weights, AVX2 /
 *     AVX-512 paths). Linked natively into the plugin for the JIT, and
 *     compiled to bitcode for x86-64 bundles.
 *   - RtPortable.c: plain C loops over weights in ONNX layout, freestanding,
 *     compiled to bitcode for bundles of other targets (aarch64).
 * Both export the same names; the code generator packs weights for the one
 * it links (EMBER_RT_*_PACKED says which layout a parameter block expects).
 *
 * Every function returns 0 on success, non-zero when the kernel library
 * rejects its arguments (a code generator bug); ember_main then returns
 * that value.
 *
 * Threading: ember_rt_parallel_for runs fn(ctx, begin, end, worker) over
 * disjoint ranges covering [0, n) and returns when all are done. worker is
 * in [0, ember_rt_num_workers()); one worker may get several ranges, one
 * after another, and never runs two at once, so a task may use worker's
 * scratch for the length of one call. A static partition (one range per
 * worker) is a valid implementation. The plugin's pool gives each worker
 * a contiguous share and lets workers that finish early take chunks from
 * the end of the others' shares (ThreadPool.h); bundles get a serial
 * version (RtSerial.c) unless the application provides its own.
 */
#ifndef EMBER_CPU_RTABI_H
#define EMBER_CPU_RTABI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A call's status for an operand value out of range (a sequence length of
 * RNN/GRU/LSTM outside [0, S]); ember_main also returns it for a Gather or
 * ScatterND index out of range (kStatusIndexOutOfRange). Other non-zero
 * statuses are the kernel library's small codes. */
#define EMBER_RT_STATUS_OUT_OF_RANGE 100

typedef void (*ember_rt_task)(void *ctx, int64_t begin, int64_t end,
                              int64_t worker);
void ember_rt_parallel_for(ember_rt_task fn, void *ctx, int64_t n);
int64_t ember_rt_num_workers(void);

/* Epilogue activations (kernels: ember::cpu::Activation). */
enum { EMBER_RT_ACT_NONE = 0, EMBER_RT_ACT_RELU = 1, EMBER_RT_ACT_CLIP = 2 };

/* A post function: the elementwise chain after a convolution's or matrix
 * product's epilogue (a SiLU, HardSwish, Gelu, ... and maybe a residual Add
 * after it), generated with the model. It replaces each of rows x cols
 * values of y (row stride ldy) by the chain's value of it and, when the
 * chain reads one (POST_RES), of the residual r at the same place (row
 * stride ldr; r is null otherwise). The steps call it on each piece of
 * their result right after computing it, while it is in cache
 * (EMBER_RT_CONV_POST, EMBER_RT_GEMM_POST). */
typedef void (*ember_rt_post)(float *y, int64_t ldy, const float *r,
                              int64_t ldr, int64_t rows, int64_t cols);

/* ---- 2-D convolution, NCHW fp32 ------------------------------------------
 * y[n] = conv(x[n], W) (+ bias per output channel, + residual before or
 * after the activation). GROUPS > 1: group g reads channels
 * [g*C/G, (g+1)*C/G) and writes [g*OC/G, ...); its packed weights start at
 * g * W_GROUP_STRIDE bytes. DEPTHWISE (G == C == OC): weights stay in ONNX
 * layout [C][1][KH][KW]. */
enum ember_rt_conv_field {
  EMBER_RT_CONV_N,
  EMBER_RT_CONV_C,
  EMBER_RT_CONV_H,
  EMBER_RT_CONV_W,
  EMBER_RT_CONV_OC,
  EMBER_RT_CONV_OH,
  EMBER_RT_CONV_OW,
  EMBER_RT_CONV_KH,
  EMBER_RT_CONV_KW,
  EMBER_RT_CONV_SH,
  EMBER_RT_CONV_SW,
  EMBER_RT_CONV_PT,
  EMBER_RT_CONV_PL,
  EMBER_RT_CONV_PB,
  EMBER_RT_CONV_PR,
  EMBER_RT_CONV_DH,
  EMBER_RT_CONV_DW,
  EMBER_RT_CONV_GROUPS,
  EMBER_RT_CONV_DEPTHWISE,
  EMBER_RT_CONV_W_GROUP_STRIDE, /* bytes between groups' packed weights */
  EMBER_RT_CONV_ACT,
  EMBER_RT_CONV_RES_AFTER, /* residual added after the activation */
  EMBER_RT_CONV_ISA,       /* ember::cpu::Isa the weights were packed for */
  EMBER_RT_CONV_WS_BYTES,  /* workspace bytes per worker */
  /* x, y and the residual channels-last ([N][H][W][C]; y through a copy
   * with Y_COPY), weights
   * packConvWeightsNhwc per group (conv2dNhwc once per group over its
   * channel slices of x and y; the compiler sets it only where
   * conv2dNhwcSupported holds) */
  EMBER_RT_CONV_NHWC,
  EMBER_RT_CONV_LDY,     /* NHWC: y's pixel stride (0: OC; a channel slice of a
                          * concatenation written in place) */
  EMBER_RT_CONV_IN_NCHW, /* NHWC, dense: x is row-major after all
                          * (conv2dNhwcFromNchw: a first layer) */
  /* IN_NCHW: a max pool of the conv's output runs inside the call
   * (conv2dNhwcFromNchwMaxPool) and y is the pooled result
   * [N][POOL_OH][POOL_OW][OC] (pixel stride LDY); POOL_KH 0: none.
   * Window, strides and leading pads over the conv's output rows and
   * columns; windows are clipped to it. */
  EMBER_RT_CONV_POOL_KH,
  EMBER_RT_CONV_POOL_KW,
  EMBER_RT_CONV_POOL_SH,
  EMBER_RT_CONV_POOL_SW,
  EMBER_RT_CONV_POOL_PT,
  EMBER_RT_CONV_POOL_PL,
  EMBER_RT_CONV_POOL_OH,
  EMBER_RT_CONV_POOL_OW,
  EMBER_RT_CONV_ROUND_F16, /* y holds f32 values rounded to f16 (RNE) */
  /* NHWC with x channels-last but y row-major ([N][OC][OH][OW]): the step
   * writes its result channels-last at the workspace's front (counted in
   * each worker's bytes) and transposes it into y. No residual, pool or
   * LDY. */
  EMBER_RT_CONV_Y_COPY,
  /* NHWC, dense, x channels-last, 3x3 stride 1 undilated, no pool: the
   * weights are packConvWeightsWinograd's per group and each piece runs
   * conv2dNhwcWinograd (Winograd F(2x2, 3x3)) */
  EMBER_RT_CONV_WINOGRAD,
  /* NHWC, grouped (not depthwise), each group's output channels fewer than
   * a vector: groupedConv2dNhwc runs every group in one call (lanes across
   * groups), weights packGroupedConvNhwc ([KH][KW][C/G][OC]), as a
   * depthwise step does */
  EMBER_RT_CONV_GROUPED,
  /* An ember_rt_post the step applies to its result after the epilogue
   * (the function's address; 0: none). Not with a pool. */
  EMBER_RT_CONV_POST,
  /* POST reads the residual (added by the chain, not by the epilogue) */
  EMBER_RT_CONV_POST_RES,
  /* POST is a known activation (1 + ember::cpu::PostActivation; 0: not
   * one), with a residual after it when POST_RES: the kernel library's
   * postActivation may run it instead (the same bits); ALPHA and BETA are
   * HardSigmoid's as f32 bits */
  EMBER_RT_CONV_POST_KIND,
  EMBER_RT_CONV_POST_ALPHA,
  EMBER_RT_CONV_POST_BETA,
  /* NHWC, x channels-last: x's and the residual's pixel strides (0: C and
   * OC), as LDY is y's: values stored inside a wider one (a Split's part,
   * a Concat's input) */
  EMBER_RT_CONV_LDX,
  EMBER_RT_CONV_LDR,
  /* A depthwise channels-last step run with the 1x1 convolution whose
   * result it reads (ember_rt_conv2d_pair): its output rows a chunk
   * computes (0: not such a step), and the rows of the 1x1's result its
   * buffer holds (at least those a chunk reads) */
  EMBER_RT_CONV_PAIR_ROWS,
  EMBER_RT_CONV_PAIR_BUFFER_ROWS,
  EMBER_RT_CONV_NUM_FIELDS
};
int32_t ember_rt_conv2d(const int64_t *p, const float *x, const void *w,
                        const float *bias, const float *residual, float *y,
                        float clipLo, float clipHi, uint8_t *workspace);
/* Bytes of packed weights for one group, and packing (all groups, each at
 * g * W_GROUP_STRIDE) from ONNX layout. Used at compile time for constant
 * weights and at run time for weights that are graph inputs. */
int64_t ember_rt_conv_packed_size(const int64_t *p);
/* Workspace bytes one worker needs for a conv2d call with these params. */
int64_t ember_rt_conv_workspace_size(const int64_t *p);
int32_t ember_rt_conv_pack(const int64_t *p, const float *w, void *packed);
/* How ember_rt_conv2d splits a channels-last call over `workers`: pieces
   per (image, group) (1: not split), of which colPieces output-channel
   ranges (1: pieces over pixels or channels only). */
void ember_rt_conv_split(const int64_t *p, int64_t workers, int64_t *pieces,
                         int64_t *colPieces);

/* A channels-last 1x1 convolution (p1: stride 1, unpadded, one group, its
 * result contiguous, no residual) and the channels-last depthwise one that
 * is the only reader of its result (p2, PAIR_ROWS set), in one call: the
 * depthwise step's output rows are cut into bands (one per image and
 * worker) and each band into chunks of PAIR_ROWS rows; a chunk computes the
 * 1x1's rows its windows read that the chunk before did not (with its
 * activation and post) after those in a buffer of PAIR_BUFFER_ROWS rows in
 * the worker's workspace, and runs the depthwise step on them; when the
 * new rows do not fit, the rows still needed move to the buffer's front
 * first. The 1x1's result is never stored whole. Every output is the same sum,
 * in the same order, as the two calls' (byte-identical results). Workspace:
 * each worker's slot (p2's WS_BYTES apart) holds the buffer, then the 1x1's
 * scratch. */
int32_t ember_rt_conv2d_pair(const int64_t *p1, const float *x, const void *w1,
                             const float *bias1, float lo1, float hi1,
                             const int64_t *p2, const void *w2,
                             const float *bias2, const float *residual2,
                             float *y, float lo2, float hi2,
                             uint8_t *workspace);
/* Workspace bytes one worker needs for ember_rt_conv2d_pair. */
int64_t ember_rt_conv_pair_workspace_size(const int64_t *p1, const int64_t *p2);

/* ---- matrix multiply: C[b] = A[b] x B[b] (+ bias[N], + residual) ---------
 * Up to 4 batch dims (extent 1 when unused), each with element strides for
 * A, B and C (0 broadcasts). B_PACKED: B is a constant packed at compile
 * time, in NPIECES column pieces of PIECE_N columns (the last may be
 * narrower), piece i at i * PIECE_STRIDE bytes; else B is a plain row-major
 * [K, N] matrix at each batch offset (row stride LDB). */
enum ember_rt_gemm_field {
  EMBER_RT_GEMM_M,
  EMBER_RT_GEMM_N,
  EMBER_RT_GEMM_K,
  EMBER_RT_GEMM_LDA,
  EMBER_RT_GEMM_LDB,
  EMBER_RT_GEMM_LDC,
  EMBER_RT_GEMM_B_PACKED,
  EMBER_RT_GEMM_NPIECES,
  EMBER_RT_GEMM_PIECE_N,
  EMBER_RT_GEMM_PIECE_STRIDE,
  EMBER_RT_GEMM_BATCH0, /* extent, a stride, b stride, c stride; x4 */
  EMBER_RT_GEMM_BATCH_LAST = EMBER_RT_GEMM_BATCH0 + 15,
  EMBER_RT_GEMM_HAS_BIAS,
  EMBER_RT_GEMM_ACT,
  EMBER_RT_GEMM_RES_AFTER,
  EMBER_RT_GEMM_ISA,
  EMBER_RT_GEMM_WS_BYTES,
  EMBER_RT_GEMM_ROUND_F16, /* c holds f32 values rounded to f16 (RNE) */
  EMBER_RT_GEMM_POST,      /* as EMBER_RT_CONV_POST */
  EMBER_RT_GEMM_POST_RES,  /* as EMBER_RT_CONV_POST_RES */
  EMBER_RT_GEMM_POST_KIND, /* as EMBER_RT_CONV_POST_KIND */
  EMBER_RT_GEMM_POST_ALPHA,
  EMBER_RT_GEMM_POST_BETA,
  EMBER_RT_GEMM_NUM_FIELDS
};
int32_t ember_rt_gemm(const int64_t *p, const float *a, const void *b,
                      const float *bias, const float *residual, float *c,
                      float clipLo, float clipHi, uint8_t *workspace);
int64_t ember_rt_gemm_packed_size(const int64_t *p);
int64_t ember_rt_gemm_workspace_size(const int64_t *p);
/* Packs B[K, N] (row stride LDB) into the pieces described by p. */
int32_t ember_rt_gemm_pack(const int64_t *p, const float *b, void *packed);

/* ---- ConvTranspose, fp32 --------------------------------------------------
 * The conv fields with C/H/W the input and OC/OH/OW the output, PT/PL the
 * leading pads; then CHUNK input pixels per step, and the layouts of x and y
 * (each row-major NCHW or channels-last NHWC, independently). Per image and
 * group, the GEMM writes cols in y's layout: y row-major,
 * cols[OCg*KH*KW][chunk] = W^T x X (W^T is [OCg*KH*KW][Cg], rows oc-major);
 * y channels-last, cols[chunk][KH*KW*OCg] = X x W' (W' is [Cg][KH*KW*OCg],
 * columns tap-major, so each pixel's taps hold contiguous output channels).
 * X is read in place when x is in y's layout, else its chunk is transposed
 * first (Cg x chunk floats). Weights are packed at compile time. Then cols
 * scatter-add into y (col2im), which starts from the bias; every element of
 * y adds its taps in (kh, kw) order in every layout. Workspace per worker:
 * the cols chunk, x's transposed chunk, plus the GEMM's. */
enum ember_rt_convt_field {
  EMBER_RT_CONVT_CHUNK = EMBER_RT_CONV_NUM_FIELDS,
  EMBER_RT_CONVT_X_NHWC, /* 1: x is [N][H][W][C] */
  EMBER_RT_CONVT_Y_NHWC, /* 1: y is [N][OH][OW][OC] */
  /* 1: the weights are computed at run time (attribute computed_weights):
   * the reference's K blocks stay 128 deep (ember/math/GemmBlocks.h) */
  EMBER_RT_CONVT_COMPUTED_W,
  EMBER_RT_CONVT_NUM_FIELDS
};
int32_t ember_rt_conv_transpose(const int64_t *p, const float *x,
                                const float *wT, const float *bias, float *y,
                                uint8_t *workspace);
int64_t ember_rt_conv_transpose_workspace_size(const int64_t *p);
/* W [C][OCg][KH][KW] (ONNX) -> per group W^T [OCg*KH*KW][Cg] (y row-major)
 * or W' [Cg][KH*KW*OCg] (y channels-last), for weights that are graph
 * inputs (constant ones are packed at compile time). */
int32_t ember_rt_conv_transpose_pack(const int64_t *p, const float *w,
                                     float *wT);

/* ---- RNN / GRU / LSTM, fp32 ----------------------------------------------
 * The ONNX recurrent cells (opset 14-22: layout, sequence_lens, initial
 * states, activations with alpha/beta, clip, forward/reverse/bidirectional,
 * GRU linear_before_reset, LSTM peepholes and input_forget) as the
 * reference kernel computes them (interp/kernels/Recurrent.cpp), in f32.
 * Per direction: the input projection of every step at once,
 * XW[rows][G*H] = X[rows][I] x W^T + (Wb + Rb) (rows in X's memory order),
 * then step by step gates = XW[t, b] + h[b] x R^T, the cell's activations,
 * and the new state (RtRecurrent.h). Weights are packed at compile time
 * when constant (ember_rt_recurrent_pack, else at run time into a scratch
 * buffer): per direction W^T [I][G*H], then R^T [H][G*H], then the folded
 * bias [G*H], then GRU's Rb of the h gate [H] (linear_before_reset: it
 * cannot fold). Activations: ACT0 + 3 * k holds the code, alpha's and
 * beta's f32 bits of activation k (the cell's f, g, h per direction, in
 * ONNX order). */
enum {
  EMBER_RT_RNN_SIGMOID = 0,
  EMBER_RT_RNN_TANH,
  EMBER_RT_RNN_RELU,
  EMBER_RT_RNN_AFFINE,
  EMBER_RT_RNN_LEAKY_RELU,
  EMBER_RT_RNN_THRESHOLDED_RELU,
  EMBER_RT_RNN_SCALED_TANH,
  EMBER_RT_RNN_HARD_SIGMOID,
  EMBER_RT_RNN_ELU,
  EMBER_RT_RNN_SOFTSIGN
};
enum {
  EMBER_RT_RNN_CELL_RNN = 0,
  EMBER_RT_RNN_CELL_GRU,
  EMBER_RT_RNN_CELL_LSTM
};
enum ember_rt_rnn_field {
  EMBER_RT_RNN_CELL,
  EMBER_RT_RNN_S,
  EMBER_RT_RNN_B,
  EMBER_RT_RNN_I,
  EMBER_RT_RNN_H,
  EMBER_RT_RNN_D,       /* 2: bidirectional */
  EMBER_RT_RNN_REVERSE, /* direction "reverse" (D 1) */
  EMBER_RT_RNN_LAYOUT,  /* ONNX layout: 0 [S][B][..], 1 [B][S][..] */
  EMBER_RT_RNN_HAS_CLIP,
  EMBER_RT_RNN_CLIP, /* f32 bits */
  EMBER_RT_RNN_LBR,  /* GRU linear_before_reset */
  EMBER_RT_RNN_INPUT_FORGET,
  EMBER_RT_RNN_LENS_BYTES, /* sequence_lens: 0 none, 4 int32, 8 int64 */
  EMBER_RT_RNN_ISA,
  EMBER_RT_RNN_WS_BYTES, /* workspace bytes per worker */
  EMBER_RT_RNN_ACT0,
  EMBER_RT_RNN_NUM_FIELDS = EMBER_RT_RNN_ACT0 + 18
};
/* ptrs[]: the tensors of one call, NULL where absent. */
enum ember_rt_rnn_ptr {
  EMBER_RT_RNN_X,
  EMBER_RT_RNN_PACKED, /* the packed weights above */
  EMBER_RT_RNN_LENS,
  EMBER_RT_RNN_H0,
  EMBER_RT_RNN_C0,
  EMBER_RT_RNN_P, /* LSTM peepholes, ONNX [D][3H] (i, o, f) */
  EMBER_RT_RNN_Y,
  EMBER_RT_RNN_YH,
  EMBER_RT_RNN_YC,
  EMBER_RT_RNN_SCRATCH, /* ember_rt_recurrent_scratch_size bytes */
  EMBER_RT_RNN_NUM_PTRS
};
int32_t ember_rt_recurrent(const int64_t *p, void *const *ptrs,
                           uint8_t *workspace);
int64_t ember_rt_recurrent_packed_size(const int64_t *p);
int64_t ember_rt_recurrent_scratch_size(const int64_t *p);
/* Workspace bytes one worker needs (the kernel library's SGEMM). */
int64_t ember_rt_recurrent_workspace_size(const int64_t *p);
/* W [D][G*H][I], R [D][G*H][H], B [D][2*G*H] (NULL: zeros), ONNX layouts. */
int32_t ember_rt_recurrent_pack(const int64_t *p, const float *w,
                                const float *r, const float *b, float *packed);

/* ---- int8: ConvInteger / MatMulInteger, + bias, + Requantize -------------
 * Ember's integer forms (docs/quantization.md): acc = the exact int32 sum of
 * (a - a_zp)(w - w_zp[n]) + bias[n]; then, for an 8-bit result,
 * y = clamp(MBQM(acc, m[n], e[n]) + y_zp, lo, hi) (ember/quant/Arith.h,
 * quant::requantize; the kernel library computes it bit for bit), or the
 * int32 acc itself (Y_KIND 2: a ConvInteger/MatMulInteger whose bias and
 * Requantize did not fuse). Weights are packed at compile time with their
 * zero points and bias; `rq` holds SCALE_COUNT int32 multipliers, then
 * SCALE_COUNT int32 shifts (1 or one per output channel/column). A_SIGNED:
 * the activations are s8 (else u8). LO/HI: the clamp of a fused Relu/Clip,
 * already intersected with the result type's range. */
#define EMBER_RT_Y_U8 0
#define EMBER_RT_Y_I8 1
#define EMBER_RT_Y_I32 2
enum ember_rt_qgemm_field {
  EMBER_RT_QGEMM_M,
  EMBER_RT_QGEMM_N,
  EMBER_RT_QGEMM_K,
  EMBER_RT_QGEMM_Y_ZP,
  EMBER_RT_QGEMM_Y_KIND, /* EMBER_RT_Y_* */
  EMBER_RT_QGEMM_SCALE_COUNT,
  EMBER_RT_QGEMM_LO,
  EMBER_RT_QGEMM_HI,
  EMBER_RT_QGEMM_ISA,
  EMBER_RT_QGEMM_WS_BYTES,
  /* B read at run time (not packed weights): `b` is B itself, row-major
   * [batch..][K][N], packed per batch matrix into the workspace; M is the
   * rows of one batch matrix. A_ZP/B_ZP are the per-tensor zero points
   * (as signed values), A_SIGNED/B_SIGNED the operands' kinds; with
   * HAS_BIAS, `rq` holds N int32 bias values after the shifts. */
  EMBER_RT_QGEMM_B_DYNAMIC,
  EMBER_RT_QGEMM_A_SIGNED,
  EMBER_RT_QGEMM_B_SIGNED,
  EMBER_RT_QGEMM_A_ZP,
  EMBER_RT_QGEMM_B_ZP,
  EMBER_RT_QGEMM_HAS_BIAS,
  EMBER_RT_QGEMM_BATCH0, /* extent, a stride, b stride, y stride; x4 */
  EMBER_RT_QGEMM_BATCH_LAST = EMBER_RT_QGEMM_BATCH0 + 15,
  /* The float32 requantization profile: `rq`'s multipliers are f32 bits
   * (y = clamp(rne(f32(acc) * m[n]) + y_zp), quant::requantizeFloat32) and
   * its shifts are unused. */
  EMBER_RT_QGEMM_FLOAT_SCALE,
  EMBER_RT_QGEMM_NUM_FIELDS
};
int32_t ember_rt_qgemm(const int64_t *p, const uint8_t *a, const void *b,
                       const int32_t *rq, void *y, uint8_t *workspace);

/* ConvInteger: the conv fields above, then these. Groups run as im2row
 * chunks of CHUNK output pixels times packed W^T (ISA's int8 GEMM): rows of
 * K = (c, kh, kw) from NCHW x, or K = (kh, kw, c) from channels-last x (a
 * 1x1 stride-1 conv then reads x in place); the GEMM's [pixel][channel]
 * result is y when y is channels-last, else it is transposed into NCHW.
 * A row-major x is copied channels-last first (X_COPY; depthwise convs on
 * AVX2 or AVX-512 always, with a channels-last result copied back into a
 * row-major y), so the channels-last kernels run whatever the layouts.
 * Depthwise (DEPTHWISE) convs read centered int16 weights [KH*KW][C]
 * followed by int32 bias [C] at BIAS_OFFSET bytes. DW_VNNI, when not 0, is
 * 1 + the byte offset of a second copy of a 3x3 channels-last depthwise
 * conv's weights for the VNNI kernel (kernels/src/QDepthwise.cpp): per block
 * of 64 channels, 3 groups x 4 vectors x 64 s8 bytes (4 taps per channel
 * lane), then the block's bias - x_zp' * sum(w) (x_zp' = x_zp, + 128 for s8
 * x), its multipliers and its shifts, all in the vectors' channel order.
 * Depthwise convs have an 8-bit result (an int32 one runs as groups). */
/* Bytes per 64-channel block of the DW_VNNI pack, and the channel of lane q
 * (0..15) of vector j (0..3) in block b. */
#define EMBER_RT_DW_VNNI_BLOCK_BYTES 1536
static inline int64_t ember_rt_dw_vnni_channel(int64_t b, int64_t j,
                                               int64_t q) {
  return 64 * b + 16 * (q / 4) + 4 * j + q % 4;
}
enum ember_rt_qconv_field {
  EMBER_RT_QCONV_X_ZP = EMBER_RT_CONV_NUM_FIELDS,
  EMBER_RT_QCONV_X_SIGNED,
  EMBER_RT_QCONV_Y_ZP,
  EMBER_RT_QCONV_Y_KIND, /* EMBER_RT_Y_* */
  EMBER_RT_QCONV_SCALE_COUNT,
  EMBER_RT_QCONV_LO,
  EMBER_RT_QCONV_HI,
  EMBER_RT_QCONV_CHUNK,
  EMBER_RT_QCONV_BIAS_OFFSET,
  EMBER_RT_QCONV_IN_NHWC,  /* x stored channels-last ([N][H][W][C]) */
  EMBER_RT_QCONV_OUT_NHWC, /* y stored channels-last */
  EMBER_RT_QCONV_DW_VNNI,
  /* A dense conv whose x is row-major: the runtime first copies x
   * channels-last into its workspace and the weights are packed for that
   * (K = (kh, kw, c)), as for a channels-last x. */
  EMBER_RT_QCONV_X_COPY,
  /* As EMBER_RT_QGEMM_FLOAT_SCALE (also the DW_VNNI pack's multipliers). */
  EMBER_RT_QCONV_FLOAT_SCALE,
  EMBER_RT_QCONV_NUM_FIELDS
};
int32_t ember_rt_qconv2d(const int64_t *p, const uint8_t *x, const void *w,
                         const int32_t *rq, void *y, uint8_t *workspace);
/* Workspace bytes one worker needs (im2row chunk, result chunk, GEMM). */
int64_t ember_rt_qconv_workspace_size(const int64_t *p);
/* How ember_rt_qconv2d splits a GEMM-form convolution (w: its packed
   weights) over `workers`: pixels per chunk and output-channel pieces per
   (image, group, chunk). */
void ember_rt_qconv_split(const int64_t *p, const void *w, int64_t workers,
                          int64_t *chunk, int64_t *colPieces);
int64_t ember_rt_qgemm_workspace_size(const int64_t *p);

#ifdef __cplusplus
}
#endif

#endif /* EMBER_CPU_RTABI_H */
