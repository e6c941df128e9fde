// Fuzzes the tokenizers: arbitrary bytes as a llama2.c tokenizer.bin, and as text for a
// SentencePiece and a byte-level vocab. Never crashes; decode(encode(text)) == text must hold.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

#include "model/tokenizer.h"
#include "model/tokenizer_tables.h"

namespace {

dcllm::Vocab sentencepiece_vocab(bool llama2c_pieces) {
  const std::string space = llama2c_pieces ? " " : "\xE2\x96\x81";
  dcllm::Vocab v;
  v.llama2c_pieces = llama2c_pieces;
  v.tokens = {"<unk>", llama2c_pieces ? "\n<s>\n" : "<s>", llama2c_pieces ? "\n</s>\n" : "</s>"};
  for (int b = 0; b < 256; ++b) {
    char hex[8];
    std::snprintf(hex, sizeof hex, "<0x%02X>", b);
    v.tokens.push_back(hex);
  }
  for (const char* p : {"_", "e", "t", "h", "a", "_t", "he", "_the", "in", "_a", "aa", "aaa",
                        "\xC3\xA9", "_\xC3\xA9", "\xE6\x97\xA5", "<|x|>"}) {
    std::string piece = p;
    for (size_t pos; (pos = piece.find('_')) != std::string::npos;) piece.replace(pos, 1, space);
    v.tokens.push_back(piece);
  }
  v.scores.assign(v.tokens.size(), 0.f);
  for (size_t i = 259; i < v.tokens.size(); ++i) v.scores[i] = -static_cast<float>(i % 7);
  if (!llama2c_pieces) {
    v.types.assign(v.tokens.size(), dcllm::TokenType::kNormal);
    v.types[0] = dcllm::TokenType::kUnknown;
    v.types[1] = v.types[2] = dcllm::TokenType::kControl;
    for (int b = 0; b < 256; ++b) v.types[3 + b] = dcllm::TokenType::kByte;
    v.types.back() = dcllm::TokenType::kUserDefined;
  }
  return v;
}

dcllm::Vocab byte_level_vocab() {
  dcllm::Vocab v;
  v.kind = dcllm::VocabKind::kByteLevelBpe;
  v.bos_id = v.eos_id = v.unk_id = -1;
  for (int b = 0; b < 256; ++b) v.tokens.push_back(dcllm::gpt2_byte_piece(static_cast<uint8_t>(b)));
  v.merges = {"\xC4\xA0 t", "h e", "\xC4\xA0t he", "a a", "aa a", "\xC3 \xA9"};
  for (const std::string& m : v.merges) {
    size_t sp = m.find(' ');
    v.tokens.push_back(m.substr(0, sp) + m.substr(sp + 1));
  }
  v.types.assign(v.tokens.size(), dcllm::TokenType::kNormal);
  v.tokens.push_back("<|endoftext|>");
  v.types.push_back(dcllm::TokenType::kControl);
  return v;
}

const dcllm::Tokenizer& make(dcllm::Vocab v) {
  auto t = dcllm::Tokenizer::create(std::move(v));
  if (!t.ok()) {
    std::fprintf(stderr, "tokenizer_fuzz: %s\n", t.status().message().c_str());
    __builtin_trap();
  }
  return *new dcllm::Tokenizer(std::move(t).value());
}

void check_round_trip(const dcllm::Tokenizer& t, std::string_view text) {
  auto ids = t.encode(text, true);
  for (int32_t id : ids) {
    if (id < 0 || static_cast<size_t>(id) >= t.size()) __builtin_trap();
  }
  if (t.decode(ids) != text) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const dcllm::Tokenizer& plain = make(sentencepiece_vocab(true));
  static const dcllm::Tokenizer& gguf = make(sentencepiece_vocab(false));
  static const dcllm::Tokenizer& bytes = make(byte_level_vocab());
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  check_round_trip(plain, text);
  // A control piece in the text is matched whole and decodes to "".
  if (text.find("<|endoftext|>") == std::string_view::npos) {
    check_round_trip(bytes, text);
  } else {
    (void)bytes.decode(bytes.encode(text, false));
  }
  // "▁" in the text decodes as a space, and a user-defined piece is matched whole.
  if (text.find("\xE2\x96\x81") == std::string_view::npos)
    check_round_trip(gguf, text);
  else
    (void)gguf.encode(text, true);

  // The same bytes as a tokenizer.bin; the first two bytes choose how many tokens to ask for.
  if (size >= 2) {
    int32_t vocab_size = (data[0] | (data[1] << 8)) % 1024;
    auto vocab = dcllm::parse_llama2c_vocab({data + 2, size - 2}, "fuzz.bin", vocab_size);
    if (vocab.ok()) {
      auto t = dcllm::Tokenizer::create(std::move(vocab).value());
      if (t.ok()) {
        auto ids = t->encode(text, true);
        (void)t->decode(ids);
      }
    }
  }
  return 0;
}
