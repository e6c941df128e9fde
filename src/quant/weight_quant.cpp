// INT8 weight quantization at per-tensor / per-channel / group granularity. Every scale group
// goes through quantize_int8_per_tensor, so all granularities round and clamp identically.
#include "quant/weight_quant.h"

#include <algorithm>
#include <charconv>
#include <cstdint>

#include <fmt/format.h>

#include "quant/quantize_int8.h"

namespace dcllm {

namespace {

constexpr std::string_view kGroupPrefix = "group:";

Status validate_shape(size_t size, size_t rows, size_t cols) {
  if (cols != 0 && rows > size / cols)
    return InvalidArgument(
        fmt::format("weight [{}, {}] does not fit in {} values", rows, cols, size));
  if (rows * cols != size)
    return InvalidArgument(fmt::format("weight [{}, {}] given {} values", rows, cols, size));
  return Status::Ok();
}

size_t groups_per_row(size_t cols, size_t group_size) {
  return cols / group_size + (cols % group_size != 0);
}

}  // namespace

Expected<WeightQuantScheme> parse_weight_quant_scheme(std::string_view text) {
  if (text == "per-tensor") return WeightQuantScheme{WeightQuantGranularity::kPerTensor, 0};
  if (text == "per-channel") return WeightQuantScheme{WeightQuantGranularity::kPerChannel, 0};
  if (text.starts_with(kGroupPrefix)) {
    const std::string_view digits = text.substr(kGroupPrefix.size());
    size_t n = 0;
    const char* end = digits.data() + digits.size();
    auto [ptr, ec] = std::from_chars(digits.data(), end, n);
    // from_chars takes no sign or space, so "group:-1", "group: 8" and "group:8x" fail here.
    if (digits.empty() || ec != std::errc() || ptr != end || n == 0 || n > kMaxQuantGroupSize)
      return InvalidArgument(
          fmt::format("weight quantization '{}': the group size must be an integer in [1, {}]",
                      text, kMaxQuantGroupSize));
    return WeightQuantScheme{WeightQuantGranularity::kGroup, n};
  }
  return InvalidArgument(fmt::format(
      "unknown weight quantization '{}' (expected per-tensor, per-channel or group:N)", text));
}

std::string weight_quant_scheme_name(const WeightQuantScheme& scheme) {
  switch (scheme.granularity) {
    case WeightQuantGranularity::kPerTensor:
      return "per-tensor";
    case WeightQuantGranularity::kPerChannel:
      return "per-channel";
    case WeightQuantGranularity::kGroup:
      return fmt::format("group:{}", scheme.group_size);
  }
  return "?";
}

Expected<size_t> weight_quant_scale_count(const WeightQuantScheme& scheme, size_t rows,
                                          size_t cols) {
  const bool grouped = scheme.granularity == WeightQuantGranularity::kGroup;
  if (grouped != (scheme.group_size != 0))
    return InvalidArgument(fmt::format("weight quantization {} with group size {}",
                                       weight_quant_scheme_name(scheme), scheme.group_size));
  switch (scheme.granularity) {
    case WeightQuantGranularity::kPerTensor:
      return size_t{1};
    case WeightQuantGranularity::kPerChannel:
      return rows;
    case WeightQuantGranularity::kGroup: {
      const size_t g = groups_per_row(cols, scheme.group_size);
      if (g != 0 && rows > SIZE_MAX / g) return InvalidArgument("scale count overflows");
      return rows * g;
    }
  }
  return InvalidArgument("unknown weight quantization granularity");
}

Status quantize_weights_int8(std::span<const float> w, size_t rows, size_t cols,
                             const WeightQuantScheme& scheme, std::span<int8_t> q,
                             std::span<float> scales) {
  DCLLM_RETURN_IF_ERROR(validate_shape(w.size(), rows, cols));
  DCLLM_ASSIGN_OR_RETURN(size_t n_scales, weight_quant_scale_count(scheme, rows, cols));
  if (q.size() != w.size() || scales.size() != n_scales)
    return InvalidArgument(
        fmt::format("quantize: buffers of {} values and {} scales, need {} and {}", q.size(),
                    scales.size(), w.size(), n_scales));
  switch (scheme.granularity) {
    case WeightQuantGranularity::kPerTensor:
      scales[0] = quantize_int8_per_tensor(w, q);
      break;
    case WeightQuantGranularity::kPerChannel:
      for (size_t r = 0; r < rows; ++r)
        scales[r] = quantize_int8_per_tensor(w.subspan(r * cols, cols), q.subspan(r * cols, cols));
      break;
    case WeightQuantGranularity::kGroup: {
      const size_t n = scheme.group_size;
      const size_t g = groups_per_row(cols, n);
      for (size_t r = 0; r < rows; ++r)
        for (size_t k = 0; k < g; ++k) {
          const size_t begin = r * cols + k * n;
          const size_t len = std::min(n, cols - k * n);
          scales[r * g + k] =
              quantize_int8_per_tensor(w.subspan(begin, len), q.subspan(begin, len));
        }
      break;
    }
  }
  return Status::Ok();
}

Expected<QuantizedMatrix> quantize_weights_int8(std::span<const float> w, size_t rows, size_t cols,
                                                const WeightQuantScheme& scheme) {
  DCLLM_RETURN_IF_ERROR(validate_shape(w.size(), rows, cols));
  DCLLM_ASSIGN_OR_RETURN(size_t n_scales, weight_quant_scale_count(scheme, rows, cols));
  QuantizedMatrix m;
  m.q.resize(w.size());
  m.scales.resize(n_scales);
  m.rows = rows;
  m.cols = cols;
  m.scheme = scheme;
  DCLLM_RETURN_IF_ERROR(quantize_weights_int8(w, rows, cols, scheme, m.q, m.scales));
  return m;
}

Status dequantize_weights_int8(const QuantizedMatrix& m, std::span<float> out) {
  DCLLM_RETURN_IF_ERROR(validate_shape(m.q.size(), m.rows, m.cols));
  DCLLM_ASSIGN_OR_RETURN(size_t n_scales, weight_quant_scale_count(m.scheme, m.rows, m.cols));
  if (m.scales.size() != n_scales || out.size() != m.q.size())
    return InvalidArgument(fmt::format("dequantize: {} scales and {} outputs, need {} and {}",
                                       m.scales.size(), out.size(), n_scales, m.q.size()));
  const size_t cols = m.cols;
  for (size_t r = 0; r < m.rows; ++r) {
    for (size_t j = 0; j < cols; ++j) {
      size_t s = 0;
      switch (m.scheme.granularity) {
        case WeightQuantGranularity::kPerTensor:
          s = 0;
          break;
        case WeightQuantGranularity::kPerChannel:
          s = r;
          break;
        case WeightQuantGranularity::kGroup:
          s = r * groups_per_row(cols, m.scheme.group_size) + j / m.scheme.group_size;
          break;
      }
      out[r * cols + j] = static_cast<float>(m.q[r * cols + j]) * m.scales[s];
    }
  }
  return Status::Ok();
}

Expected<std::vector<float>> dequantize_weights_int8(const QuantizedMatrix& m) {
  std::vector<float> out(m.q.size());
  DCLLM_RETURN_IF_ERROR(dequantize_weights_int8(m, out));
  return out;
}

}  // namespace dcllm
