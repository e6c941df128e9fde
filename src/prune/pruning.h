// Compression-aware pruning of INT8 weights (the paper's eq. 4): zero the weights whose score
// |W_ij| * ||X_j||_inf is lowest, plus the Wanda (|W|*||X||_2) and magnitude (|W|) baselines.
#pragma once

#include <cstddef>
#include <span>
#include <string_view>

#include "calib/calibration_stats.h"
#include "dcllm/status.h"
#include "quant/weight_quant.h"

namespace dcllm {

// --prune: "dc" (the paper's), "wanda", "magnitude" or "none".
enum class PruneMethod { kNone, kDc, kWanda, kMagnitude };
Expected<PruneMethod> parse_prune_method(std::string_view name);
std::string_view prune_method_name(PruneMethod method);

// --prune-group: the set within which the lowest scores are zeroed. kRow: each output row
// (every output channel loses the same share, as Wanda does); kTensor: the whole matrix.
enum class PruneGroup { kRow, kTensor };
Expected<PruneGroup> parse_prune_group(std::string_view name);
std::string_view prune_group_name(PruneGroup group);

// Sparsity must be finite and in [0, 1).
Status validate_sparsity(double sparsity);
// Weights to zero in a group of n: round(sparsity * n), halves rounded away from zero.
size_t prune_target_count(size_t n, double sparsity);

struct PruneCounts {
  size_t total = 0;         // weights in the matrix
  size_t zeros_before = 0;  // weights that were already 0
  size_t zeros_after = 0;
};

// All three prune `w` in place. A weight's score is |q_ij| * Delta_ij * c_j, where Delta_ij is
// the quantization scale of its group (one constant per tensor under per-tensor quantization,
// so the order is that of |q_ij| * c_j) and c_j the method's channel statistic of the input
// these weights multiply: after compression-aware scaling that is X/s, so pass
// stats.divided_by_scale(s). In each group the prune_target_count(n, sparsity) lowest scores
// become 0, ties going to the lower index (row-major within the tensor).
//
// Weights already 0 score 0 and are chosen first, so they count toward the target: a group
// ends with exactly max(target, zeros already there) zeros. Sparsity means the share of zeros
// in the result, which is what the entropy coder sees.
//
// `threads` splits row groups across threads; the result does not depend on it.
// kInvalidArgument for a bad sparsity, a statistic of the wrong length or with negative /
// non-finite entries, or a malformed matrix.

// dc: c_j = max|X_j| (eq. 4).
Expected<PruneCounts> prune_by_activation_linf(Int8Matrix& w,
                                               std::span<const float> act_max_abs, double sparsity,
                                               PruneGroup group, unsigned threads = 1);
// Wanda: c_j = ||X_j||_2.
Expected<PruneCounts> prune_wanda(Int8Matrix& w, std::span<const float> act_l2_norm,
                                  double sparsity, PruneGroup group, unsigned threads = 1);
// Magnitude: c_j = 1.
Expected<PruneCounts> prune_magnitude(Int8Matrix& w, double sparsity, PruneGroup group,
                                      unsigned threads = 1);

// The method's pruning with its statistic taken from `stats` (which, as above, must describe
// the input after scaling); kNone changes nothing and only counts zeros.
Expected<PruneCounts> prune_int8_weights(PruneMethod method, Int8Matrix& w,
                                         const CalibrationStats& stats, double sparsity,
                                         PruneGroup group, unsigned threads = 1);

}  // namespace dcllm
