// The planner on the stories260K fixture: a budget below the floor is refused naming the
// minimum; plans cover every INT8 chunk, respect the budget or reach the target, stream a
// lookup-only embedding, grow faster with a larger budget, and choose coded streaming when
// storage is the bottleneck and raw streaming when decoding is; the workload's execution order.
#include "runtime/partial_compression_planner.h"

#include <gtest/gtest.h>

#include "../container/container_test_files.h"
#include "rtn_int8_container.h"
#include "runtime/model_workload.h"

namespace dcllm {
namespace {

MachineProfile profile(double storage_mbps, double decode_mbps) {
  MachineProfile p;
  p.threads = 2;
  p.cores = 4;
  p.storage_read_mbps = storage_mbps;
  p.memory_read_mbps = {10000, 15000};
  p.memory_copy_mbps = 5000;
  p.rans_decode_mbps = {decode_mbps, 1.8 * decode_mbps};
  p.gemv_mbps = 10000;
  p.gemm_prompt_mbps = 40000;
  p.linear_overhead_us = 2;
  return p;
}

// stories260K's INT8 weights (~0.3 MB) are smaller than the default 16-slot ring, which would
// make holding everything the smallest plan: a 2-slot ring keeps the trade-offs of a real model.
PlannerOptions options() {
  PlannerOptions o;
  o.model.ring_slots = 2;
  return o;
}

class Planner : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::ScratchDir();
    path_ = dir_->file("stories260K.dcllm");
    auto m = testing::stories260k_with_rtn_container(path_);
    ASSERT_TRUE(m.ok()) << m.status().message();
    raw_path_ = dir_->file("stories260K-raw.dcllm");
    ASSERT_TRUE(testing::write_rtn_int8_container(*m, raw_path_, 16384, "raw").ok());
    // Untied: its own output.weight is the classifier, so token_embd is only looked up.
    untied_path_ = dir_->file("stories260K-untied.dcllm");
    ASSERT_NE(m->find("token_embd.weight"), nullptr);
    testing::untie_classifier(*m);
    ASSERT_TRUE(testing::write_rtn_int8_container(*m, untied_path_, 4096).ok());
  }
  static void TearDownTestSuite() { delete dir_; }

  static ModelContainer open(const std::string& path) {
    auto c = ModelContainer::open(path);
    EXPECT_TRUE(c.ok()) << c.status().message();
    return std::move(c).value();
  }
  static Expected<PlannerResult> plan(const ModelContainer& c, const MachineProfile& p,
                                      PlannerOptions o) {
    DCLLM_ASSIGN_OR_RETURN(PlannerInput in, planner_input(c, o));
    return make_plan(c, in, p, o);
  }
  static uint64_t minimum(const ModelContainer& c) {
    PlannerOptions o = options();
    o.budget_bytes = 1;
    auto r = planner_input(c, o);
    EXPECT_FALSE(r.ok());
    // "... below the minimum of X (N bytes) ...": the exact count is in brackets.
    const std::string& m = r.status().message();
    const size_t at = m.find("minimum of ");
    EXPECT_NE(at, std::string::npos) << m;
    const size_t open = m.find('(', at);
    return std::stoull(m.substr(open + 1));
  }

  static testing::ScratchDir* dir_;
  static std::string path_, raw_path_, untied_path_;
};
testing::ScratchDir* Planner::dir_ = nullptr;
std::string Planner::path_, Planner::raw_path_, Planner::untied_path_;

TEST_F(Planner, ALookupOnlyEmbeddingIsStreamedAndCostsOnlyItsLookupBuffers) {
  const ModelContainer c = open(untied_path_);
  const TensorEntry& e = c.tensors()[static_cast<size_t>(c.find("token_embd.weight"))];
  ASSERT_GT(e.chunks.size(), 2u);
  ASSERT_TRUE(tensor_lookup_only(c, "token_embd.weight"));
  // The floor holds the lookup's two chunk buffers, not the table.
  auto in = planner_input(c, options());
  ASSERT_TRUE(in.ok()) << in.status().message();
  uint64_t largest = 0;
  for (const ChunkInfo& ch : e.chunks) largest = std::max(largest, ch.raw_size);
  EXPECT_GE(in->floor.embedding, largest);
  EXPECT_LT(in->floor.embedding, e.raw_bytes);
  const uint64_t floor = minimum(c);
  for (uint64_t extra : {uint64_t{0}, uint64_t{4} << 20}) {
    PlannerOptions o = options();
    o.budget_bytes = floor + extra;
    auto r = plan(c, profile(500, 1000), o);
    ASSERT_TRUE(r.ok()) << r.status().message();
    EXPECT_LE(r->memory_bytes, o.budget_bytes);
    size_t embd = 0;
    for (const PlannedChunk& ch : r->plan.chunks)
      if (ch.tensor == "token_embd.weight") {
        ++embd;
        EXPECT_EQ(ch.placement, ChunkPlacement::kStreamCoded) << extra;
      }
    EXPECT_EQ(embd, e.chunks.size());
  }
}

