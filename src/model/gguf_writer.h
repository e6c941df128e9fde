// GgufWriter: writes a GGUF v3 file (docs/models.md) — typed metadata, tensor infos and the
// aligned data section — through an atomic writer, each tensor's bytes made only when written.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "dcllm/status.h"
#include "model/ggml_types.h"
#include "model/gguf_file.h"

namespace dcllm {

class GgufWriter {
 public:
  // Fills `out` (already sized to the tensor's bytes) with the tensor's data.
  using Producer = std::function<Status(std::vector<uint8_t>& out)>;

  void add_string(const std::string& key, const std::string& value);
  void add_u32(const std::string& key, uint32_t value);
  void add_i32(const std::string& key, int32_t value);
  void add_f32(const std::string& key, float value);
  void add_bool(const std::string& key, bool value);
  void add_strings(const std::string& key, const std::vector<std::string>& values);
  void add_f32s(const std::string& key, const std::vector<float>& values);
  void add_i32s(const std::string& key, const std::vector<int32_t>& values);

  // `shape` is row-major, outermost first (as ModelTensor); GGUF stores it reversed. The
  // innermost size must be a multiple of the type's block. Fails on a duplicate name.
  Status add_tensor(const std::string& name, const std::vector<int64_t>& shape, GgmlType type,
                    Producer produce);

  // Writes everything to `path` atomically: nothing is left there unless all of it was written.
  Status write(const std::string& path) const;

  size_t tensor_count() const { return tensors_.size(); }

 private:
  struct Tensor {
    std::string name;
    std::vector<uint64_t> ne;  // GGML order
    GgmlType type;
    uint64_t bytes;
    Producer produce;
  };
  std::vector<uint8_t> header() const;  // everything before the data section, unpadded

  std::vector<std::pair<std::string, GgufValue>> metadata_;
  std::vector<Tensor> tensors_;
  static constexpr uint64_t kAlignment = 32;  // GGUF's default (general.alignment unset)
};

}  // namespace dcllm
