// What both exporters (GGUF, Hugging Face directory) read from a loaded Model: a tensor's rows
// as floats (INT8 rows dequantized, an unfolded input_scale folded in) and the q/k row orders.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "dcllm/status.h"
#include "model/model.h"

namespace dcllm {

// Row r of tensor `t` as floats (INT8 rows dequantized), input_scale folded into the columns.
class RowReader {
 public:
  RowReader(const ModelTensor& t, const float* input_scale) : t_(t), scale_(input_scale) {
    cols_ = t.shape.empty() ? 0 : t.shape.back();
  }
  int64_t cols() const { return cols_; }
  int64_t rows() const { return cols_ ? t_.numel() / cols_ : 0; }
  void read(int64_t r, float* out) const {
    if (t_.int8) {
      t_.int8->view().dequantize_row(r, out);
    } else {
      std::memcpy(out, t_.data + r * cols_, static_cast<size_t>(cols_) * sizeof(float));
    }
    if (scale_) {
      for (int64_t c = 0; c < cols_; ++c) out[c] *= scale_[c];
    }
  }

 private:
  const ModelTensor& t_;
  const float* scale_;
  int64_t cols_ = 0;
};

// Hugging Face q/k rows rotate halves (i, i + d/2); llama.cpp's `llama` (and llama2.c) rotate
// pairs (2i, 2i+1). Interleaved row h*d + 2i + j is halves row h*d + j*d/2 + i.
inline int64_t interleaved_source_row(int64_t row, int64_t head_dim) {
  const int64_t h = row / head_dim, k = row % head_dim;
  return h * head_dim + (k % 2) * (head_dim / 2) + k / 2;
}
// The inverse: halves row h*d + j*d/2 + i is interleaved row h*d + 2i + j.
inline int64_t halves_source_row(int64_t row, int64_t head_dim) {
  const int64_t h = row / head_dim, k = row % head_dim, half = head_dim / 2;
  return h * head_dim + 2 * (k % half) + k / half;
}

inline bool is_rope_projection(const std::string& name) {
  auto ends = [&](std::string_view s) {
    return name.size() >= s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0;
  };
  return ends("attn_q.weight") || ends("attn_k.weight");
}

// The checks both exporters make first: a Llama-family model (llama, qwen2) with a vocabulary.
// `target` names the output kind in the message ("GGUF", "a Hugging Face directory").
inline Status check_exportable(const Model& model, const std::string& target) {
  if (model.config.family != ModelFamily::kLlama) {
    return Unsupported(model.path + ": export to " + target +
                       " supports the Llama family (llama, qwen2), not " +
                       std::string(family_name(model.config.family)));
  }
  if (!model.vocab) {
    return InvalidArgument(model.path +
                           ": the model has no vocabulary to export (pass --tokenizer for a "
                           "llama2.c checkpoint)");
  }
  return Status::Ok();
}

// For a tensor about to be exported: kInvalidArgument unless its values are in memory, then
// the `<linear>.input_scale` its columns must be multiplied by (an unfolded scale of a .dcllm),
// or null; kCorrupt when one exists but does not fit the weight.
inline Expected<const float*> checked_input_scale(const Model& model, const ModelTensor& t) {
  const std::string& tn = t.name;
  if (!t.data && !(t.int8 && !t.int8->values.empty())) {
    return InvalidArgument(model.path + ": tensor '" + tn +
                           "' has no weights in memory (load with --weights resident)");
  }
  if (tn.size() <= 7 || tn.compare(tn.size() - 7, 7, ".weight") != 0) return nullptr;
  const ModelTensor* s = model.find(tn.substr(0, tn.size() - 7) + ".input_scale");
  if (!s) return nullptr;
  if (s->data && s->numel() == (t.shape.empty() ? 0 : t.shape.back())) return s->data;
  return Corrupt(model.path + ": " + s->name + " does not match " + tn);
}

inline bool is_input_scale(const std::string& name) {
  return name.size() > 12 && name.compare(name.size() - 12, 12, ".input_scale") == 0;
}

}  // namespace dcllm
