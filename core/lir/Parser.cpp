// LIR text parser: reads what Printer.cpp writes (docs/lir.md, "Text
// form"). Errors name file:line:column. Types and dense literals are
// parsed by the graph IR parser, so both levels share one syntax for them.
#include "lir/LIR.h"

#include "ir/Printer.h"

#include <cerrno>
#include <cstdlib>
#include <map>

namespace ember::lir {

namespace {

bool identChar(char c) {
  return isalnum(uint8_t(c)) || c == '_' || c == '.' || c == '$' || c == '-';
}

class Parser {
public:
  Parser(const std::string &text, const std::string &file)
      : s_(text), file_(file) {}

  Expected<Function> parse() {
    EMBER_TRY(word("lir"));
    skip();
    EMBER_CHECK(peek() == '@', where(), "expected '@' and a function name");
    ++p_;
    EMBER_ASSIGN(f_.name, nameText());
    EMBER_TRY(punct('{'));
    while (true) {
      skip();
      if (p_ >= s_.size())
        return err("unexpected end of input: missing '}'");
      if (peek() == '}') {
        ++p_;
        break;
      }
      EMBER_TRY(statement());
    }
    skip();
    if (p_ < s_.size())
      return err("unexpected text after the function");
    return std::move(f_);
  }

private:
  // ---- lexing ---------------------------------------------------------
  char peek() const { return p_ < s_.size() ? s_[p_] : '\0'; }
  void skip() {
    while (p_ < s_.size()) {
      char c = s_[p_];
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
        ++p_;
      } else if (c == '/' && p_ + 1 < s_.size() && s_[p_ + 1] == '/') {
        while (p_ < s_.size() && s_[p_] != '\n')
          ++p_;
      } else {
        break;
      }
    }
  }
  std::string where(size_t at) const {
    size_t line = 1, col = 1;
    for (size_t i = 0; i < at && i < s_.size(); ++i) {
      if (s_[i] == '\n') {
        ++line;
        col = 1;
      } else {
        ++col;
      }
    }
    return concat(file_, ":", line, ":", col, ": ");
  }
  std::string where() const { return where(p_); }
  Status err(const std::string &what) const { return invalid(where(), what); }

  std::string ident() {
    skip();
    size_t b = p_;
    while (p_ < s_.size() && identChar(s_[p_]))
      ++p_;
    return s_.substr(b, p_ - b);
  }
  Status word(const char *w) {
    size_t at = (skip(), p_);
    std::string got = ident();
    if (got != w) {
      p_ = at;
      return err(concat("expected '", w, "', found '", got, "'"));
    }
    return Status::ok();
  }
  bool acceptWord(const char *w) {
    size_t at = (skip(), p_);
    if (ident() == w)
      return true;
    p_ = at;
    return false;
  }
  Status punct(char c) {
    skip();
    if (peek() != c)
      return err(concat("expected '", c, "'"));
    ++p_;
    return Status::ok();
  }
  bool acceptPunct(char c) {
    skip();
    if (peek() != c)
      return false;
    ++p_;
    return true;
  }
  Expected<std::string> quotedText() {
    if (peek() != '"')
      return err("expected a string");
    Expected<std::string> r = readQuoted(s_, p_);
    if (!r)
      return err(r.status().message());
    return r;
  }
  // After '%' or '@': a plain identifier or a quoted string.
  Expected<std::string> nameText() {
    if (peek() == '"')
      return quotedText();
    std::string n;
    while (p_ < s_.size() && identChar(s_[p_]))
      n += s_[p_++];
    if (n.empty())
      return err("expected a name");
    return n;
  }
  Expected<std::string> percentName() {
    skip();
    if (peek() != '%')
      return err("expected a %name");
    ++p_;
    return nameText();
  }
  Expected<int64_t> integer() {
    skip();
    size_t b = p_;
    if (peek() == '-')
      ++p_;
    while (isdigit(uint8_t(peek())))
      ++p_;
    std::string t = s_.substr(b, p_ - b);
    errno = 0;
    char *end = nullptr;
    long long v = t.empty() ? 0 : std::strtoll(t.c_str(), &end, 10);
    if (t.empty() || t == "-" || *end || errno) {
      p_ = b;
      return err("expected an integer");
    }
    return int64_t(v);
  }
  Expected<uint64_t> unsignedInt() {
    size_t at = (skip(), p_);
    EMBER_ASSIGN(int64_t v, integer());
    if (v < 0) {
      p_ = at;
      return err("expected a non-negative integer");
    }
    return uint64_t(v);
  }
  Expected<std::vector<int64_t>> intList() {
    EMBER_TRY(punct('['));
    std::vector<int64_t> r;
    if (acceptPunct(']'))
      return r;
    do {
      EMBER_ASSIGN(int64_t v, integer());
      r.push_back(v);
    } while (acceptPunct(','));
    EMBER_TRY(punct(']'));
    return r;
  }

