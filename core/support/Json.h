// A small JSON value, parser and writer: enough for Ember's own files
// (quantization profiles). Numbers are doubles; object keys keep their order.
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
  static JsonValue string(std::string v);
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

// Parses a whole document; errors name the line and column.
Expected<JsonValue> parseJson(const std::string &text);

// JSON string literal with escapes, quotes included.
std::string jsonQuote(const std::string &s);
// Shortest text that reads back as exactly `v` (%.17g when needed);
// non-finite values are not JSON and print as null.
std::string jsonNumber(double v);

} // namespace ember
