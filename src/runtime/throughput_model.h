// ThroughputModel: predicted tokens/s of a .dcllm under a chunk placement on a measured machine
// (the paper's eq. 5–6 for our CPU pipeline: load → decode → compute, overlapped by the ring).
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "dcllm/status.h"
#include "runtime/partial_compression_plan.h"

namespace dcllm {

// What `dcllm bench machine` measures (docs/runtime.md "Machine profile"). MB = 10^6 bytes.
struct MachineProfile {
  unsigned threads = 2;  // compute threads the GEMV/GEMM figures were measured with
  unsigned cores = 0;    // hardware threads of the machine
  // Cold sequential reads from storage in chunk-sized requests, O_DIRECT where the filesystem
  // allows ("o_direct"), else pread + posix_fadvise(DONTNEED) ("pread+fadvise").
  double storage_read_mbps = 0;
  std::string storage_method;
  // Sequential reads from RAM with t threads at index t - 1, and one thread's memcpy rate
  // (bytes copied per second: what the raw codec costs).
  std::vector<double> memory_read_mbps;
  double memory_copy_mbps = 0;
  // rANS decode, raw bytes per second, of one INT8-like stream decoded by t threads (index
  // t - 1), on an otherwise idle machine.
  std::vector<double> rans_decode_mbps;
  // INT8 GEMM with `threads` threads: weight bytes per second at batch 1 (generation), and
  // weight bytes × tokens per second at `prompt_batch` tokens (the prompt).
  double gemv_mbps = 0;
  double gemm_prompt_mbps = 0;
  int64_t prompt_batch = 64;
  // Fixed cost of one small linear call (activation quantization, waking the GEMM threads).
  double linear_overhead_us = 0;
  // Both at once, as the ring runs them: GEMV (batch 1, `threads` threads) while one other
  // thread decodes rANS, and that decode while the GEMV runs. 0 = unmeasured (use the idle
  // figures). On a machine with fewer cores than threads + 1 these are what overlap costs.
  double gemv_mbps_while_decoding = 0;
  double rans_decode_mbps_while_gemv = 0;
  // "measured <date>" or where the figures came from.
  std::string source;

