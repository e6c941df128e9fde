// make_plan: one Workload of the file; every candidate is a placement per chunk ("slot", in
// execution order), costed by the ThroughputModel and by the memory it holds. The greedy
// candidate orders the upgrades of all chunks (streamed → held coded → held raw) by producer
// time saved per byte and takes the shortest prefix that reaches the goal (binary search on the
// predicted tokens/s, which grows with the prefix).
#include "runtime/partial_compression_planner.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <numeric>
#include <optional>

#include "core/byte_size.h"
#include "dcllm/codec.h"
#include "fmt/format.h"
#include "model/chunk_file.h"
#include "model/dcllm_model_metadata.h"
#include "runtime/model_workload.h"
#include "runtime/weight_source.h"

namespace dcllm {
namespace {

// The process without a model (code, libraries, allocator arenas), and what the parsed
// metadata (config, vocabulary, merges, calibration statistics) costs per byte of its JSON
// text; fitted on SmolLM2-135M's three tiers (docs/runtime.md "Plans").
// (Fitted on SmolLM2-135M, 9.6 MB of metadata: VmHWM at the end of loading = 8 MiB + 3.9 x
// metadata + everything held in all three tiers, within 1%; while running 8 MiB + 2 x metadata
// + held + KV cache + activations, from the v1 reader's runs.)
constexpr uint64_t kRuntimeBaseBytes = uint64_t{8} << 20;
constexpr uint64_t kMetadataFactor = 2;
constexpr double kLoadMetadataFactor = 1.9;
constexpr int64_t kPromptBatch = 256;
// Tokens/s within this fraction count as equal (then the smaller memory wins).
constexpr double kTie = 0.005;

bool is_int8(const TensorEntry& t) {
  return t.spec.dtype == DType::kI8;
}

// One planned chunk.
struct Slot {
  size_t tensor = 0, chunk = 0;
  ptrdiff_t linear = -1;  // index in the workload's linears; -1: not run by the forward pass
  ChunkSizes size;
  // Looked up, never multiplied (a lookup-only embedding, or a tensor no linear uses): plans
  // stream it as stored, since a token reads one of its chunks at most.
  bool fixed = false;
};

// EmbeddingTable's buffers for a table not held decoded: one chunk decoded, and one read (its
// enclosing 4 KiB blocks).
uint64_t lookup_buffer_bytes(uint64_t largest_raw, uint64_t largest_stored) {
  return largest_raw + (largest_stored + 2 * 4096 - 1) / 4096 * 4096;
}

uint64_t held_bytes(const ChunkSizes& s, ChunkPlacement p) {
  if (p == ChunkPlacement::kResidentRaw) return s.raw;
  if (p == ChunkPlacement::kResidentCoded) return s.coded;
  return 0;
}

uint64_t stored_for(const ChunkSizes& s, ChunkPlacement p) {
  return p == ChunkPlacement::kStreamRaw || p == ChunkPlacement::kResidentRaw ? s.raw : s.coded;
}

class Planner {
 public:
  Planner(const ModelContainer& c, const MachineProfile& profile, const PlannerOptions& o,
          PlannerInput in, Workload w)
      : c_(c), o_(o), in_(std::move(in)), w_(std::move(w)), model_(profile, o.model) {
    const auto& tensors = c_.tensors();
    std::vector<ptrdiff_t> linear_of(tensors.size(), -1);
    for (size_t i = 0; i < w_.linears.size(); ++i) {
      const ptrdiff_t t = c_.find(w_.linears[i].name);
      if (t >= 0) linear_of[static_cast<size_t>(t)] = static_cast<ptrdiff_t>(i);
    }
    // Execution order first, then INT8 tensors no linear runs (held as they are loaded).
    std::vector<size_t> order;
    for (const LinearWork& l : w_.linears) {
      const ptrdiff_t t = c_.find(l.name);
      if (t >= 0 && is_int8(tensors[static_cast<size_t>(t)]))
        order.push_back(static_cast<size_t>(t));
    }
    for (size_t t = 0; t < tensors.size(); ++t)
      if (is_int8(tensors[t]) && linear_of[t] < 0) order.push_back(t);
    for (size_t t : order) {
      for (size_t k = 0; k < tensors[t].chunks.size(); ++k) {
        Slot s;
        s.tensor = t;
        s.chunk = k;
        s.linear = linear_of[t];
        s.size = in_.sizes[t][k];
        s.fixed = s.linear < 0;
        slots_.push_back(s);
      }
    }
    const Rates r(profile, o.model);
    rates_ = r;
  }

