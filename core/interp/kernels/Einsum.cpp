// Einsum reference kernel: a direct sum over the product of all index
// ranges (explicit and implicit output, ellipsis broadcasting, repeated
// labels within a term for diagonals).
#include "interp/kernels/ValueUtil.h"
#include "ir/EinsumEquation.h"

#include <algorithm>
#include <map>

namespace ember {

Status kernel_Einsum(KernelContext &ctx) {
  EMBER_ASSIGN(EinsumSpec spec, einsumSpec(ctx));
  size_t n = ctx.numInputs();
  const std::vector<std::vector<int>> &lab = spec.inputs;
  const std::vector<int> &outLab = spec.output;
  std::map<int, int64_t> &size = spec.size;
  std::vector<int> sumLab;
  for (auto &[l, d] : size)
    if (std::find(outLab.begin(), outLab.end(), l) == outLab.end())
      sumLab.push_back(l);
  Tensor &y = ctx.out(0);

  // Per operand and label: element stride (summed over repeated labels,
  // 0 where the operand broadcasts).
  std::vector<std::map<int, int64_t>> opStride(n);
  std::vector<std::vector<double>> vals(n);
  for (size_t i = 0; i < n; ++i) {
    std::vector<int64_t> st = stridesOf(ctx.in(i).dims());
    for (size_t k = 0; k < lab[i].size(); ++k)
      if (ctx.in(i).dim(k) != 1)
        opStride[i][lab[i][k]] += st[k];
    vals[i] = ctx.in(i).toDoubles();
  }
  auto strideFor = [&](size_t i, int l) {
    auto it = opStride[i].find(l);
    return it == opStride[i].end() ? int64_t(0) : it->second;
  };
  // Label sizes and per-operand strides as flat tables: [label][operand].
  auto table = [&](const std::vector<int> &labels, std::vector<int64_t> &sz,
                   std::vector<int64_t> &str) {
    for (int l : labels) {
      sz.push_back(size[l]);
      for (size_t i = 0; i < n; ++i)
        str.push_back(strideFor(i, l));
    }
  };
  std::vector<int64_t> oSz, oStr, sSz, sStr;
  table(outLab, oSz, oStr);
  table(sumLab, sSz, sStr);
  int64_t outN = y.size(), sumN = numElements(sSz);
  std::vector<double> out(static_cast<size_t>(outN));
  std::vector<int64_t> base(n), off(n), idx(sSz.size());
  for (int64_t o = 0; o < outN; ++o) {
    std::fill(base.begin(), base.end(), 0);
    int64_t rem = o;
    for (size_t k = oSz.size(); k-- > 0;) {
      int64_t v = rem % oSz[k];
      rem /= oSz[k];
      for (size_t i = 0; i < n; ++i)
        base[i] += v * oStr[k * n + i];
    }
    // Odometer over the summed labels, updating offsets incrementally.
    off = base;
    std::fill(idx.begin(), idx.end(), 0);
    double acc = 0;
    for (int64_t s = 0; s < sumN; ++s) {
      double p = 1;
      for (size_t i = 0; i < n; ++i)
        p *= vals[i][size_t(off[i])];
      acc += p;
      for (size_t k = sSz.size(); k-- > 0;) {
        for (size_t i = 0; i < n; ++i)
          off[i] += sStr[k * n + i];
        if (++idx[k] < sSz[k])
          break;
        for (size_t i = 0; i < n; ++i)
          off[i] -= sStr[k * n + i] * sSz[k];
        idx[k] = 0;
      }
    }
    out[size_t(o)] = acc;
  }
  storeDoubles(y, out);
  return Status::ok();
}

} // namespace ember
