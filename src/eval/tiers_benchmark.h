// `dcllm bench tiers`: one run over the memory tiers of a .dcllm — resident, compressed, the
// planner's plan at each budget and a raw-streaming baseline at each budget — each row measured
// in its own process (so its peak RSS is its own) next to the throughput model's prediction.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "dcllm/status.h"
#include "runtime/partial_compression_plan.h"
#include "runtime/partial_compression_planner.h"
#include "runtime/throughput_model.h"

namespace dcllm {

struct TiersOptions {
  std::vector<double> budgets = {1.0, 0.75, 0.5, 0.25};  // fractions of the INT8 weight bytes
  RunShape shape;
  unsigned threads = 2;
  // The dcllm executable that runs each row (`bench run ... --json`), normally this process's.
  std::string dcllm_binary;
  // Scratch directory for repacked files and plans (default: beside the model).
  std::string scratch_dir;
  // A row's child (repack, bench run) still running after this long is killed; the row fails.
  double row_timeout_s = 900;
  // Called with (rows done, rows in all): once before the first row (each row runs for seconds),
  // then after each row.
  std::function<void(int64_t done, int64_t total)> on_progress = {};
};

// What one row measured; figures are absent when the row did not run (`error` says why).
struct TierMeasurement {
  double prompt_tokens_per_second = 0;
  double generation_tokens_per_second = 0;
  uint64_t peak_rss_bytes = 0;
  std::string source;  // bench run's weights_source: which plan the child followed
};

struct TierRow {
  std::string tier;  // "resident", "compressed", "stream"
  // "resident", "compressed", "stream" (today's --weights tiers, no budget), then per budget
  // "planned" and "stream-raw"
  std::string plan;
  std::string strategy;       // the planner's candidate for "planned" / "stream-raw" rows
  uint64_t budget_bytes = 0;  // 0 for the resident and compressed rows
  double budget_fraction = 0;
  std::optional<TierMeasurement> measured;
  std::string error;  // why the row has no measurement
  // The throughput model on the row's placement.
  double predicted_tokens_per_second = 0;
  double predicted_prompt_tokens_per_second = 0;
  uint64_t predicted_memory_bytes = 0;
  StageTimes predicted_stages;  // per generated token, each stage alone
};

struct TiersReport {
  std::string model;
  std::string profile;           // where the profile came from
  uint64_t int8_bytes = 0;       // INT8 weight bytes (values) of the file
  uint64_t stored_bytes = 0;     // their stored bytes
  double compression_ratio = 0;  // int8 / stored
  // Measured in this process: one decode of every coded chunk (1 thread) — the decode work of
  // one compressed-tier token — to compare the compressed row's token time with.
  double decode_seconds_per_token = 0;
  std::vector<TierRow> rows;
};

// Runs a plan on the model in a child process. A uniform plan the file serves as it is runs as
// today's tier (`bench run --weights resident|compressed|stream`); any other is written out,
// the file repacked to it (`dcllm repack M -o R --plan P`, in options.scratch_dir, removed
// afterwards) and R run with `bench run R --weights stream --mem-budget B`, which follows the
// plan stored in R.
Expected<TierMeasurement> run_with_plan(const std::string& model,
                                        const PartialCompressionPlan& plan, uint64_t budget_bytes,
                                        const TiersOptions& options);

// The whole benchmark. A budget below the model's floor gives rows with that error; a row whose
// child fails keeps the child's one-line error.
Expected<TiersReport> run_tiers_benchmark(const std::string& model, const MachineProfile& profile,
                                          const std::string& profile_source,
                                          const TiersOptions& options);

// The targets, each from this one run: passed is empty when the rows it needs did not
// run. `detail` gives the figures compared.
struct TierCheck {
  std::string name;
  std::optional<bool> passed;
  std::string detail;
};
std::vector<TierCheck> tiers_checks(const TiersReport& report);

}  // namespace dcllm
