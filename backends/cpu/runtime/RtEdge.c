/* The int8 runtime of Arm bundles (RtEdge.h says what it computes and how
 * the weights are laid out). One file, compiled once per kernel flavor:
 * the target's predefined macros pick the kernels (Helium, NEON with or
 * without SDOT, the Cortex-M DSP extension, or plain C); the requantization,
 * the generic loops and the entry points are shared. Freestanding:
 * <stddef.h>, <stdint.h> and the Arm intrinsic headers only.
 *
 * EMBER_RT_NAME(x) names the entry points: ember_rt_x in bundles,
 * ember_rte_x when linked natively into the plugin (RtEdgeNative.c). */
#include "RtEdge.h"

/* Indices and sizes: pointer-sized (32 bits on a Cortex-M; the parameter
 * blocks' int64 values fit). */
typedef intptr_t ri;

#ifndef EMBER_RT_NAME
#define EMBER_RT_NAME(x) ember_rt_##x
#endif

#if defined(EMBER_RTE_PLAIN_C) /* vendor option edge_simd=0: for A/B runs */
#define RTE_KERNELS EMBER_RTE_KERNELS_C
#elif defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
#include <arm_mve.h>
#define RTE_KERNELS EMBER_RTE_KERNELS_MVE
#elif defined(__aarch64__) && defined(__ARM_NEON)
#include <arm_neon.h>
#if defined(__ARM_FEATURE_DOTPROD)
#define RTE_KERNELS EMBER_RTE_KERNELS_NEON_DOT
#else
#define RTE_KERNELS EMBER_RTE_KERNELS_NEON
#endif
#elif defined(__arm__) && defined(__ARM_FEATURE_DSP)
#include <arm_acle.h>
#define RTE_KERNELS EMBER_RTE_KERNELS_DSP
#else
#define RTE_KERNELS EMBER_RTE_KERNELS_C
#endif

#define RTE_INLINE static inline __attribute__((always_inline))

/* The int8 weight layout this flavor's dense kernels read (RtEdge.h); every
 * flavor also runs the generic loops over rows. */
#if RTE_KERNELS == EMBER_RTE_KERNELS_DSP
#define RTE_LAYOUT EMBER_RTE_LAYOUT_DSP4
#else
#define RTE_LAYOUT EMBER_RTE_LAYOUT_ROWS
#endif
#define RTE_SIMD                                                               \
  (RTE_KERNELS == EMBER_RTE_KERNELS_DSP || RTE_KERNELS == EMBER_RTE_KERNELS_MVE)

int32_t EMBER_RT_NAME(edge_kernels)(void) { return RTE_KERNELS; }

/* ---- requantization (ember/quant/Arith.h, in C) -------------------------- */

static int32_t rte_clamp(int32_t v, int32_t lo, int32_t hi) {
  v = v > hi ? hi : v; /* max(lo, min(hi, v)), as quant::clampTo */
  return v < lo ? lo : v;
}

/* quant::mbqm: x * m * 2^(shift - 31), rounded once, half up. With the
 * usual shift (<= -2: the rounding bit lies in the high word of x * m) it
 * is the high word plus the rounding bit, shifted:
 *   floor((P + 2^(t-1)) / 2^t) = floor((floor(P / 2^32) + 2^(s-1)) / 2^s)
 * for P = x * m, t = 31 - shift >= 33, s = t - 32 (adding a multiple of
 * 2^32 commutes with the floor), one 32x32 multiply-high on a Cortex-M
 * (SMMUL) and lane-wise on Helium (VMULH, then VRSHL's rounding shift). */
RTE_INLINE int32_t rte_mbqm_fast(int32_t x, int32_t mult, int32_t shift) {
  int32_t s = shift < -31 ? 30 : -1 - shift; /* 1..30 */
  int32_t hi = (int32_t)(((int64_t)x * (int64_t)mult) >> 32);
  return (hi + (1 << (s - 1))) >> s; /* |hi| <= 2^30: no overflow */
}

static int32_t rte_mbqm(int32_t x, int32_t mult, int32_t shift) {
  if (shift <= -2)
    return rte_mbqm_fast(x, mult, shift);
  int32_t s = shift > 30 ? 30 : shift;
  int total = 31 - (int)s;
  int64_t r = (int64_t)x * (int64_t)mult + ((int64_t)1 << (total - 1));
  r >>= total;
  if (r > INT32_MAX)
    return INT32_MAX;
  if (r < INT32_MIN)
    return INT32_MIN;
  return (int32_t)r;
}

