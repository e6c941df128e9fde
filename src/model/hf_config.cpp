// config.json fields per family, with the defaults transformers applies when a field is absent.
// The JSON is untrusted: every field is type- and range-checked before it becomes a ModelConfig.
#include "model/hf_config.h"

#include <nlohmann/json.hpp>

#include <array>
#include <cmath>
#include <optional>

#include "core/json_limits.h"
#include "model/printable.h"

namespace dcllm {
namespace {

using json = nlohmann::json;

constexpr std::array<std::string_view, 5> kArchitectures = {
    "LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM", "OPTForCausalLM",
    "GPT2LMHeadModel"};

// Typed access to config.json keys; a present key of the wrong type or range is an error, an
// absent one takes the caller's default (transformers' default for that family).
class ConfigFields {
 public:
  ConfigFields(const json& j, std::string file) : j_(j), file_(std::move(file)) {}

  Status error(const std::string& key, const std::string& want) const {
    return Corrupt(file_ + ": \"" + key + "\" must be " + want);
  }
  bool has(const char* key) const {
    auto it = j_.find(key);
    return it != j_.end() && !it->is_null();
  }
  // A positive integer no larger than `max` (sizes), or `fallback` when absent.
  Status size(const char* key, int64_t* out, std::optional<int64_t> fallback,
              int64_t max = int64_t{1} << 24) const {
    if (!has(key)) {
      if (!fallback) return error(key, "present (a positive integer)");
      *out = *fallback;
      return Status::Ok();
    }
    const json& v = j_.at(key);
    if (!v.is_number_integer() || v.get<int64_t>() < 1 || v.get<int64_t>() > max)
      return error(key, "an integer in 1.." + std::to_string(max));
    *out = v.get<int64_t>();
    return Status::Ok();
  }
  Status number(const char* key, float* out, double fallback, double lo, double hi) const {
    double v = fallback;
    if (has(key)) {
      const json& x = j_.at(key);
      if (!x.is_number()) return error(key, "a number");
      v = x.get<double>();
    }
    if (!(v > lo && v <= hi))
      return error(key, "a number in (" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
    *out = static_cast<float>(v);
    return Status::Ok();
  }
  Status boolean(const char* key, bool* out, bool fallback) const {
    if (!has(key)) {
      *out = fallback;
      return Status::Ok();
    }
    if (!j_.at(key).is_boolean()) return error(key, "true or false");
    *out = j_.at(key).get<bool>();
    return Status::Ok();
  }
  Status string(const char* key, std::string* out, const std::string& fallback) const {
    if (!has(key)) {
      *out = fallback;
      return Status::Ok();
    }
    if (!j_.at(key).is_string()) return error(key, "a string");
    *out = j_.at(key).get<std::string>();
    return Status::Ok();
  }
  // A token id, or -1 when absent (a list takes its first entry, as generation does).
  Status token_id(const char* key, int64_t* out) const {
    *out = -1;
    if (!has(key)) return Status::Ok();
    const json* v = &j_.at(key);
    if (v->is_array()) {
      if (v->empty()) return Status::Ok();
      v = &v->front();
    }
    if (!v->is_number_integer() || v->get<int64_t>() < 0 || v->get<int64_t>() > (1 << 30))
      return error(key, "a token id");
    *out = v->get<int64_t>();
    return Status::Ok();
  }
  const std::string& file() const { return file_; }

 private:
  const json& j_;
  std::string file_;
};

Expected<Activation> activation_from(const std::string& name, const std::string& file) {
  if (name == "silu" || name == "swish") return Activation::kSilu;
  if (name == "relu") return Activation::kRelu;
  if (name == "gelu_new" || name == "gelu_pytorch_tanh") return Activation::kGeluTanh;
  if (name == "gelu") return Activation::kGelu;
  return Unsupported(file + ": activation '" + printable(name) +
                     "' is not supported (silu, relu, gelu, gelu_new, gelu_pytorch_tanh)");
}

Status read_llama(const ConfigFields& f, const json& j, HfConfig& h) {
  ModelConfig& c = h.config;
  c.family = ModelFamily::kLlama;
  c.rope_style = RopeStyle::kHalves;  // HF keeps q/k in rotate_half order (GGUF permutes them)
  DCLLM_RETURN_IF_ERROR(f.size("hidden_size", &c.dim, std::nullopt));
  DCLLM_RETURN_IF_ERROR(f.size("intermediate_size", &c.hidden_dim, std::nullopt));
  DCLLM_RETURN_IF_ERROR(f.size("num_hidden_layers", &c.n_layers, std::nullopt, 4096));
  DCLLM_RETURN_IF_ERROR(f.size("num_attention_heads", &c.n_heads, std::nullopt, 4096));
  DCLLM_RETURN_IF_ERROR(f.size("num_key_value_heads", &c.n_kv_heads, c.n_heads, 4096));
  if (c.dim % c.n_heads != 0 && !f.has("head_dim"))
    return f.error("num_attention_heads", "a divisor of hidden_size (or give head_dim)");
  DCLLM_RETURN_IF_ERROR(f.size("head_dim", &c.head_dim, c.dim / c.n_heads, 4096));
  DCLLM_RETURN_IF_ERROR(f.size("vocab_size", &c.vocab_size, std::nullopt));
  DCLLM_RETURN_IF_ERROR(f.size("max_position_embeddings", &c.seq_len, 2048, int64_t{1} << 22));
  DCLLM_RETURN_IF_ERROR(f.number("rms_norm_eps", &c.norm_eps, 1e-6, 0.0, 1.0));
  DCLLM_RETURN_IF_ERROR(f.number("rope_theta", &c.rope_theta, 10000.0, 0.0, 1e12));
  std::string act;
  DCLLM_RETURN_IF_ERROR(f.string("hidden_act", &act, "silu"));
  DCLLM_ASSIGN_OR_RETURN(c.activation, activation_from(act, f.file()));
  c.rope_dim = c.head_dim;
  c.attn_qkv_bias = h.architecture == "Qwen2ForCausalLM";
  bool flag = false;
  for (const char* key : {"attention_bias", "mlp_bias"}) {
    DCLLM_RETURN_IF_ERROR(f.boolean(key, &flag, false));
    if (flag)
      return Unsupported(f.file() + ": \"" + std::string(key) + "\": true is not supported");
  }
  if (f.has("rope_scaling")) {
    const json& rs = j.at("rope_scaling");
    const json* type = nullptr;
    if (rs.is_object()) {
      auto it = rs.find("rope_type");
      if (it == rs.end()) it = rs.find("type");
      if (it != rs.end()) type = &*it;
    }
    if (!type || !type->is_string() || type->get<std::string>() != "default")
      return Unsupported(f.file() + ": \"rope_scaling\" " + printable(rs.dump(), 200) +
                         " is not supported");
  }
  if (f.has("partial_rotary_factor")) {
    float p = 1.0f;
    DCLLM_RETURN_IF_ERROR(f.number("partial_rotary_factor", &p, 1.0, 0.0, 1.0));
    if (p != 1.0f) return Unsupported(f.file() + ": partial rotary embeddings are not supported");
  }
  // Sliding-window attention equals full attention within one window: cap the context there.
  bool sliding = h.architecture == "MistralForCausalLM";
  if (h.architecture == "Qwen2ForCausalLM")
    DCLLM_RETURN_IF_ERROR(f.boolean("use_sliding_window", &sliding, false));
  if (sliding && f.has("sliding_window")) {
    int64_t window = 0;
    DCLLM_RETURN_IF_ERROR(f.size("sliding_window", &window, std::nullopt, int64_t{1} << 22));
    c.seq_len = std::min(c.seq_len, window);
  }
  DCLLM_RETURN_IF_ERROR(f.boolean("tie_word_embeddings", &h.tie_word_embeddings, false));
  return Status::Ok();
}

Status read_opt(const ConfigFields& f, HfConfig& h) {
  ModelConfig& c = h.config;
  c.family = ModelFamily::kOpt;
  DCLLM_RETURN_IF_ERROR(f.size("hidden_size", &c.dim, std::nullopt));
  DCLLM_RETURN_IF_ERROR(f.size("ffn_dim", &c.hidden_dim, std::nullopt));
  DCLLM_RETURN_IF_ERROR(f.size("num_hidden_layers", &c.n_layers, std::nullopt, 4096));
  DCLLM_RETURN_IF_ERROR(f.size("num_attention_heads", &c.n_heads, std::nullopt, 4096));
  DCLLM_RETURN_IF_ERROR(f.size("vocab_size", &c.vocab_size, std::nullopt));
  DCLLM_RETURN_IF_ERROR(f.size("max_position_embeddings", &c.seq_len, 2048, int64_t{1} << 22));
  DCLLM_RETURN_IF_ERROR(f.size("word_embed_proj_dim", &c.embd_dim, c.dim));
  DCLLM_RETURN_IF_ERROR(f.boolean("do_layer_norm_before", &c.pre_norm, true));
  std::string act;
  DCLLM_RETURN_IF_ERROR(f.string("activation_function", &act, "relu"));
  DCLLM_ASSIGN_OR_RETURN(c.activation, activation_from(act, f.file()));
  bool flag = true;
  DCLLM_RETURN_IF_ERROR(f.boolean("enable_bias", &flag, true));
  if (!flag) return Unsupported(f.file() + ": OPT without biases (enable_bias false)");
  DCLLM_RETURN_IF_ERROR(f.boolean("layer_norm_elementwise_affine", &flag, true));
  if (!flag) return Unsupported(f.file() + ": OPT LayerNorms without weights");
  DCLLM_RETURN_IF_ERROR(f.boolean("_remove_final_layer_norm", &flag, false));
  if (flag && c.pre_norm) return Unsupported(f.file() + ": OPT with _remove_final_layer_norm");
  DCLLM_RETURN_IF_ERROR(f.boolean("tie_word_embeddings", &h.tie_word_embeddings, true));
  c.norm_eps = 1e-5f;  // torch.nn.LayerNorm's default; OPT's config has no field for it
  return Status::Ok();
}

Status read_gpt2(const ConfigFields& f, HfConfig& h) {
  ModelConfig& c = h.config;
  c.family = ModelFamily::kGpt2;
  DCLLM_RETURN_IF_ERROR(f.size("n_embd", &c.dim, std::nullopt));
  DCLLM_RETURN_IF_ERROR(f.size("n_layer", &c.n_layers, std::nullopt, 4096));
  DCLLM_RETURN_IF_ERROR(f.size("n_head", &c.n_heads, std::nullopt, 4096));
  DCLLM_RETURN_IF_ERROR(f.size("n_inner", &c.hidden_dim, 4 * c.dim));
  DCLLM_RETURN_IF_ERROR(f.size("vocab_size", &c.vocab_size, std::nullopt));
  DCLLM_RETURN_IF_ERROR(f.size("n_positions", &c.seq_len, 1024, int64_t{1} << 22));
  DCLLM_RETURN_IF_ERROR(f.number("layer_norm_epsilon", &c.norm_eps, 1e-5, 0.0, 1.0));
  std::string act;
  DCLLM_RETURN_IF_ERROR(f.string("activation_function", &act, "gelu_new"));
  DCLLM_ASSIGN_OR_RETURN(c.activation, activation_from(act, f.file()));
  bool flag = false;
  DCLLM_RETURN_IF_ERROR(f.boolean("scale_attn_by_inverse_layer_idx", &flag, false));
  if (flag) return Unsupported(f.file() + ": scale_attn_by_inverse_layer_idx is not supported");
  DCLLM_RETURN_IF_ERROR(f.boolean("scale_attn_weights", &flag, true));
  if (!flag) return Unsupported(f.file() + ": scale_attn_weights false is not supported");
  DCLLM_RETURN_IF_ERROR(f.boolean("tie_word_embeddings", &h.tie_word_embeddings, true));
  return Status::Ok();
}

}  // namespace

std::string supported_hf_architectures() {
  std::string s;
  for (std::string_view a : kArchitectures) s += (s.empty() ? "" : ", ") + std::string(a);
  return s;
}

Expected<HfConfig> parse_hf_config(std::string_view text, const std::string& name) {
  DCLLM_ASSIGN_OR_RETURN(const json j, parse_untrusted_json(text, name, "not a JSON object"));
  if (!j.is_object()) return Corrupt(name + ": not a JSON object");
  ConfigFields f(j, name);
  HfConfig h;
  auto archs = j.find("architectures");
  if (archs == j.end() || !archs->is_array() || archs->empty() || !archs->front().is_string())
    return Corrupt(name + ": \"architectures\" must be a non-empty list of names");
  h.architecture = archs->front().get<std::string>();
  h.config.architecture = h.architecture;
  if (h.architecture == "LlamaForCausalLM" || h.architecture == "MistralForCausalLM" ||
      h.architecture == "Qwen2ForCausalLM") {
    DCLLM_RETURN_IF_ERROR(read_llama(f, j, h));
  } else if (h.architecture == "OPTForCausalLM") {
    DCLLM_RETURN_IF_ERROR(read_opt(f, h));
  } else if (h.architecture == "GPT2LMHeadModel") {
    DCLLM_RETURN_IF_ERROR(read_gpt2(f, h));
  } else {
    return Unsupported(name + ": architecture '" + printable(h.architecture) +
                       "' is not supported (supported: " + supported_hf_architectures() + ")");
  }
  ModelConfig& c = h.config;
  if (c.family != ModelFamily::kLlama) {
    if (c.dim % c.n_heads != 0) return f.error("the head count", "a divisor of the width");
    c.n_kv_heads = c.n_heads;
    c.head_dim = c.dim / c.n_heads;
  }
  if (c.n_heads % c.n_kv_heads != 0 || c.head_dim % 2 != 0)
    return Corrupt(name + ": head counts or head size are inconsistent");
  c.tied_classifier = h.tie_word_embeddings;
  DCLLM_RETURN_IF_ERROR(f.string("torch_dtype", &h.torch_dtype, ""));
  DCLLM_RETURN_IF_ERROR(f.token_id("bos_token_id", &h.bos_token_id));
  DCLLM_RETURN_IF_ERROR(f.token_id("eos_token_id", &h.eos_token_id));
  return h;
}

Expected<HfGenerationIds> parse_hf_generation_config(std::string_view text,
                                                     const std::string& name) {
  DCLLM_ASSIGN_OR_RETURN(const json j, parse_untrusted_json(text, name, "not a JSON object"));
  if (!j.is_object()) return Corrupt(name + ": not a JSON object");
  ConfigFields f(j, name);
  HfGenerationIds ids;
  DCLLM_RETURN_IF_ERROR(f.token_id("bos_token_id", &ids.bos_token_id));
  DCLLM_RETURN_IF_ERROR(f.token_id("eos_token_id", &ids.eos_token_id));
  return ids;
}

}  // namespace dcllm
