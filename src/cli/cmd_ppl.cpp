// STUB (to be replaced by its owner): the `ppl` verb.
#include "cli/commands.h"

namespace dcllm::cli {

void add_ppl_command(CLI::App& app, Action& action) {
  auto* cmd = app.add_subcommand("ppl", "(not yet implemented)");
  cmd->callback([&action] { action = [] { return Unsupported("ppl: not implemented yet"); }; });
}

}  // namespace dcllm::cli
