// load_model(): opens a model file, picks its reader by content (GGUF magic) or extension
// (.bin = llama2.c), and attaches the vocabulary (embedded, or from --tokenizer).
#pragma once

#include <string>

#include "dcllm/status.h"
#include "model/model.h"
#include "model/model_source.h"
#include "model/tokenizer.h"

namespace dcllm {

// A llama2.c checkpoint without LoadOptions::tokenizer_path takes `tokenizer.bin` from its own
// directory when one is there (llama2.c's convention); otherwise it has no vocab.
Expected<Model> load_model(const std::string& path, const LoadOptions& opts = {});

// The model's tokenizer; fails with a hint to pass --tokenizer when the model has no vocab.
Expected<Tokenizer> tokenizer_for(const Model& model);

}  // namespace dcllm
