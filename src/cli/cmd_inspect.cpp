// STUB (to be replaced by its owner): the `inspect` verb.
#include "cli/commands.h"

namespace dcllm::cli {

void add_inspect_command(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("inspect", "(not yet implemented)");
  cmd->callback([&action] { action = [] { return Unsupported("inspect: not implemented yet"); }; });
}

}  // namespace dcllm::cli
