// Sliding-window and ConvTranspose geometry from a node's attributes, as
// the reference kernels compute it (ONNX pads, auto_pad, ceil mode): the
// capability checks, the parameter blocks and the pooling loops use it.
#include "Geometry.h"

#include "ir/TypeRules.h"
#include "ir/typerules/Parse.h"

#include <algorithm>

namespace ember::cpugen {

namespace {

bool fail(std::string &reason, std::string why) {
  reason = std::move(why);
  return false;
}

} // namespace

bool windowOf(const Node &n, const Type &x, const std::vector<int64_t> &kernel,
              bool ceilMode, Window &w, std::string &reason) {
  size_t r = x.rank();
  if (r != 3 && r != 4)
    return fail(reason, concat("rank ", r,
                               " input (the CPU kernels do 1-D "
                               "and 2-D windows)"));
  size_t nsp = r - 2;
  if (kernel.size() != nsp)
    return fail(reason, "kernel shape does not match the input rank");
  auto orDefault = [&](const char *name, size_t count, int64_t def) {
    return n.hasAttr(name) ? n.attrInts(name)
                           : std::vector<int64_t>(count, def);
  };
  auto strides = orDefault("strides", nsp, 1);
  auto dil = orDefault("dilations", nsp, 1);
  auto pads = orDefault("pads", 2 * nsp, 0);
  if (strides.size() != nsp || dil.size() != nsp || pads.size() != 2 * nsp)
    return fail(reason, "strides/dilations/pads do not match the rank");
  std::string autoPad = n.attrString("auto_pad", "NOTSET");
  std::vector<int64_t> in(x.dims().begin() + 2, x.dims().end());
  std::vector<int64_t> out(nsp), pb(nsp), pe(nsp);
  for (size_t d = 0; d < nsp; ++d) {
    if (strides[d] < 1 || dil[d] < 1 || kernel[d] < 1 || pads[d] < 0 ||
        pads[nsp + d] < 0)
      return fail(reason, "non-positive stride, dilation or kernel");
    int64_t ek = (kernel[d] - 1) * dil[d] + 1, s = strides[d];
    if (autoPad == "SAME_UPPER" || autoPad == "SAME_LOWER") {
      out[d] = (in[d] + s - 1) / s;
      int64_t total = std::max<int64_t>(0, (out[d] - 1) * s + ek - in[d]);
      int64_t small = total / 2, big = total - small;
      pb[d] = autoPad == "SAME_UPPER" ? small : big;
      pe[d] = autoPad == "SAME_UPPER" ? big : small;
    } else if (autoPad == "VALID") {
      if (in[d] < ek)
        return fail(reason, "window larger than the input");
      out[d] = (in[d] - ek) / s + 1;
    } else if (autoPad == "NOTSET" || autoPad.empty()) {
      pb[d] = pads[d];
      pe[d] = pads[nsp + d];
      int64_t span = in[d] + pb[d] + pe[d] - ek;
      if (span < 0)
        return fail(reason, "window larger than the padded input");
      if (ceilMode) {
        out[d] = (span + s - 1) / s + 1;
        if ((out[d] - 1) * s >= in[d] + pb[d])
          --out[d];
      } else {
        out[d] = span / s + 1;
      }
    } else {
      return fail(reason, concat("auto_pad '", autoPad, "'"));
    }
  }
  w = Window();
  w.n = x.dim(0);
  w.c = x.dim(1);
  size_t o = nsp == 2 ? 0 : 1; // 1-D: the width is the only spatial dim
  if (nsp == 2) {
    w.h = in[0];
    w.kh = kernel[0];
    w.sh = strides[0];
    w.dh = dil[0];
    w.pt = pb[0];
    w.pb = pe[0];
    w.oh = out[0];
  }
  w.w = in[1 - o];
  w.kw = kernel[1 - o];
  w.sw = strides[1 - o];
  w.dw = dil[1 - o];
  w.pl = pb[1 - o];
  w.pr = pe[1 - o];
  w.ow = out[1 - o];
  w.ceil = ceilMode && autoPad == "NOTSET";
  return true;
}

bool convTransposeGeometry(const Node &n, std::vector<int64_t> &pb,
                           std::vector<int64_t> &out, std::string &reason) {
  std::vector<Tensor> typeOnly;
  Expected<ConvTransposeProblem> p =
      convTransposeProblem(TypeContext(n, staticOperands(n, typeOnly)));
  if (!p)
    return fail(reason, p.status().message());
  pb = p->padBegin;
  out = p->out;
  return true;
}

bool recurrentGeometry(const Node &n, RecurrentCell &cell, RecurrentShape &p,
                       std::string &reason) {
  cell = n.kind == OpKind::RNN   ? RecurrentCell::Rnn
         : n.kind == OpKind::GRU ? RecurrentCell::Gru
                                 : RecurrentCell::Lstm;
  std::vector<Tensor> typeOnly;
  Expected<RecurrentShape> r =
      recurrentShape(TypeContext(n, staticOperands(n, typeOnly)), cell);
  if (!r)
    return fail(reason, r.status().message());
  p = std::move(*r);
  return true;
}

} // namespace ember::cpugen
