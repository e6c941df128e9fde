// The .dcllm model reader. f32 tensors become owned floats; i8 tensors owned Int8Tensors with
// their scales, decoded at load (resident tier) or kept as their chunks (compressed: stored
// bytes copied into RAM; stream: only the index) for the runtime to decode before each use.
// Chunk bytes are read with pread rather than through the mapping, so the file's pages do not
// count in the process's RSS on top of what the tier keeps.
#include "model/dcllm_model_reader.h"

#include <unistd.h>
#include <xxhash.h>

#include <cstring>
#include <limits>
#include <map>
#include <memory>

#include "core/mapped_file.h"
#include "core/parallel.h"
#include "dcllm/codec.h"
#include "dcllm/container.h"
#include "fmt/format.h"
#include "model/chunk_file.h"
#include "model/dcllm_model_metadata.h"
#include "model/int8_tensor.h"
#include "model/model_loader.h"
#include "model/tokenizer.h"

namespace dcllm {
namespace {

std::string upper_dtype(DType d) {
  std::string s(dtype_name(d));
  for (char& ch : s) ch = static_cast<char>(ch >= 'a' && ch <= 'z' ? ch - 32 : ch);
  return s;
}

// How the runtime quantizes activations, from metadata compression.aquant (absent: per token,
// as files from before the key was written).
Expected<ActivationQuant> activation_quant(const nlohmann::json& meta, const std::string& path) {
  auto comp = meta.find("compression");
  if (comp == meta.end() || !comp->is_object()) return ActivationQuant{};
  auto aq = comp->find("aquant");
  if (aq == comp->end()) return ActivationQuant{};
  if (!aq->is_string()) return Corrupt(path + ": metadata compression.aquant is not a string");
  auto parsed = parse_activation_quant(aq->get<std::string>());
  if (!parsed.ok())
    return Corrupt(path + ": metadata compression.aquant: " + parsed.status().message());
  return *parsed;
}

// The home of chunk k of container tensor t: tensors that are not INT8 are decoded at load
// whatever the table says. The token embedding follows the table like every INT8 tensor (the
// runtime's EmbeddingTable serves its rows from any home).
ChunkHome home_of(const ChunkHomeTable& homes, const TensorEntry& e, size_t t, size_t k) {
  if (e.spec.dtype != DType::kI8) return ChunkHome::kDecoded;
  return homes[t][k];
}

// Bytes the tensor will own in memory once loaded with `homes`.
uint64_t held_bytes(const ChunkHomeTable& homes, const TensorEntry& e, size_t t) {
  uint64_t n = 0;
  for (size_t k = 0; k < e.chunks.size(); ++k) {
    switch (home_of(homes, e, t, k)) {
      case ChunkHome::kDecoded:
        n += e.chunks[k].raw_size;
        break;
      case ChunkHome::kStored:
        n += e.chunks[k].stored_size;
        break;
      case ChunkHome::kStreamed:
        break;
    }
  }
  return n;
}

uint64_t physical_memory_bytes() {
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGE_SIZE);
  if (pages <= 0 || page <= 0) return std::numeric_limits<uint64_t>::max();
  return static_cast<uint64_t>(pages) * static_cast<uint64_t>(page);
}

// Refuses, before anything is allocated, an index whose claims the file cannot back: a `raw`
// chunk decodes to exactly its stored bytes (the one codec whose expansion is known: 1), and
// what the tier keeps in memory must fit in the machine's physical memory. Other codecs may
// expand without a useful bound (a constant tensor codes to a few bytes), hence the second rule.
Status check_claims(const ModelContainer& c, const ChunkHomeTable& homes) {
  const uint64_t phys = physical_memory_bytes();
  uint64_t total = 0;
  for (size_t t = 0; t < c.tensors().size(); ++t) {
    const TensorEntry& e = c.tensors()[t];
    for (size_t k = 0; k < e.chunks.size(); ++k) {
      const ChunkInfo& ch = e.chunks[k];
      if (ch.codec == "raw" && ch.stored_size != ch.raw_size)
        return Corrupt(fmt::format("{}: tensor '{}' chunk {}: raw chunk stores {} bytes for {}",
                                   c.path(), e.spec.name, k, ch.stored_size, ch.raw_size));
    }
    const uint64_t bytes = held_bytes(homes, e, t);
    if (bytes > phys || total > phys - bytes)
      return Corrupt(fmt::format(
          "{}: tensor '{}' needs {} bytes in memory ({} before it), more than this machine's {} "
          "bytes: the index claims more than a model this file can hold",
          c.path(), e.spec.name, bytes, total, phys));
    total += bytes;
  }
  return Status::Ok();
}

// How chunk bytes are reached: through the container's mapping (a container opened from
// memory) or with pread from the file (every path-based load).
struct ChunkAccess {
  const ModelContainer& c;
  const ChunkFile* file = nullptr;  // null: use the container
  std::map<std::string, std::unique_ptr<Codec>> codecs;

