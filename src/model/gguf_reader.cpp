// GGUF -> Model: maps the "<arch>.*" hyper-parameters onto ModelConfig, turns GGML shapes into
// row-major ones, dequantizes tensors (in parallel, one tensor per task) and reads the vocab.
#include "model/gguf_reader.h"

#include <cstring>

#include "core/parallel.h"
#include "model/ggml_types.h"
#include "model/gguf_dequant.h"
#include "model/printable.h"

namespace dcllm {
namespace {

constexpr int64_t kMaxHyper = int64_t{1} << 24;

class MetaReader {
 public:
  MetaReader(const GgufFile& f, const std::string& name, std::string prefix)
      : f_(f), name_(name), prefix_(std::move(prefix)) {}

  // An integer hyper-parameter "<arch>.<key>" in [1, kMaxHyper]; `fallback` < 0 = required.
  Status get_int(const std::string& key, int64_t fallback, int64_t* out) const {
    const std::string full = prefix_ + key;
    const GgufValue* v = f_.find(full);
    if (!v) {
      if (fallback < 0) return Corrupt(name_ + ": metadata '" + full + "' is missing");
      *out = fallback;
      return Status::Ok();
    }
    int64_t x = 0;
    if (!v->as_int64(&x)) return Corrupt(name_ + ": metadata '" + full + "' is not an integer");
    if (x < 1 || x > kMaxHyper) {
      return Corrupt(name_ + ": metadata '" + full + "' = " + std::to_string(x) + " out of range");
    }
    *out = x;
    return Status::Ok();
  }

  Status get_float(const std::string& key, float fallback, float* out) const {
    const std::string full = prefix_ + key;
    const GgufValue* v = f_.find(full);
    if (!v) {
      *out = fallback;
      return Status::Ok();
    }
    double x = 0;
    if (!v->as_double(&x) || !(x > 0) || x > 1e12) {
      return Corrupt(name_ + ": metadata '" + full + "' is not a positive number");
    }
    *out = static_cast<float>(x);
    return Status::Ok();
  }

