// Parsing JSON from untrusted files (config.json, tokenizer.json, safetensors headers, .dcllm
// metadata) with the nesting depth bounded before nlohmann's recursive code sees the value.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

#include "dcllm/status.h"

namespace dcllm {

// The deepest nesting of [ and { accepted. nlohmann parses iteratively, but copying, comparing
// and dump() recurse once per level, so a 100,000-deep text overflows the stack (and a 30,000-
// deep one costs gigabytes in the DOM). Every format we read nests at most about 6 levels
// (tokenizer.json's normalizer sequences, .dcllm metadata); 64 leaves ten times that margin and
// keeps any recursion a few kilobytes of stack.
inline constexpr int kMaxJsonDepth = 64;

// Counts [ and { outside strings (a backslash escapes the next byte, as in JSON's lexer, whose
// notion of a string this must match) and fails with "<file>: JSON nests deeper than 64
// levels (at byte N)" past `max_depth`. A linear scan, no allocation; it does not validate.
Status check_json_depth(std::string_view text, std::string_view file,
                        int max_depth = kMaxJsonDepth);

// check_json_depth(), then nlohmann's parser without exceptions. Text that is not JSON is
// Corrupt "<file>: <invalid_message>" (callers keep their established wording).
Expected<nlohmann::json> parse_untrusted_json(std::string_view text, std::string_view file,
                                              std::string_view invalid_message = "not valid JSON");

}  // namespace dcllm
