// The `lz4` codec: LZ4 block format at its default (fast) setting. It bounds from below what
// an LZ-only scheme achieves on INT8 weights, whose redundancy is in the histogram, not repeats.
#include <lz4.h>

#include <string>

#include "codec/codec_factories.h"

namespace dcllm::codec_detail {
namespace {

class Lz4Codec final : public Codec {
 public:
  std::string_view name() const override { return "lz4"; }

  Status compress(std::span<const uint8_t> in, std::vector<uint8_t>& out) const override {
    if (in.size() > LZ4_MAX_INPUT_SIZE) {
      return InvalidArgument("lz4: input of " + std::to_string(in.size()) +
                             " bytes exceeds LZ4_MAX_INPUT_SIZE");
    }
    const int in_size = static_cast<int>(in.size());
    const int capacity = LZ4_compressBound(in_size);
    const size_t old_size = out.size();
    out.resize(old_size + static_cast<size_t>(capacity));
    const int written =
        LZ4_compress_default(reinterpret_cast<const char*>(in.data()),
                             reinterpret_cast<char*>(out.data() + old_size), in_size, capacity);
    if (written <= 0) {
      out.resize(old_size);
      return Internal("lz4: LZ4_compress_default failed on " + std::to_string(in.size()) +
                      " bytes");
    }
    out.resize(old_size + static_cast<size_t>(written));
    return Status::Ok();
  }

  Status decompress(std::span<const uint8_t> in, std::span<uint8_t> out) const override {
    if (in.size() > LZ4_MAX_INPUT_SIZE || out.size() > LZ4_MAX_INPUT_SIZE) {
      return Corrupt("lz4: frame or output larger than LZ4_MAX_INPUT_SIZE");
    }
    // LZ4_decompress_safe never reads or writes outside the given bounds, whatever the input.
    const int decoded = LZ4_decompress_safe(
        reinterpret_cast<const char*>(in.data()), reinterpret_cast<char*>(out.data()),
        static_cast<int>(in.size()), static_cast<int>(out.size()));
    if (decoded < 0) return Corrupt("lz4: malformed block");
    if (static_cast<size_t>(decoded) != out.size()) {
      return Corrupt("lz4: block decodes to " + std::to_string(decoded) + " bytes, expected " +
                     std::to_string(out.size()));
    }
    return Status::Ok();
  }
};

}  // namespace

std::unique_ptr<Codec> make_lz4_codec() {
  return std::make_unique<Lz4Codec>();
}

}  // namespace dcllm::codec_detail
