// generate(): prompt in, text out. The prompt runs as one batch, then tokens are sampled one
// at a time until N are made, EOS/BOS appears, or the context is full.
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>

#include "dcllm/status.h"
#include "model/tokenizer.h"
#include "runtime/transformer.h"

namespace dcllm {

struct GenerateOptions {
  int64_t max_new_tokens = 256;
  float temperature = 0.0f;  // 0 = greedy
  uint64_t seed = 0;
  // The other samplers (runtime/sampler.h); the defaults switch them off.
  int32_t top_k = 0;
  float top_p = 1.0f;
  float min_p = 0.0f;
  float repeat_penalty = 1.0f;
  int32_t repeat_last_n = 64;
};

struct GenerateStats {
  int64_t prompt_tokens = 0;  // including BOS
  int64_t generated_tokens = 0;
  double prompt_seconds = 0.0;    // the batched prompt forward
  double generate_seconds = 0.0;  // sampling and single-token forwards after it
  double prompt_tokens_per_second() const;
  double generated_tokens_per_second() const;
};

// Calls `on_text` with each generated token's text as soon as it is sampled. The prompt gets BOS
// when the vocabulary asks for it (add_bos) or when it is empty. Generation starts at position
// 0, overwriting whatever the cache held.
Expected<GenerateStats> generate(Transformer& model, const Tokenizer& tokenizer,
                                 std::string_view prompt, const GenerateOptions& opts,
                                 const std::function<void(std::string_view)>& on_text);

// The same from token ids (bench uses it with synthetic prompts); `prompt` must not be empty.
// Sampling `eos_id` or `bos_id` (either may be -1 for none) ends the generation.
Expected<GenerateStats> generate_tokens(
    Transformer& model, std::span<const int32_t> prompt, const GenerateOptions& opts,
    int32_t eos_id, int32_t bos_id,
    const std::function<void(int32_t prev, int32_t token)>& on_token);

}  // namespace dcllm
