// Little-endian encoding for the container's binary header and index: ByteSink appends fields,
// ByteSource reads them with a bound check on every read (it never reads past its span).
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>
#include <vector>

namespace dcllm {

class ByteSink {
 public:
  explicit ByteSink(std::vector<uint8_t>& out) : out_(out) {}
  void u8(uint8_t v) { out_.push_back(v); }
  void u16(uint16_t v) { put(v, 2); }
  void u32(uint32_t v) { put(v, 4); }
  void u64(uint64_t v) { put(v, 8); }
  void f32(float v) {
    uint32_t bits;
    std::memcpy(&bits, &v, 4);
    u32(bits);
  }
  void bytes(std::string_view s) { out_.insert(out_.end(), s.begin(), s.end()); }

 private:
  void put(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) out_.push_back(static_cast<uint8_t>(v >> (8 * i)));
  }
  std::vector<uint8_t>& out_;
};

// Each read returns false (and leaves the value untouched) when fewer bytes remain than needed.
class ByteSource {
 public:
  explicit ByteSource(std::span<const uint8_t> in) : in_(in) {}
  size_t remaining() const { return in_.size() - pos_; }
  size_t position() const { return pos_; }
  bool u8(uint8_t& v) { return get(v, 1); }
  bool u16(uint16_t& v) { return get(v, 2); }
  bool u32(uint32_t& v) { return get(v, 4); }
  bool u64(uint64_t& v) { return get(v, 8); }
  bool f32(float& v) {
    uint32_t bits;
    if (!u32(bits)) return false;
    std::memcpy(&v, &bits, 4);
    return true;
  }
  // A view of the next n bytes.
  bool bytes(size_t n, std::string_view& v) {
    if (n > remaining()) return false;
    v = {reinterpret_cast<const char*>(in_.data() + pos_), n};
    pos_ += n;
    return true;
  }

 private:
  template <typename T>
  bool get(T& v, size_t n) {
    if (n > remaining()) return false;
    uint64_t r = 0;
    for (size_t i = 0; i < n; ++i) r |= uint64_t{in_[pos_ + i]} << (8 * i);
    v = static_cast<T>(r);
    pos_ += n;
    return true;
  }
  std::span<const uint8_t> in_;
  size_t pos_ = 0;
};

}  // namespace dcllm
