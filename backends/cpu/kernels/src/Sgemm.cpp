//===- Sgemm.cpp - fp32 GEMM entry points and weight packing --------------===//
#include "Internal.h"

#include <cstring>

namespace ember::cpu {

using namespace detail;

namespace detail {

const GemmKernel &gemmKernelFor(Isa resolved) {
  switch (resolved) {
  case Isa::Avx512:
  case Isa::Avx512Vnni:
    return gemmKernelAvx512();
  case Isa::Avx2:
  case Isa::AvxVnni:
    return gemmKernelAvx2();
  case Isa::Auto:
  case Isa::Generic:
    break;
  }
  return gemmKernelGeneric();
}

void writeGemmBHeader(void *packed, const GemmKernel &k, size_t K, size_t N,
                      uint64_t order) {
  PackedHeader h{};
  h.kind = PackedKind::GemmB;
  h.panel = static_cast<uint32_t>(k.nr);
  h.mr = static_cast<uint32_t>(k.mr);
  h.isa = static_cast<uint32_t>(k.isa);
  h.rows = K;
  h.cols = N;
  h.reserved[0] = order;
  std::memcpy(packed, &h, sizeof(h));
}

} // namespace detail

namespace {

/// The kernel sgemm and sgemmPacked run on a resolved path: the native one,
/// except on AVX2, where it is the 6 x 16 tile that reads A in place
/// (gemmKernelAvx2Direct, the channels-last convolutions'; same B panels as
/// gemmKernelAvx2). The AVX2 kernel that packs A per block stores every
/// vector with vmaskmov and its epilogue reads its options per vector:
/// vit-toy's GEMMs (gemm_bench --only=vit) ran at 57-84% of the FMA peak
/// on it and at 83-98% in place (docs: kernels README, "A in place on
/// AVX2").
const GemmKernel &inPlaceKernelFor(Isa resolved) {
  return resolved == Isa::Avx2 ? gemmKernelAvx2Direct()
                               : gemmKernelFor(resolved);
}

/// The kernel that runs a packed layout (mr or nr 0 = free): the requested
/// path's own kernel (inPlaceKernelFor) when the layout is its own, else the
/// AVX2 kernel if it fits and may run, else a portable kernel for that
/// layout.
const GemmKernel *kernelForLayout(Isa isa, int mr, int nr) {
  auto fits = [&](const GemmKernel &k) {
    return (mr == 0 || k.mr == mr) && (nr == 0 || k.nr == nr);
  };
  const GemmKernel &native = inPlaceKernelFor(isa);
  if (fits(native))
    return &native;
  if (isa == Isa::Avx512 && fits(gemmKernelAvx2()))
    return &gemmKernelAvx2();
  return gemmKernelGenericFor(mr, nr);
}

/// K block of the AVX2 in-place kernel with B pre-packed: the whole K up
/// to 1024, else equal blocks of at most 1024 (a multiple of 16). Nothing
/// is packed per block, so kc bounds no buffer; a second K block reads the
/// C tile back and writes it again. `gemm_bench --gemm=197,192,768`
/// (vit-toy's fc2): 88% of the FMA peak with the driver's 256, 91% with
/// 384, 100% with 768 (one block); 1024^3 85% -> 93-96% with 1024.
size_t avx2InPlaceKc(size_t K) {
  constexpr size_t kMaxKc = 1024;
  if (K <= kMaxKc)
    return K ? K : 1;
  const size_t blocks = ceilDiv(K, kMaxKc);
  return roundUp(ceilDiv(K, blocks), 16);
}

} // namespace

size_t rowGranule(Isa isa) {
  return static_cast<size_t>(gemmKernelFor(fp32Isa(isa)).mr);
}
size_t colGranule(Isa isa) {
  return static_cast<size_t>(gemmKernelFor(fp32Isa(isa)).nr);
}

size_t gemmWorkspaceSize(Isa isa) {
  // Large enough for any kernel a packed layout may select.
  size_t f = gemmWorkspaceFloats(gemmKernelFor(fp32Isa(isa)));
  size_t g = gemmMaxWorkspaceFloats();
  return (f > g ? f : g) * sizeof(float);
}

size_t packedBSize(size_t K, size_t N, Isa isa) {
  const size_t NR = colGranule(isa);
  return sizeof(PackedHeader) + ceilDiv(N, NR) * NR * K * sizeof(float);
}

Status packB(size_t K, size_t N, const float *B, size_t ldb, void *packed,
             Isa isa) {
  if (!packed || (!B && K && N) || ldb < N)
    return Status::InvalidArgument;
  const GemmKernel &k = gemmKernelFor(fp32Isa(isa));
  writeGemmBHeader(packed, k, K, N);
  float *dst = reinterpret_cast<float *>(static_cast<char *>(packed) +
                                         sizeof(PackedHeader));
  // Panel p holds columns [p*NR, p*NR+NR) for all K rows: exactly
  // packBPanels over the full depth.
  if (K && N)
    packBPanels(K, N, B, ldb, k.nr, dst);
  return Status::Ok;
}

Status sgemmPacked(size_t M, size_t N, size_t K, const float *A, size_t lda,
                   const void *packedB, float *C, size_t ldc,
                   const Epilogue &epilogue, Isa isa, size_t mBegin,
                   size_t mEnd, void *workspace) {
  if (mEnd == 0)
    mEnd = M;
  if (!packedB || mBegin > mEnd || mEnd > M || ldc < N || (K && lda < K) ||
      (M && N && (!C || (K && !A))))
    return Status::InvalidArgument;
  const PackedHeader *h = packedHeader(packedB);
  if (h->kind != PackedKind::GemmB || h->rows != K || h->cols != N)
    return Status::LayoutMismatch;
  if (epilogue.residual && epilogue.ldr < N)
    return Status::InvalidArgument;
  if (mBegin == mEnd || N == 0)
    return Status::Ok;
  const GemmKernel *k =
      kernelForLayout(fp32Isa(isa), 0, static_cast<int>(h->panel));
  if (!k)
    return Status::LayoutMismatch;
  ScratchBuffer ws(workspace, gemmWorkspaceFloats(*k) * sizeof(float));
  if (!ws.ptr)
    return Status::OutOfMemory;
  ASource a;
  a.a = A;
  a.lda = lda;
  a.direct = k->direct; // A is read in place: no per-block packing
  BSource b;
  b.packed = packedPanels(packedB);
  GemmKernel kern = *k;
  if (k == &gemmKernelAvx2Direct())
    kern.kc = avx2InPlaceKc(K);
  gemmDriver(kern, M, N, K, a, b, C, ldc, epilogue, mBegin, mEnd, 0, N,
             static_cast<float *>(ws.ptr));
  return Status::Ok;
}

Status sgemm(size_t M, size_t N, size_t K, const float *A, size_t lda,
             const float *B, size_t ldb, float *C, size_t ldc,
             const Epilogue &epilogue, Isa isa, void *workspace) {
  if (ldc < N || (K && lda < K) || ldb < N ||
      (M && N && (!C || (K && (!A || !B)))))
    return Status::InvalidArgument;
  if (epilogue.residual && epilogue.ldr < N)
    return Status::InvalidArgument;
  if (M == 0 || N == 0)
    return Status::Ok;
  const GemmKernel &k = inPlaceKernelFor(fp32Isa(isa));
  ScratchBuffer ws(workspace, gemmWorkspaceFloats(k) * sizeof(float));
  if (!ws.ptr)
    return Status::OutOfMemory;
  ASource a;
  a.a = A;
  a.lda = lda;
  a.direct = k.direct;
  BSource b;
  b.b = B;
  b.ldb = ldb;
  // B in place on AVX-512 (runs); the AVX2 tile reads A in place only, so
  // B is packed per block there.
  b.direct = k.direct && &k != &gemmKernelAvx2Direct();
  gemmDriver(k, M, N, K, a, b, C, ldc, epilogue, 0, M, 0, N,
             static_cast<float *>(ws.ptr));
  return Status::Ok;
}

} // namespace ember::cpu
