// Reads a Hugging Face tokenizer.json (and tokenizer_config.json) into a Vocab, so Tokenizer
// gives the ids `transformers` gives: byte-level BPE and SentencePiece-style BPE families.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "dcllm/status.h"
#include "model/vocab.h"

namespace dcllm {

// What is read (anything else is an Unsupported error naming the file and the feature):
//  - model: type "BPE" with vocab {piece: id}, merges as "a b" strings or ["a", "b"] pairs
//    (each must name model.vocab pieces whose concatenation is one, as HF requires; else
//    Corrupt), byte_fallback, unk_token, ignore_merges, fuse_unk (only where it cannot act);
//    no dropout, continuing_subword_prefix or end_of_word_suffix.
//  - added_tokens: [{id, content, special}] with lstrip/rstrip/single_word false; special ones
//    become kControl, the rest kUserDefined; they may extend the vocab past model.vocab. Ids of
//    vocab and added tokens together must be exactly 0..n-1, each piece once.
//  - byte-level family (GPT-2, OPT, Llama-3, Qwen2, SmolLM): pre_tokenizer ByteLevel
//    (use_regex, add_prefix_space false), or Sequence of Split(known regex) / Digits(individual)
//    and ByteLevel; no normalizer; decoder ByteLevel.
//  - SentencePiece family (Llama-2, Mistral, TinyLlama): normalizer Prepend("▁") and
//    Replace(" ", "▁"), or pre_tokenizer Metaspace("▁", prepend_scheme, split false); decoder
//    Replace/ByteFallback/Fuse/Strip or Metaspace.
//  - BOS: a post_processor TemplateProcessing whose `single` starts with a special token adds
//    it; tokenizer_config.json add_bos_token, when present, decides instead. EOS (and BOS when
//    no template names one), strongest first: tokenizer_config.json eos_token/bos_token, the
//    id `stated` gives (config.json's or generation_config.json's bos/eos_token_id: an explicit
//    id beats a guess; out of range is Corrupt naming that file), a conventional name
//    (</s>, <|endoftext|>, ...), else -1.
// `tokenizer_config_json` may be empty (no such file). `name` stands for the directory or file
// in messages. Every JSON text is refused past kMaxJsonDepth nesting (core/json_limits.h).
struct StatedId {
  int64_t id = -1;   // -1: the file states none
  std::string file;  // where it is stated, for messages
};
struct StatedTokenIds {
  StatedId bos, eos;
};
Expected<Vocab> parse_hf_tokenizer_json(std::string_view tokenizer_json,
                                        std::string_view tokenizer_config_json,
                                        const std::string& name, const StatedTokenIds& stated = {});

// Reads <dir>/tokenizer.json and, when present, <dir>/tokenizer_config.json.
Expected<Vocab> load_hf_tokenizer(const std::string& dir, const StatedTokenIds& stated = {});

}  // namespace dcllm
