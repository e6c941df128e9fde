// Google Benchmark of every codec's decompress and compress on 16 MiB of synthetic
// gauss-outlier INT8 weights; bytes_per_second is in uncompressed bytes. `dcllm bench codecs`
// is the reporting tool; this one is for profiling a single codec under perf.
#include <benchmark/benchmark.h>

#include <memory>
#include <string>
#include <vector>

#include "dcllm/codec.h"
#include "eval/synthetic_weights.h"

namespace {

const std::vector<uint8_t>& weights() {
  static const std::vector<uint8_t> bytes =
      dcllm::make_synthetic_int8(dcllm::SyntheticKind::kGaussOutlier, size_t{16} << 20).value();
  return bytes;
}

void BM_Decompress(benchmark::State& state, const std::string& name) {
  auto codec = dcllm::make_codec(name).value();
  std::vector<uint8_t> frame;
  if (!codec->compress(weights(), frame).ok()) {
    state.SkipWithError("compress failed");
    return;
  }
  std::vector<uint8_t> out(weights().size());
  for (auto _ : state) {
    if (!codec->decompress(frame, out).ok()) {
      state.SkipWithError("decompress failed");
      return;
    }
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * weights().size()));
  state.counters["ratio"] = static_cast<double>(weights().size()) / frame.size();
}

void BM_Compress(benchmark::State& state, const std::string& name) {
  auto codec = dcllm::make_codec(name).value();
  std::vector<uint8_t> frame;
  for (auto _ : state) {
    frame.clear();
    if (!codec->compress(weights(), frame).ok()) {
      state.SkipWithError("compress failed");
      return;
    }
    benchmark::DoNotOptimize(frame.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * weights().size()));
}

const bool registered = [] {
  for (const std::string& name : dcllm::codec_names()) {
    benchmark::RegisterBenchmark(("decompress/" + name).c_str(), BM_Decompress, name)
        ->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(("compress/" + name).c_str(), BM_Compress, name)
        ->Unit(benchmark::kMillisecond);
  }
  return true;
}();

}  // namespace

BENCHMARK_MAIN();
