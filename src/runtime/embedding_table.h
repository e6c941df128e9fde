// EmbeddingTable: the token embedding's rows for the forward pass, from wherever the tier or plan
// keeps token_embd: its decoded values, or its row chunks held decoded, held coded or streamed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "dcllm/codec.h"
#include "dcllm/status.h"
#include "model/chunk_file.h"
#include "model/int8_tensor.h"

namespace dcllm {

class EmbeddingTable {
 public:
  // `table` must outlive the result. Opens its file (bypassing the page cache, as the stream
  // tier reads) when a chunk is streamed; chunks must tile the rows (check_stored_chunks).
  static Expected<std::unique_ptr<EmbeddingTable>> create(const Int8Tensor& table);

  // Row `row` (0 <= row < rows) dequantized into out[cols]. A row of a coded or streamed chunk
  // decodes that chunk (a streamed one is read and checked against its XXH3 first) into a
  // buffer kept for the next lookup, so a token costs one chunk decode at most. Errors name the
  // file, tensor and chunk.
  Status row(int64_t row, float* out);

 private:
  explicit EmbeddingTable(const Int8Tensor& t) : t_(t) {}
  Status load_chunk(size_t k);

  const Int8Tensor& t_;
  std::unique_ptr<ChunkFile> file_;                       // streamed chunks only
  std::map<std::string, std::unique_ptr<Codec>> codecs_;  // by name, made on first use
  ChunkScratch read_;                                     // a streamed chunk's stored bytes
  std::vector<int8_t> decoded_;                           // the chunk `decoded_chunk_`
  size_t decoded_chunk_ = SIZE_MAX;
};

}  // namespace dcllm
