// libFuzzer target: every registered codec's decompress on arbitrary frames and output sizes.
// The contract: kOk or kCorrupt, never a crash, an out-of-bounds access or another code.
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <span>
#include <vector>

#include "dcllm/codec.h"

namespace {

const std::vector<std::unique_ptr<dcllm::Codec>>& codecs() {
  static const auto all = [] {
    std::vector<std::unique_ptr<dcllm::Codec>> v;
    for (const std::string& name : dcllm::codec_names())
      v.push_back(dcllm::make_codec(name).value());
    return v;
  }();
  return all;
}

}  // namespace

// Input: [codec index][u16 LE output size][frame bytes...]. Output sizes stay small so the
// fuzzer spends its time in the decoders, not in allocation.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  const auto& codec = codecs()[data[0] % codecs().size()];
  const size_t out_size = data[1] | (size_t{data[2]} << 8);
  std::vector<uint8_t> out(out_size);
  const dcllm::Status st = codec->decompress(std::span(data + 3, size - 3), out);
  if (!st.ok() && st.code() != dcllm::StatusCode::kCorrupt) std::abort();
  return 0;
}
