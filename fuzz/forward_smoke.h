// The forward pass a model reader's fuzz target runs on whatever it accepted: two tokens through a
// Transformer when the sizes are small enough for a fuzzer, aborting where a bug would show.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <span>

#include "model/model.h"
#include "runtime/transformer.h"

namespace dcllm::fuzzing {

enum class Expect {
  kRunnable,      // the reader promises a runnable model: Transformer::create must succeed
  kMayBeRefused,  // create may refuse it (a family or tensor the runtime rejects)
};

// A forward pass on a model that create() accepted must succeed, whatever the bytes were.
inline void forward_smoke(const Model& model, Expect expect) {
  const ModelConfig& c = model.config;
  const bool small = c.n_layers <= 16 && c.dim <= 1024 && c.hidden_dim <= 4096 &&
                     c.embedding_width() <= 1024 && c.n_heads * c.head_dim <= 1024 &&
                     c.vocab_size <= (1 << 16) && c.seq_len <= (1 << 20);
  if (!small) return;
  TransformerOptions to;
  to.max_seq = 2;
  to.threads = 1;
  auto t = Transformer::create(model, to);
  if (!t.ok()) {
    if (expect == Expect::kRunnable) std::abort();
    return;
  }
  const int32_t tokens[2] = {0, static_cast<int32_t>(c.vocab_size - 1)};
  const size_t n = t->max_seq() < 2 ? 1 : 2;
  if (!t->forward(std::span(tokens, n), 0, true).ok()) std::abort();
}

}  // namespace dcllm::fuzzing
