/* The runtime calls of RtAbi.h as plain C loops over weights in ONNX layout
 * (nothing packed): the kernels of bundles for targets the kernel library
 * does not build for (aarch64), and a second implementation the tests
 * compare against (vendor option kernels=portable). Freestanding: only
 * <stddef.h> and <stdint.h>, no libc calls, serial.
 *
 * EMBER_RT_NAME(x) names the entry points: ember_rt_x in bitcode for
 * bundles, ember_rtp_x when linked natively beside RtKernels.cpp. */
#include "RtAbi.h"
#include "ember/math/GemmBlocks.h"

#ifndef EMBER_RT_NAME
#define EMBER_RT_NAME(x) ember_rt_##x
#endif

static float epilogue(float v, const float *bias, int64_t ch, const float *res,
                      int64_t ri, int64_t act, int64_t resAfter, float lo,
                      float hi) {
  if (bias)
    v += bias[ch];
  if (res && !resAfter)
    v += res[ri];
  if (act == EMBER_RT_ACT_RELU)
    v = v > 0.0f ? v : 0.0f;
  else if (act == EMBER_RT_ACT_CLIP) {
    v = v < lo ? lo : v;
    v = v > hi ? hi : v;
  }
  if (res && resAfter)
    v += res[ri];
  return v;
}

/* v rounded to f16 and back, round to nearest even (EMBER_RT_*_ROUND_F16;
 * as vcvtps2ph + vcvtph2ps: overflow to inf, NaNs quieted). */
static float round_f16(float v) {
  union {
    float f;
    uint32_t u;
  } x, r;
  x.f = v;
  uint32_t sign = x.u & 0x80000000u, a = x.u & 0x7fffffffu;
  if (a > 0x7f800000u) {
    r.u = (a & 0xffffe000u) | 0x00400000u;
  } else if (a >= 0x38800000u) {
    r.u = (a + 0xfffu + ((a >> 13) & 1u)) & 0xffffe000u;
    if (r.u >= 0x47800000u)
      r.u = 0x7f800000u;
  } else {
    r.u = a;
    r.f = (r.f + 0.5f) - 0.5f;
  }
  r.u |= sign;
  return r.f;
}

/* The steps after the epilogue on n contiguous results: the post
 * function (reading the residual when postRes), then the f16 rounding. */
static void finish(float *y, int64_t n, const float *res, int64_t post,
                   int64_t postRes, int64_t roundF16) {
  if (post)
    ((ember_rt_post)(uintptr_t)post)(y, n, postRes ? res : 0, n, 1, n);
  if (roundF16)
    for (int64_t i = 0; i < n; ++i)
      y[i] = round_f16(y[i]);
}

int64_t EMBER_RT_NAME(conv_packed_size)(const int64_t *p) {
  int64_t g = p[EMBER_RT_CONV_GROUPS];
  return (p[EMBER_RT_CONV_OC] / g) * (p[EMBER_RT_CONV_C] / g) *
         p[EMBER_RT_CONV_KH] * p[EMBER_RT_CONV_KW] * (int64_t)sizeof(float);
}

int64_t EMBER_RT_NAME(conv_workspace_size)(const int64_t *p) {
  (void)p;
  return 0;
}

int32_t EMBER_RT_NAME(conv_pack)(const int64_t *p, const float *w,
                                 void *packed) {
  int64_t n = EMBER_RT_NAME(conv_packed_size)(p) / (int64_t)sizeof(float) *
              p[EMBER_RT_CONV_GROUPS];
  float *d = (float *)packed;
  for (int64_t i = 0; i < n; ++i)
    d[i] = w[i];
  return 0;
}

