// The fused decode-GEMV and the plain GPU INT8 GEMV against the CPU int8_gemm, bit for bit: every
// scale scheme, bias or none, shapes whose rows and groups cross segment and step boundaries,
// and weights coded as rANS, stored and constant streams.
#include <cstring>

#include "gpu_test_util.h"
#include "runtime/int8_gemm.h"

namespace dcllm {
namespace {

using gpu::StreamRef;

enum class Fill { kGaussian, kUniform, kConstant, kMixed };

struct Case {
  int64_t rows, cols;
  QuantScheme scheme;
  int64_t group;  // for kGroup
  bool bias;
  uint32_t segment_bytes;
  int64_t rows_per_stream;
  Fill fill;
};

std::string describe(const Case& c) {
  return testing::PrintToString(c.rows) + "x" + testing::PrintToString(c.cols) + " scheme " +
         quant_scheme_name(c.scheme, c.group) + (c.bias ? " bias" : "") + " seg " +
         testing::PrintToString(c.segment_bytes) + " rows/stream " +
         testing::PrintToString(c.rows_per_stream) + " fill " +
         testing::PrintToString(static_cast<int>(c.fill));
}

void run_case(const Case& c, uint32_t seed) {
  SCOPED_TRACE(describe(c));
  std::mt19937 rng(seed);
  Int8Matrix w;
  w.scheme = c.scheme;
  w.rows = c.rows;
  w.cols = c.cols;
  w.group = c.scheme == QuantScheme::kGroup ? c.group : 0;
  w.values.resize(static_cast<size_t>(c.rows * c.cols));
  const auto gauss = gpu_test::gaussian_with_outliers(w.values.size(), 5, seed, 200);
  for (size_t i = 0; i < w.values.size(); ++i) {
    const int64_t row = static_cast<int64_t>(i) / c.cols;
    Fill f = c.fill;
    if (f == Fill::kMixed)
      f = static_cast<Fill>((row / std::max<int64_t>(1, c.rows_per_stream)) % 3);
    switch (f) {
      case Fill::kUniform:
        w.values[i] = static_cast<int8_t>(rng());  // -128 included; codes as a stored stream
        break;
      case Fill::kConstant:
        w.values[i] = -7;
        break;
      default:
        w.values[i] = static_cast<int8_t>(gauss[i]);
    }
  }
  w.scales.resize(static_cast<size_t>(w.scale_count()));
  std::uniform_real_distribution<float> scale(1e-4f, 3e-2f);
  for (auto& s : w.scales) s = scale(rng) * (rng() % 5 == 0 ? 37.0f : 1.0f);
  std::vector<float> bias(static_cast<size_t>(c.rows));
  std::normal_distribution<float> bn(0, 0.3f);
  for (auto& b : bias) b = bn(rng);
  std::vector<int8_t> x(static_cast<size_t>(c.cols));
  for (auto& v : x) v = static_cast<int8_t>(static_cast<int>(rng() % 255) - 127);
  const float x_scale = 0.0123f;

  // CPU: the scalar reference and the best kernel give the same bits; the GPU must too.
  std::vector<float> y_cpu(static_cast<size_t>(c.rows)), y_best(static_cast<size_t>(c.rows));
  const Int8Activations xa{x.data(), 1, static_cast<int>(c.cols), &x_scale, true};
  const Int8MatrixView wv = w.view();
  const float* b = c.bias ? bias.data() : nullptr;
  int8_gemm_with(Int8Kernel::kGeneric, xa, wv, b, y_cpu.data(), 1);
  int8_gemm(xa, wv, b, y_best.data(), 2);
  ASSERT_EQ(std::memcmp(y_cpu.data(), y_best.data(), 4 * y_cpu.size()), 0);

  // Code the matrix as streams of whole rows, 64-byte aligned like .dcllm chunks.
  std::vector<uint8_t> coded;
  std::vector<StreamRef> refs;
  RansEncodeOptions o;
  o.segment_bytes = c.segment_bytes;
  const auto* raw = reinterpret_cast<const uint8_t*>(w.values.data());
  for (int64_t r = 0; r < c.rows; r += c.rows_per_stream) {
    const int64_t n = std::min(c.rows_per_stream, c.rows - r);
    auto enc = gpu_test::encode({raw + r * c.cols, static_cast<size_t>(n * c.cols)}, o);
    coded.resize((coded.size() + 63) / 64 * 64);
    refs.push_back({coded.size(), enc.size(), static_cast<uint64_t>(r * c.cols)});
    coded.insert(coded.end(), enc.begin(), enc.end());
  }
  auto plan = gpu::RansPlan::create(coded, refs, w.values.size());
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  auto d_coded = gpu_test::to_device(std::span<const uint8_t>(coded));
  auto d_w = gpu_test::to_device(std::span<const int8_t>(w.values));
  auto d_scales = gpu_test::to_device(std::span<const float>(w.scales));
  auto d_bias = gpu_test::to_device(std::span<const float>(bias));
  auto d_x = gpu_test::to_device(std::span<const int8_t>(x));
  auto d_acc = gpu::DeviceBuffer::create(4 * gpu::gemv_scratch_entries(w.layout()));
  auto d_y = gpu::DeviceBuffer::create(4 * c.rows);
  auto d_y2 = gpu::DeviceBuffer::create(4 * c.rows);
  ASSERT_TRUE(d_acc.ok() && d_y.ok() && d_y2.ok());
  gpu::GemvWeights gw;
  gw.layout = w.layout();
  gw.scales = d_scales.as<const float>();
  gw.bias = c.bias ? d_bias.as<const float>() : nullptr;
  for (int rep = 0; rep < 2; ++rep) {  // a second run reuses the scratch: it must be re-zeroed
    Status st =
        gpu::fused_gemv_async(*plan, d_coded.as<const uint8_t>(), gw, d_x.as<const int8_t>(),
                              x_scale, d_acc->as<int32_t>(), d_y->as<float>(), nullptr);
    ASSERT_TRUE(st.ok()) << st.message();
    st = plan->check(nullptr);
    ASSERT_TRUE(st.ok()) << st.message();
  }
  ASSERT_TRUE(gpu::int8_gemv_async(d_w.as<const int8_t>(), gw, d_x.as<const int8_t>(), x_scale,
                                   d_y2->as<float>(), nullptr)
                  .ok());
  std::vector<float> y_fused(static_cast<size_t>(c.rows)), y_plain(static_cast<size_t>(c.rows));
  ASSERT_TRUE(d_y->download(y_fused.data(), 4 * c.rows).ok());
  ASSERT_TRUE(d_y2->download(y_plain.data(), 4 * c.rows).ok());
  for (int64_t n = 0; n < c.rows; ++n) {
    uint32_t a, f, p;
    std::memcpy(&a, &y_cpu[n], 4);
    std::memcpy(&f, &y_fused[n], 4);
    std::memcpy(&p, &y_plain[n], 4);
    ASSERT_EQ(f, a) << "fused row " << n << ": " << y_fused[n] << " vs cpu " << y_cpu[n];
    ASSERT_EQ(p, a) << "plain row " << n << ": " << y_plain[n] << " vs cpu " << y_cpu[n];
  }
}

TEST(GpuGemv, FusedAndPlainMatchTheCpuBitForBit) {
  DCLLM_REQUIRE_GPU();
  const std::vector<Case> cases = {
      {576, 576, QuantScheme::kPerChannel, 0, false, 16384, 576, Fill::kGaussian},
      {1536, 576, QuantScheme::kPerChannel, 0, true, 4096, 100, Fill::kGaussian},
      {576, 1536, QuantScheme::kPerTensor, 0, true, 65536, 576, Fill::kGaussian},
      {300, 1000, QuantScheme::kPerChannel, 0, true, 4096, 37, Fill::kMixed},     // K % 16 != 0
      {257, 40, QuantScheme::kPerChannel, 0, false, 4096, 257, Fill::kGaussian},  // K < 64
      {64, 4096, QuantScheme::kGroup, 128, true, 4096, 64, Fill::kGaussian},
      {100, 1030, QuantScheme::kGroup, 128, false, 4096, 9, Fill::kMixed},  // short last group
      {77, 300, QuantScheme::kGroup, 32, true, 4096, 77, Fill::kGaussian},  // groups < 64
      {1, 8960, QuantScheme::kPerChannel, 0, true, 4096, 1, Fill::kGaussian},
      {500, 333, QuantScheme::kPerChannel, 0, false, 4096, 500, Fill::kUniform},  // stored
      {500, 333, QuantScheme::kGroup, 111, true, 4096, 100, Fill::kConstant},     // constant
      {4096, 1536, QuantScheme::kPerChannel, 0, true, 262144, 4096, Fill::kGaussian},
  };
  uint32_t seed = 1;
  for (const Case& c : cases) run_case(c, seed++);
}

TEST(GpuGemv, FusedRefusesStreamsThatDoNotTileTheMatrix) {
  DCLLM_REQUIRE_GPU();
  const auto v = gpu_test::gaussian_with_outliers(64 * 100, 4, 1, 0);
  RansEncodeOptions o;
  o.segment_bytes = 4096;
  const auto enc = gpu_test::encode(v, o);
  const StreamRef ref{0, enc.size(), 0};
  auto plan = gpu::RansPlan::create(enc, {&ref, 1}, v.size() + 64);  // one row uncovered
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  gpu::GemvWeights gw;
  gw.layout.scheme = QuantScheme::kPerTensor;
  gw.layout.rows = 101;
  gw.layout.cols = 64;
  Status st = gpu::fused_gemv_async(*plan, nullptr, gw, nullptr, 1.0f, nullptr, nullptr, nullptr);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st.message();
}

TEST(GpuGemv, FusedReportsACorruptStream) {
  DCLLM_REQUIRE_GPU();
  const int64_t rows = 64, cols = 512;
  const auto v = gpu_test::gaussian_with_outliers(rows * cols, 4, 2, 0);
  RansEncodeOptions o;
  o.segment_bytes = 4096;
  auto enc = gpu_test::encode(v, o);
  enc[enc.size() - 40] ^= 0x5a;  // a word of the last segment
  std::vector<uint8_t> cpu(v.size());
  ASSERT_FALSE(rans_decode(enc, cpu).ok());
  const StreamRef ref{0, enc.size(), 0};
  auto plan = gpu::RansPlan::create(enc, {&ref, 1}, v.size());
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  std::vector<float> scales{0.01f};
  std::vector<int8_t> x(cols, 3);
  auto d_coded = gpu_test::to_device(std::span<const uint8_t>(enc));
  auto d_scales = gpu_test::to_device(std::span<const float>(scales));
  auto d_x = gpu_test::to_device(std::span<const int8_t>(x));
  auto d_acc = gpu::DeviceBuffer::create(4 * rows);
  auto d_y = gpu::DeviceBuffer::create(4 * rows);
  gpu::GemvWeights gw;
  gw.layout.scheme = QuantScheme::kPerTensor;
  gw.layout.rows = rows;
  gw.layout.cols = cols;
  gw.scales = d_scales.as<const float>();
  ASSERT_TRUE(gpu::fused_gemv_async(*plan, d_coded.as<const uint8_t>(), gw, d_x.as<const int8_t>(),
                                    1.0f, d_acc->as<int32_t>(), d_y->as<float>(), nullptr)
                  .ok());
  EXPECT_EQ(plan->check(nullptr).code(), StatusCode::kCorrupt);
}

}  // namespace
}  // namespace dcllm
