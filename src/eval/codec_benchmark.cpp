// Timing loops for codec benchmarks. Medians, not means: neighbours share this machine, and a
// median shrugs off the odd descheduled run. Verification happens outside the timed region.
#include "eval/codec_benchmark.h"

#include <time.h>
#include <algorithm>

#include <chrono>
#include <cstring>
#include <limits>
#include <vector>

#include "dcllm/rans.h"

namespace dcllm {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const size_t mid = values.size() / 2;
  return values.size() % 2 ? values[mid] : 0.5 * (values[mid - 1] + values[mid]);
}

double megabytes_per_second(size_t bytes, double seconds) {
  if (seconds <= 0) return std::numeric_limits<double>::infinity();
  return static_cast<double>(bytes) / 1e6 / seconds;
}

// Poisons the output before a decode, alternating two fill bytes: a decoder that silently
// writes nothing then fails verification, since no input equals both fills.
void poison(std::span<uint8_t> out, int run) {
  std::memset(out.data(), run % 2 ? 0xff : 0x00, out.size());
}

Status verify(std::string_view what, std::span<const uint8_t> expected,
              std::span<const uint8_t> actual, int run) {
  const auto mismatch = std::mismatch(expected.begin(), expected.end(), actual.begin());
  if (mismatch.first == expected.end()) return Status::Ok();
  return Internal(std::string(what) + ": round trip mismatch at byte " +
                  std::to_string(mismatch.first - expected.begin()) + " in run " +
                  std::to_string(run));
}

Status prefixed(std::string_view what, const Status& status) {
  return {status.code(), std::string(what) + ": " + status.message()};
}

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// A wall-clock and a thread-CPU-time stopwatch started together.
struct Stopwatch {
  Clock::time_point wall = Clock::now();
  double cpu = thread_cpu_seconds();
  void lap(double& wall_s, double& cpu_s) {
    cpu_s = thread_cpu_seconds() - cpu;
    wall_s = seconds_since(wall);
  }
};

struct Timings {
  std::vector<double> compress, decompress, compress_cpu, decompress_cpu;
  size_t compressed_bytes = 0;
};

// One compress + decompress run of `codec`, verified; `record` false for the warm-up.
// `compressed` and `decoded` are scratch buffers shared by all codecs.
Status run_once(const Codec& codec, std::span<const uint8_t> input,
                std::vector<uint8_t>& compressed, std::vector<uint8_t>& decoded, int run,
                bool record, Timings& t) {
  double wall = 0, cpu = 0;
  compressed.clear();
  Stopwatch sw;
  Status st = codec.compress(input, compressed);
  sw.lap(wall, cpu);
  if (!st.ok()) return prefixed("compress", st);
  if (record) t.compress.push_back(wall), t.compress_cpu.push_back(cpu);
  t.compressed_bytes = compressed.size();

  poison(decoded, run);
  sw = Stopwatch{};
  st = codec.decompress(compressed, decoded);
  sw.lap(wall, cpu);
  if (!st.ok()) return prefixed("decompress", st);
  DCLLM_RETURN_IF_ERROR(verify(codec.name(), input, decoded, run));
  if (record) t.decompress.push_back(wall), t.decompress_cpu.push_back(cpu);
  return Status::Ok();
}

}  // namespace

