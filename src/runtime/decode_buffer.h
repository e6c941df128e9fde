// DecodeBuffer: the ring of decode slots between the prefetch thread (which fills them with
// decoded INT8 weights) and the forward pass (which multiplies with them), docs/runtime.md.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "dcllm/status.h"

namespace dcllm {

// Items carry sequence numbers 0, 1, 2, ...; item `seq` lives in slot seq % slots. One producer
// fills the items in order, one consumer takes them in the same order, so two counters and a
// condition variable are the whole protocol: the producer may fill `seq` once the consumer
// has released seq - slots, the consumer may use `seq` once the producer has published it.
class DecodeBuffer {
 public:
  DecodeBuffer(size_t slots, size_t slot_bytes);

  size_t slots() const { return slots_; }
  size_t slot_bytes() const { return slot_bytes_; }
  uint64_t bytes() const { return static_cast<uint64_t>(slots_) * slot_bytes_; }

  // Producer: waits until item `seq`'s slot is free and returns it; empty after stop().
  std::span<int8_t> wait_free(uint64_t seq);
  // Producer: item `seq` is filled (st ok) or failed (st says why; the consumer gets it).
  void publish(uint64_t seq, Status st);
  // Consumer: waits until item `seq` is published; its slot, or the producer's error.
  Expected<const int8_t*> wait_ready(uint64_t seq);
  // Consumer: done with item `seq` (the oldest one it holds); its slot may be refilled.
  void release(uint64_t seq);
  // Wakes and ends both sides: wait_free returns empty, wait_ready an error.
  void stop();

 private:
  struct Free {
    void operator()(int8_t* p) const;
  };
  size_t slots_, slot_bytes_;
  std::unique_ptr<int8_t, Free> data_;  // slots_ * slot_bytes_, 64-byte aligned
  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t published_ = 0;  // items < published_ are ready
  uint64_t released_ = 0;   // items < released_ are done with
  bool stopped_ = false;
  std::vector<Status> status_;  // per slot: the last published item's outcome
};

}  // namespace dcllm
