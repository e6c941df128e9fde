// Row chunks in the runtime (docs/runtime.md): every chunk home and every plan placement gives
// logits bit-identical to the resident tier; repack is lossless and stores the plan, which a
// run then follows; plans that do not match the file are refused; a --mem-budget below the
// run's minimum is refused naming it, and one above it streams what does not fit.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <random>

#include "../container/container_test_files.h"
#include "model/dcllm_model_reader.h"
#include "rtn_int8_container.h"
#include "runtime/fused_linear.h"
#include "runtime/linear_int8.h"
#include "runtime/partial_compression_planner.h"
#include "runtime/repack.h"
#include "runtime/transformer.h"
#include "runtime/weight_plan.h"

namespace dcllm {
namespace {

class WeightPlans : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::ScratchDir();
    path_ = dir_->file("stories260K-chunked.dcllm");
    // 1 KiB chunks: 16 rows of stories260K's 64 columns, so every matrix has several chunks.
    const std::string data = DCLLM_SHARED_DATA;
    LoadOptions o;
    o.tokenizer_path = data + "/tok512.bin";
    auto m = load_model(data + "/stories260K.bin", o);
    ASSERT_TRUE(m.ok()) << m.status().message();
    Status st = testing::write_rtn_int8_container(*m, path_, 1024);
    ASSERT_TRUE(st.ok()) << st.message();
    raw_path_ = dir_->file("stories260K-raw.dcllm");
    st = testing::write_rtn_int8_container(*m, raw_path_, 1024, "raw");
    ASSERT_TRUE(st.ok()) << st.message();
    auto c = ModelContainer::open(path_);
    ASSERT_TRUE(c.ok());
    reference_ = new std::vector<float>(logits(load(path_, tier_homes(*c, WeightTier::kResident))));
  }
  static void TearDownTestSuite() {
    delete reference_;
    delete dir_;
  }

  static Model load(const std::string& path, const ChunkHomeTable& homes) {
    auto c = ModelContainer::open(path);
    EXPECT_TRUE(c.ok()) << c.status().message();
    auto m = read_dcllm_model(*c, {}, homes);
    EXPECT_TRUE(m.ok()) << m.status().message();
    return m.ok() ? std::move(m).value() : Model();
  }

  // A 12-token prompt (all logits), 5 single steps, then a 300-token prompt in a fresh cache
  // (two batches: the first skips the classifier), concatenated.
  static std::vector<float> logits(const Model& m) {
    TransformerOptions o;
    o.max_seq = 400;
    o.ring_slots = 3;  // fewer slots than a matrix has chunks: the ring wraps within a linear
    std::vector<float> all;
    for (size_t prompt_len : {size_t{12}, size_t{300}}) {
      auto t = Transformer::create(m, o);
      EXPECT_TRUE(t.ok()) << t.status().message();
      if (!t.ok()) return {};
      std::vector<int32_t> prompt(prompt_len);
      for (size_t i = 0; i < prompt.size(); ++i)
        prompt[i] = static_cast<int32_t>((i * 37 + 1) % 512);
      auto l = t->forward(prompt, 0, /*all_logits=*/prompt_len < 64);
      EXPECT_TRUE(l.ok()) << l.status().message();
      if (!l.ok()) return {};
      all.insert(all.end(), l->begin(), l->end());
      for (int s = 0; s < (prompt_len < 64 ? 5 : 1); ++s) {
        const int32_t one[] = {
            static_cast<int32_t>((std::max_element(l->begin(), l->end()) - l->begin()) % 512)};
        l = t->forward(one, static_cast<int64_t>(prompt_len) + s);
        EXPECT_TRUE(l.ok()) << l.status().message();
        if (!l.ok()) return {};
        all.insert(all.end(), l->begin(), l->end());
      }
    }
    return all;
  }

  static void expect_reference(const std::vector<float>& got) {
    ASSERT_EQ(got.size(), reference_->size());
    EXPECT_EQ(std::memcmp(got.data(), reference_->data(), got.size() * sizeof(float)), 0);
  }

