// int8_gemm dispatch and the scalar reference kernel: picks the widest kernel the CPU has,
// splits the output features into tasks for the threads, and keeps small products on one thread.
#include "runtime/int8_gemm.h"

#include <algorithm>
#include <string>

#include "core/cpu_features.h"
#include "core/parallel.h"

namespace dcllm {
namespace {

// Below this many multiply-adds handing work to the pool (a few microseconds) costs more than a
// second thread saves. Generation's GEMVs are small (SmolLM2: 110K-885K multiply-adds each, a
// 576x576 one ~10 us on one core): at the old 2^20 they all ran on one thread, the classifier
// apart, and 2 threads generated no faster than 1 (68 vs 68 tok/s; 2^16: 92-107).
constexpr size_t kMinParallelWork = size_t{1} << 16;
// Output features per task: a multiple of every kernel's row tile, small enough to balance.
constexpr int kRowsPerTask = 64;

using BlockKernel = void (*)(const Int8Activations&, const Int8MatrixView&, const float*, float*,
                             int, int);

BlockKernel kernel_fn(Int8Kernel kernel) {
  switch (kernel) {
    case Int8Kernel::kAvx512Vnni:
      return int8_gemm_block_avx512vnni;
    case Int8Kernel::kAvx2:
      return int8_gemm_block_avx2;
    case Int8Kernel::kGeneric:
      break;
  }
  return int8_gemm_block_generic;
}

float weight_scale(const Int8MatrixView& w, int n) {
  return w.scheme == QuantScheme::kPerChannel ? w.scales[n] : w.scales[0];
}

}  // namespace

Status validate_int8_weights(const Int8MatrixView& w) {
  if (w.rows <= 0 || w.cols <= 0)
    return InvalidArgument("int8 weights: shape " + std::to_string(w.rows) + "x" +
                           std::to_string(w.cols) + " is empty");
  if (w.cols > kInt8GemmMaxCols)
    return InvalidArgument("int8 weights: " + std::to_string(w.cols) +
                           " columns exceed the int32-exact limit " +
                           std::to_string(kInt8GemmMaxCols));
  if (w.rows > (int64_t{1} << 30))  // the kernels index rows with int
    return InvalidArgument("int8 weights: " + std::to_string(w.rows) + " rows");
  if (w.values == nullptr || w.scales == nullptr)
    return InvalidArgument("int8 weights: null data or scales");
  switch (w.scheme) {
    case QuantScheme::kPerTensor:
    case QuantScheme::kPerChannel:
      return Status::Ok();
    case QuantScheme::kGroup:
      if (w.group <= 0)
        return InvalidArgument("int8 weights: group size " + std::to_string(w.group));
      return Status::Ok();
    case QuantScheme::kNone:
      break;
  }
  return Unsupported("int8 weights: quant scheme " +
                     std::to_string(static_cast<unsigned>(w.scheme)) + " has no int8 kernel");
}

namespace {

// The four-lane sum of the header's contract for activation blocks.
struct LaneSum {
  float lane[4] = {0.0f, 0.0f, 0.0f, 0.0f};
  size_t segment = 0;
  void add(int32_t dot, float c) {
    float& l = lane[segment++ % 4];
    l = l + static_cast<float>(dot) * c;
  }
  float total() const { return (lane[0] + lane[1]) + (lane[2] + lane[3]); }
};

int32_t dot_range(const int8_t* x, const int8_t* w, size_t begin, size_t end) {
  int32_t dot = 0;
  for (size_t k = begin; k < end; ++k) dot += int32_t{x[k]} * int32_t{w[k]};
  return dot;
}

// Activation blocks: per-tensor / per-channel weights sum the blocks; grouped weights sum the
// pieces between consecutive group or block boundaries, each with both scales.
void generic_activation_blocks(const Int8Activations& x, const Int8MatrixView& w, const float* bias,
                               float* y, int n_begin, int n_end) {
  const size_t K = static_cast<size_t>(w.cols);
  const size_t N = static_cast<size_t>(w.rows);
  const size_t B = static_cast<size_t>(x.block);
  const auto blocks = static_cast<size_t>(x.blocks());
  const bool grouped = w.scheme == QuantScheme::kGroup;
  const size_t G = grouped ? static_cast<size_t>(w.group) : K;
  const auto groups = static_cast<size_t>(w.groups_per_row());
  for (int m = 0; m < x.rows; ++m) {
    const int8_t* xm = x.data + static_cast<size_t>(m) * K;
    const float* sx = x.scales + static_cast<size_t>(m) * blocks;
    for (int n = n_begin; n < n_end; ++n) {
      const int8_t* wn = w.values + static_cast<size_t>(n) * K;
      LaneSum sum;
      float out;
      if (!grouped) {
        for (size_t b = 0; b < blocks; ++b)
          sum.add(dot_range(xm, wn, b * B, std::min(K, b * B + B)), sx[b]);
        out = sum.total() * weight_scale(w, n);
      } else {
        const float* sw = w.scales + static_cast<size_t>(n) * groups;
        for (size_t k = 0; k < K;) {
          const size_t end = std::min({K, (k / B + 1) * B, (k / G + 1) * G});
          sum.add(dot_range(xm, wn, k, end), sx[k / B] * sw[k / G]);
          k = end;
        }
        out = sum.total();
      }
      y[static_cast<size_t>(m) * N + n] = bias ? out + bias[n] : out;
    }
  }
}

}  // namespace

void int8_gemm_block_generic(const Int8Activations& x, const Int8MatrixView& w, const float* bias,
                             float* y, int n_begin, int n_end) {
  if (x.block > 0) return generic_activation_blocks(x, w, bias, y, n_begin, n_end);
  const size_t K = static_cast<size_t>(w.cols);
  const size_t N = static_cast<size_t>(w.rows);
  const bool grouped = w.scheme == QuantScheme::kGroup;
  const size_t G = grouped ? static_cast<size_t>(w.group) : K;
  const auto groups = static_cast<size_t>(w.groups_per_row());
  for (int m = 0; m < x.rows; ++m) {
    const int8_t* xm = x.data + static_cast<size_t>(m) * K;
    const float sx = x.scales[x.per_tensor ? 0 : m];
    for (int n = n_begin; n < n_end; ++n) {
      const int8_t* wn = w.values + static_cast<size_t>(n) * K;
      float out;
      if (!grouped) {
        int32_t dot = 0;
        for (size_t k = 0; k < K; ++k) dot += int32_t{xm[k]} * int32_t{wn[k]};
        out = static_cast<float>(dot) * (sx * weight_scale(w, n));
      } else {
        const float* sw = w.scales + static_cast<size_t>(n) * groups;
        float sum = 0.0f;
        for (size_t g = 0; g < groups; ++g) {
          int32_t dot = 0;
          for (size_t k = g * G; k < std::min(K, g * G + G); ++k)
            dot += int32_t{xm[k]} * int32_t{wn[k]};
          sum += static_cast<float>(dot) * sw[g];
        }
        out = sx * sum;
      }
      y[static_cast<size_t>(m) * N + n] = bias ? out + bias[n] : out;
    }
  }
}

const char* int8_kernel_name(Int8Kernel kernel) {
  switch (kernel) {
    case Int8Kernel::kAvx512Vnni:
      return "avx512vnni";
    case Int8Kernel::kAvx2:
      return "avx2";
    case Int8Kernel::kGeneric:
      break;
  }
  return "generic";
}

bool int8_kernel_available(Int8Kernel kernel) {
  const CpuFeatures& f = cpu_features();
  switch (kernel) {
    case Int8Kernel::kAvx512Vnni:
      return f.avx512_vnni;
    case Int8Kernel::kAvx2:
      return f.avx2 && __builtin_cpu_supports("fma");
    case Int8Kernel::kGeneric:
      return true;
  }
  return false;
}

Int8Kernel int8_best_kernel() {
  static const Int8Kernel best = [] {
    if (int8_kernel_available(Int8Kernel::kAvx512Vnni)) return Int8Kernel::kAvx512Vnni;
    if (int8_kernel_available(Int8Kernel::kAvx2)) return Int8Kernel::kAvx2;
    return Int8Kernel::kGeneric;
  }();
  return best;
}

void int8_gemm_with(Int8Kernel kernel, const Int8Activations& x, const Int8MatrixView& w,
                    const float* bias, float* y, unsigned threads) {
  const BlockKernel fn = kernel_fn(kernel);
  const size_t work =
      static_cast<size_t>(x.rows) * static_cast<size_t>(w.rows) * static_cast<size_t>(w.cols);
  const int rows = static_cast<int>(w.rows);  // validate_int8_weights bounds it
  const int tasks = (rows + kRowsPerTask - 1) / kRowsPerTask;
  if (threads == 1 || work < kMinParallelWork || tasks < 2) {
    fn(x, w, bias, y, 0, rows);
    return;
  }
  parallel_for(static_cast<size_t>(tasks), threads, [&](size_t t) {
    const int begin = static_cast<int>(t) * kRowsPerTask;
    fn(x, w, bias, y, begin, std::min(rows, begin + kRowsPerTask));
  });
}

void int8_gemm(const Int8Activations& x, const Int8MatrixView& w, const float* bias, float* y,
               unsigned threads) {
  // At 1-3 tokens (generation) the AVX2 kernel streams each weight row once with prefetch; the
  // AVX-512 one works in 4-row tiles built for batches. Measured on an AMD EPYC with AVX-512
  // VNNI (SmolLM2-135M's 30 layers, one token, thread CPU time): 6.1-6.8 ms against 14.6-15.8.
  // Every kernel gives the same bits, so the choice is free.
  Int8Kernel kernel = int8_best_kernel();
  if (kernel == Int8Kernel::kAvx512Vnni && x.rows < 4 && int8_kernel_available(Int8Kernel::kAvx2))
    kernel = Int8Kernel::kAvx2;
  int8_gemm_with(kernel, x, w, bias, y, threads);
}

}  // namespace dcllm
