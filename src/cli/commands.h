// The CLI verbs: each file cmd_<verb>.cpp adds one subcommand to the app and runs it.
// main.cpp only wires them together; errors reach the user as one line on stderr.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "dcllm/status.h"

namespace dcllm::cli {

// --weights of run, ppl and bench run (docs/runtime.md).
inline constexpr const char* kWeightsHelp =
    "Where a .dcllm's INT8 weights live while it runs: resident (decoded once at load), "
    "compressed (the stored chunk bytes in RAM, decoded just before each use), stream (read from "
    "the file on each use, O_DIRECT where possible); compressed and stream need a .dcllm. "
    "Default: the plan stored in the file (dcllm repack), else resident";
inline const std::vector<std::string> kWeightTiers = {"resident", "compressed", "stream"};

// -t/--threads of every verb that runs the model: 0 = all hardware threads.
inline constexpr const char* kThreadsHelp = "Worker threads (0 = all hardware threads)";
unsigned resolve_threads(unsigned threads);  // 0 -> std::thread::hardware_concurrency()

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
void add_bench_machine_command(CLI::App& bench, Action& action);  // cmd_bench_machine.cpp
void add_bench_tiers_command(CLI::App& bench, Action& action);    // cmd_bench_tiers.cpp
void add_bench_gpu_command(CLI::App& bench, Action& action);      // cmd_bench_gpu.cpp
void add_plan_command(CLI::App& app, Action& action);             // cmd_plan.cpp
void add_bench_fused_command(CLI::App& bench, Action& action);    // cmd_bench_fused.cpp
void add_repack_command(CLI::App& app, Action& action);           // cmd_repack.cpp
void add_serve_command(CLI::App& app, Action& action);            // cmd_serve.cpp
void add_export_command(CLI::App& app, Action& action);           // cmd_export.cpp
// `inspect` on model files (.bin, .gguf, ...); cmd_inspect.cpp handles .dcllm and calls this
// for anything else.
Status inspect_model_file(const std::string& path, bool json);

}  // namespace dcllm::cli
