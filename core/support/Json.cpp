#include "support/Json.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace ember {

JsonValue JsonValue::number(double v) {
  JsonValue j;
  j.kind_ = Kind::Number;
  j.num_ = v;
  return j;
}
JsonValue JsonValue::text(std::string v) {
  JsonValue j;
  j.kind_ = Kind::String;
  j.str_ = std::move(v);
  return j;
}
JsonValue JsonValue::boolean(bool v) {
  JsonValue j;
  j.kind_ = Kind::Bool;
  j.bool_ = v;
  return j;
}
JsonValue JsonValue::array() {
  JsonValue j;
  j.kind_ = Kind::Array;
  return j;
}
JsonValue JsonValue::object() {
  JsonValue j;
  j.kind_ = Kind::Object;
  return j;
}

const JsonValue *JsonValue::get(const std::string &key) const {
  if (kind_ != Kind::Object)
    return nullptr;
  for (auto &m : members_)
    if (m.first == key)
      return &m.second;
  return nullptr;
}

class JsonParser {
public:
  explicit JsonParser(const std::string &t) : t_(t) {}

  Expected<JsonValue> document() {
    EMBER_ASSIGN(JsonValue v, value(0));
    skipSpace();
    if (p_ != t_.size())
      return error("trailing characters after the document");
    return v;
  }

private:
  Status error(const std::string &what) const {
    size_t line = 1, col = 1;
    for (size_t i = 0; i < p_ && i < t_.size(); ++i) {
      if (t_[i] == '\n') {
        ++line;
        col = 1;
      } else {
        ++col;
      }
    }
    return invalid(what, " (line ", line, ", column ", col, ")");
  }
  void skipSpace() {
    while (p_ < t_.size() && (t_[p_] == ' ' || t_[p_] == '\n' ||
                              t_[p_] == '\r' || t_[p_] == '\t'))
      ++p_;
  }
  bool literal(const char *w) {
    size_t n = std::char_traits<char>::length(w);
    if (t_.compare(p_, n, w) != 0)
      return false;
    p_ += n;
    return true;
  }

  Expected<JsonValue> value(int depth) {
    if (depth >= 64) // depth 0 is the document's own level
      return error("nesting deeper than 64 levels");
    skipSpace();
    if (p_ >= t_.size())
      return error("unexpected end of input");
    char c = t_[p_];
    if (c == '{')
      return object(depth);
    if (c == '[')
      return array(depth);
    if (c == '"') {
      EMBER_ASSIGN(std::string s, quotedString());
      return JsonValue::text(std::move(s));
    }
    if (literal("true"))
      return JsonValue::boolean(true);
    if (literal("false"))
      return JsonValue::boolean(false);
    if (literal("null"))
      return JsonValue();
    if (c == '-' || (c >= '0' && c <= '9'))
      return number();
    char buf[40];
    if (c > 0x20 && c < 0x7f)
      std::snprintf(buf, sizeof buf, "unexpected character '%c'", c);
    else
      std::snprintf(buf, sizeof buf, "unexpected byte 0x%02x",
                    unsigned(static_cast<unsigned char>(c)));
    return error(buf);
  }

  Expected<JsonValue> number() {
    size_t start = p_;
    if (t_[p_] == '-')
      ++p_;
    while (p_ < t_.size() &&
           (isdigit(static_cast<unsigned char>(t_[p_])) || t_[p_] == '.' ||
            t_[p_] == 'e' || t_[p_] == 'E' || t_[p_] == '+' || t_[p_] == '-'))
      ++p_;
    std::string tok = t_.substr(start, p_ - start);
    char *end = nullptr;
    errno = 0;
    double v = std::strtod(tok.c_str(), &end);
    if (tok.empty() || *end)
      return error("bad number '" + tok + "'");
    if (errno == ERANGE)
      return error("number '" + tok + "' out of range");
    return JsonValue::number(v);
  }

  Expected<std::string> quotedString() {
    ++p_; // opening quote
    std::string out;
    while (p_ < t_.size()) {
      char c = t_[p_++];
      if (c == '"')
        return out;
      if (static_cast<unsigned char>(c) < 0x20)
        return error("control character inside a string");
      if (c != '\\') {
        out.push_back(c);
        continue;
      }
      if (p_ >= t_.size())
        break;
      char e = t_[p_++];
      switch (e) {
      case '"':
      case '\\':
      case '/':
        out.push_back(e);
        break;
      case 'b':
        out.push_back('\b');
        break;
      case 'f':
        out.push_back('\f');
        break;
      case 'n':
        out.push_back('\n');
        break;
      case 'r':
        out.push_back('\r');
        break;
      case 't':
        out.push_back('\t');
        break;
      case 'u': {
        if (p_ + 4 > t_.size())
          return error("truncated \\u escape");
        unsigned cp = 0;
        for (int i = 0; i < 4; ++i) {
          char h = t_[p_++];
          cp <<= 4;
          if (h >= '0' && h <= '9')
            cp |= unsigned(h - '0');
          else if (h >= 'a' && h <= 'f')
            cp |= unsigned(h - 'a' + 10);
          else if (h >= 'A' && h <= 'F')
            cp |= unsigned(h - 'A' + 10);
          else
            return error("bad \\u escape");
        }
        // UTF-8 (surrogate pairs are kept as two code points).
        if (cp < 0x80) {
          out.push_back(char(cp));
        } else if (cp < 0x800) {
          out.push_back(char(0xc0 | (cp >> 6)));
          out.push_back(char(0x80 | (cp & 0x3f)));
        } else {
          out.push_back(char(0xe0 | (cp >> 12)));
          out.push_back(char(0x80 | ((cp >> 6) & 0x3f)));
          out.push_back(char(0x80 | (cp & 0x3f)));
        }
        break;
      }
      default:
        return error(concat("bad escape '\\", e, "'"));
      }
    }
    return error("unterminated string");
  }

