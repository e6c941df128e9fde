// The `bench` verb: `bench codecs` (ratio and single-thread speed of every codec on INT8
// weights) and `bench decode-threads` (rANS multi-thread decode speedup); `bench run` lives
// in cmd_bench_run.cpp. JSON schemas (one object on stdout, nothing else):
//   bench codecs --json:
//     {"input": str, "bytes": int, "entropy_bits": float, "bound_ratio": float|null,
//      "runs": int, "codecs": [{"name": str, "ratio": float, "compress_mbps": float,
//      "decompress_mbps": float, "compress_cpu_mbps": float, "decompress_cpu_mbps": float,
//      "compressed_bytes": int, "bound_fraction": float}]}
//     bound_ratio = 8 / entropy_bits (null when entropy_bits is 0); bound_fraction =
//     ratio / bound_ratio; MB/s = 10^6 uncompressed bytes per second, median of `runs`
//     (wall clock; *_cpu_mbps from the thread's CPU time). Codecs' runs are interleaved.
//   bench decode-threads --json:
//     {"input": str, "bytes": int, "threads": int, "mbps_1": float, "mbps_n": float,
//      "speedup": float, "mbps_1_best": float, "mbps_n_best": float, "speedup_best": float}
//     (medians, then the fastest run of each setting)
#include <fmt/core.h>

#include <cmath>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "core/progress.h"
#include "dcllm/codec.h"
#include "dcllm/rans.h"
#include "eval/bench_input.h"
#include "eval/codec_benchmark.h"
#include "eval/synthetic_weights.h"

