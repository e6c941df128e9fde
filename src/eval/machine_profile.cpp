// The measurements behind `dcllm bench machine`. Each figure repeats its operation for about
// seconds_per_figure and keeps the best repetition's rate (neighbours only ever slow a run
// down); the storage figure is one cold pass, since a second pass would not be cold.
#include "eval/machine_profile.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <memory>
#include <numeric>
#include <thread>
#include <vector>

#include "core/mapped_file.h"
#include "core/temp_files.h"
#include "dcllm/codec.h"
#include "dcllm/rans.h"
#include "eval/synthetic_weights.h"
#include "fmt/format.h"
#include "runtime/int8_gemm.h"
#include "runtime/linear_int8.h"
#include "runtime/model_workload.h"

namespace dcllm {
namespace {

using Clock = std::chrono::steady_clock;

double since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

struct AlignedFree {
  void operator()(uint8_t* p) const { std::free(p); }
};
using AlignedBytes = std::unique_ptr<uint8_t, AlignedFree>;

AlignedBytes aligned_bytes(size_t n, size_t align = 4096) {
  auto* p = static_cast<uint8_t*>(std::aligned_alloc(align, (n + align - 1) / align * align));
  if (!p) throw std::bad_alloc();
  return AlignedBytes(p);
}

// Best rate (bytes / s) of `op` (which processes `bytes` per call) over repetitions lasting
// about `seconds` in all (at least 3).
template <typename Op>
double best_rate(uint64_t bytes, double seconds, Op op) {
  double best = 0;
  const auto t_all = Clock::now();
  for (int i = 0; i < 3 || since(t_all) < seconds; ++i) {
    const auto t0 = Clock::now();
    op();
    const double s = since(t0);
    if (s > 0) best = std::max(best, static_cast<double>(bytes) / s);
    if (i > 10000) break;
  }
  return best / 1e6;
}

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

// Writes `bytes` of pseudo-random data (nothing a storage layer could compress or dedupe),
// syncs, drops it from the page cache and reads it back once.
Status read_cold(int src_fd, uint64_t total, const std::string& where,
                 const MachineMeasureOptions& o, MachineProfile& p);

Status measure_existing(const MachineMeasureOptions& o, MachineProfile& p) {
  DCLLM_ASSIGN_OR_RETURN(const int raw_fd, open_regular_file(o.read_file));
  Fd file;
  file.fd = raw_fd;
  struct stat st {};
  if (::fstat(file.fd, &st) != 0)
    return IoError(fmt::format("{}: cannot stat: {}", o.read_file, std::strerror(errno)));
  const uint64_t total =
      std::min<uint64_t>(static_cast<uint64_t>(st.st_size), o.storage_bytes) / 4096 * 4096;
  if (total < (uint64_t{4} << 20))
    return InvalidArgument(
        fmt::format("{}: too small to time reads (at least 4 MiB)", o.read_file));
  return read_cold(file.fd, total, o.read_file, o, p);
}

Status measure_storage(const MachineMeasureOptions& o, MachineProfile& p) {
  if (!o.read_file.empty()) return measure_existing(o, p);
  const std::string dir = o.dir.empty() ? std::filesystem::temp_directory_path().string() : o.dir;
  Fd file;
  std::string named;  // set when the file system refuses unnamed files
  int slot = -1;
  file.fd = open_unnamed_temp(dir, /*linkable=*/false);
  if (file.fd < 0) {
    DCLLM_ASSIGN_OR_RETURN(NamedTemp t, create_named_temp(dir + "/dcllm-bench-machine-"));
    file.fd = t.fd;
    named = t.path;
    slot = register_temp_path(named);
  }
  struct Cleanup {
    std::string path;
    int slot;
    ~Cleanup() {
      if (path.empty()) return;
      ::unlink(path.c_str());
      if (slot >= 0) unregister_temp_path(slot);
    }
  } cleanup{named, slot};
  const std::string where = named.empty() ? dir + " (unnamed temporary file)" : named;

  const size_t block = size_t{4} << 20;
  const uint64_t total = std::max<uint64_t>(o.storage_bytes / block, 1) * block;
  std::vector<uint64_t> buf(block / 8);
  uint64_t x = 0x9e3779b97f4a7c15ull;
  for (uint64_t written = 0; written < total; written += block) {
    for (uint64_t& v : buf) {  // xorshift64
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      v = x;
    }
    const auto* b = reinterpret_cast<const uint8_t*>(buf.data());
    size_t done = 0;
    while (done < block) {
      const ssize_t n =
          ::pwrite(file.fd, b + done, block - done, static_cast<off_t>(written + done));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return IoError(fmt::format("{}: write failed: {}", where, std::strerror(errno)));
      done += static_cast<size_t>(n);
    }
  }
  if (::fsync(file.fd) != 0)
    return IoError(fmt::format("{}: fsync failed: {}", where, std::strerror(errno)));
  return read_cold(file.fd, total, where, o, p);
}

// One pass over [0, total) of `fd` with O_DIRECT through a second descriptor (works for
// unnamed files too), else buffered after dropping the pages (what ChunkFile falls back to).
Status read_cold(int src_fd, uint64_t total, const std::string& where,
                 const MachineMeasureOptions& o, MachineProfile& p) {
  ::posix_fadvise(src_fd, 0, static_cast<off_t>(total), POSIX_FADV_DONTNEED);

  Fd direct;
  direct.fd =
      ::open(fmt::format("/proc/self/fd/{}", src_fd).c_str(), O_RDONLY | O_DIRECT | O_CLOEXEC);
  const size_t req = static_cast<size_t>(std::max<uint64_t>(o.read_request_bytes / 4096, 1) * 4096);
  AlignedBytes rbuf = aligned_bytes(req);
  auto read_all = [&](int fd) -> Expected<double> {
    const auto t0 = Clock::now();
    for (uint64_t off = 0; off < total;) {
      const ssize_t n =
          ::pread(fd, rbuf.get(), static_cast<size_t>(std::min<uint64_t>(req, total - off)),
                  static_cast<off_t>(off));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EINVAL) return InvalidArgument("O_DIRECT refused");
      if (n <= 0)
        return IoError(fmt::format("{}: read failed: {}", where,
                                   n < 0 ? std::strerror(errno) : "end of file"));
      off += static_cast<uint64_t>(n);
    }
    return static_cast<double>(total) / since(t0) / 1e6;
  };
  if (direct.fd >= 0) {
    auto r = read_all(direct.fd);
    if (r.ok()) {
      p.storage_read_mbps = *r;
      p.storage_method = "o_direct";
      return Status::Ok();
    }
    if (r.status().code() != StatusCode::kInvalidArgument) return r.status();
  }
  // Buffered, after dropping the pages (what ChunkFile falls back to).
  ::posix_fadvise(src_fd, 0, static_cast<off_t>(total), POSIX_FADV_DONTNEED);
  DCLLM_ASSIGN_OR_RETURN(p.storage_read_mbps, read_all(src_fd));
  p.storage_method = "pread+fadvise";
  return Status::Ok();
}

// Sums 64-bit words of a buffer larger than the caches with t threads.
void measure_memory(const MachineMeasureOptions& o, unsigned max_threads, MachineProfile& p) {
  const size_t words = static_cast<size_t>(o.memory_bytes / 8);
  std::vector<uint64_t> mem(words);
  std::iota(mem.begin(), mem.end(), uint64_t{1});
  std::atomic<uint64_t> sink{0};
  for (unsigned t = 1; t <= max_threads; ++t) {
    p.memory_read_mbps.push_back(best_rate(words * 8, o.seconds_per_figure, [&] {
      std::vector<std::thread> pool;
      for (unsigned i = 0; i < t; ++i) {
        pool.emplace_back([&, i] {
          const size_t b = words * i / t, e = words * (i + 1) / t;
          uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
          size_t k = b;
          for (; k + 4 <= e; k += 4)
            s0 += mem[k], s1 += mem[k + 1], s2 += mem[k + 2], s3 += mem[k + 3];
          for (; k < e; ++k) s0 += mem[k];
          sink += s0 + s1 + s2 + s3;
        });
      }
      for (auto& th : pool) th.join();
    }));
  }
  std::vector<uint64_t> dst(words / 2);
  p.memory_copy_mbps = best_rate(dst.size() * 8, o.seconds_per_figure, [&] {
    std::memcpy(dst.data(), mem.data(), dst.size() * 8);
    sink += dst[dst.size() / 3];
  });
}

struct GemvSetup {
  std::vector<int8_t> w, x;
  std::vector<float> scales, x_scales, y;
  Int8MatrixView weights;
  Int8Activations acts;
  GemvSetup(int rows, int cols, int batch) {
    w.resize(static_cast<size_t>(rows) * cols);
    uint32_t s = 12345;
    for (int8_t& v : w)
      s = s * 1664525u + 1013904223u, v = static_cast<int8_t>((s >> 24) % 255 - 127);
    x.resize(static_cast<size_t>(batch) * cols);
    for (int8_t& v : x)
      s = s * 1664525u + 1013904223u, v = static_cast<int8_t>((s >> 24) % 255 - 127);
    scales.assign(static_cast<size_t>(rows), 0.01f);
    x_scales.assign(static_cast<size_t>(batch), 0.02f);
    y.resize(static_cast<size_t>(batch) * rows);
    weights.scheme = QuantScheme::kPerChannel;
    weights.rows = rows;
    weights.cols = cols;
    weights.values = w.data();
    weights.scales = scales.data();
    acts = {x.data(), batch, cols, x_scales.data(), false};
  }
  void run(unsigned threads) { int8_gemm(acts, weights, nullptr, y.data(), threads); }
  uint64_t bytes() const { return w.size(); }
};

}  // namespace

