/* The int8 runtime of Arm bundles (RtEdge.h says what it computes and how
 * the weights are laid out). One file, compiled once per kernel flavor:
 * the target's predefined macros pick the inner products (Helium's
 * VMLADAVA, NEON's SDOT or SMULL/SADALP, the DSP extension's SMLAD on
 * sign-extended byte pairs, or plain C); everything around them is shared.
 * Freestanding: <stddef.h>, <stdint.h> and the Arm intrinsic headers only.
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

int32_t EMBER_RT_NAME(edge_kernels)(void) { return RTE_KERNELS; }

/* ---- requantization (ember/quant/Arith.h, in C) -------------------------- */

static int32_t rte_clamp(int32_t v, int32_t lo, int32_t hi) {
  v = v > hi ? hi : v; /* max(lo, min(hi, v)), as quant::clampTo */
  return v < lo ? lo : v;
}

/* quant::mbqm: x * m * 2^(shift - 31), rounded once, half up. */
static int32_t rte_mbqm(int32_t x, int32_t mult, int32_t shift) {
  int32_t s = shift < -31 ? -31 : shift > 30 ? 30 : shift;
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
 * of multipliers (then shifts; float32 profile: f32 bits) per channel. */
typedef struct {
  ri kind, zp, lo, hi, fl, count;
  const int32_t *m, *e;
} RteOut;

static RteOut rte_out(int64_t kind, int64_t zp, int64_t lo, int64_t hi,
                      int64_t fl, int64_t count, const int32_t *rq) {
  RteOut o;
  o.kind = kind;
  o.zp = zp;
  o.lo = lo;
  o.hi = hi;
  o.fl = fl;
  o.count = count;
  o.m = rq;
  o.e = rq + count;
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
    v = EMBER_RT_NAME(edge_requantize_f32)(acc, s.f, (int32_t)o->zp,
                                           (int32_t)o->lo, (int32_t)o->hi);
  } else {
    v = EMBER_RT_NAME(edge_requantize)(acc, o->m[k], o->e[k], (int32_t)o->zp,
                                       (int32_t)o->lo, (int32_t)o->hi);
  }
  if (o->kind == EMBER_RT_Y_I8)
    ((int8_t *)y)[i] = (int8_t)v;
  else
    ((uint8_t *)y)[i] = (uint8_t)v;
}

/* ---- inner products ---------------------------------------------------------
 * rte_dots: out[r] = sum over k < K of s8(rows[r][k] ^ flip) * w[k] for
 * r < nrows (at most EMBER_RTE_CHUNK), w one row of int8 centered weights.
 * Sums wrap modulo 2^32. Reads exactly K bytes of each row. */

