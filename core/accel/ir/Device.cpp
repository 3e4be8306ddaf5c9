// Layout conversion and one layer alone (Device.h).
#include "ember/accel/Device.h"

#include "ember/accel/Sync.h"

#include <cstring>
#include <vector>

namespace ember::accel {

namespace {

// Calls f(host element, tiled element) for every element of `t`.
template <typename F> void forEachElement(const NTensor &t, F f) {
  int64_t pre = 1, post = 1;
  for (size_t i = 0; i < t.dims.size(); ++i) {
    if (int(i) < t.axis)
      pre *= t.dims[i];
    else if (int(i) > t.axis)
      post *= t.dims[i];
  }
  for (int64_t a = 0; a < pre; ++a)
    for (int64_t c = 0; c < t.C; ++c)
      for (int64_t b = 0; b < post; ++b)
        f((a * t.C + c) * post + b,
          ((c / t.lanes) * t.P + a * post + b) * t.lanes + c % t.lanes);
}

} // namespace

uint64_t hostBytes(const NTensor &t) {
  uint64_t n = uint64_t(t.elemBytes());
  for (int64_t d : t.patches.kh ? t.patches.srcDims : t.dims)
    n *= uint64_t(d);
  return n;
}

void patchesFromHost(const NTensor &t, const void *host,
                     std::vector<uint8_t> &out) {
  const NTensor::Patches &p = t.patches;
  const int64_t es = t.elemBytes();
  const int64_t N = p.srcDims[0], C = p.srcDims[1], H = p.srcDims[2],
                W = p.srcDims[3], OH = t.dims[2], OW = t.dims[3];
  out.resize(size_t(N * p.kh * p.kw * C * OH * OW * es));
  uint8_t fill[2] = {uint8_t(uint32_t(p.fill) & 0xff),
                     uint8_t((uint32_t(p.fill) >> 8) & 0xff)};
  const auto *h = static_cast<const uint8_t *>(host);
  uint8_t *o = out.data();
  for (int64_t n = 0; n < N; ++n)
    for (int64_t dy = 0; dy < p.kh; ++dy)
      for (int64_t dx = 0; dx < p.kw; ++dx)
        for (int64_t c = 0; c < C; ++c) {
          const int64_t ch = (dy * p.kw + dx) * C + c;
          for (int64_t oy = 0; oy < OH; ++oy) {
            const int64_t iy = oy * p.sh - p.pt + dy * p.dh;
            for (int64_t ox = 0; ox < OW; ++ox) {
              const int64_t ix = ox * p.sw - p.pl + dx * p.dw;
              uint8_t *d =
                  o + (((n * p.kh * p.kw * C + ch) * OH + oy) * OW + ox) * es;
              if (iy < 0 || iy >= H || ix < 0 || ix >= W)
                std::memcpy(d, fill, size_t(es));
              else
                std::memcpy(d, h + (((n * C + c) * H + iy) * W + ix) * es,
                            size_t(es));
            }
          }
        }
}

void toTiled(const NTensor &t, const void *host, uint8_t *tiled) {
  std::vector<uint8_t> patches;
  if (t.patches.kh) {
    patchesFromHost(t, host, patches);
    host = patches.data();
  }
  std::memset(tiled, 0, size_t(t.bytes()));
  const auto *h = static_cast<const uint8_t *>(host);
  const int64_t es = t.elemBytes();
  if (es > 1) // int32, or int16 (a 16-bit activation)
    forEachElement(t, [&](int64_t src, int64_t dst) {
      std::memcpy(tiled + dst * es, h + src * es, size_t(es));
    });
  else
    forEachElement(t, [&](int64_t src, int64_t dst) {
      tiled[dst] = t.u8 ? uint8_t(h[src] - 128) : h[src];
    });
}

void fromTiled(const NTensor &t, const uint8_t *tiled, void *host) {
  auto *h = static_cast<uint8_t *>(host);
  const int64_t es = t.elemBytes();
  if (es > 1)
    forEachElement(t, [&](int64_t dst, int64_t src) {
      std::memcpy(h + dst * es, tiled + src * es, size_t(es));
    });
  else
    forEachElement(t, [&](int64_t dst, int64_t src) {
      h[dst] = t.u8 ? uint8_t(tiled[src] + 128) : tiled[src];
    });
}

Status layerAlone(const Target &t, const Program &p, size_t i, Program &out) {
  out = Program();
  out.lanes = p.lanes;
  out.dramBytes = p.dramBytes;
  if (i >= p.layers.size())
    return invalid("no layer ", i);
  const LayerInfo &l = p.layers[i];
  if (l.endInsn <= l.firstInsn || l.endInsn > p.ops.size())
    return Status::ok();
  const bool last = i + 1 >= p.layers.size();
  const size_t nf = last ? 0 : p.layers[i + 1].prefetchFirst,
               ne = last ? 0 : p.layers[i + 1].prefetchEnd;
  if (l.prefetchFirst < l.prefetchEnd && l.prefetchEnd <= p.ops.size())
    out.ops.assign(p.ops.begin() + long(l.prefetchFirst),
                   p.ops.begin() + long(l.prefetchEnd));
  for (size_t k = l.firstInsn; k < l.endInsn; ++k)
    if ((k < nf || k >= ne) &&
        (k >= p.opLayer.size() || p.opLayer[k] == int32_t(i)))
      out.ops.push_back(p.ops[k]);
  out.ops.push_back(finishOp());
  out.opLayer.assign(out.ops.size(), 0);
  return assignSync(t, out.ops, nullptr)
      .withContext("layer '" + l.name + "' alone");
}

} // namespace ember::accel
