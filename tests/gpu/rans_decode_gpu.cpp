// The CUDA decoder against the CPU decoder, byte for byte and verdict for verdict: random,
// adversarial and real (SmolLM2) streams, every stream mode, many streams per launch.
#include <fstream>

#include "gpu_test_util.h"
#include "model/int8_tensor.h"
#include "model/model_loader.h"
#include "quant/weight_quant.h"

namespace dcllm {
namespace {

using gpu::StreamRef;
using gpu_test::encode;
using gpu_test::gaussian_with_outliers;

static_assert(gpu::kGemvMaxCols == kInt8GemmMaxCols);

// One stream through the GPU, compared with the CPU decoder (and the input).
void expect_gpu_round_trip(std::span<const uint8_t> v, const RansEncodeOptions& o, int warps = 0) {
  const auto enc = encode(v, o);
  std::vector<uint8_t> cpu(v.size());
  ASSERT_TRUE(rans_decode(enc, cpu).ok());
  const StreamRef ref{0, enc.size(), 0};
  std::vector<uint8_t> out;
  Status st = gpu_test::gpu_decode(enc, {&ref, 1}, v.size(), out, warps);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_TRUE(out == cpu);
  EXPECT_TRUE(std::equal(out.begin(), out.end(), v.begin()));
}

TEST(GpuDecode, DeviceStatusIsReported) {
  // Always runs: says which device the other tests use, or why they skip.
  const Status st = gpu::device_status();
  if (st.ok()) {
    auto info = gpu::device_info();
    ASSERT_TRUE(info.ok());
    std::printf("device: %s sm_%d%d, %d SMs\n", info->name.c_str(), info->sm_major, info->sm_minor,
                info->multiprocessors);
  } else {
    EXPECT_EQ(st.code(), StatusCode::kUnsupported) << st.message();
    std::printf("no device: %s\n", st.message().c_str());
  }
}

TEST(GpuDecode, RandomWeightsMatchTheCpuDecoder) {
  DCLLM_REQUIRE_GPU();
  RansEncodeOptions o;
  o.segment_bytes = 4096;
  for (size_t n : {1u, 63u, 64u, 65u, 4095u, 4096u, 4097u, 100000u, 1000003u}) {
    for (int p : {0, 8, 12}) {
      for (bool escapes : {false, true}) {
        SCOPED_TRACE(testing::Message() << "n=" << n << " p=" << p << " esc=" << escapes);
        o.precision = p;
        o.escapes = escapes;
        expect_gpu_round_trip(gaussian_with_outliers(n, 4, static_cast<uint32_t>(n), 300), o,
                              static_cast<int>(n % 8) + 1);
      }
    }
  }
}

TEST(GpuDecode, AdversarialStreamsMatchTheCpuDecoder) {
  DCLLM_REQUIRE_GPU();
  RansEncodeOptions o;
  o.segment_bytes = 8192;
  std::mt19937 rng(5);
  std::vector<uint8_t> wide(500000);
  for (auto& b : wide) b = static_cast<uint8_t>(rng() % 200);
  o.precision = 8;
  expect_gpu_round_trip(wide, o);
  // ~300 escapes per 64 KiB segment (the escape window reloads): a peaked core plus the
  // values 30..229, 6 times each per 128 KiB.
  o.precision = 12;
  o.segment_bytes = 1u << 16;
  auto rare = gaussian_with_outliers(8 << 17, 2, 11, 0);
  for (int value = 30; value < 230; ++value)
    for (int c = 0; c < 6 * 8; ++c) rare[rng() % rare.size()] = static_cast<uint8_t>(value);
  expect_gpu_round_trip(rare, o);
  o.segment_bytes = 8192;
  std::vector<uint8_t> skew(700000, 3);
  for (size_t i = 0; i < skew.size(); i += 997) skew[i] = 250;
  o.precision = 0;
  expect_gpu_round_trip(skew, o);
  for (uint32_t seg : {1u << 16, 1u << 18, 1u << 20}) {
    o.segment_bytes = seg;
    expect_gpu_round_trip(gaussian_with_outliers(size_t{seg} * 3 + 17, 6, seg, 200), o);
  }
}

TEST(GpuDecode, ManyStreamsOfEveryModeInOneLaunch) {
  DCLLM_REQUIRE_GPU();
  std::vector<std::vector<uint8_t>> raws;
  std::mt19937 rng(8);
  for (int i = 0; i < 40; ++i) {
    switch (i % 4) {
      case 0:
        raws.push_back(gaussian_with_outliers(20000 + 977 * i, 3, i, 200));
        break;
      case 1:
        raws.push_back(std::vector<uint8_t>(150000 + i, static_cast<uint8_t>(i)));
        break;
      case 2: {
        std::vector<uint8_t> noise(70000 + 13 * i);
        for (auto& b : noise) b = static_cast<uint8_t>(rng());
        raws.push_back(noise);
        break;
      }
      default:
        raws.push_back(gaussian_with_outliers(5000 + i, 8, i, 0));
    }
  }
  std::vector<uint8_t> coded, expect;
  std::vector<StreamRef> refs;
  RansEncodeOptions o;
  o.segment_bytes = 4096;
  for (const auto& r : raws) {
    auto enc = encode(r, o);
    coded.resize((coded.size() + 3) / 4 * 4);
    refs.push_back({coded.size(), enc.size(), expect.size()});
    coded.insert(coded.end(), enc.begin(), enc.end());
    expect.insert(expect.end(), r.begin(), r.end());
  }
  for (int warps : {0, 1, 5, 8, 32}) {
    std::vector<uint8_t> out;
    Status st = gpu_test::gpu_decode(coded, refs, expect.size(), out, warps);
    ASSERT_TRUE(st.ok()) << st.message();
    EXPECT_TRUE(out == expect) << "warps " << warps;
  }
}

TEST(GpuDecode, CorruptStreamVerdictsMatchTheCpuDecoder) {
  DCLLM_REQUIRE_GPU();
  RansEncodeOptions o;
  o.segment_bytes = 4096;
  const auto v = gaussian_with_outliers(30000, 6, 3, 100);
  const auto enc = encode(v, o);
  std::mt19937 rng(12);
  int rejected = 0;
  for (int trial = 0; trial < 300; ++trial) {
    auto bad = enc;
    bad[rng() % bad.size()] ^= static_cast<uint8_t>(1 + rng() % 255);
    std::vector<uint8_t> cpu(v.size());
    const Status cs = rans_decode(bad, cpu);
    auto raw = rans_raw_size(bad);
    Status gs = raw.status();
    std::vector<uint8_t> out;
    if (raw.ok()) {
      const StreamRef ref{0, bad.size(), 0};
      gs = *raw == v.size() ? gpu_test::gpu_decode(bad, {&ref, 1}, v.size(), out, 3)
                            : Corrupt("raw size changed");
    }
    ASSERT_EQ(cs.ok(), gs.ok()) << "trial " << trial << ": cpu '" << cs.message() << "' gpu '"
                                << gs.message() << "'";
    if (cs.ok()) {
      ASSERT_TRUE(out == cpu) << "trial " << trial;
    } else {
      EXPECT_EQ(gs.code(), StatusCode::kCorrupt) << gs.message();
      ++rejected;
    }
  }
  EXPECT_GT(rejected, 100);
}

TEST(GpuDecode, SmolLM2WeightsMatchTheCpuDecoder) {
  DCLLM_REQUIRE_GPU();
  const std::string path = gpu_test::smollm2_path();
  if (!std::ifstream(path).good()) GTEST_SKIP() << "SmolLM2 GGUF not found at " << path;
  auto model = load_model(path);
  ASSERT_TRUE(model.ok()) << model.status().message();
  // Every 2-D weight, per-channel INT8, each its own stream, all in one launch.
  std::vector<uint8_t> coded, expect;
  std::vector<StreamRef> refs;
  RansEncodeOptions o;
  o.segment_bytes = 65536;
  o.threads = 0;
  for (const ModelTensor& t : model->tensors()) {
    if (t.shape.size() != 2 || !t.data) continue;
    const auto rows = static_cast<size_t>(t.shape[0]), cols = static_cast<size_t>(t.shape[1]);
    Int8Layout scheme;
    scheme.scheme = QuantScheme::kPerChannel;
    auto q = quantize_weights_int8({t.data, rows * cols}, rows, cols, scheme);
    ASSERT_TRUE(q.ok()) << q.status().message();
    std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(q->values.data()),
                                   q->values.size());
    auto enc = encode(bytes, o);
    coded.resize((coded.size() + 63) / 64 * 64);
    refs.push_back({coded.size(), enc.size(), expect.size()});
    coded.insert(coded.end(), enc.begin(), enc.end());
    expect.insert(expect.end(), bytes.begin(), bytes.end());
  }
  ASSERT_GT(refs.size(), 200u);
  std::vector<uint8_t> out;
  Status st = gpu_test::gpu_decode(coded, refs, expect.size(), out);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_TRUE(out == expect);
}

}  // namespace
}  // namespace dcllm