Expected<MachineProfile> measure_machine_profile(const MachineMeasureOptions& o) {
  MachineProfile p;
  p.threads = std::max(1u, o.threads);
  p.cores = std::max(1u, std::thread::hardware_concurrency());
  p.prompt_batch = std::max<int64_t>(o.prompt_batch, 2);
  const unsigned max_decode = o.max_decode_threads ? o.max_decode_threads : p.cores;
  const unsigned max_mem = o.max_memory_threads ? o.max_memory_threads : p.cores;

  DCLLM_RETURN_IF_ERROR(measure_storage(o, p));
  measure_memory(o, max_mem, p);

  // rANS on INT8 weights shaped like a quantized layer (Laplace: a realistic, flat-ish histogram).
  DCLLM_ASSIGN_OR_RETURN(
      std::vector<uint8_t> raw,
      make_synthetic_int8(SyntheticKind::kLaplace, static_cast<size_t>(o.decode_bytes)));
  std::vector<uint8_t> coded;
  DCLLM_RETURN_IF_ERROR(rans_encode(raw, coded, RansEncodeOptions{}));
  std::vector<uint8_t> out(raw.size());
  for (unsigned t = 1; t <= max_decode; ++t) {
    RansDecodeOptions d;
    d.threads = t;
    Status st;
    p.rans_decode_mbps.push_back(best_rate(raw.size(), o.seconds_per_figure, [&] {
      if (st.ok()) st = rans_decode(coded, out, d);
    }));
    DCLLM_RETURN_IF_ERROR(st);
  }
  if (out != raw) return Internal("bench machine: rans decode did not round-trip");

  // GEMV at batch 1 over 64 MiB of weights (beyond the caches, as a model's layers are), and
  // GEMM at the prompt batch over 8 MiB.
  GemvSetup gemv(8192, 8192, 1);
  p.gemv_mbps = best_rate(gemv.bytes(), o.seconds_per_figure, [&] { gemv.run(p.threads); });
  GemvSetup gemm(2048, 4096, static_cast<int>(p.prompt_batch));
  p.gemm_prompt_mbps = best_rate(gemm.bytes() * static_cast<uint64_t>(p.prompt_batch),
                                 o.seconds_per_figure, [&] { gemm.run(p.threads); });
  // The fixed cost of a call: many distinct layer-sized matrices (576 x 576, SmolLM2's
  // attention) over the same 64 MiB, so they stream from memory as a model's layers do; what a
  // call costs beyond its bytes at the big GEMV's rate is the overhead.
  {
    const int rows = 576, cols = 576;
    const size_t each = static_cast<size_t>(rows) * cols;
    const size_t count = gemv.w.size() / each;
    Int8MatrixView v = gemv.weights;
    v.rows = rows;
    v.cols = cols;
    Int8Activations x = gemv.acts;
    x.cols = cols;
    const double mbps = best_rate(each * count, o.seconds_per_figure, [&] {
      for (size_t i = 0; i < count; ++i) {
        v.values = gemv.w.data() + i * each;
        int8_gemm(x, v, nullptr, gemv.y.data(), p.threads);
      }
    });
    const double per_call = static_cast<double>(each) / (mbps * 1e6);
    const double at_rate = static_cast<double>(each) / (p.gemv_mbps * 1e6);
    p.linear_overhead_us = std::max(0.0, per_call - at_rate) * 1e6;
  }

  // Both at once: one thread decodes rANS over and over while the GEMV runs on `threads`.
  {
    std::atomic<bool> stop{false};
    std::atomic<uint64_t> decoded{0};
    Status dst;
    std::thread decoder([&] {
      std::vector<uint8_t> o2(raw.size());
      while (!stop.load(std::memory_order_relaxed)) {
        if (!rans_decode(coded, o2, RansDecodeOptions{}).ok()) break;
        decoded += o2.size();
      }
    });
    const auto t0 = Clock::now();
    uint64_t gemv_bytes = 0;
    const double span = std::max(0.5, 2 * o.seconds_per_figure);
    while (since(t0) < span) {
      gemv.run(p.threads);
      gemv_bytes += gemv.bytes();
    }
    const uint64_t dec_at_end = decoded.load();
    const double s = since(t0);
    stop = true;
    decoder.join();
    p.gemv_mbps_while_decoding = static_cast<double>(gemv_bytes) / s / 1e6;
    p.rans_decode_mbps_while_gemv = static_cast<double>(dec_at_end) / s / 1e6;
    if (p.rans_decode_mbps_while_gemv <= 0) p.rans_decode_mbps_while_gemv = 0;
  }

  char date[32] = {0};
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", &tm);
  p.source = fmt::format("dcllm bench machine {}", date);
  return p;
}

