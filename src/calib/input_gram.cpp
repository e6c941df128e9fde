// XᵀX accumulation: each observed batch is transposed and multiplied by itself with the float
// matmul (the same cost as the layer's own forward over those tokens), then added in.
#include "calib/input_gram.h"

#include <cmath>
#include <string>

#include "runtime/matmul_f32.h"

namespace dcllm {

Status InputGram::observe(const float* x, size_t rows, size_t cols, unsigned threads) {
  if (cols != k_) {
    return InvalidArgument("input gram: " + std::to_string(cols) + " columns, expected " +
                           std::to_string(k_));
  }
  if (rows == 0) return Status::Ok();
  if (x == nullptr) return InvalidArgument("input gram: null input");
  // The finite rows, transposed: xt_[j * n + t] = x[t][j].
  std::vector<size_t> keep;
  keep.reserve(rows);
  for (size_t t = 0; t < rows; ++t) {
    bool finite = true;
    for (size_t j = 0; j < cols; ++j) finite &= std::isfinite(x[t * cols + j]);
    if (finite) keep.push_back(t);
  }
  const size_t n = keep.size();
  if (n == 0) return Status::Ok();
  xt_.resize(k_ * n);
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < k_; ++j) xt_[j * n + i] = x[keep[i] * cols + j];
  // window_[a][b] = sum_t xt_[a][t] * xt_[b][t]: matmul_f32 with xt_ as both operands.
  window_.resize(k_ * k_);
  matmul_f32(xt_.data(), k_, n, xt_.data(), nullptr, k_, window_.data(), threads);
  for (size_t i = 0; i < g_.size(); ++i) g_[i] += window_[i];
  tokens_ += n;
  return Status::Ok();
}

}  // namespace dcllm
