// MachineProfile: its fall-back accessors and its JSON file (what `dcllm bench machine -o`
// writes and `dcllm plan --profile` reads), validated like any untrusted input.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>

#include "core/atomic_file.h"
#include "core/json_limits.h"
#include "core/mapped_file.h"
#include "fmt/format.h"
#include "runtime/throughput_model.h"

namespace dcllm {
namespace {

constexpr uint64_t kMaxProfileBytes = uint64_t{1} << 20;
constexpr size_t kMaxThreadEntries = 256;

double pick(const std::vector<double>& v, unsigned t) {
  if (v.empty()) return 0;
  const size_t i = std::clamp<size_t>(t, 1, v.size()) - 1;
  return v[i];
}

Status bad(std::string_view file, std::string_view what) {
  return Corrupt(fmt::format("{}: not a valid machine profile: {}", file, what));
}

// A rate: finite, > 0 when required, >= 0 when optional (0 = unmeasured).
Expected<double> rate(const nlohmann::json& j, const char* key, std::string_view file,
                      bool required) {
  auto it = j.find(key);
  if (it == j.end()) {
    if (required) return bad(file, fmt::format("missing \"{}\"", key));
    return 0.0;
  }
  if (!it->is_number()) return bad(file, fmt::format("\"{}\" must be a number", key));
  const double v = it->get<double>();
  if (!std::isfinite(v) || v < 0 || (required && v <= 0) || v > 1e12)
    return bad(file, fmt::format("\"{}\" = {} is out of range", key, v));
  return v;
}

Expected<std::vector<double>> rates(const nlohmann::json& j, const char* key,
                                    std::string_view file) {
  auto it = j.find(key);
  if (it == j.end()) return bad(file, fmt::format("missing \"{}\"", key));
  if (!it->is_array() || it->empty() || it->size() > kMaxThreadEntries)
    return bad(file, fmt::format("\"{}\" must be an array of 1 to {} numbers (one per thread "
                                 "count)",
                                 key, kMaxThreadEntries));
  std::vector<double> out;
  out.reserve(it->size());
  for (const auto& v : *it) {
    if (!v.is_number() || !std::isfinite(v.get<double>()) || v.get<double>() <= 0 ||
        v.get<double>() > 1e12)
      return bad(file, fmt::format("\"{}\" holds a value that is not a positive number", key));
    out.push_back(v.get<double>());
  }
  return out;
}

Expected<uint64_t> count(const nlohmann::json& j, const char* key, std::string_view file,
                         uint64_t lo, uint64_t hi, uint64_t fallback) {
  auto it = j.find(key);
  if (it == j.end()) return fallback;
  if (!it->is_number_integer() || it->get<int64_t>() < static_cast<int64_t>(lo) ||
      it->get<int64_t>() > static_cast<int64_t>(hi))
    return bad(file, fmt::format("\"{}\" must be an integer in [{}, {}]", key, lo, hi));
  return it->get<uint64_t>();
}

Expected<std::string> text(const nlohmann::json& j, const char* key, std::string_view file) {
  auto it = j.find(key);
  if (it == j.end()) return std::string();
  if (!it->is_string() || it->get_ref<const std::string&>().size() > 256)
    return bad(file, fmt::format("\"{}\" must be a string of at most 256 bytes", key));
  return it->get<std::string>();
}

}  // namespace

double MachineProfile::memory_read(unsigned t) const {
  return pick(memory_read_mbps, t);
}
double MachineProfile::rans_decode(unsigned t) const {
  return pick(rans_decode_mbps, t);
}
double MachineProfile::gemv_contended() const {
  return gemv_mbps_while_decoding > 0 ? gemv_mbps_while_decoding : gemv_mbps;
}
double MachineProfile::decode_contended() const {
  return rans_decode_mbps_while_gemv > 0 ? rans_decode_mbps_while_gemv : rans_decode(1);
}

nlohmann::json machine_profile_to_json(const MachineProfile& p) {
  return {{"threads", p.threads},
          {"cores", p.cores},
          {"storage_read_mbps", p.storage_read_mbps},
          {"storage_method", p.storage_method},
          {"memory_read_mbps", p.memory_read_mbps},
          {"memory_copy_mbps", p.memory_copy_mbps},
          {"rans_decode_mbps", p.rans_decode_mbps},
          {"gemv_mbps", p.gemv_mbps},
          {"gemm_prompt_mbps", p.gemm_prompt_mbps},
          {"prompt_batch", p.prompt_batch},
          {"linear_overhead_us", p.linear_overhead_us},
          {"gemv_mbps_while_decoding", p.gemv_mbps_while_decoding},
          {"rans_decode_mbps_while_gemv", p.rans_decode_mbps_while_gemv},
          {"source", p.source}};
}

Expected<MachineProfile> machine_profile_from_json(const nlohmann::json& j, std::string_view file) {
  if (!j.is_object()) return bad(file, "the top level must be an object");
  MachineProfile p;
  DCLLM_ASSIGN_OR_RETURN(uint64_t threads, count(j, "threads", file, 1, kMaxThreadEntries, 2));
  DCLLM_ASSIGN_OR_RETURN(uint64_t cores, count(j, "cores", file, 0, 1 << 20, 0));
  p.threads = static_cast<unsigned>(threads);
  p.cores = static_cast<unsigned>(cores);
  DCLLM_ASSIGN_OR_RETURN(p.storage_read_mbps, rate(j, "storage_read_mbps", file, true));
  DCLLM_ASSIGN_OR_RETURN(p.storage_method, text(j, "storage_method", file));
  DCLLM_ASSIGN_OR_RETURN(p.memory_read_mbps, rates(j, "memory_read_mbps", file));
  DCLLM_ASSIGN_OR_RETURN(p.memory_copy_mbps, rate(j, "memory_copy_mbps", file, false));
  DCLLM_ASSIGN_OR_RETURN(p.rans_decode_mbps, rates(j, "rans_decode_mbps", file));
  DCLLM_ASSIGN_OR_RETURN(p.gemv_mbps, rate(j, "gemv_mbps", file, true));
  DCLLM_ASSIGN_OR_RETURN(p.gemm_prompt_mbps, rate(j, "gemm_prompt_mbps", file, true));
  DCLLM_ASSIGN_OR_RETURN(uint64_t batch, count(j, "prompt_batch", file, 2, 4096, 64));
  p.prompt_batch = static_cast<int64_t>(batch);
  DCLLM_ASSIGN_OR_RETURN(p.linear_overhead_us, rate(j, "linear_overhead_us", file, false));
  DCLLM_ASSIGN_OR_RETURN(p.gemv_mbps_while_decoding,
                         rate(j, "gemv_mbps_while_decoding", file, false));
  DCLLM_ASSIGN_OR_RETURN(p.rans_decode_mbps_while_gemv,
                         rate(j, "rans_decode_mbps_while_gemv", file, false));
  DCLLM_ASSIGN_OR_RETURN(p.source, text(j, "source", file));
  return p;
}

Expected<MachineProfile> read_machine_profile(const std::string& path) {
  DCLLM_ASSIGN_OR_RETURN(const int fd, open_regular_file(path));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0)
    return IoError(fmt::format("{}: cannot stat: {}", path, std::strerror(errno)));
  if (static_cast<uint64_t>(st.st_size) > kMaxProfileBytes)
    return bad(path,
               fmt::format("{} bytes (a profile is at most {})", st.st_size, kMaxProfileBytes));
  std::string body(static_cast<size_t>(st.st_size), '\0');
  size_t got = 0;
  while (got < body.size()) {
    const ssize_t n = ::pread(fd, body.data() + got, body.size() - got, static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return IoError(fmt::format("{}: read failed: {}", path, std::strerror(errno)));
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  body.resize(got);
  DCLLM_ASSIGN_OR_RETURN(nlohmann::json j, parse_untrusted_json(body, path, "not valid JSON"));
  return machine_profile_from_json(j, path);
}

Status write_machine_profile(const MachineProfile& p, const std::string& path) {
  const std::string body = machine_profile_to_json(p).dump(1) + "\n";
  DCLLM_ASSIGN_OR_RETURN(AtomicFileWriter w, AtomicFileWriter::create(path));
  DCLLM_RETURN_IF_ERROR(w.write({reinterpret_cast<const uint8_t*>(body.data()), body.size()}));
  return w.commit();
}

}  // namespace dcllm
