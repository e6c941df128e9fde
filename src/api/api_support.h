// The C API's plumbing: the per-thread error message, Status -> dcllm_status, the guard that keeps
// every exception inside the library, and the caller-buffer rules of dcllm.h (text and arrays).
#pragma once

#include <cstddef>
#include <cstdint>
#include <exception>
#include <new>
#include <string>
#include <string_view>

#include "dcllm/dcllm.h"
#include "dcllm/status.h"

namespace dcllm::api {

// Sets this thread's last error (dcllm_last_error) and returns `code`.
dcllm_status fail(dcllm_status code, std::string message);
// DCLLM_OK and an empty message for an ok Status; the Status's code and message otherwise.
dcllm_status from_status(const Status& status);
// Called at the start of every entry point: a call that succeeds leaves "" behind.
void clear_error();

// Thrown by a callback adapter when the caller's callback asks to stop; caught by guarded().
// The library below runs callbacks between units of work and holds its resources by RAII
// (ContainerWriter removes its temporary file), so unwinding through it is clean.
struct Cancelled {};

// Runs `body` (returning dcllm_status) with no exception escaping to C.
template <typename Body>
dcllm_status guarded(Body&& body) noexcept {
  try {
    clear_error();
    return body();
  } catch (const Cancelled&) {
    return fail(DCLLM_ERR_CANCELLED, "cancelled by the progress callback");
  } catch (const std::bad_alloc&) {
    return fail(DCLLM_ERR_OUT_OF_MEMORY, "out of memory");
  } catch (const std::exception& e) {
    return fail(DCLLM_ERR_INTERNAL, std::string("internal error: ") + e.what());
  } catch (...) {
    return fail(DCLLM_ERR_INTERNAL, "internal error: unknown exception");
  }
}

// dcllm.h's text-out rule: copies `text` NUL-terminated into [out, out + capacity), sets
// *out_len, and returns DCLLM_ERR_BUFFER_TOO_SMALL (with what fits written) when it does not fit.
// `what` names the output in the message.
dcllm_status write_text(std::string_view text, char* out, size_t capacity, size_t* out_len,
                        const char* what);

// Checks a (pointer, length) text argument: NULL only with length 0.
bool text_arg_ok(const char* text, size_t len);

// A const char* argument that may be NULL (meaning "default") as a string.
inline std::string or_default(const char* s, const std::string& fallback) {
  return s ? std::string(s) : fallback;
}

}  // namespace dcllm::api