  // ---- types and literals through the graph parser ---------------------
  Expected<Type> type() {
    skip();
    size_t b = p_;
    while (isalnum(uint8_t(peek())))
      ++p_;
    if (peek() == '<')
      while (p_ < s_.size() && s_[p_] != '>' && s_[p_] != '\n')
        ++p_;
    if (peek() == '>')
      ++p_;
    while (p_ < s_.size() && s_[p_] != ']' && s_[p_] != '\n')
      ++p_;
    if (peek() != ']') {
      p_ = b;
      return err("expected a type like f32[1,3]");
    }
    ++p_;
    std::string text = s_.substr(b, p_ - b);
    auto it = typeCache_.find(text);
    if (it != typeCache_.end())
      return it->second;
    auto m =
        parseModule("func @f(%x: " + text + ") {\n  return %x\n}\n", "<type>");
    if (!m || !(*m)->main() || (*m)->main()->params().size() != 1) {
      p_ = b;
      return err("bad type '" + text + "'");
    }
    Type t = (*m)->main()->params()[0]->types[0];
    typeCache_[text] = t;
    return t;
  }
  Expected<std::shared_ptr<const Tensor>> denseLiteral() {
    skip();
    size_t b = p_;
    EMBER_TRY(word("dense"));
    int depth = 0;
    do {
      if (p_ >= s_.size())
        return err("unterminated dense<...> literal");
      char c = s_[p_++];
      depth += c == '<' ? 1 : c == '>' ? -1 : 0;
    } while (depth > 0);
    std::string text = s_.substr(b, p_ - b);
    auto m = parseModule("func @f() {\n  %c = Constant " + text +
                             "\n  return %c\n}\n",
                         "<literal>");
    if (!m) {
      p_ = b;
      return err("bad dense literal: " + m.status().message());
    }
    for (auto &n : (*m)->main()->nodes())
      if (n->kind == OpKind::Constant && n->payload)
        return n->payload;
    p_ = b;
    return err("bad dense literal");
  }

  Expected<Attr> attrValue() {
    skip();
    char c = peek();
    if (c == '"') {
      EMBER_ASSIGN(std::string s, quotedText());
      return Attr::ofString(std::move(s));
    }
    if (s_.compare(p_, 5, "dense") == 0) {
      EMBER_ASSIGN(auto t, denseLiteral());
      Attr a;
      a.kind = Attr::Kind::Tensor;
      a.t = t;
      return a;
    }
    if (acceptWord("ints")) {
      EMBER_ASSIGN(auto v, intList());
      return Attr::ofInts(std::move(v));
    }
    bool floats = acceptWord("floats");
    if (floats || acceptWord("strings")) {
      bool strings = !floats;
      EMBER_TRY(punct('['));
      Attr a = strings ? Attr::ofStrings({}) : Attr::ofFloats({});
      if (!acceptPunct(']')) {
        do {
          skip();
          if (strings) {
            EMBER_ASSIGN(std::string s, quotedText());
            a.strings.push_back(std::move(s));
          } else {
            EMBER_ASSIGN(double d, number());
            a.floats.push_back(d);
          }
        } while (acceptPunct(','));
        EMBER_TRY(punct(']'));
      }
      return a;
    }
    size_t b = p_;
    std::string tok = numberToken();
    bool isFloat = tok.find_first_of(".eni") != std::string::npos;
    p_ = b;
    if (isFloat) {
      EMBER_ASSIGN(double d, number());
      return Attr::ofFloat(d);
    }
    EMBER_ASSIGN(int64_t v, integer());
    return Attr::ofInt(v);
  }
  std::string numberToken() {
    size_t b = p_;
    while (p_ < s_.size() && (isalnum(uint8_t(s_[p_])) || s_[p_] == '.' ||
                              s_[p_] == '-' || s_[p_] == '+'))
      ++p_;
    return s_.substr(b, p_ - b);
  }
  Expected<double> number() {
    skip();
    size_t b = p_;
    std::string t = numberToken();
    char *end = nullptr;
    double d = t.empty() ? 0 : std::strtod(t.c_str(), &end);
    if (t.empty() || *end) {
      p_ = b;
      return err("expected a number");
    }
    return d;
  }

