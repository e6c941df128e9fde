// DecodeBuffer: counters under one mutex. notify_all is enough: there are exactly two threads.
#include "runtime/decode_buffer.h"

#include <cstdlib>
#include <new>

namespace dcllm {

void DecodeBuffer::Free::operator()(int8_t* p) const {
  std::free(p);
}

DecodeBuffer::DecodeBuffer(size_t slots, size_t slot_bytes)
    : slots_(slots < 1 ? 1 : slots),
      slot_bytes_((slot_bytes + 63) / 64 * 64),  // each slot 64-aligned for the SIMD loads
      status_(slots_) {
  const size_t total = slots_ * (slot_bytes_ > 0 ? slot_bytes_ : 64);
  data_.reset(static_cast<int8_t*>(std::aligned_alloc(64, total)));
  if (!data_) throw std::bad_alloc();
}

std::span<int8_t> DecodeBuffer::wait_free(uint64_t seq) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return stopped_ || seq < released_ + slots_; });
  if (stopped_) return {};
  return {data_.get() + (seq % slots_) * slot_bytes_, slot_bytes_};
}

void DecodeBuffer::publish(uint64_t seq, Status st) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    status_[seq % slots_] = std::move(st);
    published_ = seq + 1;
  }
  cv_.notify_all();
}

Expected<const int8_t*> DecodeBuffer::wait_ready(uint64_t seq) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return stopped_ || seq < published_; });
  if (stopped_) return Internal("decode buffer: stopped");
  const Status& st = status_[seq % slots_];
  if (!st.ok()) return st;
  return static_cast<const int8_t*>(data_.get() + (seq % slots_) * slot_bytes_);
}

void DecodeBuffer::release(uint64_t seq) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    released_ = seq + 1;
  }
  cv_.notify_all();
}

void DecodeBuffer::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopped_ = true;
  }
  cv_.notify_all();
}

}  // namespace dcllm