  std::string what(const TensorEntry& e, size_t k) const {
    return fmt::format("{}: tensor '{}' chunk {}", c.path(), e.spec.name, k);
  }

  Status resolve_codecs(const TensorEntry& e) {
    for (size_t k = 0; k < e.chunks.size(); ++k) {
      const std::string& name = e.chunks[k].codec;
      if (codecs.count(name)) continue;
      auto codec = make_codec(name);
      if (!codec.ok())
        return Unsupported(fmt::format("{}: codec '{}' unavailable: {}", what(e, k), name,
                                       codec.status().message()));
      codecs.emplace(name, std::move(*codec));
    }
    return Status::Ok();
  }

  // Decodes the whole tensor into `out` (its raw bytes), chunks spread over `threads`.
  Status decode(const TensorEntry& e, std::span<uint8_t> out, unsigned threads) {
    if (!file) return c.read_tensor(e.spec.name, out, threads);
    DCLLM_RETURN_IF_ERROR(resolve_codecs(e));
    std::vector<Status> statuses(e.chunks.size());
    parallel_for(e.chunks.size(), threads, [&](size_t k) {
      const ChunkInfo& ch = e.chunks[k];
      std::vector<uint8_t> stored(static_cast<size_t>(ch.stored_size));
      const std::string name = what(e, k);
      Status st = file->read_into(ch, stored, name);
      if (st.ok())
        st = decode_stored_chunk(ch, *codecs.at(ch.codec), stored,
                                 out.subspan(ch.raw_offset, ch.raw_size), name);
      statuses[k] = std::move(st);
    });
    for (Status& st : statuses)
      if (!st.ok()) return st;
    return Status::Ok();
  }

  // Chunk k's stored bytes into `out` (exactly its stored size): read from the file, or copied
  // from the container's bytes (a container opened from memory).
  Status stored_into(const TensorEntry& e, size_t k, std::span<uint8_t> out) const {
    if (file) return file->read_into(e.chunks[k], out, what(e, k));
    const auto t = static_cast<size_t>(&e - c.tensors().data());
    auto in = c.chunk_bytes(t, k);
    if (in.size() != out.size()) return Internal(what(e, k) + ": stored size differs");
    std::memcpy(out.data(), in.data(), out.size());
    return Status::Ok();
  }