int32_t EMBER_RT_NAME(edge_requantize)(int32_t acc, int32_t mult, int32_t shift,
                                       int32_t yzp, int32_t lo, int32_t hi) {
  uint32_t v = (uint32_t)rte_mbqm(acc, mult, shift) + (uint32_t)yzp;
  return rte_clamp((int32_t)v, lo, hi);
}

/* quant::float32ToStored: rne(v) + yzp clamped, without libm (|v| <= 2^30,
 * where every float with a fraction is exactly split by the conversion). */
int32_t EMBER_RT_NAME(edge_requantize_f32)(int32_t acc, float scale,
                                           int32_t yzp, int32_t lo,
                                           int32_t hi) {
  const float lim = 1073741824.0f;
  float v = (float)acc * scale;
  if (!(v >= -lim))
    v = -lim;
  if (v > lim)
    v = lim;
  float r = (float)(int32_t)v; /* toward zero */
  if (r > v)
    r -= 1.0f; /* floor */
  float d = v - r;
  int32_t rn = (int32_t)r;
  if (d > 0.5f || (d == 0.5f && (rn & 1)))
    ++rn;
  int64_t q = (int64_t)rn + yzp;
  int64_t h = hi > lo ? hi : lo;
  q = q < lo ? lo : q > h ? h : q;
  return (int32_t)q;
}

/* The output side of a step: result kind, zero point, clamp and the table
 * of multipliers (then shifts; float32 profile: f32 bits) per channel.
 * `fast`: an 8-bit result of the fixed profile whose every shift is <= -2,
 * stored by rte_put's inline path (the usual case). */
typedef struct {
  ri kind, fl, count;
  int32_t zp, lo, hi;
  int fast;
  const int32_t *m, *e;
} RteOut;

static RteOut rte_out(int64_t kind, int64_t zp, int64_t lo, int64_t hi,
                      int64_t fl, int64_t count, const int32_t *rq) {
  RteOut o;
  o.kind = kind;
  o.zp = (int32_t)zp;
  o.lo = (int32_t)lo;
  o.hi = (int32_t)hi;
  o.fl = fl;
  o.count = count;
  o.m = rq;
  o.e = rq + count;
  o.fast = kind != EMBER_RT_Y_I32 && !fl;
  for (ri k = 0; k < count && o.fast; ++k)
    o.fast = o.e[k] <= -2;
  return o;
}

/* Stores accumulator `acc` of channel `ch` as element `i` of y. */
static void rte_store(const RteOut *o, void *y, ri i, int32_t acc, ri ch) {
  if (o->kind == EMBER_RT_Y_I32) {
    ((int32_t *)y)[i] = acc;
    return;
  }
  ri k = o->count == 1 ? 0 : ch;
  int32_t v;
  if (o->fl) {
    union {
      int32_t i;
      float f;
    } s;
    s.i = o->m[k];
    v = EMBER_RT_NAME(edge_requantize_f32)(acc, s.f, o->zp, o->lo, o->hi);
  } else {
    v = EMBER_RT_NAME(edge_requantize)(acc, o->m[k], o->e[k], o->zp, o->lo,
                                       o->hi);
  }
  if (o->kind == EMBER_RT_Y_I8)
    ((int8_t *)y)[i] = (int8_t)v;
  else
    ((uint8_t *)y)[i] = (uint8_t)v;
}

/* rte_store, with the fast case inline (u8 and s8 results are the same
 * low byte of the clamped value). */
RTE_INLINE void rte_put(const RteOut *o, void *y, ri i, int32_t acc, ri ch) {
  if (o->fast) {
    ri k = o->count == 1 ? 0 : ch;
    int32_t v = rte_mbqm_fast(acc, o->m[k], o->e[k]) + o->zp;
    v = v > o->hi ? o->hi : v;
    v = v < o->lo ? o->lo : v;
    ((uint8_t *)y)[i] = (uint8_t)v;
    return;
  }
  rte_store(o, y, i, acc, ch);
}

