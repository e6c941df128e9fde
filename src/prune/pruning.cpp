// Score-based pruning of INT8 weight matrices: per-element scores |q|*Delta*c_j, and an exact
// lowest-k selection in every row or over the whole tensor.
#include "prune/pruning.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include <fmt/format.h>

#include "core/parallel.h"
#include "prune/lowest_score_selection.h"

namespace dcllm {

Expected<PruneMethod> parse_prune_method(std::string_view name) {
  for (PruneMethod m :
       {PruneMethod::kDc, PruneMethod::kWanda, PruneMethod::kMagnitude, PruneMethod::kNone})
    if (prune_method_name(m) == name) return m;
  return InvalidArgument(
      fmt::format("unknown prune method '{}' (expected dc, wanda, magnitude or none)", name));
}

std::string_view prune_method_name(PruneMethod method) {
  switch (method) {
    case PruneMethod::kNone:
      return "none";
    case PruneMethod::kDc:
      return "dc";
    case PruneMethod::kWanda:
      return "wanda";
    case PruneMethod::kMagnitude:
      return "magnitude";
  }
  return "?";
}

Expected<PruneGroup> parse_prune_group(std::string_view name) {
  for (PruneGroup g : {PruneGroup::kRow, PruneGroup::kTensor})
    if (prune_group_name(g) == name) return g;
  return InvalidArgument(fmt::format("unknown prune group '{}' (expected row or tensor)", name));
}

std::string_view prune_group_name(PruneGroup group) {
  switch (group) {
    case PruneGroup::kRow:
      return "row";
    case PruneGroup::kTensor:
      return "tensor";
  }
  return "?";
}

Status validate_sparsity(double sparsity) {
  if (!std::isfinite(sparsity) || sparsity < 0.0 || sparsity >= 1.0)
    return InvalidArgument(
        fmt::format("sparsity {} is out of range (must be in [0, 1))", sparsity));
  return Status::Ok();
}

size_t prune_target_count(size_t n, double sparsity) {
  const double k = std::round(sparsity * static_cast<double>(n));
  if (!(k > 0.0)) return 0;
  return std::min(n, static_cast<size_t>(k));
}

namespace {

// Above this many elements a group is selected by histogram (no per-element scratch) rather
// than by sorting 8-byte keys; both choose the same elements.
constexpr size_t kMaxSortedGroup = size_t{1} << 18;
// Rows handed to one parallel task: enough to amortise the task, few enough to balance.
constexpr size_t kRowsPerTask = 16;

Status validate_quantized(const Int8Matrix& w) {
  DCLLM_RETURN_IF_ERROR(validate_int8_layout(w.layout()));
  if (static_cast<uint64_t>(w.size()) != w.values.size())
    return InvalidArgument(
        fmt::format("prune: weight [{}, {}] given {} values", w.rows, w.cols, w.values.size()));
  const auto n_scales = static_cast<size_t>(w.scale_count());
  if (w.scales.size() != n_scales)
    return InvalidArgument(fmt::format("prune: {} quantization scales for {}, need {}",
                                       w.scales.size(), quant_scheme_name(w.scheme, w.group),
                                       n_scales));
  for (size_t i = 0; i < w.scales.size(); ++i)
    if (!std::isfinite(w.scales[i]) || w.scales[i] < 0.0f)
      return InvalidArgument(fmt::format(
          "prune: quantization scale {} is {} (must be finite and >= 0)", i, w.scales[i]));
  return Status::Ok();
}

Status validate_channel_stat(std::span<const float> c, size_t cols, std::string_view what) {
  if (c.size() != cols)
    return InvalidArgument(
        fmt::format("prune: {} has {} channels, the weight {} columns", what, c.size(), cols));
  for (size_t j = 0; j < c.size(); ++j)
    if (!std::isfinite(c[j]) || c[j] < 0.0f)
      return InvalidArgument(
          fmt::format("prune: {} of channel {} is {} (must be finite and >= 0)", what, j, c[j]));
  return Status::Ok();
}

// The bit pattern of a score, 0 for a zero score of either sign (and for 0 * inf, which only
// arises when q is 0): only non-negative patterns order like their values.
uint32_t score_bits(int8_t q, float delta, float c) {
  const float s = static_cast<float>(std::abs(static_cast<int>(q))) * delta * c;
  return s > 0.0f ? std::bit_cast<uint32_t>(s) : 0u;
}

size_t count_zeros(std::span<const int8_t> q) {
  return static_cast<size_t>(std::count(q.begin(), q.end(), int8_t{0}));
}

// c == empty means c_j = 1 (magnitude pruning).
void prune_rows(Int8Matrix& w, std::span<const float> c, size_t k, unsigned threads) {
  const auto rows = static_cast<size_t>(w.rows), cols = static_cast<size_t>(w.cols);
  const size_t tasks = (rows + kRowsPerTask - 1) / kRowsPerTask;
  parallel_for(tasks, threads, [&](size_t task) {
    std::vector<uint64_t> scratch;
    const size_t r_end = std::min(rows, (task + 1) * kRowsPerTask);
    for (size_t r = task * kRowsPerTask; r < r_end; ++r) {
      int8_t* row = w.values.data() + r * cols;
      auto scan = [&](auto&& visit) {
        for (size_t j = 0; j < cols; ++j)
          visit(j, score_bits(row[j], w.scale_at(static_cast<int64_t>(r), static_cast<int64_t>(j)), c.empty() ? 1.0f : c[j]));
      };
      auto mark = [&](size_t j) { row[j] = 0; };
      if (cols <= kMaxSortedGroup) {
        mark_lowest_by_sort(cols, k, scan, mark, scratch);
      } else {
        mark_lowest_by_histogram(k, scan, mark);
      }
    }
  });
}

void prune_tensor(Int8Matrix& w, std::span<const float> c, size_t k) {
  const auto rows = static_cast<size_t>(w.rows), cols = static_cast<size_t>(w.cols);
  auto scan = [&](auto&& visit) {
    for (size_t r = 0; r < rows; ++r) {
      const int8_t* row = w.values.data() + r * cols;
      for (size_t j = 0; j < cols; ++j)
        visit(r * cols + j, score_bits(row[j], w.scale_at(static_cast<int64_t>(r), static_cast<int64_t>(j)), c.empty() ? 1.0f : c[j]));
    }
  };
  auto mark = [&](size_t i) { w.values[i] = 0; };
  if (w.values.size() <= kMaxSortedGroup) {
    std::vector<uint64_t> scratch;
    mark_lowest_by_sort(w.values.size(), k, scan, mark, scratch);
  } else {
    mark_lowest_by_histogram(k, scan, mark);
  }
}

Expected<PruneCounts> prune_with_stat(Int8Matrix& w, std::span<const float> c,
                                      std::string_view what, double sparsity, PruneGroup group,
                                      unsigned threads) {
  DCLLM_RETURN_IF_ERROR(validate_sparsity(sparsity));
  DCLLM_RETURN_IF_ERROR(validate_quantized(w));
  if (!what.empty()) DCLLM_RETURN_IF_ERROR(validate_channel_stat(c, static_cast<size_t>(w.cols), what));
  PruneCounts counts;
  counts.total = w.values.size();
  counts.zeros_before = count_zeros(w.values);
  switch (group) {
    case PruneGroup::kRow:
      prune_rows(w, c, prune_target_count(static_cast<size_t>(w.cols), sparsity), threads);
      break;
    case PruneGroup::kTensor:
      prune_tensor(w, c, prune_target_count(w.values.size(), sparsity));
      break;
  }
  counts.zeros_after = count_zeros(w.values);
  return counts;
}

}  // namespace

Expected<PruneCounts> prune_by_activation_linf(Int8Matrix& w,
                                               std::span<const float> act_max_abs, double sparsity,
                                               PruneGroup group, unsigned threads) {
  return prune_with_stat(w, act_max_abs, "activation max", sparsity, group, threads);
}

Expected<PruneCounts> prune_wanda(Int8Matrix& w, std::span<const float> act_l2_norm,
                                  double sparsity, PruneGroup group, unsigned threads) {
  return prune_with_stat(w, act_l2_norm, "activation L2 norm", sparsity, group, threads);
}

Expected<PruneCounts> prune_magnitude(Int8Matrix& w, double sparsity, PruneGroup group,
                                      unsigned threads) {
  return prune_with_stat(w, {}, "", sparsity, group, threads);
}

Expected<PruneCounts> prune_int8_weights(PruneMethod method, Int8Matrix& w,
                                         const CalibrationStats& stats, double sparsity,
                                         PruneGroup group, unsigned threads) {
  switch (method) {
    case PruneMethod::kNone: {
      DCLLM_RETURN_IF_ERROR(validate_sparsity(sparsity));
      DCLLM_RETURN_IF_ERROR(validate_quantized(w));
      const size_t zeros = count_zeros(w.values);
      return PruneCounts{w.values.size(), zeros, zeros};
    }
    case PruneMethod::kDc:
      return prune_by_activation_linf(w, stats.max_abs(), sparsity, group, threads);
    case PruneMethod::kWanda: {
      const std::vector<float> l2 = stats.l2_norm();
      return prune_wanda(w, l2, sparsity, group, threads);
    }
    case PruneMethod::kMagnitude:
      return prune_magnitude(w, sparsity, group, threads);
  }
  return InvalidArgument("unknown prune method");
}

}  // namespace dcllm
