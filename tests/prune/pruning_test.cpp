// Pruning of INT8 weights: option parsing, known examples, exact zero counts, deterministic ties,
// the two selection algorithms agreeing, and dc beating magnitude under outlier channels.
#include "prune/pruning.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdio>
#include <limits>
#include <random>
#include <vector>

#include "prune/lowest_score_selection.h"

namespace dcllm {
namespace {

Int8Matrix per_tensor_matrix(std::vector<int8_t> q, size_t rows, size_t cols,
                                  float scale = 1.0f) {
  Int8Matrix m;
  m.values = std::move(q);
  m.rows = rows;
  m.cols = cols;
  m.scales = {scale};
  return m;
}

Int8Matrix random_matrix(size_t rows, size_t cols, uint32_t seed, bool allow_zero) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> u(-127, 127);
  std::vector<int8_t> q(rows * cols);
  for (int8_t& v : q) {
    int x = u(rng);
    while (!allow_zero && x == 0) x = u(rng);
    v = static_cast<int8_t>(x);
  }
  return per_tensor_matrix(std::move(q), rows, cols, 0.01f);
}

size_t zeros_in(std::span<const int8_t> q) {
  return static_cast<size_t>(std::count(q.begin(), q.end(), int8_t{0}));
}

TEST(PruneOptions, ParseAndName) {
  for (PruneMethod m :
       {PruneMethod::kDc, PruneMethod::kWanda, PruneMethod::kMagnitude, PruneMethod::kNone})
    EXPECT_EQ(*parse_prune_method(prune_method_name(m)), m);
  EXPECT_EQ(*parse_prune_method("dc"), PruneMethod::kDc);
  EXPECT_EQ(parse_prune_method("sparsegpt").status().message(),
            "unknown prune method 'sparsegpt' (expected dc, wanda, magnitude or none)");
  EXPECT_EQ(*parse_prune_group("row"), PruneGroup::kRow);
  EXPECT_EQ(*parse_prune_group("tensor"), PruneGroup::kTensor);
  EXPECT_EQ(parse_prune_group("column").status().message(),
            "unknown prune group 'column' (expected row or tensor)");
}

TEST(PruneOptions, SparsityMustBeInZeroToOne) {
  EXPECT_TRUE(validate_sparsity(0.0).ok());
  EXPECT_TRUE(validate_sparsity(0.4).ok());
  EXPECT_TRUE(validate_sparsity(0.999).ok());
  EXPECT_EQ(validate_sparsity(1.0).message(), "sparsity 1 is out of range (must be in [0, 1))");
  EXPECT_FALSE(validate_sparsity(-0.01).ok());
  EXPECT_FALSE(validate_sparsity(std::nan("")).ok());
  EXPECT_FALSE(validate_sparsity(std::numeric_limits<double>::infinity()).ok());
  Int8Matrix m = random_matrix(2, 4, 1, false);
  const std::vector<int8_t> before = m.values;
  auto r = prune_magnitude(m, 1.5, PruneGroup::kRow);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(m.values, before);
}

TEST(PruneOptions, TargetCountRoundsToNearest) {
  EXPECT_EQ(prune_target_count(10, 0.2), 2u);
  EXPECT_EQ(prune_target_count(3, 0.5), 2u);  // 1.5 rounds away from zero
  EXPECT_EQ(prune_target_count(7, 0.3), 2u);  // 2.1
  EXPECT_EQ(prune_target_count(7, 0.0), 0u);
  EXPECT_EQ(prune_target_count(0, 0.5), 0u);
  EXPECT_EQ(prune_target_count(3, 0.99), 3u);
}

TEST(Pruning, KnownRowExample) {
  // One row, four weights; S = 0.5 zeroes two.
  const std::vector<int8_t> q = {10, -1, 5, 2};
  const std::vector<float> act_max = {0.1f, 100.0f, 1.0f, 1.0f};  // scores 1, 100, 5, 2
  Int8Matrix dc = per_tensor_matrix(q, 1, 4);
  auto r = prune_by_activation_linf(dc, act_max, 0.5, PruneGroup::kRow);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(dc.values, (std::vector<int8_t>{0, -1, 5, 0}));
  EXPECT_EQ(r->total, 4u);
  EXPECT_EQ(r->zeros_before, 0u);
  EXPECT_EQ(r->zeros_after, 2u);

  Int8Matrix mag = per_tensor_matrix(q, 1, 4);
  ASSERT_TRUE(prune_magnitude(mag, 0.5, PruneGroup::kRow).ok());
  EXPECT_EQ(mag.values, (std::vector<int8_t>{10, 0, 5, 0}));

  const std::vector<float> l2 = {1.0f, 1.0f, 0.1f, 10.0f};  // scores 10, 1, 0.5, 20
  Int8Matrix wanda = per_tensor_matrix(q, 1, 4);
  ASSERT_TRUE(prune_wanda(wanda, l2, 0.5, PruneGroup::kRow).ok());
  EXPECT_EQ(wanda.values, (std::vector<int8_t>{10, 0, 0, 2}));
}

TEST(Pruning, RowAndTensorGroupsDiffer) {
  // Row 0 holds three of the tensor's four smallest weights.
  const std::vector<int8_t> q = {1,  2,  3,  60,  //
                                 30, 40, 70, 80};
  Int8Matrix row = per_tensor_matrix(q, 2, 4);
  ASSERT_TRUE(prune_magnitude(row, 0.5, PruneGroup::kRow).ok());
  EXPECT_EQ(row.values, (std::vector<int8_t>{0, 0, 3, 60, 0, 0, 70, 80}));
  Int8Matrix tensor = per_tensor_matrix(q, 2, 4);
  ASSERT_TRUE(prune_magnitude(tensor, 0.5, PruneGroup::kTensor).ok());
  EXPECT_EQ(tensor.values, (std::vector<int8_t>{0, 0, 0, 60, 0, 40, 70, 80}));
}

TEST(Pruning, ExactZeroCountPerGroup) {
  const size_t rows = 23, cols = 101;
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(0.0f, 5.0f);
  std::vector<float> stat(cols);
  for (float& v : stat) v = u(rng);
  for (double s : {0.0, 0.1, 0.2, 0.4, 0.5, 0.77, 0.99}) {
    for (PruneGroup g : {PruneGroup::kRow, PruneGroup::kTensor}) {
      for (PruneMethod method : {PruneMethod::kDc, PruneMethod::kWanda, PruneMethod::kMagnitude}) {
        Int8Matrix m = random_matrix(rows, cols, 4, /*allow_zero=*/false);
        Expected<PruneCounts> r = method == PruneMethod::kDc
                                      ? prune_by_activation_linf(m, stat, s, g)
                                  : method == PruneMethod::kWanda ? prune_wanda(m, stat, s, g)
                                                                  : prune_magnitude(m, s, g);
        ASSERT_TRUE(r.ok());
        if (g == PruneGroup::kRow) {
          for (size_t i = 0; i < rows; ++i)
            EXPECT_EQ(zeros_in(std::span(m.values).subspan(i * cols, cols)), prune_target_count(cols, s))
                << "row " << i << " sparsity " << s;
        } else {
          EXPECT_EQ(zeros_in(m.values), prune_target_count(rows * cols, s)) << "sparsity " << s;
        }
        EXPECT_EQ(r->zeros_after, zeros_in(m.values));
      }
    }
  }
}

TEST(Pruning, ExistingZerosCountTowardTheTarget) {
  // Row of 10, target 4. With 2 zeros already there, 2 more are zeroed; with 6, none.
  std::vector<int8_t> q = {0, 9, 8, 0, 7, 6, 5, 4, 3, 2};
  Int8Matrix few = per_tensor_matrix(q, 1, 10);
  auto r = prune_magnitude(few, 0.4, PruneGroup::kRow);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->zeros_before, 2u);
  EXPECT_EQ(r->zeros_after, 4u);
  EXPECT_EQ(few.values, (std::vector<int8_t>{0, 9, 8, 0, 7, 6, 5, 4, 0, 0}));

