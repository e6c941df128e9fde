// The --weights / --mem-budget options of run, ppl and bench run, parsed into a WeightRequest.
// No profile is measured here: a run should not spend seconds benchmarking the machine.
#include "cli/weights_options.h"

#include <sys/stat.h>

#include "cli/commands.h"
#include "core/byte_size.h"
#include "eval/machine_profile.h"

namespace dcllm::cli {

void add_weights_options(CLI::App* cmd, WeightsArgs& a) {
  cmd->add_option("--weights", a.weights, kWeightsHelp)->check(CLI::IsMember(kWeightTiers));
  cmd->add_option("--mem-budget", a.mem_budget,
                  "Cap on the run's memory (bytes, or with KiB/MiB/GiB) for --weights stream: "
                  "chunks that fit stay in RAM as the plan says, the rest are streamed; a budget "
                  "below the run's minimum is refused, naming it");
}

Expected<WeightRequest> weight_request(const WeightsArgs& a, const RunShape& shape,
                                       unsigned threads) {
  WeightRequest r;
  if (!a.weights.empty()) {
    DCLLM_ASSIGN_OR_RETURN(WeightTier tier, parse_weight_tier(a.weights));
    r.tier = tier;
  }
  if (!a.mem_budget.empty()) {
    DCLLM_ASSIGN_OR_RETURN(r.budget_bytes, parse_byte_size(a.mem_budget, "--mem-budget"));
    if (r.budget_bytes == 0) return InvalidArgument("--mem-budget: must be more than 0 bytes");
  }
  r.shape = shape;
  r.threads = threads;
  const std::string profile = default_machine_profile_path();
  struct stat st {};
  if (!profile.empty() && ::stat(profile.c_str(), &st) == 0 && S_ISREG(st.st_mode))
    r.profile = [profile] { return read_machine_profile(profile); };
  return r;
}

}  // namespace dcllm::cli
