// calibrate_activations(): runs the float model over calibration text and streams, for every
// linear layer's input, the per-channel statistics (max|X_j|, mean|X_j|, ||X_j||_2) scaling needs.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <span>
#include <string>

#include "calib/calibration_stats.h"
#include "calib/input_gram.h"
#include "dcllm/status.h"
#include "model/model.h"

namespace dcllm {

struct CalibrationOptions {
  int64_t tokens = 8192;  // calibration tokens to run (BOS included), at most
  int64_t ctx = 256;      // window length, BOS included; every window starts from an empty cache
  unsigned threads = 2;
  std::string text_name = "calibration text";  // names the text in error messages
  // Linears whose input Gram matrix XᵀX is accumulated too (for GPTQ rounding): K x K floats
  // each, and as much compute again as those linears' own forward.
  std::set<std::string> gram_linears;
  // Called after each window with (windows done, windows total).
  std::function<void(int64_t, int64_t)> on_progress;
};

// How the token stream is cut: windows of ctx tokens ([BOS] + ctx-1 text tokens), consecutive,
// until `tokens` are used or the text runs out; the last window may be shorter.
struct CalibrationWindows {
  int64_t windows = 0;
  int64_t tokens = 0;  // tokens actually run, BOS included
};

// Checks the options against the model and the tokenized text (`text_tokens` starts with BOS)
// without running anything: kInvalidArgument for ctx < 2, ctx above the model's context,
// tokens < 1, or a text too short to fill one window of ctx tokens.
Expected<CalibrationWindows> plan_calibration_windows(const ModelConfig& config,
                                                      std::span<const int32_t> text_tokens,
                                                      const CalibrationOptions& opts);

// Statistics keyed by linear name ("blk.0.attn_q", ..., "output"), every linear of the forward
// pass. Memory is O(channels) per linear, whatever opts.tokens is. The classifier sees every
// token only when it is untied (a tied classifier is never scaled, so its statistics are
// recorded from each window's last token only, saving the [ctx, vocab] logits).
Expected<std::map<std::string, CalibrationStats>> calibrate_activations(
    const Model& model, std::span<const int32_t> text_tokens, const CalibrationOptions& opts);
// The same, also filling `grams` (keyed like the statistics) for opts.gram_linears.
Expected<std::map<std::string, CalibrationStats>> calibrate_activations(
    const Model& model, std::span<const int32_t> text_tokens, const CalibrationOptions& opts,
    std::map<std::string, InputGram>* grams);

}  // namespace dcllm
