// The planner behind `dcllm plan`: places every INT8 chunk of a .dcllm (resident-raw,
// resident-coded, stream-coded, stream-raw) to maximise predicted tokens/s under a memory
// budget, or to minimise memory at a target tokens/s (issue 9 §5, docs/runtime.md "Plans").
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "dcllm/container.h"
#include "dcllm/status.h"
#include "runtime/partial_compression_plan.h"
#include "runtime/throughput_model.h"

namespace dcllm {

struct PlannerOptions {
  uint64_t budget_bytes = 0;  // --mem-budget: the whole run's memory (0 = none)
  double target_tps = 0;      // --target-tps: generation tokens/s to reach (0 = none)
  RunShape shape;             // the run the prediction is for (bench run's defaults)
  ModelOptions model = current_runtime_model_options();  // the runtime the plan is for
  unsigned threads = 2;  // compute threads of the run (fused decode scratch, one per thread)
  // Codec whose size is estimated for chunks the file stores raw (by coding them once).
  std::string codec = "rans";
  // Only resident-raw and stream-raw: the best plan without compression (bench tiers' raw
  // streaming baseline).
  bool raw_only = false;
};

// The memory a run needs whatever the plan: what every tier keeps besides the planned INT8
// chunks, plus the ring of a plan that streams every planned tensor. Bytes. The peak is the
// larger of two moments: the end of loading (the parsed metadata still alive beside every
// weight held, a chunk's stored bytes being decoded) and running (the metadata's working set,
// everything held, the ring, the KV cache, the activations); runtime and load_extra are
// estimates fitted on SmolLM2-135M with this build's reader (docs/runtime.md "Plans").
struct MemoryFloor {
  uint64_t float_tensors = 0;  // f32 tensors (norms, biases, scale vectors), decoded at load
  uint64_t int8_scales = 0;    // every INT8 tensor's scales
  uint64_t embedding =
      0;  // a lookup-only token_embd (untied): what the plan holds, + lookup buffers
  uint64_t load_buffer = 0;  // stored bytes being decoded at load (the largest chunk)
  uint64_t load_extra = 0;   // the metadata's parse beyond its running share, while loading
  uint64_t kv_cache = 0;     // 2 × layers × context × kv_dim × 4
  uint64_t activations = 0;  // one prompt batch's buffers and the logits
  uint64_t ring = 0;         // ring_slots × the largest ring item
  uint64_t scratch = 0;      // fused decode: threads × the largest chunk decoded per use
  uint64_t runtime = 0;      // process, parsed metadata and vocabulary, while running
  // `held`: INT8 bytes held beyond the embedding (resident chunks of the plan).
  uint64_t load_peak(uint64_t held = 0) const {
    return runtime + load_extra + float_tensors + int8_scales + embedding + load_buffer + held;
  }
  uint64_t run_peak(uint64_t held = 0) const {
    return runtime + float_tensors + int8_scales + embedding + kv_cache + activations + ring +
           scratch + held;
  }
  uint64_t total(uint64_t held = 0) const { return std::max(load_peak(held), run_peak(held)); }
};

// One planned chunk's sizes: raw, and coded (as stored, or estimated for a raw-stored chunk).
struct ChunkSizes {
  uint64_t raw = 0;
  uint64_t coded = 0;
  bool stored_raw = false;
};

// What the planner knows of a file: sizes of every INT8 chunk (index order: sizes[t][k]; empty
// for tensors that are not INT8) and the memory floor.
struct PlannerInput {
  std::string file;
  std::vector<std::vector<ChunkSizes>> sizes;
  MemoryFloor floor;
};

// Reads what planning needs from the container: the floor for options.shape, then chunk sizes
// (coding the raw-stored chunks with options.codec to know their coded size). With a budget
// set, a budget below the floor is refused (check_budget) before any chunk is coded.
Expected<PlannerInput> planner_input(const ModelContainer& container,
                                     const PlannerOptions& options);

// A candidate the planner weighed, for the report.
struct PlanCandidate {
  std::string strategy;
  double predicted_tokens_per_second = 0;
  uint64_t memory_bytes = 0;  // floor (with this plan's ring) + INT8 bytes held
  bool fits = false;          // within the budget / reaches the target
};

struct PlannerResult {
  PartialCompressionPlan plan;  // figures filled in (predicted tokens/s, resident, streamed)
  Prediction prediction;
  MemoryFloor floor;          // with the chosen plan's ring
  uint64_t memory_bytes = 0;  // predicted memory of the run under the plan
  bool needs_repack = false;  // some placement needs the chunk stored otherwise
  std::vector<PlanCandidate> candidates;
};

// Places every chunk. Exactly one of budget_bytes / target_tps must be set. A budget below the
// floor is kInvalidArgument naming the minimum ("--mem-budget 10.0 MiB is below the minimum
// of 92.0 MiB (...)"), checked before any search; a target above what even an all-resident-raw
// plan predicts is refused naming that maximum. Candidates: the uniform tiers, the paper's
// "compress the last of every N chunks" for several N (held in RAM, streamed, and held up to
// the budget then streamed), and a greedy that upgrades chunks by predicted time saved per
// byte (the lower convex hull of each chunk's placements). The best prediction that fits wins
// (budget), or the least memory that reaches the target.
// `input` is planner_input(container, options).
Expected<PlannerResult> make_plan(const ModelContainer& container, const PlannerInput& input,
                                  const MachineProfile& profile, const PlannerOptions& options);

// The throughput model's figures for an existing plan on this file (the plan must match the
// file's tensors and chunks; its placements may need a repack: sizes then come from
// planner_input's estimates).
Expected<PlannerResult> predict_plan(const ModelContainer& container, const PlannerInput& input,
                                     const PartialCompressionPlan& plan,
                                     const MachineProfile& profile, const PlannerOptions& options);

// The floor, checked: kInvalidArgument naming the minimum when `budget` is below it.
Status check_budget(const MemoryFloor& floor, uint64_t budget, std::string_view file);

}  // namespace dcllm
