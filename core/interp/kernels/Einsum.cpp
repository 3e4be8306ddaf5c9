// Einsum reference kernel: a direct sum over the product of all index
// ranges (explicit and implicit output, ellipsis broadcasting, repeated
// labels within a term for diagonals).
#include "interp/Einsum.h"
#include "interp/kernels/ValueUtil.h"

#include <algorithm>
#include <map>

namespace ember {

namespace {

struct Term {
  std::vector<int> labels; // letters as char codes, ellipsis as -1 marker
  bool hasEllipsis = false;
};

bool parseTerm(const std::string &s, Term &t) {
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == ' ')
      continue;
    if (c == '.') {
      if (t.hasEllipsis || s.compare(i, 3, "...") != 0)
        return false;
      t.hasEllipsis = true;
      t.labels.push_back(-1);
      i += 2;
    } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
      t.labels.push_back(int(c));
    } else {
      return false;
    }
  }
  return true;
}

// Expands the ellipsis marker into `ellRank - 1 - k` ... ids aligned right.
std::vector<int> expand(const Term &t, size_t ellDims, size_t ellRank) {
  std::vector<int> out;
  for (int l : t.labels)
    if (l == -1)
      for (size_t k = 0; k < ellDims; ++k)
        out.push_back(kEinsumEll + int(ellRank - ellDims + k));
    else
      out.push_back(l);
  return out;
}

} // namespace

Expected<EinsumSpec> parseEinsum(const std::string &eq,
                                 const std::vector<Dims> &shapes) {
  auto fail = [&](const auto &...a) -> Status {
    return invalid("Einsum: ", a...);
  };
  size_t n = shapes.size();
  size_t arrow = eq.find("->");
  std::string lhs = eq.substr(0, arrow);
  std::vector<Term> terms;
  for (size_t s = 0;;) {
    size_t c = lhs.find(',', s);
    Term t;
    if (!parseTerm(lhs.substr(s, c == std::string::npos ? c : c - s), t))
      return fail("cannot parse equation '", eq, "'");
    terms.push_back(t);
    if (c == std::string::npos)
      break;
    s = c + 1;
  }
  if (terms.size() != n)
    return fail("equation '", eq, "' has ", terms.size(), " terms for ", n,
                " operands");
  // Ellipsis rank: the number of dims each operand's ellipsis stands for.
  size_t ellRank = 0;
  std::vector<size_t> ellDims(n, 0);
  for (size_t i = 0; i < n; ++i) {
    size_t named = terms[i].labels.size() - (terms[i].hasEllipsis ? 1 : 0);
    size_t r = shapes[i].size();
    if (terms[i].hasEllipsis ? r < named : r != named)
      return fail("term ", i, " of '", eq, "' does not match operand shape [",
                  dimsToString(shapes[i]), "]");
    ellDims[i] = r - named;
    ellRank = std::max(ellRank, ellDims[i]);
  }
  EinsumSpec spec;
  spec.inputs.resize(n);
  std::map<int, int> count;
  for (size_t i = 0; i < n; ++i) {
    spec.inputs[i] = expand(terms[i], ellDims[i], ellRank);
    for (size_t k = 0; k < spec.inputs[i].size(); ++k) {
      int l = spec.inputs[i][k];
      int64_t d = shapes[i][k];
      auto it = spec.size.find(l);
      if (it == spec.size.end() || it->second == 1)
        spec.size[l] = d;
      else if (d != 1 && d != it->second)
        return fail("label '", l < kEinsumEll ? std::string(1, char(l)) : "...",
                    "' has sizes ", it->second, " and ", d);
      if (l < kEinsumEll)
        count[l]++;
    }
  }
  if (arrow != std::string::npos) {
    Term ot;
    if (!parseTerm(eq.substr(arrow + 2), ot))
      return fail("cannot parse equation '", eq, "'");
    spec.output = expand(ot, ellRank, ellRank);
    for (int l : spec.output) {
      if (!spec.size.count(l))
        return fail("output label '", char(l),
                    "' does not appear in the inputs");
      if (std::count(spec.output.begin(), spec.output.end(), l) != 1)
        return fail("output label '", char(l), "' is repeated");
    }
  } else {
    for (size_t k = 0; k < ellRank; ++k)
      spec.output.push_back(kEinsumEll + int(k));
    for (auto &[l, c] : count) // std::map: ascending ASCII order
      if (c == 1)
        spec.output.push_back(l);
  }
  return spec;
}

Status kernel_Einsum(KernelContext &ctx) {
  std::string eq = ctx.attrString("equation");
  size_t n = ctx.numInputs();
  if (n == 0)
    return ctx.error("needs at least one operand");
  ElemKind ek = ctx.in(0).elem();
  std::vector<Dims> shapes;
  for (size_t i = 0; i < n; ++i) {
    if (ctx.in(i).elem() != ek)
      return ctx.error("operand types differ: ", ctx.in(0).type().toString(),
                       " vs ", ctx.in(i).type().toString());
    shapes.push_back(ctx.in(i).dims());
  }
  EMBER_ASSIGN(EinsumSpec spec, parseEinsum(eq, shapes));
  const std::vector<std::vector<int>> &lab = spec.inputs;
  const std::vector<int> &outLab = spec.output;
  std::map<int, int64_t> &size = spec.size;
  std::vector<int> sumLab;
  for (auto &[l, d] : size)
    if (std::find(outLab.begin(), outLab.end(), l) == outLab.end())
      sumLab.push_back(l);
  Dims yd;
  for (int l : outLab)
    yd.push_back(size[l]);
  Tensor &y = ctx.setOutput(0, Type(ek, yd));
  if (ctx.inferOnly())
    return Status::ok();

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
  int64_t outN = numElements(yd), sumN = numElements(sSz);
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
