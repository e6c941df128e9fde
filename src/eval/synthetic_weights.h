// Deterministic synthetic INT8 weights shaped like quantized LLM layers, so codec benchmarks
// and tests have sizeable, reproducible inputs without a model file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dcllm/status.h"

namespace dcllm {

enum class SyntheticKind {
  kGaussOutlier,  // N(0, 1) plus 0.1-0.5% outliers at 10-20 sigma: a very peaked INT8 histogram
  kLaplace,       // Laplace(0, 1): heavier tails, a flatter INT8 histogram
  kPruned,        // gauss-outlier with the 40% smallest magnitudes set to zero
};

inline constexpr size_t kSyntheticTensorElems = size_t{4} << 20;
inline constexpr uint64_t kSyntheticSeed = 0x5eed'd0c1'1a3b'0001ull;

std::vector<std::string> synthetic_kind_names();
std::string_view synthetic_kind_name(SyntheticKind kind);
// The kind called `name`, or kInvalidArgument naming the known ones.
Expected<SyntheticKind> parse_synthetic_kind(std::string_view name);

// Float weights of one tensor before quantization; the same (kind, seed) always gives the
// same values (own RNG and transforms: std:: distributions differ between standard libraries).
void generate_synthetic_tensor(SyntheticKind kind, uint64_t seed, std::span<float> out);

// `bytes` INT8 weights (one byte each), generated as consecutive tensors of `tensor_elems`
// (the last one may be shorter), each quantized per tensor. Tensor i uses a seed derived from
// (seed, i), so the result does not depend on how many threads generate it.
Expected<std::vector<uint8_t>> make_synthetic_int8(SyntheticKind kind, size_t bytes,
                                                   size_t tensor_elems = kSyntheticTensorElems,
                                                   uint64_t seed = kSyntheticSeed);

}  // namespace dcllm