  q = {0, 0, 0, 0, 0, 0, 5, 4, 3, 2};
  Int8Matrix many = per_tensor_matrix(q, 1, 10);
  r = prune_magnitude(many, 0.4, PruneGroup::kRow);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->zeros_after, 6u);
  EXPECT_EQ(many.values, q);
}

TEST(Pruning, TiesGoToTheLowerIndex) {
  Int8Matrix m = per_tensor_matrix(std::vector<int8_t>(12, 5), 2, 6);
  m.values[1] = -5;  // |q| ties with the rest
  ASSERT_TRUE(prune_magnitude(m, 0.5, PruneGroup::kRow).ok());
  EXPECT_EQ(m.values, (std::vector<int8_t>{0, 0, 0, 5, 5, 5, 0, 0, 0, 5, 5, 5}));
  Int8Matrix t = per_tensor_matrix(std::vector<int8_t>(12, 5), 2, 6);
  ASSERT_TRUE(prune_magnitude(t, 0.25, PruneGroup::kTensor).ok());
  EXPECT_EQ(t.values, (std::vector<int8_t>{0, 0, 0, 5, 5, 5, 5, 5, 5, 5, 5, 5}));
  // A dead channel (statistic 0) scores 0 for every weight: those go first, by index.
  Int8Matrix d = per_tensor_matrix({9, 1, 9, 1}, 1, 4);
  ASSERT_TRUE(
      prune_by_activation_linf(d, std::vector<float>{0, 1, 0, 1}, 0.25, PruneGroup::kRow).ok());
  EXPECT_EQ(d.values, (std::vector<int8_t>{0, 1, 9, 1}));
}

