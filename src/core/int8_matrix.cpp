// Int8Layout's scale counts, names and checks, and dequantization of an INT8 matrix: shared by
// the quantizer, the container's tensor specs and the runtime's embedding lookups.
#include "dcllm/int8_matrix.h"

#include <charconv>
#include <limits>

#include <fmt/format.h>

namespace dcllm {

int64_t Int8Layout::scale_count() const {
  switch (scheme) {
    case QuantScheme::kNone:
      return 0;
    case QuantScheme::kPerTensor:
      return 1;
    case QuantScheme::kPerChannel:
      return rows;
    case QuantScheme::kGroup:
      return rows * groups_per_row();
  }
  return 0;
}

std::string quant_scheme_name(QuantScheme scheme, int64_t group) {
  switch (scheme) {
    case QuantScheme::kNone:
      return "none";
    case QuantScheme::kPerTensor:
      return "per-tensor";
    case QuantScheme::kPerChannel:
      return "per-channel";
    case QuantScheme::kGroup:
      return fmt::format("group:{}", group);
  }
  return "?";
}

Expected<Int8Layout> parse_quant_scheme(std::string_view text) {
  constexpr std::string_view kGroupPrefix = "group:";
  Int8Layout layout;
  if (text == "per-tensor") return layout;
  if (text == "per-channel") {
    layout.scheme = QuantScheme::kPerChannel;
    return layout;
  }
  if (text.starts_with(kGroupPrefix)) {
    const std::string_view digits = text.substr(kGroupPrefix.size());
    int64_t n = 0;
    const char* end = digits.data() + digits.size();
    auto [ptr, ec] = std::from_chars(digits.data(), end, n);
    // from_chars takes no space or '+', and a '-' fails the range check, so "group:-1",
    // "group: 8" and "group:8x" are refused here.
    if (digits.empty() || ec != std::errc() || ptr != end || n < 1 || n > kMaxQuantGroupSize)
      return InvalidArgument(
          fmt::format("weight quantization '{}': the group size must be an integer in [1, {}]",
                      text, kMaxQuantGroupSize));
    layout.scheme = QuantScheme::kGroup;
    layout.group = n;
    return layout;
  }
  return InvalidArgument(fmt::format(
      "unknown weight quantization '{}' (expected per-tensor, per-channel or group:N)", text));
}

Status validate_int8_layout(const Int8Layout& layout) {
  if (static_cast<unsigned>(layout.scheme) > static_cast<unsigned>(QuantScheme::kGroup))
    return InvalidArgument(
        fmt::format("unknown quant scheme {}", static_cast<unsigned>(layout.scheme)));
  const bool grouped = layout.scheme == QuantScheme::kGroup;
  if (grouped != (layout.group != 0) || layout.group < 0 || layout.group > kMaxQuantGroupSize)
    return InvalidArgument(fmt::format("quantization {} with group size {}",
                                       quant_scheme_name(layout.scheme, layout.group),
                                       layout.group));
  if (layout.rows < 0 || layout.cols < 0)
    return InvalidArgument(fmt::format("matrix [{}, {}]", layout.rows, layout.cols));
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  if (layout.cols != 0 && layout.rows > kMax / layout.cols)
    return InvalidArgument(fmt::format("matrix [{}, {}] overflows", layout.rows, layout.cols));
  const int64_t groups = layout.groups_per_row();
  if (groups != 0 && layout.rows > kMax / groups) return InvalidArgument("scale count overflows");
  return Status::Ok();
}

void Int8MatrixView::dequantize_row(int64_t row, const int8_t* q, float* out) const {
  if (scheme == QuantScheme::kGroup) {
    for (int64_t c = 0; c < cols; ++c) out[c] = static_cast<float>(q[c]) * scale_at(row, c);
    return;
  }
  const float s = scale_at(row, 0);
  for (int64_t c = 0; c < cols; ++c) out[c] = static_cast<float>(q[c]) * s;
}

Int8MatrixView Int8Matrix::view() const {
  Int8MatrixView v;
  static_cast<Int8Layout&>(v) = layout();
  v.values = values.data();
  v.scales = scales.data();
  return v;
}

std::vector<float> Int8Matrix::dequantize() const {
  std::vector<float> out(static_cast<size_t>(size()));
  const Int8MatrixView v = view();
  for (int64_t r = 0; r < rows; ++r) v.dequantize_row(r, out.data() + r * cols);
  return out;
}

}  // namespace dcllm