int32_t EMBER_RT_NAME(conv2d)(const int64_t *p, const float *x, const void *wv,
                              const float *bias, const float *res, float *y,
                              float lo, float hi, uint8_t *workspace) {
  const float *w = (const float *)wv;
  int64_t N = p[EMBER_RT_CONV_N], C = p[EMBER_RT_CONV_C],
          H = p[EMBER_RT_CONV_H], W = p[EMBER_RT_CONV_W],
          OC = p[EMBER_RT_CONV_OC], OH = p[EMBER_RT_CONV_OH],
          OW = p[EMBER_RT_CONV_OW], KH = p[EMBER_RT_CONV_KH],
          KW = p[EMBER_RT_CONV_KW], SH = p[EMBER_RT_CONV_SH],
          SW = p[EMBER_RT_CONV_SW], PT = p[EMBER_RT_CONV_PT],
          PL = p[EMBER_RT_CONV_PL], DH = p[EMBER_RT_CONV_DH],
          DW = p[EMBER_RT_CONV_DW], G = p[EMBER_RT_CONV_GROUPS];
  int64_t cg = C / G, ocg = OC / G;
  (void)workspace;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t oc = 0; oc < OC; ++oc) {
      int64_t g = oc / ocg;
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ++ow) {
          float acc = 0.0f;
          for (int64_t c = 0; c < cg; ++c)
            for (int64_t kh = 0; kh < KH; ++kh) {
              int64_t ih = oh * SH - PT + kh * DH;
              if (ih < 0 || ih >= H)
                continue;
              for (int64_t kw = 0; kw < KW; ++kw) {
                int64_t iw = ow * SW - PL + kw * DW;
                if (iw < 0 || iw >= W)
                  continue;
                acc += x[((n * C + g * cg + c) * H + ih) * W + iw] *
                       w[((oc * cg + c) * KH + kh) * KW + kw];
              }
            }
          int64_t o = ((n * OC + oc) * OH + oh) * OW + ow;
          y[o] = epilogue(acc, bias, oc, p[EMBER_RT_CONV_POST_RES] ? 0 : res, o,
                          p[EMBER_RT_CONV_ACT], p[EMBER_RT_CONV_RES_AFTER], lo,
                          hi);
        }
    }
  finish(y, N * OC * OH * OW, res, p[EMBER_RT_CONV_POST],
         p[EMBER_RT_CONV_POST_RES], p[EMBER_RT_CONV_ROUND_F16]);
  return 0;
}

int64_t EMBER_RT_NAME(gemm_packed_size)(const int64_t *p) {
  return p[EMBER_RT_GEMM_K] * p[EMBER_RT_GEMM_N] * (int64_t)sizeof(float);
}

int64_t EMBER_RT_NAME(gemm_workspace_size)(const int64_t *p) {
  (void)p;
  return 0;
}

int32_t EMBER_RT_NAME(gemm_pack)(const int64_t *p, const float *b,
                                 void *packed) {
  int64_t K = p[EMBER_RT_GEMM_K], N = p[EMBER_RT_GEMM_N],
          ldb = p[EMBER_RT_GEMM_LDB];
  float *d = (float *)packed;
  for (int64_t k = 0; k < K; ++k)
    for (int64_t n = 0; n < N; ++n)
      d[k * N + n] = b[k * ldb + n];
  return 0;
}

int32_t EMBER_RT_NAME(gemm)(const int64_t *p, const float *a, const void *bv,
                            const float *bias, const float *res, float *c,
                            float lo, float hi, uint8_t *workspace) {
  const float *b = (const float *)bv;
  int64_t M = p[EMBER_RT_GEMM_M], N = p[EMBER_RT_GEMM_N],
          K = p[EMBER_RT_GEMM_K], lda = p[EMBER_RT_GEMM_LDA],
          ldb = p[EMBER_RT_GEMM_B_PACKED] ? N : p[EMBER_RT_GEMM_LDB],
          ldc = p[EMBER_RT_GEMM_LDC];
  const int64_t *bd = p + EMBER_RT_GEMM_BATCH0;
  int64_t batches = bd[0] * bd[4] * bd[8] * bd[12];
  (void)workspace;
  for (int64_t bi = 0; bi < batches; ++bi) {
    int64_t ao = 0, bo = 0, co = 0, rest = bi;
    for (int d = 3; d >= 0; --d) {
      int64_t i = rest % bd[4 * d];
      rest /= bd[4 * d];
      ao += i * bd[4 * d + 1];
      bo += i * bd[4 * d + 2];
      co += i * bd[4 * d + 3];
    }
    for (int64_t m = 0; m < M; ++m)
      for (int64_t n = 0; n < N; ++n) {
        float acc = 0.0f;
        for (int64_t k = 0; k < K; ++k)
          acc += a[ao + m * lda + k] * b[bo + k * ldb + n];
        int64_t o = co + m * ldc + n;
        c[o] =
            epilogue(acc, bias, n, p[EMBER_RT_GEMM_POST_RES] ? 0 : res, o,
                     p[EMBER_RT_GEMM_ACT], p[EMBER_RT_GEMM_RES_AFTER], lo, hi);
      }
    for (int64_t m = 0; m < M; ++m)
      finish(c + co + m * ldc, N, res ? res + co + m * ldc : 0,
             p[EMBER_RT_GEMM_POST], p[EMBER_RT_GEMM_POST_RES],
             p[EMBER_RT_GEMM_ROUND_F16]);
  }
  return 0;
}

