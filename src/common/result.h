#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace eg {

// What went wrong, in a form the caller can act on. The HTTP layers map kinds to
// status codes (see errorStatus in common/http_status.h).
enum class ErrorKind {
  kInvalid,        // the client's mistake: 400
  kNotFound,       // 404
  kAlreadyExists,  // 409
  kConflict,       // a compare failed (revision moved): retry or 409
  kUnavailable,    // a dependency (store, function) cannot be reached: 503
  kTimeout,        // a deadline passed
  kCompacted,      // a watch asked for a revision the store no longer keeps
  kTooLarge,       // 413
  kInternal,       // our mistake: 500
  kRejected,       // the callee refused for good (a 4xx answer): trying again will not help
};

struct Error {
  ErrorKind kind = ErrorKind::kInternal;
  std::string message;
  // When the callee said when to try again (an HTTP Retry-After).
  std::optional<std::chrono::milliseconds> retryAfter = std::nullopt;
  // The HTTP status of the callee's answer when the failure is one (a function's 5xx);
  // 0 otherwise.
  unsigned httpStatus = 0;

  static Error invalid(std::string m) { return {ErrorKind::kInvalid, std::move(m)}; }
  static Error notFound(std::string m) { return {ErrorKind::kNotFound, std::move(m)}; }
  static Error alreadyExists(std::string m) { return {ErrorKind::kAlreadyExists, std::move(m)}; }
  static Error conflict(std::string m) { return {ErrorKind::kConflict, std::move(m)}; }
  static Error unavailable(std::string m) { return {ErrorKind::kUnavailable, std::move(m)}; }
  static Error timeout(std::string m) { return {ErrorKind::kTimeout, std::move(m)}; }
  static Error compacted(std::string m) { return {ErrorKind::kCompacted, std::move(m)}; }
  static Error internal(std::string m) { return {ErrorKind::kInternal, std::move(m)}; }
  static Error rejected(std::string m) { return {ErrorKind::kRejected, std::move(m)}; }
};

const char* errorKindName(ErrorKind kind);

// A value or an Error. Errors on the request path travel as values, never as exceptions.
template <class T>
class [[nodiscard]] Result {
 public:
  // Implicit by design. Two overloads rather than one by value: a value passed by
  // value would be moved twice, once into the parameter and once into the variant.
  Result(const T& value) : v_(std::in_place_index<0>, value) {}  // NOLINT
  Result(T&& value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const& { return std::get<1>(v_); }
  Error&& error() && { return std::get<1>(std::move(v_)); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const& { return error_; }
  Error&& error() && { return std::move(error_); }

 private:
  Error error_;
  bool ok_ = true;
};

using Status = Result<void>;

}  // namespace eg