  const std::vector<Slot>& slots() const { return slots_; }

  // Placements of every slot; fixed ones are streamed as stored.
  using Placement = std::vector<ChunkPlacement>;

  Placement uniform(ChunkPlacement p) const {
    Placement out(slots_.size(), p);
    fix(out);
    return out;
  }

  void fix(Placement& p) const {
    for (size_t i = 0; i < slots_.size(); ++i)
      if (slots_[i].fixed)
        p[i] =
            slots_[i].size.stored_raw ? ChunkPlacement::kStreamRaw : ChunkPlacement::kStreamCoded;
  }

  // Ring (and, with fused decode, the compute threads' decode scratch) under `p`.
  void ring_bytes(const Placement& p, uint64_t* ring, uint64_t* scratch) const {
    *ring = *scratch = 0;
    if (o_.model.fused_decode) {
      // The runtime's reader ring holds streamed chunks' stored bytes; each compute thread
      // decodes a coded chunk into its own buffer.
      uint64_t largest_stored = 0, largest_decoded = 0, streamed = 0;
      for (size_t i = 0; i < slots_.size(); ++i) {
        if (slots_[i].fixed) continue;  // looked up by EmbeddingTable, not read by the ring
        if (placement_is_stream(p[i])) {
          largest_stored = std::max(largest_stored, stored_for(slots_[i].size, p[i]));
          streamed += stored_for(slots_[i].size, p[i]);
        }
        if (placement_decodes_per_use(p[i]))
          largest_decoded = std::max(largest_decoded, slots_[i].size.raw);
      }
      *ring = stream_ring_bytes(largest_stored, o_.model.ring_slots, streamed);
      *scratch = largest_decoded * std::max(1u, o_.threads);
      return;
    }
    std::vector<uint64_t> tensor_raw(c_.tensors().size(), 0);
    std::vector<uint8_t> in_ring(c_.tensors().size(), 0);
    uint64_t largest = 0;
    for (size_t i = 0; i < slots_.size(); ++i) {
      if (slots_[i].fixed) continue;
      tensor_raw[slots_[i].tensor] += slots_[i].size.raw;
      if (p[i] != ChunkPlacement::kResidentRaw) {
        in_ring[slots_[i].tensor] = 1;
        if (o_.model.chunk_items) largest = std::max(largest, slots_[i].size.raw);
      }
    }
    if (!o_.model.chunk_items)
      for (size_t t = 0; t < tensor_raw.size(); ++t)
        if (in_ring[t]) largest = std::max(largest, tensor_raw[t]);
    largest = (largest + 63) / 64 * 64;  // DecodeBuffer rounds each slot up
    *ring = largest * o_.model.ring_slots;
  }

  // The floor with `p`'s ring; `embedding` is what `p` holds of the fixed slots, plus the
  // lookup's two chunk buffers when any of them is not held decoded.
  MemoryFloor floor_for(const Placement& p) const {
    MemoryFloor f = in_.floor;
    ring_bytes(p, &f.ring, &f.scratch);
    f.embedding = 0;
    uint64_t raw = 0, stored = 0;
    for (size_t i = 0; i < slots_.size(); ++i) {
      if (!slots_[i].fixed) continue;
      f.embedding += held_bytes(slots_[i].size, p[i]);
      if (p[i] != ChunkPlacement::kResidentRaw) {
        raw = std::max(raw, slots_[i].size.raw);
        stored = std::max(stored, slots_[i].size.coded);
      }
    }
    if (raw > 0) f.embedding += lookup_buffer_bytes(raw, stored);
    return f;
  }

