// Test-only: writes a float Model as a .dcllm compressed model by the contract of
// docs/model-container.md with the plainest recipe (no scaling, no pruning): per-tensor RTN
// INT8 linear weights, per-row INT8 token_embd/output, f32 norms. Independent of `compress`.
#pragma once

#include <string>
#include <vector>

#include "dcllm/container.h"
#include "model/dcllm_model_metadata.h"
#include "model/model.h"
#include "model/model_loader.h"
#include "quant/quantize_int8.h"

namespace dcllm::testing {

inline bool is_per_row_tensor(const std::string& name) {
  return name == "token_embd.weight" || name == "output.weight";
}

inline Status write_rtn_int8_container(const Model& m, const std::string& path,
                                       uint64_t chunk_bytes = 16384,
                                       const std::string& codec = "rans") {
  nlohmann::json meta = {
      {"format", "dcllm-model"},
      {"version", 1},
      {"config", model_config_to_json(m.config)},
      {"compression",
       {{"scale", "none"},
        {"wquant", "per-tensor"},
        {"aquant", "per-token"},
        {"prune", "none"},
        {"sparsity", 0.0},
        {"codec", codec}}},
      {"provenance", {{"source", m.path}, {"source_format", m.format}, {"tool", "dcllm tests"}}}};
  if (m.vocab) meta["vocab"] = vocab_to_json(*m.vocab);
  auto w = ContainerWriter::create(path, meta);
  if (!w.ok()) return w.status();
  w->set_threads(1);
  for (const ModelTensor& t : m.tensors()) {
    TensorSpec spec;
    spec.name = t.name;
    for (int64_t d : t.shape) spec.shape.push_back(static_cast<uint64_t>(d));
    const size_t n = static_cast<size_t>(t.numel());
    const bool matrix = t.shape.size() == 2 && t.name.ends_with(".weight");
    if (!matrix) {
      spec.dtype = DType::kF32;
      auto raw = std::span(reinterpret_cast<const uint8_t*>(t.data), n * sizeof(float));
      DCLLM_RETURN_IF_ERROR(w->add_tensor(spec, raw, "raw"));
      continue;
    }
    spec.dtype = DType::kI8;
    std::vector<int8_t> q(n);
    if (is_per_row_tensor(t.name)) {
      spec.quant.scheme = QuantScheme::kPerChannel;
      const size_t rows = static_cast<size_t>(t.shape[0]), cols = static_cast<size_t>(t.shape[1]);
      for (size_t r = 0; r < rows; ++r) {
        spec.quant.scales.push_back(quantize_int8_per_tensor(std::span(t.data + r * cols, cols),
                                                             std::span(q.data() + r * cols, cols)));
      }
    } else {
      spec.quant.scheme = QuantScheme::kPerTensor;
      spec.quant.scales = {quantize_int8_per_tensor(std::span(t.data, n), q)};
    }
    auto raw = std::span(reinterpret_cast<const uint8_t*>(q.data()), n);
    DCLLM_RETURN_IF_ERROR(w->add_tensor(spec, raw, codec, chunk_bytes));
  }
  return w->finish();
}

// stories260K from ../shared/data in float32, also written to `path` as above: the fixture of
// the W8A8 runtime and CLI tests.
inline Expected<Model> stories260k_with_rtn_container(const std::string& path) {
  const std::string data = DCLLM_SHARED_DATA;
  LoadOptions o;
  o.tokenizer_path = data + "/tok512.bin";
  DCLLM_ASSIGN_OR_RETURN(Model m, load_model(data + "/stories260K.bin", o));
  DCLLM_RETURN_IF_ERROR(write_rtn_int8_container(m, path));
  return m;
}

// Unties `m`'s classifier: adds its own output.weight (a float32 copy of token_embd), so the
// embedding is only looked up and output.weight is an INT8 linear of its own once written.
inline void untie_classifier(Model& m) {
  const ModelTensor* embd = m.find("token_embd.weight");
  if (!embd) return;
  ModelTensor out;
  out.name = "output.weight";
  out.shape = embd->shape;
  out.stored_type = "F32";
  out.data = embd->data;
  m.add_tensor(std::move(out));
  m.config.tied_classifier = false;
}

}  // namespace dcllm::testing
