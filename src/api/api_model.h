// The object behind the C API's opaque dcllm_model: the loaded Model, its Tokenizer (when the
// model has a vocabulary) and the strings dcllm_model_info points into.
#pragma once

#include <optional>
#include <string>

#include "dcllm/dcllm.h"
#include "model/model.h"
#include "model/tokenizer.h"

struct dcllm_model {
  dcllm::Model model;
  std::optional<dcllm::Tokenizer> tokenizer;
  dcllm::Status tokenizer_status;  // why `tokenizer` is empty (tokenizer_for's hint)
  dcllm_weights weights = DCLLM_WEIGHTS_RESIDENT;
  unsigned threads = 1;
  std::string family;  // family_name() as an owned C string
};

namespace dcllm::api {

// The tokenizer, or the DCLLM_ERR_* of tokenizer_for's failure with its message set.
dcllm_status need_tokenizer(const dcllm_model* m, const Tokenizer** out);

}  // namespace dcllm::api
