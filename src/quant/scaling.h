// Per-input-channel scaling before INT8 quantization (the paper's eq. 1-2): the compression-
// aware scale s_j = max|X_j|^alpha, the SmoothQuant baseline, and folding s into the weights.
#pragma once

#include <cstddef>
#include <span>
#include <string_view>
#include <vector>

#include "calib/calibration_stats.h"
#include "dcllm/status.h"

namespace dcllm {

// --scale: "dc" (compression-aware, the paper's: s_j = max|X_j|^alpha), "rms" (the same with
// the channel's root mean square for its max: at alpha 1 each weight column's rounding error
// is weighted by E[X_j^2], what it adds to the output), "smoothquant" (the baseline) or "none".
enum class ScaleMethod { kNone, kDc, kRms, kSmoothQuant };
// kInvalidArgument naming the accepted values for anything else.
Expected<ScaleMethod> parse_scale_method(std::string_view name);
std::string_view scale_method_name(ScaleMethod method);

inline constexpr double kDefaultAlpha = 0.5;
// Every computed scale is clamped to this range: far outside it W*s or X/s leave float's
// comfortable range, and nothing useful is gained there.
inline constexpr float kMinInputScale = 1e-5f;
inline constexpr float kMaxInputScale = 1e5f;

// alpha must be finite and >= 0; for SmoothQuant also <= 1, since above 1 the weight exponent
// 1 - alpha turns negative and the formula no longer balances weight against activation.
Status validate_alpha(ScaleMethod method, double alpha);

// Compression-aware scale (eq. 1): s_j = max|X_j|^alpha. Channels never active (max 0) get
// s_j = 1. kInvalidArgument for a bad alpha or a negative / non-finite max.
Expected<std::vector<float>> compression_aware_scale(std::span<const float> act_max_abs,
                                                     double alpha);
Expected<std::vector<float>> compression_aware_scale(const CalibrationStats& stats, double alpha);

// SmoothQuant scale: s_j = max|X_j|^alpha / max_i|W_ij|^(1-alpha), where the weight maximum
// runs over every linear fed by this input (see column_absmax). A channel whose activation or
// weight maximum is 0 gets s_j = 1. The two spans must have the same length.
Expected<std::vector<float>> smoothquant_scale(std::span<const float> act_max_abs,
                                               std::span<const float> weight_col_absmax,
                                               double alpha);
Expected<std::vector<float>> smoothquant_scale(const CalibrationStats& stats,
                                               std::span<const float> weight_col_absmax,
                                               double alpha);

// The scale `method` asks for: all ones for kNone; weight_col_absmax is only read for
// kSmoothQuant.
Expected<std::vector<float>> input_scale(ScaleMethod method, const CalibrationStats& stats,
                                         std::span<const float> weight_col_absmax, double alpha);

// A row-major float matrix [rows, cols] (a linear's weight: one row per output channel).
struct ConstMatrixView {
  std::span<const float> data;
  size_t rows = 0;
  size_t cols = 0;
};

// max_i |W_ij| per input column j over all `mats`, which must share one cols (they read the
// same input). Non-finite weights are skipped. kInvalidArgument when a matrix's data size is
// not rows * cols or the widths differ; an empty list gives an empty result.
Expected<std::vector<float>> column_absmax(std::span<const ConstMatrixView> mats);

// W[:, j] *= s_j on a row-major [rows, cols] weight: the weight half of eq. 2.
Status apply_input_scale(std::span<float> w, size_t rows, size_t cols, std::span<const float> s);
// X[:, j] /= s_j on row-major [rows, cols] activations: the activation half of eq. 2, for
// inputs that have no producer to fold 1/s into (and for tests of X W^T == (X/s)(W s)^T).
Status apply_inverse_scale_to_columns(std::span<float> x, size_t rows, size_t cols,
                                      std::span<const float> s);
// P[j, :] /= s_j on the producer of the input: the previous linear's weight [rows=K, cols]
// (and its bias as [K, 1]) or a norm's gain/bias as [K, 1]. Dividing the producer's output
// channel j by s_j is how X/s is computed at no run-time cost.
Status fold_inverse_scale_into_rows(std::span<float> p, size_t rows, size_t cols,
                                    std::span<const float> s);

}  // namespace dcllm
