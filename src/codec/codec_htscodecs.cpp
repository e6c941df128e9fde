// The `htscodecs-rans32x16` codec: htscodecs' order-0 32-way rANS (the CRAM 3.1 codec), with its
// run-time SIMD pick (AVX2 on our AVX2 hosts). Our closest published relative, hence the baseline.
#include <htscodecs/rANS_static4x16.h>

#include <cstdint>
#include <cstdlib>
#include <limits>
#include <string>

#include "codec/codec_factories.h"

namespace dcllm::codec_detail {
namespace {

// Pure order-0: no PACK/RLE/STRIPE transforms, so the comparison is entropy coder against
// entropy coder. SIMD_AUTO lets the encoder fall back to 4-way lanes on tiny inputs.
constexpr int kEncodeOrder = RANS_ORDER_X32 | RANS_ORDER_SIMD_AUTO;
// Order-byte flags our encoder can emit: X32 and CAT (stored, for inputs too small to code).
// Anything else (order-1, PACK, RLE, STRIPE, NOSZ) did not come from us and is rejected before
// htscodecs sees it, which also keeps its transform paths off untrusted bytes.
constexpr uint8_t kAllowedOrderBits = RANS_ORDER_X32 | RANS_ORDER_CAT;
// htscodecs counts in unsigned int; its compress bound must not wrap.
constexpr size_t kMaxInputBytes = size_t{1} << 30;
// Our frame is [u32 LE length of the htscodecs frame][htscodecs frame]. htscodecs' decoder
// neither reports how much it consumed nor notices a cut-off tail (it decodes garbage), so the
// length is what turns truncation into kCorrupt. Four bytes per frame; ratios barely move.
constexpr size_t kLengthBytes = 4;

class HtscodecsRans32x16Codec final : public Codec {
 public:
  std::string_view name() const override { return "htscodecs-rans32x16"; }

  Status compress(std::span<const uint8_t> in, std::vector<uint8_t>& out) const override {
    if (in.size() > kMaxInputBytes) {
      return InvalidArgument("htscodecs-rans32x16: input of " + std::to_string(in.size()) +
                             " bytes exceeds the 1 GiB limit of this wrapper");
    }
    const auto in_size = static_cast<unsigned>(in.size());
    const size_t old_size = out.size();
    const unsigned capacity = rans_compress_bound_4x16(in_size, kEncodeOrder);
    out.resize(old_size + kLengthBytes + capacity);
    uint8_t* frame = out.data() + old_size + kLengthBytes;
    unsigned written = capacity;
    // htscodecs takes non-const pointers but does not write the input.
    unsigned char* result = rans_compress_to_4x16(const_cast<unsigned char*>(in.data()), in_size,
                                                  frame, &written, kEncodeOrder);
    if (result == nullptr || written > capacity) {
      out.resize(old_size);
      return Internal("htscodecs-rans32x16: rans_compress_to_4x16 failed on " +
                      std::to_string(in.size()) + " bytes");
    }
    for (size_t i = 0; i < kLengthBytes; ++i) {
      out[old_size + i] = static_cast<uint8_t>(written >> (8 * i));
    }
    out.resize(old_size + kLengthBytes + written);
    return Status::Ok();
  }

  Status decompress(std::span<const uint8_t> frame, std::span<uint8_t> out) const override {
    if (frame.size() <= kLengthBytes) return Corrupt("htscodecs-rans32x16: frame too short");
    uint64_t declared = 0;
    for (size_t i = 0; i < kLengthBytes; ++i) declared |= uint64_t{frame[i]} << (8 * i);
    const std::span<const uint8_t> in = frame.subspan(kLengthBytes);
    if (declared != in.size()) {
      return Corrupt("htscodecs-rans32x16: frame declares " + std::to_string(declared) +
                     " coded bytes, holds " + std::to_string(in.size()));
    }
    if ((in[0] & ~kAllowedOrderBits) != 0) {
      return Corrupt("htscodecs-rans32x16: unexpected order byte " + std::to_string(in[0]));
    }
    if (in.size() > std::numeric_limits<unsigned>::max() ||
        out.size() > std::numeric_limits<unsigned>::max()) {
      return Corrupt("htscodecs-rans32x16: frame or output larger than 4 GiB");
    }
    unsigned decoded = static_cast<unsigned>(out.size());
    // A zero-length output may have a null data(); htscodecs then mallocs its own buffer.
    uint8_t dummy = 0;
    unsigned char* target = out.empty() ? &dummy : out.data();
    unsigned char* result = rans_uncompress_to_4x16(
        const_cast<unsigned char*>(in.data()), static_cast<unsigned>(in.size()), target, &decoded);
    if (result == nullptr) return Corrupt("htscodecs-rans32x16: malformed frame");
    if (result != target) {
      free(result);  // htscodecs allocated on its own; never expected with a caller buffer
      return Corrupt("htscodecs-rans32x16: decoder ignored the output buffer");
    }
    if (decoded != out.size()) {
      return Corrupt("htscodecs-rans32x16: frame decodes to " + std::to_string(decoded) +
                     " bytes, expected " + std::to_string(out.size()));
    }
    return Status::Ok();
  }
};

}  // namespace

std::unique_ptr<Codec> make_htscodecs_rans32x16_codec() {
  return std::make_unique<HtscodecsRans32x16Codec>();
}

}  // namespace dcllm::codec_detail
