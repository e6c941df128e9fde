// CUDA runtime wrappers: device detection, RAII buffers, streams and event timers. Every CUDA
// error becomes a one-line Status naming the call that failed.
#include "codec/cuda/gpu_runtime.h"

#include <cuda_runtime.h>

#include <mutex>
#include <utility>

namespace dcllm::gpu {

Status cuda_status(int err, const char* what) {
  if (err == cudaSuccess) return Status::Ok();
  const auto e = static_cast<cudaError_t>(err);
  return Internal(std::string("cuda: ") + what + ": " + cudaGetErrorName(e) + " (" +
                  cudaGetErrorString(e) + ")");
}

Status device_status() {
  static std::once_flag once;
  static Status status;
  std::call_once(once, [] {
    int n = 0;
    const cudaError_t err = cudaGetDeviceCount(&n);
    if (err != cudaSuccess) {
      status = Unsupported(std::string("cuda: no usable device: ") + cudaGetErrorString(err));
      return;
    }
    if (n == 0) {
      status = Unsupported("cuda: no CUDA device");
      return;
    }
    cudaDeviceProp prop{};
    if (cudaGetDeviceProperties(&prop, 0) != cudaSuccess || prop.major < 8) {
      // __reduce_add_sync needs sm_80; the build targets sm_90 (+ PTX for newer).
      status = Unsupported("cuda: device 0 (" + std::string(prop.name) + ", sm_" +
                           std::to_string(prop.major) + std::to_string(prop.minor) +
                           ") is older than sm_80");
      return;
    }
    status = Status::Ok();
  });
  return status;
}

Expected<DeviceInfo> device_info() {
  DCLLM_RETURN_IF_ERROR(device_status());
  cudaDeviceProp prop{};
  DCLLM_RETURN_IF_ERROR(cuda_status(cudaGetDeviceProperties(&prop, 0), "cudaGetDeviceProperties"));
  DeviceInfo d;
  d.name = prop.name;
  d.sm_major = prop.major;
  d.sm_minor = prop.minor;
  d.multiprocessors = prop.multiProcessorCount;
  d.memory_bytes = prop.totalGlobalMem;
  cudaRuntimeGetVersion(&d.runtime_version);
  cudaDriverGetVersion(&d.driver_version);
  return d;
}

Expected<DeviceBuffer> DeviceBuffer::create(size_t bytes) {
  DeviceBuffer b;
  if (bytes == 0) return b;
  DCLLM_RETURN_IF_ERROR(cuda_status(cudaMalloc(&b.p_, bytes), "cudaMalloc"));
  b.n_ = bytes;
  return b;
}
DeviceBuffer::DeviceBuffer(DeviceBuffer&& o) noexcept
    : p_(std::exchange(o.p_, nullptr)), n_(std::exchange(o.n_, 0)) {}
DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& o) noexcept {
  std::swap(p_, o.p_);
  std::swap(n_, o.n_);
  return *this;
}
DeviceBuffer::~DeviceBuffer() {
  if (p_) cudaFree(p_);
}
Status DeviceBuffer::upload(const void* src, size_t n, size_t offset) {
  if (offset > n_ || n > n_ - offset) return Internal("cuda: upload past the device buffer");
  if (n == 0) return Status::Ok();
  return cuda_status(cudaMemcpy(static_cast<uint8_t*>(p_) + offset, src, n, cudaMemcpyHostToDevice),
                     "cudaMemcpy to device");
}
Status DeviceBuffer::download(void* dst, size_t n, size_t offset) const {
  if (offset > n_ || n > n_ - offset) return Internal("cuda: download past the device buffer");
  if (n == 0) return Status::Ok();
  return cuda_status(
      cudaMemcpy(dst, static_cast<const uint8_t*>(p_) + offset, n, cudaMemcpyDeviceToHost),
      "cudaMemcpy to host");
}

Expected<PinnedBuffer> PinnedBuffer::create(size_t bytes) {
  PinnedBuffer b;
  if (bytes == 0) return b;
  void* p = nullptr;
  DCLLM_RETURN_IF_ERROR(cuda_status(cudaMallocHost(&p, bytes), "cudaMallocHost"));
  b.p_ = static_cast<uint8_t*>(p);
  b.n_ = bytes;
  return b;
}
PinnedBuffer::PinnedBuffer(PinnedBuffer&& o) noexcept
    : p_(std::exchange(o.p_, nullptr)), n_(std::exchange(o.n_, 0)) {}
