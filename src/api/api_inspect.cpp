// C API: dcllm_inspect, the JSON of `dcllm inspect --json` into a caller buffer.
#include "api/api_support.h"
#include "api/inspect_json.h"

using namespace dcllm;
using namespace dcllm::api;

extern "C" {

dcllm_status dcllm_inspect(const char* path, uint32_t flags, char* json, size_t capacity,
                           size_t* out_len) {
  return guarded([&]() -> dcllm_status {
    if (!path) return fail(DCLLM_ERR_INVALID_ARGUMENT, "path is NULL");
    if ((flags & ~DCLLM_INSPECT_CHUNKS) != 0) {
      return fail(DCLLM_ERR_INVALID_ARGUMENT,
                  "flags " + std::to_string(flags) + ": only DCLLM_INSPECT_CHUNKS (1) is defined");
    }
    auto j = inspect_json(path, (flags & DCLLM_INSPECT_CHUNKS) != 0);
    if (!j) return from_status(j.status());
    const std::string text =
        j->dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
    return write_text(text, json, capacity, out_len, "inspect");
  });
}

}  // extern "C"
