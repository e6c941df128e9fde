// The C API (include/dcllm/dcllm.h) on stories260K: load and info, tokens, generation (the
// llama2.c reference text, streaming, stopping), perplexity equal to the C++ path, tensors,
// compress/inspect, weight tiers, threads, and every error case: NULL arguments, bad paths,
// buffers too small, out-of-range values.
#include "dcllm/dcllm.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "core/text_file.h"
#include "eval/perplexity.h"
#include "model/model_loader.h"
#include "runtime/transformer.h"

namespace {

const std::string kData = DCLLM_SHARED_DATA;
const std::string kBin = kData + "/stories260K.bin";
const std::string kTok = kData + "/tok512.bin";
const std::string kGguf = kData + "/stories260K.gguf";
const std::string kText = kData + "/tinystories_valid_head.txt";

const char* kReference =
    "Once upon a time, there was a little girl named Lily. She loved to play outside in the park. "
    "One day, she saw a big, red ball. She wanted to play with it, but it was too high";

struct ModelDeleter {
  void operator()(dcllm_model* m) const { dcllm_model_free(m); }
};
using ModelPtr = std::unique_ptr<dcllm_model, ModelDeleter>;

ModelPtr load(const std::string& path, const char* tokenizer = nullptr,
              dcllm_weights weights = DCLLM_WEIGHTS_RESIDENT) {
  dcllm_load_params p = dcllm_load_params_default();
  p.tokenizer_path = tokenizer;
  p.weights = weights;
  p.threads = 1;
  dcllm_model* m = nullptr;
  EXPECT_EQ(dcllm_model_load(path.c_str(), &p, &m), DCLLM_OK) << dcllm_last_error();
  return ModelPtr(m);
}

ModelPtr stories() {
  return load(kBin, kTok.c_str());
}

std::string generate(const dcllm_model* m, const std::string& prompt, int64_t n, float temp = 0,
                     uint64_t seed = 42) {
  dcllm_generate_params g = dcllm_generate_params_default();
  g.max_tokens = n;
  g.temperature = temp;
  g.seed = seed;
  std::vector<char> buf(1 << 16);
  size_t len = 0;
  EXPECT_EQ(
      dcllm_generate(m, prompt.data(), prompt.size(), &g, buf.data(), buf.size(), &len, nullptr),
      DCLLM_OK)
      << dcllm_last_error();
  return std::string(buf.data(), len);
}

// A compressed stories260K shared by the tests that need one (compress takes a few seconds).
const std::string& compressed_path() {
  static const std::string path = [] {
    const std::string out = ::testing::TempDir() + "c_api_stories260K.dcllm";
    std::filesystem::remove(out);
    dcllm_compress_params p = dcllm_compress_params_default();
    p.tokenizer_path = kTok.c_str();
    p.calib_path = kText.c_str();
    p.calib_tokens = 1024;
    p.calib_ctx = 128;
    p.threads = 1;
    EXPECT_EQ(dcllm_compress(kBin.c_str(), out.c_str(), &p, nullptr), DCLLM_OK)
        << dcllm_last_error();
    return out;
  }();
  return path;
}

TEST(CApi, VersionAndStatusStrings) {
  EXPECT_STREQ(dcllm_version(), DCLLM_VERSION_STRING);
  EXPECT_EQ(dcllm_version_number(), DCLLM_VERSION_NUMBER);
  EXPECT_STREQ(dcllm_status_string(DCLLM_OK), "ok");
  EXPECT_STREQ(dcllm_status_string(DCLLM_ERR_BUFFER_TOO_SMALL), "buffer too small");
  EXPECT_STREQ(dcllm_status_string(static_cast<dcllm_status>(999)), "unknown status");
}

TEST(CApi, LoadAndInfo) {
  ModelPtr m = stories();
  ASSERT_TRUE(m);
  EXPECT_STREQ(dcllm_last_error(), "");
  dcllm_model_info i;
  ASSERT_EQ(dcllm_model_get_info(m.get(), &i), DCLLM_OK);
  EXPECT_EQ(std::string(i.path), kBin);
  EXPECT_STREQ(i.format, "llama2.c");
  EXPECT_STREQ(i.family, "llama");
  EXPECT_EQ(i.dim, 64);
  EXPECT_EQ(i.hidden_dim, 172);
  EXPECT_EQ(i.n_layers, 5);
  EXPECT_EQ(i.n_heads, 8);
  EXPECT_EQ(i.n_kv_heads, 4);
  EXPECT_EQ(i.vocab_size, 512);
  EXPECT_EQ(i.context_length, 512);
  EXPECT_EQ(i.parameters, 260032);
  EXPECT_EQ(i.bos_id, 1);
  EXPECT_EQ(i.eos_id, 2);
  EXPECT_EQ(i.has_tokenizer, 1);
  EXPECT_EQ(i.int8, 0);
  EXPECT_EQ(i.weights, DCLLM_WEIGHTS_RESIDENT);
  EXPECT_GT(i.n_tensors, 40u);
}

TEST(CApi, LoadErrors) {
  dcllm_model* m = reinterpret_cast<dcllm_model*>(0x1);
  EXPECT_EQ(dcllm_model_load("/nonexistent/dir/model.gguf", nullptr, &m), DCLLM_ERR_IO);
  EXPECT_EQ(m, nullptr);  // cleared on failure
  EXPECT_NE(std::string(dcllm_last_error()).find("/nonexistent/dir/model.gguf"), std::string::npos)
      << dcllm_last_error();
  EXPECT_EQ(dcllm_model_load(nullptr, nullptr, &m), DCLLM_ERR_INVALID_ARGUMENT);
  EXPECT_STREQ(dcllm_last_error(), "path is NULL");
  EXPECT_EQ(dcllm_model_load(kGguf.c_str(), nullptr, nullptr), DCLLM_ERR_INVALID_ARGUMENT);

  dcllm_load_params p = dcllm_load_params_default();
  p.weights = 7;
  EXPECT_EQ(dcllm_model_load(kGguf.c_str(), &p, &m), DCLLM_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(dcllm_last_error()).find("weights"), std::string::npos);
  p.weights = DCLLM_WEIGHTS_STREAM;
  EXPECT_EQ(dcllm_model_load(kGguf.c_str(), &p, &m), DCLLM_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(dcllm_last_error()).find("needs a .dcllm"), std::string::npos)
      << dcllm_last_error();

  // A file that is not a model: corrupt, with its name.
  EXPECT_NE(dcllm_model_load(kText.c_str(), nullptr, &m), DCLLM_OK);
  EXPECT_EQ(m, nullptr);
  EXPECT_STRNE(dcllm_last_error(), "");

  // A success clears the message.
  ModelPtr ok = load(kGguf);
  EXPECT_STREQ(dcllm_last_error(), "");
  dcllm_model_free(nullptr);  // allowed
  EXPECT_EQ(dcllm_model_get_info(nullptr, nullptr), DCLLM_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(dcllm_model_get_info(ok.get(), nullptr), DCLLM_ERR_INVALID_ARGUMENT);
}

TEST(CApi, ModelWithoutTokenizer) {
  // stories260K.bin has no tokenizer.bin beside it: it loads, but cannot tokenize.
  ModelPtr m = load(kBin);
  ASSERT_TRUE(m);
  dcllm_model_info i;
  ASSERT_EQ(dcllm_model_get_info(m.get(), &i), DCLLM_OK);
  EXPECT_EQ(i.has_tokenizer, 0);
  EXPECT_EQ(i.bos_id, -1);
  size_t n = 0;
  EXPECT_NE(dcllm_tokenize(m.get(), "a", 1, 1, nullptr, 0, &n), DCLLM_OK);
  EXPECT_NE(std::string(dcllm_last_error()).find("tokenizer"), std::string::npos)
      << dcllm_last_error();
  size_t len = 0;
  EXPECT_NE(dcllm_generate(m.get(), "", 0, nullptr, nullptr, 0, &len, nullptr), DCLLM_OK);
}

TEST(CApi, TokenizeSizingAndRoundTrip) {
  ModelPtr m = stories();
  const std::string text = "Lily saw a big, red ball.";
  size_t n = 0;
  // Size query: NULL buffer, capacity 0.
  ASSERT_EQ(dcllm_tokenize(m.get(), text.data(), text.size(), 1, nullptr, 0, &n),
            DCLLM_ERR_BUFFER_TOO_SMALL);
  ASSERT_GT(n, 2u);
  std::vector<int32_t> ids(n);
  size_t too_small = 0;
  EXPECT_EQ(dcllm_tokenize(m.get(), text.data(), text.size(), 1, ids.data(), n - 1, &too_small),
            DCLLM_ERR_BUFFER_TOO_SMALL);
  EXPECT_EQ(too_small, n);
  ASSERT_EQ(dcllm_tokenize(m.get(), text.data(), text.size(), 1, ids.data(), n, &n), DCLLM_OK);
  EXPECT_EQ(ids[0], 1);  // BOS
  // Not NUL-terminated input: only text_len bytes count.
  size_t n2 = 0;
  std::vector<int32_t> ids2(64);
  ASSERT_EQ(dcllm_tokenize(m.get(), "Lily saw a big, red ball.XXXX", text.size(), 1, ids2.data(),
                           ids2.size(), &n2),
            DCLLM_OK);
  EXPECT_EQ(std::vector<int32_t>(ids2.begin(), ids2.begin() + n2), ids);

  size_t len = 0;
  ASSERT_EQ(dcllm_detokenize(m.get(), ids.data(), ids.size(), nullptr, 0, &len),
            DCLLM_ERR_BUFFER_TOO_SMALL);
  EXPECT_EQ(len, text.size());
  std::vector<char> out(len + 1, 'x');
  // One byte short: truncated, NUL-terminated, and the full length reported.
  size_t short_len = 0;
  ASSERT_EQ(dcllm_detokenize(m.get(), ids.data(), ids.size(), out.data(), len, &short_len),
            DCLLM_ERR_BUFFER_TOO_SMALL);
  EXPECT_EQ(short_len, len);
  EXPECT_EQ(std::string(out.data()), text.substr(0, len - 1));
  ASSERT_EQ(dcllm_detokenize(m.get(), ids.data(), ids.size(), out.data(), out.size(), &len),
            DCLLM_OK);
  EXPECT_EQ(std::string(out.data(), len), text);
  EXPECT_EQ(out[len], '\0');

  // Errors.
  EXPECT_EQ(dcllm_tokenize(nullptr, "a", 1, 1, ids.data(), n, &n), DCLLM_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(dcllm_tokenize(m.get(), nullptr, 3, 1, ids.data(), n, &n), DCLLM_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(dcllm_tokenize(m.get(), "a", 1, 1, nullptr, 5, &n), DCLLM_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(dcllm_tokenize(m.get(), "a", 1, 1, ids.data(), n, nullptr), DCLLM_ERR_INVALID_ARGUMENT);
  const int32_t bad[] = {1, 600};
  EXPECT_EQ(dcllm_detokenize(m.get(), bad, 2, out.data(), out.size(), &len),
            DCLLM_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(dcllm_last_error()).find("token 600 at index 1"), std::string::npos)
      << dcllm_last_error();
  EXPECT_EQ(dcllm_detokenize(m.get(), nullptr, 2, out.data(), out.size(), &len),
            DCLLM_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(dcllm_detokenize(m.get(), ids.data(), ids.size(), out.data(), out.size(), nullptr),
            DCLLM_ERR_INVALID_ARGUMENT);
}

TEST(CApi, GreedyGenerationMatchesLlama2c) {
  ModelPtr m = stories();
  EXPECT_EQ(generate(m.get(), "", 60), kReference);
  ModelPtr g = load(kGguf);
  EXPECT_EQ(generate(g.get(), "", 60), kReference);
}

struct Stream {
  std::string text;
  std::vector<int32_t> tokens;
  int stop_after = -1;
};

int on_token(void* user, int32_t token, const char* piece, size_t len) {
  auto* s = static_cast<Stream*>(user);
  s->text.append(piece, len);
  s->tokens.push_back(token);
  return static_cast<int>(s->tokens.size()) == s->stop_after ? 1 : 0;
}

TEST(CApi, GenerateStreamsStopsAndReportsStats) {
  ModelPtr m = stories();
  dcllm_generate_params g = dcllm_generate_params_default();
  EXPECT_EQ(g.max_tokens, 256);
  EXPECT_FLOAT_EQ(g.temperature, 0.8f);
  EXPECT_EQ(g.seed, 42u);
  g.max_tokens = 40;
  g.temperature = 1.0f;
  g.seed = 7;
  Stream s;
  g.on_token = on_token;
  g.user_data = &s;
  std::vector<char> buf(4096);
  size_t len = 0;
  dcllm_generate_stats st{};
  const std::string prompt = "Once upon a time";
  ASSERT_EQ(
      dcllm_generate(m.get(), prompt.data(), prompt.size(), &g, buf.data(), buf.size(), &len, &st),
      DCLLM_OK)
      << dcllm_last_error();
  EXPECT_EQ(std::string(buf.data(), len), s.text);
  EXPECT_EQ(st.generated_tokens, static_cast<int64_t>(s.tokens.size()));
  EXPECT_EQ(st.prompt_tokens, 5);                             // BOS + 4 pieces
  EXPECT_EQ(generate(m.get(), prompt, 40, 1.0f, 7), s.text);  // seeded
  EXPECT_NE(generate(m.get(), prompt, 40, 1.0f, 8), s.text);

  // The callback stops after its third token; the call still succeeds.
  Stream stop;
  stop.stop_after = 3;
  g.temperature = 0;
  g.user_data = &stop;
  ASSERT_EQ(dcllm_generate(m.get(), "", 0, &g, buf.data(), buf.size(), &len, &st), DCLLM_OK);
  EXPECT_EQ(stop.tokens.size(), 3u);
  EXPECT_EQ(st.generated_tokens, 3);
  EXPECT_EQ(std::string(buf.data(), len), stop.text);
  EXPECT_EQ(std::string(kReference).rfind(stop.text, 0), 0u) << stop.text;

  // Callback only: out NULL with capacity 0.
  Stream only;
  g.user_data = &only;
  ASSERT_EQ(dcllm_generate(m.get(), "", 0, &g, nullptr, 0, nullptr, nullptr), DCLLM_OK);
  EXPECT_EQ(only.tokens.size(), 40u);
}

TEST(CApi, GenerateErrors) {
  ModelPtr m = stories();
  size_t len = 0;
  char small[16];
  dcllm_generate_params g = dcllm_generate_params_default();
  g.max_tokens = 60;
  g.temperature = 0;
  // Too small: truncated text, the full length, and the error.
  ASSERT_EQ(dcllm_generate(m.get(), "", 0, &g, small, sizeof small, &len, nullptr),
            DCLLM_ERR_BUFFER_TOO_SMALL);
  EXPECT_EQ(len, std::strlen(kReference));
  EXPECT_EQ(std::string(small), std::string(kReference).substr(0, sizeof small - 1));
  EXPECT_EQ(dcllm_generate(nullptr, "", 0, &g, small, sizeof small, &len, nullptr),
            DCLLM_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(dcllm_generate(m.get(), nullptr, 4, &g, small, sizeof small, &len, nullptr),
            DCLLM_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(dcllm_generate(m.get(), "", 0, &g, nullptr, 16, &len, nullptr),
            DCLLM_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(dcllm_generate(m.get(), "", 0, &g, small, sizeof small, nullptr, nullptr),
            DCLLM_ERR_INVALID_ARGUMENT);
  g.max_tokens = -1;
  EXPECT_EQ(dcllm_generate(m.get(), "", 0, &g, small, sizeof small, &len, nullptr),
            DCLLM_ERR_INVALID_ARGUMENT);
  g.max_tokens = 4;
  g.temperature = -1.0f;
  EXPECT_EQ(dcllm_generate(m.get(), "", 0, &g, small, sizeof small, &len, nullptr),
            DCLLM_ERR_INVALID_ARGUMENT);
  g.temperature = NAN;
  EXPECT_EQ(dcllm_generate(m.get(), "", 0, &g, small, sizeof small, &len, nullptr),
            DCLLM_ERR_INVALID_ARGUMENT);
  // A prompt longer than the context.
  std::string long_prompt;
  for (int i = 0; i < 600; ++i) long_prompt += " Lily";
  g.temperature = 0;
  EXPECT_EQ(dcllm_generate(m.get(), long_prompt.data(), long_prompt.size(), &g, small, sizeof small,
                           &len, nullptr),
            DCLLM_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(dcllm_last_error()).find("exceeds the context"), std::string::npos)
      << dcllm_last_error();
}

TEST(CApi, PerplexityEqualsTheLibraryPath) {
  ModelPtr m = stories();
  auto text = dcllm::read_text_file(kText);
  ASSERT_TRUE(text.ok());
  dcllm_perplexity_params p = dcllm_perplexity_params_default();
  p.ctx = 256;
  p.windows = 4;
  dcllm_perplexity_result r;
  ASSERT_EQ(dcllm_perplexity(m.get(), text->data(), text->size(), &p, &r), DCLLM_OK)
      << dcllm_last_error();
  EXPECT_EQ(r.tokens, 4 * 255);
  EXPECT_EQ(r.windows, 4);
  EXPECT_EQ(r.ctx, 256);
  EXPECT_NEAR(r.ppl, std::exp(r.nll), 1e-9 * r.ppl);

  // The same through the C++ library (what `dcllm ppl` runs).
  dcllm::LoadOptions lo;
  lo.tokenizer_path = kTok;
  auto model = dcllm::load_model(kBin, lo);
  ASSERT_TRUE(model.ok());
  auto tok = dcllm::tokenizer_for(*model);
  ASSERT_TRUE(tok.ok());
  dcllm::TransformerOptions to;
  to.max_seq = 256;
  to.threads = 1;
  auto t = dcllm::Transformer::create(*model, to);
  ASSERT_TRUE(t.ok());
  dcllm::PerplexityOptions po;
  po.ctx = 256;
  po.max_windows = 4;
  auto ref = dcllm::evaluate_perplexity(*t, tok->encode(*text, true), po);
  ASSERT_TRUE(ref.ok());
  EXPECT_DOUBLE_EQ(r.ppl, ref->ppl());

  // CRLF reads as LF, as in `dcllm ppl`.
  std::string crlf;
  for (char c : text->substr(0, 20000)) {
    if (c == '\n') crlf += '\r';
    crlf += c;
  }
  dcllm_perplexity_result a, b;
  p.windows = 2;
  ASSERT_EQ(dcllm_perplexity(m.get(), crlf.data(), crlf.size(), &p, &a), DCLLM_OK);
  ASSERT_EQ(dcllm_perplexity(m.get(), text->data(), 20000, &p, &b), DCLLM_OK);
  EXPECT_EQ(a.ppl, b.ppl);
}

struct Progress {
  std::vector<std::pair<std::string, int64_t>> calls;
  int64_t cancel_at = -1;
};

int on_progress(void* user, const char* stage, int64_t done, int64_t total) {
  auto* p = static_cast<Progress*>(user);
  p->calls.emplace_back(stage, done);
  (void)total;
  return done == p->cancel_at ? 1 : 0;
}

TEST(CApi, PerplexityProgressCancelAndErrors) {
  ModelPtr m = stories();
  const std::string text = *dcllm::read_text_file(kText);
  dcllm_perplexity_params p = dcllm_perplexity_params_default();
  p.ctx = 64;
  p.windows = 3;
  Progress prog;
  p.on_progress = on_progress;
  p.user_data = &prog;
  dcllm_perplexity_result r;
  ASSERT_EQ(dcllm_perplexity(m.get(), text.data(), text.size(), &p, &r), DCLLM_OK);
  ASSERT_EQ(prog.calls.size(), 3u);
  EXPECT_EQ(prog.calls[2].first, "perplexity");
  EXPECT_EQ(prog.calls[2].second, 3);
  prog.calls.clear();
  prog.cancel_at = 2;
  EXPECT_EQ(dcllm_perplexity(m.get(), text.data(), text.size(), &p, &r), DCLLM_ERR_CANCELLED);
  EXPECT_EQ(prog.calls.size(), 2u);

  p = dcllm_perplexity_params_default();
  p.ctx = 513;
  EXPECT_EQ(dcllm_perplexity(m.get(), text.data(), text.size(), &p, &r),
            DCLLM_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(dcllm_last_error()).find("exceeds the model's context of 512"),
            std::string::npos);
  p.ctx = 1;
  EXPECT_EQ(dcllm_perplexity(m.get(), text.data(), text.size(), &p, &r),
            DCLLM_ERR_INVALID_ARGUMENT);
  p.ctx = 0;
  p.windows = -2;
  EXPECT_EQ(dcllm_perplexity(m.get(), text.data(), text.size(), &p, &r),
            DCLLM_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(dcllm_perplexity(m.get(), "", 0, nullptr, &r), DCLLM_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(dcllm_perplexity(m.get(), text.data(), text.size(), nullptr, nullptr),
            DCLLM_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(dcllm_perplexity(nullptr, text.data(), text.size(), nullptr, &r),
            DCLLM_ERR_INVALID_ARGUMENT);
}

TEST(CApi, TensorsAreViewsOfTheModel) {
  ModelPtr m = stories();
  dcllm_tensor t;
  ASSERT_EQ(dcllm_model_find_tensor(m.get(), "token_embd.weight", &t), DCLLM_OK);
  EXPECT_STREQ(t.name, "token_embd.weight");
  EXPECT_EQ(t.n_dims, 2);
  EXPECT_EQ(t.shape[0], 512);
  EXPECT_EQ(t.shape[1], 64);
  EXPECT_EQ(t.dtype, DCLLM_DTYPE_F32);
  EXPECT_EQ(t.n_elements, 512 * 64);
  EXPECT_EQ(t.n_bytes, 512u * 64u * 4u);
  EXPECT_EQ(t.quant, DCLLM_QUANT_NONE);
  EXPECT_EQ(t.scales, nullptr);
  ASSERT_NE(t.data, nullptr);
  dcllm_tensor again;
  ASSERT_EQ(dcllm_model_find_tensor(m.get(), "token_embd.weight", &again), DCLLM_OK);
  EXPECT_EQ(again.data, t.data);  // the same memory, not a copy

  dcllm_model_info info;
  ASSERT_EQ(dcllm_model_get_info(m.get(), &info), DCLLM_OK);
  int64_t elements = 0;
  for (size_t i = 0; i < info.n_tensors; ++i) {
    ASSERT_EQ(dcllm_model_get_tensor(m.get(), i, &t), DCLLM_OK);
    elements += t.n_elements;
  }
  EXPECT_EQ(elements, info.parameters);
  EXPECT_EQ(dcllm_model_get_tensor(m.get(), info.n_tensors, &t), DCLLM_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(dcllm_model_find_tensor(m.get(), "blk.9.nothing", &t), DCLLM_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(dcllm_last_error()).find("no tensor named 'blk.9.nothing'"),
            std::string::npos);
  EXPECT_EQ(dcllm_model_find_tensor(m.get(), nullptr, &t), DCLLM_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(dcllm_model_find_tensor(m.get(), "token_embd.weight", nullptr),
            DCLLM_ERR_INVALID_ARGUMENT);
}

TEST(CApi, CompressReportAndInt8Tensors) {
  const std::string out = ::testing::TempDir() + "c_api_report.dcllm";
  std::filesystem::remove(out);
  dcllm_compress_params p = dcllm_compress_params_default();
  EXPECT_STREQ(p.scale, "dc");
  EXPECT_STREQ(p.codec, "rans");
  p.tokenizer_path = kTok.c_str();
  p.calib_path = kText.c_str();
  p.calib_tokens = 1024;
  p.calib_ctx = 128;
  p.threads = 1;
  Progress prog;
  p.on_progress = on_progress;
  p.user_data = &prog;
  dcllm_compress_result* r = nullptr;
  ASSERT_EQ(dcllm_compress(kBin.c_str(), out.c_str(), &p, &r), DCLLM_OK) << dcllm_last_error();
  ASSERT_NE(r, nullptr);
  dcllm_compress_summary s;
  ASSERT_EQ(dcllm_compress_result_summary(r, &s), DCLLM_OK);
  EXPECT_EQ(s.file_bytes, std::filesystem::file_size(out));
  EXPECT_EQ(s.parameters, 260032);
  // Ratios as the report defines them (stories260K's 64x64 tensors are too small to assert a
  // gain over INT8: each coded frame carries its own table).
  EXPECT_EQ(s.int8_bytes, 260032u - 5u * 64u * 2u - 64u);  // every linear and token_embd
  EXPECT_DOUBLE_EQ(s.cr_vs_int8,
                   static_cast<double>(s.int8_bytes) / (s.stored_bytes + s.scale_bytes));
  EXPECT_DOUBLE_EQ(s.bits_per_weight, 8.0 * (s.stored_bytes + s.scale_bytes) / s.int8_bytes);
  EXPECT_GT(s.scale_bytes, 0u);
  // A 260K-parameter model carries its vocabulary and calibration statistics: small ratio.
  EXPECT_GT(s.cr_vs_fp16, 1.0);
  EXPECT_NEAR(s.cr_vs_fp16, 2.0 * 260032 / static_cast<double>(s.file_bytes), 1e-9);
  size_t len = 0;
  ASSERT_EQ(dcllm_compress_result_json(r, nullptr, 0, &len), DCLLM_ERR_BUFFER_TOO_SMALL);
  std::vector<char> json(len + 1);
  ASSERT_EQ(dcllm_compress_result_json(r, json.data(), json.size(), &len), DCLLM_OK);
  auto j = nlohmann::json::parse(std::string(json.data(), len));
  EXPECT_EQ(j["file_bytes"].get<uint64_t>(), s.file_bytes);
  dcllm_compress_result_free(r);
  dcllm_compress_result_free(nullptr);
  bool calibrated = false, encoded = false;
  for (const auto& [stage, done] : prog.calls) {
    calibrated = calibrated || stage == "calibrate";
    encoded = encoded || stage == "encode";
  }
  EXPECT_TRUE(calibrated && encoded);

  ModelPtr m = load(out);
  dcllm_model_info info;
  ASSERT_EQ(dcllm_model_get_info(m.get(), &info), DCLLM_OK);
  EXPECT_EQ(info.int8, 1);
  EXPECT_EQ(std::string(info.format).rfind("dcllm", 0), 0u) << info.format;
  dcllm_tensor t;
  ASSERT_EQ(dcllm_model_find_tensor(m.get(), "blk.0.attn_q.weight", &t), DCLLM_OK);
  EXPECT_EQ(t.dtype, DCLLM_DTYPE_I8);
  EXPECT_EQ(t.quant, DCLLM_QUANT_PER_CHANNEL);
  EXPECT_EQ(t.n_scales, 64u);
  EXPECT_EQ(t.n_bytes, 64u * 64u);
  ASSERT_NE(t.scales, nullptr);
  EXPECT_GT(t.scales[0], 0.0f);
}

TEST(CApi, WeightTiersGiveTheSameText) {
  ModelPtr resident = load(compressed_path());
  const std::string text = generate(resident.get(), "", 30);
  for (dcllm_weights w : {DCLLM_WEIGHTS_COMPRESSED, DCLLM_WEIGHTS_STREAM}) {
    ModelPtr m = load(compressed_path(), nullptr, w);
    ASSERT_TRUE(m);
    dcllm_model_info info;
    ASSERT_EQ(dcllm_model_get_info(m.get(), &info), DCLLM_OK);
    EXPECT_EQ(info.weights, w);
    EXPECT_EQ(generate(m.get(), "", 30), text);
    dcllm_tensor t;
    ASSERT_EQ(dcllm_model_find_tensor(m.get(), "blk.0.attn_q.weight", &t), DCLLM_OK);
    EXPECT_EQ(t.dtype, DCLLM_DTYPE_NONE);  // kept coded
    EXPECT_EQ(t.data, nullptr);
    EXPECT_EQ(t.n_scales, 64u);
  }
}

TEST(CApi, CompressErrorsLeaveNoOutput) {
  const std::string out = ::testing::TempDir() + "c_api_never.dcllm";
  std::filesystem::remove(out);
  dcllm_compress_params p = dcllm_compress_params_default();
  dcllm_compress_result* r = reinterpret_cast<dcllm_compress_result*>(0x1);
  EXPECT_EQ(dcllm_compress(nullptr, out.c_str(), &p, &r), DCLLM_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(r, nullptr);
  EXPECT_EQ(dcllm_compress(kGguf.c_str(), nullptr, &p, &r), DCLLM_ERR_INVALID_ARGUMENT);
  p.calib_path = "/nonexistent/calib.txt";
  EXPECT_NE(dcllm_compress(kGguf.c_str(), out.c_str(), &p, &r), DCLLM_OK);
  EXPECT_NE(std::string(dcllm_last_error()).find("/nonexistent/calib.txt"), std::string::npos)
      << dcllm_last_error();
  p.calib_path = kText.c_str();
  p.scale = "sideways";
  EXPECT_EQ(dcllm_compress(kGguf.c_str(), out.c_str(), &p, &r), DCLLM_ERR_INVALID_ARGUMENT);
  EXPECT_FALSE(std::filesystem::exists(out));

  // Cancelled in the last step before the file would be renamed into place.
  p = dcllm_compress_params_default();
  p.calib_path = kText.c_str();
  p.calib_tokens = 512;
  p.calib_ctx = 128;
  p.threads = 1;
  Progress prog;
  prog.cancel_at = 1;
  p.on_progress = [](void* user, const char* stage, int64_t done, int64_t total) {
    auto* pr = static_cast<Progress*>(user);
    pr->calls.emplace_back(stage, done);
    return std::string(stage) == "encode" && done == total ? 1 : 0;
  };
  p.user_data = &prog;
  EXPECT_EQ(dcllm_compress(kGguf.c_str(), out.c_str(), &p, &r), DCLLM_ERR_CANCELLED);
  EXPECT_FALSE(std::filesystem::exists(out));
  EXPECT_EQ(prog.calls.back().first, "encode");
  EXPECT_NE(std::string(dcllm_last_error()).find("cancelled"), std::string::npos);
}

TEST(CApi, InspectJson) {
  size_t len = 0;
  ASSERT_EQ(dcllm_inspect(kGguf.c_str(), 0, nullptr, 0, &len), DCLLM_ERR_BUFFER_TOO_SMALL);
  std::vector<char> buf(len + 1);
  ASSERT_EQ(dcllm_inspect(kGguf.c_str(), 0, buf.data(), buf.size(), &len), DCLLM_OK);
  auto j = nlohmann::json::parse(std::string(buf.data(), len));
  EXPECT_EQ(j["path"], kGguf);
  EXPECT_EQ(j["format"], "GGUF v3");
  ModelPtr gguf = load(kGguf);
  dcllm_model_info info;
  ASSERT_EQ(dcllm_model_get_info(gguf.get(), &info), DCLLM_OK);
  EXPECT_EQ(j["parameters"], info.parameters);  // the GGUF has its own output.weight
  EXPECT_EQ(j["tensors"].size(), info.n_tensors);
  EXPECT_EQ(j["vocab"]["size"], 512);

  ASSERT_EQ(dcllm_inspect(compressed_path().c_str(), DCLLM_INSPECT_CHUNKS, nullptr, 0, &len),
            DCLLM_ERR_BUFFER_TOO_SMALL);
  buf.assign(len + 1, 0);
  ASSERT_EQ(
      dcllm_inspect(compressed_path().c_str(), DCLLM_INSPECT_CHUNKS, buf.data(), buf.size(), &len),
      DCLLM_OK);
  j = nlohmann::json::parse(std::string(buf.data(), len));
  EXPECT_EQ(j["format"], "dcllm");
  EXPECT_EQ(j["totals"]["file_bytes"], std::filesystem::file_size(compressed_path()));
  EXPECT_TRUE(j["tensors"][0].contains("chunk_list"));

  EXPECT_EQ(dcllm_inspect("/nonexistent.dcllm", 0, buf.data(), buf.size(), &len), DCLLM_ERR_IO);
  EXPECT_EQ(dcllm_inspect(nullptr, 0, buf.data(), buf.size(), &len), DCLLM_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(dcllm_inspect(kGguf.c_str(), 4, buf.data(), buf.size(), &len),
            DCLLM_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(dcllm_inspect(kGguf.c_str(), 0, buf.data(), buf.size(), nullptr),
            DCLLM_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(dcllm_inspect(kGguf.c_str(), 0, nullptr, 10, &len), DCLLM_ERR_INVALID_ARGUMENT);
}

TEST(CApi, OneModelFromSeveralThreads) {
  ModelPtr m = stories();
  std::string a, b;
  std::thread ta([&] { a = generate(m.get(), "", 60); });
  std::thread tb([&] { b = generate(m.get(), "", 60); });
  ta.join();
  tb.join();
  EXPECT_EQ(a, kReference);
  EXPECT_EQ(b, kReference);
}

TEST(CApi, ErrorMessagesArePerThread) {
  dcllm_model* m = nullptr;
  ASSERT_NE(dcllm_model_load("/nonexistent/a.gguf", nullptr, &m), DCLLM_OK);
  std::string other;
  std::thread t([&] { other = dcllm_last_error(); });
  t.join();
  EXPECT_EQ(other, "");
  EXPECT_NE(std::string(dcllm_last_error()).find("/nonexistent/a.gguf"), std::string::npos);
}

}  // namespace
