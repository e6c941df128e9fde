// C API: loading and freeing a model, its info and tensors (zero-copy views), tokenize and
// detokenize. The model is immutable after load, so every function here is thread-safe.
#include <algorithm>
#include <cstring>
#include <memory>

#include "api/api_model.h"
#include "api/api_support.h"
#include "core/parallel.h"
#include "model/dcllm_model_reader.h"
#include "model/model_loader.h"

namespace dcllm::api {
namespace {

Expected<WeightTier> tier_of(int32_t w) {
  switch (w) {
    case DCLLM_WEIGHTS_RESIDENT:
      return WeightTier::kResident;
    case DCLLM_WEIGHTS_COMPRESSED:
      return WeightTier::kCompressed;
    case DCLLM_WEIGHTS_STREAM:
      return WeightTier::kStream;
  }
  return InvalidArgument("weights: " + std::to_string(w) +
                         " is not a dcllm_weights value (resident 0, compressed 1, stream 2)");
}

dcllm_quant quant_of(QuantScheme s) {
  switch (s) {
    case QuantScheme::kNone:
      return DCLLM_QUANT_NONE;
    case QuantScheme::kPerTensor:
      return DCLLM_QUANT_PER_TENSOR;
    case QuantScheme::kPerChannel:
      return DCLLM_QUANT_PER_CHANNEL;
    case QuantScheme::kGroup:
      return DCLLM_QUANT_GROUP;
  }
  return DCLLM_QUANT_NONE;
}

dcllm_status describe(const ModelTensor& t, dcllm_tensor* out) {
  if (t.shape.size() > DCLLM_MAX_DIMS) {
    return fail(DCLLM_ERR_UNSUPPORTED, "tensor '" + t.name + "' has " +
                                           std::to_string(t.shape.size()) + " dimensions (max " +
                                           std::to_string(DCLLM_MAX_DIMS) + ")");
  }
  dcllm_tensor d{};
  d.name = t.name.c_str();
  d.stored_type = t.stored_type.c_str();
  d.n_dims = static_cast<int32_t>(t.shape.size());
  std::copy(t.shape.begin(), t.shape.end(), d.shape);
  d.n_elements = t.numel();
  if (t.data) {
    d.dtype = DCLLM_DTYPE_F32;
    d.data = t.data;
    d.n_bytes = static_cast<size_t>(d.n_elements) * sizeof(float);
  } else if (t.int8) {
    d.quant = quant_of(t.int8->scheme);
    d.group_size = t.int8->group;
    d.scales = t.int8->scales.empty() ? nullptr : t.int8->scales.data();
    d.n_scales = t.int8->scales.size();
    if (!t.int8->values.empty()) {
      d.dtype = DCLLM_DTYPE_I8;
      d.data = t.int8->values.data();
      d.n_bytes = t.int8->values.size();
    }
  }
  *out = d;
  return DCLLM_OK;
}

}  // namespace

dcllm_status need_tokenizer(const dcllm_model* m, const Tokenizer** out) {
  if (!m->tokenizer) return from_status(m->tokenizer_status);
  *out = &*m->tokenizer;
  return DCLLM_OK;
}

}  // namespace dcllm::api

using namespace dcllm;
using namespace dcllm::api;

