// Hugging Face tensor names per family and the few layout changes they need (Conv1D transpose,
// c_attn split, OPT's position offset). Each canonical tensor is taken from one source tensor
// whose shape is checked first; errors name the file, the source tensor and what was expected.
#include "model/hf_reader.h"

#include <sys/stat.h>

#include "core/json_limits.h"
#include "core/mapped_file.h"
#include "core/parallel.h"
#include "model/hf_config.h"
#include "model/hf_tokenizer_json.h"
#include "model/printable.h"
#include "model/safetensors_file.h"

namespace dcllm {
namespace {

// config.json and generation_config.json are a few kB; the cap bounds what a hostile one costs.
constexpr size_t kMaxConfigBytes = size_t{16} << 20;

std::string shape_text(const std::vector<int64_t>& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}

// How a canonical tensor is cut from its source.
struct Take {
  enum Kind {
    kAsIs,        // the whole tensor, same layout
    kRows,        // rows [first, first + count) of a row-major tensor (OPT positions, biases)
    kTransposed,  // Conv1D [in, out]: columns [first, first + count) become rows
  } kind = kAsIs;
  int64_t first = 0;
  int64_t count = 0;
};

// Builds the Model's tensors from the checkpoint; conversion runs in parallel at the end.
class TensorMapper {
 public:
  TensorMapper(const SafetensorsCheckpoint& ck, const std::string& dir, const LoadOptions& opts)
      : ck_(ck), dir_(dir), opts_(opts) {}

  const SafetensorsTensor* find(const std::string& name) const { return ck_.find(name); }

  // Adds `name` of `shape` from `src` (whose own shape must be `src_shape`).
  Status add(const std::string& name, const SafetensorsTensor* src, const std::string& src_name,
             std::vector<int64_t> src_shape, std::vector<int64_t> shape, Take take = {}) {
    if (!src)
      return Corrupt(dir_ + ": tensor '" + printable(src_name) +
                     "' is missing from the checkpoint");
    if (src->shape != src_shape) {
      return Corrupt(dir_ + ": tensor '" + printable(src->name) + "' has shape " +
                     shape_text(src->shape) + ", config.json implies " + shape_text(src_shape));
    }
    ModelTensor t;
    t.name = name;
    t.shape = std::move(shape);
    t.stored_type = src->dtype;
    t.stored_bytes = src->bytes.size();
    tensors_.push_back(std::move(t));
    jobs_.push_back({src, take});
    return Status::Ok();
  }

  // Converts every tensor to float32 (F32 sources used in place when aligned and uncut).
  Status finish(Model& model) {
    std::vector<Status> status(tensors_.size());
    if (opts_.load_weights) {
      parallel_for(tensors_.size(), opts_.threads,
                   [&](size_t k) { status[k] = load(tensors_[k], jobs_[k]); });
    }
    for (size_t k = 0; k < tensors_.size(); ++k) {
      DCLLM_RETURN_IF_ERROR(status[k]);
      model.add_tensor(std::move(tensors_[k]));
    }
    return Status::Ok();
  }

 private:
  struct Job {
    const SafetensorsTensor* src;
    Take take;
  };

  // A contiguous range of elements of `src` as its own tensor, for tensor_to_f32.
  static SafetensorsTensor slice(const SafetensorsTensor& src, int64_t first, int64_t count) {
    const size_t elem = src.bytes.size() / static_cast<size_t>(src.numel());
    SafetensorsTensor s = src;
    s.shape = {count};
    s.bytes =
        src.bytes.subspan(static_cast<size_t>(first) * elem, static_cast<size_t>(count) * elem);
    return s;
  }

