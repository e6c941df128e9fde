// Vocab -> tokenizer.json / tokenizer_config.json in the forms Hugging Face's tokenizers library
// writes for the two families dcllm tokenizes (and hf_tokenizer_json.cpp reads back).
#include <algorithm>
#include <nlohmann/json.hpp>
#include <string_view>
#include <unordered_map>

#include "model/export_vocab.h"
#include "model/hf_export.h"

namespace dcllm {
namespace {

using ojson = nlohmann::ordered_json;

constexpr std::string_view kSpaceMark = "\xE2\x96\x81";  // "▁"

// The split regexes of llama.cpp's pre-tokenizer names, as the model's tokenizer.json states
// them (the same table hf_tokenizer_json.cpp recognises).
constexpr std::string_view kLlama3Split =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr std::string_view kQwen2Split =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

ojson byte_level(bool use_regex) {
  return {{"type", "ByteLevel"},
          {"add_prefix_space", false},
          {"trim_offsets", true},
          {"use_regex", use_regex}};
}

Expected<ojson> byte_level_pre_tokenizer(const std::string& rule) {
  if (rule.empty()) return byte_level(true);
  if (rule == "smollm") {
    return ojson{
        {"type", "Sequence"},
        {"pretokenizers", {{{"type", "Digits"}, {"individual_digits", true}}, byte_level(true)}}};
  }
  if (rule == "llama-bpe" || rule == "qwen2") {
    const std::string_view regex = rule == "qwen2" ? kQwen2Split : kLlama3Split;
    return ojson{{"type", "Sequence"},
                 {"pretokenizers",
                  {{{"type", "Split"},
                    {"pattern", {{"Regex", regex}}},
                    {"behavior", "Isolated"},
                    {"invert", false}},
                   byte_level(false)}}};
  }
  return Unsupported("the pre-tokenizer '" + rule + "' has no tokenizer.json form in dcllm");
}

// llama2.c and GGUF `llama` vocabularies merge the adjacent pair whose concatenation scores
// highest; Hugging Face BPE merges the pair of lowest rank. Ranking every pair (a, b) whose
// concatenation is a piece by that piece's score (highest first) makes the two agree.
std::vector<std::pair<std::string, std::string>> merges_from_scores(const ExportPieces& p,
                                                                    const std::vector<float>& s) {
  std::unordered_map<std::string_view, int32_t> id_of;
  for (size_t i = 0; i < p.tokens.size(); ++i) {
    if (p.types[i] == TokenType::kNormal || p.types[i] == TokenType::kUserDefined)
      id_of.emplace(p.tokens[i], static_cast<int32_t>(i));
  }
  struct Merge {
    float score;
    int32_t id, left;
    size_t split;
  };
  std::vector<Merge> merges;
  for (const auto& [piece, id] : id_of) {
    for (size_t k = 1; k < piece.size(); ++k) {
      if ((static_cast<unsigned char>(piece[k]) & 0xC0) == 0x80) continue;  // inside a char
      auto l = id_of.find(piece.substr(0, k));
      if (l == id_of.end() || !id_of.contains(piece.substr(k))) continue;
      merges.push_back({s[static_cast<size_t>(id)], id, l->second, k});
    }
  }
  std::sort(merges.begin(), merges.end(), [](const Merge& a, const Merge& b) {
    if (a.score != b.score) return a.score > b.score;
    if (a.id != b.id) return a.id < b.id;
    return a.split < b.split;
  });
  std::vector<std::pair<std::string, std::string>> out;
  out.reserve(merges.size());
  for (const Merge& m : merges) {
    const std::string& piece = p.tokens[static_cast<size_t>(m.id)];
    out.emplace_back(piece.substr(0, m.split), piece.substr(m.split));
  }
  return out;
}

ojson special_token(const std::string& content) {
  return {{"id", content}, {"type_id", 0}};
}

}  // namespace

Expected<std::string> hf_tokenizer_json(const Vocab& v) {
  const ExportPieces p = export_pieces(v);
  const bool spm = v.kind == VocabKind::kSentencePiece;
  const auto n = static_cast<int32_t>(p.tokens.size());
  auto valid = [n](int32_t id) { return id >= 0 && id < n; };

  ojson j;
  j["version"] = "1.0";
  j["truncation"] = nullptr;
  j["padding"] = nullptr;
  ojson added = ojson::array();
  for (int32_t i = 0; i < n; ++i) {
    const TokenType t = p.types[static_cast<size_t>(i)];
    if (t != TokenType::kControl && t != TokenType::kUserDefined && t != TokenType::kUnknown)
      continue;
    added.push_back({{"id", i},
                     {"content", p.tokens[static_cast<size_t>(i)]},
                     {"single_word", false},
                     {"lstrip", false},
                     {"rstrip", false},
                     {"normalized", false},
                     {"special", t != TokenType::kUserDefined}});
  }
  j["added_tokens"] = std::move(added);

  ojson vocab = ojson::object();
  for (int32_t i = 0; i < n; ++i) {
    const std::string& piece = p.tokens[static_cast<size_t>(i)];
    if (vocab.contains(piece)) {
      return Unsupported("token " + std::to_string(i) +
                         " repeats an earlier piece; tokenizer.json maps each piece to one id");
    }
    vocab[piece] = i;
  }
  ojson merges = ojson::array();
  if (!v.merges.empty()) {
    for (const std::string& m : v.merges) {
      const size_t sp = m.find(' ');
      if (sp == std::string::npos) return Corrupt("a BPE merge without a space: " + m);
      merges.push_back({m.substr(0, sp), m.substr(sp + 1)});
    }
  } else if (spm && v.scores.size() == p.tokens.size()) {
    for (auto& [a, b] : merges_from_scores(p, v.scores)) merges.push_back({a, b});
  } else {
    return Unsupported("the vocabulary has neither merges nor scores to rank merges by");
  }

  ojson model = {{"type", "BPE"},
                 {"dropout", nullptr},
                 {"unk_token", nullptr},
                 {"continuing_subword_prefix", nullptr},
                 {"end_of_word_suffix", nullptr},
                 {"fuse_unk", false},
                 {"byte_fallback", false},
                 {"ignore_merges", v.ignore_merges}};
  if (spm) {
    ojson norm = ojson::array();
    if (v.add_space_prefix) norm.push_back({{"type", "Prepend"}, {"prepend", kSpaceMark}});
    norm.push_back({{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", kSpaceMark}});
    if (v.nfc) norm.push_back({{"type", "NFC"}});
    j["normalizer"] = {{"type", "Sequence"}, {"normalizers", std::move(norm)}};
    j["pre_tokenizer"] = nullptr;
    const bool bytes = std::find(p.types.begin(), p.types.end(), TokenType::kByte) != p.types.end();
    model["byte_fallback"] = bytes;
    model["fuse_unk"] = true;
    if (valid(v.unk_id)) model["unk_token"] = p.tokens[static_cast<size_t>(v.unk_id)];
    if (!bytes && !valid(v.unk_id))
      return Unsupported("a SentencePiece vocabulary without byte pieces or an unknown token");
    ojson dec = ojson::array();
    dec.push_back({{"type", "Replace"}, {"pattern", {{"String", kSpaceMark}}}, {"content", " "}});
    dec.push_back({{"type", "ByteFallback"}});
    dec.push_back({{"type", "Fuse"}});
    if (v.add_space_prefix)
      dec.push_back({{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}});
    j["decoder"] = {{"type", "Sequence"}, {"decoders", std::move(dec)}};
  } else {
    j["normalizer"] = v.nfc ? ojson{{"type", "NFC"}} : ojson(nullptr);
    DCLLM_ASSIGN_OR_RETURN(j["pre_tokenizer"], byte_level_pre_tokenizer(v.pre_tokenizer));
    j["decoder"] = byte_level(true);
  }
  if (v.add_bos && valid(v.bos_id)) {
    const std::string& bos = p.tokens[static_cast<size_t>(v.bos_id)];
    j["post_processor"] = {
        {"type", "TemplateProcessing"},
        {"single", {{{"SpecialToken", special_token(bos)}}, {{"Sequence", special_token("A")}}}},
        {"pair",
         {{{"SpecialToken", special_token(bos)}},
          {{"Sequence", special_token("A")}},
          {{"SpecialToken", {{"id", bos}, {"type_id", 1}}}},
          {{"Sequence", {{"id", "B"}, {"type_id", 1}}}}}},
        {"special_tokens", {{bos, {{"id", bos}, {"ids", {v.bos_id}}, {"tokens", {bos}}}}}}};
  } else {
    j["post_processor"] = nullptr;
  }
  model["vocab"] = std::move(vocab);
  model["merges"] = std::move(merges);
  j["model"] = std::move(model);
  return j.dump(1, ' ', false, ojson::error_handler_t::strict);
}

std::string hf_tokenizer_config_json(const Vocab& v) {
  const ExportPieces p = export_pieces(v);
  const auto n = static_cast<int32_t>(p.tokens.size());
  auto piece = [&](int32_t id) -> ojson {
    if (id < 0 || id >= n) return nullptr;
    return p.tokens[static_cast<size_t>(id)];
  };
  ojson j = {{"add_bos_token", v.add_bos},
             {"add_eos_token", false},
             {"bos_token", piece(v.bos_id)},
             {"eos_token", piece(v.eos_id)},
             {"tokenizer_class", "PreTrainedTokenizerFast"}};
  if (v.kind == VocabKind::kSentencePiece) j["unk_token"] = piece(v.unk_id);
  if (!v.chat_template.empty()) j["chat_template"] = v.chat_template;
  return j.dump(2, ' ', false, ojson::error_handler_t::replace) + "\n";
}

}  // namespace dcllm
