// Parser for the graph IR text form printed by Printer.cpp. Errors name
// file:line:column. Node result types are taken from the text and then
// checked by the verifier against the ops' own type inference; a statement
// without them (no `: T`) gets the types its op infers.
#include "ir/OpRegistry.h"
#include "ir/Printer.h"
#include "ir/Verifier.h"

#include <cmath>
#include <cstring>
#include <unordered_map>

namespace ember {
namespace {

class Parser {
public:
  Parser(const std::string &text, std::string file)
      : s_(text), file_(std::move(file)) {}

  Expected<std::unique_ptr<Module>> parse();

private:
  // ---- lexing helpers
  void skipSpace() {
    for (;;) {
      while (p_ < s_.size() && isspace(uint8_t(s_[p_]))) {
        if (s_[p_] == '\n') {
          ++line_;
          lineStart_ = p_ + 1;
        }
        ++p_;
      }
      if (p_ + 1 < s_.size() && s_[p_] == '/' && s_[p_ + 1] == '/') {
        while (p_ < s_.size() && s_[p_] != '\n')
          ++p_;
        continue;
      }
      if (p_ < s_.size() && s_[p_] == '#') {
        while (p_ < s_.size() && s_[p_] != '\n')
          ++p_;
        continue;
      }
      break;
    }
  }
  bool peek(char c) {
    skipSpace();
    return p_ < s_.size() && s_[p_] == c;
  }
  bool accept(char c) {
    if (!peek(c))
      return false;
    ++p_;
    return true;
  }
  bool acceptWord(const char *w) {
    skipSpace();
    size_t n = std::strlen(w);
    if (s_.compare(p_, n, w) != 0)
      return false;
    if (p_ + n < s_.size() &&
        (isalnum(uint8_t(s_[p_ + n])) || s_[p_ + n] == '_'))
      return false;
    p_ += n;
    return true;
  }
  template <typename... A> Status err(const A &...a) {
    return invalid(file_, ":", line_, ":", p_ - lineStart_ + 1, ": ", a...);
  }
  Status expect(char c) {
    if (accept(c))
      return Status::ok();
    return err("expected '", std::string(1, c), "'", found());
  }
  std::string found() {
    skipSpace();
    if (p_ >= s_.size())
      return " but found end of input";
    return " but found '" +
           s_.substr(p_, std::min<size_t>(12, s_.size() - p_)) + "'";
  }
  std::string ident() {
    skipSpace();
    size_t b = p_;
    while (p_ < s_.size() && (isalnum(uint8_t(s_[p_])) || s_[p_] == '_'))
      ++p_;
    return s_.substr(b, p_ - b);
  }
  Expected<std::string> stringLit();
  Expected<std::string> valueName(); // after '%'
  Expected<double> number(bool &isInt, int64_t &intVal, uint64_t &uval);
  Expected<Type> type();
  Expected<Tensor> tensorLit();
  Expected<Attr> attrValue();
  Status function(Module &m);
  Expected<std::unique_ptr<Function>> functionBody();
  // After an identifier: whether `domain::name` follows (a custom op).
  bool customOpAhead(size_t identStart);
  // A custom op's `domain::name[@opset]` from identStart into n (kind
  // Custom, its $op and $opset attributes).
  Status customOp(size_t identStart, Node &n);