  // Every INT8 chunk placed by `pick(chunk index in the file, chunk)`.
  template <typename Pick>
  static PartialCompressionPlan plan_by(const ModelContainer& c, Pick pick) {
    PartialCompressionPlan plan;
    size_t i = 0;
    for (const TensorEntry& e : c.tensors()) {
      if (e.spec.dtype != DType::kI8) continue;
      for (size_t k = 0; k < e.chunks.size(); ++k)
        plan.chunks.push_back({e.spec.name, k, pick(i++, e.chunks[k])});
    }
    return plan;
  }

  static testing::ScratchDir* dir_;
  static std::string path_, raw_path_;
  static std::vector<float>* reference_;
};

testing::ScratchDir* WeightPlans::dir_ = nullptr;
std::string WeightPlans::path_, WeightPlans::raw_path_;
std::vector<float>* WeightPlans::reference_ = nullptr;

TEST_F(WeightPlans, EveryTierAndMixOfChunkHomesGivesBitIdenticalLogits) {
  for (const std::string& path : {path_, raw_path_}) {
    auto c = ModelContainer::open(path);
    ASSERT_TRUE(c.ok());
    for (WeightTier tier : {WeightTier::kResident, WeightTier::kCompressed, WeightTier::kStream}) {
      SCOPED_TRACE(path + " " + std::string(weight_tier_name(tier)));
      expect_reference(logits(load(path, tier_homes(*c, tier))));
    }
    // Chunk after chunk: decoded, held coded, streamed (so one linear mixes all three).
    ChunkHomeTable mixed = tier_homes(*c, WeightTier::kResident);
    size_t i = 0;
    for (auto& row : mixed)
      for (ChunkHome& h : row) h = static_cast<ChunkHome>(i++ % 3);
    SCOPED_TRACE(path + " mixed");
    Model m = load(path, mixed);
    const ModelTensor* q = m.find("blk.0.ffn_up.weight");
    ASSERT_NE(q, nullptr);
    ASSERT_TRUE(q->int8->stored);
    EXPECT_GT(q->int8->stored->chunks.size(), 3u);
    EXPECT_GT(q->int8->stored->count(ChunkHome::kStreamed), 0u);
    expect_reference(logits(m));
  }
}

TEST_F(WeightPlans, FusedProductMatchesTheWholeMatrixGemmForEveryScheme) {
  // Per-tensor, per-channel and group scales, a bias, an input scale, batches of 1 and 5.
  std::mt19937 rng(3);
  std::uniform_int_distribution<int> w(-127, 127);
  std::normal_distribution<float> n(0.0f, 1.0f);
  const int64_t rows = 37, cols = 40;
  std::vector<int8_t> values(rows * cols);
  for (auto& v : values) v = static_cast<int8_t>(w(rng));
  std::vector<float> bias(rows), in_scale(cols), x(5 * cols);
  for (auto& v : bias) v = n(rng);
  for (auto& v : in_scale) v = 1.0f + 0.1f * n(rng);
  for (auto& v : x) v = n(rng);
  const std::vector<FusedChunk> chunks = {{0, 10}, {10, 1}, {11, 20}, {31, 6}};
  for (QuantScheme scheme :
       {QuantScheme::kPerTensor, QuantScheme::kPerChannel, QuantScheme::kGroup}) {
    Int8LinearParams p;
    p.weights.scheme = scheme;
    p.weights.rows = rows;
    p.weights.cols = cols;
    p.weights.group = scheme == QuantScheme::kGroup ? 16 : 0;
    std::vector<float> scales(static_cast<size_t>(p.weights.scale_count()));
    for (auto& s : scales) s = 0.01f * (1.0f + std::abs(n(rng)));
    p.weights.scales = scales.data();
    p.bias = bias.data();
    p.input_scale = in_scale.data();
    for (size_t batch : {size_t{1}, size_t{5}}) {
      SCOPED_TRACE(quant_scheme_name(scheme, p.weights.group) + " batch " + std::to_string(batch));
      std::vector<float> want(batch * rows), got(batch * rows, -1.0f);
      p.weights.values = values.data();
      linear_int8_forward(p, x.data(), batch, want.data(), 2);
      p.weights.values = nullptr;
      std::vector<int> done(chunks.size(), 0);
      Status st = fused_int8_forward(
          p, chunks,
          [&](size_t k, std::span<int8_t> scratch) -> Expected<const int8_t*> {
            // Odd chunks are "decoded" into the scratch buffer, even ones used in place.
            const int8_t* src = values.data() + chunks[k].first_row * cols;
            if (k % 2 == 0) return src;
            EXPECT_EQ(scratch.size(), static_cast<size_t>(chunks[k].row_count * cols));
            std::memcpy(scratch.data(), src, scratch.size());
            return static_cast<const int8_t*>(scratch.data());
          },
          [&](size_t k) { ++done[k]; }, x.data(), batch, got.data(), 2);
      ASSERT_TRUE(st.ok()) << st.message();
      EXPECT_EQ(std::memcmp(want.data(), got.data(), want.size() * sizeof(float)), 0);
      EXPECT_EQ(done, std::vector<int>(chunks.size(), 1));
    }
  }
}

