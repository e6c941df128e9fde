// Per-channel statistics of one linear layer's input, gathered while the float model runs on
// calibration text: max|X_j| (the paper's ||X_j||_inf), mean|X_j| and ||X_j||_2.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include <nlohmann/json.hpp>

#include "dcllm/status.h"

namespace dcllm {

// Streaming accumulators for an input of `channels` columns. Memory is O(channels) however many
// tokens are observed. Sums are kept in double: a float sum of 10^7 tokens would lose the small
// terms, and the sums (not the means) are stored so that merging and reloading stay exact.
// Not thread-safe: give each thread its own and merge() them.
class CalibrationStats {
 public:
  // Zero channels: the width is taken from the first observe() or merge(), so a map of stats
  // keyed by layer name can be filled without knowing the widths up front.
  CalibrationStats() = default;
  explicit CalibrationStats(size_t channels);

  size_t channels() const { return max_abs_.size(); }
  // Rows observed: every row counts as one token.
  uint64_t tokens() const { return tokens_; }
  // Non-finite inputs (NaN, +-inf) seen and skipped: they add nothing to any statistic, so one
  // overflowing activation cannot turn a channel's scale into inf or NaN.
  uint64_t nonfinite() const { return nonfinite_; }

  // Accumulates `rows` rows of `cols` values, row-major (x[r * cols + j] is channel j).
  // kInvalidArgument when cols differs from channels() (once set) or x is null with rows > 0.
  Status observe(const float* x, size_t rows, size_t cols);
  // Adds another set of statistics of the same input (e.g. from another thread or text shard).
  Status merge(const CalibrationStats& other);

  // The statistics of the input after it is divided by a per-channel scale s (X'_j = X_j / s_j,
  // the paper's eq. 2): max and mean divide by s_j, the sum of squares by s_j^2. Pruning must
  // score quantized weights against the input they actually multiply, which is X', not X.
  // kInvalidArgument unless s has channels() finite entries > 0.
  Expected<CalibrationStats> divided_by_scale(std::span<const float> s) const;

  std::span<const float> max_abs() const { return max_abs_; }
  std::span<const double> sum_abs() const { return sum_abs_; }
  std::span<const double> sum_sq() const { return sum_sq_; }
  // mean|X_j| = sum|X_j| / tokens (0 before any token).
  std::vector<float> mean_abs() const;
  // ||X_j||_2 = sqrt(sum X_j^2) over all observed tokens (Wanda's channel norm).
  std::vector<float> l2_norm() const;
  // sqrt(sum X_j^2 / tokens), the channel's root mean square (0 before any token).
  std::vector<float> rms() const;

  // {"channels": K, "tokens": n, "nonfinite": m, "max_abs": [...], "sum_abs": [...],
  //  "sum_sq": [...]}. Numbers are written so that from_json(to_json()) gives back the same
  // values exactly.
  nlohmann::json to_json() const;
  // Validates every field (types, array lengths, finite non-negative values); never throws.
  static Expected<CalibrationStats> from_json(const nlohmann::json& j);

 private:
  void observe_row(const float* row);

  std::vector<float> max_abs_;
  std::vector<double> sum_abs_;
  std::vector<double> sum_sq_;
  uint64_t tokens_ = 0;
  uint64_t nonfinite_ = 0;
};

}  // namespace dcllm