  uint64_t memory(const Placement& p) const {
    uint64_t held = 0;
    for (size_t i = 0; i < slots_.size(); ++i)
      if (!slots_[i].fixed) held += held_bytes(slots_[i].size, p[i]);
    return floor_for(p).total(held);
  }

  Prediction predict(const Placement& p) const {
    Workload w = w_;
    for (size_t i = 0; i < slots_.size(); ++i) {
      if (slots_[i].linear < 0) continue;
      ChunkWork& cw = w.linears[static_cast<size_t>(slots_[i].linear)].chunks[slots_[i].chunk];
      cw.placement = p[i];
      cw.stored_bytes = stored_for(slots_[i].size, p[i]);
    }
    return model_.predict(w, o_.shape);
  }

  // Seconds of prefetch and decode work a slot costs per token at placement p (contended decode:
  // it overlaps the GEMV). With fused decode the decode runs on the compute threads instead; the
  // greedy orders upgrades by the sum either way and the predictions decide.
  double producer_seconds(const Slot& s, ChunkPlacement p) const {
    const double raw = static_cast<double>(s.size.raw), coded = static_cast<double>(s.size.coded);
    switch (p) {
      case ChunkPlacement::kResidentRaw:
        return 0;
      case ChunkPlacement::kResidentCoded:
        return coded * rates_.checksum + raw * rates_.decode;
      case ChunkPlacement::kStreamCoded:
        return coded * (rates_.storage + rates_.checksum) + raw * rates_.decode;
      case ChunkPlacement::kStreamRaw:
        return raw * (rates_.storage + rates_.checksum + rates_.copy);
    }
    return 0;
  }

  // The greedy: start at each slot's faster zero-memory placement, then upgrades in order of
  // seconds saved per byte along each slot's lower convex hull of (memory, seconds).
  struct Upgrade {
    size_t slot;
    ChunkPlacement to;
    double per_byte;
  };
  Placement greedy_base() const {
    Placement p(slots_.size(), ChunkPlacement::kStreamCoded);
    for (size_t i = 0; i < slots_.size(); ++i)
      if (o_.raw_only || producer_seconds(slots_[i], ChunkPlacement::kStreamRaw) <
                             producer_seconds(slots_[i], ChunkPlacement::kStreamCoded))
        p[i] = ChunkPlacement::kStreamRaw;
    fix(p);
    return p;
  }
  std::vector<Upgrade> greedy_upgrades(const Placement& base) const {
    std::vector<Upgrade> ups;
    for (size_t i = 0; i < slots_.size(); ++i) {
      if (slots_[i].fixed) continue;
      const Slot& s = slots_[i];
      struct Point {
        ChunkPlacement p;
        double mem, sec;
      };
      std::vector<Point> pts = {{base[i], 0, producer_seconds(s, base[i])}};
      for (ChunkPlacement q : {ChunkPlacement::kResidentCoded, ChunkPlacement::kResidentRaw}) {
        if (o_.raw_only && q == ChunkPlacement::kResidentCoded) continue;
        pts.push_back({q, static_cast<double>(held_bytes(s.size, q)), producer_seconds(s, q)});
      }
      std::sort(pts.begin() + 1, pts.end(),
                [](const Point& a, const Point& b) { return a.mem < b.mem; });
      // Lower hull from the base: repeatedly take the point with the steepest time drop.
      size_t at = 0;
      while (true) {
        size_t best = 0;
        double best_slope = 0;
        for (size_t j = at + 1; j < pts.size(); ++j) {
          const double dm = pts[j].mem - pts[at].mem, ds = pts[at].sec - pts[j].sec;
          if (ds <= 0) continue;
          const double slope = dm > 0 ? ds / dm : std::numeric_limits<double>::infinity();
          if (slope > best_slope) best_slope = slope, best = j;
        }
        if (best == 0) break;
        ups.push_back({i, pts[best].p, best_slope});
        at = best;
      }
    }
    std::stable_sort(ups.begin(), ups.end(),
                     [](const Upgrade& a, const Upgrade& b) { return a.per_byte > b.per_byte; });
    return ups;
  }
  static Placement apply(Placement p, const std::vector<Upgrade>& ups, size_t k) {
    for (size_t j = 0; j < k; ++j) p[ups[j].slot] = ups[j].to;
    return p;
  }

