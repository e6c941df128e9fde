// safetensors: the 8-byte header length, the JSON header (dtype, shape, data_offsets) and the
// data buffer, validated in full; and a checkpoint directory of one file or index-named shards.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "dcllm/status.h"

namespace dcllm {

struct SafetensorsTensor {
  std::string name;
  std::string dtype;  // as stored: "F32", "F16", "BF16", "I64", ...
  std::vector<int64_t> shape;
  std::span<const uint8_t> bytes;  // exactly numel × element size, inside the file

  int64_t numel() const;
};

struct SafetensorsFile {
  std::string name;                                           // the path, for messages
  std::vector<SafetensorsTensor> tensors;                     // in data-offset order
  std::vector<std::pair<std::string, std::string>> metadata;  // __metadata__

  const SafetensorsTensor* find(std::string_view tensor) const;
};

// The largest JSON header accepted (the reference implementation's limit).
inline constexpr uint64_t kSafetensorsMaxHeader = 100'000'000;

// Parses and validates the whole layout: header length within the file and the limit, every
// entry's dtype, shape and data_offsets (in range, of exactly the shape's size, no overlaps, no
// unindexed bytes). Tensors point into `bytes`, which the caller keeps alive.
Expected<SafetensorsFile> parse_safetensors(std::span<const uint8_t> bytes,
                                            const std::string& name);

// F32 / F16 / BF16 to float32 (out.size() == numel); another dtype is kUnsupported naming the
// file, the tensor and the dtype.
Status tensor_to_f32(const SafetensorsTensor& t, std::span<float> out, const std::string& file);

class MappedFile;

// A Hugging Face checkpoint directory: `model.safetensors`, or else the shards that
// `model.safetensors.index.json` names in its "weight_map". The mappings live as long as it.
class SafetensorsCheckpoint {
 public:
  static Expected<SafetensorsCheckpoint> open(const std::string& dir);

  const SafetensorsTensor* find(std::string_view tensor) const;
  // Every tensor: shard order (the index's first mention), then data-offset order.
  std::vector<const SafetensorsTensor*> tensors() const;
  // The file holding `t`, for messages.
  const std::string& file_of(const SafetensorsTensor& t) const;
  const std::vector<SafetensorsFile>& files() const { return files_; }

 private:
  std::vector<std::shared_ptr<const MappedFile>> maps_;
  std::vector<SafetensorsFile> files_;
  std::unordered_map<std::string, std::pair<size_t, size_t>> index_;  // name -> (file, tensor)
};

}  // namespace dcllm
