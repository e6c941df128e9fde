// EmbeddingTable: a lookup finds the row's chunk by its first row and takes the row from the
// chunk's home; coded and streamed chunks are decoded whole (a chunk is the unit the container
// checksums and codes) and the last one is kept, since neighbouring lookups often share it.
#include "runtime/embedding_table.h"

#include <xxhash.h>

#include <algorithm>

#include "fmt/format.h"
#include "runtime/weight_source.h"

namespace dcllm {

Expected<std::unique_ptr<EmbeddingTable>> EmbeddingTable::create(const Int8Tensor& table) {
  std::unique_ptr<EmbeddingTable> e(new EmbeddingTable(table));
  if (!table.stored) {
    if (table.values.size() != static_cast<size_t>(table.rows * table.cols))
      return InvalidArgument("token embedding: an INT8 table was loaded without data");
    return e;
  }
  DCLLM_RETURN_IF_ERROR(check_stored_chunks(table));
  if (table.stored->count(ChunkHome::kStreamed) > 0) {
    DCLLM_ASSIGN_OR_RETURN(ChunkFile f, ChunkFile::open(table.stored->file, /*bypass_cache=*/true));
    e->file_ = std::make_unique<ChunkFile>(std::move(f));
  }
  return e;
}

Status EmbeddingTable::load_chunk(size_t k) {
  const Int8StoredChunks& s = *t_.stored;
  const ChunkInfo& c = s.chunks[k];
  const std::string what = fmt::format("{}: tensor '{}' chunk {}", s.file, s.tensor, k);
  std::span<const uint8_t> stored = s.held(k);  // held: checked when it was read at load
  if (s.homes[k] == ChunkHome::kStreamed) {
    DCLLM_ASSIGN_OR_RETURN(stored, file_->read(c, read_, what));
    const uint64_t hash = XXH3_64bits(stored.data(), stored.size());
    if (hash != c.xxh3)
      return Corrupt(
          fmt::format("{}: checksum mismatch (index {:#018x}, data {:#018x}): the file "
                      "changed while streaming",
                      what, c.xxh3, hash));
  }
  decoded_chunk_ = SIZE_MAX;
  decoded_.resize(static_cast<size_t>(c.raw_size));
  auto out = std::span(reinterpret_cast<uint8_t*>(decoded_.data()), decoded_.size());
  if (c.codec == "raw") {
    std::copy(stored.begin(), stored.end(), out.begin());  // sizes checked by check_stored_chunks
  } else {
    auto it = codecs_.find(c.codec);
    if (it == codecs_.end()) {
      auto made = make_codec(c.codec);
      if (!made)
        return Unsupported(
            fmt::format("{}: codec '{}' unavailable: {}", what, c.codec, made.status().message()));
      it = codecs_.emplace(c.codec, std::move(*made)).first;
    }
    Status st = it->second->decompress(stored, out);
    if (!st.ok())
      return Status(st.code(),
                    fmt::format("{}: {} decode failed: {}", what, c.codec, st.message()));
  }
  decoded_chunk_ = k;
  return Status::Ok();
}

Status EmbeddingTable::row(int64_t row, float* out) {
  const Int8MatrixView v = t_.view();
  if (row < 0 || row >= t_.rows)
    return InvalidArgument(fmt::format("token embedding: row {} outside [0, {})", row, t_.rows));
  if (!t_.stored) {
    v.dequantize_row(row, out);
    return Status::Ok();
  }
  const Int8StoredChunks& s = *t_.stored;
  // The last chunk starting at or before `row` (chunk 0 starts at row 0).
  auto it = std::upper_bound(s.chunks.begin(), s.chunks.end(), static_cast<uint64_t>(row),
                             [](uint64_t r, const ChunkInfo& c) { return r < c.first_row; });
  const auto k = static_cast<size_t>(it - s.chunks.begin()) - 1;
  const auto local = static_cast<int64_t>(static_cast<uint64_t>(row) - s.chunks[k].first_row);
  const int8_t* rows = nullptr;
  if (s.homes[k] == ChunkHome::kDecoded) {
    rows = reinterpret_cast<const int8_t*>(s.held(k).data());
  } else {
    if (decoded_chunk_ != k) DCLLM_RETURN_IF_ERROR(load_chunk(k));
    rows = decoded_.data();
  }
  v.dequantize_row(row, rows + local * t_.cols, out);
  return Status::Ok();
}

}  // namespace dcllm
