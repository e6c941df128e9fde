// Benchmark input loading: offsets, dtypes (f32/f16/bf16 widened, i8 as is), per-tensor blocks,
// and the one-line errors for inputs that cannot be benchmarked.
#include "eval/bench_input.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "quant/quantize_int8.h"

namespace dcllm {
namespace {

// A file under /tmp removed when the test ends.
class TempFile {
 public:
  explicit TempFile(const std::vector<uint8_t>& bytes) {
    char name[] = "/tmp/dcllm_bench_input_XXXXXX";
    const int fd = ::mkstemp(name);
    path_ = name;
    if (fd >= 0) {
      EXPECT_EQ(::write(fd, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
      ::close(fd);
    }
  }
  ~TempFile() { std::remove(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

template <typename T>
void append(std::vector<uint8_t>& out, const std::vector<T>& values) {
  const size_t old = out.size();
  out.resize(old + values.size() * sizeof(T));
  std::memcpy(out.data() + old, values.data(), values.size() * sizeof(T));
}

std::vector<float> ramp(size_t n, float step) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = step * (static_cast<float>(i) - static_cast<float>(n) / 3);
  return v;
}

std::vector<uint8_t> quantized(const std::vector<float>& w) {
  std::vector<uint8_t> q(w.size());
  quantize_int8_per_tensor(w, std::span(reinterpret_cast<int8_t*>(q.data()), q.size()));
  return q;
}

TEST(BenchInput, F32AfterHeaderIsQuantizedAsOneTensor) {
  const std::vector<float> w = ramp(1001, 0.01f);
  std::vector<uint8_t> file(28, 0xee);  // a llama2.c-sized header, not weights
  append(file, w);
  TempFile tmp(file);
  auto in = load_bench_file({tmp.path(), InputDtype::kF32, 28, true, 0});
  ASSERT_TRUE(in.ok()) << in.status().message();
  EXPECT_EQ(in->label, tmp.path());
  EXPECT_EQ(in->bytes, quantized(w));
}

TEST(BenchInput, UnalignedOffsetsWork) {
  const std::vector<float> w = ramp(257, -0.5f);
  std::vector<uint8_t> file(3, 0);
  append(file, w);
  TempFile tmp(file);
  auto in = load_bench_file({tmp.path(), InputDtype::kF32, 3, true, 0});
  ASSERT_TRUE(in.ok()) << in.status().message();
  EXPECT_EQ(in->bytes, quantized(w));
}

TEST(BenchInput, TensorBlocksAreQuantizedSeparately) {
  std::vector<float> small = ramp(100, 0.001f), large = ramp(60, 10.0f);
  std::vector<float> both = small;
  both.insert(both.end(), large.begin(), large.end());
  std::vector<uint8_t> file;
  append(file, both);
  TempFile tmp(file);
  auto in = load_bench_file({tmp.path(), InputDtype::kF32, 0, true, 100});
  ASSERT_TRUE(in.ok()) << in.status().message();
  std::vector<uint8_t> expected = quantized(small);
  const std::vector<uint8_t> tail = quantized(large);
  expected.insert(expected.end(), tail.begin(), tail.end());
  EXPECT_EQ(in->bytes, expected);
  EXPECT_NE(in->description.find("2 tensors"), std::string::npos) << in->description;
}

TEST(BenchInput, HalfPrecisionInputsAreWidened) {
  // 1.0, -2.0, 0.5, 0 in fp16 and in bf16 quantize to 64, -127, 32, 0 (scale 2/127).
  const std::vector<uint16_t> f16 = {0x3c00, 0xc000, 0x3800, 0x0000};
  const std::vector<uint16_t> bf16 = {0x3f80, 0xc000, 0x3f00, 0x0000};
  const std::vector<uint8_t> expected = {64, static_cast<uint8_t>(-127), 32, 0};
  for (auto [dtype, values] :
       {std::pair{InputDtype::kF16, f16}, std::pair{InputDtype::kBf16, bf16}}) {
    std::vector<uint8_t> file;
    append(file, values);
    TempFile tmp(file);
    auto in = load_bench_file({tmp.path(), dtype, 0, true, 0});
    ASSERT_TRUE(in.ok()) << in.status().message();
    EXPECT_EQ(in->bytes, expected) << input_dtype_name(dtype);
  }
}

TEST(BenchInput, I8IsUsedAsIs) {
  const std::vector<uint8_t> file = {9, 9, 1, 2, 3, 250};
  TempFile tmp(file);
  auto in = load_bench_file({tmp.path(), InputDtype::kI8, 2, false, 0});
  ASSERT_TRUE(in.ok()) << in.status().message();
  EXPECT_EQ(in->bytes, (std::vector<uint8_t>{1, 2, 3, 250}));
}

TEST(BenchInput, RejectsWhatCannotBeBenchmarked) {
  std::vector<uint8_t> file;
  append(file, ramp(10, 1.0f));
  TempFile tmp(file);
  auto code = [](const BenchFileSpec& spec) { return load_bench_file(spec).status().code(); };
  EXPECT_EQ(code({tmp.path(), InputDtype::kF32, 0, false, 0}), StatusCode::kInvalidArgument)
      << "float input needs --quantize";
  EXPECT_EQ(code({tmp.path(), InputDtype::kI8, 0, true, 0}), StatusCode::kInvalidArgument)
      << "i8 input cannot be quantized again";
  EXPECT_EQ(code({tmp.path(), InputDtype::kF32, 2, true, 0}), StatusCode::kInvalidArgument)
      << "38 bytes are not whole floats";
  EXPECT_EQ(code({tmp.path(), InputDtype::kF32, 41, true, 0}), StatusCode::kInvalidArgument)
      << "offset past the end";
  EXPECT_EQ(code({tmp.path(), InputDtype::kF32, 40, true, 0}), StatusCode::kInvalidArgument)
      << "nothing after the offset";
  EXPECT_EQ(code({"/nonexistent/weights.bin", InputDtype::kI8, 0, false, 0}), StatusCode::kIoError);
  auto msg = load_bench_file({tmp.path(), InputDtype::kF32, 41, true, 0}).status().message();
  EXPECT_NE(msg.find(tmp.path()), std::string::npos) << msg;
}

TEST(BenchInput, ParsesDtypes) {
  for (const char* name : {"i8", "f32", "f16", "bf16"}) {
    auto dtype = parse_input_dtype(name);
    ASSERT_TRUE(dtype.ok()) << name;
    EXPECT_EQ(input_dtype_name(*dtype), name);
  }
  EXPECT_FALSE(parse_input_dtype("fp32").ok());
}

}  // namespace
}  // namespace dcllm
