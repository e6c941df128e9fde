// Calibration: the float Transformer runs window by window with an activation observer that
// folds each linear's input into that linear's CalibrationStats, so nothing grows with tokens.
#include "calib/calibrate.h"

#include <algorithm>
#include <vector>

#include "runtime/transformer.h"

namespace dcllm {

Expected<CalibrationWindows> plan_calibration_windows(const ModelConfig& config,
                                                      std::span<const int32_t> text_tokens,
                                                      const CalibrationOptions& opts) {
  if (opts.ctx < 2) {
    return InvalidArgument("--calib-ctx " + std::to_string(opts.ctx) + " is below 2 tokens");
  }
  if (opts.ctx > config.seq_len) {
    return InvalidArgument("--calib-ctx " + std::to_string(opts.ctx) +
                           " exceeds the model's context of " + std::to_string(config.seq_len) +
                           " tokens");
  }
  if (opts.tokens < 1) {
    return InvalidArgument("--calib-tokens " + std::to_string(opts.tokens) + " must be >= 1");
  }
  // Text tokens after the leading BOS; each window adds its own BOS.
  const int64_t text = text_tokens.empty() ? 0 : static_cast<int64_t>(text_tokens.size()) - 1;
  const int64_t per_window = opts.ctx - 1;
  if (text < per_window) {
    return InvalidArgument(opts.text_name + ": " + std::to_string(text) +
                           " tokens after BOS, too short to fill one window of --calib-ctx " +
                           std::to_string(opts.ctx) + " (needs " + std::to_string(per_window) +
                           ")");
  }
  CalibrationWindows w;
  int64_t budget = opts.tokens, left = text;
  while (budget >= 2 && left > 0) {
    const int64_t n = std::min({opts.ctx, budget, left + 1});
    ++w.windows;
    w.tokens += n;
    budget -= n;
    left -= n - 1;
  }
  if (w.windows == 0) {
    return InvalidArgument("--calib-tokens " + std::to_string(opts.tokens) +
                           " is too few for one window (needs at least 2 tokens)");
  }
  return w;
}

Expected<std::map<std::string, CalibrationStats>> calibrate_activations(
    const Model& model, std::span<const int32_t> text_tokens, const CalibrationOptions& opts) {
  return calibrate_activations(model, text_tokens, opts, nullptr);
}

Expected<std::map<std::string, CalibrationStats>> calibrate_activations(
    const Model& model, std::span<const int32_t> text_tokens, const CalibrationOptions& opts,
    std::map<std::string, InputGram>* grams) {
  DCLLM_ASSIGN_OR_RETURN(CalibrationWindows plan,
                         plan_calibration_windows(model.config, text_tokens, opts));
  TransformerOptions topts;
  topts.max_seq = opts.ctx;
  topts.threads = opts.threads;
  DCLLM_ASSIGN_OR_RETURN(Transformer t, Transformer::create(model, topts));

  std::map<std::string, CalibrationStats> stats;
  for (const Linear* l : t.linears()) {
    stats.emplace(l->name(), CalibrationStats(static_cast<size_t>(l->in_features())));
    if (grams && opts.gram_linears.count(l->name()))
      grams->emplace(l->name(), InputGram(static_cast<size_t>(l->in_features())));
  }
  Status observe_status;
  t.set_observer([&](const std::string& name, const float* x, size_t rows, size_t cols) {
    if (!observe_status.ok()) return;
    auto it = stats.find(name);
    if (it == stats.end()) {
      observe_status = Internal("calibration: unexpected linear '" + name + "'");
      return;
    }
    observe_status = it->second.observe(x, rows, cols);
    if (!observe_status.ok() || !grams) return;
    if (auto g = grams->find(name); g != grams->end())
      observe_status = g->second.observe(x, rows, cols, opts.threads);
  });

  const bool all_logits = !model.config.tied_classifier;
  const int32_t bos = text_tokens[0];
  std::vector<int32_t> window;
  size_t next = 1;  // next text token to use
  int64_t budget = plan.tokens;
  const int64_t text = static_cast<int64_t>(text_tokens.size()) - 1;
  for (int64_t w = 0; w < plan.windows; ++w) {
    // The same cut as plan_calibration_windows.
    const int64_t left = text - static_cast<int64_t>(next - 1);
    const int64_t n = std::min({opts.ctx, budget, left + 1});
    window.assign(1, bos);
    window.insert(window.end(), text_tokens.begin() + static_cast<ptrdiff_t>(next),
                  text_tokens.begin() + static_cast<ptrdiff_t>(next + static_cast<size_t>(n - 1)));
    next += static_cast<size_t>(n - 1);
    budget -= n;
    DCLLM_ASSIGN_OR_RETURN(auto logits, t.forward(window, 0, all_logits));
    (void)logits;
    DCLLM_RETURN_IF_ERROR(observe_status);
    if (opts.on_progress) opts.on_progress(w + 1, plan.windows);
  }
  return stats;
}

}  // namespace dcllm
