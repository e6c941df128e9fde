// The nesting pre-scan and the bounded parse used wherever a file's JSON is read; see
// json_limits.h for why the depth is bounded before parsing.
#include "core/json_limits.h"

namespace dcllm {

Status check_json_depth(std::string_view text, std::string_view file, int max_depth) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char ch = text[i];
    if (in_string) {
      if (ch == '\\') {
        ++i;  // the escaped byte cannot end the string
      } else if (ch == '"') {
        in_string = false;
      }
    } else if (ch == '"') {
      in_string = true;
    } else if (ch == '[' || ch == '{') {
      if (++depth > max_depth) {
        return Corrupt(std::string(file) + ": JSON nests deeper than " + std::to_string(max_depth) +
                       " levels (at byte " + std::to_string(i) + ")");
      }
    } else if ((ch == ']' || ch == '}') && depth > 0) {
      // A stray close is a syntax error the parser stops at; never letting the count go below
      // zero keeps it from hiding later opens.
      --depth;
    }
  }
  return Status::Ok();
}

Expected<nlohmann::json> parse_untrusted_json(std::string_view text, std::string_view file,
                                              std::string_view invalid_message) {
  DCLLM_RETURN_IF_ERROR(check_json_depth(text, file));
  nlohmann::json j = nlohmann::json::parse(text.begin(), text.end(), nullptr,
                                           /*allow_exceptions=*/false);
  if (j.is_discarded()) return Corrupt(std::string(file) + ": " + std::string(invalid_message));
  return j;
}

}  // namespace dcllm
