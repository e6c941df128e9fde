// The codec registry: maps the stable CLI/report names to codec instances, in report order
// (ours first after the raw baseline, then the general-purpose libraries we compare against).
#include <functional>
#include <string>
#include <vector>

#include "codec/codec_factories.h"

namespace dcllm {
namespace {

struct CodecEntry {
  const char* name;
  std::function<std::unique_ptr<Codec>()> make;
};

const std::vector<CodecEntry>& codec_table() {
  using namespace codec_detail;
  static const std::vector<CodecEntry> table = {
      {"raw", make_raw_codec},
      {"rans", make_rans_codec},
      {"htscodecs-rans32x16", make_htscodecs_rans32x16_codec},
      {"zstd-1", [] { return make_zstd_codec(1); }},
      {"zstd-19", [] { return make_zstd_codec(19); }},
      {"lz4", make_lz4_codec},
      {"snappy", make_snappy_codec},
      {"deflate-6", [] { return make_deflate_codec(6); }},
  };
  return table;
}

}  // namespace

std::vector<std::string> codec_names() {
  std::vector<std::string> names;
  for (const CodecEntry& entry : codec_table()) names.emplace_back(entry.name);
  return names;
}

Expected<std::unique_ptr<Codec>> make_codec(std::string_view name) {
  for (const CodecEntry& entry : codec_table()) {
    if (name == entry.name) return entry.make();
  }
  std::string known;
  for (const CodecEntry& entry : codec_table()) {
    if (!known.empty()) known += ", ";
    known += entry.name;
  }
  return InvalidArgument("unknown codec '" + std::string(name) + "' (known: " + known + ")");
}

}  // namespace dcllm
