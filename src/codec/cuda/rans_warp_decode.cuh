// Device code both decode kernels share: one warp decodes one segment (rANS, constant or stored)
// step by step, 64 symbols a step, and hands each step's symbols to a sink (a store to global
// memory, or the fused GEMV's multiply-add). The per-lane logic is rans_lane_step.h.
#pragma once

#include <cstdint>

#include "codec/cuda/gpu_kernels.h"
#include "codec/cuda/rans_lane_step.h"

namespace dcllm::gpu {

using rans_gpu::kLanes;
using rans_gpu::kWarp;
using rans_gpu::ThreadLanes;

inline constexpr unsigned kFullMask = 0xffffffffu;

// Loads the decode table of `st` into shared memory (all threads of the block take part).
__device__ __forceinline__ void load_table(const KernelPlan& p, const StreamDesc& st,
                                           uint32_t* table) {
  if (st.kind != kSegRans) return;
  const uint32_t n = 1u << st.precision;
  const uint32_t* src = p.tables + st.table_offset;
  for (uint32_t i = threadIdx.x; i < n; i += blockDim.x) table[i] = src[i];
}

// Decodes a rANS segment; `ring` is this warp's kRingU32 words of shared memory. Returns the
// segment's verdict (the same on every thread of the warp).
template <bool kEscapes, class Sink>
__device__ bool decode_rans_segment(const SegmentDesc& s, const StreamDesc& st,
                                    const uint8_t* coded, const uint32_t* table, uint32_t* ring,
                                    Sink& sink) {
  using namespace rans_gpu;
  const int t = static_cast<int>(threadIdx.x & 31);
  const uint8_t* payload = coded + s.payload;
  const uint32_t* states = reinterpret_cast<const uint32_t*>(payload);  // 4-byte aligned
  const uint32_t* words = states + kLanes;
  const uint32_t n_u32 = word_u32_count(s.word_count);
  const uint8_t* esc = payload + 4 * kLanes + 2 * size_t{s.word_count};

  ThreadLanes l;
  load_states(l, states, t);
  // Initial fill: kInitialRefills blocks at once (all loads in flight together), then the
  // next block into registers.
  constexpr uint32_t kFirst = kInitialRefills * kRefillPerThread;
  uint32_t v[kFirst];
#pragma unroll
  for (uint32_t i = 0; i < kFirst; ++i) {
    const uint32_t idx = refill_index(0, t, i);
    v[i] = idx < n_u32 ? __ldg(words + idx) : 0u;
  }
#pragma unroll
  for (uint32_t i = 0; i < kFirst; ++i) ring[refill_index(0, t, i) & (kRingU32 - 1)] = v[i];
  uint32_t fill = kInitialRefills * kRefillU32;
  uint32_t pend[kRefillPerThread];
#pragma unroll
  for (uint32_t i = 0; i < kRefillPerThread; ++i) {
    const uint32_t idx = refill_index(fill, t, i);
    pend[i] = idx < n_u32 ? __ldg(words + idx) : 0u;
  }
  __syncwarp();

  uint32_t esc_reg = 0, window = 0;
  if constexpr (kEscapes) {
    for (uint32_t b = 0; b < 4; ++b) {
      const uint32_t pos = 4 * static_cast<uint32_t>(t) + b;
      if (pos < s.esc_count) esc_reg |= uint32_t{esc[pos]} << (8 * b);
    }
  }

  const uint16_t* ring16 = reinterpret_cast<const uint16_t*>(ring);
  uint32_t w = 0, e = 0;
  bool ok = true;
  for (uint32_t first = 0; first < s.len; first += kLanes) {
    if (refill_due(fill, w, n_u32)) {
#pragma unroll
      for (uint32_t i = 0; i < kRefillPerThread; ++i)
        ring[refill_index(fill, t, i) & (kRingU32 - 1)] = pend[i];
      fill += kRefillU32;
#pragma unroll
      for (uint32_t i = 0; i < kRefillPerThread; ++i) {
        const uint32_t idx = refill_index(fill, t, i);
        pend[i] = idx < n_u32 ? __ldg(words + idx) : 0u;
      }
      __syncwarp();
    }
    set_active(l, first, s.len, t);
    step_decode(l, table, st.precision);
    const PairOffsets o =
        pair_offsets(__ballot_sync(kFullMask, l.need[0]), __ballot_sync(kFullMask, l.need[1]), t);
    if (w + o.total > s.word_count) {  // words ran out: corrupt (o.total is warp-uniform)
      ok = false;
      break;
    }
    step_renormalize(l, o, w, ring16);
    w += o.total;
    if constexpr (kEscapes) {
      step_escape_flags(l, st.esc_symbol);
      const uint32_t c0 = __ballot_sync(kFullMask, l.esc[0]);
      const uint32_t c1 = __ballot_sync(kFullMask, l.esc[1]);
      if (c0 | c1) {
        const PairOffsets q = pair_offsets(c0, c1, t);
        if (e + q.total > s.esc_count) {
          ok = false;
          break;
        }
        if (escape_window_stale(window, e, q.total)) {
          window = e;
          esc_reg = 0;
          for (uint32_t b = 0; b < 4; ++b) {
            const uint32_t pos = window + 4 * static_cast<uint32_t>(t) + b;
            if (pos < s.esc_count) esc_reg |= uint32_t{esc[pos]} << (8 * b);
          }
        }
        const uint32_t p0 = e + q.first - window, p1 = e + q.second - window;
        const uint32_t r0 = __shfl_sync(kFullMask, esc_reg, escape_source_thread(p0) & 31);
        const uint32_t r1 = __shfl_sync(kFullMask, esc_reg, escape_source_thread(p1) & 31);
        if (l.esc[0]) l.sym[0] = escape_byte(r0, p0);
        if (l.esc[1]) l.sym[1] = escape_byte(r1, p1);
        e += q.total;
      }
    }
    sink.step(first, l, t);
  }
  const bool end_ok = ok && w == s.word_count && e == s.esc_count && lanes_at_initial_state(l);
  return __all_sync(kFullMask, end_ok);
}

// Constant and stored pieces: the same steps, the bytes from the payload.
template <class Sink>
__device__ void decode_plain_segment(const SegmentDesc& s, const StreamDesc& st,
                                     const uint8_t* coded, Sink& sink) {
  const int t = static_cast<int>(threadIdx.x & 31);
  const uint8_t* src = coded + s.payload;
  const bool constant = st.kind == kSegConstant;
  ThreadLanes l;
  for (uint32_t first = 0; first < s.len; first += kLanes) {
    rans_gpu::set_active(l, first, s.len, t);
    for (int k = 0; k < 2; ++k)
      if (l.active[k]) l.sym[k] = constant ? src[0] : src[first + t + kWarp * k];
    sink.step(first, l, t);
  }
}

// Runs the warp's segment of this block's task through `sink`; returns its verdict.
template <class Sink>
__device__ bool decode_segment(const SegmentDesc& s, const StreamDesc& st, const uint8_t* coded,
                               const uint32_t* table, uint32_t* ring, Sink& sink) {
  if (st.kind == kSegRans)
    return st.escapes ? decode_rans_segment<true>(s, st, coded, table, ring, sink)
                      : decode_rans_segment<false>(s, st, coded, table, ring, sink);
  decode_plain_segment(s, st, coded, sink);
  return true;
}

}  // namespace dcllm::gpu
