/* The recurrent cells of RtAbi.h (RNN, GRU, LSTM) written once, in C, over
 * hooks for the heavy parts: the input projection of all steps, the
 * per-step product h x R^T and how a step's rows spread over the workers,
 * and the Sigmoid/Tanh activations. RtPortable.c
 * instantiates it with plain loops (freestanding: no libc, its own exp);
 * RtRecurrent.cpp with the kernel library's SGEMM over the workers, its
 * few-row product (stepGemmAccumulate) and its vector sigmoid/tanh (Ember's
 * f32 functions, ember/math). Everything else (sequence lengths, directions,
 * layouts, the gates' order and algebra, clip, peepholes, the other
 * activations) is here and is the reference kernel's
 * (interp/kernels/Recurrent.cpp), in f32.
 *
 * Included by C (c99) and C++ translation units: static functions and
 * explicit casts only. */
#ifndef EMBER_CPU_RTRECURRENT_H
#define EMBER_CPU_RTRECURRENT_H

#include "RtAbi.h"

#include <stddef.h>
#include <stdint.h>

typedef struct ember_rnn_hooks {
  void *ctx;
  /* y[rows][n] = x[rows][k] x wt[k][n] + bias[n]. Non-zero: failure. */
  int32_t (*project)(void *ctx, const float *x, int64_t rows, int64_t k,
                     const float *wt, int64_t n, const float *bias, float *y);
  /* c[m][0..n) += a[m][k] x bt[k][0..n): the step's state rows times R^T
   * (row strides lda, ldb, ldc); `split`: it may spread over the workers
   * (not from inside a row piece's task). */
  void (*gemm)(void *ctx, int64_t m, int64_t k, int64_t n, const float *a,
               int64_t lda, const float *bt, int64_t ldb, float *c, int64_t ldc,
               int split);
  /* How many pieces a step's `rows` batch rows run in over the workers,
   * given each row's multiply-adds (1: one piece, on the caller). */
  int64_t (*row_pieces)(void *ctx, int64_t rows, int64_t macsPerRow);
  /* v[i] = sigmoid(v[i]) / tanh(v[i]), i < n. */
  void (*sigmoid)(void *ctx, float *v, int64_t n);
  void (*tanh)(void *ctx, float *v, int64_t n);
} ember_rnn_hooks;

static int64_t ember_rnn_gates(const int64_t *p) {
  return p[EMBER_RT_RNN_CELL] == EMBER_RT_RNN_CELL_RNN   ? 1
         : p[EMBER_RT_RNN_CELL] == EMBER_RT_RNN_CELL_GRU ? 3
                                                         : 4;
}

static float ember_rnn_bits_f32(int64_t bits) {
  union {
    uint32_t u;
    float f;
  } v;
  v.u = (uint32_t)bits;
  return v.f;
}

/* Floats of one direction's packed weights (W^T, R^T, the folded bias,
 * GRU's Rb of the h gate), and of all of them. */
static int64_t ember_rnn_dir_floats(const int64_t *p) {
  int64_t H = p[EMBER_RT_RNN_H], GH = ember_rnn_gates(p) * H;
  return p[EMBER_RT_RNN_I] * GH + H * GH + GH + H;
}
static int64_t ember_rnn_packed_floats(const int64_t *p) {
  return p[EMBER_RT_RNN_D] * ember_rnn_dir_floats(p);
}

