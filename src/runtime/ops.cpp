// Element-wise transformer ops. Float arithmetic follows llama2.c's (float powf/cosf for RoPE,
// 1/sqrt for RMSNorm) so greedy samples match its reference outputs token for token.
#include "runtime/ops.h"

#include <cmath>

namespace dcllm {

void rmsnorm(float* o, const float* x, const float* w, size_t n, float eps) {
  float ss = 0.0f;
  for (size_t i = 0; i < n; ++i) ss += x[i] * x[i];
  ss /= static_cast<float>(n);
  ss += eps;
  const float scale = 1.0f / std::sqrt(ss);
  for (size_t i = 0; i < n; ++i) o[i] = w[i] * (scale * x[i]);
}

void layernorm(float* o, const float* x, const float* w, const float* b, size_t n, float eps) {
  // Two passes in double: a residual stream with a large mean loses digits in a one-pass float
  // variance, and HF's reference keeps full float precision here.
  double mean = 0.0;
  for (size_t i = 0; i < n; ++i) mean += x[i];
  mean /= static_cast<double>(n);
  double var = 0.0;
  for (size_t i = 0; i < n; ++i) var += (x[i] - mean) * (x[i] - mean);
  var /= static_cast<double>(n);
  const auto m = static_cast<float>(mean);
  const auto inv = static_cast<float>(1.0 / std::sqrt(var + static_cast<double>(eps)));
  for (size_t i = 0; i < n; ++i) o[i] = (x[i] - m) * inv * w[i] + b[i];
}

void softmax(float* x, size_t n) {
  float max = x[0];
  for (size_t i = 1; i < n; ++i) max = x[i] > max ? x[i] : max;
  float sum = 0.0f;
  for (size_t i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - max);
    sum += x[i];
  }
  for (size_t i = 0; i < n; ++i) x[i] /= sum;
}

void swiglu(float* gate, const float* up, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    const float g = gate[i];
    gate[i] = g * (1.0f / (1.0f + std::exp(-g))) * up[i];
  }
}

void activate(Activation act, float* x, size_t n) {
  switch (act) {
    case Activation::kSilu:
      for (size_t i = 0; i < n; ++i) x[i] = x[i] / (1.0f + std::exp(-x[i]));
      return;
    case Activation::kRelu:
      for (size_t i = 0; i < n; ++i) x[i] = x[i] > 0.0f ? x[i] : 0.0f;
      return;
    case Activation::kGeluTanh: {
      const float k = 0.7978845608028654f;  // sqrt(2/pi)
      for (size_t i = 0; i < n; ++i) {
        const float v = x[i];
        x[i] = 0.5f * v * (1.0f + std::tanh(k * (v + 0.044715f * v * v * v)));
      }
      return;
    }
    case Activation::kGelu:
      for (size_t i = 0; i < n; ++i) x[i] = 0.5f * x[i] * (1.0f + std::erf(x[i] * 0.70710678f));
      return;
  }
}

void gated_activation(Activation act, float* gate, const float* up, size_t n) {
  if (act == Activation::kSilu) {
    swiglu(gate, up, n);
    return;
  }
  activate(act, gate, n);
  for (size_t i = 0; i < n; ++i) gate[i] *= up[i];
}

RopeTable::RopeTable(size_t max_pos, size_t head_dim, float theta, RopeStyle style,
                     const float* freq_factors)
    : head_dim_(head_dim), style_(style) {
  const size_t half = head_dim / 2;
  cos_.resize(max_pos * half);
  sin_.resize(max_pos * half);
  for (size_t i = 0; i < half; ++i) {
    float freq = 1.0f / std::pow(theta, static_cast<float>(2 * i) / static_cast<float>(head_dim));
    if (freq_factors) freq /= freq_factors[i];
    for (size_t pos = 0; pos < max_pos; ++pos) {
      const float angle = static_cast<float>(pos) * freq;
      cos_[pos * half + i] = std::cos(angle);
      sin_[pos * half + i] = std::sin(angle);
    }
  }
}

void RopeTable::apply(float* vec, size_t n_heads, size_t pos) const {
  const size_t half = head_dim_ / 2;
  const float* c = cos_.data() + pos * half;
  const float* s = sin_.data() + pos * half;
  for (size_t h = 0; h < n_heads; ++h) {
    float* v = vec + h * head_dim_;
    for (size_t i = 0; i < half; ++i) {
      // Pair i is (2i, 2i+1) when interleaved, (i, i + half) in the NeoX layout.
      const size_t a = style_ == RopeStyle::kInterleaved ? 2 * i : i;
      const size_t b = style_ == RopeStyle::kInterleaved ? 2 * i + 1 : i + half;
      const float v0 = v[a], v1 = v[b];
      v[a] = v0 * c[i] - v1 * s[i];
      v[b] = v0 * s[i] + v1 * c[i];
    }
  }
}

}  // namespace dcllm
