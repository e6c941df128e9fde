// The CLI verbs: each file cmd_<verb>.cpp adds one subcommand to the app and runs it.
// main.cpp only wires them together; errors reach the user as one line on stderr.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <stdexcept>
#include <string>

#include "dcllm/status.h"

namespace dcllm::cli {

// A verb registers its options on `app` and returns the action to run once parsing succeeded.
using Action = std::function<Status()>;

void add_bench_command(CLI::App& app, Action& action);
void add_inspect_command(CLI::App& app, Action& action);
void add_verify_command(CLI::App& app, Action& action);

}  // namespace dcllm::cli
