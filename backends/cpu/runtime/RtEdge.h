/* The int8 runtime of Arm bundles (RtEdge.c): RtAbi.h's ember_rt_qconv2d and
 * ember_rt_qgemm over weights in the edge layout below, for aarch64 Linux
 * (NEON, and the dot-product instructions where the CPU has them) and
 * Cortex-M (the DSP extension's SMLAD, Helium/MVE), with plain C for any
 * other target. Freestanding C99: no libc, no heap, no threads, no state.
 * The compiler (EdgeParams.cpp) packs weights at compile time for it; the
 * plugin links the same file natively under the ember_rte_ prefix (the
 * JIT's kernels=edge, and the workspace sizes at compile time).
 *
 * Arithmetic (docs/edge.md, "Kernels"): an activation x is read as a
 * signed byte xs (a u8 one with its top bit flipped: xs = x - 128) and its
 * zero point as xzs likewise; weights are stored centered, wc = w - w_zp
 * (int8 when every one fits, else int16: W16). Then
 *   acc = sum over taps of (xs - xzs) * wc + bias
 *       = sum of xs * wc + (bias - xzs * sum of wc)
 * where a padded tap reads xs = xzs, so the compiler folds the second term
 * into the packed bias (bias') and the kernels compute plain s8 dot
 * products. All sums wrap modulo 2^32, as the reference's do, so every
 * result is the interpreter's bit for bit. Depthwise convolutions keep
 * the library's layout (int16 centered weights [KH*KW][C], int32 bias at
 * BIAS_OFFSET) but fold x's own zero point (u8 or s8, as stored) the same
 * way: bias' = bias - x_zp * sum of the channel's wc, every tap counted,
 * one outside x reading x_zp. Requantization is quant::requantize
 * (ember/quant/Arith.h) written in C: the fixed profile's single-rounding
 * multiply, or the float32 profile's float product rounded half to even.
 */
#ifndef EMBER_CPU_RTEDGE_H
#define EMBER_CPU_RTEDGE_H

#include "RtAbi.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Fields after the qconv block's (the edge layout's own). */
enum ember_rte_qconv_field {
  /* Dense: weights are int16 (some centered weight outside int8). */
  EMBER_RTE_QCONV_W16 = EMBER_RT_QCONV_NUM_FIELDS,
  /* Dense: the tap row length K = KH * KW * C/G and its stored stride (K
   * rounded up to a multiple of 4 elements) */
  EMBER_RTE_QCONV_K,
  EMBER_RTE_QCONV_KP,
  EMBER_RTE_QCONV_LAYOUT, /* EMBER_RTE_LAYOUT_* of the int8 weights */
  EMBER_RTE_QCONV_NUM_FIELDS
};
/* Fields after the qgemm block's. */
enum ember_rte_qgemm_field {
  EMBER_RTE_QGEMM_W16 = EMBER_RT_QGEMM_NUM_FIELDS,
  EMBER_RTE_QGEMM_KP,
  EMBER_RTE_QGEMM_LAYOUT,
  EMBER_RTE_QGEMM_NUM_FIELDS
};

/* Packed dense weights (one block per group, W_GROUP_STRIDE bytes apart;
 * a constant MatMulInteger B is one group with OC = N):
 *   int32 bias'[OCg]                 (bias - xzs * sum of the row's wc)
 *   wc                               (int8 or int16; K runs (kh, kw, c);
 *                                     the KP - K padding is zero)
 * wc's layout is the kernels' (the compiler packs for the runtime flavor it
 * links; a kernel given another layout fails its step):
 *   ROWS  [OCg][KP]: every flavor; int16 weights always.
 *   DSP4  per block of 4 output channels (OCg rounded up to 4, the extra
 *         rows zero), per 4 elements of K, the 4 channels' words in turn:
 *         [OCg/4][KP/4][4 channels][4 bytes] (the Cortex-M DSP kernels:
 *         one pointer walks 4 channels' weights).
 * Bytes of one group's block: */
#define EMBER_RTE_LAYOUT_ROWS 0
#define EMBER_RTE_LAYOUT_DSP4 1
static inline int64_t ember_rte_group_bytes(int64_t ocg, int64_t kp,
                                            int64_t w16, int64_t layout) {
  int64_t rows = layout == EMBER_RTE_LAYOUT_DSP4 ? (ocg + 3) / 4 * 4 : ocg;
  int64_t b = ocg * 4 + rows * kp * (w16 ? 2 : 1);
  return (b + 15) / 16 * 16;
}
/* KP for a row of K elements: whole 32-bit words (rows start aligned). */
static inline int64_t ember_rte_padded_k(int64_t k) { return (k + 3) / 4 * 4; }

/* The dense convolution's pixel chunk: pixels whose tap rows one im2col
 * pass gathers into the workspace (and computes together). Its workspace
 * is EMBER_RTE_CHUNK * KP bytes (the Cortex-M DSP kernels' two rows of
 * 16-bit values fit it too). */
#define EMBER_RTE_CHUNK 4

/* A depthwise convolution's workspace (the Cortex-M kernels'): C bytes of
 * x's zero point (16-byte aligned), then a pointer per tap (8 bytes each,
 * whatever the target's pointers). */
static inline int64_t ember_rte_dw_pad_bytes(int64_t c) {
  return (c + 15) / 16 * 16;
}
static inline int64_t ember_rte_dw_workspace(int64_t c, int64_t kh,
                                             int64_t kw) {
  return ember_rte_dw_pad_bytes(c) + 8 * kh * kw;
}

/* Which kernels this build of RtEdge.c has: 0 plain C, 1 NEON, 2 NEON with
 * dot products, 3 Cortex-M DSP (SMLAD), 4 Helium (MVE). */
#define EMBER_RTE_KERNELS_C 0
#define EMBER_RTE_KERNELS_NEON 1
#define EMBER_RTE_KERNELS_NEON_DOT 2
#define EMBER_RTE_KERNELS_DSP 3
#define EMBER_RTE_KERNELS_MVE 4

/* Native entry points (RtEdgeNative.c). */
int32_t ember_rte_qconv2d(const int64_t *p, const uint8_t *x, const void *w,
                          const int32_t *rq, void *y, uint8_t *workspace);
int64_t ember_rte_qconv_workspace_size(const int64_t *p);
int32_t ember_rte_qgemm(const int64_t *p, const uint8_t *a, const void *b,
                        const int32_t *rq, void *y, uint8_t *workspace);
int64_t ember_rte_qgemm_workspace_size(const int64_t *p);
int32_t ember_rte_edge_kernels(void);
void ember_rte_qconv_split(const int64_t *p, const void *w, int64_t workers,
                           int64_t *chunk, int64_t *colPieces);
/* Exposed for tests: quant::requantize / requantizeFloat32 in C. */
int32_t ember_rte_edge_requantize(int32_t acc, int32_t mult, int32_t shift,
                                  int32_t yzp, int32_t lo, int32_t hi);
int32_t ember_rte_edge_requantize_f32(int32_t acc, float scale, int32_t yzp,
                                      int32_t lo, int32_t hi);

#ifdef __cplusplus
}
#endif

#endif /* EMBER_CPU_RTEDGE_H */
