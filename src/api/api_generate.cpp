// C API: generation and perplexity. Each call builds its own Transformer (KV cache) over the
// shared, immutable Model, so calls on one model from several threads do not interfere.
#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include "api/api_model.h"
#include "api/api_support.h"
#include "eval/perplexity.h"
#include "runtime/generate.h"
#include "runtime/transformer.h"

namespace dcllm::api {
namespace {

// Thrown by the token callback adapter to end generation early; caught in dcllm_generate.
struct StopGeneration {};

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// The prompt as generate() tokenizes it: BOS when the vocabulary asks for it, or alone for an
// empty prompt.
Expected<std::vector<int32_t>> prompt_tokens(const Tokenizer& tok, std::string_view prompt) {
  std::vector<int32_t> ids = tok.encode(prompt, tok.vocab().add_bos);
  if (ids.empty() && tok.bos_id() >= 0) ids.push_back(tok.bos_id());
  if (ids.empty()) {
    return InvalidArgument(
        "generate: the vocabulary has no BOS token, so an empty prompt gives nothing to start "
        "from");
  }
  return ids;
}

// CRLF read as LF, as `dcllm ppl` reads its text file (core/text_file.h).
std::string lf_text(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n') continue;
    out.push_back(text[i]);
  }
  return out;
}

}  // namespace
}  // namespace dcllm::api

using namespace dcllm;
using namespace dcllm::api;