static int32_t ember_rnn_pack(const int64_t *p, const float *w, const float *r,
                              const float *b, float *packed) {
  int64_t G = ember_rnn_gates(p), H = p[EMBER_RT_RNN_H], I = p[EMBER_RT_RNN_I],
          GH = G * H, D = p[EMBER_RT_RNN_D], d, row, i, j;
  int gru = p[EMBER_RT_RNN_CELL] == EMBER_RT_RNN_CELL_GRU,
      lbr = gru && p[EMBER_RT_RNN_LBR] != 0;
  for (d = 0; d < D; ++d) {
    float *wt = packed + d * ember_rnn_dir_floats(p), *rt = wt + I * GH,
          *bx = rt + H * GH, *rbh = bx + GH;
    for (row = 0; row < GH; ++row) {
      for (i = 0; i < I; ++i)
        wt[i * GH + row] = w[(d * GH + row) * I + i];
      for (i = 0; i < H; ++i)
        rt[i * GH + row] = r[(d * GH + row) * H + i];
      /* Rb folds into the projection except GRU's h gate with
       * linear_before_reset (r multiplies R_h h + Rb_h). */
      bx[row] = b ? b[d * 2 * GH + row] : 0.0f;
      if (b && !(lbr && row >= 2 * H))
        bx[row] += b[d * 2 * GH + GH + row];
    }
    for (j = 0; j < H; ++j)
      rbh[j] = lbr && b ? b[d * 2 * GH + GH + 2 * H + j] : 0.0f;
  }
  return 0;
}

/* Scratch floats: one direction's projection, then per batch row h, c,
 * the gates and two H-vectors. */
static int64_t ember_rnn_scratch_floats(const int64_t *p) {
  int64_t GH = ember_rnn_gates(p) * p[EMBER_RT_RNN_H], H = p[EMBER_RT_RNN_H],
          B = p[EMBER_RT_RNN_B], rows = p[EMBER_RT_RNN_S] * B;
  return rows * GH + B * (4 * H + GH) + 64;
}

/* One activation of ACT0 (code k) on v[0..n), after the clip when `clip`
 * (every gate's input; not the cell state LSTM's h activation reads).
 * Sigmoid and Tanh through the hooks, the others here. */
static void ember_rnn_act(const int64_t *p, const ember_rnn_hooks *hk,
                          int64_t k, float *v, int64_t n, int clip) {
  int64_t code = p[EMBER_RT_RNN_ACT0 + 3 * k], i;
  float a = ember_rnn_bits_f32(p[EMBER_RT_RNN_ACT0 + 3 * k + 1]),
        be = ember_rnn_bits_f32(p[EMBER_RT_RNN_ACT0 + 3 * k + 2]);
  if (clip && p[EMBER_RT_RNN_HAS_CLIP]) {
    float c = ember_rnn_bits_f32(p[EMBER_RT_RNN_CLIP]);
    for (i = 0; i < n; ++i)
      v[i] = v[i] < -c ? -c : v[i] > c ? c : v[i];
  }
  switch (code) {
  case EMBER_RT_RNN_SIGMOID:
    hk->sigmoid(hk->ctx, v, n);
    return;
  case EMBER_RT_RNN_TANH:
    hk->tanh(hk->ctx, v, n);
    return;
  case EMBER_RT_RNN_SCALED_TANH: /* alpha tanh(beta x) */
    for (i = 0; i < n; ++i)
      v[i] *= be;
    hk->tanh(hk->ctx, v, n);
    for (i = 0; i < n; ++i)
      v[i] *= a;
    return;
  case EMBER_RT_RNN_ELU: /* x >= 0 ? x : alpha (e^x - 1): e^x = s / (1 - s) */
    for (i = 0; i < n; ++i) {
      float x = v[i], s = x;
      if (x >= 0.0f)
        continue;
      hk->sigmoid(hk->ctx, &s, 1);
      v[i] = a * (s / (1.0f - s) - 1.0f);
    }
    return;
  default:
    break;
  }
  for (i = 0; i < n; ++i) {
    float x = v[i];
    switch (code) {
    case EMBER_RT_RNN_RELU:
      x = x > 0.0f ? x : 0.0f;
      break;
    case EMBER_RT_RNN_AFFINE:
      x = a * x + be;
      break;
    case EMBER_RT_RNN_LEAKY_RELU:
      x = x >= 0.0f ? x : a * x;
      break;
    case EMBER_RT_RNN_THRESHOLDED_RELU:
      x = x > a ? x : 0.0f;
      break;
    case EMBER_RT_RNN_HARD_SIGMOID:
      x = a * x + be;
      x = x < 0.0f ? 0.0f : x > 1.0f ? 1.0f : x;
      break;
    default: /* Softsign */
      x = x / (1.0f + (x < 0.0f ? -x : x));
      break;
    }
    v[i] = x;
  }
}

