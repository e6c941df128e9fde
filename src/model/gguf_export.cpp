// Model -> GGUF for llama.cpp: the `<arch>.*` hyper-parameters, tokenizer.ggml.* and
// tokenizer.chat_template, and each tensor re-encoded row by row (INT8 rows dequantized first),
// so only one tensor's output bytes are held at a time.
#include "model/gguf_export.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>

#include "core/parallel.h"
#include "model/export_rows.h"
#include "model/export_vocab.h"
#include "model/gguf_writer.h"

namespace dcllm {
namespace {

constexpr size_t kQ8Block = 32;
constexpr size_t kQ8BlockBytes = 2 + kQ8Block;

// llama.cpp's file types (general.file_type): all F16, or mostly Q8_0.
constexpr uint32_t kFileTypeF16 = 1;
constexpr uint32_t kFileTypeQ8_0 = 7;

void add_vocab(GgufWriter& w, const Vocab& v) {
  const bool spm = v.kind == VocabKind::kSentencePiece;
  w.add_string("tokenizer.ggml.model", spm ? "llama" : "gpt2");
  if (!v.pre_tokenizer.empty()) w.add_string("tokenizer.ggml.pre", v.pre_tokenizer);
  const ExportPieces pieces = export_pieces(v);
  w.add_strings("tokenizer.ggml.tokens", pieces.tokens);
  std::vector<int32_t> types;
  for (TokenType t : pieces.types) types.push_back(static_cast<int32_t>(t));
  w.add_i32s("tokenizer.ggml.token_type", types);
  if (spm) {
    // llama.cpp's SentencePiece merges by score; a vocab that merges by rank (HF BPE) gets
    // scores that keep the id order, which is how such vocabularies are built.
    std::vector<float> scores = v.scores;
    if (scores.size() != v.tokens.size()) {
      scores.assign(v.tokens.size(), 0.0f);
      for (size_t i = 0; i < scores.size(); ++i) scores[i] = -static_cast<float>(i);
    }
    w.add_f32s("tokenizer.ggml.scores", scores);
  }
  if (!v.merges.empty()) w.add_strings("tokenizer.ggml.merges", v.merges);
  for (const auto& [key, id] : {std::pair{"tokenizer.ggml.bos_token_id", v.bos_id},
                                {"tokenizer.ggml.eos_token_id", v.eos_id},
                                {"tokenizer.ggml.unknown_token_id", v.unk_id}}) {
    if (id >= 0) w.add_u32(key, static_cast<uint32_t>(id));
  }
  w.add_bool("tokenizer.ggml.add_bos_token", v.add_bos);
  w.add_bool("tokenizer.ggml.add_space_prefix", v.add_space_prefix);
  if (!v.chat_template.empty()) w.add_string("tokenizer.chat_template", v.chat_template);
}

std::string info_value(const Model& m, std::string_view key) {
  for (const auto& [k, v] : m.info) {
    if (k == key) return v;
  }
  return "";
}

}  // namespace

uint16_t f32_to_fp16(float f) {
  const uint32_t x = std::bit_cast<uint32_t>(f);
  const auto sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
  const uint32_t mag = x & 0x7fffffffu;
  if (mag >= 0x7f800000u) {  // infinity, or NaN with its top payload bits (and quiet)
    return sign | 0x7c00u | (mag > 0x7f800000u ? 0x200u | ((mag >> 13) & 0x3ffu) : 0u);
  }
  if (mag >= 0x477ff000u) return sign | 0x7c00u;  // >= 65520 rounds past the largest half
  if (mag < 0x38800000u) {
    // Below 2^-14: a subnormal half, mantissa = value * 2^24 rounded to nearest even.
    const float v = std::bit_cast<float>(mag) * 0x1p24f;
    return sign | static_cast<uint16_t>(std::nearbyint(v));
  }
  uint32_t h = (((mag >> 23) - 127 + 15) << 10) | ((mag & 0x7fffffu) >> 13);
  const uint32_t rest = mag & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h;  // a carry bumps the exponent
  return sign | static_cast<uint16_t>(h);
}

void quantize_row_q8_0(const float* x, size_t n, uint8_t* out) {
  for (size_t b = 0; b < n / kQ8Block; ++b, x += kQ8Block, out += kQ8BlockBytes) {
    float amax = 0.0f;
    for (size_t i = 0; i < kQ8Block; ++i) amax = std::max(amax, std::fabs(x[i]));
    const float d = amax / 127.0f;
    const float id = d > 0.0f ? 1.0f / d : 0.0f;
    const uint16_t h = f32_to_fp16(d);
    std::memcpy(out, &h, 2);
    for (size_t i = 0; i < kQ8Block; ++i) {
      out[2 + i] = static_cast<uint8_t>(static_cast<int8_t>(std::round(x[i] * id)));
    }
  }
}

Expected<GgufExportReport> export_gguf(const Model& model, const std::string& path,
                                       const GgufExportOptions& opts) {
  const ModelConfig& c = model.config;
  DCLLM_RETURN_IF_ERROR(check_exportable(model, "GGUF"));
  GgufExportReport report;
  // Qwen2 (biases on q/k/v) is llama.cpp's `qwen2`, which rotates halves; all else is `llama`.
  report.architecture = c.attn_qkv_bias ? "qwen2" : "llama";
  const bool permute_qk = report.architecture == "llama" && c.rope_style == RopeStyle::kHalves;
  if (report.architecture == "qwen2" && c.rope_style != RopeStyle::kHalves) {
    return Unsupported(model.path + ": a qwen2 model with interleaved RoPE cannot be exported");
  }
  const std::string& a = report.architecture;

  GgufWriter w;
  w.add_string("general.architecture", a);
  std::string name = info_value(model, "general.name");
  if (name.empty()) name = model.path.substr(model.path.find_last_of('/') + 1);
  w.add_string("general.name", name);
  w.add_u32("general.file_type", opts.q8_0 ? kFileTypeQ8_0 : kFileTypeF16);
  w.add_u32("general.quantization_version", 2);
  w.add_u32(a + ".context_length", static_cast<uint32_t>(c.seq_len));
  w.add_u32(a + ".embedding_length", static_cast<uint32_t>(c.dim));
  w.add_u32(a + ".block_count", static_cast<uint32_t>(c.n_layers));
  w.add_u32(a + ".feed_forward_length", static_cast<uint32_t>(c.hidden_dim));
  w.add_u32(a + ".attention.head_count", static_cast<uint32_t>(c.n_heads));
  w.add_u32(a + ".attention.head_count_kv", static_cast<uint32_t>(c.n_kv_heads));
  if (c.head_dim * c.n_heads != c.dim) {
    w.add_u32(a + ".attention.key_length", static_cast<uint32_t>(c.head_dim));
    w.add_u32(a + ".attention.value_length", static_cast<uint32_t>(c.head_dim));
  }
  w.add_u32(a + ".rope.dimension_count",
            static_cast<uint32_t>(c.rope_dim ? c.rope_dim : c.head_dim));
  w.add_f32(a + ".rope.freq_base", c.rope_theta);
  w.add_f32(a + ".attention.layer_norm_rms_epsilon", c.norm_eps);
  w.add_u32(a + ".vocab_size", static_cast<uint32_t>(c.vocab_size));
  add_vocab(w, *model.vocab);

  // The writer makes each tensor's bytes just before writing them, so tensor i's producer
  // starting means i tensors are written; the last is reported once the file is complete.
  int64_t total = 0;
  for (const ModelTensor& t : model.tensors()) total += is_input_scale(t.name) ? 0 : 1;
  int64_t index = 0;
  for (const ModelTensor& t : model.tensors()) {
    const std::string& tn = t.name;
    if (is_input_scale(tn)) continue;
    DCLLM_ASSIGN_OR_RETURN(const float* input_scale, checked_input_scale(model, t));
    const bool matrix = t.shape.size() == 2;
    GgmlType type = GgmlType::kF32;
    if (matrix) {
      type = opts.q8_0 && t.shape[1] % kQ8Block == 0 ? GgmlType::kQ8_0 : GgmlType::kF16;
    }
    (type == GgmlType::kQ8_0  ? report.q8_0_tensors
     : type == GgmlType::kF16 ? report.f16_tensors
                              : report.f32_tensors)++;
    const bool permute = permute_qk && is_rope_projection(tn);
    const int64_t head_dim = c.head_dim;
    const unsigned threads = opts.threads;
    const int64_t written_before = index++;
    DCLLM_RETURN_IF_ERROR(w.add_tensor(
        tn, t.shape, type,
        [&t, &opts, input_scale, type, permute, head_dim, threads, written_before,
         total](std::vector<uint8_t>& out) {
          if (written_before > 0 && opts.on_progress) opts.on_progress(written_before, total);
          const RowReader rows(t, input_scale);
          const auto cols = static_cast<size_t>(rows.cols());
          const size_t row_bytes = out.size() / static_cast<size_t>(rows.rows());
          parallel_for(static_cast<size_t>(rows.rows()), threads, [&](size_t r) {
            std::vector<float> buf(cols);
            const int64_t src = permute ? interleaved_source_row(static_cast<int64_t>(r), head_dim)
                                        : static_cast<int64_t>(r);
            rows.read(src, buf.data());
            uint8_t* dst = out.data() + r * row_bytes;
            if (type == GgmlType::kQ8_0) {
              quantize_row_q8_0(buf.data(), cols, dst);
            } else if (type == GgmlType::kF16) {
              for (size_t k = 0; k < cols; ++k) {
                const uint16_t h = f32_to_fp16(buf[k]);
                std::memcpy(dst + 2 * k, &h, 2);
              }
            } else {
              std::memcpy(dst, buf.data(), cols * sizeof(float));
            }
          });
          return Status::Ok();
        }));
  }
  DCLLM_RETURN_IF_ERROR(w.write(path));
  if (total > 0 && opts.on_progress) opts.on_progress(total, total);
  return report;
}

}  // namespace dcllm
