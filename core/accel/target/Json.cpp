// The small JSON reader and writer of the NPU compiler layer (Json.h).
#include "ember/accel/Json.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace ember::accel {

const Json *Json::get(const std::string &k) const {
  for (auto &kv : o)
    if (kv.first == k)
      return &kv.second;
  return nullptr;
}

namespace {

struct Parser {
  const std::string &text;
  size_t at = 0;
  std::string error;
  int depth = 0;

  std::string where() const {
    size_t line = 1, col = 1;
    for (size_t i = 0; i < at && i < text.size(); ++i) {
      if (text[i] == '\n') {
        ++line;
        col = 1;
      } else {
        ++col;
      }
    }
    return "line " + std::to_string(line) + ", column " + std::to_string(col);
  }
  bool fail(const std::string &what) {
    if (error.empty())
      error = where() + ": " + what;
    return false;
  }
  void ws() {
    while (at < text.size() && std::strchr(" \t\r\n", text[at]) && text[at])
      ++at;
  }
  bool lit(const char *w) {
    size_t n = std::strlen(w);
    if (text.compare(at, n, w) != 0)
      return false;
    at += n;
    return true;
  }
  bool str(std::string &out) {
    if (at >= text.size() || text[at] != '"')
      return fail("expected a string");
    ++at;
    out.clear();
    while (at < text.size() && text[at] != '"') {
      char c = text[at++];
      if (static_cast<unsigned char>(c) < 0x20)
        return fail("control character in a string");
      if (c != '\\') {
        out += c;
        continue;
      }
      if (at >= text.size())
        break;
      char e = text[at++];
      switch (e) {
      case '"':
      case '\\':
      case '/':
        out += e;
        break;
      case 'n':
        out += '\n';
        break;
      case 't':
        out += '\t';
        break;
      case 'r':
        out += '\r';
        break;
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'u': {
        if (at + 4 > text.size())
          return fail("truncated \\u escape");
        unsigned v = 0;
        for (int i = 0; i < 4; ++i) {
          char h = text[at++];
          v <<= 4;
          if (h >= '0' && h <= '9')
            v |= unsigned(h - '0');
          else if (h >= 'a' && h <= 'f')
            v |= unsigned(h - 'a' + 10);
          else if (h >= 'A' && h <= 'F')
            v |= unsigned(h - 'A' + 10);
          else
            return fail("bad \\u escape");
        }
        // The cache writes ASCII only; keep other code points as UTF-8.
        if (v < 0x80) {
          out += char(v);
        } else if (v < 0x800) {
          out += char(0xc0 | (v >> 6));
          out += char(0x80 | (v & 0x3f));
        } else {
          out += char(0xe0 | (v >> 12));
          out += char(0x80 | ((v >> 6) & 0x3f));
          out += char(0x80 | (v & 0x3f));
        }
        break;
      }
      default:
        return fail(std::string("bad escape \\") + e);
      }
    }
    if (at >= text.size())
      return fail("unterminated string");
    ++at;
    return true;
  }
  bool value(Json &v) {
    if (++depth > 64)
      return fail("nested too deeply");
    ws();
    if (at >= text.size())
      return fail("unexpected end of file");
    char c = text[at];
    bool ok = true;
    if (c == '{') {
      v.t = Json::T::Obj;
      ++at;
      ws();
      if (at < text.size() && text[at] == '}') {
        ++at;
      } else {
        while (ok) {
          ws();
          std::string k;
          Json x;
          if (!str(k))
            return false;
          ws();
          if (at >= text.size() || text[at] != ':')
            return fail("expected ':'");
          ++at;
          if (!value(x))
            return false;
          v.o.emplace_back(std::move(k), std::move(x));
          ws();
          if (at < text.size() && text[at] == ',') {
            ++at;
            continue;
          }
          if (at < text.size() && text[at] == '}') {
            ++at;
            break;
          }
          return fail("expected ',' or '}'");
        }
      }
    } else if (c == '[') {
      v.t = Json::T::Arr;
      ++at;
      ws();
      if (at < text.size() && text[at] == ']') {
        ++at;
      } else {
        while (true) {
          Json x;
          if (!value(x))
            return false;
          v.a.push_back(std::move(x));
          ws();
          if (at < text.size() && text[at] == ',') {
            ++at;
            continue;
          }
          if (at < text.size() && text[at] == ']') {
            ++at;
            break;
          }
          return fail("expected ',' or ']'");
        }
      }
    } else if (c == '"') {
      v.t = Json::T::Str;
      ok = str(v.s);
    } else if (lit("true")) {
      v.t = Json::T::Bool;
      v.b = true;
    } else if (lit("false")) {
      v.t = Json::T::Bool;
    } else if (lit("null")) {
      v.t = Json::T::Null;
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      const char *begin = text.c_str() + at;
      char *end = nullptr;
      errno = 0;
      v.n = std::strtod(begin, &end);
      if (end == begin || errno == ERANGE)
        return fail("bad number");
      v.t = Json::T::Num;
      at += size_t(end - begin);
    } else {
      char buf[40];
      if (c > 0x20 && c < 0x7f)
        std::snprintf(buf, sizeof buf, "unexpected character '%c'", c);
      else
        std::snprintf(buf, sizeof buf, "unexpected byte 0x%02x",
                      unsigned(uint8_t(c)));
      return fail(buf);
    }
    --depth;
    return ok;
  }
};

} // namespace

std::string parseJson(const std::string &text, Json &out) {
  out = Json();
  Parser p{text, 0, std::string(), 0};
  if (!p.value(out))
    return p.error;
  p.ws();
  if (p.at != text.size()) {
    p.fail("text after the JSON value");
    return p.error;
  }
  return "";
}

std::string jsonQuote(const std::string &s) {
  std::string o = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      o += '\\';
      o += c;
    } else if (static_cast<unsigned char>(c) < 0x20 ||
               static_cast<unsigned char>(c) >= 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", unsigned(uint8_t(c)));
      o += buf;
    } else {
      o += c;
    }
  }
  return o + "\"";
}

std::string jsonCanonical(const Json &v) {
  switch (v.t) {
  case Json::T::Null:
    return "null";
  case Json::T::Bool:
    return v.b ? "true" : "false";
  case Json::T::Num: {
    char buf[40];
    if (std::isfinite(v.n) && v.n == std::floor(v.n) && std::fabs(v.n) < 1e15)
      std::snprintf(buf, sizeof buf, "%lld", (long long)v.n);
    else
      std::snprintf(buf, sizeof buf, "%.17g", v.n);
    return buf;
  }
  case Json::T::Str:
    return jsonQuote(v.s);
  case Json::T::Arr: {
    std::string s = "[";
    for (size_t i = 0; i < v.a.size(); ++i)
      s += (i ? "," : "") + jsonCanonical(v.a[i]);
    return s + "]";
  }
  case Json::T::Obj:
    break;
  }
  std::vector<const std::pair<std::string, Json> *> m;
  for (const auto &kv : v.o)
    m.push_back(&kv);
  std::stable_sort(m.begin(), m.end(),
                   [](auto *a, auto *b) { return a->first < b->first; });
  std::string s = "{";
  for (size_t i = 0; i < m.size(); ++i)
    s += (i ? "," : "") + jsonQuote(m[i]->first) + ":" +
         jsonCanonical(m[i]->second);
  return s + "}";
}

} // namespace ember::accel