  // ---- statements -----------------------------------------------------
  Expected<Ref> ref() {
    skip();
    if (peek() == '_') {
      ++p_;
      return Ref::none();
    }
    size_t at = p_;
    EMBER_ASSIGN(std::string n, percentName());
    auto it = names_.find(n);
    if (it == names_.end()) {
      p_ = at;
      return err("unknown buffer or view %" + n);
    }
    return it->second;
  }
  Expected<Operand> operand() {
    skip();
    size_t at = p_;
    std::string a = ident();
    Operand op;
    if (a == "in")
      op.access = Access::In;
    else if (a == "out")
      op.access = Access::Out;
    else if (a == "inout")
      op.access = Access::InOut;
    else {
      p_ = at;
      return err("expected 'in', 'out' or 'inout'");
    }
    EMBER_ASSIGN(op.ref, ref());
    return op;
  }
  Status declare(const std::string &n, Ref r, size_t at) {
    if (!names_.emplace(n, r).second) {
      p_ = at;
      return err("%" + n + " is declared twice");
    }
    return Status::ok();
  }

  Status statement() {
    size_t at = p_;
    if (peek() == '%')
      return dmaStart();
    std::string kw = ident();
    if (kw == "space") {
      MemorySpace s;
      s.name = ident();
      if (s.name.empty())
        return err("expected a space name");
      EMBER_TRY(word("capacity"));
      EMBER_ASSIGN(s.capacity, unsignedInt());
      EMBER_TRY(word("align"));
      EMBER_ASSIGN(s.alignment, unsignedInt());
      if (f_.findSpace(s.name) >= 0) {
        p_ = at;
        return err("space '" + s.name + "' is declared twice");
      }
      f_.spaces.push_back(std::move(s));
      return Status::ok();
    }
    std::map<std::string, BufferKind> kinds = {
        {"input", BufferKind::Input},
        {"output", BufferKind::Output},
        {"weight", BufferKind::Weight},
        {"activation", BufferKind::Activation}};
    if (kinds.count(kw))
      return buffer(kinds[kw]);
    if (kw == "view")
      return view();
    Instruction in;
    if (kw == "alloc" || kw == "dealloc") {
      in.kind = kw == "alloc" ? InstKind::Alloc : InstKind::Dealloc;
      EMBER_ASSIGN(Ref r, ref());
      in.operands.push_back(
          {r, in.kind == InstKind::Alloc ? Access::Out : Access::In});
    } else if (kw == "copy") {
      in.kind = InstKind::Copy;
      EMBER_ASSIGN(Operand a, operand());
      EMBER_TRY(punct(','));
      EMBER_ASSIGN(Operand b, operand());
      in.operands = {a, b};
    } else if (kw == "dma.wait") {
      in.kind = InstKind::DmaWait;
      EMBER_ASSIGN(in.token, percentName());
    } else {
      OpKind k;
      if (!opKindFromName(kw, k)) {
        p_ = at;
        return err("unknown instruction '" + kw + "'");
      }
      in.kind = InstKind::Compute;
      in.op = k;
      EMBER_TRY(punct('('));
      if (!acceptPunct(')')) {
        do {
          EMBER_ASSIGN(Operand o, operand());
          in.operands.push_back(o);
        } while (acceptPunct(','));
        EMBER_TRY(punct(')'));
      }
      if (acceptPunct('{')) {
        do {
          size_t nameAt = (skip(), p_);
          std::string n = ident();
          if (n.empty())
            return err("expected an attribute name");
          EMBER_TRY(punct('='));
          EMBER_ASSIGN(Attr a, attrValue());
          if (!in.attrs.emplace(n, std::move(a)).second) {
            p_ = nameAt;
            return err("attribute '" + n + "' is given twice");
          }
        } while (acceptPunct(','));
        EMBER_TRY(punct('}'));
      }
    }
    EMBER_TRY(loc(in));
    f_.insts.push_back(std::move(in));
    return Status::ok();
  }

