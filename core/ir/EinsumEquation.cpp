// The Einsum equation parser declared in EinsumEquation.h.
#include "ir/EinsumEquation.h"

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

} // namespace ember
