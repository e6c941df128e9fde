// export_hf_directory(): a loaded Model (a .dcllm's INT8 weights, or any float model) as a
// Hugging Face checkpoint directory: model.safetensors, config.json, tokenizer.json and
// tokenizer_config.json, which transformers and dcllm's own Hugging Face reader load.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "dcllm/status.h"
#include "model/model.h"
#include "model/vocab.h"

namespace dcllm {

struct HfExportOptions {
  bool f16 = true;  // weights as F16 (HF's usual); false: F32 (exact for float sources)
  unsigned threads = 2;
  // Called once per tensor written to model.safetensors, with (tensors written so far,
  // tensors to write).
  std::function<void(int64_t done, int64_t total)> on_progress = {};
};

struct HfExportReport {
  std::string architecture;  // "LlamaForCausalLM" or "Qwen2ForCausalLM"
  int64_t tensors = 0;
  uint64_t bytes = 0;  // all files together
};

// Needs a Llama-family model with its vocabulary and weights loaded (INT8 tensors resident).
// q/k rows are put in Hugging Face's rotate-half order; an unfolded input_scale is folded into
// its linear's columns; norms and biases stay F32. `dir` must not exist: the files are written
// into a temporary directory beside it, which is renamed to `dir` only when all are complete.
// OPT and GPT-2 models are kUnsupported.
Expected<HfExportReport> export_hf_directory(const Model& model, const std::string& dir,
                                             const HfExportOptions& opts = {});

// tokenizer.json for `v` (the form hf_tokenizer_json.h reads back to the same tokens): byte-level
// BPE with its split rule, or SentencePiece-style BPE with byte fallback, whose ranked merges are
// derived from the scores when the vocabulary has none (llama2.c, GGUF `llama`).
Expected<std::string> hf_tokenizer_json(const Vocab& v);
// tokenizer_config.json: add_bos_token, bos/eos tokens and the chat template.
std::string hf_tokenizer_config_json(const Vocab& v);

}  // namespace dcllm
