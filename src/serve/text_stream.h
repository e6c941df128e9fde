// TextStream: turns the pieces a generation decodes into text safe to send as it comes: whole
// UTF-8 characters only, and nothing that could still turn out to begin a stop string.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace dcllm {

class TextStream {
 public:
  explicit TextStream(std::vector<std::string> stop_strings);

  // Adds `piece`; returns the text that may be sent now. After a stop string is found, the
  // text before it is returned, stopped() turns true and further pieces are ignored.
  std::string feed(std::string_view piece);
  // Whatever is still held back (a partial stop string, an incomplete character at the end).
  std::string finish();
  bool stopped() const { return stopped_; }

 private:
  std::vector<std::string> stops_;
  std::string pending_;
  bool stopped_ = false;
};

// Bytes at the end of `s` that begin a UTF-8 character the text does not yet complete (0-3).
size_t incomplete_utf8_tail(std::string_view s);

}  // namespace dcllm
