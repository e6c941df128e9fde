// Dequantization of GGML block formats (F16, BF16, Q8_0, Q4_0/1, Q5_0/1, Q4_K, Q5_K, Q6_K)
// to float32, so every model reaches the runtime as plain float32 tensors.
#pragma once

#include <cstddef>
#include <cstdint>

#include "model/ggml_types.h"

namespace dcllm {

float fp16_to_fp32(uint16_t h);
float bf16_to_fp32(uint16_t h);

// Decodes `n_elems` values (a multiple of the type's block size) from `src` into `dst`.
// `src` must hold n_elems / block_elems * block_bytes bytes; the caller checked that.
void dequantize(GgmlType type, const uint8_t* src, size_t n_elems, float* dst);

}  // namespace dcllm
