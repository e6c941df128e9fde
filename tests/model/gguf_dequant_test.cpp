// Dequantization of every GGML type we read, against values decoded by an independent
// implementation (tests/data/gguf_quant_vectors.gguf, made by scripts/make-gguf-quant-vectors.py),
// plus hand-built blocks whose values follow directly from the format description.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "core/mapped_file.h"
#include "model/ggml_types.h"
#include "model/gguf_dequant.h"
#include "model/gguf_file.h"

namespace dcllm {
namespace {

void put_f16(uint8_t* p, uint16_t h) {
  p[0] = static_cast<uint8_t>(h & 0xFF);
  p[1] = static_cast<uint8_t>(h >> 8);
}

TEST(Fp16, KnownValues) {
  EXPECT_EQ(fp16_to_fp32(0x3C00), 1.0f);
  EXPECT_EQ(fp16_to_fp32(0xC000), -2.0f);
  EXPECT_EQ(fp16_to_fp32(0x7BFF), 65504.0f);
  EXPECT_EQ(fp16_to_fp32(0x3800), 0.5f);
  EXPECT_EQ(fp16_to_fp32(0x0001), std::ldexp(1.0f, -24));  // smallest subnormal
  EXPECT_EQ(fp16_to_fp32(0x03FF), std::ldexp(1023.0f, -24));
  EXPECT_EQ(fp16_to_fp32(0x7C00), std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(fp16_to_fp32(0x7E00)));
  EXPECT_TRUE(std::signbit(fp16_to_fp32(0x8000)));
  EXPECT_EQ(bf16_to_fp32(0x3F80), 1.0f);
  EXPECT_EQ(bf16_to_fp32(0xC040), -3.0f);
}

TEST(Dequant, Q8_0Block) {
  uint8_t b[34];
  put_f16(b, 0x3800);  // d = 0.5
  for (int j = 0; j < 32; ++j) b[2 + j] = static_cast<uint8_t>(static_cast<int8_t>(j - 16));
  float y[32];
  dequantize(GgmlType::kQ8_0, b, 32, y);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(y[j], 0.5f * static_cast<float>(j - 16)) << j;
}

TEST(Dequant, Q4_0AndQ4_1Blocks) {
  // Byte j holds value j in its low nibble and value j+16 in its high nibble.
  uint8_t b0[18];
  put_f16(b0, 0x4000);  // d = 2
  for (int j = 0; j < 16; ++j) b0[2 + j] = static_cast<uint8_t>(j | ((15 - j) << 4));
  float y[32];
  dequantize(GgmlType::kQ4_0, b0, 32, y);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(y[j], 2.0f * static_cast<float>(j - 8));
    EXPECT_EQ(y[j + 16], 2.0f * static_cast<float>(15 - j - 8));
  }
  uint8_t b1[20];
  put_f16(b1, 0x3C00);      // d = 1
  put_f16(b1 + 2, 0xBC00);  // m = -1
  for (int j = 0; j < 16; ++j) b1[4 + j] = static_cast<uint8_t>(j | (j << 4));
  dequantize(GgmlType::kQ4_1, b1, 32, y);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(y[j], static_cast<float>(j) - 1.0f);
    EXPECT_EQ(y[j + 16], static_cast<float>(j) - 1.0f);
  }
}

TEST(Dequant, Q5_0FifthBit) {
  uint8_t b[22] = {};
  put_f16(b, 0x3C00);  // d = 1
  // Only value 3's and value 20's fifth bits set; all nibbles zero.
  const uint32_t qh = (1u << 3) | (1u << 20);
  std::memcpy(b + 2, &qh, 4);
  float y[32];
  dequantize(GgmlType::kQ5_0, b, 32, y);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(y[j], (j == 3 || j == 20) ? 0.0f : -16.0f) << j;
}

TEST(Dequant, Q6_KScalesPerSixteenValues) {
  uint8_t b[210] = {};
  // All 6-bit quants = 32 + 1 (low nibble 1, high bits 2 -> 0b10_0001 = 33), so q - 32 = 1.
  for (int i = 0; i < 128; ++i) b[i] = 0x11;
  for (int i = 0; i < 64; ++i) b[128 + i] = 0xAA;  // high bits 0b10 for all four slots
  for (int s = 0; s < 16; ++s) b[192 + s] = static_cast<uint8_t>(static_cast<int8_t>(s - 8));
  put_f16(b + 208, 0x3C00);
  float y[256];
  dequantize(GgmlType::kQ6_K, b, 256, y);
  for (int i = 0; i < 256; ++i) EXPECT_EQ(y[i], static_cast<float>(i / 16 - 8)) << i;
}

TEST(Dequant, MatchesIndependentDecoder) {
  const std::string path = std::string(DCLLM_TEST_DATA) + "/gguf_quant_vectors.gguf";
  auto mapped = MappedFile::open(path);
  ASSERT_TRUE(mapped.ok()) << mapped.status().message();
  auto file = parse_gguf(mapped->bytes(), path);
  ASSERT_TRUE(file.ok()) << file.status().message();
  auto find = [&](const std::string& name) -> const GgufTensorInfo* {
    for (const auto& t : file->tensors) {
      if (t.name == name) return &t;
    }
    return nullptr;
  };
  int checked = 0;
  for (const char* type :
       {"F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q4_K", "Q5_K", "Q6_K"}) {
    SCOPED_TRACE(type);
    const GgufTensorInfo* q = find(std::string("q.") + type);
    const GgufTensorInfo* ref = find(std::string("ref.") + type);
    ASSERT_TRUE(q && ref);
    EXPECT_EQ(ggml_type_name(q->type), type);
    const size_t n = q->ne[0];
    std::vector<float> got(n), want(n);
    dequantize(static_cast<GgmlType>(q->type), mapped->data() + file->data_offset + q->offset, n,
               got.data());
    std::memcpy(want.data(), mapped->data() + file->data_offset + ref->offset, n * 4);
    for (size_t i = 0; i < n; ++i) {
      ASSERT_NEAR(got[i], want[i], 1e-6f * (1.0f + std::fabs(want[i]))) << "value " << i;
    }
    ++checked;
  }
  EXPECT_EQ(checked, 10);
}

}  // namespace
}  // namespace dcllm
