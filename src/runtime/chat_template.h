// Chat templates: recognises a model's template family by its markers (an embedded table of the
// common formats, not a Jinja engine), renders {role, content} messages and names its stop tokens.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dcllm/status.h"
#include "model/tokenizer.h"
#include "model/vocab.h"

namespace dcllm {

// The families the table knows (docs/server.md lists each one's rendering).
enum class ChatFormat {
  kPlain,    // no template: the contents joined by blank lines, for base models
  kChatMl,   // <|im_start|>role\n...<|im_end|>\n (SmolLM2, Qwen2/2.5)
  kLlama3,   // <|start_header_id|>role<|end_header_id|>\n\n...<|eot_id|>
  kLlama2,   // [INST] <<SYS>>\n...\n<</SYS>>\n\n... [/INST] ... </s>
  kMistral,  // [INST] ... [/INST]...</s> (no <<SYS>> block)
  kZephyr,   // <|user|>\n...</s>\n<|assistant|>\n (Zephyr, TinyLlama-Chat)
  kPhi3,     // <|user|>\n...<|end|>\n<|assistant|>\n
  kGemma,    // <start_of_turn>user\n...<end_of_turn>\n<start_of_turn>model\n
};

std::string_view chat_format_name(ChatFormat f);  // "plain", "chatml", "llama3", ...
// For --chat-template: one of the names chat_format_name gives.
Expected<ChatFormat> parse_chat_format(std::string_view name);
// "plain, chatml, llama3, ..." for help texts and errors.
std::string chat_format_names();

struct ChatMessage {
  std::string role;  // "system", "user" or "assistant"
  std::string content;
};

struct ChatTemplate {
  ChatFormat format = ChatFormat::kPlain;
  // The system message the template puts first when the messages have none (SmolLM2's "You are
  // a helpful AI assistant named SmolLM, ...", Qwen's); "" = none.
  std::string default_system;
  // BOS / EOS pieces of the vocab, for the formats that write them between turns (Llama-2,
  // Mistral, Zephyr); the first BOS is the tokenizer's to add (encode_chat).
  std::string bos_piece = "<s>";
  std::string eos_piece = "</s>";
  // How it was chosen, for logs: "template" (its markers), "vocab" (no template or an
  // unrecognised one: the vocab's special tokens), "default" (neither) or "override".
  std::string source = "default";
  bool unrecognised = false;  // the model has a template the table does not know
};

// The family of `template_text` by its markers; an empty or unrecognised template falls back on
// the vocab's special tokens (<|im_start|>+<|im_end|> -> ChatML, <|start_header_id|>+<|eot_id|>
// -> Llama-3, <start_of_turn>+<end_of_turn> -> Gemma), else kPlain. `vocab` may be null.
ChatTemplate detect_chat_template(std::string_view template_text, const Vocab* vocab);

// The template of `vocab` (its chat_template), or `override_name`'s family when that is not "".
Expected<ChatTemplate> chat_template_for(const Vocab& vocab, std::string_view override_name);

// The prompt text for `messages`, ending with the assistant's turn opened when
// `add_generation_prompt`. Roles other than system/user/assistant, or a conversation with
// nothing but system messages, are kInvalidArgument.
Expected<std::string> render_chat(const ChatTemplate& t, std::span<const ChatMessage> messages,
                                  bool add_generation_prompt = true);

// Token ids of the rendered prompt: BOS when the vocab adds one, then the text with the
// vocab's control pieces (<|im_start|>, </s>, ...) as single tokens, as llama.cpp parses
// special tokens in a chat prompt.
std::vector<int32_t> encode_chat(const Tokenizer& tokenizer, std::string_view rendered);

// Tokens that end the assistant's turn: the format's end-of-turn piece (<|im_end|>, <|eot_id|>,
// <|end|>, <end_of_turn>) when the vocab has it, and the vocab's EOS.
std::vector<int32_t> chat_stop_tokens(const ChatTemplate& t, const Vocab& vocab);

// Id of the token whose piece is exactly `piece`, or -1.
int32_t find_piece(const Vocab& vocab, std::string_view piece);

}  // namespace dcllm
