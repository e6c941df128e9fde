// Model bookkeeping: tensor lookup by name and the totals `inspect` reports.
// Tensors live in a vector; a name index keeps lookups constant-time for the binder.
#include "model/model.h"

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
