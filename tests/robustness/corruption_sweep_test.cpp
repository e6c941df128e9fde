// Corruption sweep over every model format dcllm reads: byte flips in headers and indexes, length
// and count fields set to 0 / huge / negative, truncations. Each case must end in a clean one-line
// error or a model that runs, never a signal, a hang or an allocation past a memory bound.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xxhash.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <span>
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

// Outcomes a child process reports through its exit code.
enum Outcome : int {
  kLoadedAndRan = 0,
  kCleanError = 1,
  kBadMessage = 2,       // empty or multi-line error text
  kForwardFailed = 3,    // create() accepted the model but forward() failed
  kTokenizerFailed = 4,  // the model loaded with a vocab, but no tokenizer could be built from it
};

Bytes read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), {});
}

void write_file(const std::string& path, std::span<const uint8_t> b) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

bool one_line(const std::string& m) {
  return !m.empty() && m.find('\n') == std::string::npos;
}

// What a user's `dcllm run` does with a file: load, tokenize, two tokens through the model.
Outcome load_and_run(const std::string& path, const std::string& tokenizer) {
  LoadOptions o;
  o.tokenizer_path = tokenizer;
  o.threads = 1;
  auto model = load_model(path, o);
  if (!model.ok()) return one_line(model.status().message()) ? kCleanError : kBadMessage;
  if (model->vocab) {
    auto tok = tokenizer_for(*model);
    if (!tok.ok() && !one_line(tok.status().message())) return kBadMessage;
    if (tok.ok()) (void)tok->encode("Once upon a time", true);
  }
  const ModelConfig& c = model->config;
  // Sizes a header may legitimately claim but a test should not spend time on.
  if (c.n_layers > 64 || c.dim > 4096 || c.vocab_size > (1 << 17)) return kLoadedAndRan;
  TransformerOptions to;
  to.max_seq = 4;
  to.threads = 1;
  auto t = Transformer::create(*model, to);
  if (!t.ok()) return one_line(t.status().message()) ? kCleanError : kBadMessage;
  const int32_t tokens[2] = {0, static_cast<int32_t>(c.vocab_size - 1)};
  auto logits = t->forward(std::span(tokens, std::min<int64_t>(2, t->max_seq())), 0);
  return logits.ok() ? kLoadedAndRan : kForwardFailed;
}

// Runs `body` in a child under a memory cap and a time limit; the test fails on a signal
// (crash, abort from bad_alloc, the alarm) or an outcome in `bad`.
struct CaseResult {
  bool signaled = false;
  int signal = 0;
  int code = 0;
};

uint64_t current_address_space() {
  std::ifstream statm("/proc/self/statm");
  uint64_t pages = 0;
  statm >> pages;
  return pages * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}