TEST(Pruning, ScoresUseTheQuantizationScaleOfEachRow) {
  // Per-channel: row 1's int8 values are as large as row 0's, but stand for weights 100x
  // smaller; pruning the tensor must remove row 1.
  Int8Matrix m;
  m.values = {100, 100, 100, 100};
  m.rows = 2;
  m.cols = 2;
  m.scheme = QuantScheme::kPerChannel;
  m.scales = {1.0f, 0.01f};
  ASSERT_TRUE(prune_magnitude(m, 0.5, PruneGroup::kTensor).ok());
  EXPECT_EQ(m.values, (std::vector<int8_t>{100, 100, 0, 0}));
  // Group scales within a row: group {0,1} has scale 1, group {2,3} scale 0.001.
  Int8Matrix g;
  g.values = {10, 10, 100, 100};
  g.rows = 1;
  g.cols = 4;
  g.scheme = QuantScheme::kGroup;
  g.group = 2;
  g.scales = {1.0f, 0.001f};
  ASSERT_TRUE(prune_magnitude(g, 0.5, PruneGroup::kRow).ok());
  EXPECT_EQ(g.values, (std::vector<int8_t>{10, 10, 0, 0}));
}

TEST(Pruning, BadInputsAreErrors) {
  Int8Matrix m = random_matrix(3, 4, 5, false);
  const std::vector<int8_t> before = m.values;
  EXPECT_FALSE(
      prune_by_activation_linf(m, std::vector<float>(3, 1.0f), 0.5, PruneGroup::kRow).ok());
  EXPECT_FALSE(prune_wanda(m, std::vector<float>{1, -1, 1, 1}, 0.5, PruneGroup::kRow).ok());
  EXPECT_FALSE(
      prune_by_activation_linf(m, std::vector<float>{1, std::nanf(""), 1, 1}, 0.5, PruneGroup::kRow)
          .ok());
  Int8Matrix bad_shape = m;
  bad_shape.rows = 4;
  EXPECT_FALSE(prune_magnitude(bad_shape, 0.5, PruneGroup::kRow).ok());
  Int8Matrix bad_scales = m;
  bad_scales.scales = {1.0f, 1.0f};
  EXPECT_FALSE(prune_magnitude(bad_scales, 0.5, PruneGroup::kRow).ok());
  bad_scales.scales = {std::nanf("")};
  EXPECT_FALSE(prune_magnitude(bad_scales, 0.5, PruneGroup::kRow).ok());
  EXPECT_EQ(m.values, before);
}

// The k lowest (score, index) pairs by full sort: the definition both algorithms must meet.
std::vector<size_t> reference_lowest(const std::vector<uint32_t>& bits, size_t k) {
  std::vector<size_t> idx(bits.size());
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
  std::sort(idx.begin(), idx.end(),
            [&](size_t a, size_t b) { return bits[a] != bits[b] ? bits[a] < bits[b] : a < b; });
  idx.resize(k);
  std::sort(idx.begin(), idx.end());
  return idx;
}

