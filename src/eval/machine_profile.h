// measure_machine_profile: what `dcllm bench machine` measures for the throughput model —
// cold storage reads, memory reads, rANS decode with 1..N threads, INT8 GEMV/GEMM, and the
// rates of decode and GEMV while both run at once (docs/runtime.md "Machine profile").
#pragma once

#include <cstdint>
#include <string>

#include "dcllm/container.h"
#include "dcllm/status.h"
#include "runtime/throughput_model.h"

namespace dcllm {

struct MachineMeasureOptions {
  unsigned threads = 2;             // GEMV/GEMM threads (bench run's default)
  unsigned max_decode_threads = 0;  // rANS decode 1..N threads; 0 = the machine's threads
  unsigned max_memory_threads = 0;  // memory reads 1..N threads; 0 = the machine's threads
  // The storage test file: written in `dir` (default: the system temp directory), synced,
  // dropped from the page cache, read back once in `read_request_bytes` requests, removed.
  std::string dir;
  // Instead of a new file: read this existing one (e.g. the model to be streamed), whole or its
  // first storage_bytes, after dropping it from the page cache.
  std::string read_file;
  uint64_t storage_bytes = uint64_t{256} << 20;
  uint64_t read_request_bytes = uint64_t{1} << 20;
  uint64_t memory_bytes = uint64_t{128} << 20;  // buffer for memory reads (beyond the caches)
  uint64_t decode_bytes = uint64_t{16} << 20;   // INT8-like data coded with rans
  double seconds_per_figure = 0.3;              // each figure repeats for about this long
  int64_t prompt_batch = 64;
};

// Measures every MachineProfile figure; a failure to create, write or read the storage file
// names the path.
Expected<MachineProfile> measure_machine_profile(const MachineMeasureOptions& options);

// Where `dcllm plan` and `bench tiers` look for a profile when none is given:
// $DCLLM_MACHINE_PROFILE, else $XDG_CACHE_HOME/dcllm/machine-profile.json, else
// $HOME/.cache/dcllm/machine-profile.json ("" when none of these variables is set).
std::string default_machine_profile_path();

// `path` when given (read; errors name it); else the default path when that file exists; else
// measured now with shorter runs (about 5 s; nothing is saved). `how` says which one it was.
Expected<MachineProfile> resolve_machine_profile(const std::string& path, unsigned threads,
                                                 std::string* how);

// rANS decodes at a rate that depends on the data (SmolLM2's 7-bit weights decode at about half
// the rate of the synthetic Laplace weights bench machine uses). This decodes up to `bytes` of
// the model's own rans-coded INT8 chunks (a sample spread over the file, copied to RAM first) on
// one thread and scales every rANS figure of `p` by the ratio of that rate to
// rans_decode_mbps[0]. Returns the model's rate in MB/s (0, and `p` unchanged, when it has no
// rans chunk).
Expected<double> calibrate_decode_to_model(const ModelContainer& c, MachineProfile& p,
                                           uint64_t bytes = uint64_t{32} << 20);

// The INT8 GEMV's rate depends on the matrix shapes too: SmolLM2's 576-wide rows ran its
// resident tier at ~15 GB/s of weights on 2 threads where the profile's one 4096-wide matrix
// gives 46-57 GB/s. This multiplies the model's own INT8 matrices (up to `bytes` of them, in
// file order, decoded into RAM first; per-token INT8 activations, batch 1) with `threads`
// threads, best of a few passes, and sets gemv_mbps to that rate net of linear_overhead_us per
// call, scaling gemv_mbps_while_decoding alike. Returns the rate in MB/s (0, and `p` unchanged,
// when the model has no INT8 matrix).
Expected<double> calibrate_gemv_to_model(const ModelContainer& c, MachineProfile& p,
                                         unsigned threads, uint64_t bytes = uint64_t{512} << 20);

}  // namespace dcllm