  Status loc(Instruction &in) {
    if (!acceptWord("loc"))
      return Status::ok();
    EMBER_TRY(punct('('));
    skip();
    EMBER_ASSIGN(in.loc, quotedText());
    return punct(')');
  }

  Status buffer(BufferKind k) {
    size_t at = (skip(), p_);
    Buffer b;
    b.kind = k;
    EMBER_ASSIGN(b.name, percentName());
    EMBER_TRY(punct(':'));
    EMBER_ASSIGN(b.type, type());
    EMBER_TRY(word("in"));
    size_t spaceAt = (skip(), p_);
    std::string sp = ident();
    int s = f_.findSpace(sp);
    if (s < 0) {
      p_ = spaceAt;
      return err("undeclared memory space '" + sp + "'");
    }
    b.space = unsigned(s);
    if (acceptWord("offset")) {
      EMBER_ASSIGN(uint64_t off, unsignedInt());
      b.offset = int64_t(off);
    }
    if (acceptPunct('=')) {
      EMBER_ASSIGN(b.payload, denseLiteral());
    }
    EMBER_TRY(declare(b.name, Ref::buffer(unsigned(f_.buffers.size())), at));
    f_.buffers.push_back(std::move(b));
    return Status::ok();
  }

  Status view() {
    size_t at = (skip(), p_);
    View v;
    EMBER_ASSIGN(v.name, percentName());
    EMBER_TRY(punct('='));
    size_t baseAt = (skip(), p_);
    EMBER_ASSIGN(Ref base, ref());
    if (base.kind != Ref::Kind::Buffer) {
      p_ = baseAt;
      return err("a view aliases a buffer");
    }
    v.buffer = base.index;
    EMBER_TRY(punct('['));
    EMBER_ASSIGN(v.offset, unsignedInt());
    EMBER_TRY(punct(']'));
    EMBER_TRY(punct(':'));
    EMBER_ASSIGN(v.type, type());
    EMBER_TRY(declare(v.name, Ref::view(unsigned(f_.views.size())), at));
    f_.views.push_back(std::move(v));
    return Status::ok();
  }

  Status dmaStart() {
    Instruction in;
    in.kind = InstKind::DmaStart;
    EMBER_ASSIGN(in.token, percentName());
    EMBER_TRY(punct('='));
    EMBER_TRY(word("dma.start"));
    EMBER_ASSIGN(Operand a, operand());
    EMBER_TRY(punct(','));
    EMBER_ASSIGN(Operand b, operand());
    in.operands = {a, b};
    EMBER_TRY(punct(','));
    if (acceptWord("bytes")) {
      EMBER_ASSIGN(in.bytes, unsignedInt());
    } else {
      EMBER_TRY(word("shape"));
      EMBER_ASSIGN(in.shape, intList());
      EMBER_TRY(word("dst_strides"));
      EMBER_ASSIGN(in.dstStrides, intList());
      EMBER_TRY(word("src_strides"));
      EMBER_ASSIGN(in.srcStrides, intList());
    }
    EMBER_TRY(loc(in));
    f_.insts.push_back(std::move(in));
    return Status::ok();
  }

  const std::string &s_;
  std::string file_;
  size_t p_ = 0;
  Function f_;
  std::map<std::string, Ref> names_;
  std::map<std::string, Type> typeCache_;
};

} // namespace

Expected<Function> parseFunction(const std::string &text,
                                 const std::string &fileName) {
  return Parser(text, fileName).parse();
}

} // namespace ember::lir
