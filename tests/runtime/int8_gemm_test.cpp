// int8_gemm and activation quantization: every kernel against an int64 reference on awkward
// shapes and every scheme, saturation-prone extremes, and the float product within the
// quantization error bound.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "runtime/activation_quant.h"
#include "runtime/int8_gemm.h"

namespace dcllm {
namespace {

struct Scheme {
  QuantScheme scheme;
  int group;
};
const Scheme kSchemes[] = {{QuantScheme::kPerTensor, 0}, {QuantScheme::kPerChannel, 0},
                           {QuantScheme::kGroup, 32},    {QuantScheme::kGroup, 64},
                           {QuantScheme::kGroup, 128},   {QuantScheme::kGroup, 96},
                           {QuantScheme::kGroup, 40}};

const char* scheme_name(QuantScheme s) {
  switch (s) {
    case QuantScheme::kPerTensor:
      return "per-tensor";
    case QuantScheme::kPerChannel:
      return "per-channel";
    case QuantScheme::kGroup:
      return "group";
    case QuantScheme::kNone:
      break;
  }
  return "none";
}

// Owns everything a product needs; views are made on demand.
struct Problem {
  int M = 0, N = 0, K = 0;
  Scheme scheme{};
  bool x_per_tensor = false;
  int x_block = 0;  // activation block; 0 = per token / per tensor
  std::vector<int8_t> x, w;
  std::vector<float> sx, sw, bias;

