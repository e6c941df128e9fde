// The per-thread pieces of the GPU rANS decoder (docs/gpu.md): one warp decodes one segment of a
// format-v2 stream, each thread owns lanes t and t + 32. Plain C++ outside nvcc, so the CPU test
// (tests/codec/rans_lane_step_test.cpp) runs exactly the code the kernels run.
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#define DCLLM_HD __host__ __device__ __forceinline__
#else
#define DCLLM_HD inline
#endif

namespace dcllm::rans_gpu {

// Format constants (docs/rans-format.md, version 2); the CPU test checks them against the codec.
inline constexpr int kLanes = 64;
inline constexpr int kWarp = 32;  // threads per segment: two lanes each
inline constexpr uint32_t kStateLow = 1u << 16;

// A warp keeps the segment's next 16-bit words in a ring in shared memory, refilled a block
// ahead, so the word a lane needs is a shared-memory read and never waits on global memory.
// A refill is 4 u32 per thread (128 u32 = 256 words, coalesced), stored one refill after it was
// loaded: by then ~256 words were decoded, enough time for the load to arrive.
inline constexpr uint32_t kRingWords = 1024;
inline constexpr uint32_t kRingU32 = kRingWords / 2;
inline constexpr uint32_t kRefillPerThread = 4;
inline constexpr uint32_t kRefillU32 = kRefillPerThread * kWarp;
inline constexpr uint32_t kInitialRefills = 3;  // loaded at the start of a segment

// Escape bytes are rare; a thread holds 4 of them in a register, so the warp holds a window of
// 128 escape bytes and a lane takes its byte by a shuffle from the thread holding it.
inline constexpr uint32_t kEscWindow = 4 * kWarp;

DCLLM_HD int popcount32(uint32_t v) {
#if defined(__CUDA_ARCH__)
  return __popc(v);
#else
  return __builtin_popcount(v);
#endif
}

// Threads below t in the warp (t in 0..31).
DCLLM_HD uint32_t lanes_below(int t) {
  return (1u << t) - 1u;
}

// Where the two lanes of thread t take their items (words or escape bytes) within one step,
// counted from the step's first item: lanes consume in lane order, so lane t comes after the
// first lanes of threads below t, and lane t + 32 after all first lanes and the second lanes of
// threads below t. `first`/`second` are the warp's ballots of "takes an item".
struct PairOffsets {
  uint32_t first;
  uint32_t second;
  uint32_t total;
};
DCLLM_HD PairOffsets pair_offsets(uint32_t first, uint32_t second, int t) {
  const uint32_t below = lanes_below(t);
  const uint32_t n_first = static_cast<uint32_t>(popcount32(first));
  return {static_cast<uint32_t>(popcount32(first & below)),
          n_first + static_cast<uint32_t>(popcount32(second & below)),
          n_first + static_cast<uint32_t>(popcount32(second))};
}

// One decode-table entry per slot, as the CPU decoder builds it: the symbol in bits 0..7,
// slot - cum[symbol] in bits 8..19, the frequency in bits 20..31.
DCLLM_HD uint32_t table_entry(uint32_t symbol, uint32_t offset, uint32_t freq) {
  return symbol | offset << 8 | freq << 20;
}

// The state after decoding the symbol of `entry` from state x (before renormalisation).
DCLLM_HD uint32_t lane_advance(uint32_t x, uint32_t entry, int precision) {
  return (entry >> 20) * (x >> precision) + (entry >> 8 & 0xfffu);
}

// The two lanes of one thread during a step. Lanes past the segment's end are inactive: they
// decode nothing, take no word and keep their state.
struct ThreadLanes {
  uint32_t x[2];
  uint8_t sym[2];
  bool active[2];
  bool need[2];  // takes a renormalisation word this step
  bool esc[2];   // decoded the escape symbol: takes an escape byte this step
};

DCLLM_HD void load_states(ThreadLanes& l, const uint32_t* states, int t) {
  l.x[0] = states[t];
  l.x[1] = states[t + kWarp];
}

// Which lanes of thread t decode in the step whose first symbol is `step_first` of a segment of
// `len` symbols.
DCLLM_HD void set_active(ThreadLanes& l, uint32_t step_first, uint32_t len, int t) {
  l.active[0] = step_first + static_cast<uint32_t>(t) < len;
  l.active[1] = step_first + static_cast<uint32_t>(t + kWarp) < len;
}

// Phase 1 of a step: table lookup and state update for the active lanes.
DCLLM_HD void step_decode(ThreadLanes& l, const uint32_t* table, int precision) {
  const uint32_t mask = (1u << precision) - 1u;
  for (int k = 0; k < 2; ++k) {
    l.need[k] = false;
    if (!l.active[k]) continue;
    const uint32_t e = table[l.x[k] & mask];
    l.x[k] = lane_advance(l.x[k], e, precision);
    l.need[k] = l.x[k] < kStateLow;
    l.sym[k] = static_cast<uint8_t>(e);
  }
}

// Phase 2: after the warp's ballots of need[0] and need[1], each needing lane takes its word
// from the ring; `read` is the index (in the segment) of the step's first word.
DCLLM_HD void step_renormalize(ThreadLanes& l, const PairOffsets& o, uint32_t read,
                               const uint16_t* ring) {
  if (l.need[0]) l.x[0] = l.x[0] << 16 | ring[(read + o.first) & (kRingWords - 1)];
  if (l.need[1]) l.x[1] = l.x[1] << 16 | ring[(read + o.second) & (kRingWords - 1)];
}

// Phase 3: which lanes decoded the escape symbol (they take an escape byte).
DCLLM_HD void step_escape_flags(ThreadLanes& l, uint8_t esc_symbol) {
  for (int k = 0; k < 2; ++k) l.esc[k] = l.active[k] && l.sym[k] == esc_symbol;
}

// The escape byte at position `pos` of the window: thread pos / 4 holds it, in byte pos % 4 of
// its register.
DCLLM_HD int escape_source_thread(uint32_t pos) {
  return static_cast<int>(pos >> 2);
}
DCLLM_HD uint8_t escape_byte(uint32_t reg, uint32_t pos) {
  return static_cast<uint8_t>(reg >> (8 * (pos & 3)));
}

// The escape window must hold [e, e + n) before the step's escape bytes are taken; when it does
// not, it is reloaded starting at e (n <= 64 < kEscWindow, so one reload always suffices).
DCLLM_HD bool escape_window_stale(uint32_t window_start, uint32_t e, uint32_t n) {
  return e + n > window_start + kEscWindow;
}

// u32 index (from the segment's first word) that thread t loads as item i of the refill
// starting at u32 index `fill`: consecutive threads read consecutive words (coalesced).
DCLLM_HD uint32_t refill_index(uint32_t fill, int t, uint32_t i) {
  return fill + static_cast<uint32_t>(t) + kWarp * i;
}

// A refill is due when there are words left to load and the ring has room for another block:
// it holds the filled words [read, 2 * fill), and a block adds 2 * kRefillU32 of them. Strictly
// less, so the first step after the initial fill does not wait for the block just requested;
// when no refill is due the ring still holds >= 768 words, far more than a step's 64.
DCLLM_HD bool refill_due(uint32_t fill, uint32_t read, uint32_t n_u32) {
  return fill < n_u32 && 2 * fill - read < kRingWords - 2 * kRefillU32;
}

// The segment's words as u32 pairs (payloads are 4-byte aligned, so an odd last word shares its
// u32 with escape or padding bytes of the same payload, never beyond it).
DCLLM_HD uint32_t word_u32_count(uint32_t word_count) {
  return (word_count + 1) / 2;
}

// A segment is valid only if it ends where the encoder started (docs/rans-format.md).
DCLLM_HD bool lanes_at_initial_state(const ThreadLanes& l) {
  return l.x[0] == kStateLow && l.x[1] == kStateLow;
}

}  // namespace dcllm::rans_gpu
