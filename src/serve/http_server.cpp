// Routes of `dcllm serve`. Each request is parsed, checked and tokenized on its own httplib
// worker thread; only the generation itself waits for the engine's lock, so /health and
// malformed requests are answered while a long generation runs.
#include "serve/http_server.h"

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <random>

#include "serve/openai_protocol.h"

namespace dcllm {
namespace {

using json = nlohmann::json;

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void send_json(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(dump_json(body), "application/json");
}

void send_error(httplib::Response& res, int status, std::string_view message,
                std::string_view type = "invalid_request_error", std::string_view code = "") {
  send_json(res, status, error_json(message, type, code));
}

// A request after parsing: what to generate and how to reply.
struct Job {
  GenerationRequest gen;
  bool chat = false;
  bool stream = false;
  bool include_usage = false;
  std::string id;
  int64_t created = 0;
};

}  // namespace

struct OpenAiServer::Impl {
  Impl(CompletionEngine& e, ServerOptions o) : engine(e), opts(std::move(o)) {}

  CompletionEngine& engine;
  ServerOptions opts;
  httplib::Server http;
  std::atomic<uint64_t> next_id{1};
  uint64_t id_salt = std::random_device{}();
  std::atomic<bool> stopping{false};

  void log(const httplib::Request& req, int status, const std::string& extra) const {
    if (!opts.log_requests) return;
    std::fprintf(stderr, "dcllm serve: %s %s %d%s%s\n", req.method.c_str(), req.path.c_str(),
                 status, extra.empty() ? "" : " ", extra.c_str());
  }

