// `dcllm repack IN.dcllm -o OUT.dcllm --plan PLAN.json`: rewrites chunks coded <-> raw as the
// plan's placements need (lossless) and stores the plan, which run/ppl/bench run then follow.
#include <fmt/core.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/commands.h"
#include "core/parallel.h"
#include "core/temp_files.h"
#include "runtime/partial_compression_plan.h"
#include "runtime/repack.h"

namespace dcllm::cli {
namespace {

struct RepackArgs {
  std::string input, output, plan;
  RepackOptions o;
  bool json = false;
};

Status repack(const RepackArgs& a) {
  // Ctrl-C or a TERM must not leave a half-written temporary file beside the output.
  install_temp_cleanup_handlers();
  DCLLM_ASSIGN_OR_RETURN(PartialCompressionPlan plan, read_plan_file(a.plan));
  DCLLM_ASSIGN_OR_RETURN(RepackReport r, repack_container(a.input, a.output, plan, a.o));
  if (a.json) {
    nlohmann::json j = {{"input", a.input},
                        {"output", a.output},
                        {"plan", a.plan},
                        {"chunks", r.chunks},
                        {"to_raw", r.to_raw},
                        {"to_coded", r.to_coded},
                        {"input_bytes", r.in_bytes},
                        {"output_bytes", r.out_bytes},
                        {"int8_stored_bytes", r.stored_bytes}};
    fmt::print("{}\n", j.dump());
  } else {
    fmt::print(
        "{}: {} INT8 chunks, {} rewritten raw, {} rewritten coded; {} -> {} bytes "
        "(plan stored; run/ppl/bench run follow it by default)\n",
        a.output, r.chunks, r.to_raw, r.to_coded, r.in_bytes, r.out_bytes);
  }
  return Status::Ok();
}

}  // namespace

void add_repack_command(CLI::App& app, Action& action) {
  auto a = std::make_shared<RepackArgs>();
  a->o.threads = default_thread_count();
  auto* cmd = app.add_subcommand(
      "repack", "Rewrite a .dcllm's chunks coded or raw as a plan says, and store the plan");
  cmd->add_option("input", a->input, "The .dcllm to repack")->required();
  cmd->add_option("-o,--output", a->output, "Output .dcllm (written atomically; never the input)")
      ->required();
  cmd->add_option("--plan", a->plan, "PLAN.json from dcllm plan")->required();
  cmd->add_option("--codec", a->o.codec, "Codec for chunks that become coded")
      ->capture_default_str();
  cmd->add_option("--threads", a->o.threads, "Worker threads")->check(CLI::Range(1u, 256u));
  cmd->add_flag("--json", a->json, "Print the result as one JSON object");
  cmd->callback([&action, a] { action = [a] { return repack(*a); }; });
}

}  // namespace dcllm::cli
