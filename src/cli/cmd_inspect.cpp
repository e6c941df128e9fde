// The `inspect` verb: lists a .dcllm container's metadata, tensors, codecs and ratios (table or
// --json, schema in docs/cli.md); any other file goes to inspect_model_file.
#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "api/inspect_json.h"
#include "cli/commands.h"
#include "dcllm/container.h"
#include "model/printable.h"

namespace dcllm::cli {
namespace {

struct InspectOptions {
  std::string path;
  bool json = false;
  bool chunks = false;
};

std::string shape_text(const std::vector<uint64_t>& shape) {
  if (shape.empty()) return "scalar";
  std::string s;
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? "x" : "") + std::to_string(shape[i]);
  return s;
}

std::string ratio_text(uint64_t raw, uint64_t stored) {
  if (stored == 0) return "-";
  return fmt::format("{:.3f}", static_cast<double>(raw) / static_cast<double>(stored));
}

// The table's view of the metadata: a .dcllm carries its vocab, merges and calibration
// statistics there (600,000 lines for SmolLM2 in full), so long arrays print as "[N values]",
// long strings and key lists are cut, and nesting past kMaxPrintDepth prints as "...". --json
// prints everything.
constexpr size_t kMaxListed = 16;
constexpr size_t kMaxKeys = 64;
constexpr size_t kMaxStringBytes = 200;
constexpr int kMaxPrintDepth = 16;  // the reader refuses past 64 (core/json_limits.h)

std::string quoted(const std::string& s) {
  const auto replace = nlohmann::json::error_handler_t::replace;
  if (s.size() <= kMaxStringBytes) return nlohmann::json(s).dump(-1, ' ', false, replace);
  size_t cut = kMaxStringBytes;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;  // whole chars
  return nlohmann::json(s.substr(0, cut)).dump(-1, ' ', false, replace) +
         fmt::format("... ({} bytes)", s.size());
}

void summarise(const nlohmann::json& v, int indent, int depth, std::string& out) {
  const std::string pad(static_cast<size_t>(indent) + 2, ' ');
  if (v.is_string()) {
    out += quoted(v.get_ref<const std::string&>());
  } else if (!v.is_structured()) {
    out += v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  } else if (v.empty()) {
    out += v.is_array() ? "[]" : "{}";
  } else if (depth >= kMaxPrintDepth) {
    out += v.is_array() ? "[...]" : "{...}";
  } else if (v.is_array() && v.size() > kMaxListed) {
    out += fmt::format("[{} values]", v.size());
  } else if (v.is_array()) {
    bool scalars = true;
    for (const auto& e : v) scalars = scalars && !e.is_structured();
    out += scalars ? "[" : "[\n";
    for (size_t i = 0; i < v.size(); ++i) {
      if (!scalars) out += pad;
      summarise(v[i], indent + 2, depth + 1, out);
      if (i + 1 < v.size()) out += scalars ? ", " : ",\n";
    }
    out += scalars ? "]" : "\n" + std::string(static_cast<size_t>(indent), ' ') + "]";
  } else {
    out += "{\n";
    size_t listed = 0;
    for (const auto& [key, value] : v.items()) {
      if (listed == kMaxKeys) {
        out += fmt::format("{}... ({} more keys)\n", pad, v.size() - listed);
        break;
      }
      out += pad + quoted(key) + ": ";
      summarise(value, indent + 2, depth + 1, out);
      out += ++listed < v.size() ? ",\n" : "\n";
    }
    out += std::string(static_cast<size_t>(indent), ' ') + "}";
  }
}

void print_table(const ModelContainer& c, bool with_chunks) {
  fmt::print("{}: dcllm container v{}, {} bytes, {} tensors, {} chunks\n", c.path(), c.version(),
             c.file_bytes(), c.tensors().size(), c.chunk_count());
  std::string meta;
  summarise(c.metadata(), 0, 0, meta);
  fmt::print("metadata:\n");
  size_t start = 0;
  while (start <= meta.size()) {
    size_t end = meta.find('\n', start);
    if (end == std::string::npos) end = meta.size();
    fmt::print("  {}\n", std::string_view(meta).substr(start, end - start));
    start = end + 1;
  }

  std::vector<std::vector<std::string>> rows;
  rows.push_back({"tensor", "shape", "dtype", "quant", "codec", "chunks", "raw bytes",
                  "stored bytes", "ratio"});
  for (const auto& t : c.tensors()) {
    auto codecs = api::tensor_codecs(t);
    std::string codec_text;
    for (const auto& name : codecs) codec_text += (codec_text.empty() ? "" : "+") + name;
    rows.push_back({one_line_message(t.spec.name, 200), shape_text(t.spec.shape),
                    std::string(dtype_name(t.spec.dtype)), quant_scheme_name(t.spec.quant),
                    codec_text.empty() ? "-" : codec_text, std::to_string(t.chunks.size()),
                    std::to_string(t.raw_bytes), std::to_string(t.stored_bytes),
                    ratio_text(t.raw_bytes, t.stored_bytes)});
  }
  rows.push_back({"total", "", "", "", "", std::to_string(c.chunk_count()),
                  std::to_string(c.raw_bytes()), std::to_string(c.stored_bytes()),
                  ratio_text(c.raw_bytes(), c.stored_bytes())});
  std::vector<size_t> width(rows[0].size(), 0);
  for (const auto& r : rows)
    for (size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  auto print_row = [&](const std::vector<std::string>& r) {
    std::string line;
    for (size_t i = 0; i < r.size(); ++i) {
      bool numeric = i >= 5;  // counts, sizes and ratios read best right-aligned
      line +=
          numeric ? fmt::format("{:>{}}", r[i], width[i]) : fmt::format("{:<{}}", r[i], width[i]);
      if (i + 1 < r.size()) line += "  ";
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    fmt::print("{}\n", line);
  };
  for (size_t i = 0; i < rows.size(); ++i) {
    print_row(rows[i]);
    if (i >= 1 && i <= c.tensors().size() && with_chunks)
      for (size_t k = 0; k < c.tensors()[i - 1].chunks.size(); ++k) {
        const auto& ch = c.tensors()[i - 1].chunks[k];
        fmt::print("    chunk {}: offset {} stored {} raw [{}, +{}) xxh3 {:016x} {}\n", k,
                   ch.offset, ch.stored_size, ch.raw_offset, ch.raw_size, ch.xxh3, ch.codec);
      }
  }
  fmt::print("file: {} bytes (raw/file ratio {})\n", c.file_bytes(),
             ratio_text(c.raw_bytes(), c.file_bytes()));
}

Status run_inspect(const InspectOptions& o) {
  auto is_container = is_container_file(o.path);
  if (!is_container) return is_container.status();
  if (!*is_container) return inspect_model_file(o.path, o.json);
  auto c = ModelContainer::open(o.path);
  if (!c) return c.status();
  if (o.json)
    fmt::print("{}\n", api::container_json(*c, o.chunks)
                           .dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace));
  else
    print_table(*c, o.chunks);
  std::fflush(stdout);
  return Status::Ok();
}

}  // namespace

void add_inspect_command(CLI::App& app, Action& action) {
  auto opts = std::make_shared<InspectOptions>();
  auto* cmd = app.add_subcommand(
      "inspect", "Show a .dcllm container's metadata and tensors (or describe a model file)");
  cmd->add_option("file", opts->path, "a .dcllm container or a model file")->required();
  cmd->add_flag("--json", opts->json, "print JSON (schema: docs/cli.md)");
  cmd->add_flag("--chunks", opts->chunks, "also list every chunk (.dcllm only)");
  cmd->callback([&action, opts] { action = [opts] { return run_inspect(*opts); }; });
}

}  // namespace dcllm::cli
