// Sampler: picks the next token from logits — greedy (argmax) at temperature 0, otherwise a
// draw from softmax(logits / T) with a seeded generator, so runs are reproducible.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace dcllm {

class Sampler {
 public:
  Sampler(float temperature, uint64_t seed);
  int32_t sample(std::span<const float> logits);

 private:
  float random_unit();  // uniform in [0, 1)

  float temperature_;
  uint64_t state_;
  std::vector<float> probs_;
};

// Index of the largest logit (the first, on ties).
int32_t argmax(std::span<const float> logits);

}  // namespace dcllm
