// The chat-template table: each family's rendering written out as the Hugging Face templates
// produce it (trim_blocks, lstrip_blocks), so no Jinja runs on a model file's text.
#include "runtime/chat_template.h"

#include <algorithm>
#include <array>
#include <utility>

namespace dcllm {
namespace {

constexpr std::array<std::pair<ChatFormat, std::string_view>, 8> kNames = {{
    {ChatFormat::kPlain, "plain"},
    {ChatFormat::kChatMl, "chatml"},
    {ChatFormat::kLlama3, "llama3"},
    {ChatFormat::kLlama2, "llama2"},
    {ChatFormat::kMistral, "mistral"},
    {ChatFormat::kZephyr, "zephyr"},
    {ChatFormat::kPhi3, "phi3"},
    {ChatFormat::kGemma, "gemma"},
}};

// A default system message longer than this is not a greeting but a misparse.
constexpr size_t kMaxDefaultSystem = 4096;

bool contains(std::string_view s, std::string_view part) {
  return s.find(part) != std::string_view::npos;
}

// Python's str.strip() (Jinja's `trim` filter) over ASCII whitespace.
std::string_view trim(std::string_view s) {
  const std::string_view ws = " \t\n\r\f\v";
  const size_t first = s.find_first_not_of(ws);
  if (first == std::string_view::npos) return {};
  return s.substr(first, s.find_last_not_of(ws) - first + 1);
}

// Undoes the escapes of a Jinja string literal (\n, \t, \\, \', \"); others are kept as written.
std::string jinja_unescape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\' || i + 1 == s.size()) {
      out += s[i];
      continue;
    }
    const char c = s[++i];
    switch (c) {
      case 'n':
        out += '\n';
        break;
      case 't':
        out += '\t';
        break;
      case 'r':
        out += '\r';
        break;
      case '\\':
      case '\'':
      case '"':
        out += c;
        break;
      default:
        out += '\\';
        out += c;
    }
  }
  return out;
}

// The literal system message of a ChatML template's "no system message given" branch: a string
// literal '<|im_start|>system\n TEXT <|im_end|>...' (SmolLM2, Qwen2, Qwen2.5). A literal that
// closes before <|im_end|> (Qwen's tool branch, which appends the content) is skipped.
std::string chatml_default_system(std::string_view tmpl) {
  constexpr std::string_view kOpen = "<|im_start|>system";
  constexpr std::string_view kClose = "<|im_end|>";
  for (size_t at = tmpl.find(kOpen); at != std::string_view::npos; at = tmpl.find(kOpen, at + 1)) {
    if (at == 0) continue;
    const char quote = tmpl[at - 1];
    if (quote != '\'' && quote != '"') continue;
    size_t p = at + kOpen.size();
    if (tmpl.substr(p, 1) == "\n") {
      p += 1;
    } else if (tmpl.substr(p, 2) == "\\n") {
      p += 2;
    } else {
      continue;
    }
    // The literal runs to the first unescaped closing quote.
    size_t end = p;
    while (end < tmpl.size() && tmpl[end] != quote) end += tmpl[end] == '\\' ? 2 : 1;
    if (end >= tmpl.size()) continue;
    const std::string_view literal = tmpl.substr(p, end - p);
    const size_t close = literal.find(kClose);
    if (close == std::string_view::npos || close == 0 || close > kMaxDefaultSystem) continue;
    return jinja_unescape(literal.substr(0, close));
  }
  return "";
}

bool has_piece(const Vocab* v, std::string_view piece) {
  return v && find_piece(*v, piece) >= 0;
}

std::string_view end_of_turn_piece(ChatFormat f) {
  switch (f) {
    case ChatFormat::kChatMl:
      return "<|im_end|>";
    case ChatFormat::kLlama3:
      return "<|eot_id|>";
    case ChatFormat::kPhi3:
      return "<|end|>";
    case ChatFormat::kGemma:
      return "<end_of_turn>";
    default:
      return "";
  }
}

// The system messages folded into one (formats without a system turn prepend it to the first
// user message); `rest` gets the other messages in order.
std::string split_system(std::span<const ChatMessage> messages, std::vector<ChatMessage>* rest) {
  std::string system;
  for (const ChatMessage& m : messages) {
    if (m.role == "system") {
      if (!system.empty()) system += "\n\n";
      system += m.content;
    } else {
      rest->push_back(m);
    }
  }
  return system;
}

