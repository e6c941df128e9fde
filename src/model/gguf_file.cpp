// GGUF structure parser. Every count is checked against the bytes left before anything is
// sized by it, every tensor extent against the data section, and sums against overflow.
#include "model/gguf_file.h"

#include <cinttypes>
#include <cstring>
#include <limits>
#include <unordered_set>

#include "model/byte_cursor.h"
#include "model/ggml_types.h"
#include "model/printable.h"

namespace dcllm {
namespace {

constexpr uint32_t kGgufMagic = 0x46554747;  // "GGUF" read as a little-endian uint32
constexpr int kMaxArrayDepth = 8;            // nesting deeper than this is not a real model
constexpr uint32_t kMaxDims = 4;             // GGML tensors have at most four dimensions
constexpr uint64_t kMaxAlignment = 1u << 16;

bool valid_value_type(uint32_t t) {
  return t <= static_cast<uint32_t>(GgufValueType::kFloat64);
}

class Parser {
 public:
  Parser(std::span<const uint8_t> bytes, const std::string& name) : cur_(bytes), name_(name) {}

  Expected<GgufFile> parse();

 private:
  Status fail(const std::string& what) const {
    return Corrupt(name_ + ": " + what + " at byte " + std::to_string(cur_.offset()));
  }
  Status truncated(const std::string& what) const {
    return Corrupt(name_ + ": file ends inside " + what + " (offset " +
                   std::to_string(cur_.offset()) + ", file size " + std::to_string(cur_.size()) +
                   ")");
  }
  Status read_string(const std::string& what, std::string* out);
  Status read_value(GgufValueType type, int depth, const std::string& key, GgufValue* out);
  Status read_array(int depth, const std::string& key, GgufValue* out);
  Status read_tensor_info(uint64_t index, GgufTensorInfo* out);

