// The JSON module of the project: a small value, parser and writer for
// Ember's own files (quantization profiles, the NPU compiler layer's target
// descriptions and tuning cache, reports). Installed with the SDK
// (Ember::support), so a plugin links it. Numbers are doubles; object keys
// keep their order.
#pragma once

#include "support/Error.h"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace ember {

class JsonValue {
public:
  enum class Kind { Null, Bool, Number, String, Array, Object };

  JsonValue() = default;
  static JsonValue number(double v);
  static JsonValue text(std::string v);
  static JsonValue boolean(bool v);
  static JsonValue array();
  static JsonValue object();

  Kind kind() const { return kind_; }
  bool isNumber() const { return kind_ == Kind::Number; }
  bool isString() const { return kind_ == Kind::String; }
  bool isArray() const { return kind_ == Kind::Array; }
  bool isObject() const { return kind_ == Kind::Object; }
  double num() const { return num_; }
  bool boolean() const { return bool_; }
  const std::string &str() const { return str_; }
  const std::vector<JsonValue> &items() const { return items_; }
  const std::vector<std::pair<std::string, JsonValue>> &members() const {
    return members_;
  }
  // The same, to edit a document in place (tests derive documents so).
  std::vector<JsonValue> &items() { return items_; }
  std::vector<std::pair<std::string, JsonValue>> &members() { return members_; }
  // Member lookup (null when absent or not an object).
  const JsonValue *get(const std::string &key) const;

  void push(JsonValue v) { items_.push_back(std::move(v)); }
  void set(std::string key, JsonValue v) {
    members_.emplace_back(std::move(key), std::move(v));
  }

private:
  Kind kind_ = Kind::Null;
  double num_ = 0;
  bool bool_ = false;
  std::string str_;
  std::vector<JsonValue> items_;
  std::vector<std::pair<std::string, JsonValue>> members_;
  friend class JsonParser;
};

// Parses a whole document; errors name the line and column: "what (line L,
// column C)". Nesting deeper than 64 levels is refused, and so is a number
// outside a double's range.
Expected<JsonValue> parseJson(const std::string &text);

// How jsonQuote escapes. Readable: '"' and '\\', \n \r \t, other bytes
// below 0x20 as \u00XX, the rest (UTF-8 included) as they are. Ascii: every
// byte below 0x20 or from 0x7f up as \u00XX, so the text is printable ASCII
// whatever the bytes (canonical keys and hashes depend on it: the tuning
// cache's, a target description's).
enum class JsonQuoting { Readable, Ascii };

// JSON string literal with escapes, quotes included.
std::string jsonQuote(const std::string &s,
                      JsonQuoting how = JsonQuoting::Readable);
// Shortest text that reads back as exactly `v` (%.17g when needed);
// non-finite values are not JSON and print as null.
std::string jsonNumber(double v);

// The canonical text of `v`: object members sorted by key (stable), no
// whitespace, strings quoted Ascii, numbers as integers when integral and
// below 1e15 in magnitude, else %.17g. A hash of a document keys on it, so
// that reformatting the file keeps it.
std::string jsonCanonical(const JsonValue &v);

} // namespace ember