extern "C" {

dcllm_load_params dcllm_load_params_default(void) {
  dcllm_load_params p{};
  p.tokenizer_path = nullptr;
  p.weights = DCLLM_WEIGHTS_RESIDENT;
  p.threads = 0;
  return p;
}

dcllm_status dcllm_model_load(const char* path, const dcllm_load_params* params,
                              dcllm_model** out_model) {
  return guarded([&]() -> dcllm_status {
    if (!out_model) return fail(DCLLM_ERR_INVALID_ARGUMENT, "out_model is NULL");
    *out_model = nullptr;
    if (!path) return fail(DCLLM_ERR_INVALID_ARGUMENT, "path is NULL");
    const dcllm_load_params p = params ? *params : dcllm_load_params_default();
    auto tier = tier_of(p.weights);
    if (!tier) return from_status(tier.status());
    LoadOptions load;
    load.tokenizer_path = or_default(p.tokenizer_path, "");
    load.threads = p.threads > 0 ? p.threads : default_thread_count();
    auto model = load_model_with_weights(path, load, *tier);
    if (!model) return from_status(model.status());

    auto m = std::make_unique<dcllm_model>();
    m->model = std::move(model).value();
    m->weights = static_cast<dcllm_weights>(p.weights);  // checked by tier_of
    m->threads = load.threads;
    m->family = std::string(family_name(m->model.config.family));
    auto tok = tokenizer_for(m->model);
    if (tok) {
      m->tokenizer = std::move(tok).value();
    } else {
      m->tokenizer_status = tok.status();
    }
    *out_model = m.release();
    return DCLLM_OK;
  });
}

void dcllm_model_free(dcllm_model* model) {
  delete model;
}

dcllm_status dcllm_model_get_info(const dcllm_model* model, dcllm_model_info* out_info) {
  return guarded([&]() -> dcllm_status {
    if (!model) return fail(DCLLM_ERR_INVALID_ARGUMENT, "model is NULL");
    if (!out_info) return fail(DCLLM_ERR_INVALID_ARGUMENT, "out_info is NULL");
    const Model& m = model->model;
    const ModelConfig& c = m.config;
    dcllm_model_info i{};
    i.path = m.path.c_str();
    i.format = m.format.c_str();
    i.architecture = c.architecture.c_str();
    i.family = model->family.c_str();
    i.vocab_size = c.vocab_size;
    i.dim = c.dim;
    i.hidden_dim = c.hidden_dim;
    i.n_layers = c.n_layers;
    i.n_heads = c.n_heads;
    i.n_kv_heads = c.n_kv_heads;
    i.head_dim = c.head_dim;
    i.context_length = c.seq_len;
    i.parameters = m.parameter_count();
    i.stored_bytes = m.stored_bytes();
    i.n_tensors = m.tensors().size();
    i.has_tokenizer = model->tokenizer.has_value() ? 1 : 0;
    i.bos_id = model->tokenizer ? model->tokenizer->bos_id() : -1;
    i.eos_id = model->tokenizer ? model->tokenizer->eos_id() : -1;
    i.int8 = std::any_of(m.tensors().begin(), m.tensors().end(),
                         [](const ModelTensor& t) { return t.int8 != nullptr; })
                 ? 1
                 : 0;
    i.weights = model->weights;
    *out_info = i;
    return DCLLM_OK;
  });
}

dcllm_status dcllm_model_get_tensor(const dcllm_model* model, size_t index,
                                    dcllm_tensor* out_tensor) {
  return guarded([&]() -> dcllm_status {
    if (!model) return fail(DCLLM_ERR_INVALID_ARGUMENT, "model is NULL");
    if (!out_tensor) return fail(DCLLM_ERR_INVALID_ARGUMENT, "out_tensor is NULL");
    const auto& tensors = model->model.tensors();
    if (index >= tensors.size()) {
      return fail(DCLLM_ERR_INVALID_ARGUMENT, "tensor index " + std::to_string(index) +
                                                  " out of range (the model has " +
                                                  std::to_string(tensors.size()) + ")");
    }
    return describe(tensors[index], out_tensor);
  });
}

dcllm_status dcllm_model_find_tensor(const dcllm_model* model, const char* name,
                                     dcllm_tensor* out_tensor) {
  return guarded([&]() -> dcllm_status {
    if (!model) return fail(DCLLM_ERR_INVALID_ARGUMENT, "model is NULL");
    if (!name) return fail(DCLLM_ERR_INVALID_ARGUMENT, "name is NULL");
    if (!out_tensor) return fail(DCLLM_ERR_INVALID_ARGUMENT, "out_tensor is NULL");
    const ModelTensor* t = model->model.find(name);
    if (!t) {
      return fail(DCLLM_ERR_INVALID_ARGUMENT,
                  model->model.path + ": no tensor named '" + std::string(name) + "'");
    }
    return describe(*t, out_tensor);
  });
}

dcllm_status dcllm_tokenize(const dcllm_model* model, const char* text, size_t text_len,
                            int add_bos, int32_t* tokens, size_t capacity, size_t* out_n_tokens) {
  return guarded([&]() -> dcllm_status {
    if (!model) return fail(DCLLM_ERR_INVALID_ARGUMENT, "model is NULL");
    if (!text_arg_ok(text, text_len))
      return fail(DCLLM_ERR_INVALID_ARGUMENT, "text is NULL, text_len > 0");
    if (!out_n_tokens) return fail(DCLLM_ERR_INVALID_ARGUMENT, "out_n_tokens is NULL");
    if (!tokens && capacity > 0)
      return fail(DCLLM_ERR_INVALID_ARGUMENT, "tokens is NULL, capacity > 0");
    const Tokenizer* tok = nullptr;
    if (dcllm_status s = need_tokenizer(model, &tok); s != DCLLM_OK) return s;
    const std::vector<int32_t> ids =
        tok->encode(std::string_view(text ? text : "", text_len), add_bos != 0);
    *out_n_tokens = ids.size();
    if (ids.size() > capacity) {
      return fail(DCLLM_ERR_BUFFER_TOO_SMALL,
                  "tokenize needs room for " + std::to_string(ids.size()) +
                      " tokens, capacity is " + std::to_string(capacity));
    }
    std::copy(ids.begin(), ids.end(), tokens);
    return DCLLM_OK;
  });
}

dcllm_status dcllm_detokenize(const dcllm_model* model, const int32_t* tokens, size_t n_tokens,
                              char* text, size_t capacity, size_t* out_len) {
  return guarded([&]() -> dcllm_status {
    if (!model) return fail(DCLLM_ERR_INVALID_ARGUMENT, "model is NULL");
    if (!tokens && n_tokens > 0)
      return fail(DCLLM_ERR_INVALID_ARGUMENT, "tokens is NULL, n_tokens > 0");
    const Tokenizer* tok = nullptr;
    if (dcllm_status s = need_tokenizer(model, &tok); s != DCLLM_OK) return s;
    const auto vocab = static_cast<int64_t>(tok->size());
    for (size_t i = 0; i < n_tokens; ++i) {
      if (tokens[i] < 0 || tokens[i] >= vocab) {
        return fail(DCLLM_ERR_INVALID_ARGUMENT,
                    "token " + std::to_string(tokens[i]) + " at index " + std::to_string(i) +
                        " is outside the vocabulary [0, " + std::to_string(vocab) + ")");
      }
    }
    const std::string s = tok->decode(std::span<const int32_t>(tokens, n_tokens));
    return write_text(s, text, capacity, out_len, "detokenize");
  });
}

}  // extern "C"
