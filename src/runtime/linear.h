// Linear: one fully connected layer, y = x·Wᵀ + b over a batch of rows. Every linear layer
// of the forward pass goes through this type, so the INT8 (W8A8) weight format is one more
// representation here and the model code does not care how weights are stored.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "dcllm/status.h"
#include "runtime/linear_int8.h"

namespace dcllm {

class WeightSource;

class Linear {
 public:
  Linear() = default;
  // Float32 weights [out, in] (row-major, one row per output) and an optional bias [out].
  // `input_scale` [in], when given, multiplies x's channels first (a .dcllm's o_proj scale).
  // The pointers are borrowed: the Model that owns them must outlive the Linear.
  static Linear f32(std::string name, const float* weight, const float* bias, int64_t out,
                    int64_t in, const float* input_scale = nullptr);
  // INT8 weights (W8A8): forward quantizes x to INT8 as `activations` says (per token, per
  // batch, per block; or leaves it float), after scaling its channels by `input_scale` [in]
  // when given, and runs the int8 gemm. Borrowed as above. weight.values may be null when a
  // WeightSource supplies the values (use_source).
  static Linear int8(std::string name, const Int8MatrixView& weight, const float* bias,
                     const float* input_scale = nullptr, ActivationQuant activations = {});
  // From now on `source` (linear `id` there) runs the INT8 product: it holds or fetches the
  // values (whole, or in row chunks); the source must outlive the Linear.
  void use_source(WeightSource* source, size_t id);

  // x: [rows, in] -> y: [rows, out]. Fails only when the weight source cannot supply the
  // weights (a streamed chunk that no longer reads back or checks out).
  Status forward(const float* x, size_t rows, float* y, unsigned threads) const;

  // "blk.3.attn_q", "output": the weight tensor's name without ".weight".
  const std::string& name() const { return name_; }
  int64_t in_features() const { return in_; }
  int64_t out_features() const { return out_; }
  bool is_int8() const { return is_int8_; }
  const float* weight_f32() const { return weight_; }  // null for INT8
  // The values pointer is null when a WeightSource supplies them.
  const Int8MatrixView& weight_int8() const { return int8_.weights; }
  const float* bias() const { return bias_; }
  const float* input_scale() const { return int8_.input_scale; }

 private:
  std::string name_;
  int64_t in_ = 0;
  int64_t out_ = 0;
  const float* weight_ = nullptr;
  const float* bias_ = nullptr;
  Int8LinearParams int8_;  // input_scale is used by both representations
  bool is_int8_ = false;
  WeightSource* source_ = nullptr;
  size_t source_id_ = 0;
};

}  // namespace dcllm
