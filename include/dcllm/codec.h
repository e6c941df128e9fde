// The Codec interface: one lossless byte codec (ours or a library's) behind one API, so the
// container, the benches and the partial-compression planner treat them all alike.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dcllm/status.h"

namespace dcllm {

// Implementations are stateless after construction: compress and decompress may be called
// from several threads at once on one object (the container writer and verify rely on it).
class Codec {
 public:
  virtual ~Codec() = default;
  // Stable name used on the CLI, in JSON reports and in the container index.
  virtual std::string_view name() const = 0;
  // Appends the compressed form of `in` to `out`. The frame is self-describing except for the
  // raw size, which the caller stores (the container index and the bench both know it).
  virtual Status compress(std::span<const uint8_t> in, std::vector<uint8_t>& out) const = 0;
  // Decodes `in` into exactly out.size() bytes; any mismatch or malformed input is kCorrupt.
  virtual Status decompress(std::span<const uint8_t> in, std::span<uint8_t> out) const = 0;
};

// Names of every codec the build knows, in the order reports list them.
std::vector<std::string> codec_names();
// The codec called `name`, or kInvalidArgument naming the known ones.
Expected<std::unique_ptr<Codec>> make_codec(std::string_view name);

}  // namespace dcllm
