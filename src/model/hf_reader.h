// Reader for Hugging Face checkpoint directories: config.json, model.safetensors (or shards with
// model.safetensors.index.json) and tokenizer.json, mapped onto dcllm's canonical tensor names.
#pragma once

#include <string>

#include "dcllm/status.h"
#include "model/model.h"
#include "model/model_source.h"

namespace dcllm {

// True when `dir` is a directory holding a config.json.
bool is_hf_checkpoint_dir(const std::string& dir);

// Loads the checkpoint in `dir` as float32: F32 tensors in place when aligned, F16/BF16
// converted; GPT-2's Conv1D weights transposed to [out, in] and its fused c_attn split into
// q/k/v; OPT's position table without its two offset rows. The vocabulary comes from
// tokenizer.json when the directory has one.
Expected<Model> read_hf_checkpoint(const std::string& dir, const LoadOptions& opts);

}  // namespace dcllm
