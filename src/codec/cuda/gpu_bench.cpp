// `dcllm bench gpu` measurements. Inputs are coded on the CPU (the codec's encoder), decoded and
// multiplied on device 0; each figure is the median over batches of back-to-back launches.
#include "codec/cuda/gpu_bench.h"

#include <algorithm>
#include <cstring>
#include <functional>

#include "codec/cuda/gpu_cublaslt.h"
#include "codec/cuda/gpu_rans.h"
#include "core/parallel.h"
#include "dcllm/rans.h"

namespace dcllm::gpu {
namespace {

constexpr size_t kStreamAlign = 64;  // as .dcllm chunks

struct Coded {
  std::vector<uint8_t> bytes;
  std::vector<StreamRef> refs;
};

// Codes [cut[i], cut[i+1]) of `raw` as stream i, in parallel, each at a 64-byte offset.
Expected<Coded> encode_pieces(std::span<const uint8_t> raw, const std::vector<uint64_t>& cut,
                              uint32_t segment_bytes) {
  const size_t n = cut.size() - 1;
  std::vector<std::vector<uint8_t>> enc(n);
  std::vector<Status> st(n);
  parallel_for(n, 0, [&](size_t i) {
    RansEncodeOptions o;
    o.segment_bytes = segment_bytes;
    o.threads = n == 1 ? 0 : 1;
    st[i] = rans_encode(raw.subspan(cut[i], cut[i + 1] - cut[i]), enc[i], o);
  });
  Coded c;
  for (size_t i = 0; i < n; ++i) {
    DCLLM_RETURN_IF_ERROR(st[i]);
    c.bytes.resize((c.bytes.size() + kStreamAlign - 1) / kStreamAlign * kStreamAlign);
    c.refs.push_back({c.bytes.size(), enc[i].size(), cut[i]});
    c.bytes.insert(c.bytes.end(), enc[i].begin(), enc[i].end());
  }
  return c;
}

std::vector<uint64_t> even_cuts(uint64_t size, uint64_t pieces, uint64_t unit) {
  std::vector<uint64_t> cut{0};
  const uint64_t units = (size + unit - 1) / unit;
  for (uint64_t i = 1; i < pieces; ++i) cut.push_back(std::min(size, units * i / pieces * unit));
  cut.push_back(size);
  cut.erase(std::unique(cut.begin(), cut.end()), cut.end());
  return cut;
}

template <typename T>
Expected<DeviceBuffer> to_device(std::span<const T> v) {
  DCLLM_ASSIGN_OR_RETURN(DeviceBuffer b, DeviceBuffer::create(std::max<size_t>(v.size_bytes(), 1)));
  DCLLM_RETURN_IF_ERROR(b.upload(v.data(), v.size_bytes()));
  return b;
}

// Median time of one launch, in ms: batches of per_batch back-to-back launches after a warm-up.
Expected<double> time_launches(const TimingOptions& t, StreamHandle s,
                               const std::function<Status()>& launch) {
  DCLLM_RETURN_IF_ERROR(launch());
  DCLLM_RETURN_IF_ERROR(synchronize(s));
  DCLLM_ASSIGN_OR_RETURN(EventTimer timer, EventTimer::create());
  std::vector<double> ms;
  for (int b = 0; b < std::max(t.batches, 1); ++b) {
    DCLLM_RETURN_IF_ERROR(timer.start(s));
    for (int i = 0; i < std::max(t.per_batch, 1); ++i) DCLLM_RETURN_IF_ERROR(launch());
    DCLLM_RETURN_IF_ERROR(timer.stop(s));
    DCLLM_ASSIGN_OR_RETURN(double batch, timer.elapsed_ms());
    ms.push_back(batch / std::max(t.per_batch, 1));
  }
  std::nth_element(ms.begin(), ms.begin() + ms.size() / 2, ms.end());
  return ms[ms.size() / 2];
}

}  // namespace

Expected<DecodeBench> bench_decode(std::span<const uint8_t> raw, uint32_t segment_bytes,
                                   size_t streams, const TimingOptions& t) {
  DCLLM_ASSIGN_OR_RETURN(Coded c,
                         encode_pieces(raw, even_cuts(raw.size(), streams, 64), segment_bytes));
  DCLLM_ASSIGN_OR_RETURN(RansPlan plan, RansPlan::create(c.bytes, c.refs, raw.size()));
  DCLLM_ASSIGN_OR_RETURN(DeviceBuffer d_coded, to_device(std::span<const uint8_t>(c.bytes)));
  DCLLM_ASSIGN_OR_RETURN(DeviceBuffer d_out, DeviceBuffer::create(raw.size()));
  DCLLM_ASSIGN_OR_RETURN(GpuStream s, GpuStream::create());
  const auto* in = d_coded.as<const uint8_t>();
  DCLLM_RETURN_IF_ERROR(decode(plan, in, d_out.as<uint8_t>(), s.handle()));
  std::vector<uint8_t> out(raw.size());
  DCLLM_RETURN_IF_ERROR(d_out.download(out.data(), out.size()));
  DecodeBench r;
  r.exact = std::equal(out.begin(), out.end(), raw.begin());
  DCLLM_ASSIGN_OR_RETURN(r.ms, time_launches(t, s.handle(), [&] {
                           return decode_async(plan, in, d_out.as<uint8_t>(), s.handle());
                         }));
  DCLLM_RETURN_IF_ERROR(plan.check(s.handle()));
  r.raw_bytes = raw.size();
  r.coded_bytes = c.bytes.size();
  r.segment_bytes = segment_bytes;
  r.streams = c.refs.size();
  r.segments = plan.host().segments.size();
  r.warps_per_block = plan.host().warps_per_block;
  r.gbps = static_cast<double>(raw.size()) / (r.ms * 1e6);
  return r;
}

Expected<GemvBench> bench_gemv(const GemvProblem& p, uint32_t segment_bytes, uint64_t stream_bytes,
                               const TimingOptions& t) {
  const uint64_t size = static_cast<uint64_t>(p.rows) * static_cast<uint64_t>(p.cols);
  if (p.weights.size() != size || p.scales.size() != static_cast<size_t>(p.rows) ||
      p.x.size() != static_cast<size_t>(p.cols))
    return InvalidArgument("bench gpu: gemv problem sizes do not match its shape");
  const uint64_t row_bytes = static_cast<uint64_t>(p.cols);
  const uint64_t rows_per_stream = std::max<uint64_t>(1, stream_bytes / row_bytes);
  const uint64_t n_streams =
      (static_cast<uint64_t>(p.rows) + rows_per_stream - 1) / rows_per_stream;
  std::span<const uint8_t> raw(reinterpret_cast<const uint8_t*>(p.weights.data()), size);
  DCLLM_ASSIGN_OR_RETURN(Coded c,
                         encode_pieces(raw, even_cuts(size, n_streams, row_bytes), segment_bytes));
  DCLLM_ASSIGN_OR_RETURN(RansPlan plan, RansPlan::create(c.bytes, c.refs, size));
  DCLLM_ASSIGN_OR_RETURN(DeviceBuffer d_coded, to_device(std::span<const uint8_t>(c.bytes)));
  DCLLM_ASSIGN_OR_RETURN(DeviceBuffer d_w, to_device(p.weights));
  DCLLM_ASSIGN_OR_RETURN(DeviceBuffer d_scales, to_device(p.scales));
  DCLLM_ASSIGN_OR_RETURN(DeviceBuffer d_x, to_device(p.x));
  DCLLM_ASSIGN_OR_RETURN(DeviceBuffer d_decoded, DeviceBuffer::create(size));
  DCLLM_ASSIGN_OR_RETURN(DeviceBuffer d_y_plain, DeviceBuffer::create(4 * p.rows));
  DCLLM_ASSIGN_OR_RETURN(DeviceBuffer d_y_fused, DeviceBuffer::create(4 * p.rows));
  DCLLM_ASSIGN_OR_RETURN(DeviceBuffer d_y_dtg, DeviceBuffer::create(4 * p.rows));
  DCLLM_ASSIGN_OR_RETURN(DeviceBuffer d_y_int, DeviceBuffer::create(4 * p.rows));
  GemvWeights w;
  w.layout.scheme = QuantScheme::kPerChannel;
  w.layout.rows = p.rows;
  w.layout.cols = p.cols;
  w.scales = d_scales.as<const float>();
  DCLLM_ASSIGN_OR_RETURN(DeviceBuffer d_acc,
                         DeviceBuffer::create(4 * gemv_scratch_entries(w.layout)));
  DCLLM_ASSIGN_OR_RETURN(GpuStream s, GpuStream::create());
  const StreamHandle h = s.handle();
  const auto* coded = d_coded.as<const uint8_t>();
  const auto* x = d_x.as<const int8_t>();

  auto plain = [&] {
    return int8_gemv_async(d_w.as<const int8_t>(), w, x, p.x_scale, d_y_plain.as<float>(), h);
  };
  auto fused = [&] {
    return fused_gemv_async(plan, coded, w, x, p.x_scale, d_acc.as<int32_t>(),
                            d_y_fused.as<float>(), h);
  };
  auto decode_then_gemv = [&]() -> Status {
    DCLLM_RETURN_IF_ERROR(decode_async(plan, coded, d_decoded.as<uint8_t>(), h));
    return int8_gemv_async(d_decoded.as<const int8_t>(), w, x, p.x_scale, d_y_dtg.as<float>(), h);
  };
  GemvBench r;
  DCLLM_ASSIGN_OR_RETURN(double plain_ms, time_launches(t, h, plain));
  DCLLM_ASSIGN_OR_RETURN(double fused_ms, time_launches(t, h, fused));
  DCLLM_RETURN_IF_ERROR(plan.check(h));
  DCLLM_ASSIGN_OR_RETURN(double dtg_ms, time_launches(t, h, decode_then_gemv));
  DCLLM_RETURN_IF_ERROR(plan.check(h));
  r.plain_us = 1e3 * plain_ms;
  r.fused_us = 1e3 * fused_ms;
  r.decode_then_gemv_us = 1e3 * dtg_ms;
  Expected<CublasLtInt8Gemm> lt = CublasLtInt8Gemm::create(p.rows, p.cols, 1);
  if (lt.ok()) {
    Expected<double> lt_ms = time_launches(
        t, h, [&] { return lt->run(d_w.as<const int8_t>(), x, d_y_int.as<int32_t>(), h); });
    if (lt_ms.ok()) {
      r.cublaslt_us = 1e3 * *lt_ms;
    } else {
      r.cublaslt_error = lt_ms.status().message();
    }
  } else {
    r.cublaslt_error = lt.status().message();
  }
  r.y_plain.resize(p.rows);
  r.y_fused.resize(p.rows);
  std::vector<float> y_dtg(p.rows);
  DCLLM_RETURN_IF_ERROR(d_y_plain.download(r.y_plain.data(), 4 * p.rows));
  DCLLM_RETURN_IF_ERROR(d_y_fused.download(r.y_fused.data(), 4 * p.rows));
  DCLLM_RETURN_IF_ERROR(d_y_dtg.download(y_dtg.data(), 4 * p.rows));
  std::vector<uint8_t> decoded(size);
  DCLLM_RETURN_IF_ERROR(d_decoded.download(decoded.data(), size));
  r.decoded_exact = std::equal(decoded.begin(), decoded.end(), raw.begin());
  r.fused_matches_plain =
      std::memcmp(r.y_plain.data(), r.y_fused.data(), 4 * r.y_plain.size()) == 0 &&
      std::memcmp(r.y_plain.data(), y_dtg.data(), 4 * y_dtg.size()) == 0;
  r.coded_bytes = c.bytes.size();
  r.segment_bytes = segment_bytes;
  r.streams = c.refs.size();
  r.segments = plan.host().segments.size();
  return r;
}

Expected<TransferBench> bench_transfer(std::span<const uint8_t> raw, uint64_t chunk_bytes,
                                       uint32_t segment_bytes, const TimingOptions& t) {
  const uint64_t n_chunks = std::max<uint64_t>(1, (raw.size() + chunk_bytes - 1) / chunk_bytes);
  DCLLM_ASSIGN_OR_RETURN(Coded c,
                         encode_pieces(raw, even_cuts(raw.size(), n_chunks, 64), segment_bytes));
  // One plan per chunk (the pipeline decodes each as soon as it has arrived) and one for all.
  std::vector<RansPlan> plans;
  for (const StreamRef& ref : c.refs) {
    StreamRef local = ref;
    local.offset = 0;
    DCLLM_ASSIGN_OR_RETURN(
        RansPlan pl, RansPlan::create(std::span(c.bytes).subspan(ref.offset, ref.size), {&local, 1},
                                      raw.size()));
    plans.push_back(std::move(pl));
  }
  DCLLM_ASSIGN_OR_RETURN(RansPlan all, RansPlan::create(c.bytes, c.refs, raw.size()));
  DCLLM_ASSIGN_OR_RETURN(PinnedBuffer h_raw, PinnedBuffer::create(raw.size()));
  DCLLM_ASSIGN_OR_RETURN(PinnedBuffer h_coded, PinnedBuffer::create(c.bytes.size()));
  std::memcpy(h_raw.data(), raw.data(), raw.size());
  std::memcpy(h_coded.data(), c.bytes.data(), c.bytes.size());
  DCLLM_ASSIGN_OR_RETURN(DeviceBuffer d_raw, DeviceBuffer::create(raw.size()));
  DCLLM_ASSIGN_OR_RETURN(DeviceBuffer d_coded, DeviceBuffer::create(c.bytes.size()));
  DCLLM_ASSIGN_OR_RETURN(DeviceBuffer d_out, DeviceBuffer::create(raw.size()));
  DCLLM_ASSIGN_OR_RETURN(GpuStream copy, GpuStream::create());
  DCLLM_ASSIGN_OR_RETURN(GpuStream work, GpuStream::create());
  std::vector<EventTimer> arrived;
  for (size_t i = 0; i < plans.size(); ++i) {
    DCLLM_ASSIGN_OR_RETURN(EventTimer e, EventTimer::create());
    arrived.push_back(std::move(e));
  }
  DCLLM_ASSIGN_OR_RETURN(EventTimer span_timer, EventTimer::create());
  uint8_t* coded_dev = d_coded.as<uint8_t>();
  TimingOptions one = t;
  one.per_batch = std::max(1, t.per_batch / 4);  // each launch moves the whole input

  TransferBench r;
  DCLLM_ASSIGN_OR_RETURN(r.raw_ms, time_launches(one, copy.handle(), [&] {
                           return copy_to_device_async(d_raw.data(), h_raw.data(), raw.size(),
                                                       copy.handle());
                         }));
  DCLLM_ASSIGN_OR_RETURN(r.coded_ms, time_launches(one, copy.handle(), [&] {
                           return copy_to_device_async(coded_dev, h_coded.data(), c.bytes.size(),
                                                       copy.handle());
                         }));
  DCLLM_ASSIGN_OR_RETURN(r.decode_ms, time_launches(one, work.handle(), [&] {
                           return decode_async(all, coded_dev, d_out.as<uint8_t>(), work.handle());
                         }));
  DCLLM_RETURN_IF_ERROR(all.check(work.handle()));
  // Pipeline: copies on one stream, each chunk's decode on the other after its copy's event.
  auto pipeline = [&]() -> Status {
    for (size_t i = 0; i < plans.size(); ++i) {
      const StreamRef& ref = c.refs[i];
      DCLLM_RETURN_IF_ERROR(copy_to_device_async(
          coded_dev + ref.offset, h_coded.data() + ref.offset, ref.size, copy.handle()));
      DCLLM_RETURN_IF_ERROR(arrived[i].stop(copy.handle()));
      DCLLM_RETURN_IF_ERROR(arrived[i].wait_stop(work.handle()));
      DCLLM_RETURN_IF_ERROR(
          decode_async(plans[i], coded_dev + ref.offset, d_out.as<uint8_t>(), work.handle()));
    }
    return Status::Ok();
  };
  std::vector<double> ms;
  DCLLM_RETURN_IF_ERROR(pipeline());
  DCLLM_RETURN_IF_ERROR(work.synchronize());
  for (int b = 0; b < std::max(t.batches, 1); ++b) {
    DCLLM_RETURN_IF_ERROR(copy.synchronize());
    DCLLM_RETURN_IF_ERROR(work.synchronize());
    DCLLM_RETURN_IF_ERROR(span_timer.start(copy.handle()));
    DCLLM_RETURN_IF_ERROR(pipeline());
    DCLLM_RETURN_IF_ERROR(span_timer.stop(work.handle()));
    DCLLM_ASSIGN_OR_RETURN(double m, span_timer.elapsed_ms());
    ms.push_back(m);
  }
  std::nth_element(ms.begin(), ms.begin() + ms.size() / 2, ms.end());
  r.pipelined_ms = ms[ms.size() / 2];
  for (const RansPlan& pl : plans) DCLLM_RETURN_IF_ERROR(pl.check(work.handle()));
  std::vector<uint8_t> out(raw.size());
  DCLLM_RETURN_IF_ERROR(d_out.download(out.data(), out.size()));
  r.exact = std::equal(out.begin(), out.end(), raw.begin());
  r.raw_bytes = raw.size();
  r.coded_bytes = c.bytes.size();
  r.chunk_bytes = chunk_bytes;
  r.chunks = plans.size();
  return r;
}

}  // namespace dcllm::gpu
