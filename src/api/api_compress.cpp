// C API: `dcllm compress` as a call. Options map one to one onto CompressOptions; the report is
// kept in an opaque result (summary numbers, and the JSON of `compress --json`).
#include <memory>
#include <string>

#include "api/api_support.h"
#include "compress/compress_model.h"
#include "core/parallel.h"

struct dcllm_compress_result {
  dcllm::CompressReport report;
  std::string json;
};

namespace dcllm::api {
namespace {

// The library's defaults; dcllm_compress_params_default points at these strings.
const CompressOptions& defaults() {
  static const CompressOptions o;
  return o;
}

}  // namespace
}  // namespace dcllm::api

using namespace dcllm;
using namespace dcllm::api;

extern "C" {

dcllm_compress_params dcllm_compress_params_default(void) {
  const CompressOptions& d = defaults();
  dcllm_compress_params p{};
  p.tokenizer_path = nullptr;
  p.calib_path = nullptr;
  p.calib_tokens = d.calib_tokens;
  p.calib_ctx = d.calib_ctx;
  p.scale = d.scale.c_str();
  p.alpha = d.alpha;
  p.wquant = d.wquant.c_str();
  p.aquant = d.aquant.c_str();
  p.prune = d.prune.c_str();
  p.sparsity = d.sparsity;
  p.prune_group = d.prune_group.c_str();
  p.codec = d.codec.c_str();
  p.threads = 0;
  p.on_progress = nullptr;
  p.user_data = nullptr;
  return p;
}

dcllm_status dcllm_compress(const char* model_path, const char* output_path,
                            const dcllm_compress_params* params,
                            dcllm_compress_result** out_result) {
  return guarded([&]() -> dcllm_status {
    if (out_result) *out_result = nullptr;
    if (!model_path) return fail(DCLLM_ERR_INVALID_ARGUMENT, "model_path is NULL");
    if (!output_path) return fail(DCLLM_ERR_INVALID_ARGUMENT, "output_path is NULL");
    const dcllm_compress_params p = params ? *params : dcllm_compress_params_default();
    const CompressOptions& d = defaults();
    CompressOptions o;
    o.model_path = model_path;
    o.output_path = output_path;
    o.tokenizer_path = or_default(p.tokenizer_path, d.tokenizer_path);
    o.calib_path = or_default(p.calib_path, d.calib_path);
    o.calib_tokens = p.calib_tokens;
    o.calib_ctx = p.calib_ctx;
    o.scale = or_default(p.scale, d.scale);
    o.alpha = p.alpha;
    o.wquant = or_default(p.wquant, d.wquant);
    o.aquant = or_default(p.aquant, d.aquant);
    o.prune = or_default(p.prune, d.prune);
    o.sparsity = p.sparsity;
    o.prune_group = or_default(p.prune_group, d.prune_group);
    o.codec = or_default(p.codec, d.codec);
    o.threads = p.threads > 0 ? p.threads : default_thread_count();
    if (p.on_progress) {
      o.on_progress = [&p](std::string_view stage, int64_t done, int64_t total) {
        const std::string s(stage);
        if (p.on_progress(p.user_data, s.c_str(), done, total) != 0) throw Cancelled{};
      };
    }
    auto report = compress_model(o);
    if (!report) return from_status(report.status());
    if (out_result) {
      auto r = std::make_unique<dcllm_compress_result>();
      r->report = std::move(report).value();
      r->json =
          r->report.to_json().dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
      *out_result = r.release();
    }
    return DCLLM_OK;
  });
}

dcllm_status dcllm_compress_result_summary(const dcllm_compress_result* result,
                                           dcllm_compress_summary* out_summary) {
  return guarded([&]() -> dcllm_status {
    if (!result) return fail(DCLLM_ERR_INVALID_ARGUMENT, "result is NULL");
    if (!out_summary) return fail(DCLLM_ERR_INVALID_ARGUMENT, "out_summary is NULL");
    const CompressReport& r = result->report;
    dcllm_compress_summary s{};
    s.file_bytes = r.file_bytes;
    s.parameters = r.parameters;
    s.int8_bytes = r.totals.int8_bytes;
    s.stored_bytes = r.totals.stored_bytes;
    s.scale_bytes = r.totals.scale_bytes;
    s.cr_vs_fp16 = r.cr_vs_fp16;
    s.cr_vs_int8 = r.totals.cr_vs_int8();
    s.bits_per_weight = r.totals.bits_per_weight();
    s.seconds = r.seconds;
    *out_summary = s;
    return DCLLM_OK;
  });
}

dcllm_status dcllm_compress_result_json(const dcllm_compress_result* result, char* json,
                                        size_t capacity, size_t* out_len) {
  return guarded([&]() -> dcllm_status {
    if (!result) return fail(DCLLM_ERR_INVALID_ARGUMENT, "result is NULL");
    return write_text(result->json, json, capacity, out_len, "compress report");
  });
}

void dcllm_compress_result_free(dcllm_compress_result* result) {
  delete result;
}

}  // extern "C"