Expected<std::vector<CodecMeasurement>> measure_codecs(
    std::span<const Codec* const> codecs, std::span<const uint8_t> input, int runs,
    const std::function<void(int64_t done, int64_t total)>& on_progress) {
  if (input.empty()) return InvalidArgument("codec benchmark: input is empty");
  if (runs < 1) return InvalidArgument("codec benchmark: need at least one timed run");
  std::vector<uint8_t> compressed, decoded(input.size());
  std::vector<Timings> t(codecs.size());
  // Run 0 is the warm-up: it faults in the buffers and trains caches and branch predictors.
  const auto total = static_cast<int64_t>(runs + 1) * static_cast<int64_t>(codecs.size());
  int64_t done = 0;
  for (int run = 0; run <= runs; ++run)
    for (size_t i = 0; i < codecs.size(); ++i) {
      DCLLM_RETURN_IF_ERROR(run_once(*codecs[i], input, compressed, decoded, run, run > 0, t[i]));
      if (on_progress) on_progress(++done, total);
    }

  std::vector<CodecMeasurement> out;
  for (size_t i = 0; i < codecs.size(); ++i) {
    CodecMeasurement m;
    m.name = std::string(codecs[i]->name());
    m.raw_bytes = input.size();
    m.compressed_bytes = t[i].compressed_bytes;
    m.ratio = m.compressed_bytes ? static_cast<double>(input.size()) / m.compressed_bytes
                                 : std::numeric_limits<double>::infinity();
    m.compress_mbps = megabytes_per_second(input.size(), median(t[i].compress));
    m.decompress_mbps = megabytes_per_second(input.size(), median(t[i].decompress));
    m.compress_cpu_mbps = megabytes_per_second(input.size(), median(t[i].compress_cpu));
    m.decompress_cpu_mbps = megabytes_per_second(input.size(), median(t[i].decompress_cpu));
    out.push_back(std::move(m));
  }
  return out;
}

Expected<CodecMeasurement> measure_codec(const Codec& codec, std::span<const uint8_t> input,
                                         int runs) {
  const Codec* one[] = {&codec};
  DCLLM_ASSIGN_OR_RETURN(std::vector<CodecMeasurement> m, measure_codecs(one, input, runs));
  return std::move(m[0]);
}

Expected<DecodeThreadsMeasurement> measure_rans_decode_threads(std::span<const uint8_t> input,
                                                               unsigned threads, int runs) {
  if (input.empty()) return InvalidArgument("rans decode-threads: benchmark input is empty");
  if (runs < 1) return InvalidArgument("rans decode-threads: need at least one timed run");
  if (threads < 1) return InvalidArgument("rans decode-threads: need at least one thread");

  std::vector<uint8_t> stream;
  Status st = rans_encode(input, stream, RansEncodeOptions{});
  if (!st.ok()) return prefixed("rans encode", st);

  std::vector<uint8_t> decoded(input.size());
  std::vector<double> seconds_1, seconds_n;
  for (int run = 0; run <= runs; ++run) {
    for (bool many : {false, true}) {
      RansDecodeOptions options;
      options.threads = many ? threads : 1;
      poison(decoded, run);
      const auto start = Clock::now();
      st = rans_decode(stream, decoded, options);
      const double elapsed = seconds_since(start);
      if (!st.ok()) return prefixed("rans decode", st);
      DCLLM_RETURN_IF_ERROR(verify(
          "rans decode with " + std::to_string(options.threads) + " threads", input, decoded, run));
      if (run > 0) (many ? seconds_n : seconds_1).push_back(elapsed);
    }
  }

  DecodeThreadsMeasurement m;
  m.threads = threads;
  m.raw_bytes = input.size();
  m.encoded_bytes = stream.size();
  m.mbps_1 = megabytes_per_second(input.size(), median(seconds_1));
  m.mbps_n = megabytes_per_second(input.size(), median(seconds_n));
  m.speedup = m.mbps_n / m.mbps_1;
  m.mbps_1_best =
      megabytes_per_second(input.size(), *std::min_element(seconds_1.begin(), seconds_1.end()));
  m.mbps_n_best =
      megabytes_per_second(input.size(), *std::min_element(seconds_n.begin(), seconds_n.end()));
  m.speedup_best = m.mbps_n_best / m.mbps_1_best;
  return m;
}

double order0_bound_ratio(double entropy_bits) {
  return entropy_bits > 0 ? 8.0 / entropy_bits : std::numeric_limits<double>::infinity();
}

}  // namespace dcllm
