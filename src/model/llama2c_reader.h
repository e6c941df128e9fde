// Reader for llama2.c's legacy checkpoints: a header of 7 int32 (dim, hidden_dim, n_layers,
// n_heads, n_kv_heads, vocab_size, seq_len) then float32 weights, used in place from the mapping.
#pragma once

#include "dcllm/status.h"
#include "model/model.h"
#include "model/model_source.h"

namespace dcllm {

// A negative vocab_size in the header means the classifier is stored after the RoPE tables
// (unshared); a positive one means logits reuse the token embedding. The vocabulary is not in
// the checkpoint: load_model() reads it from LoadOptions::tokenizer_path.
Expected<Model> read_llama2c(const ModelSource& src, const LoadOptions& opts);

}  // namespace dcllm