TEST_F(WeightPlans, AFailingChunkFailsTheProductNamingItAndEveryChunkIsDone) {
  Int8LinearParams p;
  p.weights.scheme = QuantScheme::kPerTensor;
  p.weights.rows = 8;
  p.weights.cols = 4;
  const float scale = 1.0f;
  p.weights.scales = &scale;
  const std::vector<FusedChunk> chunks = {{0, 4}, {4, 4}};
  std::vector<int8_t> values(32, 1);
  std::vector<float> x(4, 1.0f), y(8);
  std::vector<int> done(2, 0);
  Status st = fused_int8_forward(
      p, chunks,
      [&](size_t k, std::span<int8_t>) -> Expected<const int8_t*> {
        if (k == 1) return Corrupt("m.dcllm: tensor 't' chunk 1: checksum mismatch");
        return values.data();
      },
      [&](size_t k) { ++done[k]; }, x.data(), 1, y.data(), 2);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.message(), "m.dcllm: tensor 't' chunk 1: checksum mismatch");
  EXPECT_EQ(done, std::vector<int>({1, 1}));
}

TEST_F(WeightPlans, RepackIsLosslessStoresThePlanAndRunsFollowIt) {
  auto c = ModelContainer::open(path_);
  ASSERT_TRUE(c.ok());
  // The four placements in turn; the embedding must stay resident-raw.
  const PartialCompressionPlan plan =
      plan_by(*c, [](size_t i, const ChunkInfo&) { return kAllPlacements[i % 4]; });
  PartialCompressionPlan fixed = plan;
  for (PlannedChunk& pc : fixed.chunks)
    if (pc.tensor == "token_embd.weight") pc.placement = ChunkPlacement::kResidentRaw;
  // As stored (all rans), stream-raw chunks cannot be served: the plan needs a repack.
  EXPECT_FALSE(check_plan_matches(fixed, c->tensors(), path_).ok());
  const std::string out = dir_->file("repacked.dcllm");
  auto rep = repack_container(path_, out, fixed);
  ASSERT_TRUE(rep.ok()) << rep.status().message();
  EXPECT_GT(rep->to_raw, 0u);
  EXPECT_EQ(rep->to_coded, 0u);

  auto d = ModelContainer::open(out);
  ASSERT_TRUE(d.ok()) << d.status().message();
  ASSERT_TRUE(d->metadata().contains(kStoredPlanKey));
  ASSERT_EQ(d->tensors().size(), c->tensors().size());
  for (size_t t = 0; t < c->tensors().size(); ++t) {
    const TensorEntry& a = c->tensors()[t];
    const TensorEntry& b = d->tensors()[t];
    ASSERT_EQ(a.spec.name, b.spec.name);
    EXPECT_EQ(a.spec.quant.scales, b.spec.quant.scales);
    std::vector<uint8_t> va(a.raw_bytes), vb(b.raw_bytes);
    ASSERT_TRUE(c->read_tensor(a.spec.name, va).ok());
    ASSERT_TRUE(d->read_tensor(b.spec.name, vb).ok());
    EXPECT_EQ(va, vb) << a.spec.name;  // the same INT8 values: lossless
    ASSERT_EQ(a.chunks.size(), b.chunks.size());
    for (size_t k = 0; k < a.chunks.size(); ++k) {
      EXPECT_EQ(a.chunks[k].first_row, b.chunks[k].first_row);
      EXPECT_EQ(a.chunks[k].row_count, b.chunks[k].row_count);
    }
  }
  auto stored = plan_from_json(d->metadata()[kStoredPlanKey], out);
  ASSERT_TRUE(stored.ok()) << stored.status().message();
  EXPECT_TRUE(check_plan_matches(*stored, d->tensors(), out).ok());

  // No --weights: the stored plan is followed, and the logits are the resident ones.
  WeightPlacement wp;
  auto m = load_model_placed(out, {}, WeightRequest{}, &wp);
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_EQ(wp.source.rfind("stored plan", 0), 0u) << wp.source;
  expect_reference(logits(*m));
  {
    TransformerOptions o;
    o.max_seq = 16;
    auto t = Transformer::create(*m, o);
    ASSERT_TRUE(t.ok());
    EXPECT_EQ(t->weights().tier(), "stream");
    const WeightMemory mem = t->weights().memory();
    EXPECT_GT(mem.stored, 0u);
    EXPECT_GT(mem.ring, 0u);
  }
  // --weights given: the tier wins over the stored plan.
  WeightRequest resident;
  resident.tier = WeightTier::kResident;
  ASSERT_TRUE(load_model_placed(out, {}, resident, &wp).ok());
  EXPECT_EQ(wp.source, "--weights resident");

  // Repacking back to all coded gives the original values too.
  const std::string back = dir_->file("back.dcllm");
  const PartialCompressionPlan coded =
      plan_by(*d, [](size_t, const ChunkInfo&) { return ChunkPlacement::kStreamCoded; });
  PartialCompressionPlan coded_fixed = coded;
  for (PlannedChunk& pc : coded_fixed.chunks)
    if (pc.tensor == "token_embd.weight") pc.placement = ChunkPlacement::kResidentRaw;
  auto rep2 = repack_container(out, back, coded_fixed);
  ASSERT_TRUE(rep2.ok()) << rep2.status().message();
  EXPECT_EQ(rep2->to_coded, rep->to_raw);
  auto m2 = load_model_placed(back, {}, WeightRequest{});
  ASSERT_TRUE(m2.ok()) << m2.status().message();
  expect_reference(logits(*m2));
}

