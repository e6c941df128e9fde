// Model readers against hostile sizes and files (issue 10): a layer count no tensors back is
// refused before anything is allocated per layer, under a memory cap; a FIFO given as a model,
// shard, tokenizer or config is refused at once instead of blocking in open().
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <string>
#include <vector>

#include "core/sanitizers.h"
#include "model/model_loader.h"
#include "runtime/rtn_int8_container.h"
#include "runtime/transformer.h"

namespace dcllm {
namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<uint8_t>;

using testing::kAddressSanitizer;

const std::string kData = DCLLM_SHARED_DATA;

Bytes read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), {});
}

void write_bytes(const std::string& path, const Bytes& b) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

class ReaderLimits : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) /
           ("dcllm_reader_limits_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  fs::path dir_;
};

// ---------------------------------------------------------------------------------------------
// Layer counts

// Loads `file` in a child process whose address space may grow by at most 1 GiB (no cap under
// ASan, which reserves terabytes up front) and expects a one-line error containing `fragment`.
// Before the fix the child died of std::bad_alloc (SIGABRT) or ran past the cap.
void expect_refused_within_memory(const std::string& file, const std::string& fragment) {
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (!kAddressSanitizer) {
      long pages = 0;
      if (FILE* f = std::fopen("/proc/self/statm", "r")) {
        if (std::fscanf(f, "%ld", &pages) != 1) pages = 0;
        std::fclose(f);
      }
      const uint64_t now = static_cast<uint64_t>(pages) * static_cast<uint64_t>(::getpagesize());
      const rlimit cap{now + (uint64_t{1} << 30), now + (uint64_t{1} << 30)};
      ::setrlimit(RLIMIT_AS, &cap);
    }
    LoadOptions o;
    o.threads = 1;
    auto m = load_model(file, o);
    if (m.ok()) {
      // A model that loads must not then allocate per claimed layer either.
      TransformerOptions t;
      t.max_seq = 4;
      t.threads = 1;
      auto tr = Transformer::create(*m, t);
      std::fprintf(stderr, "loaded; create: %s\n", tr.ok() ? "ok" : tr.status().message().c_str());
      ::_exit(1);
    }
    const std::string& msg = m.status().message();
    const bool good = msg.find('\n') == std::string::npos && msg.rfind(file + ": ", 0) == 0 &&
                      msg.find(fragment) != std::string::npos;
    if (!good) std::fprintf(stderr, "unexpected error: %s\n", msg.c_str());
    ::_exit(good ? 0 : 2);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << file << ": child killed by signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 0) << file;
}

// stories260K.gguf with llama.block_count set to `n` (its value is a u32 or a u64).
Bytes gguf_with_block_count(uint64_t n) {
  Bytes b = read_bytes(kData + "/stories260K.gguf");
  const std::string key = "llama.block_count";
  auto it = std::search(b.begin(), b.end(), key.begin(), key.end());
  EXPECT_NE(it, b.end());
  if (it == b.end()) return {};
  const size_t at = static_cast<size_t>(it - b.begin()) + key.size();
  uint32_t type = 0;
  std::memcpy(&type, b.data() + at, 4);
  EXPECT_TRUE(type == 4 || type == 5 || type == 10 || type == 11) << type;
  std::memcpy(b.data() + at + 4, &n, type >= 10 ? 8 : 4);
  return b;
}

TEST_F(ReaderLimits, GgufBlockCountBeyondItsTensorsIsRefused) {
  {
    // The unpatched file loads, so the failures below come from the count alone.
    auto m = load_model(kData + "/stories260K.gguf");
    ASSERT_TRUE(m.ok()) << m.status().message();
    ASSERT_EQ(m->config.n_layers, 5);
  }
  for (uint64_t n : {uint64_t{6}, uint64_t{1} << 20, uint64_t{1} << 24}) {
    const std::string file = path("layers_" + std::to_string(n) + ".gguf");
    write_bytes(file, gguf_with_block_count(n));
    auto m = load_model(file);
    ASSERT_FALSE(m.ok());
    EXPECT_EQ(m.status().code(), StatusCode::kCorrupt);
    EXPECT_EQ(m.status().message(), file + ": the model claims " + std::to_string(n) +
                                        " layers but the file has tensors for 5 (no blk.5.* "
                                        "tensor)");
    expect_refused_within_memory(file, "layers but the file has tensors for 5");
  }
}

// stories260K as a .dcllm whose metadata config has been edited by `edit`.
std::string dcllm_with_config(const std::string& file,
                              const std::function<void(ModelConfig&)>& edit) {
  LoadOptions o;
  o.tokenizer_path = kData + "/tok512.bin";
  auto m = load_model(kData + "/stories260K.bin", o);
  EXPECT_TRUE(m.ok()) << m.status().message();
  if (!m.ok()) return file;
  edit(m->config);
  const Status s = testing::write_rtn_int8_container(*m, file);
  EXPECT_TRUE(s.ok()) << s.message();
  return file;
}

TEST_F(ReaderLimits, DcllmLayerCountBeyondItsTensorsIsRefused) {
  const std::string file =
      dcllm_with_config(path("layers.dcllm"), [](ModelConfig& c) { c.n_layers = 1 << 24; });
  auto m = load_model(file);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().message(),
            file +
                ": the model claims 16777216 layers but the file has tensors for 5 (no blk.5.* "
                "tensor)");
  expect_refused_within_memory(file, "claims 16777216 layers");
}

