// RansPlan upload and the checked entry points of the GPU decoder and GEMV kernels.
#include "codec/cuda/gpu_rans.h"

#include <string>
#include <utility>
#include <vector>

namespace dcllm::gpu {
namespace {

template <typename T>
Expected<DeviceBuffer> upload_vector(const std::vector<T>& v) {
  DCLLM_ASSIGN_OR_RETURN(DeviceBuffer b, DeviceBuffer::create(sizeof(T) * v.size()));
  DCLLM_RETURN_IF_ERROR(b.upload(v.data(), sizeof(T) * v.size()));
  return b;
}

Status check_layout(const Int8Layout& l) {
  DCLLM_RETURN_IF_ERROR(validate_int8_layout(l));
  if (l.rows <= 0 || l.cols <= 0 || l.rows > (int64_t{1} << 31) || l.cols > kGemvMaxCols)
    return InvalidArgument("gpu gemv: shape " + std::to_string(l.rows) + "x" +
                           std::to_string(l.cols));
  if (l.scheme == QuantScheme::kNone) return Unsupported("gpu gemv: weights are not INT8");
  return Status::Ok();
}

GemvArgs gemv_args(const GemvWeights& w, const int8_t* x, float x_scale, float* y) {
  GemvArgs a;
  a.rows = w.layout.rows;
  a.cols = w.layout.cols;
  a.scheme = w.layout.scheme == QuantScheme::kGroup        ? kGemvGroup
             : w.layout.scheme == QuantScheme::kPerChannel ? kGemvPerChannel
                                                           : kGemvPerTensor;
  a.group = a.scheme == kGemvGroup ? w.layout.group : w.layout.cols;
  a.groups = w.layout.groups_per_row();
  a.scales = w.scales;
  a.bias = w.bias;
  a.x = x;
  a.x_scale = x_scale;
  a.y = y;
  return a;
}

}  // namespace

Expected<RansPlan> RansPlan::create(std::span<const uint8_t> coded,
                                    std::span<const StreamRef> streams, uint64_t out_size,
                                    int warps_per_block) {
  if (warps_per_block == 0) {
    DCLLM_ASSIGN_OR_RETURN(HostPlan probe, build_host_plan(coded, streams, out_size, 1));
    DCLLM_ASSIGN_OR_RETURN(DeviceInfo info, device_info());
    warps_per_block = auto_warps_per_block(probe.segments.size(), info.multiprocessors);
  }
  DCLLM_ASSIGN_OR_RETURN(HostPlan host, build_host_plan(coded, streams, out_size, warps_per_block));
  return upload(std::move(host));
}

Expected<RansPlan> RansPlan::upload(HostPlan host) {
  DCLLM_RETURN_IF_ERROR(device_status());
  RansPlan p;
  DCLLM_ASSIGN_OR_RETURN(p.streams_, upload_vector(host.streams));
  DCLLM_ASSIGN_OR_RETURN(p.segments_, upload_vector(host.segments));
  DCLLM_ASSIGN_OR_RETURN(p.tasks_, upload_vector(host.tasks));
  DCLLM_ASSIGN_OR_RETURN(p.tables_, upload_vector(host.tables));
  DCLLM_ASSIGN_OR_RETURN(p.verdicts_,
                         DeviceBuffer::create(sizeof(uint32_t) * host.segments.size()));
  p.kernel_ = host.kernel_view(p.streams_.as<StreamDesc>(), p.segments_.as<SegmentDesc>(),
                               p.tasks_.as<BlockTask>(), p.tables_.as<uint32_t>());
  p.host_ = std::move(host);
  return p;
}

Status RansPlan::check(StreamHandle stream) const {
  std::vector<uint32_t> v(host_.segments.size());
  if (!v.empty())
    DCLLM_RETURN_IF_ERROR(
        copy_to_host_async(v.data(), verdicts_.data(), sizeof(uint32_t) * v.size(), stream));
  DCLLM_RETURN_IF_ERROR(synchronize(stream));
  return plan_verdict(host_, v);
}

Status decode_async(const RansPlan& plan, const uint8_t* d_coded, uint8_t* d_out,
                    StreamHandle stream) {
  return cuda_status(launch_rans_decode(plan.kernel(), d_coded, d_out, plan.verdicts(), stream),
                     "rans decode kernel");
}

Status decode(const RansPlan& plan, const uint8_t* d_coded, uint8_t* d_out, StreamHandle stream) {
  DCLLM_RETURN_IF_ERROR(decode_async(plan, d_coded, d_out, stream));
  return plan.check(stream);
}

size_t gemv_scratch_entries(const Int8Layout& l) {
  return static_cast<size_t>(l.rows) * static_cast<size_t>(l.groups_per_row());
}

Status fused_gemv_async(const RansPlan& plan, const uint8_t* d_coded, const GemvWeights& w,
                        const int8_t* d_x, float x_scale, int32_t* d_scratch, float* d_y,
                        StreamHandle stream) {
  DCLLM_RETURN_IF_ERROR(check_layout(w.layout));
  const uint64_t size = static_cast<uint64_t>(w.layout.size());
  if (plan.host().out_size != size || plan.host().covered != size)
    return InvalidArgument("gpu fused gemv: the streams decode " +
                           std::to_string(plan.host().covered) + " of " + std::to_string(size) +
                           " matrix bytes; they must cover all of them");
  GemvArgs a = gemv_args(w, d_x, x_scale, d_y);
  a.acc = d_scratch;
  return cuda_status(launch_fused_gemv(plan.kernel(), d_coded, a, plan.verdicts(), stream),
                     "fused decode-gemv kernel");
}

Status int8_gemv_async(const int8_t* d_w, const GemvWeights& w, const int8_t* d_x, float x_scale,
                       float* d_y, StreamHandle stream) {
  DCLLM_RETURN_IF_ERROR(check_layout(w.layout));
  return cuda_status(launch_int8_gemv(d_w, gemv_args(w, d_x, x_scale, d_y), stream),
                     "int8 gemv kernel");
}

}  // namespace dcllm::gpu
