// Tests of the Hugging Face tokenizer.json reader: hand-made files of both families (merge
// formats, added tokens, byte fallback, BOS rules, errors), then ids recorded from `transformers`.
#include "model/hf_tokenizer_json.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "model/tokenizer.h"
#include "model/tokenizer_tables.h"

namespace dcllm {
namespace {

using json = nlohmann::json;

const std::string kSpaceMark = "\xE2\x96\x81";
const std::string kG = "\xC4\xA0";  // Ġ, GPT-2's space

std::string file_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string replace_all(std::string_view s, std::string_view from, std::string_view to) {
  std::string out;
  size_t pos = 0;
  for (size_t hit; (hit = s.find(from, pos)) != std::string_view::npos; pos = hit + from.size()) {
    out.append(s.substr(pos, hit - pos));
    out.append(to);
  }
  out.append(s.substr(pos));
  return out;
}

// A GPT-2-style tokenizer.json: the 256 byte pieces (id = byte), then one piece per merge in
// order, then <|endoftext|> as a special added token. `merges` are "a b" with "_" for Ġ.
json byte_level_json(const std::vector<std::string>& merges, bool pair_format = false) {
  json vocab = json::object();
  for (int b = 0; b < 256; ++b) vocab[gpt2_byte_piece(static_cast<uint8_t>(b))] = b;
  json merge_list = json::array();
  for (const std::string& m : merges) {
    const std::string g = replace_all(m, "_", kG);
    const size_t sp = g.find(' ');
    const std::string left = g.substr(0, sp), right = g.substr(sp + 1);
    if (!vocab.contains(left + right)) vocab[left + right] = vocab.size();
    if (pair_format) {
      merge_list.push_back(json::array({left, right}));
    } else {
      merge_list.push_back(left + " " + right);
    }
  }
  const size_t eot = vocab.size();
  return {
      {"version", "1.0"},
      {"truncation", nullptr},
      {"padding", nullptr},
      {"added_tokens", json::array({{{"id", eot},
                                     {"content", "<|endoftext|>"},
                                     {"single_word", false},
                                     {"lstrip", false},
                                     {"rstrip", false},
                                     {"normalized", true},
                                     {"special", true}}})},
      {"normalizer", nullptr},
      {"pre_tokenizer",
       {{"type", "ByteLevel"},
        {"add_prefix_space", false},
        {"trim_offsets", true},
        {"use_regex", true}}},
      {"post_processor",
       {{"type", "ByteLevel"},
        {"add_prefix_space", true},
        {"trim_offsets", false},
        {"use_regex", true}}},
      {"decoder",
       {{"type", "ByteLevel"},
        {"add_prefix_space", true},
        {"trim_offsets", true},
        {"use_regex", true}}},
      {"model",
       {{"type", "BPE"},
        {"dropout", nullptr},
        {"unk_token", nullptr},
        {"continuing_subword_prefix", ""},
        {"end_of_word_suffix", ""},
        {"fuse_unk", false},
        {"byte_fallback", false},
        {"vocab", vocab},
        {"merges", merge_list}}},
  };
}

// A Llama-2-style tokenizer.json: <unk> <s> </s>, the 256 <0xXX> pieces, then single characters
// and one piece per merge ("_" stands for ▁), ranked in the order given.
json llama_json(const std::vector<std::string>& chars, const std::vector<std::string>& merges) {
  json vocab = json::object();
  vocab["<unk>"] = 0;
  vocab["<s>"] = 1;
  vocab["</s>"] = 2;
  for (int b = 0; b < 256; ++b) {
    char hex[8];
    std::snprintf(hex, sizeof hex, "<0x%02X>", b);
    vocab[hex] = 3 + b;
  }
  for (const std::string& c : chars) vocab[replace_all(c, "_", kSpaceMark)] = vocab.size();
  json merge_list = json::array();
  for (const std::string& m : merges) {
    const std::string s = replace_all(m, "_", kSpaceMark);
    const size_t sp = s.find(' ');
    const std::string joined = s.substr(0, sp) + s.substr(sp + 1);
    if (!vocab.contains(joined)) vocab[joined] = vocab.size();
    merge_list.push_back(s);
  }
  auto added = [](int id, const char* content) {
    return json{{"id", id},        {"content", content},  {"single_word", false}, {"lstrip", false},
                {"rstrip", false}, {"normalized", false}, {"special", true}};
  };
  return {
      {"version", "1.0"},
      {"added_tokens", json::array({added(0, "<unk>"), added(1, "<s>"), added(2, "</s>")})},
      {"normalizer",
       {{"type", "Sequence"},
        {"normalizers",
         json::array(
             {{{"type", "Prepend"}, {"prepend", kSpaceMark}},
              {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", kSpaceMark}}})}}},
      {"pre_tokenizer", nullptr},
      {"post_processor",
       {{"type", "TemplateProcessing"},
        {"single", json::array({{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}},
                                {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}})},
        {"pair", json::array()},
        {"special_tokens", {{"<s>", {{"id", "<s>"}, {"ids", {1}}, {"tokens", {"<s>"}}}}}}}},
      {"decoder",
       {{"type", "Sequence"},
        {"decoders",
         json::array(
             {{{"type", "Replace"}, {"pattern", {{"String", kSpaceMark}}}, {"content", " "}},
              {{"type", "ByteFallback"}},
              {{"type", "Fuse"}},
              {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}})}}},
      {"model",
       {{"type", "BPE"},
        {"dropout", nullptr},
        {"unk_token", "<unk>"},
        {"continuing_subword_prefix", nullptr},
        {"end_of_word_suffix", nullptr},
        {"fuse_unk", true},
        {"byte_fallback", true},
        {"vocab", vocab},
        {"merges", merge_list}}},
  };
}

Vocab parse_ok(const json& j, const std::string& config = "") {
  auto v = parse_hf_tokenizer_json(j.dump(), config, "t/tokenizer.json");
  EXPECT_TRUE(v.ok()) << v.status().message();
  return v.ok() ? std::move(v).value() : Vocab{};
}

Tokenizer make(const Vocab& v) {
  auto t = Tokenizer::create(v);
  EXPECT_TRUE(t.ok()) << t.status().message();
  return std::move(t).value();
}

int32_t id_of(const Vocab& v, const std::string& piece) {
  const std::string g =
      replace_all(piece, "_", v.kind == VocabKind::kByteLevelBpe ? kG : kSpaceMark);
  for (size_t i = 0; i < v.tokens.size(); ++i) {
    if (v.tokens[i] == g) return static_cast<int32_t>(i);
  }
  ADD_FAILURE() << "no piece " << piece;
  return -1;
}

void expect_error(const std::string& text, StatusCode code, const std::string& fragment,
                  const std::string& config = "") {
  auto v = parse_hf_tokenizer_json(text, config, "dir/tokenizer.json");
  ASSERT_FALSE(v.ok()) << fragment;
  EXPECT_EQ(v.status().code(), code) << v.status().message();
  const std::string& m = v.status().message();
  EXPECT_NE(m.find(fragment), std::string::npos) << m;
  EXPECT_NE(m.find("dir/tokenizer"), std::string::npos) << m;
  EXPECT_EQ(m.find('\n'), std::string::npos) << m;
}

// ---------------------------------------------------------------------------------------------
// Byte-level BPE

TEST(HfTokenizerJson, ByteLevelBpeMergesByRankInBothMergeFormats) {
  const std::vector<std::string> merges = {"h e", "l l",   "he ll",   "hell o", "_ w",
                                           "o r", "_w or", "_wor ld", "l d"};
  for (bool pairs : {false, true}) {
    Vocab v = parse_ok(byte_level_json(merges, pairs));
    EXPECT_EQ(v.kind, VocabKind::kByteLevelBpe);
    EXPECT_EQ(v.merges.size(), merges.size());
    EXPECT_EQ(v.merges[0], "h e");
    EXPECT_FALSE(v.add_bos);
    EXPECT_EQ(v.eos_id, id_of(v, "<|endoftext|>"));
    EXPECT_EQ(v.bos_id, id_of(v, "<|endoftext|>"));  // GPT-2 calls it both
    EXPECT_EQ(v.unk_id, -1);
    EXPECT_EQ(v.pre_tokenizer, "");
    EXPECT_EQ(v.types[id_of(v, "<|endoftext|>")], TokenType::kControl);
    Tokenizer t = make(v);
    const auto ids = t.encode("hello world<|endoftext|>", v.add_bos);
    EXPECT_EQ(ids, (std::vector<int32_t>{id_of(v, "hello"), id_of(v, "_world"),
                                         id_of(v, "<|endoftext|>")}));
    EXPECT_EQ(t.decode(t.encode("hello  wörld\n", false)), "hello  wörld\n");
  }
}

TEST(HfTokenizerJson, IgnoreMergesTakesAWholePreTokenThatIsAPiece) {
  json j = byte_level_json({"a b", "b c"});
  // No merge path reaches "abc".
  j["model"]["vocab"]["abc"] = j["model"]["vocab"].size();
  j["added_tokens"][0]["id"] = j["model"]["vocab"].size();
  {
    Vocab v = parse_ok(j);
    EXPECT_EQ(make(v).encode("abc", false), (std::vector<int32_t>{id_of(v, "ab"), 'c'}));
  }
  j["model"]["ignore_merges"] = true;
  Vocab v = parse_ok(j);
  EXPECT_TRUE(v.ignore_merges);
  Tokenizer t = make(v);
  // " abcd" is no piece: it merges as before (byte ids are the bytes).
  EXPECT_EQ(t.encode("abc abcd", false),
            (std::vector<int32_t>{id_of(v, "abc"), ' ', id_of(v, "ab"), 'c', 'd'}));
}

TEST(HfTokenizerJson, AddedTokensExtendTheVocabAndMatchWhole) {
  json j = byte_level_json({"h i"});
  const int base = static_cast<int>(j["model"]["vocab"].size()) + 1;  // after <|endoftext|>
  j["added_tokens"].push_back({{"id", base}, {"content", "<|im_start|>"}, {"special", true}});
  j["added_tokens"].push_back({{"id", base + 1}, {"content", "<tool>"}, {"special", false}});
  Vocab v = parse_ok(j);
  ASSERT_EQ(v.tokens.size(), static_cast<size_t>(base + 2));
  EXPECT_EQ(v.types[base], TokenType::kControl);
  EXPECT_EQ(v.types[base + 1], TokenType::kUserDefined);
  Tokenizer t = make(v);
  const auto ids = t.encode("<|im_start|>hi<tool>", false);
  EXPECT_EQ(ids, (std::vector<int32_t>{base, id_of(v, "hi"), base + 1}));
  EXPECT_EQ(t.decode(ids), "hi<tool>");  // control tokens decode to ""
}

TEST(HfTokenizerJson, NfcNormalizerPutsTheTextBetweenAddedTokensInNfc) {
  const std::string e_acute = "\xC3\xA9", e_then_acute = "e\xCC\x81";  // U+00E9; e, U+0301
  json j = byte_level_json({gpt2_byte_piece(0xC3) + " " + gpt2_byte_piece(0xA9)});
  j["added_tokens"][0]["normalized"] = false;
  {
    // Without a normalizer "e" and its acute stay apart: the check below can fail.
    Tokenizer t = make(parse_ok(j));
    EXPECT_NE(t.encode(e_then_acute, false), t.encode(e_acute, false));
  }
  for (const json& normalizer :
       {json{{"type", "NFC"}},
        json{{"type", "Sequence"}, {"normalizers", json::array({{{"type", "NFC"}}})}}}) {
    j["normalizer"] = normalizer;
    Vocab v = parse_ok(j);
    EXPECT_TRUE(v.nfc);
    Tokenizer t = make(v);
    const int32_t e_acute_id = id_of(v, gpt2_byte_piece(0xC3) + gpt2_byte_piece(0xA9));
    EXPECT_EQ(t.encode(std::string("caf") + e_then_acute, false),
              (std::vector<int32_t>{'c', 'a', 'f', e_acute_id}));
    EXPECT_EQ(t.encode(std::string("caf") + e_then_acute, false),
              t.encode(std::string("caf") + e_acute, false));
    // Added tokens are matched in the raw text, as HF does with normalized false: '>' and a
    // following U+0338 would otherwise compose into U+226F.
    const int32_t eot = id_of(v, "<|endoftext|>");
    EXPECT_EQ(t.encode("e<|endoftext|>\xCC\xB8", false),
              (std::vector<int32_t>{'e', eot, 0xCC, 0xB8}));
  }
  // HF matches an added token with normalized true in the normalized text; dcllm does not.
  j["added_tokens"][0]["normalized"] = true;
  expect_error(j.dump(), StatusCode::kUnsupported, "normalized true under an NFC normalizer");
  j["added_tokens"][0]["normalized"] = false;
  j["normalizer"] = {{"type", "Sequence"},
                     {"normalizers", json::array({{{"type", "NFC"}}, {{"type", "Lowercase"}}})}};
  expect_error(j.dump(), StatusCode::kUnsupported, "normalizer Lowercase");

  // SentencePiece style: NFC alongside Prepend and Replace.
  json sp = llama_json({"_", "e", e_acute}, {std::string("_ ") + e_acute});
  sp["normalizer"]["normalizers"].push_back({{"type", "NFC"}});
  Vocab v = parse_ok(sp);
  EXPECT_TRUE(v.nfc);
  Tokenizer t = make(v);
  EXPECT_EQ(t.encode(e_then_acute, false),
            (std::vector<int32_t>{id_of(v, std::string("_") + e_acute)}));
  EXPECT_EQ(t.encode(e_then_acute + "</s>" + e_then_acute, false),
            (std::vector<int32_t>{id_of(v, std::string("_") + e_acute), 2,
                                  id_of(v, std::string("_") + e_acute)}));
}

TEST(HfTokenizerJson, PreTokenizerSequencesMapToSplitRules) {
  json j = byte_level_json({});
  j["pre_tokenizer"] = {
      {"type", "Sequence"},
      {"pretokenizers",
       json::array({{{"type", "Digits"}, {"individual_digits", true}},
                    {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}}})}};
  EXPECT_EQ(parse_ok(j).pre_tokenizer, "smollm");
  Tokenizer smollm = make(parse_ok(j));
  EXPECT_EQ(smollm.encode("12", false), (std::vector<int32_t>{'1', '2'}));

  const std::string llama3 =
      R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
  j["pre_tokenizer"]["pretokenizers"] =
      json::array({{{"type", "Split"},
                    {"pattern", {{"Regex", llama3}}},
                    {"behavior", "Isolated"},
                    {"invert", false}},
                   {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}});
  EXPECT_EQ(parse_ok(j).pre_tokenizer, "llama-bpe");

  j["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = R"(\p{L}+|\s+)";
  expect_error(j.dump(), StatusCode::kUnsupported, R"(Split regex '\p{L}+|\s+')");
  j["pre_tokenizer"] = {{"type", "Whitespace"}};
  expect_error(j.dump(), StatusCode::kUnsupported, "Whitespace");
  j["pre_tokenizer"] = {{"type", "ByteLevel"}, {"add_prefix_space", true}};
  expect_error(j.dump(), StatusCode::kUnsupported, "add_prefix_space");
}

// ---------------------------------------------------------------------------------------------
// SentencePiece-style BPE

TEST(HfTokenizerJson, SentencePieceStyleMergesByRankNotByScore) {
  // "_a b" ranks before "a b": HF gives ▁a + b; had "ab" merged first, ▁ + ab.
  json j = llama_json({"_", "a", "b", "c"}, {"_ a", "_a b", "a b"});
  Vocab v = parse_ok(j);
  EXPECT_EQ(v.kind, VocabKind::kSentencePiece);
  EXPECT_TRUE(v.scores.empty());
  EXPECT_TRUE(v.add_bos);
  EXPECT_EQ(v.bos_id, 1);
  EXPECT_EQ(v.eos_id, 2);
  EXPECT_EQ(v.unk_id, 0);
  EXPECT_EQ(v.types[3 + 'A'], TokenType::kByte);
  Tokenizer t = make(v);
  EXPECT_EQ(t.encode("ab", true), (std::vector<int32_t>{1, id_of(v, "_ab")}));
  EXPECT_EQ(t.encode("bab", false),
            (std::vector<int32_t>{id_of(v, "_"), id_of(v, "b"), id_of(v, "ab")}));
  // Byte fallback for characters the vocab lacks, and decoding gives the text back.
  const auto ids = t.encode("a 日", true);
  EXPECT_EQ(ids,
            (std::vector<int32_t>{1, id_of(v, "_a"), id_of(v, "_"), 3 + 0xE6, 3 + 0x97, 3 + 0xA5}));
  EXPECT_EQ(t.decode(ids), "a 日");
  EXPECT_EQ(t.decode(t.encode("  cab\n", true)), "  cab\n");

  // Swapping the ranks changes the ids: the ranks, not the piece order, decide.
  Vocab swapped = parse_ok(llama_json({"_", "a", "b", "c"}, {"a b", "_ a", "_a b"}));
  EXPECT_EQ(make(swapped).encode("ab", false),
            (std::vector<int32_t>{id_of(swapped, "_"), id_of(swapped, "ab")}));
}

TEST(HfTokenizerJson, SpecialTokensSplitTheTextAndEachStretchGetsThePrefix) {
  Vocab v = parse_ok(llama_json({"_", "a", "b"}, {"_ a"}));
  EXPECT_TRUE(v.control_pieces_in_text);
  EXPECT_TRUE(v.space_prefix_every_segment);
  Tokenizer t = make(v);
  // HF's Prepend normalizer runs on each stretch between added tokens.
  EXPECT_EQ(t.encode("a</s>a", false), (std::vector<int32_t>{id_of(v, "_a"), 2, id_of(v, "_a")}));

  // Metaspace with prepend_scheme "first": only where the text starts.
  json j = llama_json({"_", "a", "b"}, {"_ a"});
  j["normalizer"] = nullptr;
  j["pre_tokenizer"] = {{"type", "Metaspace"},
                        {"replacement", kSpaceMark},
                        {"prepend_scheme", "first"},
                        {"split", false}};
  j["decoder"] = {{"type", "Metaspace"},
                  {"replacement", kSpaceMark},
                  {"prepend_scheme", "first"},
                  {"split", false}};
  Vocab first = parse_ok(j);
  EXPECT_FALSE(first.space_prefix_every_segment);
  EXPECT_EQ(make(first).encode("a</s>a", false),
            (std::vector<int32_t>{id_of(first, "_a"), 2, id_of(first, "a")}));
  // Metaspace prepends only where the text does not start with a space; Prepend always does.
  EXPECT_EQ(make(first).encode(" a", false), (std::vector<int32_t>{id_of(first, "_a")}));
  EXPECT_EQ(t.encode(" a", false), (std::vector<int32_t>{id_of(v, "_"), id_of(v, "_a")}));
  j["pre_tokenizer"]["split"] = true;
  expect_error(j.dump(), StatusCode::kUnsupported, "split");
}

TEST(HfTokenizerJson, BosFollowsTemplateThenTokenizerConfig) {
  json j = llama_json({"a"}, {"a a"});
  EXPECT_TRUE(parse_ok(j).add_bos);
  EXPECT_FALSE(parse_ok(j, R"({"add_bos_token": false})").add_bos);
  Vocab config_eos = parse_ok(j, R"({"eos_token": {"content": "<s>", "lstrip": false}})");
  EXPECT_EQ(config_eos.eos_id, 1);
  j["post_processor"] = nullptr;
  EXPECT_FALSE(parse_ok(j).add_bos);
  Vocab v = parse_ok(j, R"({"add_bos_token": true, "bos_token": "</s>"})");
  EXPECT_TRUE(v.add_bos);
  EXPECT_EQ(v.bos_id, 2);
  expect_error(j.dump(), StatusCode::kCorrupt, "tokenizer_config.json: eos_token '<eot>'",
               R"({"eos_token": "<eot>"})");
  expect_error(j.dump(), StatusCode::kUnsupported, "add_eos_token", R"({"add_eos_token": true})");
  expect_error(j.dump(), StatusCode::kCorrupt, "tokenizer_config.json: not valid JSON", "{");

  // A template appending EOS after the text cannot be reproduced.
  j = llama_json({"a"}, {"a a"});
  j["post_processor"]["single"].push_back({{"SpecialToken", {{"id", "</s>"}, {"type_id", 0}}}});
  expect_error(j.dump(), StatusCode::kUnsupported, "appending '</s>'");
  // Llama-3 wraps the template in a Sequence with ByteLevel.
  j = byte_level_json({});
  j["added_tokens"][0]["content"] = "<|begin_of_text|>";
  j["post_processor"] = {
      {"type", "Sequence"},
      {"processors",
       json::array({{{"type", "ByteLevel"}, {"trim_offsets", false}},
                    {{"type", "TemplateProcessing"},
                     {"single", json::array({{{"SpecialToken", {{"id", "<|begin_of_text|>"}}}},
                                             {{"Sequence", {{"id", "A"}}}}})},
                     {"special_tokens", json::object()}}})}};
  Vocab llama3 = parse_ok(j);
  EXPECT_TRUE(llama3.add_bos);
  EXPECT_EQ(llama3.bos_id, 256);
  EXPECT_EQ(make(llama3).encode("a", true), (std::vector<int32_t>{256, 'a'}));
}

// ---------------------------------------------------------------------------------------------
// Malformed and unsupported files

TEST(HfTokenizerJson, RejectsMalformedFiles) {
  const json good = byte_level_json({"a b"});
  expect_error("", StatusCode::kCorrupt, "not valid JSON");
  expect_error("[1, 2]", StatusCode::kCorrupt, "not an object");
  expect_error("{\"model\": 3}", StatusCode::kCorrupt, "model is not an object");
  expect_error(std::string(100, '[') + std::string(100, ']'), StatusCode::kCorrupt, "nests deeper");
  expect_error(std::string((size_t{200} << 20) + 1, ' '), StatusCode::kCorrupt, "MiB");

  auto with = [&](const std::string& path, json value) {
    json j = good;
    j[json::json_pointer(path)] = std::move(value);
    return j.dump();
  };
  expect_error(with("/model/type", "WordPiece"), StatusCode::kUnsupported,
               "model type 'WordPiece'");
  expect_error(with("/model/vocab/a", "x"), StatusCode::kCorrupt, "model.vocab['a']");
  expect_error(with("/model/vocab/a", 500), StatusCode::kCorrupt, "id 500");
  expect_error(with("/model/vocab/a", 98), StatusCode::kCorrupt, "to both");
  expect_error(with("/model/vocab/a", -1), StatusCode::kCorrupt, "id -1");
  expect_error(with("/model/merges/0", "a"), StatusCode::kCorrupt, "merges[0]");
  expect_error(with("/model/merges/0", "a b c"), StatusCode::kCorrupt, "merges[0]");
  expect_error(with("/model/merges/0", "a q\xC3\xA9"), StatusCode::kCorrupt, "model.vocab lacks");
  expect_error(with("/model/merges/0", "b a"), StatusCode::kCorrupt,
               "'ba', which model.vocab lacks");
  expect_error(with("/model/merges/0", json::array({"a", 1})), StatusCode::kCorrupt, "merges[0]");
  expect_error(with("/model/byte_fallback", "yes"), StatusCode::kCorrupt, "byte_fallback");
  expect_error(with("/model/dropout", 0.1), StatusCode::kUnsupported, "dropout");
  expect_error(with("/model/continuing_subword_prefix", "##"), StatusCode::kUnsupported,
               "continuing_subword_prefix");
  expect_error(with("/added_tokens/0/id", 300), StatusCode::kCorrupt, "id 300");
  expect_error(with("/added_tokens/0/id", 5), StatusCode::kCorrupt, "which is");
  expect_error(with("/added_tokens/0/lstrip", true), StatusCode::kUnsupported, "lstrip");
  expect_error(with("/added_tokens/0/content", ""), StatusCode::kCorrupt, "content");
  expect_error(with("/normalizer", {{"type", "NFKC"}}), StatusCode::kUnsupported,
               "normalizer NFKC");
  expect_error(with("/decoder", {{"type", "WordPiece"}}), StatusCode::kUnsupported, "WordPiece");
  // Strings from the file are quoted printable, so a message stays one line.
  expect_error(with("/decoder", {{"type", "A\nB"}}), StatusCode::kUnsupported, "A\\x0aB");
  expect_error(with("/pre_tokenizer", nullptr), StatusCode::kUnsupported, "without a ByteLevel");

  // A gap in the ids ('d' is gone), hidden from the range check by an added token that repeats
  // a vocab entry.
  json gap = good;
  gap["model"]["vocab"].erase("d");
  gap["added_tokens"].push_back({{"id", 0}, {"content", gpt2_byte_piece(0)}, {"special", false}});
  expect_error(gap.dump(), StatusCode::kCorrupt, "no token has id 100");
  // Every truncation of a good file is an error, never a crash.
  const std::string text = byte_level_json({"a b"}).dump();
  for (size_t len = 0; len < text.size(); len += 7) {
    auto v = parse_hf_tokenizer_json(text.substr(0, len), "", "cut.json");
    EXPECT_FALSE(v.ok()) << len;
  }
}

TEST(HfTokenizerJson, SentencePieceWithoutByteFallbackOrUnknownIsUnsupported) {
  json j = llama_json({"a", "b"}, {"a b"});
  j["model"]["byte_fallback"] = false;
  j["model"]["unk_token"] = nullptr;
  expect_error(j.dump(), StatusCode::kUnsupported, "byte_fallback");
  j["model"]["unk_token"] = "<unk>";
  expect_error(j.dump(), StatusCode::kUnsupported, "fuse_unk");
  j["model"]["fuse_unk"] = false;
  Vocab v = parse_ok(j);
  // "▁" and "c" are no pieces: each becomes the unknown token.
  EXPECT_EQ(make(v).encode("ab c", false), (std::vector<int32_t>{0, id_of(v, "ab"), 0, 0}));
  j["model"]["merges"] = json::array();
  expect_error(j.dump(), StatusCode::kUnsupported, "without merges");
}

TEST(HfTokenizerJson, LoadReadsTheDirectory) {
  const std::string dir = ::testing::TempDir() + "/hf_tokenizer_json_test";
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/tokenizer.json") << llama_json({"a"}, {"a a"}).dump();
  std::filesystem::remove(dir + "/tokenizer_config.json");
  auto v = load_hf_tokenizer(dir);
  ASSERT_TRUE(v.ok()) << v.status().message();
  EXPECT_TRUE(v->add_bos);
  std::ofstream(dir + "/tokenizer_config.json") << R"({"add_bos_token": false})";
  v = load_hf_tokenizer(dir);
  ASSERT_TRUE(v.ok()) << v.status().message();
  EXPECT_FALSE(v->add_bos);
  std::ofstream(dir + "/tokenizer_config.json") << R"({"add_bos_token": 1})";
  v = load_hf_tokenizer(dir);
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.status().message().find(dir + "/tokenizer_config.json: add_bos_token"),
            std::string::npos)
      << v.status().message();
  std::filesystem::remove_all(dir);

  auto missing = load_hf_tokenizer(dir);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kIoError);
  EXPECT_NE(missing.status().message().find(dir + "/tokenizer.json"), std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// Ids recorded from Hugging Face transformers (tests/data/hf/<name>/reference.json:
// "texts": [{"text", "ids"}] = tokenizer(text).input_ids).

void check_against_transformers(const std::string& name) {
  const std::string dir = std::string(DCLLM_TEST_DATA) + "/hf/" + name;
  if (!std::filesystem::exists(dir + "/reference.json")) {
    GTEST_SKIP() << dir << " has no reference.json";
  }
  auto vocab = load_hf_tokenizer(dir);
  ASSERT_TRUE(vocab.ok()) << vocab.status().message();
  Tokenizer t = make(*vocab);
  const json ref = json::parse(file_text(dir + "/reference.json"));
  ASSERT_TRUE(ref.contains("texts"));
  ASSERT_GT(ref["texts"].size(), 0u);
  for (const json& row : ref["texts"]) {
    const std::string text = row["text"];
    const std::vector<int32_t> expected = row["ids"];
    const std::vector<int32_t> got = t.encode(text, vocab->add_bos);
    EXPECT_EQ(got, expected) << name << ": " << text;
    // Decoding gives the text back where no special token was spelt out in it.
    bool names_special = false;
    for (size_t id = 0; id < vocab->tokens.size(); ++id) {
      names_special |= vocab->types[id] == TokenType::kControl &&
                       text.find(vocab->tokens[id]) != std::string::npos;
    }
    if (!names_special) {
      EXPECT_EQ(t.decode(got), text) << name;
    }
  }
}

TEST(HfTokenizerJsonReference, Llama) {
  check_against_transformers("llama");
}
TEST(HfTokenizerJsonReference, Opt) {
  check_against_transformers("opt");
}
TEST(HfTokenizerJsonReference, OptProj) {
  check_against_transformers("opt-proj");
}
TEST(HfTokenizerJsonReference, Gpt2) {
  check_against_transformers("gpt2");
}

}  // namespace
}  // namespace dcllm
