// Tokenizer: checks a Vocab, builds the shared lookup tables, splits out special pieces and
// hands the text between them to the per-kind encoder; decoding is a table lookup.
#include "model/tokenizer.h"

#include <algorithm>
#include <limits>

#include "model/tokenizer_tables.h"
#include "model/unicode_nfc.h"

namespace dcllm {

namespace {

constexpr size_t kMaxStretch = size_t{1} << 29;

TokenType type_of(const Vocab& v, size_t id) {
  return v.types.empty() ? TokenType::kNormal : v.types[id];
}

Status check_id(const char* what, int32_t id, size_t n) {
  if (id < -1 || id >= static_cast<int64_t>(n)) {
    return InvalidArgument("tokenizer: " + std::string(what) + " id " + std::to_string(id) +
                           " out of range for a vocab of " + std::to_string(n) + " tokens");
  }
  return Status::Ok();
}

Status check_vocab_shape(const Vocab& v) {
  const size_t n = v.tokens.size();
  if (n == 0) return InvalidArgument("tokenizer: vocab has no tokens");
  if (n > static_cast<size_t>(std::numeric_limits<int32_t>::max())) {
    return InvalidArgument("tokenizer: vocab has " + std::to_string(n) + " tokens, too many");
  }
  if (!v.types.empty() && v.types.size() != n) {
    return InvalidArgument("tokenizer: vocab has " + std::to_string(n) + " tokens but " +
                           std::to_string(v.types.size()) + " token types");
  }
  if (!v.scores.empty() && v.scores.size() != n) {
    return InvalidArgument("tokenizer: vocab has " + std::to_string(n) + " tokens but " +
                           std::to_string(v.scores.size()) + " scores");
  }
  for (size_t i = 0; i < v.types.size(); ++i) {
    int32_t t = static_cast<int32_t>(v.types[i]);
    if (t < static_cast<int32_t>(TokenType::kNormal) ||
        t > static_cast<int32_t>(TokenType::kByte)) {
      return InvalidArgument("tokenizer: token " + std::to_string(i) + " has unknown type " +
                             std::to_string(t));
    }
  }
  for (size_t i = 0; i < n; ++i) {
    if (v.tokens[i].size() > std::numeric_limits<uint32_t>::max() / 2) {
      return InvalidArgument("tokenizer: token " + std::to_string(i) + " is too long");
    }
  }
  DCLLM_RETURN_IF_ERROR(check_id("BOS", v.bos_id, n));
  DCLLM_RETURN_IF_ERROR(check_id("EOS", v.eos_id, n));
  DCLLM_RETURN_IF_ERROR(check_id("UNK", v.unk_id, n));
  return Status::Ok();
}

// Pieces of these types are matched as whole strings in the input before encoding.
bool is_special(const Vocab& v, size_t id) {
  TokenType type = type_of(v, id);
  if (type == TokenType::kUserDefined) return true;
  return type == TokenType::kControl &&
         (v.kind == VocabKind::kByteLevelBpe || v.control_pieces_in_text);
}

void build_specials(Tokenizer::Tables& t) {
  const Vocab& v = t.vocab;
  for (size_t id = 0; id < v.tokens.size(); ++id) {
    if (v.tokens[id].empty() || !is_special(v, id)) continue;
    t.specials_by_first_byte[static_cast<uint8_t>(v.tokens[id][0])].push_back(
        static_cast<int32_t>(id));
    t.has_specials = true;
  }
  for (auto& bucket : t.specials_by_first_byte) {
    std::stable_sort(bucket.begin(), bucket.end(),
                     [&](int32_t a, int32_t b) { return v.tokens[a].size() > v.tokens[b].size(); });
  }
}

// The longest special piece that starts `text`, or -1.
int32_t match_special(const Tokenizer::Tables& t, std::string_view text) {
  for (int32_t id : t.specials_by_first_byte[static_cast<uint8_t>(text[0])]) {
    if (text.starts_with(t.vocab.tokens[id])) return id;
  }
  return -1;
}

}  // namespace

Status build_ranked_merges(Tokenizer::Tables& t,
                           const std::unordered_map<std::string_view, int32_t>& id_of) {
  const Vocab& v = t.vocab;
  if (v.merges.size() > static_cast<size_t>(std::numeric_limits<int32_t>::max())) {
    return InvalidArgument("tokenizer: too many merges (" + std::to_string(v.merges.size()) + ")");
  }
  t.merges.reserve(v.merges.size());
  for (size_t rank = 0; rank < v.merges.size(); ++rank) {
    // A merge naming pieces the vocab lacks can never apply; skipping it is what llama.cpp and
    // Hugging Face effectively do with such entries.
    const std::string& m = v.merges[rank];
    const size_t space = m.find(' ', 1);
    if (space == std::string::npos) continue;
    auto left = id_of.find(std::string_view(m).substr(0, space));
    auto right = id_of.find(std::string_view(m).substr(space + 1));
    if (left == id_of.end() || right == id_of.end()) continue;
    auto result = id_of.find(v.tokens[left->second] + v.tokens[right->second]);
    if (result == id_of.end()) continue;
    t.merges.emplace(merge_pair_key(left->second, right->second),
                     Tokenizer::Tables::Merge{static_cast<int32_t>(rank), result->second});
  }
  return Status::Ok();
}

int parse_byte_piece(std::string_view piece) {
  if (piece.size() != 6 || !piece.starts_with("<0x") || piece[5] != '>') return -1;
  int value = 0;
  for (char c : piece.substr(3, 2)) {
    int digit;
    if (c >= '0' && c <= '9') {
      digit = c - '0';
    } else if (c >= 'A' && c <= 'F') {
      digit = c - 'A' + 10;
    } else if (c >= 'a' && c <= 'f') {
      digit = c - 'a' + 10;
    } else {
      return -1;
    }
    value = value * 16 + digit;
  }
  return value;
}

void append_utf8(char32_t cp, std::string& out) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

Expected<Tokenizer> Tokenizer::create(Vocab vocab) {
  DCLLM_RETURN_IF_ERROR(check_vocab_shape(vocab));
  auto tables = std::make_shared<Tables>();
  tables->vocab = std::move(vocab);
  tables->byte_token.fill(-1);
  build_specials(*tables);
  if (tables->vocab.kind == VocabKind::kSentencePiece) {
    DCLLM_RETURN_IF_ERROR(build_sentencepiece_tables(*tables));
  } else {
    DCLLM_RETURN_IF_ERROR(build_byte_level_bpe_tables(*tables));
  }
  return Tokenizer(std::move(tables));
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_bos) const {
  const Tables& t = *tables_;
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 2);
  if (add_bos && t.vocab.bos_id >= 0) out.push_back(t.vocab.bos_id);
  auto encode_stretch = [&](size_t begin, size_t end) {
    // The SentencePiece dummy prefix goes before the text, or before every stretch between
    // special pieces (Hugging Face's Prepend normalizer runs on each such stretch).
    const bool prefixed = begin == 0 || t.vocab.space_prefix_every_segment;
    std::string_view stretch = text.substr(begin, end - begin);
    // HF normalizes only the text between the added tokens it matched in the raw text.
    std::string normalized;
    if (t.vocab.nfc && !passes_nfc_quick_check(stretch)) {
      normalized = nfc_normalize(stretch);
      stretch = normalized;
    }
    // Symbol positions are 32-bit; a stretch past kMaxStretch bytes is cut (at a character
    // boundary) and its parts encoded apart, which only changes merges across the cut.
    for (size_t pos = 0; pos < stretch.size();) {
      size_t cut = stretch.size();
      if (cut - pos > kMaxStretch) {
        cut = pos + kMaxStretch;
        while (cut > pos + 1 && (static_cast<uint8_t>(stretch[cut]) & 0xC0) == 0x80) --cut;
      }
      std::string_view part = stretch.substr(pos, cut - pos);
      if (t.vocab.kind == VocabKind::kSentencePiece) {
        encode_sentencepiece(t, part, prefixed && pos == 0, out);
      } else {
        encode_byte_level_bpe(t, part, out);
      }
      pos = cut;
    }
  };
  size_t stretch_begin = 0;
  if (t.has_specials) {
    for (size_t pos = 0; pos < text.size();) {
      int32_t id = match_special(t, text.substr(pos));
      if (id < 0) {
        ++pos;
        continue;
      }
      encode_stretch(stretch_begin, pos);
      out.push_back(id);
      pos += t.vocab.tokens[id].size();
      stretch_begin = pos;
    }
  }
  encode_stretch(stretch_begin, text.size());
  return out;
}

std::string Tokenizer::decode_token(int32_t prev, int32_t token) const {
  const Tables& t = *tables_;
  if (token < 0 || static_cast<size_t>(token) >= t.token_text.size()) return {};
  const std::string& text = t.token_text[token];
  if ((prev < 0 || prev == t.vocab.bos_id) && t.strips_space_after_bos[token]) {
    return text.substr(1);
  }
  return text;
}

std::string Tokenizer::decode(std::span<const int32_t> tokens) const {
  std::string out;
  int32_t prev = -1;
  for (int32_t token : tokens) {
    out += decode_token(prev, token);
    prev = token;
  }
  return out;
}

const Vocab& Tokenizer::vocab() const {
  return tables_->vocab;
}
int32_t Tokenizer::bos_id() const {
  return tables_->vocab.bos_id;
}
int32_t Tokenizer::eos_id() const {
  return tables_->vocab.eos_id;
}
size_t Tokenizer::size() const {
  return tables_->vocab.tokens.size();
}

}  // namespace dcllm
