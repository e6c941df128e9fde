// Plan JSON read/write and the check against a container index. Plans come from files users
// pass (--plan) and from .dcllm metadata, so every count, name and index is validated before
// anything is sized by it.
#include "runtime/partial_compression_plan.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <numeric>
#include <unordered_map>

#include "core/atomic_file.h"
#include "core/json_limits.h"
#include "core/mapped_file.h"
#include "fmt/format.h"
#include "model/printable.h"

namespace dcllm {
namespace {

constexpr std::string_view kNames[] = {"resident-raw", "resident-coded", "stream-coded",
                                       "stream-raw"};

bool is_int8(const TensorEntry& t) {
  return t.spec.dtype == DType::kI8;
}

Status bad(std::string_view file, std::string_view what) {
  return Corrupt(fmt::format("{}: not a valid plan: {}", file, what));
}

Expected<uint64_t> get_u64(const nlohmann::json& j, const char* key, std::string_view file,
                           std::string_view where, bool required) {
  auto it = j.find(key);
  if (it == j.end()) {
    if (required) return bad(file, fmt::format("{}missing \"{}\"", where, key));
    return uint64_t{0};
  }
  if (!it->is_number_unsigned() && !(it->is_number_integer() && it->get<int64_t>() >= 0))
    return bad(file, fmt::format("{}\"{}\" must be a non-negative integer", where, key));
  return it->get<uint64_t>();
}

Expected<double> get_rate(const nlohmann::json& j, const char* key, std::string_view file,
                          bool required) {
  auto it = j.find(key);
  if (it == j.end()) {
    if (required) return bad(file, fmt::format("missing \"{}\"", key));
    return 0.0;
  }
  if (!it->is_number()) return bad(file, fmt::format("\"{}\" must be a number", key));
  const double v = it->get<double>();
  if (!std::isfinite(v) || v < 0)
    return bad(file, fmt::format("\"{}\" must be finite and not negative", key));
  return v;
}

Status mismatch(std::string_view file, std::string_view what) {
  return InvalidArgument(fmt::format("{}: the plan does not match the file: {}", file, what));
}

}  // namespace

std::string_view placement_name(ChunkPlacement p) {
  return kNames[static_cast<size_t>(p) & 3];
}

Expected<ChunkPlacement> parse_placement(std::string_view name) {
  for (ChunkPlacement p : kAllPlacements)
    if (placement_name(p) == name) return p;
  return InvalidArgument(fmt::format(
      "'{}' is not a placement (resident-raw, resident-coded, stream-coded, stream-raw)",
      printable(name, 64)));
}

bool placement_fits_storage(ChunkPlacement p, const ChunkInfo& chunk) {
  const bool raw = chunk.codec == kRawCodecName;
  switch (p) {
    case ChunkPlacement::kResidentRaw:
      return true;
    case ChunkPlacement::kStreamRaw:
      return raw;
    case ChunkPlacement::kResidentCoded:
    case ChunkPlacement::kStreamCoded:
      return !raw;
  }
  return false;
}

std::string_view placement_storage_need(ChunkPlacement p) {
  switch (p) {
    case ChunkPlacement::kResidentRaw:
      return "either";
    case ChunkPlacement::kStreamRaw:
      return "raw";
    default:
      return "coded";
  }
}

nlohmann::json plan_to_json(const PartialCompressionPlan& plan) {
  nlohmann::ordered_json j;
  j["predicted_tokens_per_second"] = plan.predicted_tokens_per_second;
  j["resident_bytes"] = plan.resident_bytes;
  j["streamed_bytes"] = plan.streamed_bytes;
  if (plan.budget_bytes) j["budget_bytes"] = plan.budget_bytes;
  if (plan.target_tokens_per_second > 0)
    j["target_tokens_per_second"] = plan.target_tokens_per_second;
  if (!plan.strategy.empty()) j["strategy"] = plan.strategy;
  nlohmann::ordered_json chunks = nlohmann::ordered_json::array();
  for (const PlannedChunk& c : plan.chunks) {
    nlohmann::ordered_json e;
    e["tensor"] = c.tensor;
    e["chunk"] = c.chunk;
    e["placement"] = placement_name(c.placement);
    chunks.push_back(std::move(e));
  }
  j["chunks"] = std::move(chunks);
  // ordered_json keeps the documented key order in files; callers get a plain json.
  return nlohmann::json::parse(j.dump());
}

Expected<PartialCompressionPlan> plan_from_json(const nlohmann::json& j, std::string_view file) {
  if (!j.is_object()) return bad(file, "the top level must be an object");
  PartialCompressionPlan plan;
  DCLLM_ASSIGN_OR_RETURN(plan.predicted_tokens_per_second,
                         get_rate(j, "predicted_tokens_per_second", file, true));
  DCLLM_ASSIGN_OR_RETURN(plan.resident_bytes, get_u64(j, "resident_bytes", file, "", true));
  DCLLM_ASSIGN_OR_RETURN(plan.streamed_bytes, get_u64(j, "streamed_bytes", file, "", true));
  DCLLM_ASSIGN_OR_RETURN(plan.budget_bytes, get_u64(j, "budget_bytes", file, "", false));
  DCLLM_ASSIGN_OR_RETURN(plan.target_tokens_per_second,
                         get_rate(j, "target_tokens_per_second", file, false));
  if (auto it = j.find("strategy"); it != j.end()) {
    if (!it->is_string() || it->get_ref<const std::string&>().size() > 256)
      return bad(file, "\"strategy\" must be a string of at most 256 bytes");
    plan.strategy = it->get<std::string>();
  }
  auto it = j.find("chunks");
  if (it == j.end()) return bad(file, "missing \"chunks\"");
  if (!it->is_array()) return bad(file, "\"chunks\" must be an array");
  if (it->size() > kMaxPlanChunks)
    return bad(file, fmt::format("{} chunks (at most {})", it->size(), kMaxPlanChunks));
  plan.chunks.reserve(it->size());
  for (size_t i = 0; i < it->size(); ++i) {
    const nlohmann::json& e = (*it)[i];
    const std::string where = fmt::format("chunks[{}]: ", i);
    if (!e.is_object()) return bad(file, where + "must be an object");
    PlannedChunk c;
    auto t = e.find("tensor");
    if (t == e.end() || !t->is_string()) return bad(file, where + "\"tensor\" must be a string");
    const std::string& name = t->get_ref<const std::string&>();
    if (name.empty() || name.size() > kMaxTensorNameBytes)
      return bad(file, where + fmt::format("tensor name of {} bytes (1 to {})", name.size(),
                                           kMaxTensorNameBytes));
    c.tensor = name;
    DCLLM_ASSIGN_OR_RETURN(c.chunk, get_u64(e, "chunk", file, where, true));
    if (c.chunk >= kMaxPlanChunkIndex)
      return bad(file, where + fmt::format("chunk index {} is too large", c.chunk));
    auto p = e.find("placement");
    if (p == e.end() || !p->is_string()) return bad(file, where + "\"placement\" must be a string");
    auto placement = parse_placement(p->get_ref<const std::string&>());
    if (!placement.ok()) return bad(file, where + placement.status().message());
    c.placement = *placement;
    plan.chunks.push_back(std::move(c));
  }
  // Duplicates: sort an index by (tensor, chunk) and compare neighbours.
  std::vector<size_t> order(plan.chunks.size());
  std::iota(order.begin(), order.end(), size_t{0});
  auto key = [&](size_t i) { return std::tie(plan.chunks[i].tensor, plan.chunks[i].chunk); };
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return key(a) < key(b); });
  for (size_t i = 1; i < order.size(); ++i) {
    if (key(order[i - 1]) == key(order[i])) {
      const PlannedChunk& c = plan.chunks[order[i]];
      return bad(file,
                 fmt::format("tensor '{}' chunk {} is placed twice", printable(c.tensor), c.chunk));
    }
  }
  return plan;
}

