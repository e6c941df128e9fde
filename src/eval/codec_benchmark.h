// Codec measurements for `dcllm bench`: compression ratio and single-thread throughput of any
// Codec, and the multi-thread decode speedup of our rANS streams, each round-trip verified.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "dcllm/codec.h"
#include "dcllm/status.h"

namespace dcllm {

struct CodecMeasurement {
  std::string name;
  size_t raw_bytes = 0;
  size_t compressed_bytes = 0;
  double ratio = 0;            // raw / compressed
  double compress_mbps = 0;    // 10^6 raw bytes per second, median over the timed runs
  double decompress_mbps = 0;  // likewise
  // The same from the calling thread's CPU time: time the thread spent descheduled by
  // neighbours does not count, which steadies the figures on a shared machine.
  double compress_cpu_mbps = 0;
  double decompress_cpu_mbps = 0;
};

// One untimed warm-up run, then `runs` timed compress+decompress runs on the calling thread.
// Every run's output is checked byte for byte against `input` (outside the timed region); a
// mismatch or a codec error fails the whole measurement.
Expected<CodecMeasurement> measure_codec(const Codec& codec, std::span<const uint8_t> input,
                                         int runs);

// The same for several codecs, their runs interleaved (run r of every codec before run r + 1
// of any), so load that comes and goes during the benchmark hits all of them alike.
// `on_progress`, if set, is called after each codec's run (warm-up included, outside the timed
// region) with (runs done, (runs + 1) x codecs).
Expected<std::vector<CodecMeasurement>> measure_codecs(
    std::span<const Codec* const> codecs, std::span<const uint8_t> input, int runs,
    const std::function<void(int64_t done, int64_t total)>& on_progress = {});

struct DecodeThreadsMeasurement {
  unsigned threads = 0;
  size_t raw_bytes = 0;
  size_t encoded_bytes = 0;
  double mbps_1 = 0;   // decode throughput with one thread (median)
  double mbps_n = 0;   // decode throughput with `threads` threads (median)
  double speedup = 0;  // mbps_n / mbps_1
  // The fastest run of each: on a shared machine the best run is the one least disturbed by
  // neighbours, so its ratio is the steadier estimate of what the decoder can do.
  double mbps_1_best = 0;
  double mbps_n_best = 0;
  double speedup_best = 0;
};

// Encodes `input` once with rans_encode's defaults (independent segments), then decodes the
// same stream with 1 and with `threads` threads, alternating so drift hits both alike.
Expected<DecodeThreadsMeasurement> measure_rans_decode_threads(std::span<const uint8_t> input,
                                                               unsigned threads, int runs);

// The best ratio any order-0 coder can reach on bytes of entropy `entropy_bits`: 8 / H0
// (infinite when H0 is 0, i.e. a single repeated symbol).
double order0_bound_ratio(double entropy_bits);

}  // namespace dcllm
