// libFuzzer: encode arbitrary bytes with options taken from the input, decode, compare.
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "dcllm/rans.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  dcllm::RansEncodeOptions opt;
  opt.precision = data[0] % 6 == 0 ? 0 : 7 + data[0] % 6;  // 0 (auto) or 8..12
  opt.escapes = (data[0] & 0x80) == 0;
  opt.segment_bytes = size_t{4096} << (data[1] % 3);
  opt.isa = data[1] & 0x80 ? dcllm::RansIsa::kScalar : dcllm::RansIsa::kAuto;
  std::span<const uint8_t> in(data + 2, size - 2);
  // Repeat short inputs so segments and lanes fill up.
  std::vector<uint8_t> body(in.begin(), in.end());
  while (!body.empty() && body.size() < 9000) body.insert(body.end(), in.begin(), in.end());
  std::vector<uint8_t> enc;
  if (!dcllm::rans_encode(body, enc, opt).ok()) std::abort();
  std::vector<uint8_t> out(body.size());
  if (!dcllm::rans_decode(enc, out, {dcllm::RansIsa::kAuto, 2}).ok() || out != body) std::abort();
  return 0;
}
