// cuBLASLt's INT8 GEMM (int8 x int8 -> int32) as the vendor baseline of `dcllm bench gpu`.
// libcublasLt is opened at run time, so dcllm starts (and reports why) where it is missing.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "codec/cuda/gpu_kernels.h"
#include "dcllm/status.h"

namespace dcllm::gpu {

// y[rows][n] (int32, column-major: token j's outputs at y + j * rows) = W[rows][cols] x[n][cols]
// for row-major int8 weights and n activation vectors of cols bytes each. No scales: the
// benchmark compares the integer product's speed only.
class CublasLtInt8Gemm {
 public:
  // kUnsupported when the library cannot be opened or has no algorithm for this shape.
  static Expected<CublasLtInt8Gemm> create(int64_t rows, int64_t cols, int n);
  CublasLtInt8Gemm();
  CublasLtInt8Gemm(CublasLtInt8Gemm&&) noexcept;
  CublasLtInt8Gemm& operator=(CublasLtInt8Gemm&&) noexcept;
  ~CublasLtInt8Gemm();

  Status run(const int8_t* d_w, const int8_t* d_x, int32_t* d_y, StreamHandle stream) const;
  // The library file that was opened.
  const std::string& library() const;

  struct State;

 private:
  std::unique_ptr<State> s_;
};

}  // namespace dcllm::gpu
