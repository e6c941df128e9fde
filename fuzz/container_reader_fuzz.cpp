// libFuzzer target for the .dcllm reader: open the input in place and verify it, as given and
// with both checksums recomputed (so mutations reach the metadata and index parsers, which the
// checksums would otherwise shield). Any crash, hang or sanitizer report is a bug.
#include <xxhash.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "dcllm/container.h"

namespace {

uint64_t load_u64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= uint64_t{p[i]} << (8 * i);
  return v;
}

void store_u64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

// Header offsets from docs/format.md: index offset/size at 32/40, body hash at 64, header hash
// at 72 over bytes [0, 72); the body hash covers [80, index end).
void reseal(std::vector<uint8_t>& b) {
  if (b.size() < 80) return;
  uint64_t index_offset = load_u64(&b[32]), index_size = load_u64(&b[40]);
  if (index_offset >= 80 && index_offset <= b.size() && index_size <= b.size() - index_offset)
    store_u64(&b[64], XXH3_64bits(&b[80], index_offset + index_size - 80));
  store_u64(&b[72], XXH3_64bits(b.data(), 72));
}

// Decode buffers of huge chunks only slow the fuzzer down; the bound itself is tested elsewhere.
constexpr uint64_t kMaxFuzzChunk = uint64_t{8} << 20;

void exercise(std::span<const uint8_t> bytes) {
  auto c = dcllm::ModelContainer::open_from_memory(bytes, "fuzz.dcllm");
  if (!c) return;
  (void)c->metadata().dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  for (const auto& t : c->tensors()) {
    (void)c->find(t.spec.name);
    for (const auto& ch : t.chunks)
      if (ch.raw_size > kMaxFuzzChunk) return;
  }
  dcllm::VerifyOptions options;
  options.threads = 1;
  (void)dcllm::verify_container(*c, options);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  exercise({data, size});
  std::vector<uint8_t> sealed(data, data + size);
  reseal(sealed);
  exercise(sealed);
  return 0;
}