  Status load(ModelTensor& t, const Job& job) const {
    const SafetensorsTensor& src = *job.src;
    const int64_t n = t.numel();
    if (job.take.kind == Take::kAsIs && src.dtype == "F32" &&
        reinterpret_cast<uintptr_t>(src.bytes.data()) % alignof(float) == 0) {
      t.data = reinterpret_cast<const float*>(src.bytes.data());
      return Status::Ok();
    }
    t.owned.resize(static_cast<size_t>(n));
    switch (job.take.kind) {
      case Take::kAsIs:
        DCLLM_RETURN_IF_ERROR(tensor_to_f32(src, t.owned, ck_.file_of(src)));
        break;
      case Take::kRows: {
        const int64_t row = src.shape.size() > 1 ? src.numel() / src.shape[0] : 1;
        const SafetensorsTensor s = slice(src, job.take.first * row, job.take.count * row);
        DCLLM_RETURN_IF_ERROR(tensor_to_f32(s, t.owned, ck_.file_of(src)));
        break;
      }
      case Take::kTransposed: {
        std::vector<float> full(static_cast<size_t>(src.numel()));
        DCLLM_RETURN_IF_ERROR(tensor_to_f32(src, full, ck_.file_of(src)));
        const auto in = static_cast<size_t>(src.shape[0]), out = static_cast<size_t>(src.shape[1]);
        const auto first = static_cast<size_t>(job.take.first);
        const auto rows = static_cast<size_t>(job.take.count);
        for (size_t r = 0; r < rows; ++r)
          for (size_t c = 0; c < in; ++c) t.owned[r * in + c] = full[c * out + first + r];
        break;
      }
    }
    t.data = t.owned.data();
    return Status::Ok();
  }

