// The .dcllm container: one file holding a compressed model (metadata JSON, tensor index, and
// independently decodable, checksummed chunks). Byte layout: docs/format.md.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dcllm/int8_matrix.h"
#include "dcllm/status.h"

namespace dcllm {

inline constexpr std::array<uint8_t, 8> kContainerMagic = {'D', 'C', 'L', 'L', 'M', 0, 0, 0};
// Version 2: every chunk covers whole rows (slices of the outermost dimension) and the index
// records each chunk's rows. Version-1 files are refused with a message naming both versions.
inline constexpr uint32_t kContainerVersion = 2;
// Every chunk starts at a file offset that is a multiple of this (SIMD loads, O_DIRECT-ish I/O).
inline constexpr uint64_t kContainerAlignment = 64;
// Caps that bound every allocation a reader makes from index fields.
inline constexpr uint64_t kMaxChunkRawBytes = uint64_t{1} << 30;
inline constexpr size_t kMaxTensorNameBytes = 4096;
inline constexpr size_t kMaxTensorDims = 8;

// True when `prefix` starts with kContainerMagic.
bool has_container_magic(std::span<const uint8_t> prefix);
// Reads the first bytes of `path`: true for a .dcllm container, false for anything else.
Expected<bool> is_container_file(const std::string& path);

enum class DType : uint8_t { kI8 = 1, kU8 = 2, kI16 = 3, kI32 = 4, kF16 = 5, kBF16 = 6, kF32 = 7 };
std::string_view dtype_name(DType dtype);  // "i8", "u8", "i16", "i32", "f16", "bf16", "f32"
size_t dtype_size(DType dtype);
Expected<DType> dtype_from_name(std::string_view name);

// A tensor's quantization as the container stores it: the scheme of its Int8Layout (rows = the
// product of every dimension but the last, cols = the last) and its scales.
struct QuantParams {
  QuantScheme scheme = QuantScheme::kNone;
  uint32_t group_size = 0;    // > 0 exactly when scheme == kGroup
  std::vector<float> scales;  // count fixed by scheme and shape (expected_scale_count)
};
// "none", "per-tensor", "per-channel" or "group:N".
std::string quant_scheme_name(const QuantParams& quant);
// The number of scales `quant` needs for a tensor of `shape`; kInvalidArgument when the scheme
// and group size do not fit together or the count overflows.
Expected<uint64_t> expected_scale_count(const QuantParams& quant, std::span<const uint64_t> shape);

struct TensorSpec {
  std::string name;
  std::vector<uint64_t> shape;  // outermost first; empty = scalar
  DType dtype = DType::kI8;
  QuantParams quant;
};
// Bytes of the tensor's raw (uncoded) form: product(shape) * dtype_size, or kInvalidArgument on
// overflow.
Expected<uint64_t> tensor_raw_bytes(const TensorSpec& spec);
// Checks name, rank, size and quantization parameters of a spec against the format's rules.
Status validate_tensor_spec(const TensorSpec& spec);

// A tensor's rows for chunking: slices of its outermost dimension (for a 2-D weight [out, in]
// the matrix rows, i.e. output channels; a scalar is one row of one element).
uint64_t tensor_row_count(const TensorSpec& spec);
// Bytes of one row: raw bytes / rows (0 for an empty tensor). Needs a valid spec.
uint64_t tensor_row_bytes(const TensorSpec& spec);

// One chunk: rows [first_row, first_row + row_count) of the tensor, i.e. the contiguous byte
// range [raw_offset, raw_offset + raw_size) of its raw form (raw_offset = first_row * row bytes,
// raw_size = row_count * row bytes), coded as one frame of `codec`, stored at file offset
// `offset`. The index stores the rows; the byte range is derived from them.
struct ChunkInfo {
  uint64_t offset = 0;
  uint64_t stored_size = 0;
  uint64_t raw_offset = 0;
  uint64_t raw_size = 0;
  uint64_t xxh3 = 0;  // XXH3_64bits of the stored bytes
  std::string codec;
  uint64_t first_row = 0;
  uint64_t row_count = 0;
};

struct TensorEntry {
  TensorSpec spec;
  uint64_t raw_bytes = 0;     // sum of chunk raw sizes (= tensor_raw_bytes(spec))
  uint64_t stored_bytes = 0;  // sum of chunk stored sizes
  std::vector<ChunkInfo> chunks;
};

// How the writer cuts a tensor into chunks of whole rows: at most `rows` rows per chunk or, when
// rows is 0, at most `bytes` raw bytes per chunk (but at least one row); both 0: as few chunks
// as kMaxChunkRawBytes allows. No chunk exceeds kMaxChunkRawBytes.
struct ChunkSplit {
  uint64_t rows = 0;
  uint64_t bytes = 0;
};
// The chunks a split makes of a tensor: the fewest that respect it, rows spread evenly (the
// first `rows % chunks` chunks have one row more than the others).
struct ChunkRowSplit {
  uint64_t rows = 0;    // the tensor's rows
  uint64_t chunks = 0;  // 0 exactly when the tensor has no bytes
  uint64_t first_row(uint64_t k) const { return k * base() + (k < extra() ? k : extra()); }
  uint64_t row_count(uint64_t k) const { return base() + (k < extra() ? 1 : 0); }

