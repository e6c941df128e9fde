// Table choice for the rANS encoder. At 12 bits every table symbol needs at least 1/4096 of the
// probability; weight outliers (a few hundred rare values) would take ~2% of the ratio that way,
// so the rarest bytes share one escape symbol and are stored raw (docs/rans-format.md).
#include "codec/rans_model.h"

#include <algorithm>
#include <cmath>

#include "codec/rans_stream.h"
#include "dcllm/rans.h"

namespace dcllm::rans {
namespace {

size_t varint_bytes(uint32_t v) {
  return v < 128 ? 1 : 2;  // frequencies are < 2^12
}

double coded_bits(const std::array<uint64_t, 256>& counts, const std::array<uint32_t, 256>& f,
                  int precision) {
  double bits = 0;
  for (int s = 0; s < 256; ++s)
    if (counts[s]) bits += counts[s] * (precision - std::log2(static_cast<double>(f[s])));
  return bits;
}

// The table that escapes the `k` rarest bytes (order[0..k)), with order[0] as escape symbol.
TableChoice evaluate(const std::array<uint64_t, 256>& counts, const std::array<uint8_t, 256>& order,
                     int k, int precision) {
  TableChoice t;
  t.precision = precision;
  std::array<uint64_t, 256> main = counts;
  uint64_t escaped = 0;
  if (k > 0) {
    t.escapes = true;
    t.esc_symbol = order[0];
    for (int i = 0; i < k; ++i) {
      t.escaped[order[i]] = true;
      escaped += counts[order[i]];
      main[order[i]] = 0;
    }
    main[t.esc_symbol] = escaped;
  }
  t.freq = normalize_frequencies(main, precision);
  t.bytes = (coded_bits(main, t.freq, precision) + 8.0 * static_cast<double>(escaped)) / 8 +
            static_cast<double>(table_section_bytes(t.freq));
  return t;
}

// The best escape set at one precision. Candidates escape every byte whose proportional share
// of the 2^precision slots is below a threshold. Measured on our synthetic kinds, SmolLM2-135M
// and stories260K, 1/4 slot was always best, 1/8 and 1/2 within 0.03% of it, and the best
// threshold within 0.01% of trying every prefix of the count order.
TableChoice best_at(const std::array<uint64_t, 256>& counts, const std::array<uint8_t, 256>& order,
                    int present, uint64_t n, int precision, bool allow_escapes) {
  TableChoice best = evaluate(counts, order, 0, precision);
  if (!allow_escapes) return best;
  int last_k = 0;
  for (double tau : {1.0 / 8, 1.0 / 4, 1.0 / 2}) {
    const double limit = tau * static_cast<double>(n) / static_cast<double>(1u << precision);
    int k = 0;
    while (k < present - 1 && static_cast<double>(counts[order[k]]) < limit) ++k;
    if (k < 2 || k == last_k) continue;
    last_k = k;
    TableChoice t = evaluate(counts, order, k, precision);
    if (t.bytes < best.bytes) best = t;
  }
  return best;
}

}  // namespace

size_t table_section_bytes(const std::array<uint32_t, 256>& freq) {
  size_t n = kHeaderBytes + 2 + kBitmapBytes;
  for (uint32_t v : freq)
    if (v) n += varint_bytes(v);
  return n + pad_to_align(n) - kHeaderBytes;
}

TableChoice choose_table(const std::array<uint64_t, 256>& counts, int precision,
                         bool allow_escapes) {
  std::array<uint8_t, 256> order{};
  int present = 0;
  uint64_t n = 0;
  for (int s = 0; s < 256; ++s) {
    n += counts[s];
    if (counts[s]) order[present++] = static_cast<uint8_t>(s);
  }
  std::stable_sort(order.begin(), order.begin() + present,
                   [&](uint8_t a, uint8_t b) { return counts[a] < counts[b]; });
  if (precision != 0) return best_at(counts, order, present, n, precision, allow_escapes);
  // More precision codes better and costs table bytes; below ~64 KiB the table can matter, so
  // lower precisions are tried while they keep shrinking the stream. Ties keep the higher one.
  TableChoice best = best_at(counts, order, present, n, kRansMaxPrecision, allow_escapes);
  if (n >= (uint64_t{64} << 10)) return best;
  for (int p = kRansMaxPrecision - 1; p >= kRansMinPrecision; --p) {
    if ((1 << p) < present) break;
    TableChoice t = best_at(counts, order, present, n, p, allow_escapes);
    if (t.bytes >= best.bytes - 1.0) break;
    best = t;
  }
  return best;
}

}  // namespace dcllm::rans
