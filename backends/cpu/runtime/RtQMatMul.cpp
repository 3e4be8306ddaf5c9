// The int8 matmul whose B is computed at run time (RtAbi.h, ember_rt_qgemm
// with B_DYNAMIC): attention's Q x K^T and P x V in int8 transformers.
// Each task takes one batch matrix (or a band of its rows): B's K x N
// bytes are packed into the worker's workspace with the zero-point and bias
// terms (packQB; a u8 B is read as s8 with its sign bit flipped and its
// zero point moved by 128, which leaves every B - zp unchanged), then the
// library's int8 GEMM runs A's rows against it. Exact: the same integer
// sums as the reference's.
#include "RtGlue.h"
#include "RtQuant.h"

#include <algorithm>
#include <vector>

namespace ember::cpugen::rt {

using namespace ember::cpu;

namespace {

// Workspace of one task: B as s8 (when it is u8), packed B, the GEMM's own.
struct DynLayout {
  size_t copy, packed, gemm;
};

DynLayout dynLayout(const int64_t *p) {
  const size_t K = u(p[EMBER_RT_QGEMM_K]), N = u(p[EMBER_RT_QGEMM_N]);
  const Isa isa = Isa(p[EMBER_RT_QGEMM_ISA]);
  DynLayout l;
  l.copy = p[EMBER_RT_QGEMM_B_SIGNED] ? 0 : roundUp(K * N, 64);
  l.packed = roundUp(packedQBSize(K, N, isa), 64);
  l.gemm = qgemmWorkspaceSize(K, isa);
  return l;
}

size_t batchCount(const int64_t *p) {
  size_t n = 1;
  for (int d = 0; d < 4; ++d)
    n *= u(p[EMBER_RT_QGEMM_BATCH0 + 4 * d]);
  return n;
}

struct DynTask {
  const int64_t *p;
  const uint8_t *a, *b;
  const int32_t *rq;
  uint8_t *y;
  uint8_t *ws;
  size_t rowPieces;
  int64_t *packedBatch; ///< per worker: the batch its workspace holds, or -1
  int32_t status;
};

void dynWork(void *ctx, int64_t begin, int64_t end, int64_t worker) {
  DynTask &t = *static_cast<DynTask *>(ctx);
  const int64_t *p = t.p;
  const size_t M = u(p[EMBER_RT_QGEMM_M]), K = u(p[EMBER_RT_QGEMM_K]),
               N = u(p[EMBER_RT_QGEMM_N]);
  const Isa isa = Isa(p[EMBER_RT_QGEMM_ISA]);
  const bool bSigned = p[EMBER_RT_QGEMM_B_SIGNED] != 0;
  const int64_t sc = p[EMBER_RT_QGEMM_SCALE_COUNT];
  const Requantize rq =
      requantOf(p[EMBER_RT_QGEMM_Y_KIND], p[EMBER_RT_QGEMM_Y_ZP], t.rq, sc, sc,
                p[EMBER_RT_QGEMM_LO], p[EMBER_RT_QGEMM_HI],
                p[EMBER_RT_QGEMM_FLOAT_SCALE]);
  const int32_t *bias = p[EMBER_RT_QGEMM_HAS_BIAS] ? t.rq + 2 * sc : nullptr;
  const size_t es = p[EMBER_RT_QGEMM_Y_KIND] == EMBER_RT_Y_I32 ? 4 : 1;
  // B's zero point in the s8 domain the packing reads B in.
  const int8_t bzp = int8_t(p[EMBER_RT_QGEMM_B_ZP] - (bSigned ? 0 : 128));
  const DynLayout l = dynLayout(p);
  uint8_t *ws = t.ws + size_t(worker) * u(p[EMBER_RT_QGEMM_WS_BYTES]);
  int8_t *copy = reinterpret_cast<int8_t *>(ws);
  uint8_t *packed = ws + l.copy;
  uint8_t *gemmWs = packed + l.packed;
  for (int64_t task = begin; task < end; ++task) {
    size_t batch = size_t(task) / t.rowPieces;
    size_t m0, m1;
    pieceRange(M, t.rowPieces, rowGranule(isa), size_t(task) % t.rowPieces, m0,
               m1);
    if (m0 == m1)
      continue;
    // The batch index's element offsets into A, B and the result.
    size_t aOff = 0, bOff = 0, yOff = 0, rest = batch;
    for (int d = 3; d >= 0; --d) {
      const int64_t *slot = p + EMBER_RT_QGEMM_BATCH0 + 4 * d;
      size_t e = u(slot[0]), i = rest % e;
      rest /= e;
      aOff += i * u(slot[1]);
      bOff += i * u(slot[2]);
      yOff += i * u(slot[3]);
    }
    // A band of the batch this worker packed last (its previous task of
    // this call) reuses the packed B in its workspace.
    Status s = Status::Ok;
    if (t.packedBatch[worker] != int64_t(batch)) {
      const uint8_t *bm = t.b + bOff;
      const int8_t *bs = reinterpret_cast<const int8_t *>(bm);
      if (!bSigned) {
        for (size_t i = 0; i < K * N; ++i)
          copy[i] = int8_t(bm[i] ^ 0x80);
        bs = copy;
      }
      s = packQB(K, N, bs, N, int32_t(p[EMBER_RT_QGEMM_A_ZP]), &bzp, 1, bias,
                 packed, isa, p[EMBER_RT_QGEMM_A_SIGNED] != 0,
                 QPackExtra::None);
      t.packedBatch[worker] = s == Status::Ok ? int64_t(batch) : -1;
    }
    if (s == Status::Ok)
      s = qgemmPacked(M, N, K, t.a + aOff, K, packed, t.y + yOff * es, N, rq,
                      isa, m0, m1, gemmWs);
    if (s != Status::Ok)
      t.status = int32_t(s);
  }
}

} // namespace

size_t qgemmDynamicBWorkspace(const int64_t *p) {
  const DynLayout l = dynLayout(p);
  return l.copy + l.packed + l.gemm;
}

int32_t qgemmDynamicB(const int64_t *p, const uint8_t *a, const uint8_t *b,
                      const int32_t *rq, void *y, uint8_t *workspace) {
  const size_t M = u(p[EMBER_RT_QGEMM_M]);
  const size_t batches = batchCount(p);
  const size_t workers = size_t(ember_rt_num_workers());
  // Whole batch matrices a task when there are enough of them; else bands
  // of rows (a worker packs a batch's B once for the bands it runs one
  // after another; a band another worker takes packs it again: K x N bytes
  // against M x K x N / pieces multiply-adds).
  size_t rowPieces = 1;
  const size_t granule = rowGranule(Isa(p[EMBER_RT_QGEMM_ISA]));
  if (workers > 1 && batches < 2 * workers)
    rowPieces =
        std::max<size_t>(1, std::min((M + granule - 1) / granule,
                                     (2 * workers + batches - 1) / batches));
  std::vector<int64_t> packedBatch(workers, -1);
  DynTask t{p,
            a,
            b,
            rq,
            static_cast<uint8_t *>(y),
            workspace,
            rowPieces,
            packedBatch.data(),
            0};
  const int64_t tasks = int64_t(batches * rowPieces);
  if (workers == 1 || tasks < 2)
    dynWork(&t, 0, tasks, 0);
  else
    ember_rt_parallel_for(dynWork, &t, tasks);
  return t.status;
}

} // namespace ember::cpugen::rt
