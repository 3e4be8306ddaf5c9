// Pooling reference kernels: MaxPool (with Indices), AveragePool,
// GlobalAveragePool, GlobalMaxPool, LpPool (the Lp norm of each window) and
// MaxUnpool (pooled values scattered back to the positions MaxPool's
// Indices recorded).
#include "interp/kernels/NnUtil.h"

#include "ember/quant/Arith.h"
#include "interp/kernels/MovementUtil.h"
#include "interp/kernels/ValueUtil.h"

#include <cstring>
#include <limits>

namespace ember {

namespace {

// Visits every output position of a window geometry with, per kernel
// position, the flat input offset (or -1 when outside the input) and
// whether the position lies inside the explicit padding.
struct WindowWalker {
  const WindowGeom &g;
  std::vector<int64_t> kOff; // [kP][nsp] kernel offsets (dilated)
  std::vector<int64_t> inStr, outStr;
  explicit WindowWalker(const WindowGeom &geom) : g(geom) {
    size_t nsp = g.rank();
    int64_t kP = g.kernelSize();
    auto kStr = stridesOf(g.kernel);
    kOff.resize(size_t(kP) * nsp);
    for (int64_t k = 0; k < kP; ++k)
      for (size_t d = 0; d < nsp; ++d)
        kOff[size_t(k) * nsp + d] =
            ((k / kStr[d]) % g.kernel[d]) * g.dilations[d];
    inStr = stridesOf(g.in);
    outStr = stridesOf(g.out);
  }
  // f(kernelIndex, inputOffset or -1, insidePaddedExtent)
  template <typename F> void window(int64_t outFlat, F f) const {
    size_t nsp = g.rank();
    int64_t start[8];
    for (size_t d = 0; d < nsp; ++d)
      start[d] =
          ((outFlat / outStr[d]) % g.out[d]) * g.strides[d] - g.padBegin[d];
    for (int64_t k = 0, kP = g.kernelSize(); k < kP; ++k) {
      int64_t off = 0;
      bool inside = true, padded = true;
      for (size_t d = 0; d < nsp; ++d) {
        int64_t c = start[d] + kOff[size_t(k) * nsp + d];
        inside = inside && c >= 0 && c < g.in[d];
        padded = padded && c >= -g.padBegin[d] && c < g.in[d] + g.padEnd[d];
        off += c * inStr[d];
      }
      f(k, inside ? off : int64_t(-1), padded);
    }
  }
};

} // namespace

Status kernel_MaxPool(KernelContext &ctx) {
  const Tensor &x = ctx.in(0);
  EMBER_ASSIGN(WindowGeom g, poolGeom(ctx, x));
  int64_t storageOrder = ctx.attrInt("storage_order", 0);
  Tensor &y = ctx.out(0);
  bool wantIdx = ctx.numOutputs() == 2;
  WindowWalker walk(g);
  int64_t planes = y.dim(0) * y.dim(1), inP = numElements(g.in),
          outP = g.outSize();
  size_t nsp = g.rank();
  // Column-major strides of the spatial dims (storage_order 1).
  Dims colStr(nsp, 1);
  for (size_t d = 1; d < nsp; ++d)
    colStr[d] = colStr[d - 1] * g.in[d - 1];
  int64_t *pi = wantIdx ? ctx.out(1).data<int64_t>() : nullptr;
  dispatchElem(x.elem(), [&](auto tag) {
    using T = decltype(tag);
    using C = ComputeT<T>;
    const T *px = x.data<T>();
    T *py = y.data<T>();
    for (int64_t pl = 0; pl < planes; ++pl)
      for (int64_t o = 0; o < outP; ++o) {
        bool any = false;
        C best = C(0);
        int64_t bestOff = -1;
        walk.window(o, [&](int64_t, int64_t off, bool) {
          if (off < 0)
            return;
          C v = C(px[pl * inP + off]);
          if (!any || v > best) {
            best = v;
            bestOff = off;
            any = true;
          }
        });
        py[pl * outP + o] = T(best);
        if (pi) {
          int64_t idx = bestOff;
          if (storageOrder == 1 && bestOff >= 0) {
            idx = 0;
            const auto &inStr = walk.inStr;
            for (size_t d = 0; d < nsp; ++d)
              idx += ((bestOff / inStr[d]) % g.in[d]) * colStr[d];
          }
          pi[pl * outP + o] = bestOff < 0 ? -1 : pl * inP + idx;
        }
      }
  });
  return Status::ok();
}

// Float inputs average as ONNX defines. u8/i8 inputs are Ember's integer
// average (docs/quantization.md): the sum of the stored integers over the
// window (padded taps read the `pad_value` attribute, the zero point, when
// count_include_pad is set), divided by the tap count and rounded half up.
Status kernel_AveragePool(KernelContext &ctx) {
  const Tensor &x = ctx.in(0);
  bool isInt = x.elem() == ElemKind::U8 || x.elem() == ElemKind::I8 ||
               x.elem() == ElemKind::I16;
  EMBER_ASSIGN(WindowGeom g, poolGeom(ctx, x));
  bool includePad = ctx.attrInt("count_include_pad", 0) != 0;
  Tensor &y = ctx.out(0);
  WindowWalker walk(g);
  int64_t planes = y.dim(0) * y.dim(1), inP = numElements(g.in),
          outP = g.outSize();
  if (isInt) {
    int64_t padValue = ctx.attrInt("pad_value", 0);
    for (int64_t pl = 0; pl < planes; ++pl)
      for (int64_t o = 0; o < outP; ++o) {
        int64_t sum = 0, count = 0;
        walk.window(o, [&](int64_t, int64_t off, bool padded) {
          if (off >= 0) {
            sum += x.getInt(pl * inP + off);
            ++count;
          } else if (includePad && padded) {
            sum += padValue;
            ++count;
          }
        });
        // A window wholly in the padding (pads >= kernel) averages nothing:
        // it gives the zero point.
        y.setInt(pl * outP + o,
                 count ? quant::averageHalfUp(sum, count) : padValue);
      }
    return Status::ok();
  }
  dispatchElem(x.elem(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (isFloatLike<T>) {
      using C = ComputeT<T>;
      const T *px = x.data<T>();
      T *py = y.data<T>();
      for (int64_t pl = 0; pl < planes; ++pl)
        for (int64_t o = 0; o < outP; ++o) {
          C sum = C(0);
          int64_t count = 0;
          walk.window(o, [&](int64_t, int64_t off, bool padded) {
            if (off >= 0)
              sum += C(px[pl * inP + off]);
            if (off >= 0 || (includePad && padded))
              ++count;
          });
          py[pl * outP + o] = T(sum / C(count));
        }
    }
  });
  return Status::ok();
}

namespace {
template <bool IsMax> Status globalPool(KernelContext &ctx) {
  const Tensor &x = ctx.in(0);
  Tensor &y = ctx.out(0);
  int64_t planes = y.dim(0) * y.dim(1),
          inP = x.size() / std::max<int64_t>(planes, 1);
  dispatchElem(x.elem(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (isFloatLike<T>) {
      using C = ComputeT<T>;
      const T *px = x.data<T>();
      T *py = y.data<T>();
      for (int64_t pl = 0; pl < planes; ++pl) {
        const T *p = px + pl * inP;
        C acc = IsMax ? -std::numeric_limits<C>::infinity() : C(0);
        for (int64_t i = 0; i < inP; ++i) {
          C v = C(p[i]);
          if (IsMax)
            acc = (v > acc || std::isnan(double(v))) && !std::isnan(double(acc))
                      ? v
                      : acc;
          else
            acc += v;
        }
        py[pl] = T(IsMax ? acc : acc / C(inP));
      }
    }
  });
  return Status::ok();
}
} // namespace

Status kernel_GlobalAveragePool(KernelContext &ctx) {
  return globalPool<false>(ctx);
}
Status kernel_GlobalMaxPool(KernelContext &ctx) {
  return globalPool<true>(ctx);
}

Status kernel_MaxUnpool(KernelContext &ctx) {
  const Tensor &x = ctx.in(0), &ind = ctx.in(1);
  EMBER_ASSIGN(MaxUnpoolShape u, maxUnpoolShape(ctx));
  const Dims &inferred = u.inferred, &yd = u.out;
  Tensor &y = ctx.out(0);
  // Indices address the inferred shape; that block sits at the origin of
  // the (possibly larger) output.
  std::vector<int64_t> is = stridesOf(inferred), ys = stridesOf(yd);
  int64_t limit = numElements(inferred);
  std::vector<int64_t> iv = ind.toInts();
  size_t es = elemSize(x.elem());
  for (int64_t e = 0; e < x.size(); ++e) {
    int64_t f = iv[size_t(e)];
    if (f < 0 || f >= limit)
      return ctx.error("index ", f, " at element ", e, " is outside [0, ",
                       limit, ")");
    int64_t yo = 0;
    for (size_t k = 0; k < inferred.size(); ++k)
      yo += ((f / is[k]) % inferred[k]) * ys[k];
    std::memcpy(y.raw() + size_t(yo) * es, x.raw() + size_t(e) * es, es);
  }
  return Status::ok();
}

// LpPool(X) attrs p=2, kernel_shape, auto_pad, ceil_mode, dilations, pads,
// strides: (sum over the window of |x|^p)^(1/p); padding contributes 0.
Status kernel_LpPool(KernelContext &ctx) {
  const Tensor &x = ctx.in(0);
  int64_t p = ctx.attrInt("p", 2);
  EMBER_ASSIGN(WindowGeom g, poolGeom(ctx, x));
  Tensor &y = ctx.out(0);
  size_t nsp = g.rank();
  int64_t inP = numElements(g.in), outP = g.outSize(), kP = g.kernelSize();
  std::vector<int64_t> inStr = stridesOf(g.in), outStr = stridesOf(g.out),
                       kStr = stridesOf(g.kernel);
  dispatchElem(x.elem(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (isFloatLike<T>) {
      const T *px = x.data<T>();
      T *py = y.data<T>();
      double pd = double(p);
      for (int64_t nc = 0; nc < x.dim(0) * x.dim(1); ++nc)
        for (int64_t o = 0; o < outP; ++o) {
          double acc = 0;
          for (int64_t k = 0; k < kP; ++k) {
            int64_t off = 0;
            bool inside = true;
            for (size_t d = 0; d < nsp; ++d) {
              int64_t c = ((o / outStr[d]) % g.out[d]) * g.strides[d] -
                          g.padBegin[d] +
                          ((k / kStr[d]) % g.kernel[d]) * g.dilations[d];
              inside = inside && c >= 0 && c < g.in[d];
              off += c * inStr[d];
            }
            if (inside) {
              double v = std::fabs(double(ComputeT<T>(px[nc * inP + off])));
              acc += p == 1 ? v : p == 2 ? v * v : std::pow(v, pd);
            }
          }
          py[nc * outP + o] = T(p == 1   ? acc
                                : p == 2 ? std::sqrt(acc)
                                         : std::pow(acc, 1 / pd));
        }
    }
  });
  return Status::ok();
}

} // namespace ember