static void ember_rnn_copy(float *dst, const float *src, int64_t n) {
  int64_t i;
  for (i = 0; i < n; ++i)
    dst[i] = src ? src[i] : 0.0f;
}

static int64_t ember_rnn_len(const int64_t *p, const void *lens, int64_t b) {
  if (p[EMBER_RT_RNN_LENS_BYTES] == 4)
    return ((const int32_t *)lens)[b];
  if (p[EMBER_RT_RNN_LENS_BYTES] == 8)
    return ((const int64_t *)lens)[b];
  return p[EMBER_RT_RNN_S];
}

/* Where batch row b's state of direction d sits in initial_h/c, Y_h, Y_c. */
static int64_t ember_rnn_state_index(const int64_t *p, int64_t d, int64_t b) {
  return p[EMBER_RT_RNN_LAYOUT]
             ? (b * p[EMBER_RT_RNN_D] + d) * p[EMBER_RT_RNN_H]
             : (d * p[EMBER_RT_RNN_B] + b) * p[EMBER_RT_RNN_H];
}

/* One direction's state during a call, and the step being run. */
typedef struct ember_rnn_dir {
  const int64_t *p;
  const ember_rnn_hooks *hk;
  const void *lens;
  const float *xw, *rt, *rbh, *pi, *po, *pf;
  float *y, *hs, *cs, *gs, *t1s, *t2s;
  int64_t d, s, a0;
  int64_t pieces; /* row pieces a step runs in, over the workers */
  int rev;
} ember_rnn_dir;

/* The time index batch row b reads at step st->s, or -1 past its length. */
static int64_t ember_rnn_time(const ember_rnn_dir *st, int64_t b) {
  int64_t len = ember_rnn_len(st->p, st->lens, b);
  if (st->s >= len)
    return -1;
  return st->rev ? len - 1 - st->s : st->s;
}

/* Row b's projection at time t (rows in X's memory order). */
static const float *ember_rnn_xw_row(const ember_rnn_dir *st, int64_t b,
                                     int64_t t) {
  const int64_t *p = st->p;
  int64_t GH = ember_rnn_gates(p) * p[EMBER_RT_RNN_H];
  return st->xw + (p[EMBER_RT_RNN_LAYOUT] ? b * p[EMBER_RT_RNN_S] + t
                                          : t * p[EMBER_RT_RNN_B] + b) *
                      GH;
}

/* Step st->s of batch rows [b0, b1): their gates from the projection, one
 * product of their states with R^T (a row past its length computes on and
 * is ignored), then each live row's cell. */
