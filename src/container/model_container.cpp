// ModelContainer: maps the file (or borrows caller bytes), validates header, checksums, metadata
// and index at open, and decodes chunks on demand after checking their XXH3.
#include <xxhash.h>

#include <optional>
#include <unordered_map>

#include "container/header_format.h"
#include "container/index_format.h"
#include "core/json_limits.h"
#include "core/mapped_file.h"
#include "core/parallel.h"
#include "dcllm/codec.h"
#include "dcllm/container.h"
#include "fmt/format.h"

namespace dcllm {

struct ModelContainer::State {
  MappedFile mapped;  // empty for open_from_memory
  std::span<const uint8_t> bytes;
  std::string name;
  ContainerHeader header;
  nlohmann::json metadata;
  std::vector<TensorEntry> tensors;
  std::unordered_map<std::string_view, size_t> by_name;  // views into tensors[i].spec.name
  // Codecs resolved once at open, so decoding from several threads needs no lock; an unknown
  // codec keeps open() working (inspect can still list the file) and fails at decode.
  std::unordered_map<std::string, std::unique_ptr<Codec>> codecs;
  std::unordered_map<std::string, Status> codec_errors;
  size_t chunk_count = 0;
  uint64_t raw_bytes = 0, stored_bytes = 0;

  std::string chunk_name(size_t tensor, size_t chunk) const {
    return fmt::format("{}: tensor '{}' chunk {}", name, tensors[tensor].spec.name, chunk);
  }
};

ModelContainer::ModelContainer(std::unique_ptr<State> state) : s_(std::move(state)) {}
ModelContainer::ModelContainer(ModelContainer&&) noexcept = default;
ModelContainer& ModelContainer::operator=(ModelContainer&&) noexcept = default;
ModelContainer::~ModelContainer() = default;

Expected<ModelContainer> ModelContainer::open(const std::string& path) {
  auto mapped = MappedFile::open(path);
  if (!mapped) return mapped.status();
  auto s = std::make_unique<State>();
  s->mapped = std::move(*mapped);
  s->bytes = s->mapped.bytes();
  s->name = path;
  DCLLM_ASSIGN_OR_RETURN(s->header, decode_container_header(s->bytes, s->name));
  return build(std::move(s));
}

Expected<ModelContainer> ModelContainer::open_from_memory(std::span<const uint8_t> bytes,
                                                          std::string name) {
  auto s = std::make_unique<State>();
  s->bytes = bytes;
  s->name = std::move(name);
  DCLLM_ASSIGN_OR_RETURN(s->header, decode_container_header(s->bytes, s->name));
  return build(std::move(s));
}

Expected<ModelContainer> ModelContainer::build(std::unique_ptr<State> s) {
  const ContainerHeader& h = s->header;
  auto meta_bytes = s->bytes.subspan(h.metadata_offset, h.metadata_size);
  // Depth-checked first: copying, comparing or printing a deeply nested value would recurse.
  DCLLM_ASSIGN_OR_RETURN(
      s->metadata,
      parse_untrusted_json(
          std::string_view(reinterpret_cast<const char*>(meta_bytes.data()), meta_bytes.size()),
          s->name + ": metadata", "not valid JSON"));
  if (!s->metadata.is_object()) return Corrupt(s->name + ": metadata is not a JSON object");

  DCLLM_ASSIGN_OR_RETURN(s->tensors, parse_index(s->bytes.subspan(h.index_offset, h.index_size),
                                                 h.data_offset, h.file_size, s->name));
  for (size_t i = 0; i < s->tensors.size(); ++i) {
    const TensorEntry& t = s->tensors[i];
    s->by_name.emplace(t.spec.name, i);
    s->chunk_count += t.chunks.size();
    s->raw_bytes += t.raw_bytes;
    s->stored_bytes += t.stored_bytes;
    for (const ChunkInfo& c : t.chunks) {
      if (s->codecs.count(c.codec) || s->codec_errors.count(c.codec)) continue;
      auto codec = make_codec(c.codec);
      if (codec)
        s->codecs.emplace(c.codec, std::move(*codec));
      else
        s->codec_errors.emplace(c.codec, codec.status());
    }
  }
  return ModelContainer(std::move(s));
}

const std::string& ModelContainer::path() const {
  return s_->name;
}
uint32_t ModelContainer::version() const {
  return s_->header.version;
}
uint64_t ModelContainer::file_bytes() const {
  return s_->bytes.size();
}
uint64_t ModelContainer::data_offset() const {
  return s_->header.data_offset;
}
std::span<const uint8_t> ModelContainer::file() const {
  return s_->bytes;
}
const nlohmann::json& ModelContainer::metadata() const {
  return s_->metadata;
}
const std::vector<TensorEntry>& ModelContainer::tensors() const {
  return s_->tensors;
}
size_t ModelContainer::chunk_count() const {
  return s_->chunk_count;
}
uint64_t ModelContainer::raw_bytes() const {
  return s_->raw_bytes;
}
uint64_t ModelContainer::stored_bytes() const {
  return s_->stored_bytes;
}

ptrdiff_t ModelContainer::find(std::string_view name) const {
  auto it = s_->by_name.find(name);
  return it == s_->by_name.end() ? -1 : static_cast<ptrdiff_t>(it->second);
}

std::span<const uint8_t> ModelContainer::chunk_bytes(size_t tensor, size_t chunk) const {
  if (tensor >= s_->tensors.size() || chunk >= s_->tensors[tensor].chunks.size()) return {};
  const ChunkInfo& c = s_->tensors[tensor].chunks[chunk];
  return s_->bytes.subspan(c.offset, c.stored_size);  // validated at open
}

Status ModelContainer::check_chunk(size_t tensor, size_t chunk) const {
  if (tensor >= s_->tensors.size() || chunk >= s_->tensors[tensor].chunks.size())
    return InvalidArgument(fmt::format("{}: no chunk {} in tensor #{}", s_->name, chunk, tensor));
  const ChunkInfo& c = s_->tensors[tensor].chunks[chunk];
  auto stored = chunk_bytes(tensor, chunk);
  uint64_t hash = XXH3_64bits(stored.data(), stored.size());
  if (hash != c.xxh3)
    return Corrupt(fmt::format("{}: checksum mismatch (index {:#018x}, data {:#018x})",
                               s_->chunk_name(tensor, chunk), c.xxh3, hash));
  return Status::Ok();
}

Status decode_stored_chunk(const ChunkInfo& c, const Codec& codec, std::span<const uint8_t> stored,
                           std::span<uint8_t> out, std::string_view what) {
  const uint64_t hash = XXH3_64bits(stored.data(), stored.size());
  if (stored.size() != c.stored_size || hash != c.xxh3)
    return Corrupt(
        fmt::format("{}: checksum mismatch (index {:#018x}, data {:#018x})", what, c.xxh3, hash));
  if (out.size() != c.raw_size)
    return InvalidArgument(
        fmt::format("{}: output of {} bytes, chunk has {}", what, out.size(), c.raw_size));
  Status st = codec.decompress(stored, out);
  if (!st.ok())
    return Status(st.code(), fmt::format("{}: {} decode failed: {}", what, c.codec, st.message()));
  return Status::Ok();
}

Status ModelContainer::decode_chunk(size_t tensor, size_t chunk, std::span<uint8_t> out) const {
  if (tensor >= s_->tensors.size() || chunk >= s_->tensors[tensor].chunks.size())
    return InvalidArgument(fmt::format("{}: no chunk {} in tensor #{}", s_->name, chunk, tensor));
  const ChunkInfo& c = s_->tensors[tensor].chunks[chunk];
  auto codec = s_->codecs.find(c.codec);
  if (codec == s_->codecs.end()) {
    DCLLM_RETURN_IF_ERROR(check_chunk(tensor, chunk));  // a damaged chunk is named as such first
    auto err = s_->codec_errors.find(c.codec);
    return Unsupported(fmt::format("{}: codec '{}' unavailable: {}", s_->chunk_name(tensor, chunk),
                                   c.codec, err->second.message()));
  }
  return decode_stored_chunk(c, *codec->second, chunk_bytes(tensor, chunk), out,
                             s_->chunk_name(tensor, chunk));
}

Status ModelContainer::read_tensor(std::string_view name, std::span<uint8_t> out,
                                   unsigned threads) const {
  ptrdiff_t ti = find(name);
  if (ti < 0) return InvalidArgument(fmt::format("{}: no tensor '{}'", s_->name, name));
  const TensorEntry& t = s_->tensors[static_cast<size_t>(ti)];
  if (out.size() != t.raw_bytes)
    return InvalidArgument(fmt::format("{}: tensor '{}' has {} bytes, output has {}", s_->name,
                                       name, t.raw_bytes, out.size()));
  std::vector<Status> statuses(t.chunks.size());
  parallel_for(t.chunks.size(), threads, [&](size_t ci) {
    const ChunkInfo& c = t.chunks[ci];
    statuses[ci] = decode_chunk(static_cast<size_t>(ti), ci, out.subspan(c.raw_offset, c.raw_size));
  });
  for (auto& st : statuses)
    if (!st.ok()) return st;
  return Status::Ok();
}

}  // namespace dcllm
