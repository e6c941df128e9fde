// `dcllm bench run MODEL`: prompt and generation speed of the forward pass (a .dcllm's W8A8 in
// the --weights tier, next to float32) and the process's peak RSS (VmHWM); also `inspect` for
// model files (.bin, .gguf), which cmd_inspect calls.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "api/inspect_json.h"
#include "cli/commands.h"
#include "cli/weights_options.h"
#include "model/dcllm_model_metadata.h"
#include "model/dcllm_model_reader.h"
#include "model/model_loader.h"
#include "runtime/generate.h"
#include "runtime/transformer.h"
#include "runtime/weight_plan.h"
#include "runtime/weight_source.h"

namespace dcllm::cli {
namespace {

struct BenchRunArgs {
  std::string model;
  std::string tokenizer;
  int64_t prompt_tokens = 128;
  int64_t gen_tokens = 64;
  unsigned threads = 2;
  bool json = false;
  WeightsArgs weights;
};

// The process's peak resident set (VmHWM of /proc/self/status: anonymous memory, file pages
// mapped and touched, shared memory), in bytes; 0 where there is no /proc.
uint64_t peak_rss_bytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stoull(line.substr(6)) * 1024;  // "N kB"
  }
  return 0;
}

// Bytes of float32 weights used in place from the mapping versus decoded into owned buffers.
void weight_residency(const Model& m, uint64_t* mapped, uint64_t* owned) {
  *mapped = *owned = 0;
  for (const auto& t : m.tensors()) {
    if (!t.data) continue;
    (t.owned.empty() ? *mapped : *owned) += static_cast<uint64_t>(t.numel()) * sizeof(float);
  }
}

bool has_int8_weights(const Model& m) {
  for (const auto& t : m.tensors())
    if (t.int8) return true;
  return false;
}

// Prompt as one batch, then greedy generation token by token, on a fresh Transformer; `memory`
// gets the INT8 weight bytes its WeightSource held.
Expected<GenerateStats> time_generation(const Model& model, const BenchRunArgs& a,
                                        WeightMemory* memory = nullptr,
                                        std::string* tier = nullptr) {
  const ModelConfig& c = model.config;
  TransformerOptions topts;
  topts.threads = a.threads;
  topts.max_seq = a.prompt_tokens + a.gen_tokens;
  DCLLM_ASSIGN_OR_RETURN(Transformer transformer, Transformer::create(model, topts));
  // A fixed synthetic prompt: speed does not depend on which tokens run.
  std::vector<int32_t> prompt(static_cast<size_t>(a.prompt_tokens));
  for (size_t i = 0; i < prompt.size(); ++i) {
    prompt[i] = static_cast<int32_t>((i * 7919 + 1) % static_cast<size_t>(c.vocab_size));
  }
  GenerateOptions g;
  g.max_new_tokens = a.gen_tokens;
  g.temperature = 0.0f;
  if (memory) *memory = transformer.weights().memory();
  if (tier) *tier = std::string(transformer.weights().tier());
  return generate_tokens(transformer, prompt, g, -1, -1, [](int32_t, int32_t) {});
}

