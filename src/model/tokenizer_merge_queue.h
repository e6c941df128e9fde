// The BPE merge loop shared by both tokenizer kinds: symbols in a doubly linked list, candidate
// pairs in a heap with lazy invalidation, so a text of n symbols merges in O(n log n).
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <vector>

namespace dcllm {

// A run of input bytes [start, start + len) that currently stands for token `id`. Merging only
// ever grows a symbol (the left one absorbs the right one, whose len drops to 0), which is what
// lets a stale heap entry be recognised by its recorded total length.
struct MergeSymbol {
  uint32_t start = 0;
  uint32_t len = 0;
  int32_t id = -1;
  int32_t prev = -1;
  int32_t next = -1;
  bool frozen = false;  // never merges (byte fallback, unknown)
};

// What a pair would merge into; a lower priority merges first (SentencePiece: -score, byte-level
// BPE: the merge rank). Among equal priorities the leftmost pair goes first, as in llama2.c.
struct MergeCandidate {
  double priority;
  int32_t id;
};

struct PendingMerge {
  double priority;
  uint32_t left_start;
  uint32_t total_len;
  int32_t left;
  int32_t right;
  int32_t id;
};

// Heap order for std::push_heap/pop_heap: the top is the lowest priority, then the leftmost.
inline bool merges_later(const PendingMerge& a, const PendingMerge& b) {
  if (a.priority != b.priority) return a.priority > b.priority;
  return a.left_start > b.left_start;
}

// Links `symbols` (already in text order, prev/next ignored on entry) and merges until no
// adjacent pair has a candidate. find_merge(left, right) -> std::optional<MergeCandidate>.
// `heap` is scratch storage, reused across calls to avoid allocating per word.
template <typename FindMerge>
void apply_merges(std::vector<MergeSymbol>& symbols, const FindMerge& find_merge,
                  std::vector<PendingMerge>& heap) {
  const int32_t n = static_cast<int32_t>(symbols.size());
  for (int32_t i = 0; i < n; ++i) {
    symbols[i].prev = i - 1;
    symbols[i].next = i + 1 < n ? i + 1 : -1;
  }
  heap.clear();
  auto queue = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0) return false;
    const MergeSymbol& l = symbols[left];
    const MergeSymbol& r = symbols[right];
    if (l.frozen || r.frozen) return false;
    std::optional<MergeCandidate> c = find_merge(l, r);
    if (!c) return false;
    heap.push_back({c->priority, l.start, l.len + r.len, left, right, c->id});
    return true;
  };
  auto consider = [&](int32_t left, int32_t right) {
    if (queue(left, right)) std::push_heap(heap.begin(), heap.end(), merges_later);
  };
  for (int32_t i = 0; i + 1 < n; ++i) queue(i, i + 1);
  std::make_heap(heap.begin(), heap.end(), merges_later);

  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), merges_later);
    const PendingMerge m = heap.back();
    heap.pop_back();
    MergeSymbol& l = symbols[m.left];
    MergeSymbol& r = symbols[m.right];
    // Stale: one side was merged away, or grew since this pair was queued.
    if (l.len == 0 || r.len == 0 || l.next != m.right || l.len + r.len != m.total_len) continue;
    l.len += r.len;
    l.id = m.id;
    r.len = 0;
    l.next = r.next;
    if (r.next >= 0) symbols[r.next].prev = m.left;
    consider(l.prev, m.left);
    consider(m.left, l.next);
  }
}

// Appends the ids of the surviving symbols, in order.
inline void append_merged_ids(const std::vector<MergeSymbol>& symbols, std::vector<int32_t>& out) {
  for (int32_t i = symbols.empty() ? -1 : 0; i >= 0; i = symbols[i].next)
    out.push_back(symbols[i].id);
}

}  // namespace dcllm
