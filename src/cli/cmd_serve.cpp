// `dcllm serve MODEL`: an OpenAI-compatible HTTP server over one model (docs/server.md). Runs
// until SIGINT or SIGTERM; requests are served one at a time, the others wait in a bounded queue.
#include <pthread.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "cli/commands.h"
#include "model/dcllm_model_reader.h"
#include "model/model_loader.h"
#include "serve/completion_engine.h"
#include "serve/http_server.h"

namespace dcllm::cli {
namespace {

struct ServeArgs {
  std::string model;
  std::string tokenizer;
  std::string host = "127.0.0.1";
  int port = 8080;
  std::string alias;
  std::string weights = "resident";
  unsigned threads = 2;
  int64_t ctx = 0;
  int64_t max_tokens = 1024;
  size_t max_body = size_t{1} << 20;
  int max_queue = 8;
  std::string chat_template;
  bool quiet = false;
};

std::string base_name(const std::string& path) {
  std::string p = path;
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  const auto slash = p.find_last_of('/');
  return slash == std::string::npos ? p : p.substr(slash + 1);
}

Status run(const ServeArgs& a) {
  if (a.model.empty()) return InvalidArgument("serve: no model given (MODEL or -m MODEL)");
  // SIGINT/SIGTERM go to one thread, which stops the server (or, while the model still loads,
  // ends the process); every other thread, httplib's workers included, inherits the block. A
  // write to a closed socket must fail with EPIPE (which cancels a stream), not kill us.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  std::atomic<OpenAiServer*> live{nullptr};
  std::atomic<bool> finished{false};
  std::thread watcher([&] {
    int sig = 0;
    sigwait(&stop_signals, &sig);
    if (finished.load()) return;
    OpenAiServer* s = live.load();
    if (!s) std::_Exit(128 + sig);  // nothing to shut down cleanly yet
    s->stop();
  });
  struct JoinWatcher {
    std::thread& t;
    std::atomic<bool>& finished;
    ~JoinWatcher() {
      finished = true;
      pthread_kill(t.native_handle(), SIGTERM);  // the signal it waits for
      t.join();
    }
  } join{watcher, finished};

  LoadOptions load;
  load.tokenizer_path = a.tokenizer;
  load.threads = resolve_threads(a.threads);
  DCLLM_ASSIGN_OR_RETURN(WeightTier tier, parse_weight_tier(a.weights));
  DCLLM_ASSIGN_OR_RETURN(Model model, load_model_with_weights(a.model, load, tier));
  EngineOptions eopts;
  eopts.context = a.ctx;
  eopts.threads = load.threads;
  eopts.chat_template = a.chat_template;
  DCLLM_ASSIGN_OR_RETURN(auto engine, CompletionEngine::create(std::move(model), eopts));

  ServerOptions sopts;
  sopts.host = a.host;
  sopts.port = a.port;
  sopts.model_name = a.alias.empty() ? base_name(a.model) : a.alias;
  sopts.max_body_bytes = a.max_body;
  sopts.max_tokens = a.max_tokens;
  sopts.max_queue = a.max_queue;
  sopts.log_requests = !a.quiet;
  OpenAiServer server(*engine, sopts);
  DCLLM_ASSIGN_OR_RETURN(const int port, server.bind());
  live = &server;

  const ChatTemplate& t = engine->chat_template();
  std::fprintf(stderr,
               "dcllm serve: listening on http://%s:%d (model %s, context %lld, chat template %s "
               "from %s%s)\n",
               a.host.c_str(), port, sopts.model_name.c_str(),
               static_cast<long long>(engine->context()),
               std::string(chat_format_name(t.format)).c_str(), t.source.c_str(),
               t.unrecognised ? "; the model's own template is not one dcllm knows" : "");
  std::fflush(stderr);
  const Status served = server.run();
  live = nullptr;
  std::fprintf(stderr, "dcllm serve: stopped after %lld requests\n",
               static_cast<long long>(engine->finished()));
  return served;
}

}  // namespace

void add_serve_command(CLI::App& app, Action& action) {
  auto args = std::make_shared<ServeArgs>();
  auto* cmd = app.add_subcommand(
      "serve", "OpenAI-compatible HTTP server: /v1/completions, /v1/chat/completions, /v1/models");
  const char* model_help = "Model: llama2.c .bin, .gguf, .dcllm, or a Hugging Face directory";
  cmd->add_option("model", args->model, model_help);
  cmd->add_option("-m,--model", args->model, model_help);
  cmd->add_option("--tokenizer", args->tokenizer,
                  "llama2.c tokenizer.bin (for .bin models; default: tokenizer.bin beside it)");
  cmd->add_option("--host", args->host, "Address to listen on (loopback by default)")
      ->capture_default_str();
  cmd->add_option("--port", args->port, "Port to listen on; 0 = any free port (printed)")
      ->capture_default_str()
      ->check(CLI::Range(0, 65535));
  cmd->add_option("--alias", args->alias,
                  "Model id for /v1/models and requests (default: the file name)");
  cmd->add_option("--weights", args->weights, kWeightsHelp)
      ->capture_default_str()
      ->check(CLI::IsMember(kWeightTiers));
  cmd->add_option("-t,--threads", args->threads, kThreadsHelp)
      ->capture_default_str()
      ->check(CLI::Range(0u, 256u));
  cmd->add_option("-c,--ctx-size,--ctx", args->ctx,
                  "Context (KV cache) in tokens; 0 = the model's, at most 4096")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 24));
  cmd->add_option("--max-tokens", args->max_tokens,
                  "Largest max_tokens a request gets (larger ones are cut to it); the default "
                  "for chat requests that give none")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 24));
  cmd->add_option("--max-body", args->max_body, "Largest request body in bytes (413 above)")
      ->capture_default_str()
      ->check(CLI::Range(size_t{1024}, size_t{1} << 30));
  cmd->add_option("--max-queue", args->max_queue,
                  "Requests that may wait while one runs (503 beyond)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  cmd->add_option("--chat-template", args->chat_template,
                  "Chat format instead of the model's own: " + chat_format_names());
  cmd->add_flag("--quiet", args->quiet, "No line per request on stderr");
  cmd->callback([&action, args] { action = [args] { return run(*args); }; });
}

}  // namespace dcllm::cli
