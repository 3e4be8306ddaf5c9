// Channels-last activations (README.md, "Memory"): which 4-D values between
// convolutions are stored [N][H][W][C] (chooseLayouts, a fixed point over
// producers and readers), max pools run inside a first layer's convolution
// (fusePools), and the strides every value is stored with (physStrides).
#include "Capability.h"
#include "Codegen.h"
#include "Geometry.h"

#include "ember/cpu/Kernels.h"
#include "runtime/RtAbi.h"

#include <algorithm>

namespace ember::cpugen {

using ember::cpu::Isa;

namespace {
// Whether Conv n is depthwise: a group per input channel, one output
// channel each.
bool depthwise(const Node &n) {
  const Type &x = n.inputs[0].type(), &w = n.inputs[1].type();
  return n.attrInt("group", 1) == x.dim(1) && w.dim(0) == x.dim(1);
}
} // namespace

// Whether an fp32 Conv group can run channels-last: the library kernels
// on an AVX-512 or AVX2 path, a dense 2-D convolution (conv2dNhwc, once per
// group: a group reads and writes its channel slice of each pixel) or
// depthwise (depthwiseConv2dNhwc). Only one group unfolds a row-major
// input (conv2dNhwcFromNchw).
bool Codegen::convNhwcCapable(const Group &g) const {
  if (g.kind != GroupKind::Conv || cfg_.kernels != Kernels::Library)
    return false;
  const Node &n = *g.anchor;
  const Type &x = n.inputs[0].type(), &w = n.inputs[1].type();
  if (!ember::cpu::isaHasAvx2(Isa(cfg_.isa)) || x.rank() != 4 ||
      w.rank() != 4 || x.elem() != ElemKind::F32)
    return false;
  // Depthwise (depthwiseConv2dNhwc), narrow groups (groupedConv2dNhwc) and
  // dense reading channels-last (conv2dNhwc): convReadsNhwc; or unfolding a
  // row-major input (conv2dNhwcFromNchw).
  return convReadsNhwc(g) || convUnfoldsNchw(g, true);
}

// Whether a grouped Conv that is not depthwise runs all its groups in one
// groupedConv2dNhwc call (RtAbi.h, GROUPED): each group's output channels
// fewer than the path's vector, as the kernel library decides. Its lanes
// are output channels across groups; conv2dNhwc per group would fill 4 of
// 16 lanes with ResNeXt's 4-channel groups (15% of the FMA peak on its
// 56x56 layer), and the NCHW form (58%) kept the 1x1 layers around it
// row-major or copying their results (gemm_bench --only=grouped: 73%).
bool Codegen::convGroupedNhwc(const Node &n) const {
  if (cfg_.kernels != Kernels::Library)
    return false;
  const Type &x = n.inputs[0].type(), &w = n.inputs[1].type();
  const int64_t groups = n.attrInt("group", 1);
  if (groups <= 1 || x.rank() != 4 || w.rank() != 4 || depthwise(n))
    return false;
  return ember::cpu::groupedConv2dNhwcSupported(
      size_t(x.dim(1)), size_t(w.dim(0)), size_t(groups),
      ember::cpu::resolveIsa(Isa(cfg_.isa)));
}

// Whether the channels-last convolutions are the AVX2 ones (8-lane vectors,
// tiles of 6 pixels x 16 channels), whose thresholds below differ from the
// AVX-512 ones: there the NCHW form packs each im2col block and runs a
// 6-channel x 16-pixel tile, which every channels-last form measured beat.
bool Codegen::nhwcAvx2() const {
  return ember::cpu::fp32Family(Isa(cfg_.isa)) == Isa::Avx2;
}

// Whether an NHWC-capable dense Conv reads its input channels-last: when
// pointwise, or with at least 16 channels per tap (fewer, and building
// the tile's row pointers, one per tap and pixel, costs more than the FMAs
// they feed: MNIST's 8-channel 5x5 ran 20-50% slower than the NCHW form),
// and with at least 16 output channels. The channels-last tile's lanes
// are output channels: with fewer, most of its one vector computes
// nothing (an image-to-image model's last 9x9 layer, 16 to 3 channels, ran
// 3-5 times slower than in the NCHW form, whose lanes are pixels).
// Depthwise ones and narrow groups (convGroupedNhwc) always do. On AVX2
// (gemm_bench --layer, medians and best repeats, --cpu-time): every dense one
// with at least 3 output channels, whatever its channels per tap: 1 to 8
// channels per 3x3 or 5x5 tap ran 1.3-2.6 times faster channels-last (MNIST's 8
// -> 16 5x5 on 14x14: 29%
// -> 64% of the FMA peak), 8 output channels 1.5-2.4 times, 3 (16 -> 3,
// 9x9 on 180x180 and 720x720, FNS candy's last layer) 1.6-2.0 times; with
// 1 or 2 output channels a 1x1 layer ran 5-30% slower. A grouped one
// (ShuffleNet's 1x1 convolutions over 3 or 8 groups) by the same rules per
// group: each group is such a convolution over a channel slice.
bool Codegen::convReadsNhwc(const Group &g) const {
  const Node &n = *g.anchor;
  const Type &w = n.inputs[1].type();
  const int64_t groups = n.attrInt("group", 1);
  if (depthwise(n) || convGroupedNhwc(n))
    return true;
  const int64_t ocg = w.dim(0) / groups, cg = w.dim(1);
  if (nhwcAvx2())
    return ocg >= 3;
  if (ocg < 16)
    return false;
  return (w.dim(2) == 1 && w.dim(3) == 1) || cg >= 16;
}

// Whether a Conv with a row-major result (a graph output's, or one a
// Reshape or Flatten reads) runs channels-last all the same: the step
// writes it channels-last into its workspace and transposes it into y at
// the end (RtAbi.h, Y_COPY). With a channels-last x (`xLast`) whenever it
// reads x so: without it one such result (a detection or segmentation
// head) kept every convolution before it row-major, as each reads x
// channels-last only when its own result is. With a row-major x when it
// unfolds it (a first layer whose result is row-major too: a lone layer,
// or one a Reshape reads), but not a 1x1 one: row-major in and out that is
// one plain GEMM, which ran 1.5-2.6 times faster than unfolded and copied
// (docs/changelog/cpu-performance.md, "Row-major convolutions"); 3x3 and
// 7x7 first layers ran 1.3-1.8 times faster so. Not with a residual (read
// with the result's layout) or a fused pool.
bool Codegen::convCopiesY(const Group &g, bool xLast) const {
  if (g.kind != GroupKind::Conv || g.epi.residual || g.pool ||
      !convNhwcCapable(g))
    return false;
  if (xLast)
    return convReadsNhwc(g);
  const Type &w = g.anchor->inputs[1].type();
  return w.dim(2) * w.dim(3) > 1 && convUnfoldsNchw(g, false);
}

// Whether a dense Conv can write channels-last from a row-major input by
// unfolding it (conv2dNhwcFromNchw): first layers, K = C*KH*KW <= 256 (any
// K for non-overlapping windows),
// with at least 32 output channels, or 16 to 31 when at least 90% of the
// output pixels have their window inside the input. Those pixels are read
// in place, six to a tile; the others are unfolded into a block and run
// as a GEMM, which with one 16-lane vector of channels costs more than
// the NCHW form (tiles of channels x 64 pixels): MNIST's 8- and
// 16-channel ones (5x5, pad 2, a 14x14 map: half the pixels at the
// border) ran 2-4 times slower so. A 16-channel first layer on a large
// image (dbnet-toy's 3x3/2 to 160x160, 99% interior) runs about a third
// faster than in the NCHW form, which copies the whole image into phase
// planes and compacts the result (kernels README, "Convolution").
// When the result feeds a dense convolution that reads it channels-last
// (feedsNhwcConv), 70% will do: a first layer that stays NCHW keeps the
// convolutions after it NCHW too, and those gain more channels-last than
// the first layer's border pixels lose. A CIFAR-size 3 -> 16 3x3 on 32x32
// (88% interior) alone ran 1.45 times slower unfolded, but followed by two
// 16 -> 16 3x3 layers 3-10% faster, and 15-19% on 14x14 (73%); 8 -> 16
// 5x5 on 14x14 (51%) ran 1.3 times slower so (docs/performance.md,
// "Small maps at batch 16"). On AVX2 the unfolded border pixels run
// 6 x 16 tiles, as full as the NCHW form's with 16 output channels, and
// every first layer measured ran faster unfolded than in the NCHW form
// (which packs each im2col block): 3 -> 16 3x3 on 32x32 (88% interior)
// 27% -> 55% of the FMA peak, MNIST's 1 -> 8 and 8 -> 16 5x5 on 28x28 and
// 14x14 (51%) 18% -> 36% and 29% -> 75%; so any one with at least 3
// output channels (3 -> 1 3x3 on 64x64: 4.7% -> 3.4%).
bool Codegen::convUnfoldsNchw(const Group &g, bool feedsNhwcConv) const {
  const Node &n = *g.anchor;
  const Type &x = n.inputs[0].type(), &w = n.inputs[1].type();
  Window win;
  std::string reason;
  if (n.attrInt("group", 1) != 1 ||
      !windowOf(n, x, {w.dim(2), w.dim(3)}, false, win, reason))
    return false;
  // Non-overlapping windows (kernel = stride, no padding or dilation: a
  // ViT's, Swin's or ConvNeXt's patch embedding) read every input value
  // once, so reading them in place costs what the input does whatever K;
  // the NCHW form gathers one phase plane per (kh, kw) of the stride, 256
  // for 16x16 patches (a lone ViT-Tiny patch embedding, 3 -> 192 16x16/16
  // on 224x224: 0.68 -> 0.52 ms; 32x32/32 to 384: 1.42 -> 1.23).
  const bool patches = win.kh == win.sh && win.kw == win.sw && win.dh == 1 &&
                       win.dw == 1 && win.pt == 0 && win.pl == 0 &&
                       win.pb == 0 && win.pr == 0;
  if (!patches && w.dim(1) * w.dim(2) * w.dim(3) > 256)
    return false;
  if (nhwcAvx2())
    return w.dim(0) >= 3;
  if (w.dim(0) < 16)
    return false;
  if (w.dim(0) >= 32 || patches)
    return true;
  // Output rows / columns whose windows lie inside the input.
  auto inside = [](int64_t out, int64_t stride, int64_t pad, int64_t span,
                   int64_t extent) {
    int64_t count = 0;
    for (int64_t o = 0; o < out; ++o) {
      const int64_t first = o * stride - pad;
      count += first >= 0 && first + span < extent;
    }
    return count;
  };
  const int64_t rows =
      inside(win.oh, win.sh, win.pt, (win.kh - 1) * win.dh, win.h);
  const int64_t cols =
      inside(win.ow, win.sw, win.pl, (win.kw - 1) * win.dw, win.w);
  const int64_t percent = feedsNhwcConv ? 70 : 90;
  return win.dw == 1 && 100 * rows * cols >= percent * win.oh * win.ow;
}

// Whether a ConvTranspose group can read or write channels-last: the
// kernel library's fp32 2-D form (ember_rt_conv_transpose, either side in
// either layout). The portable runtime takes the layouts too, but the
// choice follows the convolutions', which are the library's only.
bool Codegen::convTNhwcCapable(const Group &g) const {
  if (g.kind != GroupKind::ConvT || cfg_.kernels != Kernels::Library)
    return false;
  const Type &x = g.anchor->inputs[0].type();
  return x.rank() == 4 && x.elem() == ElemKind::F32 && g.root == g.anchor;
}

// Whether a channels-last-capable ConvTranspose reads its input
// channels-last: its GEMM is then [pixels x Cg] x [Cg x KH*KW*OCg], whose
// tile lanes run along KH*KW*OCg; with fewer than 16 of them (a 2x2
// deconvolution to 1-3 channels: a probability map, an image) most lanes
// would compute nothing, and the row-major form, whose lanes are pixels,
// is kept.
bool Codegen::convTReadsNhwc(const Group &g) const {
  const Node &n = *g.anchor;
  const Type &w = n.inputs[1].type();
  return convTNhwcCapable(g) && w.dim(1) * w.dim(2) * w.dim(3) >= 16;
}

// Whether a view between `in` and `out` keeps channels-last storage
// byte for byte: [N,C,H,W] <-> [N,A,B,H,W] with A*B = C, the 5-D side
// stored [N][H][W][A][B] (the two Reshapes of a channel shuffle).
static bool channelSplitView(const Type &in, const Type &out) {
  auto split = [](const Type &four, const Type &five) {
    return four.rank() == 4 && five.rank() == 5 && four.dim(0) == five.dim(0) &&
           four.dim(1) == five.dim(1) * five.dim(2) &&
           four.dim(2) == five.dim(3) && four.dim(3) == five.dim(4);
  };
  return split(in, out) || split(out, in);
}

// Channels-last storage for 4-D activations between convolutions (README,
// "Memory"): [N][H][W][C], so convolutions need no transposes and read
// each pixel's channels in place.
//   - Producers that can write it: ConvInteger (int8), an fp32 Conv that
//     runs conv2dNhwc (then its input and residual are channels-last too),
//     and the generated loops (elementwise, Concat, MaxPool/AveragePool),
//     which address any strides.
//   - Readers that can take it: ConvInteger's input, an NHWC Conv's input
//     or residual, and the generated loops (elementwise, Concat, Split,
//     Reduce, pooling). Anything else (a graph output, a view, a MatMul)
//     keeps the value row-major.
// A result is stored channels-last when its producer and every reader
// agree; loop and pool results only when a convolution reads them
// (directly or through loops and pools that stay channels-last). The
// NHWC convolutions couple their input, residual and output, so the
// choice is a fixed point: start from every candidate and drop the ones
// whose producer or readers cannot take it until none changes.
void Codegen::chooseLayouts() {
  nhwc_.clear();
  auto users = f_.computeUsers();
  std::map<const Node *, const Group *> groupOf;
  for (auto &g : groups_)
    for (const Node *m : g.members)
      groupOf[m] = &g;
  auto loopLike = [](const Group &g) {
    return g.kind == GroupKind::Loop || g.kind == GroupKind::Concat ||
           (g.kind == GroupKind::Pool &&
            (g.anchor->inputs[0].type().elem() == ElemKind::F32 ||
             g.anchor->inputs[0].type().elem() == ElemKind::U8 ||
             g.anchor->inputs[0].type().elem() == ElemKind::I8));
  };
  auto splitView = [](const Group &g) {
    return g.kind == GroupKind::View &&
           channelSplitView(g.root->inputs[0].type(),
                            Value(const_cast<Node *>(g.root), 0).type());
  };
  // The values a group stores: its root's result, or each part of a Split
  // (copy loops, which write any layout, like a loop's).
  std::vector<std::pair<const Group *, unsigned>> results;
  for (auto &g : groups_)
    for (unsigned k = 0;
         k < (g.kind == GroupKind::Split ? g.root->numResults() : 1u); ++k)
      results.push_back({&g, k});
  // The users of result k of n.
  auto readers = [&](const Node *n, unsigned k) {
    std::vector<Use> out;
    auto it = users.find(n);
    if (it != users.end())
      for (auto &u : it->second)
        if (!u.user || u.user->inputs[u.operand].idx == k)
          out.push_back(u);
    return out;
  };
  std::set<ValueKey> cand;
  for (auto [gp, k] : results) {
    const Group &g = *gp;
    if (g.kind != GroupKind::QConv && !loopLike(g) && !convNhwcCapable(g) &&
        !convTNhwcCapable(g) && !splitView(g) && g.kind != GroupKind::Split)
      continue;
    Value r(const_cast<Node *>(g.root), k);
    // 5-D: a channel shuffle's split channels ([N][H][W][A][B]), from a
    // view or a loop (its Transpose).
    const int64_t rank = r.type().rank();
    if ((rank == 4 || (rank == 5 && (loopLike(g) || splitView(g)))) &&
        (g.root->numResults() == 1 || g.kind == GroupKind::Split) &&
        !readers(g.root, k).empty())
      cand.insert(keyOf(r));
  }
  for (bool changed = true; changed;) {
    changed = false;
    for (auto [gp, k] : results) {
      const Group &g = *gp;
      const ValueKey r = keyOf(g.root, k);
      if (!cand.count(r))
        continue;
      bool ok = true, toConv = false, feedsNhwcConv = false;
      if (g.kind == GroupKind::Conv) // the residual as y
        ok = !g.epi.residual || cand.count(keyOf(g.epi.residual));
      if (g.kind == GroupKind::View) // the same bytes as its input
        ok = cand.count(keyOf(g.root->inputs[0])) != 0;
      for (auto &u : readers(g.root, k)) {
        auto gu = u.user ? groupOf.find(u.user) : groupOf.end();
        if (!ok || gu == groupOf.end()) {
          ok = false; // a graph output
          break;
        }
        const Group &ug = *gu->second;
        const Value read = u.user->inputs[u.operand];
        if (ug.kind == GroupKind::QConv) {
          ok = u.operand == 0 && u.user == ug.anchor;
          toConv = true;
        } else if (ug.kind == GroupKind::ConvT) {
          // Its input's layout is independent of its result's.
          ok = u.user == ug.anchor && u.operand == 0 && convTReadsNhwc(ug);
          toConv = true;
        } else if (ug.kind == GroupKind::Conv) {
          bool asX = u.user == ug.anchor && u.operand == 0 && convReadsNhwc(ug);
          // (x channels-last with a row-major result: convCopiesY.)
          ok = cand.count(keyOf(ug.root))
                   ? asX || (ug.epi.residual && read == ug.epi.residual)
                   : asX && convCopiesY(ug, true);
          toConv = true;
          feedsNhwcConv = feedsNhwcConv || asX;
        } else if (ug.kind == GroupKind::View) {
          ok = cand.count(keyOf(ug.root)) != 0; // both sides or neither
          toConv = toConv || ok;
        } else {
          ok = loopLike(ug) || ug.kind == GroupKind::Split ||
               ug.kind == GroupKind::Reduce;
          if (ug.kind == GroupKind::Pool)
            ok = ok && u.user == ug.anchor && u.operand == 0;
          // A loop or pool whose result stays channels-last carries the
          // layout on to a convolution, and so does a Split with a part
          // that stays channels-last.
          toConv = toConv || (loopLike(ug) && cand.count(keyOf(ug.root)));
          for (unsigned j = 0; ug.kind == GroupKind::Split &&
                               j < ug.root->numResults() && !toConv;
               ++j)
            toConv = cand.count(keyOf(ug.root, j)) != 0;
        }
      }
      // x as y, or row-major x unfolded (more readily when a convolution
      // reads the result channels-last).
      if (ok && g.kind == GroupKind::Conv)
        ok = cand.count(keyOf(g.anchor->inputs[0]))
                 ? convReadsNhwc(g)
                 : convUnfoldsNchw(g, feedsNhwcConv);
      // A loop, pool or ConvTranspose result only when that reaches a
      // convolution (or a ConvTranspose) that reads it channels-last.
      if (ok && g.kind != GroupKind::QConv && g.kind != GroupKind::Conv)
        ok = toConv;
      if (!ok) {
        cand.erase(r);
        changed = true;
      }
    }
  }
  nhwc_ = std::move(cand);
}

// A MaxPool that reads a first layer's result (a Conv that unfolds its
// row-major input, conv2dNhwcFromNchw) runs inside the convolution
// (conv2dNhwcFromNchwMaxPool): the pool reads bands of convolution rows
// while they are in L2, and the convolution's output (3 MB in SqueezeNet
// and ResNet-50) is never stored. Both results must be channels-last, the
// pool's only reader of the convolution's result, undilated, with every
// window holding a pixel.
void Codegen::fusePools() {
  if (!cfg_.fuse)
    return;
  auto users = f_.computeUsers();
  std::set<const Node *> fused;
  for (auto &g : groups_) {
    // (Not after a post chain: the pool would read the values before it.)
    if (g.kind != GroupKind::Conv || !g.epi.post.empty() ||
        !nhwc_.count(keyOf(g.root)) ||
        nhwc_.count(keyOf(g.anchor->inputs[0])) || !convUnfoldsNchw(g, false))
      continue;
    auto it = users.find(g.root);
    if (it == users.end() || it->second.size() != 1 || !it->second[0].user)
      continue;
    const Node *pool = it->second[0].user;
    ember::cpu::MaxPoolWindow pw;
    if (pool->kind != OpKind::MaxPool || pool->numResults() != 1 ||
        !nhwc_.count(keyOf(pool)) || !fusablePoolWindow(*pool, pw))
      continue;
    nhwc_.erase(keyOf(g.root)); // no longer stored
    g.members.push_back(pool);
    g.root = pool;
    g.pool = pool;
    fused.insert(pool);
  }
  if (fused.empty())
    return;
  groups_.erase(std::remove_if(groups_.begin(), groups_.end(),
                               [&](const Group &g) {
                                 return g.kind == GroupKind::Pool &&
                                        fused.count(g.anchor);
                               }),
                groups_.end());
  out_.fusion.fusedPools += fused.size();
  out_.fusion.groups = groups_.size();
}

uint64_t Codegen::storedBytes(const Value &v) const {
  const Dims &d = v.type().dims();
  const std::vector<int64_t> s = physStrides(v);
  int64_t last = 0;
  for (size_t i = 0; i < d.size(); ++i) {
    if (d[i] == 0)
      return 0;
    last += (d[i] - 1) * s[i];
  }
  return uint64_t(last + 1) * elemSize(v.type().elem());
}

std::vector<int64_t> Codegen::physStrides(const Value &v) const {
  auto in = inside_.find(keyOf(v)); // (a slice of another: its strides)
  if (in != inside_.end())
    return physStrides(in->second);
  const Dims &d = v.type().dims();
  std::vector<int64_t> s(d.size());
  if (d.size() == 4 && nhwc_.count(keyOf(v))) {
    s = {d[1] * d[2] * d[3], 1, d[3] * d[1], d[1]};
    return s;
  }
  if (d.size() == 5 && nhwc_.count(keyOf(v))) { // [N][H][W][A][B]
    s = {d[1] * d[2] * d[3] * d[4], d[2], 1, d[4] * d[1] * d[2], d[1] * d[2]};
    return s;
  }
  int64_t acc = 1;
  for (size_t i = d.size(); i-- > 0;) {
    s[i] = acc;
    acc *= d[i];
  }
  return s;
}

} // namespace ember::cpugen
