// GPTQ: the inverse Cholesky factor from the Gram matrix (double precision, by Cholesky of the
// reversed matrix and a triangular inverse), then every row rounded on its own grid with the
// error feedback; rows are independent given the factor, so they run in parallel.
#include "quant/gptq.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include <fmt/format.h>

#include "core/parallel.h"

namespace dcllm {

Expected<std::vector<double>> gptq_inverse_factor(std::span<const float> h, size_t n, double damp,
                                                  unsigned threads) {
  if (h.size() != n * n)
    return InvalidArgument(fmt::format("gptq: gram of {} values for {} channels", h.size(), n));
  // P h P with P the reversal, so that the lower Cholesky factor L' of it gives the upper
  // factor R = P L'^-1 P of h^-1 (R^T R = P L'^-T L'^-1 P = (P h P)^-1 reversed = h^-1).
  std::vector<double> a(n * n);
  double mean_diag = 0.0;
  for (size_t i = 0; i < n; ++i) mean_diag += h[i * n + i];
  mean_diag = n ? mean_diag / static_cast<double>(n) : 0.0;
  if (!(mean_diag > 0.0)) mean_diag = 1.0;
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < n; ++j) a[(n - 1 - i) * n + (n - 1 - j)] = h[i * n + j];
  for (size_t i = 0; i < n; ++i) {
    double& d = a[i * n + i];
    if (d == 0.0) d = 1.0;  // a channel never seen: its error goes nowhere
    d += damp * mean_diag;
  }
  // In-place lower Cholesky (row by row, dot products over contiguous rows).
  for (size_t i = 0; i < n; ++i) {
    double* ai = a.data() + i * n;
    for (size_t j = 0; j <= i; ++j) {
      const double* aj = a.data() + j * n;
      double s = ai[j];
      for (size_t k = 0; k < j; ++k) s -= ai[k] * aj[k];
      if (i == j) {
        if (!(s > 0.0) || !std::isfinite(s))
          return InvalidArgument(fmt::format("gptq: gram matrix not positive definite at {}", i));
        ai[i] = std::sqrt(s);
      } else {
        ai[j] = s / aj[j];
      }
    }
    for (size_t j = i + 1; j < n; ++j) ai[j] = 0.0;
  }
  // M = L'^-1, row by row: row i = (e_i - sum_k<i L'[i][k] M[k]) / L'[i][i], rows of M being
  // contiguous so the inner loop is a vector axpy.
  (void)threads;
  std::vector<double> m(n * n, 0.0);
  for (size_t i = 0; i < n; ++i) {
    double* mi = m.data() + i * n;
    mi[i] = 1.0;
    for (size_t k = 0; k < i; ++k) {
      const double lik = a[i * n + k];
      if (lik == 0.0) continue;
      const double* mk = m.data() + k * n;
      for (size_t c = 0; c <= k; ++c) mi[c] -= lik * mk[c];
    }
    const double inv = 1.0 / a[i * n + i];
    for (size_t c = 0; c <= i; ++c) mi[c] *= inv;
  }
  // R = P M P: R[i][j] = M[n-1-i][n-1-j], upper triangular.
  std::vector<double> r(n * n);
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < n; ++j) r[i * n + j] = m[(n - 1 - i) * n + (n - 1 - j)];
  return r;
}

Expected<Int8Matrix> quantize_weights_gptq(std::span<const float> w, size_t rows, size_t cols,
                                           const Int8Layout& scheme,
                                           const WeightQuantOptions& wopts,
                                           std::span<const float> gram, const GptqOptions& opts) {
  // The grid: round-to-nearest's scales (its values are replaced below).
  DCLLM_ASSIGN_OR_RETURN(Int8Matrix q, quantize_weights_int8(w, rows, cols, scheme, wopts));
  if (gram.size() != cols * cols)
    return InvalidArgument(
        fmt::format("gptq: gram of {} values for {} columns", gram.size(), cols));
  const auto finite = [](float v) { return std::isfinite(v); };
  if (!std::all_of(w.begin(), w.end(), finite) || !std::all_of(gram.begin(), gram.end(), finite))
    return q;
  auto factor = gptq_inverse_factor(gram, cols, opts.damp, opts.threads);
  if (!factor.ok()) return q;  // degenerate statistics: keep round-to-nearest
  std::vector<float> rf(factor->begin(), factor->end());
  const double top = wopts.max_level;
  parallel_for(rows, opts.threads, [&](size_t n) {
    std::vector<float> row(w.begin() + static_cast<ptrdiff_t>(n * cols),
                           w.begin() + static_cast<ptrdiff_t>((n + 1) * cols));
    int8_t* out = q.values.data() + n * cols;
    for (size_t j = 0; j < cols; ++j) {
      const float scale = q.scale_at(static_cast<int64_t>(n), static_cast<int64_t>(j));
      const double level =
          std::clamp(std::nearbyint(static_cast<double>(row[j]) / scale), -top, top);
      out[j] = static_cast<int8_t>(level);
      const float* rj = rf.data() + j * cols;
      const float e = static_cast<float>((row[j] - level * scale) / rj[j]);
      for (size_t k = j + 1; k < cols; ++k) row[k] -= e * rj[k];
    }
  });
  return q;
}

}  // namespace dcllm
