// OpenAiServer: the HTTP side of `dcllm serve` (cpp-httplib): /v1/completions,
// /v1/chat/completions (JSON or server-sent events), /v1/models and /health over one engine.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "dcllm/status.h"
#include "serve/completion_engine.h"

namespace dcllm {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;         // 0 = any free port (bind() says which)
  std::string model_name;  // the id /v1/models lists and requests must name (or omit)
  size_t max_body_bytes = size_t{1} << 20;  // larger bodies get 413
  int64_t max_tokens = 1024;                // cap on a request's max_tokens (and the chat default)
  int max_queue = 8;                        // requests waiting beyond this get 503
  bool log_requests = true;                 // one line per request on stderr
};

class OpenAiServer {
 public:
  OpenAiServer(CompletionEngine& engine, ServerOptions opts);
  ~OpenAiServer();
  OpenAiServer(const OpenAiServer&) = delete;
  OpenAiServer& operator=(const OpenAiServer&) = delete;

  // Binds the listening socket; returns the port (the chosen one when opts.port is 0).
  Expected<int> bind();
  // Serves until stop(); call after bind().
  Status run();
  // Safe from any thread: stops accepting and returns run() once requests in flight end.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dcllm
