// Tokenizer throughput on real text: tok512 (SentencePiece BPE) over WikiText-2 test and
// TinyStories, and the GPT-2 pre-tokenizer alone, as MB/s.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "model/tokenizer.h"
#include "model/tokenizer_pretokenize.h"

namespace {

std::string shared_data_dir() {
  if (const char* dir = std::getenv("DCLLM_SHARED_DATA")) return dir;
  return (std::filesystem::path(__FILE__).parent_path() / ".." / ".." / "shared" / "data").string();
}

std::string read_shared(const std::string& name) {
  std::ifstream in(shared_data_dir() + "/" + name, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

const dcllm::Tokenizer* tok512() {
  static const dcllm::Tokenizer* t = []() -> const dcllm::Tokenizer* {
    auto vocab = dcllm::load_llama2c_vocab(shared_data_dir() + "/tok512.bin", 512);
    if (!vocab.ok()) return nullptr;
    auto tok = dcllm::Tokenizer::create(std::move(vocab).value());
    return tok.ok() ? new dcllm::Tokenizer(std::move(tok).value()) : nullptr;
  }();
  return t;
}

void encode_file(benchmark::State& state, const char* file) {
  const dcllm::Tokenizer* t = tok512();
  const std::string text = read_shared(file);
  if (!t || text.empty()) {
    state.SkipWithError("shared data not found (set DCLLM_SHARED_DATA)");
    return;
  }
  size_t tokens = 0;
  for (auto _ : state) {
    auto ids = t->encode(text, true);
    tokens = ids.size();
    benchmark::DoNotOptimize(ids.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
  state.counters["tokens"] = static_cast<double>(tokens);
}

void BM_Tok512EncodeWikiText(benchmark::State& state) {
  encode_file(state, "wikitext2_raw_test.txt");
}
void BM_Tok512EncodeTinyStories(benchmark::State& state) {
  encode_file(state, "tinystories_valid_head.txt");
}

void BM_Gpt2PreTokenizeWikiText(benchmark::State& state) {
  const std::string text = read_shared("wikitext2_raw_test.txt");
  std::vector<std::string_view> pieces;
  for (auto _ : state) {
    pieces.clear();
    dcllm::pretokenize(dcllm::PreTokenizer::kGpt2, text, pieces);
    benchmark::DoNotOptimize(pieces.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
  state.counters["pieces"] = static_cast<double>(pieces.size());
}

BENCHMARK(BM_Tok512EncodeWikiText)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Tok512EncodeTinyStories)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Gpt2PreTokenizeWikiText)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
