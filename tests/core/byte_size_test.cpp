// parse_byte_size: plain bytes, binary and decimal units, fractions, and refusal of anything
// else with a message naming the option.
#include "core/byte_size.h"

#include <gtest/gtest.h>

namespace dcllm {
namespace {

uint64_t size_of(const char* text) {
  auto r = parse_byte_size(text, "--mem-budget");
  EXPECT_TRUE(r.ok()) << text << ": " << r.status().message();
  return r.ok() ? *r : 0;
}

TEST(ByteSize, ParsesBytesAndUnits) {
  EXPECT_EQ(size_of("0"), 0u);
  EXPECT_EQ(size_of("1048576"), 1048576u);
  EXPECT_EQ(size_of("512B"), 512u);
  EXPECT_EQ(size_of("4KiB"), 4096u);
  EXPECT_EQ(size_of("4 kib"), 4096u);
  EXPECT_EQ(size_of("64MiB"), uint64_t{64} << 20);
  EXPECT_EQ(size_of("2G"), uint64_t{2} << 30);
  EXPECT_EQ(size_of("1.5GiB"), uint64_t{3} << 29);
  EXPECT_EQ(size_of("0.1GiB"), (uint64_t{1} << 30) / 10);
  EXPECT_EQ(size_of("100MB"), 100000000u);
  EXPECT_EQ(size_of("2kb"), 2000u);
  EXPECT_EQ(size_of(" 7 TiB "), uint64_t{7} << 40);
  EXPECT_EQ(size_of(".5K"), 512u);
}

TEST(ByteSize, RefusesWhatIsNotASize) {
  for (const char* text : {"", " ", "abc", "-1", "1e6", "12 parsecs", "1.2.3", "MiB", "1 MiB x",
                           "99999999999999999999", "8EiB", "9000000TiB"}) {
    auto r = parse_byte_size(text, "--mem-budget");
    EXPECT_FALSE(r.ok()) << text;
    if (!r.ok()) {
      EXPECT_NE(r.status().message().find("--mem-budget"), std::string::npos);
    }
  }
}

TEST(ByteSize, FormatsReadably) {
  EXPECT_EQ(format_byte_size(100), "100 bytes");
  EXPECT_EQ(format_byte_size(1536), "1.50 KiB (1536 bytes)");
  EXPECT_EQ(format_byte_size(uint64_t{100} << 20), "100 MiB (104857600 bytes)");
}

}  // namespace
}  // namespace dcllm