std::string render_llama2(const ChatTemplate& t, std::span<const ChatMessage> messages,
                          bool mistral) {
  std::vector<ChatMessage> turns;
  const std::string system = split_system(messages, &turns);
  std::string out;
  bool first_user = true;
  for (const ChatMessage& m : turns) {
    if (m.role == "user") {
      std::string content = m.content;
      if (first_user && !system.empty()) {
        content =
            mistral ? system + "\n\n" + content : "<<SYS>>\n" + system + "\n<</SYS>>\n\n" + content;
      }
      // The first BOS is the tokenizer's; later turns open with the piece itself.
      if (!out.empty()) out += t.bos_piece;
      out += "[INST] ";
      out += mistral ? std::string_view(content) : trim(content);
      out += " [/INST]";
      first_user = false;
    } else if (mistral) {
      out += m.content + t.eos_piece;
    } else {
      out += " ";
      out += trim(m.content);
      out += " " + t.eos_piece;
    }
  }
  return out;
}

}  // namespace

std::string_view chat_format_name(ChatFormat f) {
  for (const auto& [format, name] : kNames) {
    if (format == f) return name;
  }
  return "plain";
}

Expected<ChatFormat> parse_chat_format(std::string_view name) {
  for (const auto& [format, n] : kNames) {
    if (n == name) return format;
  }
  return InvalidArgument("unknown chat template '" + std::string(name) +
                         "' (known: " + chat_format_names() + ")");
}

std::string chat_format_names() {
  std::string out;
  for (const auto& [format, name] : kNames) {
    if (!out.empty()) out += ", ";
    out += name;
  }
  return out;
}

int32_t find_piece(const Vocab& vocab, std::string_view piece) {
  for (size_t i = 0; i < vocab.tokens.size(); ++i) {
    if (vocab.tokens[i] == piece) return static_cast<int32_t>(i);
  }
  return -1;
}

ChatTemplate detect_chat_template(std::string_view tmpl, const Vocab* vocab) {
  ChatTemplate t;
  if (vocab) {
    const auto piece = [&](int32_t id, const char* fallback) {
      return id >= 0 && static_cast<size_t>(id) < vocab->tokens.size() ? vocab->tokens[id]
                                                                       : std::string(fallback);
    };
    t.bos_piece = piece(vocab->bos_id, "<s>");
    t.eos_piece = piece(vocab->eos_id, "</s>");
  }
  // Most specific markers first: Phi-3 and Zephyr share <|user|>, Llama-2 and Mistral [INST].
  if (!tmpl.empty()) {
    t.source = "template";
    if (contains(tmpl, "<|im_start|>")) {
      t.format = ChatFormat::kChatMl;
      t.default_system = chatml_default_system(tmpl);
    } else if (contains(tmpl, "<|start_header_id|>")) {
      t.format = ChatFormat::kLlama3;
    } else if (contains(tmpl, "<start_of_turn>")) {
      t.format = ChatFormat::kGemma;
    } else if (contains(tmpl, "<|user|>") && contains(tmpl, "<|end|>")) {
      t.format = ChatFormat::kPhi3;
    } else if (contains(tmpl, "<|user|>")) {
      t.format = ChatFormat::kZephyr;
    } else if (contains(tmpl, "[INST]") && contains(tmpl, "<<SYS>>")) {
      t.format = ChatFormat::kLlama2;
    } else if (contains(tmpl, "[INST]")) {
      t.format = ChatFormat::kMistral;
    } else {
      t.unrecognised = true;
    }
    if (!t.unrecognised) return t;
  }
  // No template (a .dcllm from before templates were kept, a base model) or one the table does
  // not know: the vocab's special tokens say which format the model was trained on, if any.
  t.source = "vocab";
  if (has_piece(vocab, "<|im_start|>") && has_piece(vocab, "<|im_end|>")) {
    t.format = ChatFormat::kChatMl;
  } else if (has_piece(vocab, "<|start_header_id|>") && has_piece(vocab, "<|eot_id|>")) {
    t.format = ChatFormat::kLlama3;
  } else if (has_piece(vocab, "<start_of_turn>") && has_piece(vocab, "<end_of_turn>")) {
    t.format = ChatFormat::kGemma;
  } else {
    t.format = ChatFormat::kPlain;
    t.source = "default";
  }
  return t;
}

Expected<ChatTemplate> chat_template_for(const Vocab& vocab, std::string_view override_name) {
  ChatTemplate t = detect_chat_template(vocab.chat_template, &vocab);
  if (override_name.empty()) return t;
  DCLLM_ASSIGN_OR_RETURN(ChatFormat f, parse_chat_format(override_name));
  if (f != t.format) t.default_system.clear();
  t.format = f;
  t.source = "override";
  return t;
}

