// Model: what every reader produces — the architecture's hyper-parameters and named float32
// tensors (views into the file mapping or owned dequantized buffers), plus the vocabulary.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "dcllm/status.h"
#include "model/int8_tensor.h"
#include "model/vocab.h"

namespace dcllm {

// Families share one transformer skeleton; ArchSpec (runtime/arch_spec.h) says how they differ.
enum class ModelFamily {
  kLlama,  // Llama 1/2/3, Mistral, SmolLM, Qwen2: RMSNorm, RoPE, SwiGLU
  kOpt,    // OPT: LayerNorm (pre or post), learned positions, ReLU MLP, biases, project_in/out
  kGpt2,   // GPT-2: pre-LayerNorm, learned positions, GELU (tanh) MLP, biases, tied classifier
};

// The MLP's non-linearity: the gate's in a gated (SwiGLU) MLP, the hidden layer's otherwise.
enum class Activation {
  kSilu,      // z·σ(z)
  kRelu,      // max(z, 0)
  kGeluTanh,  // GPT-2's "gelu_new": tanh approximation
  kGelu,      // exact, with erf
};

// How RoPE pairs up the dimensions of a head.
enum class RopeStyle {
  kInterleaved,  // pairs (2i, 2i+1): llama2.c, llama.cpp "norm" (Llama weights permuted on export)
  kHalves,       // pairs (i, i + d/2): GPT-NeoX style, llama.cpp "neox" (Qwen2)
};

std::string_view family_name(ModelFamily f);
std::string_view rope_style_name(RopeStyle r);
std::string_view activation_name(Activation a);

struct ModelConfig {
  std::string architecture;  // as the file names it: "llama", "qwen2", "llama2.c"
  ModelFamily family = ModelFamily::kLlama;
  int64_t dim = 0;         // residual stream width
  int64_t hidden_dim = 0;  // feed-forward inner width
  int64_t n_layers = 0;
  int64_t n_heads = 0;
  int64_t n_kv_heads = 0;  // < n_heads means grouped-query attention
  int64_t head_dim = 0;    // usually dim / n_heads
  int64_t vocab_size = 0;
  int64_t seq_len = 0;  // trained context length
  float norm_eps = 1e-5f;
  float rope_theta = 10000.0f;
  int64_t rope_dim = 0;  // rotated dimensions per head (== head_dim for all we read)
  RopeStyle rope_style = RopeStyle::kInterleaved;
  bool tied_classifier = false;  // logits use token_embd.weight
  bool attn_qkv_bias = false;    // Qwen2 (OPT and GPT-2 have biases on every linear anyway)
  Activation activation = Activation::kSilu;
  // Width of the token embeddings and the classifier's input when it differs from dim (OPT's
  // word_embed_proj_dim: proj_in/proj_out map between the two); 0 = dim.
  int64_t embd_dim = 0;
  // false: post-norm blocks (OPT's do_layer_norm_before = false): the norm follows each residual
  // add and there is no final norm.
  bool pre_norm = true;

  int64_t embedding_width() const { return embd_dim > 0 ? embd_dim : dim; }
};

// One named tensor. Shapes are row-major, outermost first: a linear weight is {out, in}.
struct ModelTensor {
  std::string name;
  std::vector<int64_t> shape;
  std::string stored_type;      // "F32", "Q4_1", ... as the file stores it
  uint64_t stored_bytes = 0;    // bytes in the file
  const float* data = nullptr;  // float32 values; null when loaded without weights
  std::vector<float> owned;     // backing store when dequantized or copied
  // Set for a weight stored as INT8 (a .dcllm); `data` stays null so it runs on the W8A8 path.
  std::shared_ptr<const Int8Tensor> int8;

  int64_t numel() const;
};

// Canonical tensor names (GGUF's): "token_embd.weight", "output_norm.{weight,bias}",
// "output.weight", "blk.N.attn_norm.{weight,bias}", "blk.N.attn_{q,k,v,output}.{weight,bias}",
// "blk.N.ffn_norm.{weight,bias}", "blk.N.ffn_{gate,up,down}.{weight,bias}"; learned positions
// "pos_embd.weight" [seq_len, dim] (row p is position p); OPT's "proj_in.weight" [dim, embd_dim]
// and "proj_out.weight" [embd_dim, dim]. A plain MLP has ffn_up (fc1, c_fc) and ffn_down.
std::string layer_tensor_name(int64_t layer, std::string_view suffix);

class Model {
 public:
  Model() = default;
  Model(Model&&) = default;
  Model& operator=(Model&&) = default;
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  ModelConfig config;
  std::string path;    // where it came from, for messages
  std::string format;  // "llama2.c", "GGUF v3", ...
  std::optional<Vocab> vocab;
  // Why `vocab` is empty when the file has a tokenizer dcllm cannot reproduce (for the error
  // tokenizer_for gives); the weights still load, so such a model can be inspected.
  std::string vocab_unsupported;
  // Extra key/value facts a reader wants `inspect` to show (general.name, file_type, ...).
  std::vector<std::pair<std::string, std::string>> info;

  void add_tensor(ModelTensor t);
  const ModelTensor* find(std::string_view name) const;
  ModelTensor* find_mutable(std::string_view name);
  const std::vector<ModelTensor>& tensors() const { return tensors_; }
  int64_t parameter_count() const;
  uint64_t stored_bytes() const;
  // Keeps the mapping alive while tensors point into it.
  void hold(std::shared_ptr<const void> owner) { owners_.push_back(std::move(owner)); }

 private:
  std::vector<ModelTensor> tensors_;
  std::unordered_map<std::string, size_t> index_;
  std::vector<std::shared_ptr<const void>> owners_;
};

// Refuses (kCorrupt, naming the model's path) a config.n_layers that the tensors do not back:
// every layer 0..n_layers-1 needs at least one "blk.N." tensor. Readers run it before anything
// is sized by n_layers (the Transformer's layers, compress plans), so a header or metadata
// claiming 2^24 layers costs no memory. n_layers = 0 (inspect of an unknown architecture) passes.
Status check_layer_tensors(const Model& m);

}  // namespace dcllm
