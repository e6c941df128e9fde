// Sampling with an xorshift64* generator: its output is fixed by the seed on every platform,
// unlike std:: distributions, whose algorithms the standard leaves open.
#include "runtime/sampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace dcllm {

int32_t argmax(std::span<const float> logits) {
  size_t best = 0;
  for (size_t i = 1; i < logits.size(); ++i) {
    if (logits[i] > logits[best]) best = i;
  }
  return static_cast<int32_t>(best);
}

Sampler::Sampler(const SamplerOptions& options)
    : o_(options), state_(options.seed == 0 ? 0x9E3779B97F4A7C15ull : options.seed) {}

Sampler::Sampler(float temperature, uint64_t seed)
    : Sampler(SamplerOptions{.temperature = temperature, .seed = seed}) {}

float Sampler::random_unit() {
  state_ ^= state_ >> 12;
  state_ ^= state_ << 25;
  state_ ^= state_ >> 27;
  const uint64_t r = state_ * 0x2545F4914F6CDD1Dull;
  return static_cast<float>(r >> 40) / 16777216.0f;  // top 24 bits
}

int32_t Sampler::sample(std::span<const float> logits, std::span<const int32_t> recent) {
  std::span<const float> l = logits;
  if (o_.repeat_penalty != 1.0f && o_.repeat_last_n > 0 && !recent.empty()) {
    logits_.assign(logits.begin(), logits.end());
    const size_t n = std::min(recent.size(), static_cast<size_t>(o_.repeat_last_n));
    // Each distinct recent token is penalised once, as llama.cpp does.
    ids_.assign(recent.end() - static_cast<std::ptrdiff_t>(n), recent.end());
    std::sort(ids_.begin(), ids_.end());
    ids_.erase(std::unique(ids_.begin(), ids_.end()), ids_.end());
    for (int32_t t : ids_) {
      if (t < 0 || static_cast<size_t>(t) >= logits_.size()) continue;
      float& v = logits_[static_cast<size_t>(t)];
      v = v > 0.0f ? v / o_.repeat_penalty : v * o_.repeat_penalty;
    }
    l = logits_;
  }
  if (o_.temperature <= 0.0f) return argmax(l);

  // Candidates best first, ties keeping the lower id first. Only the head that top-p, min-p
  // and the draw walk through is sorted, on demand: sorting all of a 49k vocabulary took ~13%
  // of a generated token's time, while the draw rarely goes past the first few dozen.
  auto before = [&](int32_t a, int32_t b) {
    const float x = l[static_cast<size_t>(a)], y = l[static_cast<size_t>(b)];
    return x > y || (x == y && a < b);
  };
  ids_.resize(l.size());
  std::iota(ids_.begin(), ids_.end(), 0);
  size_t keep = ids_.size();
  if (o_.top_k > 0 && static_cast<size_t>(o_.top_k) < keep) keep = static_cast<size_t>(o_.top_k);
  constexpr size_t kSortedHead = 64;
  size_t sorted = std::min(keep, kSortedHead);
  const auto head = ids_.begin() + static_cast<std::ptrdiff_t>(sorted);
  if (keep < ids_.size()) {
    std::nth_element(ids_.begin(), ids_.begin() + static_cast<std::ptrdiff_t>(keep), ids_.end(),
                     before);
    ids_.resize(keep);
  }
  if (sorted < keep) std::nth_element(ids_.begin(), head, ids_.end(), before);
  std::sort(ids_.begin(), head, before);
  // Softmax of logit / T over the candidates, in double so long tails do not lose mass.
  std::vector<double>& p = probs_;
  p.resize(keep);
  const double top = l[static_cast<size_t>(ids_[0])] / o_.temperature;
  auto weight = [&](size_t i) {
    return std::exp(l[static_cast<size_t>(ids_[i])] / o_.temperature - top);
  };
  double sum = 0.0;
  for (size_t i = 0; i < keep; ++i) sum += p[i] = weight(i);
  // Makes candidates [0, n) sorted (the tail is sorted once, all of it, when first reached).
  auto sort_to = [&](size_t n) {
    if (n <= sorted) return;
    std::sort(ids_.begin() + static_cast<std::ptrdiff_t>(sorted), ids_.end(), before);
    for (size_t i = sorted; i < keep; ++i) p[i] = weight(i) / sum;
    sorted = keep;
  };
  for (double& v : p) v /= sum;
  if (o_.top_p < 1.0f) {
    double cdf = 0.0;
    size_t n = 0;
    while (n < keep && cdf < o_.top_p) {
      sort_to(n + 1);
      cdf += p[n++];
    }
    keep = std::max<size_t>(n, 1);
  }
  if (o_.min_p > 0.0f) {
    size_t n = 1;
    while (n < keep) {
      sort_to(n + 1);
      if (!(p[n] >= o_.min_p * p[0])) break;
      ++n;
    }
    keep = n;
  }
  double total = 0.0;
  for (size_t i = 0; i < keep; ++i) total += p[i];
  const double r = random_unit() * total;
  double cdf = 0.0;
  for (size_t i = 0; i < keep; ++i) {
    sort_to(i + 1);
    cdf += p[i];
    if (r < cdf) return ids_[i];
  }
  sort_to(keep);
  return ids_[keep - 1];  // rounding left r above the total
}

}  // namespace dcllm
