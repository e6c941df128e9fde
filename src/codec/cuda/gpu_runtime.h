// The CUDA runtime as the rest of dcllm sees it (no CUDA headers here): is a device there,
// device and pinned host buffers, streams and event timers, CUDA errors as a Status.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "codec/cuda/gpu_kernels.h"
#include "dcllm/status.h"

namespace dcllm::gpu {

// kOk when a CUDA device can run our kernels; kUnsupported saying why not (no driver, no device,
// a driver older than this CUDA runtime) otherwise. Cheap after the first call.
Status device_status();

struct DeviceInfo {
  std::string name;
  int sm_major = 0, sm_minor = 0;
  int multiprocessors = 0;
  size_t memory_bytes = 0;
  int runtime_version = 0, driver_version = 0;
};
Expected<DeviceInfo> device_info();

// `what` failed with CUDA error `err` (a cudaError_t); Ok when err is cudaSuccess.
Status cuda_status(int err, const char* what);

// Device memory, freed on destruction. Move-only.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  static Expected<DeviceBuffer> create(size_t bytes);
  DeviceBuffer(DeviceBuffer&& o) noexcept;
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer();

  void* data() const { return p_; }
  template <typename T>
  T* as() const {
    return static_cast<T*>(p_);
  }
  size_t size() const { return n_; }
  // Synchronous copies of n bytes at `offset`.
  Status upload(const void* src, size_t n, size_t offset = 0);
  Status download(void* dst, size_t n, size_t offset = 0) const;

 private:
  void* p_ = nullptr;
  size_t n_ = 0;
};

// Page-locked host memory (full-speed host-to-device copies), freed on destruction.
class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  static Expected<PinnedBuffer> create(size_t bytes);
  PinnedBuffer(PinnedBuffer&& o) noexcept;
  PinnedBuffer& operator=(PinnedBuffer&& o) noexcept;
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;
  ~PinnedBuffer();
  uint8_t* data() const { return p_; }
  size_t size() const { return n_; }

 private:
  uint8_t* p_ = nullptr;
  size_t n_ = 0;
};

// A CUDA stream, destroyed with the object.
class GpuStream {
 public:
  GpuStream() = default;
  static Expected<GpuStream> create();
  GpuStream(GpuStream&& o) noexcept;
  GpuStream& operator=(GpuStream&& o) noexcept;
  GpuStream(const GpuStream&) = delete;
  GpuStream& operator=(const GpuStream&) = delete;
  ~GpuStream();
  StreamHandle handle() const { return s_; }
  Status synchronize() const;

 private:
  StreamHandle s_ = nullptr;
};

// Waits for everything queued on `stream` (nullptr: the default stream).
Status synchronize(StreamHandle stream);

// An asynchronous copy host -> device or device -> host on a stream.
Status copy_to_device_async(void* dst, const void* src, size_t n, StreamHandle stream);
Status copy_to_host_async(void* dst, const void* src, size_t n, StreamHandle stream);

// Start and stop events on a stream; elapsed_ms waits for the stop event. Also usable as a
// dependency between streams (wait_stop makes another stream wait for the stop event).
class EventTimer {
 public:
  static Expected<EventTimer> create();
  EventTimer() = default;
  EventTimer(EventTimer&& o) noexcept;
  EventTimer& operator=(EventTimer&& o) noexcept;
  EventTimer(const EventTimer&) = delete;
  EventTimer& operator=(const EventTimer&) = delete;
  ~EventTimer();
  Status start(StreamHandle stream);
  Status stop(StreamHandle stream);
  Status wait_stop(StreamHandle other) const;
  Expected<double> elapsed_ms() const;

 private:
  void* start_ = nullptr;  // cudaEvent_t
  void* stop_ = nullptr;
};

}  // namespace dcllm::gpu
