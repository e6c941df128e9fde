// Pre-tokenization for byte-level BPE: the GPT-2 (and Llama-3/Qwen2) split regexes written out
// by hand, over UTF-8 with a Unicode letter/number/whitespace classification (no regex library).
#pragma once

// How close this is to the regex: \p{L} and \p{N} are exact for Unicode 14.0 (a table generated
// from Python's unicodedata by scripts/gen_tokenizer_unicode_classes.py), so they differ from a
// newer regex engine only on characters assigned after 14.0; \s is the White_Space property.
// Combining marks (\p{M}) are "other", as in the regex, so "é" written e + U+0301 splits after
// the "e". Malformed UTF-8 bytes count as "other" characters (regex engines reject such input).
// Checked against the `regex` module on recorded texts (tests/data/gpt2_pretokenize_splits.jsonl).

#include <cstdint>
#include <string_view>
#include <vector>

namespace dcllm {

enum class CodepointClass : uint8_t { kOther, kLetter, kNumber, kWhitespace };

// \p{L} / \p{N} from the generated table (tokenizer_unicode_classes.cpp); everything else kOther.
CodepointClass classify_codepoint_table(char32_t cp);

// The class the GPT-2 regex sees: \s is Unicode White_Space, then \p{L}, \p{N}, else other.
CodepointClass classify_codepoint(char32_t cp);

// One UTF-8 character at the front of `s` (non-empty). Malformed, overlong, surrogate or
// out-of-range sequences come back as a single byte with valid == false.
struct Utf8Char {
  char32_t cp;
  uint32_t len;
  bool valid;
};
Utf8Char decode_utf8_char(std::string_view s);

enum class PreTokenizer {
  // 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
  kGpt2,
  // llama.cpp's "smollm" (also starcoder, refact, command-r): every \p{N} on its own first, then
  // the GPT-2 regex on the text between.
  kDigitsSplit,
  // Llama-3 (llama.cpp's "llama-bpe"):
  // (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|
  // \s*[\r\n]+|\s+(?!\S)|\s+
  kLlama3,
  // Qwen2: the Llama-3 regex with \p{N} (one number character) for \p{N}{1,3}.
  kQwen2,
};

// The PreTokenizer a Vocab::pre_tokenizer name (llama.cpp's tokenizer.ggml.pre) stands for;
// names it does not know get kGpt2.
PreTokenizer pre_tokenizer_from_name(std::string_view name);

// Appends the pieces of `text` to `out`, in order; they cover `text` exactly. Malformed UTF-8
// bytes count as "other" characters, so arbitrary bytes split without loss.
void pretokenize(PreTokenizer kind, std::string_view text, std::vector<std::string_view>& out);

}  // namespace dcllm
