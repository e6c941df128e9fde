// dcllm command-line entry point: parses the verb and its options, runs it, and turns a failed
// Status into one line on stderr and a non-zero exit. Library code never exits.
#include <cstdio>

#include "cli/commands.h"
#include "model/printable.h"

int main(int argc, char** argv) {
  CLI::App app{"dcllm: double compression for quantized LLMs (quantize, prune, entropy-code, run)"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "dcllm 0.1.0");

  dcllm::cli::Action action;
  dcllm::cli::add_bench_command(app, action);
  dcllm::cli::add_inspect_command(app, action);
  dcllm::cli::add_verify_command(app, action);
  dcllm::cli::add_compress_command(app, action);
  dcllm::cli::add_run_command(app, action);
  dcllm::cli::add_ppl_command(app, action);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (!action) return 0;
  dcllm::Status st = action();
  if (!st.ok()) {
    // Messages quote file contents (tensor names, JSON); one place makes every one a single
    // bounded line, whatever a reader below forgot to escape or cut.
    std::fprintf(stderr, "dcllm: error: %s\n", dcllm::one_line_message(st.message()).c_str());
    return 1;
  }
  return 0;
}
