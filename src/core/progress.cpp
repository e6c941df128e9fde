// Progress lines with percentage and ETA on a terminal's stderr (docs/cli.md, --no-progress).
#include "core/progress.h"

#include <unistd.h>

#include <cstdio>

namespace dcllm {

Progress::Progress(std::string label, bool enabled)
    : label_(std::move(label)),
      active_(enabled && ::isatty(STDERR_FILENO) == 1),
      start_(std::chrono::steady_clock::now()),
      last_(start_) {}

Progress::~Progress() {
  if (drawn_) std::fputc('\n', stderr);
}

void Progress::update(int64_t done, int64_t total, const std::string& note) {
  if (!active_ || total <= 0) return;
  const auto now = std::chrono::steady_clock::now();
  if (done < total && drawn_ && now - last_ < std::chrono::milliseconds(100)) return;
  last_ = now;
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double eta =
      done > 0 ? elapsed * static_cast<double>(total - done) / static_cast<double>(done) : 0.0;
  std::fprintf(stderr, "\r\033[K%s: %3.0f%% (%lld/%lld) ETA %.0fs%s%s", label_.c_str(),
               100.0 * static_cast<double>(done) / static_cast<double>(total),
               static_cast<long long>(done), static_cast<long long>(total), eta,
               note.empty() ? "" : "  ", note.c_str());
  std::fflush(stderr);
  drawn_ = true;
}

void StageProgress::update(std::string_view stage, int64_t done, int64_t total) {
  if (!bar_ || stage != stage_) {
    bar_.reset();  // ends the previous stage's line
    stage_ = std::string(stage);
    bar_.emplace(prefix_ + stage_, enabled_);
  }
  bar_->update(done, total);
}

}  // namespace dcllm
