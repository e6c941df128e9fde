// The `raw` codec: stores bytes unchanged. It is the baseline every report measures against
// (ratio 1, and the memcpy speed the other codecs are compared with).
#include <cstring>
#include <string>

#include "codec/codec_factories.h"

namespace dcllm::codec_detail {
namespace {

class RawCodec final : public Codec {
 public:
  std::string_view name() const override { return "raw"; }

  Status compress(std::span<const uint8_t> in, std::vector<uint8_t>& out) const override {
    out.insert(out.end(), in.begin(), in.end());
    return Status::Ok();
  }

  Status decompress(std::span<const uint8_t> in, std::span<uint8_t> out) const override {
    if (in.size() != out.size()) {
      return Corrupt("raw: frame holds " + std::to_string(in.size()) + " bytes, expected " +
                     std::to_string(out.size()));
    }
    if (!in.empty()) std::memcpy(out.data(), in.data(), in.size());
    return Status::Ok();
  }
};

}  // namespace

std::unique_ptr<Codec> make_raw_codec() {
  return std::make_unique<RawCodec>();
}

}  // namespace dcllm::codec_detail