Expected<std::string> render_chat(const ChatTemplate& t, std::span<const ChatMessage> messages,
                                  bool add_generation_prompt) {
  bool any_turn = false;
  for (const ChatMessage& m : messages) {
    if (m.role != "system" && m.role != "user" && m.role != "assistant") {
      return InvalidArgument("chat: unknown role '" + m.role.substr(0, 64) +
                             "' (system, user or assistant)");
    }
    any_turn = any_turn || m.role != "system";
  }
  if (!any_turn) return InvalidArgument("chat: no user or assistant message");

  std::string out;
  switch (t.format) {
    case ChatFormat::kPlain:
      for (const ChatMessage& m : messages) {
        if (!out.empty()) out += "\n\n";
        out += m.content;
      }
      return out;
    case ChatFormat::kChatMl:
      if (!t.default_system.empty() && messages.front().role != "system") {
        out += "<|im_start|>system\n" + t.default_system + "<|im_end|>\n";
      }
      for (const ChatMessage& m : messages) {
        out += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
      }
      if (add_generation_prompt) out += "<|im_start|>assistant\n";
      return out;
    case ChatFormat::kLlama3:
      for (const ChatMessage& m : messages) {
        out += "<|start_header_id|>" + m.role + "<|end_header_id|>\n\n";
        out += trim(m.content);
        out += "<|eot_id|>";
      }
      if (add_generation_prompt) out += "<|start_header_id|>assistant<|end_header_id|>\n\n";
      return out;
    case ChatFormat::kLlama2:
      return render_llama2(t, messages, false);
    case ChatFormat::kMistral:
      return render_llama2(t, messages, true);
    case ChatFormat::kZephyr:
      for (const ChatMessage& m : messages) {
        out += "<|" + m.role + "|>\n" + m.content + t.eos_piece + "\n";
      }
      if (add_generation_prompt) out += "<|assistant|>\n";
      return out;
    case ChatFormat::kPhi3:
      for (const ChatMessage& m : messages) {
        out += "<|" + m.role + "|>\n" + m.content + "<|end|>\n";
      }
      if (add_generation_prompt) out += "<|assistant|>\n";
      return out;
    case ChatFormat::kGemma: {
      // No system turn: Gemma 3's template prepends it to the first user message.
      std::vector<ChatMessage> turns;
      std::string system = split_system(messages, &turns);
      for (const ChatMessage& m : turns) {
        std::string content = m.content;
        if (m.role == "user" && !system.empty()) {
          content = system + "\n\n" + content;
          system.clear();
        }
        out += "<start_of_turn>";
        out += m.role == "assistant" ? "model" : "user";
        out += "\n";
        out += trim(content);
        out += "<end_of_turn>\n";
      }
      if (add_generation_prompt) out += "<start_of_turn>model\n";
      return out;
    }
  }
  return out;
}

std::vector<int32_t> encode_chat(const Tokenizer& tokenizer, std::string_view rendered) {
  const Vocab& v = tokenizer.vocab();
  // These tokenizers match control pieces in the text themselves.
  if (v.kind == VocabKind::kByteLevelBpe || v.control_pieces_in_text) {
    return tokenizer.encode(rendered, v.add_bos);
  }
  // SentencePiece from GGUF or llama2.c: split at the control pieces (longest first) and encode
  // the text between them on its own, each stretch with its dummy prefix as llama.cpp does.
  std::array<std::vector<int32_t>, 256> specials;  // by first byte, longest first
  for (size_t i = 0; i < v.types.size(); ++i) {
    if (v.types[i] == TokenType::kControl && v.tokens[i].size() >= 2) {
      specials[static_cast<uint8_t>(v.tokens[i][0])].push_back(static_cast<int32_t>(i));
    }
  }
  for (auto& bucket : specials) {
    std::stable_sort(bucket.begin(), bucket.end(),
                     [&](int32_t a, int32_t b) { return v.tokens[a].size() > v.tokens[b].size(); });
  }
  std::vector<int32_t> out;
  if (v.add_bos && tokenizer.bos_id() >= 0) out.push_back(tokenizer.bos_id());
  size_t start = 0, pos = 0;
  auto flush = [&](size_t end) {
    if (end > start) {
      const auto part = tokenizer.encode(rendered.substr(start, end - start), false);
      out.insert(out.end(), part.begin(), part.end());
    }
  };
  while (pos < rendered.size()) {
    int32_t match = -1;
    for (int32_t id : specials[static_cast<uint8_t>(rendered[pos])]) {
      if (rendered.compare(pos, v.tokens[id].size(), v.tokens[id]) == 0) {
        match = id;
        break;
      }
    }
    if (match < 0) {
      ++pos;
      continue;
    }
    flush(pos);
    out.push_back(match);
    pos += v.tokens[match].size();
    start = pos;
  }
  flush(rendered.size());
  return out;
}

std::vector<int32_t> chat_stop_tokens(const ChatTemplate& t, const Vocab& vocab) {
  std::vector<int32_t> stops;
  if (const std::string_view eot = end_of_turn_piece(t.format); !eot.empty()) {
    if (int32_t id = find_piece(vocab, eot); id >= 0) stops.push_back(id);
  }
  for (int32_t id : {vocab.eos_id, vocab.bos_id}) {
    if (id >= 0 && std::find(stops.begin(), stops.end(), id) == stops.end()) stops.push_back(id);
  }
  return stops;
}

}  // namespace dcllm
