// Request bodies are untrusted: every field is type- and range-checked before use, and an error
// names the field, so the client sees a 400 it can act on rather than a generation it did not ask.
#include "serve/openai_protocol.h"

#include <limits>

#include "core/json_limits.h"

namespace dcllm {
namespace {

using json = nlohmann::json;

Status bad(const std::string& field, const std::string& want) {
  return InvalidArgument("'" + field + "' must be " + want);
}

// An optional field: absent and null both mean "not given".
const json* field(const json& body, const char* key) {
  auto it = body.find(key);
  return it == body.end() || it->is_null() ? nullptr : &*it;
}

Status read_common(const json& body, SamplingFields* f) {
  if (const json* v = field(body, "model")) {
    if (!v->is_string()) return bad("model", "a string");
    f->model = v->get<std::string>();
  }
  // max_completion_tokens is the chat API's newer name for max_tokens.
  for (const char* key : {"max_tokens", "max_completion_tokens"}) {
    if (const json* v = field(body, key)) {
      if (!v->is_number_integer() || v->get<int64_t>() < 0) return bad(key, "an integer >= 0");
      f->max_tokens = v->get<int64_t>();
    }
  }
  if (const json* v = field(body, "temperature")) {
    if (!v->is_number() || !(v->get<double>() >= 0.0 && v->get<double>() <= 2.0))
      return bad("temperature", "a number from 0 to 2");
    f->temperature = static_cast<float>(v->get<double>());
  }
  if (const json* v = field(body, "top_p")) {
    if (!v->is_number() || !(v->get<double>() > 0.0 && v->get<double>() <= 1.0))
      return bad("top_p", "a number in (0, 1]");
    f->top_p = static_cast<float>(v->get<double>());
  }
  if (const json* v = field(body, "min_p")) {
    if (!v->is_number() || !(v->get<double>() >= 0.0 && v->get<double>() <= 1.0))
      return bad("min_p", "a number from 0 to 1");
    f->min_p = static_cast<float>(v->get<double>());
  }
  if (const json* v = field(body, "top_k")) {
    if (!v->is_number_integer() || v->get<int64_t>() < 0 || v->get<int64_t>() > (1 << 24))
      return bad("top_k", "an integer >= 0");
    f->top_k = static_cast<int32_t>(v->get<int64_t>());
  }
  if (const json* v = field(body, "repeat_penalty")) {
    if (!v->is_number() || !(v->get<double>() >= 0.01 && v->get<double>() <= 100.0))
      return bad("repeat_penalty", "a number from 0.01 to 100");
    f->repeat_penalty = static_cast<float>(v->get<double>());
  }
  if (const json* v = field(body, "seed")) {
    if (!v->is_number_integer()) return bad("seed", "an integer");
    f->seed =
        v->is_number_unsigned() ? static_cast<int64_t>(v->get<uint64_t>()) : v->get<int64_t>();
  }
  if (const json* v = field(body, "stream")) {
    if (!v->is_boolean()) return bad("stream", "a boolean");
    f->stream = v->get<bool>();
  }
  if (const json* v = field(body, "stream_options")) {
    if (!v->is_object()) return bad("stream_options", "an object");
    if (const json* u = field(*v, "include_usage")) {
      if (!u->is_boolean()) return bad("stream_options.include_usage", "a boolean");
      f->include_usage = u->get<bool>();
    }
  }
  if (const json* v = field(body, "stop")) {
    std::vector<const json*> items;
    if (v->is_string()) {
      items.push_back(v);
    } else if (v->is_array() && v->size() <= kMaxStopStrings) {
      for (const json& s : *v) items.push_back(&s);
    } else {
      return bad("stop", "a string or an array of at most 4 strings");
    }
    for (const json* s : items) {
      if (!s->is_string() || s->get_ref<const std::string&>().size() > kMaxStopStringBytes)
        return bad("stop", "strings of at most 256 bytes");
      f->stop.push_back(s->get<std::string>());
    }
  }
  if (const json* v = field(body, "n")) {
    if (!v->is_number_integer() || v->get<int64_t>() != 1) return bad("n", "1 (one choice)");
  }
  if (const json* v = field(body, "best_of")) {
    if (!v->is_number_integer() || v->get<int64_t>() != 1) return bad("best_of", "1");
  }
  for (const char* key : {"echo", "logprobs"}) {
    if (const json* v = field(body, key)) {
      const bool off = (v->is_boolean() && !v->get<bool>()) ||
                       (v->is_number_integer() && v->get<int64_t>() == 0);
      if (!off) return InvalidArgument(std::string("'") + key + "' is not supported");
    }
  }
  for (const char* key : {"suffix", "tools", "functions", "tool_choice", "response_format"}) {
    if (field(body, key)) return InvalidArgument(std::string("'") + key + "' is not supported");
  }
  return Status::Ok();
}

Expected<json> parse_body(std::string_view body) {
  DCLLM_ASSIGN_OR_RETURN(json j, parse_untrusted_json(body, "request body"));
  if (!j.is_object()) return InvalidArgument("request body: not a JSON object");
  return j;
}

// A message's content: a string, or an array of {"type": "text", "text": ...} parts joined.
Status read_content(const json& m, size_t k, std::string* out) {
  const std::string where = "messages[" + std::to_string(k) + "].content";
  const json* c = field(m, "content");
  if (!c) return Status::Ok();  // an assistant message may have none
  if (c->is_string()) {
    *out = c->get<std::string>();
    return Status::Ok();
  }
  if (!c->is_array()) return bad(where, "a string or an array of text parts");
  for (const json& part : *c) {
    const json* type = part.is_object() ? field(part, "type") : nullptr;
    const json* text = part.is_object() ? field(part, "text") : nullptr;
    if (!type || *type != "text" || !text || !text->is_string())
      return bad(where, "text parts ({\"type\": \"text\", \"text\": ...})");
    *out += text->get<std::string>();
  }
  return Status::Ok();
}

json choice_finish(std::optional<FinishReason> finish) {
  return finish ? json(std::string(finish_reason_name(*finish))) : json(nullptr);
}

}  // namespace

Expected<CompletionRequest> parse_completion_request(std::string_view body) {
  DCLLM_ASSIGN_OR_RETURN(const json j, parse_body(body));
  CompletionRequest r;
  DCLLM_RETURN_IF_ERROR(read_common(j, &r.fields));
  const json* p = field(j, "prompt");
  if (!p) return InvalidArgument("'prompt' is required");
  // A string, one string in an array, or token ids (an array of integers).
  if (p->is_array() && p->size() == 1 && (*p)[0].is_string()) p = &(*p)[0];
  if (p->is_string()) {
    r.prompt = p->get<std::string>();
    return r;
  }
  if (p->is_array() && !p->empty() && (*p)[0].is_array()) {
    if (p->size() != 1)
      return InvalidArgument("'prompt' with more than one prompt is not supported");
    p = &(*p)[0];
  }
  if (!p->is_array()) return bad("prompt", "a string or an array of token ids");
  if (p->size() > static_cast<size_t>(std::numeric_limits<int32_t>::max()))
    return bad("prompt", "shorter");
  if (p->size() > 1 && (*p)[0].is_string())
    return InvalidArgument("'prompt' with more than one prompt is not supported");
  r.prompt_is_ids = true;
  r.prompt_ids.reserve(p->size());
  for (const json& id : *p) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0 ||
        id.get<int64_t>() > std::numeric_limits<int32_t>::max())
      return bad("prompt", "a string or an array of token ids");
    r.prompt_ids.push_back(static_cast<int32_t>(id.get<int64_t>()));
  }
  return r;
}