  // Helpers with the fall-backs above; t is clamped to the measured range.
  double memory_read(unsigned t) const;
  double rans_decode(unsigned t) const;
  double gemv_contended() const;
  double decode_contended() const;
};

// JSON: {"threads", "cores", "storage_read_mbps", "storage_method", "memory_read_mbps": [..],
// "memory_copy_mbps", "rans_decode_mbps": [..], "gemv_mbps", "gemm_prompt_mbps",
// "prompt_batch", "linear_overhead_us", "gemv_mbps_while_decoding",
// "rans_decode_mbps_while_gemv", "source"}.
nlohmann::json machine_profile_to_json(const MachineProfile& p);
// Checks types and ranges (rates finite and > 0 where the model divides by them; at most 256
// thread entries); `file` names the source in errors.
Expected<MachineProfile> machine_profile_from_json(const nlohmann::json& j, std::string_view file);
// Depth-limited parse of an untrusted file (at most 1 MiB), then machine_profile_from_json.
Expected<MachineProfile> read_machine_profile(const std::string& path);
Status write_machine_profile(const MachineProfile& p, const std::string& path);

// One chunk of an INT8 linear as the model sees it.
struct ChunkWork {
  uint64_t raw_bytes = 0;     // INT8 values (rows × cols of the chunk)
  uint64_t stored_bytes = 0;  // what the file stores (= raw_bytes for a raw chunk)
  ChunkPlacement placement = ChunkPlacement::kResidentRaw;
};

// One linear call of a forward pass, in execution order.
struct LinearWork {
  std::string name;  // the weight tensor's name ("blk.0.attn_q.weight", "token_embd.weight")
  std::vector<ChunkWork> chunks;
  bool classifier = false;  // runs for one row of a prompt batch, and not in earlier batches
  bool f32 = false;         // a float32 linear (4-byte weights, never streamed)
  uint64_t f32_bytes = 0;   // its weight bytes (4 per weight: costed as 4x an INT8 GEMV)
  // The attention that runs right before this linear (attn_output): the model adds its cost
  // there, so the pipeline sees when the consumer is busy with it.
  bool after_attention = false;
};

// One forward pass of the model and what its attention touches.
struct Workload {
  std::vector<LinearWork> linears;
  int64_t n_layers = 0;
  int64_t n_heads = 0;
  int64_t n_kv_heads = 0;
  int64_t head_dim = 0;
  int64_t dim = 0;
  int64_t vocab = 0;
};

// A run as `bench run` times it: one prompt (batches of up to 256 tokens), then generation.
struct RunShape {
  int64_t prompt_tokens = 128;
  int64_t gen_tokens = 64;
};

struct ModelOptions {
  unsigned decode_threads = 1;  // threads decoding one chunk (index into rans_decode_mbps)
  size_t ring_slots = 3;        // the DecodeBuffer's slots (items the prefetch may run ahead)
  // true: a ring item is one chunk and the GEMV starts on it (chunked runtime); false: one
  // linear's chunks fill one slot and its GEMV waits for all of them (the earlier ring).
  bool chunk_items = false;
  // true: the prefetch thread only reads (stream chunks); checksums and decoding run on the
  // forward pass's `threads` compute threads, each decoding its own chunks just before its GEMV
  // (resident-coded chunks need no ring item at all). false: the prefetch thread reads, checks
  // and decodes (the earlier ring).
  bool fused_decode = false;
};
// The options that describe the runtime this build has (WeightSource: chunk items, fused
// decode on the compute threads, 16 ring slots). One place to change when the runtime changes.
ModelOptions current_runtime_model_options();

// Per generated token, the stages' total time (seconds): what a token costs on each stage
// alone. With perfect overlap the token takes max(load + decode, compute + other); in series
// their sum.
struct StageTimes {
  double load = 0;     // storage reads of streamed chunks
  double decode = 0;   // decoding coded chunks (and copying streamed raw ones into the ring)
  double compute = 0;  // GEMV over every INT8 linear (and float32 ones), + per-call overhead
  double other = 0;    // attention (KV cache reads) of the pass
  bool decode_on_compute_threads = false;  // ModelOptions::fused_decode
  double producer() const { return load + (decode_on_compute_threads ? 0 : decode); }
  double consumer() const { return compute + other + (decode_on_compute_threads ? decode : 0); }
};

struct Prediction {
  double prompt_tokens_per_second = 0;
  double generation_tokens_per_second = 0;
  // The pipeline's simulated time per generated token (seconds), and the stage totals of the
  // mean generated token (without contention, i.e. what each stage costs alone).
  double token_seconds = 0;
  StageTimes stages;
  // INT8 bytes per generated token read from storage, and held in RAM by the placement.
  uint64_t streamed_bytes = 0;
  uint64_t resident_bytes = 0;
};

class ThroughputModel {
 public:
  ThroughputModel(MachineProfile profile, ModelOptions options = {});

  // Predicts a run of `shape` by simulating the two-stage pipeline (prefetch thread: load then
  // decode each ring item; forward pass: compute each linear, attention in between) over the
  // ring: the prefetch may run `ring_slots` items ahead, a linear waits for its item, the
  // stages share the CPU (contended rates while both decode/compute). Overlapped stages thus
  // cost their maximum, not their sum; a stage that waits costs nothing.
  Prediction predict(const Workload& w, const RunShape& shape = {}) const;
  // The stage totals of one generated token at KV position `pos`, uncontended.
  StageTimes token_stages(const Workload& w, int64_t pos) const;

  const MachineProfile& profile() const { return profile_; }
  const ModelOptions& options() const { return options_; }

 private:
  MachineProfile profile_;
  ModelOptions options_;
};

}  // namespace dcllm
