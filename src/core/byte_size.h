// parse_byte_size: the SIZE of --mem-budget and --chunk-bytes ("1048576", "512KiB", "1.5 GiB"),
// and format_byte_size for messages. One parser, so every option reads sizes alike.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "dcllm/status.h"

namespace dcllm {

// Accepts a non-negative decimal number, optionally with a fraction, then optional spaces and a
// unit: none or B (bytes), KiB/MiB/GiB/TiB (powers of 1024), KB/MB/GB/TB (powers of 1000);
// K/M/G/T alone mean KiB/MiB/GiB/TiB. Units are case-insensitive. The result is rounded down
// to whole bytes and must fit in 2^63. Anything else is kInvalidArgument naming the text, e.g.
// "--mem-budget: '12 parsecs' is not a size (bytes, or a number with KiB/MiB/GiB)".
// `what` names the option in the message.
Expected<uint64_t> parse_byte_size(std::string_view text, std::string_view what = "size");

// "123 bytes", "1.50 KiB", "100.0 MiB", "2.00 GiB" (with the exact byte count in brackets for
// sizes of 1 KiB and up: "100.0 MiB (104857600 bytes)").
std::string format_byte_size(uint64_t bytes);

}  // namespace dcllm