 private:
  uint64_t base() const { return chunks ? rows / chunks : 0; }
  uint64_t extra() const { return chunks ? rows % chunks : 0; }
};
// kInvalidArgument when the spec is invalid or one row is larger than kMaxChunkRawBytes.
Expected<ChunkRowSplit> split_tensor_rows(const TensorSpec& spec, ChunkSplit split);

// Builds a .dcllm file. Coded chunks are buffered in an unlinked temporary file beside the
// target until finish() (the index precedes the data); the file itself is written to a
// temporary name and renamed by finish(), so no failed or abandoned writer leaves a file at
// the target path. A failure while coding or writing poisons the writer: later calls return it.
class ContainerWriter {
 public:
  // `metadata` must be a JSON object (null counts as {}); it is stored as given.
  static Expected<ContainerWriter> create(
      const std::string& path, const nlohmann::json& metadata = nlohmann::json::object());

  ContainerWriter(ContainerWriter&&) noexcept;
  ContainerWriter& operator=(ContainerWriter&&) noexcept;
  ~ContainerWriter();

  // Threads used to code the chunks of one tensor (0 = all hardware threads; default).
  void set_threads(unsigned threads);

  // Splits `raw` (exactly tensor_raw_bytes(spec) bytes) into chunks of whole rows as `split`
  // says and codes each with `codec`.
  Status add_tensor(const TensorSpec& spec, std::span<const uint8_t> raw, std::string_view codec,
                    ChunkSplit split = {});
  // The same with at most `chunk_bytes` raw bytes per chunk (whole rows; 0 = as few as allowed).
  Status add_tensor(const TensorSpec& spec, std::span<const uint8_t> raw, std::string_view codec,
                    uint64_t chunk_bytes) {
    return add_tensor(spec, raw, codec, ChunkSplit{0, chunk_bytes});
  }
  // Same with a codec per chunk: chunk_codecs.size() == split_tensor_rows(spec, split)->chunks.
  Status add_tensor(const TensorSpec& spec, std::span<const uint8_t> raw,
                    std::span<const std::string> chunk_codecs, ChunkSplit split);
  Status add_tensor(const TensorSpec& spec, std::span<const uint8_t> raw,
                    std::span<const std::string> chunk_codecs, uint64_t chunk_bytes) {
    return add_tensor(spec, raw, chunk_codecs, ChunkSplit{0, chunk_bytes});
  }

  // One chunk handed to add_tensor_chunks: `row_count` rows, as raw bytes to code with `codec`
  // (stored = false; bytes.size() = row_count * row bytes), or as bytes already coded with
  // `codec` that are copied as they are (stored = true; XXH3(bytes) must equal `xxh3`, so a
  // chunk damaged between reading and writing is refused). What repack uses.
  struct ChunkInput {
    uint64_t row_count = 0;
    std::string codec;
    std::span<const uint8_t> bytes;
    bool stored = false;
    uint64_t xxh3 = 0;
  };
  // Adds a tensor from its chunks, in row order; their rows must add up to the tensor's.
  Status add_tensor_chunks(const TensorSpec& spec, std::span<const ChunkInput> chunks);

  // Replaces the metadata given to create() (a JSON object); allowed until finish(), so a
  // caller may store figures it knows only once every tensor is added.
  Status set_metadata(const nlohmann::json& metadata);

