#include "support/Xml.h"

namespace ember {

std::string xmlEscape(const std::string &s) {
  std::string r;
  for (unsigned char c : s) {
    switch (c) {
    case '<':
      r += "&lt;";
      break;
    case '>':
      r += "&gt;";
      break;
    case '&':
      r += "&amp;";
      break;
    case '"':
      r += "&quot;";
      break;
    case '\n':
      r += "&#10;";
      break;
    default:
      if (c >= 0x20 || c == '\t')
        r += char(c);
    }
  }
  return r;
}

} // namespace ember
