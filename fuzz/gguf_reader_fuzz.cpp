// libFuzzer: arbitrary bytes as a GGUF model must give a Model or a one-line error, never a
// crash, an out-of-bounds read or an allocation the file's size does not justify.
#include <cstdint>
#include <cstdlib>

#include "model/gguf_reader.h"
#include "runtime/transformer.h"

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
    const auto& c = model->config;
    const bool small = c.n_layers <= 16 && c.dim <= 1024 && c.hidden_dim <= 4096 &&
                       c.n_heads * c.head_dim <= 1024 && c.vocab_size <= (1 << 16);
    if (small) {
      dcllm::TransformerOptions to;
      to.max_seq = 2;
      to.threads = 1;
      auto t = dcllm::Transformer::create(*model, to);
      if (t.ok()) {
        const int32_t tokens[2] = {0, static_cast<int32_t>(c.vocab_size - 1)};
        const size_t n = t->max_seq() < 2 ? 1 : 2;
        if (!t->forward(std::span(tokens, n), 0, true).ok()) std::abort();
      }
    }
  }
  return 0;
}