 private:
  const GgufFile& f_;
  const std::string& name_;
  std::string prefix_;
};

Status read_llama_config(const GgufFile& f, const std::string& name, const std::string& arch,
                         ModelConfig* c) {
  MetaReader m(f, name, arch + ".");
  c->family = ModelFamily::kLlama;
  DCLLM_RETURN_IF_ERROR(m.get_int("embedding_length", -1, &c->dim));
  DCLLM_RETURN_IF_ERROR(m.get_int("block_count", -1, &c->n_layers));
  DCLLM_RETURN_IF_ERROR(m.get_int("feed_forward_length", -1, &c->hidden_dim));
  DCLLM_RETURN_IF_ERROR(m.get_int("attention.head_count", -1, &c->n_heads));
  DCLLM_RETURN_IF_ERROR(m.get_int("attention.head_count_kv", c->n_heads, &c->n_kv_heads));
  DCLLM_RETURN_IF_ERROR(m.get_int("context_length", 2048, &c->seq_len));
  if (c->dim % c->n_heads != 0 && !f.find(arch + ".attention.key_length")) {
    return Corrupt(name + ": embedding_length " + std::to_string(c->dim) +
                   " is not a multiple of head_count " + std::to_string(c->n_heads));
  }
  DCLLM_RETURN_IF_ERROR(m.get_int("attention.key_length", c->dim / c->n_heads, &c->head_dim));
  int64_t value_length = 0;
  DCLLM_RETURN_IF_ERROR(m.get_int("attention.value_length", c->head_dim, &value_length));
  if (value_length != c->head_dim) {
    return Unsupported(name + ": key_length != value_length is not supported");
  }
  if (c->n_heads % c->n_kv_heads != 0) {
    return Corrupt(name + ": head_count " + std::to_string(c->n_heads) +
                   " is not a multiple of head_count_kv " + std::to_string(c->n_kv_heads));
  }
  DCLLM_RETURN_IF_ERROR(m.get_int("rope.dimension_count", c->head_dim, &c->rope_dim));
  if (c->rope_dim != c->head_dim || c->head_dim % 2 != 0) {
    return Unsupported(name + ": partial or odd RoPE (rope.dimension_count " +
                       std::to_string(c->rope_dim) + ", head size " + std::to_string(c->head_dim) +
                       ") is not supported");
  }
  DCLLM_RETURN_IF_ERROR(m.get_float("rope.freq_base", 10000.0f, &c->rope_theta));
  const float default_eps = arch == "qwen2" ? 1e-6f : 1e-5f;
  DCLLM_RETURN_IF_ERROR(m.get_float("attention.layer_norm_rms_epsilon", default_eps, &c->norm_eps));
  // llama.cpp permutes Llama's q/k rows on conversion so that interleaved pairs rotate; Qwen2
  // keeps Hugging Face's order and rotates halves.
  c->rope_style = arch == "qwen2" ? RopeStyle::kHalves : RopeStyle::kInterleaved;
  return Status::Ok();
}

Status read_string_array(const GgufValue* v, const std::string& what, const std::string& name,
                         std::vector<std::string>* out) {
  if (v->type != GgufValueType::kArray || v->elem_type != GgufValueType::kString) {
    return Corrupt(name + ": " + what + " is not an array of strings");
  }
  out->reserve(v->items.size());
  for (const auto& item : v->items) out->push_back(item.str);
  return Status::Ok();
}

Status read_token_id(const GgufFile& f, const std::string& key, const std::string& name,
                     size_t n_tokens, int32_t* out) {
  const GgufValue* v = f.find(key);
  if (!v) return Status::Ok();
  int64_t id = 0;
  if (!v->as_int64(&id)) return Corrupt(name + ": " + key + " is not an integer");
  // Converters write UINT32_MAX (or -1) for "no such token".
  if (id == 0xFFFFFFFFll || id == -1) {
    *out = -1;
    return Status::Ok();
  }
  if (id < 0 || static_cast<uint64_t>(id) >= n_tokens) {
    return Corrupt(name + ": " + key + " = " + std::to_string(id) +
                   " is not a token id (vocab of " + std::to_string(n_tokens) + ")");
  }
  *out = static_cast<int32_t>(id);
  return Status::Ok();
}

Status read_bool(const GgufFile& f, const std::string& key, const std::string& name, bool* out) {
  const GgufValue* v = f.find(key);
  if (!v) return Status::Ok();
  if (v->type != GgufValueType::kBool) return Corrupt(name + ": " + key + " is not a bool");
  *out = v->u != 0;
  return Status::Ok();
}

// An optional string key: left as is when absent, `corrupt` when of another type.
Status read_string(const GgufFile& f, const std::string& key, const std::string& name,
                   std::string* out) {
  const GgufValue* v = f.find(key);
  if (!v) return Status::Ok();
  if (v->type != GgufValueType::kString) return Corrupt(name + ": " + key + " is not a string");
  *out = v->str;
  return Status::Ok();
}

std::string shorten(std::string s) {
  constexpr size_t kMax = 80;
  for (char& ch : s) {
    if (ch == '\n' || ch == '\r' || ch == '\t') ch = ' ';
  }
  if (s.size() > kMax) s = s.substr(0, kMax) + "...";
  return s;
}

}  // namespace

Expected<Vocab> vocab_from_gguf(const GgufFile& f, const std::string& name) {
  const GgufValue* model = f.find("tokenizer.ggml.model");
  if (!model) return Unsupported(name + ": no tokenizer.ggml.model in the file");
  if (model->type != GgufValueType::kString) {
    return Corrupt(name + ": tokenizer.ggml.model is not a string");
  }
  Vocab vocab;
  if (model->str == "llama") {
    vocab.kind = VocabKind::kSentencePiece;
    vocab.add_bos = true;
    vocab.add_space_prefix = true;
  } else if (model->str == "gpt2") {
    vocab.kind = VocabKind::kByteLevelBpe;
    vocab.add_bos = false;
    vocab.add_space_prefix = false;
  } else {
    return Unsupported(name + ": tokenizer.ggml.model '" + printable(model->str) +
                       "' is not supported (llama, gpt2)");
  }
  const GgufValue* tokens = f.find("tokenizer.ggml.tokens");
  if (!tokens) return Corrupt(name + ": tokenizer.ggml.tokens is missing");
  DCLLM_RETURN_IF_ERROR(read_string_array(tokens, "tokenizer.ggml.tokens", name, &vocab.tokens));
  const size_t n = vocab.tokens.size();
  if (n == 0) return Corrupt(name + ": tokenizer.ggml.tokens is empty");

  if (const GgufValue* s = f.find("tokenizer.ggml.scores")) {
    if (s->type != GgufValueType::kArray || s->elem_type != GgufValueType::kFloat32 ||
        s->count != n) {
      return Corrupt(name + ": tokenizer.ggml.scores is not " + std::to_string(n) +
                     " float32 values");
    }
    vocab.scores.resize(n);
    std::memcpy(vocab.scores.data(), s->packed.data(), n * sizeof(float));
  }
  if (const GgufValue* t = f.find("tokenizer.ggml.token_type")) {
    if (t->type != GgufValueType::kArray || t->elem_type != GgufValueType::kInt32 ||
        t->count != n) {
      return Corrupt(name + ": tokenizer.ggml.token_type is not " + std::to_string(n) +
                     " int32 values");
    }
    vocab.types.resize(n);
    for (size_t k = 0; k < n; ++k) {
      int32_t type;
      std::memcpy(&type, t->packed.data() + 4 * k, 4);
      if (type < 1 || type > 6) type = static_cast<int32_t>(TokenType::kNormal);
      vocab.types[k] = static_cast<TokenType>(type);
    }
  }
  if (const GgufValue* m = f.find("tokenizer.ggml.merges")) {
    DCLLM_RETURN_IF_ERROR(read_string_array(m, "tokenizer.ggml.merges", name, &vocab.merges));
  }
  DCLLM_RETURN_IF_ERROR(read_token_id(f, "tokenizer.ggml.bos_token_id", name, n, &vocab.bos_id));
  DCLLM_RETURN_IF_ERROR(read_token_id(f, "tokenizer.ggml.eos_token_id", name, n, &vocab.eos_id));
  DCLLM_RETURN_IF_ERROR(
      read_token_id(f, "tokenizer.ggml.unknown_token_id", name, n, &vocab.unk_id));
  if (vocab.kind == VocabKind::kByteLevelBpe && !f.find("tokenizer.ggml.unknown_token_id")) {
    vocab.unk_id = -1;
  }
  DCLLM_RETURN_IF_ERROR(read_bool(f, "tokenizer.ggml.add_bos_token", name, &vocab.add_bos));
  DCLLM_RETURN_IF_ERROR(
      read_bool(f, "tokenizer.ggml.add_space_prefix", name, &vocab.add_space_prefix));
  // The byte-level split rule by llama.cpp's name ("smollm", "qwen2", ...): without it a
  // SmolLM2 or Qwen2 GGUF would split digits and numbers as GPT-2 does, not as it was trained.
  DCLLM_RETURN_IF_ERROR(read_string(f, "tokenizer.ggml.pre", name, &vocab.pre_tokenizer));
  // Kept as text: runtime/chat_template.h recognises its family, and compress/export keep it.
  DCLLM_RETURN_IF_ERROR(read_string(f, "tokenizer.chat_template", name, &vocab.chat_template));
  return vocab;
}

Expected<Model> read_gguf(const ModelSource& src, const LoadOptions& opts) {
  DCLLM_ASSIGN_OR_RETURN(GgufFile file, parse_gguf(src.bytes, src.name));
  Model model;
  model.path = src.name;
  model.format = "GGUF v" + std::to_string(file.version);

  const GgufValue* arch = file.find("general.architecture");
  if (!arch || arch->type != GgufValueType::kString) {
    return Corrupt(src.name + ": general.architecture is missing or not a string");
  }
  ModelConfig& c = model.config;
  c.architecture = arch->str;
  const bool known_arch = arch->str == "llama" || arch->str == "qwen2";
  if (known_arch) {
    DCLLM_RETURN_IF_ERROR(read_llama_config(file, src.name, arch->str, &c));
  } else if (opts.load_weights) {
    return Unsupported(src.name + ": architecture '" + printable(arch->str) +
                       "' is not supported (llama, qwen2)");
  }

  for (const auto& [key, value] : file.metadata) {
    if (key.rfind("tokenizer.ggml.", 0) == 0 && value.type == GgufValueType::kArray) continue;
    model.info.emplace_back(key, shorten(value.to_display()));
  }

  for (const GgufTensorInfo& info : file.tensors) {
    ModelTensor t;
    t.name = info.name;
    for (auto it = info.ne.rbegin(); it != info.ne.rend(); ++it) {
      t.shape.push_back(static_cast<int64_t>(*it));
    }
    t.stored_type = ggml_type_name(info.type);
    t.stored_bytes = info.bytes;
    model.add_tensor(std::move(t));
  }
  // block_count is checked against the blk.N tensors before any work or memory scales with it.
  if (known_arch) DCLLM_RETURN_IF_ERROR(check_layer_tensors(model));
  if (opts.load_weights) {
    // F32 tensors are used in place; others are decoded into owned buffers, a tensor per task.
    // Names are unique (the parser checks), so each task owns the tensor it looks up.
    parallel_for(file.tensors.size(), opts.threads, [&](size_t k) {
      const GgufTensorInfo& info = file.tensors[k];
      ModelTensor& t = *model.find_mutable(info.name);
      const uint8_t* p = src.bytes.data() + file.data_offset + info.offset;
      const auto type = static_cast<GgmlType>(info.type);
      const size_t n = static_cast<size_t>(t.numel());
      if (type == GgmlType::kF32 && reinterpret_cast<uintptr_t>(p) % alignof(float) == 0) {
        t.data = reinterpret_cast<const float*>(p);
        return;
      }
      t.owned.resize(n);
      dequantize(type, p, n, t.owned.data());
      t.data = t.owned.data();
    });
  }

  if (known_arch) {
    const ModelTensor* embd = model.find("token_embd.weight");
    if (!embd || embd->shape.size() != 2 || embd->shape[1] != c.dim) {
      return Corrupt(src.name + ": token_embd.weight is missing or not [vocab, " +
                     std::to_string(c.dim) + "]");
    }
    int64_t vocab_size = embd->shape[0];
    if (const GgufValue* v = file.find(arch->str + ".vocab_size")) {
      int64_t meta = 0;
      if (!v->as_int64(&meta) || meta != vocab_size) {
        return Corrupt(src.name + ": " + arch->str +
                       ".vocab_size disagrees with token_embd.weight (" +
                       std::to_string(vocab_size) + " rows)");
      }
    }
    c.vocab_size = vocab_size;
    c.tied_classifier = model.find("output.weight") == nullptr;
    c.attn_qkv_bias = model.find(layer_tensor_name(0, "attn_q.bias")) != nullptr;
  }

  if (file.find("tokenizer.ggml.model")) {
    auto vocab = vocab_from_gguf(file, src.name);
    if (vocab.ok()) {
      model.vocab = std::move(vocab).value();
    } else if (vocab.status().code() != StatusCode::kUnsupported) {
      return vocab.status();
    }
  }
  if (src.owner) model.hold(src.owner);
  return model;
}

}  // namespace dcllm
