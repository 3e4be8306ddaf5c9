// Conv and ConvTranspose reference kernels (1-D to N-D, groups, dilations,
// auto_pad). Conv is im2col + blocked matmul, accumulating in float for the
// float kinds narrower than f64 (as ONNX Runtime does).
#include "interp/kernels/NnUtil.h"

namespace ember {

Status kernel_Conv(KernelContext &ctx) {
  const Tensor &x = ctx.in(0), &w = ctx.in(1);
  if (w.elem() != x.elem() || (ctx.has(2) && ctx.in(2).elem() != x.elem()))
    return ctx.error("operand types differ");
  EMBER_ASSIGN(ConvProblem p, convProblem(ctx, x.dims(), w.dims()));
  if (ctx.has(2) && ctx.in(2).dims() != Dims{p.outC})
    return ctx.error("B ", ctx.in(2).type().toString(), " must be [", p.outC,
                     "]");
  Dims od{p.batch, p.outC};
  od.insert(od.end(), p.g.out.begin(), p.g.out.end());
  Tensor &y = ctx.setOutput(0, Type(x.elem(), od));
  if (ctx.inferOnly())
    return Status::ok();
  int64_t outP = p.g.outSize();
  dispatchElem(x.elem(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (isFloatLike<T>) {
      using C = ComputeT<T>;
      std::vector<C> acc(size_t(y.size()), C(0));
      if (ctx.has(2)) {
        std::vector<C> bias = toVector<C>(ctx.in(2));
        for (int64_t n = 0; n < p.batch; ++n)
          for (int64_t m = 0; m < p.outC; ++m)
            std::fill_n(acc.begin() + (n * p.outC + m) * outP, outP,
                        bias[size_t(m)]);
      }
      if constexpr (std::is_same_v<T, C>) {
        convForward<C>(p, x.data<T>(), w.data<T>(), acc.data());
      } else {
        std::vector<C> xv = toVector<C>(x), wv = toVector<C>(w);
        convForward<C>(p, xv.data(), wv.data(), acc.data());
      }
      T *py = y.data<T>();
      for (size_t i = 0; i < acc.size(); ++i)
        py[i] = T(acc[i]);
    }
  });
  return Status::ok();
}

// ConvTranspose: X[N, C, in...], W[C, M/group, k...] -> Y[N, M, out...].
Status kernel_ConvTranspose(KernelContext &ctx) {
  const Tensor &x = ctx.in(0), &w = ctx.in(1);
  if (w.elem() != x.elem() || (ctx.has(2) && ctx.in(2).elem() != x.elem()))
    return ctx.error("operand types differ");
  if (x.rank() < 3 || w.rank() != x.rank())
    return ctx.error("X ", x.type().toString(), " and W ", w.type().toString(),
                     " must have the same rank >= 3");
  size_t nsp = x.rank() - 2;
  int64_t batch = x.dims()[0], inC = x.dims()[1];
  int64_t group = ctx.attrInt("group", 1);
  if (group < 1 || inC % group != 0 || w.dims()[0] != inC)
    return ctx.error("W ", w.type().toString(), " does not match X ",
                     x.type().toString(), " with group ", group);
  int64_t mg = w.dims()[1], outC = mg * group, cg = inC / group;
  Dims in(x.dims().begin() + 2, x.dims().end());
  Dims kernel(w.dims().begin() + 2, w.dims().end());
  if (ctx.hasAttr("kernel_shape") && ctx.attrInts("kernel_shape") != kernel)
    return ctx.error("kernel_shape does not match W ", w.type().toString());
  auto orDefault = [&](const char *n, size_t len, int64_t def) {
    return ctx.hasAttr(n) ? ctx.attrInts(n) : Dims(len, def);
  };
  Dims strides = orDefault("strides", nsp, 1);
  Dims dil = orDefault("dilations", nsp, 1);
  Dims pads = orDefault("pads", 2 * nsp, 0);
  Dims outPad = orDefault("output_padding", nsp, 0);
  Dims outShape =
      ctx.hasAttr("output_shape") ? ctx.attrInts("output_shape") : Dims{};
  if (outShape.size() == nsp + 2)
    outShape.erase(outShape.begin(), outShape.begin() + 2);
  if (strides.size() != nsp || dil.size() != nsp || pads.size() != 2 * nsp ||
      outPad.size() != nsp || (!outShape.empty() && outShape.size() != nsp))
    return ctx.error("strides/dilations/pads/output_padding/output_shape do "
                     "not match ",
                     nsp, " spatial dims");
  std::string autoPad = ctx.attrString("auto_pad", "NOTSET");
  Dims out(nsp), pb(nsp);
  for (size_t d = 0; d < nsp; ++d) {
    if (strides[d] < 1 || dil[d] < 1 || kernel[d] < 1)
      return ctx.error("strides, dilations and kernel dims must be >= 1");
    int64_t ek = (kernel[d] - 1) * dil[d] + 1;
    int64_t full = strides[d] * (in[d] - 1) + outPad[d] + ek;
    if (!outShape.empty() || autoPad == "SAME_UPPER" ||
        autoPad == "SAME_LOWER") {
      out[d] = !outShape.empty() ? outShape[d] : in[d] * strides[d];
      int64_t total = full - out[d];
      if (total < 0)
        total = 0; // extra output positions stay zero (+bias)
      pb[d] = autoPad == "SAME_UPPER" ? total / 2 : total - total / 2;
    } else if (autoPad == "VALID" || autoPad == "NOTSET" || autoPad.empty()) {
      if (autoPad == "VALID")
        pads.assign(2 * nsp, 0);
      pb[d] = pads[d];
      out[d] = full - pads[d] - pads[nsp + d];
    } else {
      return ctx.error("unknown auto_pad '", autoPad, "'");
    }
    if (out[d] < 1)
      return ctx.error("output extent ", out[d], " along spatial dim ", d,
                       " is not positive");
  }
  if (ctx.has(2) && ctx.in(2).dims() != Dims{outC})
    return ctx.error("B ", ctx.in(2).type().toString(), " must be [", outC,
                     "]");
  Dims od{batch, outC};
  od.insert(od.end(), out.begin(), out.end());
  Tensor &y = ctx.setOutput(0, Type(x.elem(), od));
  if (ctx.inferOnly())
    return Status::ok();
  int64_t inP = numElements(in), outP = numElements(out),
          kP = numElements(kernel);
  auto inStr = stridesOf(in), outStr = stridesOf(out), kStr = stridesOf(kernel);
  dispatchElem(x.elem(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (isFloatLike<T>) {
      using C = ComputeT<T>;
      std::vector<C> xv = toVector<C>(x), wv = toVector<C>(w);
      std::vector<C> acc(size_t(y.size()), C(0));
      // Output offset of each (input position, kernel position); -1 when it
      // falls outside the output.
      std::vector<int64_t> target(size_t(inP * kP));
      for (int64_t ip = 0; ip < inP; ++ip)
        for (int64_t kp = 0; kp < kP; ++kp) {
          int64_t off = 0;
          bool ok = true;
          for (size_t d = 0; d < nsp; ++d) {
            int64_t i = (ip / inStr[d]) % in[d], k = (kp / kStr[d]) % kernel[d];
            int64_t o = i * strides[d] + k * dil[d] - pb[d];
            ok = ok && o >= 0 && o < out[d];
            off += o * outStr[d];
          }
          target[size_t(ip * kP + kp)] = ok ? off : -1;
        }
      for (int64_t n = 0; n < batch; ++n)
        for (int64_t g = 0; g < group; ++g)
          for (int64_t c = g * cg; c < (g + 1) * cg; ++c) {
            const C *xc = xv.data() + (n * inC + c) * inP;
            for (int64_t mi = 0; mi < mg; ++mi) {
              int64_t m = g * mg + mi;
              C *ym = acc.data() + (n * outC + m) * outP;
              const C *wk = wv.data() + (c * mg + mi) * kP;
              for (int64_t ip = 0; ip < inP; ++ip) {
                C xvv = xc[ip];
                const int64_t *t = target.data() + ip * kP;
                for (int64_t kp = 0; kp < kP; ++kp)
                  if (t[kp] >= 0)
                    ym[t[kp]] += xvv * wk[kp];
              }
            }
          }
      if (ctx.has(2)) {
        std::vector<C> bias = toVector<C>(ctx.in(2));
        for (int64_t n = 0; n < batch; ++n)
          for (int64_t m = 0; m < outC; ++m)
            for (int64_t q = 0; q < outP; ++q)
              acc[size_t((n * outC + m) * outP + q)] += bias[size_t(m)];
      }
      T *py = y.data<T>();
      for (size_t i = 0; i < acc.size(); ++i)
        py[i] = T(acc[i]);
    }
  });
  return Status::ok();
}

} // namespace ember
