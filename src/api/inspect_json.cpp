// The JSON of `dcllm inspect --json` built from the library (container index, model readers
// without weights), key for key as the CLI prints it, so C and Python callers get one schema.
#include "api/inspect_json.h"

#include <fmt/format.h>

#include <algorithm>
#include <vector>

#include "dcllm/container.h"
#include "model/dcllm_model_metadata.h"
#include "model/model_loader.h"

namespace dcllm::api {
namespace {

using ojson = nlohmann::ordered_json;

ojson ratio(uint64_t raw, uint64_t stored) {
  if (stored == 0) return nullptr;
  return static_cast<double>(raw) / static_cast<double>(stored);
}

}  // namespace

std::vector<std::string> tensor_codecs(const TensorEntry& t) {
  std::vector<std::string> codecs;
  for (const auto& c : t.chunks)
    if (std::find(codecs.begin(), codecs.end(), c.codec) == codecs.end()) codecs.push_back(c.codec);
  return codecs;
}

ojson container_json(const ModelContainer& c, bool with_chunks) {
  ojson tensors = ojson::array();
  for (const auto& t : c.tensors()) {
    ojson j;
    j["name"] = t.spec.name;
    j["shape"] = t.spec.shape;
    j["dtype"] = std::string(dtype_name(t.spec.dtype));
    j["quant"] = {{"scheme", quant_scheme_name(t.spec.quant)},
                  {"group_size", t.spec.quant.group_size},
                  {"scale_count", t.spec.quant.scales.size()}};
    j["codecs"] = tensor_codecs(t);
    j["chunks"] = t.chunks.size();
    j["raw_bytes"] = t.raw_bytes;
    j["stored_bytes"] = t.stored_bytes;
    j["ratio"] = ratio(t.raw_bytes, t.stored_bytes);
    if (with_chunks) {
      ojson list = ojson::array();
      for (const auto& ch : t.chunks)
        list.push_back({{"offset", ch.offset},
                        {"stored_bytes", ch.stored_size},
                        {"raw_offset", ch.raw_offset},
                        {"raw_bytes", ch.raw_size},
                        {"xxh3", fmt::format("{:016x}", ch.xxh3)},
                        {"codec", ch.codec}});
      j["chunk_list"] = std::move(list);
    }
    tensors.push_back(std::move(j));
  }
  return {{"file", c.path()},
          {"format", "dcllm"},
          {"version", c.version()},
          {"metadata", c.metadata()},
          {"tensors", std::move(tensors)},
          {"totals",
           {{"tensors", c.tensors().size()},
            {"chunks", c.chunk_count()},
            {"raw_bytes", c.raw_bytes()},
            {"stored_bytes", c.stored_bytes()},
            {"ratio", ratio(c.raw_bytes(), c.stored_bytes())},
            {"file_bytes", c.file_bytes()},
            {"file_ratio", ratio(c.raw_bytes(), c.file_bytes())}}}};
}

Expected<ojson> model_file_json(const std::string& path) {
  // Keys in sorted order (plain nlohmann::json), as `inspect --json` has always printed them.
  using json = nlohmann::json;
  LoadOptions load;
  load.load_weights = false;
  DCLLM_ASSIGN_OR_RETURN(Model model, load_model(path, load));
  json tensors = json::array();
  for (const auto& t : model.tensors()) {
    tensors.push_back({{"name", t.name},
                       {"shape", t.shape},
                       {"dtype", t.stored_type},
                       {"bytes", t.stored_bytes}});
  }
  json meta = json::object();
  for (const auto& [k, v] : model.info) meta[k] = v;
  json j = {{"path", path},
            {"format", model.format},
            {"config", model_config_to_json(model.config)},
            {"metadata", meta},
            {"parameters", model.parameter_count()},
            {"bytes", model.stored_bytes()},
            {"tensors", tensors}};
  if (model.vocab) {
    j["vocab"] = {{"kind", model.vocab->kind == VocabKind::kSentencePiece ? "sentencepiece"
                                                                          : "byte-level-bpe"},
                  {"size", model.vocab->tokens.size()},
                  {"bos_id", model.vocab->bos_id},
                  {"eos_id", model.vocab->eos_id}};
  }
  return ojson(j);
}

Expected<nlohmann::ordered_json> inspect_json(const std::string& path, bool chunks) {
  DCLLM_ASSIGN_OR_RETURN(bool is_container, is_container_file(path));
  if (!is_container) return model_file_json(path);
  DCLLM_ASSIGN_OR_RETURN(ModelContainer c, ModelContainer::open(path));
  return container_json(c, chunks);
}

}  // namespace dcllm::api
