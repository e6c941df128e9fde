// The generation loop and its timing. Stops at EOS or BOS (llama2.c's rule: a model that
// starts a new document is done with this one).
#include "runtime/generate.h"

#include <chrono>
#include <vector>

#include "runtime/sampler.h"

namespace dcllm {
namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

double GenerateStats::prompt_tokens_per_second() const {
  return prompt_seconds > 0 ? static_cast<double>(prompt_tokens) / prompt_seconds : 0.0;
}

double GenerateStats::generated_tokens_per_second() const {
  return generate_seconds > 0 ? static_cast<double>(generated_tokens) / generate_seconds : 0.0;
}

Expected<GenerateStats> generate_tokens(Transformer& model, std::span<const int32_t> prompt,
                                        const GenerateOptions& opts, int32_t eos_id, int32_t bos_id,
                                        const std::function<void(int32_t, int32_t)>& on_token) {
  if (prompt.empty()) return InvalidArgument("generate: empty prompt (it needs at least BOS)");
  if (static_cast<int64_t>(prompt.size()) > model.max_seq()) {
    return InvalidArgument("generate: prompt of " + std::to_string(prompt.size()) +
                           " tokens exceeds the context of " + std::to_string(model.max_seq()));
  }
  GenerateStats stats;
  stats.prompt_tokens = static_cast<int64_t>(prompt.size());
  Sampler sampler({.temperature = opts.temperature,
                   .top_k = opts.top_k,
                   .top_p = opts.top_p,
                   .min_p = opts.min_p,
                   .repeat_penalty = opts.repeat_penalty,
                   .repeat_last_n = opts.repeat_last_n,
                   .seed = opts.seed});
  // Prompt and generated tokens, for the repeat penalty.
  std::vector<int32_t> history(prompt.begin(), prompt.end());

  auto t0 = std::chrono::steady_clock::now();
  DCLLM_ASSIGN_OR_RETURN(std::span<const float> logits, model.forward(prompt, 0));
  stats.prompt_seconds = seconds_since(t0);

  t0 = std::chrono::steady_clock::now();
  int32_t prev = prompt.back();
  int64_t pos = static_cast<int64_t>(prompt.size());
  while (stats.generated_tokens < opts.max_new_tokens) {
    const int32_t next = sampler.sample(logits, history);
    if (next == eos_id || next == bos_id) break;
    history.push_back(next);
    on_token(prev, next);
    ++stats.generated_tokens;
    prev = next;
    if (pos >= model.max_seq() || stats.generated_tokens == opts.max_new_tokens) break;
    const int32_t one[1] = {next};
    DCLLM_ASSIGN_OR_RETURN(logits, model.forward(one, pos));
    ++pos;
  }
  stats.generate_seconds = seconds_since(t0);
  return stats;
}

Expected<GenerateStats> generate(Transformer& model, const Tokenizer& tokenizer,
                                 std::string_view prompt, const GenerateOptions& opts,
                                 const std::function<void(std::string_view)>& on_text) {
  std::vector<int32_t> tokens = tokenizer.encode(prompt, tokenizer.vocab().add_bos);
  if (tokens.empty() && tokenizer.bos_id() >= 0) tokens.push_back(tokenizer.bos_id());
  if (tokens.empty()) {
    return InvalidArgument(
        "generate: the vocabulary has no BOS token, so an empty prompt "
        "gives nothing to start from");
  }
  return generate_tokens(
      model, tokens, opts, tokenizer.eos_id(), tokenizer.bos_id(),
      [&](int32_t prev, int32_t token) { on_text(tokenizer.decode_token(prev, token)); });
}

}  // namespace dcllm
