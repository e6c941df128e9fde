// run_fused_benchmark: per INT8 linear of a .dcllm, three ways to run y = W·x: the INT8 GEMV on
// values decoded at load; decode every chunk into a whole-matrix buffer (threads over the
// chunks), then that GEMV; and fused_int8_forward, each thread decoding a chunk into its own
// small buffer and multiplying it at once. Rounds interleave the methods so load noise on a
// shared machine hits all three; per-call times are summed per matrix and method.
#include "eval/fused_benchmark.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <random>

#include "core/byte_size.h"
#include "core/parallel.h"
#include "dcllm/codec.h"
#include "fmt/format.h"
#include "runtime/fused_linear.h"
#include "runtime/linear_int8.h"
#include "runtime/model_workload.h"

namespace dcllm {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

struct Matrix {
  std::string name;
  Int8MatrixView view;  // values: the decoded matrix
  std::vector<int8_t> values;
  std::vector<float> scales;
  std::vector<FusedChunk> chunks;
  std::vector<std::vector<uint8_t>> stored;
  std::vector<uint64_t> raw_offset;
  std::vector<const Codec*> codecs;  // null: stored raw
  std::vector<int8_t> whole;         // decode-then-GEMV's buffer
  uint64_t stored_bytes = 0;
  double t_fused = 0, t_dtg = 0, t_gemv = 0;
};

class CodecCache {
 public:
  Expected<const Codec*> get(const std::string& name) {
    if (name == "raw") return static_cast<const Codec*>(nullptr);
    auto it = codecs_.find(name);
    if (it == codecs_.end()) {
      DCLLM_ASSIGN_OR_RETURN(auto c, make_codec(name));
      it = codecs_.emplace(name, std::move(c)).first;
    }
    return static_cast<const Codec*>(it->second.get());
  }

 private:
  std::map<std::string, std::unique_ptr<Codec>> codecs_;
};

Status decode(const Matrix& m, size_t k, std::span<int8_t> out) {
  auto dst = std::span(reinterpret_cast<uint8_t*>(out.data()), out.size());
  if (!m.codecs[k]) {
    std::memcpy(dst.data(), m.stored[k].data(), dst.size());
    return Status::Ok();
  }
  return m.codecs[k]->decompress(m.stored[k], dst);
}

Expected<Matrix> load_matrix(const ModelContainer& c, size_t t, const FusedBenchOptions& o,
                             CodecCache& codecs) {
  const TensorEntry& e = c.tensors()[t];
  Matrix m;
  m.name = e.spec.name;
  m.values.resize(static_cast<size_t>(e.raw_bytes));
  DCLLM_RETURN_IF_ERROR(c.read_tensor(
      e.spec.name, std::span(reinterpret_cast<uint8_t*>(m.values.data()), m.values.size()), 1));
  m.scales = e.spec.quant.scales;
  m.view.scheme = e.spec.quant.scheme;
  m.view.rows = static_cast<int64_t>(e.spec.shape[0]);
  m.view.cols = static_cast<int64_t>(e.spec.shape[1]);
  m.view.group = e.spec.quant.group_size;
  m.view.values = m.values.data();
  m.view.scales = m.scales.data();
  const auto cols = static_cast<uint64_t>(m.view.cols);
  if (o.rechunk.rows == 0 && o.rechunk.bytes == 0) {
    for (size_t k = 0; k < e.chunks.size(); ++k) {
      const ChunkInfo& ci = e.chunks[k];
      auto bytes = c.chunk_bytes(t, k);
      m.stored.emplace_back(bytes.begin(), bytes.end());
      DCLLM_ASSIGN_OR_RETURN(const Codec* codec, codecs.get(ci.codec));
      m.codecs.push_back(codec);
      m.chunks.push_back({static_cast<int64_t>(ci.first_row), static_cast<int64_t>(ci.row_count)});
      m.raw_offset.push_back(ci.raw_offset);
    }
  } else {
    DCLLM_ASSIGN_OR_RETURN(ChunkRowSplit split, split_tensor_rows(e.spec, o.rechunk));
    DCLLM_ASSIGN_OR_RETURN(const Codec* codec, codecs.get(o.codec));
    for (uint64_t k = 0; k < split.chunks; ++k) {
      const uint64_t first = split.first_row(k), count = split.row_count(k);
      auto raw = std::span(reinterpret_cast<const uint8_t*>(m.values.data()) + first * cols,
                           static_cast<size_t>(count * cols));
      std::vector<uint8_t> coded;
      if (codec)
        DCLLM_RETURN_IF_ERROR(codec->compress(raw, coded));
      else
        coded.assign(raw.begin(), raw.end());
      m.stored.push_back(std::move(coded));
      m.codecs.push_back(codec);
      m.chunks.push_back({static_cast<int64_t>(first), static_cast<int64_t>(count)});
      m.raw_offset.push_back(first * cols);
    }
  }
  for (const auto& s : m.stored) m.stored_bytes += s.size();
  m.whole.resize(m.values.size());
  return m;
}

}  // namespace