CaseResult run_case(const std::function<Outcome()>& body) {
  std::fflush(nullptr);
  if (std::getenv("DCLLM_SWEEP_INLINE")) return {false, 0, body()};  // for a debugger
  const pid_t pid = fork();
  if (pid == 0) {
    if (!kAddressSanitizer) {  // ASan reserves terabytes of address space: no RLIMIT_AS there
      // 4 GiB beyond what the process has mapped already (thread stacks, malloc arenas).
      rlimit as{current_address_space() + (uint64_t{4} << 30), RLIM_INFINITY};
      as.rlim_max = as.rlim_cur;
      setrlimit(RLIMIT_AS, &as);
    }
    alarm(kAddressSanitizer ? 60 : 20);
    _exit(body());
  }
  int status = 0;
  waitpid(pid, &status, 0);
  CaseResult r;
  r.signaled = WIFSIGNALED(status);
  r.signal = r.signaled ? WTERMSIG(status) : 0;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

// One mutated copy of a file: a description for failure messages and its bytes.
struct Mutation {
  std::string what;
  Bytes bytes;
};

void put_le(Bytes& b, size_t at, uint64_t v, size_t width) {
  for (size_t i = 0; i < width && at + i < b.size(); ++i)
    b[at + i] = static_cast<uint8_t>(v >> 8 * i);
}

// Flips, field overwrites and truncations within [begin, end) of `orig`: deterministic, and
// spread so every part of the region is hit.
std::vector<Mutation> mutations(const Bytes& orig, size_t begin, size_t end, size_t flips,
                                size_t fields, uint32_t seed) {
  std::vector<Mutation> out;
  end = std::min(end, orig.size());
  std::mt19937 rng(seed);
  std::uniform_int_distribution<size_t> pos(begin, end - 1);
  for (size_t i = 0; i < flips; ++i) {
    Mutation m{"", orig};
    const size_t at = i < end - begin && end - begin <= flips / 2 ? begin + i : pos(rng);
    const uint8_t to = i % 3 == 0   ? static_cast<uint8_t>(m.bytes[at] ^ (1u << (rng() % 8)))
                       : i % 3 == 1 ? 0x00
                                    : 0xFF;
    m.what = "byte " + std::to_string(at) + " := " + std::to_string(to);
    m.bytes[at] = to;
    out.push_back(std::move(m));
  }
  const uint64_t values[] = {
      0,         1, 0xFFFFFFFFull, 0x7FFFFFFFull, 0x80000000ull, 1ull << 24, 0xFFFFFFFFFFFFFFFFull,
      1ull << 40};
  for (size_t i = 0; i < fields; ++i) {
    Mutation m{"", orig};
    const size_t at = pos(rng) & ~size_t{3};
    const size_t width = i % 2 ? 8 : 4;
    const uint64_t v = values[rng() % std::size(values)];
    put_le(m.bytes, at, v, width);
    // snprintf, not string concatenation: GCC 12 warns falsely (-Wrestrict) on the latter here.
    char what[80];
    std::snprintf(what, sizeof what, "u%zu at %zu := %llu", width * 8, at,
                  static_cast<unsigned long long>(v));
    m.what = what;
    out.push_back(std::move(m));
  }
  for (size_t cut : {size_t{0}, size_t{1}, size_t{4}, size_t{8}, size_t{27}, size_t{64},
                     begin + (end - begin) / 2, end - 1, end, orig.size() / 2, orig.size() - 1}) {
    if (cut >= orig.size()) continue;
    out.push_back({"truncated to " + std::to_string(cut), Bytes(orig.begin(), orig.begin() + cut)});
  }
  Mutation appended{"64 bytes appended", orig};
  appended.bytes.resize(orig.size() + 64, 0);
  out.push_back(std::move(appended));
  return out;
}

std::string tmp_dir(const std::string& name) {
  const std::string d = ::testing::TempDir() + "sweep_" + name + "_" + std::to_string(getpid());
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

// Writes each mutation to `path`, runs the case, and collects every failure.
void sweep(const std::vector<Mutation>& ms, const std::string& path, const std::string& tokenizer,
           const std::function<void(Bytes&)>& fixup = {}) {
  int failures = 0, ran = 0, refused = 0;
  for (Mutation m : ms) {
    if (fixup) fixup(m.bytes);
    write_file(path, m.bytes);
    const CaseResult r = run_case([&] { return load_and_run(path, tokenizer); });
    if (r.signaled || (r.code != kLoadedAndRan && r.code != kCleanError)) {
      ADD_FAILURE() << path << ", " << m.what << ": "
                    << (r.signaled ? "signal " + std::to_string(r.signal)
                                   : "outcome " + std::to_string(r.code));
      if (++failures >= 10) return;
    }
    (r.code == kLoadedAndRan ? ran : refused) += !r.signaled;
  }
  ::testing::Test::RecordProperty("cases", static_cast<int>(ms.size()));
  std::printf("%s: %zu cases, %d refused cleanly, %d loaded and ran\n", path.c_str(), ms.size(),
              refused, ran);
}

const std::string kData = DCLLM_SHARED_DATA;

TEST(CorruptionSweep, Llama2cCheckpoint) {
  const std::string d = tmp_dir("llama2c");
  fs::copy_file(kData + "/tok512.bin", d + "/tok512.bin");
  const Bytes orig = read_file(kData + "/stories260K.bin");
  ASSERT_GT(orig.size(), 1000u);
  // The header is 7 int32; flip every byte of it and overwrite each field with odd values.
  std::vector<Mutation> ms = mutations(orig, 0, 28, 84, 0, 1);
  for (size_t field = 0; field < 7; ++field) {
    for (int64_t v : {int64_t{0}, int64_t{1}, int64_t{-1}, int64_t{-512}, int64_t{2}, int64_t{4},
                      int64_t{1} << 24, int64_t{0x7FFFFFFF}}) {
      Mutation m{"field " + std::to_string(field) + " := " + std::to_string(v), orig};
      put_le(m.bytes, field * 4, static_cast<uint64_t>(v), 4);
      ms.push_back(std::move(m));
    }
  }
  sweep(ms, d + "/model.bin", d + "/tok512.bin");
}

TEST(CorruptionSweep, GgufFile) {
  const std::string d = tmp_dir("gguf");
  const Bytes orig = read_file(kData + "/stories260K.gguf");
  ASSERT_GT(orig.size(), 1000u);
  // Header, metadata (the vocabulary) and tensor infos lie in front of the weights; the
  // stories260K GGUF's weights start after its first ~10 kB.
  sweep(mutations(orig, 0, 16384, 300, 120, 2), d + "/model.gguf", "");
}

TEST(CorruptionSweep, HuggingFaceDirectory) {
  const std::string src = std::string(DCLLM_TEST_DATA) + "/hf/llama";
  for (const std::string file : {"model.safetensors", "config.json", "tokenizer.json"}) {
    const std::string d = tmp_dir("hf");
    fs::copy(src, d, fs::copy_options::recursive);
    const Bytes orig = read_file(src + "/" + file);
    ASSERT_GT(orig.size(), 8u);
    size_t end = orig.size();
    if (file == "model.safetensors") {  // the u64 header length, then the JSON header
      uint64_t n = 0;
      std::memcpy(&n, orig.data(), 8);
      end = 8 + static_cast<size_t>(n);
    }
    const size_t flips = file == "model.safetensors" ? 200 : 80;
    const size_t fields = file == "model.safetensors" ? 40 : 0;
    auto ms = mutations(orig, 0, end, flips, fields, 3);
    int failures = 0;
    for (const Mutation& m : ms) {
      write_file(d + "/" + file, m.bytes);
      const CaseResult r = run_case([&] { return load_and_run(d, ""); });
      if (r.signaled || (r.code != kLoadedAndRan && r.code != kCleanError)) {
        ADD_FAILURE() << file << ", " << m.what << ": "
                      << (r.signaled ? "signal " + std::to_string(r.signal)
                                     : "outcome " + std::to_string(r.code));
        if (++failures >= 10) break;
      }
    }
    fs::remove_all(d);
  }
}

// .dcllm: checksums catch plain corruption at open, so the sweep also re-seals each mutated
// header, metadata and index with valid checksums: what a crafted file can reach.
uint64_t le64(const Bytes& b, size_t at) {
  uint64_t v = 0;
  std::memcpy(&v, b.data() + at, 8);
  return v;
}

TEST(CorruptionSweep, DcllmContainer) {
  const std::string d = tmp_dir("dcllm");
  auto model = testing::stories260k_with_rtn_container(d + "/orig.dcllm");
  ASSERT_TRUE(model.ok()) << model.status().message();
  const Bytes orig = read_file(d + "/orig.dcllm");
  const size_t index_end = le64(orig, 32) + le64(orig, 40);
  ASSERT_LT(index_end, orig.size());

  // Plain corruption: every case must be refused at open or at its chunk's checksum.
  sweep(mutations(orig, 0, index_end, 150, 0, 4), d + "/plain.dcllm", "");

  // Crafted: metadata and index bytes changed, checksums recomputed over the original ranges.
  const auto reseal_body = [&](Bytes& b) {
    if (b.size() < index_end) return;
    put_le(b, 64, XXH3_64bits(b.data() + 80, index_end - 80), 8);
    put_le(b, 56, b.size(), 8);
    put_le(b, 72, XXH3_64bits(b.data(), 72), 8);
  };
  sweep(mutations(orig, 80, index_end, 300, 150, 5), d + "/crafted.dcllm", "", reseal_body);

  // Crafted header fields (offsets, sizes, version, flags) with a valid header checksum.
  const auto reseal_header = [](Bytes& b) {
    if (b.size() >= 80) put_le(b, 72, XXH3_64bits(b.data(), 72), 8);
  };
  sweep(mutations(orig, 8, 72, 64, 40, 6), d + "/header.dcllm", "", reseal_header);
  fs::remove_all(d);
}

}  // namespace
}  // namespace dcllm