static void ember_rnn_rows(const ember_rnn_dir *st, int64_t b0, int64_t b1) {
  const int64_t *p = st->p;
  const ember_rnn_hooks *hk = st->hk;
  int64_t cell = p[EMBER_RT_RNN_CELL], S = p[EMBER_RT_RNN_S],
          B = p[EMBER_RT_RNN_B], H = p[EMBER_RT_RNN_H], D = p[EMBER_RT_RNN_D],
          layout = p[EMBER_RT_RNN_LAYOUT], GH = ember_rnn_gates(p) * H,
          a0 = st->a0, m = b1 - b0, b, j;
  int lbr = p[EMBER_RT_RNN_LBR] != 0,
      forget = p[EMBER_RT_RNN_INPUT_FORGET] != 0,
      gru = cell == EMBER_RT_RNN_CELL_GRU;
  const float *rt = st->rt, *pi = st->pi, *po = st->po, *pf = st->pf;
  for (b = b0; b < b1; ++b) {
    int64_t t = ember_rnn_time(st, b);
    float *g = st->gs + b * GH;
    if (t < 0)
      continue;
    ember_rnn_copy(g, ember_rnn_xw_row(st, b, t), gru ? 2 * H : GH);
    /* GRU: the h gate's R_h h (+ Rb_h) stays apart from its projection
     * (linear_before_reset) or is a product of its own. */
    if (gru)
      ember_rnn_copy(g + 2 * H, lbr ? st->rbh : 0, H);
  }
  /* One piece of rows: its product may spread over the workers. */
  int split = st->pieces <= 1;
  hk->gemm(hk->ctx, m, H, gru && !lbr ? 2 * H : GH, st->hs + b0 * H, H, rt, GH,
           st->gs + b0 * GH, GH, split);
  if (gru) {
    /* gates z, r, h */
    for (b = b0; b < b1; ++b) {
      int64_t t = ember_rnn_time(st, b);
      float *g = st->gs + b * GH, *h = st->hs + b * H, *t1 = st->t1s + b * H,
            *t2 = st->t2s + b * H;
      const float *xr;
      if (t < 0)
        continue;
      xr = ember_rnn_xw_row(st, b, t);
      ember_rnn_act(p, hk, a0, g, 2 * H, 1); /* z and r */
      for (j = 0; j < H; ++j) {
        t1[j] = lbr ? xr[2 * H + j] + g[H + j] * g[2 * H + j] : xr[2 * H + j];
        t2[j] = g[H + j] * h[j];
      }
    }
    if (!lbr)
      hk->gemm(hk->ctx, m, H, H, st->t2s + b0 * H, H, rt + 2 * H, GH,
               st->t1s + b0 * H, H, split);
  }
  for (b = b0; b < b1; ++b) {
    int64_t t = ember_rnn_time(st, b);
    float *h = st->hs + b * H, *c = st->cs + b * H, *g = st->gs + b * GH,
          *t1 = st->t1s + b * H;
    if (t < 0)
      continue;
    if (cell == EMBER_RT_RNN_CELL_RNN) {
      ember_rnn_act(p, hk, a0, g, H, 1);
      ember_rnn_copy(h, g, H);
    } else if (gru) {
      ember_rnn_act(p, hk, a0 + 1, t1, H, 1);
      for (j = 0; j < H; ++j)
        h[j] = (1.0f - g[j]) * t1[j] + g[j] * h[j];
    } else {
      /* gates i, o, f, c */
      float *gi = g, *go = g + H, *gf = g + 2 * H, *gc = g + 3 * H;
      if (pi)
        for (j = 0; j < H; ++j) {
          gi[j] += pi[j] * c[j];
          gf[j] += pf[j] * c[j];
        }
      ember_rnn_act(p, hk, a0, gi, H, 1);
      if (forget)
        for (j = 0; j < H; ++j)
          gf[j] = 1.0f - gi[j];
      else
        ember_rnn_act(p, hk, a0, gf, H, 1);
      ember_rnn_act(p, hk, a0 + 1, gc, H, 1);
      for (j = 0; j < H; ++j)
        c[j] = gf[j] * c[j] + gi[j] * gc[j];
      if (po)
        for (j = 0; j < H; ++j)
          go[j] += po[j] * c[j];
      ember_rnn_act(p, hk, a0, go, H, 1);
      ember_rnn_copy(t1, c, H);
      ember_rnn_act(p, hk, a0 + 2, t1, H, 0);
      for (j = 0; j < H; ++j)
        h[j] = go[j] * t1[j];
    }
    if (st->y)
      ember_rnn_copy(st->y + (layout ? ((b * S + t) * D + st->d) * H
                                     : ((t * D + st->d) * B + b) * H),
                     h, H);
  }
}

/* Row piece i of `pieces` (ember_rt_parallel_for's task). */
static void ember_rnn_rows_task(void *ctx, int64_t begin, int64_t end,
                                int64_t worker) {
  const ember_rnn_dir *st = (const ember_rnn_dir *)ctx;
  int64_t B = st->p[EMBER_RT_RNN_B], i;
  (void)worker;
  for (i = begin; i < end; ++i)
    ember_rnn_rows(st, B * i / st->pieces, B * (i + 1) / st->pieces);
}

/* The whole call. Returns non-zero for a sequence length outside [0, S]
 * (EMBER_RT_STATUS_OUT_OF_RANGE) or a hook's failure. A step's rows run in
 * pieces over the workers when there are several rows and enough work
 * (then each piece's product stays on its worker); one row's product may
 * spread over the workers by columns instead (the gemm hook's choice). */
