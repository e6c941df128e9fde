// Frequency normalisation for the rANS coder: the exact minimiser of the coded size, and the
// order-0 entropy it is measured against.
#include <cmath>
#include <cstdint>

#include "dcllm/rans.h"

namespace dcllm {

namespace {

// Change in coded bits when symbol frequency f becomes f+1 (a gain) or f-1 (a loss).
double gain_of_increment(uint64_t count, uint32_t f) {
  return static_cast<double>(count) * std::log2(static_cast<double>(f + 1) / f);
}
double loss_of_decrement(uint64_t count, uint32_t f) {
  return static_cast<double>(count) * std::log2(static_cast<double>(f) / (f - 1));
}

}  // namespace

// The cost sum_s c_s * log2(M / f_s) is separable and convex in each f_s, so a single unit
// exchange that lowers it exists whenever the point is not optimal; we start at the floor of
// the proportional share (every present symbol >= 1), repair the sum, then exchange units
// until no exchange helps. Largest-remainder rounding stops before that last step.
std::array<uint32_t, 256> normalize_frequencies(const std::array<uint64_t, 256>& counts,
                                                int precision) {
  const uint32_t total = 1u << precision;
  uint64_t n = 0;
  for (uint64_t c : counts) n += c;
  std::array<uint32_t, 256> f{};
  if (n == 0) return f;

  int64_t sum = 0;
  for (int s = 0; s < 256; ++s) {
    if (counts[s] == 0) continue;
    double share = static_cast<double>(counts[s]) * total / static_cast<double>(n);
    f[s] = std::max<uint32_t>(1, static_cast<uint32_t>(share));
    sum += f[s];
  }
  auto best_increment = [&]() {
    int best = -1;
    double best_gain = -1;
    for (int s = 0; s < 256; ++s) {
      if (counts[s] == 0) continue;
      double g = gain_of_increment(counts[s], f[s]);
      if (g > best_gain) best_gain = g, best = s;
    }
    return best;
  };
  auto best_decrement = [&](int except) {
    int best = -1;
    double best_loss = INFINITY;
    for (int s = 0; s < 256; ++s) {
      if (counts[s] == 0 || f[s] <= 1 || s == except) continue;
      double l = loss_of_decrement(counts[s], f[s]);
      if (l < best_loss) best_loss = l, best = s;
    }
    return best;
  };
  while (sum < total) ++f[best_increment()], ++sum;
  while (sum > total) {
    int s = best_decrement(-1);
    if (s < 0) break;  // more symbols than slots: cannot happen for 256 symbols and M >= 4096
    --f[s], --sum;
  }
  // Exchange units while that lowers the cost. Each exchange strictly lowers a bounded cost;
  // the iteration cap only guards against floating-point ties.
  for (int iter = 0; iter < 1 << 16; ++iter) {
    int up = best_increment();
    int down = best_decrement(up);
    if (up < 0 || down < 0) break;
    double gain = gain_of_increment(counts[up], f[up]);
    double loss = loss_of_decrement(counts[down], f[down]);
    if (gain <= loss * (1 + 1e-12)) break;
    ++f[up], --f[down];
  }
  return f;
}

double order0_entropy_bits(std::span<const uint8_t> bytes) {
  if (bytes.empty()) return 0;
  std::array<uint64_t, 256> counts{};
  for (uint8_t b : bytes) ++counts[b];
  double h = 0, n = static_cast<double>(bytes.size());
  for (uint64_t c : counts)
    if (c) h -= c / n * std::log2(c / n);
  return h;
}

}  // namespace dcllm
