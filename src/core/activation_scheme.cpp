// Names of the activation quantization schemes, as --aquant and compression.aquant write them.
// Parsing is strict (no spaces, signs or suffixes) because the same text is read back from files.
#include "core/activation_scheme.h"

#include <charconv>

#include <fmt/format.h>

namespace dcllm {

Expected<ActivationQuant> parse_activation_quant(std::string_view text) {
  constexpr std::string_view kBlockPrefix = "block:";
  ActivationQuant a;
  if (text == "per-token") return a;
  if (text == "per-tensor") {
    a.scheme = ActivationScheme::kPerTensor;
    return a;
  }
  if (text == "none") {
    a.scheme = ActivationScheme::kFloat;
    return a;
  }
  if (text.starts_with(kBlockPrefix)) {
    const std::string_view digits = text.substr(kBlockPrefix.size());
    int32_t n = 0;
    const char* end = digits.data() + digits.size();
    auto [ptr, ec] = std::from_chars(digits.data(), end, n);
    if (!digits.empty() && ec == std::errc() && ptr == end && n >= 1 && n <= kMaxActivationBlock) {
      a.scheme = ActivationScheme::kBlock;
      a.block = n;
      return a;
    }
    return InvalidArgument(
        fmt::format("activation quantization '{}': the block size must be an integer in [1, {}]",
                    text, kMaxActivationBlock));
  }
  return InvalidArgument(fmt::format(
      "activation quantization '{}': expected per-token, per-tensor, block:N or none", text));
}

std::string activation_quant_name(const ActivationQuant& a) {
  switch (a.scheme) {
    case ActivationScheme::kPerToken:
      return "per-token";
    case ActivationScheme::kPerTensor:
      return "per-tensor";
    case ActivationScheme::kBlock:
      return fmt::format("block:{}", a.block);
    case ActivationScheme::kFloat:
      return "none";
  }
  return "?";
}

}  // namespace dcllm
