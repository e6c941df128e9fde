// The vocabulary as the exporters write it: pieces in SentencePiece's own spelling ("▁" for a
// space, <s>/</s> as control tokens) and a type per token, whatever file it was read from.
#pragma once

#include <string>
#include <vector>

#include "model/vocab.h"

namespace dcllm {

struct ExportPieces {
  std::vector<std::string> tokens;
  std::vector<TokenType> types;  // one per token
};

// llama2.c pieces are plain text (spaces, "\n<s>\n"); they become "▁" pieces, bare <s>/</s>
// (control), <unk> and <0xXX> bytes typed. Other vocabularies keep their pieces and types.
ExportPieces export_pieces(const Vocab& v);

}  // namespace dcllm
