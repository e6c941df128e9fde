// The Workload the throughput model costs, built from a .dcllm's index and metadata config: its
// linears in the forward pass's execution order, each chunk with its sizes and placement.
#pragma once

#include <string_view>
#include <vector>

#include "dcllm/container.h"
#include "dcllm/status.h"
#include "runtime/partial_compression_plan.h"
#include "runtime/throughput_model.h"

namespace dcllm {

// The token embedding is decoded at load in every tier (its rows are looked up per token, and a
// tied classifier multiplies with all of it), so its chunks are resident-raw whatever a plan
// says; the planner never moves them and the model costs them so.
inline constexpr std::string_view kTokenEmbeddingTensor = "token_embd.weight";
bool tensor_always_resident(std::string_view tensor);

// `placements` as plan_placements() returns it for `container.tensors()`. The order is
// Transformer::create's: [proj_in], per layer attn_q, attn_k, attn_v, attn_output (after the
// attention), [ffn_gate], ffn_up, ffn_down, then [proj_out] and the classifier (output.weight,
// or token_embd.weight when tied). A linear stored as f32 is a float linear. Fails naming the
// file when the metadata has no usable config or a linear the config implies is missing.
Expected<Workload> workload_for_container(
    const ModelContainer& container, const std::vector<std::vector<ChunkPlacement>>& placements);

}  // namespace dcllm