Expected<ChatRequest> parse_chat_request(std::string_view body) {
  DCLLM_ASSIGN_OR_RETURN(const json j, parse_body(body));
  ChatRequest r;
  DCLLM_RETURN_IF_ERROR(read_common(j, &r.fields));
  const json* msgs = field(j, "messages");
  if (!msgs || !msgs->is_array() || msgs->empty())
    return bad("messages", "a non-empty array of {role, content}");
  if (msgs->size() > kMaxChatMessages) return bad("messages", "at most 4096 messages");
  for (size_t k = 0; k < msgs->size(); ++k) {
    const json& m = (*msgs)[k];
    const std::string where = "messages[" + std::to_string(k) + "]";
    if (!m.is_object()) return bad(where, "an object");
    const json* role = field(m, "role");
    if (!role || !role->is_string()) return bad(where + ".role", "a string");
    ChatMessage msg;
    msg.role = role->get<std::string>();
    if (msg.role == "developer") msg.role = "system";  // OpenAI's newer name for it
    if (msg.role != "system" && msg.role != "user" && msg.role != "assistant")
      return bad(where + ".role", "system, user or assistant");
    DCLLM_RETURN_IF_ERROR(read_content(m, k, &msg.content));
    r.messages.push_back(std::move(msg));
  }
  return r;
}

