// Hugging Face config.json: the architecture name and hyper-parameters of a checkpoint, mapped
// onto ModelConfig for the families dcllm runs (Llama, Mistral, Qwen2, OPT, GPT-2).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "dcllm/status.h"
#include "model/model.h"

namespace dcllm {

struct HfConfig {
  ModelConfig config;
  std::string architecture;  // "LlamaForCausalLM", ...
  std::string torch_dtype;   // as written, may be empty
  int64_t bos_token_id = -1;
  int64_t eos_token_id = -1;
  bool tie_word_embeddings = false;
};

// The architectures with a reader, for messages: "LlamaForCausalLM, MistralForCausalLM, ...".
std::string supported_hf_architectures();

// Parses config.json text; `name` is the file for messages. An architecture outside the list,
// or a feature of a supported one that dcllm would compute differently (rope_scaling, partial
// rotary, biases where the family has none), is kUnsupported naming it.
Expected<HfConfig> parse_hf_config(std::string_view json_text, const std::string& name);

// generation_config.json's bos_token_id and eos_token_id (-1 where absent; a list gives its
// first id), the ids transformers' generate() uses; they override config.json's.
struct HfGenerationIds {
  int64_t bos_token_id = -1;
  int64_t eos_token_id = -1;
};
Expected<HfGenerationIds> parse_hf_generation_config(std::string_view json_text,
                                                     const std::string& name);

}  // namespace dcllm