TEST_F(WeightPlans, RepackRefusesItsInputAsOutputAndPlansThatDoNotMatch) {
  auto c = ModelContainer::open(path_);
  ASSERT_TRUE(c.ok());
  const PartialCompressionPlan good = uniform_plan(c->tensors(), ChunkPlacement::kStreamCoded);
  auto same = repack_container(path_, path_, good);
  ASSERT_FALSE(same.ok());
  EXPECT_NE(same.status().message().find(path_), std::string::npos);
  const std::string link = dir_->file("link.dcllm");
  std::filesystem::create_symlink(path_, link);
  EXPECT_FALSE(repack_container(path_, link, good).ok());  // the same file by identity

  const std::string out = dir_->file("never.dcllm");
  PartialCompressionPlan missing = good;
  missing.chunks.pop_back();
  auto r = repack_container(path_, out, missing);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message().find('\n'), std::string::npos);
  PartialCompressionPlan extra = good;
  extra.chunks.push_back({"blk.0.attn_q.weight", 999, ChunkPlacement::kStreamCoded});
  EXPECT_FALSE(repack_container(path_, out, extra).ok());
  PartialCompressionPlan stranger = good;
  stranger.chunks[0].tensor = "no.such.tensor";
  EXPECT_FALSE(repack_container(path_, out, stranger).ok());
  EXPECT_FALSE(std::filesystem::exists(out));  // nothing written for a refused plan
}