std::string default_machine_profile_path() {
  if (const char* p = std::getenv("DCLLM_MACHINE_PROFILE"); p && *p) return p;
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x)
    return std::string(x) + "/dcllm/machine-profile.json";
  if (const char* h = std::getenv("HOME"); h && *h)
    return std::string(h) + "/.cache/dcllm/machine-profile.json";
  return "";
}

Expected<MachineProfile> resolve_machine_profile(const std::string& path, unsigned threads,
                                                 std::string* how) {
  if (!path.empty()) {
    if (how) *how = path;
    return read_machine_profile(path);
  }
  const std::string def = default_machine_profile_path();
  std::error_code ec;
  if (!def.empty() && std::filesystem::is_regular_file(def, ec)) {
    if (how) *how = def;
    return read_machine_profile(def);
  }
  MachineMeasureOptions o;
  o.threads = threads;
  o.storage_bytes = uint64_t{128} << 20;
  o.seconds_per_figure = 0.15;
  if (how) *how = "measured now (no --profile, no " + (def.empty() ? "default profile" : def) + ")";
  return measure_machine_profile(o);
}

Expected<double> calibrate_decode_to_model(const ModelContainer& c, MachineProfile& p,
                                           uint64_t bytes) {
  struct Pick {
    size_t t, k;
  };
  std::vector<Pick> all;
  uint64_t total = 0;
  for (size_t t = 0; t < c.tensors().size(); ++t) {
    const TensorEntry& e = c.tensors()[t];
    if (e.spec.dtype != DType::kI8) continue;
    for (size_t k = 0; k < e.chunks.size(); ++k)
      if (e.chunks[k].codec == "rans") all.push_back({t, k}), total += e.chunks[k].raw_size;
  }
  if (all.empty() || p.rans_decode_mbps.empty()) return 0.0;
  // Every n-th chunk, so the sample spans the file.
  const size_t step = std::max<uint64_t>(1, total / std::max<uint64_t>(bytes, 1));
  std::vector<std::vector<uint8_t>> stored;
  std::vector<const ChunkInfo*> infos;
  uint64_t raw = 0;
  for (size_t i = 0; i < all.size(); i += step) {
    const auto span = c.chunk_bytes(all[i].t, all[i].k);
    stored.emplace_back(span.begin(), span.end());
    infos.push_back(&c.tensors()[all[i].t].chunks[all[i].k]);
    raw += infos.back()->raw_size;
  }
  DCLLM_ASSIGN_OR_RETURN(std::unique_ptr<Codec> codec, make_codec("rans"));
  std::vector<uint8_t> out;
  Status st;
  const double mbps = best_rate(raw, 0.2, [&] {
    for (size_t i = 0; i < stored.size() && st.ok(); ++i) {
      out.resize(static_cast<size_t>(infos[i]->raw_size));
      st = codec->decompress(stored[i], out);
    }
  });
  DCLLM_RETURN_IF_ERROR(st);
  const double ratio = mbps / p.rans_decode_mbps[0];
  for (double& v : p.rans_decode_mbps) v *= ratio;
  p.rans_decode_mbps_while_gemv *= ratio;
  return mbps;
}

