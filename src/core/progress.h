// Progress: "label: 40% (8/20) ETA 12s" redrawn on stderr while long work runs — only when
// stderr is a terminal and not switched off (--no-progress), so logs and pipes stay clean.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace dcllm {

class Progress {
 public:
  // enabled && stderr is a terminal; otherwise every call is a no-op.
  Progress(std::string label, bool enabled);
  ~Progress();  // ends the line if anything was drawn
  // Redraws at most ~10 times a second (always for the last step). `note` is appended.
  void update(int64_t done, int64_t total, const std::string& note = "");

 private:
  std::string label_;
  bool active_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_, last_;
};

// One Progress line per stage of a verb whose work comes in stages (compress: calibrate, then
// encode): a new stage ends the previous stage's line and starts its own, labelled
// `prefix` + stage, so each stage gets its own percentage and ETA.
class StageProgress {
 public:
  explicit StageProgress(bool enabled, std::string prefix = "")
      : enabled_(enabled), prefix_(std::move(prefix)) {}
  void update(std::string_view stage, int64_t done, int64_t total);
  void end() { bar_.reset(); }  // ends the current line (before a result is printed)

 private:
  bool enabled_;
  std::string prefix_;
  std::string stage_;
  std::optional<Progress> bar_;
};

}  // namespace dcllm
