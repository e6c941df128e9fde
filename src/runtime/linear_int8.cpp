// W8A8 linear forward: dynamic activation quantization feeding int8_gemm. The activation scale
// is found per token at run time, so no calibration is needed for it.
#include "runtime/linear_int8.h"

#include <vector>

#include "runtime/activation_quant.h"

namespace dcllm {

void linear_int8_forward(const Int8LinearParams& p, const float* x, size_t rows, float* y,
                         unsigned threads) {
  thread_local Int8ActivationBuffer act;
  thread_local std::vector<float> scaled;
  const int cols = p.weights.cols;
  if (p.input_scale) {
    scaled.resize(rows * static_cast<size_t>(cols));
    for (size_t r = 0; r < rows; ++r) {
      const float* in = x + r * static_cast<size_t>(cols);
      float* out = scaled.data() + r * static_cast<size_t>(cols);
      for (int k = 0; k < cols; ++k) out[k] = in[k] * p.input_scale[k];
    }
    x = scaled.data();
  }
  const Int8Activations a = act.quantize(x, static_cast<int>(rows), cols, p.per_tensor_activations);
  int8_gemm(a, p.weights, p.bias, y, threads);
}

}  // namespace dcllm
