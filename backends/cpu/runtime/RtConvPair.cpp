// ember_rt_conv2d_pair (RtAbi.h): a channels-last 1x1 convolution and the
// depthwise one that is the only reader of its result, in one call, a chunk
// of the depthwise step's output rows at a time through a buffer of the
// 1x1's rows in the worker's workspace (README.md, "1x1 + depthwise
// pairs"). Glue like RtKernels.cpp, whose channels-last step computes each
// chunk's rows (RtConvRows.h). Linked natively and compiled to bitcode, so
// it depends on nothing but libc.
#include "RtAbi.h"
#include "RtConvRows.h"
#include "RtGlue.h"

#include "ember/cpu/Kernels.h"

#include <algorithm>
#include <cstring>

namespace {

using namespace ember::cpugen::rt;
using ember::cpu::Status;

// Rows [a, b) of the depthwise step's input that its output rows [r0, r1)
// read (clipped to the input: the padding rows are no rows).
void pairInputRows(const int64_t *p2, size_t r0, size_t r1, size_t &a,
                   size_t &b) {
  const int64_t H = p2[EMBER_RT_CONV_H];
  const int64_t lo = int64_t(r0) * p2[EMBER_RT_CONV_SH] - p2[EMBER_RT_CONV_PT];
  const int64_t hi = int64_t(r1 - 1) * p2[EMBER_RT_CONV_SH] -
                     p2[EMBER_RT_CONV_PT] +
                     (p2[EMBER_RT_CONV_KH] - 1) * p2[EMBER_RT_CONV_DH] + 1;
  a = u(std::clamp<int64_t>(lo, 0, H));
  b = std::max(a, u(std::clamp<int64_t>(hi, 0, H)));
}

// The most input rows a chunk of PAIR_ROWS output rows reads.
size_t pairChunkInputRows(const int64_t *p2) {
  return std::min(u(p2[EMBER_RT_CONV_H]),
                  u((p2[EMBER_RT_CONV_PAIR_ROWS] - 1) * p2[EMBER_RT_CONV_SH] +
                    (p2[EMBER_RT_CONV_KH] - 1) * p2[EMBER_RT_CONV_DH] + 1));
}

// Bytes of a worker's buffer of PAIR_BUFFER_ROWS rows.
size_t pairBufferBytes(const int64_t *p2) {
  return roundUp(u(p2[EMBER_RT_CONV_PAIR_BUFFER_ROWS] * p2[EMBER_RT_CONV_W] *
                   p2[EMBER_RT_CONV_C]) *
                     sizeof(float),
                 64);
}

// `base` moved back by `floats` floats: the address of a row before a
// buffer's first one, so that a kernel that indexes rows from the top of
// the image lands in the buffer for the rows it holds (the kernels read and
// write no others).
float *rowsBefore(float *base, size_t floats) {
  return reinterpret_cast<float *>(reinterpret_cast<uintptr_t>(base) -
                                   floats * sizeof(float));
}

struct PairTask {
  const int64_t *p1, *p2; // the 1x1 and the depthwise step
  ConvOperands one, dw;   // the 1x1's y and the depthwise x: set per chunk
  uint8_t *ws;
  size_t bands; // per image
  int32_t status;
};

void pairWork(void *ctx, int64_t begin, int64_t end, int64_t worker) {
  PairTask &t = *static_cast<PairTask *>(ctx);
  const int64_t *p2 = t.p2;
  const size_t H = u(p2[EMBER_RT_CONV_H]), W = u(p2[EMBER_RT_CONV_W]);
  const size_t C = u(p2[EMBER_RT_CONV_C]);
  const size_t OH = u(p2[EMBER_RT_CONV_OH]), OW = u(p2[EMBER_RT_CONV_OW]);
  const size_t rowFloats = W * C, plane = H * W;
  const size_t chunk = u(p2[EMBER_RT_CONV_PAIR_ROWS]);
  const size_t capacity = u(p2[EMBER_RT_CONV_PAIR_BUFFER_ROWS]);
  uint8_t *slot = t.ws + size_t(worker) * u(p2[EMBER_RT_CONV_WS_BYTES]);
  float *buf = reinterpret_cast<float *>(slot);
  void *ws1 = slot + pairBufferBytes(p2);
  ConvOperands one = t.one, dw = t.dw;
  for (int64_t task = begin; task < end; ++task) {
    const size_t n = size_t(task) / t.bands, band = size_t(task) % t.bands;
    size_t r0, r1;
    pieceRange(OH, t.bands, 1, band, r0, r1);
    // The buffer holds the 1x1's rows [ba, bb) of image n, from its front.
    size_t ba = 0, bb = 0;
    for (size_t c0 = r0; c0 < r1; c0 += chunk) {
      const size_t c1 = std::min(r1, c0 + chunk);
      size_t a, b;
      pairInputRows(p2, c0, c1, a, b);
      if (a >= bb) { // (nothing shared with the chunk before)
        ba = bb = a;
      } else if (b - ba > capacity) { // keep rows [a, bb), at the front
        std::memmove(buf, buf + (a - ba) * rowFloats,
                     (bb - a) * rowFloats * sizeof(float));
        ba = a;
      }
      // Image n's result rows start `ba` rows before the buffer (the 1x1
      // indexes image n of its result, the depthwise step image n of x).
      float *virt = rowsBefore(buf, (n * plane + ba * W) * C);
      int32_t s = 0;
      if (b > bb) {
        one.y = virt;
        s = convNhwcRows(t.p1, one, n, bb * W, b * W, ws1);
        bb = b;
      }
      if (s == 0) {
        dw.x = virt;
        s = convNhwcRows(p2, dw, n, c0 * OW, c1 * OW, nullptr);
      }
      if (s != 0) {
        t.status = s;
        break;
      }
    }
  }
}

// Bands of output rows a worker for each image when there are fewer images
// than workers: each band computes again the KH - SH rows of the 1x1's
// result it shares with the band before, so one a worker.
constexpr size_t kPairBandsPerWorker = 1;

} // namespace