TEST_F(Planner, RefusesABudgetBelowTheFloorNamingTheMinimum) {
  const ModelContainer c = open(path_);
  PlannerOptions o = options();
  o.budget_bytes = 1000;
  auto in = planner_input(c, o);
  ASSERT_FALSE(in.ok());
  const std::string& m = in.status().message();
  EXPECT_NE(m.find(path_), std::string::npos) << m;
  EXPECT_NE(m.find("below the minimum"), std::string::npos) << m;
  EXPECT_NE(m.find("KV cache"), std::string::npos) << m;
  // Just at the minimum is accepted, and the plan then fits it.
  o.budget_bytes = minimum(c);
  auto r = plan(c, profile(500, 1000), o);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_LE(r->memory_bytes, o.budget_bytes);
}

TEST_F(Planner, PlanCoversEveryInt8ChunkAndFitsTheBudget) {
  const ModelContainer c = open(path_);
  PlannerOptions o = options();
  o.budget_bytes = minimum(c) + 40000;
  auto r = plan(c, profile(500, 1000), o);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_LE(r->memory_bytes, o.budget_bytes);
  // Matches the file's tensors and chunks (storage aside: a repack may be needed).
  EXPECT_TRUE(plan_placements(r->plan, c.tensors(), path_, /*check_storage=*/false).ok());
  size_t int8_chunks = 0;
  for (const TensorEntry& t : c.tensors())
    if (t.spec.dtype == DType::kI8) int8_chunks += t.chunks.size();
  EXPECT_EQ(r->plan.chunks.size(), int8_chunks);  // token_embd's too: it follows the plan
  EXPECT_GT(r->plan.predicted_tokens_per_second, 0);
  EXPECT_EQ(r->plan.budget_bytes, o.budget_bytes);
  EXPECT_FALSE(r->plan.strategy.empty());
  EXPECT_FALSE(r->candidates.empty());
}

TEST_F(Planner, MoreBudgetIsNeverSlower) {
  const ModelContainer c = open(path_);
  const uint64_t floor = minimum(c);
  double last = 0;
  for (uint64_t extra : {0, 20000, 60000, 120000, 400000, 4000000}) {
    PlannerOptions o = options();
    o.budget_bytes = floor + extra;
    auto r = plan(c, profile(200, 400), o);
    ASSERT_TRUE(r.ok()) << r.status().message();
    EXPECT_GE(r->plan.predicted_tokens_per_second, last * 0.99) << extra;
    last = r->plan.predicted_tokens_per_second;
  }
  // With room for everything it is the all-resident speed.
  PlannerOptions o = options();
  o.target_tps = 1;
  auto in = planner_input(c, o);
  ASSERT_TRUE(in.ok());
  const auto fast = predict_plan(c, *in, uniform_plan(c.tensors(), ChunkPlacement::kResidentRaw),
                                 profile(200, 400), o);
  ASSERT_TRUE(fast.ok()) << fast.status().message();
  EXPECT_NEAR(last, fast->plan.predicted_tokens_per_second,
              0.01 * fast->plan.predicted_tokens_per_second);
}

TEST_F(Planner, TargetModeReachesTheTargetWithLessMemory) {
  const ModelContainer c = open(path_);
  const MachineProfile p = profile(200, 400);
  PlannerOptions o = options();
  o.target_tps = 1;
  auto in = planner_input(c, o);
  ASSERT_TRUE(in.ok());
  const auto fast =
      predict_plan(c, *in, uniform_plan(c.tensors(), ChunkPlacement::kResidentRaw), p, o);
  ASSERT_TRUE(fast.ok());
  const double max_tps = fast->plan.predicted_tokens_per_second;
  o.target_tps = 0.5 * max_tps;
  auto r = make_plan(c, *in, p, o);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_GE(r->plan.predicted_tokens_per_second, o.target_tps);
  EXPECT_LT(r->memory_bytes, fast->memory_bytes);
  o.target_tps = 2 * max_tps;
  auto too_fast = make_plan(c, *in, p, o);
  ASSERT_FALSE(too_fast.ok());
  EXPECT_NE(too_fast.status().message().find("above what this machine"), std::string::npos);
}

