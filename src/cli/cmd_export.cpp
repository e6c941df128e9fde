// `dcllm export MODEL -o OUT.gguf | -o DIR`: writes a model dcllm reads (a compressed .dcllm
// above all) back out as a GGUF file for llama.cpp, or a Hugging Face directory (docs/cli.md).
#include <fmt/format.h>

#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/commands.h"
#include "core/file_identity.h"
#include "core/progress.h"
#include "model/gguf_export.h"
#include "model/hf_export.h"
#include "model/model_loader.h"

namespace dcllm::cli {
namespace {

struct ExportArgs {
  std::string model;
  std::string output;
  std::string tokenizer;
  std::string type;  // "": q8_0 for a GGUF, f16 for a directory
  unsigned threads = 2;
  bool json = false;
  bool progress = true;  // --no-progress clears it
};

bool is_gguf_path(const std::string& p) {
  return p.size() >= 5 && p.compare(p.size() - 5, 5, ".gguf") == 0;
}

// A directory output is named without an extension (or ends in '/'), so that `-o model.bin`
// is a mistake reported, not a directory called model.bin.
bool is_directory_path(const std::string& p) {
  if (!p.empty() && p.back() == '/') return true;
  const size_t slash = p.find_last_of('/');
  const std::string last = slash == std::string::npos ? p : p.substr(slash + 1);
  return !last.empty() && last.find('.') == std::string::npos;
}

Status run_gguf(const ExportArgs& a, const Model& model, unsigned threads) {
  GgufExportOptions opts;
  opts.q8_0 = a.type != "f16";
  opts.threads = threads;
  GgufExportReport r;
  {
    // Scoped: the line ends before the result (or main()'s error line) is printed.
    Progress progress("export", a.progress);
    opts.on_progress = [&progress](int64_t done, int64_t total) { progress.update(done, total); };
    DCLLM_ASSIGN_OR_RETURN(r, export_gguf(model, a.output, opts));
  }
  std::error_code ec;
  const auto bytes = std::filesystem::file_size(a.output, ec);
  const bool chat = model.vocab && !model.vocab->chat_template.empty();
  if (a.json) {
    nlohmann::ordered_json j = {{"model", a.model},
                                {"output", a.output},
                                {"format", "gguf"},
                                {"architecture", r.architecture},
                                {"q8_0_tensors", r.q8_0_tensors},
                                {"f16_tensors", r.f16_tensors},
                                {"f32_tensors", r.f32_tensors},
                                {"bytes", ec ? 0 : bytes},
                                {"chat_template", chat}};
    fmt::print("{}\n", j.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace));
  } else {
    fmt::print("{}: GGUF ({}), {} tensors: {} Q8_0, {} F16, {} F32; {} bytes{}\n", a.output,
               r.architecture, r.q8_0_tensors + r.f16_tensors + r.f32_tensors, r.q8_0_tensors,
               r.f16_tensors, r.f32_tensors, ec ? 0 : bytes, chat ? "; chat template kept" : "");
  }
  return Status::Ok();
}

Status run_directory(const ExportArgs& a, const Model& model, unsigned threads) {
  HfExportOptions opts;
  opts.f16 = a.type != "f32";
  opts.threads = threads;
  HfExportReport r;
  {
    Progress progress("export", a.progress);
    opts.on_progress = [&progress](int64_t done, int64_t total) { progress.update(done, total); };
    DCLLM_ASSIGN_OR_RETURN(r, export_hf_directory(model, a.output, opts));
  }
  const bool chat = model.vocab && !model.vocab->chat_template.empty();
  if (a.json) {
    nlohmann::ordered_json j = {{"model", a.model},        {"output", a.output},
                                {"format", "huggingface"}, {"architecture", r.architecture},
                                {"tensors", r.tensors},    {"dtype", opts.f16 ? "F16" : "F32"},
                                {"bytes", r.bytes},        {"chat_template", chat}};
    fmt::print("{}\n", j.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace));
  } else {
    fmt::print(
        "{}: Hugging Face directory ({}), {} tensors in model.safetensors ({}, norms and "
        "biases F32), config.json, tokenizer.json, tokenizer_config.json; {} bytes{}\n",
        a.output, r.architecture, r.tensors, opts.f16 ? "F16" : "F32", r.bytes,
        chat ? "; chat template kept" : "");
  }
  return Status::Ok();
}

Status run(const ExportArgs& a) {
  if (a.model.empty()) return InvalidArgument("export: no model given (MODEL or -m MODEL)");
  const bool gguf = is_gguf_path(a.output);
  if (!gguf && !is_directory_path(a.output)) {
    return InvalidArgument(a.output +
                           ": the output must be a .gguf file or a new directory (a name without "
                           "an extension)");
  }
  if (gguf && a.type == "f32") {
    return InvalidArgument("--type f32: a GGUF export is q8_0 or f16 (f32 is for a directory)");
  }
  if (!gguf && a.type == "q8_0") {
    return InvalidArgument("--type q8_0: safetensors has no Q8_0; a directory is f16 or f32");
  }
  if (!gguf) {
    std::error_code ec;
    if (std::filesystem::exists(a.output, ec)) {
      return InvalidArgument(a.output +
                             ": already exists; -o names a new directory (or a .gguf file)");
    }
  }
  // Before any work: the output may not be the input under another name.
  DCLLM_RETURN_IF_ERROR(check_output_path(a.output, {a.model, a.tokenizer}));
  LoadOptions load;
  load.tokenizer_path = a.tokenizer;
  load.threads = resolve_threads(a.threads);
  DCLLM_ASSIGN_OR_RETURN(Model model, load_model(a.model, load));
  DCLLM_RETURN_IF_ERROR(gguf ? run_gguf(a, model, load.threads)
                             : run_directory(a, model, load.threads));
  std::fflush(stdout);
  return Status::Ok();
}

}  // namespace

void add_export_command(CLI::App& app, Action& action) {
  auto args = std::make_shared<ExportArgs>();
  auto* cmd = app.add_subcommand(
      "export",
      "Write a model (.dcllm, .gguf, .bin, HF directory) as a GGUF file for llama.cpp, or as a "
      "Hugging Face directory (safetensors, config.json, tokenizer.json)");
  const char* model_help = "Model: .dcllm, .gguf, llama2.c .bin, or a Hugging Face directory";
  cmd->add_option("model", args->model, model_help);
  cmd->add_option("-m,--model", args->model, model_help);
  cmd->add_option("-o,--output", args->output,
                  "Output: a .gguf file, or a new directory for a Hugging Face checkpoint")
      ->required();
  cmd->add_option("--tokenizer", args->tokenizer,
                  "llama2.c tokenizer.bin (for .bin models; default: tokenizer.bin beside it)");
  cmd->add_option("--type", args->type,
                  "Weight type. GGUF: q8_0 (default; 2-D weights whose rows are whole 32-blocks, "
                  "others F16) or f16. Directory: f16 (default) or f32")
      ->check(CLI::IsMember({"q8_0", "f16", "f32"}));
  cmd->add_option("-t,--threads", args->threads, kThreadsHelp)
      ->capture_default_str()
      ->check(CLI::Range(0u, 256u));
  cmd->add_flag("--json", args->json, "print JSON (schema: docs/cli.md)");
  cmd->add_flag("!--no-progress", args->progress, "No progress line on the terminal");
  cmd->callback([&action, args] { action = [args] { return run(*args); }; });
}

}  // namespace dcllm::cli
