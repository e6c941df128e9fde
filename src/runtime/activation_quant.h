// Dynamic INT8 quantization of activations for the W8A8 path: each token's float row (or the
// whole batch, or each block of a row) gets one symmetric scale, computed as the activations
// arrive.
#pragma once

#include <cstdint>
#include <vector>

#include "core/activation_scheme.h"
#include "runtime/int8_gemm.h"

namespace dcllm {

// Row r of x[rows][cols]: scales[r] = max|x[r]| / 127 over its finite values (1 when there are
// none, or all are 0), q[r][k] = clamp(round_to_even(x[r][k] * (127 / max|x[r]|)), -127, 127).
// NaN maps to 0 and +-inf to +-127. Never produces -128, as int8_gemm requires.
void quantize_activations_per_token(const float* x, int rows, int cols, int8_t* q, float* scales);
// One scale for the whole batch, chosen the same way; returns it.
float quantize_activations_per_tensor(const float* x, int rows, int cols, int8_t* q);
// One scale per `block` consecutive values of a row, chosen the same way over the block (the last
// block of a row may be short): scales[r * ceil(cols / block) + b].
void quantize_activations_per_block(const float* x, int rows, int cols, int block, int8_t* q,
                                    float* scales);

// Owns the quantized copy of a batch, so a layer reuses one allocation from token to token.
class Int8ActivationBuffer {
 public:
  // Quantizes x[rows][cols] into this buffer; the returned view lives until the next call.
  Int8Activations quantize(const float* x, int rows, int cols, bool per_tensor = false);
  // The same by scheme: per token, per tensor or per block (kFloat is not a quantization:
  // callers handle it before; here it quantizes per token).
  Int8Activations quantize(const float* x, int rows, int cols, const ActivationQuant& scheme);

 private:
  std::vector<int8_t> q_;
  std::vector<float> scales_;
};

// The kernels behind the functions above, per row, for tests that check the two agree.
float max_abs_finite_generic(const float* x, int n);
void quantize_row_generic(const float* x, int n, float levels_per_unit, int8_t* q);
float max_abs_finite_avx2(const float* x, int n);
void quantize_row_avx2(const float* x, int n, float levels_per_unit, int8_t* q);
bool activation_quant_avx2_available();

}  // namespace dcllm
