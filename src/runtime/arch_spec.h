// ArchSpec: the small description of how a model family's blocks differ (norm, positions,
// feed-forward, biases). The forward pass is written once against it; a family adds a case.
#pragma once

#include "dcllm/status.h"
#include "model/model.h"

namespace dcllm {

enum class NormKind {
  kRms,        // x / rms(x) · w
  kLayerNorm,  // (x − mean) / std · w + b
};
enum class PositionKind {
  kRope,     // rotary, applied to q and k
  kLearned,  // pos_embd rows added to the token embeddings
};
enum class FeedForwardKind {
  kGated,  // down(act(gate(x)) · up(x)): SwiGLU
  kPlain,  // down(act(up(x) + b) ) + b: OPT's fc1/fc2, GPT-2's c_fc/c_proj
};

struct ArchSpec {
  NormKind norm = NormKind::kRms;
  PositionKind position = PositionKind::kRope;
  RopeStyle rope_style = RopeStyle::kInterleaved;
  FeedForwardKind ffn = FeedForwardKind::kGated;
  Activation activation = Activation::kSilu;
  bool qkv_bias = false;              // biases on the q/k/v projections (Qwen2, OPT, GPT-2)
  bool out_bias = false;              // on attn_output
  bool ffn_bias = false;              // on ffn_up and ffn_down
  bool pre_norm = true;               // norm before each block (else after each residual add)
  bool final_norm = true;             // output_norm before the classifier
  bool projected_embeddings = false;  // proj_in / proj_out between embd_dim and dim (OPT-350m)
};

Expected<ArchSpec> arch_spec_for(const ModelConfig& config);

}  // namespace dcllm
