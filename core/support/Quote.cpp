#include "support/Quote.h"

#include <cctype>
#include <cstdint>
#include <cstdio>

namespace ember {

std::string quoteString(const std::string &s) {
  std::string r = "\"";
  for (char c : s) {
    const auto u = static_cast<uint8_t>(c);
    if (c == '"' || c == '\\') {
      r += '\\';
      r += c;
    } else if (u < 0x20 || u >= 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\%02X", unsigned(u));
      r += buf;
    } else {
      r += c;
    }
  }
  return r + "\"";
}

namespace {

int hexDigit(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

} // namespace

Expected<std::string> readQuoted(const std::string &text, size_t &pos) {
  if (pos >= text.size() || text[pos] != '"')
    return invalid("expected a string");
  ++pos;
  std::string r;
  for (;;) {
    if (pos >= text.size() || text[pos] == '\n')
      return invalid("unterminated string");
    const char c = text[pos];
    if (c == '"') {
      ++pos;
      return r;
    }
    if (c != '\\') {
      r += c;
      ++pos;
      continue;
    }
    if (pos + 1 >= text.size())
      return invalid("unterminated string");
    const char e = text[pos + 1];
    if (e == '"' || e == '\\') {
      r += e;
      pos += 2;
      continue;
    }
    const int hi = hexDigit(e),
              lo = pos + 2 < text.size() ? hexDigit(text[pos + 2]) : -1;
    if (hi < 0 || lo < 0)
      return invalid("bad escape in string");
    r += char(hi * 16 + lo);
    pos += 3;
  }
}

} // namespace ember