  std::string new_id(const char* prefix) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%s%016llx%06llx", prefix,
                  static_cast<unsigned long long>(id_salt),
                  static_cast<unsigned long long>(next_id++));
    return buf;
  }

  // Fields both endpoints share; false when `res` already holds the error to send.
  bool fill_common(const SamplingFields& f, bool chat, Job* job, httplib::Response& res) {
    if (!f.model.empty() && f.model != opts.model_name) {
      send_error(res, 404,
                 "The model '" + f.model.substr(0, 200) + "' does not exist (this server has '" +
                     opts.model_name + "')",
                 "invalid_request_error", "model_not_found");
      return false;
    }
    // OpenAI's defaults: 16 tokens for a completion; a chat reply runs to its end of turn.
    const int64_t wanted = f.max_tokens.value_or(chat ? opts.max_tokens : 16);
    job->gen.max_tokens = std::min(wanted, opts.max_tokens);
    SamplerOptions& s = job->gen.sampling;
    s.temperature = f.temperature;
    s.top_p = f.top_p;
    s.top_k = f.top_k;
    s.min_p = f.min_p;
    s.repeat_penalty = f.repeat_penalty;
    s.seed = f.seed
                 ? static_cast<uint64_t>(*f.seed)
                 : (static_cast<uint64_t>(std::random_device{}()) << 32) ^ std::random_device{}();
    job->gen.stop_strings = f.stop;
    job->stream = f.stream;
    job->include_usage = f.include_usage;
    job->chat = chat;
    job->created = unix_now();
    job->id = new_id(chat ? "chatcmpl-" : "cmpl-");
    return true;
  }

  // Checks that must answer with a status before a stream starts.
  bool admit(const Job& job, httplib::Response& res) {
    const auto n = static_cast<int64_t>(job.gen.prompt.size());
    if (n > engine.context()) {
      send_error(res, 400,
                 "the prompt has " + std::to_string(n) + " tokens, more than the context of " +
                     std::to_string(engine.context()),
                 "invalid_request_error", "context_length_exceeded");
      return false;
    }
    if (engine.waiting() >= opts.max_queue) {
      send_error(res, 503,
                 "the server is busy: " + std::to_string(engine.waiting()) +
                     " requests are waiting; retry later",
                 "server_error", "server_busy");
      return false;
    }
    return true;
  }

  void on_completion(const httplib::Request& req, httplib::Response& res) {
    auto parsed = parse_completion_request(req.body);
    if (!parsed.ok()) return reject(req, res, parsed.status());
    Job job;
    if (!fill_common(parsed->fields, false, &job, res)) return log(req, res.status, "");
    const Tokenizer& tok = engine.tokenizer();
    if (parsed->prompt_is_ids) {
      job.gen.prompt = std::move(parsed->prompt_ids);
    } else {
      // As `dcllm run` does: BOS when the vocab asks for it, or to start from an empty prompt.
      job.gen.prompt = tok.encode(parsed->prompt, tok.vocab().add_bos);
      if (job.gen.prompt.empty() && tok.bos_id() >= 0) job.gen.prompt.push_back(tok.bos_id());
    }
    if (job.gen.prompt.empty()) {
      send_error(res, 400, "the prompt is empty and the vocabulary has no BOS token to start from");
      return log(req, res.status, "");
    }
    for (int32_t id : {tok.eos_id(), tok.bos_id()}) {
      if (id >= 0) job.gen.stop_tokens.push_back(id);
    }
    respond(req, res, std::move(job));
  }

  void on_chat(const httplib::Request& req, httplib::Response& res) {
    auto parsed = parse_chat_request(req.body);
    if (!parsed.ok()) return reject(req, res, parsed.status());
    Job job;
    if (!fill_common(parsed->fields, true, &job, res)) return log(req, res.status, "");
    auto rendered = render_chat(engine.chat_template(), parsed->messages);
    if (!rendered.ok()) return reject(req, res, rendered.status());
    job.gen.prompt = encode_chat(engine.tokenizer(), *rendered);
    if (job.gen.prompt.empty()) {
      send_error(res, 400, "the conversation renders to no tokens");
      return log(req, res.status, "");
    }
    job.gen.stop_tokens = engine.chat_stop_tokens();
    job.gen.fresh_text = true;
    respond(req, res, std::move(job));
  }

  void reject(const httplib::Request& req, httplib::Response& res, const Status& st) {
    send_error(res, 400, st.message());
    log(req, 400, "");
  }

  void respond(const httplib::Request& req, httplib::Response& res, Job job) {
    if (!admit(job, res)) return log(req, res.status, "");
    if (job.stream) return respond_stream(req, res, std::move(job));
    auto r = engine.generate(job.gen, [](std::string_view) { return true; });
    if (!r.ok()) {
      send_error(res, 500, r.status().message(), "server_error");
      return log(req, 500, "");
    }
    send_json(res, 200,
              job.chat ? chat_json(job.id, job.created, opts.model_name, *r)
                       : completion_json(job.id, job.created, opts.model_name, *r));
    log(req, 200, summary(*r));
  }

  static std::string summary(const GenerationResult& r) {
    char buf[160];
    std::snprintf(
        buf, sizeof buf, "prompt=%lld completion=%lld finish=%s %.2fs",
        static_cast<long long>(r.prompt_tokens), static_cast<long long>(r.completion_tokens),
        std::string(finish_reason_name(r.finish)).c_str(), r.prompt_seconds + r.generate_seconds);
    return buf;
  }

  // Server-sent events, as OpenAI streams them: one chunk per stretch of text, a last chunk
  // with the finish reason, a usage chunk when asked, then "data: [DONE]". A write that fails
  // (the client went away) cancels the generation, which frees the model for the next request.
  void respond_stream(const httplib::Request& req, httplib::Response& res, Job job) {
    res.set_header("Cache-Control", "no-cache");
    auto shared = std::make_shared<Job>(std::move(job));
    const std::string method = req.method, path = req.path;
    res.set_chunked_content_provider("text/event-stream", [this, shared, method, path](
                                                              size_t, httplib::DataSink& sink) {
      const Job& j = *shared;
      const std::string& model = opts.model_name;
      auto write = [&](const json& event) {
        const std::string text = sse_event(event);
        return sink.write(text.data(), text.size());
      };
      bool open = true;
      if (j.chat) {
        open = write(chat_chunk_json(j.id, j.created, model,
                                     {{"role", "assistant"}, {"content", ""}}, std::nullopt));
      }
      Expected<GenerationResult> r = GenerationResult{};
      if (open) {
        r = engine.generate(j.gen, [&](std::string_view text) {
          return j.chat ? write(chat_chunk_json(j.id, j.created, model,
                                                {{"content", std::string(text)}}, std::nullopt))
                        : write(completion_chunk_json(j.id, j.created, model, text, std::nullopt));
        });
      }
      int status = 200;
      std::string extra = "stream";
      if (!open) {
        extra += " cancelled before generation";
      } else if (!r.ok()) {
        write(error_json(r.status().message(), "server_error", ""));
        status = 500;
      } else if (r->finish != FinishReason::kCancelled) {
        const json last = j.chat
                              ? chat_chunk_json(j.id, j.created, model, json::object(), r->finish)
                              : completion_chunk_json(j.id, j.created, model, "", r->finish);
        bool ok = write(last);
        if (ok && j.include_usage) {
          ok = write(usage_chunk_json(j.id, j.created, model,
                                      j.chat ? "chat.completion.chunk" : "text_completion", *r));
        }
        if (ok) {
          const std::string done = "data: [DONE]\n\n";
          sink.write(done.data(), done.size());
        }
        extra += " " + summary(*r);
      } else {
        extra += " " + summary(*r) + " (client went away)";
      }
      sink.done();
      if (opts.log_requests) {
        std::fprintf(stderr, "dcllm serve: %s %s %d %s\n", method.c_str(), path.c_str(), status,
                     extra.c_str());
      }
      return true;
    });
  }

  void install_routes() {
    http.Get("/health", [this](const httplib::Request&, httplib::Response& res) {
      send_json(res, 200,
                {{"status", "ok"},
                 {"model", opts.model_name},
                 {"waiting", engine.waiting()},
                 {"finished", engine.finished()},
                 {"cancelled", engine.cancelled()}});
    });
    auto model_entry = [this] {
      return json{{"id", opts.model_name},
                  {"object", "model"},
                  {"created", unix_now()},
                  {"owned_by", "dcllm"},
                  {"context_length", engine.context()},
                  {"chat_template", std::string(chat_format_name(engine.chat_template().format))}};
    };
    http.Get("/v1/models", [model_entry](const httplib::Request&, httplib::Response& res) {
      send_json(res, 200, {{"object", "list"}, {"data", json::array({model_entry()})}});
    });
    http.Get(R"(/v1/models/(.+))", [this, model_entry](const httplib::Request& req,
                                                       httplib::Response& res) {
      if (req.matches[1] == opts.model_name) return send_json(res, 200, model_entry());
      send_error(res, 404, "The model '" + req.matches[1].str().substr(0, 200) + "' does not exist",
                 "invalid_request_error", "model_not_found");
    });
    for (const char* path : {"/v1/completions", "/completions"}) {
      http.Post(path, [this](const httplib::Request& req, httplib::Response& res) {
        on_completion(req, res);
      });
    }
    for (const char* path : {"/v1/chat/completions", "/chat/completions"}) {
      http.Post(path,
                [this](const httplib::Request& req, httplib::Response& res) { on_chat(req, res); });
    }
    // Statuses httplib sets itself (413 past the body limit, 404 for other paths) get an
    // OpenAI-style body too.
    http.set_error_handler([this](const httplib::Request& req, httplib::Response& res) {
      if (!res.body.empty()) return;
      if (res.status == 413) {
        send_error(res, 413,
                   "the request body is larger than the server's limit of " +
                       std::to_string(opts.max_body_bytes) + " bytes",
                   "invalid_request_error", "request_too_large");
      } else if (res.status == 404) {
        send_error(res, 404, "no such endpoint: " + req.method + " " + req.path.substr(0, 200),
                   "invalid_request_error", "not_found");
      } else {
        send_error(res, res.status, "HTTP status " + std::to_string(res.status),
                   res.status >= 500 ? "server_error" : "invalid_request_error");
      }
      log(req, res.status, "");
    });
    http.set_exception_handler(
        [this](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
          std::string what = "internal error";
          try {
            if (ep) std::rethrow_exception(ep);
          } catch (const std::exception& e) {
            what = e.what();
          } catch (...) {
          }
          send_error(res, 500, what, "server_error");
          log(req, 500, "");
        });
  }
};

