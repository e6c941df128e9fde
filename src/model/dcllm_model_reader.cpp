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

// Per-tensor or per-token activation quantization, from metadata
// compression.aquant.
Expected<bool> per_tensor_activations(const nlohmann::json& meta, const std::string& path) {
  auto comp = meta.find("compression");
  if (comp == meta.end() || !comp->is_object()) return false;
  auto aq = comp->find("aquant");
  if (aq == comp->end()) return false;
  if (aq->is_string() && *aq == "per-token") return false;
  if (aq->is_string() && *aq == "per-tensor") return true;
  return Corrupt(path + ": metadata compression.aquant must be \"per-token\" or \"per-tensor\"");
}

// token_embd.weight stays decoded in every tier: each token reads one of its rows.
bool decoded_in_every_tier(const TensorEntry& e) {
  return e.spec.name == "token_embd.weight";
}

// Bytes the tensor will own in memory once loaded in `tier`.
uint64_t held_bytes(const TensorEntry& e, WeightTier tier) {
  if (e.spec.dtype != DType::kI8 || decoded_in_every_tier(e) || tier == WeightTier::kResident)
    return e.raw_bytes;
  return tier == WeightTier::kCompressed ? e.stored_bytes : 0;
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
Status check_claims(const ModelContainer& c, WeightTier tier) {
  const uint64_t phys = physical_memory_bytes();
  uint64_t total = 0;
  for (const TensorEntry& e : c.tensors()) {
    for (size_t k = 0; k < e.chunks.size(); ++k) {
      const ChunkInfo& ch = e.chunks[k];
      if (ch.codec == "raw" && ch.stored_size != ch.raw_size)
        return Corrupt(fmt::format("{}: tensor '{}' chunk {}: raw chunk stores {} bytes for {}",
                                   c.path(), e.spec.name, k, ch.stored_size, ch.raw_size));
    }
    const uint64_t bytes = held_bytes(e, tier);
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

  // The compressed tier: every chunk's stored bytes copied into RAM and checksummed once.
  Expected<std::shared_ptr<Int8StoredChunks>> copy_stored(const TensorEntry& e, unsigned threads) {
    DCLLM_RETURN_IF_ERROR(resolve_codecs(e));  // an unknown codec fails at load, not mid-run
    auto s = std::make_shared<Int8StoredChunks>();
    s->file = c.path();
    s->tensor = e.spec.name;
    s->chunks = e.chunks;
    size_t at = 0;
    for (const ChunkInfo& ch : e.chunks) {
      s->at.push_back(at);
      at += static_cast<size_t>(ch.stored_size);
    }
    s->bytes.resize(at);
    std::vector<Status> statuses(e.chunks.size());
    parallel_for(e.chunks.size(), threads, [&](size_t k) {
      const ChunkInfo& ch = e.chunks[k];
      auto dst = std::span(s->bytes).subspan(s->at[k], static_cast<size_t>(ch.stored_size));
      Status st = file->read_into(ch, dst, what(e, k));
      if (st.ok() && XXH3_64bits(dst.data(), dst.size()) != ch.xxh3)
        st = Corrupt(what(e, k) + ": checksum mismatch");
      statuses[k] = std::move(st);
    });
    for (Status& st : statuses)
      if (!st.ok()) return st;
    return s;
  }

  // The stream tier: only the index; the runtime reads the chunks on each use.
  Expected<std::shared_ptr<Int8StoredChunks>> index_only(const TensorEntry& e) {
    DCLLM_RETURN_IF_ERROR(resolve_codecs(e));
    auto s = std::make_shared<Int8StoredChunks>();
    s->file = c.path();
    s->tensor = e.spec.name;
    s->chunks = e.chunks;
    return s;
  }
};

Expected<ModelTensor> read_tensor_entry(ChunkAccess& access, const TensorEntry& e,
                                        const LoadOptions& opts, bool per_tensor_act,
                                        WeightTier tier) {
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
  q->per_tensor_activations = per_tensor_act;
  if (q->cols > kInt8GemmMaxCols || q->rows > std::numeric_limits<int>::max()) {
    return Unsupported(path + ": i8 tensor '" + t.name +
                       "' has more rows or columns than the INT8 kernels allow");
  }
  if (opts.load_weights) {
    if (tier == WeightTier::kResident || decoded_in_every_tier(e) || t.numel() == 0) {
      q->values.resize(static_cast<size_t>(t.numel()));
      DCLLM_RETURN_IF_ERROR(access.decode(
          e, std::span(reinterpret_cast<uint8_t*>(q->values.data()), q->values.size()),
          opts.threads));
    } else if (tier == WeightTier::kCompressed) {
      DCLLM_ASSIGN_OR_RETURN(q->stored, access.copy_stored(e, opts.threads));
    } else {
      DCLLM_ASSIGN_OR_RETURN(q->stored, access.index_only(e));
    }
  }
  t.int8 = std::move(q);
  return t;
}

Expected<Model> read_model(const ModelContainer& c, const LoadOptions& opts, WeightTier tier,
                           const ChunkFile* file) {
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
  DCLLM_ASSIGN_OR_RETURN(bool per_tensor_act, per_tensor_activations(meta, path));
  if (auto comp = meta.find("compression"); comp != meta.end() && comp->is_object()) {
    for (const auto& [k, v] : comp->items())
      m.info.emplace_back("compression." + k, v.is_string() ? v.get<std::string>() : v.dump());
  }
  if (opts.load_weights) DCLLM_RETURN_IF_ERROR(check_claims(c, tier));
  ChunkAccess access{c, file, {}};
  for (const TensorEntry& e : c.tensors()) {
    DCLLM_ASSIGN_OR_RETURN(ModelTensor t, read_tensor_entry(access, e, opts, per_tensor_act, tier));
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

Expected<Model> read_dcllm_model(const std::string& path, const LoadOptions& opts,
                                 WeightTier tier) {
  DCLLM_ASSIGN_OR_RETURN(ModelContainer c, ModelContainer::open(path));
  DCLLM_ASSIGN_OR_RETURN(ChunkFile file, ChunkFile::open(path, /*bypass_cache=*/false));
  return read_model(c, opts, tier, &file);
}

Expected<Model> read_dcllm_model(const ModelContainer& c, const LoadOptions& opts) {
  return read_model(c, opts, WeightTier::kResident, nullptr);
}

Expected<Model> load_model_with_weights(const std::string& path, const LoadOptions& opts,
                                        WeightTier tier) {
  if (tier == WeightTier::kResident) return load_model(path, opts);
  // open_regular_file, not is_container_file's fopen: a FIFO must not block the check.
  auto fd = open_regular_file(path);
  if (!fd.ok()) {
    return Status(fd.status().code(), fmt::format("--weights {} needs a .dcllm model: {}",
                                                  weight_tier_name(tier), fd.status().message()));
  }
  uint8_t prefix[kContainerMagic.size()] = {};
  const ssize_t got = ::pread(*fd, prefix, sizeof(prefix), 0);
  ::close(*fd);
  if (got < 0 || !has_container_magic({prefix, static_cast<size_t>(got)})) {
    return InvalidArgument(fmt::format(
        "{}: --weights {} needs a .dcllm model (this is not one; use --weights resident)", path,
        weight_tier_name(tier)));
  }
  DCLLM_ASSIGN_OR_RETURN(Model m, read_dcllm_model(path, opts, tier));
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
