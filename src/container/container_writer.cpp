// ContainerWriter: codes chunks (in parallel batches) into a spill file, then writes header,
// metadata, index and the spilled data through an AtomicFileWriter and moves it into place.
#include <xxhash.h>

#include <algorithm>
#include <limits>
#include <map>
#include <optional>
#include <unordered_set>

#include "container/byte_io.h"
#include "container/checked_math.h"
#include "container/header_format.h"
#include "container/index_format.h"
#include "container/spill_file.h"
#include "core/atomic_file.h"
#include "core/parallel.h"
#include "dcllm/codec.h"
#include "dcllm/container.h"
#include "fmt/format.h"

namespace dcllm {

struct ContainerWriter::State {
  State(std::string p, std::string meta, AtomicFileWriter f, SpillFile s)
      : path(std::move(p)), metadata(std::move(meta)), file(std::move(f)), spill(std::move(s)) {}

  std::string path;
  std::string metadata;  // serialised JSON
  AtomicFileWriter file;
  SpillFile spill;
  std::vector<TensorEntry> tensors;  // chunk offsets relative to the start of the data region
  std::unordered_set<std::string> names;
  std::map<std::string, std::unique_ptr<Codec>, std::less<>> codecs;
  unsigned threads = 0;
  uint64_t raw_bytes = 0, stored_bytes = 0, file_bytes = 0;
  Status failure;  // set once coding or writing failed; every later call returns it
  bool finished = false;

