// The perplexity protocol: window cutting and counting, agreement with a hand-rolled loop over
// forward(), and stories260K scoring children's stories far better than Wikipedia.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <sstream>

#include "eval/perplexity.h"
#include "model/model_loader.h"

namespace dcllm {
namespace {

const std::string kData = DCLLM_SHARED_DATA;

struct Stories {
  Model model;
  Tokenizer tokenizer;
};

Stories load_stories() {
  LoadOptions o;
  o.tokenizer_path = kData + "/tok512.bin";
  auto m = load_model(kData + "/stories260K.bin", o);
  EXPECT_TRUE(m.ok()) << m.status().message();
  auto tok = tokenizer_for(*m);
  EXPECT_TRUE(tok.ok()) << tok.status().message();
  return {std::move(m).value(), std::move(tok).value()};
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(TokenNll, IsLogSumExpMinusTarget) {
  const std::vector<float> l = {1.0f, 2.0f, 3.0f};
  const double lse = std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0));
  EXPECT_NEAR(token_nll(l, 2), lse - 3.0, 1e-12);
  EXPECT_NEAR(token_nll(l, 0), lse - 1.0, 1e-12);
}

TEST(Perplexity, WindowsFollowTheProtocol) {
  Stories s = load_stories();
  TransformerOptions to;
  to.max_seq = 16;
  auto t = Transformer::create(s.model, to);
  ASSERT_TRUE(t.ok());
  // BOS + 20 tokens, ctx 8: windows of 7 tokens -> 7 + 7 + 6, all 20 scored.
  std::vector<int32_t> toks = {1};
  for (int i = 0; i < 20; ++i) toks.push_back(100 + 7 * i);
  PerplexityOptions po;
  po.ctx = 8;
  auto r = evaluate_perplexity(*t, toks, po);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->windows, 3);
  EXPECT_EQ(r->tokens, 20);

  // The same number by hand: each window from an empty cache, [BOS] + window.
  double nll = 0.0;
  for (size_t begin = 1; begin < toks.size(); begin += 7) {
    const size_t len = std::min<size_t>(7, toks.size() - begin);
    std::vector<int32_t> input = {1};
    input.insert(input.end(), toks.begin() + static_cast<std::ptrdiff_t>(begin),
                 toks.begin() + static_cast<std::ptrdiff_t>(begin + len));
    for (size_t i = 0; i < len; ++i) {
      auto l = t->forward(std::span(&input[i], 1), static_cast<int64_t>(i));
      ASSERT_TRUE(l.ok());
      nll += token_nll(*l, input[i + 1]);
    }
  }
  EXPECT_NEAR(r->nll, nll, 1e-6 * nll);
  EXPECT_NEAR(r->ppl(), std::exp(nll / 20.0), 1e-6);

  po.max_windows = 2;
  auto r2 = evaluate_perplexity(*t, toks, po);
  ASSERT_TRUE(r2.ok());
  EXPECT_EQ(r2->windows, 2);
  EXPECT_EQ(r2->tokens, 14);

  po.ctx = 17;  // beyond the cache
  EXPECT_FALSE(evaluate_perplexity(*t, toks, po).ok());
  po.ctx = 8;
  EXPECT_FALSE(evaluate_perplexity(*t, std::vector<int32_t>{1}, po).ok());
}

TEST(Perplexity, StoriesModelKnowsStoriesNotWikipedia) {
  Stories s = load_stories();
  TransformerOptions to;
  to.max_seq = 256;
  auto t = Transformer::create(s.model, to);
  ASSERT_TRUE(t.ok());
  PerplexityOptions po;
  po.ctx = 256;
  po.max_windows = 8;
  auto stories = evaluate_perplexity(
      *t, s.tokenizer.encode(read_file(kData + "/tinystories_valid_head.txt"), true), po);
  ASSERT_TRUE(stories.ok()) << stories.status().message();
  std::string wiki = read_file(kData + "/wikitext2_raw_test.txt");
  std::erase(wiki, '\r');
  auto wikitext = evaluate_perplexity(*t, s.tokenizer.encode(wiki, true), po);
  ASSERT_TRUE(wikitext.ok());
  EXPECT_EQ(stories->tokens, 8 * 255);
  // Karpathy reports a validation loss of 1.297 nats (ppl 3.66) for stories260K.
  EXPECT_GT(stories->ppl(), 3.0);
  EXPECT_LT(stories->ppl(), 5.5);
  EXPECT_GT(wikitext->ppl(), 50.0);
  EXPECT_GT(wikitext->ppl(), 10.0 * stories->ppl());
}

}  // namespace
}  // namespace dcllm
