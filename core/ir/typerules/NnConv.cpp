// Type rules of the ops whose reference kernels are in
// interp/kernels/NnConv.cpp.
#include "ir/typerules/Parse.h"

namespace ember {

Status types_Conv(TypeContext &ctx) {
  const Tensor &x = ctx.in(0), &w = ctx.in(1);
  if (w.elem() != x.elem() || (ctx.has(2) && ctx.in(2).elem() != x.elem()))
    return ctx.error("operand types differ");
  EMBER_ASSIGN(ConvProblem p, convProblem(ctx, x.dims(), w.dims()));
  if (ctx.has(2) && ctx.in(2).dims() != Dims{p.outC})
    return ctx.error("B ", ctx.in(2).type().toString(), " must be [", p.outC,
                     "]");
  ctx.setOutput(0, Type(x.elem(), convOutDims(p)));
  return Status::ok();
}

Expected<ConvTransposeProblem> convTransposeProblem(const TypeContext &ctx) {
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
  ConvTransposeProblem p;
  p.batch = batch;
  p.inC = inC;
  p.outC = outC;
  p.group = group;
  p.mg = mg;
  p.cg = cg;
  p.in = in;
  p.kernel = kernel;
  p.strides = strides;
  p.dilations = dil;
  p.out = out;
  p.padBegin = pb;
  return p;
}

// ConvTranspose: X[N, C, in...], W[C, M/group, k...] -> Y[N, M, out...].
Status types_ConvTranspose(TypeContext &ctx) {
  EMBER_ASSIGN(ConvTransposeProblem p, convTransposeProblem(ctx));
  Dims od{p.batch, p.outC};
  od.insert(od.end(), p.out.begin(), p.out.end());
  ctx.setOutput(0, Type(ctx.in(0).elem(), od));
  return Status::ok();
}
} // namespace ember
