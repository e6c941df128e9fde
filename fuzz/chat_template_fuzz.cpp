// libFuzzer: arbitrary bytes as a model's chat template (model files are untrusted) are
// recognised or not without a crash, and whatever format results renders a conversation.
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "runtime/chat_template.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  dcllm::Vocab vocab;
  vocab.tokens = {"<unk>", "<s>", "</s>", "<|im_start|>", "<|im_end|>"};
  const dcllm::ChatTemplate t = dcllm::detect_chat_template(text, &vocab);
  if (t.default_system.size() > 4096 || t.default_system.size() > size) std::abort();
  // The first bytes double as a message, so content reaches every renderer too.
  const std::vector<dcllm::ChatMessage> messages = {{"system", std::string(text.substr(0, 64))},
                                                    {"user", std::string(text)}};
  auto rendered = dcllm::render_chat(t, messages);
  if (!rendered.ok()) std::abort();
  (void)dcllm::chat_stop_tokens(t, vocab);
  return 0;
}