TEST_F(WeightPlans, AStoredPlanThatDoesNotMatchTheFileIsRefused) {
  // The file's tensors with a stored plan that lacks one chunk.
  auto c = ModelContainer::open(path_);
  ASSERT_TRUE(c.ok());
  PartialCompressionPlan plan = uniform_plan(c->tensors(), ChunkPlacement::kResidentCoded);
  plan.chunks.erase(plan.chunks.begin() + 3);
  nlohmann::json meta = c->metadata();
  meta[kStoredPlanKey] = plan_to_json(plan);
  const std::string bad = dir_->file("bad-plan.dcllm");
  {
    auto w = ContainerWriter::create(bad, meta);
    ASSERT_TRUE(w.ok());
    for (size_t t = 0; t < c->tensors().size(); ++t) {
      const TensorEntry& e = c->tensors()[t];
      std::vector<ContainerWriter::ChunkInput> in;
      for (size_t k = 0; k < e.chunks.size(); ++k)
        in.push_back({e.chunks[k].row_count, e.chunks[k].codec, c->chunk_bytes(t, k), true,
                      e.chunks[k].xxh3});
      ASSERT_TRUE(w->add_tensor_chunks(e.spec, in).ok());
    }
    ASSERT_TRUE(w->finish().ok());
  }
  auto m = load_model_placed(bad, {}, WeightRequest{});
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find(bad), std::string::npos) << m.status().message();
  EXPECT_EQ(m.status().message().find('\n'), std::string::npos);
  // An explicit --weights does not read the stored plan.
  WeightRequest r;
  r.tier = WeightTier::kCompressed;
  EXPECT_TRUE(load_model_placed(bad, {}, r).ok());
}

TEST_F(WeightPlans, BudgetBelowTheMinimumIsRefusedNamingIt) {
  auto c = ModelContainer::open(path_);
  ASSERT_TRUE(c.ok());
  WeightRequest r;
  r.tier = WeightTier::kStream;
  r.budget_bytes = 1 << 20;
  auto p = place_weights(*c, r);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(p.status().message().find("below the minimum"), std::string::npos)
      << p.status().message();
  // A budget needs the stream tier.
  r.tier = WeightTier::kCompressed;
  r.budget_bytes = uint64_t{1} << 30;
  auto q = place_weights(*c, r);
  ASSERT_FALSE(q.ok());
  EXPECT_NE(q.status().message().find("--mem-budget needs --weights stream"), std::string::npos);
  // And a .dcllm.
  const std::string data = DCLLM_SHARED_DATA;
  r.tier = WeightTier::kStream;
  auto not_dcllm = load_model_placed(data + "/stories260K.bin", {}, r);
  ASSERT_FALSE(not_dcllm.ok());
  EXPECT_NE(not_dcllm.status().message().find("needs a .dcllm model"), std::string::npos)
      << not_dcllm.status().message();
}

TEST_F(WeightPlans, ABudgetHoldsWhatFitsAndStreamsTheRest) {
  auto c = ModelContainer::open(path_);
  ASSERT_TRUE(c.ok());
  WeightRequest r;
  r.tier = WeightTier::kStream;
  PlannerOptions po;
  po.shape = r.shape;
  po.model.ring_slots = r.ring_slots;
  po.model.chunk_items = true;
  auto in = planner_input(*c, po);
  ASSERT_TRUE(in.ok()) << in.status().message();
  uint64_t coded = 0;
  for (const TensorEntry& e : c->tensors())
    if (e.spec.dtype == DType::kI8 && e.spec.name != "token_embd.weight") coded += e.stored_bytes;
  r.budget_bytes = in->floor.total(0) + coded / 2;
  WeightPlacement wp;
  auto m = load_model_placed(path_, {}, r, &wp);
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_LE(wp.predicted_bytes, r.budget_bytes);
  EXPECT_GT(wp.minimum_bytes, 0u);
  size_t held = 0, streamed = 0;
  for (const auto& row : wp.homes)
    for (ChunkHome h : row) (h == ChunkHome::kStreamed ? streamed : held) += 1;
  EXPECT_GT(held, 0u);
  EXPECT_GT(streamed, 0u);
  expect_reference(logits(*m));
}

}  // namespace
}  // namespace dcllm