/* Where results go: element base + row * rs + (ch0 + oc) * cs of y, the
 * requantization of channel ch0 + oc. */
typedef struct {
  void *y;
  ri base, rs, cs, ch0;
} RteDst;

/* ---- the generic inner products ---------------------------------------------
 * rte_dots: out[r] = sum over k < K of s8(rows[r][k] ^ flip) * w[k] for
 * r < nrows (at most EMBER_RTE_CHUNK), w one row of int8 centered weights.
 * Sums wrap modulo 2^32. Reads exactly K bytes of each row. NEON has its
 * own; the Cortex-M flavors use them for int16 rows only (their int8
 * kernels are below). */

static int32_t rte_dot_c(const uint8_t *x, const int8_t *w, ri K,
                         uint8_t flip) {
  uint32_t acc = 0;
  for (ri k = 0; k < K; ++k)
    acc += (uint32_t)((int32_t)(int8_t)(x[k] ^ flip) * (int32_t)w[k]);
  return (int32_t)acc;
}

static int32_t rte_dot16_c(const uint8_t *x, const int16_t *w, ri K,
                           uint8_t flip) {
  uint32_t acc = 0;
  for (ri k = 0; k < K; ++k)
    acc += (uint32_t)((int32_t)(int8_t)(x[k] ^ flip) * (int32_t)w[k]);
  return (int32_t)acc;
}

#if RTE_KERNELS == EMBER_RTE_KERNELS_NEON ||                                   \
    RTE_KERNELS == EMBER_RTE_KERNELS_NEON_DOT
/* NEON: 16 bytes a step. With dot products, SDOT sums four products per
 * 32-bit lane; without, SMULL makes 16-bit products (exact: at most 2^14)
 * and SADALP adds their pairs into 32-bit lanes. The tail is scalar. */
static void rte_dots(const uint8_t *const *rows, int nrows, const int8_t *w,
                     ri K, uint8_t flip, int32_t *out) {
  int32x4_t acc[EMBER_RTE_CHUNK];
  const uint8x16_t vf = vdupq_n_u8(flip);
  for (int r = 0; r < EMBER_RTE_CHUNK; ++r)
    acc[r] = vdupq_n_s32(0);
  ri k = 0;
  for (; k + 16 <= K; k += 16) {
    int8x16_t wv = vld1q_s8(w + k);
    for (int r = 0; r < nrows; ++r) {
      int8x16_t xv = vreinterpretq_s8_u8(veorq_u8(vld1q_u8(rows[r] + k), vf));
#if RTE_KERNELS == EMBER_RTE_KERNELS_NEON_DOT
      acc[r] = vdotq_s32(acc[r], xv, wv);
#else
      int16x8_t lo = vmull_s8(vget_low_s8(xv), vget_low_s8(wv));
      int16x8_t hi = vmull_high_s8(xv, wv);
      acc[r] = vpadalq_s16(acc[r], lo);
      acc[r] = vpadalq_s16(acc[r], hi);
#endif
    }
  }
  for (int r = 0; r < nrows; ++r) {
    uint32_t s = (uint32_t)vaddvq_s32(acc[r]);
    s += (uint32_t)rte_dot_c(rows[r] + k, w + k, K - k, flip);
    out[r] = (int32_t)s;
  }
}
#else
static void rte_dots(const uint8_t *const *rows, int nrows, const int8_t *w,
                     ri K, uint8_t flip, int32_t *out) {
  for (int r = 0; r < nrows; ++r)
    out[r] = rte_dot_c(rows[r], w, K, flip);
}
#endif

static void rte_dots16(const uint8_t *const *rows, int nrows, const int16_t *w,
                       ri K, uint8_t flip, int32_t *out) {
  for (int r = 0; r < nrows; ++r)
    out[r] = rte_dot16_c(rows[r], w, K, flip);
}

/* ---- dense convolution and the constant-B matrix product -----------------
 * One group's packed block: bias'[ocg], then ocg rows of KP weights. */
typedef struct {
  const uint8_t *group;
  ri ocg, K, KP, w16, layout;
  uint8_t flip;
} RteGemm;

/* The generic loop: rows [row0, row0 + nrows) against every output channel
 * of the group, one channel at a time, every row sharing its loads. */
