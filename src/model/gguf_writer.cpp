// GGUF serialisation: little-endian scalars, u64-length strings, arrays as (type, count, items);
// tensor offsets are relative to the data section and every tensor starts 32-byte aligned.
#include "model/gguf_writer.h"

#include <cstring>

#include "core/atomic_file.h"

namespace dcllm {
namespace {

class Bytes {
 public:
  template <typename T>
  void put(T v) {
    uint8_t b[sizeof(T)];
    std::memcpy(b, &v, sizeof(T));  // x86-64 and every GGUF reader are little-endian
    out.insert(out.end(), b, b + sizeof(T));
  }
  void str(const std::string& s) {
    put<uint64_t>(s.size());
    out.insert(out.end(), s.begin(), s.end());
  }
  std::vector<uint8_t> out;
};

void put_value(Bytes& b, const GgufValue& v) {
  switch (v.type) {
    case GgufValueType::kUint32:
      b.put<uint32_t>(static_cast<uint32_t>(v.u));
      break;
    case GgufValueType::kInt32:
      b.put<int32_t>(static_cast<int32_t>(v.i));
      break;
    case GgufValueType::kFloat32:
      b.put<float>(static_cast<float>(v.f));
      break;
    case GgufValueType::kBool:
      b.put<uint8_t>(v.u ? 1 : 0);
      break;
    case GgufValueType::kString:
      b.str(v.str);
      break;
    case GgufValueType::kArray:
      b.put<uint32_t>(static_cast<uint32_t>(v.elem_type));
      b.put<uint64_t>(v.count);
      if (v.elem_type == GgufValueType::kString) {
        for (const GgufValue& item : v.items) b.str(item.str);
      } else {
        b.out.insert(b.out.end(), v.packed.begin(), v.packed.end());
      }
      break;
    default:
      break;  // the add_* functions make no other types
  }
}

uint64_t align_up(uint64_t n, uint64_t a) {
  return (n + a - 1) / a * a;
}

template <typename T>
GgufValue packed_array(GgufValueType elem, const std::vector<T>& values) {
  GgufValue v;
  v.type = GgufValueType::kArray;
  v.elem_type = elem;
  v.count = values.size();
  v.packed.resize(values.size() * sizeof(T));
  if (!values.empty()) std::memcpy(v.packed.data(), values.data(), v.packed.size());
  return v;
}

}  // namespace

void GgufWriter::add_string(const std::string& key, const std::string& value) {
  GgufValue v;
  v.type = GgufValueType::kString;
  v.str = value;
  metadata_.emplace_back(key, std::move(v));
}

void GgufWriter::add_u32(const std::string& key, uint32_t value) {
  GgufValue v;
  v.type = GgufValueType::kUint32;
  v.u = value;
  metadata_.emplace_back(key, std::move(v));
}

void GgufWriter::add_i32(const std::string& key, int32_t value) {
  GgufValue v;
  v.type = GgufValueType::kInt32;
  v.i = value;
  metadata_.emplace_back(key, std::move(v));
}

void GgufWriter::add_f32(const std::string& key, float value) {
  GgufValue v;
  v.type = GgufValueType::kFloat32;
  v.f = value;
  metadata_.emplace_back(key, std::move(v));
}

void GgufWriter::add_bool(const std::string& key, bool value) {
  GgufValue v;
  v.type = GgufValueType::kBool;
  v.u = value ? 1 : 0;
  metadata_.emplace_back(key, std::move(v));
}

void GgufWriter::add_strings(const std::string& key, const std::vector<std::string>& values) {
  GgufValue v;
  v.type = GgufValueType::kArray;
  v.elem_type = GgufValueType::kString;
  v.count = values.size();
  v.items.reserve(values.size());
  for (const std::string& s : values) {
    GgufValue item;
    item.type = GgufValueType::kString;
    item.str = s;
    v.items.push_back(std::move(item));
  }
  metadata_.emplace_back(key, std::move(v));
}

void GgufWriter::add_f32s(const std::string& key, const std::vector<float>& values) {
  metadata_.emplace_back(key, packed_array(GgufValueType::kFloat32, values));
}

void GgufWriter::add_i32s(const std::string& key, const std::vector<int32_t>& values) {
  metadata_.emplace_back(key, packed_array(GgufValueType::kInt32, values));
}

Status GgufWriter::add_tensor(const std::string& name, const std::vector<int64_t>& shape,
                              GgmlType type, Producer produce) {
  for (const Tensor& t : tensors_) {
    if (t.name == name) return InvalidArgument("gguf writer: tensor '" + name + "' added twice");
  }
  const auto traits = ggml_type_traits(static_cast<uint32_t>(type));
  if (!traits || shape.empty()) {
    return InvalidArgument("gguf writer: tensor '" + name + "' has no shape or an unknown type");
  }
  Tensor t{name, {}, type, 0, std::move(produce)};
  uint64_t elems = 1;
  for (auto it = shape.rbegin(); it != shape.rend(); ++it) {
    if (*it <= 0)
      return InvalidArgument("gguf writer: tensor '" + name + "' has an empty dimension");
    t.ne.push_back(static_cast<uint64_t>(*it));
    elems *= static_cast<uint64_t>(*it);
  }
  if (t.ne[0] % traits->block_elems != 0) {
    return InvalidArgument("gguf writer: tensor '" + name + "' rows of " + std::to_string(t.ne[0]) +
                           " are not whole " + std::string(traits->name) + " blocks");
  }
  t.bytes = elems / traits->block_elems * traits->block_bytes;
  tensors_.push_back(std::move(t));
  return Status::Ok();
}

std::vector<uint8_t> GgufWriter::header() const {
  Bytes b;
  b.out.insert(b.out.end(), {'G', 'G', 'U', 'F'});
  b.put<uint32_t>(3);
  b.put<uint64_t>(tensors_.size());
  b.put<uint64_t>(metadata_.size());
  for (const auto& [key, value] : metadata_) {
    b.str(key);
    b.put<uint32_t>(static_cast<uint32_t>(value.type));
    put_value(b, value);
  }
  uint64_t offset = 0;
  for (const Tensor& t : tensors_) {
    b.str(t.name);
    b.put<uint32_t>(static_cast<uint32_t>(t.ne.size()));
    for (uint64_t n : t.ne) b.put<uint64_t>(n);
    b.put<uint32_t>(static_cast<uint32_t>(t.type));
    b.put<uint64_t>(offset);
    offset = align_up(offset + t.bytes, kAlignment);
  }
  return std::move(b.out);
}

Status GgufWriter::write(const std::string& path) const {
  DCLLM_ASSIGN_OR_RETURN(AtomicFileWriter out, AtomicFileWriter::create(path));
  const std::vector<uint8_t> head = header();
  DCLLM_RETURN_IF_ERROR(out.write(head));
  DCLLM_RETURN_IF_ERROR(out.write_zeros(align_up(head.size(), kAlignment) - head.size()));
  std::vector<uint8_t> data;
  for (const Tensor& t : tensors_) {
    data.assign(static_cast<size_t>(t.bytes), 0);
    DCLLM_RETURN_IF_ERROR(t.produce(data));
    DCLLM_RETURN_IF_ERROR(out.write(data));
    DCLLM_RETURN_IF_ERROR(out.write_zeros(align_up(t.bytes, kAlignment) - t.bytes));
  }
  return out.commit();
}

}  // namespace dcllm
