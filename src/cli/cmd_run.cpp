// STUB (to be replaced by its owner): the `run` verb.
#include "cli/commands.h"

namespace dcllm::cli {

void add_run_command(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("run", "(not yet implemented)");
  cmd->callback([&action] { action = [] { return Unsupported("run: not implemented yet"); }; });
}

}  // namespace dcllm::cli