  const SafetensorsCheckpoint& ck_;
  const std::string& dir_;
  const LoadOptions& opts_;
  std::vector<ModelTensor> tensors_;
  std::vector<Job> jobs_;
};

// Source names: each family's prefixes, tried in order.
struct Names {
  std::vector<std::string> prefixes;
  std::string at(const TensorMapper& m, const std::string& suffix,
                 const SafetensorsTensor** out) const {
    for (const std::string& p : prefixes) {
      if (const SafetensorsTensor* t = m.find(p + suffix)) {
        *out = t;
        return p + suffix;
      }
    }
    *out = nullptr;
    return prefixes.front() + suffix;
  }
};

// token_embd and the classifier, which a tied checkpoint may store under either name.
Status map_embeddings(TensorMapper& m, const Names& n, const std::string& embd_suffix,
                      const ModelConfig& c, const std::string& dir) {
  const int64_t V = c.vocab_size, E = c.embedding_width();
  const SafetensorsTensor* embd = nullptr;
  const std::string embd_name = n.at(m, embd_suffix, &embd);
  const SafetensorsTensor* head = m.find("lm_head.weight");
  if (c.tied_classifier) {
    if (!embd && head) return m.add("token_embd.weight", head, "lm_head.weight", {V, E}, {V, E});
    return m.add("token_embd.weight", embd, embd_name, {V, E}, {V, E});
  }
  DCLLM_RETURN_IF_ERROR(m.add("token_embd.weight", embd, embd_name, {V, E}, {V, E}));
  if (!head) return Corrupt(dir + ": 'lm_head.weight' is missing and config.json does not tie it");
  return m.add("output.weight", head, "lm_head.weight", {V, E}, {V, E});
}

Status map_llama(TensorMapper& m, const ModelConfig& c, const std::string& dir) {
  const Names n{{"model.", ""}};
  const int64_t D = c.dim, F = c.hidden_dim, Q = c.n_heads * c.head_dim;
  const int64_t KV = c.n_kv_heads * c.head_dim;
  const SafetensorsTensor* t = nullptr;
  DCLLM_RETURN_IF_ERROR(map_embeddings(m, n, "embed_tokens.weight", c, dir));
  std::string src = n.at(m, "norm.weight", &t);
  DCLLM_RETURN_IF_ERROR(m.add("output_norm.weight", t, src, {D}, {D}));
  for (int64_t l = 0; l < c.n_layers; ++l) {
    const std::string p = "layers." + std::to_string(l) + ".";
    auto blk = [l](const std::string& s) { return layer_tensor_name(l, s); };
    auto add = [&](const std::string& name, const std::string& suffix,
                   std::vector<int64_t> shape) -> Status {
      const std::string s = n.at(m, p + suffix, &t);
      return m.add(blk(name), t, s, shape, shape);
    };
    DCLLM_RETURN_IF_ERROR(add("attn_norm.weight", "input_layernorm.weight", {D}));
    DCLLM_RETURN_IF_ERROR(add("attn_q.weight", "self_attn.q_proj.weight", {Q, D}));
    DCLLM_RETURN_IF_ERROR(add("attn_k.weight", "self_attn.k_proj.weight", {KV, D}));
    DCLLM_RETURN_IF_ERROR(add("attn_v.weight", "self_attn.v_proj.weight", {KV, D}));
    if (c.attn_qkv_bias) {
      DCLLM_RETURN_IF_ERROR(add("attn_q.bias", "self_attn.q_proj.bias", {Q}));
      DCLLM_RETURN_IF_ERROR(add("attn_k.bias", "self_attn.k_proj.bias", {KV}));
      DCLLM_RETURN_IF_ERROR(add("attn_v.bias", "self_attn.v_proj.bias", {KV}));
    }
    DCLLM_RETURN_IF_ERROR(add("attn_output.weight", "self_attn.o_proj.weight", {D, Q}));
    DCLLM_RETURN_IF_ERROR(add("ffn_norm.weight", "post_attention_layernorm.weight", {D}));
    DCLLM_RETURN_IF_ERROR(add("ffn_gate.weight", "mlp.gate_proj.weight", {F, D}));
    DCLLM_RETURN_IF_ERROR(add("ffn_up.weight", "mlp.up_proj.weight", {F, D}));
    DCLLM_RETURN_IF_ERROR(add("ffn_down.weight", "mlp.down_proj.weight", {D, F}));
  }
  return Status::Ok();
}

Status map_opt(TensorMapper& m, const ModelConfig& c, const std::string& dir) {
  const Names n{{"model.decoder.", "decoder."}};
  const int64_t D = c.dim, F = c.hidden_dim, E = c.embedding_width(), S = c.seq_len;
  const SafetensorsTensor* t = nullptr;
  DCLLM_RETURN_IF_ERROR(map_embeddings(m, n, "embed_tokens.weight", c, dir));
  // OPT's learned positions start at row 2 (a fairseq padding offset).
  std::string src = n.at(m, "embed_positions.weight", &t);
  DCLLM_RETURN_IF_ERROR(m.add("pos_embd.weight", t, src, {S + 2, D}, {S, D}, {Take::kRows, 2, S}));
  if (E != D) {
    src = n.at(m, "project_in.weight", &t);
    DCLLM_RETURN_IF_ERROR(m.add("proj_in.weight", t, src, {D, E}, {D, E}));
    src = n.at(m, "project_out.weight", &t);
    DCLLM_RETURN_IF_ERROR(m.add("proj_out.weight", t, src, {E, D}, {E, D}));
  }
  if (c.pre_norm) {
    for (const char* part : {"weight", "bias"}) {
      src = n.at(m, std::string("final_layer_norm.") + part, &t);
      DCLLM_RETURN_IF_ERROR(m.add(std::string("output_norm.") + part, t, src, {D}, {D}));
    }
  }
  for (int64_t l = 0; l < c.n_layers; ++l) {
    const std::string p = "layers." + std::to_string(l) + ".";
    for (const auto& [ours, theirs, out, in] : {std::tuple{"attn_q", "self_attn.q_proj", D, D},
                                                {"attn_k", "self_attn.k_proj", D, D},
                                                {"attn_v", "self_attn.v_proj", D, D},
                                                {"attn_output", "self_attn.out_proj", D, D},
                                                {"ffn_up", "fc1", F, D},
                                                {"ffn_down", "fc2", D, F}}) {
      src = n.at(m, p + theirs + ".weight", &t);
      DCLLM_RETURN_IF_ERROR(
          m.add(layer_tensor_name(l, std::string(ours) + ".weight"), t, src, {out, in}, {out, in}));
      src = n.at(m, p + theirs + ".bias", &t);
      DCLLM_RETURN_IF_ERROR(
          m.add(layer_tensor_name(l, std::string(ours) + ".bias"), t, src, {out}, {out}));
    }
    for (const auto& [ours, theirs] :
         {std::pair{"attn_norm", "self_attn_layer_norm"}, {"ffn_norm", "final_layer_norm"}}) {
      for (const char* part : {".weight", ".bias"}) {
        src = n.at(m, p + theirs + part, &t);
        DCLLM_RETURN_IF_ERROR(
            m.add(layer_tensor_name(l, ours + std::string(part)), t, src, {D}, {D}));
      }
    }
  }
  return Status::Ok();
}

Status map_gpt2(TensorMapper& m, const ModelConfig& c, const std::string& dir) {
  const Names n{{"transformer.", ""}};
  const int64_t D = c.dim, F = c.hidden_dim, S = c.seq_len;
  const SafetensorsTensor* t = nullptr;
  DCLLM_RETURN_IF_ERROR(map_embeddings(m, n, "wte.weight", c, dir));
  std::string src = n.at(m, "wpe.weight", &t);
  DCLLM_RETURN_IF_ERROR(m.add("pos_embd.weight", t, src, {S, D}, {S, D}));
  for (const char* part : {"weight", "bias"}) {
    src = n.at(m, std::string("ln_f.") + part, &t);
    DCLLM_RETURN_IF_ERROR(m.add(std::string("output_norm.") + part, t, src, {D}, {D}));
  }
  for (int64_t l = 0; l < c.n_layers; ++l) {
    const std::string p = "h." + std::to_string(l) + ".";
    auto blk = [l](const std::string& s) { return layer_tensor_name(l, s); };
    for (const auto& [ours, theirs] : {std::pair{"attn_norm", "ln_1"}, {"ffn_norm", "ln_2"}}) {
      for (const char* part : {".weight", ".bias"}) {
        src = n.at(m, p + theirs + part, &t);
        DCLLM_RETURN_IF_ERROR(m.add(blk(ours + std::string(part)), t, src, {D}, {D}));
      }
    }
    // Conv1D stores [in, out]; c_attn's out is q | k | v.
    const SafetensorsTensor* b = nullptr;
    src = n.at(m, p + "attn.c_attn.weight", &t);
    const std::string bsrc = n.at(m, p + "attn.c_attn.bias", &b);
    int64_t first = 0;
    for (const char* ours : {"attn_q", "attn_k", "attn_v"}) {
      DCLLM_RETURN_IF_ERROR(m.add(blk(std::string(ours) + ".weight"), t, src, {D, 3 * D}, {D, D},
                                  {Take::kTransposed, first, D}));
      DCLLM_RETURN_IF_ERROR(
          m.add(blk(std::string(ours) + ".bias"), b, bsrc, {3 * D}, {D}, {Take::kRows, first, D}));
      first += D;
    }
    for (const auto& [ours, theirs, out, in] : {std::tuple{"attn_output", "attn.c_proj", D, D},
                                                {"ffn_up", "mlp.c_fc", F, D},
                                                {"ffn_down", "mlp.c_proj", D, F}}) {
      src = n.at(m, p + theirs + ".weight", &t);
      DCLLM_RETURN_IF_ERROR(m.add(blk(std::string(ours) + ".weight"), t, src, {in, out}, {out, in},
                                  {Take::kTransposed, 0, out}));
      src = n.at(m, p + theirs + ".bias", &t);
      DCLLM_RETURN_IF_ERROR(m.add(blk(std::string(ours) + ".bias"), t, src, {out}, {out}));
    }
  }
  return Status::Ok();
}

// The BOS/EOS ids the model's files state: generation_config.json's (what transformers'
// generate() uses) where it has them, else config.json's. The tokenizer prefers them to a
// guess by name: an OPT directory whose tokenizer.json has no post-processor would otherwise
// take "<s>" (0) for the BOS that config.json says is 2.
Expected<StatedTokenIds> stated_token_ids(const std::string& dir, const HfConfig& hf,
                                          const std::string& config_path) {
  StatedTokenIds ids;
  ids.bos = {hf.bos_token_id, config_path};
  ids.eos = {hf.eos_token_id, config_path};
  const std::string gen_path = dir + "/generation_config.json";
  struct stat st {};
  if (::stat(gen_path.c_str(), &st) != 0) return ids;
  DCLLM_ASSIGN_OR_RETURN(MappedFile gen_file, MappedFile::open(gen_path));
  if (gen_file.size() > kMaxConfigBytes) return Corrupt(gen_path + ": larger than 16 MiB");
  DCLLM_ASSIGN_OR_RETURN(
      const HfGenerationIds gen,
      parse_hf_generation_config(
          std::string_view(reinterpret_cast<const char*>(gen_file.data()), gen_file.size()),
          gen_path));
  if (gen.bos_token_id >= 0) ids.bos = {gen.bos_token_id, gen_path};
  if (gen.eos_token_id >= 0) ids.eos = {gen.eos_token_id, gen_path};
  return ids;
}

// tokenizer_config.json's chat_template: a string, or a list of {"name", "template"} (the one
// named "default", else the first). Absent, or of another type: "" (the model has none).
Expected<std::string> read_chat_template(const std::string& dir) {
  const std::string path = dir + "/tokenizer_config.json";
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::string();
  DCLLM_ASSIGN_OR_RETURN(MappedFile file, MappedFile::open(path));
  if (file.size() > kMaxConfigBytes) return Corrupt(path + ": larger than 16 MiB");
  DCLLM_ASSIGN_OR_RETURN(
      const nlohmann::json j,
      parse_untrusted_json(
          std::string_view(reinterpret_cast<const char*>(file.data()), file.size()), path));
  const auto it = j.is_object() ? j.find("chat_template") : j.end();
  if (it == j.end()) return std::string();
  if (it->is_string()) return it->get<std::string>();
  if (!it->is_array()) return std::string();
  std::string first;
  for (const auto& entry : *it) {
    if (!entry.is_object() || !entry.contains("template") || !entry["template"].is_string())
      continue;
    if (entry.contains("name") && entry["name"] == "default")
      return entry["template"].get<std::string>();
    if (first.empty()) first = entry["template"].get<std::string>();
  }
  return first;
}

}  // namespace

bool is_hf_checkpoint_dir(const std::string& dir) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return false;
  return ::stat((dir + "/config.json").c_str(), &st) == 0;
}

