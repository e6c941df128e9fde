// libFuzzer: arbitrary bytes as a plan file (`dcllm plan -o`, `repack --plan`) give a plan or a
// one-line error; a plan that parses survives a JSON round trip and a check against an index.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "runtime/partial_compression_plan.h"

namespace {

void check_message(const dcllm::Status& st) {
  const std::string& m = st.message();
  if (m.empty() || m.find('\n') != std::string::npos) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto plan = dcllm::parse_plan_text(text, "fuzz/plan.json");
  if (!plan.ok()) {
    check_message(plan.status());
    return 0;
  }
  if (plan->chunks.size() > dcllm::kMaxPlanChunks) std::abort();
  // What is written reads back the same.
  auto again = dcllm::plan_from_json(dcllm::plan_to_json(*plan), "fuzz/plan.json");
  if (!again.ok() || again->chunks.size() != plan->chunks.size()) std::abort();
  for (size_t i = 0; i < plan->chunks.size(); ++i) {
    if (again->chunks[i].tensor != plan->chunks[i].tensor ||
        again->chunks[i].chunk != plan->chunks[i].chunk ||
        again->chunks[i].placement != plan->chunks[i].placement)
      std::abort();
  }
  // Against a small index: either it matches (then the table covers every chunk) or a one-line
  // refusal.
  std::vector<dcllm::TensorEntry> index(2);
  index[0].spec.name = "a.weight";
  index[0].spec.dtype = dcllm::DType::kI8;
  index[0].chunks.resize(2);
  index[0].chunks[0].codec = "rans";
  index[0].chunks[1].codec = "raw";
  index[1].spec.name = "n.weight";
  index[1].spec.dtype = dcllm::DType::kF32;
  index[1].chunks.resize(1);
  auto table = dcllm::plan_placements(*plan, index, "fuzz/m.dcllm");
  if (!table.ok()) {
    check_message(table.status());
  } else if (table->size() != 2 || (*table)[0].size() != 2 || !(*table)[1].empty()) {
    std::abort();
  }
  return 0;
}
