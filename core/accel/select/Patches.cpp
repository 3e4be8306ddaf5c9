// Channel-poor convolutions read as patches (Select.h, packPatches;
// docs/npu-backend.md, "Channel-poor convolutions").
//
// A convolution over few input channels (an image's 3) fills few of the
// array's lanes: each of its kh kw taps is a pass over ceil(C / lanes)
// input tiles, 3 of 16 lanes at C 3. When the input comes from the host,
// the host can lay it out as the convolution's patches while it converts
// it to the tiled layout anyway: channel (dy kw + dx) C + c of output pixel
// (oy, ox) holds input pixel (oy sh - pt + dy dh, ox sw - pl + dx dw),
// channel c. The layer is then a 1x1 convolution of kh kw C channels over
// the output's pixels, ceil(kh kw C / lanes) passes per pixel, with the
// same products summed: the result is bit for bit the one before. Where
// whole windows repeat each input pixel too often (a stride-1 5x5), the
// patches are the kernel's rows only and the layer a kh x 1 convolution.
#include "Form.h"
#include "SelectInternal.h"

#include "ember/accel/Select.h"

#include "ember/accel/Layers.h"
#include "ember/accel/Target.h"

#include <algorithm>
#include <cstdint>
#include <vector>

namespace ember::accel {

namespace {

// How many layers read tensor k or tensors are placed inside it.
int readers(const LayerProgram &lp, int k) {
  int n = 0;
  for (const Layer &L : lp.layers) {
    const std::vector<int> ts = layerTensors(L);
    n += int(std::count(ts.begin(), ts.end(), k)) - (layerOutput(L) == k);
  }
  for (const NTensor &t : lp.tensors)
    n += t.base == k;
  return n;
}

bool isOutput(const LayerProgram &lp, int k) {
  return std::find(lp.outputs.begin(), lp.outputs.end(), k) != lp.outputs.end();
}

// Layer `e` is elementwise: one weight per channel, no window, fusion or
// table, so that it computes the patches of its result from the patches
// of its input, each channel of kh kw C by the parameters of channel c.
bool elementwise(const Layer &e) {
  const GemmLayer &g = e.gemm;
  return e.kind == Layer::Kind::Gemm && e.lut.empty() && e.lut16.empty() &&
         g.groups == g.C && g.K == g.C && int64_t(g.w.size()) == g.K &&
         g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1 && !g.pt && !g.pl &&
         !g.pb && !g.pr && !g.sum && g.requant && !g.pool.on && !g.add.on;
}

// Whether elementwise layer `g` turns a padding element of its input (its
// pad value) into `padValue`, the one its reader's padding reads: then
// padding its input is padding its result.
bool keepsPadding(const GemmLayer &g, int32_t padValue) {
  for (int64_t k = 0; k < g.K; ++k) {
    const int64_t w = g.w[size_t(k)];
    const int64_t acc =
        g.in16
            ? (size_t(k) < g.bias64.size() ? g.bias64[size_t(k)] : 0) - 128 * w
            : w * g.padValue +
                  (size_t(k) < g.bias.size() ? g.bias[size_t(k)] : 0);
    if (acc != 0)
      return false;
  }
  return g.rq.lo <= g.rq.zp && g.rq.zp <= g.rq.hi && g.rq.zp == padValue;
}

// Each per-channel vector of `g` (size C) repeated over the kh kw taps.
template <typename T>
void repeatChannels(std::vector<T> &v, int64_t C, int64_t taps) {
  if (int64_t(v.size()) != C)
    return;
  std::vector<T> r(size_t(C * taps));
  for (size_t i = 0; i < r.size(); ++i)
    r[i] = v[i % size_t(C)];
  v = std::move(r);
}

bool plain(const NTensor &x) {
  return !x.i32 && x.base < 0 && x.laneFrom < 0 && x.pixOff < 0 && !x.ilv &&
         !x.patches.kh && x.axis == 1 && x.dims.size() == 4;
}

// Tensor k, which no layer, input, output or placement refers to, removed,
// the indices above it renumbered.
void dropTensor(LayerProgram &lp, int k) {
  auto fix = [k](int &i) {
    if (i > k)
      --i;
  };
  for (Layer &L : lp.layers) {
    fix(L.gemm.in), fix(L.gemm.out), fix(L.gemm.add.other);
    fix(L.pool.in), fix(L.pool.out);
    fix(L.add.a), fix(L.add.b), fix(L.add.out);
  }
  for (NTensor &t : lp.tensors)
    fix(t.base);
  for (int &i : lp.inputs)
    fix(i);
  for (int &i : lp.outputs)
    fix(i);
  lp.tensors.erase(lp.tensors.begin() + k);
}

// The pool that alone reads the result of GEMM layer `li` (a convolution
// now on patches, 1x1 over the output's pixels) fused into it when the
// layer with the pool fits (Pool.cpp fuses a pool into its producer when
// the layer fits; a convolution that only fits once on patches, a 16-bit
// input's at 111 x 111 pixels, could not). Returns whether it did.
bool fusePoolAfter(const Target &t, LayerProgram &lp, size_t li) {
  Layer &L = lp.layers[li];
  GemmLayer &g = L.gemm;
  const int mid = g.out;
  if (mid < 0 || size_t(mid) >= lp.tensors.size() || g.pool.on || g.add.on ||
      !g.requant || !L.lut.empty() || !L.lut16.empty() || g.out16 ||
      readers(lp, mid) != 1 || isOutput(lp, mid) ||
      !plain(lp.tensors[size_t(mid)]) || !sel::fuses(t, "conv", "pool"))
    return false;
  size_t pi = 0;
  while (pi < lp.layers.size() && !(lp.layers[pi].kind == Layer::Kind::Pool &&
                                    lp.layers[pi].pool.in == mid))
    ++pi;
  if (pi == lp.layers.size())
    return false;
  const PoolLayer &p = lp.layers[pi].pool;
  if (p.pt || p.pl || p.pb || p.pr || p.sh != p.sw || p.w16 || p.up != 1 ||
      p.upMode || !lp.layers[pi].lut.empty() || emitterOf(lp.layers[pi]))
    return false; // (a layer a form emits is not a plain pool)
  Layer trial = L;
  trial.gemm.pool = {true, p.avg, p.kh, p.kw, p.sh};
  trial.gemm.flat = false; // pooling needs image lines
  trial.gemm.out = p.out;
  for (const std::string &n : lp.layers[pi].nodes)
    trial.nodes.push_back(n);
  if (layerFits(t, trial, lp.tensors).failed())
    return false;
  L = std::move(trial);
  lp.layers.erase(lp.layers.begin() + long(pi));
  dropTensor(lp, mid);
  return true;
}

} // namespace

namespace sel {

bool wholePatchesPay(int64_t lanes, const ConvGeom &g, int64_t bytes) {
  if (g.groups != 1 || g.kh * g.kw < 2)
    return false;
  const int64_t passes = g.kh * g.kw * ceilDiv(g.C, lanes);
  const int64_t C2 = g.kh * g.kw * g.C;
  const uint64_t in =
      uint64_t(ceilDiv(g.C, lanes) * g.N * g.H * g.W * lanes * bytes);
  return 2 * ceilDiv(C2, lanes) <= passes &&
         uint64_t(ceilDiv(C2, lanes) * g.N * g.OH * g.OW * lanes * bytes) <=
             4 * in;
}

ConvGeom patchGeom(const ConvGeom &g) {
  ConvGeom p = g;
  p.C = g.kh * g.kw * g.C;
  p.H = g.OH, p.W = g.OW;
  p.kh = p.kw = p.sh = p.sw = p.dh = p.dw = 1;
  p.pt = p.pl = p.pb = p.pr = 0;
  return p;
}

} // namespace sel

int packPatches(const Target &t, LayerProgram &lp) {
  const int64_t lanes = t.lanes;
  // The layer writing each tensor.
  std::vector<int> writer(lp.tensors.size(), -1);
  for (size_t i = 0; i < lp.layers.size(); ++i) {
    const int o = layerOutput(lp.layers[i]);
    if (o >= 0 && size_t(o) < writer.size())
      writer[size_t(o)] = int(i);
  }
  int changed = 0;
  std::vector<ptrdiff_t> patched; // layers on whole windows
  for (size_t li = 0; li < lp.layers.size(); ++li) {
    if (lp.layers[li].kind != Layer::Kind::Gemm)
      continue;
    // Kept to go back to when the layer on patches does not fit.
    LayerProgram before;
    Layer &L = lp.layers[li];
    GemmLayer &g = L.gemm;
    if (g.in < 0 || size_t(g.in) >= lp.tensors.size())
      continue;
    NTensor &x = lp.tensors[size_t(g.in)];
    if (!plain(x) || g.flat || g.sum || g.groups != 1 || g.kh * g.kw < 2 ||
        g.C != x.dims[1] || g.N != x.dims[0] || g.H != x.dims[2] ||
        g.W != x.dims[3] || readers(lp, g.in) != 1 || isOutput(lp, g.in))
      continue;
    // The host's input: x itself, or the input of an elementwise layer
    // (a clamp of the input on its own) that only this layer reads.
    GemmLayer *e = nullptr;
    NTensor *in = &x;
    if (x.kind != NTensor::Kind::Input) {
      const int w = writer[size_t(g.in)];
      if (w < 0 || !elementwise(lp.layers[size_t(w)]))
        continue;
      e = &lp.layers[size_t(w)].gemm;
      if (e->in < 0 || size_t(e->in) >= lp.tensors.size())
        continue;
      in = &lp.tensors[size_t(e->in)];
      if (in->kind != NTensor::Kind::Input || !plain(*in) ||
          in->dims != x.dims || readers(lp, e->in) != 1 ||
          isOutput(lp, e->in) || !keepsPadding(*e, g.padValue))
        continue;
    }
    // Whole windows (kh kw C channels a pixel of the output), or when
    // those take too many bytes, the kernel's rows (kw C channels a pixel
    // of the input's lines, the output's columns): a kh x 1 convolution
    // that keeps the vertical stride, dilation and padding.
    const int64_t es = in->elemBytes();
    const int64_t passes = g.kh * g.kw * ceilDiv(g.C, lanes);
    const uint64_t bytes = uint64_t(ceilDiv(g.C, lanes) * in->P * lanes * es);
    auto fits = [&](int64_t rows, int64_t ch, int64_t p) {
      return 2 * p <= passes && uint64_t(ceilDiv(ch, lanes) * g.N * rows *
                                         g.OW * lanes * es) <= 4 * bytes;
    };
    const sel::ConvGeom cg{g.N,  g.C,  g.H,  g.W,  g.K,  g.OH,
                           g.OW, g.kh, g.kw, g.sh, g.sw, g.dh,
                           g.dw, g.pt, g.pl, g.pb, g.pr, g.groups};
    const bool whole = sel::wholePatchesPay(lanes, cg, es);
    if (!whole &&
        (g.kw < 2 || !fits(g.H, g.kw * g.C, g.kh * ceilDiv(g.kw * g.C, lanes))))
      continue;
    before = lp;
    const int w0 = e ? writer[size_t(g.in)] : -1;
    const int64_t ph = whole ? g.kh : 1, taps = ph * g.kw, C2 = taps * g.C;
    const int64_t H2 = whole ? g.OH : g.H, kh2 = g.kh / ph;
    // The weights, [K][C][kh][kw] -> [K][(dy kw + dx) C + c][kh2]: tap
    // (dy, dx) at channel (dy kw + dx) C + c, or with rows only at channel
    // dx C + c of kernel row dy.
    std::vector<int8_t> w(g.w.size());
    for (int64_t k = 0; k < g.K; ++k)
      for (int64_t c = 0; c < g.C; ++c)
        for (int64_t dy = 0; dy < g.kh; ++dy)
          for (int64_t dx = 0; dx < g.kw; ++dx) {
            const int64_t ch = ((whole ? dy : 0) * g.kw + dx) * g.C + c;
            w[size_t((k * C2 + ch) * kh2 + (whole ? 0 : dy))] =
                g.w[size_t(((k * g.C + c) * g.kh + dy) * g.kw + dx)];
          }
    NTensor::Patches &p = in->patches;
    p.kh = ph, p.kw = g.kw, p.sh = whole ? g.sh : 1, p.sw = g.sw,
    p.dh = whole ? g.dh : 1, p.dw = g.dw, p.pt = whole ? g.pt : 0, p.pl = g.pl;
    p.srcDims = in->dims;
    // Padding reads the stored pad value; the host writes the graph's.
    const int32_t pad = e ? e->padValue : g.padValue;
    p.fill = in->u8 ? pad + 128 : pad;
    for (NTensor *y : {in, &x}) {
      y->dims = {g.N, C2, H2, g.OW};
      y->C = C2;
      y->P = g.N * H2 * g.OW;
    }
    if (e) {
      repeatChannels(e->w, e->C, taps);
      repeatChannels(e->bias, e->C, taps);
      repeatChannels(e->bias64, e->C, taps);
      repeatChannels(e->rq.mult, e->C, taps);
      repeatChannels(e->rq.shift, e->C, taps);
      e->C = e->K = e->groups = C2;
      e->H = e->OH = H2;
      e->W = e->OW = g.OW;
    }
    g.w = std::move(w);
    g.C = C2, g.H = H2, g.W = g.OW;
    g.kw = g.sw = g.dw = 1;
    g.pl = g.pr = 0;
    if (whole) {
      g.kh = g.sh = g.dh = 1;
      g.pt = g.pb = 0;
      g.flat = !g.pool.on; // a fused pool needs image lines
    }
    // Selection asked whether the layer fits as it was; on patches its
    // input is wider, so it is asked again (or the layer stays as it was).
    if (layerFits(t, L, lp.tensors).failed() ||
        (w0 >= 0 && layerFits(t, lp.layers[size_t(w0)], lp.tensors).failed())) {
      lp = std::move(before);
      continue;
    }
    if (whole)
      patched.push_back(ptrdiff_t(li));
    ++changed;
  }
  // Pools the convolutions could not take before (their layers' indices
  // move down as pools leave).
  for (size_t k = patched.size(); k-- > 0;)
    fusePoolAfter(t, lp, size_t(patched[k]));
  return changed;
}

Status patchedLimits(const Target &t, const LayerProgram &lp,
                     std::string *layer) {
  const Form *f = t.form("conv");
  for (const Layer &L : lp.layers) {
    const GemmLayer &c = L.gemm;
    // (Selection claims a convolution beyond the limits only when it reads
    // a partition input as its patches: a mean's sum is not one.)
    if (L.kind != Layer::Kind::Gemm || !f || c.sum || c.groups != 1 ||
        c.in < 0 || size_t(c.in) >= lp.tensors.size() ||
        lp.tensors[size_t(c.in)].kind != NTensor::Kind::Input ||
        (std::max(c.kh, c.kw) <= f->kernelMax &&
         std::max(c.sh, c.sw) <= f->strideMax &&
         std::max(c.dh, c.dw) <= f->dilationMax))
      continue;
    if (layer)
      *layer = L.name;
    return Status(
        ErrorCode::Unsupported,
        "layer " + sel::quoted(L.name) + ": kernel " + std::to_string(c.kh) +
            "x" + std::to_string(c.kw) + ", stride " + std::to_string(c.sh) +
            "x" + std::to_string(c.sw) +
            ": outside the target's conv form, and its layer does not fit "
            "read as its patches either");
  }
  return Status::ok();
}

} // namespace ember::accel
