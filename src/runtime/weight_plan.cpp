// place_weights: --weights / --mem-budget / a stored plan -> a home per INT8 chunk. Budgets go
// through the planner's floor (refused below it, naming the minimum) and, when a profile is
// available, its make_plan; every plan is checked against the file before it is followed.
#include "runtime/weight_plan.h"

#include <unordered_map>

#include "core/byte_size.h"
#include "fmt/format.h"
#include "model/model_loader.h"
#include "runtime/model_workload.h"
#include "runtime/partial_compression_planner.h"

namespace dcllm {
namespace {

bool is_int8(const TensorEntry& e) {
  return e.spec.dtype == DType::kI8;
}

bool stored_raw(const ChunkInfo& c) {
  return c.codec == kRawCodecName;
}

// INT8 bytes a servable plan holds in RAM beyond the floor.
uint64_t held_bytes(const PartialCompressionPlan& plan, const ModelContainer& c) {
  uint64_t n = 0;
  for (const PlannedChunk& pc : plan.chunks) {
    const ptrdiff_t t = c.find(pc.tensor);
    if (t < 0) continue;
    const auto& chunks = c.tensors()[static_cast<size_t>(t)].chunks;
    if (pc.chunk >= chunks.size()) continue;
    const ChunkInfo& ci = chunks[static_cast<size_t>(pc.chunk)];
    if (pc.placement == ChunkPlacement::kResidentRaw) n += ci.raw_size;
    if (pc.placement == ChunkPlacement::kResidentCoded) n += ci.stored_size;
  }
  return n;
}

PlannerOptions planner_options(const WeightRequest& r) {
  PlannerOptions o;
  o.budget_bytes = r.budget_bytes;
  o.shape = r.shape;
  o.model.ring_slots = r.ring_slots;
  o.model.chunk_items = true;  // ring items are chunks; a chunk's GEMV starts once it is there
  return o;
}

// Without a machine profile: held as stored (coded chunks coded, raw ones raw) in index order
// while the budget allows, the rest streamed as stored.
PartialCompressionPlan fill_in_order(const ModelContainer& c, uint64_t available) {
  PartialCompressionPlan plan;
  plan.strategy = "held-in-index-order";
  for (const TensorEntry& e : c.tensors()) {
    if (!is_int8(e)) continue;
    for (size_t k = 0; k < e.chunks.size(); ++k) {
      const ChunkInfo& ci = e.chunks[k];
      ChunkPlacement p = stored_raw(ci) ? ChunkPlacement::kStreamRaw : ChunkPlacement::kStreamCoded;
      // A lookup-only embedding stays streamed: a token reads one of its chunks at most.
      if (!tensor_lookup_only(c, e.spec.name) && ci.stored_size <= available) {
        available -= ci.stored_size;
        p = stored_raw(ci) ? ChunkPlacement::kResidentRaw : ChunkPlacement::kResidentCoded;
      }
      plan.chunks.push_back({e.spec.name, k, p});
    }
  }
  return plan;
}

Expected<const nlohmann::json*> stored_plan_json(const ModelContainer& c) {
  auto it = c.metadata().find(kStoredPlanKey);
  if (it == c.metadata().end() || it->is_null()) return static_cast<const nlohmann::json*>(nullptr);
  return &*it;
}

Expected<WeightPlacement> follow(const ModelContainer& c, PartialCompressionPlan plan,
                                 std::string source) {
  WeightPlacement wp;
  DCLLM_ASSIGN_OR_RETURN(wp.homes, plan_homes(plan, c));
  wp.plan = std::move(plan);
  wp.source = std::move(source);
  return wp;
}

}  // namespace

Expected<ChunkHomeTable> plan_homes(const PartialCompressionPlan& plan, const ModelContainer& c) {
  DCLLM_RETURN_IF_ERROR(check_plan_matches(plan, c.tensors(), c.path()));
  DCLLM_ASSIGN_OR_RETURN(auto table, plan_placements(plan, c.tensors(), c.path()));
  ChunkHomeTable homes(table.size());
  for (size_t t = 0; t < table.size(); ++t) {
    homes[t].reserve(table[t].size());
    for (ChunkPlacement p : table[t]) {
      switch (p) {
        case ChunkPlacement::kResidentRaw:
          homes[t].push_back(ChunkHome::kDecoded);
          break;
        case ChunkPlacement::kResidentCoded:
          homes[t].push_back(ChunkHome::kStored);
          break;
        case ChunkPlacement::kStreamCoded:
        case ChunkPlacement::kStreamRaw:
          homes[t].push_back(ChunkHome::kStreamed);
          break;
      }
    }
  }
  return homes;
}

PartialCompressionPlan servable_plan(const PartialCompressionPlan& plan,
                                     const std::vector<TensorEntry>& tensors) {
  PartialCompressionPlan out = plan;
  std::unordered_map<std::string_view, const TensorEntry*> by_name;
  for (const TensorEntry& e : tensors) by_name.emplace(e.spec.name, &e);
  for (PlannedChunk& pc : out.chunks) {
    auto it = by_name.find(pc.tensor);
    if (it == by_name.end() || pc.chunk >= it->second->chunks.size()) continue;
    const bool raw = stored_raw(it->second->chunks[static_cast<size_t>(pc.chunk)]);
    if (raw && (pc.placement == ChunkPlacement::kResidentCoded ||
                pc.placement == ChunkPlacement::kStreamCoded))
      pc.placement = ChunkPlacement::kStreamRaw;
    else if (!raw && pc.placement == ChunkPlacement::kStreamRaw)
      pc.placement = ChunkPlacement::kStreamCoded;
  }
  return out;
}

Expected<WeightPlacement> place_weights(const ModelContainer& c, const WeightRequest& r) {
  if (r.budget_bytes > 0 && r.tier && *r.tier != WeightTier::kStream)
    return InvalidArgument(fmt::format("{}: --mem-budget needs --weights stream (got --weights {})",
                                       c.path(), weight_tier_name(*r.tier)));
  DCLLM_ASSIGN_OR_RETURN(const nlohmann::json* stored_json, stored_plan_json(c));
  std::optional<PartialCompressionPlan> stored;
  if (stored_json && (!r.tier || r.budget_bytes > 0)) {
    DCLLM_ASSIGN_OR_RETURN(PartialCompressionPlan p,
                           plan_from_json(*stored_json, c.path() + ": metadata \"plan\""));
    stored = std::move(p);
  }
  auto stored_name = [&] {
    return stored->strategy.empty() ? std::string("stored plan")
                                    : fmt::format("stored plan ({})", stored->strategy);
  };

  if (r.budget_bytes == 0) {
    if (!r.tier && stored) return follow(c, std::move(*stored), stored_name());
    const WeightTier tier = r.tier.value_or(WeightTier::kResident);
    WeightPlacement wp;
    wp.homes = tier_homes(c, tier);
    wp.source = fmt::format("--weights {}", weight_tier_name(tier));
    return wp;
  }

  // A budget: the floor first (refused below it, naming the minimum), before any chunk is read.
  const PlannerOptions po = planner_options(r);
  DCLLM_ASSIGN_OR_RETURN(PlannerInput input, planner_input(c, po));
  const uint64_t budget = r.budget_bytes;
  const std::string budget_text = format_byte_size(budget);
  auto placed = [&](PartialCompressionPlan plan, std::string source) -> Expected<WeightPlacement> {
    const uint64_t held = held_bytes(plan, c);
    DCLLM_ASSIGN_OR_RETURN(WeightPlacement wp, follow(c, std::move(plan), std::move(source)));
    wp.minimum_bytes = input.floor.total(0);
    wp.predicted_bytes = input.floor.total(held);
    return wp;
  };
  if (stored) {
    DCLLM_RETURN_IF_ERROR(check_plan_matches(*stored, c.tensors(), c.path()));
    if (input.floor.total(held_bytes(*stored, c)) <= budget)
      return placed(std::move(*stored), stored_name());
  }
  if (r.profile) {
    DCLLM_ASSIGN_OR_RETURN(MachineProfile profile, r.profile());
    DCLLM_ASSIGN_OR_RETURN(PlannerResult res, make_plan(c, input, profile, po));
    PartialCompressionPlan plan = servable_plan(res.plan, c.tensors());
    const std::string strategy = plan.strategy;
    return placed(std::move(plan),
                  fmt::format("plan for --mem-budget {} ({})", budget_text, strategy));
  }
  const uint64_t floor = input.floor.total(0);
  PartialCompressionPlan plan = fill_in_order(c, budget > floor ? budget - floor : 0);
  plan.budget_bytes = budget;
  return placed(std::move(plan),
                fmt::format("plan for --mem-budget {} ({})", budget_text, plan.strategy));
}

Expected<Model> load_model_placed(const std::string& path, const LoadOptions& opts,
                                  const WeightRequest& r, WeightPlacement* placement) {
  const bool plain = (!r.tier || *r.tier == WeightTier::kResident) && r.budget_bytes == 0;
  if (plain) {
    // Anything but a .dcllm (or a path that does not open) goes to the loader, which names
    // the fault; a .dcllm may carry a plan to follow.
    auto container = is_container_file(path);
    if (!container.ok() || !*container) {
      if (placement) placement->source = "--weights resident";
      return load_model(path, opts);
    }
  } else {
    const std::string what = r.budget_bytes > 0 && (!r.tier || *r.tier == WeightTier::kStream)
                                 ? std::string("--mem-budget")
                                 : fmt::format("--weights {}", weight_tier_name(*r.tier));
    DCLLM_RETURN_IF_ERROR(require_dcllm_model(path, what));
  }
  DCLLM_ASSIGN_OR_RETURN(ModelContainer c, ModelContainer::open(path));
  DCLLM_ASSIGN_OR_RETURN(WeightPlacement wp, place_weights(c, r));
  DCLLM_ASSIGN_OR_RETURN(Model m, load_dcllm_model(c, opts, wp.homes));
  if (placement) *placement = std::move(wp);
  return m;
}

}  // namespace dcllm
