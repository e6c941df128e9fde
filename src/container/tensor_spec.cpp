// Tensor descriptions shared by writer and reader: dtype and quantization vocabulary, the raw
// size of a tensor and the rules a spec must satisfy (checked on write and again on read).
#include <algorithm>
#include <cstdio>

#include <sys/stat.h>
#include <unistd.h>

#include "container/checked_math.h"
#include "container/utf8.h"
#include "core/mapped_file.h"
#include "dcllm/container.h"
#include "fmt/format.h"

namespace dcllm {

bool has_container_magic(std::span<const uint8_t> prefix) {
  if (prefix.size() < kContainerMagic.size()) return false;
  for (size_t i = 0; i < kContainerMagic.size(); ++i)
    if (prefix[i] != kContainerMagic[i]) return false;
  return true;
}

Expected<bool> is_container_file(const std::string& path) {
  // A directory (a Hugging Face checkpoint) is no container; a FIFO or device would block or
  // never end, so open_regular_file refuses it before a blocking open.
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return false;
  DCLLM_ASSIGN_OR_RETURN(const int fd, open_regular_file(path));
  uint8_t prefix[kContainerMagic.size()] = {};
  const ssize_t n = ::pread(fd, prefix, sizeof(prefix), 0);
  ::close(fd);
  if (n < 0) return IoError(path + ": cannot read");
  return has_container_magic({prefix, static_cast<size_t>(n)});
}

std::string_view dtype_name(DType dtype) {
  switch (dtype) {
    case DType::kI8:
      return "i8";
    case DType::kU8:
      return "u8";
    case DType::kI16:
      return "i16";
    case DType::kI32:
      return "i32";
    case DType::kF16:
      return "f16";
    case DType::kBF16:
      return "bf16";
    case DType::kF32:
      return "f32";
  }
  return "?";
}

size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::kI8:
    case DType::kU8:
      return 1;
    case DType::kI16:
    case DType::kF16:
    case DType::kBF16:
      return 2;
    case DType::kI32:
    case DType::kF32:
      return 4;
  }
  return 0;
}

Expected<DType> dtype_from_name(std::string_view name) {
  for (DType d :
       {DType::kI8, DType::kU8, DType::kI16, DType::kI32, DType::kF16, DType::kBF16, DType::kF32})
    if (dtype_name(d) == name) return d;
  return InvalidArgument(fmt::format("unknown dtype '{}'", name));
}

std::string quant_scheme_name(const QuantParams& quant) {
  return quant_scheme_name(quant.scheme, quant.group_size);
}

Expected<uint64_t> expected_scale_count(const QuantParams& quant, std::span<const uint64_t> shape) {
  // Rows are every dimension but the last; a scalar is one row of one element.
  constexpr uint64_t kMaxDim = uint64_t{1} << 62;  // so the layout's int64 arithmetic cannot wrap
  uint64_t rows = 1, cols = 1;
  if (!shape.empty()) {
    cols = shape.back();
    for (size_t i = 0; i + 1 < shape.size(); ++i) {
      auto r = checked_mul(rows, shape[i]);
      if (!r) return InvalidArgument("row count overflows");
      rows = *r;
    }
  }
  if (rows > kMaxDim || cols > kMaxDim) return InvalidArgument("row count overflows");
  Int8Layout layout;
  layout.scheme = quant.scheme;
  layout.rows = static_cast<int64_t>(rows);
  layout.cols = static_cast<int64_t>(cols);
  layout.group = quant.group_size;
  DCLLM_RETURN_IF_ERROR(validate_int8_layout(layout));
  return static_cast<uint64_t>(layout.scale_count());
}

Expected<uint64_t> tensor_raw_bytes(const TensorSpec& spec) {
  uint64_t n = dtype_size(spec.dtype);
  if (n == 0)
    return InvalidArgument(fmt::format("unknown dtype code {}", static_cast<unsigned>(spec.dtype)));
  for (uint64_t d : spec.shape) {
    auto r = checked_mul(n, d);
    if (!r) return InvalidArgument("tensor byte size overflows 64 bits");
    n = *r;
  }
  return n;
}

Status validate_tensor_spec(const TensorSpec& spec) {
  if (spec.name.empty()) return InvalidArgument("empty tensor name");
  if (spec.name.size() > kMaxTensorNameBytes)
    return InvalidArgument(
        fmt::format("tensor name of {} bytes (at most {})", spec.name.size(), kMaxTensorNameBytes));
  if (!is_valid_utf8(spec.name)) return InvalidArgument("tensor name is not valid UTF-8");
  auto prefix = [&](const Status& s) {
    return Status(s.code(), fmt::format("tensor '{}': {}", spec.name, s.message()));
  };
  if (spec.shape.size() > kMaxTensorDims)
    return prefix(InvalidArgument(
        fmt::format("{} dimensions (at most {})", spec.shape.size(), kMaxTensorDims)));
  auto raw = tensor_raw_bytes(spec);
  if (!raw) return prefix(raw.status());
  auto scales = expected_scale_count(spec.quant, spec.shape);
  if (!scales) return prefix(scales.status());
  if (*scales != spec.quant.scales.size())
    return prefix(InvalidArgument(fmt::format("quant {} needs {} scales, got {}",
                                              quant_scheme_name(spec.quant), *scales,
                                              spec.quant.scales.size())));
  return Status::Ok();
}

uint64_t tensor_row_count(const TensorSpec& spec) {
  return spec.shape.empty() ? 1 : spec.shape[0];
}

uint64_t tensor_row_bytes(const TensorSpec& spec) {
  const uint64_t rows = tensor_row_count(spec);
  auto raw = tensor_raw_bytes(spec);
  return rows == 0 || !raw ? 0 : *raw / rows;
}

Expected<ChunkRowSplit> split_tensor_rows(const TensorSpec& spec, ChunkSplit split) {
  DCLLM_RETURN_IF_ERROR(validate_tensor_spec(spec));
  ChunkRowSplit r;
  r.rows = tensor_row_count(spec);
  const uint64_t row_bytes = tensor_row_bytes(spec);
  if (row_bytes == 0) return r;  // no bytes, no chunks
  if (row_bytes > kMaxChunkRawBytes)
    return InvalidArgument(fmt::format(
        "tensor '{}': one row is {} bytes, more than a chunk may hold ({}); chunks are whole rows",
        spec.name, row_bytes, kMaxChunkRawBytes));
  const uint64_t cap = kMaxChunkRawBytes / row_bytes;  // rows the chunk limit allows
  uint64_t per = cap;
  if (split.rows > 0)
    per = std::min(split.rows, cap);
  else if (split.bytes > 0)
    per = std::clamp<uint64_t>(split.bytes / row_bytes, 1, cap);
  r.chunks = r.rows / per + (r.rows % per != 0);
  return r;
}

}  // namespace dcllm
