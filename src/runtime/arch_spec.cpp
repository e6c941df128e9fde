// The per-family table behind ArchSpec: one case per ModelFamily, read by the Transformer
// when it binds a model, so the forward pass never switches on architecture names.
#include "runtime/arch_spec.h"

namespace dcllm {

Expected<ArchSpec> arch_spec_for(const ModelConfig& c) {
  ArchSpec s;
  s.activation = c.activation;
  switch (c.family) {
    case ModelFamily::kLlama:
      s.norm = NormKind::kRms;
      s.position = PositionKind::kRope;
      s.rope_style = c.rope_style;
      s.ffn = FeedForwardKind::kGated;
      s.qkv_bias = c.attn_qkv_bias;
      if (!c.pre_norm || c.embedding_width() != c.dim)
        return Unsupported("'" + c.architecture + "': post-norm or projected Llama models");
      return s;
    case ModelFamily::kOpt:
    case ModelFamily::kGpt2:
      s.norm = NormKind::kLayerNorm;
      s.position = PositionKind::kLearned;
      s.ffn = FeedForwardKind::kPlain;
      s.qkv_bias = s.out_bias = s.ffn_bias = true;
      s.pre_norm = c.pre_norm;
      s.final_norm = c.pre_norm;  // post-norm OPT ends on its last block's norm
      s.projected_embeddings = c.embedding_width() != c.dim;
      if (s.projected_embeddings && c.family == ModelFamily::kGpt2)
        return Unsupported("'" + c.architecture + "': GPT-2 with projected embeddings");
      return s;
  }
  return Unsupported("model family of '" + c.architecture + "' has no forward pass");
}

}  // namespace dcllm