  const std::string &s_;
  std::string file_;
  size_t p_ = 0, line_ = 1, lineStart_ = 0;
  int depth_ = 0;
};

Expected<std::string> Parser::stringLit() {
  if (!peek('"'))
    return err("expected a string", found());
  Expected<std::string> r = readQuoted(s_, p_);
  if (!r)
    return err(r.status().message());
  return r;
}

Expected<std::string> Parser::valueName() {
  if (!accept('%'))
    return err("expected a value (%name)", found());
  if (p_ < s_.size() && s_[p_] == '"')
    return stringLit();
  size_t b = p_;
  while (p_ < s_.size() && (isalnum(uint8_t(s_[p_])) || strchr("_.$-", s_[p_])))
    ++p_;
  if (p_ == b)
    return err("expected a value name after '%'");
  return s_.substr(b, p_ - b);
}

Expected<double> Parser::number(bool &isInt, int64_t &intVal, uint64_t &uval) {
  skipSpace();
  size_t b = p_;
  bool neg = false;
  if (p_ < s_.size() && (s_[p_] == '-' || s_[p_] == '+')) {
    neg = s_[p_] == '-';
    ++p_;
  }
  if (s_.compare(p_, 3, "nan") == 0) {
    p_ += 3;
    isInt = false;
    return std::nan("");
  }
  if (s_.compare(p_, 3, "inf") == 0) {
    p_ += 3;
    isInt = false;
    return neg ? -INFINITY : INFINITY;
  }
  size_t d = p_;
  while (p_ < s_.size() && isdigit(uint8_t(s_[p_])))
    ++p_;
  if (p_ == d)
    return err("expected a number", found());
  isInt = true;
  if (p_ < s_.size() && (s_[p_] == '.' || s_[p_] == 'e' || s_[p_] == 'E')) {
    isInt = false;
    if (s_[p_] == '.') {
      ++p_;
      while (p_ < s_.size() && isdigit(uint8_t(s_[p_])))
        ++p_;
    }
    if (p_ < s_.size() && (s_[p_] == 'e' || s_[p_] == 'E')) {
      ++p_;
      if (p_ < s_.size() && (s_[p_] == '-' || s_[p_] == '+'))
        ++p_;
      while (p_ < s_.size() && isdigit(uint8_t(s_[p_])))
        ++p_;
    }
  }
  std::string tok = s_.substr(b, p_ - b);
  if (isInt) {
    errno = 0;
    if (neg) {
      intVal = std::strtoll(tok.c_str(), nullptr, 10);
      uval = uint64_t(intVal);
    } else {
      uval = std::strtoull(tok.c_str(), nullptr, 10);
      intVal = int64_t(uval);
    }
    if (errno == ERANGE)
      return err("integer '", tok, "' is out of range");
    return double(intVal);
  }
  return std::strtod(tok.c_str(), nullptr);
}

Expected<Type> Parser::type() {
  std::string ek = ident();
  ElemKind k;
  if (!parseElemKind(ek, k))
    return err("unknown element type '", ek, "'");
  Type t(k, {});
  if (accept('<')) {
    QuantParams q;
    bool perChannel = false;
    if (acceptWord("axis")) {
      EMBER_TRY(expect('='));
      bool isInt;
      int64_t iv;
      uint64_t uv;
      EMBER_ASSIGN(double ax, number(isInt, iv, uv));
      (void)ax;
      q.axis = iv;
      perChannel = true;
      EMBER_TRY(expect(':'));
    }
    do {
      bool isInt;
      int64_t iv;
      uint64_t uv;
      EMBER_ASSIGN(double sc, number(isInt, iv, uv));
      q.scales.push_back(float(sc));
    } while (accept(','));
    EMBER_TRY(expect(':'));
    do {
      bool isInt;
      int64_t iv;
      uint64_t uv;
      EMBER_ASSIGN(double zp, number(isInt, iv, uv));
      (void)zp;
      q.zeroPoints.push_back(iv);
    } while (accept(','));
    EMBER_TRY(expect('>'));
    if (!perChannel && q.scales.size() != 1)
      return err("several scales need an axis=N: prefix");
    t.setQuant(q);
  }
  EMBER_TRY(expect('['));
  Dims d;
  if (!accept(']')) {
    do {
      bool isInt;
      int64_t iv;
      uint64_t uv;
      EMBER_ASSIGN(double x, number(isInt, iv, uv));
      (void)x;
      if (!isInt || iv < 0)
        return err("dimensions are non-negative integers");
      d.push_back(iv);
    } while (accept(','));
    EMBER_TRY(expect(']'));
  }
  Type r(k, d);
  if (t.isQuantized())
    r.setQuant(*t.quant());
  return r;
}

Expected<Tensor> Parser::tensorLit() {
  if (!acceptWord("dense"))
    return err("expected 'dense<...>'", found());
  EMBER_TRY(expect('<'));
  EMBER_ASSIGN(Type t, type());
  EMBER_TRY(expect(':'));
  if (t.numElements() > (int64_t(1) << 32))
    return err("tensor literal is too large");
  Tensor x(t);
  skipSpace();
  if (acceptWord("elided"))
    return err("an elided constant cannot be parsed (print without "
               "--elide-constants)");
  if (s_.compare(p_, 2, "0x") == 0) {
    p_ += 2;
    size_t b = p_;
    while (p_ < s_.size() && isxdigit(uint8_t(s_[p_])))
      ++p_;
    if ((p_ - b) != x.bytes() * 2)
      return err("hex data has ", (p_ - b) / 2, " bytes, type ", t.toString(),
                 " needs ", x.bytes());
    auto hv = [](char c) {
      return isdigit(uint8_t(c)) ? c - '0' : (tolower(c) - 'a' + 10);
    };
    for (size_t i = 0; i < x.bytes(); ++i)
      x.raw()[i] = uint8_t(hv(s_[b + 2 * i]) << 4 | hv(s_[b + 2 * i + 1]));
  } else {
    EMBER_TRY(expect('['));
    int64_t i = 0;
    if (!accept(']')) {
      do {
        if (i >= x.size())
          return err("too many values for ", t.toString());
        bool isInt;
        int64_t iv;
        uint64_t uv;
        EMBER_ASSIGN(double v, number(isInt, iv, uv));
        if (t.elem() == ElemKind::U64)
          x.data<uint64_t>()[i] = uv;
        else if (isInt && !isFloatKind(t.elem()))
          x.setInt(i, iv);
        else if (t.elem() == ElemKind::F32)
          x.data<float>()[i] = float(v);
        else
          x.setDouble(i, v);
        ++i;
      } while (accept(','));
      EMBER_TRY(expect(']'));
    }
    if (i != x.size())
      return err(i, " values given, ", t.toString(), " needs ", x.size());
  }
  EMBER_TRY(expect('>'));
  return x;
}

Expected<Attr> Parser::attrValue() {
  skipSpace();
  if (peek('"')) {
    EMBER_ASSIGN(std::string s, stringLit());
    return Attr::ofString(s);
  }
  if (s_.compare(p_, 5, "dense") == 0) {
    EMBER_ASSIGN(Tensor t, tensorLit());
    return Attr::ofTensor(std::move(t));
  }
  if (acceptWord("func")) {
    EMBER_ASSIGN(std::unique_ptr<Function> f, functionBody());
    return Attr::ofGraph(std::shared_ptr<Function>(std::move(f)));
  }
  if (acceptWord("floats")) {
    EMBER_TRY(expect('['));
    EMBER_TRY(expect(']'));
    return Attr::ofFloats({});
  }
  if (acceptWord("strings")) {
    EMBER_TRY(expect('['));
    EMBER_TRY(expect(']'));
    return Attr::ofStrings({});
  }
  if (accept('[')) {
    if (accept(']'))
      return Attr::ofInts({});
    if (peek('"')) {
      std::vector<std::string> v;
      do {
        EMBER_ASSIGN(std::string s, stringLit());
        v.push_back(s);
      } while (accept(','));
      EMBER_TRY(expect(']'));
      return Attr::ofStrings(v);
    }
    std::vector<int64_t> iv;
    std::vector<double> fv;
    bool allInt = true;
    do {
      bool isInt;
      int64_t i;
      uint64_t u;
      EMBER_ASSIGN(double d, number(isInt, i, u));
      allInt = allInt && isInt;
      iv.push_back(i);
      fv.push_back(isInt ? double(i) : d);
    } while (accept(','));
    EMBER_TRY(expect(']'));
    if (allInt)
      return Attr::ofInts(iv);
    return Attr::ofFloats(fv);
  }
  bool isInt;
  int64_t i;
  uint64_t u;
  EMBER_ASSIGN(double d, number(isInt, i, u));
  return isInt ? Attr::ofInt(i) : Attr::ofFloat(d);
}

Status Parser::function(Module &m) {
  if (!acceptWord("func"))
    return err("expected 'func'", found());
  EMBER_ASSIGN(std::unique_ptr<Function> f, functionBody());
  if (m.getFunction(f->name()))
    return err("function @", f->name(), " is defined twice");
  m.adopt(std::move(f));
  return Status::ok();
}

// After 'func': @name(params) { body }.
Expected<std::unique_ptr<Function>> Parser::functionBody() {
  if (++depth_ > 16)
    return err("functions nested more than 16 deep");
  EMBER_TRY(expect('@'));
  std::string fname = ident();
  if (fname.empty())
    return err("expected a function name");
  auto owned = std::make_unique<Function>(fname);
  Function *f = owned.get();
  std::unordered_map<std::string, Value> vals;
  EMBER_TRY(expect('('));
  if (!accept(')')) {
    do {
      EMBER_ASSIGN(std::string nm, valueName());
      EMBER_TRY(expect(':'));
      EMBER_ASSIGN(Type t, type());
      if (vals.count(nm))
        return err("value %", nm, " is defined twice");
      vals[nm] = Value(f->addPlaceholder(nm, t));
    } while (accept(','));
    EMBER_TRY(expect(')'));
  }
  EMBER_TRY(expect('{'));
  for (;;) {
    if (acceptWord("return")) {
      if (!peek('}')) {
        do {
          EMBER_ASSIGN(std::string nm, valueName());
          auto it = vals.find(nm);
          if (it == vals.end())
            return err("return of undefined value %", nm);
          std::string outName = nm;
          if (acceptWord("as")) {
            EMBER_ASSIGN(outName, stringLit());
          }
          f->addOutput(it->second, outName);
        } while (accept(','));
      }
      EMBER_TRY(expect('}'));
      break;
    }
    size_t stmtLine = line_;
    std::vector<std::string> results;
    do {
      EMBER_ASSIGN(std::string nm, valueName());
      if (vals.count(nm))
        return err("value %", nm, " is defined twice");
      results.push_back(nm);
    } while (accept(','));
    EMBER_TRY(expect('='));
    skipSpace();
    const size_t opStart = p_;
    std::string opname = ident();
    if (opname == "Constant") {
      if (results.size() != 1)
        return err("a constant defines one value");
      EMBER_ASSIGN(Tensor t, tensorLit());
      auto n = std::make_unique<Node>();
      n->kind = OpKind::Constant;
      n->types = {t.type()};
      n->outNames = results;
      n->payload = std::make_shared<Tensor>(std::move(t));
      vals[results[0]] = Value(f->insertRaw(std::move(n)));
      continue;
    }
    auto n = std::make_unique<Node>();
    if (customOpAhead(opStart)) {
      EMBER_TRY(customOp(opStart, *n));
    } else {
      OpKind kind;
      if (!opKindFromName(opname, kind) || isStorage(kind))
        return err("unknown op '", opname, "'");
      n->kind = kind;
    }
    n->outNames = results;
    EMBER_TRY(expect('('));
    if (!accept(')')) {
      do {
        if (accept('_')) {
          n->inputs.push_back(Value());
          continue;
        }
        EMBER_ASSIGN(std::string nm, valueName());
        auto it = vals.find(nm);
        if (it == vals.end())
          return err("use of undefined value %", nm);
        n->inputs.push_back(it->second);
      } while (accept(','));
      EMBER_TRY(expect(')'));
    }
    if (accept('{')) {
      if (!accept('}')) {
        do {
          // ('$': Ember's own attributes, e.g. a custom op's $quant.)
          std::string an = accept('$') ? "$" + ident() : ident();
          if (an.empty() || an == "$")
            return err("expected an attribute name", found());
          EMBER_TRY(expect('='));
          EMBER_ASSIGN(Attr a, attrValue());
          if (n->attrs.count(an))
            return err("attribute '", an, "' is given twice");
          n->attrs[an] = std::move(a);
        } while (accept(','));
        EMBER_TRY(expect('}'));
      }
    }
    if (accept(':')) {
      do {
        EMBER_ASSIGN(Type t, type());
        n->types.push_back(t);
      } while (accept(','));
      if (n->types.size() != results.size())
        return err(results.size(), " results but ", n->types.size(), " types");
    } else {
      // No types given: the op's own inference.
      n->types.resize(results.size());
      Status s = inferNodeTypes(*n);
      if (!s.isOk())
        return err(s.message());
    }
    if (acceptWord("loc")) {
      EMBER_TRY(expect('('));
      EMBER_ASSIGN(n->name, stringLit());
      EMBER_TRY(expect(')'));
    }
    (void)stmtLine;
    Node *raw = f->insertRaw(std::move(n));
    for (unsigned i = 0; i < raw->numResults(); ++i)
      vals[results[i]] = Value(raw, i);
  }
  EMBER_TRY(verifyFunction(*f).withContext(file_ + ": function @" + fname));
  --depth_;
  return owned;
}

static bool opNameChar(char c) {
  return isalnum(uint8_t(c)) || c == '_' || c == '.' || c == '-';
}

bool Parser::customOpAhead(size_t identStart) {
  size_t q = identStart;
  while (q < s_.size() && opNameChar(s_[q]))
    ++q;
  return q > identStart && s_.compare(q, 2, "::") == 0;
}

Status Parser::customOp(size_t identStart, Node &n) {
  p_ = identStart;
  auto run = [&] {
    size_t b = p_;
    while (p_ < s_.size() && opNameChar(s_[p_]))
      ++p_;
    return s_.substr(b, p_ - b);
  };
  std::string domain = run();
  p_ += 2; // "::"
  std::string name = run();
  if (name.empty())
    return err("expected an op name after '", domain, "::'");
  std::shared_ptr<const CustomOp> op;
  int64_t opset = 0;
  if (p_ < s_.size() && s_[p_] == '@') {
    ++p_;
    bool isInt = false;
    uint64_t u = 0;
    EMBER_ASSIGN(double v, number(isInt, opset, u));
    if (!isInt || opset < 1)
      return err("expected an opset version after '@', got ", v);
    op = findCustomOp(domain, name, opset);
  } else {
    op = findNewestCustomOp(domain, name);
    if (op)
      opset = op->opsetFirst;
  }
  if (!op)
    return err("unknown op '", domain, "::", name, "'",
               findNewestCustomOp(domain, name)
                   ? concat(" at opset ", opset)
                   : std::string(" (no op library loaded defines it; "
                                 "--op-library PATH.so)"));
  n.kind = OpKind::Custom;
  setCustomOpAttrs(n.attrs, *op, opset);
  return Status::ok();
}

Expected<std::unique_ptr<Module>> Parser::parse() {
  auto m = std::make_unique<Module>();
  skipSpace();
  while (p_ < s_.size()) {
    EMBER_TRY(function(*m));
    skipSpace();
  }
  if (m->functions().empty())
    return invalid(file_, ": no function found");
  return m;
}

} // namespace

Expected<std::unique_ptr<Module>> parseModule(const std::string &text,
                                              const std::string &fileName) {
  Parser p(text, fileName);
  return p.parse();
}

} // namespace ember
