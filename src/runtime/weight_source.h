// WeightSource: what the forward pass asks for a linear's INT8 weights, whatever the tier
// (docs/runtime.md): decoded values in place, or a decode ring filled by a prefetch thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "dcllm/status.h"
#include "model/int8_tensor.h"

namespace dcllm {

// INT8 weight bytes a source keeps in RAM.
struct WeightMemory {
  uint64_t decoded = 0;  // decoded values used in place (resident tier; a tied token_embd)
  uint64_t stored = 0;   // coded chunk bytes held in RAM (compressed tier)
  uint64_t ring = 0;     // the DecodeBuffer's slots
};

class WeightSource {
 public:
  // `tensors`: every INT8 linear's tensor, in the forward pass's execution order (one pass:
  // [proj_in], per layer q, k, v, o, [gate], up, down, [proj_out], classifier); a linear's id
  // is its index here. Tensors that hold decoded values are served in place; when any is kept
  // coded (Int8Tensor::stored), a prefetch thread decodes the coded ones in that order, over
  // and over, into a ring of `ring_slots` slots. Coded tensors of one model share one tier.
  static Expected<std::unique_ptr<WeightSource>> create(std::vector<const Int8Tensor*> tensors,
                                                        size_t ring_slots = 3);
  virtual ~WeightSource() = default;

  // The values of linear `id`, valid until release(id); waits for the prefetch thread when
  // they are not decoded yet. A read, checksum or decode failure comes back here, naming the
  // file, tensor and chunk. Linears must be acquired in execution order, one at a time; one
  // that a pass skips (the classifier of a prompt's earlier batches) is skipped over.
  virtual Expected<const int8_t*> acquire(size_t id) = 0;
  virtual void release(size_t id) = 0;
  // "resident", "compressed" or "stream".
  virtual std::string_view tier() const = 0;
  virtual WeightMemory memory() const = 0;
};

}  // namespace dcllm
