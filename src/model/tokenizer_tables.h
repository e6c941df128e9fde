// Lookup tables a Tokenizer derives from its Vocab once, and the per-kind encoders that use them
// (tokenizer_sentencepiece.cpp, tokenizer_byte_bpe.cpp).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "model/tokenizer.h"
#include "model/tokenizer_pretokenize.h"

namespace dcllm {

struct TransparentStringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

struct Tokenizer::Tables {
  Vocab vocab;

  // Pieces that text can become, keyed as stored. SentencePiece: looked up per character and
  // per merge; control, unknown and byte pieces are left out. Byte-level BPE: every piece, for
  // Vocab::ignore_merges only.
  std::unordered_map<std::string, int32_t, TransparentStringHash, std::equal_to<>> piece_to_id;
  size_t max_piece_bytes = 0;
  // SentencePiece: 1 where a piece is neither prefix nor suffix of a longer piece, so a symbol
  // holding it never merges with a neighbour.
  std::vector<uint8_t> never_merges;

  // SentencePiece: id of <0xXX> per byte. Byte-level BPE: id of the GPT-2 character of the byte.
  // -1 where the vocab has none.
  std::array<int32_t, 256> byte_token;

  // Byte-level BPE: the GPT-2 character of each byte, as UTF-8.
  std::array<std::string, 256> byte_piece;

  // Ranked merges (byte-level BPE, and SentencePiece when Vocab::merges is not empty), keyed by
  // merge_pair_key(left id, right id).
  struct Merge {
    int32_t rank;
    int32_t result;
  };
  std::unordered_map<uint64_t, Merge> merges;
  PreTokenizer pre_tokenizer = PreTokenizer::kGpt2;

  // Pieces matched as whole strings before anything else, longest first, by their first byte.
  std::array<std::vector<int32_t>, 256> specials_by_first_byte;
  bool has_specials = false;

  // What each token decodes to, and whether it is a text piece whose leading space is the dummy
  // prefix when it follows BOS (never a byte token, as in llama2.c).
  std::vector<std::string> token_text;
  std::vector<uint8_t> strips_space_after_bos;
};

inline uint64_t merge_pair_key(int32_t left, int32_t right) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
}

// Fills t.merges from t.vocab.merges, pieces looked up in `id_of`. Entries that name pieces the
// vocab lacks, or whose concatenation is not a piece, can never apply and are skipped.
Status build_ranked_merges(Tokenizer::Tables& t,
                           const std::unordered_map<std::string_view, int32_t>& id_of);

// The byte value of a "<0xXX>" piece, or -1.
int parse_byte_piece(std::string_view piece);

// GPT-2's bytes_to_unicode: printable Latin-1 bytes stand for themselves, the other 68 bytes map
// to U+0100.. in byte order. Returns the code point, and its UTF-8 text.
char32_t gpt2_byte_to_codepoint(uint8_t byte);
std::string gpt2_byte_piece(uint8_t byte);

// Appends UTF-8 of `cp` to `out`.
void append_utf8(char32_t cp, std::string& out);

// Encoders for one stretch of text that contains no special pieces. `space_prefix`: the stretch
// is one SentencePiece puts its dummy prefix before (when the vocab has add_space_prefix).
void encode_sentencepiece(const Tokenizer::Tables& t, std::string_view text, bool space_prefix,
                          std::vector<int32_t>& out);
void encode_byte_level_bpe(const Tokenizer::Tables& t, std::string_view text,
                           std::vector<int32_t>& out);

// Per-kind table construction (called by Tokenizer::create after the common checks).
Status build_sentencepiece_tables(Tokenizer::Tables& t);
Status build_byte_level_bpe_tables(Tokenizer::Tables& t);

}  // namespace dcllm
