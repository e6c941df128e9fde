// INT8 weight quantization at per-tensor / per-channel / group granularity. Every scale group
// goes through quantize_int8_symmetric, so all granularities round and clamp identically.
#include "quant/weight_quant.h"

#include <algorithm>
#include <cstdint>

#include <fmt/format.h>

#include "quant/quantize_int8.h"

namespace dcllm {

namespace {

Status check_matrix(size_t size, const Int8Layout& layout) {
  DCLLM_RETURN_IF_ERROR(validate_int8_layout(layout));
  if (layout.scheme == QuantScheme::kNone)
    return InvalidArgument("weight quantization: no scheme given");
  if (static_cast<uint64_t>(layout.size()) != size)
    return InvalidArgument(
        fmt::format("weight [{}, {}] given {} values", layout.rows, layout.cols, size));
  return Status::Ok();
}

Int8Layout with_shape(const Int8Layout& scheme, size_t rows, size_t cols) {
  Int8Layout layout = scheme;
  layout.rows = static_cast<int64_t>(rows);
  layout.cols = static_cast<int64_t>(cols);
  return layout;
}

}  // namespace

Status quantize_weights_int8(std::span<const float> w, const Int8Layout& layout,
                             std::span<int8_t> q, std::span<float> scales,
                             const WeightQuantOptions& opts) {
  if (opts.max_level < 1 || opts.max_level > 127)
    return InvalidArgument(
        fmt::format("weight quantization: max level {} is not in [1, 127]", opts.max_level));
  const int L = opts.max_level;
  const auto group = [L](std::span<const float> wg, std::span<int8_t> qg) {
    return quantize_int8_symmetric(wg, qg, L);
  };
  DCLLM_RETURN_IF_ERROR(check_matrix(w.size(), layout));
  const size_t n_scales = static_cast<size_t>(layout.scale_count());
  if (q.size() != w.size() || scales.size() != n_scales)
    return InvalidArgument(
        fmt::format("quantize: buffers of {} values and {} scales, need {} and {}", q.size(),
                    scales.size(), w.size(), n_scales));
  const size_t rows = static_cast<size_t>(layout.rows), cols = static_cast<size_t>(layout.cols);
  switch (layout.scheme) {
    case QuantScheme::kPerTensor:
      scales[0] = group(w, q);
      break;
    case QuantScheme::kPerChannel:
      for (size_t r = 0; r < rows; ++r)
        scales[r] = group(w.subspan(r * cols, cols), q.subspan(r * cols, cols));
      break;
    case QuantScheme::kGroup: {
      const size_t n = static_cast<size_t>(layout.group);
      const size_t g = static_cast<size_t>(layout.groups_per_row());
      for (size_t r = 0; r < rows; ++r)
        for (size_t k = 0; k < g; ++k) {
          const size_t begin = r * cols + k * n;
          const size_t len = std::min(n, cols - k * n);
          scales[r * g + k] = group(w.subspan(begin, len), q.subspan(begin, len));
        }
      break;
    }
    case QuantScheme::kNone:
      break;
  }
  return Status::Ok();
}

Expected<Int8Matrix> quantize_weights_int8(std::span<const float> w, size_t rows, size_t cols,
                                           const Int8Layout& scheme,
                                           const WeightQuantOptions& opts) {
  const Int8Layout layout = with_shape(scheme, rows, cols);
  DCLLM_RETURN_IF_ERROR(check_matrix(w.size(), layout));
  Int8Matrix m;
  static_cast<Int8Layout&>(m) = layout;
  m.values.resize(w.size());
  m.scales.resize(static_cast<size_t>(layout.scale_count()));
  DCLLM_RETURN_IF_ERROR(quantize_weights_int8(w, layout, m.values, m.scales, opts));
  return m;
}

Status dequantize_weights_int8(const Int8Matrix& m, std::span<float> out) {
  DCLLM_RETURN_IF_ERROR(check_matrix(m.values.size(), m.layout()));
  const size_t n_scales = static_cast<size_t>(m.scale_count());
  if (m.scales.size() != n_scales || out.size() != m.values.size())
    return InvalidArgument(fmt::format("dequantize: {} scales and {} outputs, need {} and {}",
                                       m.scales.size(), out.size(), n_scales, m.values.size()));
  const Int8MatrixView v = m.view();
  for (int64_t r = 0; r < m.rows; ++r) v.dequantize_row(r, out.data() + r * m.cols);
  return Status::Ok();
}

Expected<std::vector<float>> dequantize_weights_int8(const Int8Matrix& m) {
  std::vector<float> out(m.values.size());
  DCLLM_RETURN_IF_ERROR(dequantize_weights_int8(m, out));
  return out;
}

}  // namespace dcllm
