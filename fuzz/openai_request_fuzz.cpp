// libFuzzer: arbitrary bytes as a `dcllm serve` request body give a request or a one-line error
// (a 400); a chat request that parses renders in every format or is refused cleanly.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "serve/openai_protocol.h"

namespace {

void check_error(const dcllm::Status& st) {
  if (st.message().empty() || st.message().find('\n') != std::string::npos) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  auto completion = dcllm::parse_completion_request(body);
  if (!completion.ok()) check_error(completion.status());
  if (completion.ok() && completion->fields.stop.size() > dcllm::kMaxStopStrings) std::abort();
  auto chat = dcllm::parse_chat_request(body);
  if (!chat.ok()) {
    check_error(chat.status());
    return 0;
  }
  if (chat->messages.empty() || chat->messages.size() > dcllm::kMaxChatMessages) std::abort();
  for (int f = 0; f <= static_cast<int>(dcllm::ChatFormat::kGemma); ++f) {
    dcllm::ChatTemplate t;
    t.format = static_cast<dcllm::ChatFormat>(f);
    auto text = dcllm::render_chat(t, chat->messages);
    if (!text.ok()) check_error(text.status());
  }
  return 0;
}
