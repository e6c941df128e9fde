// Timing loops for codec benchmarks. Medians, not means: neighbours share this machine, and a
// median shrugs off the odd descheduled run. Verification happens outside the timed region.
#include "eval/codec_benchmark.h"

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

}  // namespace

Expected<CodecMeasurement> measure_codec(const Codec& codec, std::span<const uint8_t> input,
                                         int runs) {
  const std::string name(codec.name());
  if (input.empty()) return InvalidArgument(name + ": benchmark input is empty");
  if (runs < 1) return InvalidArgument(name + ": need at least one timed run");

  std::vector<uint8_t> compressed;
  std::vector<uint8_t> decoded(input.size());
  std::vector<double> compress_seconds, decompress_seconds;
  size_t compressed_bytes = 0;
  // Run 0 is the warm-up: it faults in the buffers and trains caches and branch predictors.
  for (int run = 0; run <= runs; ++run) {
    compressed.clear();
    auto start = Clock::now();
    Status st = codec.compress(input, compressed);
    const double compress_time = seconds_since(start);
    if (!st.ok()) return prefixed("compress", st);

    poison(decoded, run);
    start = Clock::now();
    st = codec.decompress(compressed, decoded);
    const double decompress_time = seconds_since(start);
    if (!st.ok()) return prefixed("decompress", st);
    DCLLM_RETURN_IF_ERROR(verify(name, input, decoded, run));

    compressed_bytes = compressed.size();
    if (run == 0) continue;
    compress_seconds.push_back(compress_time);
    decompress_seconds.push_back(decompress_time);
  }

  CodecMeasurement m;
  m.name = name;
  m.raw_bytes = input.size();
  m.compressed_bytes = compressed_bytes;
  m.ratio = compressed_bytes ? static_cast<double>(input.size()) / compressed_bytes
                             : std::numeric_limits<double>::infinity();
  m.compress_mbps = megabytes_per_second(input.size(), median(compress_seconds));
  m.decompress_mbps = megabytes_per_second(input.size(), median(decompress_seconds));
  return m;
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
  return m;
}

double order0_bound_ratio(double entropy_bits) {
  return entropy_bits > 0 ? 8.0 / entropy_bits : std::numeric_limits<double>::infinity();
}

}  // namespace dcllm
