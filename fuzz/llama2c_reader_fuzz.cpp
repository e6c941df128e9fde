// libFuzzer: arbitrary bytes as a llama2.c checkpoint must give a Model or an error, never a
// crash or an out-of-bounds read; a Model that loads must also survive a forward pass.
#include <cstdint>
#include <cstdlib>

#include "model/llama2c_reader.h"
#include "runtime/transformer.h"

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
  const auto& c = model->config;
  const bool small = c.n_layers <= 16 && c.dim <= 1024 && c.hidden_dim <= 4096 &&
                     c.n_heads * c.head_dim <= 1024 && c.vocab_size <= (1 << 16);
  if (small) {
    dcllm::TransformerOptions to;
    to.max_seq = 2;
    to.threads = 1;
    auto t = dcllm::Transformer::create(*model, to);
    if (!t.ok()) std::abort();  // a checkpoint that reads must be runnable
    const int32_t tokens[2] = {0, static_cast<int32_t>(c.vocab_size - 1)};
    const size_t n = t->max_seq() < 2 ? 1 : 2;
    if (!t->forward(std::span(tokens, n), 0, true).ok()) std::abort();
  }
  return 0;
}
