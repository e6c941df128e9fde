// libFuzzer: NFC of arbitrary bytes never fails, is idempotent, and leaves text that passes the
// quick check unchanged.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "model/unicode_nfc.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const std::string once = dcllm::nfc_normalize(text);
  if (dcllm::nfc_normalize(once) != once) std::abort();
  if (dcllm::passes_nfc_quick_check(text) && once != text) std::abort();
  return 0;
}
