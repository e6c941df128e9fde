// The INT8 bytes a codec benchmark runs on: a weight file (INT8 as is, or float quantized per
// tensor) or synthetic weights. Keeps input handling out of the CLI so `bench` verbs share it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "dcllm/status.h"
#include "eval/synthetic_weights.h"

namespace dcllm {

enum class InputDtype { kI8, kF32, kF16, kBf16 };

// "i8", "f32", "f16" or "bf16".
Expected<InputDtype> parse_input_dtype(std::string_view name);
std::string_view input_dtype_name(InputDtype dtype);
size_t input_dtype_bytes(InputDtype dtype);

struct BenchFileSpec {
  std::string path;
  InputDtype dtype = InputDtype::kI8;
  uint64_t offset = 0;      // bytes skipped at the start (a header: 28 for llama2.c .bin)
  bool quantize = false;    // per-tensor INT8; required for float inputs, refused for i8
  size_t tensor_elems = 0;  // quantize blocks of this many elements separately; 0 = one tensor
};

struct BenchInput {
  std::string label;        // the file path, or "synthetic:<kind>"
  std::string description;  // how the bytes were made, for human-readable reports
  std::vector<uint8_t> bytes;
};

// Reads the file (little-endian elements), validates offset and element alignment, and
// produces INT8 bytes. Fails on an empty payload.
Expected<BenchInput> load_bench_file(const BenchFileSpec& spec);

// The weight matrices (tensors of two or more dimensions) of a model file (.bin, .gguf),
// each quantized per tensor to INT8 and concatenated: what a compressed model would code.
// `on_progress`, if set, is called after each matrix is quantized with (matrices done, total).
Expected<BenchInput> load_bench_model(
    const std::string& path,
    const std::function<void(int64_t done, int64_t total)>& on_progress = {});

// `bytes` synthetic INT8 weights in tensors of `tensor_elems` (see synthetic_weights.h).
Expected<BenchInput> make_bench_synthetic(SyntheticKind kind, size_t bytes, size_t tensor_elems);

}  // namespace dcllm
