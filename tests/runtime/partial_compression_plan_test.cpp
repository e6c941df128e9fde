// PartialCompressionPlan: JSON round trip, refusal of malformed plans (types, caps, duplicates,
// depth), and check_plan_matches against a container index (coverage and storage).
#include "runtime/partial_compression_plan.h"

#include <gtest/gtest.h>

#include <string>

#include "container/container_test_files.h"

namespace dcllm {
namespace {

// Two INT8 tensors (a: chunk 0 coded, chunk 1 raw; b: one coded chunk) and an f32 tensor.
std::vector<TensorEntry> index_fixture() {
  auto chunk = [](uint64_t raw, uint64_t stored, const char* codec) {
    ChunkInfo c;
    c.raw_size = raw;
    c.stored_size = stored;
    c.codec = codec;
    return c;
  };
  std::vector<TensorEntry> t(3);
  t[0].spec.name = "a.weight";
  t[0].spec.dtype = DType::kI8;
  t[0].chunks = {chunk(100, 60, "rans"), chunk(50, 50, "raw")};
  t[1].spec.name = "b.weight";
  t[1].spec.dtype = DType::kI8;
  t[1].chunks = {chunk(200, 120, "rans")};
  t[2].spec.name = "norm.weight";
  t[2].spec.dtype = DType::kF32;
  t[2].chunks = {chunk(16, 16, "raw")};
  return t;
}

PartialCompressionPlan plan_fixture() {
  PartialCompressionPlan p;
  p.predicted_tokens_per_second = 12.5;
  p.chunks = {{"a.weight", 0, ChunkPlacement::kStreamCoded},
              {"a.weight", 1, ChunkPlacement::kStreamRaw},
              {"b.weight", 0, ChunkPlacement::kResidentCoded}};
  return p;
}

TEST(PartialCompressionPlan, PlacementNamesRoundTrip) {
  for (ChunkPlacement p : kAllPlacements) {
    auto back = parse_placement(placement_name(p));
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, p);
  }
  EXPECT_FALSE(parse_placement("resident").ok());
  EXPECT_TRUE(placement_is_resident(ChunkPlacement::kResidentCoded));
  EXPECT_TRUE(placement_is_stream(ChunkPlacement::kStreamRaw));
  EXPECT_TRUE(placement_decodes_per_use(ChunkPlacement::kStreamCoded));
  EXPECT_FALSE(placement_decodes_per_use(ChunkPlacement::kResidentRaw));
}

TEST(PartialCompressionPlan, JsonRoundTripKeepsEveryField) {
  PartialCompressionPlan p = plan_fixture();
  p.budget_bytes = 1 << 20;
  p.strategy = "greedy";
  ASSERT_TRUE(recompute_plan_bytes(p, index_fixture(), "m.dcllm").ok());
  const nlohmann::json j = plan_to_json(p);
  for (const char* key :
       {"predicted_tokens_per_second", "resident_bytes", "streamed_bytes", "chunks"})
    EXPECT_TRUE(j.contains(key)) << key;
  EXPECT_EQ(j["chunks"][1]["placement"], "stream-raw");
  EXPECT_EQ(j["chunks"][1]["tensor"], "a.weight");
  EXPECT_EQ(j["chunks"][1]["chunk"], 1);
  auto back = parse_plan_text(j.dump(), "p.json");
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->predicted_tokens_per_second, 12.5);
  EXPECT_EQ(back->resident_bytes, p.resident_bytes);
  EXPECT_EQ(back->streamed_bytes, p.streamed_bytes);
  EXPECT_EQ(back->budget_bytes, p.budget_bytes);
  EXPECT_EQ(back->strategy, "greedy");
  ASSERT_EQ(back->chunks.size(), 3u);
  EXPECT_EQ(back->chunks[2].tensor, "b.weight");
  EXPECT_EQ(back->chunks[2].placement, ChunkPlacement::kResidentCoded);
}

