// The .dcllm model reader. Weights are decoded once at load (decoding on the
// fly comes later): f32 tensors become owned floats, i8 tensors owned
// Int8Tensors with their scales.
#include "model/dcllm_model_reader.h"

#include <cstring>
#include <limits>
#include <memory>

#include "dcllm/container.h"
#include "model/dcllm_model_metadata.h"
#include "model/int8_tensor.h"
#include "runtime/int8_gemm.h"

namespace dcllm {
namespace {

std::string upper_dtype(DType d) {
  std::string s(dtype_name(d));
  for (char& ch : s) ch = static_cast<char>(ch >= 'a' && ch <= 'z' ? ch - 32 : ch);
  return s;
}

// Per-tensor or per-token activation quantization, from metadata
// compression.aquant.
Expected<bool> per_tensor_activations(const nlohmann::json& meta, const std::string& path) {
  auto comp = meta.find("compression");
  if (comp == meta.end() || !comp->is_object()) return false;
  auto aq = comp->find("aquant");
  if (aq == comp->end()) return false;
  if (aq->is_string() && *aq == "per-token") return false;
  if (aq->is_string() && *aq == "per-tensor") return true;
  return Corrupt(path + ": metadata compression.aquant must be \"per-token\" or \"per-tensor\"");
}

Expected<ModelTensor> read_tensor_entry(const ModelContainer& c, const TensorEntry& e,
                                        const LoadOptions& opts, bool per_tensor_act) {
  const std::string& path = c.path();
  ModelTensor t;
  t.name = e.spec.name;
  for (uint64_t d : e.spec.shape) {
    if (d > (uint64_t{1} << 40)) return Corrupt(path + ": tensor '" + t.name + "' is too large");
    t.shape.push_back(static_cast<int64_t>(d));
  }
  t.stored_type = upper_dtype(e.spec.dtype);
  t.stored_bytes = e.stored_bytes;
  if (e.spec.dtype == DType::kF32) {
    if (e.spec.quant.scheme != QuantScheme::kNone)
      return Unsupported(path + ": f32 tensor '" + t.name + "' carries quantization scales");
    if (!opts.load_weights) return t;
    t.owned.resize(static_cast<size_t>(t.numel()));
    DCLLM_RETURN_IF_ERROR(c.read_tensor(
        t.name,
        std::span(reinterpret_cast<uint8_t*>(t.owned.data()), t.owned.size() * sizeof(float)),
        opts.threads));
    t.data = t.owned.data();
    return t;
  }
  if (e.spec.dtype != DType::kI8) {
    return Unsupported(path + ": tensor '" + t.name + "' has dtype " +
                       std::string(dtype_name(e.spec.dtype)) + " (a model holds f32 and i8)");
  }
  if (t.shape.size() != 2 || e.spec.quant.scheme == QuantScheme::kNone) {
    return Unsupported(path + ": i8 tensor '" + t.name +
                       "' must be a quantized matrix [out, in] with scales");
  }
  auto q = std::make_shared<Int8Tensor>();
  q->rows = t.shape[0];
  q->cols = t.shape[1];
  q->scheme = e.spec.quant.scheme;
  q->group = e.spec.quant.group_size;
  q->scales = e.spec.quant.scales;  // count validated by the container against the shape
  q->per_tensor_activations = per_tensor_act;
  if (q->cols > kInt8GemmMaxCols || q->rows > std::numeric_limits<int>::max()) {
    return Unsupported(path + ": i8 tensor '" + t.name +
                       "' has more rows or columns than the INT8 kernels allow");
  }
  if (opts.load_weights) {
    q->values.resize(static_cast<size_t>(t.numel()));
    DCLLM_RETURN_IF_ERROR(c.read_tensor(
        t.name, std::span(reinterpret_cast<uint8_t*>(q->values.data()), q->values.size()),
        opts.threads));
  }
  t.int8 = std::move(q);
  return t;
}

}  // namespace

Expected<Model> read_dcllm_model(const std::string& path, const LoadOptions& opts) {
  DCLLM_ASSIGN_OR_RETURN(ModelContainer c, ModelContainer::open(path));
  return read_dcllm_model(c, opts);
}

Expected<Model> read_dcllm_model(const ModelContainer& c, const LoadOptions& opts) {
  const std::string& path = c.path();
  const nlohmann::json& meta = c.metadata();
  auto format = meta.find("format");
  if (format == meta.end() || !format->is_string() || *format != "dcllm-model") {
    return Unsupported(path +
                       ": the container holds no model (metadata format "
                       "is not \"dcllm-model\")");
  }
  auto version = meta.find("version");
  if (version == meta.end() || !version->is_number_integer() || *version != 1) {
    return Unsupported(path + ": unsupported dcllm-model version (expected 1)");
  }
  Model m;
  m.path = path;
  m.format = "dcllm v" + std::to_string(c.version());
  auto config = meta.find("config");
  if (config == meta.end()) return Corrupt(path + ": metadata has no \"config\" object");
  DCLLM_ASSIGN_OR_RETURN(m.config, model_config_from_json(*config, path));
  auto vocab = meta.find("vocab");
  if (vocab != meta.end() && !vocab->is_null()) {
    DCLLM_ASSIGN_OR_RETURN(Vocab v, vocab_from_json(*vocab, path));
    m.vocab = std::move(v);
  }
  DCLLM_ASSIGN_OR_RETURN(bool per_tensor_act, per_tensor_activations(meta, path));
  if (auto comp = meta.find("compression"); comp != meta.end() && comp->is_object()) {
    for (const auto& [k, v] : comp->items())
      m.info.emplace_back("compression." + k, v.is_string() ? v.get<std::string>() : v.dump());
  }
  for (const TensorEntry& e : c.tensors()) {
    DCLLM_ASSIGN_OR_RETURN(ModelTensor t, read_tensor_entry(c, e, opts, per_tensor_act));
    m.add_tensor(std::move(t));
  }
  return m;
}

void dequantize_int8_tensors(Model& model) {
  for (const ModelTensor& t : model.tensors()) {
    if (!t.int8 || t.int8->values.empty()) continue;
    ModelTensor* mt = model.find_mutable(t.name);
    mt->owned = t.int8->dequantize();
    mt->data = mt->owned.data();
    mt->int8.reset();
  }
}

}  // namespace dcllm
