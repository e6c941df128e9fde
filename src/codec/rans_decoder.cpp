// The rANS decoder front end: validates the stream, builds the decode table once, and decodes
// segments in parallel with the fastest kernel the CPU has (scalar finishes each segment's tail).
#include <atomic>
#include <cstring>
#include <mutex>
#include <string>

#include "codec/rans_stream.h"
#include "core/cpu_features.h"
#include "core/parallel.h"

namespace dcllm {

using rans::DecodeTable;
using rans::LaneCursor;

const char* rans_isa_name(RansIsa isa) {
  switch (isa) {
    case RansIsa::kAuto:
      return "auto";
    case RansIsa::kScalar:
      return "scalar";
    case RansIsa::kAvx2:
      return "avx2";
    case RansIsa::kAvx512:
      return "avx512";
  }
  return "?";
}

bool rans_isa_supported(RansIsa isa) {
  switch (isa) {
    case RansIsa::kAvx2:
      return cpu_features().avx2;
    case RansIsa::kAvx512:
      return cpu_features().avx512;
    default:
      return true;
  }
}

namespace {

RansIsa resolve_isa(RansIsa isa) {
  if (isa != RansIsa::kAuto) return isa;
  if (cpu_features().avx512) return RansIsa::kAvx512;
  if (cpu_features().avx2) return RansIsa::kAvx2;
  return RansIsa::kScalar;
}

bool decode_segment(const DecodeTable& table, RansIsa isa, const rans::Segment& seg,
                    std::span<uint8_t> out) {
  LaneCursor c;
  for (int lane = 0; lane < kRansLanes; ++lane) {
    const uint8_t* p = seg.states.data() + 4 * lane;
    c.state[lane] =
        uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
  }
  c.words = seg.words.data();
  c.words_end = seg.words.data() + seg.words.size();
  c.esc = seg.escapes.data();
  c.esc_end = seg.escapes.data() + seg.escapes.size();
  size_t done = 0;
  bool ok = true;
  if (isa == RansIsa::kAvx512) ok = rans::decode_steps_avx512(table, c, out, done);
  if (isa == RansIsa::kAvx2) ok = rans::decode_steps_avx2(table, c, out, done);
  if (!ok || !rans::decode_symbols_scalar(table, c, done, out.subspan(done))) return false;
  // A valid segment ends exactly where the encoder started: every lane back at the initial
  // state, every word and every escape consumed. This catches most corruption that checksums
  // would.
  if (c.words != c.words_end || c.esc != c.esc_end) return false;
  for (uint32_t x : c.state)
    if (x != rans::kStateLow) return false;
  return true;
}

}  // namespace

Expected<uint64_t> rans_raw_size(std::span<const uint8_t> in) {
  DCLLM_ASSIGN_OR_RETURN(rans::ParsedStream s, rans::parse_stream(in));
  return s.header.raw_size;
}

Status rans_decode(std::span<const uint8_t> in, std::span<uint8_t> out,
                   const RansDecodeOptions& options) {
  DCLLM_ASSIGN_OR_RETURN(rans::ParsedStream s, rans::parse_stream(in));
  if (s.header.raw_size != out.size())
    return Corrupt("rans stream: raw size " + std::to_string(s.header.raw_size) +
                   " does not match expected " + std::to_string(out.size()));
  if (!rans_isa_supported(options.isa))
    return InvalidArgument(std::string("rans: this CPU cannot run the ") +
                           rans_isa_name(options.isa) + " decoder");
  switch (s.header.mode) {
    case rans::Mode::kStored:
      if (!out.empty()) std::memcpy(out.data(), s.stored.data(), out.size());
      return Status::Ok();
    case rans::Mode::kConstant:
      if (!out.empty()) std::memset(out.data(), s.constant_symbol, out.size());
      return Status::Ok();
    case rans::Mode::kRans:
      break;
  }
  DecodeTable table;
  rans::build_decode_table(s, table);
  const RansIsa isa = resolve_isa(options.isa);
  const size_t seg = s.header.segment_bytes;
  std::atomic<size_t> first_bad{SIZE_MAX};
  parallel_for(s.segments.size(), options.threads, [&](size_t i) {
    size_t begin = i * seg;
    size_t len = std::min(seg, out.size() - begin);
    if (!decode_segment(table, isa, s.segments[i], out.subspan(begin, len))) {
      size_t cur = first_bad.load();
      while (i < cur && !first_bad.compare_exchange_weak(cur, i)) {
      }
    }
  });
  if (first_bad.load() != SIZE_MAX)
    return Corrupt("rans stream: segment " + std::to_string(first_bad.load()) +
                   " does not decode to a valid end state");
  return Status::Ok();
}

}  // namespace dcllm
