// STUB (to be replaced by its owner): the `bench` verb.
#include "cli/commands.h"

namespace dcllm::cli {

void add_bench_command(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("bench", "(not yet implemented)");
  cmd->callback([&action] { action = [] { return Unsupported("bench: not implemented yet"); }; });
}

}  // namespace dcllm::cli
