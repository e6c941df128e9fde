// ModelSource: the bytes a reader parses (a file mapping, or a fuzzer's buffer) and the
// options every reader honours. Readers take bytes rather than paths so fuzzers can drive them.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

namespace dcllm {

struct ModelSource {
  std::string name;                   // the path, for error messages
  std::span<const uint8_t> bytes;     // the whole file
  std::shared_ptr<const void> owner;  // keeps `bytes` alive; null when the caller guarantees it
};

struct LoadOptions {
  // false: read shapes, types and metadata only (inspect); tensors get data == nullptr.
  bool load_weights = true;
  // llama2.c checkpoints carry no vocabulary: tokenizer.bin to read beside them.
  std::string tokenizer_path;
  // Threads for dequantizing on load.
  unsigned threads = 2;
};

}  // namespace dcllm
