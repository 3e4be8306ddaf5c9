// Lowerings of the statistics-based normalizations: RMSNormalization,
// LpNormalization, GroupNormalization, MeanVarianceNormalization, and LpPool
// (the Lp norm of each window). Statistics are computed in f32 for 16-bit
// floats (f64 data: f64), as the reference kernels do.
#include "lower/LowerUtil.h"

#include <cmath>
#include <functional>

namespace ember {

// Y = X * 1/sqrt(mean(X^2) + eps) * scale, statistics in f32 (f64 data: f64).
Expected<std::vector<Value>> lower_RMSNormalization(LoweringBuilder &b) {
  const Node &n = b.node();
  const Type &xt = b.inType(0);
  ElemKind sk = xt.elem() == ElemKind::F64 ? ElemKind::F64 : ElemKind::F32;
  EMBER_ASSIGN(int64_t axis, checkedAxis("RMSNormalization",
                                         n.attrInt("axis", -1), xt.rank()));
  EMBER_ASSIGN(Value x, castTo(b, b.in(0), sk));
  EMBER_ASSIGN(Value sq, b.op(OpKind::Mul, {x, x}));
  EMBER_ASSIGN(Value ms, b.mean(sq, LoweringBuilder::axisRange(
                                        axis, int64_t(xt.rank()))));
  EMBER_ASSIGN(
      ms, b.op(OpKind::Add, {ms, b.scalar(sk, n.attrFloat("epsilon", 1e-5))}));
  EMBER_ASSIGN(Value rms, b.op(OpKind::Sqrt, {ms}));
  EMBER_ASSIGN(Value inv, b.op(OpKind::Reciprocal, {rms}));
  EMBER_ASSIGN(Value y, b.op(OpKind::Mul, {x, inv}));
  EMBER_ASSIGN(Value w, castTo(b, b.in(1), sk));
  EMBER_ASSIGN(y, b.op(OpKind::Mul, {y, w}));
  EMBER_ASSIGN(y, castTo(b, y, n.types[0].elem()));
  return std::vector<Value>{y};
}

// Y = X / ||X||_p along axis (p 1 or 2); a zero norm gives 0.
Expected<std::vector<Value>> lower_LpNormalization(LoweringBuilder &b) {
  const Node &n = b.node();
  const Type &xt = b.inType(0);
  ElemKind k = xt.elem(), wk = wideKind(k);
  EMBER_ASSIGN(int64_t axis, checkedAxis("LpNormalization",
                                         n.attrInt("axis", -1), xt.rank()));
  int64_t p = n.attrInt("p", 2);
  if (p != 1 && p != 2)
    return invalid("LpNormalization: p must be 1 or 2, got ", p);
  EMBER_ASSIGN(Value x, castTo(b, b.in(0), wk));
  Value t;
  if (p == 1) {
    EMBER_ASSIGN(t, b.op(OpKind::Abs, {x}));
  } else {
    EMBER_ASSIGN(t, b.op(OpKind::Mul, {x, x}));
  }
  EMBER_ASSIGN(Value norm, b.op(OpKind::ReduceSum, {t, b.ints({axis})},
                                {{"keepdims", Attr::ofInt(1)}}));
  if (p == 2) {
    EMBER_ASSIGN(norm, b.op(OpKind::Sqrt, {norm}));
  }
  EMBER_ASSIGN(Value y, b.op(OpKind::Div, {x, norm}));
  EMBER_ASSIGN(Value zero, b.op(OpKind::Equal, {norm, b.scalar(wk, 0)}));
  EMBER_ASSIGN(y, b.op(OpKind::Where, {zero, b.scalar(wk, 0), y}));
  EMBER_ASSIGN(y, castTo(b, y, k));
  return std::vector<Value>{y};
}

// Per (batch, group): (x - mean) / sqrt(var + eps), then per-channel scale
// and bias; statistics in f32 (f64 data: f64). With spatial axes the sums
// run per channel, then per group, and the activations are never reshaped.
Expected<std::vector<Value>> lower_GroupNormalization(LoweringBuilder &b) {
  const Node &n = b.node();
  const Type &xt = b.inType(0);
  ElemKind k = xt.elem();
  ElemKind sk = k == ElemKind::F64 ? ElemKind::F64 : ElemKind::F32;
  if (xt.rank() < 2)
    return invalid("GroupNormalization: X must have rank >= 2");
  int64_t N = xt.dim(0), C = xt.dim(1), G = n.attrInt("num_groups", 0);
  if (G < 1 || C % G)
    return invalid("GroupNormalization: num_groups must divide channels");
  int64_t inner = N > 0 && C > 0 ? xt.numElements() / (N * C) * (C / G) : 0;
  EMBER_ASSIGN(Value x, castTo(b, b.in(0), sk));
  const double eps = n.attrFloat("epsilon", 1e-5);
  // Each group's mean of v, broadcast over the group's elements.
  std::function<Expected<Value>(Value)> groupMean;
  if (xt.rank() >= 3) {
    // The activations keep their shape (a backend that stores them
    // channels-last reads them in place): per-channel sums over the
    // spatial axes, then per-group sums of those [N, C, 1, ...] values,
    // broadcast back to the channels.
    const Dims spatial = b.axisRange(2, int64_t(xt.rank()));
    Dims perChannel(xt.rank(), 1);
    perChannel[0] = N;
    perChannel[1] = C;
    groupMean = [&b, spatial, perChannel, N, G, C, inner,
                 sk](Value v) -> Expected<Value> {
      EMBER_ASSIGN(Value sum, b.op(OpKind::ReduceSum, {v, b.ints(spatial)},
                                   {{"keepdims", Attr::ofInt(1)}}));
      EMBER_ASSIGN(sum, b.op(OpKind::Reshape, {sum, b.ints({N, G, C / G})}));
      EMBER_ASSIGN(sum, b.op(OpKind::ReduceSum, {sum, b.ints({2})},
                             {{"keepdims", Attr::ofInt(1)}}));
      EMBER_ASSIGN(sum, b.op(OpKind::Div, {sum, b.scalar(sk, double(inner))}));
      EMBER_ASSIGN(sum, b.op(OpKind::Expand, {sum, b.ints({N, G, C / G})}));
      return b.op(OpKind::Reshape, {sum, b.ints(perChannel)});
    };
  } else {
    EMBER_ASSIGN(x, b.op(OpKind::Reshape, {x, b.ints({N, G, inner})}));
    groupMean = [&b](Value v) { return b.mean(v, {2}); };
  }
  EMBER_ASSIGN(Value mean, groupMean(x));
  EMBER_ASSIGN(Value d, b.op(OpKind::Sub, {x, mean}));
  EMBER_ASSIGN(Value sq, b.op(OpKind::Mul, {d, d}));
  EMBER_ASSIGN(Value var, groupMean(sq));
  EMBER_ASSIGN(var, b.op(OpKind::Add, {var, b.scalar(sk, eps)}));
  EMBER_ASSIGN(Value sd, b.op(OpKind::Sqrt, {var}));
  EMBER_ASSIGN(Value inv, b.op(OpKind::Reciprocal, {sd}));
  EMBER_ASSIGN(Value y, b.op(OpKind::Mul, {d, inv}));
  if (xt.rank() < 3) {
    EMBER_ASSIGN(y, b.op(OpKind::Reshape, {y, b.ints(xt.dims())}));
  }
  Dims chShape(xt.rank() - 1, 1);
  chShape[0] = C;
  EMBER_ASSIGN(Value sc, b.op(OpKind::Reshape, {b.in(1), b.ints(chShape)}));
  EMBER_ASSIGN(sc, castTo(b, sc, sk));
  EMBER_ASSIGN(Value bi, b.op(OpKind::Reshape, {b.in(2), b.ints(chShape)}));
  EMBER_ASSIGN(bi, castTo(b, bi, sk));
  EMBER_ASSIGN(y, b.op(OpKind::Mul, {y, sc}));
  EMBER_ASSIGN(y, b.op(OpKind::Add, {y, bi}));
  EMBER_ASSIGN(y, castTo(b, y, k));
  return std::vector<Value>{y};
}

// (X - E[X]) / (sqrt(E[X^2] - E[X]^2) + 1e-9) over `axes` (default 0,2,3).
Expected<std::vector<Value>>
lower_MeanVarianceNormalization(LoweringBuilder &b) {
  const Node &n = b.node();
  const Type &xt = b.inType(0);
  ElemKind k = xt.elem(), wk = wideKind(k);
  Dims axes = n.hasAttr("axes") ? n.attrInts("axes") : Dims{0, 2, 3};
  for (int64_t &a : axes) {
    EMBER_ASSIGN(a, checkedAxis("MeanVarianceNormalization", a, xt.rank()));
  }
  EMBER_ASSIGN(Value x, castTo(b, b.in(0), wk));
  EMBER_ASSIGN(Value mean, b.mean(x, axes));
  EMBER_ASSIGN(Value sq, b.op(OpKind::Mul, {x, x}));
  EMBER_ASSIGN(Value ex2, b.mean(sq, axes));
  EMBER_ASSIGN(Value m2, b.op(OpKind::Mul, {mean, mean}));
  EMBER_ASSIGN(Value var, b.op(OpKind::Sub, {ex2, m2}));
  EMBER_ASSIGN(Value sd, b.op(OpKind::Sqrt, {var}));
  EMBER_ASSIGN(sd, b.op(OpKind::Add, {sd, b.scalar(wk, 1e-9)}));
  EMBER_ASSIGN(Value d, b.op(OpKind::Sub, {x, mean}));
  EMBER_ASSIGN(Value y, b.op(OpKind::Div, {d, sd}));
  EMBER_ASSIGN(y, castTo(b, y, k));
  return std::vector<Value>{y};
}

// LpPool: |x|^p zero-padded explicitly so every window is whole, an
// AveragePool without padding times the window size (= the window sum),
// then ^(1/p); computed in f32 for 16-bit floats.
Expected<std::vector<Value>> lower_LpPool(LoweringBuilder &b) {
  const Node &n = b.node();
  const Type &xt = b.inType(0);
  ElemKind k = xt.elem(), wk = wideKind(k);
  size_t nsp = xt.rank() - 2;
  Dims kernel = n.attrInts("kernel_shape");
  const Dims &out = n.types[0].dims();
  if (xt.rank() < 3 || kernel.size() != nsp)
    return invalid("LpPool: kernel_shape must match the spatial dims");
  Dims strides = n.hasAttr("strides") ? n.attrInts("strides") : Dims(nsp, 1);
  Dims dil = n.hasAttr("dilations") ? n.attrInts("dilations") : Dims(nsp, 1);
  Dims pads = n.hasAttr("pads") ? n.attrInts("pads") : Dims(2 * nsp, 0);
  std::string autoPad = n.attrString("auto_pad", "NOTSET");
  double p = double(n.attrInt("p", 2));
  Dims padAll(2 * xt.rank(), 0);
  int64_t kcount = 1;
  for (size_t d = 0; d < nsp; ++d) {
    int64_t in = xt.dim(2 + d), ek = (kernel[d] - 1) * dil[d] + 1;
    int64_t need = (out[2 + d] - 1) * strides[d] + ek - in; // total padding
    int64_t begin = 0;
    if (autoPad == "SAME_UPPER" || autoPad == "SAME_LOWER") {
      int64_t total = std::max<int64_t>(0, need);
      begin = autoPad == "SAME_UPPER" ? total / 2 : total - total / 2;
    } else if (autoPad != "VALID") {
      begin = pads[d];
    }
    padAll[2 + d] = begin;
    padAll[xt.rank() + 2 + d] = std::max<int64_t>(0, need - begin);
    kcount *= kernel[d];
  }
  EMBER_ASSIGN(Value x, castTo(b, b.in(0), wk));
  EMBER_ASSIGN(x, b.op(OpKind::Abs, {x}));
  EMBER_ASSIGN(x, b.op(OpKind::Pow, {x, b.scalar(wk, p)}));
  EMBER_ASSIGN(x, b.op(OpKind::Pad, {x, b.ints(padAll), b.scalar(wk, 0)}));
  AttrMap pa{{"kernel_shape", Attr::ofInts(kernel)},
             {"strides", Attr::ofInts(strides)},
             {"dilations", Attr::ofInts(dil)}};
  EMBER_ASSIGN(Value y, b.op(OpKind::AveragePool, {x}, pa));
  if (y.type().dims() != out) { // windows past the last one: drop them
    Dims starts(nsp, 0), ends(out.begin() + 2, out.end()), axes;
    for (size_t d = 0; d < nsp; ++d)
      axes.push_back(int64_t(2 + d));
    EMBER_ASSIGN(y, b.op(OpKind::Slice,
                         {y, b.ints(starts), b.ints(ends), b.ints(axes)}));
  }
  EMBER_ASSIGN(y, b.op(OpKind::Mul, {y, b.scalar(wk, double(kcount))}));
  EMBER_ASSIGN(y, b.op(OpKind::Pow, {y, b.scalar(wk, 1.0 / p)}));
  EMBER_ASSIGN(y, castTo(b, y, k));
  return std::vector<Value>{y};
}

} // namespace ember
