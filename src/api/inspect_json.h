// inspect_json(): what `dcllm inspect FILE --json` prints, as a JSON value: the one builder of
// that schema (docs/cli.md), used by the CLI and by the C and Python APIs.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include <vector>

#include "dcllm/container.h"
#include "dcllm/status.h"

namespace dcllm::api {

// A .dcllm: {"file", "format": "dcllm", "version", "metadata", "tensors", "totals"} (with
// "chunk_list" per tensor when `chunks`). Any other model file: {"path", "format", "config",
// "metadata", "parameters", "bytes", "tensors", "vocab"?}, read without loading weights.
Expected<nlohmann::ordered_json> inspect_json(const std::string& path, bool chunks);
// The two halves of it.
nlohmann::ordered_json container_json(const ModelContainer& c, bool with_chunks);
Expected<nlohmann::ordered_json> model_file_json(const std::string& path);
// A tensor's distinct codecs in chunk order (a tensor usually has one).
std::vector<std::string> tensor_codecs(const TensorEntry& t);

}  // namespace dcllm::api
