// DecodeBuffer: per-slot state under one mutex. notify_all, because consumers wait for
// different items and the producer for a slot: a wake-up that is not for a thread costs little.
#include "runtime/decode_buffer.h"

#include <algorithm>
#include <cstdlib>
#include <new>

namespace dcllm {

void DecodeBuffer::Free::operator()(uint8_t* p) const {
  std::free(p);
}

DecodeBuffer::DecodeBuffer(size_t slots, size_t slot_bytes, size_t align)
    : slots_(slots < 1 ? 1 : slots), state_(slots_) {
  if (align < 64) align = 64;
  slot_bytes_ = (std::max<size_t>(slot_bytes, 1) + align - 1) / align * align;
  data_.reset(static_cast<uint8_t*>(std::aligned_alloc(align, slots_ * slot_bytes_)));
  if (!data_) throw std::bad_alloc();
  for (size_t i = 0; i < slots_; ++i) state_[i].free_for = i;
}

std::span<uint8_t> DecodeBuffer::wait_free(uint64_t seq) {
  Slot& s = state_[seq % slots_];
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return stopped_ || s.free_for == seq; });
  if (stopped_) return {};
  return {data_.get() + (seq % slots_) * slot_bytes_, slot_bytes_};
}

void DecodeBuffer::publish(uint64_t seq, Status st, std::span<const uint8_t> ready) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    Slot& s = state_[seq % slots_];
    s.status = std::move(st);
    s.ready = ready;
    s.published = seq + 1;
  }
  cv_.notify_all();
}

Expected<std::span<const uint8_t>> DecodeBuffer::wait_ready(uint64_t seq) {
  Slot& s = state_[seq % slots_];
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return stopped_ || s.published == seq + 1; });
  if (stopped_) return Internal("decode buffer: stopped");
  if (!s.status.ok()) return s.status;
  return s.ready;
}

void DecodeBuffer::release(uint64_t seq) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    state_[seq % slots_].free_for = seq + slots_;
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
