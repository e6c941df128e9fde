// Perplexity by the dcllm protocol (docs/models.md): the text's tokens after its leading BOS
// are cut into consecutive windows of ctx-1 tokens, each evaluated as [BOS] + window from an
// empty cache, every position predicting the next token; ppl = exp(total NLL / tokens scored).
#pragma once

#include <cstdint>
#include <functional>
#include <span>

#include "dcllm/status.h"
#include "runtime/transformer.h"

namespace dcllm {

struct PerplexityResult {
  double nll = 0.0;    // total negative log-likelihood, nats
  int64_t tokens = 0;  // tokens scored
  int64_t windows = 0;
  double ppl() const;
};

struct PerplexityOptions {
  int64_t ctx = 512;        // window length including BOS; must fit the Transformer's context
  int64_t max_windows = 0;  // 0 = all windows (the last may be shorter)
  // Called after each window with (windows done, windows total, the result so far).
  std::function<void(int64_t, int64_t, const PerplexityResult&)> on_window;
  // Called after each window with (windows done, windows total).
  std::function<void(int64_t, int64_t)> on_progress;
};

// `tokens` is the tokenized text, starting with BOS.
Expected<PerplexityResult> evaluate_perplexity(Transformer& model, std::span<const int32_t> tokens,
                                               const PerplexityOptions& opts);

// -log softmax(logits)[target], computed in double with the max subtracted.
double token_nll(std::span<const float> logits, int32_t target);

}  // namespace dcllm