Status bench_run(const BenchRunArgs& a) {
  auto t0 = std::chrono::steady_clock::now();
  LoadOptions load;
  load.tokenizer_path = a.tokenizer;
  load.threads = a.threads;
  RunShape shape;
  shape.prompt_tokens = a.prompt_tokens;
  shape.gen_tokens = a.gen_tokens;
  DCLLM_ASSIGN_OR_RETURN(WeightRequest wr, weight_request(a.weights, shape, a.threads));
  WeightPlacement placement;
  DCLLM_ASSIGN_OR_RETURN(Model model, load_model_placed(a.model, load, wr, &placement));
  const double load_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const ModelConfig& c = model.config;
  if (a.prompt_tokens < 1 || a.gen_tokens < 1) {
    return InvalidArgument("bench run: --prompt-tokens and --gen-tokens must be at least 1");
  }
  if (a.prompt_tokens + a.gen_tokens > c.seq_len) {
    return InvalidArgument("bench run: prompt + generated tokens exceed the model's context of " +
                           std::to_string(c.seq_len));
  }
  const bool w8a8 = has_int8_weights(model);
  WeightMemory held;
  std::string tier = "resident";
  DCLLM_ASSIGN_OR_RETURN(GenerateStats s, time_generation(model, a, &held, &tier));
  uint64_t mapped = 0, owned = 0, int8_bytes = 0, int8_stored = 0;
  weight_residency(model, &mapped, &owned);
  for (const auto& t : model.tensors()) {
    if (!t.int8) continue;
    int8_bytes += static_cast<uint64_t>(t.numel()) + t.int8->scales.size() * sizeof(float);
    int8_stored += t.stored_bytes;
  }
  const uint64_t rss = peak_rss_bytes();  // before a float32 copy exists
  const double rss_mib = static_cast<double>(rss) / 1048576.0;
  // A resident .dcllm also runs dequantized to float32 on the float path: the baseline W8A8
  // must beat (the other tiers have no decoded values to dequantize).
  const bool float_baseline = w8a8 && tier == "resident";
  GenerateStats f;
  if (float_baseline) {
    dequantize_int8_tensors(model);
    DCLLM_ASSIGN_OR_RETURN(f, time_generation(model, a));
  }

  if (a.json) {
    nlohmann::json j = {{"model", a.model},
                        {"weights", tier},
                        {"weights_source", placement.source},
                        {"compute", w8a8 ? "w8a8" : "float32"},
                        {"threads", a.threads},
                        {"load_seconds", load_s},
                        {"prompt_tokens", s.prompt_tokens},
                        {"prompt_tokens_per_second", s.prompt_tokens_per_second()},
                        {"generated_tokens", s.generated_tokens},
                        {"generation_tokens_per_second", s.generated_tokens_per_second()},
                        {"peak_rss_bytes", rss},
                        {"peak_rss_mib", rss_mib},
                        {"weights_mapped_bytes", mapped},
                        {"weights_owned_bytes", owned},
                        {"weights_int8_bytes", int8_bytes}};
    if (w8a8) {
      j["weights_int8_stored_bytes"] = int8_stored;
      j["weight_memory"] = {{"decoded_bytes", held.decoded},
                            {"stored_bytes", held.stored},
                            {"ring_bytes", held.ring},
                            {"scratch_bytes", held.scratch}};
    }
    if (wr.budget_bytes > 0) {
      j["mem_budget_bytes"] = wr.budget_bytes;
      j["minimum_bytes"] = placement.minimum_bytes;
      j["predicted_bytes"] = placement.predicted_bytes;
    }
    if (float_baseline) {
      j["float32"] = {{"prompt_tokens_per_second", f.prompt_tokens_per_second()},
                      {"generation_tokens_per_second", f.generated_tokens_per_second()}};
    }
    std::printf("%s\n", j.dump().c_str());
  } else {
    std::printf("model       %s (%s, %s)\n", a.model.c_str(), model.format.c_str(),
                c.architecture.c_str());
    std::printf("load        %.3f s\n", load_s);
    std::printf("weights     %s  (%s)\n", tier.c_str(), placement.source.c_str());
    if (wr.budget_bytes > 0)
      std::printf("mem budget  %.1f MiB  (minimum %.1f MiB, predicted %.1f MiB)\n",
                  static_cast<double>(wr.budget_bytes) / 1048576.0,
                  static_cast<double>(placement.minimum_bytes) / 1048576.0,
                  static_cast<double>(placement.predicted_bytes) / 1048576.0);
    const char* tag = w8a8 ? "  [w8a8]" : "";
    std::printf("prompt      %lld tokens  %.1f tok/s%s\n", static_cast<long long>(s.prompt_tokens),
                s.prompt_tokens_per_second(), tag);
    std::printf("generation  %lld tokens  %.1f tok/s%s\n",
                static_cast<long long>(s.generated_tokens), s.generated_tokens_per_second(), tag);
    if (float_baseline) {
      std::printf("prompt      %lld tokens  %.1f tok/s  [float32, same weights dequantized]\n",
                  static_cast<long long>(f.prompt_tokens), f.prompt_tokens_per_second());
      std::printf("generation  %lld tokens  %.1f tok/s  [float32, same weights dequantized]\n",
                  static_cast<long long>(f.generated_tokens), f.generated_tokens_per_second());
      std::printf("speedup     generation %.2fx  prompt %.2fx  (w8a8 / float32)\n",
                  s.generated_tokens_per_second() / f.generated_tokens_per_second(),
                  s.prompt_tokens_per_second() / f.prompt_tokens_per_second());
    }
    std::printf(
        "peak RSS    %.1f MiB  (f32 weights: %.1f MiB in place from the mapping, %.1f "
        "MiB decoded; int8 weights: %.1f MiB)\n",
        rss_mib, static_cast<double>(mapped) / 1048576.0, static_cast<double>(owned) / 1048576.0,
        static_cast<double>(int8_bytes) / 1048576.0);
    if (w8a8) {
      std::printf("int8 held   %.1f MiB decoded, %.1f MiB coded, %.1f MiB decode ring\n",
                  static_cast<double>(held.decoded) / 1048576.0,
                  static_cast<double>(held.stored) / 1048576.0,
                  static_cast<double>(held.ring) / 1048576.0);
    }
    std::printf("threads     %u\n", a.threads);
  }
  return Status::Ok();
}
std::string shape_string(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

}  // namespace

