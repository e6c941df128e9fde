// The `deflate-N` codecs: raw DEFLATE via libdeflate (the fastest whole-buffer implementation),
// standing in for gzip/zlib, the format most weight archives actually ship in.
#include <libdeflate.h>

#include <memory>
#include <string>

#include "codec/codec_factories.h"

namespace dcllm::codec_detail {
namespace {

struct CompressorDeleter {
  void operator()(libdeflate_compressor* c) const { libdeflate_free_compressor(c); }
};
struct DecompressorDeleter {
  void operator()(libdeflate_decompressor* d) const { libdeflate_free_decompressor(d); }
};

// libdeflate (de)compressors are not thread-safe, so each thread keeps its own; the
// compressor is bound to a level, hence one per level the process uses.
libdeflate_compressor* thread_compressor(int level) {
  thread_local std::unique_ptr<libdeflate_compressor, CompressorDeleter> compressors[13];
  if (level < 0 || level > 12) return nullptr;
  auto& slot = compressors[level];
  if (!slot) slot.reset(libdeflate_alloc_compressor(level));
  return slot.get();
}
libdeflate_decompressor* thread_decompressor() {
  thread_local std::unique_ptr<libdeflate_decompressor, DecompressorDeleter> d(
      libdeflate_alloc_decompressor());
  return d.get();
}

class DeflateCodec final : public Codec {
 public:
  explicit DeflateCodec(int level) : level_(level), name_("deflate-" + std::to_string(level)) {}

  std::string_view name() const override { return name_; }

  Status compress(std::span<const uint8_t> in, std::vector<uint8_t>& out) const override {
    libdeflate_compressor* c = thread_compressor(level_);
    if (c == nullptr) return Internal(name_ + ": cannot allocate a compressor");
    const size_t old_size = out.size();
    const size_t capacity = libdeflate_deflate_compress_bound(c, in.size());
    out.resize(old_size + capacity);
    const size_t written =
        libdeflate_deflate_compress(c, in.data(), in.size(), out.data() + old_size, capacity);
    if (written == 0) {
      out.resize(old_size);
      return Internal(name_ + ": output exceeded libdeflate's own bound");
    }
    out.resize(old_size + written);
    return Status::Ok();
  }

  Status decompress(std::span<const uint8_t> in, std::span<uint8_t> out) const override {
    libdeflate_decompressor* d = thread_decompressor();
    if (d == nullptr) return Internal(name_ + ": cannot allocate a decompressor");
    // A null actual-size pointer makes libdeflate demand exactly out.size() bytes.
    const libdeflate_result result =
        libdeflate_deflate_decompress(d, in.data(), in.size(), out.data(), out.size(), nullptr);
    switch (result) {
      case LIBDEFLATE_SUCCESS:
        return Status::Ok();
      case LIBDEFLATE_SHORT_OUTPUT:
        return Corrupt(name_ + ": stream decodes to fewer than " + std::to_string(out.size()) +
                       " bytes");
      case LIBDEFLATE_INSUFFICIENT_SPACE:
        return Corrupt(name_ + ": stream decodes to more than " + std::to_string(out.size()) +
                       " bytes");
      default:
        return Corrupt(name_ + ": malformed stream");
    }
  }

 private:
  int level_;
  std::string name_;
};

}  // namespace

std::unique_ptr<Codec> make_deflate_codec(int level) {
  return std::make_unique<DeflateCodec>(level);
}

}  // namespace dcllm::codec_detail
