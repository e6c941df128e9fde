// `dcllm compress` never destroys an input and never leaves litter: -o naming an input (by any
// path, symlink or hard link) or a directory fails at once; SIGINT/SIGTERM/SIGKILL and a full
// disk leave neither a target nor a temporary file (issue 10 items 1, 8; fault tests).
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "model/hf_fixtures.h"

namespace {

namespace fs = std::filesystem;
const std::string kData = DCLLM_SHARED_DATA;

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::set<std::string> entries(const std::string& dir) {
  std::set<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.insert(e.path().filename().string());
  return names;
}

std::string fresh_dir(const std::string& name) {
  const std::string d = ::testing::TempDir() + "csafe_" + name + "_" + std::to_string(::getpid());
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

struct Spawned {
  pid_t pid = -1;
  std::string err_file;
};

// Starts the dcllm binary in `cwd` with stdout discarded and stderr to a file; `in_child` runs
// between fork and exec (limits, signal dispositions). One process per call: no shell between,
// so signals reach dcllm itself.
Spawned spawn(const std::vector<std::string>& args, const std::string& cwd,
              const std::function<void()>& in_child = {}) {
  static int calls = 0;
  Spawned r;
  r.err_file = ::testing::TempDir() + "csafe_err_" + std::to_string(::getpid()) + "_" +
               std::to_string(++calls);
  std::vector<std::string> argv_s{DCLLM_CLI_PATH};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  r.pid = ::fork();
  if (r.pid == 0) {
    if (::chdir(cwd.c_str()) != 0) ::_exit(120);
    int err = ::open(r.err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int null = ::open("/dev/null", O_WRONLY);
    if (err < 0 || null < 0) ::_exit(121);
    ::dup2(null, STDOUT_FILENO);
    ::dup2(err, STDERR_FILENO);
    if (in_child) in_child();
    std::vector<char*> argv;
    for (auto& s : argv_s) argv.push_back(s.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(122);
  }
  return r;
}

struct Result {
  int status = 0;
  std::string err;
  bool exited() const { return WIFEXITED(status); }
  int code() const { return WIFEXITED(status) ? WEXITSTATUS(status) : -1; }
};

Result finish(const Spawned& r) {
  Result res;
  ::waitpid(r.pid, &res.status, 0);
  res.err = slurp(r.err_file);
  fs::remove(r.err_file);
  return res;
}

Result run_in(const std::string& cwd, const std::vector<std::string>& args) {
  return finish(spawn(args, cwd));
}

const std::vector<std::string> kCalibOpts = {"--calib-tokens", "256", "--calib-ctx", "64"};

std::vector<std::string> with(std::vector<std::string> a, const std::vector<std::string>& more) {
  a.insert(a.end(), more.begin(), more.end());
  return a;
}

void expect_one_line_error_naming(const Result& r, const std::string& path) {
  EXPECT_EQ(r.code(), 1) << r.err;
  EXPECT_EQ(r.err.rfind("dcllm: error: ", 0), 0u) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find(path), std::string::npos) << r.err;
}

// A copy of each model kind and its inputs in one directory, with their bytes remembered.
class CompressInputs : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fresh_dir("inputs");
    fs::copy_file(kData + "/stories260K.gguf", dir_ + "/m.gguf");
    fs::copy_file(kData + "/stories260K.bin", dir_ + "/m.bin");
    fs::copy_file(kData + "/tok512.bin", dir_ + "/tokenizer.bin");
    fs::copy_file(kData + "/tok512.bin", dir_ + "/tok.bin");
    // A small calibration text: these runs are refused before it is read, or are short.
    std::ofstream(dir_ + "/calib.txt")
        << slurp(kData + "/tinystories_valid_head.txt").substr(0, 20000);
    fs::copy(dcllm::testing_hf::fixture_dir("gpt2"), dir_ + "/gpt2");
    fs::create_symlink(dir_ + "/m.gguf", dir_ + "/link.gguf");
    fs::create_hard_link(dir_ + "/m.gguf", dir_ + "/hard.gguf");
    fs::create_symlink("gpt2/model-00002-of-00003.safetensors", dir_ + "/shard_link");
    fs::create_directory(dir_ + "/outdir");
    for (const auto& e : fs::recursive_directory_iterator(dir_)) {
      if (e.is_regular_file()) before_[e.path().string()] = slurp(e.path().string());
    }
    names_before_ = listing();
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::set<std::string> listing() const {
    std::set<std::string> names;
    for (const auto& e : fs::recursive_directory_iterator(dir_)) names.insert(e.path().string());
    return names;
  }
  // Every input byte-identical, and no file added (no output, no temporary).
  void expect_untouched() const {
    for (const auto& [path, bytes] : before_) {
      EXPECT_TRUE(slurp(path) == bytes) << path << " changed";
    }
    EXPECT_EQ(listing(), names_before_);
  }

  std::string dir_;
  std::map<std::string, std::string> before_;
  std::set<std::string> names_before_;
};

TEST_F(CompressInputs, OutputNamingAnInputByAnyPathIsRefused) {
  struct Case {
    std::vector<std::string> args;  // model and its own options
    std::string out;
  };
  const std::string abs = fs::absolute(dir_).lexically_normal().string();
  const std::vector<Case> cases = {
      {{"m.gguf"}, "./m.gguf"},
      {{"m.gguf"}, abs + "/m.gguf"},
      {{"./m.gguf"}, "m.gguf"},
      {{"m.gguf"}, "outdir/../m.gguf"},
      {{"m.gguf"}, "link.gguf"},  // a symlink to the input
      {{"m.gguf"}, "hard.gguf"},  // a hard link: the same inode
      {{"link.gguf"}, "m.gguf"},
      {{"m.gguf"}, "calib.txt"},
      {{"m.gguf"}, abs + "/calib.txt"},
      {{"m.bin"}, "./m.bin"},
      {{"m.bin"}, "tokenizer.bin"},  // the default tokenizer beside a llama2.c model
      {{"m.bin", "--tokenizer", "tok.bin"}, "./tok.bin"},
      {{"gpt2"}, "gpt2/config.json"},
      {{"gpt2"}, "gpt2/tokenizer.json"},
      {{"gpt2"}, "gpt2/tokenizer_config.json"},
      {{"gpt2"}, "gpt2/model.safetensors.index.json"},
      {{"gpt2"}, "gpt2/model-00001-of-00003.safetensors"},
      {{"gpt2/"}, "./gpt2/model-00003-of-00003.safetensors"},
      {{abs + "/gpt2"}, "shard_link"},
      {{"gpt2/config.json"}, "gpt2/model-00002-of-00003.safetensors"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> args{"compress"};
    args.insert(args.end(), c.args.begin(), c.args.end());
    args = with(args, {"-o", c.out, "--calib", "calib.txt"});
    std::string shown;
    for (const auto& a : args) shown += a + " ";
    SCOPED_TRACE(shown);
    const Result r = run_in(dir_, with(args, kCalibOpts));
    expect_one_line_error_naming(r, c.out);
    EXPECT_NE(r.err.find("overwrite"), std::string::npos) << r.err;
    expect_untouched();
  }
}

// The check comes before any reading: with a model that does not exist, the error is still
// about -o (it used to come after calibration, or as a rename failure at the end).
TEST_F(CompressInputs, BadOutputIsRefusedBeforeAnyWork) {
  for (const std::string& out : {std::string("outdir"), std::string("outdir/"),
                                 std::string("no/such/dir/x.dcllm"), dir_ + "/outdir"}) {
    for (const std::string& model : {std::string("m.gguf"), std::string("missing-model.gguf")}) {
      SCOPED_TRACE(out + " " + model);
      const Result r =
          run_in(dir_, with({"compress", model, "-o", out, "--calib", "calib.txt"}, kCalibOpts));
      expect_one_line_error_naming(r, out);
      EXPECT_EQ(r.err.find("missing-model"), std::string::npos) << r.err;
      expect_untouched();
    }
  }
}

// Not over-cautious: a new file beside the inputs, or inside the model's directory, is fine.
TEST_F(CompressInputs, AnOutputBesideTheInputsIsWritten) {
  const Result r = run_in(
      dir_,
      with({"compress", "m.gguf", "-o", "gpt2/new.dcllm", "--calib", "calib.txt"}, kCalibOpts));
  ASSERT_EQ(r.code(), 0) << r.err;
  EXPECT_GT(fs::file_size(dir_ + "/gpt2/new.dcllm"), 1000u);
  fs::remove(dir_ + "/gpt2/new.dcllm");
  expect_untouched();
}

// A compress that runs until it is signalled: the float model is stories260K, the output goes
// to a directory of its own so that any temporary would be seen.
struct SignalRun {
  std::string dir;
  std::vector<std::string> args;
};
SignalRun signal_run(const std::string& name) {
  SignalRun s;
  s.dir = fresh_dir(name);
  s.args = {"compress",
            kData + "/stories260K.bin",
            "--tokenizer",
            kData + "/tok512.bin",
            "-o",
            s.dir + "/out.dcllm",
            "--calib",
            kData + "/tinystories_valid_head.txt",
            "--calib-tokens",
            "2048",
            "--calib-ctx",
            "128",
            "--threads",
            "1"};
  return s;
}

// True once `pid` holds a file open in `dir` (the output's temporary: an unnamed O_TMPFILE file
// shows as "dir/#inode (deleted)"), i.e. the encode stage is writing.
bool writing_in(pid_t pid, const std::string& dir) {
  const std::string fd_dir = "/proc/" + std::to_string(pid) + "/fd";
  std::error_code ec;
  for (fs::directory_iterator it(fd_dir, ec), end; !ec && it != end; it.increment(ec)) {
    auto target = fs::read_symlink(it->path(), ec);
    if (!ec && target.string().rfind(dir + "/", 0) == 0) return true;
  }
  return false;
}

class CompressSignals : public ::testing::TestWithParam<int> {};

TEST_P(CompressSignals, NoTargetAndNoTemporaryAfterTheSignal) {
  const int sig = GetParam();
  const SignalRun s = signal_run("sig" + std::to_string(sig));
  // The signal must land while the output is being written; if the run finishes first (a very
  // fast machine), try again: the check below holds for every attempt that was signalled.
  int signalled = 0;
  for (int attempt = 0; attempt < 10 && signalled == 0; ++attempt) {
    fs::remove(s.dir + "/out.dcllm");
    const Spawned run = spawn(s.args, s.dir);
    bool seen = false;
    for (int i = 0; i < 2000000 && !seen; ++i) {
      seen = writing_in(run.pid, s.dir);
      int st = 0;
      if (!seen && ::waitpid(run.pid, &st, WNOHANG) == run.pid) {
        fs::remove(run.err_file);
        break;  // finished (or failed) before we saw it writing
      }
    }
    if (!seen) continue;
    ::kill(run.pid, sig);
    const Result r = finish(run);
    if (r.exited() && r.code() == 0) continue;  // finished between the look and the kill
    EXPECT_TRUE(WIFSIGNALED(r.status) && WTERMSIG(r.status) == sig) << r.status << " " << r.err;
    ++signalled;
    EXPECT_TRUE(entries(s.dir).empty()) << *entries(s.dir).begin();
  }
  EXPECT_EQ(signalled, 1) << "compress never got to the encode stage, or always finished first";
  fs::remove_all(s.dir);
}

INSTANTIATE_TEST_SUITE_P(IntTermKill, CompressSignals, ::testing::Values(SIGINT, SIGTERM, SIGKILL),
                         [](const ::testing::TestParamInfo<int>& i) {
                           return std::string(i.param == SIGINT    ? "SIGINT"
                                              : i.param == SIGTERM ? "SIGTERM"
                                                                   : "SIGKILL");
                         });

// Disk full, as RLIMIT_FSIZE (SIGXFSZ ignored, so write() fails with EFBIG). Two limits: one
// that the chunk spill file already exceeds, and one a byte short of the finished file, so the
// last write of the output itself fails.
TEST(CompressDiskFull, CleanErrorAndNoFileAtTheTarget) {
  const SignalRun s = signal_run("efbig");
  const Result full = finish(spawn(s.args, s.dir));
  ASSERT_EQ(full.code(), 0) << full.err;
  const auto size = fs::file_size(s.dir + "/out.dcllm");
  fs::remove(s.dir + "/out.dcllm");
  for (rlim_t limit : {rlim_t{32 << 10}, static_cast<rlim_t>(size - 1)}) {
    SCOPED_TRACE(limit);
    const Result r = finish(spawn(s.args, s.dir, [limit] {
      ::signal(SIGXFSZ, SIG_IGN);  // survives exec
      struct rlimit lim {
        limit, limit
      };
      ::setrlimit(RLIMIT_FSIZE, &lim);
    }));
    expect_one_line_error_naming(r, s.dir + "/out.dcllm");
    EXPECT_NE(r.err.find("File too large"), std::string::npos) << r.err;
    EXPECT_TRUE(entries(s.dir).empty()) << *entries(s.dir).begin();
  }
  fs::remove_all(s.dir);
}

}  // namespace
