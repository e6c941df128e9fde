// Runs the built dcllm binary for CLI tests: exit code, stdout and stderr, each captured whole.
// One helper for every CLI test, so how a command is spawned is decided in one place.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>

#include <gtest/gtest.h>

namespace dcllm::testing_cli {

struct CliResult {
  int code = -1;
  std::string out;
  std::string err;
};

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// `args` is passed through the shell as written (quote paths with spaces yourself).
inline CliResult run_cli(const std::string& args) {
  // ctest runs tests as parallel processes: the pid keeps their files apart.
  static int calls = 0;
  const std::string err_file = ::testing::TempDir() + "dcllm_cli_stderr_" +
                               std::to_string(::getpid()) + "_" + std::to_string(++calls) + ".txt";
  const std::string cmd = std::string(DCLLM_CLI_PATH) + " " + args + " 2>" + err_file;
  CliResult r;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.err = read_file(err_file);
  std::remove(err_file.c_str());
  return r;
}

}  // namespace dcllm::testing_cli