void add_bench_run_command(CLI::App& bench, Action& action) {
  auto args = std::make_shared<BenchRunArgs>();
  auto* cmd = bench.add_subcommand(
      "run",
      "Prompt and generation tokens/s and peak RSS (a .dcllm: W8A8 in a --weights tier; "
      "resident also times float32)");
  cmd->add_option("model", args->model,
                  "Model: llama2.c .bin, .gguf, .dcllm, or a Hugging Face directory")
      ->required();
  cmd->add_option("--tokenizer", args->tokenizer, "llama2.c tokenizer.bin (not needed to time)");
  cmd->add_option("--prompt-tokens", args->prompt_tokens, "Prompt length, processed as one batch")
      ->capture_default_str();
  cmd->add_option("--gen-tokens", args->gen_tokens, "Tokens generated one at a time")
      ->capture_default_str();
  cmd->add_option("--threads", args->threads, "Worker threads")
      ->capture_default_str()
      ->check(CLI::Range(1u, 256u));
  cmd->add_flag("--json", args->json, "Print one JSON object");
  add_weights_options(cmd, args->weights);
  cmd->callback([&action, args] { action = [args] { return bench_run(*args); }; });
}

Status inspect_model_file(const std::string& path, bool json) {
  if (json) {
    DCLLM_ASSIGN_OR_RETURN(nlohmann::ordered_json j, api::model_file_json(path));
    std::printf("%s\n", j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    return Status::Ok();
  }
  LoadOptions load;
  load.load_weights = false;
  DCLLM_ASSIGN_OR_RETURN(Model model, load_model(path, load));
  const ModelConfig& c = model.config;
  const nlohmann::json config = model_config_to_json(c);  // the .dcllm metadata schema
  std::printf("%s: %s model, %s\n", path.c_str(), model.format.c_str(), c.architecture.c_str());
  for (const auto& [k, v] : config.items()) {
    std::printf("  %-16s %s\n", k.c_str(),
                v.is_string() ? v.get<std::string>().c_str() : v.dump().c_str());
  }
  if (model.vocab) {
    std::printf("  %-16s %zu tokens (%s), bos %d, eos %d\n", "vocab", model.vocab->tokens.size(),
                model.vocab->kind == VocabKind::kSentencePiece ? "sentencepiece" : "byte-level-bpe",
                model.vocab->bos_id, model.vocab->eos_id);
  }
  if (!model.info.empty()) std::printf("metadata:\n");
  for (const auto& [k, v] : model.info) std::printf("  %-40s %s\n", k.c_str(), v.c_str());
  std::printf("tensors (%zu):\n", model.tensors().size());
  for (const auto& t : model.tensors()) {
    std::printf("  %-36s %-6s %-16s %llu bytes\n", t.name.c_str(), t.stored_type.c_str(),
                shape_string(t.shape).c_str(), static_cast<unsigned long long>(t.stored_bytes));
  }
  std::printf("parameters: %lld  bytes: %llu\n", static_cast<long long>(model.parameter_count()),
              static_cast<unsigned long long>(model.stored_bytes()));
  return Status::Ok();
}

}  // namespace dcllm::cli
