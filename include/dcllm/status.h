// Status and Expected<T>: the one error idiom of the library (no exceptions cross its API).
// A Status carries a code and a one-line message that names the file and the fault.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace dcllm {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,  // a caller passed something out of range
  kIoError,          // open/read/write/rename failed
  kCorrupt,          // input bytes violate the format (bad magic, offsets, checksums, ...)
  kUnsupported,      // well-formed but not handled (unknown type, architecture, version)
  kInternal,         // a bug: an invariant of our own code broke
};

// "ok", "invalid_argument", "io_error", "corrupt", "unsupported", "internal": the `type` of
// the CLI's JSON error objects.
inline const char* status_code_name(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return "ok";
    case StatusCode::kInvalidArgument:
      return "invalid_argument";
    case StatusCode::kIoError:
      return "io_error";
    case StatusCode::kCorrupt:
      return "corrupt";
    case StatusCode::kUnsupported:
      return "unsupported";
    case StatusCode::kInternal:
      break;
  }
  return "internal";
}

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return {}; }
  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status InvalidArgument(std::string m) {
  return {StatusCode::kInvalidArgument, std::move(m)};
}
inline Status IoError(std::string m) {
  return {StatusCode::kIoError, std::move(m)};
}
inline Status Corrupt(std::string m) {
  return {StatusCode::kCorrupt, std::move(m)};
}
inline Status Unsupported(std::string m) {
  return {StatusCode::kUnsupported, std::move(m)};
}
inline Status Internal(std::string m) {
  return {StatusCode::kInternal, std::move(m)};
}

// A value or the Status that explains why there is none.
template <typename T>
class [[nodiscard]] Expected {
 public:
  Expected(T value) : v_(std::move(value)) {}
  Expected(Status status) : v_(std::move(status)) {}

  bool ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return ok(); }
  const Status& status() const {
    static const Status kOkStatus;
    return ok() ? kOkStatus : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace dcllm

// Propagate a failed Status / Expected from the current function.
#define DCLLM_RETURN_IF_ERROR(expr) \
  do {                              \
    ::dcllm::Status _st = (expr);   \
    if (!_st.ok()) return _st;      \
  } while (0)

#define DCLLM_CONCAT_INNER(a, b) a##b
#define DCLLM_CONCAT(a, b) DCLLM_CONCAT_INNER(a, b)
#define DCLLM_ASSIGN_OR_RETURN(lhs, expr) \
  DCLLM_ASSIGN_OR_RETURN_IMPL(DCLLM_CONCAT(_exp_, __LINE__), lhs, expr)
#define DCLLM_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                \
  if (!tmp.ok()) return tmp.status();               \
  lhs = std::move(tmp).value()
