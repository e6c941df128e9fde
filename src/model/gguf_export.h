// export_gguf(): a loaded Model (a .dcllm's INT8 weights, or any float model) as a GGUF file
// llama.cpp loads: llama/qwen2 metadata, the vocabulary and chat template, Q8_0 weights.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "dcllm/status.h"
#include "model/model.h"

namespace dcllm {

struct GgufExportOptions {
  // true: 2-D weights whose rows are whole 32-value blocks as Q8_0 (others F16); false: F16.
  bool q8_0 = true;
  unsigned threads = 2;
  // Called once per tensor written, with (tensors written so far, tensors to write).
  std::function<void(int64_t done, int64_t total)> on_progress = {};
};

struct GgufExportReport {
  std::string architecture;  // "llama" or "qwen2"
  int64_t q8_0_tensors = 0, f16_tensors = 0, f32_tensors = 0;
  uint64_t bytes = 0;  // the file's size
};

// Needs a Llama-family model with its vocabulary and weights loaded (INT8 tensors resident).
// Norms and biases stay F32. A `<linear>.input_scale` (an unfolded scale of a .dcllm) is folded
// into that linear's columns; Hugging Face q/k rows (rotate-half order) are permuted into the
// interleaved order llama.cpp's `llama` architecture rotates. A llama2.c vocabulary is written
// as SentencePiece pieces ("▁" for space, <s>/</s> as control tokens, <0xXX> as bytes).
// OPT and GPT-2 models are kUnsupported. The file is written atomically to `path`.
Expected<GgufExportReport> export_gguf(const Model& model, const std::string& path,
                                       const GgufExportOptions& opts = {});

// IEEE half from float32, rounded to nearest even (overflow to infinity, NaN kept a NaN).
uint16_t f32_to_fp16(float f);

// One row of `n` floats (n a multiple of 32) as Q8_0 blocks: fp16 scale max|x|/127, then 32
// int8 values round(x / scale), as llama.cpp's reference quantizer makes them.
void quantize_row_q8_0(const float* x, size_t n, uint8_t* out);

}  // namespace dcllm