  // A tensor with chunks not all decoded: each held chunk's decoded rows or stored bytes
  // (checksummed once here, again at every decode) copied into one owned buffer; streamed
  // chunks keep only their index entry.
  Expected<std::shared_ptr<Int8StoredChunks>> place(const TensorEntry& e,
                                                    std::vector<ChunkHome> homes,
                                                    unsigned threads) {
    DCLLM_RETURN_IF_ERROR(resolve_codecs(e));  // an unknown codec fails at load, not mid-run
    auto s = std::make_shared<Int8StoredChunks>();
    s->file = c.path();
    s->tensor = e.spec.name;
    s->chunks = e.chunks;
    s->homes = std::move(homes);
    size_t at = 0;
    for (size_t k = 0; k < e.chunks.size(); ++k) {
      s->at.push_back(at);
      const ChunkInfo& ch = e.chunks[k];
      if (s->homes[k] == ChunkHome::kDecoded) at += static_cast<size_t>(ch.raw_size);
      if (s->homes[k] == ChunkHome::kStored) at += static_cast<size_t>(ch.stored_size);
    }
    s->bytes.resize(at);
    std::vector<Status> statuses(e.chunks.size());
    parallel_for(e.chunks.size(), threads, [&](size_t k) {
      const ChunkInfo& ch = e.chunks[k];
      const ChunkHome home = s->homes[k];
      if (home == ChunkHome::kStreamed) return;
      const std::string name = what(e, k);
      Status st;
      if (home == ChunkHome::kStored) {
        auto dst = std::span(s->bytes).subspan(s->at[k], static_cast<size_t>(ch.stored_size));
        st = stored_into(e, k, dst);
        if (st.ok() && XXH3_64bits(dst.data(), dst.size()) != ch.xxh3)
          st = Corrupt(name + ": checksum mismatch");
      } else {
        auto dst = std::span(s->bytes).subspan(s->at[k], static_cast<size_t>(ch.raw_size));
        std::vector<uint8_t> stored(static_cast<size_t>(ch.stored_size));
        st = stored_into(e, k, stored);
        if (st.ok()) st = decode_stored_chunk(ch, *codecs.at(ch.codec), stored, dst, name);
      }
      statuses[k] = std::move(st);
    });
    for (Status& st : statuses)
      if (!st.ok()) return st;
    return s;
  }
};

// The table must have a row per tensor and, for INT8 tensors, a home per chunk.
Status check_home_table(const ModelContainer& c, const ChunkHomeTable& homes) {
  if (homes.size() != c.tensors().size())
    return Internal(fmt::format("{}: chunk homes for {} tensors, the file has {}", c.path(),
                                homes.size(), c.tensors().size()));
  for (size_t t = 0; t < homes.size(); ++t) {
    const TensorEntry& e = c.tensors()[t];
    if (e.spec.dtype == DType::kI8 && homes[t].size() != e.chunks.size())
      return Internal(fmt::format("{}: tensor '{}': {} chunk homes for {} chunks", c.path(),
                                  e.spec.name, homes[t].size(), e.chunks.size()));
  }
  return Status::Ok();
}

Expected<ModelTensor> read_tensor_entry(ChunkAccess& access, const TensorEntry& e,
                                        const LoadOptions& opts, const ActivationQuant& activations,
                                        std::vector<ChunkHome> homes) {
  const std::string& path = access.c.path();
  ModelTensor t;
  t.name = e.spec.name;
  for (uint64_t d : e.spec.shape) {
    if (d > (uint64_t{1} << 40)) return Corrupt(path + ": tensor '" + t.name + "' is too large");
    t.shape.push_back(static_cast<int64_t>(d));
  }
  t.stored_type = upper_dtype(e.spec.dtype);
  t.stored_bytes = e.stored_bytes;
  if (e.spec.dtype == DType::kF32) {
    if (e.spec.quant.scheme != QuantScheme::kNone)
      return Unsupported(path + ": f32 tensor '" + t.name + "' carries quantization scales");
    if (!opts.load_weights) return t;
    t.owned.resize(static_cast<size_t>(t.numel()));
    DCLLM_RETURN_IF_ERROR(access.decode(
        e, std::span(reinterpret_cast<uint8_t*>(t.owned.data()), t.owned.size() * sizeof(float)),
        opts.threads));
    t.data = t.owned.data();
    return t;
  }
  if (e.spec.dtype != DType::kI8) {
    return Unsupported(path + ": tensor '" + t.name + "' has dtype " +
                       std::string(dtype_name(e.spec.dtype)) + " (a model holds f32 and i8)");
  }
  if (t.shape.size() != 2 || e.spec.quant.scheme == QuantScheme::kNone) {
    return Unsupported(path + ": i8 tensor '" + t.name +
                       "' must be a quantized matrix [out, in] with scales");
  }
  auto q = std::make_shared<Int8Tensor>();
  q->rows = t.shape[0];
  q->cols = t.shape[1];
  q->scheme = e.spec.quant.scheme;
  q->group = e.spec.quant.group_size;
  q->scales = e.spec.quant.scales;  // count validated by the container against the shape
  q->activations = activations;
  if (q->cols > kInt8GemmMaxCols || q->rows > std::numeric_limits<int>::max()) {
    return Unsupported(path + ": i8 tensor '" + t.name +
                       "' has more rows or columns than the INT8 kernels allow");
  }
  if (opts.load_weights) {
    bool all_decoded = true;
    for (ChunkHome h : homes) all_decoded = all_decoded && h == ChunkHome::kDecoded;
    if (all_decoded || t.numel() == 0) {
      q->values.resize(static_cast<size_t>(t.numel()));
      DCLLM_RETURN_IF_ERROR(access.decode(
          e, std::span(reinterpret_cast<uint8_t*>(q->values.data()), q->values.size()),
          opts.threads));
    } else {
      DCLLM_ASSIGN_OR_RETURN(q->stored, access.place(e, std::move(homes), opts.threads));
    }
  }
  t.int8 = std::move(q);
  return t;
}

Expected<Model> read_model(const ModelContainer& c, const LoadOptions& opts,
                           const ChunkHomeTable& homes, const ChunkFile* file) {
  const std::string& path = c.path();
  const nlohmann::json& meta = c.metadata();
  auto format = meta.find("format");
  if (format == meta.end() || !format->is_string() || *format != "dcllm-model") {
    return Unsupported(path +
                       ": the container holds no model (metadata format "
                       "is not \"dcllm-model\")");
  }
  auto version = meta.find("version");
  if (version == meta.end() || !version->is_number_integer() || *version != 1) {
    return Unsupported(path + ": unsupported dcllm-model version (expected 1)");
  }
  Model m;
  m.path = path;
  m.format = "dcllm v" + std::to_string(c.version());
  auto config = meta.find("config");
  if (config == meta.end()) return Corrupt(path + ": metadata has no \"config\" object");
  DCLLM_ASSIGN_OR_RETURN(m.config, model_config_from_json(*config, path));
  auto vocab = meta.find("vocab");
  if (vocab != meta.end() && !vocab->is_null()) {
    DCLLM_ASSIGN_OR_RETURN(Vocab v, vocab_from_json(*vocab, path));
    m.vocab = std::move(v);
  }
  DCLLM_ASSIGN_OR_RETURN(ActivationQuant activations, activation_quant(meta, path));
  if (auto comp = meta.find("compression"); comp != meta.end() && comp->is_object()) {
    for (const auto& [k, v] : comp->items())
      m.info.emplace_back("compression." + k, v.is_string() ? v.get<std::string>() : v.dump());
  }
  DCLLM_RETURN_IF_ERROR(check_home_table(c, homes));
  if (opts.load_weights) DCLLM_RETURN_IF_ERROR(check_claims(c, homes));
  ChunkAccess access{c, file, {}};
  for (size_t ti = 0; ti < c.tensors().size(); ++ti) {
    const TensorEntry& e = c.tensors()[ti];
    std::vector<ChunkHome> tensor_homes(e.chunks.size());
    for (size_t k = 0; k < e.chunks.size(); ++k) tensor_homes[k] = home_of(homes, e, ti, k);
    DCLLM_ASSIGN_OR_RETURN(
        ModelTensor t, read_tensor_entry(access, e, opts, activations, std::move(tensor_homes)));
    m.add_tensor(std::move(t));
  }
  return m;
}

}  // namespace

