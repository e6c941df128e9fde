// STUB (to be replaced by its owner): `bench run` and model inspect.
#include "cli/commands.h"

namespace dcllm::cli {

void add_bench_run_command(CLI::App& bench, Action& action) {
  auto* cmd = bench.add_subcommand("run", "(not yet implemented)");
  cmd->callback([&action] { action = [] { return Unsupported("bench run: not implemented yet"); }; });
}

Status inspect_model_file(const std::string& path, bool) {
  return Unsupported(path + ": model inspect not implemented yet");
}

}  // namespace dcllm::cli
