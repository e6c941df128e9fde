// workload_for_container: walks the linears by their canonical names (model/model.h) in the
// order the forward pass runs them, and reads each one's chunks from the container index.
#include "runtime/model_workload.h"

#include "fmt/format.h"
#include "model/dcllm_model_metadata.h"
#include "model/model.h"
#include "runtime/arch_spec.h"

namespace dcllm {

bool tensor_lookup_only(const ModelContainer& container, std::string_view tensor) {
  return tensor == kTokenEmbeddingTensor && container.find("output.weight") >= 0;
}

Expected<Workload> workload_for_container(
    const ModelContainer& container, const std::vector<std::vector<ChunkPlacement>>& placements) {
  const std::string& file = container.path();
  const auto& tensors = container.tensors();
  if (placements.size() != tensors.size())
    return InvalidArgument(file + ": placement table does not cover the index");
  auto cfg_it = container.metadata().find("config");
  if (cfg_it == container.metadata().end())
    return Corrupt(file + ": metadata has no \"config\" (not a compressed model)");
  DCLLM_ASSIGN_OR_RETURN(ModelConfig c, model_config_from_json(*cfg_it, file));
  auto spec_or = arch_spec_for(c);
  if (!spec_or.ok())
    return Status(spec_or.status().code(), file + ": " + spec_or.status().message());
  const ArchSpec spec = *spec_or;
  if (c.n_layers <= 0 || c.n_layers > 4096 || c.n_heads <= 0 || c.head_dim <= 0)
    return Corrupt(file + ": inconsistent hyper-parameters");

  Workload w;
  w.n_layers = c.n_layers;
  w.n_heads = c.n_heads;
  w.n_kv_heads = c.n_kv_heads;
  w.head_dim = c.head_dim;
  w.dim = c.dim;
  w.vocab = c.vocab_size;
  auto add = [&](const std::string& name, bool classifier, bool after_attention) -> Status {
    const ptrdiff_t t = container.find(name);
    if (t < 0) return Corrupt(fmt::format("{}: tensor '{}' is missing", file, name));
    const TensorEntry& e = tensors[static_cast<size_t>(t)];
    LinearWork l;
    l.name = name;
    l.classifier = classifier;
    l.after_attention = after_attention;
    if (e.spec.dtype != DType::kI8) {
      l.f32 = true;
      l.f32_bytes = e.raw_bytes;
    } else {
      const auto& placed = placements[static_cast<size_t>(t)];
      if (placed.size() != e.chunks.size())
        return InvalidArgument(fmt::format("{}: tensor '{}': placements for {} of {} chunks", file,
                                           name, placed.size(), e.chunks.size()));
      for (size_t k = 0; k < e.chunks.size(); ++k) {
        ChunkWork cw;
        cw.raw_bytes = e.chunks[k].raw_size;
        cw.stored_bytes = e.chunks[k].stored_size;
        cw.placement = placed[k];
        l.chunks.push_back(cw);
      }
    }
    w.linears.push_back(std::move(l));
    return Status::Ok();
  };
  if (spec.projected_embeddings) DCLLM_RETURN_IF_ERROR(add("proj_in.weight", false, false));
  for (int64_t layer = 0; layer < c.n_layers; ++layer) {
    auto n = [layer](const char* s) { return layer_tensor_name(layer, s); };
    DCLLM_RETURN_IF_ERROR(add(n("attn_q.weight"), false, false));
    DCLLM_RETURN_IF_ERROR(add(n("attn_k.weight"), false, false));
    DCLLM_RETURN_IF_ERROR(add(n("attn_v.weight"), false, false));
    DCLLM_RETURN_IF_ERROR(add(n("attn_output.weight"), false, true));
    if (spec.ffn == FeedForwardKind::kGated)
      DCLLM_RETURN_IF_ERROR(add(n("ffn_gate.weight"), false, false));
    DCLLM_RETURN_IF_ERROR(add(n("ffn_up.weight"), false, false));
    DCLLM_RETURN_IF_ERROR(add(n("ffn_down.weight"), false, false));
  }
  if (spec.projected_embeddings) DCLLM_RETURN_IF_ERROR(add("proj_out.weight", false, false));
  DCLLM_RETURN_IF_ERROR(
      add(c.tied_classifier ? std::string(kTokenEmbeddingTensor) : "output.weight", true, false));
  return w;
}

}  // namespace dcllm
