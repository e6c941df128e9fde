// Frequency normalisation for the rANS coder: the exact minimiser of the coded size, and the
// order-0 entropy it is measured against.
#include <algorithm>
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

// The cost sum_s c_s * log2(M / f_s) is separable and convex in each f_s, so the optimum gives
// every present symbol one slot and hands out the other M - k slots as the M - k largest unit
// gains c_s * log2((j + 1) / j) (these fall as j grows). We start near that optimum, at the
// allocation a gain threshold of n / (M ln 2) gives (what large counts' proportional shares
// would have), repair the sum greedily and exchange units until no exchange helps. Gains and
// losses are cached per symbol, so each step is a scan of at most 256 doubles.
std::array<uint32_t, 256> normalize_frequencies(const std::array<uint64_t, 256>& counts,
                                                int precision) {
  const uint32_t total = 1u << precision;
  uint64_t n = 0;
  int present = 0;
  std::array<uint8_t, 256> sym{};
  for (int s = 0; s < 256; ++s) {
    n += counts[s];
    if (counts[s]) sym[present++] = static_cast<uint8_t>(s);
  }
  std::array<uint32_t, 256> f{};
  if (n == 0) return f;

  // Symbol s gets unit j + 1 while c_s * log2(1 + 1/j) > theta, i.e. j < 1 / (2^(theta/c_s) - 1).
  // Start from the threshold proportional shares imply, then rescale it twice so the symbols
  // above one slot fill what the one-slot symbols leave: the greedy repair then has only a few
  // units to move (each move is a scan).
  double theta_ln2 = static_cast<double>(n) / total;  // theta * ln 2
  int64_t sum = 0;
  for (int round = 0; round < 3; ++round) {
    sum = 0;
    int64_t above_one = 0, ones = 0;
    for (int i = 0; i < present; ++i) {
      const int s = sym[i];
      const double units = std::ceil(1.0 / std::expm1(theta_ln2 / static_cast<double>(counts[s])));
      f[s] = units >= total ? total : std::max<uint32_t>(1, static_cast<uint32_t>(units));
      sum += f[s];
      (f[s] > 1 ? above_one : ones) += f[s];
    }
    if (sum == total || above_one == 0 || ones >= total) break;
    theta_ln2 *= static_cast<double>(above_one) / static_cast<double>(total - ones);
  }
  std::array<double, 256> gain{}, loss{};  // of f[s] + 1 and of f[s] - 1 (INFINITY at f = 1)
  auto refresh = [&](int s) {
    gain[s] = gain_of_increment(counts[s], f[s]);
    loss[s] = f[s] > 1 ? loss_of_decrement(counts[s], f[s]) : INFINITY;
  };
  for (int i = 0; i < present; ++i) refresh(sym[i]);
  auto best_increment = [&]() {
    int best = sym[0];
    for (int i = 1; i < present; ++i)
      if (gain[sym[i]] > gain[best]) best = sym[i];
    return best;
  };
  auto best_decrement = [&](int except) {
    int best = -1;
    double best_loss = INFINITY;
    for (int i = 0; i < present; ++i) {
      const int s = sym[i];
      if (s != except && loss[s] < best_loss) best_loss = loss[s], best = s;
    }
    return best;
  };
  while (sum < total) {
    const int s = best_increment();
    ++f[s], ++sum, refresh(s);
  }
  while (sum > total) {
    const int s = best_decrement(-1);
    if (s < 0) break;  // more symbols than slots: cannot happen for 256 symbols and M >= 256
    --f[s], --sum, refresh(s);
  }
  // Exchange units while that lowers the cost. Each exchange strictly lowers a bounded cost;
  // the iteration cap only guards against floating-point ties.
  for (int iter = 0; iter < 1 << 16; ++iter) {
    const int up = best_increment();
    const int down = best_decrement(up);
    if (down < 0 || gain[up] <= loss[down] * (1 + 1e-12)) break;
    ++f[up], --f[down];
    refresh(up), refresh(down);
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
