// `dcllm run --chat`: a conversation with the model's chat template — one user turn from -p,
// or (without -p) one turn per line read from stdin, a "> " prompt shown on a terminal.
#pragma once

#include <cstdint>
#include <string>

#include "dcllm/status.h"
#include "model/model.h"
#include "runtime/chat_template.h"
#include "runtime/sampler.h"

namespace dcllm::cli {

struct ChatRunOptions {
  std::string prompt;         // "" = read turns from stdin
  bool prompt_given = false;  // -p/-f was given (even if empty)
  std::string system;         // --system: the conversation's system message
  std::string chat_template;  // --chat-template: a format name instead of the model's
  int64_t max_tokens = 256;   // per reply
  int64_t ctx = 0;            // 0 = the model's, at most 4096
  unsigned threads = 2;
  SamplerOptions sampling;
  bool json = false;  // one JSON object per reply
};

Status run_chat(Model model, const ChatRunOptions& o);

}  // namespace dcllm::cli