TEST(LowestScoreSelection, SortAndHistogramChooseTheSameElements) {
  std::mt19937 rng(6);
  for (int trial = 0; trial < 40; ++trial) {
    const size_t n = 1 + rng() % 3000;
    // Few distinct values (many ties), values sharing high 16 bits, or spread floats.
    std::vector<uint32_t> bits(n);
    for (uint32_t& b : bits) {
      switch (trial % 3) {
        case 0:
          b = std::bit_cast<uint32_t>(static_cast<float>(rng() % 8));
          break;
        case 1:
          b = 0x3f800000u | (rng() & 0x3u);
          break;
        default:
          b = std::bit_cast<uint32_t>(
              std::ldexp(static_cast<float>(rng() % 1000), -int(rng() % 20)));
      }
    }
    for (size_t k : {size_t{0}, size_t{1}, n / 3, n / 2, n - 1, n}) {
      auto scan = [&](auto&& visit) {
        for (size_t i = 0; i < n; ++i) visit(i, bits[i]);
      };
      std::vector<size_t> by_sort, by_hist;
      std::vector<uint64_t> scratch;
      mark_lowest_by_sort(
          n, k, scan, [&](size_t i) { by_sort.push_back(i); }, scratch);
      mark_lowest_by_histogram(k, scan, [&](size_t i) { by_hist.push_back(i); });
      std::sort(by_sort.begin(), by_sort.end());
      const std::vector<size_t> ref = reference_lowest(bits, k);
      EXPECT_EQ(by_sort, ref) << "trial " << trial << " n " << n << " k " << k;
      EXPECT_EQ(by_hist, ref) << "trial " << trial << " n " << n << " k " << k;
    }
  }
}

TEST(Pruning, LargeTensorGroupIsExactAndMatchesTheDefinition) {
  // 600 x 512 = 307200 weights: over the sort limit, so the histogram path runs.
  const size_t rows = 600, cols = 512;
  Int8Matrix m = random_matrix(rows, cols, 8, /*allow_zero=*/true);
  std::vector<float> stat(cols);
  for (size_t j = 0; j < cols; ++j) stat[j] = 0.5f + static_cast<float>(j % 13);
  std::vector<uint32_t> bits(m.values.size());
  for (size_t i = 0; i < bits.size(); ++i) {
    const float s = static_cast<float>(std::abs(int{m.values[i]})) * m.scales[0] * stat[i % cols];
    bits[i] = s > 0 ? std::bit_cast<uint32_t>(s) : 0u;
  }
  const size_t k = prune_target_count(m.values.size(), 0.4);
  const std::vector<size_t> ref = reference_lowest(bits, k);
  std::vector<int8_t> expect = m.values;
  for (size_t i : ref) expect[i] = 0;
  auto r = prune_by_activation_linf(m, stat, 0.4, PruneGroup::kTensor);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->zeros_after, k);
  EXPECT_EQ(m.values, expect);
}

TEST(Pruning, ResultDoesNotDependOnThreads) {
  const size_t rows = 70, cols = 300;
  std::vector<float> stat(cols);
  for (size_t j = 0; j < cols; ++j) stat[j] = static_cast<float>((j * 37) % 17);
  Int8Matrix one = random_matrix(rows, cols, 9, true);
  Int8Matrix four = one;
  ASSERT_TRUE(prune_by_activation_linf(one, stat, 0.3, PruneGroup::kRow, 1).ok());
  ASSERT_TRUE(prune_by_activation_linf(four, stat, 0.3, PruneGroup::kRow, 4).ok());
  EXPECT_EQ(one.values, four.values);
}