__attribute__((unused)) static int32_t
rte_dot_c(const uint8_t *x, const int8_t *w, ri K, uint8_t flip) {
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

#if RTE_KERNELS == EMBER_RTE_KERNELS_MVE
/* Helium: 16 bytes a step, the tail predicated; VMLADAVA sums the 16
 * products into a 32-bit scalar. Every row shares the weight load. */
static void rte_dots(const uint8_t *const *rows, int nrows, const int8_t *w,
                     ri K, uint8_t flip, int32_t *out) {
  int32_t acc[EMBER_RTE_CHUNK] = {0, 0, 0, 0};
  const uint8x16_t vf = vdupq_n_u8(flip);
  for (ri k = 0; k < K; k += 16) {
    mve_pred16_t pr = vctp8q((uint32_t)(K - k));
    int8x16_t wv = vldrbq_z_s8(w + k, pr);
    for (int r = 0; r < nrows; ++r) {
      uint8x16_t xv = veorq_u8(vldrbq_z_u8(rows[r] + k, pr), vf);
      acc[r] = vmladavaq_p_s8(acc[r], vreinterpretq_s8_u8(xv), wv, pr);
    }
  }
  for (int r = 0; r < nrows; ++r)
    out[r] = acc[r];
}
#elif RTE_KERNELS == EMBER_RTE_KERNELS_NEON ||                                 \
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
#elif RTE_KERNELS == EMBER_RTE_KERNELS_DSP
/* Cortex-M DSP extension (CMSIS-NN's way): four bytes a word, split into
 * two sign-extended 16-bit pairs by SXTB16 (and SXTB16 of the word rotated
 * by 8), each pair of products summed into the accumulator by SMLAD.
 * Unaligned word loads are fine on v7E-M and v8.1-M. */
static uint32_t rte_word(const void *p) {
  uint32_t v;
  __builtin_memcpy(&v, p, 4);
  return v;
}
static void rte_dots(const uint8_t *const *rows, int nrows, const int8_t *w,
                     ri K, uint8_t flip, int32_t *out) {
  const uint32_t f = (uint32_t)flip * 0x01010101u;
  int32_t acc[EMBER_RTE_CHUNK] = {0, 0, 0, 0};
  int32_t k = 0, K32 = (int32_t)K;
  for (; k + 4 <= K32; k += 4) {
    uint32_t wv = rte_word(w + k);
    int16x2_t w02 = __sxtb16(wv), w13 = __sxtb16(__ror(wv, 8));
    for (int r = 0; r < nrows; ++r) {
      uint32_t xv = rte_word(rows[r] + k) ^ f;
      acc[r] = __smlad(__sxtb16(xv), w02, acc[r]);
      acc[r] = __smlad(__sxtb16(__ror(xv, 8)), w13, acc[r]);
    }
  }
  for (int r = 0; r < nrows; ++r)
    out[r] = (int32_t)((uint32_t)acc[r] +
                       (uint32_t)rte_dot_c(rows[r] + k, w + k, K - k, flip));
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
 * One call computes the rows [r0, r0 + nrows) of output channels [0, OCg)
 * of a group: out[row][oc] = dot(rows[row], wc[oc]) + bias'[oc]. */
typedef struct {
  const uint8_t *group; /* the group's packed block */
  ri ocg, K, KP, w16;
  uint8_t flip;
} RteGemm;

typedef void (*rte_emit)(void *ctx, ri row, ri oc, int32_t acc);

static void rte_rows(const RteGemm *g, const uint8_t *const *rows, int nrows,
                     rte_emit emit, void *ctx, ri row0) {
  const int32_t *bias = (const int32_t *)g->group;
  const uint8_t *wbase = g->group + g->ocg * 4;
  int32_t d[EMBER_RTE_CHUNK];
  for (ri oc = 0; oc < g->ocg; ++oc) {
    if (g->w16)
      rte_dots16(rows, nrows, (const int16_t *)wbase + oc * g->KP, g->K,
                 g->flip, d);
    else
      rte_dots(rows, nrows, (const int8_t *)wbase + oc * g->KP, g->K, g->flip,
               d);
    for (int r = 0; r < nrows; ++r)
      emit(ctx, row0 + r, oc, (int32_t)((uint32_t)d[r] + (uint32_t)bias[oc]));
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

typedef struct {
  const int64_t *p;
  const uint8_t *x;
  const uint8_t *w;
  void *y;
  uint8_t *ws;
  RteOut out;
  RteStrides xs;
  ri yP, yC; /* y's strides of a pixel and of a channel */
  ri n, g;   /* the image and group being computed */
} RteConv;

static void rte_conv_emit(void *ctx, ri pix, ri oc, int32_t acc) {
  RteConv *c = (RteConv *)ctx;
  const int64_t *p = c->p;
  ri OC = p[EMBER_RT_CONV_OC], G = p[EMBER_RT_CONV_GROUPS];
  ri P = p[EMBER_RT_CONV_OH] * p[EMBER_RT_CONV_OW];
  ri ch = c->g * (OC / G) + oc;
  rte_store(&c->out, c->y, c->n * OC * P + pix * c->yP + ch * c->yC, acc, ch);
}

/* The pixel chunks [begin, end) of every (image, group): task t is chunk
 * t % chunks of (image, group) t / chunks. */
static void rte_conv_task(void *ctx, int64_t begin, int64_t end,
                          int64_t worker) {
  RteConv *c = (RteConv *)ctx;
  const int64_t *p = c->p;
  ri C = p[EMBER_RT_CONV_C], H = p[EMBER_RT_CONV_H], W = p[EMBER_RT_CONV_W],
     OW = p[EMBER_RT_CONV_OW], KH = p[EMBER_RT_CONV_KH],
     KW = p[EMBER_RT_CONV_KW], SH = p[EMBER_RT_CONV_SH],
     SW = p[EMBER_RT_CONV_SW], PT = p[EMBER_RT_CONV_PT],
     PL = p[EMBER_RT_CONV_PL], DH = p[EMBER_RT_CONV_DH],
     DW = p[EMBER_RT_CONV_DW], G = p[EMBER_RT_CONV_GROUPS],
     OC = p[EMBER_RT_CONV_OC];
  ri P = p[EMBER_RT_CONV_OH] * OW, cg = C / G;
  ri chunks = (P + EMBER_RTE_CHUNK - 1) / EMBER_RTE_CHUNK;
  ri K = p[EMBER_RTE_QCONV_K], KP = p[EMBER_RTE_QCONV_KP];
  ri xsigned = p[EMBER_RT_QCONV_X_SIGNED];
  uint8_t flip = xsigned ? 0 : 0x80;
  /* The padding value as a stored s8 byte: xzs. */
  uint8_t fill = (uint8_t)(p[EMBER_RT_QCONV_X_ZP] ^ (xsigned ? 0 : 0x80));
  /* 1x1, stride 1, unpadded, channels-last: each pixel's taps are its own
   * channels, read in place. */
  int inplace = p[EMBER_RT_QCONV_IN_NHWC] && KH == 1 && KW == 1 && SH == 1 &&
                SW == 1 && PT == 0 && PL == 0 && p[EMBER_RT_CONV_PB] == 0 &&
                p[EMBER_RT_CONV_PR] == 0;
  uint8_t *buf = c->ws + worker * p[EMBER_RT_CONV_WS_BYTES];
  RteConv local = *c;
  for (ri t = begin; t < end; ++t) {
    ri ng = t / chunks, ch = t % chunks;
    local.n = ng / G;
    local.g = ng % G;
    RteGemm gm;
    gm.group = c->w + local.g * p[EMBER_RT_CONV_W_GROUP_STRIDE];
    gm.ocg = OC / G;
    gm.K = K;
    gm.KP = KP;
    gm.w16 = p[EMBER_RTE_QCONV_W16];
    const uint8_t *xn = c->x + local.n * c->xs.n + local.g * cg * c->xs.c;
    const uint8_t *rows[EMBER_RTE_CHUNK];
    ri pix0 = ch * EMBER_RTE_CHUNK;
    int nrows = (int)(P - pix0 < EMBER_RTE_CHUNK ? P - pix0 : EMBER_RTE_CHUNK);
    if (inplace) {
      gm.flip = flip;
      for (int r = 0; r < nrows; ++r)
        rows[r] = xn + (pix0 + r) * C;
    } else {
      /* im2col: each pixel's taps (kh, kw, c) as s8 bytes, xzs outside. */
      gm.flip = 0;
      for (int r = 0; r < nrows; ++r) {
        uint8_t *row = buf + r * KP;
        ri oh = (pix0 + r) / OW, ow = (pix0 + r) % OW;
        ri k = 0;
        for (ri kh = 0; kh < KH; ++kh) {
          ri ih = oh * SH - PT + kh * DH;
          for (ri kw = 0; kw < KW; ++kw) {
            ri iw = ow * SW - PL + kw * DW;
            if (ih < 0 || ih >= H || iw < 0 || iw >= W) {
              for (ri q = 0; q < cg; ++q)
                row[k + q] = fill;
            } else {
              const uint8_t *src = xn + ih * c->xs.h + iw * c->xs.w;
              if (c->xs.c == 1)
                for (ri q = 0; q < cg; ++q)
                  row[k + q] = (uint8_t)(src[q] ^ flip);
              else
                for (ri q = 0; q < cg; ++q)
                  row[k + q] = (uint8_t)(src[q * c->xs.c] ^ flip);
            }
            k += cg;
          }
        }
        rows[r] = row;
      }
    }
    rte_rows(&gm, rows, nrows, rte_conv_emit, &local, pix0);
  }
}

/* ---- depthwise convolution ----------------------------------------------
 * acc[c] = bias[c] + sum over the taps inside x of (x - xzp) * wc[tap][c],
 * channel blocks of 16 innermost (vectorized by the compiler where x and y
 * are channels-last). */
static void rte_dw_task(void *ctx, int64_t begin, int64_t end, int64_t worker) {
  RteConv *c = (RteConv *)ctx;
  const int64_t *p = c->p;
  ri C = p[EMBER_RT_CONV_C], H = p[EMBER_RT_CONV_H], W = p[EMBER_RT_CONV_W],
     OH = p[EMBER_RT_CONV_OH], OW = p[EMBER_RT_CONV_OW],
     KH = p[EMBER_RT_CONV_KH], KW = p[EMBER_RT_CONV_KW],
     SH = p[EMBER_RT_CONV_SH], SW = p[EMBER_RT_CONV_SW],
     PT = p[EMBER_RT_CONV_PT], PL = p[EMBER_RT_CONV_PL],
     DH = p[EMBER_RT_CONV_DH], DW = p[EMBER_RT_CONV_DW];
  ri xzp = p[EMBER_RT_QCONV_X_ZP];
  int xsigned = p[EMBER_RT_QCONV_X_SIGNED] != 0;
  const int16_t *wc = (const int16_t *)c->w;
  const int32_t *bias = (const int32_t *)(c->w + p[EMBER_RT_QCONV_BIAS_OFFSET]);
  (void)worker;
  /* Task: one output row of one image. */
  for (ri t = begin; t < end; ++t) {
    ri n = t / OH, oh = t % OH;
    const uint8_t *xn = c->x + n * c->xs.n;
    for (ri ow = 0; ow < OW; ++ow) {
      for (ri c0 = 0; c0 < C; c0 += 16) {
        ri cn = C - c0 < 16 ? C - c0 : 16;
        int32_t acc[16];
        for (ri j = 0; j < cn; ++j)
          acc[j] = bias[c0 + j];
        for (ri kh = 0; kh < KH; ++kh) {
          ri ih = oh * SH - PT + kh * DH;
          if (ih < 0 || ih >= H)
            continue;
          for (ri kw = 0; kw < KW; ++kw) {
            ri iw = ow * SW - PL + kw * DW;
            if (iw < 0 || iw >= W)
              continue;
            const uint8_t *src =
                xn + ih * c->xs.h + iw * c->xs.w + c0 * c->xs.c;
            const int16_t *wt = wc + (kh * KW + kw) * C + c0;
            if (c->xs.c == 1 && xsigned)
              for (ri j = 0; j < cn; ++j)
                acc[j] = (int32_t)((uint32_t)acc[j] +
                                   (uint32_t)(((int32_t)(int8_t)src[j] -
                                               (int32_t)xzp) *
                                              (int32_t)wt[j]));
            else if (c->xs.c == 1)
              for (ri j = 0; j < cn; ++j)
                acc[j] = (int32_t)((uint32_t)acc[j] +
                                   (uint32_t)(((int32_t)src[j] - (int32_t)xzp) *
                                              (int32_t)wt[j]));
            else
              for (ri j = 0; j < cn; ++j) {
                uint8_t b = src[j * c->xs.c];
                int32_t xv = xsigned ? (int32_t)(int8_t)b : (int32_t)b;
                acc[j] =
                    (int32_t)((uint32_t)acc[j] +
                              (uint32_t)((xv - (int32_t)xzp) * (int32_t)wt[j]));
              }
          }
        }
        ri pix = oh * OW + ow;
        for (ri j = 0; j < cn; ++j)
          rte_store(&c->out, c->y,
                    n * C * OH * OW + pix * c->yP + (c0 + j) * c->yC, acc[j],
                    c0 + j);
      }
    }
  }
}

int64_t EMBER_RT_NAME(qconv_workspace_size)(const int64_t *p) {
  if (p[EMBER_RT_CONV_DEPTHWISE])
    return 0;
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
  ri N = p[EMBER_RT_CONV_N], OC = p[EMBER_RT_CONV_OC];
  ri OH = p[EMBER_RT_CONV_OH], OW = p[EMBER_RT_CONV_OW];
  c.p = p;
  c.x = x;
  c.w = (const uint8_t *)w;
  c.y = y;
  c.ws = workspace;
  c.out =
      rte_out(p[EMBER_RT_QCONV_Y_KIND], p[EMBER_RT_QCONV_Y_ZP],
              p[EMBER_RT_QCONV_LO], p[EMBER_RT_QCONV_HI],
              p[EMBER_RT_QCONV_FLOAT_SCALE], p[EMBER_RT_QCONV_SCALE_COUNT], rq);
  c.xs = rte_strides(p[EMBER_RT_QCONV_IN_NHWC], p[EMBER_RT_CONV_C],
                     p[EMBER_RT_CONV_H], p[EMBER_RT_CONV_W]);
  if (p[EMBER_RT_QCONV_OUT_NHWC]) {
    c.yP = OC;
    c.yC = 1;
  } else {
    c.yP = 1;
    c.yC = OH * OW;
  }
  c.n = c.g = 0;
  if (p[EMBER_RT_CONV_DEPTHWISE]) {
    ember_rt_parallel_for(rte_dw_task, &c, N * OH);
    return 0;
  }
  ri chunks = (OH * OW + EMBER_RTE_CHUNK - 1) / EMBER_RTE_CHUNK;
  ember_rt_parallel_for(rte_conv_task, &c,
                        N * p[EMBER_RT_CONV_GROUPS] * chunks);
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

static void rte_mm_emit(void *ctx, ri row, ri col, int32_t acc) {
  RteMatMul *m = (RteMatMul *)ctx;
  rte_store(&m->out, m->y, row * m->p[EMBER_RT_QGEMM_N] + col, acc, col);
}

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
  g.flip = p[EMBER_RT_QGEMM_A_SIGNED] ? 0 : 0x80;
  (void)worker;
  for (ri t = begin; t < end; ++t) {
    ri r0 = t * EMBER_RTE_CHUNK;
    int nrows = (int)(M - r0 < EMBER_RTE_CHUNK ? M - r0 : EMBER_RTE_CHUNK);
    const uint8_t *rows[EMBER_RTE_CHUNK];
    for (int r = 0; r < nrows; ++r)
      rows[r] = m->a + (r0 + r) * K;
    rte_rows(&g, rows, nrows, rte_mm_emit, m, r0);
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
  ri M = p[EMBER_RT_QGEMM_M];
  ember_rt_parallel_for(rte_mm_task, &m,
                        (M + EMBER_RTE_CHUNK - 1) / EMBER_RTE_CHUNK);
  return 0;
}
