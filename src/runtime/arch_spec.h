// ArchSpec: the small description of how a model family's blocks differ (norm, positions,
// feed-forward, biases). The forward pass is written once against it; a family adds a case.
#pragma once

#include "dcllm/status.h"
#include "model/model.h"

namespace dcllm {

enum class NormKind { kRms };            // LayerNorm joins with OPT / GPT-2
enum class PositionKind { kRope };       // learned positions join with OPT / GPT-2
enum class FeedForwardKind { kSwiGlu };  // GELU / ReLU MLPs join with OPT / GPT-2

struct ArchSpec {
  NormKind norm = NormKind::kRms;
  PositionKind position = PositionKind::kRope;
  RopeStyle rope_style = RopeStyle::kInterleaved;
  FeedForwardKind ffn = FeedForwardKind::kSwiGlu;
  bool qkv_bias = false;  // biases on the q/k/v projections (Qwen2)
};

Expected<ArchSpec> arch_spec_for(const ModelConfig& config);

}  // namespace dcllm