Expected<FusedBenchReport> run_fused_benchmark(const std::string& model,
                                               const FusedBenchOptions& o) {
  if (o.batch < 1 || o.batch > 4096)
    return InvalidArgument("bench fused: --batch must be in 1..4096");
  DCLLM_ASSIGN_OR_RETURN(ModelContainer c, ModelContainer::open(model));
  FusedBenchReport rep;
  rep.model = model;
  rep.threads = std::max(1u, o.threads);
  rep.batch = o.batch;
  rep.chunking = o.rechunk.rows    ? fmt::format("{} rows", o.rechunk.rows)
                 : o.rechunk.bytes ? format_byte_size(o.rechunk.bytes)
                                   : std::string("file");
  CodecCache codecs;
  auto is_linear = [](const TensorEntry& e) {
    return e.spec.dtype == DType::kI8 && e.spec.shape.size() == 2 && e.raw_bytes != 0 &&
           e.spec.quant.scheme != QuantScheme::kNone && e.spec.name != kTokenEmbeddingTensor;
  };
  auto progress = [&o](std::string_view stage, size_t done, size_t total) {
    if (o.on_progress)
      o.on_progress(stage, static_cast<int64_t>(done), static_cast<int64_t>(total));
  };
  size_t to_load = 0;
  for (const TensorEntry& e : c.tensors()) to_load += is_linear(e) ? 1 : 0;
  if (o.max_matrices) to_load = std::min(to_load, o.max_matrices);
  std::vector<Matrix> ms;
  for (size_t t = 0; t < c.tensors().size(); ++t) {
    if (!is_linear(c.tensors()[t])) continue;
    if (o.max_matrices && ms.size() >= o.max_matrices) break;
    DCLLM_ASSIGN_OR_RETURN(Matrix m, load_matrix(c, t, o, codecs));
    ms.push_back(std::move(m));
    progress("load", ms.size(), to_load);
  }
  if (ms.empty()) return InvalidArgument(model + ": no INT8 linear to multiply with");

  int64_t max_cols = 0, max_rows = 0;
  for (const Matrix& m : ms) {
    max_cols = std::max(max_cols, m.view.cols);
    max_rows = std::max(max_rows, m.view.rows);
    for (const FusedChunk& ch : m.chunks)
      rep.largest_chunk_bytes = std::max<uint64_t>(
          rep.largest_chunk_bytes, static_cast<uint64_t>(ch.row_count * m.view.cols));
  }
  const auto B = static_cast<size_t>(o.batch);
  std::vector<float> x(B * static_cast<size_t>(max_cols));
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (float& v : x) v = normal(rng);
  std::vector<float> y_gemv(B * static_cast<size_t>(max_rows)), y_fused(y_gemv.size()),
      y_dtg(y_gemv.size());
  const unsigned threads = rep.threads;

  auto params = [](const Matrix& m, const int8_t* values) {
    Int8LinearParams p;
    p.weights = m.view;
    p.weights.values = values;
    return p;
  };
  auto gemv = [&](Matrix& m) {
    linear_int8_forward(params(m, m.values.data()), x.data(), B, y_gemv.data(), threads);
    return Status::Ok();
  };
  auto dtg = [&](Matrix& m) -> Status {
    std::vector<Status> st(m.chunks.size());
    parallel_for(m.chunks.size(), threads, [&](size_t k) {
      const auto n = static_cast<size_t>(m.chunks[k].row_count * m.view.cols);
      st[k] = decode(m, k, std::span(m.whole).subspan(static_cast<size_t>(m.raw_offset[k]), n));
    });
    for (Status& s : st) DCLLM_RETURN_IF_ERROR(s);
    linear_int8_forward(params(m, m.whole.data()), x.data(), B, y_dtg.data(), threads);
    return Status::Ok();
  };
  auto fused = [&](Matrix& m) {
    auto rows_of = [&](size_t k, std::span<int8_t> scratch) -> Expected<const int8_t*> {
      if (!m.codecs[k]) return reinterpret_cast<const int8_t*>(m.stored[k].data());
      DCLLM_RETURN_IF_ERROR(decode(m, k, scratch));
      return static_cast<const int8_t*>(scratch.data());
    };
    return fused_int8_forward(params(m, nullptr), m.chunks, rows_of, nullptr, x.data(), B,
                              y_fused.data(), threads);
  };

  // Correctness once: fused and decode-then-GEMV against the plain GEMV, bit for bit.
  rep.identical = true;
  for (Matrix& m : ms) {
    DCLLM_RETURN_IF_ERROR(gemv(m));
    DCLLM_RETURN_IF_ERROR(fused(m));
    DCLLM_RETURN_IF_ERROR(dtg(m));
    const size_t n = B * static_cast<size_t>(m.view.rows);
    const bool same = std::memcmp(y_gemv.data(), y_fused.data(), n * sizeof(float)) == 0 &&
                      std::memcmp(y_gemv.data(), y_dtg.data(), n * sizeof(float)) == 0;
    rep.identical = rep.identical && same;
    rep.matrices.push_back({m.name, m.view.rows, m.view.cols, m.chunks.size(),
                            static_cast<uint64_t>(m.values.size()), m.stored_bytes, 0, 0, 0, same});
    progress("check", rep.matrices.size(), ms.size());
  }
  // One-thread decode rate of the chunks (what the fused path's threads each do).
  {
    std::vector<int8_t> buf(static_cast<size_t>(rep.largest_chunk_bytes));
    uint64_t raw = 0;
    const auto t0 = Clock::now();
    for (const Matrix& m : ms)
      for (size_t k = 0; k < m.chunks.size(); ++k) {
        const auto n = static_cast<size_t>(m.chunks[k].row_count * m.view.cols);
        DCLLM_RETURN_IF_ERROR(decode(m, k, std::span(buf).first(n)));
        raw += n;
      }
    rep.rans_decode_mbps = static_cast<double>(raw) / seconds_since(t0) / 1e6;
  }

  // Rounds: each runs every method once over every matrix, in a rotating order.
  auto timed = [&](auto&& method, Matrix& m, double& acc) -> Status {
    const auto t0 = Clock::now();
    Status st = method(m);
    acc += seconds_since(t0);
    return st;
  };
  const auto start = Clock::now();
  int rounds = 0;
  for (bool more = true; more;) {
    for (Matrix& m : ms) {
      for (int j = 0; j < 3; ++j) {
        switch ((j + rounds) % 3) {
          case 0:
            DCLLM_RETURN_IF_ERROR(timed(gemv, m, m.t_gemv));
            break;
          case 1:
            DCLLM_RETURN_IF_ERROR(timed(dtg, m, m.t_dtg));
            break;
          default:
            DCLLM_RETURN_IF_ERROR(timed(fused, m, m.t_fused));
            break;
        }
      }
    }
    ++rounds;
    const double elapsed = seconds_since(start);
    more = rounds < 3 || elapsed < o.seconds;
    // Between rounds, outside the timed calls. The rounds still to come are estimated from
    // the mean round so far; the last call has done == total, which ends the line at 100%.
    size_t expected = static_cast<size_t>(rounds);
    if (more) {
      const double per_round = elapsed / rounds;
      const double by_time = per_round > 0 ? std::ceil(o.seconds / per_round) : 0.0;
      expected = std::max<size_t>({3, expected + 1, static_cast<size_t>(by_time)});
    }
    progress("measure", static_cast<size_t>(rounds), expected);
  }
  double tf = 0, td = 0, tg = 0;
  for (size_t i = 0; i < ms.size(); ++i) {
    const Matrix& m = ms[i];
    FusedMatrixResult& r = rep.matrices[i];
    const double bytes = static_cast<double>(r.raw_bytes) * rounds / 1e6;
    r.fused_mbps = bytes / m.t_fused;
    r.decode_then_gemv_mbps = bytes / m.t_dtg;
    r.int8_gemv_mbps = bytes / m.t_gemv;
    rep.raw_bytes += r.raw_bytes;
    rep.stored_bytes += r.stored_bytes;
    tf += m.t_fused;
    td += m.t_dtg;
    tg += m.t_gemv;
  }
  const double all = static_cast<double>(rep.raw_bytes) * rounds / 1e6;
  rep.fused_mbps = all / tf;
  rep.decode_then_gemv_mbps = all / td;
  rep.int8_gemv_mbps = all / tg;
  return rep;
}

}  // namespace dcllm
