// The element-wise pieces of a transformer block, written as plainly as llama2.c's: RMSNorm,
// RoPE, softmax, SwiGLU. Each works on one row (token) at a time.
#pragma once

#include <cstddef>
#include <vector>

#include "model/model.h"

namespace dcllm {

// o = x / sqrt(mean(x²) + eps) * w
void rmsnorm(float* o, const float* x, const float* w, size_t n, float eps);

// In-place softmax over x[0..n).
void softmax(float* x, size_t n);

// h[i] = silu(gate[i]) * up[i], silu(z) = z·σ(z); writes into gate.
void swiglu(float* gate, const float* up, size_t n);

// Rotation tables for RoPE: angle(pos, i) = pos · theta^(-2i/head_dim) for the head_dim/2
// pairs, optionally divided per pair by `freq_factors` (Llama 3.1's rope_freqs).
class RopeTable {
 public:
  RopeTable() = default;
  RopeTable(size_t max_pos, size_t head_dim, float theta, RopeStyle style,
            const float* freq_factors);
  // Rotates every head of `vec` (n_heads * head_dim floats) for position `pos`.
  void apply(float* vec, size_t n_heads, size_t pos) const;

 private:
  size_t head_dim_ = 0;
  RopeStyle style_ = RopeStyle::kInterleaved;
  std::vector<float> cos_, sin_;  // [max_pos][head_dim / 2]
};

}  // namespace dcllm
