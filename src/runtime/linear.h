// Linear: one fully connected layer, y = x·Wᵀ + b over a batch of rows. Every linear layer
// of the forward pass goes through this type, so a later INT8 (W8A8) weight format only has
// to add a representation here, not touch the model code.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace dcllm {

class Linear {
 public:
  Linear() = default;
  // Float32 weights [out, in] (row-major, one row per output) and an optional bias [out].
  // The pointers are borrowed: the Model that owns them must outlive the Linear.
  static Linear f32(std::string name, const float* weight, const float* bias, int64_t out,
                    int64_t in);

  // x: [rows, in] -> y: [rows, out].
  void forward(const float* x, size_t rows, float* y, unsigned threads) const;

  // "blk.3.attn_q", "output": the weight tensor's name without ".weight".
  const std::string& name() const { return name_; }
  int64_t in_features() const { return in_; }
  int64_t out_features() const { return out_; }
  const float* weight_f32() const { return weight_; }
  const float* bias() const { return bias_; }

 private:
  std::string name_;
  int64_t in_ = 0;
  int64_t out_ = 0;
  const float* weight_ = nullptr;
  const float* bias_ = nullptr;
};

}  // namespace dcllm