extern "C" {

dcllm_generate_params dcllm_generate_params_default(void) {
  dcllm_generate_params p{};
  p.max_tokens = 256;
  p.temperature = 0.8f;
  p.seed = 42;
  p.on_token = nullptr;
  p.user_data = nullptr;
  return p;
}

dcllm_status dcllm_generate(const dcllm_model* model, const char* prompt, size_t prompt_len,
                            const dcllm_generate_params* params, char* out, size_t capacity,
                            size_t* out_len, dcllm_generate_stats* stats) {
  return guarded([&]() -> dcllm_status {
    if (!model) return fail(DCLLM_ERR_INVALID_ARGUMENT, "model is NULL");
    if (!text_arg_ok(prompt, prompt_len))
      return fail(DCLLM_ERR_INVALID_ARGUMENT, "prompt is NULL, prompt_len > 0");
    if (!out && capacity > 0) return fail(DCLLM_ERR_INVALID_ARGUMENT, "out is NULL, capacity > 0");
    if (out && !out_len) return fail(DCLLM_ERR_INVALID_ARGUMENT, "out_len is NULL");
    const dcllm_generate_params p = params ? *params : dcllm_generate_params_default();
    if (p.max_tokens < 0) {
      return fail(DCLLM_ERR_INVALID_ARGUMENT,
                  "max_tokens " + std::to_string(p.max_tokens) + " is negative");
    }
    if (!(p.temperature >= 0.0f) || p.temperature > 1e6f) {
      return fail(DCLLM_ERR_INVALID_ARGUMENT,
                  "temperature " + std::to_string(p.temperature) + " is not in [0, 1e6]");
    }
    const Tokenizer* tok = nullptr;
    if (dcllm_status s = need_tokenizer(model, &tok); s != DCLLM_OK) return s;
    auto ids = prompt_tokens(*tok, std::string_view(prompt ? prompt : "", prompt_len));
    if (!ids) return from_status(ids.status());

    // The cache only needs to hold the prompt and what is generated.
    TransformerOptions topts;
    topts.threads = model->threads;
    topts.max_seq = std::min(model->model.config.seq_len, static_cast<int64_t>(ids->size()) +
                                                              std::max<int64_t>(p.max_tokens, 1));
    auto transformer = Transformer::create(model->model, topts);
    if (!transformer) return from_status(transformer.status());

    GenerateOptions g;
    g.max_new_tokens = p.max_tokens;
    g.temperature = p.temperature;
    g.seed = p.seed;
    std::string text;
    int64_t generated = 0;
    bool stopped = false;
    const auto t0 = std::chrono::steady_clock::now();
    Expected<GenerateStats> result = GenerateStats{};
    try {
      result = generate_tokens(
          *transformer, *ids, g, tok->eos_id(), tok->bos_id(), [&](int32_t prev, int32_t token) {
            const std::string piece = tok->decode_token(prev, token);
            if (out) text += piece;
            ++generated;
            if (p.on_token && p.on_token(p.user_data, token, piece.data(), piece.size()) != 0)
              throw StopGeneration{};
          });
    } catch (const StopGeneration&) {
      stopped = true;
    }
    if (!result) return from_status(result.status());
    if (stats) {
      dcllm_generate_stats st{};
      if (stopped) {
        // The loop ended by unwinding, so its own timing is lost; ours covers prompt + tokens.
        st.prompt_tokens = static_cast<int64_t>(ids->size());
        st.generated_tokens = generated;
        st.generate_seconds = seconds_since(t0);
      } else {
        st.prompt_tokens = result->prompt_tokens;
        st.generated_tokens = result->generated_tokens;
        st.prompt_seconds = result->prompt_seconds;
        st.generate_seconds = result->generate_seconds;
      }
      *stats = st;
    }
    if (!out) {
      if (out_len) *out_len = 0;
      return DCLLM_OK;
    }
    return write_text(text, out, capacity, out_len, "generate");
  });
}

dcllm_perplexity_params dcllm_perplexity_params_default(void) {
  dcllm_perplexity_params p{};
  p.ctx = 0;
  p.windows = 0;
  p.on_progress = nullptr;
  p.user_data = nullptr;
  return p;
}

dcllm_status dcllm_perplexity(const dcllm_model* model, const char* text, size_t text_len,
                              const dcllm_perplexity_params* params,
                              dcllm_perplexity_result* out_result) {
  return guarded([&]() -> dcllm_status {
    if (!model) return fail(DCLLM_ERR_INVALID_ARGUMENT, "model is NULL");
    if (!text_arg_ok(text, text_len))
      return fail(DCLLM_ERR_INVALID_ARGUMENT, "text is NULL, text_len > 0");
    if (!out_result) return fail(DCLLM_ERR_INVALID_ARGUMENT, "out_result is NULL");
    const dcllm_perplexity_params p = params ? *params : dcllm_perplexity_params_default();
    const int64_t seq_len = model->model.config.seq_len;
    if (p.ctx < 0 || p.ctx == 1) {
      return fail(DCLLM_ERR_INVALID_ARGUMENT,
                  "ctx " + std::to_string(p.ctx) + " must be 0 (default) or at least 2");
    }
    if (p.windows < 0) {
      return fail(DCLLM_ERR_INVALID_ARGUMENT,
                  "windows " + std::to_string(p.windows) + " is negative");
    }
    const int64_t ctx = p.ctx > 0 ? p.ctx : std::min<int64_t>(512, seq_len);
    if (ctx > seq_len) {
      return fail(DCLLM_ERR_INVALID_ARGUMENT, "ctx " + std::to_string(ctx) +
                                                  " exceeds the model's context of " +
                                                  std::to_string(seq_len));
    }
    const Tokenizer* tok = nullptr;
    if (dcllm_status s = need_tokenizer(model, &tok); s != DCLLM_OK) return s;
    const std::vector<int32_t> tokens =
        tok->encode(lf_text(std::string_view(text ? text : "", text_len)), /*add_bos=*/true);
    if (tokens.empty() || tokens[0] != tok->bos_id()) {
      return fail(DCLLM_ERR_INVALID_ARGUMENT,
                  model->model.path +
                      ": the vocabulary has no BOS token, which the perplexity protocol needs");
    }
    TransformerOptions topts;
    topts.threads = model->threads;
    topts.max_seq = ctx;
    auto transformer = Transformer::create(model->model, topts);
    if (!transformer) return from_status(transformer.status());
    PerplexityOptions popts;
    popts.ctx = ctx;
    popts.max_windows = p.windows;
    if (p.on_progress) {
      popts.on_progress = [&p](int64_t done, int64_t total) {
        if (p.on_progress(p.user_data, "perplexity", done, total) != 0) throw Cancelled{};
      };
    }
    auto r = evaluate_perplexity(*transformer, tokens, popts);
    if (!r) return from_status(r.status());
    dcllm_perplexity_result res{};
    res.ppl = r->ppl();
    res.nll = r->tokens > 0 ? r->nll / static_cast<double>(r->tokens) : 0.0;
    res.tokens = r->tokens;
    res.windows = r->windows;
    res.ctx = ctx;
    *out_result = res;
    return DCLLM_OK;
  });
}

}  // extern "C"
