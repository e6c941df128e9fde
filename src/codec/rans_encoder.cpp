// The rANS encoder: counts symbols, picks the table (precision, escapes) that makes the stream
// smallest, and encodes segments (in parallel) from last symbol to first.
#include <bit>
#include <cmath>
#include <cstring>
#include <memory>
#include <string>

#include "codec/rans_model.h"
#include "codec/rans_stream.h"
#include "core/cpu_features.h"
#include "core/parallel.h"

namespace dcllm {
namespace {

using rans::kStateLow;
using rans::Mode;

std::array<uint64_t, 256> count_symbols(std::span<const uint8_t> in) {
  // Four u32 histograms break the store-to-load dependency on runs of one symbol; they are
  // folded into u64 totals every 1 GiB so no counter can overflow.
  std::array<uint64_t, 256> counts{};
  for (size_t base = 0; base < in.size(); base += size_t{1} << 30) {
    const uint8_t* p = in.data() + base;
    const size_t n = std::min(in.size() - base, size_t{1} << 30);
    std::array<std::array<uint32_t, 256>, 4> h{};
    size_t i = 0;
    for (; i + 4 <= n; i += 4) ++h[0][p[i]], ++h[1][p[i + 1]], ++h[2][p[i + 2]], ++h[3][p[i + 3]];
    for (; i < n; ++i) ++h[0][p[i]];
    for (int s = 0; s < 256; ++s) counts[s] += uint64_t{h[0][s]} + h[1][s] + h[2][s] + h[3][s];
  }
  return counts;
}

void put_u32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
void put_u64(uint8_t* p, uint64_t v) {
  put_u32(p, static_cast<uint32_t>(v));
  put_u32(p + 4, static_cast<uint32_t>(v >> 32));
}

void append_header(std::vector<uint8_t>& out, Mode mode, int precision, uint32_t segment_bytes,
                   uint64_t raw_size) {
  uint8_t h[rans::kHeaderBytes] = {rans::kMagic, rans::kVersion, static_cast<uint8_t>(mode),
                                   static_cast<uint8_t>(precision)};
  put_u32(h + 4, segment_bytes);
  put_u64(h + 8, raw_size);
  out.insert(out.end(), h, h + sizeof(h));
}

inline void encode_symbol(const rans::EncodeTable& t, uint8_t byte, uint32_t& state, uint16_t*& ptr,
                          uint8_t*& esc) {
  const rans::EncSymbol& s = t.sym[byte];
  if (t.escaped[byte]) *--esc = byte;
  uint32_t x = state;
  const bool shed = x >= s.x_max;
  ptr[-1] = static_cast<uint16_t>(x);  // always stored, kept only when shed
  ptr -= shed;
  x >>= shed ? 16 : 0;
  uint32_t q = static_cast<uint32_t>(static_cast<double>(x) * s.rcp);
  state = x + s.cum + q * s.cmpl;
}

// One encoded segment: final lane states, then words and escapes in the order the decoder
// reads them. Views into per-thread buffers, valid until that thread's next segment.
struct EncodedSegment {
  std::array<uint32_t, kRansLanes> state;
  std::span<const uint16_t> words;
  std::span<const uint8_t> escapes;
};

// Encodes one segment from its last symbol to its first, into thread-local buffers that are
// reused: zeroing and page-faulting fresh ones per segment cost a fifth of the encode time.
EncodedSegment encode_segment(std::span<const uint8_t> in, const rans::EncodeTable& table,
                              bool avx2) {
  const size_t n = in.size(), steps = n / kRansLanes;
  // At most one word and one escape per symbol; 8 spare word slots in front let the kernels
  // store unconditionally.
  thread_local std::vector<uint16_t> words;
  thread_local std::vector<uint8_t> escapes;
  if (words.size() < n + 8) words.resize(n + 8);
  if (escapes.size() < n) escapes.resize(n);
  uint16_t* const end = words.data() + n + 8;
  uint16_t* ptr = end;
  uint8_t* const esc_end = escapes.data() + n;
  uint8_t* esc = esc_end;
  EncodedSegment seg;
  seg.state.fill(kStateLow);
  for (size_t i = n; i-- > steps * kRansLanes;)  // the partial last step goes first
    encode_symbol(table, in[i], seg.state[i % kRansLanes], ptr, esc);
  if (avx2) {
    rans::encode_steps_avx2(table, seg.state, in.data(), steps, ptr, esc);
  } else {
    rans::encode_steps_scalar(table, seg.state, in.data(), steps, ptr, esc);
  }
  seg.words = {ptr, static_cast<size_t>(end - ptr)};
  seg.escapes = {esc, static_cast<size_t>(esc_end - esc)};
  return seg;
}

size_t payload_bytes(size_t n_words, size_t n_esc) {
  const size_t body = rans::kStateBytes + 2 * n_words + n_esc;
  return body + rans::pad_to_align(body);
}

void append_stored(std::vector<uint8_t>& out, std::span<const uint8_t> in, uint32_t seg_bytes) {
  append_header(out, Mode::kStored, 0, seg_bytes, in.size());
  out.insert(out.end(), in.begin(), in.end());
}

}  // namespace

namespace rans {
void encode_steps_scalar(const EncodeTable& t, std::array<uint32_t, kRansLanes>& state,
                         const uint8_t* in, size_t steps, uint16_t*& words, uint8_t*& esc) {
  for (size_t s = steps; s-- > 0;) {
    const uint8_t* src = in + kRansLanes * s;
    for (int lane = kRansLanes - 1; lane >= 0; --lane)
      encode_symbol(t, src[lane], state[lane], words, esc);
  }
}
}  // namespace rans

Status rans_encode(std::span<const uint8_t> in, std::vector<uint8_t>& out,
                   const RansEncodeOptions& options) {
  if (options.segment_bytes < 4096 || options.segment_bytes > (size_t{1} << 30) ||
      options.segment_bytes % kRansLanes != 0)
    return InvalidArgument("rans: segment size must be a multiple of 64 in [4 KiB, 1 GiB], got " +
                           std::to_string(options.segment_bytes));
  if (options.precision != 0 &&
      (options.precision < kRansMinPrecision || options.precision > kRansMaxPrecision))
    return InvalidArgument("rans: precision must be 0 (auto) or 8..12");
  if (options.isa == RansIsa::kAvx512 || !rans_isa_supported(options.isa))
    return InvalidArgument(std::string("rans: no ") + rans_isa_name(options.isa) +
                           " encoder on this CPU");
  const bool avx2 = options.isa == RansIsa::kAvx2 ||
                    (options.isa == RansIsa::kAuto && rans_isa_supported(RansIsa::kAvx2));
  const uint32_t seg_bytes = static_cast<uint32_t>(options.segment_bytes);
  const std::array<uint64_t, 256> counts = count_symbols(in);
  int distinct = 0;
  for (uint64_t c : counts) distinct += c != 0;

  if (distinct <= 1) {
    if (in.empty()) {
      append_header(out, Mode::kStored, 0, seg_bytes, 0);
    } else {
      append_header(out, Mode::kConstant, 0, seg_bytes, in.size());
      out.push_back(in[0]);
    }
    return Status::Ok();
  }

  const rans::TableChoice choice = rans::choose_table(counts, options.precision, options.escapes);
  const size_t n_seg = (in.size() - 1) / seg_bytes + 1;
  const double estimate =
      choice.bytes + static_cast<double>(n_seg * (rans::kDirEntryBytes + rans::kStateBytes + 2));
  if (estimate >= static_cast<double>(in.size())) {
    append_stored(out, in, seg_bytes);
    return Status::Ok();
  }

  const int prec = choice.precision;
  const uint32_t total = 1u << prec;
  rans::EncodeTable table;
  table.precision = prec;
  std::array<uint32_t, 256> cum{};
  for (uint32_t s = 0, c = 0; s < 256; c += choice.freq[s], ++s) cum[s] = c;
  for (int b = 0; b < 256; ++b) {
    const int coded = choice.escaped[b] ? choice.esc_symbol : b;
    const uint32_t f = choice.freq[coded];
    if (!f) continue;
    rans::EncSymbol& e = table.sym[b];
    e.rcp = std::nextafter(1.0 / f, INFINITY);
    e.x_max = f << (32 - prec);  // < 2^32 since f < 2^precision
    e.cum = cum[coded];
    e.cmpl = total - f;
    table.escaped[b] = choice.escaped[b];
    table.packed[b] = f | cum[coded] << 12 | uint32_t{choice.escaped[b]} << 31;
  }

  // Header and table first, then the directory and payloads, which segments fill in parallel
  // once their sizes are known.
  const size_t start = out.size();
  append_header(out, Mode::kRans, prec, seg_bytes, in.size());
  out.push_back(choice.escapes ? 1 : 0);
  out.push_back(choice.esc_symbol);
  uint8_t bitmap[rans::kBitmapBytes] = {};
  for (int s = 0; s < 256; ++s)
    if (choice.freq[s]) bitmap[s >> 3] |= static_cast<uint8_t>(1u << (s & 7));
  out.insert(out.end(), bitmap, bitmap + sizeof(bitmap));
  for (int s = 0; s < 256; ++s) {
    for (uint32_t v = choice.freq[s]; v;) {
      uint8_t b = v & 0x7f;
      v >>= 7;
      out.push_back(v ? (b | 0x80) : b);
    }
  }
  out.resize(out.size() + rans::pad_to_align(out.size() - start));
  const size_t dir = out.size();

  // Each payload is built by the thread that encodes its segment; they are concatenated once
  // every size is known. Payload buffers are not zero-filled, and `out` grows by appending, not
  // by a zero-filling resize: each pass over the payload bytes costs ~5% of the encode.
  struct Payload {
    std::unique_ptr<uint8_t[]> bytes;
    size_t size = 0;
  };
  std::vector<Payload> payloads(n_seg);
  std::vector<std::array<uint32_t, 2>> counts_dir(n_seg);
  parallel_for(n_seg, options.threads, [&](size_t i) {
    const size_t begin = i * size_t{seg_bytes};
    const size_t len = std::min<size_t>(seg_bytes, in.size() - begin);
    const EncodedSegment seg = encode_segment(in.subspan(begin, len), table, avx2);
    Payload& p = payloads[i];
    p.size = payload_bytes(seg.words.size(), seg.escapes.size());
    p.bytes.reset(new uint8_t[p.size]);  // default-initialized: every byte is written below
    for (int lane = 0; lane < kRansLanes; ++lane)
      put_u32(p.bytes.get() + 4 * lane, seg.state[lane]);
    static_assert(std::endian::native == std::endian::little, "words are stored little-endian");
    uint8_t* w = p.bytes.get() + rans::kStateBytes;
    if (!seg.words.empty()) std::memcpy(w, seg.words.data(), 2 * seg.words.size());
    if (!seg.escapes.empty())
      std::memcpy(w + 2 * seg.words.size(), seg.escapes.data(), seg.escapes.size());
    uint8_t* const pad = w + 2 * seg.words.size() + seg.escapes.size();
    std::memset(pad, 0, static_cast<size_t>(p.bytes.get() + p.size - pad));
    counts_dir[i] = {static_cast<uint32_t>(seg.words.size()),
                     static_cast<uint32_t>(seg.escapes.size())};
  });
  size_t total_bytes = dir + rans::kDirEntryBytes * n_seg;
  for (const Payload& p : payloads) total_bytes += p.size;
  if (total_bytes - start >= rans::kHeaderBytes + in.size()) {  // the estimate was too hopeful
    out.resize(start);
    append_stored(out, in, seg_bytes);
    return Status::Ok();
  }
  out.reserve(total_bytes);
  for (size_t i = 0; i < n_seg; ++i) {
    uint8_t entry[rans::kDirEntryBytes];
    put_u32(entry, counts_dir[i][0]);
    put_u32(entry + 4, counts_dir[i][1]);
    out.insert(out.end(), entry, entry + sizeof(entry));
  }
  for (const Payload& p : payloads) out.insert(out.end(), p.bytes.get(), p.bytes.get() + p.size);
  return Status::Ok();
}

}  // namespace dcllm