/* a * b + c rounded once (fmaf without libc): the product is exact in
 * double, the sum rounded to odd in double (TwoSum's error term), so
 * rounding it to float is the correctly rounded fused result. */
static float fma_f32(float a, float b, float c) {
  double p = (double)a * (double)b, s = p + (double)c;
  double bb = s - p, e = (p - (s - bb)) + ((double)c - bb);
  if (e != 0.0 && s - s == 0.0) {
    union {
      double d;
      uint64_t u;
    } v;
    v.d = s;
    if ((v.u & 1u) == 0)
      v.u = (e > 0.0) == (s > 0.0) ? v.u + 1u : v.u - 1u;
    s = v.d;
  }
  return (float)s;
}

int64_t EMBER_RT_NAME(conv_transpose_workspace_size)(const int64_t *p) {
  (void)p;
  return 0;
}

int32_t EMBER_RT_NAME(conv_transpose)(const int64_t *p, const float *x,
                                      const float *wT, const float *bias,
                                      float *y, uint8_t *workspace) {
  int64_t N = p[EMBER_RT_CONV_N], C = p[EMBER_RT_CONV_C],
          H = p[EMBER_RT_CONV_H], W = p[EMBER_RT_CONV_W],
          OC = p[EMBER_RT_CONV_OC], OH = p[EMBER_RT_CONV_OH],
          OW = p[EMBER_RT_CONV_OW], KH = p[EMBER_RT_CONV_KH],
          KW = p[EMBER_RT_CONV_KW], SH = p[EMBER_RT_CONV_SH],
          SW = p[EMBER_RT_CONV_SW], PT = p[EMBER_RT_CONV_PT],
          PL = p[EMBER_RT_CONV_PL], DH = p[EMBER_RT_CONV_DH],
          DW = p[EMBER_RT_CONV_DW], G = p[EMBER_RT_CONV_GROUPS];
  int64_t cg = C / G, ocg = OC / G, KK = KH * KW, M = ocg * KK;
  int xN = p[EMBER_RT_CONVT_X_NHWC] != 0, yN = p[EMBER_RT_CONVT_Y_NHWC] != 0;
  /* Element strides of x (channel, pixel) and y (channel, pixel). */
  int64_t xc = xN ? 1 : H * W, xp = xN ? C : 1;
  int64_t yc = yN ? 1 : OH * OW, yp = yN ? OC : 1;
  /* The reference's (and ONNX Runtime's) order: each tap's sum over the
   * group's channels a fused multiply-add chain in MLAS's K blocks, the
   * blocks added in order; each element adds its taps from zero in
   * (kh, kw) order, then the bias. */
  int64_t sk =
      ember_mlas_sgemm_stride_k(H * W, cg, p[EMBER_RT_CONVT_COMPUTED_W] != 0);
  (void)workspace;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t oc = 0; oc < OC; ++oc)
      for (int64_t q = 0; q < OH * OW; ++q)
        y[n * OC * OH * OW + oc * yc + q * yp] = 0.0f;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t g = 0; g < G; ++g)
      for (int64_t r = 0; r < M; ++r) {
        int64_t oc = r / KK, kh = (r % KK) / KW, kw = r % KW;
        const float *xi = x + n * C * H * W + g * cg * xc;
        float *yo = y + n * OC * OH * OW + (g * ocg + oc) * yc;
        for (int64_t ih = 0; ih < H; ++ih) {
          int64_t oh = ih * SH + kh * DH - PT;
          if (oh < 0 || oh >= OH)
            continue;
          for (int64_t iw = 0; iw < W; ++iw) {
            int64_t ow = iw * SW + kw * DW - PL;
            if (ow < 0 || ow >= OW)
              continue;
            float acc = 0.0f;
            for (int64_t k0 = 0; k0 < cg; k0 += sk) {
              float part = 0.0f;
              for (int64_t c = k0; c < cg && c < k0 + sk; ++c) {
                float wv = yN ? wT[(g * cg + c) * M + (r % KK) * ocg + oc]
                              : wT[(g * M + r) * cg + c];
                part = fma_f32(wv, xi[c * xc + (ih * W + iw) * xp], part);
              }
              acc = k0 == 0 ? part : acc + part;
            }
            yo[(oh * OW + ow) * yp] += acc;
          }
        }
      }
  if (bias)
    for (int64_t n = 0; n < N; ++n)
      for (int64_t oc = 0; oc < OC; ++oc)
        for (int64_t q = 0; q < OH * OW; ++q)
          y[n * OC * OH * OW + oc * yc + q * yp] += bias[oc];
  return 0;
}

