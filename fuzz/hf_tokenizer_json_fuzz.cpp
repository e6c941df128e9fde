// Fuzzes the Hugging Face tokenizer.json reader: arbitrary bytes (split at the first "\n\x01\n"
// into tokenizer.json and tokenizer_config.json) give a Vocab or a one-line error, never a crash;
// a Vocab that Tokenizer::create accepts encodes and decodes text with ids in range.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "model/hf_tokenizer_json.h"
#include "model/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  std::string_view tokenizer_json = input, config_json;
  if (size_t cut = input.find("\n\x01\n"); cut != std::string_view::npos) {
    tokenizer_json = input.substr(0, cut);
    config_json = input.substr(cut + 3);
  }
  auto vocab = dcllm::parse_hf_tokenizer_json(tokenizer_json, config_json, "fuzz/tokenizer.json");
  if (!vocab.ok()) {
    if (vocab.status().message().find('\n') != std::string::npos) __builtin_trap();
    return 0;
  }
  auto tokenizer = dcllm::Tokenizer::create(std::move(vocab).value());
  if (!tokenizer.ok()) return 0;
  for (std::string_view text :
       {std::string_view("Hello world, it's 2024!\n\n  x"),
        std::string_view("<s>a</s> \xE6\x97\xA5\xE6\x9C\xAC \xF0\x9F\x98\x80"),
        std::string_view(""), input.substr(0, 256)}) {
    for (bool bos : {false, true}) {
      auto ids = tokenizer->encode(text, bos);
      for (int32_t id : ids) {
        if (id < 0 || static_cast<size_t>(id) >= tokenizer->size()) __builtin_trap();
      }
      (void)tokenizer->decode(ids);
    }
  }
  return 0;
}
