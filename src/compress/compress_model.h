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

// Raw bytes per INT8 chunk unless --chunk-rows / --chunk-bytes say otherwise: small enough that
// a thread's decoded chunk stays in its L2 for the fused GEMV, large enough that a chunk's
// coding tables cost little (measured with `dcllm bench fused`, docs/runtime.md).
inline constexpr uint64_t kDefaultInt8ChunkBytes = uint64_t{64} << 10;

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
  // Weight range +-wlevels (1..127) of the block linears, and of the embedding / classifier
  // tables: a coarser step codes to fewer bits (WeightQuantOptions::max_level).
  int wlevels = 127;
  int table_wlevels = 127;
  // How the block linears' weights are rounded onto their grid: "nearest" (eq. 3) or "gptq"
  // (error feedback through the calibration input's Gram matrix, quant/gptq.h).
  std::string rounding = "nearest";
  double gptq_damp = 0.01;
  std::string prune = "none";
  double sparsity = 0.0;
  std::string prune_group = "row";
  std::string codec = "rans";
  // INT8 tensors are cut into chunks of whole rows: at most chunk_rows rows each, or (when 0)
  // at most chunk_bytes raw bytes (docs/format.md; the default is measured, docs/runtime.md).
  uint64_t chunk_rows = 0;
  uint64_t chunk_bytes = kDefaultInt8ChunkBytes;
  unsigned threads = 2;
  // Called with ("calibrate" | "encode", done, total) as work proceeds.
  std::function<void(std::string_view, int64_t, int64_t)> on_progress;
};

// Sizes of INT8 symbols and what was stored for them.
struct Int8TensorReport {
  std::string name;
  uint64_t int8_bytes = 0;    // one byte per weight
  uint64_t stored_bytes = 0;  // coded chunks as stored: frames with their tables and headers
  uint64_t scale_bytes = 0;   // the quantization scales (float32, in the container's index)
  double entropy_bits = 0.0;  // order-0 entropy of the INT8 symbols, bits per weight
  uint64_t zeros = 0;
  uint64_t total_bytes() const { return stored_bytes + scale_bytes; }
  double cr_vs_int8() const;       // int8_bytes / total_bytes()
  double bits_per_weight() const;  // 8 * total_bytes() / int8_bytes: everything counted
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
  // The input: its size on disk (a Hugging Face directory: its files), and the bits per weight
  // of the tensors compress quantizes, as the source stores them (8 * bytes / weights).
  uint64_t input_bytes = 0;
  double source_bits_per_weight = 0.0;
  // Lines for the user that are not errors (a source already below INT8, ...).
  std::vector<std::string> notes;
  double seconds = 0.0;
  nlohmann::ordered_json to_json() const;
};

// --preset: named bundles of the options above. "default" is CompressOptions' own defaults;
// "accurate" gives up prompt speed for Q8_0's accuracy (activation blocks of 32), "small" a
// little accuracy for size (docs/compress.md has what each sets and why).
// Sets every option the preset names unless given(option) says the user set it explicitly
// (the CLI passes whether "--wlevels" etc. appeared). kInvalidArgument for an unknown name.
Status apply_preset(std::string_view name, CompressOptions& o,
                    const std::function<bool(std::string_view option)>& given);

// Every option is checked (and the model, tokenizer and calibration text read and checked)
// before any calibration or coding runs. The output appears only when everything succeeded.
Expected<CompressReport> compress_model(const CompressOptions& options);

}  // namespace dcllm
