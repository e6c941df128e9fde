// The one vocabulary for an INT8 matrix, used by quant, prune, container, model, runtime and the
// kernels: a layout (scheme, rows, cols, group and the scale index), a borrowed view, an owner.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "dcllm/status.h"

namespace dcllm {

// How the stored integers map back to real values: value = q * scale, with one scale for the
// matrix (kPerTensor), one per row (kPerChannel), or one per `group` consecutive elements of a
// row (kGroup; the last group of a row may be short). kNone: not quantized (container tensors
// that are plain numbers).
enum class QuantScheme : uint8_t { kNone = 0, kPerTensor = 1, kPerChannel = 2, kGroup = 3 };

// Group sizes above this are refused: they are typos, not designs (a group of a whole row is
// per-channel).
inline constexpr int64_t kMaxQuantGroupSize = int64_t{1} << 24;

// The shape of an INT8 matrix and where each element's scale is. Row-major, one row per output
// feature. A layout with rows = cols = 0 names a scheme only (what --wquant parses to).
struct Int8Layout {
  QuantScheme scheme = QuantScheme::kPerTensor;
  int64_t rows = 0;
  int64_t cols = 0;
  int64_t group = 0;  // elements per scale group; > 0 exactly for kGroup

  // Scale groups per row: ceil(cols / group) for kGroup, else 1.
  int64_t groups_per_row() const {
    return scheme == QuantScheme::kGroup ? (cols + group - 1) / group : 1;
  }
  // Scales the matrix needs: 1, rows, or rows * groups_per_row() (0 for kNone). Scales are
  // stored row by row, groups in column order.
  int64_t scale_count() const;
  // The index into the scales of element [row][col]. The only place this formula is written.
  int64_t scale_index(int64_t row, int64_t col) const {
    switch (scheme) {
      case QuantScheme::kPerChannel:
        return row;
      case QuantScheme::kGroup:
        return row * groups_per_row() + col / group;
      default:
        return 0;
    }
  }
  int64_t size() const { return rows * cols; }
};

// "per-tensor", "per-channel", "group:N" (or "none"): the names of --wquant and of the .dcllm.
std::string quant_scheme_name(QuantScheme scheme, int64_t group);
// The inverse for the three INT8 schemes; the result has rows = cols = 0. kInvalidArgument
// saying what was expected for anything else (N must be a decimal in [1, kMaxQuantGroupSize]).
Expected<Int8Layout> parse_quant_scheme(std::string_view text);
// Checks that scheme and group fit together, sizes are non-negative and the counts do not
// overflow; kInvalidArgument naming what is wrong.
Status validate_int8_layout(const Int8Layout& layout);

// A borrowed INT8 matrix: values[r * cols + c] * scales[scale_index(r, c)]. Any int8 value is
// allowed, -128 included.
struct Int8MatrixView : Int8Layout {
  const int8_t* values = nullptr;
  const float* scales = nullptr;

  float scale_at(int64_t row, int64_t col) const { return scales[scale_index(row, col)]; }
  // Writes row `row` as `cols` floats.
  void dequantize_row(int64_t row, float* out) const {
    dequantize_row(row, values + row * cols, out);
  }
  // The same for row `row` whose `cols` values are at `q` (a row of a chunk decoded elsewhere).
  void dequantize_row(int64_t row, const int8_t* q, float* out) const;
};

// An owned INT8 matrix. `values` may be empty while `scales` and the layout are set: a model
// weight whose values stay coded in the .dcllm until used (model/int8_tensor.h).
struct Int8Matrix : Int8Layout {
  std::vector<int8_t> values;
  std::vector<float> scales;

  const Int8Layout& layout() const { return *this; }
  Int8MatrixView view() const;
  float scale_at(int64_t row, int64_t col) const { return scales[scale_index(row, col)]; }
  void dequantize_row(int64_t row, float* out) const { view().dequantize_row(row, out); }
  // The whole matrix as rows * cols floats.
  std::vector<float> dequantize() const;
};

}  // namespace dcllm
