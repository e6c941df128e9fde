// rANS codec tests: round trips on edge cases, decoder ISAs that agree on valid and corrupt
// streams, escapes, frequency normalisation optimality, and the size against the order-0 bound.
// The AVX-512 decoder is tested wherever the CPU has AVX-512 (skipped silently elsewhere, as
// every ISA loop only runs the ISAs rans_isa_supported reports).
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "codec/rans_stream.h"
#include "dcllm/rans.h"

namespace dcllm {
namespace {

std::vector<uint8_t> gaussian_int8(size_t n, double sigma, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> g(0, sigma);
  std::vector<uint8_t> v(n);
  for (auto& b : v) {
    long q = std::lround(g(rng));
    q = std::clamp(q, -127L, 127L);
    b = static_cast<uint8_t>(static_cast<int8_t>(q));
  }
  return v;
}

std::vector<RansIsa> supported_isas() {
  std::vector<RansIsa> isas;
  for (RansIsa isa : {RansIsa::kScalar, RansIsa::kAvx2, RansIsa::kAvx512})
    if (rans_isa_supported(isa)) isas.push_back(isa);
  return isas;
}

void expect_round_trip(const std::vector<uint8_t>& in, RansEncodeOptions opt = {}) {
  std::vector<uint8_t> enc;
  ASSERT_TRUE(rans_encode(in, enc, opt).ok());
  auto raw = rans_raw_size(enc);
  ASSERT_TRUE(raw.ok()) << raw.status().message();
  EXPECT_EQ(*raw, in.size());
  for (RansIsa isa : supported_isas()) {
    for (unsigned threads : {1u, 2u}) {
      std::vector<uint8_t> out(in.size(), 0xAA);
      Status st = rans_decode(enc, out, {isa, threads});
      ASSERT_TRUE(st.ok()) << rans_isa_name(isa) << ": " << st.message();
      ASSERT_EQ(out, in) << rans_isa_name(isa) << " threads=" << threads;
    }
  }
}

TEST(Rans, EmptyInput) {
  expect_round_trip({});
}
TEST(Rans, OneByte) {
  expect_round_trip({42});
}
TEST(Rans, SingleRepeatedSymbol) {
  std::vector<uint8_t> v(100000, 7);
  std::vector<uint8_t> enc;
  ASSERT_TRUE(rans_encode(v, enc).ok());
  EXPECT_LT(enc.size(), 32u);
  expect_round_trip(v);
}
TEST(Rans, AllSymbolsUniform) {
  std::vector<uint8_t> v(256 * 1000);
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<uint8_t>(i * 7919 % 256);
  expect_round_trip(v);
}
TEST(Rans, AllSymbolsWithRareOnes) {
  auto v = gaussian_int8(300001, 3.0, 1);
  for (int s = 0; s < 256; ++s) v[s * 1000] = static_cast<uint8_t>(s);  // each symbol appears
  expect_round_trip(v);
}
TEST(Rans, TwoSymbolsExtremelySkewed) {
  std::vector<uint8_t> v(1 << 20, 0);
  v[12345] = 1;
  expect_round_trip(v);
}
TEST(Rans, SizesAroundLaneAndSegmentMultiples) {
  RansEncodeOptions opt;
  opt.segment_bytes = 4096;
  for (size_t n : {2u, 31u, 32u, 33u, 63u, 64u, 65u, 4095u, 4096u, 4097u, 8191u, 12289u, 100003u}) {
    SCOPED_TRACE(n);
    expect_round_trip(gaussian_int8(n, 8, static_cast<uint32_t>(n)), opt);
  }
}
TEST(Rans, EveryPrecision) {
  auto v = gaussian_int8(200000, 20, 3);
  for (int p = kRansMinPrecision; p <= kRansMaxPrecision; ++p) {
    SCOPED_TRACE(p);
    RansEncodeOptions opt;
    opt.precision = p;
    opt.segment_bytes = 8192;
    expect_round_trip(v, opt);
  }
}
TEST(Rans, RandomBytesFallBackToStored) {
  std::mt19937 rng(5);
  std::vector<uint8_t> v(100000);
  for (auto& b : v) b = static_cast<uint8_t>(rng());
  std::vector<uint8_t> enc;
  ASSERT_TRUE(rans_encode(v, enc).ok());
  EXPECT_LE(enc.size(), v.size() + 16);
  expect_round_trip(v);
}
TEST(Rans, MultiThreadedEncodeIsIdentical) {
  auto v = gaussian_int8(3 << 20, 10, 9);
  std::vector<uint8_t> a, b;
  RansEncodeOptions o1, o2;
  o2.threads = 2;
  ASSERT_TRUE(rans_encode(v, a, o1).ok());
  ASSERT_TRUE(rans_encode(v, b, o2).ok());
  EXPECT_EQ(a, b);
}
TEST(Rans, EncoderKernelsProduceIdenticalStreams) {
  if (!rans_isa_supported(RansIsa::kAvx2)) GTEST_SKIP() << "no AVX2 on this CPU";
  for (double sigma : {0.3, 4.0, 40.0}) {
    auto v = gaussian_int8((1 << 20) + 77, sigma, 21);
    for (int p = kRansMinPrecision; p <= kRansMaxPrecision; ++p) {
      std::vector<uint8_t> a, b;
      RansEncodeOptions o;
      o.precision = p;
      o.isa = RansIsa::kScalar;
      ASSERT_TRUE(rans_encode(v, a, o).ok());
      o.isa = RansIsa::kAvx2;
      ASSERT_TRUE(rans_encode(v, b, o).ok());
      EXPECT_EQ(a, b) << "sigma " << sigma << " precision " << p;
    }
  }
}

// >= 256 MiB: segment offsets and the directory go past every 2^28 boundary.
TEST(Rans, QuarterGigabyteInput) {
  const size_t n = (size_t{256} << 20) + 17;
  std::vector<uint8_t> v(n);
  uint64_t s = 88172645463325252ull;
  for (size_t i = 0; i < n; ++i) {
    s ^= s << 13, s ^= s >> 7, s ^= s << 17;
    v[i] = static_cast<uint8_t>(__builtin_ctzll(s | (1ull << 40)) * 3);  // geometric-ish
  }
  std::vector<uint8_t> enc;
  RansEncodeOptions eo;
  eo.threads = 2;
  ASSERT_TRUE(rans_encode(v, enc, eo).ok());
  EXPECT_LT(enc.size(), n / 3);
  std::vector<uint8_t> out(n);
  ASSERT_TRUE(rans_decode(enc, out, {RansIsa::kAuto, 2}).ok());
  EXPECT_TRUE(out == v);
}

TEST(Rans, RejectsBadOptions) {
  std::vector<uint8_t> v(10, 1), enc;
  RansEncodeOptions opt;
  opt.segment_bytes = 100;
  EXPECT_EQ(rans_encode(v, enc, opt).code(), StatusCode::kInvalidArgument);
  opt.segment_bytes = 4096 + 32;  // not a multiple of the 64 lanes
  EXPECT_EQ(rans_encode(v, enc, opt).code(), StatusCode::kInvalidArgument);
  for (int p : {7, 13, 15}) {
    opt = {};
    opt.precision = p;
    EXPECT_EQ(rans_encode(v, enc, opt).code(), StatusCode::kInvalidArgument) << p;
  }
}
TEST(Rans, WrongOutputSizeIsCorrupt) {
  auto v = gaussian_int8(5000, 5, 2);
  std::vector<uint8_t> enc, out(4999);
  ASSERT_TRUE(rans_encode(v, enc).ok());
  EXPECT_EQ(rans_decode(enc, out).code(), StatusCode::kCorrupt);
}

TEST(Rans, SizeIsWithinHalfPercentOfTheOrder0Bound) {
  for (double sigma : {2.0, 6.0, 20.0}) {
    auto v = gaussian_int8(8 << 20, sigma, 11);
    std::vector<uint8_t> enc;
    ASSERT_TRUE(rans_encode(v, enc).ok());
    double bound_bytes = order0_entropy_bits(v) * v.size() / 8;
    EXPECT_LT(enc.size(), bound_bytes * 1.005) << "sigma " << sigma;
  }
}

// Decoders must agree on corrupt input too: same verdict and, on success, same bytes.
TEST(Rans, IsasAgreeOnCorruptStreams) {
  auto v = gaussian_int8(40000, 6, 4);
  std::vector<uint8_t> enc;
  RansEncodeOptions opt;
  opt.segment_bytes = 4096;
  ASSERT_TRUE(rans_encode(v, enc, opt).ok());
  std::mt19937 rng(8);
  auto isas = supported_isas();
  int failures = 0;
  for (int trial = 0; trial < 300; ++trial) {
    std::vector<uint8_t> bad = enc;
    int flips = 1 + trial % 4;
    for (int k = 0; k < flips; ++k)
      bad[rng() % bad.size()] ^= static_cast<uint8_t>(1 + rng() % 255);
    std::vector<uint8_t> ref(v.size());
    Status ref_st = rans_decode(bad, ref, {RansIsa::kScalar, 1});
    failures += !ref_st.ok();
    for (RansIsa isa : isas) {
      std::vector<uint8_t> out(v.size());
      Status st = rans_decode(bad, out, {isa, 1});
      ASSERT_EQ(st.ok(), ref_st.ok()) << rans_isa_name(isa) << " trial " << trial;
      if (st.ok()) {
        ASSERT_EQ(out, ref);
      }
    }
  }
  EXPECT_GT(failures, 250);  // nearly every flip is caught by the end-state check
}

TEST(Rans, TruncatedStreamsFailCleanly) {
  auto v = gaussian_int8(20000, 6, 6);
  std::vector<uint8_t> enc;
  ASSERT_TRUE(rans_encode(v, enc).ok());
  std::vector<uint8_t> out(v.size());
  for (size_t len = 0; len < enc.size(); len += 1 + len / 8) {
    std::span<const uint8_t> cut(enc.data(), len);
    EXPECT_FALSE(rans_decode(cut, out).ok()) << len;
  }
}

TEST(RansFrequencies, NoSingleExchangeImprovesTheCost) {
  std::mt19937 rng(3);
  for (int trial = 0; trial < 50; ++trial) {
    std::array<uint64_t, 256> counts{};
    int distinct = 2 + static_cast<int>(rng() % 255);
    for (int i = 0; i < distinct; ++i)
      counts[rng() % 256] += 1 + (rng() % 4 == 0 ? rng() % 1000000 : rng() % 50);
    int p = 8 + trial % 8;
    if ((1 << p) < distinct) p = 12;
    auto f = normalize_frequencies(counts, p);
    uint64_t sum = 0;
    for (int s = 0; s < 256; ++s) {
      sum += f[s];
      EXPECT_EQ(counts[s] == 0, f[s] == 0);
    }
    EXPECT_EQ(sum, 1u << p);
    for (int a = 0; a < 256; ++a) {
      if (!counts[a]) continue;
      double gain = counts[a] * std::log2((f[a] + 1.0) / f[a]);
      for (int b = 0; b < 256; ++b) {
        if (b == a || !counts[b] || f[b] <= 1) continue;
        double loss = counts[b] * std::log2(f[b] / (f[b] - 1.0));
        EXPECT_LE(gain, loss * (1 + 1e-9)) << a << " " << b;
      }
    }
  }
}

TEST(RansFrequencies, EntropyOfKnownDistributions) {
  std::vector<uint8_t> two = {0, 1, 0, 1};
  EXPECT_DOUBLE_EQ(order0_entropy_bits(two), 1.0);
  std::vector<uint8_t> one(10, 3);
  EXPECT_DOUBLE_EQ(order0_entropy_bits(one), 0.0);
}

}  // namespace
}  // namespace dcllm
