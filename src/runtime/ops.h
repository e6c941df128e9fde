// The element-wise pieces of a transformer block, written as plainly as llama2.c's: RMSNorm,
// LayerNorm, RoPE, softmax, the MLP activations. Each works on one row (token) at a time.
#pragma once

#include <cstddef>
#include <vector>

#include "model/model.h"

namespace dcllm {

// o = x / sqrt(mean(x²) + eps) * w
void rmsnorm(float* o, const float* x, const float* w, size_t n, float eps);

// o = (x − mean(x)) / sqrt(var(x) + eps) * w + b; o may be x.
void layernorm(float* o, const float* x, const float* w, const float* b, size_t n, float eps);

// In-place softmax over x[0..n).
void softmax(float* x, size_t n);

// h[i] = silu(gate[i]) * up[i], silu(z) = z·σ(z); writes into gate.
void swiglu(float* gate, const float* up, size_t n);

// x[i] = act(x[i]).
void activate(Activation act, float* x, size_t n);

// gate[i] = act(gate[i]) * up[i] (swiglu for kSilu).
void gated_activation(Activation act, float* gate, const float* up, size_t n);

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