PinnedBuffer& PinnedBuffer::operator=(PinnedBuffer&& o) noexcept {
  std::swap(p_, o.p_);
  std::swap(n_, o.n_);
  return *this;
}
PinnedBuffer::~PinnedBuffer() {
  if (p_) cudaFreeHost(p_);
}

Expected<GpuStream> GpuStream::create() {
  GpuStream s;
  cudaStream_t h = nullptr;
  DCLLM_RETURN_IF_ERROR(
      cuda_status(cudaStreamCreateWithFlags(&h, cudaStreamNonBlocking), "cudaStreamCreate"));
  s.s_ = h;
  return s;
}
GpuStream::GpuStream(GpuStream&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
GpuStream& GpuStream::operator=(GpuStream&& o) noexcept {
  std::swap(s_, o.s_);
  return *this;
}
GpuStream::~GpuStream() {
  if (s_) cudaStreamDestroy(s_);
}
Status GpuStream::synchronize() const {
  return cuda_status(cudaStreamSynchronize(s_), "cudaStreamSynchronize");
}

Status synchronize(StreamHandle stream) {
  return cuda_status(cudaStreamSynchronize(stream), "cudaStreamSynchronize");
}

Status copy_to_device_async(void* dst, const void* src, size_t n, StreamHandle stream) {
  return cuda_status(cudaMemcpyAsync(dst, src, n, cudaMemcpyHostToDevice, stream),
                     "cudaMemcpyAsync to device");
}
Status copy_to_host_async(void* dst, const void* src, size_t n, StreamHandle stream) {
  return cuda_status(cudaMemcpyAsync(dst, src, n, cudaMemcpyDeviceToHost, stream),
                     "cudaMemcpyAsync to host");
}

Expected<EventTimer> EventTimer::create() {
  EventTimer t;
  cudaEvent_t a = nullptr, b = nullptr;
  DCLLM_RETURN_IF_ERROR(cuda_status(cudaEventCreate(&a), "cudaEventCreate"));
  t.start_ = a;
  DCLLM_RETURN_IF_ERROR(cuda_status(cudaEventCreate(&b), "cudaEventCreate"));
  t.stop_ = b;
  return t;
}
EventTimer::EventTimer(EventTimer&& o) noexcept
    : start_(std::exchange(o.start_, nullptr)), stop_(std::exchange(o.stop_, nullptr)) {}
EventTimer& EventTimer::operator=(EventTimer&& o) noexcept {
  std::swap(start_, o.start_);
  std::swap(stop_, o.stop_);
  return *this;
}
EventTimer::~EventTimer() {
  if (start_) cudaEventDestroy(static_cast<cudaEvent_t>(start_));
  if (stop_) cudaEventDestroy(static_cast<cudaEvent_t>(stop_));
}
Status EventTimer::start(StreamHandle stream) {
  return cuda_status(cudaEventRecord(static_cast<cudaEvent_t>(start_), stream), "cudaEventRecord");
}
Status EventTimer::stop(StreamHandle stream) {
  return cuda_status(cudaEventRecord(static_cast<cudaEvent_t>(stop_), stream), "cudaEventRecord");
}
Status EventTimer::wait_stop(StreamHandle other) const {
  return cuda_status(cudaStreamWaitEvent(other, static_cast<cudaEvent_t>(stop_), 0),
                     "cudaStreamWaitEvent");
}
Expected<double> EventTimer::elapsed_ms() const {
  DCLLM_RETURN_IF_ERROR(
      cuda_status(cudaEventSynchronize(static_cast<cudaEvent_t>(stop_)), "cudaEventSynchronize"));
  float ms = 0;
  DCLLM_RETURN_IF_ERROR(cuda_status(
      cudaEventElapsedTime(&ms, static_cast<cudaEvent_t>(start_), static_cast<cudaEvent_t>(stop_)),
      "cudaEventElapsedTime"));
  return static_cast<double>(ms);
}

}  // namespace dcllm::gpu
