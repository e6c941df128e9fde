// inspect_json(): what `dcllm inspect FILE --json` prints, as a JSON value, for the C API (the
// CLI's own copy lives in src/cli; both follow the schema in docs/cli.md).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "dcllm/status.h"

namespace dcllm::api {

// A .dcllm: {"file", "format": "dcllm", "version", "metadata", "tensors", "totals"} (with
// "chunk_list" per tensor when `chunks`). Any other model file: {"path", "format", "config",
// "metadata", "parameters", "bytes", "tensors", "vocab"?}, read without loading weights.
Expected<nlohmann::ordered_json> inspect_json(const std::string& path, bool chunks);

}  // namespace dcllm::api
