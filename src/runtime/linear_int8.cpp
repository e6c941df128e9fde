// W8A8 linear forward: dynamic activation quantization feeding int8_gemm. The activation scale
// is found per token (or block) at run time, so no calibration is needed for it.
#include "runtime/linear_int8.h"

#include <vector>

#include "runtime/activation_quant.h"
#include "runtime/matmul_f32.h"

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
  if (p.activations.scheme == ActivationScheme::kFloat) {
    // Weight-only: a whole float copy per call. Fine for a batch (ppl windows); generation with
    // it is slow, which is acceptable for a setting that exists to measure the weights' error.
    thread_local std::vector<float> w;
    const auto out = static_cast<size_t>(p.weights.rows);
    w.resize(out * static_cast<size_t>(cols));
    for (size_t n = 0; n < out; ++n)
      p.weights.dequantize_row(static_cast<int64_t>(n), w.data() + n * static_cast<size_t>(cols));
    matmul_f32(x, rows, static_cast<size_t>(cols), w.data(), p.bias, out, y, threads);
    return;
  }
  const Int8Activations a = act.quantize(x, static_cast<int>(rows), cols, p.activations);
  int8_gemm(a, p.weights, p.bias, y, threads);
}

}  // namespace dcllm