  ByteCursor cur_;
  const std::string& name_;
};

Status Parser::read_string(const std::string& what, std::string* out) {
  uint64_t len = 0;
  if (!cur_.read(&len)) return truncated(what + " length");
  if (len > cur_.remaining()) {
    return fail(what + " length " + std::to_string(len) + " runs past the end of the file (size " +
                std::to_string(cur_.size()) + ")");
  }
  cur_.read_string(len, out);
  return Status::Ok();
}

Status Parser::read_value(GgufValueType type, int depth, const std::string& key, GgufValue* out) {
  out->type = type;
  const std::string what = "value of '" + printable(key) + "'";
  switch (type) {
    case GgufValueType::kUint8: {
      uint8_t v;
      if (!cur_.read(&v)) return truncated(what);
      out->u = v;
      return Status::Ok();
    }
    case GgufValueType::kBool: {
      uint8_t v;
      if (!cur_.read(&v)) return truncated(what);
      if (v > 1) return fail(what + " is a bool holding " + std::to_string(v));
      out->u = v;
      return Status::Ok();
    }
    case GgufValueType::kInt8: {
      int8_t v;
      if (!cur_.read(&v)) return truncated(what);
      out->i = v;
      return Status::Ok();
    }
    case GgufValueType::kUint16: {
      uint16_t v;
      if (!cur_.read(&v)) return truncated(what);
      out->u = v;
      return Status::Ok();
    }
    case GgufValueType::kInt16: {
      int16_t v;
      if (!cur_.read(&v)) return truncated(what);
      out->i = v;
      return Status::Ok();
    }
    case GgufValueType::kUint32: {
      uint32_t v;
      if (!cur_.read(&v)) return truncated(what);
      out->u = v;
      return Status::Ok();
    }
    case GgufValueType::kInt32: {
      int32_t v;
      if (!cur_.read(&v)) return truncated(what);
      out->i = v;
      return Status::Ok();
    }
    case GgufValueType::kUint64: {
      if (!cur_.read(&out->u)) return truncated(what);
      return Status::Ok();
    }
    case GgufValueType::kInt64: {
      if (!cur_.read(&out->i)) return truncated(what);
      return Status::Ok();
    }
    case GgufValueType::kFloat32: {
      float v;
      if (!cur_.read(&v)) return truncated(what);
      out->f = v;
      return Status::Ok();
    }
    case GgufValueType::kFloat64: {
      if (!cur_.read(&out->f)) return truncated(what);
      return Status::Ok();
    }
    case GgufValueType::kString:
      return read_string(what, &out->str);
    case GgufValueType::kArray:
      return read_array(depth + 1, key, out);
  }
  return fail(what + " has unknown type " + std::to_string(static_cast<uint32_t>(type)));
}

Status Parser::read_array(int depth, const std::string& key, GgufValue* out) {
  const std::string what = "array '" + printable(key) + "'";
  if (depth > kMaxArrayDepth)
    return fail(what + " nests deeper than " + std::to_string(kMaxArrayDepth));
  uint32_t elem = 0;
  if (!cur_.read(&elem)) return truncated(what + " element type");
  if (!valid_value_type(elem))
    return fail(what + " has unknown element type " + std::to_string(elem));
  if (!cur_.read(&out->count)) return truncated(what + " length");
  out->elem_type = static_cast<GgufValueType>(elem);
  // Each element takes at least its packed size (strings: an 8-byte length; arrays: a 4-byte
  // type and an 8-byte count), so a count the remaining bytes cannot hold is corrupt.
  const size_t scalar = gguf_scalar_size(out->elem_type);
  const uint64_t min_elem = scalar ? scalar : (out->elem_type == GgufValueType::kString ? 8 : 12);
  if (out->count > cur_.remaining() / min_elem) {
    return fail(what + " claims " + std::to_string(out->count) +
                " elements, more than the file's remaining " + std::to_string(cur_.remaining()) +
                " bytes can hold");
  }
  if (scalar) {
    const size_t n = static_cast<size_t>(out->count) * scalar;
    out->packed.resize(n);
    cur_.read_bytes(out->packed.data(), n);
    if (out->elem_type == GgufValueType::kBool) {
      for (uint8_t b : out->packed) {
        if (b > 1) return fail(what + " holds a bool of value " + std::to_string(b));
      }
    }
    return Status::Ok();
  }
  out->items.resize(static_cast<size_t>(out->count));
  for (auto& item : out->items) {
    DCLLM_RETURN_IF_ERROR(read_value(out->elem_type, depth, key, &item));
  }
  return Status::Ok();
}

Status Parser::read_tensor_info(uint64_t index, GgufTensorInfo* t) {
  DCLLM_RETURN_IF_ERROR(read_string("name of tensor " + std::to_string(index), &t->name));
  const std::string what = "tensor '" + printable(t->name) + "'";
  uint32_t n_dims = 0;
  if (!cur_.read(&n_dims)) return truncated(what + " rank");
  if (n_dims == 0 || n_dims > kMaxDims) {
    return fail(what + " has " + std::to_string(n_dims) + " dimensions (1 to 4 allowed)");
  }
  t->ne.resize(n_dims);
  for (auto& d : t->ne) {
    if (!cur_.read(&d)) return truncated(what + " shape");
  }
  if (!cur_.read(&t->type)) return truncated(what + " type");
  if (!cur_.read(&t->offset)) return truncated(what + " offset");

  const auto traits = ggml_type_traits(t->type);
  if (!traits) {
    return Unsupported(name_ + ": " + what + " has type " + ggml_type_name(t->type) +
                       ", which dcllm does not read");
  }
  // Element count and byte size with overflow checks: each dimension and the total must stay
  // below 2^62 so later int64 arithmetic is safe.
  constexpr uint64_t kLimit = uint64_t{1} << 62;
  uint64_t numel = 1;
  for (uint64_t d : t->ne) {
    if (d == 0 || d >= kLimit || numel > kLimit / d) {
      return fail(what + " has a shape whose size is zero or overflows");
    }
    numel *= d;
  }
  if (t->ne[0] % traits->block_elems != 0) {
    return fail(what + " row length " + std::to_string(t->ne[0]) + " is not a multiple of the " +
                std::string(traits->name) + " block size " + std::to_string(traits->block_elems));
  }
  const uint64_t blocks = numel / traits->block_elems;
  if (blocks > kLimit / traits->block_bytes) return fail(what + " byte size overflows");
  t->bytes = blocks * traits->block_bytes;
  return Status::Ok();
}

Expected<GgufFile> Parser::parse() {
  GgufFile file;
  uint32_t magic = 0;
  if (!cur_.read(&magic)) return truncated("the magic");
  if (magic != kGgufMagic) return Corrupt(name_ + ": not a GGUF file (bad magic)");
  if (!cur_.read(&file.version)) return truncated("the version");
  if (file.version == 1) return Unsupported(name_ + ": GGUF v1 is not supported (only v2 and v3)");
  if (file.version != 2 && file.version != 3) {
    return Unsupported(name_ + ": GGUF version " + std::to_string(file.version) +
                       " is not supported (a big-endian file reads as a huge version)");
  }
  uint64_t n_tensors = 0, n_kv = 0;
  if (!cur_.read(&n_tensors)) return truncated("the tensor count");
  if (!cur_.read(&n_kv)) return truncated("the metadata count");
  // A key/value needs at least 8 (key length) + 4 (type) + 1 bytes; a tensor info at least
  // 8 + 4 + 8 + 4 + 8. Counts beyond that are corrupt, whatever the rest says.
  if (n_kv > cur_.remaining() / 13) {
    return fail("metadata count " + std::to_string(n_kv) + " exceeds what the file can hold");
  }
  if (n_tensors > cur_.remaining() / 32) {
    return fail("tensor count " + std::to_string(n_tensors) + " exceeds what the file can hold");
  }

  std::unordered_set<std::string> keys;
  file.metadata.reserve(static_cast<size_t>(n_kv));
  for (uint64_t k = 0; k < n_kv; ++k) {
    std::string key;
    DCLLM_RETURN_IF_ERROR(read_string("key of metadata entry " + std::to_string(k), &key));
    uint32_t type = 0;
    if (!cur_.read(&type)) return truncated("the type of '" + printable(key) + "'");
    if (!valid_value_type(type)) {
      return fail("metadata '" + printable(key) + "' has unknown value type " +
                  std::to_string(type));
    }
    GgufValue value;
    DCLLM_RETURN_IF_ERROR(read_value(static_cast<GgufValueType>(type), 0, key, &value));
    if (!keys.insert(key).second)
      return fail("metadata key '" + printable(key) + "' appears twice");
    file.metadata.emplace_back(std::move(key), std::move(value));
  }

  if (const GgufValue* a = file.find("general.alignment")) {
    int64_t v = 0;
    if (!a->as_int64(&v) || v <= 0 || static_cast<uint64_t>(v) > kMaxAlignment ||
        (v & (v - 1)) != 0) {
      return Corrupt(name_ + ": general.alignment must be a power of two up to 65536");
    }
    file.alignment = static_cast<uint64_t>(v);
  }

  std::unordered_set<std::string> names;
  file.tensors.resize(static_cast<size_t>(n_tensors));
  for (uint64_t k = 0; k < n_tensors; ++k) {
    DCLLM_RETURN_IF_ERROR(read_tensor_info(k, &file.tensors[k]));
    if (!names.insert(file.tensors[k].name).second) {
      return fail("tensor name '" + printable(file.tensors[k].name) + "' appears twice");
    }
  }

  // The data section starts at the next multiple of the alignment.
  const uint64_t end_of_header = cur_.offset();
  const uint64_t pad = (file.alignment - end_of_header % file.alignment) % file.alignment;
  file.data_offset = end_of_header + pad;
  if (n_tensors > 0 && file.data_offset > cur_.size()) {
    return Corrupt(name_ + ": header (" + std::to_string(file.data_offset) +
                   " bytes with padding) is larger than the file (" + std::to_string(cur_.size()) +
                   " bytes)");
  }
  const uint64_t data_size = n_tensors > 0 ? cur_.size() - file.data_offset : 0;
  for (const auto& t : file.tensors) {
    if (t.offset % file.alignment != 0) {
      return Corrupt(name_ + ": tensor '" + printable(t.name) + "' offset " +
                     std::to_string(t.offset) + " is not a multiple of the alignment " +
                     std::to_string(file.alignment));
    }
    if (t.offset > data_size || t.bytes > data_size - t.offset) {
      return Corrupt(name_ + ": tensor '" + printable(t.name) + "' (offset " +
                     std::to_string(t.offset) + ", " + std::to_string(t.bytes) +
                     " bytes) runs past the end of the file (" + std::to_string(data_size) +
                     " data bytes)");
    }
  }
  return file;
}

}  // namespace

std::string_view gguf_value_type_name(GgufValueType t) {
  switch (t) {
    case GgufValueType::kUint8:
      return "u8";
    case GgufValueType::kInt8:
      return "i8";
    case GgufValueType::kUint16:
      return "u16";
    case GgufValueType::kInt16:
      return "i16";
    case GgufValueType::kUint32:
      return "u32";
    case GgufValueType::kInt32:
      return "i32";
    case GgufValueType::kFloat32:
      return "f32";
    case GgufValueType::kBool:
      return "bool";
    case GgufValueType::kString:
      return "str";
    case GgufValueType::kArray:
      return "arr";
    case GgufValueType::kUint64:
      return "u64";
    case GgufValueType::kInt64:
      return "i64";
    case GgufValueType::kFloat64:
      return "f64";
  }
  return "?";
}

size_t gguf_scalar_size(GgufValueType t) {
  switch (t) {
    case GgufValueType::kUint8:
    case GgufValueType::kInt8:
    case GgufValueType::kBool:
      return 1;
    case GgufValueType::kUint16:
    case GgufValueType::kInt16:
      return 2;
    case GgufValueType::kUint32:
    case GgufValueType::kInt32:
    case GgufValueType::kFloat32:
      return 4;
    case GgufValueType::kUint64:
    case GgufValueType::kInt64:
    case GgufValueType::kFloat64:
      return 8;
    case GgufValueType::kString:
    case GgufValueType::kArray:
      return 0;
  }
  return 0;
}

bool GgufValue::is_integer() const {
  switch (type) {
    case GgufValueType::kUint8:
    case GgufValueType::kInt8:
    case GgufValueType::kUint16:
    case GgufValueType::kInt16:
    case GgufValueType::kUint32:
    case GgufValueType::kInt32:
    case GgufValueType::kUint64:
    case GgufValueType::kInt64:
      return true;
    default:
      return false;
  }
}

bool GgufValue::as_int64(int64_t* out) const {
  switch (type) {
    case GgufValueType::kUint8:
    case GgufValueType::kUint16:
    case GgufValueType::kUint32:
    case GgufValueType::kUint64:
      if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return false;
      *out = static_cast<int64_t>(u);
      return true;
    case GgufValueType::kInt8:
    case GgufValueType::kInt16:
    case GgufValueType::kInt32:
    case GgufValueType::kInt64:
      *out = i;
      return true;
    default:
      return false;
  }
}

bool GgufValue::as_double(double* out) const {
  if (is_float()) {
    *out = f;
    return true;
  }
  if (type == GgufValueType::kBool) {
    *out = static_cast<double>(u);
    return true;
  }
  switch (type) {
    case GgufValueType::kUint8:
    case GgufValueType::kUint16:
    case GgufValueType::kUint32:
    case GgufValueType::kUint64:
      *out = static_cast<double>(u);
      return true;
    case GgufValueType::kInt8:
    case GgufValueType::kInt16:
    case GgufValueType::kInt32:
    case GgufValueType::kInt64:
      *out = static_cast<double>(i);
      return true;
    default:
      return false;
  }
}

GgufValue GgufValue::packed_element(uint64_t k) const {
  GgufValue v;
  v.type = elem_type;
  const size_t sz = gguf_scalar_size(elem_type);
  if (type != GgufValueType::kArray || sz == 0 || k >= count) return v;
  const uint8_t* p = packed.data() + k * sz;
  switch (elem_type) {
    case GgufValueType::kUint8:
    case GgufValueType::kBool:
      v.u = p[0];
      break;
    case GgufValueType::kInt8:
      v.i = static_cast<int8_t>(p[0]);
      break;
    case GgufValueType::kUint16: {
      uint16_t x;
      std::memcpy(&x, p, 2);
      v.u = x;
      break;
    }
    case GgufValueType::kInt16: {
      int16_t x;
      std::memcpy(&x, p, 2);
      v.i = x;
      break;
    }
    case GgufValueType::kUint32: {
      uint32_t x;
      std::memcpy(&x, p, 4);
      v.u = x;
      break;
    }
    case GgufValueType::kInt32: {
      int32_t x;
      std::memcpy(&x, p, 4);
      v.i = x;
      break;
    }
    case GgufValueType::kFloat32: {
      float x;
      std::memcpy(&x, p, 4);
      v.f = x;
      break;
    }
    case GgufValueType::kUint64:
      std::memcpy(&v.u, p, 8);
      break;
    case GgufValueType::kInt64:
      std::memcpy(&v.i, p, 8);
      break;
    case GgufValueType::kFloat64:
      std::memcpy(&v.f, p, 8);
      break;
    default:
      break;
  }
  return v;
}

std::string GgufValue::to_display() const {
  switch (type) {
    case GgufValueType::kBool:
      return u ? "true" : "false";
    case GgufValueType::kString:
      return str;
    case GgufValueType::kArray: {
      std::string r(1, '[');
      r += gguf_value_type_name(elem_type);
      r += " x ";
      r += std::to_string(count);
      r += ']';
      return r;
    }
    case GgufValueType::kFloat32:
    case GgufValueType::kFloat64: {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.9g", f);
      return buf;
    }
    default:
      break;
  }
  return is_integer() && (type == GgufValueType::kUint8 || type == GgufValueType::kUint16 ||
                          type == GgufValueType::kUint32 || type == GgufValueType::kUint64)
             ? std::to_string(u)
             : std::to_string(i);
}

const GgufValue* GgufFile::find(std::string_view key) const {
  for (const auto& [k, v] : metadata) {
    if (k == key) return &v;
  }
  return nullptr;
}

Expected<GgufFile> parse_gguf(std::span<const uint8_t> bytes, const std::string& name) {
  return Parser(bytes, name).parse();
}

}  // namespace dcllm
