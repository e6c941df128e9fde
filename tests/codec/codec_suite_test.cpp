// Every registered codec against the Codec contract: exact round trips on edge-case and
// realistic inputs, and clean kCorrupt errors (never a crash) on wrong sizes and damaged frames.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "dcllm/codec.h"

namespace dcllm {
namespace {

std::unique_ptr<Codec> codec_named(const std::string& name) {
  auto codec = make_codec(name);
  EXPECT_TRUE(codec.ok()) << codec.status().message();
  return codec.ok() ? std::move(codec).value() : nullptr;
}

std::vector<uint8_t> random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> v(n);
  for (uint8_t& b : v) b = static_cast<uint8_t>(rng() >> 24);
  return v;
}

// A peaked, INT8-weight-like histogram: mostly small magnitudes around zero, rare large ones.
std::vector<uint8_t> skewed_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> v(n);
  for (uint8_t& b : v) {
    const uint32_t r = rng();
    const int magnitude = std::countr_zero(r | 0x80000000u);  // geometric, P(k) = 2^-(k+1)
    b = static_cast<uint8_t>(static_cast<int8_t>((r >> 31) ? magnitude : -magnitude));
  }
  return v;
}

std::vector<uint8_t> compress_or_fail(const Codec& codec, std::span<const uint8_t> in) {
  std::vector<uint8_t> frame;
  const Status st = codec.compress(in, frame);
  EXPECT_TRUE(st.ok()) << codec.name() << ": " << st.message();
  return frame;
}

class CodecSuite : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    codec_ = codec_named(GetParam());
    ASSERT_NE(codec_, nullptr);
  }

  void expect_round_trip(const std::vector<uint8_t>& in) {
    // Compress appends: a prefix already in `out` must survive untouched.
    const std::vector<uint8_t> prefix = {0xde, 0xad, 0xbe, 0xef};
    std::vector<uint8_t> out = prefix;
    const Status st = codec_->compress(in, out);
    ASSERT_TRUE(st.ok()) << st.message();
    ASSERT_GE(out.size(), prefix.size());
    ASSERT_TRUE(std::equal(prefix.begin(), prefix.end(), out.begin()));
    const std::span<const uint8_t> frame(out.data() + prefix.size(), out.size() - prefix.size());

    std::vector<uint8_t> decoded(in.size(), 0x5a);
    const Status dst = codec_->decompress(frame, decoded);
    ASSERT_TRUE(dst.ok()) << dst.message();
    EXPECT_TRUE(decoded == in) << "round trip differs, size " << in.size();
  }

  std::unique_ptr<Codec> codec_;
};

TEST_P(CodecSuite, NameMatchesRegistry) {
  EXPECT_EQ(codec_->name(), GetParam());
}

TEST_P(CodecSuite, EmptyInput) {
  expect_round_trip({});
}

TEST_P(CodecSuite, OneByte) {
  expect_round_trip({0});
  expect_round_trip({0xff});
}

TEST_P(CodecSuite, SingleRepeatedSymbol) {
  for (size_t n : {2u, 31u, 33u, 1001u, 262147u}) expect_round_trip(std::vector<uint8_t>(n, 0x81));
}

TEST_P(CodecSuite, AllSymbols) {
  std::vector<uint8_t> once(256);
  for (size_t i = 0; i < once.size(); ++i) once[i] = static_cast<uint8_t>(i);
  expect_round_trip(once);
  // Every symbol present, but most of them only once among many zeros.
  std::vector<uint8_t> rare = skewed_bytes(100003, 7);
  for (size_t i = 0; i < 256; ++i) rare[i * 389] = static_cast<uint8_t>(i);
  expect_round_trip(rare);
}

TEST_P(CodecSuite, RandomBytesOfOddSizes) {
  for (size_t n : {3u, 17u, 255u, 4097u, 100003u}) expect_round_trip(random_bytes(n, n));
}

TEST_P(CodecSuite, SkewedBytesOfOddSizes) {
  for (size_t n : {5u, 63u, 1025u, 65537u, (1u << 20) + 13u}) expect_round_trip(skewed_bytes(n, n));
}

TEST_P(CodecSuite, SkewedBytesActuallyCompress) {
  if (GetParam() == "raw") GTEST_SKIP() << "raw stores bytes unchanged by design";
  if (GetParam() == "lz4" || GetParam() == "snappy") {
    GTEST_SKIP() << "LZ-only codecs have no entropy stage for i.i.d. bytes";
  }
  const std::vector<uint8_t> in = skewed_bytes(1 << 20, 11);
  const std::vector<uint8_t> frame = compress_or_fail(*codec_, in);
  // Entropy of the geometric source is 2 bits/byte; any entropy coder gets well under half.
  EXPECT_LT(frame.size(), in.size() / 2) << codec_->name();
}

