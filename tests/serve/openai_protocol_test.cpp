// Request parsing of the OpenAI-compatible endpoints: what is accepted, the defaults, and a
// 400-worthy message naming the field for everything refused.
#include "serve/openai_protocol.h"

#include <gtest/gtest.h>

#include <string>

namespace dcllm {
namespace {

std::string error_of(const Status& st) {
  return st.message();
}

TEST(OpenAiProtocol, ParsesACompletionRequest) {
  auto r = parse_completion_request(
      R"({"model": "m", "prompt": "Once", "max_tokens": 5, "temperature": 0, "seed": 7,
          "stream": true, "stop": ["\n", "The end"], "top_p": 0.9, "top_k": 40, "user": "x",
          "stream_options": {"include_usage": true}})");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->prompt, "Once");
  EXPECT_FALSE(r->prompt_is_ids);
  EXPECT_EQ(r->fields.model, "m");
  EXPECT_EQ(r->fields.max_tokens, 5);
  EXPECT_EQ(r->fields.temperature, 0.0f);
  EXPECT_EQ(r->fields.seed, 7);
  EXPECT_TRUE(r->fields.stream);
  EXPECT_TRUE(r->fields.include_usage);
  EXPECT_EQ(r->fields.stop, (std::vector<std::string>{"\n", "The end"}));
  EXPECT_FLOAT_EQ(r->fields.top_p, 0.9f);
  EXPECT_EQ(r->fields.top_k, 40);

  auto ids = parse_completion_request(R"({"prompt": [1, 2, 3]})");
  ASSERT_TRUE(ids.ok());
  EXPECT_TRUE(ids->prompt_is_ids);
  EXPECT_EQ(ids->prompt_ids, (std::vector<int32_t>{1, 2, 3}));
  auto one = parse_completion_request(R"({"prompt": ["Once"], "stop": "x", "max_tokens": null})");
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->prompt, "Once");
  EXPECT_FALSE(one->fields.max_tokens.has_value());
  EXPECT_FALSE(one->fields.seed.has_value());
}

TEST(OpenAiProtocol, RefusesMalformedCompletionRequests) {
  const std::pair<const char*, const char*> cases[] = {
      {"{", "not valid JSON"},
      {"[1]", "not a JSON object"},
      {"{}", "'prompt' is required"},
      {R"({"prompt": 5})", "'prompt'"},
      {R"({"prompt": ["a", "b"]})", "more than one prompt"},
      {R"({"prompt": [1, -2]})", "'prompt'"},
      {R"({"prompt": "a", "max_tokens": -1})", "'max_tokens'"},
      {R"({"prompt": "a", "max_tokens": "5"})", "'max_tokens'"},
      {R"({"prompt": "a", "temperature": 3})", "'temperature'"},
      {R"({"prompt": "a", "top_p": 0})", "'top_p'"},
      {R"({"prompt": "a", "n": 2})", "'n'"},
      {R"({"prompt": "a", "stop": ["1", "2", "3", "4", "5"]})", "'stop'"},
      {R"({"prompt": "a", "stop": [1]})", "'stop'"},
      {R"({"prompt": "a", "stream": "yes"})", "'stream'"},
      {R"({"prompt": "a", "echo": true})", "'echo' is not supported"},
      {R"({"prompt": "a", "logprobs": 3})", "'logprobs' is not supported"},
      {R"({"prompt": "a", "model": 3})", "'model'"},
  };
  for (const auto& [body, want] : cases) {
    auto r = parse_completion_request(body);
    ASSERT_FALSE(r.ok()) << body;
    EXPECT_NE(error_of(r.status()).find(want), std::string::npos)
        << body << " -> " << r.status().message();
  }
  // Nesting is bounded before nlohmann's recursion sees it.
  const std::string deep = R"({"prompt": "a", "x": )" + std::string(100000, '[');
  EXPECT_FALSE(parse_completion_request(deep).ok());
}

TEST(OpenAiProtocol, ParsesChatMessages) {
  auto r = parse_chat_request(
      R"({"messages": [{"role": "developer", "content": "Be brief."},
                       {"role": "user", "content": [{"type": "text", "text": "Hi "},
                                                    {"type": "text", "text": "there"}]},
                       {"role": "assistant", "content": null}],
          "max_completion_tokens": 9})");
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->messages.size(), 3u);
  EXPECT_EQ(r->messages[0].role, "system");
  EXPECT_EQ(r->messages[1].content, "Hi there");
  EXPECT_EQ(r->messages[2].content, "");
  EXPECT_EQ(r->fields.max_tokens, 9);

  const std::pair<const char*, const char*> bad[] = {
      {R"({})", "'messages'"},
      {R"({"messages": []})", "'messages'"},
      {R"({"messages": [{"content": "x"}]})", "messages[0].role"},
      {R"({"messages": [{"role": "tool", "content": "x"}]})", "messages[0].role"},
      {R"({"messages": [{"role": "user", "content": 5}]})", "messages[0].content"},
      {R"({"messages": [{"role": "user", "content": [{"type": "image_url"}]}]})",
       "messages[0].content"},
      {R"({"messages": [{"role": "user", "content": "x"}], "tools": []})", "'tools'"},
  };
  for (const auto& [body, want] : bad) {
    auto c = parse_chat_request(body);
    ASSERT_FALSE(c.ok()) << body;
    EXPECT_NE(error_of(c.status()).find(want), std::string::npos)
        << body << " -> " << c.status().message();
  }
}

TEST(OpenAiProtocol, RepliesHaveOpenAisShape) {
  GenerationResult r;
  r.text = "Paris";
  r.prompt_tokens = 10;
  r.completion_tokens = 2;
  r.finish = FinishReason::kStop;
  const auto chat = chat_json("chatcmpl-1", 5, "m", r);
  EXPECT_EQ(chat["object"], "chat.completion");
  EXPECT_EQ(chat["choices"][0]["message"]["content"], "Paris");
  EXPECT_EQ(chat["choices"][0]["finish_reason"], "stop");
  EXPECT_EQ(chat["usage"]["total_tokens"], 12);
  const auto chunk = completion_chunk_json("cmpl-1", 5, "m", "x", std::nullopt);
  EXPECT_TRUE(chunk["choices"][0]["finish_reason"].is_null());
  const auto err = error_json("bad", "invalid_request_error", "model_not_found");
  EXPECT_EQ(err["error"]["code"], "model_not_found");
  EXPECT_TRUE(err["error"]["param"].is_null());
  // Invalid UTF-8 (a token cut inside a character) is replaced, not thrown on.
  EXPECT_EQ(sse_event({{"t", std::string("a\xE2")}}), "data: {\"t\":\"a\xEF\xBF\xBD\"}\n\n");
}

}  // namespace
}  // namespace dcllm
