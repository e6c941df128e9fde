// repack_container: one tensor at a time, chunks in parallel: copy (checksum checked), decode to
// raw, or code and decode back to compare; then the ContainerWriter's atomic write, with the
// plan (its byte figures recomputed for the new file) added to the metadata last.
#include "runtime/repack.h"

#include <xxhash.h>

#include <cstdio>
#include <cstring>
#include <vector>

#include "core/file_identity.h"
#include "core/parallel.h"
#include "dcllm/codec.h"
#include "dcllm/container.h"
#include "fmt/format.h"
#include "runtime/weight_plan.h"

namespace dcllm {

Expected<RepackReport> repack_container(const std::string& input, const std::string& output,
                                        const PartialCompressionPlan& plan,
                                        const RepackOptions& o) {
  DCLLM_RETURN_IF_ERROR(check_output_path(output, {input}));
  DCLLM_ASSIGN_OR_RETURN(ModelContainer c, ModelContainer::open(input));
  // Every INT8 chunk exactly once, nothing else; storage is what repack is about to change.
  DCLLM_ASSIGN_OR_RETURN(auto table,
                         plan_placements(plan, c.tensors(), input, /*check_storage=*/false));
  if (o.codec == kRawCodecName)
    return InvalidArgument("repack: --codec must be a coding codec, not 'raw'");
  DCLLM_ASSIGN_OR_RETURN(std::unique_ptr<Codec> codec, make_codec(o.codec));
  DCLLM_ASSIGN_OR_RETURN(ContainerWriter writer, ContainerWriter::create(output, c.metadata()));
  writer.set_threads(1);  // every chunk arrives coded: nothing for the writer's threads to do

  RepackReport rep;
  rep.in_bytes = c.file_bytes();
  std::vector<TensorEntry> written;  // the output's index, for the plan's byte figures
  for (size_t t = 0; t < c.tensors().size(); ++t) {
    const TensorEntry& e = c.tensors()[t];
    const size_t n = e.chunks.size();
    std::vector<ContainerWriter::ChunkInput> in(n);
    std::vector<std::vector<uint8_t>> owned(n);
    std::vector<Status> statuses(n);
    std::vector<int> change(n, 0);  // +1 to coded, -1 to raw
    parallel_for(n, o.threads, [&](size_t k) {
      const ChunkInfo& ci = e.chunks[k];
      const std::string what = fmt::format("{}: tensor '{}' chunk {}", input, e.spec.name, k);
      ContainerWriter::ChunkInput& ck = in[k];
      ck.row_count = ci.row_count;
      ck.stored = true;
      const bool is_raw = ci.codec == kRawCodecName;
      const std::string_view need =
          table[t].empty() ? std::string_view("either") : placement_storage_need(table[t][k]);
      Status st;
      if (need == "either" || (need == "raw") == is_raw) {
        ck.codec = ci.codec;
        ck.bytes = c.chunk_bytes(t, k);
        ck.xxh3 = ci.xxh3;  // the writer checks the bytes against it
      } else if (need == "raw") {
        owned[k].resize(static_cast<size_t>(ci.raw_size));
        st = c.decode_chunk(t, k, owned[k]);  // checks the checksum, then decodes
        ck.codec = std::string(kRawCodecName);
        change[k] = -1;
      } else {
        st = c.check_chunk(t, k);
        auto raw = c.chunk_bytes(t, k);
        if (st.ok()) st = codec->compress(raw, owned[k]);
        if (st.ok()) {  // lossless, or it is not written: decode the new bytes and compare
          std::vector<uint8_t> back(raw.size());
          st = codec->decompress(owned[k], back);
          if (st.ok() && std::memcmp(back.data(), raw.data(), raw.size()) != 0)
            st = Internal(what + ": re-coded chunk does not decode to the same values");
        }
        if (!st.ok() && st.message().find(what) == std::string::npos)
          st = Status(st.code(), what + ": " + st.message());
        ck.codec = std::string(codec->name());
        change[k] = 1;
      }
      if (change[k] != 0) {
        ck.bytes = owned[k];
        ck.xxh3 = XXH3_64bits(owned[k].data(), owned[k].size());
      }
      statuses[k] = std::move(st);
    });
    for (Status& st : statuses)
      if (!st.ok()) return st;
    DCLLM_RETURN_IF_ERROR(writer.add_tensor_chunks(e.spec, in));
    TensorEntry out{e.spec, e.raw_bytes, 0, e.chunks};
    for (size_t k = 0; k < n; ++k) {
      out.chunks[k].codec = in[k].codec;
      out.chunks[k].stored_size = in[k].bytes.size();
      out.stored_bytes += in[k].bytes.size();
      rep.to_raw += change[k] < 0;
      rep.to_coded += change[k] > 0;
    }
    if (e.spec.dtype == DType::kI8) {
      rep.chunks += n;
      rep.stored_bytes += out.stored_bytes;
    }
    written.push_back(std::move(out));
  }

  PartialCompressionPlan stored = plan;
  DCLLM_RETURN_IF_ERROR(recompute_plan_bytes(stored, written, output));
  DCLLM_RETURN_IF_ERROR(check_plan_matches(stored, written, output));
  nlohmann::json meta = c.metadata();
  meta[kStoredPlanKey] = plan_to_json(stored);
  DCLLM_RETURN_IF_ERROR(writer.set_metadata(meta));
  DCLLM_RETURN_IF_ERROR(writer.finish());
  rep.out_bytes = writer.file_bytes();
  // The file is in place; a last full check of what a reader will see.
  VerifyOptions vo;
  vo.threads = o.threads;
  Status verified = verify_container(output, vo);
  if (!verified.ok()) {
    std::remove(output.c_str());
    return Status(verified.code(),
                  "repack: the written file failed verification and was "
                  "removed: " +
                      verified.message());
  }
  return rep;
}

}  // namespace dcllm
