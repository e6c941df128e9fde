// repack_container: `dcllm repack IN.dcllm -o OUT.dcllm --plan PLAN.json` — rewrites each INT8
// chunk coded or raw as a plan's placement needs (lossless: the same INT8 values, no
// re-quantization) and stores the plan in the file's metadata, so runs follow it by default.
#pragma once

#include <cstdint>
#include <string>

#include "dcllm/status.h"
#include "runtime/partial_compression_plan.h"

namespace dcllm {

struct RepackOptions {
  std::string codec = "rans";  // for chunks that must become coded
  unsigned threads = 2;
};

struct RepackReport {
  uint64_t chunks = 0;        // INT8 chunks in the plan
  uint64_t to_raw = 0;        // chunks rewritten coded -> raw
  uint64_t to_coded = 0;      // chunks rewritten raw -> coded
  uint64_t in_bytes = 0;      // input file size
  uint64_t out_bytes = 0;     // output file size
  uint64_t stored_bytes = 0;  // INT8 chunks' stored bytes in the output
};

// Refuses, before writing anything: an output that is the input (by identity: also through a
// link) or cannot be written, and a plan that does not match the input's tensors and chunks
// (every INT8 chunk exactly once; storage may differ: that is what repack changes). Chunks that
// keep their storage (and every other tensor's chunks) are copied byte for byte after their
// XXH3 is checked; a rewritten chunk is decoded (checked) and re-coded, and the new bytes are
// decoded again and compared with the old values before they are written. The output is written
// to a temporary file and moved into place only when complete (no partial output on failure),
// then verified (verify_container) and removed again if that fails. Its metadata is the input's
// plus "plan": the plan with resident/streamed bytes recomputed for the output.
Expected<RepackReport> repack_container(const std::string& input, const std::string& output,
                                        const PartialCompressionPlan& plan,
                                        const RepackOptions& options = {});

}  // namespace dcllm