static int32_t ember_rnn_run(const int64_t *p, void *const *ptrs,
                             const ember_rnn_hooks *hk) {
  int64_t cell = p[EMBER_RT_RNN_CELL], S = p[EMBER_RT_RNN_S],
          B = p[EMBER_RT_RNN_B], I = p[EMBER_RT_RNN_I], H = p[EMBER_RT_RNN_H],
          D = p[EMBER_RT_RNN_D], GH = ember_rnn_gates(p) * H, b, maxLen = 0;
  const float *x = (const float *)ptrs[EMBER_RT_RNN_X],
              *packed = (const float *)ptrs[EMBER_RT_RNN_PACKED],
              *h0 = (const float *)ptrs[EMBER_RT_RNN_H0],
              *c0 = (const float *)ptrs[EMBER_RT_RNN_C0],
              *peep = (const float *)ptrs[EMBER_RT_RNN_P];
  float *yh = (float *)ptrs[EMBER_RT_RNN_YH],
        *yc = (float *)ptrs[EMBER_RT_RNN_YC];
  float *xw = (float *)ptrs[EMBER_RT_RNN_SCRATCH];
  ember_rnn_dir st;
  st.p = p;
  st.hk = hk;
  st.lens = ptrs[EMBER_RT_RNN_LENS];
  st.y = (float *)ptrs[EMBER_RT_RNN_Y];
  st.xw = xw;
  /* Per batch row: h, c, the gates, two H-vectors. */
  st.hs = xw + S * B * GH;
  st.cs = st.hs + B * H;
  st.gs = st.cs + B * H;
  st.t1s = st.gs + B * GH;
  st.t2s = st.t1s + B * H;
  for (b = 0; b < B; ++b) {
    int64_t l = ember_rnn_len(p, st.lens, b);
    if (l < 0 || l > S)
      return EMBER_RT_STATUS_OUT_OF_RANGE;
    maxLen = l > maxLen ? l : maxLen;
  }
  /* Steps past a row's length leave zeros in Y. */
  if (st.y && st.lens)
    ember_rnn_copy(st.y, 0, S * D * B * H);
  st.pieces = hk->row_pieces(hk->ctx, B, H * GH);
  for (st.d = 0; st.d < D; ++st.d) {
    const float *wt = packed + st.d * ember_rnn_dir_floats(p);
    int32_t status;
    st.rev = p[EMBER_RT_RNN_REVERSE] != 0 || st.d == 1;
    st.rt = wt + I * GH;
    st.rbh = st.rt + H * GH + GH;
    st.pi = peep ? peep + st.d * 3 * H : 0;
    st.po = st.pi ? st.pi + H : 0;
    st.pf = st.pi ? st.pi + 2 * H : 0;
    st.a0 = 3 * st.d; /* this direction's activations: f, g, h */
    status = hk->project(hk->ctx, x, S * B, I, wt, GH, st.rt + H * GH, xw);
    if (status)
      return status;
    for (b = 0; b < B; ++b) {
      int64_t si = ember_rnn_state_index(p, st.d, b);
      ember_rnn_copy(st.hs + b * H, h0 ? h0 + si : 0, H);
      ember_rnn_copy(st.cs + b * H,
                     c0 && cell == EMBER_RT_RNN_CELL_LSTM ? c0 + si : 0, H);
    }
    for (st.s = 0; st.s < maxLen; ++st.s) {
      if (st.pieces > 1)
        ember_rt_parallel_for(ember_rnn_rows_task, &st, st.pieces);
      else
        ember_rnn_rows(&st, 0, B);
    }
    for (b = 0; b < B; ++b) {
      int64_t si = ember_rnn_state_index(p, st.d, b);
      if (yh)
        ember_rnn_copy(yh + si, st.hs + b * H, H);
      if (yc)
        ember_rnn_copy(yc + si, st.cs + b * H, H);
    }
  }
  return 0;
}

#endif /* EMBER_CPU_RTRECURRENT_H */