int64_t ember_rt_conv_pair_workspace_size(const int64_t *p1,
                                          const int64_t *p2) {
  return int64_t(pairBufferBytes(p2)) + convWorkspaceBytes(p1);
}

int32_t ember_rt_conv2d_pair(const int64_t *p1, const float *x, const void *w1,
                             const float *bias1, float lo1, float hi1,
                             const int64_t *p2, const void *w2,
                             const float *bias2, const float *residual2,
                             float *y, float lo2, float hi2,
                             uint8_t *workspace) {
  if (!p2[EMBER_RT_CONV_PAIR_ROWS] ||
      u(p2[EMBER_RT_CONV_PAIR_BUFFER_ROWS]) < pairChunkInputRows(p2) ||
      !workspace ||
      u(p2[EMBER_RT_CONV_WS_BYTES]) <
          u(ember_rt_conv_pair_workspace_size(p1, p2)))
    return int32_t(Status::InvalidArgument);
  const size_t workers = size_t(ember_rt_num_workers());
  const size_t N = u(p2[EMBER_RT_CONV_N]), OH = u(p2[EMBER_RT_CONV_OH]);
  PairTask t{p1,
             p2,
             ConvOperands{x, w1, bias1, nullptr, nullptr, lo1, hi1},
             ConvOperands{nullptr, w2, bias2, residual2, y, lo2, hi2},
             workspace,
             1,
             0};
  if (N < workers)
    t.bands = std::min(OH, (workers + N - 1) / N * kPairBandsPerWorker);
  if (N * t.bands == 1)
    pairWork(&t, 0, 1, 0);
  else
    ember_rt_parallel_for(pairWork, &t, int64_t(N * t.bands));
  return t.status;
}