int32_t EMBER_RT_NAME(conv_transpose_pack)(const int64_t *p, const float *w,
                                           float *wT) {
  int64_t G = p[EMBER_RT_CONV_GROUPS], cg = p[EMBER_RT_CONV_C] / G;
  int64_t KK = p[EMBER_RT_CONV_KH] * p[EMBER_RT_CONV_KW],
          ocg = p[EMBER_RT_CONV_OC] / G, M = ocg * KK;
  int yN = p[EMBER_RT_CONVT_Y_NHWC] != 0;
  for (int64_t g = 0; g < G; ++g)
    for (int64_t c = 0; c < cg; ++c)
      for (int64_t oc = 0; oc < ocg; ++oc)
        for (int64_t k = 0; k < KK; ++k) {
          float v = w[((g * cg + c) * ocg + oc) * KK + k];
          if (yN)
            wT[(g * cg + c) * M + k * ocg + oc] = v;
          else
            wT[(g * M + oc * KK + k) * cg + c] = v;
        }
  return 0;
}

/* ---- RNN / GRU / LSTM (RtRecurrent.h) over plain loops -------------------
 * exp, tanh and sigmoid as Ember's f32 functions compute them
 * (ember/math/Exp.h, Tanh.h, Sigmoid.h: the same steps and constants,
 * F32Constants.h), with separate multiplies and adds (no libc fmaf here),
 * so within a few ulp of them. */
#include "RtRecurrent.h"
#include "ember/math/F32Constants.h"

static float rtp_round_even(float v) { /* |v| < 2^22 */
  float m = v < 0.0f ? -12582912.0f : 12582912.0f;
  return (v + m) - m;
}

static float rtp_pow2(float n) { /* n an integer in [-126, 127] */
  union {
    uint32_t u;
    float f;
  } b;
  b.u = (uint32_t)((int32_t)n + 127) << 23;
  return b.f;
}

/* c[0] + t * (c[1] + t * (... + t * c[6])). */
static float rtp_horner7(const float *c, float t) {
  float q = c[6];
  int i;
  for (i = 5; i >= 0; --i)
    q = q * t + c[i];
  return q;
}

static float rtp_exp(float x) {
  static const float c[] = {EMBER_MATH_EXP_POLY};
  float xc, n, r, n1;
  if (x != x)
    return x;
  xc = x < EMBER_MATH_EXP_MIN   ? EMBER_MATH_EXP_MIN
       : x > EMBER_MATH_EXP_MAX ? EMBER_MATH_EXP_MAX
                                : x;
  n = rtp_round_even(xc * EMBER_MATH_EXP_LOG2E);
  r = xc - n * EMBER_MATH_EXP_LN2_HI;
  r = r - n * EMBER_MATH_EXP_LN2_LO;
  n1 = rtp_round_even(n * 0.5f);
  return rtp_horner7(c, r) * rtp_pow2(n1) * rtp_pow2(n - n1);
}

