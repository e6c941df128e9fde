// `dcllm ppl MODEL --text FILE`: perplexity by the protocol in docs/models.md, as a line of
// text or as JSON {"ppl", "nll", "tokens", "windows", "ctx"}.
#include <unistd.h>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/commands.h"
#include "cli/weights_options.h"
#include "core/progress.h"
#include "core/text_file.h"
#include "eval/perplexity.h"
#include "model/dcllm_model_reader.h"
#include "model/model_loader.h"
#include "runtime/transformer.h"
#include "runtime/weight_plan.h"

namespace dcllm::cli {
namespace {

constexpr const char* kProtocol =
    "Perplexity protocol: the text (CRLF read as LF) is tokenized once with BOS at its start; the "
    "tokens after that BOS are cut into consecutive windows of ctx-1 tokens (the last may be "
    "shorter); each window is evaluated as [BOS] + window from an empty cache; every position "
    "predicts the next token; ppl = exp(total NLL / tokens scored). --chunks K uses the first K "
    "windows. --json prints {\"ppl\", \"nll\" (mean nats per scored token), \"tokens\" (scored), "
    "\"windows\", \"ctx\"}.";

struct PplArgs {
  std::string model;
  std::string tokenizer;
  std::string text;
  int64_t ctx = 0;
  int64_t chunks = 0;
  bool json = false;
  bool progress = true;
  unsigned threads = 2;
  WeightsArgs weights;
};

Status run(const PplArgs& a) {
  if (a.model.empty()) return InvalidArgument("ppl: no model given (MODEL or -m MODEL)");
  LoadOptions load;
  load.tokenizer_path = a.tokenizer;
  load.threads = resolve_threads(a.threads);
  // The floor of a --mem-budget: windows of --ctx tokens (512 when not given: an upper bound).
  RunShape shape;
  shape.prompt_tokens = a.ctx > 0 ? a.ctx : 512;
  shape.gen_tokens = 0;
  DCLLM_ASSIGN_OR_RETURN(WeightRequest wr, weight_request(a.weights, shape, load.threads));
  DCLLM_ASSIGN_OR_RETURN(Model model, load_model_placed(a.model, load, wr));
  DCLLM_ASSIGN_OR_RETURN(Tokenizer tokenizer, tokenizer_for(model));
  DCLLM_ASSIGN_OR_RETURN(std::string text, read_text_file(a.text));

  const int64_t ctx = a.ctx > 0 ? a.ctx : std::min<int64_t>(512, model.config.seq_len);
  if (ctx > model.config.seq_len) {
    return InvalidArgument("--ctx " + std::to_string(ctx) + " exceeds the model's context of " +
                           std::to_string(model.config.seq_len));
  }
  std::vector<int32_t> tokens = tokenizer.encode(text, /*add_bos=*/true);
  if (tokens.empty() || tokens[0] != tokenizer.bos_id()) {
    return InvalidArgument(a.model +
                           ": the vocabulary has no BOS token, which the perplexity "
                           "protocol needs");
  }
  TransformerOptions topts;
  topts.threads = load.threads;
  topts.ring_slots = wr.ring_slots;
  topts.max_seq = ctx;
  DCLLM_ASSIGN_OR_RETURN(Transformer transformer, Transformer::create(model, topts));
  PerplexityOptions popts;
  popts.ctx = ctx;
  popts.max_windows = a.chunks;
  // As llama-perplexity does: the running ppl after each window on stderr, "[k]ppl,", plus a
  // progress line with ETA on a terminal.
  Progress progress("ppl", a.progress);
  popts.on_window = [&](int64_t done, int64_t total, const PerplexityResult& so_far) {
    if (done == 1)
      std::fprintf(stderr, "ppl: %lld windows of ctx %lld\n", static_cast<long long>(total),
                   static_cast<long long>(ctx));
    const std::string running = "[" + std::to_string(done) + "]" + std::to_string(so_far.ppl());
    progress.update(done, total, running);
    if (!a.json && !::isatty(STDERR_FILENO)) std::fprintf(stderr, "%s,", running.c_str());
    if (!a.json && !::isatty(STDERR_FILENO) && done == total) std::fputc('\n', stderr);
  };
  DCLLM_ASSIGN_OR_RETURN(PerplexityResult r, evaluate_perplexity(transformer, tokens, popts));

  const double mean_nll = r.tokens > 0 ? r.nll / static_cast<double>(r.tokens) : 0.0;
  if (a.json) {
    nlohmann::json j = {{"ppl", r.ppl()},
                        {"nll", mean_nll},
                        {"tokens", r.tokens},
                        {"windows", r.windows},
                        {"ctx", ctx}};
    std::printf("%s\n", j.dump().c_str());
  } else {
    std::printf("ppl %.4f  (mean nll %.4f nats over %lld tokens, %lld windows of ctx %lld)\n",
                r.ppl(), mean_nll, static_cast<long long>(r.tokens),
                static_cast<long long>(r.windows), static_cast<long long>(ctx));
  }
  return Status::Ok();
}

}  // namespace

void add_ppl_command(CLI::App& app, Action& action) {
  auto args = std::make_shared<PplArgs>();
  auto* cmd = app.add_subcommand("ppl", "Perplexity of a model on a text file");
  cmd->footer(kProtocol);
  const char* model_help = "Model: llama2.c .bin, .gguf, .dcllm, or a Hugging Face directory";
  cmd->add_option("model", args->model, model_help);
  cmd->add_option("-m,--model", args->model, model_help);
  cmd->add_option("--tokenizer", args->tokenizer,
                  "llama2.c tokenizer.bin (for .bin models; default: tokenizer.bin beside it)");
  cmd->add_option("-f,--file,--text", args->text, "UTF-8 text file to score")->required();
  cmd->add_option("-c,--ctx-size,--ctx", args->ctx,
                  "Window length in tokens, BOS included (default: 512 or the "
                  "model's context if smaller)")
      ->check(CLI::Range(int64_t{2}, int64_t{1} << 24));
  cmd->add_option("--chunks", args->chunks, "Use only the first K windows (default: all)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_flag("--json", args->json, "Print {\"ppl\", \"nll\", \"tokens\", \"windows\", \"ctx\"}");
  cmd->add_option("-t,--threads", args->threads, kThreadsHelp)
      ->capture_default_str()
      ->check(CLI::Range(0u, 256u));
  cmd->add_flag("!--no-progress", args->progress, "No progress line on the terminal");
  add_weights_options(cmd, args->weights);
  cmd->callback([&action, args] { action = [args] { return run(*args); }; });
}

}  // namespace dcllm::cli
