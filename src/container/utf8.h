// Strict UTF-8 validation for the strings a container stores (tensor names), so every name can
// be printed and put into JSON reports as is.
#pragma once

#include <string_view>

namespace dcllm {

// True for well-formed UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF.
bool is_valid_utf8(std::string_view s);

}  // namespace dcllm
