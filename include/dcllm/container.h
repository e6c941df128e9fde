// The .dcllm container: one file holding a compressed model (metadata JSON, tensor index, and
// independently decodable, checksummed chunks). Byte layout: docs/format.md.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
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
inline constexpr uint32_t kContainerVersion = 1;
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

// One chunk: a contiguous byte range [raw_offset, raw_offset + raw_size) of the tensor's raw
// form, coded as one frame of `codec`, stored at file offset `offset`.
struct ChunkInfo {
  uint64_t offset = 0;
  uint64_t stored_size = 0;
  uint64_t raw_offset = 0;
  uint64_t raw_size = 0;
  uint64_t xxh3 = 0;  // XXH3_64bits of the stored bytes
  std::string codec;
};

struct TensorEntry {
  TensorSpec spec;
  uint64_t raw_bytes = 0;     // sum of chunk raw sizes (= tensor_raw_bytes(spec))
  uint64_t stored_bytes = 0;  // sum of chunk stored sizes
  std::vector<ChunkInfo> chunks;
};

// The number of chunks add_tensor makes of `raw_bytes` bytes at `chunk_bytes` per chunk
// (0 = one chunk; every chunk is capped at kMaxChunkRawBytes).
uint64_t container_chunk_count(uint64_t raw_bytes, uint64_t chunk_bytes);

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

  // Splits `raw` (exactly tensor_raw_bytes(spec) bytes) into chunks of `chunk_bytes`
  // (0 = whole tensor, capped at kMaxChunkRawBytes) and codes each with `codec`.
  Status add_tensor(const TensorSpec& spec, std::span<const uint8_t> raw, std::string_view codec,
                    uint64_t chunk_bytes = 0);
  // Same with a codec per chunk: chunk_codecs.size() == container_chunk_count(raw, chunk_bytes).
  Status add_tensor(const TensorSpec& spec, std::span<const uint8_t> raw,
                    std::span<const std::string> chunk_codecs, uint64_t chunk_bytes);

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