  // The paper's family: among the planned slots in order, the last of every n is coded.
  // resident_until: slots before it are held (raw or coded), the rest streamed.
  Placement last_of_every(size_t n, size_t resident_until) const {
    Placement p(slots_.size());
    size_t j = 0;
    for (size_t i = 0; i < slots_.size(); ++i) {
      const bool coded = slots_[i].fixed ? false : (j++ % n == n - 1);
      const bool held = i < resident_until;
      p[i] = held ? (coded ? ChunkPlacement::kResidentCoded : ChunkPlacement::kResidentRaw)
                  : (coded ? ChunkPlacement::kStreamCoded : ChunkPlacement::kStreamRaw);
    }
    fix(p);
    return p;
  }

 private:
  // The model's per-byte costs, for the greedy's estimates.
  struct Rates {
    double storage = 0, decode = 0, copy = 0, checksum = 0;
    Rates() = default;
    Rates(const MachineProfile& pr, const ModelOptions& mo) {
      auto inv = [](double mbps) { return mbps > 0 ? 1.0 / (mbps * 1e6) : 0.0; };
      storage = inv(pr.storage_read_mbps);
      const double d = std::min(
          pr.rans_decode(mo.decode_threads),
          mo.decode_threads == 1 ? pr.decode_contended() : pr.rans_decode(mo.decode_threads));
      decode = inv(d);
      copy = inv(pr.memory_copy_mbps > 0 ? pr.memory_copy_mbps : pr.memory_read(1) / 2);
      checksum = inv(pr.memory_read(1));
      if (mo.fused_decode) {  // on the compute threads; raw chunks are multiplied in the ring
        decode = inv(pr.rans_decode(pr.threads));
        checksum = inv(pr.memory_read(pr.threads));
        copy = 0;
      }
    }
  };

