// GgufBuilder: writes GGUF bytes in memory for tests — metadata of any type, tensors of any
// type id — so reader tests can make valid files and then break them one field at a time.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace dcllm::testing {

class GgufBuilder {
 public:
  explicit GgufBuilder(uint32_t version = 3) : version_(version) {}

  // Raw pieces, for composing values (and malformed ones) by hand.
  template <typename T>
  static void put(std::vector<uint8_t>& out, T v) {
    const auto* p = reinterpret_cast<const uint8_t*>(&v);
    out.insert(out.end(), p, p + sizeof(T));
  }
  static void put_str(std::vector<uint8_t>& out, const std::string& s) {
    put<uint64_t>(out, s.size());
    out.insert(out.end(), s.begin(), s.end());
  }

  // A key with a value already encoded (type id + payload).
  GgufBuilder& kv_raw(const std::string& key, uint32_t type, const std::vector<uint8_t>& payload) {
    put_str(kv_, key);
    put<uint32_t>(kv_, type);
    kv_.insert(kv_.end(), payload.begin(), payload.end());
    ++n_kv_;
    return *this;
  }
  template <typename T>
  GgufBuilder& kv(const std::string& key, uint32_t type, T v) {
    std::vector<uint8_t> p;
    put<T>(p, v);
    return kv_raw(key, type, p);
  }
  GgufBuilder& kv_u32(const std::string& key, uint32_t v) { return kv(key, 4, v); }
  GgufBuilder& kv_f32(const std::string& key, float v) { return kv(key, 6, v); }
  GgufBuilder& kv_bool(const std::string& key, bool v) { return kv(key, 7, uint8_t{v}); }
  GgufBuilder& kv_str(const std::string& key, const std::string& v) {
    std::vector<uint8_t> p;
    put_str(p, v);
    return kv_raw(key, 8, p);
  }
  GgufBuilder& kv_str_array(const std::string& key, const std::vector<std::string>& v) {
    std::vector<uint8_t> p;
    put<uint32_t>(p, 8);
    put<uint64_t>(p, v.size());
    for (const auto& s : v) put_str(p, s);
    return kv_raw(key, 9, p);
  }
  template <typename T>
  GgufBuilder& kv_array(const std::string& key, uint32_t elem_type, const std::vector<T>& v) {
    std::vector<uint8_t> p;
    put<uint32_t>(p, elem_type);
    put<uint64_t>(p, v.size());
    for (const T& x : v) put<T>(p, x);
    return kv_raw(key, 9, p);
  }

  // A tensor with GGML dims `ne` (ne[0] contiguous), type id and its bytes; the offset is the
  // next aligned position in the data section unless `offset` is given.
  GgufBuilder& tensor(const std::string& name, std::vector<uint64_t> ne, uint32_t type,
                      const std::vector<uint8_t>& bytes, int64_t offset = -1) {
    while (data_.size() % alignment_) data_.push_back(0);
    const uint64_t at = offset >= 0 ? static_cast<uint64_t>(offset) : data_.size();
    if (offset < 0) data_.insert(data_.end(), bytes.begin(), bytes.end());
    put_str(infos_, name);
    put<uint32_t>(infos_, static_cast<uint32_t>(ne.size()));
    for (uint64_t d : ne) put<uint64_t>(infos_, d);
    put<uint32_t>(infos_, type);
    put<uint64_t>(infos_, at);
    ++n_tensors_;
    return *this;
  }
  GgufBuilder& tensor_f32(const std::string& name, std::vector<uint64_t> ne,
                          const std::vector<float>& values) {
    std::vector<uint8_t> b(values.size() * 4);
    std::memcpy(b.data(), values.data(), b.size());
    return tensor(name, std::move(ne), 0, b);
  }

  GgufBuilder& alignment(uint32_t a) {
    alignment_ = a;
    return kv_u32("general.alignment", a);
  }
  GgufBuilder& counts_override(uint64_t n_tensors, uint64_t n_kv) {
    n_tensors_override_ = n_tensors;
    n_kv_override_ = n_kv;
    return *this;
  }

  std::vector<uint8_t> build() const {
    std::vector<uint8_t> out = {'G', 'G', 'U', 'F'};
    put<uint32_t>(out, version_);
    put<uint64_t>(out, n_tensors_override_ ? n_tensors_override_ : n_tensors_);
    put<uint64_t>(out, n_kv_override_ ? n_kv_override_ : n_kv_);
    out.insert(out.end(), kv_.begin(), kv_.end());
    out.insert(out.end(), infos_.begin(), infos_.end());
    while (out.size() % alignment_) out.push_back(0);
    out.insert(out.end(), data_.begin(), data_.end());
    return out;
  }

 private:
  uint32_t version_;
  uint32_t alignment_ = 32;
  uint64_t n_kv_ = 0, n_tensors_ = 0;
  uint64_t n_kv_override_ = 0, n_tensors_override_ = 0;
  std::vector<uint8_t> kv_, infos_, data_;
};

}  // namespace dcllm::testing
