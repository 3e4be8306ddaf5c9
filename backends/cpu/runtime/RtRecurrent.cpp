// The recurrent call of RtAbi.h (ember_rt_recurrent: RNN, GRU, LSTM) over
// the kernel library: RtRecurrent.h's recurrence with the input projection
// as SGEMM row pieces over the workers, the step's state rows x R^T as the
// library's few-row product (split by columns over the workers when large) and
// its sigmoid/tanh as Ember's f32 functions on vectors. Glue like
// RtKernels.cpp, linked natively into the plugin (JIT) and compiled to
// bitcode for x86-64 bundles, so it must not depend on anything but the
// kernel library and libc.
#include "RtRecurrent.h"
#include "RtAbi.h"
#include "RtGlue.h"

#include "ember/cpu/Kernels.h"

namespace {

using namespace ember::cpu;
using namespace ember::cpugen::rt;

// At least this many multiply-adds per piece of the input projection.
constexpr size_t kProjectWorkPerPiece = size_t(1) << 17;

struct RnnCtx {
  const int64_t *p;
  Isa isa;
  uint8_t *ws;
};

struct ProjectTask {
  const RnnCtx *rc;
  const float *x, *wt, *bias;
  float *y;
  size_t rows, k, n, pieces;
  int32_t status;
};

void projectWork(void *ctx, int64_t begin, int64_t end, int64_t worker) {
  ProjectTask &t = *static_cast<ProjectTask *>(ctx);
  void *ws = t.rc->ws
                 ? t.rc->ws + size_t(worker) * u(t.rc->p[EMBER_RT_RNN_WS_BYTES])
                 : nullptr;
  Epilogue epi;
  epi.bias = t.bias;
  epi.biasAxis = BiasAxis::PerColumn;
  for (int64_t i = begin; i < end; ++i) {
    size_t r0, r1;
    pieceRange(t.rows, t.pieces, rowGranule(t.rc->isa), size_t(i), r0, r1);
    if (r0 >= r1)
      continue;
    Status s = sgemm(r1 - r0, t.n, t.k, t.x + r0 * t.k, t.k, t.wt, t.n,
                     t.y + r0 * t.n, t.n, epi, t.rc->isa, ws);
    if (s != Status::Ok)
      t.status = 1;
  }
}

int32_t project(void *ctx, const float *x, int64_t rows, int64_t k,
                const float *wt, int64_t n, const float *bias, float *y) {
  const RnnCtx &rc = *static_cast<const RnnCtx *>(ctx);
  ProjectTask t{&rc, x, wt, bias, y, u(rows), u(k), u(n), 1, 0};
  size_t workers = u(ember_rt_num_workers());
  size_t macs = t.rows * t.k * t.n;
  size_t granules = (t.rows + rowGranule(rc.isa) - 1) / rowGranule(rc.isa);
  t.pieces = std::min({workers, macs / kProjectWorkPerPiece, granules});
  if (t.pieces <= 1) {
    t.pieces = 1;
    projectWork(&t, 0, 1, 0);
  } else {
    ember_rt_parallel_for(projectWork, &t, int64_t(t.pieces));
  }
  return t.status;
}

// A step spreads over the workers once each piece has this many
// multiply-adds (a pool wake-up costs a few microseconds; one core does
// about 20 multiply-adds a nanosecond here): several batch rows by rows
// (each piece runs its rows' product and cells), one row's product by
// columns.
constexpr size_t kStepWorkPerPiece = size_t(1) << 15;

struct StepTask {
  const RnnCtx *rc;
  size_t m, k, n, lda, ldb, ldc, pieces;
  const float *a, *b;
  float *c;
};

void stepWork(void *ctx, int64_t begin, int64_t end, int64_t) {
  StepTask &t = *static_cast<StepTask *>(ctx);
  for (int64_t i = begin; i < end; ++i) {
    size_t j0, j1;
    pieceRange(t.n, t.pieces, 64, size_t(i), j0, j1);
    if (j0 < j1)
      stepGemmAccumulate(t.m, t.k, j1 - j0, t.a, t.lda, t.b + j0, t.ldb,
                         t.c + j0, t.ldc, t.rc->isa);
  }
}

void gemm(void *ctx, int64_t m, int64_t k, int64_t n, const float *a,
          int64_t lda, const float *bt, int64_t ldb, float *c, int64_t ldc,
          int split) {
  const RnnCtx &rc = *static_cast<const RnnCtx *>(ctx);
  StepTask t{&rc, u(m), u(k), u(n), u(lda), u(ldb), u(ldc), 1, a, bt, c};
  size_t pieces =
      split ? std::min({u(ember_rt_num_workers()),
                        t.m * t.k * t.n / kStepWorkPerPiece, (t.n + 63) / 64})
            : 1;
  if (pieces <= 1) {
    stepGemmAccumulate(t.m, t.k, t.n, a, t.lda, bt, t.ldb, c, t.ldc, rc.isa);
    return;
  }
  t.pieces = pieces;
  ember_rt_parallel_for(stepWork, &t, int64_t(pieces));
}

int64_t rowPieces(void *, int64_t rows, int64_t macsPerRow) {
  if (rows < 2)
    return 1;
  size_t pieces = std::min({u(ember_rt_num_workers()), u(rows),
                            u(rows * macsPerRow) / kStepWorkPerPiece});
  return pieces > 1 ? int64_t(pieces) : 1;
}

void sigmoid(void *ctx, float *v, int64_t n) {
  sigmoidF32(v, u(n), static_cast<const RnnCtx *>(ctx)->isa);
}

void tanhFn(void *ctx, float *v, int64_t n) {
  tanhF32(v, u(n), static_cast<const RnnCtx *>(ctx)->isa);
}

} // namespace

extern "C" {

int64_t ember_rt_recurrent_packed_size(const int64_t *p) {
  return ember_rnn_packed_floats(p) * int64_t(sizeof(float));
}

int64_t ember_rt_recurrent_scratch_size(const int64_t *p) {
  return ember_rnn_scratch_floats(p) * int64_t(sizeof(float));
}

int32_t ember_rt_recurrent_pack(const int64_t *p, const float *w,
                                const float *r, const float *b, float *packed) {
  return ember_rnn_pack(p, w, r, b, packed);
}

// Workspace bytes per worker: the projection's SGEMM.
int64_t ember_rt_recurrent_workspace_size(const int64_t *p) {
  return int64_t(gemmWorkspaceSize(Isa(p[EMBER_RT_RNN_ISA])));
}

int32_t ember_rt_recurrent(const int64_t *p, void *const *ptrs,
                           uint8_t *workspace) {
  RnnCtx rc{p, Isa(p[EMBER_RT_RNN_ISA]), workspace};
  ember_rnn_hooks hk{&rc, project, gemm, rowPieces, sigmoid, tanhFn};
  return ember_rnn_run(p, ptrs, &hk);
}

} // extern "C"