OpenAiServer::OpenAiServer(CompletionEngine& engine, ServerOptions opts)
    : impl_(std::make_unique<Impl>(engine, std::move(opts))) {
  Impl& s = *impl_;
  s.http.set_payload_max_length(s.opts.max_body_bytes);
  // Enough workers that /health and refusals are answered while max_queue requests wait.
  const size_t workers = static_cast<size_t>(std::max(1, s.opts.max_queue)) + 4;
  s.http.new_task_queue = [workers] { return new httplib::ThreadPool(workers); };
  s.install_routes();
}

OpenAiServer::~OpenAiServer() = default;

Expected<int> OpenAiServer::bind() {
  Impl& s = *impl_;
  const std::string where = s.opts.host + ":" + std::to_string(s.opts.port);
  if (s.opts.port == 0) {
    const int port = s.http.bind_to_any_port(s.opts.host);
    if (port <= 0) return IoError("serve: cannot listen on " + s.opts.host + " (any port)");
    return port;
  }
  if (!s.http.bind_to_port(s.opts.host, s.opts.port)) {
    return IoError("serve: cannot listen on " + where + " (in use, or not an address here)");
  }
  return s.opts.port;
}

Status OpenAiServer::run() {
  Impl& s = *impl_;
  const bool ok = s.http.listen_after_bind();
  if (!ok && !s.stopping.load()) return IoError("serve: the listening socket failed");
  return Status::Ok();
}

void OpenAiServer::stop() {
  impl_->stopping = true;
  impl_->http.stop();
}

}  // namespace dcllm
