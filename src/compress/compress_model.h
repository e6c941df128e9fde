// compress_model(): the whole `dcllm compress` pipeline (calibrate, scale and fold, INT8
// quantize, prune, entropy-code into a .dcllm) and its report (docs/compress.md).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "dcllm/status.h"

namespace dcllm {

struct CompressOptions {
  std::string model_path;
  std::string tokenizer_path;  // llama2.c tokenizer.bin; "" = the loader's default
  std::string output_path;
  std::string calib_path;  // UTF-8 calibration text
  int64_t calib_tokens = 8192;
  int64_t calib_ctx = 256;
  std::string scale = "dc";
  double alpha = 0.5;
  std::string wquant = "per-channel";
  std::string aquant = "per-token";
  std::string prune = "none";
  double sparsity = 0.0;
  std::string prune_group = "row";
  std::string codec = "rans";
  unsigned threads = 2;
  // Called with ("calibrate" | "encode", done, total) as work proceeds.
  std::function<void(std::string_view, int64_t, int64_t)> on_progress;
};

// Sizes of INT8 symbols and what was stored for them.
struct Int8TensorReport {
  std::string name;
  uint64_t int8_bytes = 0;    // one byte per weight
  uint64_t stored_bytes = 0;  // coded chunks as stored: frames with their tables and headers
  double entropy_bits = 0.0;  // order-0 entropy of the INT8 symbols, bits per weight
  uint64_t zeros = 0;
  double cr_vs_int8() const;       // int8_bytes / stored_bytes
  double bits_per_weight() const;  // 8 * stored_bytes / int8_bytes
  double zero_fraction() const;
};

struct CompressReport {
  std::string model;
  std::string output;
  nlohmann::ordered_json settings;
  Int8TensorReport totals;  // entropy_bits: weight-averaged per-tensor entropies
  std::vector<Int8TensorReport> tensors;
  int64_t parameters = 0;  // every tensor's elements, float ones included
  int64_t calib_tokens_used = 0;
  int64_t calib_windows = 0;
  uint64_t file_bytes = 0;
  double cr_vs_fp16 = 0.0;  // 2 * parameters / file_bytes
  double seconds = 0.0;
  nlohmann::ordered_json to_json() const;
};

// Every option is checked (and the model, tokenizer and calibration text read and checked)
// before any calibration or coding runs. The output appears only when everything succeeded.
Expected<CompressReport> compress_model(const CompressOptions& options);

}  // namespace dcllm
