// The `rans` codec: our static order-0 32-lane rANS (include/dcllm/rans.h) behind the Codec
// interface, single-threaded with default options so it compares fairly with the libraries.
#include "codec/codec_factories.h"
#include "dcllm/rans.h"

namespace dcllm::codec_detail {
namespace {

class RansCodec final : public Codec {
 public:
  std::string_view name() const override { return "rans"; }

  Status compress(std::span<const uint8_t> in, std::vector<uint8_t>& out) const override {
    return rans_encode(in, out, RansEncodeOptions{});
  }

  // rans_decode already validates the stream and its declared size against out.size().
  Status decompress(std::span<const uint8_t> in, std::span<uint8_t> out) const override {
    return rans_decode(in, out, RansDecodeOptions{});
  }
};

}  // namespace

std::unique_ptr<Codec> make_rans_codec() {
  return std::make_unique<RansCodec>();
}

}  // namespace dcllm::codec_detail