static void rte_rows(const RteGemm *g, const uint8_t *const *rows, int nrows,
                     const RteOut *o, const RteDst *d, ri row0) {
  const int32_t *bias = (const int32_t *)g->group;
  const uint8_t *wbase = g->group + g->ocg * 4;
  int32_t acc[EMBER_RTE_CHUNK];
  for (ri oc = 0; oc < g->ocg; ++oc) {
    if (g->w16)
      rte_dots16(rows, nrows, (const int16_t *)wbase + oc * g->KP, g->K,
                 g->flip, acc);
    else
      rte_dots(rows, nrows, (const int8_t *)wbase + oc * g->KP, g->K, g->flip,
               acc);
    ri ch = d->ch0 + oc;
    for (int r = 0; r < nrows; ++r)
      rte_put(o, d->y, d->base + (row0 + r) * d->rs + ch * d->cs,
              (int32_t)((uint32_t)acc[r] + (uint32_t)bias[oc]), ch);
  }
}

/* Where the elements of a 4-D activation lie: strides of n, c, h, w. */
typedef struct {
  ri n, c, h, w;
} RteStrides;

static RteStrides rte_strides(ri nhwc, ri C, ri H, ri W) {
  RteStrides s;
  if (nhwc) {
    s.c = 1;
    s.w = C;
    s.h = W * C;
  } else {
    s.w = 1;
    s.h = W;
    s.c = H * W;
  }
  s.n = C * H * W;
  return s;
}

/* A convolution's shape, read once from its parameter block. */
typedef struct {
  ri C, H, W, OH, OW, KH, KW, SH, SW, PT, PL, DH, DW, G, OC, cg, ocg, P, K, KP;
  ri w16, layout, inplace, xsigned;
  uint8_t flip, fill; /* x's s8 flip, and the padding as a stored s8 byte */
} RteGeo;

static RteGeo rte_geo(const int64_t *p) {
  RteGeo g;
  g.C = p[EMBER_RT_CONV_C];
  g.H = p[EMBER_RT_CONV_H];
  g.W = p[EMBER_RT_CONV_W];
  g.OH = p[EMBER_RT_CONV_OH];
  g.OW = p[EMBER_RT_CONV_OW];
  g.KH = p[EMBER_RT_CONV_KH];
  g.KW = p[EMBER_RT_CONV_KW];
  g.SH = p[EMBER_RT_CONV_SH];
  g.SW = p[EMBER_RT_CONV_SW];
  g.PT = p[EMBER_RT_CONV_PT];
  g.PL = p[EMBER_RT_CONV_PL];
  g.DH = p[EMBER_RT_CONV_DH];
  g.DW = p[EMBER_RT_CONV_DW];
  g.G = p[EMBER_RT_CONV_GROUPS];
  g.OC = p[EMBER_RT_CONV_OC];
  g.cg = g.C / g.G;
  g.ocg = g.OC / g.G;
  g.P = g.OH * g.OW;
  g.K = p[EMBER_RTE_QCONV_K];
  g.KP = p[EMBER_RTE_QCONV_KP];
  g.w16 = p[EMBER_RTE_QCONV_W16];
  g.layout = p[EMBER_RTE_QCONV_LAYOUT];
  g.xsigned = p[EMBER_RT_QCONV_X_SIGNED] != 0;
  g.flip = g.xsigned ? 0 : 0x80;
  g.fill = (uint8_t)(p[EMBER_RT_QCONV_X_ZP] ^ g.flip);
  /* 1x1, stride 1, unpadded, channels-last: each pixel's taps are its own
   * channels, contiguous in x. */
  g.inplace = p[EMBER_RT_QCONV_IN_NHWC] && g.KH == 1 && g.KW == 1 &&
              g.SH == 1 && g.SW == 1 && g.PT == 0 && g.PL == 0 &&
              p[EMBER_RT_CONV_PB] == 0 && p[EMBER_RT_CONV_PR] == 0;
  return g;
}

typedef struct {
  const int64_t *p;
  const uint8_t *x;
  const uint8_t *w;
  void *y;
  uint8_t *ws;
  RteOut out;
  RteStrides xs;
  RteGeo geo;
  ri yP, yC; /* y's strides of a pixel and of a channel */
} RteConv;

/* im2col: pixel pix's taps (kh, kw, c) of image/group plane xn as s8
 * bytes into row (KP bytes; xzs where a tap is outside x). */