Expected<double> calibrate_gemv_to_model(const ModelContainer& c, MachineProfile& p,
                                         unsigned threads, uint64_t bytes) {
  struct Matrix {
    std::vector<int8_t> values;
    Int8LinearParams params;
  };
  std::vector<Matrix> ms;
  uint64_t total = 0;
  size_t widest = 0, tallest = 0;
  for (const TensorEntry& e : c.tensors()) {
    if (e.spec.dtype != DType::kI8 || e.spec.shape.size() != 2 || e.raw_bytes == 0 ||
        e.spec.quant.scheme == QuantScheme::kNone || tensor_lookup_only(c, e.spec.name))
      continue;
    if (total > 0 && total + e.raw_bytes > bytes) break;
    Matrix m;
    m.values.resize(static_cast<size_t>(e.raw_bytes));
    DCLLM_RETURN_IF_ERROR(c.read_tensor(
        e.spec.name, std::span(reinterpret_cast<uint8_t*>(m.values.data()), m.values.size()), 1));
    Int8MatrixView& v = m.params.weights;
    v.scheme = e.spec.quant.scheme;
    v.rows = static_cast<int64_t>(e.spec.shape[0]);
    v.cols = static_cast<int64_t>(e.spec.shape[1]);
    v.group = e.spec.quant.group_size;
    v.values = m.values.data();
    v.scales = e.spec.quant.scales.data();  // the container outlives the measurement
    widest = std::max(widest, static_cast<size_t>(v.cols));
    tallest = std::max(tallest, static_cast<size_t>(v.rows));
    total += e.raw_bytes;
    ms.push_back(std::move(m));
  }
  if (ms.empty() || p.gemv_mbps <= 0) return 0.0;
  std::vector<float> x(widest), y(tallest);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>((i * 37) % 17) * 0.125f - 1.0f;
  threads = std::max(1u, threads);
  // A pass is what the resident tier's GEMVs cost per token, calls included; the model adds
  // linear_overhead_us per call itself.
  double best = 0;
  for (int pass = 0; pass < 8; ++pass) {
    const auto t0 = Clock::now();
    for (const Matrix& m : ms) linear_int8_forward(m.params, x.data(), 1, y.data(), threads);
    const double net = since(t0) - static_cast<double>(ms.size()) *
                                        std::max(0.0, p.linear_overhead_us) * 1e-6;
    if (net > 0) best = std::max(best, static_cast<double>(total) / net / 1e6);
  }
  if (best <= 0) return 0.0;
  const double ratio = best / p.gemv_mbps;
  p.gemv_mbps = best;
  p.gemv_mbps_while_decoding *= ratio;
  return best;
}

}  // namespace dcllm