namespace dcllm::cli {
namespace {

constexpr size_t kDefaultSyntheticBytes = size_t{64} << 20;
constexpr int kDefaultRuns = 5;

// Where the benchmark's bytes come from; shared by every `bench` verb that codes INT8 data.
struct InputOptions {
  std::string input;
  std::string dtype;
  uint64_t offset = 0;
  std::string quantize;
  size_t tensor_elems = 0;  // 0: whole file is one tensor / synthetic default
  std::string synthetic;
  std::string model;
  size_t size = kDefaultSyntheticBytes;
};

void add_input_options(CLI::App* cmd, InputOptions& o) {
  auto* input =
      cmd->add_option("--input", o.input, "Weight file to benchmark")->check(CLI::ExistingFile);
  auto* synthetic =
      cmd->add_option("--synthetic", o.synthetic, "Synthetic INT8 weights instead of a file")
          ->check(CLI::IsMember(synthetic_kind_names()));
  input->excludes(synthetic);
  auto* model = cmd->add_option("--model", o.model,
                                "Model file (.bin, .gguf): its weight matrices, INT8 per tensor")
                    ->check(CLI::ExistingFile);
  model->excludes(input)->excludes(synthetic);
  cmd->add_option("--dtype", o.dtype, "Element type of --input")
      ->check(CLI::IsMember({"i8", "f32", "f16", "bf16"}))
      ->needs(input);
  cmd->add_option("--offset", o.offset, "Bytes to skip at the start of --input (a header)")
      ->needs(input);
  cmd->add_option("--quantize", o.quantize, "Quantize float input to INT8")
      ->check(CLI::IsMember({"per-tensor"}))
      ->needs(input);
  cmd->add_option("--tensor-elems", o.tensor_elems,
                  "Quantize blocks of N elements separately (synthetic: tensor size, default " +
                      std::to_string(kSyntheticTensorElems) + ")")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--size", o.size, "Bytes of synthetic weights")
      ->capture_default_str()
      ->check(CLI::PositiveNumber)
      ->needs(synthetic);
}

// `on_model_progress`: per matrix quantized, for --model (the one input that loops over tensors).
Expected<BenchInput> load_input(
    const InputOptions& o, const std::function<void(int64_t, int64_t)>& on_model_progress = {}) {
  if (!o.synthetic.empty()) {
    DCLLM_ASSIGN_OR_RETURN(SyntheticKind kind, parse_synthetic_kind(o.synthetic));
    return make_bench_synthetic(kind, o.size,
                                o.tensor_elems ? o.tensor_elems : kSyntheticTensorElems);
  }
  if (!o.model.empty()) return load_bench_model(o.model, on_model_progress);
  if (o.input.empty())
    return InvalidArgument("bench: give --input FILE, --model FILE or --synthetic KIND");
  if (o.dtype.empty()) return InvalidArgument("bench: --input needs --dtype {i8,f32,f16,bf16}");
  BenchFileSpec spec;
  spec.path = o.input;
  DCLLM_ASSIGN_OR_RETURN(spec.dtype, parse_input_dtype(o.dtype));
  spec.offset = o.offset;
  spec.quantize = !o.quantize.empty();
  spec.tensor_elems = o.tensor_elems;
  return load_bench_file(spec);
}

struct CodecsOptions {
  InputOptions in;
  int runs = kDefaultRuns;
  std::vector<std::string> codecs;
  bool json = false;
  bool progress = true;  // --no-progress clears it
};

Status run_bench_codecs(const CodecsOptions& o) {
  std::vector<std::unique_ptr<Codec>> codecs;
  for (const std::string& name : o.codecs.empty() ? codec_names() : o.codecs) {
    DCLLM_ASSIGN_OR_RETURN(std::unique_ptr<Codec> codec, make_codec(name));
    codecs.push_back(std::move(codec));
  }
  // Each Progress is scoped so its line ends before the next line, the report or an error.
  BenchInput input;
  {
    Progress loading("load model", o.progress);
    DCLLM_ASSIGN_OR_RETURN(input, load_input(o.in, [&loading](int64_t done, int64_t total) {
                             loading.update(done, total);
                           }));
  }
  const double entropy = order0_entropy_bits(input.bytes);
  const double bound = order0_bound_ratio(entropy);

  std::vector<const Codec*> order;
  for (const auto& codec : codecs) order.push_back(codec.get());
  std::vector<CodecMeasurement> results;
  {
    Progress progress("bench codecs", o.progress);
    DCLLM_ASSIGN_OR_RETURN(results, measure_codecs(order, input.bytes, o.runs,
                                                   [&progress](int64_t done, int64_t total) {
                                                     progress.update(done, total);
                                                   }));
  }

  if (o.json) {
    nlohmann::ordered_json report;
    report["input"] = input.label;
    report["bytes"] = input.bytes.size();
    report["entropy_bits"] = entropy;
    report["bound_ratio"] = bound;  // inf is written as null
    report["runs"] = o.runs;
    report["codecs"] = nlohmann::ordered_json::array();
    for (const CodecMeasurement& m : results) {
      report["codecs"].push_back({{"name", m.name},
                                  {"ratio", m.ratio},
                                  {"compress_mbps", m.compress_mbps},
                                  {"decompress_mbps", m.decompress_mbps},
                                  {"compress_cpu_mbps", m.compress_cpu_mbps},
                                  {"decompress_cpu_mbps", m.decompress_cpu_mbps},
                                  {"compressed_bytes", m.compressed_bytes},
                                  {"bound_fraction", m.ratio / bound}});
    }
    fmt::print("{}\n", report.dump(2));
    return Status::Ok();
  }

  fmt::print("input    {} ({})\n", input.label, input.description);
  fmt::print("bytes    {}\n", input.bytes.size());
  const bool bounded = std::isfinite(bound);  // H0 = 0: one symbol, no finite bound
  fmt::print("entropy  H0 = {:.4f} bits/byte, order-0 bound 8/H0 = {}\n", entropy,
             bounded ? fmt::format("{:.4f}x", bound) : std::string("unbounded"));
  fmt::print(
      "timing   median of {} run{} after 1 warm-up, runs of all codecs interleaved, single "
      "thread, MB = 10^6 bytes; CPU = the thread's CPU time\n\n",
      o.runs, o.runs == 1 ? "" : "s");
  size_t name_width = 5;
  for (const CodecMeasurement& m : results) name_width = std::max(name_width, m.name.size());
  fmt::print("{:<{}}  {:>10}  {:>8}  {:>12}  {:>13}  {:>15}  {:>9}  {:>11}\n", "codec", name_width,
             "ratio", "of bound", "compressed", "compress MB/s", "decompress MB/s", "CPU comp.",
             "CPU decomp.");
  for (const CodecMeasurement& m : results) {
    const std::string of_bound =
        bounded ? fmt::format("{:.1f}%", 100.0 * m.ratio / bound) : std::string("-");
    fmt::print("{:<{}}  {:>10.4f}  {:>8}  {:>12}  {:>13.1f}  {:>15.1f}  {:>9.1f}  {:>11.1f}\n",
               m.name, name_width, m.ratio, of_bound, m.compressed_bytes, m.compress_mbps,
               m.decompress_mbps, m.compress_cpu_mbps, m.decompress_cpu_mbps);
  }
  return Status::Ok();
}

struct DecodeThreadsOptions {
  InputOptions in;
  unsigned threads = 2;
  int runs = kDefaultRuns;
  bool json = false;
};

Status run_bench_decode_threads(const DecodeThreadsOptions& o) {
  DCLLM_ASSIGN_OR_RETURN(BenchInput input, load_input(o.in));
  DCLLM_ASSIGN_OR_RETURN(DecodeThreadsMeasurement m,
                         measure_rans_decode_threads(input.bytes, o.threads, o.runs));
  if (o.json) {
    nlohmann::ordered_json report;
    report["input"] = input.label;
    report["bytes"] = input.bytes.size();
    report["threads"] = m.threads;
    report["mbps_1"] = m.mbps_1;
    report["mbps_n"] = m.mbps_n;
    report["speedup"] = m.speedup;
    report["mbps_1_best"] = m.mbps_1_best;
    report["mbps_n_best"] = m.mbps_n_best;
    report["speedup_best"] = m.speedup_best;
    fmt::print("{}\n", report.dump(2));
    return Status::Ok();
  }
  fmt::print("input    {} ({})\n", input.label, input.description);
  fmt::print("bytes    {} raw, {} coded (rans, default segments of {} bytes)\n", input.bytes.size(),
             m.encoded_bytes, kRansDefaultSegmentBytes);
  fmt::print("timing   median and best of {} run{} after 1 warm-up, MB = 10^6 bytes\n\n", o.runs,
             o.runs == 1 ? "" : "s");
  const std::string many = fmt::format("decode, {} threads", m.threads);
  fmt::print("{:<20}  {:>10}  {:>10}\n", "", "median", "best");
  fmt::print("{:<20}  {:>10.1f}  {:>10.1f} MB/s\n", "decode, 1 thread", m.mbps_1, m.mbps_1_best);
  fmt::print("{:<20}  {:>10.1f}  {:>10.1f} MB/s\n", many, m.mbps_n, m.mbps_n_best);
  fmt::print("{:<20}  {:>9.2f}x  {:>9.2f}x\n", "speedup", m.speedup, m.speedup_best);
  return Status::Ok();
}

void add_codecs_command(CLI::App* bench, Action& action) {
  auto o = std::make_shared<CodecsOptions>();
  auto* cmd = bench->add_subcommand(
      "codecs", "Compression ratio and single-thread speed of each codec on INT8 weights");
  add_input_options(cmd, o->in);
  cmd->add_option("--runs", o->runs, "Timed runs per codec (median reported)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option(
         "--codecs", o->codecs,
         "Comma-separated subset of: " +
             [] {
               std::string all;
               for (const std::string& name : codec_names()) all += (all.empty() ? "" : ",") + name;
               return all;
             }())
      ->delimiter(',');
  cmd->add_flag("--json", o->json, "Print one JSON object instead of a table");
  cmd->add_flag("!--no-progress", o->progress, "No progress line on the terminal");
  cmd->callback([&action, o] { action = [o] { return run_bench_codecs(*o); }; });
}

void add_decode_threads_command(CLI::App* bench, Action& action) {
  auto o = std::make_shared<DecodeThreadsOptions>();
  auto* cmd = bench->add_subcommand(
      "decode-threads", "rANS decode throughput with 1 and with N threads on the same stream");
  add_input_options(cmd, o->in);
  cmd->add_option("--threads", o->threads, "Decode threads to compare with one")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--runs", o->runs, "Timed runs per setting (median reported)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--json", o->json, "Print one JSON object instead of text");
  cmd->callback([&action, o] { action = [o] { return run_bench_decode_threads(*o); }; });
}

}  // namespace

void add_bench_command(CLI::App& app, Action& action) {
  auto* bench = app.add_subcommand("bench", "Benchmarks: codecs, decode threads, end-to-end runs");
  bench->require_subcommand(1);
  add_codecs_command(bench, action);
  add_decode_threads_command(bench, action);
  add_bench_run_command(*bench, action);
  add_bench_machine_command(*bench, action);
  add_bench_tiers_command(*bench, action);
  add_bench_gpu_command(*bench, action);
  add_bench_fused_command(*bench, action);
}

}  // namespace dcllm::cli
