// ThroughputModel arithmetic: all-resident is compute bound, all-stream-raw storage bound,
// overlapped stages cost their maximum (not their sum) when the ring has room, contention and a
// one-slot ring show up as they should; MachineProfile JSON round trip and refusals.
#include "runtime/throughput_model.h"

#include <gtest/gtest.h>

#include "container/container_test_files.h"

namespace dcllm {
namespace {

// Round figures: 1000 MB/s GEMV = 1 ms per MB of weights, etc. Memory fast enough that
// checksums and attention are negligible unless a test says otherwise.
MachineProfile profile() {
  MachineProfile p;
  p.threads = 2;
  p.cores = 4;
  p.storage_read_mbps = 100;
  p.memory_read_mbps = {1e6, 1e6};
  p.memory_copy_mbps = 1e6;
  p.rans_decode_mbps = {1000, 1900};
  p.gemv_mbps = 1000;
  p.gemm_prompt_mbps = 16000;
  p.prompt_batch = 64;
  p.source = "test";
  return p;
}

// `layers` linears of 1 MB each, one chunk each, at `placement`, stored at `ratio`.
Workload workload(size_t linears, ChunkPlacement placement, double ratio = 2.0) {
  Workload w;
  w.n_layers = 1;
  w.n_heads = 1;
  w.head_dim = 2;
  w.vocab = 4;
  for (size_t i = 0; i < linears; ++i) {
    LinearWork l;
    l.name = "l";  // not "l" + to_string(i): GCC 12 warns falsely on it (-Wrestrict, PR 105329)
    l.name += std::to_string(i);
    ChunkWork c;
    c.raw_bytes = 1000000;
    c.placement = placement;
    c.stored_bytes = placement == ChunkPlacement::kStreamRaw
                         ? c.raw_bytes
                         : static_cast<uint64_t>(static_cast<double>(c.raw_bytes) / ratio);
    l.chunks.push_back(c);
    w.linears.push_back(l);
  }
  return w;
}

TEST(ThroughputModel, AllResidentIsComputeBound) {
  const ThroughputModel m(profile());
  const Prediction p = m.predict(workload(10, ChunkPlacement::kResidentRaw));
  EXPECT_NEAR(p.token_seconds, 0.010, 1e-4);  // 10 MB at 1000 MB/s
  EXPECT_NEAR(p.generation_tokens_per_second, 64.0 / (63 * 0.010), 0.5);
  EXPECT_EQ(p.stages.load, 0);
  EXPECT_EQ(p.stages.decode, 0);
  EXPECT_EQ(p.resident_bytes, 10000000u);
  EXPECT_EQ(p.streamed_bytes, 0u);
}

// A GEMV rate measured above the memory read rate (a matrix the caches partly hold) cannot
// hold for weights read from RAM at every pass: resident-raw weights cost at least their read.
// Decoded chunks are multiplied from a cache-sized buffer, at the GEMV rate.
TEST(ThroughputModel, WeightsReadFromRamCostAtLeastTheirMemoryRead) {
  MachineProfile slow_ram = profile();
  slow_ram.memory_read_mbps = {500, 500};  // below the 1000 MB/s GEMV rate
  const ThroughputModel m(slow_ram);
  const Prediction resident = m.predict(workload(10, ChunkPlacement::kResidentRaw));
  EXPECT_NEAR(resident.token_seconds, 0.020, 2e-4);  // 10 MB at 500 MB/s, not 1000
  EXPECT_NEAR(resident.stages.compute, 0.020, 2e-4);
  // Resident-coded: 5 MB of stored bytes read (500 MB/s) and decoded (1900 MB/s on 2 threads),
  // then a GEMV at 1000 MB/s from the decode buffer.
  const StageTimes coded = m.token_stages(workload(10, ChunkPlacement::kResidentCoded), 0);
  EXPECT_NEAR(coded.compute, 0.010, 1e-4);
  // With RAM faster than the GEMV, nothing changes.
  const Prediction fast =
      ThroughputModel(profile()).predict(workload(10, ChunkPlacement::kResidentRaw));
  EXPECT_NEAR(fast.token_seconds, 0.010, 1e-4);
}

TEST(ThroughputModel, AllStreamRawIsStorageBound) {
  const ThroughputModel m(profile());
  const Prediction p = m.predict(workload(10, ChunkPlacement::kStreamRaw));
  // 10 MB at 100 MB/s = 100 ms per token against 10 ms of compute.
  EXPECT_NEAR(p.token_seconds, 0.100, 0.002);
  EXPECT_NEAR(p.stages.load, 0.100, 1e-4);
  EXPECT_EQ(p.streamed_bytes, 10000000u);
  EXPECT_EQ(p.resident_bytes, 0u);
}

TEST(ThroughputModel, StreamingCodedGainsTheCompressionRatioWhenStorageBound) {
  const ThroughputModel m(profile());
  const Prediction raw = m.predict(workload(10, ChunkPlacement::kStreamRaw));
  const Prediction coded = m.predict(workload(10, ChunkPlacement::kStreamCoded, 2.0));
  // Coded: 50 ms of reads + 10 ms decode (one thread does both) vs 100 ms of reads.
  EXPECT_NEAR(coded.token_seconds, 0.060, 0.002);
  EXPECT_GT(coded.generation_tokens_per_second, 1.6 * raw.generation_tokens_per_second);
}

TEST(ThroughputModel, OverlapCostsTheMaximumNotTheSum) {
  MachineProfile pr = profile();
  pr.rans_decode_mbps = {500, 900};  // decode 2 ms per MB, compute 1 ms per MB
  const ThroughputModel m(pr);
  const Prediction p = m.predict(workload(20, ChunkPlacement::kResidentCoded));
  const double decode = p.stages.decode, compute = p.stages.compute;
  EXPECT_NEAR(decode, 0.040, 1e-3);
  EXPECT_NEAR(compute, 0.020, 1e-4);
  EXPECT_LE(p.token_seconds, 1.05 * std::max(decode, compute));
  EXPECT_LT(p.token_seconds, 0.8 * (decode + compute));
}

TEST(ThroughputModel, OneSlotRingSerializesDecodeAndCompute) {
  ModelOptions o;
  o.ring_slots = 1;
  const ThroughputModel one(profile(), o);
  const ThroughputModel three(profile());
  const Workload w = workload(20, ChunkPlacement::kResidentCoded);
  const Prediction p1 = one.predict(w), p3 = three.predict(w);
  // Decode 1 ms + compute 1 ms per linear: one slot runs them in turn, three overlap them.
  EXPECT_NEAR(p1.token_seconds, 0.040, 0.002);
  EXPECT_NEAR(p3.token_seconds, 0.020, 0.002);
}

TEST(ThroughputModel, ContentionSlowsOverlappedStages) {
  MachineProfile pr = profile();
  const Workload w = workload(20, ChunkPlacement::kResidentCoded);
  const double free_time = ThroughputModel(pr).predict(w).token_seconds;
  pr.gemv_mbps_while_decoding = 500;
  pr.rans_decode_mbps_while_gemv = 500;
  const double shared = ThroughputModel(pr).predict(w).token_seconds;
  EXPECT_GT(shared, 1.5 * free_time);
  // Never worse than running them one after the other at the contended rates.
  EXPECT_LE(shared, 0.080 + 1e-3);
}

TEST(ThroughputModel, ResidentChunksHideDecodeOfTheOthers) {
  // Every other linear coded: the decode of a coded linear overlaps the compute of the resident
  // one before it, so the token costs compute only when decode per coded linear <= 2 linears'
  // compute.
  MachineProfile pr = profile();
  pr.rans_decode_mbps = {600, 1100};  // 1.67 ms per coded MB
  Workload w = workload(20, ChunkPlacement::kResidentRaw);
  for (size_t i = 1; i < w.linears.size(); i += 2)
    w.linears[i].chunks[0].placement = ChunkPlacement::kResidentCoded;
  const Prediction p = ThroughputModel(pr).predict(w);
  EXPECT_NEAR(p.stages.decode, 10 * 1.0 / 600, 1e-3);
  EXPECT_LE(p.token_seconds, 0.0215);
}

TEST(ThroughputModel, PromptBatchUsesTheGemmRate) {
  const ThroughputModel m(profile());
  Workload w = workload(10, ChunkPlacement::kResidentRaw);
  RunShape s;
  s.prompt_tokens = 64;
  const Prediction p = m.predict(w, s);
  // 64 tokens over 10 MB at 16000 MB/s (weight bytes x tokens): 40 ms.
  EXPECT_NEAR(p.prompt_tokens_per_second, 64 / 0.040, 20);
  EXPECT_GT(p.prompt_tokens_per_second, 10 * p.generation_tokens_per_second);
}

TEST(ThroughputModel, ClassifierRunsOnceInTheLastPromptBatch) {
  const ThroughputModel m(profile());
  Workload w = workload(2, ChunkPlacement::kResidentRaw);
  w.linears[1].classifier = true;
  RunShape s;
  s.prompt_tokens = 64;
  const Prediction with = m.predict(w, s);
  w.linears[1].classifier = false;
  const Prediction without = m.predict(w, s);
  EXPECT_GT(with.prompt_tokens_per_second, 1.5 * without.prompt_tokens_per_second);
  EXPECT_NEAR(with.token_seconds, without.token_seconds, 1e-6);  // one row either way
}

TEST(ThroughputModel, AttentionGrowsWithPosition) {
  MachineProfile pr = profile();
  pr.memory_read_mbps = {1000, 1000};
  Workload w = workload(2, ChunkPlacement::kResidentRaw);
  w.n_heads = 8;
  w.head_dim = 64;
  w.n_layers = 1;
  w.linears[1].after_attention = true;
  const ThroughputModel m(pr);
  EXPECT_GT(m.token_stages(w, 1000).other, 10 * m.token_stages(w, 10).other);
}

// The chunked runtime: the prefetch thread only reads, the compute threads decode. Held coded
// chunks then cost decode on the compute path (no overlap), streamed coded ones overlap the
// reads with decode + compute.
TEST(ThroughputModel, FusedDecodeRunsOnTheComputeThreads) {
  ModelOptions o;
  o.fused_decode = true;
  o.chunk_items = true;
  MachineProfile pr = profile();
  pr.rans_decode_mbps = {500, 1000};  // 2 threads: 1 ms per MB
  const ThroughputModel m(pr, o);
  const Prediction held = m.predict(workload(20, ChunkPlacement::kResidentCoded));
  EXPECT_TRUE(held.stages.decode_on_compute_threads);
  EXPECT_NEAR(held.token_seconds, 0.040, 0.002);  // 20 x (1 ms decode + 1 ms GEMV)
  EXPECT_EQ(held.stages.load, 0);
  // Streamed: 20 x 5 ms of reads (1 MB coded to 0.5 MB at 100 MB/s) against 2 ms per chunk
  // on the compute threads: storage bound, the decode hidden behind the reads.
  const Prediction streamed = m.predict(workload(20, ChunkPlacement::kStreamCoded));
  EXPECT_NEAR(streamed.token_seconds, 0.100, 0.003);
  EXPECT_NEAR(streamed.stages.consumer(), 0.040, 0.002);
  EXPECT_NEAR(streamed.stages.producer(), 0.100, 1e-3);
}

TEST(MachineProfile, JsonRoundTrip) {
  MachineProfile p = profile();
  p.storage_method = "o_direct";
  p.linear_overhead_us = 7.5;
  p.gemv_mbps_while_decoding = 800;
  auto back = machine_profile_from_json(machine_profile_to_json(p), "p.json");
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->storage_method, "o_direct");
  EXPECT_EQ(back->rans_decode_mbps, p.rans_decode_mbps);
  EXPECT_EQ(back->gemv_mbps_while_decoding, 800);
  EXPECT_EQ(back->linear_overhead_us, 7.5);
  EXPECT_EQ(back->rans_decode(5), 1900);  // clamped to the measured range
  EXPECT_EQ(back->decode_contended(), 1000);

