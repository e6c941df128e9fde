// The `snappy` codec: Google's Snappy raw format, the fastest-decoding LZ baseline we compare.
// Its frame starts with the raw length, which we check against the caller's before decoding.
#include <snappy.h>

#include <string>

#include "codec/codec_factories.h"

namespace dcllm::codec_detail {
namespace {

class SnappyCodec final : public Codec {
 public:
  std::string_view name() const override { return "snappy"; }

  Status compress(std::span<const uint8_t> in, std::vector<uint8_t>& out) const override {
    const size_t old_size = out.size();
    out.resize(old_size + snappy::MaxCompressedLength(in.size()));
    size_t written = 0;
    snappy::RawCompress(reinterpret_cast<const char*>(in.data()), in.size(),
                        reinterpret_cast<char*>(out.data() + old_size), &written);
    out.resize(old_size + written);
    return Status::Ok();
  }

  Status decompress(std::span<const uint8_t> in, std::span<uint8_t> out) const override {
    const char* frame = reinterpret_cast<const char*>(in.data());
    size_t declared = 0;
    if (!snappy::GetUncompressedLength(frame, in.size(), &declared)) {
      return Corrupt("snappy: malformed length header");
    }
    if (declared != out.size()) {
      return Corrupt("snappy: frame declares " + std::to_string(declared) + " bytes, expected " +
                     std::to_string(out.size()));
    }
    // RawUncompress writes at most the declared length (checked above) and reports corruption.
    if (!snappy::RawUncompress(frame, in.size(), reinterpret_cast<char*>(out.data()))) {
      return Corrupt("snappy: malformed frame");
    }
    return Status::Ok();
  }
};

}  // namespace

std::unique_ptr<Codec> make_snappy_codec() {
  return std::make_unique<SnappyCodec>();
}

}  // namespace dcllm::codec_detail
