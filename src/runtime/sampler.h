// Sampler: picks the next token from logits — greedy (argmax) at temperature 0, otherwise a
// draw from the filtered softmax(logits / T) with a seeded generator, so runs are reproducible.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace dcllm {

// The samplers of llama.cpp's CLI, applied in its order: repeat penalty, top-k, temperature,
// top-p, min-p, then a draw. Defaults switch every filter off.
struct SamplerOptions {
  float temperature = 0.0f;     // 0 = greedy (after the repeat penalty)
  int32_t top_k = 0;            // keep the k most likely tokens; 0 = all
  float top_p = 1.0f;           // keep the smallest set whose probability reaches p; 1 = all
  float min_p = 0.0f;           // drop tokens below min_p * the top probability; 0 = none
  float repeat_penalty = 1.0f;  // divide positive (multiply negative) logits of recent tokens
  int32_t repeat_last_n = 64;   // how many recent tokens the penalty looks at
  uint64_t seed = 0;
};

class Sampler {
 public:
  explicit Sampler(const SamplerOptions& options);
  Sampler(float temperature, uint64_t seed);
  // `recent`: the tokens so far (prompt and generated), newest last; only the repeat penalty
  // reads them.
  int32_t sample(std::span<const float> logits, std::span<const int32_t> recent = {});

 private:
  float random_unit();  // uniform in [0, 1)

  SamplerOptions o_;
  uint64_t state_;
  std::vector<float> logits_;
  std::vector<int32_t> ids_;
  std::vector<double>
      probs_;  // the candidates' probabilities, kept to avoid a per-token allocation
};

// Index of the largest logit (the first, on ties).
int32_t argmax(std::span<const float> logits);

}  // namespace dcllm
