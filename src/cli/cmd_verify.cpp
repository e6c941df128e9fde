// The `verify` verb: a full integrity check of a .dcllm file (structure, every checksum, every
// chunk decoded, zero padding); names the first fault and exits non-zero.
#include <fmt/format.h>

#include <cstdio>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "core/progress.h"
#include "dcllm/container.h"

namespace dcllm::cli {
namespace {

struct VerifyCliOptions {
  std::string path;
  bool json = false;
  unsigned threads = 0;
  bool progress = true;  // --no-progress clears it
};

Status run_verify(const VerifyCliOptions& o) {
  VerifyOptions options;
  options.threads = o.threads;
  VerifyReport report;
  Status st;
  {
    // Scoped: the line ends before the result (or main()'s error line) is printed.
    Progress progress("verify", o.progress);
    options.on_progress = [&progress](int64_t done, int64_t total) {
      progress.update(done, total);
    };
    st = verify_container(o.path, options, &report);
  }
  // A failure is printed by main() like every verb's: {"error": {"type", "message"}}.
  if (!st.ok()) return st;
  if (o.json) {
    nlohmann::ordered_json j = {{"file", o.path}, {"ok", true}};
    j["tensors"] = report.tensors;
    j["chunks"] = report.chunks;
    j["raw_bytes"] = report.raw_bytes;
    j["stored_bytes"] = report.stored_bytes;
    j["file_bytes"] = report.file_bytes;
    fmt::print("{}\n", j.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace));
  } else {
    fmt::print("OK: {} tensors, {} chunks verified\n", report.tensors, report.chunks);
  }
  std::fflush(stdout);
  return st;
}

}  // namespace

void add_verify_command(CLI::App& app, Action& action) {
  auto opts = std::make_shared<VerifyCliOptions>();
  auto* cmd = app.add_subcommand(
      "verify", "Check a .dcllm file completely: structure, checksums, every chunk decoded");
  cmd->add_option("file", opts->path, "the .dcllm container")->required();
  cmd->add_flag("--json", opts->json, "print JSON (schema: docs/cli.md)");
  cmd->add_option("--threads", opts->threads, "decode threads (0 = all)");
  cmd->add_flag("!--no-progress", opts->progress, "No progress line on the terminal");
  cmd->callback([&action, opts] { action = [opts] { return run_verify(*opts); }; });
}

}  // namespace dcllm::cli