  Status fail(Status s) {
    failure = s;
    return s;
  }
  Expected<const Codec*> codec(std::string_view name) {
    auto it = codecs.find(name);
    if (it != codecs.end()) return it->second.get();
    auto made = make_codec(name);
    if (!made) return InvalidArgument(fmt::format("{}: {}", path, made.status().message()));
    if (!is_valid_codec_name((*made)->name()))
      return InvalidArgument(
          fmt::format("{}: codec name '{}' cannot be stored", path, (*made)->name()));
    const Codec* c = made->get();
    codecs.emplace(std::string(name), std::move(*made));
    return c;
  }
};

ContainerWriter::ContainerWriter(std::unique_ptr<State> state) : s_(std::move(state)) {}
ContainerWriter::ContainerWriter(ContainerWriter&&) noexcept = default;
ContainerWriter& ContainerWriter::operator=(ContainerWriter&&) noexcept = default;
ContainerWriter::~ContainerWriter() = default;

namespace {

Expected<std::string> metadata_text(const std::string& path, const nlohmann::json& metadata) {
  if (!metadata.is_null() && !metadata.is_object())
    return InvalidArgument(path + ": container metadata must be a JSON object");
  try {
    return metadata.is_null() ? std::string("{}") : metadata.dump();
  } catch (const nlohmann::json::exception& e) {
    return InvalidArgument(path + ": metadata cannot be serialised: " + e.what());
  }
}

}  // namespace

Expected<ContainerWriter> ContainerWriter::create(const std::string& path,
                                                  const nlohmann::json& metadata) {
  DCLLM_ASSIGN_OR_RETURN(std::string text, metadata_text(path, metadata));
  auto file = AtomicFileWriter::create(path);
  if (!file) return file.status();
  auto spill = SpillFile::create(path);
  if (!spill) return spill.status();
  return ContainerWriter(
      std::make_unique<State>(path, std::move(text), std::move(*file), std::move(*spill)));
}

Status ContainerWriter::set_metadata(const nlohmann::json& metadata) {
  State& s = *s_;
  if (!s.failure.ok()) return s.failure;
  if (s.finished) return InvalidArgument(s.path + ": set_metadata after finish");
  DCLLM_ASSIGN_OR_RETURN(s.metadata, metadata_text(s.path, metadata));
  return Status::Ok();
}

void ContainerWriter::set_threads(unsigned threads) {
  s_->threads = threads;
}
size_t ContainerWriter::tensor_count() const {
  return s_->tensors.size();
}
uint64_t ContainerWriter::raw_bytes() const {
  return s_->raw_bytes;
}
uint64_t ContainerWriter::stored_bytes() const {
  return s_->stored_bytes;
}
uint64_t ContainerWriter::file_bytes() const {
  return s_->file_bytes;
}

Status ContainerWriter::add_tensor(const TensorSpec& spec, std::span<const uint8_t> raw,
                                   std::string_view codec, ChunkSplit split) {
  auto rows = split_tensor_rows(spec, split);
  uint64_t n = rows.ok() ? rows->chunks : 0;
  // Past the chunk-count limit the other overload reports the error; don't allocate for it.
  if (n > std::numeric_limits<uint32_t>::max()) n = 0;
  std::vector<std::string> codecs(static_cast<size_t>(n), std::string(codec));
  // An empty tensor has no chunks, but a bad codec name is still the caller's mistake.
  if (codecs.empty()) {
    auto c = s_->codec(codec);
    if (!c) return c.status();
  }
  return add_tensor(spec, raw, codecs, split);
}

Status ContainerWriter::add_tensor(const TensorSpec& spec, std::span<const uint8_t> raw,
                                   std::span<const std::string> chunk_codecs, ChunkSplit split) {
  State& s = *s_;
  if (!s.failure.ok()) return s.failure;
  Status valid = validate_tensor_spec(spec);
  if (!valid.ok()) return InvalidArgument(fmt::format("{}: {}", s.path, valid.message()));
  const uint64_t raw_bytes = *tensor_raw_bytes(spec);
  if (raw.size() != raw_bytes)
    return InvalidArgument(fmt::format("{}: tensor '{}' needs {} bytes, got {}", s.path, spec.name,
                                       raw_bytes, raw.size()));
  auto rows = split_tensor_rows(spec, split);
  if (!rows) return InvalidArgument(fmt::format("{}: {}", s.path, rows.status().message()));
  if (rows->chunks > std::numeric_limits<uint32_t>::max())
    return InvalidArgument(fmt::format("{}: tensor '{}' would have {} chunks (at most 2^32-1)",
                                       s.path, spec.name, rows->chunks));
  if (chunk_codecs.size() != rows->chunks)
    return InvalidArgument(fmt::format("{}: tensor '{}' has {} chunks but {} codecs were given",
                                       s.path, spec.name, rows->chunks, chunk_codecs.size()));
  const uint64_t row_bytes = tensor_row_bytes(spec);
  std::vector<ChunkInput> inputs(chunk_codecs.size());
  for (size_t k = 0; k < inputs.size(); ++k) {
    ChunkInput& in = inputs[k];
    in.row_count = rows->row_count(k);
    in.codec = chunk_codecs[k];
    in.bytes = raw.subspan(static_cast<size_t>(rows->first_row(k) * row_bytes),
                           static_cast<size_t>(in.row_count * row_bytes));
  }
  return add_tensor_chunks(spec, inputs);
}

Status ContainerWriter::add_tensor_chunks(const TensorSpec& spec,
                                          std::span<const ChunkInput> inputs) {
  State& s = *s_;
  if (!s.failure.ok()) return s.failure;
  if (s.finished) return InvalidArgument(s.path + ": add_tensor after finish");
  Status valid = validate_tensor_spec(spec);
  if (!valid.ok()) return InvalidArgument(fmt::format("{}: {}", s.path, valid.message()));
  const uint64_t raw_bytes = *tensor_raw_bytes(spec);
  if (s.names.count(spec.name))
    return InvalidArgument(fmt::format("{}: tensor '{}' added twice", s.path, spec.name));
  if (s.tensors.size() >= std::numeric_limits<uint32_t>::max())
    return InvalidArgument(s.path + ": too many tensors");
  if (inputs.size() > std::numeric_limits<uint32_t>::max())
    return InvalidArgument(fmt::format("{}: tensor '{}' would have {} chunks (at most 2^32-1)",
                                       s.path, spec.name, inputs.size()));
  const uint64_t row_bytes = tensor_row_bytes(spec);
  const uint64_t rows = tensor_row_count(spec);

  TensorEntry entry;
  entry.spec = spec;
  entry.raw_bytes = raw_bytes;
  entry.chunks.resize(inputs.size());
  std::vector<const Codec*> codecs(inputs.size());
  uint64_t next_row = 0;
  for (size_t k = 0; k < inputs.size(); ++k) {
    const ChunkInput& in = inputs[k];
    auto where = [&] { return fmt::format("{}: tensor '{}' chunk {}", s.path, spec.name, k); };
    if (raw_bytes == 0)
      return InvalidArgument(
          fmt::format("{}: tensor '{}' has no bytes, so no chunks", s.path, spec.name));
    if (in.row_count == 0 || in.row_count > rows - next_row)
      return InvalidArgument(fmt::format("{}: {} rows starting at row {} (the tensor has {})",
                                         where(), in.row_count, next_row, rows));
    const uint64_t size = in.row_count * row_bytes;  // <= raw_bytes: cannot overflow
    if (size > kMaxChunkRawBytes)
      return InvalidArgument(fmt::format("{}: {} raw bytes, more than a chunk may hold ({})",
                                         where(), size, kMaxChunkRawBytes));
    if (!in.stored && in.bytes.size() != size)
      return InvalidArgument(fmt::format("{}: {} raw bytes given for {} rows of {} bytes", where(),
                                         in.bytes.size(), in.row_count, row_bytes));
    if (in.stored && (in.bytes.empty() || XXH3_64bits(in.bytes.data(), in.bytes.size()) != in.xxh3))
      return InvalidArgument(where() + ": stored bytes do not match their checksum");
    auto c = s.codec(in.codec);
    if (!c) return c.status();
    codecs[k] = *c;
    ChunkInfo& ci = entry.chunks[k];
    ci.first_row = next_row;
    ci.row_count = in.row_count;
    ci.raw_offset = next_row * row_bytes;
    ci.raw_size = size;
    ci.codec = std::string((*c)->name());
    next_row += in.row_count;
  }
  if (raw_bytes > 0 && next_row != rows)
    return InvalidArgument(fmt::format("{}: tensor '{}': chunks cover {} of its {} rows", s.path,
                                       spec.name, next_row, rows));

  // Batches bound the memory held by coded chunks to a few per thread.
  unsigned threads = s.threads == 0 ? default_thread_count() : s.threads;
  size_t batch = std::max<size_t>(1, size_t{threads} * 2);
  std::vector<std::vector<uint8_t>> coded(batch);
  std::vector<Status> statuses(batch);
  for (size_t first = 0; first < entry.chunks.size(); first += batch) {
    size_t count = std::min(batch, entry.chunks.size() - first);
    parallel_for(count, threads, [&](size_t k) {
      const size_t ci = first + k;
      coded[k].clear();
      statuses[k] = Status::Ok();
      if (!inputs[ci].stored) statuses[k] = codecs[ci]->compress(inputs[ci].bytes, coded[k]);
    });
    for (size_t k = 0; k < count; ++k) {
      ChunkInfo& c = entry.chunks[first + k];
      const ChunkInput& in = inputs[first + k];
      auto where = [&] {
        return fmt::format("{}: tensor '{}' chunk {} ({})", s.path, spec.name, first + k, c.codec);
      };
      if (!statuses[k].ok())
        return s.fail(Status(statuses[k].code(), where() + ": " + statuses[k].message()));
      std::span<const uint8_t> bytes = in.stored ? in.bytes : std::span<const uint8_t>(coded[k]);
      if (bytes.empty()) return s.fail(Internal(where() + ": codec produced no bytes"));
      c.stored_size = bytes.size();
      c.xxh3 = in.stored ? in.xxh3 : XXH3_64bits(bytes.data(), bytes.size());
      uint64_t aligned = *checked_align_up(s.spill.size(), kContainerAlignment);
      Status st = s.spill.append_zeros(aligned - s.spill.size());
      if (st.ok()) st = s.spill.append(bytes);
      if (!st.ok()) return s.fail(st);
      c.offset = aligned;
      entry.stored_bytes += c.stored_size;
    }
  }
  s.raw_bytes += entry.raw_bytes;
  s.stored_bytes += entry.stored_bytes;
  s.names.insert(spec.name);
  s.tensors.push_back(std::move(entry));
  return Status::Ok();
}

Status ContainerWriter::finish() {
  State& s = *s_;
  if (!s.failure.ok()) return s.failure;
  if (s.finished) return InvalidArgument(s.path + ": finish called twice");
  s.finished = true;

  ContainerHeader h;
  h.version = kContainerVersion;
  h.metadata_offset = kContainerHeaderSize;
  h.metadata_size = s.metadata.size();
  h.index_offset = h.metadata_offset + h.metadata_size;
  // Offsets are fixed-width, so the index has the same size whatever base it is written with.
  h.index_size = serialize_index(s.tensors, 0).size();
  h.data_offset = *checked_align_up(h.index_offset + h.index_size, kContainerAlignment);
  std::vector<uint8_t> index = serialize_index(s.tensors, h.data_offset);
  h.file_size = h.data_offset + s.spill.size();

  XXH3_state_t* hash = XXH3_createState();
  if (!hash) return s.fail(Internal(s.path + ": cannot allocate hash state"));
  XXH3_64bits_reset(hash);
  XXH3_64bits_update(hash, s.metadata.data(), s.metadata.size());
  XXH3_64bits_update(hash, index.data(), index.size());
  h.body_xxh3 = XXH3_64bits_digest(hash);
  XXH3_freeState(hash);

  auto header = encode_container_header(h);
  Status st = s.file.write(header);
  if (st.ok())
    st = s.file.write({reinterpret_cast<const uint8_t*>(s.metadata.data()), s.metadata.size()});
  if (st.ok()) st = s.file.write(index);
  if (st.ok()) st = s.file.write_zeros(h.data_offset - (h.index_offset + h.index_size));
  if (st.ok()) st = s.spill.copy_to(s.file);
  if (st.ok() && s.file.offset() != h.file_size)
    st = Internal(
        fmt::format("{}: wrote {} bytes, expected {}", s.path, s.file.offset(), h.file_size));
  if (st.ok()) st = s.file.commit();
  if (!st.ok()) return s.fail(st);
  s.file_bytes = h.file_size;
  return Status::Ok();
}

}  // namespace dcllm