Expected<PartialCompressionPlan> parse_plan_text(std::string_view text, std::string_view file) {
  if (text.size() > kMaxPlanFileBytes)
    return bad(file, fmt::format("{} bytes of JSON (at most {})", text.size(), kMaxPlanFileBytes));
  DCLLM_ASSIGN_OR_RETURN(nlohmann::json j, parse_untrusted_json(text, file, "not valid JSON"));
  return plan_from_json(j, file);
}

Expected<PartialCompressionPlan> read_plan_file(const std::string& path) {
  DCLLM_ASSIGN_OR_RETURN(const int fd, open_regular_file(path));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0)
    return IoError(fmt::format("{}: cannot stat: {}", path, std::strerror(errno)));
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  if (size > kMaxPlanFileBytes)
    return bad(path, fmt::format("{} bytes (a plan file is at most {})", size, kMaxPlanFileBytes));
  std::string text(static_cast<size_t>(size), '\0');
  size_t got = 0;
  while (got < text.size()) {
    const ssize_t n = ::pread(fd, text.data() + got, text.size() - got, static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return IoError(fmt::format("{}: read failed: {}", path, std::strerror(errno)));
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  text.resize(got);  // a file that shrank while read is parsed as it is now
  return parse_plan_text(text, path);
}

Status write_plan_file(const PartialCompressionPlan& plan, const std::string& path) {
  // Pretty-printed with the documented key order (plan_to_json's order is lost in json).
  nlohmann::ordered_json j = nlohmann::ordered_json::parse(plan_to_json(plan).dump());
  nlohmann::ordered_json out;
  for (const char* k : {"predicted_tokens_per_second", "resident_bytes", "streamed_bytes",
                        "budget_bytes", "target_tokens_per_second", "strategy", "chunks"})
    if (j.contains(k)) out[k] = j[k];
  const std::string text = out.dump(1) + "\n";
  DCLLM_ASSIGN_OR_RETURN(AtomicFileWriter w, AtomicFileWriter::create(path));
  DCLLM_RETURN_IF_ERROR(w.write({reinterpret_cast<const uint8_t*>(text.data()), text.size()}));
  return w.commit();
}

Status check_plan_matches(const PartialCompressionPlan& plan,
                          const std::vector<TensorEntry>& tensors, std::string_view file) {
  return plan_placements(plan, tensors, file).status();
}

Expected<std::vector<std::vector<ChunkPlacement>>> plan_placements(
    const PartialCompressionPlan& plan, const std::vector<TensorEntry>& tensors,
    std::string_view file, bool check_storage) {
  std::unordered_map<std::string_view, size_t> by_name;
  by_name.reserve(tensors.size());
  for (size_t t = 0; t < tensors.size(); ++t) by_name.emplace(tensors[t].spec.name, t);
  std::vector<std::vector<ChunkPlacement>> table(tensors.size());
  std::vector<std::vector<uint8_t>> seen(tensors.size());
  for (size_t t = 0; t < tensors.size(); ++t) {
    if (!is_int8(tensors[t])) continue;
    table[t].assign(tensors[t].chunks.size(), ChunkPlacement::kResidentRaw);
    seen[t].assign(tensors[t].chunks.size(), 0);
  }
  for (const PlannedChunk& c : plan.chunks) {
    auto it = by_name.find(c.tensor);
    if (it == by_name.end())
      return mismatch(file, fmt::format("tensor '{}' is not in the file", printable(c.tensor)));
    const TensorEntry& t = tensors[it->second];
    if (!is_int8(t))
      return mismatch(file, fmt::format("tensor '{}' is {}, not an INT8 tensor",
                                        printable(c.tensor), dtype_name(t.spec.dtype)));
    if (c.chunk >= t.chunks.size())
      return mismatch(file, fmt::format("tensor '{}' has {} chunk{}, the plan places chunk {}",
                                        printable(c.tensor), t.chunks.size(),
                                        t.chunks.size() == 1 ? "" : "s", c.chunk));
    const ChunkInfo& info = t.chunks[static_cast<size_t>(c.chunk)];
    if (check_storage && !placement_fits_storage(c.placement, info))
      return mismatch(
          file, fmt::format("tensor '{}' chunk {} is stored {} ({}) but the plan places it {}, "
                            "which needs a {} chunk (dcllm repack --plan rewrites it)",
                            printable(c.tensor), c.chunk,
                            info.codec == kRawCodecName ? "raw" : "coded", printable(info.codec),
                            placement_name(c.placement), placement_storage_need(c.placement)));
    uint8_t& s = seen[it->second][static_cast<size_t>(c.chunk)];
    if (s)
      return mismatch(
          file, fmt::format("tensor '{}' chunk {} is placed twice", printable(c.tensor), c.chunk));
    s = 1;
    table[it->second][static_cast<size_t>(c.chunk)] = c.placement;
  }
  for (size_t t = 0; t < tensors.size(); ++t) {
    for (size_t k = 0; k < seen[t].size(); ++k)
      if (!seen[t][k])
        return mismatch(file, fmt::format("tensor '{}' chunk {} has no placement",
                                          printable(tensors[t].spec.name), k));
  }
  return table;
}

Status recompute_plan_bytes(PartialCompressionPlan& plan, const std::vector<TensorEntry>& tensors,
                            std::string_view file) {
  DCLLM_ASSIGN_OR_RETURN(auto table, plan_placements(plan, tensors, file));
  uint64_t resident = 0, streamed = 0;
  for (size_t t = 0; t < tensors.size(); ++t) {
    for (size_t k = 0; k < table[t].size(); ++k) {
      const ChunkInfo& c = tensors[t].chunks[k];
      switch (table[t][k]) {
        case ChunkPlacement::kResidentRaw:
          resident += c.raw_size;
          break;
        case ChunkPlacement::kResidentCoded:
          resident += c.stored_size;
          break;
        default:
          streamed += c.stored_size;
      }
    }
  }
  plan.resident_bytes = resident;
  plan.streamed_bytes = streamed;
  return Status::Ok();
}

PartialCompressionPlan uniform_plan(const std::vector<TensorEntry>& tensors, ChunkPlacement p) {
  PartialCompressionPlan plan;
  for (const TensorEntry& t : tensors) {
    if (!is_int8(t)) continue;
    for (size_t k = 0; k < t.chunks.size(); ++k) {
      ChunkPlacement q = p;
      if (!placement_fits_storage(q, t.chunks[k])) {
        // The same place with the storage the chunk has.
        if (q == ChunkPlacement::kResidentCoded)
          q = ChunkPlacement::kResidentRaw;
        else if (q == ChunkPlacement::kStreamCoded)
          q = ChunkPlacement::kStreamRaw;
        else
          q = ChunkPlacement::kStreamCoded;
      }
      plan.chunks.push_back({t.spec.name, k, q});
    }
  }
  return plan;
}

}  // namespace dcllm
