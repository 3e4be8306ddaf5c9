// A small JSON reader and writer for the NPU compiler layer's files: target
// descriptions (Target.h) and the tuning cache (Tune.h). Standard C++ only,
// so that a plugin links it from the installed SDK. Numbers are doubles;
// object members keep their order; errors name the line and column.
#ifndef EMBER_ACCEL_JSON_H
#define EMBER_ACCEL_JSON_H

#include <string>
#include <utility>
#include <vector>

namespace ember::accel {

struct Json {
  enum class T { Null, Bool, Num, Str, Arr, Obj } t = T::Null;
  bool b = false;
  double n = 0;
  std::string s;
  std::vector<Json> a;
  std::vector<std::pair<std::string, Json>> o;

  // Member `k` of an object (nullptr when absent or not an object).
  const Json *get(const std::string &k) const;
  bool isNum() const { return t == T::Num; }
  bool isStr() const { return t == T::Str; }
  bool isArr() const { return t == T::Arr; }
  bool isObj() const { return t == T::Obj; }
};

// Parses a whole document into `out`; "" or "line L, column C: what".
// Nesting deeper than 64 levels is refused.
std::string parseJson(const std::string &text, Json &out);

// A JSON string literal (quotes and escapes; bytes outside printable ASCII
// as \u00XX).
std::string jsonQuote(const std::string &s);

// The canonical text of `v`: object members sorted by key, no whitespace,
// numbers as integers when integral (a hash of a document keys on it, so
// that reformatting the file keeps it).
std::string jsonCanonical(const Json &v);

} // namespace ember::accel

#endif // EMBER_ACCEL_JSON_H
