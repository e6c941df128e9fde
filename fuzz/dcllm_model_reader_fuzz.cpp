// libFuzzer: arbitrary bytes as a .dcllm compressed model must give a Model or an error, never
// a crash; a Model that loads must also survive a forward pass on its W8A8 path.
#include <cstdint>
#include <cstdlib>

#include "forward_smoke.h"
#include "model/dcllm_model_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto c = dcllm::ModelContainer::open_from_memory({data, size}, "fuzz.dcllm");
  if (!c.ok()) return 0;
  // Decoding is bounded by the claimed raw sizes: skip inputs that claim more than 64 MiB.
  if (c->raw_bytes() > (uint64_t{64} << 20)) return 0;
  dcllm::LoadOptions opts;
  opts.threads = 1;
  auto model = dcllm::read_dcllm_model(*c, opts);
  if (!model.ok()) {
    if (model.status().message().empty()) std::abort();
    return 0;
  }
  dcllm::fuzzing::forward_smoke(*model, dcllm::fuzzing::Expect::kMayBeRefused);
  return 0;
}
