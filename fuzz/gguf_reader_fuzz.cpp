// libFuzzer: arbitrary bytes as a GGUF model must give a Model or a one-line error, never a
// crash, an out-of-bounds read or an allocation the file's size does not justify.
#include <cstdint>
#include <cstdlib>

#include "forward_smoke.h"
#include "model/gguf_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const dcllm::ModelSource src{"fuzz.gguf", {data, size}, nullptr};
  for (bool weights : {false, true}) {
    dcllm::LoadOptions opts;
    opts.load_weights = weights;
    opts.threads = 1;
    auto model = dcllm::read_gguf(src, opts);
    if (!model.ok()) {
      const std::string& m = model.status().message();
      if (m.empty() || m.find('\n') != std::string::npos) std::abort();
      continue;
    }
    if (!weights) continue;
    volatile float sink = 0.0f;
    for (const auto& t : model->tensors()) {
      for (int64_t i = 0; i < t.numel(); ++i) sink = sink + t.data[i];
    }
    dcllm::fuzzing::forward_smoke(*model, dcllm::fuzzing::Expect::kMayBeRefused);
  }
  return 0;
}