  Expected<JsonValue> array(int depth) {
    ++p_;
    JsonValue a = JsonValue::array();
    skipSpace();
    if (p_ < t_.size() && t_[p_] == ']') {
      ++p_;
      return a;
    }
    while (true) {
      EMBER_ASSIGN(JsonValue v, value(depth + 1));
      a.items_.push_back(std::move(v));
      skipSpace();
      if (p_ < t_.size() && t_[p_] == ',') {
        ++p_;
        continue;
      }
      if (p_ < t_.size() && t_[p_] == ']') {
        ++p_;
        return a;
      }
      return error("expected ',' or ']' in an array");
    }
  }

  Expected<JsonValue> object(int depth) {
    ++p_;
    JsonValue o = JsonValue::object();
    skipSpace();
    if (p_ < t_.size() && t_[p_] == '}') {
      ++p_;
      return o;
    }
    while (true) {
      skipSpace();
      if (p_ >= t_.size() || t_[p_] != '"')
        return error("expected a member name");
      EMBER_ASSIGN(std::string key, quotedString());
      skipSpace();
      if (p_ >= t_.size() || t_[p_] != ':')
        return error("expected ':' after a member name");
      ++p_;
      EMBER_ASSIGN(JsonValue v, value(depth + 1));
      o.members_.emplace_back(std::move(key), std::move(v));
      skipSpace();
      if (p_ < t_.size() && t_[p_] == ',') {
        ++p_;
        continue;
      }
      if (p_ < t_.size() && t_[p_] == '}') {
        ++p_;
        return o;
      }
      return error("expected ',' or '}' in an object");
    }
  }

  const std::string &t_;
  size_t p_ = 0;
};

Expected<JsonValue> parseJson(const std::string &text) {
  return JsonParser(text).document();
}

std::string jsonQuote(const std::string &s, JsonQuoting how) {
  const bool ascii = how == JsonQuoting::Ascii;
  std::string out = "\"";
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (!ascii && c == '\n') {
      out += "\\n";
    } else if (!ascii && c == '\r') {
      out += "\\r";
    } else if (!ascii && c == '\t') {
      out += "\\t";
    } else if (u < 0x20 || (ascii && u >= 0x7f)) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", unsigned(u));
      out += buf;
    } else {
      out.push_back(c);
    }
  }
  return out + "\"";
}

std::string jsonNumber(double v) {
  if (!std::isfinite(v))
    return "null";
  char buf[32];
  for (int prec = 6; prec <= 17; ++prec) {
    std::snprintf(buf, sizeof(buf), "%.*g", prec, v);
    if (std::strtod(buf, nullptr) == v)
      return buf;
  }
  return buf;
}

std::string jsonCanonical(const JsonValue &v) {
  switch (v.kind()) {
  case JsonValue::Kind::Null:
    return "null";
  case JsonValue::Kind::Bool:
    return v.boolean() ? "true" : "false";
  case JsonValue::Kind::Number: {
    char buf[40];
    const double n = v.num();
    if (std::isfinite(n) && n == std::floor(n) && std::fabs(n) < 1e15)
      std::snprintf(buf, sizeof buf, "%lld", (long long)n);
    else
      std::snprintf(buf, sizeof buf, "%.17g", n);
    return buf;
  }
  case JsonValue::Kind::String:
    return jsonQuote(v.str(), JsonQuoting::Ascii);
  case JsonValue::Kind::Array: {
    std::string s = "[";
    for (size_t i = 0; i < v.items().size(); ++i)
      s += (i ? "," : "") + jsonCanonical(v.items()[i]);
    return s + "]";
  }
  case JsonValue::Kind::Object:
    break;
  }
  std::vector<const std::pair<std::string, JsonValue> *> m;
  for (const auto &kv : v.members())
    m.push_back(&kv);
  std::stable_sort(m.begin(), m.end(),
                   [](auto *a, auto *b) { return a->first < b->first; });
  std::string s = "{";
  for (size_t i = 0; i < m.size(); ++i)
    s += (i ? "," : "") + jsonQuote(m[i]->first, JsonQuoting::Ascii) + ":" +
         jsonCanonical(m[i]->second);
  return s + "}";
}

} // namespace ember
