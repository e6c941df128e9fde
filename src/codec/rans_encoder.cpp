// The rANS encoder: counts symbols, picks the precision that makes the stream smallest,
// normalises frequencies, and encodes segments (in parallel) from last symbol to first.
#include <bit>
#include <cmath>
#include <cstring>
#include <string>

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

size_t varint_bytes(uint32_t v) {
  return v < 128 ? 1 : v < 16384 ? 2 : 3;
}

size_t table_bytes(const std::array<uint32_t, 256>& f) {
  size_t n = rans::kBitmapBytes;
  for (uint32_t v : f)
    if (v) n += varint_bytes(v);
  return n;
}

double coded_bits(const std::array<uint64_t, 256>& counts, const std::array<uint32_t, 256>& f,
                  int precision) {
  double bits = 0;
  for (int s = 0; s < 256; ++s)
    if (counts[s]) bits += counts[s] * (precision - std::log2(static_cast<double>(f[s])));
  return bits;
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

inline void encode_symbol(const rans::EncSymbol& s, uint32_t& state, uint16_t*& ptr) {
  uint32_t x = state;
  const bool shed = x >= s.x_max;
  ptr[-1] = static_cast<uint16_t>(x);  // always stored, kept only when shed
  ptr -= shed;
  x >>= shed ? 16 : 0;
  uint32_t q = static_cast<uint32_t>(static_cast<double>(x) * s.rcp);
  state = x + s.cum + q * s.cmpl;
}

// Encodes one segment into `payload`: 32 final states, then the 16-bit words in the order
// the decoder reads them.
void encode_segment(std::span<const uint8_t> in, const rans::EncodeTable& table, bool avx2,
                    std::vector<uint8_t>& payload) {
  const size_t n = in.size(), steps = n / kRansLanes;
  // At most one word per symbol; 8 spare slots in front let the kernels store unconditionally.
  // The buffer is per thread and reused: zeroing and page-faulting a fresh one per segment
  // cost a fifth of the encode time.
  thread_local std::vector<uint16_t> words;
  if (words.size() < n + 8) words.resize(n + 8);
  uint16_t* const end = words.data() + n + 8;
  uint16_t* ptr = end;
  std::array<uint32_t, kRansLanes> state;
  state.fill(kStateLow);
  for (size_t i = n; i-- > steps * kRansLanes;)  // the partial last step goes first
    encode_symbol(table.sym[in[i]], state[i % kRansLanes], ptr);
  if (avx2) {
    rans::encode_steps_avx2(table, state, in.data(), steps, ptr);
  } else {
    rans::encode_steps_scalar(table, state, in.data(), steps, ptr);
  }
  const size_t n_words = static_cast<size_t>(end - ptr);
  payload.resize(rans::kStateBytes + 2 * n_words);
  for (int lane = 0; lane < kRansLanes; ++lane) put_u32(payload.data() + 4 * lane, state[lane]);
  static_assert(std::endian::native == std::endian::little, "words are stored little-endian");
  std::memcpy(payload.data() + rans::kStateBytes, ptr, 2 * n_words);
}

}  // namespace

namespace rans {
void encode_steps_scalar(const EncodeTable& t, std::array<uint32_t, kRansLanes>& state,
                         const uint8_t* in, size_t steps, uint16_t*& words) {
  for (size_t s = steps; s-- > 0;) {
    const uint8_t* src = in + kRansLanes * s;
    for (int lane = kRansLanes - 1; lane >= 0; --lane)
      encode_symbol(t.sym[src[lane]], state[lane], words);
  }
}
}  // namespace rans

Status rans_encode(std::span<const uint8_t> in, std::vector<uint8_t>& out,
                   const RansEncodeOptions& options) {
  if (options.segment_bytes < 4096 || options.segment_bytes > (size_t{1} << 30))
    return InvalidArgument("rans: segment size must be in [4 KiB, 1 GiB], got " +
                           std::to_string(options.segment_bytes));
  if (options.precision != 0 &&
      (options.precision < kRansMinPrecision || options.precision > kRansMaxPrecision))
    return InvalidArgument("rans: precision must be 0 (auto) or 12..15");
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

  // Pick the precision whose table + payload is smallest; ties go to the lower precision,
  // whose decode table is packed (one gather per lane in the SIMD decoders).
  const size_t n_seg = (in.size() - 1) / seg_bytes + 1;
  int best_p = 0;
  double best_bytes = INFINITY;
  std::array<uint32_t, 256> freq{};
  for (int p = kRansMinPrecision; p <= kRansMaxPrecision; ++p) {
    if (options.precision != 0 && p != options.precision) continue;
    std::array<uint32_t, 256> f = normalize_frequencies(counts, p);
    double bytes = coded_bits(counts, f, p) / 8 + static_cast<double>(table_bytes(f));
    if (bytes < best_bytes - 1.0) best_bytes = bytes, best_p = p, freq = f;
  }
  const double estimate = best_bytes + static_cast<double>(n_seg * (4 + rans::kStateBytes));
  if (estimate >= static_cast<double>(in.size())) {
    append_header(out, Mode::kStored, 0, seg_bytes, in.size());
    out.insert(out.end(), in.begin(), in.end());
    return Status::Ok();
  }

  rans::EncodeTable table;
  table.precision = best_p;
  const uint32_t total = 1u << best_p;
  for (uint32_t s = 0, cum = 0; s < 256; cum += freq[s], ++s) {
    if (!freq[s]) continue;
    rans::EncSymbol& e = table.sym[s];
    e.rcp = std::nextafter(1.0 / freq[s], INFINITY);
    e.x_max = freq[s] << (32 - best_p);  // < 2^32 since freq < 2^precision
    e.cum = cum;
    e.cmpl = total - freq[s];
    table.freq_cum[s] = freq[s] | cum << 16;
  }

  std::vector<std::vector<uint8_t>> payloads(n_seg);
  parallel_for(n_seg, options.threads, [&](size_t i) {
    size_t begin = i * seg_bytes;
    size_t len = std::min<size_t>(seg_bytes, in.size() - begin);
    encode_segment(in.subspan(begin, len), table, avx2, payloads[i]);
  });

  const size_t start = out.size();
  append_header(out, Mode::kRans, best_p, seg_bytes, in.size());
  uint8_t bitmap[rans::kBitmapBytes] = {};
  for (int s = 0; s < 256; ++s)
    if (freq[s]) bitmap[s >> 3] |= static_cast<uint8_t>(1u << (s & 7));
  out.insert(out.end(), bitmap, bitmap + sizeof(bitmap));
  for (int s = 0; s < 256; ++s) {
    for (uint32_t v = freq[s]; v;) {
      uint8_t b = v & 0x7f;
      v >>= 7;
      out.push_back(v ? (b | 0x80) : b);
    }
  }
  size_t dir = out.size();
  out.resize(dir + 4 * n_seg);
  for (size_t i = 0; i < n_seg; ++i)
    put_u32(out.data() + dir + 4 * i, static_cast<uint32_t>(payloads[i].size()));
  for (const auto& p : payloads) out.insert(out.end(), p.begin(), p.end());

  if (out.size() - start >= rans::kHeaderBytes + in.size()) {  // the estimate was too hopeful
    out.resize(start);
    append_header(out, Mode::kStored, 0, seg_bytes, in.size());
    out.insert(out.end(), in.begin(), in.end());
  }
  return Status::Ok();
}

}  // namespace dcllm
