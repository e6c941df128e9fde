// Loading benchmark inputs: float weights are converted block by block (so alignment of the
// payload in the file never matters) and quantized per tensor to the INT8 the codecs see.
#include "eval/bench_input.h"

#include <algorithm>
#include <cstring>

#include "core/float16.h"
#include "core/mapped_file.h"
#include "model/model_loader.h"
#include "quant/quantize_int8.h"

namespace dcllm {
namespace {

constexpr std::string_view kDtypeNames[] = {"i8", "f32", "f16", "bf16"};
constexpr InputDtype kDtypes[] = {InputDtype::kI8, InputDtype::kF32, InputDtype::kF16,
                                  InputDtype::kBf16};

// Widens `count` little-endian elements starting at `src` to float32.
void convert_to_f32(InputDtype dtype, const uint8_t* src, size_t count, float* dst) {
  switch (dtype) {
    case InputDtype::kF32:
      std::memcpy(dst, src, count * sizeof(float));
      break;
    case InputDtype::kF16:
    case InputDtype::kBf16:
      for (size_t i = 0; i < count; ++i) {
        const auto bits = static_cast<uint16_t>(src[2 * i] | (src[2 * i + 1] << 8));
        dst[i] = dtype == InputDtype::kF16 ? fp16_to_f32(bits) : bf16_to_f32(bits);
      }
      break;
    case InputDtype::kI8:
      break;
  }
}

std::string plural(size_t n, const char* word) {
  return std::to_string(n) + " " + word + (n == 1 ? "" : "s");
}

}  // namespace

Expected<InputDtype> parse_input_dtype(std::string_view name) {
  for (size_t i = 0; i < std::size(kDtypeNames); ++i) {
    if (name == kDtypeNames[i]) return kDtypes[i];
  }
  return InvalidArgument("unknown dtype '" + std::string(name) + "' (known: i8, f32, f16, bf16)");
}

std::string_view input_dtype_name(InputDtype dtype) {
  return kDtypeNames[static_cast<size_t>(dtype)];
}

size_t input_dtype_bytes(InputDtype dtype) {
  switch (dtype) {
    case InputDtype::kI8:
      return 1;
    case InputDtype::kF32:
      return 4;
    case InputDtype::kF16:
    case InputDtype::kBf16:
      return 2;
  }
  return 1;
}

Expected<BenchInput> load_bench_file(const BenchFileSpec& spec) {
  const bool is_float = spec.dtype != InputDtype::kI8;
  if (is_float && !spec.quantize) {
    return InvalidArgument(spec.path + ": " + std::string(input_dtype_name(spec.dtype)) +
                           " input must be quantized for the codecs (add --quantize per-tensor)");
  }
  if (!is_float && spec.quantize) {
    return InvalidArgument(spec.path + ": i8 input is already quantized; drop --quantize");
  }
  if (!is_float && spec.tensor_elems != 0) {
    return InvalidArgument(spec.path + ": tensor blocks only apply to quantized float input");
  }

  DCLLM_ASSIGN_OR_RETURN(MappedFile file, MappedFile::open(spec.path));
  if (spec.offset > file.size()) {
    return InvalidArgument(spec.path + ": offset " + std::to_string(spec.offset) +
                           " past end of file (size " + std::to_string(file.size()) + ")");
  }
  const std::span<const uint8_t> payload = file.bytes().subspan(spec.offset);
  const size_t elem_bytes = input_dtype_bytes(spec.dtype);
  if (payload.size() % elem_bytes != 0) {
    return InvalidArgument(spec.path + ": " + std::to_string(payload.size()) +
                           " bytes after offset " + std::to_string(spec.offset) +
                           " are not a whole number of " +
                           std::string(input_dtype_name(spec.dtype)) + " elements");
  }
  const size_t elems = payload.size() / elem_bytes;
  if (elems == 0) return InvalidArgument(spec.path + ": no data after offset");

  BenchInput input;
  input.label = spec.path;
  if (!is_float) {
    input.bytes.assign(payload.begin(), payload.end());
    input.description = "i8 as stored";
    return input;
  }

  const size_t block = spec.tensor_elems == 0 ? elems : spec.tensor_elems;
  input.bytes.resize(elems);
  std::vector<float> weights(std::min(block, elems));
  size_t tensors = 0;
  for (size_t begin = 0; begin < elems; begin += block, ++tensors) {
    const size_t count = std::min(block, elems - begin);
    convert_to_f32(spec.dtype, payload.data() + begin * elem_bytes, count, weights.data());
    quantize_int8_per_tensor(
        std::span<const float>(weights.data(), count),
        std::span<int8_t>(reinterpret_cast<int8_t*>(input.bytes.data() + begin), count));
  }
  input.description = std::string(input_dtype_name(spec.dtype)) + " -> INT8 per tensor, " +
                      plural(tensors, "tensor");
  return input;
}

Expected<BenchInput> make_bench_synthetic(SyntheticKind kind, size_t bytes, size_t tensor_elems) {
  if (bytes == 0) return InvalidArgument("synthetic input size must be > 0");
  DCLLM_ASSIGN_OR_RETURN(std::vector<uint8_t> data, make_synthetic_int8(kind, bytes, tensor_elems));
  BenchInput input;
  input.label = "synthetic:" + std::string(synthetic_kind_name(kind));
  const size_t tensors = (bytes + tensor_elems - 1) / tensor_elems;
  input.description = "INT8 per tensor, " + plural(tensors, "tensor") + " of up to " +
                      std::to_string(tensor_elems) + " elements";
  input.bytes = std::move(data);
  return input;
}

}  // namespace dcllm

namespace dcllm {

Expected<BenchInput> load_bench_model(
    const std::string& path, const std::function<void(int64_t done, int64_t total)>& on_progress) {
  DCLLM_ASSIGN_OR_RETURN(Model model, load_model(path));
  BenchInput input;
  input.label = path;
  // Norms and biases stay float.
  auto is_matrix = [](const ModelTensor& t) { return t.shape.size() >= 2 && t.data != nullptr; };
  int64_t matrices = 0;
  for (const ModelTensor& t : model.tensors()) matrices += is_matrix(t) ? 1 : 0;
  size_t tensors = 0;
  for (const ModelTensor& t : model.tensors()) {
    if (!is_matrix(t)) continue;
    size_t n = static_cast<size_t>(t.numel());
    size_t at = input.bytes.size();
    input.bytes.resize(at + n);
    quantize_int8_per_tensor({t.data, n}, {reinterpret_cast<int8_t*>(input.bytes.data() + at), n});
    ++tensors;
    if (on_progress) on_progress(static_cast<int64_t>(tensors), matrices);
  }
  if (input.bytes.empty()) return InvalidArgument(path + ": no weight matrices to benchmark");
  input.description =
      model.format + " weight matrices -> INT8 per tensor, " + std::to_string(tensors) + " tensors";
  return input;
}

}  // namespace dcllm
