// libFuzzer: arbitrary bytes as a safetensors file give tensors or a one-line error, never a
// read outside the buffer; every F32/F16/BF16 tensor that parses converts and is read in full.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "model/safetensors_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto file = dcllm::parse_safetensors({data, size}, "fuzz.safetensors");
  if (!file.ok()) {
    const std::string& m = file.status().message();
    if (m.empty() || m.find('\n') != std::string::npos) std::abort();
    return 0;
  }
  volatile float sink = 0.0f;
  std::vector<float> values;
  for (const auto& t : file->tensors) {
    // numel <= the tensor's byte count, so this allocation is bounded by the input's size.
    values.resize(static_cast<size_t>(t.numel()));
    const dcllm::Status st = dcllm::tensor_to_f32(t, values, file->name);
    const bool is_float = t.dtype == "F32" || t.dtype == "F16" || t.dtype == "BF16";
    // A parsed float tensor always converts; any other dtype is refused in one line.
    if (st.ok() != is_float || (!st.ok() && st.message().find('\n') != std::string::npos))
      std::abort();
    if (!st.ok()) continue;
    for (float v : values) sink = sink + v;
  }
  return 0;
}
