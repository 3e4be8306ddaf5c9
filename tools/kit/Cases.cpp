// Cases: the draws (shapes and attribute values in a style), the builder
// that puts one or several single-op cases into a function, and the specs
// the capability layer draws from a claim. The per-op builders are in
// CaseOps.cpp.
#include "Cases.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace ember::kit {

const char *caseStyleName(CaseStyle s) {
  switch (s) {
  case CaseStyle::Canonical:
    return "canonical";
  case CaseStyle::Ones:
    return "ones";
  case CaseStyle::Odd:
    return "odd";
  case CaseStyle::Prime:
    return "prime";
  case CaseStyle::Big:
    return "big";
  case CaseStyle::Mixed:
    return "mixed";
  }
  return "?";
}

const Node &Sample::node() const {
  if (!cases.empty() && cases[0].node)
    return *cases[0].node;
  for (auto &n : fn().nodes())
    if (!isStorage(n->kind))
      return *n;
  return *fn().nodes().front();
}

Tensor randomTensor(const Type &t, uint64_t seed, double lo, double hi) {
  Tensor x(t);
  std::mt19937_64 rng(seed);
  if (t.elem() == ElemKind::Bool) {
    for (int64_t i = 0; i < x.size(); ++i)
      x.setInt(i, int64_t(rng() & 1));
    return x;
  }
  if (!isFloatKind(t.elem())) {
    auto a = int64_t(std::ceil(lo)), b = int64_t(std::floor(hi));
    std::uniform_int_distribution<int64_t> d(a, b < a ? a : b);
    for (int64_t i = 0; i < x.size(); ++i)
      x.setInt(i, d(rng));
    return x;
  }
  std::uniform_real_distribution<double> d(lo, hi);
  for (int64_t i = 0; i < x.size(); ++i)
    x.setDouble(i, d(rng));
  return x;
}

// ---- draws ------------------------------------------------------------------
Draw::Draw(const CaseSpec &spec)
    : spec_(spec), rng_(spec.seed * 0x9e3779b97f4a7c15ull + 1) {}

int64_t Draw::drawDim() {
  static const int64_t odd[] = {3, 5, 7, 9, 11, 15, 21};
  static const int64_t prime[] = {2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31};
  static const int64_t big[] = {65, 97, 129, 257};
  static const int64_t mixed[] = {1, 2, 3, 4, 5, 7, 8, 13, 16, 17, 32, 33};
  auto from = [&](const int64_t *v, size_t n) { return v[rng_() % n]; };
  switch (spec_.style) {
  case CaseStyle::Canonical:
  case CaseStyle::Ones:
    return 1;
  case CaseStyle::Odd:
    return from(odd, 7);
  case CaseStyle::Prime:
    return from(prime, 11);
  case CaseStyle::Big:
    return rng_() % 2 ? from(big, 4) : 1 + int64_t(rng_() % 3);
  case CaseStyle::Mixed:
    return from(mixed, 12);
  }
  return 1;
}

Dims Draw::dims(unsigned rank, int64_t cap) {
  Dims d(rank);
  for (auto &x : d)
    x = spec_.style == CaseStyle::Big ? 1 + int64_t(rng_() % 3) : drawDim();
  size_t bigAxis = rank ? size_t(rng_() % rank) : 0;
  if (spec_.style == CaseStyle::Big && rank) {
    static const int64_t big[] = {65, 97, 129, 257};
    d[bigAxis] = big[rng_() % 4];
  }
  // Shrink the largest dimensions (the big one last) until within cap.
  while (numElements(d) > std::max<int64_t>(cap, 1)) {
    size_t at = 0;
    bool found = false;
    for (size_t i = 0; i < d.size(); ++i)
      if (d[i] > 1 && (spec_.style != CaseStyle::Big || i != bigAxis) &&
          (!found || d[i] > d[at])) {
        at = i;
        found = true;
      }
    if (!found)
      at = bigAxis;
    d[at] = std::max<int64_t>(1, d[at] / 2);
  }
  return d;
}

