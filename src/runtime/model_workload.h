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

// The token embedding is kept like every INT8 tensor: a tied classifier is a linear over it, and
// its rows are looked up per token from wherever it is (runtime/embedding_table.h). Only an
// embedding that no linear multiplies with (the classifier is its own output.weight) is
// *lookup-only*: plans stream it as stored, since a token reads one of its chunks at most
// (the throughput model does not cost lookups), and the floor counts the lookup's buffers.
inline constexpr std::string_view kTokenEmbeddingTensor = "token_embd.weight";
bool tensor_lookup_only(const ModelContainer& container, std::string_view tensor);

// `placements` as plan_placements() returns it for `container.tensors()`. The order is
// Transformer::create's: [proj_in], per layer attn_q, attn_k, attn_v, attn_output (after the
// attention), [ffn_gate], ffn_up, ffn_down, then [proj_out] and the classifier (output.weight,
// or token_embd.weight when tied). A linear stored as f32 is a float linear. Fails naming the
// file when the metadata has no usable config or a linear the config implies is missing.
Expected<Workload> workload_for_container(
    const ModelContainer& container, const std::vector<std::vector<ChunkPlacement>>& placements);

}  // namespace dcllm
