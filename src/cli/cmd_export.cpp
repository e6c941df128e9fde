// `dcllm export MODEL -o OUT.gguf`: writes a model dcllm reads (a compressed .dcllm above all)
// back out as a GGUF file for llama.cpp and the tools around it (docs/cli.md).
#include <fmt/format.h>

#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/commands.h"
#include "core/file_identity.h"
#include "model/gguf_export.h"
#include "model/model_loader.h"

namespace dcllm::cli {
namespace {

struct ExportArgs {
  std::string model;
  std::string output;
  std::string tokenizer;
  std::string type = "q8_0";
  unsigned threads = 2;
  bool json = false;
};

Status run(const ExportArgs& a) {
  if (a.model.empty()) return InvalidArgument("export: no model given (MODEL or -m MODEL)");
  if (a.output.size() < 5 || a.output.compare(a.output.size() - 5, 5, ".gguf") != 0) {
    return InvalidArgument(a.output + ": the output must be a .gguf file");
  }
  // Before any work: the output may not be the input under another name.
  DCLLM_RETURN_IF_ERROR(check_output_path(a.output, {a.model, a.tokenizer}));
  LoadOptions load;
  load.tokenizer_path = a.tokenizer;
  load.threads = resolve_threads(a.threads);
  DCLLM_ASSIGN_OR_RETURN(Model model, load_model(a.model, load));
  GgufExportOptions opts;
  opts.q8_0 = a.type == "q8_0";
  opts.threads = load.threads;
  DCLLM_ASSIGN_OR_RETURN(GgufExportReport r, export_gguf(model, a.output, opts));
  std::error_code ec;
  const auto bytes = std::filesystem::file_size(a.output, ec);
  if (a.json) {
    nlohmann::ordered_json j = {
        {"model", a.model},
        {"output", a.output},
        {"architecture", r.architecture},
        {"q8_0_tensors", r.q8_0_tensors},
        {"f16_tensors", r.f16_tensors},
        {"f32_tensors", r.f32_tensors},
        {"bytes", ec ? 0 : bytes},
        {"chat_template", model.vocab && !model.vocab->chat_template.empty()}};
    fmt::print("{}\n", j.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace));
  } else {
    fmt::print("{}: GGUF ({}), {} tensors: {} Q8_0, {} F16, {} F32; {} bytes{}\n", a.output,
               r.architecture, r.q8_0_tensors + r.f16_tensors + r.f32_tensors, r.q8_0_tensors,
               r.f16_tensors, r.f32_tensors, ec ? 0 : bytes,
               model.vocab && !model.vocab->chat_template.empty() ? "; chat template kept" : "");
  }
  std::fflush(stdout);
  return Status::Ok();
}

}  // namespace

void add_export_command(CLI::App& app, Action& action) {
  auto args = std::make_shared<ExportArgs>();
  auto* cmd = app.add_subcommand(
      "export", "Write a model (.dcllm, .gguf, .bin, HF directory) as a GGUF file for llama.cpp");
  const char* model_help = "Model: .dcllm, .gguf, llama2.c .bin, or a Hugging Face directory";
  cmd->add_option("model", args->model, model_help);
  cmd->add_option("-m,--model", args->model, model_help);
  cmd->add_option("-o,--output", args->output, "Output .gguf file")->required();
  cmd->add_option("--tokenizer", args->tokenizer,
                  "llama2.c tokenizer.bin (for .bin models; default: tokenizer.bin beside it)");
  cmd->add_option("--type", args->type,
                  "Weight type: q8_0 (2-D weights whose rows are whole 32-blocks; others F16) or "
                  "f16")
      ->capture_default_str()
      ->check(CLI::IsMember({"q8_0", "f16"}));
  cmd->add_option("-t,--threads", args->threads, kThreadsHelp)
      ->capture_default_str()
      ->check(CLI::Range(0u, 256u));
  cmd->add_flag("--json", args->json, "print JSON (schema: docs/cli.md)");
  cmd->callback([&action, args] { action = [args] { return run(*args); }; });
}

}  // namespace dcllm::cli