TEST_F(ReaderLimits, DcllmSizesOutOfRangeNameTheFile) {
  struct Case {
    const char* field;
    std::function<void(ModelConfig&)> edit;
  };
  const std::vector<Case> cases = {
      {"config.dim = 0", [](ModelConfig& c) { c.dim = 0; }},
      {"config.n_layers = 0", [](ModelConfig& c) { c.n_layers = 0; }},
      {"config.n_layers = -1", [](ModelConfig& c) { c.n_layers = -1; }},
      {"config.vocab_size = 16777217", [](ModelConfig& c) { c.vocab_size = (1 << 24) + 1; }},
      {"config.seq_len = 0", [](ModelConfig& c) { c.seq_len = 0; }},
  };
  for (const Case& k : cases) {
    const std::string file = dcllm_with_config(path("sizes.dcllm"), k.edit);
    auto m = load_model(file);
    ASSERT_FALSE(m.ok()) << k.field;
    const std::string& msg = m.status().message();
    EXPECT_EQ(msg.rfind(file + ": metadata " + k.field + " is outside ", 0), 0u) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos);
  }
}

TEST(LayerTensors, EveryClaimedLayerNeedsATensor) {
  Model m;
  m.path = "m.gguf";
  for (const char* name : {"token_embd.weight", "blk.0.attn_q.weight", "blk.2.ffn_up.weight",
                           "blk.x.y", "blk.1", "blk.-1.z"}) {
    ModelTensor t;
    t.name = name;
    m.add_tensor(std::move(t));
  }
  m.config.n_layers = 1;
  EXPECT_TRUE(check_layer_tensors(m).ok());
  m.config.n_layers = 0;  // an architecture whose config was not read
  EXPECT_TRUE(check_layer_tensors(m).ok());
  m.config.n_layers = 3;  // blk.1 has no tensor ("blk.1" alone is not a layer tensor name)
  EXPECT_EQ(check_layer_tensors(m).message(),
            "m.gguf: the model claims 3 layers but the file has tensors for 2 (no blk.1.* tensor)");
  m.config.n_layers = int64_t{1} << 40;
  EXPECT_EQ(check_layer_tensors(m).message(),
            "m.gguf: the model claims 1099511627776 layers but the file has tensors for 2 (no "
            "blk.1.* tensor)");
  m.config.n_layers = -2;
  EXPECT_FALSE(check_layer_tensors(m).ok());
}

TEST(LayerTensors, TransformerRefusesAnUnbackedLayerCount) {
  // A Model built in memory (not through load_model) with an inflated count.
  LoadOptions o;
  o.tokenizer_path = kData + "/tok512.bin";
  auto m = load_model(kData + "/stories260K.bin", o);
  ASSERT_TRUE(m.ok()) << m.status().message();
  m->config.n_layers = 1 << 24;
  TransformerOptions t;
  t.max_seq = 4;
  auto tr = Transformer::create(*m, t);
  ASSERT_FALSE(tr.ok());
  EXPECT_NE(tr.status().message().find("claims 16777216 layers"), std::string::npos)
      << tr.status().message();
}

// ---------------------------------------------------------------------------------------------
// Non-regular files

// Runs `fn`, failing rather than hanging if it blocks on `fifo`: after the deadline the FIFO's
// write end is opened, which releases a reader stuck in open(). The deadline only guards
// against a hang; nothing is timed.
template <typename Fn>
auto without_blocking(const std::string& fifo, Fn fn) {
  auto result = std::async(std::launch::async, fn);
  if (result.wait_for(std::chrono::seconds(20)) != std::future_status::ready) {
    ADD_FAILURE() << "blocked on the FIFO " << fifo;
    const int w = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK);
    result.wait();
    if (w >= 0) ::close(w);
  }
  return result.get();
}

void expect_fifo_refused(const Status& s, const std::string& fifo) {
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.message(), fifo + ": not a regular file");
}

TEST_F(ReaderLimits, FifoModelsAreRefusedWithoutBlocking) {
  for (const char* name : {"m.gguf", "m.bin", "m.dcllm", "model"}) {
    const std::string fifo = path(name);
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
    auto m = without_blocking(fifo, [&] { return load_model(fifo); });
    expect_fifo_refused(m.status(), fifo);
  }
}

TEST_F(ReaderLimits, FifoTokenizerIsRefusedWithoutBlocking) {
  const std::string fifo = path("tokenizer.bin");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  LoadOptions o;
  o.tokenizer_path = fifo;
  auto m = without_blocking(fifo, [&] { return load_model(kData + "/stories260K.bin", o); });
  expect_fifo_refused(m.status(), fifo);
  // The same FIFO found beside a llama2.c checkpoint (llama2.c's tokenizer.bin convention).
  fs::copy_file(kData + "/stories260K.bin", path("stories.bin"));
  auto beside = without_blocking(fifo, [&] { return load_model(path("stories.bin")); });
  expect_fifo_refused(beside.status(), fifo);
}

TEST_F(ReaderLimits, FifoInAHuggingFaceDirectoryIsRefusedWithoutBlocking) {
  const std::string src = std::string(DCLLM_TEST_DATA) + "/hf/llama";
  for (const char* replaced : {"model.safetensors", "config.json", "tokenizer.json"}) {
    const fs::path hf = dir_ / (std::string("hf_") + replaced);
    fs::create_directories(hf);
    for (const auto& e : fs::directory_iterator(src)) {
      if (e.path().filename() != replaced) fs::copy_file(e.path(), hf / e.path().filename());
    }
    const std::string fifo = (hf / replaced).string();
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
    auto m = without_blocking(fifo, [&] { return load_model(hf.string()); });
    ASSERT_FALSE(m.ok()) << replaced;
    EXPECT_NE(m.status().message().find(fifo + ": not a regular file"), std::string::npos)
        << m.status().message();
  }
}

}  // namespace
}  // namespace dcllm
