// Factories of the individual codec wrappers, one per file; codec_registry.cpp lists them in
// report order and is the only caller (everyone else goes through make_codec(name)).
#pragma once

#include <memory>

#include "dcllm/codec.h"

namespace dcllm::codec_detail {

std::unique_ptr<Codec> make_raw_codec();
std::unique_ptr<Codec> make_rans_codec();
std::unique_ptr<Codec> make_htscodecs_rans32x16_codec();
std::unique_ptr<Codec> make_zstd_codec(int level);
std::unique_ptr<Codec> make_lz4_codec();
std::unique_ptr<Codec> make_snappy_codec();
std::unique_ptr<Codec> make_deflate_codec(int level);

}  // namespace dcllm::codec_detail