static void rte_im2col(const RteConv *c, const uint8_t *xn, ri pix,
                       uint8_t *row) {
  const RteGeo *g = &c->geo;
  ri oh = pix / g->OW, ow = pix % g->OW, k = 0;
  for (ri kh = 0; kh < g->KH; ++kh) {
    ri ih = oh * g->SH - g->PT + kh * g->DH;
    for (ri kw = 0; kw < g->KW; ++kw) {
      ri iw = ow * g->SW - g->PL + kw * g->DW;
      if (ih < 0 || ih >= g->H || iw < 0 || iw >= g->W) {
        for (ri q = 0; q < g->cg; ++q)
          row[k + q] = g->fill;
      } else {
        const uint8_t *src = xn + ih * c->xs.h + iw * c->xs.w;
        if (c->xs.c == 1)
          for (ri q = 0; q < g->cg; ++q)
            row[k + q] = (uint8_t)(src[q] ^ g->flip);
        else
          for (ri q = 0; q < g->cg; ++q)
            row[k + q] = (uint8_t)(src[q * c->xs.c] ^ g->flip);
      }
      k += g->cg;
    }
  }
}

/* The generic convolution loop of one chunk of EMBER_RTE_CHUNK pixels of
 * (image n, group gi): im2col rows (or the pixels in place), rte_rows. */
static void rte_conv_chunk(const RteConv *c, ri n, ri gi, ri pix0, int nrows,
                           uint8_t *buf) {
  const RteGeo *g = &c->geo;
  RteGemm gm;
  gm.group = c->w + gi * c->p[EMBER_RT_CONV_W_GROUP_STRIDE];
  gm.ocg = g->ocg;
  gm.K = g->K;
  gm.KP = g->KP;
  gm.w16 = g->w16;
  const uint8_t *xn = c->x + n * c->xs.n + gi * g->cg * c->xs.c;
  const uint8_t *rows[EMBER_RTE_CHUNK];
  if (g->inplace) {
    gm.flip = g->flip;
    for (int r = 0; r < nrows; ++r)
      rows[r] = xn + (pix0 + r) * g->C;
  } else {
    gm.flip = 0;
    for (int r = 0; r < nrows; ++r) {
      rte_im2col(c, xn, pix0 + r, buf + r * g->KP);
      rows[r] = buf + r * g->KP;
    }
  }
  RteDst d = {c->y, n * g->OC * g->P, c->yP, c->yC, gi * g->ocg};
  rte_rows(&gm, rows, nrows, &c->out, &d, pix0);
}

#if RTE_SIMD
/* The depthwise taps of output pixel (oh, ow): a pointer per tap to its
 * channel 0 in x, or to `pad` (C bytes of x's zero point). */
static void rte_dw_taps(const RteConv *c, const uint8_t *xn, ri oh, ri ow,
                        const uint8_t *pad, const uint8_t **taps) {
  const RteGeo *g = &c->geo;
  for (ri kh = 0; kh < g->KH; ++kh) {
    ri ih = oh * g->SH - g->PT + kh * g->DH;
    for (ri kw = 0; kw < g->KW; ++kw) {
      ri iw = ow * g->SW - g->PL + kw * g->DW;
      int in = ih >= 0 && ih < g->H && iw >= 0 && iw < g->W;
      *taps++ = in ? xn + ih * c->xs.h + iw * c->xs.w : pad;
    }
  }
}
#endif

#if RTE_KERNELS == EMBER_RTE_KERNELS_DSP
#include "RtEdgeDsp.inc"
#elif RTE_KERNELS == EMBER_RTE_KERNELS_MVE
#include "RtEdgeMve.inc"
#endif

/* The pixel chunks of every (image, group): task t is chunk t % chunks of
 * (image, group) t / chunks. */
