// STUB (to be replaced by its owner): the `verify` verb.
#include "cli/commands.h"

namespace dcllm::cli {

void add_verify_command(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("verify", "(not yet implemented)");
  cmd->callback([&action] { action = [] { return Unsupported("verify: not implemented yet"); }; });
}

}  // namespace dcllm::cli
