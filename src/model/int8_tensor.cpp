// Dequantization of Int8Tensor rows: embedding lookups of an int8 token_embd, and the float32
// copy a benchmark runs next to the W8A8 path.
#include "model/int8_tensor.h"

namespace dcllm {

float Int8Tensor::scale_at(int64_t row, int64_t col) const {
  switch (scheme) {
    case QuantScheme::kPerChannel:
      return scales[static_cast<size_t>(row)];
    case QuantScheme::kGroup: {
      const int64_t groups = (cols + group - 1) / group;
      return scales[static_cast<size_t>(row * groups + col / group)];
    }
    case QuantScheme::kPerTensor:
      return scales[0];
    case QuantScheme::kNone:
      break;
  }
  return 1.0f;
}

void Int8Tensor::dequantize_row(int64_t row, float* out) const {
  const int8_t* q = values.data() + row * cols;
  if (scheme == QuantScheme::kGroup) {
    for (int64_t c = 0; c < cols; ++c) out[c] = static_cast<float>(q[c]) * scale_at(row, c);
    return;
  }
  const float s = scale_at(row, 0);
  for (int64_t c = 0; c < cols; ++c) out[c] = static_cast<float>(q[c]) * s;
}

std::vector<float> Int8Tensor::dequantize() const {
  std::vector<float> out(static_cast<size_t>(rows * cols));
  for (int64_t r = 0; r < rows; ++r) dequantize_row(r, out.data() + r * cols);
  return out;
}

}  // namespace dcllm
