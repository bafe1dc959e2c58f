#pragma once
// Error handling for proto/ and agent/: functions return Result<T>, never throw.
#include <string>
#include <utility>
#include <variant>

namespace muster::proto {

enum class ErrorCode {
  bad_json,       // not JSON, or not the expected JSON shape at the top
  missing_field,  // a required field is absent
  invalid_field,  // a field has the wrong type or an out-of-range value
  unknown_field,  // a field the message does not define
  too_large,      // input above its size limit
  io,             // file system or process errors
  crypto,         // random generator or signature failures
};

const char* to_string(ErrorCode code);

struct Error {
  ErrorCode code;
  std::string message;
};

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {}    // NOLINT(google-explicit-constructor)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() { return std::get<0>(v_); }
  const T& value() const { return std::get<0>(v_); }
  T& operator*() { return value(); }
  const T& operator*() const { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

struct Ok {};
using Status = Result<Ok>;

}  // namespace muster::proto
