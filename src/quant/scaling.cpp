// Compression-aware and SmoothQuant per-channel scales, and the column / row multiplications
// that move a scale between a linear's input and its weight.
#include "quant/scaling.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <fmt/format.h>

namespace dcllm {

Expected<ScaleMethod> parse_scale_method(std::string_view name) {
  for (ScaleMethod m :
       {ScaleMethod::kDc, ScaleMethod::kRms, ScaleMethod::kSmoothQuant, ScaleMethod::kNone})
    if (scale_method_name(m) == name) return m;
  return InvalidArgument(
      fmt::format("unknown scale method '{}' (expected dc, rms, smoothquant or none)", name));
}

std::string_view scale_method_name(ScaleMethod method) {
  switch (method) {
    case ScaleMethod::kNone:
      return "none";
    case ScaleMethod::kDc:
      return "dc";
    case ScaleMethod::kRms:
      return "rms";
    case ScaleMethod::kSmoothQuant:
      return "smoothquant";
  }
  return "?";
}

Status validate_alpha(ScaleMethod method, double alpha) {
  if (!std::isfinite(alpha) || alpha < 0.0)
    return InvalidArgument(fmt::format("alpha {} is out of range (must be >= 0)", alpha));
  if (method == ScaleMethod::kSmoothQuant && alpha > 1.0)
    return InvalidArgument(
        fmt::format("alpha {} is out of range for smoothquant (must be in [0, 1])", alpha));
  return Status::Ok();
}

namespace {

Status validate_channel_max(std::span<const float> v, const char* what) {
  for (size_t j = 0; j < v.size(); ++j)
    if (!std::isfinite(v[j]) || v[j] < 0.0f)
      return InvalidArgument(
          fmt::format("{} of channel {} is {} (must be finite and >= 0)", what, j, v[j]));
  return Status::Ok();
}

float clamp_scale(double s) {
  return static_cast<float>(
      std::clamp(s, static_cast<double>(kMinInputScale), static_cast<double>(kMaxInputScale)));
}

Status validate_scale(std::span<const float> s, size_t cols) {
  if (s.size() != cols)
    return InvalidArgument(fmt::format("{} scales for {} channels", s.size(), cols));
  for (size_t j = 0; j < s.size(); ++j)
    if (!std::isfinite(s[j]) || !(s[j] > 0.0f))
      return InvalidArgument(
          fmt::format("scale of channel {} is {} (must be finite and > 0)", j, s[j]));
  return Status::Ok();
}

Status validate_matrix(size_t data_size, size_t rows, size_t cols) {
  if (cols != 0 && rows > data_size / cols)
    return InvalidArgument(
        fmt::format("matrix [{}, {}] does not fit in {} values", rows, cols, data_size));
  if (rows * cols != data_size)
    return InvalidArgument(fmt::format("matrix [{}, {}] given {} values", rows, cols, data_size));
  return Status::Ok();
}

}  // namespace

Expected<std::vector<float>> compression_aware_scale(std::span<const float> act_max_abs,
                                                     double alpha) {
  DCLLM_RETURN_IF_ERROR(validate_alpha(ScaleMethod::kDc, alpha));
  DCLLM_RETURN_IF_ERROR(validate_channel_max(act_max_abs, "activation max"));
  std::vector<float> s(act_max_abs.size(), 1.0f);
  for (size_t j = 0; j < s.size(); ++j) {
    // A channel that never fired tells nothing about its importance: leave its weights alone.
    if (act_max_abs[j] == 0.0f) continue;
    s[j] = clamp_scale(std::pow(static_cast<double>(act_max_abs[j]), alpha));
  }
  return s;
}

Expected<std::vector<float>> compression_aware_scale(const CalibrationStats& stats, double alpha) {
  return compression_aware_scale(stats.max_abs(), alpha);
}

Expected<std::vector<float>> smoothquant_scale(std::span<const float> act_max_abs,
                                               std::span<const float> weight_col_absmax,
                                               double alpha) {
  DCLLM_RETURN_IF_ERROR(validate_alpha(ScaleMethod::kSmoothQuant, alpha));
  if (act_max_abs.size() != weight_col_absmax.size())
    return InvalidArgument(fmt::format("smoothquant: {} activation channels but {} weight columns",
                                       act_max_abs.size(), weight_col_absmax.size()));
  DCLLM_RETURN_IF_ERROR(validate_channel_max(act_max_abs, "activation max"));
  DCLLM_RETURN_IF_ERROR(validate_channel_max(weight_col_absmax, "weight column max"));
  std::vector<float> s(act_max_abs.size(), 1.0f);
  for (size_t j = 0; j < s.size(); ++j) {
    if (act_max_abs[j] == 0.0f || weight_col_absmax[j] == 0.0f) continue;
    const double num = std::pow(static_cast<double>(act_max_abs[j]), alpha);
    const double den = std::pow(static_cast<double>(weight_col_absmax[j]), 1.0 - alpha);
    s[j] = clamp_scale(num / den);
  }
  return s;
}

Expected<std::vector<float>> smoothquant_scale(const CalibrationStats& stats,
                                               std::span<const float> weight_col_absmax,
                                               double alpha) {
  return smoothquant_scale(stats.max_abs(), weight_col_absmax, alpha);
}

Expected<std::vector<float>> input_scale(ScaleMethod method, const CalibrationStats& stats,
                                         std::span<const float> weight_col_absmax, double alpha) {
  switch (method) {
    case ScaleMethod::kNone:
      DCLLM_RETURN_IF_ERROR(validate_alpha(method, alpha));
      return std::vector<float>(stats.channels(), 1.0f);
    case ScaleMethod::kDc:
      return compression_aware_scale(stats, alpha);
    case ScaleMethod::kRms:
      return compression_aware_scale(stats.rms(), alpha);
    case ScaleMethod::kSmoothQuant:
      return smoothquant_scale(stats, weight_col_absmax, alpha);
  }
  return InvalidArgument("unknown scale method");
}

Expected<std::vector<float>> column_absmax(std::span<const ConstMatrixView> mats) {
  if (mats.empty()) return std::vector<float>{};
  const size_t cols = mats[0].cols;
  std::vector<float> m(cols, 0.0f);
  for (size_t t = 0; t < mats.size(); ++t) {
    const ConstMatrixView& w = mats[t];
    if (w.cols != cols)
      return InvalidArgument(fmt::format(
          "column max: matrix {} has {} columns, matrix 0 has {} (they must share one input)", t,
          w.cols, cols));
    DCLLM_RETURN_IF_ERROR(validate_matrix(w.data.size(), w.rows, w.cols));
    for (size_t r = 0; r < w.rows; ++r) {
      const float* row = w.data.data() + r * cols;
      for (size_t j = 0; j < cols; ++j) {
        const float a = std::fabs(row[j]);
        // fabs(NaN) and inf fail this test, so non-finite weights never become the maximum.
        if (a <= std::numeric_limits<float>::max()) m[j] = std::max(m[j], a);
      }
    }
  }
  return m;
}

Status apply_input_scale(std::span<float> w, size_t rows, size_t cols, std::span<const float> s) {
  DCLLM_RETURN_IF_ERROR(validate_matrix(w.size(), rows, cols));
  DCLLM_RETURN_IF_ERROR(validate_scale(s, cols));
  for (size_t r = 0; r < rows; ++r) {
    float* row = w.data() + r * cols;
    for (size_t j = 0; j < cols; ++j) row[j] *= s[j];
  }
  return Status::Ok();
}

Status apply_inverse_scale_to_columns(std::span<float> x, size_t rows, size_t cols,
                                      std::span<const float> s) {
  DCLLM_RETURN_IF_ERROR(validate_matrix(x.size(), rows, cols));
  DCLLM_RETURN_IF_ERROR(validate_scale(s, cols));
  for (size_t r = 0; r < rows; ++r) {
    float* row = x.data() + r * cols;
    for (size_t j = 0; j < cols; ++j) row[j] /= s[j];
  }
  return Status::Ok();
}

Status fold_inverse_scale_into_rows(std::span<float> p, size_t rows, size_t cols,
                                    std::span<const float> s) {
  DCLLM_RETURN_IF_ERROR(validate_matrix(p.size(), rows, cols));
  DCLLM_RETURN_IF_ERROR(validate_scale(s, rows));
  for (size_t r = 0; r < rows; ++r) {
    float* row = p.data() + r * cols;
    for (size_t j = 0; j < cols; ++j) row[j] /= s[r];
  }
  return Status::Ok();
}

}  // namespace dcllm