TEST(Pruning, DispatchTakesTheStatisticFromStats) {
  const size_t rows = 8, cols = 32;
  std::mt19937 rng(10);
  std::normal_distribution<float> gauss(0.0f, 1.0f);
  std::vector<float> x(50 * cols);
  for (size_t i = 0; i < x.size(); ++i) x[i] = gauss(rng) * (i % cols == 5 ? 40.0f : 1.0f);
  CalibrationStats stats;
  ASSERT_TRUE(stats.observe(x.data(), 50, cols).ok());
  const Int8Matrix base = random_matrix(rows, cols, 11, false);

  Int8Matrix a = base, b = base;
  ASSERT_TRUE(prune_int8_weights(PruneMethod::kDc, a, stats, 0.5, PruneGroup::kRow).ok());
  ASSERT_TRUE(prune_by_activation_linf(b, stats.max_abs(), 0.5, PruneGroup::kRow).ok());
  EXPECT_EQ(a.values, b.values);
  a = base, b = base;
  ASSERT_TRUE(prune_int8_weights(PruneMethod::kWanda, a, stats, 0.5, PruneGroup::kRow).ok());
  ASSERT_TRUE(prune_wanda(b, stats.l2_norm(), 0.5, PruneGroup::kRow).ok());
  EXPECT_EQ(a.values, b.values);
  a = base, b = base;
  ASSERT_TRUE(prune_int8_weights(PruneMethod::kMagnitude, a, stats, 0.5, PruneGroup::kRow).ok());
  ASSERT_TRUE(prune_magnitude(b, 0.5, PruneGroup::kRow).ok());
  EXPECT_EQ(a.values, b.values);
  a = base;
  auto none = prune_int8_weights(PruneMethod::kNone, a, stats, 0.5, PruneGroup::kRow);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(a.values, base.values);
  EXPECT_EQ(none->zeros_after, 0u);
  CalibrationStats narrow(cols - 1);
  EXPECT_FALSE(prune_int8_weights(PruneMethod::kDc, a, narrow, 0.5, PruneGroup::kRow).ok());
}

// ||X Wq^T - X Wp^T||_F / ||X Wq^T||_F: the output error pruning adds to the quantized layer.
double output_error(const std::vector<float>& x, size_t tokens, const Int8Matrix& q,
                    const Int8Matrix& p) {
  auto wq = dequantize_weights_int8(q), wp = dequantize_weights_int8(p);
  double err = 0, norm = 0;
  const auto rows = static_cast<size_t>(q.rows), cols = static_cast<size_t>(q.cols);
  for (size_t t = 0; t < tokens; ++t)
    for (size_t o = 0; o < rows; ++o) {
      double yq = 0, yp = 0;
      for (size_t j = 0; j < cols; ++j) {
        yq += double{x[t * cols + j]} * (*wq)[o * cols + j];
        yp += double{x[t * cols + j]} * (*wp)[o * cols + j];
      }
      err += (yq - yp) * (yq - yp);
      norm += yq * yq;
    }
  return std::sqrt(err / norm);
}

TEST(Pruning, DcKeepsTheOutputCloserThanMagnitudeUnderOutlierChannels) {
  const size_t tokens = 128, in = 256, out = 128;
  std::mt19937 rng(12);
  std::normal_distribution<float> gauss(0.0f, 1.0f);
  std::vector<float> x(tokens * in), w(out * in);
  for (size_t t = 0; t < tokens; ++t)
    for (size_t j = 0; j < in; ++j) x[t * in + j] = gauss(rng) * (j % 50 == 3 ? 50.0f : 1.0f);
  for (float& v : w) v = 0.02f * gauss(rng);
  CalibrationStats stats;
  ASSERT_TRUE(stats.observe(x.data(), tokens, in).ok());
  auto q = quantize_weights_int8(w, out, in, {});
  ASSERT_TRUE(q.ok());
  for (double s : {0.2, 0.4, 0.6}) {
    for (PruneGroup g : {PruneGroup::kRow, PruneGroup::kTensor}) {
      Int8Matrix dc = *q, wanda = *q, mag = *q;
      ASSERT_TRUE(prune_int8_weights(PruneMethod::kDc, dc, stats, s, g).ok());
      ASSERT_TRUE(prune_int8_weights(PruneMethod::kWanda, wanda, stats, s, g).ok());
      ASSERT_TRUE(prune_int8_weights(PruneMethod::kMagnitude, mag, stats, s, g).ok());
      const double e_dc = output_error(x, tokens, *q, dc);
      const double e_wanda = output_error(x, tokens, *q, wanda);
      const double e_mag = output_error(x, tokens, *q, mag);
      std::printf("sparsity %.1f %s: relative output error dc %.4f wanda %.4f magnitude %.4f\n", s,
                  std::string(prune_group_name(g)).c_str(), e_dc, e_wanda, e_mag);
      EXPECT_LT(e_dc, e_mag) << "sparsity " << s << " group " << prune_group_name(g);
    }
  }
}

}  // namespace
}  // namespace dcllm
