// The "config" and "vocab" objects of a compressed model's metadata JSON
// (docs/model-container.md): written by `compress`, read back by the .dcllm model reader.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "dcllm/status.h"
#include "model/model.h"
#include "model/vocab.h"

namespace dcllm {

nlohmann::json model_config_to_json(const ModelConfig& c);
nlohmann::json vocab_to_json(const Vocab& v);

// Parse what the *_to_json functions write; a missing or ill-typed field is kCorrupt naming
// `file` and the field.
Expected<ModelConfig> model_config_from_json(const nlohmann::json& j, const std::string& file);
Expected<Vocab> vocab_from_json(const nlohmann::json& j, const std::string& file);

}  // namespace dcllm