  int groups() const {
    return scheme.scheme == QuantScheme::kGroup ? (K + scheme.group - 1) / scheme.group : 1;
  }
  int x_blocks() const { return x_block > 0 ? (K + x_block - 1) / x_block : 1; }
  Int8Activations xs() const { return {x.data(), M, K, sx.data(), x_per_tensor, x_block}; }
  Int8MatrixView ws() const { return {{scheme.scheme, N, K, scheme.group}, w.data(), sw.data()}; }
  const float* b() const { return bias.empty() ? nullptr : bias.data(); }
};

size_t scale_count(QuantScheme s, int N, int groups) {
  switch (s) {
    case QuantScheme::kPerTensor:
      return 1;
    case QuantScheme::kPerChannel:
      return static_cast<size_t>(N);
    default:
      return static_cast<size_t>(N) * static_cast<size_t>(groups);
  }
}

Problem random_problem(int M, int N, int K, Scheme scheme, bool with_bias, bool x_per_tensor,
                       uint32_t seed, int x_block = 0) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> wdist(-128, 127);  // -128 is a legal weight
  std::uniform_int_distribution<int> xdist(-127, 127);  // activations never hold -128
  std::uniform_real_distribution<float> sdist(0.001f, 0.1f), bdist(-1.0f, 1.0f);
  Problem p;
  p.M = M, p.N = N, p.K = K, p.scheme = scheme, p.x_per_tensor = x_per_tensor && x_block == 0;
  p.x_block = x_block;
  p.x.resize(static_cast<size_t>(M) * K);
  p.w.resize(static_cast<size_t>(N) * K);
  for (auto& v : p.x) v = static_cast<int8_t>(xdist(rng));
  for (auto& v : p.w) v = static_cast<int8_t>(wdist(rng));
  p.sx.resize(p.x_per_tensor ? 1 : static_cast<size_t>(M) * p.x_blocks());
  for (auto& v : p.sx) v = sdist(rng);
  p.sw.resize(scale_count(scheme.scheme, N, p.groups()));
  for (auto& v : p.sw) v = sdist(rng);
  if (with_bias) {
    p.bias.resize(N);
    for (auto& v : p.bias) v = bdist(rng);
  }
  return p;
}

int64_t dot64(const Problem& p, int m, int n, int k_begin, int k_end) {
  int64_t s = 0;
  for (int k = k_begin; k < k_end; ++k)
    s += int64_t{p.x[static_cast<size_t>(m) * p.K + k]} * p.w[static_cast<size_t>(n) * p.K + k];
  return s;
}

// The documented formula, evaluated independently of the kernels: float(dot) * (sx * sw) + b,
// or for groups the float sum over groups of float(dot_g) * sw_g in order, then sx * sum + b.
float expected(const Problem& p, int m, int n) {
  float v;
  if (p.x_block > 0) {
    // Four lanes; segment s (a block, or the piece of a block inside one weight group) adds
    // float(dot_s) * c_s into lane s % 4; then (l0 + l1) + (l2 + l3).
    const int B = p.x_block, nb = p.x_blocks();
    const bool grouped = p.scheme.scheme == QuantScheme::kGroup;
    const int G = grouped ? p.scheme.group : p.K;
    float lane[4] = {0, 0, 0, 0};
    int seg = 0;
    for (int k = 0; k < p.K;) {
      const int end = std::min({p.K, (k / B + 1) * B, (k / G + 1) * G});
      const float sxb = p.sx[static_cast<size_t>(m) * nb + k / B];
      const float c = grouped ? sxb * p.sw[static_cast<size_t>(n) * p.groups() + k / G] : sxb;
      lane[seg % 4] = lane[seg % 4] + static_cast<float>(dot64(p, m, n, k, end)) * c;
      ++seg;
      k = end;
    }
    const float sum = (lane[0] + lane[1]) + (lane[2] + lane[3]);
    if (grouped) {
      v = sum;
    } else {
      v = sum * (p.scheme.scheme == QuantScheme::kPerChannel ? p.sw[n] : p.sw[0]);
    }
    return p.bias.empty() ? v : v + p.bias[n];
  }
  const float sx = p.sx[p.x_per_tensor ? 0 : m];
  if (p.scheme.scheme == QuantScheme::kGroup) {
    const int G = p.scheme.group, groups = p.groups();
    float sum = 0.0f;
    for (int g = 0; g < groups; ++g) {
      const int64_t dot = dot64(p, m, n, g * G, std::min(p.K, g * G + G));
      sum = sum + static_cast<float>(dot) * p.sw[static_cast<size_t>(n) * groups + g];
    }
    v = sx * sum;
  } else {
    const float sw = p.scheme.scheme == QuantScheme::kPerChannel ? p.sw[n] : p.sw[0];
    const int64_t dot = dot64(p, m, n, 0, p.K);
    EXPECT_LE(std::abs(dot), int64_t{std::numeric_limits<int32_t>::max()});
    v = static_cast<float>(dot) * (sx * sw);
  }
  return p.bias.empty() ? v : v + p.bias[n];
}

std::vector<float> run(Int8Kernel kernel, const Problem& p, unsigned threads) {
  std::vector<float> y(static_cast<size_t>(p.M) * p.N, std::nanf(""));
  int8_gemm_with(kernel, p.xs(), p.ws(), p.b(), y.data(), threads);
  return y;
}

void check_against_reference(Int8Kernel kernel, const Problem& p, const std::vector<float>& y) {
  for (int m = 0; m < p.M; ++m) {
    for (int n = 0; n < p.N; ++n) {
      ASSERT_EQ(y[static_cast<size_t>(m) * p.N + n], expected(p, m, n))
          << int8_kernel_name(kernel) << " m=" << m << " n=" << n;
    }
  }
}

std::vector<Int8Kernel> available_kernels() {
  std::vector<Int8Kernel> ks;
  for (Int8Kernel k : {Int8Kernel::kGeneric, Int8Kernel::kAvx2, Int8Kernel::kAvx512Vnni})
    if (int8_kernel_available(k)) ks.push_back(k);
  return ks;
}

void check_kernel_on_awkward_shapes(Int8Kernel kernel) {
  const int Ms[] = {1, 3, 17};
  const int Ks[] = {1, 31, 32, 33, 100, 257, 576};
  const int Ns[] = {1, 5, 7, 33};
  uint32_t seed = 1;
  for (const Scheme& s : kSchemes) {
    for (int M : Ms) {
      for (int K : Ks) {
        for (int N : Ns) {
          const bool bias = (seed & 1) != 0, x_per_tensor = (seed % 3) == 0;
          SCOPED_TRACE(::testing::Message()
                       << scheme_name(s.scheme) << ":" << s.group << " M=" << M << " K=" << K
                       << " N=" << N << " bias=" << bias << " x_per_tensor=" << x_per_tensor);
          const Problem p = random_problem(M, N, K, s, bias, x_per_tensor, seed++);
          check_against_reference(kernel, p, run(kernel, p, 1));
          if (::testing::Test::HasFatalFailure()) return;
        }
      }
    }
  }
}

TEST(Int8Gemm, GenericMatchesReference) {
  check_kernel_on_awkward_shapes(Int8Kernel::kGeneric);
}

TEST(Int8Gemm, Avx2MatchesReference) {
  if (!int8_kernel_available(Int8Kernel::kAvx2)) GTEST_SKIP() << "no AVX2+FMA on this CPU";
  check_kernel_on_awkward_shapes(Int8Kernel::kAvx2);
}

TEST(Int8Gemm, Avx512VnniMatchesReference) {
  if (!int8_kernel_available(Int8Kernel::kAvx512Vnni))
    GTEST_SKIP() << "no AVX-512 VNNI on this CPU";
  check_kernel_on_awkward_shapes(Int8Kernel::kAvx512Vnni);
}

// Activation blocks (one scale per B inputs of a token): every kernel against the reference on
// awkward shapes, blocks that are whole 32-byte steps and blocks that are not, short last blocks,
// and grouped weights (which the SIMD kernels hand to the generic one).
void check_blocks_on_awkward_shapes(Int8Kernel kernel) {
  const Scheme schemes[] = {{QuantScheme::kPerTensor, 0},
                            {QuantScheme::kPerChannel, 0},
                            {QuantScheme::kGroup, 32},
                            {QuantScheme::kGroup, 40}};
  uint32_t seed = 1000;
  for (const Scheme& s : schemes) {
    for (int B : {32, 64, 1, 7, 48, 128}) {
      for (int M : {1, 2, 3, 5, 17}) {
        for (int K : {1, 31, 32, 33, 100, 257, 576}) {
          for (int N : {1, 5, 33}) {
            const bool bias = (seed & 1) != 0;
            SCOPED_TRACE(::testing::Message()
                         << scheme_name(s.scheme) << ":" << s.group << " B=" << B << " M=" << M
                         << " K=" << K << " N=" << N << " bias=" << bias);
            const Problem p = random_problem(M, N, K, s, bias, false, seed++, B);
            check_against_reference(kernel, p, run(kernel, p, 1));
            if (::testing::Test::HasFatalFailure()) return;
          }
        }
      }
    }
  }
}

TEST(Int8GemmBlocks, GenericMatchesReference) {
  check_blocks_on_awkward_shapes(Int8Kernel::kGeneric);
}

TEST(Int8GemmBlocks, Avx2MatchesReference) {
  if (!int8_kernel_available(Int8Kernel::kAvx2)) GTEST_SKIP() << "no AVX2+FMA on this CPU";
  check_blocks_on_awkward_shapes(Int8Kernel::kAvx2);
}

TEST(Int8GemmBlocks, Avx512VnniMatchesReference) {
  if (!int8_kernel_available(Int8Kernel::kAvx512Vnni))
    GTEST_SKIP() << "no AVX-512 VNNI on this CPU";
  check_blocks_on_awkward_shapes(Int8Kernel::kAvx512Vnni);
}

// Thread count, batch size (the AVX2 batch path from 4 tokens, more than one token block at
// 41) and one token at a time give the same bits as the generic kernel.
TEST(Int8GemmBlocks, KernelsThreadsAndBatchingAgreeBitForBit) {
  for (const Scheme& s :
       {Scheme{QuantScheme::kPerTensor, 0}, Scheme{QuantScheme::kPerChannel, 0}}) {
    for (int B : {32, 64, 33}) {
      const Problem p = random_problem(41, 301, 1000, s, true, false, 50 + B, B);
      const std::vector<float> ref = run(Int8Kernel::kGeneric, p, 1);
      for (Int8Kernel kernel : available_kernels()) {
        EXPECT_EQ(run(kernel, p, 1), ref) << int8_kernel_name(kernel) << " B=" << B;
        EXPECT_EQ(run(kernel, p, 2), ref) << int8_kernel_name(kernel) << " B=" << B;
        for (int m = 0; m < p.M; m += 5) {
          Int8Activations row = p.xs();
          row.data += static_cast<size_t>(m) * p.K;
          row.scales += static_cast<size_t>(m) * p.x_blocks();
          row.rows = 1;
          std::vector<float> y(p.N);
          int8_gemm_with(kernel, row, p.ws(), p.b(), y.data(), 2);
          ASSERT_TRUE(std::equal(y.begin(), y.end(), ref.begin() + static_cast<ptrdiff_t>(m) * p.N))
              << int8_kernel_name(kernel) << " B=" << B << " token " << m;
        }
      }
    }
  }
}

// With unit scales the block sums are exact integers below 2^24, so the lanes add exactly and
// the result is the whole dot product: checks that no block is dropped or counted twice.
TEST(Int8GemmBlocks, UnitScalesGiveTheExactDot) {
  for (Int8Kernel kernel : available_kernels()) {
    for (int B : {32, 64, 96, 20}) {
      Problem p = random_problem(5, 9, 333, {QuantScheme::kPerChannel, 0}, false, false, 90 + B, B);
      std::fill(p.sx.begin(), p.sx.end(), 1.0f);
      std::fill(p.sw.begin(), p.sw.end(), 1.0f);
      const std::vector<float> y = run(kernel, p, 1);
      for (int m = 0; m < p.M; ++m)
        for (int n = 0; n < p.N; ++n)
          ASSERT_EQ(y[static_cast<size_t>(m) * p.N + n], static_cast<float>(dot64(p, m, n, 0, p.K)))
              << int8_kernel_name(kernel) << " B=" << B << " m=" << m << " n=" << n;
    }
  }
}

// With unit scales and sums below 2^24 every float step is exact, so the group path's int32
// partial sums are checked exactly, not just within rounding.
TEST(Int8Gemm, GroupSumsExactWithUnitScales) {
  for (Int8Kernel kernel : available_kernels()) {
    for (int G : {32, 64, 96, 128}) {
      Problem p = random_problem(5, 9, 333, {QuantScheme::kGroup, G}, false, false, 40 + G);
      std::fill(p.sx.begin(), p.sx.end(), 1.0f);
      std::fill(p.sw.begin(), p.sw.end(), 1.0f);
      const std::vector<float> y = run(kernel, p, 1);
      for (int m = 0; m < p.M; ++m)
        for (int n = 0; n < p.N; ++n)
          ASSERT_EQ(y[static_cast<size_t>(m) * p.N + n], static_cast<float>(dot64(p, m, n, 0, p.K)))
              << int8_kernel_name(kernel) << " G=" << G << " m=" << m << " n=" << n;
    }
  }
}

// The largest products at K=4096: pairs of 127*127 (or 128*127 with w = -128) would saturate
// int16 if the kernels summed them unguarded. Unit scales make the float output the exact sum.
TEST(Int8Gemm, ExtremeValuesDoNotSaturate) {
  const int M = 3, N = 6, K = 4096;
  for (Int8Kernel kernel : available_kernels()) {
    for (const Scheme& s : {Scheme{QuantScheme::kPerTensor, 0}, Scheme{QuantScheme::kPerChannel, 0},
                            Scheme{QuantScheme::kGroup, 128}}) {
      Problem p = random_problem(M, N, K, s, false, false, 9);
      // Rows of w: all 127, all -127, all -128, alternating 127/-127, alternating -128/127,
      // and 127 with -128 in every fourth place. Tokens: all 127, all -127, alternating.
      for (int k = 0; k < K; ++k) {
        const int8_t row[N] = {127,
                               -127,
                               -128,
                               static_cast<int8_t>(k % 2 ? -127 : 127),
                               static_cast<int8_t>(k % 2 ? 127 : -128),
                               static_cast<int8_t>(k % 4 ? 127 : -128)};
        for (int n = 0; n < N; ++n) p.w[static_cast<size_t>(n) * K + k] = row[n];
        p.x[k] = 127;
        p.x[static_cast<size_t>(K) + k] = -127;
        p.x[2 * static_cast<size_t>(K) + k] = static_cast<int8_t>(k % 2 ? -127 : 127);
      }
      std::fill(p.sx.begin(), p.sx.end(), 1.0f);
      std::fill(p.sw.begin(), p.sw.end(), 1.0f);
      const std::vector<float> y = run(kernel, p, 1);
      for (int m = 0; m < M; ++m) {
        for (int n = 0; n < N; ++n) {
          const int64_t want = dot64(p, m, n, 0, K);  // all multiples of 2^12 below 2^27: exact
          ASSERT_EQ(y[static_cast<size_t>(m) * N + n], static_cast<float>(want))
              << int8_kernel_name(kernel) << " " << scheme_name(s.scheme) << " m=" << m
              << " n=" << n;
        }
      }
      EXPECT_EQ(y[0], 127.0f * 127.0f * K);
      EXPECT_EQ(y[2], -128.0f * 127.0f * K);
      EXPECT_EQ(y[static_cast<size_t>(N) + 2], 128.0f * 127.0f * K);
    }
  }
}

// Every kernel reduces each (group) sum to an exact int32 before any float operation and then
// repeats the generic kernel's float operations, so all agree to the bit. 41 tokens span more
// than one of the AVX2 batch path's token blocks.
TEST(Int8Gemm, KernelsAgreeBitForBit) {
  for (const Scheme& s : kSchemes) {
    const Problem p = random_problem(41, 37, 300, s, true, false, 77);
    const std::vector<float> ref = run(Int8Kernel::kGeneric, p, 1);
    for (Int8Kernel kernel : available_kernels()) {
      const std::vector<float> y = run(kernel, p, 1);
      for (size_t i = 0; i < y.size(); ++i)
        ASSERT_EQ(y[i], ref[i]) << int8_kernel_name(kernel) << " " << i;
    }
  }
}

// Neither the thread count nor processing tokens one at a time may change a single bit; the
// shape is big enough (M*N*K > 2^20) that int8_gemm really splits the work.
TEST(Int8Gemm, ThreadsAndBatchingDoNotChangeBits) {
  for (const Scheme& s : kSchemes) {
    for (Int8Kernel kernel : available_kernels()) {
      const Problem p = random_problem(7, 301, 1000, s, true, false, 5);
      const std::vector<float> one = run(kernel, p, 1);
      EXPECT_EQ(run(kernel, p, 2), one) << int8_kernel_name(kernel);
      EXPECT_EQ(run(kernel, p, 0), one) << int8_kernel_name(kernel);
      for (int m = 0; m < p.M; ++m) {
        Int8Activations row = p.xs();
        row.data += static_cast<size_t>(m) * p.K;
        row.scales += m;
        row.rows = 1;
        std::vector<float> y(p.N);
        int8_gemm_with(kernel, row, p.ws(), p.b(), y.data(), 2);
        ASSERT_TRUE(std::equal(y.begin(), y.end(), one.begin() + static_cast<ptrdiff_t>(m) * p.N))
            << int8_kernel_name(kernel) << " token " << m;
      }
    }
  }
}

// End to end against a float product: quantize float W (per channel, as a test-local quantizer)
// and X (per token), and bound the error by what rounding each operand to half a step allows.
TEST(Int8Gemm, CloseToFloatProduct) {
  const int M = 17, N = 33, K = 577;
  std::mt19937 rng(11);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> xf(static_cast<size_t>(M) * K), wf(static_cast<size_t>(N) * K);
  for (auto& v : xf) v = d(rng);
  for (auto& v : wf) v = 0.05f * d(rng);
  std::vector<int8_t> wq(wf.size());
  std::vector<float> sw(N);
  for (int n = 0; n < N; ++n) {
    float mx = 0;
    for (int k = 0; k < K; ++k) mx = std::max(mx, std::fabs(wf[static_cast<size_t>(n) * K + k]));
    sw[n] = mx / 127.0f;
    for (int k = 0; k < K; ++k)
      wq[static_cast<size_t>(n) * K + k] =
          static_cast<int8_t>(std::nearbyint(wf[static_cast<size_t>(n) * K + k] / sw[n]));
  }
  Int8ActivationBuffer buf;
  const Int8Activations xa = buf.quantize(xf.data(), M, K);
  const Int8MatrixView w{{QuantScheme::kPerChannel, N, K, 0}, wq.data(), sw.data()};
  ASSERT_TRUE(validate_int8_weights(w).ok());
  std::vector<float> y(static_cast<size_t>(M) * N);
  int8_gemm(xa, w, nullptr, y.data(), 2);
  double worst_ratio = 0;
  for (int m = 0; m < M; ++m) {
    for (int n = 0; n < N; ++n) {
      double exact = 0, bound = 0;
      for (int k = 0; k < K; ++k) {
        const double xv = xf[static_cast<size_t>(m) * K + k],
                     wv = wf[static_cast<size_t>(n) * K + k];
        exact += xv * wv;
        bound +=
            std::fabs(xv) * sw[n] / 2 + std::fabs(wv) * xa.scales[m] / 2 + xa.scales[m] * sw[n] / 4;
      }
      const double err = std::fabs(y[static_cast<size_t>(m) * N + n] - exact);
      ASSERT_LE(err, bound * 1.001 + 1e-6) << m << "," << n;
      worst_ratio = std::max(worst_ratio, err / bound);
    }
  }
  // Random rounding errors cancel: the typical error is far below the worst-case bound.
  EXPECT_LT(worst_ratio, 0.25);
}

TEST(Int8Gemm, ValidateWeights) {
  const int8_t data[8] = {};
  const float scales[8] = {1, 1, 1, 1, 1, 1, 1, 1};
  Int8MatrixView w{{QuantScheme::kPerChannel, 2, 4, 0}, data, scales};
  EXPECT_TRUE(validate_int8_weights(w).ok());
  Int8MatrixView bad = w;
  bad.rows = 0;
  EXPECT_EQ(validate_int8_weights(bad).code(), StatusCode::kInvalidArgument);
  bad = w;
  bad.cols = kInt8GemmMaxCols + 1;
  EXPECT_EQ(validate_int8_weights(bad).code(), StatusCode::kInvalidArgument);
  bad = w;
  bad.scales = nullptr;
  EXPECT_EQ(validate_int8_weights(bad).code(), StatusCode::kInvalidArgument);
  bad = w;
  bad.scheme = QuantScheme::kGroup;
  EXPECT_EQ(validate_int8_weights(bad).code(), StatusCode::kInvalidArgument);
  bad.group = 32;
  EXPECT_TRUE(validate_int8_weights(bad).ok());
  bad.scheme = QuantScheme::kNone;
  EXPECT_EQ(validate_int8_weights(bad).code(), StatusCode::kUnsupported);
}

// ---- activation quantization ----

TEST(ActivationQuant, PerTokenScalesAndRounding) {
  const int rows = 3, cols = 70;
  std::mt19937 rng(3);
  std::normal_distribution<float> d(0.0f, 2.0f);
  std::vector<float> x(rows * cols);
  for (auto& v : x) v = d(rng);
  std::fill(x.begin() + 2 * cols, x.end(), 0.0f);  // an all-zero token
  std::vector<int8_t> q(x.size());
  std::vector<float> s(rows);
  quantize_activations_per_token(x.data(), rows, cols, q.data(), s.data());
  for (int r = 0; r < 2; ++r) {
    float mx = 0;
    for (int k = 0; k < cols; ++k) mx = std::max(mx, std::fabs(x[r * cols + k]));
    EXPECT_EQ(s[r], mx / 127.0f);
    bool hit_edge = false;
    for (int k = 0; k < cols; ++k) {
      const int v = q[r * cols + k];
      EXPECT_GE(v, -127);
      EXPECT_LE(v, 127);
      hit_edge |= std::abs(v) == 127;
      EXPECT_LE(std::fabs(v * s[r] - x[r * cols + k]), s[r] * 0.5f * 1.0001f);
    }
    EXPECT_TRUE(hit_edge) << "the largest value maps to +-127";
  }
  EXPECT_EQ(s[2], 1.0f);
  for (int k = 0; k < cols; ++k) EXPECT_EQ(q[2 * cols + k], 0);
}

TEST(ActivationQuant, PerTensorSharesOneScale) {
  const float x[6] = {1.0f, -2.0f, 0.5f, 4.0f, -4.0f, 0.0f};
  int8_t q[6];
  const float s = quantize_activations_per_tensor(x, 2, 3, q);
  EXPECT_EQ(s, 4.0f / 127.0f);
  const int8_t want[6] = {32, -64, 16, 127, -127, 0};  // 31.75, -63.5 (ties to even), 15.875
  for (int i = 0; i < 6; ++i) EXPECT_EQ(q[i], want[i]) << i;
}

TEST(ActivationQuant, PerBlockScalesEachBlockOnItsOwn) {
  const int rows = 2, cols = 70, block = 32;  // blocks of 32, 32 and 6
  std::mt19937 rng(4);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> x(rows * cols);
  for (auto& v : x) v = d(rng);
  x[5] = 300.0f;  // an outlier in token 0's first block
  std::fill(x.begin() + cols + 32, x.begin() + cols + 64, 0.0f);  // token 1: a zero block
  std::vector<int8_t> q(x.size());
  std::vector<float> s(rows * 3);
  quantize_activations_per_block(x.data(), rows, cols, block, q.data(), s.data());
  for (int r = 0; r < rows; ++r) {
    for (int b = 0; b < 3; ++b) {
      const int begin = b * block, end = std::min(cols, begin + block);
      float mx = 0;
      for (int k = begin; k < end; ++k) mx = std::max(mx, std::fabs(x[r * cols + k]));
      const float want = mx == 0.0f ? 1.0f : mx / 127.0f;
      ASSERT_EQ(s[r * 3 + b], want) << r << "," << b;
      for (int k = begin; k < end; ++k)
        EXPECT_LE(std::fabs(q[r * cols + k] * want - x[r * cols + k]), want * 0.5f * 1.0001f);
    }
  }
  // The outlier coarsens only its own block: the next block keeps a fine step.
  EXPECT_GT(s[0], 50.0f * s[1]);
  // Whole rows as one block are per-token quantization exactly.
  std::vector<int8_t> qb(x.size()), qt(x.size());
  std::vector<float> sb(rows), st(rows);
  quantize_activations_per_block(x.data(), rows, cols, cols, qb.data(), sb.data());
  quantize_activations_per_token(x.data(), rows, cols, qt.data(), st.data());
  EXPECT_EQ(qb, qt);
  EXPECT_EQ(sb, st);
}

TEST(ActivationQuant, BufferFollowsTheScheme) {
  const float x[8] = {1, 2, 3, 4, 100, 0.5f, 0.25f, 0};
  Int8ActivationBuffer buf;
  ActivationQuant block;
  block.scheme = ActivationScheme::kBlock;
  block.block = 4;
  const Int8Activations a = buf.quantize(x, 1, 8, block);
  EXPECT_EQ(a.block, 4);
  EXPECT_EQ(a.blocks(), 2);
  EXPECT_EQ(a.scales[0], 4.0f / 127.0f);
  EXPECT_EQ(a.scales[1], 100.0f / 127.0f);
  EXPECT_EQ(a.data[3], 127);
  EXPECT_EQ(a.data[4], 127);
  ActivationQuant tensor;
  tensor.scheme = ActivationScheme::kPerTensor;
  const Int8Activations t = buf.quantize(x, 2, 4, tensor);
  EXPECT_TRUE(t.per_tensor);
  EXPECT_EQ(t.block, 0);
  EXPECT_EQ(t.scales[0], 100.0f / 127.0f);
}

TEST(ActivationQuant, NonFiniteValues) {
  const float inf = std::numeric_limits<float>::infinity();
  const float x[5] = {std::nanf(""), inf, -inf, 2.0f, -1.0f};
  int8_t q[5];
  float s;
  quantize_activations_per_token(x, 1, 5, q, &s);
  EXPECT_EQ(s, 2.0f / 127.0f);                      // the finite range sets the scale
  const int8_t want[5] = {0, 127, -127, 127, -64};  // -63.5 rounds to even
  for (int i = 0; i < 5; ++i) EXPECT_EQ(q[i], want[i]) << i;
}

TEST(ActivationQuant, Avx2MatchesGeneric) {
  if (!activation_quant_avx2_available()) GTEST_SKIP() << "no AVX2 on this CPU";
  std::mt19937 rng(8);
  std::normal_distribution<float> d(0.0f, 3.0f);
  std::uniform_int_distribution<int> special(0, 40);
  const float inf = std::numeric_limits<float>::infinity();
  for (int n : {0, 1, 7, 8, 31, 32, 33, 64, 100, 577}) {
    std::vector<float> x(n);
    for (auto& v : x) {
      const int c = special(rng);
      v = c == 0 ? std::nanf("") : c == 1 ? inf : c == 2 ? -inf : c == 3 ? 0.5f : d(rng);
    }
    const float mg = max_abs_finite_generic(x.data(), n);
    ASSERT_EQ(max_abs_finite_avx2(x.data(), n), mg) << n;
    // 0.5 * levels lands exactly on .5 steps for the tie cases.
    for (float levels : {127.0f / std::max(mg, 1e-3f), 2.0f, 1e30f}) {
      std::vector<int8_t> qa(n), qg(n);
      quantize_row_generic(x.data(), n, levels, qg.data());
      quantize_row_avx2(x.data(), n, levels, qa.data());
      ASSERT_EQ(qa, qg) << "n=" << n << " levels=" << levels;
    }
  }
}

}  // namespace
}  // namespace dcllm
