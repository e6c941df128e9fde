// MappedFile / open_regular_file / read_text_file: regular files map, and a FIFO, directory or
// device is refused at once ("<path>: not a regular file") instead of blocking in open().
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <string>

#include "core/mapped_file.h"
#include "core/text_file.h"

namespace dcllm {
namespace {

namespace fs = std::filesystem;

class NonRegularFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) /
           ("dcllm_mapped_file_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    fifo_ = (dir_ / "fifo.txt").string();
    ASSERT_EQ(::mkfifo(fifo_.c_str(), 0600), 0);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Runs `fn`, failing rather than hanging when it blocks on the FIFO: after the deadline the
  // FIFO's write end is opened, which releases a reader stuck in open(), so a regression ends
  // as a test failure. The deadline guards against a hang; it measures nothing.
  template <typename Fn>
  auto without_blocking(Fn fn) {
    auto result = std::async(std::launch::async, fn);
    if (result.wait_for(std::chrono::seconds(20)) != std::future_status::ready) {
      ADD_FAILURE() << "blocked on the FIFO " << fifo_;
      const int w = ::open(fifo_.c_str(), O_WRONLY | O_NONBLOCK);
      result.wait();
      if (w >= 0) ::close(w);
    }
    return result.get();
  }

  fs::path dir_;
  std::string fifo_;
};

void expect_not_regular(const Status& s, const std::string& path) {
  EXPECT_EQ(s.code(), StatusCode::kIoError) << s.message();
  EXPECT_EQ(s.message(), path + ": not a regular file");
}

TEST_F(NonRegularFiles, FifoIsRefusedWithoutBlocking) {
  auto m = without_blocking([&] { return MappedFile::open(fifo_); });
  ASSERT_FALSE(m.ok());
  expect_not_regular(m.status(), fifo_);
  auto t = without_blocking([&] { return read_text_file(fifo_); });
  ASSERT_FALSE(t.ok());
  expect_not_regular(t.status(), fifo_);
  auto fd = without_blocking([&] { return open_regular_file(fifo_); });
  ASSERT_FALSE(fd.ok());
  expect_not_regular(fd.status(), fifo_);
}

TEST_F(NonRegularFiles, DirectoryAndDeviceAreRefused) {
  auto d = MappedFile::open(dir_.string());
  ASSERT_FALSE(d.ok());
  expect_not_regular(d.status(), dir_.string());
  auto dev = read_text_file("/dev/zero");
  ASSERT_FALSE(dev.ok());
  expect_not_regular(dev.status(), "/dev/zero");
}

TEST_F(NonRegularFiles, RegularFilesOpenBlockingAndMap) {
  const std::string path = (dir_ / "a.txt").string();
  std::ofstream(path, std::ios::binary) << "one\r\ntwo\n";
  auto fd = open_regular_file(path);
  ASSERT_TRUE(fd.ok()) << fd.status().message();
  const int flags = ::fcntl(*fd, F_GETFL);
  EXPECT_EQ(flags & O_NONBLOCK, 0);  // callers may read() it as an ordinary descriptor
  EXPECT_NE(::fcntl(*fd, F_GETFD) & FD_CLOEXEC, 0);
  ::close(*fd);
  auto text = read_text_file(path);
  ASSERT_TRUE(text.ok()) << text.status().message();
  EXPECT_EQ(*text, "one\ntwo\n");
  // A symlink to a regular file is followed, as before.
  const std::string link = (dir_ / "link.txt").string();
  fs::create_symlink(path, link);
  auto m = MappedFile::open(link);
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_EQ(m->size(), 9u);
  auto missing = MappedFile::open((dir_ / "none").string());
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("cannot open"), std::string::npos);
}

}  // namespace
}  // namespace dcllm