TEST(PartialCompressionPlan, FileRoundTrip) {
  testing::ScratchDir dir;
  const std::string path = dir.file("plan.json");
  ASSERT_TRUE(write_plan_file(plan_fixture(), path).ok());
  auto back = read_plan_file(path);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->chunks.size(), 3u);
  EXPECT_FALSE(read_plan_file(dir.file("missing.json")).ok());
}

TEST(PartialCompressionPlan, RecomputesBytesFromPlacements) {
  PartialCompressionPlan p = plan_fixture();
  ASSERT_TRUE(recompute_plan_bytes(p, index_fixture(), "m.dcllm").ok());
  EXPECT_EQ(p.resident_bytes, 120u);       // b stays coded in RAM
  EXPECT_EQ(p.streamed_bytes, 60u + 50u);  // a's stored bytes
  p.chunks[2].placement = ChunkPlacement::kResidentRaw;
  ASSERT_TRUE(recompute_plan_bytes(p, index_fixture(), "m.dcllm").ok());
  EXPECT_EQ(p.resident_bytes, 200u);  // decoded: raw bytes
}

TEST(PartialCompressionPlan, RefusesMalformedJson) {
  const char* bad[] = {
      "[]",
      "{}",
      R"({"predicted_tokens_per_second": 1, "resident_bytes": 0, "streamed_bytes": 0})",
      R"({"predicted_tokens_per_second": -1, "resident_bytes": 0, "streamed_bytes": 0,
          "chunks": []})",
      R"({"predicted_tokens_per_second": 1, "resident_bytes": -5, "streamed_bytes": 0,
          "chunks": []})",
      R"({"predicted_tokens_per_second": 1, "resident_bytes": 0, "streamed_bytes": 0,
          "chunks": {}})",
      R"({"predicted_tokens_per_second": 1, "resident_bytes": 0, "streamed_bytes": 0,
          "chunks": [{"tensor": "a", "chunk": 0}]})",
      R"({"predicted_tokens_per_second": 1, "resident_bytes": 0, "streamed_bytes": 0,
          "chunks": [{"tensor": "a", "chunk": 0, "placement": "somewhere"}]})",
      R"({"predicted_tokens_per_second": 1, "resident_bytes": 0, "streamed_bytes": 0,
          "chunks": [{"tensor": "", "chunk": 0, "placement": "stream-raw"}]})",
      R"({"predicted_tokens_per_second": 1, "resident_bytes": 0, "streamed_bytes": 0,
          "chunks": [{"tensor": "a", "chunk": 1.5, "placement": "stream-raw"}]})",
      R"({"predicted_tokens_per_second": 1, "resident_bytes": 0, "streamed_bytes": 0,
          "chunks": [{"tensor": "a", "chunk": 4294967296, "placement": "stream-raw"}]})",
      R"({"predicted_tokens_per_second": 1, "resident_bytes": 0, "streamed_bytes": 0,
          "chunks": [{"tensor": "a", "chunk": 0, "placement": "stream-raw"},
                     {"tensor": "a", "chunk": 0, "placement": "resident-raw"}]})",
      "{\"chunks\": [",
  };
  for (const char* text : bad) {
    auto r = parse_plan_text(text, "p.json");
    EXPECT_FALSE(r.ok()) << text;
    if (!r.ok()) {
      EXPECT_NE(r.status().message().find("p.json"), std::string::npos);
    }
  }
}

TEST(PartialCompressionPlan, RefusesDeepNestingAndHugeText) {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  EXPECT_FALSE(parse_plan_text(deep, "p.json").ok());
  const std::string long_name(kMaxTensorNameBytes + 1, 'x');
  const std::string text =
      R"({"predicted_tokens_per_second": 1, "resident_bytes": 0, "streamed_bytes": 0,
          "chunks": [{"tensor": ")" +
      long_name + R"(", "chunk": 0, "placement": "stream-raw"}]})";
  EXPECT_FALSE(parse_plan_text(text, "p.json").ok());
}