Dims Draw::shape(const Dims &canon, int64_t cap) {
  if (canonical())
    return canon;
  return dims(spec_.rank, spec_.style == CaseStyle::Big ? cap * 4 : cap);
}

int64_t Draw::dim(int64_t canon, int64_t cap) {
  if (canonical())
    return canon;
  return std::min(drawDim(), std::max<int64_t>(cap, 1));
}

Dims Draw::partner(const Dims &x, const Dims &canon) {
  if (canonical())
    return canon;
  switch (rng_() % 6) {
  case 0: // the same shape
    return x;
  case 1: { // a suffix
    size_t keep = x.empty() ? 0 : size_t(rng_() % (x.size() + 1));
    return Dims(x.end() - long(keep), x.end());
  }
  case 2: { // some dimensions 1
    Dims p = x;
    for (auto &v : p)
      if (rng_() % 2)
        v = 1;
    return p;
  }
  case 3: // a scalar
    return {};
  case 4: { // a suffix with a one
    if (x.empty())
      return x;
    size_t keep = size_t(1 + rng_() % x.size());
    Dims p(x.end() - long(keep), x.end());
    p[rng_() % p.size()] = 1;
    return p;
  }
  default: { // leading dimensions of its own (x broadcasts along them)
    Dims p = x;
    if (p.size() < 6)
      p.insert(p.begin(), 1 + int64_t(rng_() % 3));
    return p;
  }
  }
}

int64_t Draw::range(int64_t canon, int64_t lo, int64_t hi) {
  if (canonical() || hi < lo)
    return canon;
  return lo + int64_t(rng_() % uint64_t(hi - lo + 1));
}

// ---- the builder ------------------------------------------------------------
Builder::Builder(ElemKind d, unsigned seed) : d_(d), seed_(seed) {
  m_ = std::make_unique<Module>();
  f_ = m_->addFunction("sample");
}

Value Builder::in(const Type &t, Domain dom) {
  Node *p = f_->addPlaceholder("x" + std::to_string(inputs_.size()), t);
  inputs_.push_back(random(t, dom));
  return Value(p);
}

Value Builder::weight(const Type &t, Domain dom) {
  return Value(f_->addConstant("w", random(t, dom)));
}

Value Builder::cst(Tensor t) {
  return Value(f_->addConstant("c", std::move(t)));
}

Value Builder::ints(const std::vector<int64_t> &v, Dims dims, ElemKind k) {
  if (dims.size() == 1 && dims[0] == -1)
    dims[0] = int64_t(v.size());
  return cst(Tensor::fromInts(k, v, std::move(dims)));
}

Value Builder::scalar(ElemKind k, double v) {
  return cst(Tensor::scalar(k, v));
}

Status Builder::node(OpKind k, std::vector<Value> ins, AttrMap attrs,
                     int numResults, double accumulate) {
  if (cases_.empty())
    beginCase();
  EMBER_ASSIGN(Node * n, f_->create(k, std::move(ins), std::move(attrs),
                                    "case" + std::to_string(cases_.size() - 1),
                                    numResults));
  CaseInfo &c = cases_.back();
  c.node = n;
  c.firstOutput = f_->outputs().size();
  c.numOutputs = n->numResults();
  c.accumulate = std::max(1.0, accumulate);
  c.text = describeNode(*n);
  for (unsigned i = 0; i < n->numResults(); ++i)
    f_->addOutput(Value(n, i), "y" + std::to_string(f_->outputs().size()));
  return Status::ok();
}

void Builder::setLastInput(int64_t i, double v) {
  Tensor &t = inputs_.back();
  if (t.size())
    t.setDouble(i % t.size(), v);
}

