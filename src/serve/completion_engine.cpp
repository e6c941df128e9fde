// The generation loop behind `serve` and `run --chat`: the prompt as one batch, then one token
// at a time until a stop token, a stop string, max_tokens, the context's end or a cancel.
#include "serve/completion_engine.h"

#include <algorithm>
#include <chrono>

#include "model/model_loader.h"
#include "runtime/sampler.h"
#include "serve/text_stream.h"

namespace dcllm {
namespace {

// A default context past this costs more KV cache than a small server wants (SmolLM2 states
// 8192); --ctx asks for more.
constexpr int64_t kDefaultContext = 4096;

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

std::string_view finish_reason_name(FinishReason r) {
  switch (r) {
    case FinishReason::kStop:
      return "stop";
    case FinishReason::kLength:
      return "length";
    case FinishReason::kCancelled:
      return "cancelled";
  }
  return "stop";
}

Expected<std::unique_ptr<CompletionEngine>> CompletionEngine::create(Model model,
                                                                     const EngineOptions& opts) {
  std::unique_ptr<CompletionEngine> e(new CompletionEngine);
  e->model_ = std::make_unique<Model>(std::move(model));
  DCLLM_ASSIGN_OR_RETURN(Tokenizer tokenizer, tokenizer_for(*e->model_));
  e->tokenizer_.emplace(std::move(tokenizer));
  const Vocab& vocab = e->tokenizer_->vocab();
  DCLLM_ASSIGN_OR_RETURN(e->chat_template_, chat_template_for(vocab, opts.chat_template));
  e->chat_stops_ = ::dcllm::chat_stop_tokens(e->chat_template_, vocab);

  const int64_t trained = e->model_->config.seq_len;
  TransformerOptions topts;
  topts.threads = opts.threads;
  topts.max_seq =
      opts.context > 0 ? std::min(opts.context, trained) : std::min(trained, kDefaultContext);
  DCLLM_ASSIGN_OR_RETURN(Transformer transformer, Transformer::create(*e->model_, topts));
  e->transformer_ = std::make_unique<Transformer>(std::move(transformer));
  e->context_ = e->transformer_->max_seq();
  return e;
}

Expected<GenerationResult> CompletionEngine::generate(const GenerationRequest& req,
                                                      const TextSink& on_text) {
  ++waiting_;
  std::unique_lock lock(mutex_);
  --waiting_;
  auto result = run_locked(req, on_text);
  ++finished_;
  if (result.ok() && result->finish == FinishReason::kCancelled) ++cancelled_;
  return result;
}

Expected<GenerationResult> CompletionEngine::run_locked(const GenerationRequest& req,
                                                        const TextSink& on_text) {
  const auto n_prompt = static_cast<int64_t>(req.prompt.size());
  if (n_prompt == 0) return InvalidArgument("the prompt has no tokens");
  if (n_prompt > context_) {
    return InvalidArgument("the prompt has " + std::to_string(n_prompt) +
                           " tokens, more than the context of " + std::to_string(context_));
  }
  const auto vocab_size = static_cast<int32_t>(model_->config.vocab_size);
  for (int32_t id : req.prompt) {
    if (id < 0 || id >= vocab_size) {
      return InvalidArgument("prompt token " + std::to_string(id) +
                             " is not in the vocabulary of " + std::to_string(vocab_size));
    }
  }
  GenerationResult r;
  r.prompt_tokens = n_prompt;
  const int64_t max_new = std::clamp<int64_t>(req.max_tokens, 0, context_ - n_prompt);
  Sampler sampler(req.sampling);
  std::vector<int32_t> history(req.prompt);  // what the repeat penalty looks back on
  TextStream stream(req.stop_strings);

  auto t0 = std::chrono::steady_clock::now();
  DCLLM_ASSIGN_OR_RETURN(std::span<const float> logits, transformer_->forward(req.prompt, 0));
  r.prompt_seconds = seconds_since(t0);
  t0 = std::chrono::steady_clock::now();

  int32_t prev = req.fresh_text ? -1 : req.prompt.back();
  int64_t pos = n_prompt;
  r.finish = FinishReason::kLength;
  bool cancelled = false;
  while (r.completion_tokens < max_new) {
    const int32_t next = sampler.sample(logits, history);
    history.push_back(next);
    if (std::find(req.stop_tokens.begin(), req.stop_tokens.end(), next) != req.stop_tokens.end()) {
      r.finish = FinishReason::kStop;
      break;
    }
    ++r.completion_tokens;
    const std::string out = stream.feed(tokenizer_->decode_token(prev, next));
    prev = next;
    if (!out.empty()) {
      r.text += out;
      if (!on_text(out)) {
        cancelled = true;
        break;
      }
    }
    if (stream.stopped()) {
      r.finish = FinishReason::kStop;
      break;
    }
    if (r.completion_tokens == max_new) break;
    const int32_t one[1] = {next};
    DCLLM_ASSIGN_OR_RETURN(logits, transformer_->forward(one, pos));
    ++pos;
  }
  if (!cancelled) {
    const std::string rest = stream.finish();
    if (!rest.empty()) {
      r.text += rest;
      cancelled = !on_text(rest);
    }
  }
  if (cancelled) r.finish = FinishReason::kCancelled;
  r.generate_seconds = seconds_since(t0);
  return r;
}

}  // namespace dcllm
