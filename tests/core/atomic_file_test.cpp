// AtomicFileWriter, SpillFile and the temp-file registry: no file at the target before commit,
// no litter after failure, SIGKILL, SIGTERM/SIGINT or a full disk, and the umask's mode.
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <vector>

#include "container/spill_file.h"
#include "core/atomic_file.h"
#include "core/file_identity.h"
#include "core/temp_files.h"

namespace dcllm {
namespace {

namespace fs = std::filesystem;

// A fresh, empty directory per test (ctest runs tests as parallel processes).
std::string fresh_dir(const std::string& name) {
  const std::string d = ::testing::TempDir() + "atomic_" + name + "_" + std::to_string(::getpid());
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

std::set<std::string> entries(const std::string& dir) {
  std::set<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.insert(e.path().filename().string());
  return names;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::span<const uint8_t> bytes_of(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

class AtomicFileModes : public ::testing::TestWithParam<bool> {
 protected:
  AtomicFileWriter::Options options() const { return {.unnamed = GetParam()}; }
};

TEST_P(AtomicFileModes, NothingAtTheTargetUntilCommit) {
  const std::string dir = fresh_dir(GetParam() ? "commit_u" : "commit_n");
  const std::string target = dir + "/out.bin";
  {
    auto w = AtomicFileWriter::create(target, options());
    ASSERT_TRUE(w.ok()) << w.status().message();
    ASSERT_TRUE(w->write(bytes_of("hello ")).ok());
    ASSERT_TRUE(w->write_zeros(3).ok());
    EXPECT_FALSE(fs::exists(target));
    // ext4 and tmpfs take O_TMPFILE: then not even a temporary name exists while writing.
    if (w->is_unnamed()) {
      EXPECT_TRUE(entries(dir).empty());
    }
    ASSERT_TRUE(w->commit().ok());
  }
  EXPECT_EQ(slurp(target), std::string("hello ") + std::string(3, '\0'));
  EXPECT_EQ(entries(dir), std::set<std::string>{"out.bin"});
}

TEST_P(AtomicFileModes, ReplacesAnExistingFileAndLeavesNoTemporary) {
  const std::string dir = fresh_dir(GetParam() ? "replace_u" : "replace_n");
  const std::string target = dir + "/out.bin";
  std::ofstream(target) << "old content";
  auto w = AtomicFileWriter::create(target, options());
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE(w->write(bytes_of("new")).ok());
  EXPECT_EQ(slurp(target), "old content");
  ASSERT_TRUE(w->commit().ok());
  EXPECT_EQ(slurp(target), "new");
  EXPECT_EQ(entries(dir), std::set<std::string>{"out.bin"});
}

TEST_P(AtomicFileModes, AbandonedWriteLeavesNothing) {
  const std::string dir = fresh_dir(GetParam() ? "abandon_u" : "abandon_n");
  {
    auto w = AtomicFileWriter::create(dir + "/out.bin", options());
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE(w->write(bytes_of("partial")).ok());
  }
  EXPECT_TRUE(entries(dir).empty());
}

// open() applies the umask to 0666; the writer never calls umask() (which would race with other
// threads creating files), yet the committed file has the mode an ordinary create gives.
TEST_P(AtomicFileModes, CommittedFileHasTheUmaskMode) {
  const std::string dir = fresh_dir(GetParam() ? "umask_u" : "umask_n");
  const mode_t saved = ::umask(022);
  for (mode_t mask : {mode_t{022}, mode_t{027}, mode_t{077}, mode_t{002}}) {
    SCOPED_TRACE(mask);
    ::umask(mask);
    const std::string target = dir + "/m" + std::to_string(mask);
    auto w = AtomicFileWriter::create(target, options());
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE(w->write(bytes_of("x")).ok());
    ASSERT_TRUE(w->commit().ok());
    struct stat st {};
    ASSERT_EQ(::stat(target.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0666 & ~mask);
  }
  ::umask(saved);
}

INSTANTIATE_TEST_SUITE_P(Both, AtomicFileModes, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& i) {
                           return std::string(i.param ? "Unnamed" : "Named");
                         });

// Runs `body` in a forked child that writes one byte to `ready` when it is in the state the
// parent wants to signal; returns the child's pid and the read end.
struct Child {
  pid_t pid = -1;
  int ready_fd = -1;
};
template <class F>
Child fork_child(F body) {
  int p[2];
  if (::pipe(p) != 0) return {};
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(p[0]);
    body(p[1]);
    ::_exit(0);
  }
  ::close(p[1]);
  return {pid, p[0]};
}

bool wait_ready(const Child& c) {
  char b = 0;
  const bool ok = ::read(c.ready_fd, &b, 1) == 1;
  ::close(c.ready_fd);
  return ok;
}

int wait_status(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  return status;
}

// The child writes half a file and waits to be signalled.
void write_and_wait(const std::string& target, bool unnamed, bool install_handlers, int ready) {
  if (install_handlers) install_temp_cleanup_handlers();
  auto w = AtomicFileWriter::create(target, {.unnamed = unnamed});
  if (!w.ok()) ::_exit(3);
  std::string data(100000, 'z');
  if (!w->write(bytes_of(data)).ok()) ::_exit(4);
  std::fflush(nullptr);
  auto s = SpillFile::create(target);
  if (!s.ok() || !s->append(bytes_of(data)).ok()) ::_exit(5);
  if (::write(ready, "r", 1) != 1) ::_exit(6);
  for (;;) ::pause();
}

TEST(AtomicFileSignals, SigkillLeavesNothingWithAnUnnamedFile) {
  const std::string dir = fresh_dir("sigkill");
  const std::string target = dir + "/out.dcllm";
  Child c = fork_child([&](int ready) { write_and_wait(target, true, false, ready); });
  ASSERT_GT(c.pid, 0);
  ASSERT_TRUE(wait_ready(c));
  // A file system without O_TMPFILE would show the named temporary here: SIGKILL cannot be
  // caught, so that fallback may leave it (documented in docs/compress.md).
  EXPECT_TRUE(entries(dir).empty()) << *entries(dir).begin();
  ::kill(c.pid, SIGKILL);
  const int st = wait_status(c.pid);
  EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
  EXPECT_TRUE(entries(dir).empty());
}

class AtomicFileCatchable : public ::testing::TestWithParam<int> {};

// The named fallback: the handler unlinks the temporary, then the signal still ends the child
// with its own status (a shell sees 130/143, not a plain exit).
TEST_P(AtomicFileCatchable, NamedTemporaryIsRemovedOnTheSignal) {
  const int sig = GetParam();
  const std::string dir = fresh_dir("sig" + std::to_string(sig));
  const std::string target = dir + "/out.dcllm";
  Child c = fork_child([&](int ready) { write_and_wait(target, false, true, ready); });
  ASSERT_GT(c.pid, 0);
  ASSERT_TRUE(wait_ready(c));
  const auto during = entries(dir);
  ASSERT_EQ(during.size(), 1u);  // the named temporary (the spill file is unnamed or unlinked)
  EXPECT_EQ(during.begin()->rfind("out.dcllm.tmp.", 0), 0u) << *during.begin();
  ::kill(c.pid, sig);
  const int st = wait_status(c.pid);
  EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == sig) << st;
  EXPECT_TRUE(entries(dir).empty());
}

INSTANTIATE_TEST_SUITE_P(IntTermHup, AtomicFileCatchable,
                         ::testing::Values(SIGINT, SIGTERM, SIGHUP));

TEST(AtomicFileSignals, AnIgnoredSignalStaysIgnored) {
  Child c = fork_child([](int ready) {
    ::signal(SIGTERM, SIG_IGN);  // as nohup-like launchers leave it
    install_temp_cleanup_handlers();
    ::raise(SIGTERM);
    (void)::write(ready, "r", 1);
  });
  ASSERT_GT(c.pid, 0);
  EXPECT_TRUE(wait_ready(c));
  const int st = wait_status(c.pid);
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << st;
}

// A full disk (here RLIMIT_FSIZE with SIGXFSZ ignored, so write() fails with EFBIG): one line
// naming the target, and nothing left in the directory.
TEST(AtomicFileDiskFull, WriteFailsCleanly) {
  for (bool unnamed : {true, false}) {
    SCOPED_TRACE(unnamed);
    const std::string dir = fresh_dir(unnamed ? "efbig_u" : "efbig_n");
    const std::string target = dir + "/out.dcllm";
    const std::string msg_file = dir + ".msg";
    Child c = fork_child([&](int ready) {
      ::signal(SIGXFSZ, SIG_IGN);
      struct rlimit lim {
        64 << 10, 64 << 10
      };
      ::setrlimit(RLIMIT_FSIZE, &lim);
      Status st = Status::Ok();
      {
        auto w = AtomicFileWriter::create(target, {.unnamed = unnamed});
        if (!w.ok()) ::_exit(3);
        std::string data(1 << 20, 'q');
        st = w->write(bytes_of(data));
        if (st.ok()) st = w->commit();
      }
      std::ofstream(msg_file) << st.message();
      (void)::write(ready, st.ok() ? "k" : "e", 1);
    });
    ASSERT_GT(c.pid, 0);
    wait_ready(c);
    EXPECT_EQ(wait_status(c.pid), 0);
    const std::string msg = slurp(msg_file);
    fs::remove(msg_file);
    EXPECT_NE(msg.find(target), std::string::npos) << msg;
    EXPECT_NE(msg.find("File too large"), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    EXPECT_TRUE(entries(dir).empty());
  }
}

TEST(SpillFile, LeavesNoNameBehind) {
  const std::string dir = fresh_dir("spill");
  auto s = SpillFile::create(dir + "/out.dcllm");
  ASSERT_TRUE(s.ok()) << s.status().message();
  ASSERT_TRUE(s->append(bytes_of("chunk")).ok());
  EXPECT_TRUE(entries(dir).empty());
}

TEST(TempFiles, ParentDirectory) {
  EXPECT_EQ(parent_directory("a.dcllm"), ".");
  EXPECT_EQ(parent_directory("d/a.dcllm"), "d");
  EXPECT_EQ(parent_directory("/a.dcllm"), "/");
  EXPECT_EQ(parent_directory("/x/y/a"), "/x/y");
  EXPECT_EQ(parent_directory("/x/y/"), "/x");
}

TEST(TempFiles, RegistryIsBoundedAndReusable) {
  std::vector<int> slots;
  for (int i = 0; i < 1000; ++i) {
    const int s = register_temp_path("/nonexistent/" + std::to_string(i));
    if (s < 0) break;
    slots.push_back(s);
  }
  EXPECT_GT(slots.size(), 8u);
  EXPECT_LT(slots.size(), 1000u);  // a fixed table: the handler must not allocate
  EXPECT_EQ(register_temp_path(std::string(10000, 'p')), -1);
  for (int s : slots) unregister_temp_path(s);
  const int again = register_temp_path("/nonexistent/again");
  EXPECT_GE(again, 0);
  unregister_temp_path(again);
}

// check_output_path: the same file under any name is refused, so is anything that is not a
// (future) regular file in a writable directory.
TEST(OutputPath, RefusesEveryNameOfAnInput) {
  const std::string dir = fresh_dir("outpath");
  const std::string in = dir + "/m.gguf";
  std::ofstream(in) << "model";
  fs::create_symlink(in, dir + "/link.gguf");
  fs::create_hard_link(in, dir + "/hard.gguf");
  const std::vector<std::string> inputs{in, dir + "/missing-input"};
  for (const std::string& out :
       {in, dir + "/./m.gguf", dir + "/../" + fs::path(dir).filename().string() + "/m.gguf",
        dir + "/link.gguf", dir + "/hard.gguf"}) {
    SCOPED_TRACE(out);
    Status st = check_output_path(out, inputs);
    EXPECT_FALSE(st.ok());
    EXPECT_NE(st.message().find(out), std::string::npos) << st.message();
    EXPECT_NE(st.message().find("overwrite"), std::string::npos) << st.message();
  }
  EXPECT_TRUE(check_output_path(dir + "/new.dcllm", inputs).ok());
  std::ofstream(dir + "/other.dcllm") << "old output";
  EXPECT_TRUE(check_output_path(dir + "/other.dcllm", inputs).ok());
  fs::create_symlink(dir + "/nowhere", dir + "/dangling");
  EXPECT_TRUE(check_output_path(dir + "/dangling", inputs).ok());
}

TEST(OutputPath, RefusesDirectoriesAndMissingParents) {
  const std::string dir = fresh_dir("outdir");
  for (const std::string& out :
       {dir, dir + "/", dir + "/no/such/dir/x.dcllm", std::string("/dev/null")}) {
    SCOPED_TRACE(out);
    Status st = check_output_path(out, {});
    EXPECT_FALSE(st.ok());
    EXPECT_NE(st.message().find(out), std::string::npos) << st.message();
  }
  std::ofstream(dir + "/file") << "x";
  EXPECT_FALSE(check_output_path(dir + "/file/x.dcllm", {}).ok());  // parent is not a directory
}

}  // namespace
}  // namespace dcllm