static void rte_conv_task(void *ctx, int64_t begin, int64_t end,
                          int64_t worker) {
  RteConv *c = (RteConv *)ctx;
  const RteGeo *g = &c->geo;
  ri chunks = (g->P + EMBER_RTE_CHUNK - 1) / EMBER_RTE_CHUNK;
  uint8_t *buf = c->ws + worker * c->p[EMBER_RT_CONV_WS_BYTES];
  for (ri t = begin; t < end; ++t) {
    ri ng = t / chunks, pix0 = (t % chunks) * EMBER_RTE_CHUNK;
    ri n = ng / g->G, gi = ng % g->G;
    int nrows =
        (int)(g->P - pix0 < EMBER_RTE_CHUNK ? g->P - pix0 : EMBER_RTE_CHUNK);
#if RTE_SIMD
    if (!g->w16 && g->layout == RTE_LAYOUT) {
      rte_conv_chunk_simd(c, n, gi, pix0, nrows, buf);
      continue;
    }
#endif
    rte_conv_chunk(c, n, gi, pix0, nrows, buf);
  }
}

/* ---- depthwise convolution ----------------------------------------------
 * acc[c] = bias'[c] + sum over every tap of x * wc[tap][c], a tap outside
 * x reading x's zero point (bias' = bias - x_zp * sum of wc[.][c]: the
 * compiler folds the zero point; x is read as stored, u8 or s8). */
static void rte_dw_task_c(void *ctx, int64_t begin, int64_t end,
                          int64_t worker) {
  RteConv *c = (RteConv *)ctx;
  const RteGeo *g = &c->geo;
  const ri C = g->C;
  const int32_t xzp = (int32_t)c->p[EMBER_RT_QCONV_X_ZP];
  const int xsigned = (int)g->xsigned;
  const int16_t *wc = (const int16_t *)c->w;
  const int32_t *bias =
      (const int32_t *)(c->w + c->p[EMBER_RT_QCONV_BIAS_OFFSET]);
  (void)worker;
  /* Task: one output row of one image; channel blocks of 16 innermost (the
   * compiler vectorizes them where x and y are channels-last). */
  for (ri t = begin; t < end; ++t) {
    ri n = t / g->OH, oh = t % g->OH;
    const uint8_t *xn = c->x + n * c->xs.n;
    for (ri ow = 0; ow < g->OW; ++ow) {
      for (ri c0 = 0; c0 < C; c0 += 16) {
        ri cn = C - c0 < 16 ? C - c0 : 16;
        uint32_t acc[16];
        for (ri j = 0; j < cn; ++j)
          acc[j] = (uint32_t)bias[c0 + j];
        for (ri kh = 0; kh < g->KH; ++kh) {
          ri ih = oh * g->SH - g->PT + kh * g->DH;
          for (ri kw = 0; kw < g->KW; ++kw) {
            ri iw = ow * g->SW - g->PL + kw * g->DW;
            const int16_t *wt = wc + (kh * g->KW + kw) * C + c0;
            if (ih < 0 || ih >= g->H || iw < 0 || iw >= g->W) {
              for (ri j = 0; j < cn; ++j)
                acc[j] += (uint32_t)(xzp * (int32_t)wt[j]);
              continue;
            }
            const uint8_t *src =
                xn + ih * c->xs.h + iw * c->xs.w + c0 * c->xs.c;
            if (c->xs.c == 1 && xsigned)
              for (ri j = 0; j < cn; ++j)
                acc[j] += (uint32_t)((int32_t)(int8_t)src[j] * wt[j]);
            else if (c->xs.c == 1)
              for (ri j = 0; j < cn; ++j)
                acc[j] += (uint32_t)((int32_t)src[j] * wt[j]);
            else
              for (ri j = 0; j < cn; ++j) {
                uint8_t b = src[j * c->xs.c];
                int32_t xv = xsigned ? (int32_t)(int8_t)b : (int32_t)b;
                acc[j] += (uint32_t)(xv * (int32_t)wt[j]);
              }
          }
        }
        ri pix = oh * g->OW + ow;
        for (ri j = 0; j < cn; ++j)
          rte_put(&c->out, c->y, n * C * g->P + pix * c->yP + (c0 + j) * c->yC,
                  (int32_t)acc[j], c0 + j);
      }
    }
  }
}

int64_t EMBER_RT_NAME(qconv_workspace_size)(const int64_t *p) {
  if (p[EMBER_RT_CONV_DEPTHWISE])
    return ember_rte_dw_workspace(p[EMBER_RT_CONV_C], p[EMBER_RT_CONV_KH],
                                  p[EMBER_RT_CONV_KW]);
  return EMBER_RTE_CHUNK * p[EMBER_RTE_QCONV_KP];
}