  const ModelContainer& c_;
  const PlannerOptions& o_;
  PlannerInput in_;
  Workload w_;
  ThroughputModel model_;
  std::vector<Slot> slots_;
  Rates rates_;
};

std::string size_text(uint64_t b) {
  return fmt::format("{:.1f} MiB", static_cast<double>(b) / 1048576.0);
}

}  // namespace

Status check_budget(const MemoryFloor& f, uint64_t budget, std::string_view file) {
  if (budget >= f.total()) return Status::Ok();
  // A tied embedding is planned like any linear; only a lookup-only one is part of the floor.
  const std::string embedding =
      f.embedding > 0 ? ", token embedding " + size_text(f.embedding) : std::string();
  return InvalidArgument(fmt::format(
      "{}: --mem-budget {} is below the minimum of {} for this model ({}: ring {}, activations "
      "{}, KV cache {}, float tensors and scales {}{}, process and metadata {}{})",
      file, format_byte_size(budget), format_byte_size(f.total()),
      f.load_peak() > f.run_peak() ? "its load peak" : "while running",
      size_text(f.ring + f.scratch), size_text(f.activations), size_text(f.kv_cache),
      size_text(f.float_tensors + f.int8_scales), embedding, size_text(f.runtime),
      f.load_peak() > f.run_peak()
          ? ", while loading also " + size_text(f.load_buffer + f.load_extra) +
                " of a chunk being decoded and metadata text"
          : std::string()));
}

Expected<PlannerInput> planner_input(const ModelContainer& c, const PlannerOptions& o) {
  PlannerInput in;
  in.file = c.path();
  const auto& tensors = c.tensors();
  MemoryFloor& f = in.floor;
  // The floor first: it needs only the index and the config.
  uint64_t largest_ring = 0, largest_chunk = 0, largest_raw = 0, planned_stored = 0;
  for (const TensorEntry& e : tensors) {
    if (!is_int8(e)) {
      const size_t es = dtype_size(e.spec.dtype);
      f.float_tensors += es ? e.raw_bytes / es * sizeof(float) : e.raw_bytes;
      for (const ChunkInfo& ci : e.chunks) f.load_buffer = std::max(f.load_buffer, ci.stored_size);
      continue;
    }
    f.int8_scales += e.spec.quant.scales.size() * sizeof(float);
    if (tensor_lookup_only(c, e.spec.name)) {
      // Streamed in the smallest plan: the lookup's buffers only.
      uint64_t raw = 0, stored = 0;
      for (const ChunkInfo& ci : e.chunks) {
        raw = std::max(raw, ci.raw_size);
        stored = std::max(stored, ci.stored_size);
      }
      f.embedding += lookup_buffer_bytes(raw, stored);
      continue;
    }
    if (!o.model.chunk_items) largest_ring = std::max(largest_ring, e.raw_bytes);
    for (const ChunkInfo& ci : e.chunks) {
      if (o.model.chunk_items) largest_ring = std::max(largest_ring, ci.raw_size);
      largest_chunk = std::max({largest_chunk, ci.raw_size, ci.stored_size});
      largest_raw = std::max(largest_raw, ci.raw_size);
      planned_stored += std::max(ci.raw_size, ci.stored_size);  // streamed raw or coded
    }
  }
  // The smallest plan streams every planned chunk; bounded by the largest chunk either way.
  if (o.model.fused_decode) {
    f.ring = stream_ring_bytes(largest_chunk, o.model.ring_slots, planned_stored);
    f.scratch = largest_raw * std::max(1u, o.threads);
  } else {
    f.ring = (largest_ring + 63) / 64 * 64 * o.model.ring_slots;
  }
  auto cfg_it = c.metadata().find("config");
  if (cfg_it == c.metadata().end())
    return Corrupt(c.path() + ": metadata has no \"config\" (not a compressed model)");
  DCLLM_ASSIGN_OR_RETURN(ModelConfig cfg, model_config_from_json(*cfg_it, c.path()));
  const uint64_t ctx = static_cast<uint64_t>(std::clamp<int64_t>(
      o.shape.prompt_tokens + o.shape.gen_tokens, 1, std::max<int64_t>(cfg.seq_len, 1)));
  const uint64_t kv_dim =
      static_cast<uint64_t>(std::max<int64_t>(cfg.n_kv_heads * cfg.head_dim, 0));
  f.kv_cache =
      2 * static_cast<uint64_t>(std::max<int64_t>(cfg.n_layers, 0)) * ctx * kv_dim * sizeof(float);
  const uint64_t batch =
      static_cast<uint64_t>(std::clamp<int64_t>(o.shape.prompt_tokens, 1, kPromptBatch));
  auto u = [](int64_t v) { return static_cast<uint64_t>(std::max<int64_t>(v, 0)); };
  const uint64_t D = u(cfg.dim), F = u(cfg.hidden_dim), Q = u(cfg.n_heads * cfg.head_dim);
  const uint64_t E = u(cfg.embedding_width());
  // x, xb, xb2, q, k, v, hb, hb2 and xe per row (float), the quantized row (int8) and the
  // attention scores per worker, and one row of logits.
  f.activations =
      batch * ((3 * D + Q + 2 * kv_dim + 2 * F + E) * sizeof(float) + std::max({D, F, Q, E})) +
      16 * ctx * sizeof(float) + u(cfg.vocab_size) * sizeof(float);
  const uint64_t meta = c.metadata().dump().size();
  f.runtime = kRuntimeBaseBytes + kMetadataFactor * meta;
  f.load_extra = static_cast<uint64_t>(kLoadMetadataFactor * static_cast<double>(meta));
  if (o.budget_bytes > 0) DCLLM_RETURN_IF_ERROR(check_budget(f, o.budget_bytes, c.path()));

  // Chunk sizes; a raw-stored chunk is coded once to learn what a repack would store.
  in.sizes.resize(tensors.size());
  std::unique_ptr<Codec> codec;
  std::vector<uint8_t> raw, coded;
  // A raw-stored chunk's stored bytes are its raw bytes. They are read with pread, not through
  // the container's mapping: touched mapped pages would count in the process's RSS (all the
  // file's raw chunks, at load, under the very --mem-budget this estimate serves).
  std::optional<ChunkFile> file;
  for (size_t t = 0; t < tensors.size(); ++t) {
    const TensorEntry& e = tensors[t];
    if (!is_int8(e)) continue;
    const bool embedding = tensor_lookup_only(c, e.spec.name);
    for (size_t k = 0; k < e.chunks.size(); ++k) {
      const ChunkInfo& ci = e.chunks[k];
      ChunkSizes s;
      s.raw = ci.raw_size;
      s.coded = ci.stored_size;
      s.stored_raw = ci.codec == kRawCodecName;
      if (s.stored_raw && !embedding) {
        if (!codec) {
          DCLLM_ASSIGN_OR_RETURN(codec, make_codec(o.codec));
        }
        if (!file && !c.path().empty()) {
          auto opened = ChunkFile::open(c.path(), /*bypass_cache=*/false);
          if (opened.ok()) file.emplace(std::move(*opened));
        }
        raw.resize(static_cast<size_t>(ci.raw_size));
        if (file && ci.stored_size == ci.raw_size) {
          DCLLM_RETURN_IF_ERROR(file->read_into(
              ci, raw, fmt::format("{}: tensor '{}' chunk {}", c.path(), e.spec.name, k)));
        } else {
          DCLLM_RETURN_IF_ERROR(c.decode_chunk(t, k, raw));
        }
        coded.clear();
        DCLLM_RETURN_IF_ERROR(codec->compress(raw, coded));
        s.coded = std::min<uint64_t>(coded.size(), ci.raw_size);
      }
      in.sizes[t].push_back(s);
    }
  }
  return in;
}

namespace {

PartialCompressionPlan to_plan(const ModelContainer& c, const std::vector<Slot>& slots,
                               const std::vector<ChunkPlacement>& p) {
  const auto& tensors = c.tensors();
  std::vector<std::vector<ChunkPlacement>> table(tensors.size());
  std::vector<std::vector<ChunkSizes>> sizes(tensors.size());
  for (size_t t = 0; t < tensors.size(); ++t) {
    table[t].assign(tensors[t].chunks.size(), ChunkPlacement::kResidentRaw);
    sizes[t].resize(tensors[t].chunks.size());
  }
  for (size_t i = 0; i < slots.size(); ++i) {
    table[slots[i].tensor][slots[i].chunk] = p[i];
    sizes[slots[i].tensor][slots[i].chunk] = slots[i].size;
  }
  PartialCompressionPlan plan;
  for (size_t t = 0; t < tensors.size(); ++t) {
    if (!is_int8(tensors[t])) continue;
    for (size_t k = 0; k < table[t].size(); ++k) {
      plan.chunks.push_back({tensors[t].spec.name, k, table[t][k]});
      const ChunkPlacement q = table[t][k];
      if (placement_is_resident(q))
        plan.resident_bytes += held_bytes(sizes[t][k], q);
      else
        plan.streamed_bytes += stored_for(sizes[t][k], q);
    }
  }
  return plan;
}

bool needs_repack(const ModelContainer& c, const std::vector<Slot>& slots,
                  const std::vector<ChunkPlacement>& p) {
  for (size_t i = 0; i < slots.size(); ++i)
    if (!placement_fits_storage(p[i], c.tensors()[slots[i].tensor].chunks[slots[i].chunk]))
      return true;
  return false;
}

Expected<std::unique_ptr<Planner>> make_planner(const ModelContainer& c, const PlannerInput& in,
                                                const MachineProfile& profile,
                                                const PlannerOptions& o) {
  if (in.sizes.size() != c.tensors().size())
    return InvalidArgument(c.path() + ": planner input is not of this file");
  std::vector<std::vector<ChunkPlacement>> table(c.tensors().size());
  for (size_t t = 0; t < table.size(); ++t)
    if (is_int8(c.tensors()[t]))
      table[t].assign(c.tensors()[t].chunks.size(), ChunkPlacement::kResidentRaw);
  DCLLM_ASSIGN_OR_RETURN(Workload w, workload_for_container(c, table));
  return std::make_unique<Planner>(c, profile, o, in, std::move(w));
}

PlannerResult result_for(const ModelContainer& c, const Planner& pl,
                         const std::vector<ChunkPlacement>& p, const std::string& strategy,
                         const PlannerOptions& o) {
  PlannerResult r;
  r.prediction = pl.predict(p);
  r.plan = to_plan(c, pl.slots(), p);
  r.plan.predicted_tokens_per_second = r.prediction.generation_tokens_per_second;
  r.plan.budget_bytes = o.budget_bytes;
  r.plan.target_tokens_per_second = o.target_tps;
  r.plan.strategy = strategy;
  r.floor = pl.floor_for(p);
  r.memory_bytes = pl.memory(p);
  r.needs_repack = needs_repack(c, pl.slots(), p);
  return r;
}

}  // namespace

Expected<PlannerResult> make_plan(const ModelContainer& c, const PlannerInput& in,
                                  const MachineProfile& profile, const PlannerOptions& o) {
  const bool by_budget = o.budget_bytes > 0;
  if (by_budget == (o.target_tps > 0))
    return InvalidArgument("plan: give exactly one of --mem-budget and --target-tps");
  DCLLM_ASSIGN_OR_RETURN(std::unique_ptr<Planner> pl, make_planner(c, in, profile, o));
  const Planner& P = *pl;
  using Placement = Planner::Placement;
  // The floor is the memory of the smallest plan: refuse a budget below it before searching.
  const Placement smallest = P.greedy_base();
  if (by_budget) {
    DCLLM_RETURN_IF_ERROR(check_budget(P.floor_for(smallest), o.budget_bytes, c.path()));
  }

  struct Scored {
    std::string strategy;
    Placement p;
    double tps;
    uint64_t mem;
  };
  std::vector<Scored> all;
  auto score = [&](std::string name, Placement p) {
    const double tps = P.predict(p).generation_tokens_per_second;
    const uint64_t mem = P.memory(p);
    all.push_back({std::move(name), std::move(p), tps, mem});
  };
  const Placement fastest = P.uniform(ChunkPlacement::kResidentRaw);
  const double max_tps = P.predict(fastest).generation_tokens_per_second;
  if (!by_budget && o.target_tps > max_tps * (1 + 1e-9))
    return InvalidArgument(fmt::format(
        "{}: --target-tps {:.2f} is above what this machine is predicted to reach ({:.2f} tokens/s "
        "with every chunk held decoded, {})",
        c.path(), o.target_tps, max_tps, format_byte_size(P.memory(fastest))));

  score("resident", fastest);
  score("stream-raw", P.uniform(ChunkPlacement::kStreamRaw));
  if (!o.raw_only) {
    score("compressed", P.uniform(ChunkPlacement::kResidentCoded));
    score("stream", P.uniform(ChunkPlacement::kStreamCoded));
  }
  const size_t n_slots = P.slots().size();
  for (size_t n : {2, 3, 4, 6, 8, 16}) {
    if (o.raw_only) break;
    score(fmt::format("last-of-every-{}", n), P.last_of_every(n, n_slots));
    score(fmt::format("last-of-every-{}-streamed", n), P.last_of_every(n, 0));
    if (by_budget) {
      // Held from the first slot on while the budget allows, streamed after.
      size_t lo = 0, hi = n_slots;
      while (lo < hi) {
        const size_t mid = (lo + hi + 1) / 2;
        if (P.memory(P.last_of_every(n, mid)) <= o.budget_bytes)
          lo = mid;
        else
          hi = mid - 1;
      }
      if (lo > 0 && lo < n_slots)
        score(fmt::format("last-of-every-{}-held-to-budget", n), P.last_of_every(n, lo));
    }
  }
  // Greedy prefixes.
  const Placement base = P.greedy_base();
  const auto ups = P.greedy_upgrades(base);
  size_t k_hi = ups.size();
  if (by_budget) {
    size_t lo = 0, hi = ups.size();
    while (lo < hi) {
      const size_t mid = (lo + hi + 1) / 2;
      if (P.memory(Planner::apply(base, ups, mid)) <= o.budget_bytes)
        lo = mid;
      else
        hi = mid - 1;
    }
    k_hi = lo;
  }
  const double goal =
      by_budget
          ? P.predict(Planner::apply(base, ups, k_hi)).generation_tokens_per_second * (1 - kTie)
          : o.target_tps;
  // The shortest prefix that reaches the goal (tokens/s grows with the prefix).
  size_t lo = 0, hi = k_hi;
  while (lo < hi) {
    const size_t mid = (lo + hi) / 2;
    if (P.predict(Planner::apply(base, ups, mid)).generation_tokens_per_second >= goal)
      hi = mid;
    else
      lo = mid + 1;
  }
  score("greedy", Planner::apply(base, ups, lo));

  // Choose.
  const Scored* best = nullptr;
  for (const Scored& s : all) {
    const bool fits = by_budget ? s.mem <= o.budget_bytes : s.tps >= o.target_tps;
    if (!fits) continue;
    if (!best) {
      best = &s;
      continue;
    }
    if (by_budget) {
      if (s.tps > best->tps * (1 + kTie) || (s.tps >= best->tps * (1 - kTie) && s.mem < best->mem))
        best = &s;
    } else if (s.mem < best->mem || (s.mem == best->mem && s.tps > best->tps)) {
      best = &s;
    }
  }
  if (!best) return Internal(c.path() + ": plan: no candidate fits (the greedy's should have)");
  PlannerResult r = result_for(c, P, best->p, best->strategy, o);
  for (const Scored& s : all) {
    const bool fits = by_budget ? s.mem <= o.budget_bytes : s.tps >= o.target_tps;
    r.candidates.push_back({s.strategy, s.tps, s.mem, fits});
  }
  return r;
}

Expected<PlannerResult> predict_plan(const ModelContainer& c, const PlannerInput& in,
                                     const PartialCompressionPlan& plan,
                                     const MachineProfile& profile, const PlannerOptions& o) {
  DCLLM_ASSIGN_OR_RETURN(auto table, plan_placements(plan, c.tensors(), c.path(), false));
  DCLLM_ASSIGN_OR_RETURN(std::unique_ptr<Planner> pl, make_planner(c, in, profile, o));
  Planner::Placement p(pl->slots().size());
  for (size_t i = 0; i < p.size(); ++i) p[i] = table[pl->slots()[i].tensor][pl->slots()[i].chunk];
  // Fixed slots keep the plan's placement: a stored plan may hold the embedding.
  return result_for(c, *pl, p, plan.strategy, o);
}

}  // namespace dcllm
