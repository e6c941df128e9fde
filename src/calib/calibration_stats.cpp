// Streaming per-channel activation statistics (max|x|, sum|x|, sum x^2) and their JSON form
// for the container metadata.
#include "calib/calibration_stats.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include <fmt/format.h>

namespace dcllm {

CalibrationStats::CalibrationStats(size_t channels)
    : max_abs_(channels, 0.0f), sum_abs_(channels, 0.0), sum_sq_(channels, 0.0) {}

void CalibrationStats::observe_row(const float* row) {
  const size_t k = channels();
  // Almost every row is finite: check the whole row first so the accumulation loop has no
  // branch and vectorizes, and only fall back to per-value checks for a row that needs them.
  bool finite = true;
  for (size_t j = 0; j < k; ++j) finite &= std::isfinite(row[j]);
  if (finite) {
    for (size_t j = 0; j < k; ++j) {
      const float a = std::fabs(row[j]);
      max_abs_[j] = std::max(max_abs_[j], a);
      sum_abs_[j] += a;
      sum_sq_[j] += static_cast<double>(a) * a;
    }
    return;
  }
  for (size_t j = 0; j < k; ++j) {
    if (!std::isfinite(row[j])) {
      ++nonfinite_;
      continue;
    }
    const float a = std::fabs(row[j]);
    max_abs_[j] = std::max(max_abs_[j], a);
    sum_abs_[j] += a;
    sum_sq_[j] += static_cast<double>(a) * a;
  }
}

Status CalibrationStats::observe(const float* x, size_t rows, size_t cols) {
  if (channels() == 0 && tokens_ == 0) *this = CalibrationStats(cols);
  if (cols != channels())
    return InvalidArgument(
        fmt::format("calibration: input of {} channels observed by stats of {}", cols, channels()));
  if (rows > 0 && x == nullptr) return InvalidArgument("calibration: null input");
  for (size_t r = 0; r < rows; ++r) observe_row(x + r * cols);
  tokens_ += rows;
  return Status::Ok();
}

Status CalibrationStats::merge(const CalibrationStats& other) {
  if (other.channels() == 0 && other.tokens_ == 0) return Status::Ok();
  if (channels() == 0 && tokens_ == 0) {
    *this = other;
    return Status::Ok();
  }
  if (other.channels() != channels())
    return InvalidArgument(fmt::format("calibration: merging stats of {} channels into {}",
                                       other.channels(), channels()));
  for (size_t j = 0; j < channels(); ++j) {
    max_abs_[j] = std::max(max_abs_[j], other.max_abs_[j]);
    sum_abs_[j] += other.sum_abs_[j];
    sum_sq_[j] += other.sum_sq_[j];
  }
  tokens_ += other.tokens_;
  nonfinite_ += other.nonfinite_;
  return Status::Ok();
}

Expected<CalibrationStats> CalibrationStats::divided_by_scale(std::span<const float> s) const {
  if (s.size() != channels())
    return InvalidArgument(
        fmt::format("calibration: {} scales for {} channels", s.size(), channels()));
  CalibrationStats out = *this;
  for (size_t j = 0; j < channels(); ++j) {
    if (!std::isfinite(s[j]) || !(s[j] > 0.0f))
      return InvalidArgument(
          fmt::format("calibration: scale {} of channel {} is not a finite "
                      "positive number",
                      s[j], j));
    const double sj = s[j];
    out.max_abs_[j] = static_cast<float>(max_abs_[j] / sj);
    out.sum_abs_[j] = sum_abs_[j] / sj;
    out.sum_sq_[j] = sum_sq_[j] / (sj * sj);
  }
  return out;
}

std::vector<float> CalibrationStats::mean_abs() const {
  std::vector<float> mean(channels(), 0.0f);
  if (tokens_ == 0) return mean;
  for (size_t j = 0; j < channels(); ++j)
    mean[j] = static_cast<float>(sum_abs_[j] / static_cast<double>(tokens_));
  return mean;
}

std::vector<float> CalibrationStats::l2_norm() const {
  std::vector<float> norm(channels());
  for (size_t j = 0; j < channels(); ++j) norm[j] = static_cast<float>(std::sqrt(sum_sq_[j]));
  return norm;
}

std::vector<float> CalibrationStats::rms() const {
  std::vector<float> r(channels(), 0.0f);
  if (tokens_ == 0) return r;
  for (size_t j = 0; j < channels(); ++j)
    r[j] = static_cast<float>(std::sqrt(sum_sq_[j] / static_cast<double>(tokens_)));
  return r;
}

nlohmann::json CalibrationStats::to_json() const {
  // nlohmann writes doubles with the shortest text that parses back to the same value, so
  // the round trip is exact; max_abs goes through double, which holds every float exactly.
  return {{"channels", channels()}, {"tokens", tokens_},   {"nonfinite", nonfinite_},
          {"max_abs", max_abs_},    {"sum_abs", sum_abs_}, {"sum_sq", sum_sq_}};
}

namespace {

Expected<uint64_t> read_count(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end()) return InvalidArgument(fmt::format("calibration stats: no '{}'", key));
  if (!it->is_number_unsigned())
    return InvalidArgument(
        fmt::format("calibration stats: '{}' is not a non-negative integer", key));
  return it->get<uint64_t>();
}

// Reads an array of `n` finite, non-negative numbers into `out` (float or double).
template <typename T>
Status read_channel_array(const nlohmann::json& j, const char* key, uint64_t n,
                          std::vector<T>& out) {
  auto it = j.find(key);
  if (it == j.end()) return InvalidArgument(fmt::format("calibration stats: no '{}'", key));
  if (!it->is_array() || it->size() != n)
    return InvalidArgument(
        fmt::format("calibration stats: '{}' is not an array of {} numbers", key, n));
  out.resize(n);
  for (uint64_t i = 0; i < n; ++i) {
    const nlohmann::json& v = (*it)[i];
    if (!v.is_number())
      return InvalidArgument(fmt::format("calibration stats: '{}'[{}] is not a number", key, i));
    const double d = v.get<double>();
    if (!std::isfinite(d) || d < 0.0 ||
        (sizeof(T) == sizeof(float) && d > static_cast<double>(std::numeric_limits<float>::max())))
      return InvalidArgument(
          fmt::format("calibration stats: '{}'[{}] = {} is out of range", key, i, d));
    out[i] = static_cast<T>(d);
  }
  return Status::Ok();
}

}  // namespace

Expected<CalibrationStats> CalibrationStats::from_json(const nlohmann::json& j) {
  if (!j.is_object()) return InvalidArgument("calibration stats: not a JSON object");
  DCLLM_ASSIGN_OR_RETURN(uint64_t channels, read_count(j, "channels"));
  DCLLM_ASSIGN_OR_RETURN(uint64_t tokens, read_count(j, "tokens"));
  DCLLM_ASSIGN_OR_RETURN(uint64_t nonfinite, read_count(j, "nonfinite"));
  // The arrays must hold `channels` entries each; checking the array sizes before resizing
  // keeps a corrupt "channels" from allocating more than the JSON already holds.
  CalibrationStats s;
  DCLLM_RETURN_IF_ERROR(read_channel_array(j, "max_abs", channels, s.max_abs_));
  DCLLM_RETURN_IF_ERROR(read_channel_array(j, "sum_abs", channels, s.sum_abs_));
  DCLLM_RETURN_IF_ERROR(read_channel_array(j, "sum_sq", channels, s.sum_sq_));
  s.tokens_ = tokens;
  s.nonfinite_ = nonfinite;
  return s;
}

}  // namespace dcllm
