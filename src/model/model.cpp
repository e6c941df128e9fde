// Model bookkeeping: tensor lookup by name and the totals `inspect` reports.
// Tensors live in a vector; a name index keeps lookups constant-time for the binder.
#include "model/model.h"

#include <algorithm>
#include <charconv>

namespace dcllm {

std::string_view family_name(ModelFamily f) {
  switch (f) {
    case ModelFamily::kLlama:
      return "llama";
    case ModelFamily::kOpt:
      return "opt";
    case ModelFamily::kGpt2:
      return "gpt2";
  }
  return "?";
}

std::string_view activation_name(Activation a) {
  switch (a) {
    case Activation::kSilu:
      return "silu";
    case Activation::kRelu:
      return "relu";
    case Activation::kGeluTanh:
      return "gelu_tanh";
    case Activation::kGelu:
      return "gelu";
  }
  return "?";
}

std::string_view rope_style_name(RopeStyle r) {
  switch (r) {
    case RopeStyle::kInterleaved:
      return "interleaved";
    case RopeStyle::kHalves:
      return "neox";
  }
  return "?";
}

int64_t ModelTensor::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string layer_tensor_name(int64_t layer, std::string_view suffix) {
  return "blk." + std::to_string(layer) + "." + std::string(suffix);
}

Status check_layer_tensors(const Model& m) {
  const int64_t n = m.config.n_layers;
  if (n < 0) return Corrupt(m.path + ": n_layers " + std::to_string(n) + " is negative");
  if (n == 0) return Status::Ok();
  // Only indices below the tensor count can all be present, so this vector is bounded by the
  // tensors the file really holds, not by n.
  const auto limit =
      static_cast<int64_t>(std::min<uint64_t>(static_cast<uint64_t>(n), m.tensors().size()));
  std::vector<bool> present(static_cast<size_t>(limit), false);
  for (const ModelTensor& t : m.tensors()) {
    const std::string_view name = t.name;
    if (!name.starts_with("blk.")) continue;
    int64_t layer = -1;
    const char* first = name.data() + 4;
    const char* last = name.data() + name.size();
    const auto [end, ec] = std::from_chars(first, last, layer);
    if (ec != std::errc() || end == last || *end != '.' || layer < 0) continue;
    if (layer < limit) present[static_cast<size_t>(layer)] = true;
  }
  int64_t missing = limit;  // the first layer without tensors; limit when all below it have some
  int64_t have = 0;
  for (int64_t l = 0; l < limit; ++l) {
    if (present[static_cast<size_t>(l)]) {
      ++have;
    } else if (missing == limit) {
      missing = l;
    }
  }
  if (missing < n) {
    return Corrupt(m.path + ": the model claims " + std::to_string(n) +
                   " layers but the file has tensors for " + std::to_string(have) + " (no blk." +
                   std::to_string(missing) + ".* tensor)");
  }
  return Status::Ok();
}

void Model::add_tensor(ModelTensor t) {
  index_[t.name] = tensors_.size();
  tensors_.push_back(std::move(t));
}

const ModelTensor* Model::find(std::string_view name) const {
  auto it = index_.find(std::string(name));
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

ModelTensor* Model::find_mutable(std::string_view name) {
  auto it = index_.find(std::string(name));
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

int64_t Model::parameter_count() const {
  int64_t n = 0;
  for (const auto& t : tensors_) n += t.numel();
  return n;
}

uint64_t Model::stored_bytes() const {
  uint64_t n = 0;
  for (const auto& t : tensors_) n += t.stored_bytes;
  return n;
}

}  // namespace dcllm
