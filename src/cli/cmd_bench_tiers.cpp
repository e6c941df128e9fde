// `dcllm bench tiers MODEL.dcllm [--budgets 1,0.75,0.5,0.25] [--json]`: the memory tiers and
// the planner's plans side by side, measured (each row in its own process) and predicted.
// JSON: {"model", "profile", "int8_bytes", "stored_bytes", "compression_ratio",
// "decode_seconds_per_token", "rows": [{"tier", "plan", "strategy", "budget_bytes",
// "budget_fraction", "prompt_tokens_per_second", "generation_tokens_per_second",
// "peak_rss_bytes", "predicted_tokens_per_second", "predicted_prompt_tokens_per_second",
// "predicted_memory_bytes", "predicted_seconds": {"load", "decode", "compute", "other"},
// "error"}], "checks": [{"name", "passed", "detail"}]}; a figure a row did not measure is null.
#include <fmt/core.h>
#include <unistd.h>

#include <climits>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/commands.h"
#include "core/byte_size.h"
#include "core/progress.h"
#include "dcllm/container.h"
#include "eval/machine_profile.h"
#include "eval/tiers_benchmark.h"

namespace dcllm::cli {
namespace {

struct BenchTiersArgs {
  std::string model;
  std::string profile;
  std::vector<double> budgets = {1.0, 0.75, 0.5, 0.25};
  int64_t prompt_tokens = 128;
  int64_t gen_tokens = 64;
  unsigned threads = 2;
  bool json = false;
  bool progress = true;  // --no-progress clears it
  double row_timeout_s = 900;
};

std::string self_executable() {
  char buf[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

nlohmann::json optional_number(bool has, double v) {
  return has ? nlohmann::json(v) : nlohmann::json(nullptr);
}

Status bench_tiers(const BenchTiersArgs& a) {
  for (double f : a.budgets)
    if (!(f > 0) || f > 16)
      return InvalidArgument(fmt::format("--budgets: {} is not a fraction in (0, 16]", f));
  if (a.prompt_tokens < 1 || a.gen_tokens < 2)
    return InvalidArgument("bench tiers: --prompt-tokens >= 1 and --gen-tokens >= 2");
  DCLLM_ASSIGN_OR_RETURN(bool is_dcllm, is_container_file(a.model));
  if (!is_dcllm)
    return InvalidArgument(a.model + ": not a .dcllm model (bench tiers compares its tiers)");
  TiersOptions o;
  o.budgets = a.budgets;
  o.shape.prompt_tokens = a.prompt_tokens;
  o.shape.gen_tokens = a.gen_tokens;
  o.threads = a.threads;
  o.dcllm_binary = self_executable();
  o.row_timeout_s = a.row_timeout_s;
  std::string from;
  DCLLM_ASSIGN_OR_RETURN(MachineProfile profile,
                         resolve_machine_profile(a.profile, a.threads, &from));
  {
    DCLLM_ASSIGN_OR_RETURN(ModelContainer c, ModelContainer::open(a.model));
    DCLLM_ASSIGN_OR_RETURN(const double model_decode, calibrate_decode_to_model(c, profile));
    if (model_decode > 0)
      from += fmt::format("; rANS decode scaled to this model's chunks ({:.0f} MB/s, 1 thread)",
                          model_decode);
    DCLLM_ASSIGN_OR_RETURN(const double model_gemv, calibrate_gemv_to_model(c, profile, a.threads));
    if (model_gemv > 0)
      from += fmt::format("; INT8 GEMV measured on this model's matrices ({:.0f} MB/s, {} threads)",
                          model_gemv, a.threads);
  }
  TiersReport rep;
  {
    // Scoped: the line ends before the report (or main()'s error line) is printed.
    Progress progress("bench tiers", a.progress);
    o.on_progress = [&progress](int64_t done, int64_t total) { progress.update(done, total); };
    DCLLM_ASSIGN_OR_RETURN(rep, run_tiers_benchmark(a.model, profile, from, o));
  }
  const std::vector<TierCheck> checks = tiers_checks(rep);
  if (a.json) {
    nlohmann::json rows = nlohmann::json::array();
    for (const TierRow& r : rep.rows) {
      const bool m = r.measured.has_value();
      nlohmann::json j = {
          {"tier", r.tier},
          {"plan", r.plan},
          {"strategy", r.strategy},
          {"budget_bytes", r.budget_bytes},
          {"budget_fraction", r.budget_fraction},
          {"prompt_tokens_per_second",
           optional_number(m, m ? r.measured->prompt_tokens_per_second : 0)},
          {"generation_tokens_per_second",
           optional_number(m, m ? r.measured->generation_tokens_per_second : 0)},
          {"peak_rss_bytes",
           m ? nlohmann::json(r.measured->peak_rss_bytes) : nlohmann::json(nullptr)},
          {"predicted_tokens_per_second", r.predicted_tokens_per_second},
          {"predicted_prompt_tokens_per_second", r.predicted_prompt_tokens_per_second},
          {"predicted_memory_bytes", r.predicted_memory_bytes},
          {"predicted_seconds",
           {{"load", r.predicted_stages.load},
            {"decode", r.predicted_stages.decode},
            {"compute", r.predicted_stages.compute},
            {"other", r.predicted_stages.other}}}};
      if (m && !r.measured->source.empty()) j["weights_source"] = r.measured->source;
      if (!r.error.empty()) j["error"] = r.error;
      rows.push_back(std::move(j));
    }
    nlohmann::json cs = nlohmann::json::array();
    for (const TierCheck& k : checks)
      cs.push_back({{"name", k.name},
                    {"passed", k.passed ? nlohmann::json(*k.passed) : nlohmann::json(nullptr)},
                    {"detail", k.detail}});
    const nlohmann::json out = {{"model", rep.model},
                                {"profile", rep.profile},
                                {"int8_bytes", rep.int8_bytes},
                                {"stored_bytes", rep.stored_bytes},
                                {"compression_ratio", rep.compression_ratio},
                                {"decode_seconds_per_token", rep.decode_seconds_per_token},
                                {"rows", rows},
                                {"checks", cs}};
    fmt::print("{}\n", out.dump());
    return Status::Ok();
  }
  fmt::print("model    {} (INT8 {:.1f} MB, stored {:.1f} MB, CR {:.3f} vs INT8)\n", rep.model,
             rep.int8_bytes / 1e6, rep.stored_bytes / 1e6, rep.compression_ratio);
  fmt::print("profile  {}\n", rep.profile);
  fmt::print("decode   {:.1f} ms per token (every coded chunk once, 1 thread, this process)\n\n",
             rep.decode_seconds_per_token * 1e3);
  fmt::print("{:<10} {:<10} {:>6} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}  {}\n", "tier", "plan",
             "budget", "budget MB", "prompt/s", "gen/s", "pred gen/s", "RSS MB", "pred MB",
             "strategy / note");
  for (const TierRow& r : rep.rows) {
    const bool m = r.measured.has_value();
    fmt::print("{:<10} {:<10} {:>6} {:>10} {:>10} {:>10} {:>10.2f} {:>10} {:>10.1f}  {}\n", r.tier,
               r.plan, r.budget_bytes ? fmt::format("{:.2f}", r.budget_fraction) : "-",
               r.budget_bytes ? fmt::format("{:.1f}", r.budget_bytes / 1e6) : "-",
               m ? fmt::format("{:.1f}", r.measured->prompt_tokens_per_second) : "-",
               m ? fmt::format("{:.2f}", r.measured->generation_tokens_per_second) : "-",
               r.predicted_tokens_per_second,
               m ? fmt::format("{:.1f}", r.measured->peak_rss_bytes / 1e6) : "-",
               r.predicted_memory_bytes / 1e6, r.error.empty() ? r.strategy : r.error);
  }
  fmt::print("\n");
  for (const TierCheck& k : checks)
    fmt::print("[{}] {}{}{}\n", k.passed ? (*k.passed ? "pass" : "FAIL") : " -- ", k.name,
               k.detail.empty() ? "" : ": ", k.detail);
  return Status::Ok();
}

}  // namespace

void add_bench_tiers_command(CLI::App& bench, Action& action) {
  auto a = std::make_shared<BenchTiersArgs>();
  auto* cmd = bench.add_subcommand(
      "tiers",
      "Resident, compressed, and the planner's plan and a raw-streaming baseline at each memory "
      "budget: measured (one process per row) next to the throughput model");
  cmd->add_option("model", a->model, ".dcllm model")->required()->check(CLI::ExistingFile);
  cmd->add_option("--budgets", a->budgets, "Budgets as fractions of the INT8 weight bytes")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--profile", a->profile,
                  "Machine profile (default: " + default_machine_profile_path() +
                      " if it exists, else measured now)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--prompt-tokens", a->prompt_tokens, "Prompt length of each row's run")
      ->capture_default_str();
  cmd->add_option("--gen-tokens", a->gen_tokens, "Generated tokens of each row's run")
      ->capture_default_str();
  cmd->add_option("--threads", a->threads, "Worker threads of each row's run")
      ->capture_default_str()
      ->check(CLI::Range(1u, 256u));
  cmd->add_flag("--json", a->json, "Print one JSON object whose \"rows\" is the table");
  cmd->add_flag("!--no-progress", a->progress, "No progress line on the terminal");
  cmd->add_option("--row-timeout", a->row_timeout_s,
                  "Seconds a row's child may run before it is killed (the row then fails)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->callback([&action, a] { action = [a] { return bench_tiers(*a); }; });
}

}  // namespace dcllm::cli