static float rtp_tanh(float x) {
  static const float k[] = {EMBER_MATH_TANH_POLY};
  float ax = x < 0.0f ? -x : x, v;
  if (x != x)
    return x;
  if (ax <= EMBER_MATH_TANH_SMALL)
    return x + x * (x * x) * rtp_horner7(k, x * x);
  ax = ax > EMBER_MATH_TANH_CLAMP ? EMBER_MATH_TANH_CLAMP : ax;
  v = 1.0f - 2.0f / (rtp_exp(ax + ax) + 1.0f);
  return x < 0.0f ? -v : v;
}

/* One exp, of -|x|: 1 / (1 + e) for x >= 0, e / (1 + e) below. */
static float rtp_sigmoid(float x) {
  float e = rtp_exp(x < 0.0f ? x : -x);
  return (x < 0.0f ? e : 1.0f) / (1.0f + e);
}

static int32_t rtp_rnn_project(void *ctx, const float *x, int64_t rows,
                               int64_t k, const float *wt, int64_t n,
                               const float *bias, float *y) {
  (void)ctx;
  for (int64_t r = 0; r < rows; ++r) {
    float *yr = y + r * n;
    for (int64_t j = 0; j < n; ++j)
      yr[j] = bias[j];
    for (int64_t i = 0; i < k; ++i) {
      float xv = x[r * k + i];
      for (int64_t j = 0; j < n; ++j)
        yr[j] += xv * wt[i * n + j];
    }
  }
  return 0;
}

static void rtp_rnn_gemm(void *ctx, int64_t m, int64_t k, int64_t n,
                         const float *a, int64_t lda, const float *bt,
                         int64_t ldb, float *c, int64_t ldc, int split) {
  (void)ctx;
  (void)split;
  for (int64_t r = 0; r < m; ++r)
    for (int64_t i = 0; i < k; ++i)
      for (int64_t j = 0; j < n; ++j)
        c[r * ldc + j] += a[r * lda + i] * bt[i * ldb + j];
}

static int64_t rtp_rnn_row_pieces(void *ctx, int64_t rows, int64_t macsPerRow) {
  (void)ctx;
  (void)rows;
  (void)macsPerRow;
  return 1; /* serial */
}

static void rtp_rnn_sigmoid(void *ctx, float *v, int64_t n) {
  (void)ctx;
  for (int64_t i = 0; i < n; ++i)
    v[i] = rtp_sigmoid(v[i]);
}

static void rtp_rnn_tanh(void *ctx, float *v, int64_t n) {
  (void)ctx;
  for (int64_t i = 0; i < n; ++i)
    v[i] = rtp_tanh(v[i]);
}

int64_t EMBER_RT_NAME(recurrent_packed_size)(const int64_t *p) {
  return ember_rnn_packed_floats(p) * (int64_t)sizeof(float);
}

int64_t EMBER_RT_NAME(recurrent_scratch_size)(const int64_t *p) {
  return ember_rnn_scratch_floats(p) * (int64_t)sizeof(float);
}

int64_t EMBER_RT_NAME(recurrent_workspace_size)(const int64_t *p) {
  (void)p;
  return 0;
}

int32_t EMBER_RT_NAME(recurrent_pack)(const int64_t *p, const float *w,
                                      const float *r, const float *b,
                                      float *packed) {
  return ember_rnn_pack(p, w, r, b, packed);
}

int32_t EMBER_RT_NAME(recurrent)(const int64_t *p, void *const *ptrs,
                                 uint8_t *workspace) {
  ember_rnn_hooks hk = {0,
                        rtp_rnn_project,
                        rtp_rnn_gemm,
                        rtp_rnn_row_pieces,
                        rtp_rnn_sigmoid,
                        rtp_rnn_tanh};
  (void)workspace;
  return ember_rnn_run(p, ptrs, &hk);
}
