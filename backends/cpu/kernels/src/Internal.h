//===- Internal.h - the CPU kernel library's shared declarations ----------===//
//
// Not installed. The micro-kernel interface, the per-Isa kernel tables, the
// packers and the blocked GEMM driver that conv2d and sgemm share.
//
//===----------------------------------------------------------------------===//
#ifndef EMBER_CPU_KERNELS_INTERNAL_H
#define EMBER_CPU_KERNELS_INTERNAL_H

#include "ember/cpu/Kernels.h"

#include <cstddef>
#include <cstdint>

#define EMBER_TARGET_AVX2 __attribute__((target("avx2,fma")))
#define EMBER_TARGET_AVX512                                                    \
  __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,fma")))
#define EMBER_TARGET_AVX512VNNI                                                \
  __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx512vnni,fma")))

namespace ember::cpu::detail {

//===----------------------------------------------------------------------===//
// Packed-buffer header (first 64 bytes of every packed weight buffer)
//===----------------------------------------------------------------------===//

enum class PackedKind : uint32_t {
  GemmB = 0x42504d45u,  // "EMPB": fp32 B panels
  ConvA = 0x41504d45u,  // "EMPA": fp32 conv weights as A panels
  QGemmB = 0x51504d45u, // "EMPQ": s8 B panels + s32 column terms
};

struct alignas(64) PackedHeader {
  PackedKind kind;
  uint32_t panel; ///< MR (ConvA) or NR (GemmB, QGemmB)
  uint32_t mr;    ///< MR of the kernel it was packed for (informational)
  uint32_t isa;   ///< Isa it was packed for (informational)
  uint64_t rows;  ///< K (GemmB, QGemmB) or M (ConvA)
  uint64_t cols;  ///< N (GemmB, QGemmB) or K (ConvA)
  uint64_t reserved[4];
};
static_assert(sizeof(PackedHeader) == 64, "header is one cache line");

/// A packed buffer's header, and the fp32 panels after it.
inline const PackedHeader *packedHeader(const void *packed) {
  return static_cast<const PackedHeader *>(packed);
}
inline const float *packedPanels(const void *packed) {
  return reinterpret_cast<const float *>(static_cast<const char *>(packed) +
                                         sizeof(PackedHeader));
}

/// The path an fp32 request runs on (fp32 kernels treat the VNNI paths as
/// plain AVX-512 and AVX2: fp32Family).
inline Isa fp32Isa(Isa requested) { return fp32Family(requested); }

inline size_t roundUp(size_t v, size_t m) { return (v + m - 1) / m * m; }
inline size_t ceilDiv(size_t v, size_t m) { return (v + m - 1) / m; }
/// The first 64-byte boundary at or after p (workspaces carve aligned
/// buffers; their sizes include 64 bytes of slack for this).
inline char *align64(void *p) {
  char *c = static_cast<char *>(p);
  return c + (64 - reinterpret_cast<uintptr_t>(c) % 64) % 64;
}

/// The output piece of a channels-last call (conv2dNhwc and friends):
/// pixels [p0, p1) x channels [c0, c1).
struct OutPiece {
  size_t p0, p1, c0, c1;
};
/// Resolves `range` (ends 0 = to the end) against P pixels and N channels
/// and checks what every channels-last entry point needs of its epilogue
/// (no accumulate, a residual pixel stride >= N); false when invalid.
inline bool resolvePiece(const ConvRange &range, size_t P, size_t N,
                         const Epilogue &epi, OutPiece &o) {
  o = {range.pixBegin, range.pixEnd ? range.pixEnd : P, range.ocBegin,
       range.ocEnd ? range.ocEnd : N};
  return o.p0 <= o.p1 && o.p1 <= P && o.c0 <= o.c1 && o.c1 <= N &&
         !epi.accumulate && (!epi.residual || epi.ldr >= N);
}

struct GemmKernel;
/// Writes the header of B (K x N) packed as GemmB panels for kernel k;
/// `order` goes to reserved[0] (conv2dNhwc's K order; 0 for packB).
void writeGemmBHeader(void *packed, const GemmKernel &k, size_t K, size_t N,
                      uint64_t order = 0);

//===----------------------------------------------------------------------===//
// fp32 micro-kernel interface
//===----------------------------------------------------------------------===//

/// A run of consecutive K rows of an in-place B operand: rows
/// b + offset + r*stride for r in [0, count).
struct BRun {
  ptrdiff_t offset;
  size_t count;
  size_t stride;
};

/// One MR x NR output tile over one K block. `a` is a packed A micro-panel
/// (kc rows of MR floats), `b` a packed B micro-panel (kc rows of NR floats),
/// both zero-padded past the matrix edge. Only rows [rowBegin, rowEnd) and
/// columns [colBegin, colEnd) of the tile are written; `c` points at the
/// tile's (0, 0) element.
/// postActivation's body of one path (Activation.cpp, ActivationAvx2.cpp,
/// ActivationAvx512.cpp), called without the Isa dispatch.
using PostFn = void (*)(const PostOp &op, float *y, size_t ldy,
                        const float *res, size_t ldr, size_t rows, size_t cols);
/// The body postActivation runs for `isa`.
PostFn postPath(Isa isa);

struct TileArgs {
  size_t kc;
  const float *a;
  const float *b;
  float *c;
  size_t ldc;
  int rowBegin, rowEnd;
  int colBegin, colEnd;
  /// Nonzero: A is read in place, row i at a + i*lda (unit stride in k),
  /// rather than from a packed panel. Kernels with `direct` only.
  size_t lda;
  /// Non-null: B is read in place, its kc rows given as runs (summing to
  /// kc) relative to `b`. Kernels with `direct` only; columns at or past
  /// colEnd are never read.
  const BRun *bRuns;
  size_t numRuns;
  /// Strided tiles (tileStridedAvx512, tileStridedTallAvx512) only.
  /// Nonzero: every run has this many k steps (a first layer's window
  /// width), so the tile may take a body with the window unrolled.
  size_t runLength;
  /// Pointer tiles (tileRowsAvx512/Avx2): the row of zeros that taps in the
  /// padding point at. A run whose rows all point there adds nothing and
  /// is skipped (a dilated 3x3 on a small map: most of the tile's taps).
  /// Null: never skipped.
  const float *zeroRow;
  /// Software prefetch into L2 while the tile runs (AVX-512 tile): one
  /// line at `prefetch + k * prefetchStep` per k step. The driver points it
  /// at the pre-packed weights the next tiles will read, which in a whole
  /// model are cold (ResNet-50's 100 MB do not fit in any cache); step 0
  /// re-touches one line. Never null when the tile runs.
  const char *prefetch;
  size_t prefetchStep;
  /// AVX-512 tiles only. Non-null: per-column starting values of the
  /// accumulators (a per-column bias folded in before the K loop, so the
  /// common epilogue still applies).
  const float *accInit;
  bool loadC; ///< add the value already in C (later K blocks, accumulate)
  bool last;  ///< last K block: apply bias / residual / activation
  // Epilogue, already offset to the tile origin (valid when last).
  const float *biasRow; ///< per-row bias for this tile's rows, or null
  const float *biasCol; ///< per-column bias for this tile's columns, or null
  const float *residual;
  size_t ldr;
  Activation activation;
  bool residualAfterActivation;
  float clipMin, clipMax;
  /// Epilogue::post and the path's postActivation body that applies it
  /// (postPath); the tiles never read them: withPost applies it around
  /// the tile call.
  const PostOp *post;
  PostFn postFn;
  /// The post is HardSwish and the tile applies it in registers on the
  /// last K block (every AVX-512 and AVX2 tile: finishTile, storeRow8),
  /// before a residual added after the activation; withPost then leaves
  /// both to the tile.
  bool hardSwish;
};

using TileFn = void (*)(const TileArgs &);

/// Copies the epilogue's per-call options (residual stride, activation and
/// its bounds) into t; the per-tile pointers are the driver's.
inline void setTileEpilogue(TileArgs &t, const Epilogue &epi, Isa isa) {
  t.ldr = epi.ldr;
  t.activation = epi.activation;
  t.residualAfterActivation = epi.residualAfterActivation;
  t.clipMin = epi.clipMin;
  t.clipMax = epi.clipMax;
  t.post = epi.post;
  t.postFn = epi.post ? postPath(isa) : nullptr;
  t.hardSwish = (isa == Isa::Avx512 || isa == Isa::Avx2) && epi.post &&
                epi.post->kind == PostActivation::HardSwish;
}

/// Runs `tile` (a call of one tile on t) and, on the last K block with a
/// post, the post over the rows and columns the tile stored, right after
/// it: a 6 x 64 tile is 1.5 KB, still in L1, where a pass after the whole
/// call read each value back from L2 or memory. A residual added after the
/// activation is the post's (added after it, postActivation's `res`), so
/// the tile runs without it. The post is a call per tile rather than code
/// in the register epilogue: the exp of a sigmoid inlined into each of the
/// MR x NV tile bodies per operand mode would multiply their code and the
/// build's time; the reload from L1 is a load per vector beside the
/// activation's 10 to 25 operations. HardSwish's 9 operations are the
/// exception (TileArgs::hardSwish): the AVX-512 and AVX2 tiles apply it
/// themselves.
template <class F> inline void withPost(TileArgs &t, F &&tile) {
  if (!t.post || t.hardSwish || !t.last || t.rowBegin >= t.rowEnd ||
      t.colBegin >= t.colEnd) {
    tile();
    return;
  }
  const float *res = t.residual;
  const bool resAfter = res && t.residualAfterActivation;
  if (resAfter)
    t.residual = nullptr;
  tile();
  t.residual = res;
  const size_t r0 = static_cast<size_t>(t.rowBegin);
  const size_t c0 = static_cast<size_t>(t.colBegin);
  t.postFn(*t.post, t.c + r0 * t.ldc + c0, t.ldc,
           resAfter ? res + r0 * t.ldr + c0 : nullptr, t.ldr,
           static_cast<size_t>(t.rowEnd - t.rowBegin),
           static_cast<size_t>(t.colEnd - t.colBegin));
}

/// Pixels [p0, p1) x output channels [oc0, oc1) of a channels-last 1x1
/// convolution (stride 1, no pads) on the AVX-512 path with x read in place
/// (pixel stride ldx, K channels) and packedB conv2dNhwc's panels: one call
/// per column chunk of up to 64 channels runs every 6-pixel tile with the
/// whole K in one block and the epilogue (bias, activation, residual, post)
/// in registers (PointwiseNarrowAvx512.cpp). The same bits as the general
/// pointwise GEMM; meant for narrow K (conv2dNhwc's rule, kNarrowK).
void pointwiseNarrowAvx512(const float *x, size_t ldx, size_t K,
                           const void *packedB, float *y, size_t ldy,
                           const Epilogue &epi, size_t p0, size_t p1,
                           size_t oc0, size_t oc1);

/// The AVX-512 6 x 64 tile over A rows given by pointers (conv2dNhwc): for
/// run r (t.bRuns[r].count k steps; offsets and strides unused) row i reads
/// t.aRows[r * 6 + i][0 .. count), unit stride; B is a packed panel (kc
/// rows of 64). Rows past rowEnd are not read.
void tileRowsAvx512(const TileArgs &t, const float *const *aRows);
/// The same tile over rows at a fixed spacing (conv2dNhwcFromNchw's
/// interior pixels): for run r, row i reads t.a + t.bRuns[r].offset + i *
/// t.lda + [0, t.bRuns[r].count), unit stride (the runs' strides unused).
void tileStridedAvx512(const TileArgs &t);
/// The strided tile for panels with one live vector (colEnd <= 16), up to
/// 12 rows (two 6-row tiles of one output row): rows as tileStridedAvx512;
/// B is the 6 x 64 kernel's packed panel (rows of 64).
void tileStridedTallAvx512(const TileArgs &t);

/// The AVX2 6 x 16 tiles of the channels-last convolutions
/// (SgemmAvx2Nhwc.cpp): tileRowsAvx512 and tileStridedAvx512 for B panels
/// of 16 columns (packB's AVX2 layout), rows read as those read them.
void tileRowsAvx2(const TileArgs &t, const float *const *aRows);
void tileStridedAvx2(const TileArgs &t);
/// tileStridedTallAvx512 on AVX2: up to 12 rows of one vector (colEnd <=
/// 8), B the 6 x 16 panels (rows of 16).
void tileStridedTallAvx2(const TileArgs &t);

/// A micro-kernel and the cache blocking that goes with it.
struct GemmKernel {
  Isa isa;
  int mr, nr;
  size_t mc, kc, nc; ///< mc multiple of mr, nc multiple of nr
  bool direct;       ///< tile accepts TileArgs::lda / bRuns (in-place operands)
  TileFn tile;
};

/// The native fp32 kernel of each path.
const GemmKernel &gemmKernelGeneric();
const GemmKernel &gemmKernelAvx2();
const GemmKernel &gemmKernelAvx512();
/// The AVX2 6 x 16 kernel with A read in place (TileArgs::lda; A packed
/// per block is not supported) and B a packed panel: conv2dNhwc's
/// pointwise GEMM on the AVX2 path (SgemmAvx2Nhwc.cpp).
const GemmKernel &gemmKernelAvx2Direct();
/// The AVX-512 candidates the tuning program compares ([0] is the native).
const GemmKernel *gemmKernelAvx512Variants(size_t *count);
/// Native kernel for a resolved Isa.
const GemmKernel &gemmKernelFor(Isa resolved);
/// A portable kernel for a packed layout (mr, nr from a packed header; 0 =
/// any); null when no such instantiation exists.
const GemmKernel *gemmKernelGenericFor(int mr, int nr);
/// Workspace (floats) enough for every portable layout kernel.
size_t gemmMaxWorkspaceFloats();

//===----------------------------------------------------------------------===//
// Packers (portable; memory-bound)
//===----------------------------------------------------------------------===//

/// A[rows, kc] (row stride lda) -> ceil(rows/mr) panels of kc x mr,
/// zero-padded rows.
void packAPanels(size_t rows, size_t kc, const float *A, size_t lda, int mr,
                 float *dst);
/// B[kc, cols] (row stride ldb) -> ceil(cols/nr) panels of kc x nr,
/// zero-padded columns. Panel stride is kc*nr.
void packBPanels(size_t kc, size_t cols, const float *B, size_t ldb, int nr,
                 float *dst);

/// Convolution geometry for the implicit-GEMM B operand.
struct ConvGeom {
  size_t C, H, W, KH, KW, SH, SW, PT, PL, DH, DW, OH, OW;
  bool channelsInner = false; ///< K order (kh, kw, c) instead of (c, kh, kw)
};
/// The geometry of `s` (K order (c, kh, kw) unless channelsInner).
inline ConvGeom convGeometry(const Conv2DShape &s, bool channelsInner = false) {
  return ConvGeom{s.channels,   s.height,     s.width,     s.kernelH,
                  s.kernelW,    s.strideH,    s.strideW,   s.padTop,
                  s.padLeft,    s.dilationH,  s.dilationW, s.outHeight(),
                  s.outWidth(), channelsInner};
}
/// The (c, kh, kw) of im2col row k, and the step to row k+1, in g's K order.
inline void firstTap(const ConvGeom &g, size_t k, size_t &c, size_t &kh,
                     size_t &kw) {
  if (g.channelsInner) {
    c = k % g.C;
    kh = k / g.C / g.KW;
    kw = k / g.C % g.KW;
  } else {
    c = k / (g.KH * g.KW);
    kh = k % (g.KH * g.KW) / g.KW;
    kw = k % g.KW;
  }
}

inline void nextTap(const ConvGeom &g, size_t &c, size_t &kh, size_t &kw) {
  if (g.channelsInner) {
    if (++c < g.C)
      return;
    c = 0;
    if (++kw < g.KW)
      return;
    kw = 0;
    ++kh;
  } else {
    if (++kw < g.KW)
      return;
    kw = 0;
    if (++kh < g.KH)
      return;
    kh = 0;
    ++c;
  }
}

/// Rows [k0, k0+kc) x pixels [p0, p0+cols) of the im2col matrix of x, packed
/// into ceil(cols/nr) panels of kc x nr (panel stride kc*nr).
void packIm2col(const ConvGeom &g, const float *x, size_t k0, size_t kc,
                size_t p0, size_t cols, int nr, float *dst);
/// The same with AVX-512 masked loads/stores (nr a multiple of 16).
void packIm2colAvx512(const ConvGeom &g, const float *x, size_t k0, size_t kc,
                      size_t p0, size_t cols, int nr, float *dst);

//===----------------------------------------------------------------------===//
// Blocked driver
//===----------------------------------------------------------------------===//

/// Packs rows [row0, row0+rows) x depth [k0, k0+kc) of an A operand into
/// ceil(rows/mr) panels of kc x mr (zero-padded rows).
using APackFn = void (*)(const void *ctx, size_t row0, size_t rows, size_t k0,
                         size_t kc, int mr, float *dst);

/// Where the A operand comes from.
struct ASource {
  const float *packed = nullptr; ///< pre-packed [ceil(M/mr)][K][mr], or
  const float *a = nullptr;      ///< a strided matrix, packed per block
  size_t lda = 0;                ///< unless `direct` (read in place), or
  bool direct = false;
  APackFn pack = nullptr; ///< a custom packer
  const void *packCtx = nullptr;
};

/// K rows in equal-sized segments: row k = s*segRows + r lies at
/// offset[s] + r*rowStride. Lets a shifted-window convolution read every
/// (kh, kw, c) row of its implicit B matrix in place.
struct RowSegments {
  size_t segRows;
  size_t count;
  const ptrdiff_t *offset;
  size_t rowStride;
};

/// Where the B operand comes from.
struct BSource {
  const float *packed = nullptr; ///< pre-packed [ceil(N/nr)][K][nr], or
  const float *b = nullptr;      ///< a strided matrix, packed per block
  size_t ldb = 0;                ///< unless `direct` (read in place), or
  bool direct = false;
  const RowSegments *segments = nullptr; ///< direct with segmented rows, or
  const ConvGeom *conv = nullptr;        ///< the im2col matrix of image `b`
};

/// C[mBegin:mEnd, nBegin:nEnd] = A * B (+ epilogue) with BLIS-style blocking:
/// for each nc column block and kc depth block, B's block is packed (unless
/// pre-packed); for each mc row block A's block is packed (unless
/// pre-packed); then MR x NR micro-tiles. `workspace` holds
/// gemmWorkspaceFloats(k) floats, 64-byte aligned.
void gemmDriver(const GemmKernel &k, size_t M, size_t N, size_t K,
                const ASource &A, const BSource &B, float *C, size_t ldc,
                const Epilogue &epi, size_t mBegin, size_t mEnd, size_t nBegin,
                size_t nEnd, float *workspace);

size_t gemmWorkspaceFloats(const GemmKernel &k);

//===----------------------------------------------------------------------===//
// Shifted convolution (ConvShifted.cpp)
//===----------------------------------------------------------------------===//

/// Scratch geometry of a shifted convolution over output rows [ohA, ohB]:
/// the zero-padded input split into strideH x strideW phase planes of
/// Hl rows x Wq columns, so that every (kh, kw, c) row of the implicit B
/// matrix is a contiguous run of one plane, and output pixel (oh, ow) is
/// column (oh - ohA)*Wq + ow of the GEMM (columns with ow >= OW are junk).
struct ShiftedPlan {
  size_t Wq, Hl, planeStride, chanStride, Ncols;
};
ShiftedPlan shiftedPlan(const Conv2DShape &s, size_t ohA, size_t ohB);
/// Floats of scratch beyond the GEMM workspace.
size_t shiftedWorkspaceFloats(const Conv2DShape &s, const ShiftedPlan &p,
                              int mr);
/// conv2d for weights packed as A panels in (kh, kw, c) order on a
/// `direct` kernel. `epi` has biasAxis PerRow and ldr set. `ws` holds
/// conv2dWorkspaceSize.
Status conv2dShifted(const GemmKernel &k, const Conv2DShape &s, const float *x,
                     const float *panels, float *y, const Epilogue &epi,
                     size_t m0, size_t m1, size_t p0, size_t p1, float *ws);
/// conv2d in the transposed orientation, for few output pixels: y^T =
/// im2col(x)^T * W^T, pixels as micro-kernel rows (packed per block from the
/// phase planes) and output channels as vector lanes (weights pre-packed as
/// B panels of W^T in (kh, kw, c) order). Any kernel whose nr matches.
Status conv2dTransposed(const GemmKernel &k, const Conv2DShape &s,
                        const float *x, const float *panels, float *y,
                        const Epilogue &epi, size_t m0, size_t m1, size_t p0,
                        size_t p1, float *ws);
/// Floats of scratch the transposed orientation needs beyond the GEMM's.
size_t transposedWorkspaceFloats(const Conv2DShape &s, int nr);

/// Aligned scratch that frees itself; `ptr` is null if allocation failed.
struct ScratchBuffer {
  void *ptr = nullptr;
  ScratchBuffer(void *given, size_t bytes);
  ~ScratchBuffer();
  ScratchBuffer(const ScratchBuffer &) = delete;
  ScratchBuffer &operator=(const ScratchBuffer &) = delete;

private:
  void *owned = nullptr;
};

} // namespace ember::cpu::detail

#endif // EMBER_CPU_KERNELS_INTERNAL_H
