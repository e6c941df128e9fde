// Linear over float32 weights (matmul_f32) or INT8 weights (linear_int8_forward), keeping the
// forward pass unaware of how weights are stored, and of where INT8 ones come from (WeightSource).
#include "runtime/linear.h"

#include <vector>

#include "runtime/matmul_f32.h"
#include "runtime/weight_source.h"

namespace dcllm {

Linear Linear::f32(std::string name, const float* weight, const float* bias, int64_t out,
                   int64_t in, const float* input_scale) {
  Linear l;
  l.name_ = std::move(name);
  l.weight_ = weight;
  l.bias_ = bias;
  l.out_ = out;
  l.in_ = in;
  l.int8_.input_scale = input_scale;
  return l;
}

Linear Linear::int8(std::string name, const Int8MatrixView& weight, const float* bias,
                    const float* input_scale, ActivationQuant activations) {
  Linear l;
  l.name_ = std::move(name);
  l.bias_ = bias;
  l.out_ = weight.rows;
  l.in_ = weight.cols;
  l.int8_.weights = weight;
  l.int8_.bias = bias;
  l.int8_.input_scale = input_scale;
  l.int8_.activations = activations;
  l.is_int8_ = true;
  return l;
}

void Linear::use_source(WeightSource* source, size_t id) {
  source_ = source;
  source_id_ = id;
}

Status Linear::forward(const float* x, size_t rows, float* y, unsigned threads) const {
  if (is_int8() && source_) return source_->forward(source_id_, int8_, x, rows, y, threads);
  if (is_int8()) {
    linear_int8_forward(int8_, x, rows, y, threads);
    return Status::Ok();
  }
  if (int8_.input_scale) {
    thread_local std::vector<float> scaled;
    const auto in = static_cast<size_t>(in_);
    scaled.resize(rows * in);
    for (size_t r = 0; r < rows; ++r)
      for (size_t k = 0; k < in; ++k) scaled[r * in + k] = x[r * in + k] * int8_.input_scale[k];
    x = scaled.data();
  }
  matmul_f32(x, rows, static_cast<size_t>(in_), weight_, bias_, static_cast<size_t>(out_), y,
             threads);
  return Status::Ok();
}

}  // namespace dcllm
