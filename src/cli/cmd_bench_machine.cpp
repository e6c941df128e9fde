// `dcllm bench machine [--json] [-o PROFILE.json]`: measures the figures the throughput model
// needs on this machine (docs/runtime.md "Machine profile"). JSON: the profile object itself
// (machine_profile_to_json), which `dcllm plan --profile` reads back.
#include <fmt/core.h>

#include <memory>
#include <string>

#include "cli/commands.h"
#include "core/byte_size.h"
#include "core/file_identity.h"
#include "eval/machine_profile.h"

namespace dcllm::cli {
namespace {

struct BenchMachineArgs {
  MachineMeasureOptions measure;
  std::string output;
  std::string storage_size = "256MiB";
  bool json = false;
};

std::string per_thread(const std::vector<double>& v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i)
    s += fmt::format("{}{}: {:.0f}", i ? ", " : "", i + 1, v[i]);
  return s;
}

Status bench_machine(BenchMachineArgs a) {
  DCLLM_ASSIGN_OR_RETURN(a.measure.storage_bytes,
                         parse_byte_size(a.storage_size, "--storage-size"));
  if (a.measure.storage_bytes < (uint64_t{4} << 20))
    return InvalidArgument("--storage-size: at least 4 MiB (smaller files read from caches)");
  // Before ~10 s of measuring: an output that cannot be written.
  if (!a.output.empty()) DCLLM_RETURN_IF_ERROR(check_output_path(a.output, {}));
  DCLLM_ASSIGN_OR_RETURN(MachineProfile p, measure_machine_profile(a.measure));
  if (!a.output.empty()) DCLLM_RETURN_IF_ERROR(write_machine_profile(p, a.output));
  if (a.json) {
    fmt::print("{}\n", machine_profile_to_json(p).dump());
    return Status::Ok();
  }
  fmt::print("machine profile (MB = 10^6 bytes; {} hardware threads; GEMM on {} threads)\n",
             p.cores, p.threads);
  fmt::print("  storage read, cold     {:8.0f} MB/s  ({}, {}{} MiB in {} KiB requests)\n",
             p.storage_read_mbps, p.storage_method,
             a.measure.read_file.empty() ? "" : a.measure.read_file + ", up to ",
             a.measure.storage_bytes >> 20, a.measure.read_request_bytes >> 10);
  fmt::print("  memory read            {} MB/s (by threads)\n", per_thread(p.memory_read_mbps));
  fmt::print("  memory copy, 1 thread  {:8.0f} MB/s\n", p.memory_copy_mbps);
  fmt::print("  rANS decode            {} MB/s (raw bytes, by threads)\n",
             per_thread(p.rans_decode_mbps));
  fmt::print("  INT8 GEMV, batch 1     {:8.0f} MB/s of weights\n", p.gemv_mbps);
  fmt::print("  INT8 GEMM, batch {:<4}  {:8.0f} MB/s of weights x tokens\n", p.prompt_batch,
             p.gemm_prompt_mbps);
  fmt::print("  linear call overhead   {:8.1f} us\n", p.linear_overhead_us);
  fmt::print("  GEMV while decoding    {:8.0f} MB/s; decode while GEMV {:.0f} MB/s\n",
             p.gemv_mbps_while_decoding, p.rans_decode_mbps_while_gemv);
  if (!a.output.empty()) fmt::print("written to {}\n", a.output);
  return Status::Ok();
}

}  // namespace

void add_bench_machine_command(CLI::App& bench, Action& action) {
  auto a = std::make_shared<BenchMachineArgs>();
  auto* cmd = bench.add_subcommand(
      "machine",
      "Measure this machine for the throughput model: cold storage reads (O_DIRECT), memory "
      "reads, rANS decode by threads, INT8 GEMV/GEMM (about 10 s)");
  cmd->add_option("-o,--output", a->output,
                  "Write the profile here (dcllm plan reads " + default_machine_profile_path() +
                      " when given no --profile)");
  cmd->add_flag("--json", a->json, "Print the profile as one JSON object");
  cmd->add_option("--threads", a->measure.threads, "GEMV/GEMM threads (as bench run's --threads)")
      ->capture_default_str()
      ->check(CLI::Range(1u, 256u));
  cmd->add_option("--dir", a->measure.dir,
                  "Directory for the storage test file (default: the temp directory; use the "
                  "models' file system)")
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--read-file", a->measure.read_file,
                  "Time cold reads of this existing file (e.g. the model to stream) instead of a "
                  "new one")
      ->check(CLI::ExistingFile);
  cmd->add_option("--storage-size", a->storage_size,
                  "Size of the storage test file (bytes, or with KiB/MiB/GiB)")
      ->capture_default_str();
  cmd->callback([&action, a] { action = [a] { return bench_machine(*a); }; });
}

}  // namespace dcllm::cli
