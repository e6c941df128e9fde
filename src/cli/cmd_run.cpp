// `dcllm run MODEL -p TEXT -n N`: generates text with the forward pass (float32, or W8A8 on a
// .dcllm, whose INT8 weights --weights places: resident, compressed or stream). Options follow
// llama.cpp's CLI (-m -p -f -n -c -t -s, its samplers); the seed is drawn and printed unless given.
// The prompt and the generated text go to stdout as they come (or one JSON object with --json);
// speeds go to stderr.
#include <cstdio>
#include <random>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/run_chat.h"
#include "cli/weights_options.h"
#include "core/text_file.h"
#include "model/dcllm_model_reader.h"
#include "model/model_loader.h"
#include "runtime/generate.h"
#include "runtime/transformer.h"
#include "runtime/weight_plan.h"

namespace dcllm::cli {

unsigned resolve_threads(unsigned threads) {
  if (threads != 0) return threads;
  return std::max(1u, std::thread::hardware_concurrency());
}

namespace {

struct RunArgs {
  std::string model;
  std::string tokenizer;
  std::string prompt;
  std::string prompt_file;
  int64_t steps = 256;
  int64_t ctx = 0;  // 0 = the model's
  GenerateOptions sampling{.temperature = 0.8f};
  bool seed_given = false;
  unsigned threads = 2;
  WeightsArgs weights;
  bool json = false;
  bool chat = false;  // --chat (cli/run_chat.h)
  std::string system_prompt, chat_template;
};

Status run(RunArgs a) {
  if (a.model.empty()) return InvalidArgument("run: no model given (MODEL or -m MODEL)");
  if (!a.prompt_file.empty()) {
    if (!a.prompt.empty()) return InvalidArgument("run: give -p or -f, not both");
    DCLLM_ASSIGN_OR_RETURN(a.prompt, read_text_file(a.prompt_file));
  }
  if (!a.seed_given) a.sampling.seed = std::random_device{}();

  LoadOptions load;
  load.tokenizer_path = a.tokenizer;
  load.threads = resolve_threads(a.threads);
  // The floor of a --mem-budget needs the context: the prompt has at most one token per byte.
  RunShape shape;
  shape.prompt_tokens = static_cast<int64_t>(a.prompt.size()) + 2;
  shape.gen_tokens = a.steps;
  DCLLM_ASSIGN_OR_RETURN(WeightRequest wr, weight_request(a.weights, shape, load.threads));
  DCLLM_ASSIGN_OR_RETURN(Model model, load_model_placed(a.model, load, wr));
  // Like llama.cpp, say which seed a sampled run used, so it can be repeated (after the load, so
  // a bad model still gives a one-line error).
  if (a.sampling.temperature > 0.0f)
    std::fprintf(stderr, "seed: %llu\n", static_cast<unsigned long long>(a.sampling.seed));
  if (a.chat) {
    const GenerateOptions& g = a.sampling;
    return run_chat(std::move(model), {a.prompt,
                                       !a.prompt.empty() || !a.prompt_file.empty(),
                                       a.system_prompt,
                                       a.chat_template,
                                       a.steps,
                                       a.ctx,
                                       load.threads,
                                       {g.temperature, g.top_k, g.top_p, g.min_p, g.repeat_penalty,
                                        g.repeat_last_n, g.seed},
                                       a.json});
  }
  DCLLM_ASSIGN_OR_RETURN(Tokenizer tokenizer, tokenizer_for(model));

  // The cache only needs to hold the prompt and what we generate.
  const int64_t prompt_tokens = static_cast<int64_t>(tokenizer.encode(a.prompt, true).size()) + 1;
  int64_t max_seq = model.config.seq_len;
  if (a.ctx > 0) max_seq = std::min(max_seq, a.ctx);
  TransformerOptions topts;
  topts.threads = load.threads;
  topts.ring_slots = wr.ring_slots;
  topts.max_seq = std::min(max_seq, prompt_tokens + a.steps);
  DCLLM_ASSIGN_OR_RETURN(Transformer transformer, Transformer::create(model, topts));

  GenerateOptions g = a.sampling;
  g.max_new_tokens = a.steps;
  std::string text;
  if (!a.json) {
    std::fwrite(a.prompt.data(), 1, a.prompt.size(), stdout);
    std::fflush(stdout);
  }
  DCLLM_ASSIGN_OR_RETURN(GenerateStats stats,
                         generate(transformer, tokenizer, a.prompt, g, [&](std::string_view piece) {
                           if (a.json) {
                             text.append(piece);
                             return;
                           }
                           std::fwrite(piece.data(), 1, piece.size(), stdout);
                           std::fflush(stdout);
                         }));
  if (a.json) {
    nlohmann::ordered_json j;
    j["model"] = a.model;
    j["weights"] = std::string(transformer.weights().tier());
    j["prompt"] = a.prompt;
    j["text"] = text;
    j["seed"] = g.seed;
    j["prompt_tokens"] = stats.prompt_tokens;
    j["generated_tokens"] = stats.generated_tokens;
    j["prompt_tokens_per_second"] = stats.prompt_tokens_per_second();
    j["generation_tokens_per_second"] = stats.generated_tokens_per_second();
    std::printf("%s\n", j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    return Status::Ok();
  }
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
  const char* model_help = "Model: llama2.c .bin, .gguf, .dcllm, or a Hugging Face directory";
  cmd->add_option("model", args->model, model_help);
  cmd->add_option("-m,--model", args->model, model_help);
  cmd->add_option("--tokenizer", args->tokenizer,
                  "llama2.c tokenizer.bin (for .bin models; default: tokenizer.bin beside it)");
  cmd->add_option("-p,--prompt", args->prompt, "Prompt text (default: empty, start from BOS)");
  cmd->add_option("-f,--file", args->prompt_file, "Read the prompt from this file");
  cmd->add_option("-n,--n-predict,--steps", args->steps, "Number of tokens to generate")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 24));
  cmd->add_option("-c,--ctx-size", args->ctx, "Context length (0 = the model's)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 24));
  GenerateOptions& s = args->sampling;
  cmd->add_option("--temp", s.temperature, "Sampling temperature; 0 = greedy")
      ->capture_default_str()
      ->check(CLI::Range(0.0f, 100.0f));
  cmd->add_option("--top-k", s.top_k, "Keep the k most likely tokens (0 = all)")
      ->capture_default_str()
      ->check(CLI::Range(0, 1 << 24));
  cmd->add_option("--top-p", s.top_p, "Keep the smallest set of tokens reaching probability p")
      ->capture_default_str()
      ->check(CLI::Range(0.0f, 1.0f));
  cmd->add_option("--min-p", s.min_p, "Drop tokens below min-p times the top probability")
      ->capture_default_str()
      ->check(CLI::Range(0.0f, 1.0f));
  cmd->add_option("--repeat-penalty", s.repeat_penalty, "Penalty for recent tokens (1 = off)")
      ->capture_default_str()
      ->check(CLI::Range(0.01f, 100.0f));
  cmd->add_option("--repeat-last-n", s.repeat_last_n, "How many recent tokens the penalty sees")
      ->capture_default_str()
      ->check(CLI::Range(0, 1 << 24));
  cmd->add_option_function<uint64_t>(
      "-s,--seed",
      [args](uint64_t seed) {
        args->sampling.seed = seed;
        args->seed_given = true;
      },
      "Random seed for sampling (default: drawn, and printed on stderr)");
  cmd->add_option("-t,--threads", args->threads, kThreadsHelp)
      ->capture_default_str()
      ->check(CLI::Range(0u, 256u));
  add_weights_options(cmd, args->weights);
  cmd->add_flag("--json", args->json, "Print one JSON object (text, seed, speeds) instead of text");
  cmd->add_flag("--chat,--conversation", args->chat,
                "Chat with the model's template: one reply to -p/-f, else one per line of stdin "
                "(-cnv is the same)");
  cmd->add_option("--system", args->system_prompt, "With --chat: the system message");
  cmd->add_option("--chat-template", args->chat_template,
                  "With --chat: this format instead of the model's (" + chat_format_names() + ")");
  cmd->callback([&action, args] { action = [args] { return run(*args); }; });
}

}  // namespace dcllm::cli
