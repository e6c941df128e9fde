// parallel_for: split [0, n) over up to `threads` std::threads (0 = all hardware threads).
// Workers persist between calls (spin briefly, then sleep), so a call costs microseconds.
#pragma once

#include <cstddef>
#include <functional>

namespace dcllm {

unsigned default_thread_count();
// Calls fn(i) for every i in [0, n); items are taken dynamically so uneven items balance.
void parallel_for(size_t n, unsigned threads, const std::function<void(size_t)>& fn);

}  // namespace dcllm
