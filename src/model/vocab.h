// Vocab: the tokenizer description a model file carries (llama2.c tokenizer.bin, GGUF
// tokenizer.ggml.*, later tokenizer.json). Readers fill it; Tokenizer (tokenizer.h) uses it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace dcllm {

enum class VocabKind {
  kSentencePiece,  // score-driven BPE merges, "▁" for space, <0xXX> byte fallback (llama)
  kByteLevelBpe,   // GPT-2 byte-to-unicode mapping, ranked merges (gpt2, qwen2, smollm)
};

// GGUF token types (tokenizer.ggml.token_type); llama2.c files have none (all kNormal).
enum class TokenType : int32_t {
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,
  kUserDefined = 4,
  kUnused = 5,
  kByte = 6,
};

struct Vocab {
  VocabKind kind = VocabKind::kSentencePiece;
  std::vector<std::string> tokens;  // token id -> piece as stored (SentencePiece keeps "▁")
  std::vector<float> scores;     // SentencePiece merge priority (higher merges first); may be empty
  std::vector<TokenType> types;  // may be empty (then all kNormal)
  std::vector<std::string> merges;  // byte-level BPE: "a b" pairs, rank = index
  std::string pre_tokenizer;  // byte-level BPE split rule (GGUF tokenizer.ggml.pre); "" = gpt2
  int32_t bos_id = 1;
  int32_t eos_id = 2;
  int32_t unk_id = 0;
  bool add_bos = true;           // prepend BOS when encoding a prompt/text
  bool add_space_prefix = true;  // SentencePiece: prepend " " before encoding (llama2.c does)
  // llama2.c's tokenizer.bin: pieces are plain text (spaces, not "▁"), BOS/EOS written as
  // "\n<s>\n" and "\n</s>\n", bytes as "<0xXX>".
  bool llama2c_pieces = false;
};

}  // namespace dcllm
