// The OpenAI-compatible request and response bodies of `dcllm serve` (docs/server.md):
// parsing and validating /v1/completions and /v1/chat/completions requests, building replies.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dcllm/status.h"
#include "runtime/chat_template.h"
#include "serve/completion_engine.h"

namespace dcllm {

// Bounds a request must stay within (besides the body size the HTTP layer caps).
inline constexpr size_t kMaxStopStrings = 4;  // OpenAI's limit
inline constexpr size_t kMaxStopStringBytes = 256;
inline constexpr size_t kMaxChatMessages = 4096;

// What both endpoints take. Fields OpenAI defines that change nothing here (user, presence and
// frequency penalties, logit_bias, ...) are ignored.
struct SamplingFields {
  std::string model;                  // "" = not given (the served model)
  std::optional<int64_t> max_tokens;  // not given: the endpoint's default
  float temperature = 0.8f;
  float top_p = 1.0f;  // OpenAI's; 1 = off
  int32_t top_k = 0;   // llama.cpp server's extensions, same names: 0 = off
  float min_p = 0.0f;
  float repeat_penalty = 1.0f;
  std::optional<int64_t> seed;  // not given: one is drawn
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
  std::vector<std::string> stop;
};

struct CompletionRequest {
  SamplingFields fields;
  std::string prompt;               // when the prompt is text
  std::vector<int32_t> prompt_ids;  // when it is token ids (then `prompt` is unused)
  bool prompt_is_ids = false;
};

struct ChatRequest {
  SamplingFields fields;
  std::vector<ChatMessage> messages;
};

// kInvalidArgument (or kCorrupt for text that is not JSON) with a message for the client; the
// body must be a JSON object. `n` other than 1, `echo`, `logprobs`, `best_of` > 1, `suffix`,
// `tools` and non-text content parts are refused rather than ignored.
Expected<CompletionRequest> parse_completion_request(std::string_view body);
Expected<ChatRequest> parse_chat_request(std::string_view body);

// {"error": {"message", "type", "param": null, "code"}} as OpenAI sends it.
nlohmann::json error_json(std::string_view message, std::string_view type, std::string_view code);

// Whole replies and stream chunks. `id` is "cmpl-..." / "chatcmpl-...", `created` Unix seconds.
nlohmann::json usage_json(const GenerationResult& r);
nlohmann::json completion_json(const std::string& id, int64_t created, const std::string& model,
                               const GenerationResult& r);
nlohmann::json completion_chunk_json(const std::string& id, int64_t created,
                                     const std::string& model, std::string_view text,
                                     std::optional<FinishReason> finish);
nlohmann::json chat_json(const std::string& id, int64_t created, const std::string& model,
                         const GenerationResult& r);
// `delta` is {"role": "assistant"}, {"content": ...} or {} (with the finish reason).
nlohmann::json chat_chunk_json(const std::string& id, int64_t created, const std::string& model,
                               nlohmann::json delta, std::optional<FinishReason> finish);
// The chunk after the last choice when stream_options.include_usage: empty choices + usage.
nlohmann::json usage_chunk_json(const std::string& id, int64_t created, const std::string& model,
                                std::string_view object, const GenerationResult& r);

// One server-sent event: "data: <json>\n\n". Bytes that are not UTF-8 become U+FFFD.
std::string sse_event(const nlohmann::json& j);
// JSON text of `j` with the same replacement (nlohmann refuses invalid UTF-8 otherwise).
std::string dump_json(const nlohmann::json& j);

}  // namespace dcllm
