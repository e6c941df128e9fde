// The `compress` verb: float model + calibration text -> .dcllm (scaled, INT8, pruned, coded).
// Options map one to one onto CompressOptions; the report is a table or one JSON object.
#include <fmt/format.h>

#include <cstdio>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "compress/compress_model.h"
#include "core/byte_size.h"
#include "core/parallel.h"
#include "core/progress.h"
#include "core/temp_files.h"

namespace dcllm::cli {
namespace {

struct CompressCliOptions {
  CompressOptions o;
  std::string chunk_bytes;  // --chunk-bytes SIZE
  std::string preset;       // --preset NAME
  CLI::App* cmd = nullptr;  // to ask which options were given explicitly
  bool json = false;
  bool progress = true;  // --no-progress clears it
};

Status run_compress(CompressCliOptions& a) {
  // Ctrl-C or a TERM must not leave a half-written temporary file beside the output.
  install_temp_cleanup_handlers();
  // One progress line per stage (calibrate, encode); local, so any return ends its line
  // before an error is printed.
  StageProgress progress(a.progress);
  a.o.on_progress = [&progress](std::string_view stage, int64_t done, int64_t total) {
    progress.update(stage, done, total);
  };
  if (!a.preset.empty()) {
    DCLLM_RETURN_IF_ERROR(apply_preset(a.preset, a.o, [&](std::string_view option) {
      return a.cmd->count(std::string(option)) > 0;
    }));
  }
  if (!a.chunk_bytes.empty()) {
    DCLLM_ASSIGN_OR_RETURN(a.o.chunk_bytes, parse_byte_size(a.chunk_bytes, "--chunk-bytes"));
    if (a.o.chunk_bytes == 0) return InvalidArgument("--chunk-bytes: must be at least 1 byte");
  }
  DCLLM_ASSIGN_OR_RETURN(CompressReport r, compress_model(a.o));
  progress.end();
  if (a.json) {
    fmt::print("{}\n",
               r.to_json().dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace));
  } else {
    fmt::print("{:<32} {:>12} {:>12} {:>8} {:>8} {:>8} {:>6}\n", "tensor", "int8_bytes", "stored",
               "cr", "bits/w", "H0", "zeros");
    auto row = [](const Int8TensorReport& t) {
      fmt::print("{:<32} {:>12} {:>12} {:>8.3f} {:>8.3f} {:>8.3f} {:>6.3f}\n", t.name, t.int8_bytes,
                 t.stored_bytes, t.cr_vs_int8(), t.bits_per_weight(), t.entropy_bits,
                 t.zero_fraction());
    };
    for (const auto& t : r.tensors) row(t);
    row(r.totals);
    fmt::print("{}: {} bytes (input {} bytes), {:.3f}x vs fp16, {:.3f}x vs int8, {:.1f} s\n",
               r.output, r.file_bytes, r.input_bytes, r.cr_vs_fp16, r.totals.cr_vs_int8(),
               r.seconds);
    for (const std::string& note : r.notes) fmt::print("note: {}\n", note);
  }
  std::fflush(stdout);
  return Status::Ok();
}

}  // namespace

void add_compress_command(CLI::App& app, Action& action) {
  auto a = std::make_shared<CompressCliOptions>();
  CompressOptions& o = a->o;
  o.threads = default_thread_count();
  auto* cmd = app.add_subcommand(
      "compress", "Calibrate, scale, INT8-quantize, prune and entropy-code a model into .dcllm");
  a->cmd = cmd;
  cmd->add_option("model", o.model_path, "Model: llama2.c .bin, .gguf, or a Hugging Face directory")
      ->required();
  cmd->add_option("-o,--output", o.output_path,
                  "Output .dcllm file (written atomically; never one of the inputs)")
      ->required();
  cmd->add_option("--calib", o.calib_path,
                  "UTF-8 calibration text (needed unless --scale none --prune none)");
  cmd->add_option("--tokenizer", o.tokenizer_path,
                  "llama2.c tokenizer.bin (for .bin models; default: tokenizer.bin beside it)");
  cmd->add_option("--calib-tokens", o.calib_tokens, "Calibration tokens")->capture_default_str();
  cmd->add_option("--calib-ctx", o.calib_ctx, "Calibration window length")->capture_default_str();
  cmd->add_option("--scale", o.scale, "dc | rms | smoothquant | none")->capture_default_str();
  cmd->add_option("--alpha", o.alpha, "Scaling exponent alpha (>= 0)")->capture_default_str();
  cmd->add_option("--wquant", o.wquant, "per-tensor | per-channel | group:N")
      ->capture_default_str();
  cmd->add_option("--aquant", o.aquant,
                  "Run-time activations: per-token | per-tensor | block:N | none (float)")
      ->capture_default_str();
  cmd->add_option("--wlevels", o.wlevels, "Block linears' weight range +-N (1..127)")
      ->capture_default_str();
  cmd->add_option("--table-wlevels", o.table_wlevels,
                  "Embedding and classifier weight range +-N (1..127)")
      ->capture_default_str();
  cmd->add_option("--rounding", o.rounding, "nearest | gptq (error feedback, calibration Gram)")
      ->capture_default_str();
  cmd->add_option("--gptq-damp", o.gptq_damp, "GPTQ damping, a share of the mean diagonal")
      ->capture_default_str();
  cmd->add_option(
      "--preset", a->preset,
      "default | accurate | small: a bundle of the options above (docs/compress.md); options "
      "given explicitly win");
  cmd->add_option("--prune", o.prune, "dc | wanda | magnitude | none")->capture_default_str();
  cmd->add_option("--sparsity", o.sparsity, "Share of linear weights zeroed, in [0, 1)")
      ->capture_default_str();
  cmd->add_option("--prune-group", o.prune_group, "row | tensor")->capture_default_str();
  cmd->add_option("--codec", o.codec, "Codec for INT8 tensors")->capture_default_str();
  auto* chunk_rows = cmd->add_option("--chunk-rows", o.chunk_rows,
                                     "INT8 chunks of at most N whole rows (default: --chunk-bytes)")
                         ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 40));
  cmd->add_option("--chunk-bytes", a->chunk_bytes,
                  "INT8 chunks of at most SIZE raw bytes, whole rows (bytes, or KiB/MiB; "
                  "default 64 KiB)")
      ->excludes(chunk_rows);
  cmd->add_option("--threads", o.threads, "Worker threads")->check(CLI::PositiveNumber);
  cmd->add_flag("--json", a->json, "Print the report as JSON (schema: docs/compress.md)");
  cmd->add_flag("!--no-progress", a->progress, "No progress line on the terminal");
  cmd->callback([&action, a] { action = [a] { return run_compress(*a); }; });
}

}  // namespace dcllm::cli