int64_t Builder::sumLimit(Domain dom, int64_t cap) const {
  if (isFloatKind(d_) || d_ == ElemKind::Bool)
    return cap;
  double top;
  switch (d_) {
  case ElemKind::I8:
    top = 127;
    break;
  case ElemKind::U8:
    top = 255;
    break;
  case ElemKind::I16:
    top = 32767;
    break;
  case ElemKind::U16:
    top = 65535;
    break;
  case ElemKind::I32:
  case ElemKind::U32:
    top = 2147483647.0;
    break;
  default:
    top = 1e15;
    break;
  }
  bool sg = isSignedKind(d_);
  double term = dom == Domain::Small ? (sg ? 4 : 9) : (sg ? 25 : 100);
  return std::max<int64_t>(1, std::min<int64_t>(cap, int64_t(top / term)));
}

Tensor Builder::random(const Type &t, Domain dom) {
  uint64_t seed = seed_ * 1000003ull + counter_++;
  ElemKind k = t.elem();
  bool fl = isFloatKind(k), sg = isSignedKind(k);
  double lo = -2, hi = 2;
  switch (dom) {
  case Domain::Default:
    lo = fl ? -2 : sg ? -5 : 0;
    hi = fl ? 2 : sg ? 5 : 10;
    break;
  case Domain::Small:
    lo = sg ? -2 : 0;
    hi = fl || sg ? 2 : 3;
    break;
  case Domain::Positive:
    lo = fl ? 0.1 : 1;
    hi = fl ? 4 : 5;
    break;
  case Domain::AboveOne:
    lo = 1.1;
    hi = 4;
    break;
  case Domain::Unit:
    lo = -0.9;
    hi = 0.9;
    break;
  case Domain::NonZero:
    lo = fl ? 0.5 : 1;
    hi = fl ? 2 : 5;
    break;
  case Domain::NearOne:
    lo = fl ? 0.5 : 1;
    hi = fl ? 1.5 : 2;
    break;
  case Domain::Shift:
    lo = 0;
    hi = 3;
    break;
  case Domain::Full:
    if (fl) {
      lo = -2;
      hi = 2;
    } else if (elemSize(k) <= 2) {
      double span = std::ldexp(1.0, int(8 * elemSize(k)));
      lo = sg ? -span / 2 : 0;
      hi = sg ? span / 2 - 1 : span - 1;
    } else {
      lo = sg ? -1048576 : 0;
      hi = 1048576;
    }
    break;
  }
  Tensor x = randomTensor(t, seed, lo, hi);
  if (dom == Domain::NonZero && sg) {
    std::mt19937_64 rng(seed ^ 0x9e3779b97f4a7c15ull);
    for (int64_t i = 0; i < x.size(); ++i)
      if (rng() & 1)
        x.setDouble(i, -x.getDouble(i));
  }
  return x;
}

Sample Builder::finish() {
  Sample s;
  s.module = std::move(m_);
  s.inputs = std::move(inputs_);
  s.cases = std::move(cases_);
  return s;
}

// ---- descriptions -----------------------------------------------------------
namespace {

std::string attrText(const Attr &a) {
  switch (a.kind) {
  case Attr::Kind::Int:
    return std::to_string(a.i);
  case Attr::Kind::Float:
    return concat(a.f);
  case Attr::Kind::String:
    return a.s;
  case Attr::Kind::Ints: {
    std::string r = "[";
    for (size_t i = 0; i < a.ints.size(); ++i)
      r += (i ? "," : "") + std::to_string(a.ints[i]);
    return r + "]";
  }
  default:
    return "...";
  }
}

} // namespace