TEST(PartialCompressionPlan, IgnoresUnknownTopLevelKeys) {
  auto r = parse_plan_text(
      R"({"predicted_tokens_per_second": 1, "resident_bytes": 0, "streamed_bytes": 0,
          "chunks": [], "later_figure": {"x": 1}})",
      "p.json");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(r->chunks.empty());
}

TEST(PartialCompressionPlan, MatchesItsOwnIndex) {
  auto table = plan_placements(plan_fixture(), index_fixture(), "m.dcllm");
  ASSERT_TRUE(table.ok()) << table.status().message();
  ASSERT_EQ(table->size(), 3u);
  EXPECT_EQ((*table)[0][1], ChunkPlacement::kStreamRaw);
  EXPECT_EQ((*table)[1][0], ChunkPlacement::kResidentCoded);
  EXPECT_TRUE((*table)[2].empty());  // f32: not planned
}

TEST(PartialCompressionPlan, RefusesAPlanThatDoesNotMatch) {
  const auto index = index_fixture();
  auto expect_refused = [&](const PartialCompressionPlan& p, const char* says) {
    const Status st = check_plan_matches(p, index, "m.dcllm");
    ASSERT_FALSE(st.ok()) << says;
    EXPECT_NE(st.message().find("m.dcllm"), std::string::npos) << st.message();
    EXPECT_NE(st.message().find(says), std::string::npos) << st.message();
  };
  PartialCompressionPlan p = plan_fixture();
  p.chunks.pop_back();  // b.weight chunk 0 missing
  expect_refused(p, "'b.weight' chunk 0 has no placement");
  p = plan_fixture();
  p.chunks.push_back({"c.weight", 0, ChunkPlacement::kResidentRaw});
  expect_refused(p, "'c.weight' is not in the file");
  p = plan_fixture();
  p.chunks.push_back({"b.weight", 1, ChunkPlacement::kResidentRaw});
  expect_refused(p, "places chunk 1");
  p = plan_fixture();
  p.chunks.push_back({"norm.weight", 0, ChunkPlacement::kResidentRaw});
  expect_refused(p, "not an INT8 tensor");
  p = plan_fixture();
  p.chunks[0].placement = ChunkPlacement::kStreamRaw;  // a chunk 0 is coded
  expect_refused(p, "needs a raw chunk");
  p = plan_fixture();
  p.chunks[1].placement = ChunkPlacement::kResidentCoded;  // a chunk 1 is raw
  expect_refused(p, "needs a coded chunk");
  p = plan_fixture();
  p.chunks.push_back(p.chunks[0]);
  expect_refused(p, "placed twice");
}

TEST(PartialCompressionPlan, ResidentRawServesEitherStorage) {
  PartialCompressionPlan p = plan_fixture();
  for (auto& c : p.chunks) c.placement = ChunkPlacement::kResidentRaw;
  EXPECT_TRUE(check_plan_matches(p, index_fixture(), "m.dcllm").ok());
}

TEST(PartialCompressionPlan, UniformPlanFollowsStorage) {
  const auto index = index_fixture();
  const PartialCompressionPlan p = uniform_plan(index, ChunkPlacement::kStreamCoded);
  ASSERT_EQ(p.chunks.size(), 3u);
  EXPECT_EQ(p.chunks[0].placement, ChunkPlacement::kStreamCoded);
  EXPECT_EQ(p.chunks[1].placement, ChunkPlacement::kStreamRaw);  // stored raw
  EXPECT_TRUE(check_plan_matches(p, index, "m.dcllm").ok());
  const PartialCompressionPlan q = uniform_plan(index, ChunkPlacement::kResidentCoded);
  EXPECT_EQ(q.chunks[1].placement, ChunkPlacement::kResidentRaw);
  EXPECT_TRUE(check_plan_matches(q, index, "m.dcllm").ok());
}

}  // namespace
}  // namespace dcllm
