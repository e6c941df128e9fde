// PartialCompressionPlan: where each chunk of a .dcllm's INT8 tensors lives while the model runs
// (held decoded, held coded, streamed coded, streamed raw), as `dcllm plan` writes it (issue 9 §5).
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "dcllm/container.h"
#include "dcllm/status.h"

namespace dcllm {

// One chunk's place. "resident" chunks are held in RAM for the whole run, "stream" chunks are
// read from the file (O_DIRECT) on every use. "raw" chunks need no decode at use, "coded" ones
// are decoded into the ring just before use. resident-raw is decoded once at load, so it works
// whether the chunk is stored coded or raw; the three others use the stored bytes as they are,
// so stream-raw needs a chunk stored raw and resident-coded / stream-coded a chunk stored coded
// (`dcllm repack` rewrites chunks to match a plan).
enum class ChunkPlacement : uint8_t {
  kResidentRaw = 0,
  kResidentCoded = 1,
  kStreamCoded = 2,
  kStreamRaw = 3,
};
inline constexpr ChunkPlacement kAllPlacements[] = {
    ChunkPlacement::kResidentRaw, ChunkPlacement::kResidentCoded, ChunkPlacement::kStreamCoded,
    ChunkPlacement::kStreamRaw};

// "resident-raw", "resident-coded", "stream-coded", "stream-raw".
std::string_view placement_name(ChunkPlacement p);
Expected<ChunkPlacement> parse_placement(std::string_view name);
inline bool placement_is_resident(ChunkPlacement p) {
  return p == ChunkPlacement::kResidentRaw || p == ChunkPlacement::kResidentCoded;
}
inline bool placement_is_stream(ChunkPlacement p) {
  return !placement_is_resident(p);
}
// True when the chunk is decoded on every use (its stored bytes are coded).
inline bool placement_decodes_per_use(ChunkPlacement p) {
  return p == ChunkPlacement::kResidentCoded || p == ChunkPlacement::kStreamCoded;
}

// The codec name of a chunk stored uncoded; every other codec counts as "coded".
inline constexpr std::string_view kRawCodecName = "raw";
// True when `chunk` (as the container stores it) can be served at placement `p`.
bool placement_fits_storage(ChunkPlacement p, const ChunkInfo& chunk);
// The storage a chunk needs for `p`: "raw", "coded", or "either" (resident-raw).
std::string_view placement_storage_need(ChunkPlacement p);

struct PlannedChunk {
  std::string tensor;  // the container's tensor name
  uint64_t chunk = 0;  // index into that tensor's chunks
  ChunkPlacement placement = ChunkPlacement::kResidentRaw;
};

// Caps that bound what a plan reader allocates (checked before the arrays are built).
inline constexpr uint64_t kMaxPlanFileBytes = uint64_t{256} << 20;  // 256 MiB of JSON text
inline constexpr uint64_t kMaxPlanChunks = uint64_t{1} << 22;       // 4 Mi entries
inline constexpr uint64_t kMaxPlanChunkIndex = uint64_t{1} << 32;

struct PartialCompressionPlan {
  // What the throughput model predicts for this placement on the profile it was made for:
  // generation tokens/s (batch 1), and the INT8 weight bytes held in RAM (resident-raw: raw
  // bytes; resident-coded: stored bytes) and read from storage per token (stream chunks'
  // stored bytes). The figures are informative: the runtime follows `chunks` only.
  double predicted_tokens_per_second = 0.0;
  uint64_t resident_bytes = 0;
  uint64_t streamed_bytes = 0;
  // One entry per chunk of every INT8 (dtype i8) tensor of the file, in index order when
  // written by dcllm; a reader accepts any order.
  std::vector<PlannedChunk> chunks;

  // Optional, written when known, ignored by the runtime: the --mem-budget the plan was made
  // for (0 = none), the --target-tps (0 = none), and which candidate family won ("greedy",
  // "last-of-every-4", ...).
  uint64_t budget_bytes = 0;
  double target_tokens_per_second = 0.0;
  std::string strategy;
};

// JSON form (docs/runtime.md "Plans"):
//   {"predicted_tokens_per_second": f, "resident_bytes": n, "streamed_bytes": n,
//    "chunks": [{"tensor": s, "chunk": n, "placement": s}, ...],
//    optional "budget_bytes": n, "target_tokens_per_second": f, "strategy": s}
// Unknown top-level keys are ignored (later versions may add figures).
nlohmann::json plan_to_json(const PartialCompressionPlan& plan);
// From a parsed value (e.g. the plan stored in a .dcllm's metadata); `file` names the source
// in errors. Checks types, counts (kMaxPlanChunks), names (kMaxTensorNameBytes), chunk indices,
// placement names and that no (tensor, chunk) occurs twice.
Expected<PartialCompressionPlan> plan_from_json(const nlohmann::json& j, std::string_view file);
// From untrusted text: size cap, depth-limited parse (core/json_limits.h), then plan_from_json.
Expected<PartialCompressionPlan> parse_plan_text(std::string_view text, std::string_view file);
// Reads and parses a plan file (refused before reading when larger than kMaxPlanFileBytes).
Expected<PartialCompressionPlan> read_plan_file(const std::string& path);
// Writes plan_to_json, pretty-printed, atomically (no partial file on failure).
Status write_plan_file(const PartialCompressionPlan& plan, const std::string& path);

// Refuses (kInvalidArgument, one line naming `file`, the tensor and the chunk) a plan that does
// not match the container index `tensors`: an INT8 tensor or chunk without an entry, an entry
// for a tensor that is not in the file or is not INT8, a chunk index past the tensor's chunks,
// or a placement the chunk's storage cannot serve (placement_fits_storage).
Status check_plan_matches(const PartialCompressionPlan& plan,
                          const std::vector<TensorEntry>& tensors, std::string_view file);

// The plan as a table over the container index: result[t][k] is the placement of chunk k of
// tensors[t]; empty for tensors that are not INT8. Refuses what check_plan_matches refuses;
// with check_storage = false a placement the chunk's storage cannot serve is accepted (the
// planner predicts plans that a repack would make servable).
Expected<std::vector<std::vector<ChunkPlacement>>> plan_placements(
    const PartialCompressionPlan& plan, const std::vector<TensorEntry>& tensors,
    std::string_view file, bool check_storage = true);

// Recomputes resident_bytes and streamed_bytes from the placements and the index (stored and
// raw chunk sizes). The plan must match the index.
Status recompute_plan_bytes(PartialCompressionPlan& plan, const std::vector<TensorEntry>& tensors,
                            std::string_view file);

// A plan with every INT8 chunk at placement `p` (resident-raw: today's resident tier,
// resident-coded: compressed, stream-coded: stream), except that a chunk whose storage cannot
// serve `p` gets the same place with the storage it has (a raw chunk under resident-coded is
// resident-raw, under stream-coded stream-raw; a coded chunk under stream-raw stream-coded).
// The figures are left 0.
PartialCompressionPlan uniform_plan(const std::vector<TensorEntry>& tensors, ChunkPlacement p);

}  // namespace dcllm
