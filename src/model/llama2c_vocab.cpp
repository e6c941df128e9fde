// Reader of llama2.c's tokenizer.bin (int32 max_token_length, then per token: float score,
// int32 length, bytes), validated against the file size before any byte is used.
#include <bit>
#include <cstring>

#include "core/mapped_file.h"
#include "model/tokenizer.h"

namespace dcllm {

static_assert(std::endian::native == std::endian::little, "tokenizer.bin is little-endian");

namespace {

template <typename T>
T read_at(std::span<const uint8_t> bytes, size_t offset) {
  T value;
  std::memcpy(&value, bytes.data() + offset, sizeof value);
  return value;
}

}  // namespace

Expected<Vocab> parse_llama2c_vocab(std::span<const uint8_t> bytes, const std::string& name,
                                    int32_t vocab_size) {
  const uint64_t size = bytes.size();
  const std::string file_size = " (file size " + std::to_string(size) + ")";
  if (vocab_size <= 0) {
    return InvalidArgument(name + ": vocab_size " + std::to_string(vocab_size) +
                           " must be positive");
  }
  if (size < 4) return Corrupt(name + ": too short for the max_token_length header" + file_size);
  const int32_t max_token_length = read_at<int32_t>(bytes, 0);
  if (max_token_length <= 0) {
    return Corrupt(name + ": max_token_length " + std::to_string(max_token_length) +
                   " is not positive");
  }
  // Every entry takes at least 8 bytes, so this bounds the allocation by the file size.
  const uint64_t min_size = 4 + 8 * static_cast<uint64_t>(vocab_size);
  if (min_size > size) {
    return Corrupt(name + ": " + std::to_string(vocab_size) + " tokens need at least " +
                   std::to_string(min_size) + " bytes" + file_size);
  }

  Vocab v;
  v.kind = VocabKind::kSentencePiece;
  v.llama2c_pieces = true;
  v.bos_id = 1;
  v.eos_id = 2;
  v.unk_id = 0;
  v.add_bos = true;
  v.add_space_prefix = true;
  v.tokens.reserve(vocab_size);
  v.scores.reserve(vocab_size);
  uint64_t offset = 4;
  for (int32_t i = 0; i < vocab_size; ++i) {
    if (offset + 8 > size) {
      return Corrupt(name + ": token " + std::to_string(i) + " header at offset " +
                     std::to_string(offset) + " past end of file" + file_size);
    }
    const float score = read_at<float>(bytes, offset);
    const int32_t len = read_at<int32_t>(bytes, offset + 4);
    offset += 8;
    if (len < 0 || len > max_token_length) {
      return Corrupt(name + ": token " + std::to_string(i) + " has length " + std::to_string(len) +
                     " outside [0, max_token_length " + std::to_string(max_token_length) + "]");
    }
    if (offset + static_cast<uint64_t>(len) > size) {
      return Corrupt(name + ": token " + std::to_string(i) + " bytes at offset " +
                     std::to_string(offset) + "+" + std::to_string(len) + " past end of file" +
                     file_size);
    }
    v.tokens.emplace_back(reinterpret_cast<const char*>(bytes.data() + offset), len);
    v.scores.push_back(score);
    offset += len;
  }
  return v;
}

Expected<Vocab> load_llama2c_vocab(const std::string& path, int32_t vocab_size) {
  DCLLM_ASSIGN_OR_RETURN(MappedFile file, MappedFile::open(path));
  return parse_llama2c_vocab(file.bytes(), path, vocab_size);
}

}  // namespace dcllm
