// dcllm command-line entry point: parses the verb and its options, runs it, and turns a failed
// Status into one line on stderr and a non-zero exit. Library code never exits.
#include <algorithm>
#include <cstdio>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "model/printable.h"

namespace {

// A failure: one line on stderr, and with --json also an error object on stdout, so a script
// reading stdout always gets JSON (docs/cli.md).
int fail(bool json, const std::string& kind, const std::string& message) {
  std::fprintf(stderr, "dcllm: error: %s\n", message.c_str());
  if (json) {
    nlohmann::ordered_json j;
    j["error"] = {{"type", kind}, {"message", message}};
    std::printf("%s\n", j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  }
  return 1;
}

}  // namespace

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
  dcllm::cli::add_plan_command(app, action);
  dcllm::cli::add_repack_command(app, action);
  dcllm::cli::add_serve_command(app, action);
  dcllm::cli::add_export_command(app, action);

  // `dcllm foo`: CLI11 would say "A subcommand is required"; name the word and the verbs.
  if (argc > 1 && argv[1][0] != '-') {
    bool known = false;
    std::string verbs;
    for (const CLI::App* sub : app.get_subcommands({})) {
      known |= sub->get_name() == argv[1];
      verbs += (verbs.empty() ? "" : ", ") + sub->get_name();
    }
    if (!known) {
      std::fprintf(stderr, "dcllm: error: unknown command '%s' (commands: %s; see dcllm --help)\n",
                   dcllm::one_line_message(argv[1]).c_str(), verbs.c_str());
      return 1;
    }
  }
  const bool json = std::any_of(argv + 1, argv + argc,
                                [](const char* a) { return std::string_view(a) == "--json"; });
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // Every usage error exits 1 (docs/cli.md), with the message cut to one bounded line.
    return fail(json, "usage", dcllm::one_line_message(e.what()) + " (see --help)");
  }
  if (!action) return 0;
  dcllm::Status st = action();
  // Messages quote file contents (tensor names, JSON); one place makes every one a single
  // bounded line, whatever a reader below forgot to escape or cut.
  if (!st.ok())
    return fail(json, dcllm::status_code_name(st.code()), dcllm::one_line_message(st.message()));
  return 0;
}
