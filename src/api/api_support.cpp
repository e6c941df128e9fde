// The per-thread error message and the buffer rules every C API call shares (dcllm.h,
// "Conventions"); one implementation so every function fails and truncates the same way.
#include "api/api_support.h"

#include <algorithm>
#include <cstring>

#include "model/printable.h"

namespace dcllm::api {
namespace {

thread_local std::string last_error;

}  // namespace

void clear_error() {
  last_error.clear();
}

dcllm_status fail(dcllm_status code, std::string message) {
  // Messages quote file contents; the CLI makes them one bounded line, and so do we.
  last_error = one_line_message(message);
  return code;
}

dcllm_status from_status(const Status& status) {
  if (status.ok()) return DCLLM_OK;
  dcllm_status code = DCLLM_ERR_INTERNAL;
  switch (status.code()) {
    case StatusCode::kOk:
      return DCLLM_OK;
    case StatusCode::kInvalidArgument:
      code = DCLLM_ERR_INVALID_ARGUMENT;
      break;
    case StatusCode::kIoError:
      code = DCLLM_ERR_IO;
      break;
    case StatusCode::kCorrupt:
      code = DCLLM_ERR_CORRUPT;
      break;
    case StatusCode::kUnsupported:
      code = DCLLM_ERR_UNSUPPORTED;
      break;
    case StatusCode::kInternal:
      code = DCLLM_ERR_INTERNAL;
      break;
  }
  return fail(code, status.message());
}

dcllm_status write_text(std::string_view text, char* out, size_t capacity, size_t* out_len,
                        const char* what) {
  if (!out_len) return fail(DCLLM_ERR_INVALID_ARGUMENT, "out_len is NULL");
  if (!out && capacity > 0) {
    return fail(DCLLM_ERR_INVALID_ARGUMENT, std::string(what) + ": buffer is NULL, capacity > 0");
  }
  *out_len = text.size();
  if (capacity > 0) {
    const size_t n = std::min(text.size(), capacity - 1);
    std::memcpy(out, text.data(), n);
    out[n] = '\0';
  }
  if (capacity < text.size() + 1) {
    return fail(DCLLM_ERR_BUFFER_TOO_SMALL,
                std::string(what) + " needs " + std::to_string(text.size() + 1) +
                    " bytes (NUL included), capacity is " + std::to_string(capacity));
  }
  return DCLLM_OK;
}

bool text_arg_ok(const char* text, size_t len) {
  return text != nullptr || len == 0;
}

}  // namespace dcllm::api

extern "C" {

const char* dcllm_version(void) {
  return DCLLM_VERSION_STRING;
}

int dcllm_version_number(void) {
  return DCLLM_VERSION_NUMBER;
}

const char* dcllm_status_string(dcllm_status status) {
  switch (status) {
    case DCLLM_OK:
      return "ok";
    case DCLLM_ERR_INVALID_ARGUMENT:
      return "invalid argument";
    case DCLLM_ERR_IO:
      return "I/O error";
    case DCLLM_ERR_CORRUPT:
      return "corrupt input";
    case DCLLM_ERR_UNSUPPORTED:
      return "unsupported";
    case DCLLM_ERR_INTERNAL:
      return "internal error";
    case DCLLM_ERR_BUFFER_TOO_SMALL:
      return "buffer too small";
    case DCLLM_ERR_CANCELLED:
      return "cancelled";
    case DCLLM_ERR_OUT_OF_MEMORY:
      return "out of memory";
    case DCLLM_STATUS_RANGE_MIN_:
    case DCLLM_STATUS_RANGE_MAX_:
      break;
  }
  return "unknown status";
}

const char* dcllm_last_error(void) {
  return dcllm::api::last_error.c_str();
}

}  // extern "C"
