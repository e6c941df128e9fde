// Progress: "label: 40% (8/20) ETA 12s" redrawn on stderr while long work runs — only when
// stderr is a terminal and not switched off (--no-progress), so logs and pipes stay clean.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

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

}  // namespace dcllm
