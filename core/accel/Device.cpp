// Layout conversion and one layer alone (Device.h).
#include "ember/accel/Device.h"

#include "ember/accel/Sync.h"

#include <cstring>

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

void toTiled(const NTensor &t, const void *host, uint8_t *tiled) {
  std::memset(tiled, 0, size_t(t.bytes()));
  const auto *h = static_cast<const uint8_t *>(host);
  if (t.elemBytes() == 4)
    forEachElement(t, [&](int64_t src, int64_t dst) {
      std::memcpy(tiled + dst * 4, h + src * 4, 4);
    });
  else
    forEachElement(t, [&](int64_t src, int64_t dst) {
      tiled[dst] = t.u8 ? uint8_t(h[src] - 128) : h[src];
    });
}

void fromTiled(const NTensor &t, const uint8_t *tiled, void *host) {
  auto *h = static_cast<uint8_t *>(host);
  if (t.elemBytes() == 4)
    forEachElement(t, [&](int64_t dst, int64_t src) {
      std::memcpy(h + dst * 4, tiled + src * 4, 4);
    });
  else
    forEachElement(t, [&](int64_t dst, int64_t src) {
      h[dst] = t.u8 ? uint8_t(tiled[src] + 128) : tiled[src];
    });
}

std::string layerAlone(const Target &t, const Program &p, size_t i,
                       Program &out) {
  out = Program();
  out.lanes = p.lanes;
  out.dramBytes = p.dramBytes;
  if (i >= p.layers.size())
    return "no layer " + std::to_string(i);
  const LayerInfo &l = p.layers[i];
  if (l.endInsn <= l.firstInsn || l.endInsn > p.ops.size())
    return "";
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
  std::string err = assignSync(t, out.ops, nullptr);
  return err.empty() ? "" : "layer '" + l.name + "' alone: " + err;
}

} // namespace ember::accel