  testing::ScratchDir dir;
  ASSERT_TRUE(write_machine_profile(p, dir.file("m.json")).ok());
  auto file = read_machine_profile(dir.file("m.json"));
  ASSERT_TRUE(file.ok()) << file.status().message();
  EXPECT_EQ(file->gemv_mbps, 1000);
}

TEST(MachineProfile, RefusesBadFigures) {
  const nlohmann::json good = machine_profile_to_json(profile());
  for (const char* key : {"storage_read_mbps", "gemv_mbps", "rans_decode_mbps"}) {
    nlohmann::json j = good;
    j.erase(key);
    EXPECT_FALSE(machine_profile_from_json(j, "p.json").ok()) << key;
  }
  nlohmann::json j = good;
  j["gemv_mbps"] = 0;
  EXPECT_FALSE(machine_profile_from_json(j, "p.json").ok());
  j = good;
  j["rans_decode_mbps"] = nlohmann::json::array();
  EXPECT_FALSE(machine_profile_from_json(j, "p.json").ok());
  j = good;
  j["rans_decode_mbps"] = {1, -2};
  EXPECT_FALSE(machine_profile_from_json(j, "p.json").ok());
  j = good;
  j["threads"] = 0;
  EXPECT_FALSE(machine_profile_from_json(j, "p.json").ok());
  EXPECT_FALSE(machine_profile_from_json(nlohmann::json::array(), "p.json").ok());
}

}  // namespace
}  // namespace dcllm
