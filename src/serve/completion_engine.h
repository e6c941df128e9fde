// CompletionEngine: one loaded model behind a mutex, generating for one request at a time
// (`dcllm serve`, `dcllm run --chat`). Stop tokens, stop strings and cancellation per request.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dcllm/status.h"
#include "model/model.h"
#include "model/tokenizer.h"
#include "runtime/chat_template.h"
#include "runtime/sampler.h"
#include "runtime/transformer.h"

namespace dcllm {

struct EngineOptions {
  int64_t context = 0;  // KV cache length; 0 = min(model's seq_len, 4096)
  unsigned threads = 2;
  std::string chat_template;  // --chat-template override; "" = the model's own
};

struct GenerationRequest {
  std::vector<int32_t> prompt;  // token ids, BOS included where wanted; not empty
  int64_t max_tokens = 16;      // clamped to what the context leaves after the prompt
  SamplerOptions sampling;      // temperature 0 = greedy; the repeat penalty sees the prompt too
  std::vector<int32_t> stop_tokens;       // sampled: ends the text (not part of it)
  std::vector<std::string> stop_strings;  // found in the text: it ends before the match
  // true: the first generated token is decoded as if it began a text (a chat reply), so a
  // SentencePiece model's leading space is dropped; false: it continues the prompt.
  bool fresh_text = false;
};

enum class FinishReason { kStop, kLength, kCancelled };
std::string_view finish_reason_name(FinishReason r);  // "stop", "length", "cancelled"

struct GenerationResult {
  std::string text;
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  FinishReason finish = FinishReason::kLength;
  double prompt_seconds = 0.0;
  double generate_seconds = 0.0;
};

// Called with each new stretch of text (whole UTF-8 characters, stop strings held back until
// they can no longer match); returning false cancels the generation (a client went away).
using TextSink = std::function<bool(std::string_view)>;

class CompletionEngine {
 public:
  // Takes the model; fails like Transformer::create or tokenizer_for.
  static Expected<std::unique_ptr<CompletionEngine>> create(Model model, const EngineOptions& opts);

  // Waits for the requests before it (one runs at a time), then generates. A prompt that does
  // not fit the context is kInvalidArgument naming both sizes.
  Expected<GenerationResult> generate(const GenerationRequest& req, const TextSink& on_text);

  const Tokenizer& tokenizer() const { return *tokenizer_; }
  const ChatTemplate& chat_template() const { return chat_template_; }
  const std::vector<int32_t>& chat_stop_tokens() const { return chat_stops_; }
  const Model& model() const { return *model_; }
  int64_t context() const { return context_; }

  // Counters for /health: requests waiting for the model, finished ones, cancelled ones.
  int64_t waiting() const { return waiting_.load(); }
  int64_t finished() const { return finished_.load(); }
  int64_t cancelled() const { return cancelled_.load(); }

 private:
  CompletionEngine() = default;
  Expected<GenerationResult> run_locked(const GenerationRequest& req, const TextSink& on_text);

  std::unique_ptr<Model> model_;  // on the heap: the Transformer points into it
  std::optional<Tokenizer> tokenizer_;
  std::unique_ptr<Transformer> transformer_;
  ChatTemplate chat_template_;
  std::vector<int32_t> chat_stops_;
  int64_t context_ = 0;
  std::mutex mutex_;
  std::atomic<int64_t> waiting_{0}, finished_{0}, cancelled_{0};
};

}  // namespace dcllm
