// The text reader shared by `ppl` (evaluation text) and `compress` (calibration text): one
// protocol for both, so calibration sees exactly the tokens evaluation would.
#include "core/text_file.h"

#include "core/mapped_file.h"

namespace dcllm {

Expected<std::string> read_text_file(const std::string& path) {
  DCLLM_ASSIGN_OR_RETURN(MappedFile file, MappedFile::open(path));
  const auto* raw = reinterpret_cast<const char*>(file.data());
  const size_t n = file.size();
  std::string text;
  text.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    if (raw[i] == '\r' && i + 1 < n && raw[i + 1] == '\n') continue;
    text.push_back(raw[i]);
  }
  return text;
}

}  // namespace dcllm
