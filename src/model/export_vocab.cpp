// export_pieces(): one spelling of the vocabulary for the GGUF and Hugging Face exporters.
#include "model/export_vocab.h"

#include <string_view>

namespace dcllm {

ExportPieces export_pieces(const Vocab& v) {
  constexpr std::string_view kSpaceMark = "\xE2\x96\x81";  // "▁", SentencePiece's space
  ExportPieces out;
  out.types.assign(v.tokens.size(), TokenType::kNormal);
  if (!v.llama2c_pieces) {
    out.tokens = v.tokens;
    for (size_t i = 0; i < v.types.size() && i < out.types.size(); ++i) out.types[i] = v.types[i];
    return out;
  }
  out.tokens.reserve(v.tokens.size());
  for (size_t i = 0; i < v.tokens.size(); ++i) {
    std::string piece = v.tokens[i];
    const auto id = static_cast<int32_t>(i);
    if (id == v.bos_id) {
      piece = "<s>", out.types[i] = TokenType::kControl;
    } else if (id == v.eos_id) {
      piece = "</s>", out.types[i] = TokenType::kControl;
    } else if (id == v.unk_id) {
      out.types[i] = TokenType::kUnknown;
    } else if (piece.size() == 6 && piece.rfind("<0x", 0) == 0 && piece[5] == '>') {
      out.types[i] = TokenType::kByte;
    } else {
      std::string spaced;
      for (char c : piece) {
        if (c == ' ') {
          spaced += kSpaceMark;
        } else {
          spaced += c;
        }
      }
      piece = std::move(spaced);
    }
    out.tokens.push_back(std::move(piece));
  }
  return out;
}

}  // namespace dcllm
