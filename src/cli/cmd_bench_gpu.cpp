// `dcllm bench gpu [--json] [--quick] [--runs N]`: the GPU decoder's figures (docs/gpu.md) on
// device 0; a build without DCLLM_CUDA says so and exits non-zero. JSON (one object on stdout):
//   {"device": {"name", "sm", "multiprocessors", "memory_bytes", "runtime_version",
//               "driver_version"},
//    "timing": {"batches", "per_batch"},
//    "decode": [{"input", "raw_bytes", "coded_bytes", "ratio", "segment_bytes", "streams",
//                "segments", "warps_per_block", "ms", "gbps", "exact"}],
//    "gemv": [{"model", "matrix", "rows", "cols", "segment_bytes", "streams", "segments",
//              "coded_bytes", "ratio", "plain_us", "fused_us", "decode_then_gemv_us",
//              "cublaslt_us" (null when unavailable), "cublaslt_error", "plain_gbps",
//              "fused_vs_plain", "fused_vs_decode_then_gemv", "cublaslt_vs_plain", "exact"}],
//    "transfer": [{"raw_bytes", "coded_bytes", "ratio", "chunk_bytes", "chunks", "raw_ms",
//                  "coded_ms", "decode_ms", "pipelined_ms", "raw_gbps", "effective_gbps",
//                  "speedup", "target_speedup", "exact"}],
//    "targets": {...}, "exact": bool}
// ratio = raw / coded bytes; GB/s = 10^9 bytes/s of raw (decoded) bytes; X_vs_Y = time_Y /
// time_X (> 1: X is faster); speedup = raw_ms / pipelined_ms; target_speedup = 0.9 * ratio.
// exact: every GPU result equals the CPU's (decoded bytes, and GEMV outputs bit for bit
// against the CPU int8_gemm); when one does not, the report is printed and the exit is non-zero.
#include <fmt/core.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/commands.h"

#if defined(DCLLM_CUDA)
#include <cstring>

#include "codec/cuda/gpu_bench.h"
#include "codec/cuda/gpu_runtime.h"
#include "eval/synthetic_weights.h"
#include "runtime/int8_gemm.h"
#endif

