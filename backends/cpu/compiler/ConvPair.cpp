// A channels-last 1x1 convolution whose result only a depthwise convolution
// reads runs inside the depthwise step (README.md, "1x1 + depthwise
// pairs"): one runtime call (RtAbi.h, ember_rt_conv2d_pair) computes the
// 1x1's rows a few depthwise output rows read into a buffer of rows in the
// worker's workspace and runs the depthwise step on them, so the expanded
// tensor of an inverted residual block (MobileNetV2/V3, EfficientNet,
// PP-LCNet, PicoDet) is never stored whole. The 1x1's result gets no arena
// buffer; its operands live until the depthwise step (Memory.cpp).
#include "Codegen.h"

#include "runtime/RtAbi.h"

#include <algorithm>

namespace ember::cpugen {

namespace {

// The size rule: a pair runs as one step when the 1x1's result for one
// image is at least this many bytes. Below it the result stays in L2
// between the two steps anyway and the pair only adds the halo rows' copies
// and smaller kernel calls (README.md, "1x1 + depthwise pairs", has the
// per-layer figures this comes from).
constexpr uint64_t kConvPairMinBytes = uint64_t(1) << 20;

// A chunk's input rows are about this fraction of the buffer's rows: the
// rows chunks share move to the buffer's front once every few chunks (each
// move copies KH - SH rows).
constexpr int64_t kConvPairChunksPerBuffer = 4;

} // namespace

// Whether conv group i (a 1x1) runs inside conv group j (a depthwise
// convolution reading its result, its only reader).
bool Codegen::pairable(size_t i, size_t j) const {
  const Group &g1 = groups_[i], &g2 = groups_[j];
  const Step &s1 = steps_[i], &s2 = steps_[j];
  const std::vector<int64_t> &p1 = s1.params, &p2 = s2.params;
  if (g1.kind != GroupKind::Conv || g2.kind != GroupKind::Conv ||
      g2.anchor->inputs[0] != Value(const_cast<Node *>(g1.root), 0))
    return false;
  // The 1x1: the GEMM over x's pixels read in place (stride 1, unpadded,
  // one group, dense tiles), a channels-last result of its own; no residual
  // or bias computed at run time (the pair's call takes neither), weights
  // packed at compile time.
  if (!p1[EMBER_RT_CONV_NHWC] || p1[EMBER_RT_CONV_DEPTHWISE] ||
      p1[EMBER_RT_CONV_GROUPED] || p1[EMBER_RT_CONV_WINOGRAD] ||
      p1[EMBER_RT_CONV_IN_NCHW] || p1[EMBER_RT_CONV_POOL_KH] ||
      p1[EMBER_RT_CONV_Y_COPY] || p1[EMBER_RT_CONV_GROUPS] != 1 ||
      p1[EMBER_RT_CONV_KH] != 1 || p1[EMBER_RT_CONV_KW] != 1 ||
      p1[EMBER_RT_CONV_SH] != 1 || p1[EMBER_RT_CONV_SW] != 1 ||
      p1[EMBER_RT_CONV_PT] || p1[EMBER_RT_CONV_PL] || p1[EMBER_RT_CONV_PB] ||
      p1[EMBER_RT_CONV_PR] || g1.epi.residual || g1.epi.biasValue ||
      s1.packedWeights == ~0ull || !s1.tempBytes.empty())
    return false;
  // The depthwise step: channels-last on both sides, weights packed at
  // compile time.
  if (!p2[EMBER_RT_CONV_NHWC] || !p2[EMBER_RT_CONV_DEPTHWISE] ||
      p2[EMBER_RT_CONV_Y_COPY] || p2[EMBER_RT_CONV_POOL_KH] ||
      p2[EMBER_RT_CONV_C] != p1[EMBER_RT_CONV_OC] ||
      s2.packedWeights == ~0ull || !s2.tempBytes.empty())
    return false;
  if (cfg_.convPair == CompileConfig::ConvPair::All)
    return true;
  const uint64_t bytes = uint64_t(p1[EMBER_RT_CONV_H] * p1[EMBER_RT_CONV_W] *
                                  p1[EMBER_RT_CONV_OC]) *
                         sizeof(float);
  return bytes >= kConvPairMinBytes;
}

void Codegen::pairConvs() {
  if (cfg_.convPair == CompileConfig::ConvPair::Off ||
      cfg_.kernels != Kernels::Library)
    return;
  auto users = f_.computeUsers();
  std::map<const Node *, size_t> convAt; // a conv group's anchor: its index
  for (size_t j = 0; j < groups_.size(); ++j)
    if (groups_[j].kind == GroupKind::Conv)
      convAt[groups_[j].anchor] = j;
  for (size_t i = 0; i < groups_.size(); ++i) {
    if (groups_[i].kind != GroupKind::Conv ||
        steps_[i].pairFrom != Step::kNoPair)
      continue;
    auto it = users.find(groups_[i].root);
    if (it == users.end() || it->second.size() != 1 || !it->second[0].user ||
        it->second[0].operand != 0)
      continue;
    auto at = convAt.find(it->second[0].user);
    if (at == convAt.end() || !pairable(i, at->second))
      continue;
    const size_t j = at->second;
    std::vector<int64_t> &p2 = steps_[j].params;
    // The buffer: the rows of CompileConfig::convPairBufferBytes. A chunk:
    // the output rows whose input rows are a quarter of it (at least one
    // output row, and the buffer at least its input rows), so that the
    // rows two chunks share move to the buffer's front only every few
    // chunks.
    const int64_t H = p2[EMBER_RT_CONV_H], SH = p2[EMBER_RT_CONV_SH];
    const uint64_t rowBytes =
        uint64_t(p2[EMBER_RT_CONV_W] * p2[EMBER_RT_CONV_C]) * sizeof(float);
    const int64_t fit = int64_t(cfg_.convPairBufferBytes / rowBytes);
    const int64_t chunkIn =
        std::max<int64_t>(1, fit / kConvPairChunksPerBuffer);
    const int64_t halo = (p2[EMBER_RT_CONV_KH] - 1) * p2[EMBER_RT_CONV_DH];
    const int64_t rows =
        std::clamp<int64_t>(chunkIn > halo ? (chunkIn - halo - 1) / SH + 1 : 1,
                            1, p2[EMBER_RT_CONV_OH]);
    const int64_t in = std::min(H, (rows - 1) * SH + halo + 1);
    p2[EMBER_RT_CONV_PAIR_ROWS] = rows;
    p2[EMBER_RT_CONV_PAIR_BUFFER_ROWS] = std::min(H, std::max(fit, in));
    steps_[i].pairInto = j;
    steps_[j].pairFrom = i;
    workspacePerWorker_ = std::max<uint64_t>(
        workspacePerWorker_, alignUp(uint64_t(ember_rt_conv_pair_workspace_size(
                                         steps_[i].params.data(), p2.data())),
                                     64));
    ++out_.fusion.convPairs;
  }
}

// Group g (a depthwise step) and the 1x1 convolution it runs, in one call.
Status Codegen::emitConvPair(const Group &g, Step &s) {
  const Group &g1 = groups_[s.pairFrom];
  const Step &s1 = steps_[s.pairFrom];
  if (s1.params[EMBER_RT_CONV_LDY] || s.params[EMBER_RT_CONV_LDX])
    return makeError(ErrorCode::Internal, g.anchor->describe(),
                     ": the 1x1 convolution it runs has its result inside "
                     "another value");
  llvm::Type *ptr = b_->getPtrTy(), *i32 = b_->getInt32Ty(),
             *f32 = b_->getFloatTy();
  llvm::Value *p1 =
      paramBlock(s1.params, EMBER_RT_CONV_POST,
                 g1.epi.post.empty() ? nullptr : emitPostFunction(g1));
  llvm::Value *p2 =
      paramBlock(s.params, EMBER_RT_CONV_POST,
                 g.epi.post.empty() ? nullptr : emitPostFunction(g));
  auto weightsOrNull = [&](uint64_t off) -> llvm::Value * {
    return off != ~0ull ? ptrOf(Loc{LocKind::Weight, 0, off})
                        : llvm::ConstantPointerNull::get(b_->getPtrTy());
  };
  llvm::Value *bias2 =
      s.bias != ~0ull ? weightsOrNull(s.bias) : ptrOfValue(g.epi.biasValue);
  llvm::FunctionCallee pair = runtime(
      "conv2d_pair", i32,
      {ptr, ptr, ptr, ptr, f32, f32, ptr, ptr, ptr, ptr, ptr, f32, f32, ptr});
  llvm::Value *st = callStep(
      "convpair", pair,
      {p1, ptrOfValue(g1.anchor->inputs[0]), weightsOrNull(s1.packedWeights),
       weightsOrNull(s1.bias), llvm::ConstantFP::get(f32, double(g1.epi.lo)),
       llvm::ConstantFP::get(f32, double(g1.epi.hi)), p2,
       weightsOrNull(s.packedWeights), bias2, ptrOfValue(g.epi.residual),
       ptrOfValue(Value(const_cast<Node *>(g.root), 0)),
       llvm::ConstantFP::get(f32, double(g.epi.lo)),
       llvm::ConstantFP::get(f32, double(g.epi.hi)), workspacePtr()});
  emitStatusCheck(st);
  return Status::ok();
}

} // namespace ember::cpugen
