// libFuzzer: arbitrary bytes as a Hugging Face config.json give a config or a one-line error;
// a config that parses has sizes a forward pass could be built from.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "model/hf_config.h"
#include "runtime/arch_spec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto config = dcllm::parse_hf_config(text, "fuzz/config.json");
  if (!config.ok()) {
    const std::string& m = config.status().message();
    if (m.empty() || m.find('\n') != std::string::npos) std::abort();
    return 0;
  }
  const dcllm::ModelConfig& c = config->config;
  if (c.dim < 1 || c.n_layers < 1 || c.n_heads < 1 || c.n_kv_heads < 1 || c.head_dim < 1 ||
      c.vocab_size < 1 || c.hidden_dim < 1 || c.seq_len < 1 || c.n_heads % c.n_kv_heads != 0)
    std::abort();
  (void)dcllm::arch_spec_for(c);
  return 0;
}
