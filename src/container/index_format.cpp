// Index serialisation and its validating parser. The parser trusts nothing: it is the part of
// the reader that fuzzing exercises most.
#include "container/index_format.h"

#include <algorithm>
#include <map>
#include <unordered_set>

#include "container/byte_io.h"
#include "container/checked_math.h"
#include "container/utf8.h"
#include "fmt/format.h"

namespace dcllm {
namespace {

// Smallest possible encodings, used to bound counts by the bytes that remain.
constexpr size_t kMinCodecRecord = 1 + 1;
constexpr size_t kMinTensorRecord = 2 + 1 + 1 + 1 + 1 + 4 + 8 + 4;
constexpr size_t kChunkRecord = 8 + 8 + 8 + 8 + 8 + 4;
constexpr uint8_t kMaxDTypeCode = static_cast<uint8_t>(DType::kF32);
constexpr uint8_t kMaxQuantSchemeCode = static_cast<uint8_t>(QuantScheme::kGroup);

}  // namespace

bool is_valid_codec_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxCodecNameBytes) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == ':' || c == '+' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::vector<uint8_t> serialize_index(const std::vector<TensorEntry>& tensors,
                                     uint64_t offset_base) {
  std::vector<std::string> codecs;
  std::map<std::string, uint32_t, std::less<>> codec_ids;
  for (const auto& t : tensors)
    for (const auto& c : t.chunks)
      if (codec_ids.emplace(c.codec, static_cast<uint32_t>(codecs.size())).second)
        codecs.push_back(c.codec);

  std::vector<uint8_t> buf;
  ByteSink out(buf);
  out.u32(static_cast<uint32_t>(codecs.size()));
  for (const auto& c : codecs) {
    out.u8(static_cast<uint8_t>(c.size()));
    out.bytes(c);
  }
  out.u32(static_cast<uint32_t>(tensors.size()));
  for (const auto& t : tensors) {
    out.u16(static_cast<uint16_t>(t.spec.name.size()));
    out.bytes(t.spec.name);
    out.u8(static_cast<uint8_t>(t.spec.dtype));
    out.u8(static_cast<uint8_t>(t.spec.shape.size()));
    for (uint64_t d : t.spec.shape) out.u64(d);
    out.u8(static_cast<uint8_t>(t.spec.quant.scheme));
    out.u32(t.spec.quant.group_size);
    out.u64(t.spec.quant.scales.size());
    for (float s : t.spec.quant.scales) out.f32(s);
    out.u32(static_cast<uint32_t>(t.chunks.size()));
    for (const auto& c : t.chunks) {
      out.u64(c.offset + offset_base);
      out.u64(c.stored_size);
      out.u64(c.first_row);
      out.u64(c.row_count);
      out.u64(c.xxh3);
      out.u32(codec_ids.find(c.codec)->second);
    }
  }
  return buf;
}

