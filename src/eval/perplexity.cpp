// Perplexity over fixed windows: each window starts fresh from BOS, so every scored token sees
// at most ctx-1 tokens of context and results do not depend on how windows were batched.
#include "eval/perplexity.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace dcllm {

double PerplexityResult::ppl() const {
  return tokens > 0 ? std::exp(nll / static_cast<double>(tokens)) : 0.0;
}

double token_nll(std::span<const float> logits, int32_t target) {
  double max = logits[0];
  for (float v : logits) max = std::max(max, static_cast<double>(v));
  double sum = 0.0;
  for (float v : logits) sum += std::exp(static_cast<double>(v) - max);
  return std::log(sum) + max - static_cast<double>(logits[static_cast<size_t>(target)]);
}

Expected<PerplexityResult> evaluate_perplexity(Transformer& model, std::span<const int32_t> tokens,
                                               const PerplexityOptions& opts) {
  if (opts.ctx < 2) return InvalidArgument("perplexity: ctx must be at least 2");
  if (opts.ctx > model.max_seq()) {
    return InvalidArgument("perplexity: ctx " + std::to_string(opts.ctx) +
                           " exceeds the model context of " + std::to_string(model.max_seq()));
  }
  if (tokens.size() < 2) return InvalidArgument("perplexity: the text has no tokens to score");
  const int32_t bos = tokens[0];
  const std::span<const int32_t> body = tokens.subspan(1);
  const auto window = static_cast<size_t>(opts.ctx - 1);
  int64_t total_windows = static_cast<int64_t>((body.size() + window - 1) / window);
  if (opts.max_windows > 0) total_windows = std::min(total_windows, opts.max_windows);

  const auto V = static_cast<size_t>(model.config().vocab_size);
  PerplexityResult r;
  std::vector<int32_t> input;
  for (int64_t w = 0; w < total_windows; ++w) {
    const size_t begin = static_cast<size_t>(w) * window;
    const size_t len = std::min(window, body.size() - begin);
    // Input [BOS, t0 .. t(len-2)] predicts [t0 .. t(len-1)].
    input.assign({bos});
    input.insert(input.end(), body.begin() + static_cast<std::ptrdiff_t>(begin),
                 body.begin() + static_cast<std::ptrdiff_t>(begin + len - 1));
    DCLLM_ASSIGN_OR_RETURN(std::span<const float> logits, model.forward(input, 0, true));
    for (size_t i = 0; i < len; ++i) {
      r.nll += token_nll(logits.subspan(i * V, V), body[begin + i]);
    }
    r.tokens += static_cast<int64_t>(len);
    ++r.windows;
    if (opts.on_progress) opts.on_progress(r.windows, total_windows);
    if (opts.on_window) opts.on_window(r.windows, total_windows, r);
  }
  return r;
}

}  // namespace dcllm
