// rANS stream format v2 (docs/rans-format.md) tests: a reference decoder written from the doc
// alone must agree with rans_decode on every stream the encoder writes, escapes behave as
// specified, payloads are 4-byte aligned, version 1 is refused, and the bytes stay stable.
#include <gtest/gtest.h>

#include <cmath>
#include <optional>
#include <random>
#include <vector>

#include "codec/rans_stream.h"
#include "dcllm/rans.h"

namespace dcllm {
namespace {

uint32_t le32(const std::vector<uint8_t>& b, size_t p) {
  return uint32_t{b[p]} | uint32_t{b[p + 1]} << 8 | uint32_t{b[p + 2]} << 16 |
         uint32_t{b[p + 3]} << 24;
}

// Decodes a stream following docs/rans-format.md literally (symbol search by cumulative
// frequency, no tables); nullopt for anything the doc calls invalid.
std::optional<std::vector<uint8_t>> reference_decode(const std::vector<uint8_t>& b) {
  if (b.size() < 16 || b[0] != 0x52 || b[1] != 2) return std::nullopt;
  const int mode = b[2], P = b[3];
  const uint32_t seg_bytes = le32(b, 4);
  const uint64_t raw = le32(b, 8) | uint64_t{le32(b, 12)} << 32;
  size_t pos = 16;
  if (mode == 2) {
    if (b.size() - pos != raw) return std::nullopt;
    return std::vector<uint8_t>(b.begin() + 16, b.end());
  }
  if (mode == 1) {
    if (b.size() - pos != 1) return std::nullopt;
    return std::vector<uint8_t>(raw, b[16]);
  }
  if (mode != 0 || P < 8 || P > 12 || seg_bytes == 0 || seg_bytes % 64 || raw == 0)
    return std::nullopt;
  if (b.size() < pos + 34) return std::nullopt;
  const int esc_flag = b[pos], esc_sym = b[pos + 1];
  if (esc_flag > 1 || (!esc_flag && esc_sym)) return std::nullopt;
  pos += 2;
  const size_t bitmap = pos;
  pos += 32;
  uint32_t f[256] = {}, cum[257] = {};
  int present = 0;
  for (int s = 0; s < 256; ++s) {
    if (!(b[bitmap + s / 8] >> (s % 8) & 1)) continue;
    uint32_t v = 0;
    for (int shift = 0;; shift += 7) {
      if (pos >= b.size() || shift > 7) return std::nullopt;
      v |= uint32_t{b[pos] & 0x7fu} << shift;
      if (!(b[pos++] & 0x80)) break;
    }
    if (v == 0) return std::nullopt;
    f[s] = v;
    ++present;
  }
  for (int s = 0; s < 256; ++s) cum[s + 1] = cum[s] + f[s];
  const uint32_t M = 1u << P;
  if (present < 2 || cum[256] != M || (esc_flag && f[esc_sym] == 0)) return std::nullopt;
  for (; pos % 4; ++pos)
    if (pos >= b.size() || b[pos] != 0) return std::nullopt;
  const uint64_t n_seg = (raw + seg_bytes - 1) / seg_bytes;
  if (b.size() < pos + 8 * n_seg) return std::nullopt;
  const size_t dir = pos;
  pos += 8 * n_seg;
  std::vector<uint8_t> out;
  for (uint64_t i = 0; i < n_seg; ++i) {
    const uint64_t len = std::min<uint64_t>(seg_bytes, raw - i * seg_bytes);
    const uint64_t n_words = le32(b, dir + 8 * i), n_esc = le32(b, dir + 8 * i + 4);
    if (n_words > len || n_esc > len || (!esc_flag && n_esc)) return std::nullopt;
    uint64_t size = 256 + 2 * n_words + n_esc;
    size += (4 - size % 4) % 4;
    if (b.size() - pos < size) return std::nullopt;
    for (uint64_t k = 256 + 2 * n_words + n_esc; k < size; ++k)
      if (b[pos + k] != 0) return std::nullopt;
    uint32_t state[64];
    for (int l = 0; l < 64; ++l) state[l] = le32(b, pos + 4 * l);
    const size_t words = pos + 256, escapes = words + 2 * n_words;
    uint64_t w = 0, e = 0;
    for (uint64_t j = 0; j < len; ++j) {
      uint32_t& x = state[j % 64];
      const uint32_t slot = x & (M - 1);
      int s = 0;
      while (!(cum[s] <= slot && slot < cum[s + 1])) ++s;
      x = f[s] * (x >> P) + slot - cum[s];
      if (x < (1u << 16)) {
        if (w == n_words) return std::nullopt;
        x = x << 16 | b[words + 2 * w] | uint32_t{b[words + 2 * w + 1]} << 8;
        ++w;
      }
      if (esc_flag && s == esc_sym) {
        if (e == n_esc) return std::nullopt;
        s = b[escapes + e++];
      }
      out.push_back(static_cast<uint8_t>(s));
    }
    if (w != n_words || e != n_esc) return std::nullopt;
    for (uint32_t x : state)
      if (x != (1u << 16)) return std::nullopt;
    pos += size;
  }
  if (pos != b.size()) return std::nullopt;
  return out;
}

// Gaussian INT8 with a sprinkle of outliers, the shape escapes exist for.
std::vector<uint8_t> weights_with_outliers(size_t n, double sigma, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> g(0, sigma);
  std::vector<uint8_t> v(n);
  for (auto& b : v) {
    double z = g(rng);
    if (rng() % 500 == 0) z *= 15;
    b = static_cast<uint8_t>(static_cast<int8_t>(std::clamp(std::lround(z), -127L, 127L)));
  }
  return v;
}

std::vector<RansIsa> supported_isas() {
  std::vector<RansIsa> isas;
  for (RansIsa isa : {RansIsa::kScalar, RansIsa::kAvx2, RansIsa::kAvx512})
    if (rans_isa_supported(isa)) isas.push_back(isa);
  return isas;
}

std::vector<uint8_t> encode(const std::vector<uint8_t>& v, RansEncodeOptions o = {}) {
  std::vector<uint8_t> enc;
  EXPECT_TRUE(rans_encode(v, enc, o).ok());
  return enc;
}

TEST(RansFormat, ReferenceDecoderAgreesOnEncoderOutput) {
  RansEncodeOptions o;
  o.segment_bytes = 4096;
  for (size_t n : {1u, 63u, 64u, 65u, 4096u, 5000u, 20011u}) {
    for (bool escapes : {false, true}) {
      for (int p : {0, 8, 10, 12}) {
        SCOPED_TRACE(testing::Message() << "n=" << n << " escapes=" << escapes << " p=" << p);
        o.escapes = escapes;
        o.precision = p;
        auto v = weights_with_outliers(n, 4, static_cast<uint32_t>(n));
        auto enc = encode(v, o);
        auto ref = reference_decode(enc);
        ASSERT_TRUE(ref.has_value());
        EXPECT_EQ(*ref, v);
      }
    }
  }
}

TEST(RansFormat, OutliersEscapeAndStillRoundTrip) {
  auto v = weights_with_outliers(1 << 20, 5, 7);
  auto enc = encode(v);
  auto parsed = rans::parse_stream(enc);
  ASSERT_TRUE(parsed.ok());
  EXPECT_TRUE(parsed->escapes);
  EXPECT_EQ(parsed->header.precision, 12);
  size_t escaped = 0;
  for (const auto& seg : parsed->segments) escaped += seg.escapes.size();
  EXPECT_GT(escaped, 0u);
  EXPECT_LT(escaped, v.size() / 100);
  for (RansIsa isa : supported_isas()) {
    std::vector<uint8_t> out(v.size());
    ASSERT_TRUE(rans_decode(enc, out, {isa, 2}).ok()) << rans_isa_name(isa);
    EXPECT_EQ(out, v) << rans_isa_name(isa);
  }
  // Escapes exist to buy ratio: without them the same data codes larger.
  RansEncodeOptions no_esc;
  no_esc.escapes = false;
  auto plain = encode(v, no_esc);
  EXPECT_FALSE(rans::parse_stream(plain)->escapes);
  EXPECT_LT(enc.size(), plain.size());
}

TEST(RansFormat, DirectoryAndPayloadsAreFourByteAligned) {
  RansEncodeOptions o;
  o.segment_bytes = 4096;
  auto v = weights_with_outliers(50001, 3, 9);
  auto enc = encode(v, o);
  auto parsed = rans::parse_stream(enc);
  ASSERT_TRUE(parsed.ok());
  ASSERT_GT(parsed->segments.size(), 10u);
  for (const auto& seg : parsed->segments) {
    EXPECT_EQ((seg.states.data() - enc.data()) % 4, 0);
    EXPECT_EQ((seg.words.data() - enc.data()) % 4, 0);
  }
}

TEST(RansFormat, VersionOneIsRefusedByName) {
  auto enc = encode(weights_with_outliers(10000, 4, 1));
  enc[1] = 1;
  std::vector<uint8_t> out(10000);
  Status st = rans_decode(enc, out);
  EXPECT_EQ(st.code(), StatusCode::kCorrupt);
  EXPECT_NE(st.message().find("version 1"), std::string::npos) << st.message();
  EXPECT_FALSE(rans_raw_size(enc).ok());
}

// Any change to these bytes is a format change: bump the version and update the doc.
TEST(RansFormat, EncoderOutputIsStable) {
  // Geometric magnitudes with alternating signs from xorshift64 (no std:: distributions, whose
  // output differs between standard libraries), plus a few rare bytes that escape.
  std::vector<uint8_t> v(9000);
  uint64_t r = 88172645463325252ull;
  for (size_t i = 0; i < v.size(); ++i) {
    r ^= r << 13, r ^= r >> 7, r ^= r << 17;
    const int mag = __builtin_ctzll(r | (1ull << 20));
    v[i] = static_cast<uint8_t>(r >> 63 ? -mag : mag);
  }
  for (size_t i = 100; i < v.size(); i += 997) v[i] = static_cast<uint8_t>(100 + i % 7);
  RansEncodeOptions o;
  o.segment_bytes = 4096;
  auto enc = encode(v, o);
  uint64_t h = 14695981039346656037ull;  // FNV-1a
  for (uint8_t b : enc) h = (h ^ b) * 1099511628211ull;
  auto parsed = rans::parse_stream(enc);
  ASSERT_TRUE(parsed.ok());
  EXPECT_TRUE(parsed->escapes);
  EXPECT_EQ(enc.size(), 3520u);
  EXPECT_EQ(h, 0xb96b6e44401c93cdull) << std::hex << h;
  EXPECT_EQ(reference_decode(enc), v);
}

// Corrupt streams: the production decoders and the reference decoder give the same verdict.
TEST(RansFormat, CorruptionVerdictsMatchTheReference) {
  RansEncodeOptions o;
  o.segment_bytes = 4096;
  auto v = weights_with_outliers(12000, 6, 3);
  auto enc = encode(v, o);
  std::mt19937 rng(12);
  for (int trial = 0; trial < 300; ++trial) {
    auto bad = enc;
    bad[rng() % bad.size()] ^= static_cast<uint8_t>(1 + rng() % 255);
    auto ref = reference_decode(bad);
    for (RansIsa isa : supported_isas()) {
      std::vector<uint8_t> out(v.size());
      Status st = rans_decode(bad, out, {isa, 1});
      ASSERT_EQ(st.ok(), ref.has_value() && ref->size() == v.size())
          << rans_isa_name(isa) << " trial " << trial << ": " << st.message();
      if (st.ok()) {
        ASSERT_EQ(out, *ref);
      }
    }
  }
}

}  // namespace
}  // namespace dcllm