// At the floor everything but the embedding streams: coded when storage is the bottleneck
// (it reads fewer bytes), raw when decoding is.
TEST_F(Planner, StreamsCodedWhenStorageIsSlowAndRawWhenDecodeIs) {
  const ModelContainer c = open(path_);
  PlannerOptions o = options();
  o.budget_bytes = minimum(c);
  auto count = [&](const PlannerResult& r, ChunkPlacement p) {
    size_t n = 0;
    for (const PlannedChunk& ch : r.plan.chunks) n += ch.placement == p;
    return n;
  };
  auto slow_storage = plan(c, profile(50, 2000), o);
  ASSERT_TRUE(slow_storage.ok()) << slow_storage.status().message();
  EXPECT_GT(count(*slow_storage, ChunkPlacement::kStreamCoded), 0u);
  EXPECT_EQ(count(*slow_storage, ChunkPlacement::kStreamRaw), 0u);
  auto slow_decode = plan(c, profile(20000, 100), o);
  ASSERT_TRUE(slow_decode.ok()) << slow_decode.status().message();
  EXPECT_EQ(count(*slow_decode, ChunkPlacement::kStreamCoded), 0u);
  EXPECT_GT(count(*slow_decode, ChunkPlacement::kStreamRaw), 0u);
  EXPECT_TRUE(slow_decode->needs_repack);  // the fixture's chunks are coded
}

TEST_F(Planner, RawOnlyPlansHaveNoCodedPlacements) {
  const ModelContainer c = open(path_);
  PlannerOptions o = options();
  o.budget_bytes = minimum(c) + 100000;
  o.raw_only = true;
  auto r = plan(c, profile(50, 2000), o);
  ASSERT_TRUE(r.ok()) << r.status().message();
  for (const PlannedChunk& ch : r->plan.chunks)
    EXPECT_FALSE(placement_decodes_per_use(ch.placement));
}

TEST_F(Planner, EstimatesCodedSizesOfRawStoredChunks) {
  const ModelContainer raw = open(raw_path_);
  PlannerOptions o = options();
  auto in = planner_input(raw, o);
  ASSERT_TRUE(in.ok()) << in.status().message();
  uint64_t raw_bytes = 0, coded = 0;
  for (size_t t = 0; t < raw.tensors().size(); ++t) {
    if (raw.tensors()[t].spec.name == "token_embd.weight") continue;
    for (const ChunkSizes& s : in->sizes[t]) {
      EXPECT_TRUE(s.stored_raw);
      raw_bytes += s.raw;
      coded += s.coded;
    }
  }
  EXPECT_GT(raw_bytes, 0u);
  EXPECT_LT(coded, raw_bytes);  // INT8 weights code smaller than raw
  // A plan placing them stream-raw matches the raw file as it is.
  o.budget_bytes = minimum(raw);
  auto r = make_plan(raw, *in, profile(20000, 100), o);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_FALSE(r->needs_repack);
  EXPECT_TRUE(check_plan_matches(r->plan, raw.tensors(), raw_path_).ok());
}

TEST_F(Planner, WorkloadFollowsTheExecutionOrder) {
  const ModelContainer c = open(path_);
  std::vector<std::vector<ChunkPlacement>> table(c.tensors().size());
  for (size_t t = 0; t < table.size(); ++t)
    if (c.tensors()[t].spec.dtype == DType::kI8)
      table[t].assign(c.tensors()[t].chunks.size(), ChunkPlacement::kStreamCoded);
  auto w = workload_for_container(c, table);
  ASSERT_TRUE(w.ok()) << w.status().message();
  ASSERT_GE(w->linears.size(), 8u);
  EXPECT_EQ(w->linears[0].name, "blk.0.attn_q.weight");
  EXPECT_EQ(w->linears[3].name, "blk.0.attn_output.weight");
  EXPECT_TRUE(w->linears[3].after_attention);
  EXPECT_FALSE(w->linears[2].after_attention);
  EXPECT_TRUE(w->linears.back().classifier);
  EXPECT_EQ(w->linears.back().name, "token_embd.weight");  // stories260K ties its classifier
  for (const ChunkWork& cw : w->linears.back().chunks)
    EXPECT_EQ(cw.placement, ChunkPlacement::kStreamCoded);  // the tied embedding follows the table
  EXPECT_EQ(w->linears[0].chunks[0].placement, ChunkPlacement::kStreamCoded);
}

}  // namespace
}  // namespace dcllm
