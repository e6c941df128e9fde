// `dcllm bench fused MODEL.dcllm [--json]`: fused decode→GEMV vs decode-then-GEMV vs plain INT8
// GEMV on the model's matrices, in weight MB/s, with the ratios (docs/runtime.md "Fused path").
#include <fmt/core.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/commands.h"
#include "core/byte_size.h"
#include "core/progress.h"
#include "eval/fused_benchmark.h"

namespace dcllm::cli {
namespace {

struct BenchFusedArgs {
  std::string model;
  FusedBenchOptions o;
  uint64_t chunk_rows = 0;
  std::string chunk_bytes;
  bool json = false;
  bool progress = true;  // --no-progress clears it
};

Status bench_fused(BenchFusedArgs a) {
  if (a.chunk_rows > 0) a.o.rechunk.rows = a.chunk_rows;
  if (!a.chunk_bytes.empty()) {
    DCLLM_ASSIGN_OR_RETURN(a.o.rechunk.bytes, parse_byte_size(a.chunk_bytes, "--chunk-bytes"));
    if (a.o.rechunk.bytes == 0) return InvalidArgument("--chunk-bytes: must be at least 1 byte");
  }
  FusedBenchReport r;
  {
    // One line per stage (load, check, measure); scoped, so the last line ends before the
    // report (or main()'s error line) is printed.
    StageProgress progress(a.progress, "bench fused ");
    a.o.on_progress = [&progress](std::string_view stage, int64_t done, int64_t total) {
      progress.update(stage, done, total);
    };
    DCLLM_ASSIGN_OR_RETURN(r, run_fused_benchmark(a.model, a.o));
  }
  const double vs_dtg = r.fused_mbps / r.decode_then_gemv_mbps;
  const double vs_gemv = r.fused_mbps / r.int8_gemv_mbps;
  if (a.json) {
    nlohmann::json ms = nlohmann::json::array();
    for (const FusedMatrixResult& m : r.matrices)
      ms.push_back({{"name", m.name},
                    {"rows", m.rows},
                    {"cols", m.cols},
                    {"chunks", m.chunks},
                    {"raw_bytes", m.raw_bytes},
                    {"stored_bytes", m.stored_bytes},
                    {"fused_mbps", m.fused_mbps},
                    {"decode_then_gemv_mbps", m.decode_then_gemv_mbps},
                    {"int8_gemv_mbps", m.int8_gemv_mbps},
                    {"identical", m.identical}});
    nlohmann::json j = {{"model", r.model},
                        {"threads", r.threads},
                        {"batch", r.batch},
                        {"chunking", r.chunking},
                        {"raw_bytes", r.raw_bytes},
                        {"stored_bytes", r.stored_bytes},
                        {"largest_chunk_bytes", r.largest_chunk_bytes},
                        {"fused_mbps", r.fused_mbps},
                        {"decode_then_gemv_mbps", r.decode_then_gemv_mbps},
                        {"int8_gemv_mbps", r.int8_gemv_mbps},
                        {"fused_vs_decode_then_gemv", vs_dtg},
                        {"fused_vs_int8_gemv", vs_gemv},
                        {"rans_decode_mbps_1_thread", r.rans_decode_mbps},
                        {"identical", r.identical},
                        {"matrices", std::move(ms)}};
    fmt::print("{}\n", j.dump());
    return Status::Ok();
  }
  fmt::print("{}: {} matrices, {} threads, batch {}, chunks: {} (largest {} raw)\n", r.model,
             r.matrices.size(), r.threads, r.batch, r.chunking,
             format_byte_size(r.largest_chunk_bytes));
  fmt::print("{:<28} {:>6} {:>10} {:>10} {:>12} {:>10}\n", "matrix", "chunks", "fused", "dec+gemv",
             "int8 gemv", "identical");
  for (const FusedMatrixResult& m : r.matrices)
    fmt::print("{:<28} {:>6} {:>10.0f} {:>10.0f} {:>12.0f} {:>10}\n", m.name, m.chunks,
               m.fused_mbps, m.decode_then_gemv_mbps, m.int8_gemv_mbps, m.identical ? "yes" : "NO");
  fmt::print(
      "all matrices (weight MB/s): fused {:.0f}, decode-then-GEMV {:.0f}, INT8 GEMV {:.0f}\n",
      r.fused_mbps, r.decode_then_gemv_mbps, r.int8_gemv_mbps);
  fmt::print(
      "fused / decode-then-GEMV = {:.2f}x (target >= 1.3x); fused / INT8 GEMV = {:.2f}x; "
      "rANS decode on 1 thread {:.0f} MB/s\n",
      vs_dtg, vs_gemv, r.rans_decode_mbps);
  return Status::Ok();
}

}  // namespace

void add_bench_fused_command(CLI::App& bench, Action& action) {
  auto a = std::make_shared<BenchFusedArgs>();
  auto* cmd = bench.add_subcommand(
      "fused",
      "Fused decode->GEMV vs decode-then-GEMV vs plain INT8 GEMV on a .dcllm's matrices "
      "(weight MB/s)");
  cmd->add_option("model", a->model, "A .dcllm written by dcllm compress")->required();
  cmd->add_option("--threads", a->o.threads, "Threads")
      ->capture_default_str()
      ->check(CLI::Range(1u, 256u));
  cmd->add_option("--batch", a->o.batch, "Activation rows (1 = generation)")
      ->capture_default_str()
      ->check(CLI::Range(1, 4096));
  cmd->add_option("--seconds", a->o.seconds, "Measuring time, about")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 3600.0));
  auto* rows = cmd->add_option("--chunk-rows", a->chunk_rows,
                               "Re-chunk every matrix in memory into chunks of at most N rows "
                               "(default: the file's chunks)")
                   ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 30));
  cmd->add_option("--chunk-bytes", a->chunk_bytes,
                  "Re-chunk in memory into chunks of at most SIZE raw bytes (whole rows)")
      ->excludes(rows);
  cmd->add_option("--codec", a->o.codec, "Codec for re-chunked matrices")->capture_default_str();
  cmd->add_option("--max-matrices", a->o.max_matrices, "Only the first N matrices (0 = all)");
  cmd->add_flag("!--no-progress", a->progress, "No progress line on the terminal");
  cmd->add_flag("--json", a->json,
                "One JSON object: fused_mbps, decode_then_gemv_mbps, "
                "int8_gemv_mbps, matrices");
  cmd->callback([&action, a] { action = [a] { return bench_fused(*a); }; });
}

}  // namespace dcllm::cli
