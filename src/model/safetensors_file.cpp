// The safetensors parser and checkpoint loader. Every number from the header is checked before
// use (overflow-checked sizes, offsets inside the data buffer, tensors tiling it exactly), so a
// malformed file is one error line and never a read outside the mapping.
#include "model/safetensors_file.h"

#include <sys/stat.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstring>
#include <set>

#include "container/checked_math.h"
#include "core/float16.h"
#include "core/json_limits.h"
#include "core/mapped_file.h"
#include "model/printable.h"

namespace dcllm {
namespace {

using json = nlohmann::json;

// Element sizes of the dtypes the format defines; 0 = unknown.
size_t dtype_size(std::string_view d) {
  static const std::pair<std::string_view, size_t> kSizes[] = {
      {"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"F8_E4M3", 1}, {"F8_E5M2", 1},
      {"U16", 2},  {"I16", 2}, {"F16", 2}, {"BF16", 2},    {"U32", 4},
      {"I32", 4},  {"F32", 4}, {"U64", 8}, {"I64", 8},     {"F64", 8}};
  for (auto [name, size] : kSizes)
    if (name == d) return size;
  return 0;
}

struct Extent {
  uint64_t begin, end;
  size_t tensor;
};

// One header entry, checked against the data buffer's size.
Status parse_entry(const std::string& key, const json& v, uint64_t data_size,
                   const std::string& file, SafetensorsTensor* t, Extent* e) {
  const std::string where = file + ": tensor '" + printable(key) + "'";
  if (!v.is_object()) return Corrupt(where + " is not an object");
  auto dtype = v.find("dtype");
  if (dtype == v.end() || !dtype->is_string()) return Corrupt(where + " has no dtype string");
  t->name = key;
  t->dtype = dtype->get<std::string>();
  const size_t elem = dtype_size(t->dtype);
  if (elem == 0) return Corrupt(where + " has unknown dtype '" + printable(t->dtype) + "'");
  auto shape = v.find("shape");
  if (shape == v.end() || !shape->is_array() || shape->size() > 8)
    return Corrupt(where + " has no shape list (of at most 8 dimensions)");
  // Every dimension and every running product fits int64_t, so numel() (which multiplies in
  // the same order) cannot overflow even when a later zero makes the total small.
  constexpr uint64_t kMaxInt64 = uint64_t{INT64_MAX};
  uint64_t numel = 1;
  for (const json& d : *shape) {
    if (!d.is_number_unsigned()) return Corrupt(where + " has a dimension that is not >= 0");
    const auto n = d.get<uint64_t>();
    auto product = checked_mul(numel, n);
    if (!product || n > kMaxInt64 || *product > kMaxInt64)
      return Corrupt(where + " has a shape too large");
    numel = *product;
    t->shape.push_back(static_cast<int64_t>(n));
  }
  auto offsets = v.find("data_offsets");
  if (offsets == v.end() || !offsets->is_array() || offsets->size() != 2 ||
      !(*offsets)[0].is_number_unsigned() || !(*offsets)[1].is_number_unsigned())
    return Corrupt(where + ": data_offsets is not two integers >= 0");
  e->begin = (*offsets)[0].get<uint64_t>();
  e->end = (*offsets)[1].get<uint64_t>();
  if (e->begin > e->end) return Corrupt(where + ": data_offsets begin after they end");
  if (e->end > data_size) {
    return Corrupt(where + ": data_offsets end at " + std::to_string(e->end) +
                   ", past the data buffer of " + std::to_string(data_size) + " bytes");
  }
  auto bytes = checked_mul(numel, elem);
  if (!bytes || *bytes != e->end - e->begin) {
    return Corrupt(where + ": data_offsets span " + std::to_string(e->end - e->begin) +
                   " bytes, the shape and dtype need " +
                   (bytes ? std::to_string(*bytes) : std::string("more than 2^64")));
  }
  return Status::Ok();
}

}  // namespace

int64_t SafetensorsTensor::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

const SafetensorsTensor* SafetensorsFile::find(std::string_view tensor) const {
  for (const SafetensorsTensor& t : tensors)
    if (t.name == tensor) return &t;
  return nullptr;
}

Expected<SafetensorsFile> parse_safetensors(std::span<const uint8_t> bytes,
                                            const std::string& name) {
  if (bytes.size() < 8) return Corrupt(name + ": shorter than the 8-byte header length");
  uint64_t header = 0;
  std::memcpy(&header, bytes.data(), 8);
  if (header == 0) return Corrupt(name + ": empty JSON header");
  if (header > kSafetensorsMaxHeader) {
    return Corrupt(name + ": header of " + std::to_string(header) +
                   " bytes is larger than the 100 MB limit");
  }
  if (header > bytes.size() - 8) {
    return Corrupt(name + ": header of " + std::to_string(header) + " bytes runs past the end (" +
                   std::to_string(bytes.size()) + " bytes)");
  }
  const auto* text = reinterpret_cast<const char*>(bytes.data() + 8);
  DCLLM_ASSIGN_OR_RETURN(
      const json j, parse_untrusted_json(std::string_view(text, static_cast<size_t>(header)), name,
                                         "header is not a JSON object"));
  if (!j.is_object()) return Corrupt(name + ": header is not a JSON object");

  const std::span<const uint8_t> data = bytes.subspan(8 + header);
  SafetensorsFile f;
  f.name = name;
  std::vector<Extent> extents;
  for (const auto& [key, value] : j.items()) {
    if (key == "__metadata__") {
      if (!value.is_object()) return Corrupt(name + ": __metadata__ is not an object");
      for (const auto& [k, v] : value.items()) {
        if (!v.is_string())
          return Corrupt(name + ": __metadata__ '" + printable(k) + "' is not a string");
        f.metadata.emplace_back(k, v.get<std::string>());
      }
      continue;
    }
    SafetensorsTensor t;
    Extent e{};
    DCLLM_RETURN_IF_ERROR(parse_entry(key, value, data.size(), name, &t, &e));
    e.tensor = f.tensors.size();
    f.tensors.push_back(std::move(t));
    extents.push_back(e);
  }
  // The tensors must tile the data buffer: sorted by offset, each starts where the last ended.
  std::sort(extents.begin(), extents.end(), [](const Extent& a, const Extent& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t at = 0;
  std::vector<SafetensorsTensor> ordered;
  for (const Extent& e : extents) {
    SafetensorsTensor& t = f.tensors[e.tensor];
    if (e.begin < at)
      return Corrupt(name + ": tensor '" + printable(t.name) + "' overlaps another");
    if (e.begin > at) {
      return Corrupt(name + ": bytes " + std::to_string(at) + ".." + std::to_string(e.begin) +
                     " of the data buffer belong to no tensor");
    }
    t.bytes = data.subspan(static_cast<size_t>(e.begin), static_cast<size_t>(e.end - e.begin));
    at = e.end;
    ordered.push_back(std::move(t));
  }
  if (at != data.size()) {
    return Corrupt(name + ": the last " + std::to_string(data.size() - at) +
                   " bytes of the data buffer belong to no tensor");
  }
  f.tensors = std::move(ordered);
  return f;
}

Status tensor_to_f32(const SafetensorsTensor& t, std::span<float> out, const std::string& file) {
  if (static_cast<int64_t>(out.size()) != t.numel())
    return Internal(file + ": tensor '" + printable(t.name) + "' converted into a wrong size");
  // A tensor built by hand (a slice) rather than by the parser must still cover its bytes.
  const size_t elem = dtype_size(t.dtype);
  if (elem != 0 && t.bytes.size() != out.size() * elem) {
    return Internal(file + ": tensor '" + printable(t.name) + "' has " +
                    std::to_string(t.bytes.size()) + " bytes for " + std::to_string(out.size()) +
                    " elements of " + printable(t.dtype));
  }
  const uint8_t* p = t.bytes.data();
  if (t.dtype == "F32") {
    std::memcpy(out.data(), p, out.size() * sizeof(float));
  } else if (t.dtype == "F16" || t.dtype == "BF16") {
    const bool bf16 = t.dtype == "BF16";
    for (size_t i = 0; i < out.size(); ++i) {
      uint16_t bits;
      std::memcpy(&bits, p + 2 * i, 2);
      out[i] = bf16 ? bf16_to_f32(bits) : fp16_to_f32(bits);
    }
  } else {
    return Unsupported(file + ": tensor '" + printable(t.name) + "' has dtype " +
                       printable(t.dtype) + " (F32, F16 and BF16 are read)");
  }
  return Status::Ok();
}

namespace {

bool file_exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

// The shard names of an index's weight_map, in first-seen order, and the map itself.
Status read_index(const std::string& path, std::vector<std::string>* shards,
                  std::vector<std::pair<std::string, std::string>>* weight_map) {
  DCLLM_ASSIGN_OR_RETURN(MappedFile f, MappedFile::open(path));
  if (f.size() > kSafetensorsMaxHeader) return Corrupt(path + ": larger than 100 MB");
  const auto* text = reinterpret_cast<const char*>(f.data());
  DCLLM_ASSIGN_OR_RETURN(const json j, parse_untrusted_json(std::string_view(text, f.size()), path,
                                                            "not a JSON object"));
  if (!j.is_object()) return Corrupt(path + ": not a JSON object");
  auto map = j.find("weight_map");
  if (map == j.end() || !map->is_object()) return Corrupt(path + ": no \"weight_map\" object");
  std::set<std::string> seen;
  for (const auto& [tensor, shard] : map->items()) {
    if (!shard.is_string())
      return Corrupt(path + ": weight_map['" + printable(tensor) + "'] is not a file name");
    const std::string s = shard.get<std::string>();
    if (s.empty() || s == "." || s == ".." || s.find('/') != std::string::npos ||
        s.find('\0') != std::string::npos) {
      return Corrupt(path + ": shard name '" + printable(s) +
                     "' is not a plain file name in the checkpoint directory");
    }
    if (seen.insert(s).second) shards->push_back(s);
    weight_map->emplace_back(tensor, s);
  }
  if (shards->empty()) return Corrupt(path + ": weight_map names no shard");
  return Status::Ok();
}

}  // namespace

Expected<SafetensorsCheckpoint> SafetensorsCheckpoint::open(const std::string& dir) {
  const std::string single = dir + "/model.safetensors";
  const std::string index_path = dir + "/model.safetensors.index.json";
  std::vector<std::string> shards;
  std::vector<std::pair<std::string, std::string>> weight_map;
  // The single file wins when both are there, as in transformers' loader: a stale index left
  // beside a consolidated model.safetensors must not shadow it.
  if (file_exists(single)) {
    shards.push_back("model.safetensors");
  } else if (file_exists(index_path)) {
    DCLLM_RETURN_IF_ERROR(read_index(index_path, &shards, &weight_map));
  } else {
    return IoError(dir + ": neither model.safetensors nor model.safetensors.index.json is there");
  }

  SafetensorsCheckpoint ck;
  for (const std::string& shard : shards) {
    const std::string path = dir + "/" + shard;
    if (!file_exists(path))
      return IoError(index_path + ": shard '" + printable(shard) + "' does not exist");
    DCLLM_ASSIGN_OR_RETURN(MappedFile m, MappedFile::open(path));
    auto mapped = std::make_shared<const MappedFile>(std::move(m));
    DCLLM_ASSIGN_OR_RETURN(SafetensorsFile f, parse_safetensors(mapped->bytes(), path));
    for (size_t k = 0; k < f.tensors.size(); ++k) {
      const auto [it, fresh] = ck.index_.emplace(f.tensors[k].name, std::pair{ck.files_.size(), k});
      if (!fresh) {
        return Corrupt(path + ": tensor '" + printable(f.tensors[k].name) + "' is also in " +
                       ck.files_[it->second.first].name);
      }
    }
    ck.maps_.push_back(std::move(mapped));
    ck.files_.push_back(std::move(f));
  }
  for (const auto& [tensor, shard] : weight_map) {
    auto it = ck.index_.find(tensor);
    if (it == ck.index_.end() || ck.files_[it->second.first].name != dir + "/" + shard) {
      return Corrupt(index_path + ": tensor '" + printable(tensor) + "' is not in shard '" +
                     printable(shard) + "'");
    }
  }
  return ck;
}

const SafetensorsTensor* SafetensorsCheckpoint::find(std::string_view tensor) const {
  auto it = index_.find(std::string(tensor));
  if (it == index_.end()) return nullptr;
  return &files_[it->second.first].tensors[it->second.second];
}

std::vector<const SafetensorsTensor*> SafetensorsCheckpoint::tensors() const {
  std::vector<const SafetensorsTensor*> all;
  all.reserve(index_.size());
  for (const SafetensorsFile& f : files_)
    for (const SafetensorsTensor& t : f.tensors) all.push_back(&t);
  return all;
}

const std::string& SafetensorsCheckpoint::file_of(const SafetensorsTensor& t) const {
  for (const SafetensorsFile& f : files_) {
    if (!f.tensors.empty() && &t >= f.tensors.data() && &t < f.tensors.data() + f.tensors.size())
      return f.name;
  }
  return files_.front().name;
}

}  // namespace dcllm
