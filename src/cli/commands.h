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
void add_compress_command(CLI::App& app, Action& action);
void add_run_command(CLI::App& app, Action& action);
void add_ppl_command(CLI::App& app, Action& action);
// `bench run`, attached by add_bench_command to its `bench` subcommand.
void add_bench_run_command(CLI::App& bench, Action& action);
// `inspect` on model files (.bin, .gguf, ...); cmd_inspect.cpp handles .dcllm and calls this
// for anything else.
Status inspect_model_file(const std::string& path, bool json);

}  // namespace dcllm::cli
