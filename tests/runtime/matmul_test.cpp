// matmul_f32 against a double-precision reference over shapes with vector tails, one and many
// tokens, with and without bias; and thread count must not change a single bit.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "runtime/linear.h"
#include "runtime/matmul_f32.h"

namespace dcllm {
namespace {

struct Problem {
  size_t rows, in, out;
  std::vector<float> x, w, b;
};

Problem make(size_t rows, size_t in, size_t out, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  Problem p{rows, in, out, {}, {}, {}};
  p.x.resize(rows * in);
  p.w.resize(out * in);
  p.b.resize(out);
  for (auto& v : p.x) v = d(rng);
  for (auto& v : p.w) v = d(rng);
  for (auto& v : p.b) v = d(rng);
  return p;
}

double reference(const Problem& p, size_t r, size_t o, bool bias) {
  double s = bias ? p.b[o] : 0.0;
  for (size_t i = 0; i < p.in; ++i) s += static_cast<double>(p.x[r * p.in + i]) * p.w[o * p.in + i];
  return s;
}

TEST(MatmulF32, MatchesReference) {
  const size_t shapes[][3] = {{1, 1, 1},    {1, 64, 64}, {3, 13, 7},    {7, 172, 64},
                              {2, 64, 172}, {65, 40, 9}, {130, 96, 33}, {1, 576, 1537}};
  for (const auto& s : shapes) {
    for (bool bias : {false, true}) {
      SCOPED_TRACE(::testing::Message()
                   << s[0] << "x" << s[1] << " -> " << s[2] << " bias " << bias);
      Problem p = make(s[0], s[1], s[2], 7);
      std::vector<float> y(p.rows * p.out);
      matmul_f32(p.x.data(), p.rows, p.in, p.w.data(), bias ? p.b.data() : nullptr, p.out, y.data(),
                 2);
      for (size_t r = 0; r < p.rows; ++r) {
        for (size_t o = 0; o < p.out; ++o) {
          ASSERT_NEAR(y[r * p.out + o], reference(p, r, o, bias), 1e-4 * std::sqrt(double(p.in)))
              << r << "," << o;
        }
      }
    }
  }
}

TEST(MatmulF32, KernelsAgree) {
  if (!matmul_f32_avx2_available()) GTEST_SKIP() << "no AVX2+FMA on this CPU";
  Problem p = make(9, 203, 37, 3);
  std::vector<float> a(p.rows * p.out), b(p.rows * p.out);
  matmul_f32_block_generic(p.x.data(), p.rows, p.in, p.w.data(), p.b.data(), p.out, 0, p.out,
                           a.data());
  matmul_f32_block_avx2(p.x.data(), p.rows, p.in, p.w.data(), p.b.data(), p.out, 0, p.out,
                        b.data());
  for (size_t i = 0; i < a.size(); ++i) ASSERT_NEAR(a[i], b[i], 1e-4f) << i;
}

TEST(MatmulF32, ThreadsAndBatchingDoNotChangeBits) {
  Problem p = make(37, 300, 257, 11);
  std::vector<float> one(p.rows * p.out), two(p.rows * p.out), rowwise(p.rows * p.out);
  matmul_f32(p.x.data(), p.rows, p.in, p.w.data(), p.b.data(), p.out, one.data(), 1);
  matmul_f32(p.x.data(), p.rows, p.in, p.w.data(), p.b.data(), p.out, two.data(), 2);
  for (size_t r = 0; r < p.rows; ++r) {
    matmul_f32(&p.x[r * p.in], 1, p.in, p.w.data(), p.b.data(), p.out, &rowwise[r * p.out], 2);
  }
  EXPECT_EQ(one, two);
  EXPECT_EQ(one, rowwise);
}

TEST(Linear, ForwardsThroughMatmul) {
  Problem p = make(2, 16, 5, 5);
  Linear l = Linear::f32("blk.0.attn_q", p.w.data(), p.b.data(), 5, 16);
  EXPECT_EQ(l.name(), "blk.0.attn_q");
  EXPECT_EQ(l.in_features(), 16);
  EXPECT_EQ(l.out_features(), 5);
  std::vector<float> y(10);
  ASSERT_TRUE(l.forward(p.x.data(), 2, y.data(), 1).ok());
  for (size_t r = 0; r < 2; ++r) {
    for (size_t o = 0; o < 5; ++o) EXPECT_NEAR(y[r * 5 + o], reference(p, r, o, true), 1e-5);
  }
}

}  // namespace
}  // namespace dcllm
