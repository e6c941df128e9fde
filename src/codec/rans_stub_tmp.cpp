// TEMPORARY: replaced by the real rANS implementation shortly.
#include "dcllm/rans.h"
namespace dcllm {
const char* rans_isa_name(RansIsa) { return "scalar"; }
bool rans_isa_supported(RansIsa) { return true; }
Status rans_encode(std::span<const uint8_t>, std::vector<uint8_t>&, const RansEncodeOptions&) { return Unsupported("rans: not yet"); }
Status rans_decode(std::span<const uint8_t>, std::span<uint8_t>, const RansDecodeOptions&) { return Unsupported("rans: not yet"); }
Expected<uint64_t> rans_raw_size(std::span<const uint8_t>) { return Unsupported("rans: not yet"); }
double order0_entropy_bits(std::span<const uint8_t>) { return 0; }
std::array<uint32_t, 256> normalize_frequencies(const std::array<uint64_t, 256>&, int) { return {}; }
}