TEST_P(CodecSuite, WrongOutputSizeIsCorrupt) {
  for (size_t n : {0u, 1u, 1000u, 70001u}) {
    const std::vector<uint8_t> in = skewed_bytes(n, 3);
    const std::vector<uint8_t> frame = compress_or_fail(*codec_, in);
    std::vector<uint8_t> longer(n + 1);
    const Status too_long = codec_->decompress(frame, longer);
    EXPECT_EQ(too_long.code(), StatusCode::kCorrupt) << "n=" << n << " " << too_long.message();
    if (n > 0) {
      std::vector<uint8_t> shorter(n - 1);
      const Status too_short = codec_->decompress(frame, shorter);
      EXPECT_EQ(too_short.code(), StatusCode::kCorrupt) << "n=" << n << " " << too_short.message();
    }
  }
}

TEST_P(CodecSuite, EmptyFrameIsCorruptUnlessEmptyOutput) {
  std::vector<uint8_t> out(10);
  EXPECT_EQ(codec_->decompress({}, out).code(), StatusCode::kCorrupt);
}

TEST_P(CodecSuite, TruncatedFramesAreCorrupt) {
  for (const std::vector<uint8_t>& in : {skewed_bytes(70001, 5), random_bytes(5003, 5)}) {
    const std::vector<uint8_t> frame = compress_or_fail(*codec_, in);
    std::vector<uint8_t> decoded(in.size());
    for (size_t keep : {size_t{0}, size_t{1}, size_t{8}, frame.size() / 2, frame.size() - 1}) {
      const Status st = codec_->decompress(std::span(frame.data(), keep), decoded);
      EXPECT_EQ(st.code(), StatusCode::kCorrupt)
          << "kept " << keep << " of " << frame.size() << " bytes: " << st.message();
    }
  }
}

// Without a checksum a codec may decode a damaged frame to other bytes; what it must never do
// is crash, touch memory outside the buffers (run under ASan), or report anything but kCorrupt.
TEST_P(CodecSuite, GarbledFramesNeverCrash) {
  const std::vector<uint8_t> in = skewed_bytes(70001, 9);
  const std::vector<uint8_t> frame = compress_or_fail(*codec_, in);
  ASSERT_FALSE(frame.empty());
  std::mt19937 rng(1234);
  std::vector<uint8_t> decoded(in.size());
  for (int trial = 0; trial < 300; ++trial) {
    std::vector<uint8_t> damaged = frame;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) {
      // Bias damage toward the header, where sizes and tables live.
      const size_t span = (trial % 2) ? damaged.size() : std::min<size_t>(damaged.size(), 64);
      damaged[rng() % span] ^= static_cast<uint8_t>(1u << (rng() % 8));
    }
    const Status st = codec_->decompress(damaged, decoded);
    EXPECT_TRUE(st.ok() || st.code() == StatusCode::kCorrupt)
        << "trial " << trial << ": " << st.message();
  }
  // Pure noise of a few sizes, including noise that starts with the real header.
  for (size_t n : {1u, 2u, 7u, 100u, 5000u}) {
    std::vector<uint8_t> noise = random_bytes(n, static_cast<uint32_t>(n) + 77);
    const Status st = codec_->decompress(noise, decoded);
    EXPECT_TRUE(st.ok() || st.code() == StatusCode::kCorrupt) << "noise " << n;
    std::copy_n(frame.begin(), std::min(n, std::min<size_t>(frame.size(), 16)), noise.begin());
    const Status st2 = codec_->decompress(noise, decoded);
    EXPECT_TRUE(st2.ok() || st2.code() == StatusCode::kCorrupt) << "headed noise " << n;
  }
}

INSTANTIATE_TEST_SUITE_P(AllCodecs, CodecSuite, ::testing::ValuesIn(codec_names()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string id = info.param;
                           std::replace(id.begin(), id.end(), '-', '_');
                           return id;
                         });

TEST(CodecRegistry, ListsTheCodecsInReportOrder) {
  const std::vector<std::string> expected = {
      "raw", "rans", "htscodecs-rans32x16", "zstd-1", "zstd-19", "lz4", "snappy", "deflate-6"};
  EXPECT_EQ(codec_names(), expected);
}

TEST(CodecRegistry, UnknownNameIsInvalidArgument) {
  for (const char* name : {"", "zstd", "zstd-3", "RAW", "rans "}) {
    auto codec = make_codec(name);
    ASSERT_FALSE(codec.ok()) << name;
    EXPECT_EQ(codec.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(codec.status().message().find("deflate-6"), std::string::npos)
        << "message should list the known codecs: " << codec.status().message();
  }
}

TEST(CodecRegistry, CodecsAreIndependentOfEachOther) {
  // A frame of one codec fed to another must fail cleanly (or decode to something), never
  // crash or report a non-corruption error.
  const std::vector<uint8_t> in = skewed_bytes(50001, 21);
  for (const std::string& from : codec_names()) {
    auto encoder = codec_named(from);
    const std::vector<uint8_t> frame = compress_or_fail(*encoder, in);
    for (const std::string& to : codec_names()) {
      if (to == from) continue;
      auto decoder = codec_named(to);
      std::vector<uint8_t> decoded(in.size());
      const Status st = decoder->decompress(frame, decoded);
      EXPECT_TRUE(st.ok() || st.code() == StatusCode::kCorrupt)
          << from << " -> " << to << ": " << st.message();
    }
  }
}

}  // namespace
}  // namespace dcllm