std::string_view weight_tier_name(WeightTier tier) {
  switch (tier) {
    case WeightTier::kResident:
      return "resident";
    case WeightTier::kCompressed:
      return "compressed";
    case WeightTier::kStream:
      return "stream";
  }
  return "?";
}

Expected<WeightTier> parse_weight_tier(std::string_view name) {
  for (WeightTier t : {WeightTier::kResident, WeightTier::kCompressed, WeightTier::kStream})
    if (name == weight_tier_name(t)) return t;
  return InvalidArgument("--weights: expected resident, compressed or stream, got '" +
                         std::string(name) + "'");
}

ChunkHome tier_home(WeightTier tier) {
  switch (tier) {
    case WeightTier::kResident:
      break;
    case WeightTier::kCompressed:
      return ChunkHome::kStored;
    case WeightTier::kStream:
      return ChunkHome::kStreamed;
  }
  return ChunkHome::kDecoded;
}

ChunkHomeTable tier_homes(const ModelContainer& c, WeightTier tier) {
  ChunkHomeTable table(c.tensors().size());
  for (size_t t = 0; t < table.size(); ++t)
    if (c.tensors()[t].spec.dtype == DType::kI8)
      table[t].assign(c.tensors()[t].chunks.size(), tier_home(tier));
  return table;
}

