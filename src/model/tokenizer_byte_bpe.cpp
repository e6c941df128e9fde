// Byte-level BPE (GPT-2 and its descendants): pre-tokenize, map each byte to its GPT-2 character,
// then apply the ranked merges inside each piece.
#include <cstdio>
#include <limits>
#include <optional>

#include "model/tokenizer_merge_queue.h"
#include "model/tokenizer_tables.h"

namespace dcllm {

namespace {

bool is_printable_latin1(uint8_t b) {
  return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
}

// Decoded bytes of a byte-level piece; characters outside the GPT-2 table pass through as UTF-8.
std::string decode_byte_level_piece(std::string_view piece,
                                    const std::unordered_map<char32_t, uint8_t>& to_byte) {
  std::string out;
  for (size_t pos = 0; pos < piece.size();) {
    Utf8Char c = decode_utf8_char(piece.substr(pos));
    auto it = c.valid ? to_byte.find(c.cp) : to_byte.end();
    if (it != to_byte.end()) {
      out += static_cast<char>(it->second);
    } else {
      out.append(piece.substr(pos, c.len));
    }
    pos += c.len;
  }
  return out;
}

}  // namespace

char32_t gpt2_byte_to_codepoint(uint8_t byte) {
  if (is_printable_latin1(byte)) return byte;
  char32_t next = 0x100;
  for (int b = 0; b < byte; ++b) {
    if (!is_printable_latin1(static_cast<uint8_t>(b))) ++next;
  }
  return next;
}

std::string gpt2_byte_piece(uint8_t byte) {
  std::string out;
  append_utf8(gpt2_byte_to_codepoint(byte), out);
  return out;
}

Status build_byte_level_bpe_tables(Tokenizer::Tables& t) {
  t.pre_tokenizer = pre_tokenizer_from_name(t.vocab.pre_tokenizer);
  const Vocab& v = t.vocab;
  const size_t n = v.tokens.size();
  std::unordered_map<std::string_view, int32_t> id_of;
  id_of.reserve(n);
  for (size_t id = 0; id < n; ++id) id_of.emplace(v.tokens[id], static_cast<int32_t>(id));

  std::unordered_map<char32_t, uint8_t> to_byte;
  for (int b = 0; b < 256; ++b) {
    const uint8_t byte = static_cast<uint8_t>(b);
    to_byte.emplace(gpt2_byte_to_codepoint(byte), byte);
    t.byte_piece[b] = gpt2_byte_piece(byte);
    // Real vocabs (SmolLM2's) lack a few control bytes that never occurred in training; text
    // holding such a byte encodes it as the unknown token, or drops it when there is none.
    auto it = id_of.find(gpt2_byte_piece(byte));
    t.byte_token[b] = it != id_of.end() ? it->second : -1;
  }

  DCLLM_RETURN_IF_ERROR(build_ranked_merges(t, id_of));
  if (v.ignore_merges) {
    for (const auto& [piece, id] : id_of) t.piece_to_id.emplace(piece, id);
  }

  t.token_text.resize(n);
  t.strips_space_after_bos.assign(n, 0);
  for (size_t id = 0; id < n; ++id) {
    const int32_t id32 = static_cast<int32_t>(id);
    const TokenType type = v.types.empty() ? TokenType::kNormal : v.types[id];
    if (id32 == v.bos_id || id32 == v.eos_id || type == TokenType::kControl) continue;
    t.token_text[id] = type == TokenType::kUserDefined
                           ? v.tokens[id]
                           : decode_byte_level_piece(v.tokens[id], to_byte);
  }
  return Status::Ok();
}

void encode_byte_level_bpe(const Tokenizer::Tables& t, std::string_view text,
                           std::vector<int32_t>& out) {
  std::vector<std::string_view> words;
  pretokenize(t.pre_tokenizer, text, words);
  std::vector<MergeSymbol> symbols;
  std::vector<PendingMerge> heap;
  auto find_merge = [&](const MergeSymbol& l,
                        const MergeSymbol& r) -> std::optional<MergeCandidate> {
    auto it = t.merges.find(merge_pair_key(l.id, r.id));
    if (it == t.merges.end()) return std::nullopt;
    return MergeCandidate{static_cast<double>(it->second.rank), it->second.result};
  };
  std::string mapped;
  for (std::string_view word : words) {
    if (t.vocab.ignore_merges) {
      mapped.clear();
      for (char c : word) mapped += t.byte_piece[static_cast<uint8_t>(c)];
      if (auto it = t.piece_to_id.find(mapped); it != t.piece_to_id.end()) {
        out.push_back(it->second);
        continue;
      }
    }
    symbols.clear();
    for (size_t i = 0; i < word.size(); ++i) {
      int32_t id = t.byte_token[static_cast<uint8_t>(word[i])];
      if (id < 0) id = t.vocab.unk_id;
      if (id >= 0) symbols.push_back({static_cast<uint32_t>(i), 1, id});
    }
    apply_merges(symbols, find_merge, heap);
    append_merged_ids(symbols, out);
  }
}

}  // namespace dcllm
