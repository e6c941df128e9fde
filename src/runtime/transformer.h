// Transformer: the forward pass with a KV cache, float32 or W8A8 per linear. It binds a Model's
// tensors to the blocks its ArchSpec describes and runs a batch of tokens (a prompt, or one token).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "dcllm/status.h"
#include "model/model.h"
#include "runtime/arch_spec.h"
#include "runtime/embedding_table.h"
#include "runtime/linear.h"
#include "runtime/ops.h"
#include "runtime/weight_source.h"

namespace dcllm {

// Called with each linear layer's input before the layer runs: `x` is [rows, cols] row-major
// (one row per token). Calibration uses it to collect per-channel statistics (max|X|, ...).
using ActivationObserver =
    std::function<void(const std::string& linear_name, const float* x, size_t rows, size_t cols)>;

struct TransformerOptions {
  int64_t max_seq = 0;  // KV cache length; 0 = the model's seq_len. Clamped to it.
  unsigned threads = 2;
  // Streamed chunks the weight source's reader may read ahead (WeightSourceOptions::ring_slots).
  size_t ring_slots = 16;
};

class Transformer {
 public:
  // Checks that every tensor the family needs is present, float32-loaded and of the right
  // shape; errors name the file and the tensor. The Model must outlive the Transformer.
  static Expected<Transformer> create(const Model& model, const TransformerOptions& opts = {});

  // Runs `tokens` at positions pos, pos+1, ... (positions < pos must already be cached) and
  // returns logits: the last token's [vocab] or, with all_logits, [tokens.size(), vocab].
  // The span stays valid until the next call.
  Expected<std::span<const float>> forward(std::span<const int32_t> tokens, int64_t pos,
                                           bool all_logits = false);

  void set_observer(ActivationObserver observer) { observer_ = std::move(observer); }
  const ModelConfig& config() const { return config_; }
  const ArchSpec& spec() const { return spec_; }
  int64_t max_seq() const { return max_seq_; }
  // Every linear layer in execution order (for calibration and quantization to walk).
  std::vector<const Linear*> linears() const;
  // Where the INT8 linears get their weights (resident, compressed or stream; docs/runtime.md).
  const WeightSource& weights() const { return *weights_; }

 private:
  struct Norm {
    const float* weight = nullptr;
    const float* bias = nullptr;  // LayerNorm only
  };
  struct Layer {
    Norm attn_norm;
    Linear q, k, v, o;
    Norm ffn_norm;
    Linear gate, up, down;  // gate only in a gated MLP
  };

  Transformer() = default;
  void observe(const Linear& l, const float* x, size_t rows) const;
  void normalize(float* out, const float* in, const Norm& norm, size_t rows) const;
  Status embed(const int32_t* tokens, size_t n, int64_t pos);
  Status feed_forward(const Layer& L, const float* in, size_t n);
  Status run_batch(const int32_t* tokens, size_t n, int64_t pos, bool all_logits, float* logits);
  std::vector<Linear*> linears_mutable();
  void attention(size_t layer, size_t n, int64_t pos);
  void reserve_batch(size_t n);

  ModelConfig config_;
  ArchSpec spec_;
  unsigned threads_ = 2;
  int64_t max_seq_ = 0;
  int64_t kv_dim_ = 0;
  const float* token_embd_ = nullptr;
  std::unique_ptr<EmbeddingTable> token_embd_int8_;  // instead of token_embd_ for INT8 models
  const float* pos_embd_ = nullptr;                  // learned positions [seq_len, dim]
  Linear proj_in_, proj_out_;                        // embd_dim <-> dim, when the spec has them
  Norm output_norm_;
  std::vector<Layer> layers_;
  Linear classifier_;
  RopeTable rope_;
  ActivationObserver observer_;
  // Supplies every INT8 linear's values; on the heap so Linears keep a stable pointer to it
  // when the Transformer moves.
  std::unique_ptr<WeightSource> weights_;

  // KV cache, [layer][position][kv_dim] each.
  std::vector<float> key_cache_, value_cache_;
  // Activations for the current batch (rows = tokens).
  size_t batch_capacity_ = 0;
  std::vector<float> x_, xb_, xb2_, q_, k_, v_, hb_, hb2_, att_;
  std::vector<float> xe_;  // embd_dim-wide rows around proj_in / proj_out
  std::vector<float> logits_;
};

}  // namespace dcllm
