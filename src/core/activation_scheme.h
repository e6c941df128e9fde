// How the W8A8 runtime quantizes the activations a linear layer multiplies (compression.aquant
// of a .dcllm): per token, per batch, per block of a token's inputs, or not at all (float).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "dcllm/status.h"

namespace dcllm {

enum class ActivationScheme : uint8_t {
  kPerToken = 0,   // one scale per token (row of the batch): the default of old files
  kPerTensor = 1,  // one scale for the whole batch
  kBlock = 2,      // one scale per `block` consecutive inputs of a token (as Q8_0 does with 32)
  kFloat = 3,      // not quantized: weight-only INT8, float activations ("none")
};

// Blocks above this are refused: a block of a whole row is per-token.
inline constexpr int32_t kMaxActivationBlock = int32_t{1} << 16;

struct ActivationQuant {
  ActivationScheme scheme = ActivationScheme::kPerToken;
  int32_t block = 0;  // > 0 exactly for kBlock

  bool operator==(const ActivationQuant&) const = default;
  // Scales per token of `cols` inputs: ceil(cols / block) for kBlock, else 1.
  int64_t blocks_per_row(int64_t cols) const {
    return scheme == ActivationScheme::kBlock ? (cols + block - 1) / block : 1;
  }
};

// "per-token", "per-tensor", "block:N" (N in [1, kMaxActivationBlock]) or "none"; anything else
// is kInvalidArgument saying what was expected.
Expected<ActivationQuant> parse_activation_quant(std::string_view text);
// The inverse: the names above.
std::string activation_quant_name(const ActivationQuant& a);

}  // namespace dcllm