Expected<Model> read_dcllm_model(const std::string& path, const LoadOptions& opts,
                                 WeightTier tier) {
  DCLLM_ASSIGN_OR_RETURN(ModelContainer c, ModelContainer::open(path));
  return read_dcllm_model(c, opts, tier_homes(c, tier));
}

Expected<Model> read_dcllm_model(const ModelContainer& c, const LoadOptions& opts,
                                 const ChunkHomeTable& homes) {
  DCLLM_ASSIGN_OR_RETURN(ChunkFile file, ChunkFile::open(c.path(), /*bypass_cache=*/false));
  return read_model(c, opts, homes, &file);
}

Expected<Model> read_dcllm_model(const ModelContainer& c, const LoadOptions& opts) {
  return read_model(c, opts, tier_homes(c, WeightTier::kResident), nullptr);
}

Status require_dcllm_model(const std::string& path, std::string_view what) {
  // open_regular_file, not is_container_file's fopen: a FIFO must not block the check.
  auto fd = open_regular_file(path);
  if (!fd.ok()) {
    return Status(fd.status().code(),
                  fmt::format("{} needs a .dcllm model: {}", what, fd.status().message()));
  }
  uint8_t prefix[kContainerMagic.size()] = {};
  const ssize_t got = ::pread(*fd, prefix, sizeof(prefix), 0);
  ::close(*fd);
  if (got < 0 || !has_container_magic({prefix, static_cast<size_t>(got)})) {
    return InvalidArgument(fmt::format(
        "{}: {} needs a .dcllm model (this is not one; use --weights resident)", path, what));
  }
  return Status::Ok();
}

Expected<Model> load_dcllm_model(const ModelContainer& c, const LoadOptions& opts,
                                 const ChunkHomeTable& homes) {
  DCLLM_ASSIGN_OR_RETURN(Model m, read_dcllm_model(c, opts, homes));
  DCLLM_RETURN_IF_ERROR(check_layer_tensors(m));
  if (!opts.tokenizer_path.empty()) {
    // As in load_model(): an explicit tokenizer file overrides the model's vocabulary.
    DCLLM_ASSIGN_OR_RETURN(
        Vocab vocab,
        load_llama2c_vocab(opts.tokenizer_path, static_cast<int32_t>(m.config.vocab_size)));
    m.vocab = std::move(vocab);
  }
  return m;
}

Expected<Model> load_model_with_weights(const std::string& path, const LoadOptions& opts,
                                        WeightTier tier) {
  if (tier == WeightTier::kResident) return load_model(path, opts);
  DCLLM_RETURN_IF_ERROR(
      require_dcllm_model(path, fmt::format("--weights {}", weight_tier_name(tier))));
  DCLLM_ASSIGN_OR_RETURN(ModelContainer c, ModelContainer::open(path));
  return load_dcllm_model(c, opts, tier_homes(c, tier));
}

void dequantize_int8_tensors(Model& model) {
  for (const ModelTensor& t : model.tensors()) {
    if (!t.int8 || t.int8->values.empty()) continue;
    ModelTensor* mt = model.find_mutable(t.name);
    mt->owned = t.int8->dequantize();
    mt->data = mt->owned.data();
    mt->int8.reset();
  }
}

}  // namespace dcllm
