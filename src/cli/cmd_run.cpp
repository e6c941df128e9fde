// `dcllm run MODEL -p TEXT -n N`: generates text with the forward pass (float32, or W8A8 on a
// .dcllm, whose INT8 weights --weights places: resident, compressed or stream).
// The prompt and the generated text go to stdout as they come; speeds go to stderr.
#include <cstdio>
#include <string>

#include "cli/commands.h"
#include "model/dcllm_model_reader.h"
#include "model/model_loader.h"
#include "runtime/generate.h"
#include "runtime/transformer.h"

namespace dcllm::cli {
namespace {

struct RunArgs {
  std::string model;
  std::string tokenizer;
  std::string prompt;
  int64_t steps = 256;
  float temperature = 0.8f;
  uint64_t seed = 42;
  unsigned threads = 2;
  std::string weights = "resident";
};

Status run(const RunArgs& a) {
  LoadOptions load;
  load.tokenizer_path = a.tokenizer;
  load.threads = a.threads;
  DCLLM_ASSIGN_OR_RETURN(WeightTier tier, parse_weight_tier(a.weights));
  DCLLM_ASSIGN_OR_RETURN(Model model, load_model_with_weights(a.model, load, tier));
  DCLLM_ASSIGN_OR_RETURN(Tokenizer tokenizer, tokenizer_for(model));

  // The cache only needs to hold the prompt and what we generate.
  const int64_t prompt_tokens = static_cast<int64_t>(tokenizer.encode(a.prompt, true).size()) + 1;
  TransformerOptions topts;
  topts.threads = a.threads;
  topts.max_seq = std::min(model.config.seq_len, prompt_tokens + a.steps);
  DCLLM_ASSIGN_OR_RETURN(Transformer transformer, Transformer::create(model, topts));

  GenerateOptions g;
  g.max_new_tokens = a.steps;
  g.temperature = a.temperature;
  g.seed = a.seed;
  std::fwrite(a.prompt.data(), 1, a.prompt.size(), stdout);
  std::fflush(stdout);
  DCLLM_ASSIGN_OR_RETURN(GenerateStats stats,
                         generate(transformer, tokenizer, a.prompt, g, [](std::string_view piece) {
                           std::fwrite(piece.data(), 1, piece.size(), stdout);
                           std::fflush(stdout);
                         }));
  std::fputc('\n', stdout);
  std::fflush(stdout);
  std::fprintf(stderr, "prompt: %lld tokens, %.1f tok/s; generation: %lld tokens, %.1f tok/s\n",
               static_cast<long long>(stats.prompt_tokens), stats.prompt_tokens_per_second(),
               static_cast<long long>(stats.generated_tokens), stats.generated_tokens_per_second());
  return Status::Ok();
}

}  // namespace

void add_run_command(CLI::App& app, Action& action) {
  auto args = std::make_shared<RunArgs>();
  auto* cmd =
      app.add_subcommand("run", "Generate text from a prompt with a model (.bin, .gguf, .dcllm)");
  cmd->add_option("model", args->model,
                  "Model: llama2.c .bin, .gguf, .dcllm, or a Hugging Face directory")
      ->required();
  cmd->add_option("--tokenizer", args->tokenizer,
                  "llama2.c tokenizer.bin (for .bin models; default: tokenizer.bin beside it)");
  cmd->add_option("-p,--prompt", args->prompt, "Prompt text (default: empty, start from BOS)");
  cmd->add_option("-n,--steps", args->steps, "Number of tokens to generate")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--temp", args->temperature, "Sampling temperature; 0 = greedy")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--seed", args->seed, "Random seed for sampling")->capture_default_str();
  cmd->add_option("--threads", args->threads, "Worker threads")
      ->capture_default_str()
      ->check(CLI::Range(1u, 256u));
  cmd->add_option("--weights", args->weights, kWeightsHelp)
      ->capture_default_str()
      ->check(CLI::IsMember(kWeightTiers));
  cmd->callback([&action, args] { action = [args] { return run(*args); }; });
}

}  // namespace dcllm::cli