Expected<std::vector<TensorEntry>> parse_index(std::span<const uint8_t> index, uint64_t data_offset,
                                               uint64_t file_size, const std::string& name) {
  ByteSource in(index);
  auto truncated = [&](std::string_view what) {
    return Corrupt(
        fmt::format("{}: index truncated at byte {} reading {}", name, in.position(), what));
  };

  uint32_t codec_count = 0;
  if (!in.u32(codec_count)) return truncated("codec count");
  if (codec_count > in.remaining() / kMinCodecRecord)
    return Corrupt(
        fmt::format("{}: codec count {} exceeds what the index can hold", name, codec_count));
  std::vector<std::string> codecs;
  codecs.reserve(codec_count);
  std::unordered_set<std::string_view> codec_set;
  for (uint32_t i = 0; i < codec_count; ++i) {
    uint8_t len = 0;
    std::string_view s;
    if (!in.u8(len) || !in.bytes(len, s)) return truncated("codec name");
    if (!is_valid_codec_name(s))
      return Corrupt(fmt::format("{}: codec {} has an invalid name", name, i));
    if (!codec_set.insert(s).second)
      return Corrupt(fmt::format("{}: codec '{}' listed twice", name, s));
    codecs.emplace_back(s);
  }

  uint32_t tensor_count = 0;
  if (!in.u32(tensor_count)) return truncated("tensor count");
  if (tensor_count > in.remaining() / kMinTensorRecord)
    return Corrupt(
        fmt::format("{}: tensor count {} exceeds what the index can hold", name, tensor_count));
  std::vector<TensorEntry> tensors;
  tensors.reserve(tensor_count);
  std::unordered_set<std::string> names;
  for (uint32_t ti = 0; ti < tensor_count; ++ti) {
    TensorEntry t;
    uint16_t name_len = 0;
    std::string_view tname;
    if (!in.u16(name_len) || !in.bytes(name_len, tname)) return truncated("tensor name");
    if (name_len == 0 || name_len > kMaxTensorNameBytes || !is_valid_utf8(tname))
      return Corrupt(fmt::format("{}: tensor {} has an invalid name", name, ti));
    t.spec.name = std::string(tname);
    auto fault = [&](const std::string& what) {
      return Corrupt(fmt::format("{}: tensor '{}': {}", name, t.spec.name, what));
    };
    uint8_t dtype = 0, ndim = 0;
    if (!in.u8(dtype) || !in.u8(ndim)) return truncated("tensor dtype");
    if (dtype == 0 || dtype > kMaxDTypeCode) return fault(fmt::format("unknown dtype {}", dtype));
    t.spec.dtype = static_cast<DType>(dtype);
    if (ndim > kMaxTensorDims) return fault(fmt::format("{} dimensions", ndim));
    t.spec.shape.resize(ndim);
    for (auto& d : t.spec.shape)
      if (!in.u64(d)) return truncated("tensor shape");

    uint8_t scheme = 0;
    uint64_t scale_count = 0;
    if (!in.u8(scheme) || !in.u32(t.spec.quant.group_size) || !in.u64(scale_count))
      return truncated("quant parameters");
    if (scheme > kMaxQuantSchemeCode) return fault(fmt::format("unknown quant scheme {}", scheme));
    t.spec.quant.scheme = static_cast<QuantScheme>(scheme);
    if (scale_count > in.remaining() / 4)
      return fault(fmt::format("scale count {} runs past the index", scale_count));
    t.spec.quant.scales.resize(static_cast<size_t>(scale_count));
    for (auto& s : t.spec.quant.scales) in.f32(s);

    Status valid = validate_tensor_spec(t.spec);
    if (!valid.ok()) return Corrupt(fmt::format("{}: {}", name, valid.message()));
    if (!names.insert(t.spec.name).second) return fault("name used twice");
    const uint64_t raw_bytes = *tensor_raw_bytes(t.spec);
    const uint64_t rows = tensor_row_count(t.spec);
    const uint64_t row_bytes = tensor_row_bytes(t.spec);

    uint32_t chunk_count = 0;
    if (!in.u32(chunk_count)) return truncated("chunk count");
    if (chunk_count > in.remaining() / kChunkRecord)
      return fault(fmt::format("chunk count {} runs past the index", chunk_count));
    if (raw_bytes == 0 && chunk_count != 0)
      return fault(fmt::format("{} chunks for a tensor of no bytes", chunk_count));
    t.chunks.resize(chunk_count);
    uint64_t next_row = 0;
    for (uint32_t ci = 0; ci < chunk_count; ++ci) {
      ChunkInfo& c = t.chunks[ci];
      uint32_t codec_id = 0;
      in.u64(c.offset);
      in.u64(c.stored_size);
      in.u64(c.first_row);
      in.u64(c.row_count);
      in.u64(c.xxh3);
      in.u32(codec_id);  // all six fit: chunk_count was bounded by the remaining bytes
      auto chunk_fault = [&](const std::string& what) {
        return fault(fmt::format("chunk {}: {}", ci, what));
      };
      if (codec_id >= codecs.size()) return chunk_fault(fmt::format("codec id {}", codec_id));
      c.codec = codecs[codec_id];
      if (c.first_row != next_row)
        return chunk_fault(
            fmt::format("first row {} where row {} comes next", c.first_row, next_row));
      if (c.row_count == 0 || c.row_count > rows - next_row)
        return chunk_fault(
            fmt::format("{} rows from row {} (the tensor has {})", c.row_count, next_row, rows));
      // row_count * row_bytes <= raw_bytes, which fits in 64 bits.
      c.raw_offset = next_row * row_bytes;
      c.raw_size = c.row_count * row_bytes;
      if (c.raw_size > kMaxChunkRawBytes)
        return chunk_fault(fmt::format("raw size {} outside 1..{}", c.raw_size, kMaxChunkRawBytes));
      next_row += c.row_count;
      if (c.stored_size == 0) return chunk_fault("stored size 0");
      if (c.offset % kContainerAlignment != 0)
        return chunk_fault(
            fmt::format("offset {} not {}-byte aligned", c.offset, kContainerAlignment));
      auto end = checked_add(c.offset, c.stored_size);
      if (c.offset < data_offset || !end || *end > file_size)
        return chunk_fault(
            fmt::format("stored range at {} size {} outside the data region "
                        "[{}, {})",
                        c.offset, c.stored_size, data_offset, file_size));
      t.stored_bytes += c.stored_size;  // cannot wrap: each chunk lies inside the file
    }
    if (raw_bytes > 0 && next_row != rows)
      return fault(fmt::format("chunks cover {} of {} rows", next_row, rows));
    t.raw_bytes = raw_bytes;
    tensors.push_back(std::move(t));
  }
  if (in.remaining() != 0)
    return Corrupt(fmt::format("{}: {} stray bytes after the index", name, in.remaining()));

  // Chunks must not share bytes: sort by offset and compare neighbours.
  struct Range {
    uint64_t begin, end;
    size_t tensor, chunk;
  };
  std::vector<Range> ranges;
  for (size_t ti = 0; ti < tensors.size(); ++ti)
    for (size_t ci = 0; ci < tensors[ti].chunks.size(); ++ci) {
      const auto& c = tensors[ti].chunks[ci];
      ranges.push_back({c.offset, c.offset + c.stored_size, ti, ci});
    }
  std::sort(ranges.begin(), ranges.end(),
            [](const Range& a, const Range& b) { return a.begin < b.begin; });
  for (size_t i = 1; i < ranges.size(); ++i) {
    const Range& a = ranges[i - 1];
    const Range& b = ranges[i];
    if (b.begin < a.end)
      return Corrupt(fmt::format("{}: tensor '{}' chunk {} overlaps tensor '{}' chunk {}", name,
                                 tensors[b.tensor].spec.name, b.chunk, tensors[a.tensor].spec.name,
                                 a.chunk));
  }
  return tensors;
}

}  // namespace dcllm