std::string describeNode(const Node &n) {
  std::string r = std::string(opName(n.kind)) + "(";
  for (size_t i = 0; i < n.inputs.size(); ++i) {
    r += i ? ", " : "";
    const Value &v = n.inputs[i];
    if (!v) {
      r += "-";
      continue;
    }
    r += v.type().toString();
    if (v.node->kind == OpKind::Constant && v.type().numElements() <= 8 &&
        !isFloatKind(v.type().elem())) {
      const Tensor &t = *v.node->payload;
      r += "=[";
      for (int64_t k = 0; k < t.size(); ++k)
        r += (k ? "," : "") + std::to_string(t.getInt(k));
      r += "]";
    }
  }
  r += ") -> ";
  for (size_t i = 0; i < n.types.size(); ++i)
    r += (i ? ", " : "") + n.types[i].toString();
  if (!n.attrs.empty()) {
    r += " {";
    bool first = true;
    for (auto &[k, a] : n.attrs) {
      if (a.kind == Attr::Kind::Tensor || a.kind == Attr::Kind::Graph)
        continue;
      r += (first ? "" : ", ") + k + "=" + attrText(a);
      first = false;
    }
    r += "}";
  }
  return r;
}

// ---- the API ----------------------------------------------------------------
namespace {

Expected<const OpBuilder *> builderOf(const std::string &op) {
  OpKind k;
  if (!opKindFromName(op, k))
    return unsupported("'", op, "' is not an Ember op");
  auto it = opBuilders().find(op);
  if (it == opBuilders().end())
    return unsupported("the kit has no case builder for ", op,
                       !isPrimitive(k)         ? " (not a primitive op)"
                       : hasProp(k, P_Control) ? " (control flow: subgraphs)"
                                               : "");
  return &it->second;
}

} // namespace

Expected<Sample> buildCases(const std::string &op, ElemKind dtype,
                            const std::vector<CaseSpec> &specs) {
  EMBER_ASSIGN(const OpBuilder *g, builderOf(op));
  OpKind k;
  opKindFromName(op, k);
  Builder b(dtype, unsigned(specs.empty() ? 0 : specs[0].seed));
  for (const CaseSpec &spec : specs) {
    b.beginCase();
    Draw d(spec);
    Status s = g->fn(b, k, d);
    if (!s.isOk())
      return unsupported("no ", op, " case with element type ",
                         elemKindName(dtype), " (", caseStyleName(spec.style),
                         ", rank ", spec.rank, "): ", s.message());
  }
  Sample out = b.finish();
  for (size_t i = 0; i < out.cases.size(); ++i)
    out.cases[i].spec = specs[i];
  return out;
}

Expected<Sample> buildSample(const std::string &op, ElemKind dtype,
                             unsigned seed) {
  CaseSpec spec;
  spec.seed = seed;
  auto s = buildCases(op, dtype, {spec});
  if (!s)
    return unsupported("no ", op, " sample with element type ",
                       elemKindName(dtype), ": ",
                       s.status().message().substr(
                           s.status().message().find("): ") == std::string::npos
                               ? 0
                               : s.status().message().find("): ") + 3));
  return s;
}

std::vector<CaseSpec> caseSpecs(const std::string &op, unsigned minRank,
                                unsigned maxRank, uint64_t seed, int n) {
  std::vector<CaseSpec> v;
  auto g = builderOf(op);
  if (!g)
    return v;
  unsigned lo = (*g)->minRank, hi = (*g)->maxRank;
  unsigned clo = std::max(lo, minRank);
  unsigned chi = maxRank ? std::min(hi, maxRank) : hi;
  if (clo > chi) { // nothing within the claim: draw all (each refused)
    clo = lo;
    chi = hi;
  }
  static const CaseStyle styles[] = {CaseStyle::Canonical, CaseStyle::Ones,
                                     CaseStyle::Odd,       CaseStyle::Prime,
                                     CaseStyle::Big,       CaseStyle::Mixed};
  unsigned numRanks = chi - clo + 1;
  for (int i = 0; i < n; ++i) {
    CaseSpec s;
    s.style = styles[size_t(i) % 6];
    // Ranks in turn, shifted each round of styles so that every style
    // meets every rank.
    s.rank = clo + unsigned((size_t(i) + size_t(i) / 6) % numRanks);
    s.seed = seed * 7919 + uint64_t(i);
    v.push_back(s);
  }
  return v;
}

} // namespace ember::kit
