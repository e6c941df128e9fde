// DecodeBuffer: the ring of slots between the stream tier's reader thread (which fills them with
// chunks' stored bytes read from the file) and the compute threads (which decode and multiply
// with them), docs/runtime.md.
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
// fills the items in order; any number of consumers take them and release them in any order.
// Per slot the ring keeps the item it holds and the first item it may take next, so the
// protocol is: the producer may fill `seq` once item seq - slots has been released, a consumer
// may use `seq` once the producer has published it.
class DecodeBuffer {
 public:
  // Slots are `slot_bytes` rounded up to `align` (a power of two; 4 KiB for O_DIRECT reads),
  // each starting at a multiple of `align`.
  DecodeBuffer(size_t slots, size_t slot_bytes, size_t align = 64);

  size_t slots() const { return slots_; }
  size_t slot_bytes() const { return slot_bytes_; }
  uint64_t bytes() const { return static_cast<uint64_t>(slots_) * slot_bytes_; }

  // Producer: waits until item `seq`'s slot is free and returns it; empty after stop().
  std::span<uint8_t> wait_free(uint64_t seq);
  // Producer: item `seq` is filled (st ok; `ready` is where in the slot its bytes are) or failed
  // (st says why; the consumer gets it).
  void publish(uint64_t seq, Status st, std::span<const uint8_t> ready = {});
  // Consumer: waits until item `seq` is published; its bytes, or the producer's error.
  Expected<std::span<const uint8_t>> wait_ready(uint64_t seq);
  // Consumer: done with item `seq`; its slot may be refilled.
  void release(uint64_t seq);
  // Wakes and ends both sides: wait_free returns empty, wait_ready an error.
  void stop();

 private:
  struct Free {
    void operator()(uint8_t* p) const;
  };
  struct Slot {
    uint64_t published = 0;  // seq + 1 of the item published in it; 0 = none yet
    uint64_t free_for = 0;   // the item the producer may fill in next
    Status status;
    std::span<const uint8_t> ready;
  };
  size_t slots_, slot_bytes_;
  std::unique_ptr<uint8_t, Free> data_;  // slots_ * slot_bytes_, aligned
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopped_ = false;
  std::vector<Slot> state_;
};

}  // namespace dcllm
