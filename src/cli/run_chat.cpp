// The chat loop of `dcllm run --chat` over a CompletionEngine (the one `dcllm serve` uses): each
// reply is generated from the whole conversation rendered by the model's template and ends at
// the template's end-of-turn token, EOS or -n tokens.
#include "cli/run_chat.h"

#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <vector>

#include "serve/completion_engine.h"

namespace dcllm::cli {
namespace {

struct Turn {
  Expected<GenerationResult> result = GenerationResult{};
  int64_t dropped = 0;  // oldest messages left out so the conversation fits the context
};

// Renders the conversation, leaving out its oldest turns (never the system message) until
// the prompt leaves room for a reply, and generates it.
Turn reply(CompletionEngine& engine, std::vector<ChatMessage>& messages, const ChatRunOptions& o) {
  Turn turn;
  GenerationRequest req;
  req.max_tokens = o.max_tokens;
  req.sampling = o.sampling;
  req.stop_tokens = engine.chat_stop_tokens();
  req.fresh_text = true;
  const size_t first = !messages.empty() && messages.front().role == "system" ? 1 : 0;
  for (;;) {
    auto rendered = render_chat(engine.chat_template(), messages);
    if (!rendered.ok()) {
      turn.result = rendered.status();
      return turn;
    }
    req.prompt = encode_chat(engine.tokenizer(), *rendered);
    const auto room = engine.context() - static_cast<int64_t>(req.prompt.size());
    if (room >= std::min<int64_t>(o.max_tokens, 16) || messages.size() <= first + 1) break;
    messages.erase(messages.begin() + static_cast<std::ptrdiff_t>(first));
    ++turn.dropped;
  }
  const bool stream = !o.json;
  turn.result = engine.generate(req, [&](std::string_view text) {
    if (stream) {
      std::fwrite(text.data(), 1, text.size(), stdout);
      std::fflush(stdout);
    }
    return true;
  });
  return turn;
}

void print_json(const CompletionEngine& engine, const GenerationResult& r, uint64_t seed,
                int64_t dropped) {
  nlohmann::ordered_json j;
  j["chat_template"] = std::string(chat_format_name(engine.chat_template().format));
  j["text"] = r.text;
  j["finish_reason"] = std::string(finish_reason_name(r.finish));
  j["seed"] = seed;
  j["prompt_tokens"] = r.prompt_tokens;
  j["generated_tokens"] = r.completion_tokens;
  j["dropped_messages"] = dropped;
  j["prompt_tokens_per_second"] = r.prompt_seconds > 0 ? r.prompt_tokens / r.prompt_seconds : 0.0;
  j["generation_tokens_per_second"] =
      r.generate_seconds > 0 ? r.completion_tokens / r.generate_seconds : 0.0;
  std::printf("%s\n", j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  std::fflush(stdout);
}

}  // namespace

Status run_chat(Model model, const ChatRunOptions& o) {
  EngineOptions eopts;
  eopts.context = o.ctx;
  eopts.threads = o.threads;
  eopts.chat_template = o.chat_template;
  DCLLM_ASSIGN_OR_RETURN(auto engine, CompletionEngine::create(std::move(model), eopts));
  const ChatTemplate& t = engine->chat_template();
  std::fprintf(stderr, "chat template: %s (from %s%s)\n",
               std::string(chat_format_name(t.format)).c_str(), t.source.c_str(),
               t.unrecognised ? "; the model's own template is not one dcllm knows" : "");

  std::vector<ChatMessage> messages;
  if (!o.system.empty()) messages.push_back({"system", o.system});
  const bool terminal = ::isatty(STDIN_FILENO) != 0;
  uint64_t seed = o.sampling.seed;
  for (;;) {
    std::string line;
    if (o.prompt_given) {
      line = o.prompt;
    } else {
      if (terminal) std::fputs("> ", stderr);
      if (!std::getline(std::cin, line)) break;
      if (line.empty()) continue;
    }
    messages.push_back({"user", line});
    Turn turn = reply(*engine, messages, o);
    if (!turn.result.ok()) return turn.result.status();
    const GenerationResult& r = *turn.result;
    if (o.json) {
      print_json(*engine, r, seed, turn.dropped);
    } else {
      std::fputc('\n', stdout);
      std::fflush(stdout);
      if (turn.dropped > 0) {
        std::fprintf(stderr, "(the %lld oldest messages no longer fit the context of %lld)\n",
                     static_cast<long long>(turn.dropped),
                     static_cast<long long>(engine->context()));
      }
      std::fprintf(stderr, "prompt: %lld tokens; reply: %lld tokens, %.1f tok/s, %s\n",
                   static_cast<long long>(r.prompt_tokens),
                   static_cast<long long>(r.completion_tokens),
                   r.generate_seconds > 0 ? r.completion_tokens / r.generate_seconds : 0.0,
                   std::string(finish_reason_name(r.finish)).c_str());
    }
    messages.push_back({"assistant", r.text});
    if (o.prompt_given) break;
  }
  return Status::Ok();
}

}  // namespace dcllm::cli
