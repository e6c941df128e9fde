// Vocab: the tokenizer description a model file carries (llama2.c tokenizer.bin, GGUF
// tokenizer.ggml.*, Hugging Face tokenizer.json). Readers fill it; Tokenizer (tokenizer.h) uses it.
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
  // "a b" pairs, rank = index. Byte-level BPE always merges by these; SentencePiece merges by
  // them instead of scores when there are any (Hugging Face BPE), and then needs no scores.
  std::vector<std::string> merges;
  // Byte-level BPE split rule, by llama.cpp's tokenizer.ggml.pre names: "" = gpt2, "smollm"
  // (digits apart), "llama-bpe" (Llama-3), "qwen2" (see tokenizer_pretokenize.h).
  std::string pre_tokenizer;
  int32_t bos_id = 1;
  int32_t eos_id = 2;
  int32_t unk_id = 0;
  bool add_bos = true;           // prepend BOS when encoding a prompt/text
  bool add_space_prefix = true;  // SentencePiece: prepend " " before encoding (llama2.c does)
  // llama2.c's tokenizer.bin: pieces are plain text (spaces, not "▁"), BOS/EOS written as
  // "\n<s>\n" and "\n</s>\n", bytes as "<0xXX>".
  bool llama2c_pieces = false;

  // Hugging Face tokenizer.json rules (hf_tokenizer_json.cpp sets them; other readers keep these
  // defaults, which are llama.cpp's and llama2.c's behaviour).
  bool ignore_merges = false;  // a pre-token that is itself a piece is taken whole (Llama-3)
  // SentencePiece: control pieces in the text match whole, as HF matches every added token
  // (byte-level BPE always does this).
  bool control_pieces_in_text = false;
  // SentencePiece: the dummy prefix starts every stretch of text between special pieces (HF's
  // Prepend normalizer), not only the text itself.
  bool space_prefix_every_segment = false;
  // SentencePiece: no dummy prefix for a stretch that already starts with a space (HF Metaspace).
  bool no_space_prefix_before_space = false;
  // Both kinds: each stretch of text between special pieces is put in Unicode NFC before it is
  // encoded (HF's NFC normalizer, e.g. Qwen2); the special pieces are matched in the raw text.
  bool nfc = false;
  // The model's chat template as its file states it (GGUF tokenizer.chat_template, HF
  // tokenizer_config.json chat_template); "" = none. runtime/chat_template.h reads it.
  std::string chat_template;
};

}  // namespace dcllm