  // Writes header, metadata, index and data, then renames into place. Call once.
  Status finish();

  size_t tensor_count() const;
  uint64_t raw_bytes() const;     // sum of raw tensor bytes added so far
  uint64_t stored_bytes() const;  // sum of stored chunk bytes added so far
  uint64_t file_bytes() const;    // size of the finished file (0 before finish())

 private:
  struct State;
  explicit ContainerWriter(std::unique_ptr<State> state);
  std::unique_ptr<State> s_;
};

class Codec;
// Decodes one chunk from stored bytes the caller holds (a copy in RAM, or a fresh read from the
// file): compares XXH3(stored) with chunk.xxh3, then decodes with `codec` into `out` (exactly
// chunk.raw_size bytes). `what` names the chunk in errors ("m.dcllm: tensor 'x' chunk 3").
// ModelContainer::decode_chunk is this on the bytes of its mapping.
Status decode_stored_chunk(const ChunkInfo& chunk, const Codec& codec,
                           std::span<const uint8_t> stored, std::span<uint8_t> out,
                           std::string_view what);

// A validated, read-only view of a .dcllm file. open() checks the header, both checksums, every
// offset/size/count and that chunks lie inside the data region without overlapping; chunk bytes
// are checked (XXH3) when decoded. Decoding is safe from several threads at once.
class ModelContainer {
 public:
  static Expected<ModelContainer> open(const std::string& path);
  // Parses `bytes` in place; they must outlive the container. `name` prefixes error messages.
  static Expected<ModelContainer> open_from_memory(std::span<const uint8_t> bytes,
                                                   std::string name = "<memory>");

  ModelContainer(ModelContainer&&) noexcept;
  ModelContainer& operator=(ModelContainer&&) noexcept;
  ~ModelContainer();

  const std::string& path() const;
  uint32_t version() const;
  uint64_t file_bytes() const;
  uint64_t data_offset() const;  // start of the data region (it ends at the end of the file)
  std::span<const uint8_t> file() const;
  const nlohmann::json& metadata() const;
  const std::vector<TensorEntry>& tensors() const;
  // Index of the tensor called `name`, or -1.
  ptrdiff_t find(std::string_view name) const;
  size_t chunk_count() const;
  uint64_t raw_bytes() const;
  uint64_t stored_bytes() const;

  // The stored (coded) bytes of a chunk, in place in the file.
  std::span<const uint8_t> chunk_bytes(size_t tensor, size_t chunk) const;
  // Compares the chunk's stored bytes with its XXH3 (no decoding).
  Status check_chunk(size_t tensor, size_t chunk) const;
  // Checks the chunk's XXH3 and decodes it into `out` (exactly its raw size).
  Status decode_chunk(size_t tensor, size_t chunk, std::span<uint8_t> out) const;
  // Decodes a whole tensor into `out` (exactly its raw size), chunks spread over `threads`.
  Status read_tensor(std::string_view name, std::span<uint8_t> out, unsigned threads = 1) const;

 private:
  struct State;
  explicit ModelContainer(std::unique_ptr<State> state);
  static Expected<ModelContainer> build(std::unique_ptr<State> state);
  std::unique_ptr<State> s_;
};

struct VerifyOptions {
  unsigned threads = 0;  // 0 = all hardware threads
  // Called after each chunk is checked, with (chunks checked so far, chunks in the file); from
  // the decoding threads, one call at a time. (`= {}` keeps `{.threads = 1}` free of
  // -Wmissing-field-initializers.)
  std::function<void(int64_t done, int64_t total)> on_progress = {};
};

struct VerifyReport {
  size_t tensors = 0;
  size_t chunks = 0;
  uint64_t raw_bytes = 0;
  uint64_t stored_bytes = 0;
  uint64_t file_bytes = 0;
};

// Full check: everything open() checks, plus every chunk's checksum and decode, plus that every
// data-region byte outside the chunks is zero. The first fault (in index order; padding after
// all chunks) is named in the returned Status.
Status verify_container(const ModelContainer& container, const VerifyOptions& options = {},
                        VerifyReport* report = nullptr);
Status verify_container(const std::string& path, const VerifyOptions& options = {},
                        VerifyReport* report = nullptr);

}  // namespace dcllm