namespace dcllm::cli {
namespace {

struct BenchGpuOptions {
  bool json = false;
  bool quick = false;
  int runs = 5;
};

#if defined(DCLLM_CUDA)

struct Shape {
  const char* model;
  const char* matrix;
  int64_t rows, cols;
};

// SmolLM2-135M (dim 576, FFN 1536, 3 KV heads of 64, vocab 49152) and Qwen2.5-1.5B (dim 1536,
// FFN 8960, 2 KV heads of 128, vocab 151936): every distinct linear shape, batch 1.
const std::vector<Shape> kShapes = {
    {"SmolLM2-135M", "attn_q/o", 576, 576},     {"SmolLM2-135M", "attn_k/v", 192, 576},
    {"SmolLM2-135M", "ffn_gate/up", 1536, 576}, {"SmolLM2-135M", "ffn_down", 576, 1536},
    {"SmolLM2-135M", "lm_head", 49152, 576},    {"Qwen2.5-1.5B", "attn_q/o", 1536, 1536},
    {"Qwen2.5-1.5B", "attn_k/v", 256, 1536},    {"Qwen2.5-1.5B", "ffn_gate/up", 8960, 1536},
    {"Qwen2.5-1.5B", "ffn_down", 1536, 8960},   {"Qwen2.5-1.5B", "lm_head", 151936, 1536},
};

constexpr uint32_t kKiB = 1024;
constexpr uint64_t kMiB = uint64_t{1} << 20;
constexpr uint64_t kStreamBytes = 16 * kMiB;  // rows per stream, like .dcllm chunks

// Deterministic activations in [-127, 127] (xorshift; no std:: distributions).
std::vector<int8_t> activations(int64_t n, uint64_t seed) {
  std::vector<int8_t> x(static_cast<size_t>(n));
  uint64_t r = seed | 1;
  for (auto& v : x) {
    r ^= r << 13, r ^= r >> 7, r ^= r << 17;
    const int a = static_cast<int>(r % 255) - 127, b = static_cast<int>((r >> 20) % 255) - 127;
    v = static_cast<int8_t>((a + b) / 2);  // triangular: most values small, as quantized x
  }
  return x;
}

double ratio(uint64_t raw, uint64_t coded) {
  return coded ? static_cast<double>(raw) / static_cast<double>(coded) : 0.0;
}

Status bench_gpu(const BenchGpuOptions& o) {
  if (Status st = gpu::device_status(); !st.ok()) return Unsupported("bench gpu: " + st.message());
  DCLLM_ASSIGN_OR_RETURN(gpu::DeviceInfo info, gpu::device_info());
  gpu::TimingOptions timing;
  timing.batches = o.runs;
  nlohmann::ordered_json report;
  report["device"] = {{"name", info.name},
                      {"sm", fmt::format("{}.{}", info.sm_major, info.sm_minor)},
                      {"multiprocessors", info.multiprocessors},
                      {"memory_bytes", info.memory_bytes},
                      {"runtime_version", info.runtime_version},
                      {"driver_version", info.driver_version}};
  report["timing"] = {{"batches", timing.batches}, {"per_batch", timing.per_batch}};
  bool exact = true;
  auto say = [&](const std::string& line) {
    if (!o.json) fmt::print("{}\n", line);
  };
  say(fmt::format("device   {} (sm_{}{}, {} SMs, {} MiB), CUDA runtime {} driver {}", info.name,
                  info.sm_major, info.sm_minor, info.multiprocessors, info.memory_bytes >> 20,
                  info.runtime_version, info.driver_version));
  say(fmt::format("timing   median of {} batches of {} launches (CUDA events), GB = 10^9 bytes",
                  timing.batches, timing.per_batch));

  // Standalone decode: synthetic INT8 weights (gauss-outlier), by size and segment size.
  const std::vector<uint64_t> sizes =
      o.quick ? std::vector<uint64_t>{kMiB} : std::vector<uint64_t>{kMiB, 16 * kMiB, 256 * kMiB};
  const std::vector<uint32_t> segs = o.quick
                                         ? std::vector<uint32_t>{16 * kKiB}
                                         : std::vector<uint32_t>{16 * kKiB, 64 * kKiB, 256 * kKiB};
  DCLLM_ASSIGN_OR_RETURN(std::vector<uint8_t> weights,
                         make_synthetic_int8(SyntheticKind::kGaussOutlier, sizes.back()));
  report["decode"] = nlohmann::ordered_json::array();
  say("\nstandalone decode (synthetic:gauss-outlier)");
  say(fmt::format("{:>12} {:>8} {:>8} {:>9} {:>6} {:>10} {:>9}", "raw bytes", "segment", "streams",
                  "segments", "ratio", "ms", "GB/s"));
  struct DecodeCase {
    uint64_t size;
    uint32_t seg;
    size_t streams;
  };
  std::vector<DecodeCase> cases;
  for (uint64_t size : sizes)
    for (uint32_t seg : segs) cases.push_back({size, seg, 1});
  if (!o.quick) cases.push_back({16 * kMiB, 64 * kKiB, 16});  // many streams in one launch
  for (const DecodeCase& c : cases) {
    DCLLM_ASSIGN_OR_RETURN(gpu::DecodeBench d, gpu::bench_decode(std::span(weights).first(c.size),
                                                                 c.seg, c.streams, timing));
    exact = exact && d.exact;
    report["decode"].push_back({{"input", "synthetic:gauss-outlier"},
                                {"raw_bytes", d.raw_bytes},
                                {"coded_bytes", d.coded_bytes},
                                {"ratio", ratio(d.raw_bytes, d.coded_bytes)},
                                {"segment_bytes", d.segment_bytes},
                                {"streams", d.streams},
                                {"segments", d.segments},
                                {"warps_per_block", d.warps_per_block},
                                {"ms", d.ms},
                                {"gbps", d.gbps},
                                {"exact", d.exact}});
    say(fmt::format("{:>12} {:>8} {:>8} {:>9} {:>6.3f} {:>10.4f} {:>9.1f}{}", d.raw_bytes,
                    d.segment_bytes, d.streams, d.segments, ratio(d.raw_bytes, d.coded_bytes), d.ms,
                    d.gbps, d.exact ? "" : "  NOT EXACT"));
  }

  // GEMV: fused decode-GEMV vs plain INT8 GEMV vs decode-then-GEMV vs cuBLASLt.
  report["gemv"] = nlohmann::ordered_json::array();
  say("\nbatch-1 INT8 GEMV, per-channel scales (synthetic gauss-outlier weights), times in us");
  say(fmt::format("{:<13} {:<12} {:>13} {:>7} {:>6} {:>9} {:>9} {:>9} {:>9} {:>7} {:>7}", "model",
                  "matrix", "shape", "segment", "ratio", "plain", "fused", "dec+gemv", "cublasLt",
                  "f/plain", "f/d+g"));
  const std::vector<uint32_t> gemv_segs =
      o.quick ? std::vector<uint32_t>{16 * kKiB} : std::vector<uint32_t>{16 * kKiB, 256 * kKiB};
  for (size_t i = 0; i < kShapes.size(); ++i) {
    const Shape& sh = kShapes[i];
    if (o.quick && sh.rows * sh.cols > 4 * int64_t{kMiB}) continue;
    const uint64_t size = static_cast<uint64_t>(sh.rows * sh.cols);
    DCLLM_ASSIGN_OR_RETURN(std::vector<uint8_t> wbytes,
                           make_synthetic_int8(SyntheticKind::kGaussOutlier, size,
                                               kSyntheticTensorElems, kSyntheticSeed + i));
    std::vector<float> scales(static_cast<size_t>(sh.rows));
    for (size_t r = 0; r < scales.size(); ++r) scales[r] = 0.002f * (1.0f + (r % 13) / 13.0f);
    const std::vector<int8_t> x = activations(sh.cols, 77 + i);
    const float x_scale = 0.0371f;
    gpu::GemvProblem p;
    p.rows = sh.rows;
    p.cols = sh.cols;
    p.weights = {reinterpret_cast<const int8_t*>(wbytes.data()), wbytes.size()};
    p.scales = scales;
    p.x = x;
    p.x_scale = x_scale;
    // The CPU reference: int8_gemm (all threads), bit for bit.
    std::vector<float> y_cpu(static_cast<size_t>(sh.rows));
    Int8MatrixView wv;
    wv.scheme = QuantScheme::kPerChannel;
    wv.rows = sh.rows;
    wv.cols = sh.cols;
    wv.values = p.weights.data();
    wv.scales = scales.data();
    Int8Activations xa{x.data(), 1, static_cast<int>(sh.cols), &x_scale, true};
    int8_gemm(xa, wv, nullptr, y_cpu.data(), 0);
    for (uint32_t seg : gemv_segs) {
      DCLLM_ASSIGN_OR_RETURN(gpu::GemvBench g, gpu::bench_gemv(p, seg, kStreamBytes, timing));
      const bool ok = g.fused_matches_plain && g.decoded_exact &&
                      std::memcmp(g.y_plain.data(), y_cpu.data(), 4 * y_cpu.size()) == 0 &&
                      std::memcmp(g.y_fused.data(), y_cpu.data(), 4 * y_cpu.size()) == 0;
      exact = exact && ok;
      nlohmann::ordered_json j = {{"model", sh.model},
                                  {"matrix", sh.matrix},
                                  {"rows", sh.rows},
                                  {"cols", sh.cols},
                                  {"segment_bytes", g.segment_bytes},
                                  {"streams", g.streams},
                                  {"segments", g.segments},
                                  {"coded_bytes", g.coded_bytes},
                                  {"ratio", ratio(size, g.coded_bytes)},
                                  {"plain_us", g.plain_us},
                                  {"fused_us", g.fused_us},
                                  {"decode_then_gemv_us", g.decode_then_gemv_us}};
      j["cublaslt_us"] = g.cublaslt_us ? nlohmann::ordered_json(*g.cublaslt_us) : nullptr;
      j["cublaslt_error"] = g.cublaslt_error;
      j["plain_gbps"] = static_cast<double>(size) / (g.plain_us * 1e3);
      j["fused_vs_plain"] = g.plain_us / g.fused_us;
      j["fused_vs_decode_then_gemv"] = g.decode_then_gemv_us / g.fused_us;
      j["cublaslt_vs_plain"] =
          g.cublaslt_us ? nlohmann::ordered_json(g.plain_us / *g.cublaslt_us) : nullptr;
      j["exact"] = ok;
      report["gemv"].push_back(j);
      say(fmt::format(
          "{:<13} {:<12} {:>13} {:>7} {:>6.3f} {:>9.2f} {:>9.2f} {:>9.2f} {:>9} {:>7.2f} "
          "{:>7.2f}{}",
          sh.model, sh.matrix, fmt::format("{}x{}", sh.rows, sh.cols), seg,
          ratio(size, g.coded_bytes), g.plain_us, g.fused_us, g.decode_then_gemv_us,
          g.cublaslt_us ? fmt::format("{:.2f}", *g.cublaslt_us) : std::string("-"),
          g.plain_us / g.fused_us, g.decode_then_gemv_us / g.fused_us, ok ? "" : "  NOT EXACT"));
    }
  }

  // Host -> device: coded chunks (copied and decoded in a pipeline) vs raw INT8, pinned memory.
  report["transfer"] = nlohmann::ordered_json::array();
  say("\nhost->device (pinned): raw INT8 vs coded chunks copied + decoded (pipelined)");
  const uint64_t transfer_bytes = o.quick ? 8 * kMiB : 256 * kMiB;
  for (uint64_t chunk : {4 * kMiB, 16 * kMiB}) {
    DCLLM_ASSIGN_OR_RETURN(gpu::TransferBench b,
                           gpu::bench_transfer(std::span(weights).first(std::min<uint64_t>(
                                                   transfer_bytes, weights.size())),
                                               chunk, 64 * kKiB, timing));
    exact = exact && b.exact;
    const double r = ratio(b.raw_bytes, b.coded_bytes);
    const double gb = static_cast<double>(b.raw_bytes) / 1e6;
    report["transfer"].push_back({{"raw_bytes", b.raw_bytes},
                                  {"coded_bytes", b.coded_bytes},
                                  {"ratio", r},
                                  {"chunk_bytes", b.chunk_bytes},
                                  {"chunks", b.chunks},
                                  {"raw_ms", b.raw_ms},
                                  {"coded_ms", b.coded_ms},
                                  {"decode_ms", b.decode_ms},
                                  {"pipelined_ms", b.pipelined_ms},
                                  {"raw_gbps", gb / b.raw_ms},
                                  {"effective_gbps", gb / b.pipelined_ms},
                                  {"speedup", b.raw_ms / b.pipelined_ms},
                                  {"target_speedup", 0.9 * r},
                                  {"exact", b.exact}});
    say(
        fmt::format("  {} MiB in {} chunks of {} MiB, ratio {:.3f}: raw {:.3f} ms ({:.1f} GB/s), "
                    "coded copy {:.3f} ms, decode {:.3f} ms, pipelined {:.3f} ms ({:.1f} GB/s "
                    "effective): {:.2f}x raw (target {:.2f}x){}",
                    b.raw_bytes >> 20, b.chunks, chunk >> 20, r, b.raw_ms, gb / b.raw_ms,
                    b.coded_ms, b.decode_ms, b.pipelined_ms, gb / b.pipelined_ms,
                    b.raw_ms / b.pipelined_ms, 0.9 * r, b.exact ? "" : "  NOT EXACT"));
  }
  report["targets"] = {{"decode_gbps_min", 400},
                       {"fused_vs_plain_min", 0.8},
                       {"fused_vs_decode_then_gemv_min", 1.5},
                       {"speedup_vs_target_min", 1.0}};
  report["exact"] = exact;
  if (o.json) fmt::print("{}\n", report.dump(2));
  if (!exact) return Internal("bench gpu: a GPU result differs from the CPU's (see \"exact\")");
  return Status::Ok();
}

#else

Status bench_gpu(const BenchGpuOptions&) {
  return Unsupported(
      "bench gpu: this dcllm was built without CUDA (configure with -DDCLLM_CUDA=ON; "
      "docs/gpu.md)");
}

#endif

}  // namespace

void add_bench_gpu_command(CLI::App& bench, Action& action) {
  auto o = std::make_shared<BenchGpuOptions>();
  auto* cmd = bench.add_subcommand(
      "gpu",
      "GPU rANS decode, fused decode-GEMV vs INT8 GEMV and cuBLASLt, host-to-device "
      "transfer (needs a build with -DDCLLM_CUDA=ON and a CUDA device)");
  cmd->add_flag("--json", o->json, "Print one JSON object instead of tables");
  cmd->add_flag("--quick", o->quick, "Small sizes only (a smoke test of every path)");
  cmd->add_option("--runs", o->runs, "Timed batches per figure (median reported)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  cmd->callback([&action, o] { action = [o] { return bench_gpu(*o); }; });
}

}  // namespace dcllm::cli
