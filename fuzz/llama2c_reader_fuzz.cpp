// libFuzzer: arbitrary bytes as a llama2.c checkpoint must give a Model or an error, never a
// crash or an out-of-bounds read; a Model that loads must also survive a forward pass.
#include <cstdint>
#include <cstdlib>

#include "forward_smoke.h"
#include "model/llama2c_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  dcllm::LoadOptions opts;
  opts.threads = 1;
  auto model = dcllm::read_llama2c(dcllm::ModelSource{"fuzz.bin", {data, size}, nullptr}, opts);
  if (!model.ok()) {
    if (model.status().message().empty()) std::abort();
    return 0;
  }
  // Touch every float the reader claims is there.
  volatile float sink = 0.0f;
  for (const auto& t : model->tensors()) {
    for (int64_t i = 0; i < t.numel(); ++i) sink = sink + t.data[i];
  }
  dcllm::fuzzing::forward_smoke(*model, dcllm::fuzzing::Expect::kRunnable);
  return 0;
}
