// Selection of the k lowest-scoring elements of a group in O(n), ordered by (score, index) so
// the chosen set is unique: ties always go to the lower index, whatever the algorithm.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace dcllm {

// Scores are non-negative floats passed as their IEEE bit patterns: for x >= +0 the bits order
// like the values, so (bits << 32 | index) is one integer key for the (score, index) order.
// A group is described by `scan(visit)`, which must call visit(i, bits) once for every index
// i in [0, n) in increasing order; `mark(i)` is called once for each selected element.

// nth_element over 64-bit keys: 8 bytes of scratch per element, fast for row-sized groups.
// n must be below 2^32 (indices live in the low half of the key).
template <typename Scan, typename Mark>
void mark_lowest_by_sort(size_t n, size_t k, Scan&& scan, Mark&& mark,
                         std::vector<uint64_t>& scratch) {
  if (k == 0) return;
  scratch.resize(n);
  scan([&](size_t i, uint32_t bits) { scratch[i] = (uint64_t{bits} << 32) | i; });
  if (k < n) std::nth_element(scratch.begin(), scratch.begin() + k, scratch.end());
  for (size_t t = 0; t < k && t < n; ++t) mark(static_cast<size_t>(scratch[t] & 0xffffffffu));
}

// Two-level radix select without per-element memory, for groups too large to copy (a whole
// tensor): a histogram of the high 16 bits finds the bucket holding the k-th score, a
// histogram of that bucket's low 16 bits finds the exact k-th score v; then everything below
// v is marked, and of the scores equal to v, the lowest indices. Three scans in all.
template <typename Scan, typename Mark>
void mark_lowest_by_histogram(size_t k, Scan&& scan, Mark&& mark) {
  if (k == 0) return;
  std::vector<uint64_t> hist(size_t{1} << 16);
  scan([&](size_t, uint32_t bits) { ++hist[bits >> 16]; });
  // Finds the bin b where the running count first reaches `need`; `need` becomes the count
  // still wanted from inside bin b.
  auto find_bin = [&](size_t& need) {
    size_t b = 0;
    for (; b + 1 < hist.size() && hist[b] < need; ++b) need -= hist[b];
    return static_cast<uint32_t>(b);
  };
  size_t need = k;
  const uint32_t high = find_bin(need);
  std::fill(hist.begin(), hist.end(), 0);
  scan([&](size_t, uint32_t bits) {
    if ((bits >> 16) == high) ++hist[bits & 0xffffu];
  });
  const uint32_t threshold = (high << 16) | find_bin(need);
  size_t equal_taken = 0;
  scan([&](size_t i, uint32_t bits) {
    if (bits < threshold) {
      mark(i);
    } else if (bits == threshold && equal_taken < need) {
      ++equal_taken;
      mark(i);
    }
  });
}

}  // namespace dcllm
