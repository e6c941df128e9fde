// parse_byte_size: number, optional fraction, optional unit. The fraction is applied with
// integer arithmetic on the digits (no strtod) so "0.1GiB" is exactly floor(0.1 * 2^30) and
// locale settings cannot change how the text reads.
#include "core/byte_size.h"

#include <algorithm>
#include <array>
#include <cctype>

#include "fmt/format.h"

namespace dcllm {
namespace {

constexpr uint64_t kMaxSize = uint64_t{1} << 63;

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

// Multiplier for a unit, or 0 when `unit` is not one.
uint64_t unit_multiplier(std::string_view unit) {
  struct Unit {
    std::string_view name;
    uint64_t mult;
  };
  static constexpr std::array<Unit, 14> kUnits = {{
      {"", 1},
      {"b", 1},
      {"k", uint64_t{1} << 10},
      {"kib", uint64_t{1} << 10},
      {"m", uint64_t{1} << 20},
      {"mib", uint64_t{1} << 20},
      {"g", uint64_t{1} << 30},
      {"gib", uint64_t{1} << 30},
      {"t", uint64_t{1} << 40},
      {"tib", uint64_t{1} << 40},
      {"kb", 1000},
      {"mb", 1000 * 1000},
      {"gb", 1000 * 1000 * 1000},
      {"tb", uint64_t{1000} * 1000 * 1000 * 1000},
  }};
  for (const Unit& u : kUnits)
    if (iequals(unit, u.name)) return u.mult;
  return 0;
}

}  // namespace

Expected<uint64_t> parse_byte_size(std::string_view text, std::string_view what) {
  auto bad = [&](std::string_view why) {
    return InvalidArgument(fmt::format("{}: '{}' is not a size ({})", what,
                                       text.substr(0, std::min<size_t>(text.size(), 64)), why));
  };
  size_t i = 0;
  while (i < text.size() && text[i] == ' ') ++i;
  // Whole part: digits, at most 19 of them before the value is checked against the cap.
  unsigned __int128 whole = 0;
  size_t digits = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
    whole = whole * 10 + static_cast<unsigned>(text[i] - '0');
    if (whole > kMaxSize) return bad("too large: sizes are below 2^63 bytes");
    ++i, ++digits;
  }
  // Fraction: up to 18 digits kept (more cannot change the byte count of any accepted size).
  uint64_t frac = 0, frac_scale = 1;
  size_t frac_digits = 0;
  if (i < text.size() && text[i] == '.') {
    ++i;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
      if (frac_scale < uint64_t{1000000000000000000}) {
        frac = frac * 10 + static_cast<unsigned>(text[i] - '0');
        frac_scale *= 10;
      }
      ++i, ++frac_digits;
    }
  }
  if (digits == 0 && frac_digits == 0) return bad("bytes, or a number with KiB/MiB/GiB");
  while (i < text.size() && text[i] == ' ') ++i;
  std::string_view unit = text.substr(i);
  while (!unit.empty() && unit.back() == ' ') unit.remove_suffix(1);
  const uint64_t mult = unit_multiplier(unit);
  if (mult == 0) return bad("bytes, or a number with KiB/MiB/GiB");
  const unsigned __int128 bytes =
      whole * mult + static_cast<unsigned __int128>(frac) * mult / frac_scale;
  if (bytes >= kMaxSize) return bad("too large: sizes are below 2^63 bytes");
  return static_cast<uint64_t>(bytes);
}

std::string format_byte_size(uint64_t bytes) {
  if (bytes < 1024) return fmt::format("{} bytes", bytes);
  static constexpr std::array<std::string_view, 4> kNames = {"KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes) / 1024.0;
  size_t u = 0;
  while (v >= 1024.0 && u + 1 < kNames.size()) v /= 1024.0, ++u;
  const int decimals = v < 10 ? 2 : (v < 100 ? 1 : 0);
  return fmt::format("{:.{}f} {} ({} bytes)", v, decimals, kNames[u], bytes);
}

}  // namespace dcllm
