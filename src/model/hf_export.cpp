// Model -> Hugging Face directory: Llama/Qwen2 tensor names in model.safetensors (each tensor
// re-encoded row by row, INT8 rows dequantized, so one tensor's bytes are held at a time),
// config.json and the tokenizer files, all written into a temporary directory renamed at the end.
#include "model/hf_export.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <system_error>

#include "core/atomic_file.h"
#include "core/parallel.h"
#include "core/temp_files.h"
#include "model/export_rows.h"
#include "model/gguf_export.h"

namespace dcllm {
namespace {

using ojson = nlohmann::ordered_json;

// Canonical (GGUF) name -> Hugging Face Llama name; "" for a tensor the checkpoint has no place
// for.
std::string hf_name(const std::string& name) {
  if (name == "token_embd.weight") return "model.embed_tokens.weight";
  if (name == "output_norm.weight") return "model.norm.weight";
  if (name == "output.weight") return "lm_head.weight";
  if (name.rfind("blk.", 0) != 0) return "";
  const size_t dot = name.find('.', 4);
  if (dot == std::string::npos) return "";
  const std::string layer = name.substr(4, dot - 4), rest = name.substr(dot + 1);
  static const std::pair<const char*, const char*> kParts[] = {
      {"attn_norm.weight", "input_layernorm.weight"},
      {"attn_q.weight", "self_attn.q_proj.weight"},
      {"attn_k.weight", "self_attn.k_proj.weight"},
      {"attn_v.weight", "self_attn.v_proj.weight"},
      {"attn_q.bias", "self_attn.q_proj.bias"},
      {"attn_k.bias", "self_attn.k_proj.bias"},
      {"attn_v.bias", "self_attn.v_proj.bias"},
      {"attn_output.weight", "self_attn.o_proj.weight"},
      {"ffn_norm.weight", "post_attention_layernorm.weight"},
      {"ffn_gate.weight", "mlp.gate_proj.weight"},
      {"ffn_up.weight", "mlp.up_proj.weight"},
      {"ffn_down.weight", "mlp.down_proj.weight"},
  };
  for (const auto& [ours, theirs] : kParts) {
    if (rest == ours) return "model.layers." + layer + "." + theirs;
  }
  return "";
}

ojson config_json(const Model& m, const std::string& architecture, bool f16) {
  const ModelConfig& c = m.config;
  const Vocab& v = *m.vocab;
  auto id = [&](int32_t t) -> ojson { return t >= 0 ? ojson(t) : ojson(nullptr); };
  return {{"architectures", {architecture}},
          {"model_type", architecture == "Qwen2ForCausalLM" ? "qwen2" : "llama"},
          {"hidden_size", c.dim},
          {"intermediate_size", c.hidden_dim},
          {"num_hidden_layers", c.n_layers},
          {"num_attention_heads", c.n_heads},
          {"num_key_value_heads", c.n_kv_heads},
          {"head_dim", c.head_dim},
          {"hidden_act", "silu"},
          {"max_position_embeddings", c.seq_len},
          {"rms_norm_eps", c.norm_eps},
          {"rope_theta", c.rope_theta},
          {"vocab_size", c.vocab_size},
          {"tie_word_embeddings", c.tied_classifier},
          {"attention_bias", false},
          {"mlp_bias", false},
          {"bos_token_id", id(v.bos_id)},
          {"eos_token_id", id(v.eos_id)},
          {"torch_dtype", f16 ? "float16" : "float32"}};
}

struct PlannedTensor {
  const ModelTensor* t;
  std::string name;
  const float* input_scale;
  bool f16;
  bool permute;
  uint64_t begin, end;
};

Status write_text(const std::string& path, const std::string& text) {
  DCLLM_ASSIGN_OR_RETURN(AtomicFileWriter w, AtomicFileWriter::create(path));
  DCLLM_RETURN_IF_ERROR(w.write({reinterpret_cast<const uint8_t*>(text.data()), text.size()}));
  return w.commit();
}

// model.safetensors: an 8-byte header length, the JSON header (padded with spaces to 8 bytes),
// then every tensor's bytes in header order.
Status write_safetensors(const std::string& path, const std::vector<PlannedTensor>& plan,
                         int64_t head_dim, unsigned threads,
                         const std::function<void(int64_t, int64_t)>& on_progress) {
  ojson header = ojson::object();
  header["__metadata__"] = {{"format", "pt"}};
  for (const PlannedTensor& p : plan) {
    header[p.name] = {{"dtype", p.f16 ? "F16" : "F32"},
                      {"shape", p.t->shape},
                      {"data_offsets", {p.begin, p.end}}};
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  DCLLM_ASSIGN_OR_RETURN(AtomicFileWriter w, AtomicFileWriter::create(path));
  uint8_t size[8];
  const uint64_t n = text.size();
  for (int i = 0; i < 8; ++i) size[i] = static_cast<uint8_t>(n >> (8 * i));
  DCLLM_RETURN_IF_ERROR(w.write(size));
  DCLLM_RETURN_IF_ERROR(w.write({reinterpret_cast<const uint8_t*>(text.data()), text.size()}));
  std::vector<uint8_t> out;
  int64_t written = 0;
  for (const PlannedTensor& p : plan) {
    const RowReader rows(*p.t, p.input_scale);
    const auto cols = static_cast<size_t>(rows.cols());
    const size_t width = p.f16 ? 2 : 4;
    out.assign(static_cast<size_t>(p.end - p.begin), 0);
    parallel_for(static_cast<size_t>(rows.rows()), threads, [&](size_t r) {
      std::vector<float> buf(cols);
      const auto row = static_cast<int64_t>(r);
      rows.read(p.permute ? halves_source_row(row, head_dim) : row, buf.data());
      uint8_t* dst = out.data() + r * cols * width;
      if (p.f16) {
        for (size_t k = 0; k < cols; ++k) {
          const uint16_t h = f32_to_fp16(buf[k]);
          std::memcpy(dst + 2 * k, &h, 2);
        }
      } else {
        std::memcpy(dst, buf.data(), cols * sizeof(float));
      }
    });
    DCLLM_RETURN_IF_ERROR(w.write(out));
    if (on_progress) on_progress(++written, static_cast<int64_t>(plan.size()));
  }
  return w.commit();
}

}  // namespace

Expected<HfExportReport> export_hf_directory(const Model& model, const std::string& dir,
                                             const HfExportOptions& opts) {
  const ModelConfig& c = model.config;
  DCLLM_RETURN_IF_ERROR(check_exportable(model, "a Hugging Face directory"));
  if (c.activation != Activation::kSilu || (c.rope_dim && c.rope_dim != c.head_dim)) {
    return Unsupported(model.path + ": only SiLU Llama models with full-width RoPE export");
  }
  HfExportReport report;
  report.architecture = c.attn_qkv_bias ? "Qwen2ForCausalLM" : "LlamaForCausalLM";
  if (c.attn_qkv_bias && c.rope_style != RopeStyle::kHalves) {
    return Unsupported(model.path + ": a qwen2 model with interleaved RoPE cannot be exported");
  }
  const bool permute_qk = c.rope_style == RopeStyle::kInterleaved;

  // Everything that can fail on the model's side is checked before a file is written.
  DCLLM_ASSIGN_OR_RETURN(std::string tokenizer, hf_tokenizer_json(*model.vocab));
  std::vector<PlannedTensor> plan;
  uint64_t offset = 0;
  for (const ModelTensor& t : model.tensors()) {
    if (is_input_scale(t.name)) continue;
    const std::string name = hf_name(t.name);
    if (name.empty()) {
      return Unsupported(model.path + ": tensor '" + t.name +
                         "' has no place in a Hugging Face Llama checkpoint");
    }
    DCLLM_ASSIGN_OR_RETURN(const float* input_scale, checked_input_scale(model, t));
    const bool f16 = opts.f16 && t.shape.size() == 2;
    const uint64_t bytes = static_cast<uint64_t>(t.numel()) * (f16 ? 2 : 4);
    plan.push_back({&t, name, input_scale, f16, permute_qk && is_rope_projection(t.name), offset,
                    offset + bytes});
    offset += bytes;
  }

  std::error_code ec;
  if (std::filesystem::exists(dir, ec) || ec) {
    return InvalidArgument(dir + ": already exists; export writes a new directory");
  }
  const std::filesystem::path target(dir);
  const std::string parent =
      target.has_parent_path() ? target.parent_path().string() : std::string(".");
  // Hidden, beside the target (same file system, so the final rename is atomic). A signal
  // handler can only unlink files, so a killed export may leave this directory behind.
  const std::string tmp = random_temp_name(parent + "/." + target.filename().string() + ".tmp.");
  if (!std::filesystem::create_directory(tmp, ec)) {
    return IoError(tmp + ": cannot create the directory: " + ec.message());
  }
  auto written = [&]() -> Status {
    DCLLM_RETURN_IF_ERROR(write_safetensors(tmp + "/model.safetensors", plan, c.head_dim,
                                            std::max(1u, opts.threads), opts.on_progress));
    DCLLM_RETURN_IF_ERROR(write_text(
        tmp + "/config.json", config_json(model, report.architecture, opts.f16).dump(2) + "\n"));
    DCLLM_RETURN_IF_ERROR(write_text(tmp + "/tokenizer.json", tokenizer));
    DCLLM_RETURN_IF_ERROR(
        write_text(tmp + "/tokenizer_config.json", hf_tokenizer_config_json(*model.vocab)));
    std::filesystem::rename(tmp, dir, ec);
    if (ec)
      return IoError(dir + ": cannot move the finished directory into place: " + ec.message());
    return Status::Ok();
  }();
  if (!written.ok()) {
    std::filesystem::remove_all(tmp, ec);
    return written;
  }
  report.tensors = static_cast<int64_t>(plan.size());
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    std::error_code fec;
    report.bytes += e.file_size(fec);
  }
  return report;
}

}  // namespace dcllm
