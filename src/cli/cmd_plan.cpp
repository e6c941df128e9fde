// `dcllm plan MODEL.dcllm (--mem-budget SIZE | --target-tps T)`: places every INT8 chunk
// (resident-raw, resident-coded, stream-coded, stream-raw) for the best predicted tokens/s under
// a memory budget, or the least memory at a target (docs/runtime.md "Plans"). -o writes the
// plan file; --json prints it with the planner's figures (memory_bytes, minimum_bytes,
// needs_repack, profile, candidates) added as extra top-level keys.
#include <fmt/core.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/commands.h"
#include "core/byte_size.h"
#include "core/file_identity.h"
#include "dcllm/container.h"
#include "eval/machine_profile.h"
#include "runtime/partial_compression_planner.h"

namespace dcllm::cli {
namespace {

struct PlanArgs {
  std::string model;
  std::string profile;
  std::string budget;
  double target_tps = 0;
  std::string output;
  bool json = false;
  int64_t prompt_tokens = 128;
  int64_t gen_tokens = 64;
  unsigned threads = 2;
};

Status plan(const PlanArgs& a) {
  PlannerOptions o;
  if (!a.budget.empty()) {
    DCLLM_ASSIGN_OR_RETURN(o.budget_bytes, parse_byte_size(a.budget, "--mem-budget"));
    if (o.budget_bytes == 0) return InvalidArgument("--mem-budget: must be more than 0 bytes");
  }
  o.target_tps = a.target_tps;
  if ((o.budget_bytes > 0) == (o.target_tps > 0))
    return InvalidArgument("plan: give exactly one of --mem-budget SIZE and --target-tps T");
  if (a.prompt_tokens < 1 || a.gen_tokens < 1)
    return InvalidArgument("plan: --prompt-tokens and --gen-tokens must be at least 1");
  o.shape.prompt_tokens = a.prompt_tokens;
  o.shape.gen_tokens = a.gen_tokens;
  DCLLM_ASSIGN_OR_RETURN(bool is_dcllm, is_container_file(a.model));
  if (!is_dcllm)
    return InvalidArgument(a.model + ": not a .dcllm model (plan places the chunks of a .dcllm)");
  // Before any work: an output that cannot be written, or that is the model itself.
  if (!a.output.empty()) DCLLM_RETURN_IF_ERROR(check_output_path(a.output, {a.model, a.profile}));
  DCLLM_ASSIGN_OR_RETURN(ModelContainer c, ModelContainer::open(a.model));
  // The budget is checked against the floor here, before any profile is measured.
  DCLLM_ASSIGN_OR_RETURN(PlannerInput input, planner_input(c, o));
  std::string profile_from;
  DCLLM_ASSIGN_OR_RETURN(MachineProfile profile,
                         resolve_machine_profile(a.profile, a.threads, &profile_from));
  DCLLM_ASSIGN_OR_RETURN(const double model_decode, calibrate_decode_to_model(c, profile));
  if (model_decode > 0)
    profile_from += fmt::format(
        "; rANS decode scaled to this model's chunks ({:.0f} MB/s, 1 thread)", model_decode);
  DCLLM_ASSIGN_OR_RETURN(PlannerResult r, make_plan(c, input, profile, o));
  if (!a.output.empty()) DCLLM_RETURN_IF_ERROR(write_plan_file(r.plan, a.output));

  uint64_t minimum = 0;
  for (const PlanCandidate& k : r.candidates)
    minimum = minimum ? std::min(minimum, k.memory_bytes) : k.memory_bytes;
  if (a.json) {
    nlohmann::json j = plan_to_json(r.plan);
    j["model"] = a.model;
    j["memory_bytes"] = r.memory_bytes;
    j["minimum_bytes"] = minimum;
    j["needs_repack"] = r.needs_repack;
    j["profile"] = profile_from;
    j["predicted_prompt_tokens_per_second"] = r.prediction.prompt_tokens_per_second;
    j["stages_seconds"] = {{"load", r.prediction.stages.load},
                           {"decode", r.prediction.stages.decode},
                           {"compute", r.prediction.stages.compute},
                           {"other", r.prediction.stages.other}};
    nlohmann::json cands = nlohmann::json::array();
    for (const PlanCandidate& k : r.candidates)
      cands.push_back({{"strategy", k.strategy},
                       {"predicted_tokens_per_second", k.predicted_tokens_per_second},
                       {"memory_bytes", k.memory_bytes},
                       {"fits", k.fits}});
    j["candidates"] = std::move(cands);
    fmt::print("{}\n", j.dump());
    return Status::Ok();
  }
  size_t counts[4] = {0, 0, 0, 0};
  for (const PlannedChunk& ch : r.plan.chunks) ++counts[static_cast<size_t>(ch.placement)];
  fmt::print("model       {} ({} INT8 chunks)\n", a.model, r.plan.chunks.size());
  fmt::print("profile     {}\n", profile_from);
  if (o.budget_bytes)
    fmt::print("goal        fastest within --mem-budget {}\n", format_byte_size(o.budget_bytes));
  else
    fmt::print("goal        least memory at --target-tps {:.2f}\n", o.target_tps);
  fmt::print("chosen      {}: {:.2f} tokens/s predicted (prompt {:.1f}), memory {}\n",
             r.plan.strategy, r.plan.predicted_tokens_per_second,
             r.prediction.prompt_tokens_per_second, format_byte_size(r.memory_bytes));
  fmt::print("placements  resident-raw {}, resident-coded {}, stream-coded {}, stream-raw {}\n",
             counts[0], counts[1], counts[2], counts[3]);
  fmt::print("INT8 bytes  {} held, {} read per token\n", format_byte_size(r.plan.resident_bytes),
             format_byte_size(r.plan.streamed_bytes));
  const StageTimes& s = r.prediction.stages;
  if (s.decode_on_compute_threads)
    fmt::print(
        "per token   reads {:.1f} ms (reader thread) vs compute {:.1f} ms + decode {:.1f} ms "
        "+ other {:.1f} ms (compute threads); pipeline {:.1f} ms\n",
        s.load * 1e3, s.compute * 1e3, s.decode * 1e3, s.other * 1e3,
        r.prediction.token_seconds * 1e3);
  else
    fmt::print(
        "per token   load {:.1f} ms + decode {:.1f} ms (prefetch) vs compute {:.1f} ms + "
        "other {:.1f} ms; pipeline {:.1f} ms\n",
        s.load * 1e3, s.decode * 1e3, s.compute * 1e3, s.other * 1e3,
        r.prediction.token_seconds * 1e3);
  if (r.needs_repack)
    fmt::print(
        "note        some chunks are stored otherwise than placed: dcllm repack {} -o OUT "
        "--plan PLAN.json rewrites them\n",
        a.model);
  fmt::print("\n{:<34} {:>12} {:>14}  {}\n", "candidate", "tokens/s", "memory", "fits");
  for (const PlanCandidate& k : r.candidates)
    fmt::print("{:<34} {:>12.2f} {:>14}  {}\n", k.strategy, k.predicted_tokens_per_second,
               fmt::format("{:.1f} MiB", static_cast<double>(k.memory_bytes) / 1048576.0),
               k.fits ? "yes" : "no");
  if (!a.output.empty()) fmt::print("\nplan written to {}\n", a.output);
  return Status::Ok();
}

}  // namespace

void add_plan_command(CLI::App& app, Action& action) {
  auto a = std::make_shared<PlanArgs>();
  auto* cmd = app.add_subcommand(
      "plan",
      "Place every INT8 chunk of a .dcllm (resident-raw, resident-coded, stream-coded, "
      "stream-raw) for the best predicted tokens/s under --mem-budget, or the least memory at "
      "--target-tps");
  cmd->add_option("model", a->model, ".dcllm model")->required()->check(CLI::ExistingFile);
  cmd->add_option("--profile", a->profile,
                  "Machine profile from `dcllm bench machine -o` (default: " +
                      default_machine_profile_path() + " if it exists, else measured now)")
      ->check(CLI::ExistingFile);
  auto* budget = cmd->add_option("--mem-budget", a->budget,
                                 "Memory the whole run may use (bytes, or with KiB/MiB/GiB)");
  auto* target = cmd->add_option("--target-tps", a->target_tps, "Generation tokens/s to reach")
                     ->check(CLI::PositiveNumber);
  budget->excludes(target);
  cmd->add_option("-o,--output", a->output, "Write the plan (JSON) here");
  cmd->add_flag("--json", a->json, "Print the plan and the planner's figures as one JSON object");
  cmd->add_option("--prompt-tokens", a->prompt_tokens, "Prompt length the prediction is for")
      ->capture_default_str();
  cmd->add_option("--gen-tokens", a->gen_tokens, "Generated tokens the prediction is for")
      ->capture_default_str();
  cmd->add_option("--threads", a->threads, "GEMM threads (when the profile is measured now)")
      ->capture_default_str()
      ->check(CLI::Range(1u, 256u));
  cmd->callback([&action, a] { action = [a] { return plan(*a); }; });
}

}  // namespace dcllm::cli
