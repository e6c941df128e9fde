// Linear over float32 weights: a thin wrapper on matmul_f32. The INT8 representation will
// dispatch here too, keeping the forward pass unaware of how weights are stored.
#include "runtime/linear.h"

#include "runtime/matmul_f32.h"

namespace dcllm {

Linear Linear::f32(std::string name, const float* weight, const float* bias, int64_t out,
                   int64_t in) {
  Linear l;
  l.name_ = std::move(name);
  l.weight_ = weight;
  l.bias_ = bias;
  l.out_ = out;
  l.in_ = in;
  return l;
}

void Linear::forward(const float* x, size_t rows, float* y, unsigned threads) const {
  matmul_f32(x, rows, static_cast<size_t>(in_), weight_, bias_, static_cast<size_t>(out_), y,
             threads);
}

}  // namespace dcllm
