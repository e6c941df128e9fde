// Reader for GGUF models of the Llama family (architectures "llama", "qwen2"): hyper-parameters
// from metadata, tensors dequantized to float32 (F32 used in place), the embedded vocabulary.
#pragma once

#include "dcllm/status.h"
#include "model/gguf_file.h"
#include "model/model.h"
#include "model/model_source.h"

namespace dcllm {

Expected<Model> read_gguf(const ModelSource& src, const LoadOptions& opts);

// The vocabulary in tokenizer.ggml.* (model "llama" or "gpt2"); kUnsupported when the file has
// none or another kind. Exposed for tests and fuzzing.
Expected<Vocab> vocab_from_gguf(const GgufFile& file, const std::string& name);

}  // namespace dcllm
