// libFuzzer: arbitrary bytes as a .dcllm compressed model must give a Model or an error, never
// a crash; a Model that loads must also survive a forward pass on its W8A8 path.
#include <cstdint>
#include <cstdlib>

#include "model/dcllm_model_reader.h"
#include "runtime/transformer.h"

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
  const auto& cfg = model->config;
  const bool small = cfg.n_layers <= 16 && cfg.dim <= 1024 && cfg.hidden_dim <= 4096 &&
                     cfg.n_heads * cfg.head_dim <= 1024 && cfg.vocab_size <= (1 << 16) &&
                     cfg.seq_len >= 2;
  if (small) {
    dcllm::TransformerOptions to;
    to.max_seq = 2;
    to.threads = 1;
    auto t = dcllm::Transformer::create(*model, to);
    if (t.ok()) {
      const int32_t tok = 0;
      (void)t->forward({&tok, 1}, 0);
    }
  }
  return 0;
}
