// The per-family table behind ArchSpec: one case per ModelFamily, read by the Transformer
// when it binds a model, so the forward pass never switches on architecture names.
#include "runtime/arch_spec.h"

namespace dcllm {

Expected<ArchSpec> arch_spec_for(const ModelConfig& c) {
  switch (c.family) {
    case ModelFamily::kLlama: {
      ArchSpec s;
      s.norm = NormKind::kRms;
      s.position = PositionKind::kRope;
      s.rope_style = c.rope_style;
      s.ffn = FeedForwardKind::kSwiGlu;
      s.qkv_bias = c.attn_qkv_bias;
      return s;
    }
  }
  return Unsupported("model family of '" + c.architecture + "' has no forward pass");
}

}  // namespace dcllm
