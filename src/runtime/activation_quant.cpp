// Activation quantization: scalar reference, AVX2 dispatch, and the per-token, per-tensor and
// per-block drivers. Math in float (not double as the weight quantizer does): it runs on every
// token.
#include "runtime/activation_quant.h"

#include <algorithm>
#include <cmath>

#include "core/cpu_features.h"

namespace dcllm {
namespace {

struct RowKernels {
  float (*max_abs)(const float*, int);
  void (*quantize)(const float*, int, float, int8_t*);
};

const RowKernels& row_kernels() {
  static const RowKernels k = activation_quant_avx2_available()
                                  ? RowKernels{max_abs_finite_avx2, quantize_row_avx2}
                                  : RowKernels{max_abs_finite_generic, quantize_row_generic};
  return k;
}

// The scale and its inverse for a range max|x|; an all-zero (or all non-finite) range gets
// scale 1, as the weight quantizer does, so infinities still land on +-127.
struct ScalePair {
  float scale, levels_per_unit;
};
ScalePair scale_for(float max_abs) {
  if (max_abs == 0.0f) return {1.0f, 1.0f};
  return {max_abs / 127.0f, 127.0f / max_abs};
}

}  // namespace

bool activation_quant_avx2_available() {
  return cpu_features().avx2;
}

float max_abs_finite_generic(const float* x, int n) {
  float m = 0.0f;
  for (int i = 0; i < n; ++i) {
    if (std::isfinite(x[i])) m = std::max(m, std::fabs(x[i]));
  }
  return m;
}

void quantize_row_generic(const float* x, int n, float levels_per_unit, int8_t* q) {
  for (int i = 0; i < n; ++i) {
    float v = x[i] * levels_per_unit;
    if (std::isnan(v)) v = 0.0f;  // NaN input, or 0 * inf for a denormal range
    v = std::min(std::max(v, -127.0f), 127.0f);
    q[i] = static_cast<int8_t>(std::nearbyint(v));
  }
}

void quantize_activations_per_token(const float* x, int rows, int cols, int8_t* q, float* scales) {
  const RowKernels& k = row_kernels();
  for (int r = 0; r < rows; ++r) {
    const size_t off = static_cast<size_t>(r) * static_cast<size_t>(cols);
    const ScalePair s = scale_for(k.max_abs(x + off, cols));
    scales[r] = s.scale;
    k.quantize(x + off, cols, s.levels_per_unit, q + off);
  }
}

float quantize_activations_per_tensor(const float* x, int rows, int cols, int8_t* q) {
  const RowKernels& k = row_kernels();
  float m = 0.0f;
  for (int r = 0; r < rows; ++r)
    m = std::max(m, k.max_abs(x + static_cast<size_t>(r) * static_cast<size_t>(cols), cols));
  const ScalePair s = scale_for(m);
  for (int r = 0; r < rows; ++r) {
    const size_t off = static_cast<size_t>(r) * static_cast<size_t>(cols);
    k.quantize(x + off, cols, s.levels_per_unit, q + off);
  }
  return s.scale;
}

void quantize_activations_per_block(const float* x, int rows, int cols, int block, int8_t* q,
                                    float* scales) {
  const RowKernels& k = row_kernels();
  const int blocks = (cols + block - 1) / block;
  for (int r = 0; r < rows; ++r) {
    const size_t row = static_cast<size_t>(r) * static_cast<size_t>(cols);
    for (int b = 0; b < blocks; ++b) {
      const size_t off = row + static_cast<size_t>(b) * static_cast<size_t>(block);
      const int n = std::min(block, cols - b * block);
      const ScalePair s = scale_for(k.max_abs(x + off, n));
      scales[static_cast<size_t>(r) * static_cast<size_t>(blocks) + static_cast<size_t>(b)] =
          s.scale;
      k.quantize(x + off, n, s.levels_per_unit, q + off);
    }
  }
}

Int8Activations Int8ActivationBuffer::quantize(const float* x, int rows, int cols,
                                               const ActivationQuant& scheme) {
  if (scheme.scheme != ActivationScheme::kBlock)
    return quantize(x, rows, cols, scheme.scheme == ActivationScheme::kPerTensor);
  Int8Activations a{nullptr, rows, cols, nullptr, false, scheme.block};
  q_.resize(static_cast<size_t>(rows) * static_cast<size_t>(cols));
  scales_.resize(static_cast<size_t>(rows) * static_cast<size_t>(a.blocks()));
  quantize_activations_per_block(x, rows, cols, scheme.block, q_.data(), scales_.data());
  a.data = q_.data();
  a.scales = scales_.data();
  return a;
}

Int8Activations Int8ActivationBuffer::quantize(const float* x, int rows, int cols,
                                               bool per_tensor) {
  q_.resize(static_cast<size_t>(rows) * static_cast<size_t>(cols));
  scales_.resize(per_tensor ? 1 : static_cast<size_t>(rows));
  if (per_tensor) {
    scales_[0] = quantize_activations_per_tensor(x, rows, cols, q_.data());
  } else {
    quantize_activations_per_token(x, rows, cols, q_.data(), scales_.data());
  }
  return Int8Activations{q_.data(), rows, cols, scales_.data(), per_tensor};
}

}  // namespace dcllm
