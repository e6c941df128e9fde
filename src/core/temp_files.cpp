// Temporary files: O_TMPFILE where possible, O_EXCL-created random names otherwise, and the
// fixed-size registry whose signal handler only calls async-signal-safe functions.
#include "core/temp_files.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>

namespace dcllm {

std::string parent_directory(const std::string& path) {
  size_t end = path.size();
  while (end > 1 && path[end - 1] == '/') --end;  // "dir/" names dir itself
  const size_t slash = path.find_last_of('/', end - 1);
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

int open_unnamed_temp(const std::string& dir, bool linkable) {
#ifdef O_TMPFILE
  int flags = O_TMPFILE | O_RDWR | O_CLOEXEC | (linkable ? 0 : O_EXCL);
  return ::open(dir.c_str(), flags, 0666);
#else
  (void)dir;
  (void)linkable;
  errno = EOPNOTSUPP;
  return -1;
#endif
}

std::string random_temp_name(const std::string& prefix) {
  static const char kAlphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  uint8_t bytes[6];
  if (::getrandom(bytes, sizeof(bytes), 0) != static_cast<ssize_t>(sizeof(bytes))) {
    // No entropy source: the O_EXCL retry loop still guarantees a new file, only later.
    static std::atomic<uint64_t> counter{0};
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t x = static_cast<uint64_t>(ts.tv_nsec) ^ (static_cast<uint64_t>(::getpid()) << 20) ^
                 (counter.fetch_add(1) * 0x9E3779B97F4A7C15ull);
    for (uint8_t& b : bytes) {
      b = static_cast<uint8_t>(x);
      x >>= 8;
    }
  }
  std::string name = prefix;
  for (uint8_t b : bytes) name += kAlphabet[b % (sizeof(kAlphabet) - 1)];
  return name;
}

Expected<NamedTemp> create_named_temp(const std::string& prefix) {
  for (int attempt = 0; attempt < 100; ++attempt) {
    NamedTemp t;
    t.path = random_temp_name(prefix);
    t.fd = ::open(t.path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (t.fd >= 0) return t;
    if (errno != EEXIST)
      return IoError(t.path + ": cannot create temporary file: " + std::strerror(errno));
  }
  return IoError(prefix + "XXXXXX: cannot find an unused temporary file name");
}

namespace {

// Slot states: a handler only reads a path whose slot is kFull.
constexpr int kFree = 0, kWriting = 1, kFull = 2;
constexpr int kSlots = 64;
constexpr size_t kMaxPath = 4096;
static_assert(std::atomic<int>::is_always_lock_free, "the signal handler needs lock-free atomics");

struct Slot {
  std::atomic<int> state{kFree};
  char path[kMaxPath];
};
Slot g_slots[kSlots];

constexpr int kSignals[] = {SIGINT, SIGTERM, SIGHUP};
struct sigaction g_previous[sizeof(kSignals) / sizeof(kSignals[0])];

void on_fatal_signal(int sig) {
  const int saved_errno = errno;
  for (Slot& s : g_slots) {
    if (s.state.load(std::memory_order_acquire) == kFull) ::unlink(s.path);
  }
  for (size_t i = 0; i < sizeof(kSignals) / sizeof(kSignals[0]); ++i) {
    if (kSignals[i] == sig) ::sigaction(sig, &g_previous[i], nullptr);
  }
  errno = saved_errno;
  // Blocked while this handler runs: delivered with the previous disposition once it returns.
  ::raise(sig);
}

}  // namespace

int register_temp_path(const std::string& path) {
  if (path.size() >= kMaxPath) return -1;
  for (int i = 0; i < kSlots; ++i) {
    int expected = kFree;
    if (!g_slots[i].state.compare_exchange_strong(expected, kWriting, std::memory_order_acquire))
      continue;
    std::memcpy(g_slots[i].path, path.c_str(), path.size() + 1);
    g_slots[i].state.store(kFull, std::memory_order_release);
    return i;
  }
  return -1;
}

void unregister_temp_path(int slot) {
  if (slot < 0 || slot >= kSlots) return;
  g_slots[slot].state.store(kFree, std::memory_order_release);
}

void install_temp_cleanup_handlers() {
  static std::once_flag once;
  std::call_once(once, [] {
    for (size_t i = 0; i < sizeof(kSignals) / sizeof(kSignals[0]); ++i) {
      struct sigaction current {};
      if (::sigaction(kSignals[i], nullptr, &current) != 0) continue;
      if (current.sa_handler == SIG_IGN) continue;  // nohup and friends: keep ignoring it
      g_previous[i] = current;
      struct sigaction sa {};
      sa.sa_handler = on_fatal_signal;
      sigemptyset(&sa.sa_mask);
      for (int other : kSignals) sigaddset(&sa.sa_mask, other);  // one cleanup at a time
      sa.sa_flags = SA_RESTART;
      ::sigaction(kSignals[i], &sa, nullptr);
    }
  });
}

}  // namespace dcllm
