// Host-side GPU decode plan: parses and validates each stream once (the same parser as the CPU
// decoder), then writes the descriptors the kernels read. Sizes are checked before any is used.
#include "codec/cuda/gpu_plan.h"

#include <algorithm>
#include <string>

#include "codec/rans_stream.h"
#include "dcllm/rans.h"

namespace dcllm::gpu {

KernelPlan HostPlan::kernel_view(const StreamDesc* s, const SegmentDesc* g, const BlockTask* t,
                                 const uint32_t* tables_ptr) const {
  KernelPlan k;
  k.streams = s;
  k.segments = g;
  k.tasks = t;
  k.tables = tables_ptr;
  k.n_tasks = static_cast<uint32_t>(tasks.size());
  k.n_segments = static_cast<uint32_t>(segments.size());
  k.table_entries = table_entries;
  k.warps_per_block = warps_per_block;
  return k;
}

int auto_warps_per_block(size_t segments, int multiprocessors) {
  const size_t sms = static_cast<size_t>(std::max(multiprocessors, 1));
  return static_cast<int>(std::clamp<size_t>(segments / sms, 1, 8));
}

namespace {

constexpr uint64_t kMaxSegments = uint64_t{1} << 31;

Status stream_error(size_t i, const std::string& what) {
  return Corrupt("gpu plan: stream " + std::to_string(i) + ": " + what);
}

}  // namespace

Expected<HostPlan> build_host_plan(std::span<const uint8_t> coded,
                                   std::span<const StreamRef> streams, uint64_t out_size,
                                   int warps_per_block) {
  if (warps_per_block < 1 || warps_per_block > 32)
    return InvalidArgument("gpu plan: warps per block " + std::to_string(warps_per_block) +
                           " outside 1..32");
  HostPlan plan;
  plan.warps_per_block = warps_per_block;
  plan.out_size = out_size;
  std::vector<std::pair<uint64_t, uint64_t>> ranges;  // output ranges, to check overlap
  for (size_t i = 0; i < streams.size(); ++i) {
    const StreamRef& r = streams[i];
    if (r.offset > coded.size() || r.size > coded.size() - r.offset)
      return stream_error(i, "bytes past the end of the coded buffer");
    const std::span<const uint8_t> bytes = coded.subspan(r.offset, r.size);
    Expected<rans::ParsedStream> parsed = rans::parse_stream(bytes);
    if (!parsed.ok()) return stream_error(i, parsed.status().message());
    const rans::ParsedStream& s = *parsed;
    const uint64_t raw = s.header.raw_size;
    if (r.out_offset > out_size || raw > out_size - r.out_offset)
      return stream_error(i, "decodes past the end of the output (" + std::to_string(raw) +
                                 " bytes at " + std::to_string(r.out_offset) + ")");
    if (raw == 0) continue;
    ranges.emplace_back(r.out_offset, raw);
    plan.covered += raw;

    StreamDesc d{};
    const auto stream_index = static_cast<uint32_t>(plan.streams.size());
    const auto at = [&](std::span<const uint8_t> sub) {
      return r.offset + static_cast<uint64_t>(sub.data() - bytes.data());
    };
    if (s.header.mode == rans::Mode::kRans) {
      // The kernels read lane states and words as u32: payloads are 4-byte aligned from the
      // stream's start (format v2), so the stream must start 4-byte aligned in the buffer.
      if (r.offset % 4 != 0) return stream_error(i, "offset is not a multiple of 4");
      d.kind = kSegRans;
      d.precision = static_cast<uint8_t>(s.header.precision);
      d.escapes = s.escapes ? 1 : 0;
      d.esc_symbol = s.esc_symbol;
      if (plan.tables.size() > UINT32_MAX - (size_t{1} << kRansMaxPrecision))
        return stream_error(i, "too many decode tables for one plan");
      d.table_offset = static_cast<uint32_t>(plan.tables.size());
      rans::DecodeTable table;
      rans::build_decode_table(s, table);
      const uint32_t entries = 1u << s.header.precision;
      plan.tables.insert(plan.tables.end(), table.slots.begin(), table.slots.begin() + entries);
      plan.table_entries = std::max(plan.table_entries, entries);
      if (plan.segments.size() + s.segments.size() > kMaxSegments)
        return stream_error(i, "too many segments for one plan");
      const uint64_t seg_bytes = s.header.segment_bytes;
      for (size_t k = 0; k < s.segments.size(); ++k) {
        const rans::Segment& g = s.segments[k];
        SegmentDesc sd{};
        sd.payload = at(g.states);
        sd.out = r.out_offset + k * seg_bytes;
        sd.len = static_cast<uint32_t>(std::min<uint64_t>(seg_bytes, raw - k * seg_bytes));
        sd.word_count = static_cast<uint32_t>(g.words.size() / 2);
        sd.esc_count = static_cast<uint32_t>(g.escapes.size());
        sd.stream = stream_index;
        plan.segments.push_back(sd);
        plan.segment_number.push_back(static_cast<uint32_t>(k));
      }
    } else {
      // Constant and stored streams: pieces of kPlainPieceBytes, so they spread over warps.
      const bool constant = s.header.mode == rans::Mode::kConstant;
      d.kind = constant ? kSegConstant : kSegStored;
      const uint64_t pieces = (raw + kPlainPieceBytes - 1) / kPlainPieceBytes;
      if (plan.segments.size() + pieces > kMaxSegments)
        return stream_error(i, "too many segments for one plan");
      const uint64_t base = constant ? r.offset + rans::kHeaderBytes : at(s.stored);
      for (uint64_t k = 0; k < pieces; ++k) {
        SegmentDesc sd{};
        sd.payload = constant ? base : base + k * kPlainPieceBytes;
        sd.out = r.out_offset + k * kPlainPieceBytes;
        sd.len =
            static_cast<uint32_t>(std::min<uint64_t>(kPlainPieceBytes, raw - k * kPlainPieceBytes));
        sd.stream = stream_index;
        plan.segments.push_back(sd);
        plan.segment_number.push_back(static_cast<uint32_t>(k));
      }
    }
    plan.streams.push_back(d);
    plan.stream_input_index.push_back(static_cast<uint32_t>(i));
  }
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i)
    if (ranges[i].first < ranges[i - 1].first + ranges[i - 1].second)
      return InvalidArgument("gpu plan: two streams decode to overlapping output bytes at " +
                             std::to_string(ranges[i].first));
  // Blocks: up to warps_per_block consecutive segments, never mixing streams.
  for (size_t first = 0; first < plan.segments.size();) {
    size_t end = first + 1;
    while (end < plan.segments.size() && end - first < static_cast<size_t>(warps_per_block) &&
           plan.segments[end].stream == plan.segments[first].stream)
      ++end;
    plan.tasks.push_back({static_cast<uint32_t>(first), static_cast<uint32_t>(end - first)});
    first = end;
  }
  return plan;
}

Status plan_verdict(const HostPlan& plan, std::span<const uint32_t> verdicts) {
  if (verdicts.size() != plan.segments.size())
    return Internal("gpu plan: " + std::to_string(verdicts.size()) + " verdicts for " +
                    std::to_string(plan.segments.size()) + " segments");
  for (size_t i = 0; i < verdicts.size(); ++i)
    if (verdicts[i] != 0)
      return Corrupt("rans stream " +
                     std::to_string(plan.stream_input_index[plan.segments[i].stream]) +
                     ": segment " + std::to_string(plan.segment_number[i]) +
                     " does not decode to a valid end state (gpu)");
  return Status::Ok();
}

}  // namespace dcllm::gpu
