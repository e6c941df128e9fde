// W8A8 linear (activation quantization + int8_gemm) against the float32 matmul_f32 on the same
// shapes, timed alternately in one loop so the reported speedup shares the machine's noise.
// cold=0: weights stay in cache; cold=1: each call reads another copy, so weights come from RAM.
// Single-thread runs are timed in thread CPU time (a shared machine preempts us; that time is
// not the kernel's), multi-thread runs in wall time.
#include <benchmark/benchmark.h>

#include <time.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "runtime/activation_quant.h"
#include "runtime/int8_gemm.h"
#include "runtime/matmul_f32.h"

namespace {

double now(bool thread_cpu) {
  if (thread_cpu) {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Cold runs cycle through enough weight copies that the int8 set alone (a quarter of the float
// set) is twice a 32 MiB L3.
constexpr size_t kColdInt8Bytes = size_t{64} << 20;

uint32_t next(uint32_t& s) {
  s ^= s << 13, s ^= s >> 17, s ^= s << 5;
  return s;
}

// Args: M (tokens), N (out), K (in), threads, cold (0/1), kernel (Int8Kernel).
void BM_Int8VsF32(benchmark::State& state) {
  const int M = static_cast<int>(state.range(0)), N = static_cast<int>(state.range(1)),
            K = static_cast<int>(state.range(2));
  const unsigned threads = static_cast<unsigned>(state.range(3));
  const bool cold = state.range(4) != 0;
  const auto kernel = static_cast<dcllm::Int8Kernel>(state.range(5));
  if (!dcllm::int8_kernel_available(kernel)) {
    state.SkipWithError("kernel not available on this CPU");
    return;
  }
  const size_t wsize = static_cast<size_t>(N) * K;
  const size_t copies = cold ? (kColdInt8Bytes + wsize - 1) / wsize : 1;

  uint32_t seed = 12345;
  std::vector<int8_t> wq(copies * wsize);
  std::vector<float> wf(copies * wsize), sw(copies * N, 0.01f), bias(N, 0.5f);
  for (size_t i = 0; i < wq.size(); ++i) {
    wq[i] = static_cast<int8_t>(static_cast<int>(next(seed) % 255) - 127);
    wf[i] = wq[i] * 0.01f;
  }
  std::vector<float> x(static_cast<size_t>(M) * K), y(static_cast<size_t>(M) * N);
  for (auto& v : x) v = static_cast<float>(static_cast<int>(next(seed) % 2001) - 1000) * 1e-3f;
  dcllm::Int8ActivationBuffer act;

  const bool cpu_clock = threads == 1;
  double t_quant = 0, t_gemm = 0, t_f32 = 0;
  size_t c = 0;
  for (auto _ : state) {
    const dcllm::Int8MatrixView w{
        {dcllm::QuantScheme::kPerChannel, N, K, 0}, wq.data() + c * wsize, sw.data() + c * N};
    const float* wfc = wf.data() + c * wsize;
    c = (c + 1) % copies;
    const double t0 = now(cpu_clock);
    const dcllm::Int8Activations xa = act.quantize(x.data(), M, K);
    const double t1 = now(cpu_clock);
    dcllm::int8_gemm_with(kernel, xa, w, bias.data(), y.data(), threads);
    benchmark::DoNotOptimize(y.data());
    const double t2 = now(cpu_clock);
    dcllm::matmul_f32(x.data(), M, K, wfc, bias.data(), N, y.data(), threads);
    benchmark::DoNotOptimize(y.data());
    const double t3 = now(cpu_clock);
    t_quant += t1 - t0;
    t_gemm += t2 - t1;
    t_f32 += t3 - t2;
    state.SetIterationTime(t2 - t0);
  }
  const double n = static_cast<double>(state.iterations());
  state.counters["quant_us"] = t_quant / n * 1e6;
  state.counters["int8_us"] = (t_quant + t_gemm) / n * 1e6;
  state.counters["f32_us"] = t_f32 / n * 1e6;
  state.counters["speedup"] = t_f32 / (t_quant + t_gemm);  // float time / int8 time
  state.counters["int8_GBps"] = static_cast<double>(wsize) * n / (t_quant + t_gemm) / 1e9;
  state.counters["int8_GMACs"] = static_cast<double>(wsize) * M * n / (t_quant + t_gemm) / 1e9;
  state.SetLabel(std::string(dcllm::int8_kernel_name(kernel)) +
                 (cpu_clock ? " cpu-time" : " wall"));
}

void shapes(benchmark::internal::Benchmark* b) {
  const int64_t best = static_cast<int64_t>(dcllm::int8_best_kernel());
  for (int64_t cold : {0, 1}) {
    for (int64_t M : {1, 128}) {
      if (M > 1 && cold) continue;  // a prompt batch reuses each weight M times: never RAM-bound
      for (auto [N, K] : {std::pair<int64_t, int64_t>{576, 576}, {1536, 576}}) {
        for (int64_t threads : {1, 2}) b->Args({M, N, K, threads, cold, best});
      }
    }
  }
  // The portable kernel, for scale.
  b->Args({1, 576, 576, 1, 0, static_cast<int64_t>(dcllm::Int8Kernel::kGeneric)});
  b->Args({128, 576, 576, 1, 0, static_cast<int64_t>(dcllm::Int8Kernel::kGeneric)});
}

BENCHMARK(BM_Int8VsF32)
    ->ArgNames({"M", "N", "K", "threads", "cold", "kernel"})
    ->Apply(shapes)
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
