// The `zstd-N` codecs: Zstandard at a fixed level (1 = fast, 19 = strong), one frame per call.
// A general-purpose LZ+entropy baseline: what a practitioner would reach for first.
#include <zstd.h>

#include <memory>
#include <string>

#include "codec/codec_factories.h"

namespace dcllm::codec_detail {
namespace {

struct CCtxDeleter {
  void operator()(ZSTD_CCtx* ctx) const { ZSTD_freeCCtx(ctx); }
};
struct DCtxDeleter {
  void operator()(ZSTD_DCtx* ctx) const { ZSTD_freeDCtx(ctx); }
};

// Contexts are reused per thread: creating one costs more than coding a small chunk, and
// thread_local keeps the const codec safe to share between decode threads.
ZSTD_CCtx* thread_cctx() {
  thread_local std::unique_ptr<ZSTD_CCtx, CCtxDeleter> ctx(ZSTD_createCCtx());
  return ctx.get();
}
ZSTD_DCtx* thread_dctx() {
  thread_local std::unique_ptr<ZSTD_DCtx, DCtxDeleter> ctx(ZSTD_createDCtx());
  return ctx.get();
}

class ZstdCodec final : public Codec {
 public:
  explicit ZstdCodec(int level) : level_(level), name_("zstd-" + std::to_string(level)) {}

  std::string_view name() const override { return name_; }

  Status compress(std::span<const uint8_t> in, std::vector<uint8_t>& out) const override {
    ZSTD_CCtx* ctx = thread_cctx();
    if (ctx == nullptr) return Internal(name_ + ": cannot allocate a compression context");
    const size_t old_size = out.size();
    const size_t capacity = ZSTD_compressBound(in.size());
    out.resize(old_size + capacity);
    const size_t written =
        ZSTD_compressCCtx(ctx, out.data() + old_size, capacity, in.data(), in.size(), level_);
    if (ZSTD_isError(written)) {
      out.resize(old_size);
      return Internal(name_ + ": " + ZSTD_getErrorName(written));
    }
    out.resize(old_size + written);
    return Status::Ok();
  }

  Status decompress(std::span<const uint8_t> in, std::span<uint8_t> out) const override {
    ZSTD_DCtx* ctx = thread_dctx();
    if (ctx == nullptr) return Internal(name_ + ": cannot allocate a decompression context");
    const size_t decoded = ZSTD_decompressDCtx(ctx, out.data(), out.size(), in.data(), in.size());
    if (ZSTD_isError(decoded)) return Corrupt(name_ + ": " + ZSTD_getErrorName(decoded));
    if (decoded != out.size()) {
      return Corrupt(name_ + ": frame decodes to " + std::to_string(decoded) + " bytes, expected " +
                     std::to_string(out.size()));
    }
    return Status::Ok();
  }

 private:
  int level_;
  std::string name_;
};

}  // namespace

std::unique_ptr<Codec> make_zstd_codec(int level) {
  return std::make_unique<ZstdCodec>(level);
}

}  // namespace dcllm::codec_detail
