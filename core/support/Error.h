// Errors are values: library code returns Status or Expected<T>; tools print
// "error: <message>" and exit non-zero. No exceptions cross Ember's APIs.
//
// Both types are [[nodiscard]]: a call whose Status or Expected is dropped
// does not compile (warnings are errors). A caller that truly has nothing to
// do with a failure says so with `(void)` and a comment saying why.
//
// Truth value, one meaning: where a conversion to bool exists it is true on
// success. `Expected<T>` converts (true when it holds a value, as
// std::optional and std::expected). `Status` has no conversion: ask
// `isOk()` or `failed()`. (It used to be true when *failed*, the opposite of
// Expected; deleting it makes every `if (status)` written against the old
// meaning a compile error instead of a silently inverted test.)
#pragma once

#include <cassert>
#include <optional>
#include <sstream>
#include <string>
#include <utility>

namespace ember {

enum class ErrorCode {
  Ok = 0,
  Invalid,       // malformed input (file, IR text, attribute)
  Unsupported,   // valid input Ember cannot handle (op, dtype, feature)
  DataDependent, // a shape depends on a value not known at compile time
  Io,            // file system
  Internal,      // a broken invariant inside Ember
  Backend,       // a backend plugin failed, misbehaved or broke the ABI
  Timeout,       // an execution did not complete in time
};

class [[nodiscard]] Status {
public:
  Status() = default;
  Status(ErrorCode code, std::string msg) : code_(code), msg_(std::move(msg)) {}
  static Status ok() { return Status(); }
  bool isOk() const { return code_ == ErrorCode::Ok; }
  bool failed() const { return !isOk(); }
  // Deleted: see the top of this file (use isOk() / failed()).
  explicit operator bool() const = delete;
  ErrorCode code() const { return code_; }
  const std::string &message() const { return msg_; }
  // Adds context in front: "ctx: message".
  Status withContext(const std::string &ctx) const {
    if (isOk())
      return *this;
    Status s = *this;
    s.msg_ = ctx + ": " + msg_;
    return s;
  }
  // For DataDependent errors: the graph input whose value would fix the shape.
  std::string dependentInput;

private:
  ErrorCode code_ = ErrorCode::Ok;
  std::string msg_;
};

template <typename... Args> std::string concat(const Args &...args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}

template <typename... Args> Status makeError(ErrorCode c, const Args &...args) {
  return Status(c, concat(args...));
}
template <typename... Args> Status invalid(const Args &...args) {
  return makeError(ErrorCode::Invalid, args...);
}
template <typename... Args> Status unsupported(const Args &...args) {
  return makeError(ErrorCode::Unsupported, args...);
}

template <typename T> class [[nodiscard]] Expected {
public:
  Expected(T v) : value_(std::move(v)) {}
  Expected(Status s) : status_(std::move(s)) {
    assert(!status_.isOk() && "Expected constructed from an ok Status");
  }
  bool hasValue() const { return value_.has_value(); }
  // True when it holds a value (success), as std::expected.
  explicit operator bool() const { return hasValue(); }
  T &operator*() { return *value_; }
  const T &operator*() const { return *value_; }
  T *operator->() { return &*value_; }
  const T *operator->() const { return &*value_; }
  const Status &status() const { return status_; }
  Status takeStatus() { return std::move(status_); }

private:
  std::optional<T> value_;
  Status status_;
};

} // namespace ember

#define EMBER_CONCAT_INNER(a, b) a##b
#define EMBER_CONCAT(a, b) EMBER_CONCAT_INNER(a, b)

#define EMBER_TRY(expr)                                                        \
  do {                                                                         \
    ::ember::Status _st = (expr);                                              \
    if (!_st.isOk())                                                           \
      return _st;                                                              \
  } while (0)

#define EMBER_ASSIGN_IMPL(tmp, lhs, expr)                                      \
  auto tmp = (expr);                                                           \
  if (!tmp.hasValue())                                                         \
    return tmp.takeStatus();                                                   \
  lhs = std::move(*tmp)

// EMBER_ASSIGN(auto x, someExpected()); returns the error when it fails.
#define EMBER_ASSIGN(lhs, expr)                                                \
  EMBER_ASSIGN_IMPL(EMBER_CONCAT(_exp_, __LINE__), lhs, expr)

#define EMBER_CHECK(cond, ...)                                                 \
  do {                                                                         \
    if (!(cond))                                                               \
      return ::ember::invalid(__VA_ARGS__);                                    \
  } while (0)
