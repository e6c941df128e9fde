// Synthetic LLM-like weights: Gaussian bodies with rare large outliers (the feature that makes
// per-tensor INT8 histograms peaked and hence entropy-codable), Laplace, and magnitude-pruned.
#include "eval/synthetic_weights.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <numbers>

#include "core/parallel.h"
#include "quant/quantize_int8.h"

namespace dcllm {
namespace {

constexpr std::string_view kKindNames[] = {"gauss-outlier", "laplace", "pruned"};
constexpr SyntheticKind kKinds[] = {SyntheticKind::kGaussOutlier, SyntheticKind::kLaplace,
                                    SyntheticKind::kPruned};

constexpr double kOutlierFractionMin = 0.001;
constexpr double kOutlierFractionMax = 0.005;
constexpr double kOutlierSigmaMin = 10.0;
constexpr double kOutlierSigmaMax = 20.0;
constexpr double kPrunedFraction = 0.4;

uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// xoshiro256**: fast, statistically strong, and fully specified, so outputs are portable.
class Rng {
 public:
  explicit Rng(uint64_t seed) {
    for (uint64_t& word : s_) word = splitmix64(seed);
  }

  uint64_t next() {
    const uint64_t result = std::rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = std::rotl(s_[3], 45);
    return result;
  }

  // Uniform in the open interval (0, 1), so log() never sees 0.
  double uniform_open() { return (static_cast<double>(next() >> 11) + 0.5) * 0x1p-53; }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform_open(); }
  size_t below(size_t n) { return static_cast<size_t>(uniform_open() * static_cast<double>(n)); }
  bool coin() { return (next() >> 63) != 0; }

 private:
  uint64_t s_[4];
};

// Box-Muller: two independent N(0, 1) values per pair of uniforms.
void fill_gaussian(Rng& rng, std::span<float> out) {
  for (size_t i = 0; i < out.size(); i += 2) {
    const double radius = std::sqrt(-2.0 * std::log(rng.uniform_open()));
    const double angle = 2.0 * std::numbers::pi * rng.uniform_open();
    out[i] = static_cast<float>(radius * std::cos(angle));
    if (i + 1 < out.size()) out[i + 1] = static_cast<float>(radius * std::sin(angle));
  }
}

// Laplace(0, 1) as a random sign times an Exp(1) magnitude.
void fill_laplace(Rng& rng, std::span<float> out) {
  for (float& v : out) {
    const double magnitude = -std::log(rng.uniform_open());
    v = static_cast<float>(rng.coin() ? magnitude : -magnitude);
  }
}

// LLM weight matrices carry a small fraction of entries far outside the Gaussian body; they
// set max|w| and so squeeze the body into a few central INT8 levels.
void add_outliers(Rng& rng, std::span<float> out) {
  const double fraction = rng.uniform(kOutlierFractionMin, kOutlierFractionMax);
  const auto count = static_cast<size_t>(std::llround(fraction * static_cast<double>(out.size())));
  for (size_t k = 0; k < count; ++k) {
    const double magnitude = rng.uniform(kOutlierSigmaMin, kOutlierSigmaMax);
    out[rng.below(out.size())] = static_cast<float>(rng.coin() ? magnitude : -magnitude);
  }
}

// Zeroes the `fraction` of weights with the smallest magnitude (unstructured magnitude
// pruning), rounding the count up so at least that fraction is zero.
void prune_smallest(std::span<float> out, double fraction) {
  const auto k = static_cast<size_t>(std::ceil(fraction * static_cast<double>(out.size())));
  if (k == 0) return;
  std::vector<float> magnitudes(out.size());
  std::transform(out.begin(), out.end(), magnitudes.begin(), [](float v) { return std::fabs(v); });
  const auto kth = magnitudes.begin() + static_cast<std::ptrdiff_t>(k - 1);
  std::nth_element(magnitudes.begin(), kth, magnitudes.end());
  const float threshold = *kth;
  for (float& v : out) {
    if (std::fabs(v) <= threshold) v = 0.0f;
  }
}

uint64_t tensor_seed(uint64_t seed, size_t index) {
  uint64_t state = seed ^ (0xd1b54a32d192ed03ull * (static_cast<uint64_t>(index) + 1));
  return splitmix64(state);
}

}  // namespace

std::vector<std::string> synthetic_kind_names() {
  return {std::begin(kKindNames), std::end(kKindNames)};
}

std::string_view synthetic_kind_name(SyntheticKind kind) {
  return kKindNames[static_cast<size_t>(kind)];
}

Expected<SyntheticKind> parse_synthetic_kind(std::string_view name) {
  for (size_t i = 0; i < std::size(kKindNames); ++i) {
    if (name == kKindNames[i]) return kKinds[i];
  }
  return InvalidArgument("unknown synthetic kind '" + std::string(name) +
                         "' (known: gauss-outlier, laplace, pruned)");
}

void generate_synthetic_tensor(SyntheticKind kind, uint64_t seed, std::span<float> out) {
  Rng rng(seed);
  switch (kind) {
    case SyntheticKind::kGaussOutlier:
      fill_gaussian(rng, out);
      add_outliers(rng, out);
      break;
    case SyntheticKind::kLaplace:
      fill_laplace(rng, out);
      break;
    case SyntheticKind::kPruned:
      fill_gaussian(rng, out);
      add_outliers(rng, out);
      prune_smallest(out, kPrunedFraction);
      break;
  }
}

Expected<std::vector<uint8_t>> make_synthetic_int8(SyntheticKind kind, size_t bytes,
                                                   size_t tensor_elems, uint64_t seed) {
  if (tensor_elems == 0) return InvalidArgument("synthetic weights: tensor size must be > 0");
  std::vector<uint8_t> result(bytes);
  const size_t tensors = (bytes + tensor_elems - 1) / tensor_elems;
  parallel_for(tensors, 0, [&](size_t t) {
    const size_t begin = t * tensor_elems;
    const size_t count = std::min(tensor_elems, bytes - begin);
    std::vector<float> weights(count);
    generate_synthetic_tensor(kind, tensor_seed(seed, t), weights);
    quantize_int8_per_tensor(weights,
                             std::span(reinterpret_cast<int8_t*>(result.data() + begin), count));
  });
  return result;
}

}  // namespace dcllm