void EMBER_RT_NAME(qconv_split)(const int64_t *p, const void *w,
                                int64_t workers, int64_t *chunk,
                                int64_t *colPieces) {
  (void)p;
  (void)w;
  (void)workers;
  *chunk = EMBER_RTE_CHUNK;
  *colPieces = 1;
}

int32_t EMBER_RT_NAME(qconv2d)(const int64_t *p, const uint8_t *x,
                               const void *w, const int32_t *rq, void *y,
                               uint8_t *workspace) {
  RteConv c;
  /* Weights packed for other kernels than these: fail the step. */
  if (!p[EMBER_RT_CONV_DEPTHWISE] && !p[EMBER_RTE_QCONV_W16] &&
      p[EMBER_RTE_QCONV_LAYOUT] != EMBER_RTE_LAYOUT_ROWS &&
      p[EMBER_RTE_QCONV_LAYOUT] != RTE_LAYOUT)
    return 1;
  c.p = p;
  c.x = x;
  c.w = (const uint8_t *)w;
  c.y = y;
  c.ws = workspace;
  c.geo = rte_geo(p);
  c.out =
      rte_out(p[EMBER_RT_QCONV_Y_KIND], p[EMBER_RT_QCONV_Y_ZP],
              p[EMBER_RT_QCONV_LO], p[EMBER_RT_QCONV_HI],
              p[EMBER_RT_QCONV_FLOAT_SCALE], p[EMBER_RT_QCONV_SCALE_COUNT], rq);
  c.xs = rte_strides(p[EMBER_RT_QCONV_IN_NHWC], c.geo.C, c.geo.H, c.geo.W);
  if (p[EMBER_RT_QCONV_OUT_NHWC]) {
    c.yP = c.geo.OC;
    c.yC = 1;
  } else {
    c.yP = 1;
    c.yC = c.geo.P;
  }
  ri N = p[EMBER_RT_CONV_N];
  if (p[EMBER_RT_CONV_DEPTHWISE]) {
    ember_rt_task task = rte_dw_task_c;
#if RTE_SIMD
    if (c.xs.c == 1)
      task = rte_dw_task_simd;
#endif
    ember_rt_parallel_for(task, &c, N * c.geo.OH);
    return 0;
  }
  ri chunks = (c.geo.P + EMBER_RTE_CHUNK - 1) / EMBER_RTE_CHUNK;
  ember_rt_parallel_for(rte_conv_task, &c, N * c.geo.G * chunks);
  return 0;
}

/* ---- matrix products -------------------------------------------------------
 */

typedef struct {
  const int64_t *p;
  const uint8_t *a;
  const uint8_t *b;
  void *y;
  RteOut out;
} RteMatMul;

/* Rows [EMBER_RTE_CHUNK * begin, EMBER_RTE_CHUNK * end). */
static void rte_mm_task(void *ctx, int64_t begin, int64_t end, int64_t worker) {
  RteMatMul *m = (RteMatMul *)ctx;
  const int64_t *p = m->p;
  ri M = p[EMBER_RT_QGEMM_M], K = p[EMBER_RT_QGEMM_K];
  RteGemm g;
  g.group = m->b;
  g.ocg = p[EMBER_RT_QGEMM_N];
  g.K = K;
  g.KP = p[EMBER_RTE_QGEMM_KP];
  g.w16 = p[EMBER_RTE_QGEMM_W16];
  g.layout = p[EMBER_RTE_QGEMM_LAYOUT];
  g.flip = p[EMBER_RT_QGEMM_A_SIGNED] ? 0 : 0x80;
  RteDst d = {m->y, 0, g.ocg, 1, 0};
  (void)worker;
  for (ri t = begin; t < end; ++t) {
    ri r0 = t * EMBER_RTE_CHUNK;
    int nrows = (int)(M - r0 < EMBER_RTE_CHUNK ? M - r0 : EMBER_RTE_CHUNK);
#if RTE_SIMD
    if (!g.w16 && g.layout == RTE_LAYOUT) {
      for (int r = 0; r < nrows; ++r)
        rte_mm_row_simd(&g, m->a + (r0 + r) * K, &m->out, &d, r0 + r);
      continue;
    }
#endif
    const uint8_t *rows[EMBER_RTE_CHUNK];
    for (int r = 0; r < nrows; ++r)
      rows[r] = m->a + (r0 + r) * K;
    rte_rows(&g, rows, nrows, &m->out, &d, r0);
  }
}