Expected<Model> read_hf_checkpoint(const std::string& dir, const LoadOptions& opts) {
  const std::string config_path = dir + "/config.json";
  DCLLM_ASSIGN_OR_RETURN(MappedFile config_file, MappedFile::open(config_path));
  if (config_file.size() > kMaxConfigBytes) return Corrupt(config_path + ": larger than 16 MiB");
  const std::string_view config_text(reinterpret_cast<const char*>(config_file.data()),
                                     config_file.size());
  DCLLM_ASSIGN_OR_RETURN(HfConfig hf, parse_hf_config(config_text, config_path));
  DCLLM_ASSIGN_OR_RETURN(SafetensorsCheckpoint ck, SafetensorsCheckpoint::open(dir));
  auto shared = std::make_shared<SafetensorsCheckpoint>(std::move(ck));

  Model model;
  model.path = dir;
  model.config = hf.config;
  model.format = "safetensors";
  model.info = {{"architecture", hf.architecture}};
  if (!hf.torch_dtype.empty()) model.info.emplace_back("torch_dtype", hf.torch_dtype);

  TensorMapper mapper(*shared, dir, opts);
  switch (hf.config.family) {
    case ModelFamily::kLlama:
      DCLLM_RETURN_IF_ERROR(map_llama(mapper, hf.config, dir));
      break;
    case ModelFamily::kOpt:
      DCLLM_RETURN_IF_ERROR(map_opt(mapper, hf.config, dir));
      break;
    case ModelFamily::kGpt2:
      DCLLM_RETURN_IF_ERROR(map_gpt2(mapper, hf.config, dir));
      break;
  }
  DCLLM_RETURN_IF_ERROR(mapper.finish(model));
  model.hold(shared);

  struct stat st {};
  if (::stat((dir + "/tokenizer.json").c_str(), &st) == 0) {
    DCLLM_ASSIGN_OR_RETURN(const StatedTokenIds stated, stated_token_ids(dir, hf, config_path));
    auto loaded = load_hf_tokenizer(dir, stated);
    if (!loaded.ok() && loaded.status().code() == StatusCode::kUnsupported) {
      model.vocab_unsupported = loaded.status().message();
      return model;
    }
    if (!loaded.ok()) return loaded.status();
    Vocab vocab = std::move(loaded).value();
    const auto n = static_cast<int64_t>(vocab.tokens.size());
    if (n > model.config.vocab_size) {
      return Corrupt(dir + "/tokenizer.json: " + std::to_string(n) +
                     " tokens, more than the model's vocab_size " +
                     std::to_string(model.config.vocab_size));
    }
    DCLLM_ASSIGN_OR_RETURN(vocab.chat_template, read_chat_template(dir));
    model.vocab = std::move(vocab);
  }
  return model;
}

}  // namespace dcllm
