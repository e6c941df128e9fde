// libFuzzer: arbitrary bytes as a rANS stream must never crash or read/write out of bounds,
// and every decoder ISA must return the same verdict and bytes.
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "dcllm/rans.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> in(data, size);
  auto raw = dcllm::rans_raw_size(in);
  // Decode into the declared size when it is modest, else into a small wrong-size buffer.
  size_t n = raw.ok() && *raw <= (size_t{1} << 22) ? *raw : 1000;
  std::vector<uint8_t> ref(n);
  dcllm::Status ref_st = dcllm::rans_decode(in, ref, {dcllm::RansIsa::kScalar, 1});
  for (auto isa : {dcllm::RansIsa::kAvx2, dcllm::RansIsa::kAvx512}) {
    if (!dcllm::rans_isa_supported(isa)) continue;
    std::vector<uint8_t> out(n);
    dcllm::Status st = dcllm::rans_decode(in, out, {isa, 2});
    if (st.ok() != ref_st.ok() || (st.ok() && out != ref)) std::abort();
  }
  return 0;
}