/* B read at run time ([batch..][K][N], RtAbi.h B_DYNAMIC): plain loops,
 * acc = sum of (a - a_zp)(b - b_zp) + bias[n]. */
static int32_t rte_mm_dynamic(const int64_t *p, const uint8_t *a,
                              const uint8_t *b, const int32_t *rq, void *y,
                              const RteOut *o) {
  ri M = p[EMBER_RT_QGEMM_M], N = p[EMBER_RT_QGEMM_N], K = p[EMBER_RT_QGEMM_K];
  int as = p[EMBER_RT_QGEMM_A_SIGNED] != 0,
      bs = p[EMBER_RT_QGEMM_B_SIGNED] != 0;
  int32_t azp = (int32_t)p[EMBER_RT_QGEMM_A_ZP],
          bzp = (int32_t)p[EMBER_RT_QGEMM_B_ZP];
  const int32_t *bias =
      p[EMBER_RT_QGEMM_HAS_BIAS] ? rq + 2 * p[EMBER_RT_QGEMM_SCALE_COUNT] : 0;
  const int64_t *bd = p + EMBER_RT_QGEMM_BATCH0;
  for (ri i0 = 0; i0 < bd[0]; ++i0)
    for (ri i1 = 0; i1 < bd[4]; ++i1)
      for (ri i2 = 0; i2 < bd[8]; ++i2)
        for (ri i3 = 0; i3 < bd[12]; ++i3) {
          ri ao = i0 * bd[1] + i1 * bd[5] + i2 * bd[9] + i3 * bd[13];
          ri bo = i0 * bd[2] + i1 * bd[6] + i2 * bd[10] + i3 * bd[14];
          ri yo = i0 * bd[3] + i1 * bd[7] + i2 * bd[11] + i3 * bd[15];
          for (ri m = 0; m < M; ++m)
            for (ri n = 0; n < N; ++n) {
              uint32_t acc = bias ? (uint32_t)bias[n] : 0u;
              for (ri k = 0; k < K; ++k) {
                uint8_t av = a[ao + m * K + k], bv = b[bo + k * N + n];
                int32_t ai = as ? (int32_t)(int8_t)av : (int32_t)av;
                int32_t bi = bs ? (int32_t)(int8_t)bv : (int32_t)bv;
                acc += (uint32_t)((ai - azp) * (bi - bzp));
              }
              rte_store(o, y, yo + m * N + n, (int32_t)acc, n);
            }
        }
  return 0;
}

int64_t EMBER_RT_NAME(qgemm_workspace_size)(const int64_t *p) {
  (void)p;
  return 0;
}

int32_t EMBER_RT_NAME(qgemm)(const int64_t *p, const uint8_t *a, const void *b,
                             const int32_t *rq, void *y, uint8_t *workspace) {
  RteMatMul m;
  (void)workspace;
  m.p = p;
  m.a = a;
  m.b = (const uint8_t *)b;
  m.y = y;
  m.out =
      rte_out(p[EMBER_RT_QGEMM_Y_KIND], p[EMBER_RT_QGEMM_Y_ZP],
              p[EMBER_RT_QGEMM_LO], p[EMBER_RT_QGEMM_HI],
              p[EMBER_RT_QGEMM_FLOAT_SCALE], p[EMBER_RT_QGEMM_SCALE_COUNT], rq);
  if (p[EMBER_RT_QGEMM_B_DYNAMIC])
    return rte_mm_dynamic(p, a, m.b, rq, y, &m.out);
  if (!p[EMBER_RTE_QGEMM_W16] &&
      p[EMBER_RTE_QGEMM_LAYOUT] != EMBER_RTE_LAYOUT_ROWS &&
      p[EMBER_RTE_QGEMM_LAYOUT] != RTE_LAYOUT)
    return 1;
  ri M = p[EMBER_RT_QGEMM_M];
  ember_rt_parallel_for(rte_mm_task, &m,
                        (M + EMBER_RTE_CHUNK - 1) / EMBER_RTE_CHUNK);
  return 0;
}
