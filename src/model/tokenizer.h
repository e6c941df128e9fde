// Tokenizer: text <-> token ids for the two vocab kinds a model file carries (SentencePiece-style
// BPE with byte fallback, GPT-2 byte-level BPE), plus the llama2.c tokenizer.bin reader.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dcllm/status.h"
#include "model/vocab.h"

namespace dcllm {

// Immutable after create(); copies share the lookup tables, so a Tokenizer is cheap to pass
// around and safe to use from several threads at once.
//
// SentencePiece (VocabKind::kSentencePiece) follows llama2.c's run.c: a dummy " " prefix when
// add_space_prefix and the text is non-empty, each UTF-8 character becomes its piece or, when
// absent, one <0xXX> byte token per byte, then the adjacent pair whose concatenation is a piece
// with the highest score merges first (leftmost on ties). Without llama2c_pieces, spaces are
// written "▁" before lookup (GGUF `llama`). Byte-fallback tokens never merge further, and
// control/unknown/byte pieces are never produced by merging (SentencePiece does the same).
// kUserDefined pieces are matched as whole strings before anything else.
// With Vocab::merges (a Hugging Face tokenizer.json), only the listed pairs merge, lowest rank
// first, and scores are not needed; control_pieces_in_text, space_prefix_every_segment,
// no_space_prefix_before_space and ignore_merges follow HF's added-token, Prepend-normalizer,
// Metaspace and ignore_merges rules.
//
// Byte-level BPE (VocabKind::kByteLevelBpe): kControl and kUserDefined pieces are matched as whole
// strings first (longest first); the rest is split by the GPT-2 pre-tokenizer regex, each piece's
// bytes are mapped through GPT-2's bytes_to_unicode table, and Vocab::merges apply by rank
// (with ignore_merges, a pre-token that is itself a piece is taken whole).
//
// bos_id/eos_id/unk_id may be -1 (the vocab has no such token); encode(text, true) then adds
// nothing for BOS.
class Tokenizer {
 public:
  // Fails (kInvalidArgument) on an empty vocab, ids out of range, scores/types whose length does
  // not match the token count, a SentencePiece vocab without byte tokens or an unknown token to
  // fall back on, or a byte-level vocab that lacks one of the 256 byte pieces.
  static Expected<Tokenizer> create(Vocab vocab);

  std::vector<int32_t> encode(std::string_view text, bool add_bos) const;

  // Text of `token` when it follows `prev`. SentencePiece drops the leading space of a piece that
  // follows BOS or starts the sequence (prev < 0) when add_space_prefix (undoing the dummy
  // prefix, as llama2.c does), maps <0xXX> to the raw byte and "▁" to " ". Byte-level BPE maps
  // the piece back through the GPT-2 byte table. BOS, EOS and control tokens decode to "";
  // ids out of range decode to "".
  std::string decode_token(int32_t prev, int32_t token) const;

  // Concatenation of decode_token over `tokens`, the first one decoded as if it followed BOS, so
  // that decode(encode(text, add_bos)) == text for either add_bos.
  std::string decode(std::span<const int32_t> tokens) const;

  const Vocab& vocab() const;
  int32_t bos_id() const;
  int32_t eos_id() const;
  size_t size() const;

  struct Tables;  // lookup tables derived from the vocab (tokenizer_tables.h)

 private:
  explicit Tokenizer(std::shared_ptr<const Tables> tables) : tables_(std::move(tables)) {}
  std::shared_ptr<const Tables> tables_;
};

// llama2.c tokenizer.bin: int32 max_token_length, then vocab_size entries of (float score,
// int32 len, len bytes). Every count and length is checked against the file size; errors name
// `path` and the fault. The result has llama2c_pieces set, BOS=1, EOS=2, UNK=0.
Expected<Vocab> load_llama2c_vocab(const std::string& path, int32_t vocab_size);

// The same parser over bytes already in memory; `name` stands for the file in error messages.
Expected<Vocab> parse_llama2c_vocab(std::span<const uint8_t> bytes, const std::string& name,
                                    int32_t vocab_size);

}  // namespace dcllm
