// --weights and --mem-budget, shared by run, ppl and bench run: the options, and the
// WeightRequest they make (docs/runtime.md "Following a plan").
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "dcllm/status.h"
#include "runtime/weight_plan.h"

namespace dcllm::cli {

struct WeightsArgs {
  std::string weights;     // "" = not given
  std::string mem_budget;  // "" = none
};

// Adds --weights TIER and --mem-budget SIZE to `cmd`.
void add_weights_options(CLI::App* cmd, WeightsArgs& args);

// The request for a run of `shape` on `threads` threads. --mem-budget is parsed with
// parse_byte_size; a machine profile for planning is read from the default profile path
// (default_machine_profile_path(), written by `dcllm bench machine -o`) when that file exists.
Expected<WeightRequest> weight_request(const WeightsArgs& args, const RunShape& shape,
                                       unsigned threads);

}  // namespace dcllm::cli