json error_json(std::string_view message, std::string_view type, std::string_view code) {
  return {{"error",
           {{"message", std::string(message)},
            {"type", std::string(type)},
            {"param", nullptr},
            {"code", code.empty() ? json(nullptr) : json(std::string(code))}}}};
}

json usage_json(const GenerationResult& r) {
  return {{"prompt_tokens", r.prompt_tokens},
          {"completion_tokens", r.completion_tokens},
          {"total_tokens", r.prompt_tokens + r.completion_tokens}};
}

json completion_json(const std::string& id, int64_t created, const std::string& model,
                     const GenerationResult& r) {
  return {{"id", id},
          {"object", "text_completion"},
          {"created", created},
          {"model", model},
          {"choices", json::array({{{"index", 0},
                                    {"text", r.text},
                                    {"logprobs", nullptr},
                                    {"finish_reason", choice_finish(r.finish)}}})},
          {"usage", usage_json(r)}};
}

json completion_chunk_json(const std::string& id, int64_t created, const std::string& model,
                           std::string_view text, std::optional<FinishReason> finish) {
  return {{"id", id},
          {"object", "text_completion"},
          {"created", created},
          {"model", model},
          {"choices", json::array({{{"index", 0},
                                    {"text", std::string(text)},
                                    {"logprobs", nullptr},
                                    {"finish_reason", choice_finish(finish)}}})}};
}

json chat_json(const std::string& id, int64_t created, const std::string& model,
               const GenerationResult& r) {
  return {{"id", id},
          {"object", "chat.completion"},
          {"created", created},
          {"model", model},
          {"choices", json::array({{{"index", 0},
                                    {"message", {{"role", "assistant"}, {"content", r.text}}},
                                    {"logprobs", nullptr},
                                    {"finish_reason", choice_finish(r.finish)}}})},
          {"usage", usage_json(r)}};
}

json chat_chunk_json(const std::string& id, int64_t created, const std::string& model, json delta,
                     std::optional<FinishReason> finish) {
  return {{"id", id},
          {"object", "chat.completion.chunk"},
          {"created", created},
          {"model", model},
          {"choices", json::array({{{"index", 0},
                                    {"delta", std::move(delta)},
                                    {"logprobs", nullptr},
                                    {"finish_reason", choice_finish(finish)}}})}};
}

json usage_chunk_json(const std::string& id, int64_t created, const std::string& model,
                      std::string_view object, const GenerationResult& r) {
  return {{"id", id},       {"object", std::string(object)}, {"created", created},
          {"model", model}, {"choices", json::array()},      {"usage", usage_json(r)}};
}

std::string dump_json(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string sse_event(const json& j) {
  return "data: " + dump_json(j) + "\n\n";
}

}  // namespace dcllm
