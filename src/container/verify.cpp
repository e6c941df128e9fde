// verify_container: decodes every chunk (checksum first) and checks that the data region holds
// nothing but chunks and zero padding, so no flipped byte anywhere in a file goes unnoticed.
#include <algorithm>
#include <memory>
#include <mutex>

#include "core/parallel.h"
#include "dcllm/container.h"
#include "fmt/format.h"

namespace dcllm {
namespace {

// Decode buffers held at once stay under this, whatever the chunk sizes and thread count.
constexpr uint64_t kVerifyMemoryBudget = uint64_t{2} << 30;

struct ChunkRef {
  size_t tensor, chunk;
};

Status check_chunks(const ModelContainer& c, const std::vector<ChunkRef>& refs, unsigned threads,
                    const std::function<void(int64_t, int64_t)>& on_progress) {
  uint64_t largest = 1;
  for (const auto& r : refs)
    largest = std::max(largest, c.tensors()[r.tensor].chunks[r.chunk].raw_size);
  if (threads == 0) threads = default_thread_count();
  threads = static_cast<unsigned>(std::clamp<uint64_t>(kVerifyMemoryBudget / largest, 1, threads));
  std::vector<Status> statuses(refs.size());
  // The callback is the caller's (a progress line, say): one call at a time, counts in order.
  std::mutex progress_mutex;
  int64_t checked = 0;
  auto report = [&] {
    if (!on_progress) return;
    std::lock_guard<std::mutex> lock(progress_mutex);
    on_progress(++checked, static_cast<int64_t>(refs.size()));
  };
  parallel_for(refs.size(), threads, [&](size_t i) {
    const ChunkRef& r = refs[i];
    const ChunkInfo& info = c.tensors()[r.tensor].chunks[r.chunk];
    // Checksum before allocating: a damaged index must not cost a large buffer. decode_chunk
    // checks again; XXH3 is cheap next to decoding.
    statuses[i] = c.check_chunk(r.tensor, r.chunk);
    if (statuses[i].ok()) {
      // raw_size was bounded by kMaxChunkRawBytes at open; the codec writes every byte.
      auto out = std::make_unique_for_overwrite<uint8_t[]>(info.raw_size);
      statuses[i] = c.decode_chunk(r.tensor, r.chunk, {out.get(), info.raw_size});
    }
    report();
  });
  for (auto& st : statuses)
    if (!st.ok()) return st;
  return Status::Ok();
}

Status check_padding(const ModelContainer& c, std::vector<ChunkRef> refs) {
  const auto& tensors = c.tensors();
  auto info = [&](const ChunkRef& r) -> const ChunkInfo& {
    return tensors[r.tensor].chunks[r.chunk];
  };
  std::sort(refs.begin(), refs.end(),
            [&](const ChunkRef& a, const ChunkRef& b) { return info(a).offset < info(b).offset; });
  auto file = c.file();
  uint64_t pos = c.data_offset();
  const ChunkRef* previous = nullptr;
  auto check_gap = [&](uint64_t end) -> Status {
    for (uint64_t i = pos; i < end; ++i) {
      if (file[i] == 0) continue;
      std::string where = previous
                              ? fmt::format("after tensor '{}' chunk {}",
                                            tensors[previous->tensor].spec.name, previous->chunk)
                              : std::string("before the first chunk");
      return Corrupt(fmt::format("{}: nonzero padding byte at offset {} ({})", c.path(), i, where));
    }
    return Status::Ok();
  };
  for (const ChunkRef& r : refs) {
    DCLLM_RETURN_IF_ERROR(check_gap(info(r).offset));
    pos = info(r).offset + info(r).stored_size;
    previous = &r;
  }
  return check_gap(file.size());
}

}  // namespace

Status verify_container(const ModelContainer& container, const VerifyOptions& options,
                        VerifyReport* report) {
  std::vector<ChunkRef> refs;
  refs.reserve(container.chunk_count());
  for (size_t t = 0; t < container.tensors().size(); ++t)
    for (size_t k = 0; k < container.tensors()[t].chunks.size(); ++k) refs.push_back({t, k});
  DCLLM_RETURN_IF_ERROR(check_chunks(container, refs, options.threads, options.on_progress));
  DCLLM_RETURN_IF_ERROR(check_padding(container, refs));
  if (report) {
    report->tensors = container.tensors().size();
    report->chunks = container.chunk_count();
    report->raw_bytes = container.raw_bytes();
    report->stored_bytes = container.stored_bytes();
    report->file_bytes = container.file_bytes();
  }
  return Status::Ok();
}

Status verify_container(const std::string& path, const VerifyOptions& options,
                        VerifyReport* report) {
  auto container = ModelContainer::open(path);
  if (!container) return container.status();
  return verify_container(*container, options, report);
}

}  // namespace dcllm
