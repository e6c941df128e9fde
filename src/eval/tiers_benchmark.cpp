// bench tiers: plans and predictions in this process, measurements in children. A child is the
// dcllm binary itself running `bench run --json` (posix_spawn, not fork: this process may
// already hold the GEMM thread pool, which a forked child would inherit half-alive), so every
// row's peak RSS is VmHWM of a process that ran only that row.
#include "eval/tiers_benchmark.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/byte_size.h"
#include "core/json_limits.h"
#include "dcllm/container.h"
#include "fmt/format.h"
#include "runtime/model_workload.h"

extern char** environ;

namespace dcllm {
namespace {

struct ChildOutput {
  int exit_code = -1;
  std::string out, err;
};

// Runs `argv` (argv[0] the executable), collecting stdout and stderr; a child still running
// after `timeout_s` seconds is killed and the row fails saying so.
Expected<ChildOutput> run_child(const std::vector<std::string>& argv, double timeout_s) {
  int out_pipe[2], err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0 || ::pipe2(err_pipe, O_CLOEXEC) != 0)
    return IoError(fmt::format("bench tiers: pipe failed: {}", std::strerror(errno)));
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err_pipe[1], 2);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, argv[0].c_str(), &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  if (rc != 0) {
    ::close(out_pipe[0]);
    ::close(err_pipe[0]);
    return IoError(fmt::format("bench tiers: cannot run {}: {}", argv[0], std::strerror(rc)));
  }
  ChildOutput r;
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  std::string* sinks[2] = {&r.out, &r.err};
  int open_fds = 2;
  char buf[65536];
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  bool timed_out = false;
  while (open_fds > 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          deadline - std::chrono::steady_clock::now())
                          .count();
    if (left <= 0) {
      timed_out = true;
      ::kill(pid, SIGKILL);
      break;
    }
    if (::poll(fds, 2, static_cast<int>(std::min<int64_t>(left, 1000))) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      const ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        if (sinks[i]->size() < (size_t{16} << 20)) sinks[i]->append(buf, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  for (pollfd& f : fds)
    if (f.fd >= 0) ::close(f.fd);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out)
    return Status(
        StatusCode::kInternal,
        fmt::format("{} {} did not finish within {:.0f} s (killed)", argv[0],
                    argv.size() > 2 ? argv[1] + " " + argv[2] : std::string(), timeout_s));
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

// The last line of a child's stderr (its one-line error).
std::string last_line(std::string e) {
  while (!e.empty() && (e.back() == '\n' || e.back() == '\r')) e.pop_back();
  if (const size_t nl = e.rfind('\n'); nl != std::string::npos) e = e.substr(nl + 1);
  return e;
}

// `dcllm bench run MODEL --weights TIER [--mem-budget B] --json` in a child.
Expected<TierMeasurement> bench_run_child(const std::string& model, const std::string& tier,
                                          uint64_t budget, const TiersOptions& o) {
  if (o.dcllm_binary.empty()) return InvalidArgument("bench tiers: no dcllm binary to run rows");
  std::vector<std::string> argv = {o.dcllm_binary,
                                   "bench",
                                   "run",
                                   model,
                                   "--weights",
                                   tier,
                                   "--json",
                                   "--prompt-tokens",
                                   std::to_string(o.shape.prompt_tokens),
                                   "--gen-tokens",
                                   std::to_string(o.shape.gen_tokens),
                                   "--threads",
                                   std::to_string(o.threads)};
  if (budget > 0) {
    argv.push_back("--mem-budget");
    argv.push_back(std::to_string(budget));
  }
  DCLLM_ASSIGN_OR_RETURN(ChildOutput c, run_child(argv, o.row_timeout_s));
  if (c.exit_code != 0)
    return Status(StatusCode::kInternal, fmt::format("bench run --weights {} failed (exit {}): {}",
                                                     tier, c.exit_code, last_line(c.err)));
  DCLLM_ASSIGN_OR_RETURN(nlohmann::json j,
                         parse_untrusted_json(c.out, "bench run output", "not valid JSON"));
  TierMeasurement m;
  try {
    m.prompt_tokens_per_second = j.at("prompt_tokens_per_second").get<double>();
    m.generation_tokens_per_second = j.at("generation_tokens_per_second").get<double>();
    m.peak_rss_bytes = j.at("peak_rss_bytes").get<uint64_t>();
    if (j.contains("weights_source") && j["weights_source"].is_string())
      m.source = j["weights_source"].get<std::string>();
  } catch (const nlohmann::json::exception& e) {
    return Internal(fmt::format("bench tiers: bench run output lacks a figure: {}", e.what()));
  }
  return m;
}

// Which of today's --weights tiers a plan is, if it is one: every chunk resident-raw, or
// resident-coded (raw-stored chunks resident-raw, as uniform_plan makes them),
// or stream-coded (the stream tier, which keeps nothing whatever the budget).
std::string uniform_tier(const PartialCompressionPlan& plan) {
  bool rr = true, rc = true, sc = true;
  for (const PlannedChunk& ch : plan.chunks) {
    const ChunkPlacement p = ch.placement;
    rr = rr && p == ChunkPlacement::kResidentRaw;
    rc = rc && (p == ChunkPlacement::kResidentCoded || p == ChunkPlacement::kResidentRaw);
    sc = sc && p == ChunkPlacement::kStreamCoded;
  }
  if (rr) return "resident";
  if (rc) return "compressed";
  if (sc) return "stream";
  return "";
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

Expected<TierMeasurement> run_with_plan(const std::string& model,
                                        const PartialCompressionPlan& plan, uint64_t budget_bytes,
                                        const TiersOptions& options) {
  static int row_files = 0;
  DCLLM_ASSIGN_OR_RETURN(ModelContainer c, ModelContainer::open(model));
  const bool servable = check_plan_matches(plan, c.tensors(), model).ok();
  const std::string tier = uniform_tier(plan);
  // Today's tiers, when the file serves the plan as it is (no budget: they keep what they keep).
  if (!tier.empty() && servable) return bench_run_child(model, tier, 0, options);
  // Otherwise repack the file to the plan's storage (the plan is stored in it) and run it in
  // the stream tier under the budget, which follows the stored plan.
  const std::string dir = options.scratch_dir.empty()
                              ? std::filesystem::path(model).parent_path().string()
                              : options.scratch_dir;
  const std::string base = (std::filesystem::path(dir.empty() ? "." : dir) /
                            fmt::format("dcllm-tiers-{}-{}-{}", ::getpid(), ++row_files,
                                        plan.strategy.empty() ? "plan" : plan.strategy))
                               .string();
  const std::string plan_path = base + ".plan.json", repacked = base + ".dcllm";
  struct Cleanup {
    std::string a, b;
    ~Cleanup() {
      std::error_code ec;
      std::filesystem::remove(a, ec);
      std::filesystem::remove(b, ec);
    }
  } cleanup{plan_path, repacked};
  DCLLM_RETURN_IF_ERROR(write_plan_file(plan, plan_path));
  DCLLM_ASSIGN_OR_RETURN(ChildOutput r, run_child({options.dcllm_binary, "repack", model, "-o",
                                                   repacked, "--plan", plan_path},
                                                  options.row_timeout_s));
  if (r.exit_code != 0)
    return Status(StatusCode::kInternal,
                  fmt::format("repack --plan failed (exit {}): {}", r.exit_code, last_line(r.err)));
  if (budget_bytes == 0) return Internal("bench tiers: a plan row without a budget");
  return bench_run_child(repacked, "stream", budget_bytes, options);
}

Expected<TiersReport> run_tiers_benchmark(const std::string& model, const MachineProfile& profile,
                                          const std::string& profile_source,
                                          const TiersOptions& o) {
  DCLLM_ASSIGN_OR_RETURN(ModelContainer c, ModelContainer::open(model));
  TiersReport rep;
  rep.model = model;
  rep.profile = profile_source;
  for (const TensorEntry& t : c.tensors()) {
    if (t.spec.dtype != DType::kI8) continue;
    rep.int8_bytes += t.raw_bytes;
    rep.stored_bytes += t.stored_bytes;
  }
  rep.compression_ratio =
      rep.stored_bytes ? static_cast<double>(rep.int8_bytes) / static_cast<double>(rep.stored_bytes)
                       : 0;

  // One decode of every coded chunk the compressed tier decodes per token (a tied embedding too:
  // it is the classifier).
  {
    std::vector<uint8_t> out;
    const auto t0 = std::chrono::steady_clock::now();
    for (size_t t = 0; t < c.tensors().size(); ++t) {
      const TensorEntry& e = c.tensors()[t];
      if (e.spec.dtype != DType::kI8 || tensor_lookup_only(c, e.spec.name)) continue;
      for (size_t k = 0; k < e.chunks.size(); ++k) {
        if (e.chunks[k].codec == kRawCodecName) continue;
        out.resize(static_cast<size_t>(e.chunks[k].raw_size));
        DCLLM_RETURN_IF_ERROR(c.decode_chunk(t, k, out));
      }
    }
    rep.decode_seconds_per_token = seconds_since(t0);
  }

  PlannerOptions po;
  po.shape = o.shape;
  DCLLM_ASSIGN_OR_RETURN(PlannerInput input, planner_input(c, po));
  auto predicted_row = [&](TierRow& row, const PartialCompressionPlan& plan,
                           const PlannerOptions& opts) -> Status {
    DCLLM_ASSIGN_OR_RETURN(PlannerResult r, predict_plan(c, input, plan, profile, opts));
    row.predicted_tokens_per_second = r.prediction.generation_tokens_per_second;
    row.predicted_prompt_tokens_per_second = r.prediction.prompt_tokens_per_second;
    row.predicted_memory_bytes = r.memory_bytes;
    row.predicted_stages = r.prediction.stages;
    return Status::Ok();
  };
  auto measure = [&](TierRow& row, const PartialCompressionPlan& plan, uint64_t budget) {
    auto m = run_with_plan(model, plan, budget, o);
    if (m.ok())
      row.measured = *m;
    else
      row.error = m.status().message();
  };

  // Three tier rows, then a planned and a stream-raw row per budget.
  const auto total_rows = static_cast<int64_t>(3 + 2 * o.budgets.size());
  auto row_done = [&] {
    if (o.on_progress) o.on_progress(static_cast<int64_t>(rep.rows.size()), total_rows);
  };
  row_done();
  for (ChunkPlacement p : {ChunkPlacement::kResidentRaw, ChunkPlacement::kResidentCoded,
                           ChunkPlacement::kStreamCoded}) {
    TierRow row;
    row.tier = row.plan = p == ChunkPlacement::kResidentRaw     ? "resident"
                          : p == ChunkPlacement::kResidentCoded ? "compressed"
                                                                : "stream";
    PartialCompressionPlan plan = uniform_plan(c.tensors(), p);
    plan.strategy = row.plan;
    DCLLM_RETURN_IF_ERROR(predicted_row(row, plan, po));
    measure(row, plan, 0);
    rep.rows.push_back(std::move(row));
    row_done();
  }
  for (double f : o.budgets) {
    const uint64_t budget =
        static_cast<uint64_t>(std::floor(f * static_cast<double>(rep.int8_bytes)));
    for (bool raw_only : {false, true}) {
      TierRow row;
      row.tier = "stream";
      row.plan = raw_only ? "stream-raw" : "planned";
      row.budget_bytes = budget;
      row.budget_fraction = f;
      PlannerOptions bo = po;
      bo.budget_bytes = budget;
      bo.raw_only = raw_only;
      auto r = budget > 0 ? make_plan(c, input, profile, bo)
                          : Expected<PlannerResult>(InvalidArgument("budget of 0 bytes"));
      if (!r.ok()) {
        row.error = r.status().message();
        rep.rows.push_back(std::move(row));
        row_done();
        continue;
      }
      row.strategy = r->plan.strategy;
      row.predicted_tokens_per_second = r->prediction.generation_tokens_per_second;
      row.predicted_prompt_tokens_per_second = r->prediction.prompt_tokens_per_second;
      row.predicted_memory_bytes = r->memory_bytes;
      row.predicted_stages = r->prediction.stages;
      measure(row, r->plan, budget);
      rep.rows.push_back(std::move(row));
      row_done();
    }
  }
  return rep;
}

std::vector<TierCheck> tiers_checks(const TiersReport& rep) {
  std::vector<TierCheck> out;
  auto find = [&](const std::string& plan, double fraction = -1) -> const TierRow* {
    for (const TierRow& r : rep.rows)
      if (r.plan == plan && (fraction < 0 || std::fabs(r.budget_fraction - fraction) < 1e-9))
        return &r;
    return nullptr;
  };
  const TierRow* res = find("resident");
  const TierRow* comp = find("compressed");
  {
    TierCheck k{
        "compressed peak RSS <= resident peak RSS - 0.9 x (INT8 bytes - stored bytes)", {}, ""};
    if (res && comp && res->measured && comp->measured) {
      const double saving =
          0.9 * (static_cast<double>(rep.int8_bytes) - static_cast<double>(rep.stored_bytes));
      const double limit = static_cast<double>(res->measured->peak_rss_bytes) - saving;
      k.passed = static_cast<double>(comp->measured->peak_rss_bytes) <= limit;
      k.detail =
          fmt::format("{:.1f} MB vs limit {:.1f} MB (resident {:.1f} MB, 0.9 x saving {:.1f} MB)",
                      comp->measured->peak_rss_bytes / 1e6, limit / 1e6,
                      res->measured->peak_rss_bytes / 1e6, saving / 1e6);
    }
    out.push_back(k);
  }
  {
    TierCheck k{"stream rows: peak RSS <= budget + 10%", {}, ""};
    bool any = false, all = true;
    for (const TierRow& r : rep.rows) {
      if (r.tier != "stream" || r.budget_bytes == 0 || !r.measured) continue;
      any = true;
      const bool ok = static_cast<double>(r.measured->peak_rss_bytes) <=
                      1.1 * static_cast<double>(r.budget_bytes);
      all = all && ok;
      k.detail +=
          fmt::format("{}{} @{:.2f}: {:.1f}/{:.1f} MB", k.detail.empty() ? "" : "; ", r.plan,
                      r.budget_fraction, r.measured->peak_rss_bytes / 1e6, r.budget_bytes / 1e6);
    }
    if (any) k.passed = all;
    out.push_back(k);
  }
  {
    TierCheck k{"predicted generation tokens/s within 15% of measured on every row", {}, ""};
    bool any = false, all = true;
    for (const TierRow& r : rep.rows) {
      if (!r.measured || r.measured->generation_tokens_per_second <= 0) continue;
      any = true;
      const double rel =
          r.predicted_tokens_per_second / r.measured->generation_tokens_per_second - 1;
      all = all && std::fabs(rel) <= 0.15;
      k.detail +=
          fmt::format("{}{}{}: {:+.0f}%", k.detail.empty() ? "" : "; ", r.plan,
                      r.budget_bytes ? fmt::format(" @{:.2f}", r.budget_fraction) : "", 100 * rel);
    }
    if (any) k.passed = all;
    out.push_back(k);
  }
  {
    TierCheck k{"at budget 0.5: planned >= 0.9 x CR x stream-raw generation tokens/s", {}, ""};
    const TierRow* p = find("planned", 0.5);
    const TierRow* raw = find("stream-raw", 0.5);
    if (p && raw && p->measured && raw->measured) {
      const double need = 0.9 * rep.compression_ratio * raw->measured->generation_tokens_per_second;
      k.passed = p->measured->generation_tokens_per_second >= need;
      k.detail = fmt::format("{:.2f} vs {:.2f} tok/s (CR {:.3f}, stream-raw {:.2f})",
                             p->measured->generation_tokens_per_second, need, rep.compression_ratio,
                             raw->measured->generation_tokens_per_second);
    }
    out.push_back(k);
  }
  {
    TierCheck k{"overlap: compressed token time <= 1.1 x max(decode, compute)", {}, ""};
    if (res && comp && res->measured && comp->measured &&
        comp->measured->generation_tokens_per_second > 0 &&
        res->measured->generation_tokens_per_second > 0) {
      const double token = 1.0 / comp->measured->generation_tokens_per_second;
      const double compute = 1.0 / res->measured->generation_tokens_per_second;
      const double decode = rep.decode_seconds_per_token;
      k.passed = token <= 1.1 * std::max(decode, compute);
      k.detail = fmt::format("token {:.1f} ms; decode {:.1f} ms, compute {:.1f} ms (sum {:.1f} ms)",
                             token * 1e3, decode * 1e3, compute * 1e3, (decode + compute) * 1e3);
    }
    out.push_back(k);
  }
  return out;
}

}  // namespace dcllm
