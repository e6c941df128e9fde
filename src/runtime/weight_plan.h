// Where a run keeps each INT8 chunk of a .dcllm (docs/runtime.md "Following a plan"): from
// --weights, --mem-budget and a plan stored in the file, to the ChunkHomeTable the reader loads
// with. One function for run, ppl and bench run, so they decide alike.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "dcllm/container.h"
#include "dcllm/status.h"
#include "model/dcllm_model_reader.h"
#include "model/model.h"
#include "model/model_source.h"
#include "runtime/partial_compression_plan.h"
#include "runtime/throughput_model.h"

namespace dcllm {

// The metadata key under which `dcllm repack` stores the plan a file was repacked for.
inline constexpr const char* kStoredPlanKey = "plan";

struct WeightRequest {
  // --weights: resident, compressed or stream; nullopt when not given (then a plan stored in
  // the file is followed, else resident).
  std::optional<WeightTier> tier;
  // --mem-budget in bytes (0 = none): the whole run's memory. Needs --weights stream (or no
  // --weights, which it then implies).
  uint64_t budget_bytes = 0;
  // The run the floor is computed for (KV cache, activations).
  RunShape shape;
  unsigned threads = 2;
  size_t ring_slots = 16;  // TransformerOptions::ring_slots of the run
  // The machine profile for planning a budget (the planner's make_plan); called only when a
  // budget needs a new plan. Empty: plans fall back to the rule in place_weights.
  std::function<Expected<MachineProfile>()> profile;
};

struct WeightPlacement {
  ChunkHomeTable homes;
  std::optional<PartialCompressionPlan> plan;  // the plan followed, if any
  // "--weights resident", "stored plan (strategy)", "plan for --mem-budget 50.0 MiB (greedy)".
  std::string source;
  uint64_t minimum_bytes = 0;    // the memory floor for this run (0 when no budget was given)
  uint64_t predicted_bytes = 0;  // floor + INT8 bytes held by the placement (0: no budget)
};

// The homes of a plan's placements: resident-raw -> kDecoded, resident-coded -> kStored,
// stream-* -> kStreamed. The plan must match the file (check_plan_matches).
Expected<ChunkHomeTable> plan_homes(const PartialCompressionPlan& plan, const ModelContainer& c);

// A planned placement the chunk's storage cannot serve replaced by the nearest one it can that
// holds no more memory: resident-coded on a raw chunk -> stream-raw, stream-raw on a coded chunk
// -> stream-coded, stream-coded on a raw chunk -> stream-raw. (A plan made for a repacked file,
// run on the file as it is.)
PartialCompressionPlan servable_plan(const PartialCompressionPlan& plan,
                                     const std::vector<TensorEntry>& tensors);

// Decides the homes for `r` (see WeightRequest), refusing before any weight is read: a
// --mem-budget below the run's minimum (the planner's MemoryFloor: ring, activations, KV cache,
// float tensors, embedding), naming the minimum; a stored plan that does not match the file;
// --mem-budget with --weights resident or compressed. Under a budget, a stored plan that fits
// is followed; otherwise the planner makes one for the budget (make_plan, with r.profile; when
// r.profile is empty: chunks held coded in execution order while they fit, the rest streamed).
Expected<WeightPlacement> place_weights(const ModelContainer& c, const WeightRequest& r);

// Loads `path` as `r` asks: a model that is not a .dcllm only resident and without a budget
// (else refused: "--weights stream needs a .dcllm model"); a .dcllm with place_weights' homes.
Expected<Model> load_model_placed(const std::string& path, const LoadOptions& opts,
                                  const WeightRequest& r, WeightPlacement* placement = nullptr);

}  // namespace dcllm
