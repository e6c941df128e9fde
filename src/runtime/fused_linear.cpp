// fused_int8_forward: one activation quantization, then parallel_for over the chunks; each
// thread decodes into its own buffer (sized to the largest chunk, so it stays in L1/L2) and
// runs the one-thread GEMM on the chunk's rows right away.
#include "runtime/fused_linear.h"

#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <vector>

#include "core/parallel.h"
#include "runtime/activation_quant.h"

namespace dcllm {
namespace {

// A thread's decode buffer and, for batches, its output tile. Grown, never shrunk: the pool's
// threads persist, so one allocation serves every token.
struct ThreadBuffers {
  struct Free {
    void operator()(int8_t* p) const { std::free(p); }
  };
  std::unique_ptr<int8_t, Free> rows;
  size_t rows_size = 0;
  std::vector<float> tile;

  std::span<int8_t> scratch(size_t bytes) {
    if (bytes > rows_size || !rows) {
      const size_t size = (bytes + 63) / 64 * 64 + 64;
      rows.reset(static_cast<int8_t*>(std::aligned_alloc(64, size)));
      if (!rows) throw std::bad_alloc();
      rows_size = size;
    }
    return {rows.get(), bytes};
  }
};

ThreadBuffers& thread_buffers() {
  thread_local ThreadBuffers b;
  return b;
}

}  // namespace

Status fused_int8_forward(const Int8LinearParams& p, std::span<const FusedChunk> chunks,
                          const FusedChunkRows& rows_of, const FusedChunkDone& done, const float* x,
                          size_t rows, float* y, unsigned threads, Int8Kernel kernel) {
  thread_local Int8ActivationBuffer act;
  thread_local std::vector<float> scaled;
  const Int8MatrixView& w = p.weights;
  const int cols = static_cast<int>(w.cols);
  const auto N = static_cast<size_t>(w.rows);
  if (p.input_scale) {  // exactly linear_int8_forward's float operations
    scaled.resize(rows * static_cast<size_t>(cols));
    for (size_t r = 0; r < rows; ++r) {
      const float* in = x + r * static_cast<size_t>(cols);
      float* out = scaled.data() + r * static_cast<size_t>(cols);
      for (int k = 0; k < cols; ++k) out[k] = in[k] * p.input_scale[k];
    }
    x = scaled.data();
  }
  // Weight-only INT8 (float activations, a diagnostic setting): each chunk through
  // linear_int8_forward on its rows, which dequantizes them; otherwise quantize once for all.
  const bool float_activations = p.activations.scheme == ActivationScheme::kFloat;
  Int8Activations a;
  if (!float_activations) a = act.quantize(x, static_cast<int>(rows), cols, p.activations);

  std::vector<Status> statuses(chunks.size());
  parallel_for(chunks.size(), threads, [&](size_t k) {
    const FusedChunk& c = chunks[k];
    ThreadBuffers& b = thread_buffers();
    Expected<const int8_t*> values = Internal("fused linear: no rows");
    try {
      values = rows_of(k, b.scratch(static_cast<size_t>(c.row_count) * static_cast<size_t>(cols)));
    } catch (const std::bad_alloc&) {
      values = Internal("fused linear: out of memory for a chunk buffer");
    }
    if (!values.ok()) {
      statuses[k] = values.status();
      if (done) done(k);
      return;
    }
    Int8MatrixView v = w;
    v.rows = c.row_count;
    v.values = *values;
    v.scales = w.scales + w.scale_index(c.first_row, 0);
    const float* bias = p.bias ? p.bias + c.first_row : nullptr;
    const auto rc = static_cast<size_t>(c.row_count);
    auto product = [&](float* out) {
      if (!float_activations) return int8_gemm_with(kernel, a, v, bias, out, 1);
      Int8LinearParams q = p;
      q.weights = v;
      q.bias = bias;
      q.input_scale = nullptr;  // x is already scaled
      linear_int8_forward(q, x, rows, out, 1);
    };
    if (rows == 1) {
      product(y + c.first_row);
    } else {
      b.tile.resize(rows * rc);
      product(b.tile.data());
      for (size_t m = 0; m < rows; ++m)
        std::memcpy(y + m * N + static_cast<size_t>(c.first_row), b.tile.data() + m * rc,
                    rc * sizeof(float));
    }
    if (done) done(k);
  });
  for (Status& st : statuses)
    if (!st.ok()) return st;
  return Status::Ok();
}

}  // namespace dcllm
