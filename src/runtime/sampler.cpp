// Sampling with an xorshift64* generator: its output is fixed by the seed on every platform,
// unlike std:: distributions, whose algorithms the standard leaves open.
#include "runtime/sampler.h"

#include "runtime/ops.h"

namespace dcllm {

int32_t argmax(std::span<const float> logits) {
  size_t best = 0;
  for (size_t i = 1; i < logits.size(); ++i) {
    if (logits[i] > logits[best]) best = i;
  }
  return static_cast<int32_t>(best);
}

Sampler::Sampler(float temperature, uint64_t seed)
    : temperature_(temperature), state_(seed == 0 ? 0x9E3779B97F4A7C15ull : seed) {}

float Sampler::random_unit() {
  state_ ^= state_ >> 12;
  state_ ^= state_ << 25;
  state_ ^= state_ >> 27;
  const uint64_t r = state_ * 0x2545F4914F6CDD1Dull;
  return static_cast<float>(r >> 40) / 16777216.0f;  // top 24 bits
}

int32_t Sampler::sample(std::span<const float> logits) {
  if (temperature_ <= 0.0f) return argmax(logits);
  probs_.assign(logits.begin(), logits.end());
  for (float& p : probs_) p /= temperature_;
  softmax(probs_.data(), probs_.size());
  const float r = random_unit();
  float cdf = 0.0f;
  for (size_t i = 0; i < probs_.size(); ++i) {
    cdf += probs_[i];
    if (r < cdf) return static_cast<int32_t>(i);
  }
  return static_cast<int32_t>(probs_.size() - 1);  // rounding left r above the total
}

}  // namespace dcllm
