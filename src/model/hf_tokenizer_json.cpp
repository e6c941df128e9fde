// Hugging Face tokenizer.json -> Vocab. The file is untrusted: every field read is type-checked,
// and whatever dcllm's Tokenizer cannot reproduce exactly is refused as Unsupported.
#include "model/hf_tokenizer_json.h"

#include <cstdint>
#include <exception>
#include <filesystem>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <optional>
#include <unordered_map>
#include <vector>

#include "core/json_limits.h"
#include "core/mapped_file.h"
#include "model/printable.h"
#include "model/tokenizer_tables.h"

namespace dcllm {
namespace {

using json = nlohmann::json;

// Real files are at most tens of MB (Llama-3's is 9 MB); the cap bounds the DOM's memory.
constexpr size_t kMaxJsonBytes = size_t{200} << 20;
constexpr std::string_view kSpaceMark = "\xE2\x96\x81";  // U+2581, SentencePiece's space

// Split regexes dcllm's pre-tokenizer implements, and their Vocab::pre_tokenizer names.
struct KnownSplit {
  std::string_view pattern;
  std::string_view rule;
};
constexpr KnownSplit kKnownSplits[] = {
    {R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)", ""},
    {R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)",
     "llama-bpe"},
    {R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)",
     "qwen2"},
};

// Messages quote the file through printable(); this keeps any byte that slipped through from
// breaking the one-line rule.
std::string one_line(std::string s) {
  for (char& ch : s) {
    if (static_cast<unsigned char>(ch) < 0x20 || ch == 0x7F) ch = '?';
  }
  return s;
}

// Error messages for one file; `where` names the field ("model.vocab").
struct Ctx {
  std::string file;
  Status corrupt(const std::string& what) const { return Corrupt(one_line(file + ": " + what)); }
  Status unsupported(const std::string& what) const {
    return Unsupported(one_line(file + ": " + what + " is not supported"));
  }
  Status wrong_type(const std::string& where, const char* want) const {
    return corrupt(where + " is not " + want);
  }
};

// Appends rather than `"'" + ...`, which trips a GCC 12 -Wrestrict false positive at -O3.
std::string quote_piece(std::string_view s) {
  std::string out = "'";
  out += printable(s);
  out += '\'';
  return out;
}

// obj[key], or nullptr when absent or null (HF writes null for "not set").
const json* get(const json& obj, const std::string& key) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(key);
  return it == obj.end() || it->is_null() ? nullptr : &*it;
}

Status read_bool(const Ctx& c, const json& obj, const char* key, const std::string& where,
                 bool* out) {
  const json* v = get(obj, key);
  if (!v) return Status::Ok();
  if (!v->is_boolean()) return c.wrong_type(where + "." + key, "a boolean");
  *out = v->get<bool>();
  return Status::Ok();
}

Status read_string(const Ctx& c, const json& obj, const char* key, const std::string& where,
                   std::optional<std::string>* out) {
  const json* v = get(obj, key);
  if (!v) return Status::Ok();
  if (!v->is_string()) return c.wrong_type(where + "." + key, "a string");
  *out = v->get<std::string>();
  return Status::Ok();
}

// The "type" of a component object (normalizer, pre_tokenizer, ...), made printable: the known
// names are plain ASCII, and the others only go into messages.
Expected<std::string> component_type(const Ctx& c, const json& obj, const std::string& where) {
  if (!obj.is_object()) return c.wrong_type(where, "an object");
  const json* t = get(obj, "type");
  if (!t || !t->is_string()) return c.wrong_type(where + ".type", "a string");
  return printable(t->get_ref<const std::string&>());
}

// The type of a component flatten_sequence() has checked.
std::string type_of(const json& component) {
  return printable(get(component, "type")->get_ref<const std::string&>());
}

// The parts of a "Sequence" component (`list_key` holds them), or the component itself.
Expected<std::vector<const json*>> flatten_sequence(const Ctx& c, const json& obj,
                                                    const char* list_key,
                                                    const std::string& where) {
  DCLLM_ASSIGN_OR_RETURN(std::string type, component_type(c, obj, where));
  std::vector<const json*> parts;
  if (type != "Sequence") {
    parts.push_back(&obj);
    return parts;
  }
  const json* list = get(obj, list_key);
  if (!list || !list->is_array()) return c.wrong_type(where + "." + list_key, "an array");
  for (const json& part : *list) {
    DCLLM_ASSIGN_OR_RETURN(std::string part_type, component_type(c, part, where + " part"));
    if (part_type == "Sequence") return c.unsupported(where + " Sequence inside a Sequence");
    parts.push_back(&part);
  }
  return parts;
}

Expected<json> parse_json(const Ctx& c, std::string_view text) {
  if (text.size() > kMaxJsonBytes) {
    return c.corrupt(std::to_string(text.size()) + " bytes, more than the " +
                     std::to_string(kMaxJsonBytes >> 20) + " MiB a tokenizer file may have");
  }
  DCLLM_RETURN_IF_ERROR(check_json_depth(text, c.file));
  try {
    json j = json::parse(text.begin(), text.end());
    if (!j.is_object()) return c.corrupt("the JSON text is not an object");
    return j;
  } catch (const json::exception& e) {
    return c.corrupt("not valid JSON (" + printable(e.what(), 200) + ")");
  }
}

// ---------------------------------------------------------------------------------------------
// Pieces and ids

struct Pieces {
  std::vector<std::string> tokens;
  std::vector<TokenType> types;
  std::vector<uint8_t> in_model;  // listed in model.vocab (merges and unk_token refer to these)
  std::unordered_map<std::string_view, int32_t> id_of;  // into `tokens`, after finish()
  // The first added token with normalized true. HF matches those in the normalized text and
  // dcllm in the raw text; under NFC the two can differ (">" and a U+0338 after it compose).
  std::optional<std::string> normalized_added;
};

Status read_model_vocab(const Ctx& c, const json& model, size_t n_added, Pieces& p) {
  const json* vocab = get(model, "vocab");
  if (!vocab || !vocab->is_object()) return c.wrong_type("model.vocab", "an object");
  // Ids must come out dense, so none can reach past the number of entries.
  const size_t limit = vocab->size() + n_added;
  if (limit > static_cast<size_t>(INT32_MAX)) return c.corrupt("too many tokens");
  p.tokens.assign(limit, {});
  p.in_model.assign(limit, 0);
  for (const auto& [piece, id_json] : vocab->items()) {
    if (!id_json.is_number_integer()) {
      return c.wrong_type("model.vocab[" + quote_piece(piece) + "]", "an integer id");
    }
    const int64_t id = id_json.get<int64_t>();
    if (id < 0 || static_cast<uint64_t>(id) >= limit) {
      return c.corrupt("model.vocab gives " + quote_piece(piece) + " id " + std::to_string(id) +
                       ", outside 0.." + std::to_string(limit - 1) + " (ids must be dense)");
    }
    if (p.in_model[id]) {
      return c.corrupt("model.vocab gives id " + std::to_string(id) + " to both " +
                       quote_piece(p.tokens[id]) + " and " + quote_piece(piece));
    }
    p.tokens[id] = piece;
    p.in_model[id] = 1;
  }
  return Status::Ok();
}

Status read_added_tokens(const Ctx& c, const json* added, Pieces& p, std::vector<uint8_t>& filled) {
  if (!added) return Status::Ok();
  for (size_t k = 0; k < added->size(); ++k) {
    const json& a = (*added)[k];
    const std::string where = "added_tokens[" + std::to_string(k) + "]";
    if (!a.is_object()) return c.wrong_type(where, "an object");
    const json* id_json = get(a, "id");
    if (!id_json || !id_json->is_number_integer()) return c.wrong_type(where + ".id", "an integer");
    std::optional<std::string> content;
    DCLLM_RETURN_IF_ERROR(read_string(c, a, "content", where, &content));
    if (!content || content->empty()) return c.wrong_type(where + ".content", "a non-empty string");
    bool special = false, lstrip = false, rstrip = false, single_word = false, normalized = false;
    DCLLM_RETURN_IF_ERROR(read_bool(c, a, "special", where, &special));
    DCLLM_RETURN_IF_ERROR(read_bool(c, a, "lstrip", where, &lstrip));
    DCLLM_RETURN_IF_ERROR(read_bool(c, a, "rstrip", where, &rstrip));
    DCLLM_RETURN_IF_ERROR(read_bool(c, a, "single_word", where, &single_word));
    DCLLM_RETURN_IF_ERROR(read_bool(c, a, "normalized", where, &normalized));
    if (lstrip || rstrip || single_word) {
      return c.unsupported("added token " + quote_piece(*content) +
                           " with lstrip/rstrip/single_word");
    }
    const int64_t id = id_json->get<int64_t>();
    if (id < 0 || static_cast<uint64_t>(id) >= p.tokens.size()) {
      return c.corrupt("added token " + quote_piece(*content) + " has id " + std::to_string(id) +
                       ", outside 0.." + std::to_string(p.tokens.size() - 1) +
                       " (ids must be dense)");
    }
    if (filled[id] && p.tokens[id] != *content) {
      return c.corrupt("added token " + quote_piece(*content) + " has id " + std::to_string(id) +
                       ", which is " + quote_piece(p.tokens[id]));
    }
    if (normalized && !p.normalized_added) p.normalized_added = *content;
    p.tokens[id] = *content;
    filled[id] = 1;
    p.types[id] = special ? TokenType::kControl : TokenType::kUserDefined;
  }
  return Status::Ok();
}

// Cuts the tables to the ids in use, which must be 0..n-1, each piece once.
Status finish_pieces(const Ctx& c, const std::vector<uint8_t>& filled, Pieces& p) {
  size_t n = filled.size();
  while (n > 0 && !filled[n - 1]) --n;
  for (size_t id = 0; id < n; ++id) {
    if (!filled[id]) {
      return c.corrupt("no token has id " + std::to_string(id) + " (ids must run 0.." +
                       std::to_string(n - 1) + ")");
    }
  }
  if (n == 0) return c.corrupt("model.vocab and added_tokens are empty");
  p.tokens.resize(n);
  p.types.resize(n);
  p.in_model.resize(n);
  p.id_of.reserve(n);
  for (size_t id = 0; id < n; ++id) {
    auto [it, inserted] = p.id_of.emplace(p.tokens[id], static_cast<int32_t>(id));
    if (!inserted) {
      return c.corrupt("piece " + quote_piece(p.tokens[id]) + " has two ids, " +
                       std::to_string(it->second) + " and " + std::to_string(id));
    }
  }
  return Status::Ok();
}

int32_t model_id(const Pieces& p, std::string_view piece) {
  auto it = p.id_of.find(piece);
  return it != p.id_of.end() && p.in_model[it->second] ? it->second : -1;
}

// Merges as "a b" strings (older files) or ["a", "b"] pairs (newer ones), into Vocab::merges.
// HF refuses to load a merge naming a piece model.vocab lacks, and so do we.
Status read_merges(const Ctx& c, const json& model, const Pieces& p,
                   std::vector<std::string>& out) {
  const json* merges = get(model, "merges");
  if (!merges) return Status::Ok();
  if (!merges->is_array()) return c.wrong_type("model.merges", "an array");
  out.reserve(merges->size());
  std::string left, right;
  for (size_t k = 0; k < merges->size(); ++k) {
    const json& m = (*merges)[k];
    const std::string where = "model.merges[" + std::to_string(k) + "]";
    if (m.is_string()) {
      const std::string& s = m.get_ref<const std::string&>();
      const size_t space = s.find(' ');
      if (space == std::string::npos || s.find(' ', space + 1) != std::string::npos) {
        return c.corrupt(where + " " + quote_piece(s) + " is not two pieces split by one space");
      }
      left = s.substr(0, space);
      right = s.substr(space + 1);
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      left = m[0].get<std::string>();
      right = m[1].get<std::string>();
      // Vocab::merges splits "a b" at the first space after the first byte.
      if (left.find(' ', 1) != std::string::npos) {
        return c.unsupported(where + ": a merge whose left piece " + quote_piece(left) +
                             " holds a space");
      }
    } else {
      return c.wrong_type(where, "a string or a pair of strings");
    }
    for (const std::string& piece : {left, right, left + right}) {
      if (model_id(p, piece) < 0) {
        return c.corrupt(where + " (" + quote_piece(left) + ", " + quote_piece(right) + ") needs " +
                         quote_piece(piece) + ", which model.vocab lacks");
      }
    }
    out.push_back(left + " " + right);
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------
// Normalizer, pre-tokenizer and decoder: which family, and its settings

Status read_byte_level_pre_tokenizer(const Ctx& c, const json& pre, Vocab& v) {
  DCLLM_ASSIGN_OR_RETURN(auto steps, flatten_sequence(c, pre, "pretokenizers", "pre_tokenizer"));
  std::optional<std::string_view> split_rule;
  bool digits = false, byte_level = false, byte_level_regex = true;
  std::string names;
  for (size_t k = 0; k < steps.size(); ++k) {
    const json& s = *steps[k];
    const std::string where = "pre_tokenizer step " + std::to_string(k);
    const std::string type = type_of(s);
    names += (names.empty() ? "" : ", ") + type;
    if (byte_level) return c.unsupported("pre_tokenizer " + type + " after ByteLevel");
    if (type == "ByteLevel") {
      bool add_prefix_space = true;  // HF's default
      DCLLM_RETURN_IF_ERROR(read_bool(c, s, "add_prefix_space", where, &add_prefix_space));
      DCLLM_RETURN_IF_ERROR(read_bool(c, s, "use_regex", where, &byte_level_regex));
      if (add_prefix_space) return c.unsupported("pre_tokenizer ByteLevel with add_prefix_space");
      byte_level = true;
    } else if (type == "Split") {
      const json* pattern = get(s, "pattern");
      const json* regex = pattern ? get(*pattern, "Regex") : nullptr;
      if (!regex || !regex->is_string()) {
        return c.unsupported("pre_tokenizer Split without a Regex pattern");
      }
      const std::string& r = regex->get_ref<const std::string&>();
      std::optional<std::string> behavior;
      bool invert = false;
      DCLLM_RETURN_IF_ERROR(read_string(c, s, "behavior", where, &behavior));
      DCLLM_RETURN_IF_ERROR(read_bool(c, s, "invert", where, &invert));
      if (behavior != "Isolated" || invert) {
        return c.unsupported("pre_tokenizer Split other than behavior Isolated, invert false");
      }
      for (const KnownSplit& known : kKnownSplits) {
        if (r == known.pattern) split_rule = known.rule;
      }
      if (!split_rule || digits)
        return c.unsupported("pre_tokenizer Split regex " + quote_piece(r));
    } else if (type == "Digits") {
      bool individual = false;
      DCLLM_RETURN_IF_ERROR(read_bool(c, s, "individual_digits", where, &individual));
      if (!individual || split_rule || digits) {
        return c.unsupported("pre_tokenizer Digits other than one individual_digits step");
      }
      digits = true;
    } else {
      return c.unsupported("pre_tokenizer " + type + " with ByteLevel");
    }
  }
  // The combinations whose splits dcllm's pre-tokenizer reproduces.
  if (split_rule && !byte_level_regex) {
    v.pre_tokenizer = std::string(*split_rule);
  } else if (digits && byte_level_regex) {
    v.pre_tokenizer = "smollm";
  } else if (!split_rule && !digits && byte_level_regex) {
    v.pre_tokenizer = "";
  } else {
    return c.unsupported("pre_tokenizer sequence [" + names + "]");
  }
  return Status::Ok();
}

Status read_byte_level_decoder(const Ctx& c, const json* decoder) {
  if (!decoder) return Status::Ok();
  DCLLM_ASSIGN_OR_RETURN(auto steps, flatten_sequence(c, *decoder, "decoders", "decoder"));
  for (const json* s : steps) {
    const std::string type = type_of(*s);
    if (type != "ByteLevel") return c.unsupported("decoder " + type + " for byte-level BPE");
  }
  return Status::Ok();
}

// SentencePiece family: "▁" for spaces from a Replace normalizer (plus Prepend for the dummy
// prefix) or from a Metaspace pre-tokenizer. NFC may come anywhere in the Sequence: " " and "▁"
// neither change under NFC nor compose with a neighbour, so the order does not matter.
Status read_metaspace_normalizer(const Ctx& c, const json* normalizer, bool* replaces,
                                 bool* prepends, bool* nfc) {
  if (!normalizer) return Status::Ok();
  DCLLM_ASSIGN_OR_RETURN(auto steps, flatten_sequence(c, *normalizer, "normalizers", "normalizer"));
  for (const json* s : steps) {
    const std::string type = type_of(*s);
    std::optional<std::string> text;
    if (type == "Prepend") {
      DCLLM_RETURN_IF_ERROR(read_string(c, *s, "prepend", "normalizer Prepend", &text));
      if (text != kSpaceMark || *prepends) {
        return c.unsupported("normalizer Prepend other than one Prepend(\"\xE2\x96\x81\")");
      }
      *prepends = true;
    } else if (type == "Replace") {
      const json* pattern = get(*s, "pattern");
      const json* from = pattern ? get(*pattern, "String") : nullptr;
      DCLLM_RETURN_IF_ERROR(read_string(c, *s, "content", "normalizer Replace", &text));
      if (!from || *from != " " || text != kSpaceMark || *replaces) {
        return c.unsupported("normalizer Replace other than one Replace(\" \", \"\xE2\x96\x81\")");
      }
      *replaces = true;
    } else if (type == "NFC") {
      *nfc = true;
    } else {
      return c.unsupported("normalizer " + type);
    }
  }
  if (*prepends && !*replaces) return c.unsupported("normalizer Prepend without Replace");
  return Status::Ok();
}

Status read_metaspace_pre_tokenizer(const Ctx& c, const json& pre, Vocab& v) {
  DCLLM_ASSIGN_OR_RETURN(std::string type, component_type(c, pre, "pre_tokenizer"));
  if (type != "Metaspace") return c.unsupported("pre_tokenizer " + type);
  std::optional<std::string> replacement, scheme;
  bool split = true;  // HF's default, and what files written before the field existed did
  bool add_prefix_space = true;
  DCLLM_RETURN_IF_ERROR(read_string(c, pre, "replacement", "pre_tokenizer", &replacement));
  DCLLM_RETURN_IF_ERROR(read_string(c, pre, "prepend_scheme", "pre_tokenizer", &scheme));
  DCLLM_RETURN_IF_ERROR(read_bool(c, pre, "split", "pre_tokenizer", &split));
  DCLLM_RETURN_IF_ERROR(read_bool(c, pre, "add_prefix_space", "pre_tokenizer", &add_prefix_space));
  if (replacement != kSpaceMark) {
    return c.unsupported("pre_tokenizer Metaspace with a replacement other than \"\xE2\x96\x81\"");
  }
  if (split) return c.unsupported("pre_tokenizer Metaspace with split true");
  if (!scheme) scheme = add_prefix_space ? "always" : "never";
  // Metaspace writes "▁" for spaces first, and prepends only where that left none in front.
  v.no_space_prefix_before_space = true;
  if (*scheme == "always") {
    v.add_space_prefix = true;
    v.space_prefix_every_segment = true;
  } else if (*scheme == "first") {
    v.add_space_prefix = true;  // only where the text starts, as Vocab's default does
  } else if (*scheme == "never") {
    v.add_space_prefix = false;
  } else {
    return c.unsupported("pre_tokenizer Metaspace prepend_scheme " + quote_piece(*scheme));
  }
  return Status::Ok();
}

Status read_metaspace_decoder(const Ctx& c, const json* decoder) {
  if (!decoder) return Status::Ok();
  DCLLM_ASSIGN_OR_RETURN(auto steps, flatten_sequence(c, *decoder, "decoders", "decoder"));
  for (const json* s : steps) {
    const std::string type = type_of(*s);
    if (type == "ByteFallback" || type == "Fuse" || type == "Metaspace") continue;
    if (type == "Replace") {
      const json* pattern = get(*s, "pattern");
      const json* from = pattern ? get(*pattern, "String") : nullptr;
      const json* to = get(*s, "content");
      if (from && to && *from == kSpaceMark && *to == " ") continue;
    } else if (type == "Strip") {
      // Strip(" ", 1, 0) drops the dummy prefix, as Tokenizer::decode does.
      const json* content = get(*s, "content");
      const json* start = get(*s, "start");
      const json* stop = get(*s, "stop");
      if (content && *content == " " && start && *start == 1 && stop && *stop == 0) {
        continue;
      }
    }
    return c.unsupported("decoder " + type + " as configured, for SentencePiece-style BPE");
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------
// BOS and EOS

struct TokenizerConfig {
  std::optional<bool> add_bos;
  std::optional<std::string> bos, eos;
};

Status read_config_token(const Ctx& c, const json& config, const char* key,
                         std::optional<std::string>* out) {
  const json* v = get(config, key);
  if (!v) return Status::Ok();
  if (v->is_object()) v = get(*v, "content");  // {"content": "<s>", "lstrip": false, ...}
  if (!v || !v->is_string()) return c.wrong_type(key, "a string or {\"content\": string}");
  *out = v->get<std::string>();
  return Status::Ok();
}

Expected<TokenizerConfig> read_tokenizer_config(const Ctx& c, std::string_view text) {
  TokenizerConfig config;
  if (text.empty()) return config;
  DCLLM_ASSIGN_OR_RETURN(json j, parse_json(c, text));
  if (const json* add_bos = get(j, "add_bos_token")) {
    if (!add_bos->is_boolean()) return c.wrong_type("add_bos_token", "a boolean");
    config.add_bos = add_bos->get<bool>();
  }
  bool add_eos = false;
  DCLLM_RETURN_IF_ERROR(read_bool(c, j, "add_eos_token", "", &add_eos));
  if (add_eos) return c.unsupported("add_eos_token true");
  DCLLM_RETURN_IF_ERROR(read_config_token(c, j, "bos_token", &config.bos));
  DCLLM_RETURN_IF_ERROR(read_config_token(c, j, "eos_token", &config.eos));
  return config;
}

// The id of the special token a TemplateProcessing `single` template puts before the text, or -1.
Expected<int32_t> template_bos(const Ctx& c, const json& proc, const Pieces& p) {
  const json* single = get(proc, "single");
  if (!single || !single->is_array()) {
    return c.wrong_type("post_processor TemplateProcessing.single", "an array");
  }
  std::vector<std::string> before;
  bool seen_text = false;
  for (const json& item : *single) {
    const json* special = get(item, "SpecialToken");
    const json* sequence = get(item, "Sequence");
    if (sequence && !special) {
      if (seen_text) return c.unsupported("post_processor template with two sequences");
      seen_text = true;
      continue;
    }
    const json* name = special ? get(*special, "id") : nullptr;
    if (!name || !name->is_string()) {
      return c.wrong_type("post_processor TemplateProcessing.single item",
                          "a SpecialToken or Sequence");
    }
    if (seen_text) {
      return c.unsupported("post_processor appending " + quote_piece(name->get<std::string>()) +
                           " after the text");
    }
    before.push_back(name->get<std::string>());
  }
  if (!seen_text) return c.unsupported("post_processor template without the text");
  if (before.empty()) return -1;
  if (before.size() > 1) return c.unsupported("post_processor template with two leading tokens");
  // special_tokens maps the name to its ids; without an entry the name is the piece.
  const json* specials = get(proc, "special_tokens");
  const json* entry = specials ? get(*specials, before[0]) : nullptr;
  if (entry) {
    const json* ids = get(*entry, "ids");
    if (!ids || !ids->is_array() || ids->size() != 1 || !(*ids)[0].is_number_integer()) {
      return c.unsupported("post_processor special token " + quote_piece(before[0]) +
                           " other than one id");
    }
    const int64_t id = (*ids)[0].get<int64_t>();
    if (id < 0 || static_cast<uint64_t>(id) >= p.tokens.size()) {
      return c.corrupt("post_processor special token " + quote_piece(before[0]) + " has id " +
                       std::to_string(id) + ", not a token id");
    }
    return static_cast<int32_t>(id);
  }
  auto it = p.id_of.find(before[0]);
  if (it == p.id_of.end()) {
    return c.corrupt("post_processor names " + quote_piece(before[0]) + ", which is not a token");
  }
  return it->second;
}

// -1 when the post-processor adds nothing before the text.
Expected<int32_t> read_post_processor(const Ctx& c, const json* post, const Pieces& p) {
  if (!post) return -1;
  DCLLM_ASSIGN_OR_RETURN(auto steps, flatten_sequence(c, *post, "processors", "post_processor"));
  int32_t bos = -1;
  for (const json* s : steps) {
    const std::string type = type_of(*s);
    if (type == "ByteLevel") continue;  // only adjusts offsets
    if (type != "TemplateProcessing" || bos >= 0) return c.unsupported("post_processor " + type);
    DCLLM_ASSIGN_OR_RETURN(bos, template_bos(c, *s, p));
  }
  return bos;
}

// A special token's id, from the strongest source that states one: tokenizer_config.json's
// `key` (a piece), then the id the model's files state (config.json or generation_config.json),
// then the first conventional name the vocab has; -1 when none does.
Expected<int32_t> special_id(const Ctx& config_ctx, const Pieces& p, const char* key,
                             const std::optional<std::string>& configured, const StatedId& stated,
                             std::initializer_list<std::string_view> conventional) {
  if (configured) {
    auto it = p.id_of.find(*configured);
    if (it == p.id_of.end()) {
      return config_ctx.corrupt(std::string(key) + " " + quote_piece(*configured) +
                                " is not a token of tokenizer.json");
    }
    return it->second;
  }
  if (stated.id >= 0) {
    if (static_cast<uint64_t>(stated.id) >= p.tokens.size()) {
      return Corrupt(one_line(stated.file + ": " + std::string(key) + "_id " +
                              std::to_string(stated.id) +
                              " is not a token id (tokenizer.json has " +
                              std::to_string(p.tokens.size()) + " tokens)"));
    }
    return static_cast<int32_t>(stated.id);
  }
  for (std::string_view name : conventional) {
    if (auto it = p.id_of.find(name); it != p.id_of.end()) return it->second;
  }
  return -1;
}

std::string config_name_for(const std::string& name) {
  constexpr std::string_view kJson = "tokenizer.json";
  if (std::string_view(name).ends_with(kJson)) {
    return name.substr(0, name.size() - kJson.size()) + "tokenizer_config.json";
  }
  return name + " (tokenizer_config.json)";
}

// ---------------------------------------------------------------------------------------------

Expected<Vocab> parse(std::string_view tokenizer_json, std::string_view config_json,
                      const std::string& name, const StatedTokenIds& stated) {
  const Ctx c{name};
  const Ctx config_ctx{config_name_for(name)};
  DCLLM_ASSIGN_OR_RETURN(json root, parse_json(c, tokenizer_json));
  DCLLM_ASSIGN_OR_RETURN(TokenizerConfig config, read_tokenizer_config(config_ctx, config_json));

  const json* model = get(root, "model");
  if (!model || !model->is_object()) return c.wrong_type("model", "an object");
  const json* model_type = get(*model, "type");
  if (!model_type || !model_type->is_string()) return c.unsupported("model without a type");
  if (*model_type != "BPE") {
    return c.unsupported("model type " + quote_piece(model_type->get<std::string>()));
  }
  if (const json* dropout = get(*model, "dropout")) {
    if (!dropout->is_number()) return c.wrong_type("model.dropout", "a number");
    if (dropout->get<double>() != 0.0) return c.unsupported("model.dropout");
  }
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    std::optional<std::string> affix;
    DCLLM_RETURN_IF_ERROR(read_string(c, *model, key, "model", &affix));
    if (affix && !affix->empty()) return c.unsupported("model." + std::string(key));
  }
  bool byte_fallback = false, fuse_unk = false;
  Vocab v;
  DCLLM_RETURN_IF_ERROR(read_bool(c, *model, "byte_fallback", "model", &byte_fallback));
  DCLLM_RETURN_IF_ERROR(read_bool(c, *model, "fuse_unk", "model", &fuse_unk));
  DCLLM_RETURN_IF_ERROR(read_bool(c, *model, "ignore_merges", "model", &v.ignore_merges));
  std::optional<std::string> unk_token;
  DCLLM_RETURN_IF_ERROR(read_string(c, *model, "unk_token", "model", &unk_token));

  const json* added = get(root, "added_tokens");
  if (added && !added->is_array()) return c.wrong_type("added_tokens", "an array");
  Pieces p;
  DCLLM_RETURN_IF_ERROR(read_model_vocab(c, *model, added ? added->size() : 0, p));
  p.types.assign(p.tokens.size(), TokenType::kNormal);
  std::vector<uint8_t> filled = p.in_model;
  DCLLM_RETURN_IF_ERROR(read_added_tokens(c, added, p, filled));
  DCLLM_RETURN_IF_ERROR(finish_pieces(c, filled, p));
  DCLLM_RETURN_IF_ERROR(read_merges(c, *model, p, v.merges));

  v.unk_id = -1;
  if (unk_token) {
    v.unk_id = model_id(p, *unk_token);
    if (v.unk_id < 0)
      return c.corrupt("model.unk_token " + quote_piece(*unk_token) + " is not in model.vocab");
    if (p.types[v.unk_id] == TokenType::kNormal) p.types[v.unk_id] = TokenType::kUnknown;
  }

  const json* normalizer = get(root, "normalizer");
  const json* pre = get(root, "pre_tokenizer");
  bool byte_level = false;
  if (pre) {
    DCLLM_ASSIGN_OR_RETURN(auto steps, flatten_sequence(c, *pre, "pretokenizers", "pre_tokenizer"));
    for (const json* s : steps) byte_level |= type_of(*s) == "ByteLevel";
  }
  if (byte_level) {
    v.kind = VocabKind::kByteLevelBpe;
    v.add_space_prefix = false;
    if (normalizer) {
      DCLLM_ASSIGN_OR_RETURN(auto steps,
                             flatten_sequence(c, *normalizer, "normalizers", "normalizer"));
      for (const json* s : steps) {  // an empty Sequence is no normalizer
        const std::string type = type_of(*s);
        if (type != "NFC") return c.unsupported("normalizer " + type + " with byte-level BPE");
        v.nfc = true;
      }
    }
    DCLLM_RETURN_IF_ERROR(read_byte_level_pre_tokenizer(c, *pre, v));
    DCLLM_RETURN_IF_ERROR(read_byte_level_decoder(c, get(root, "decoder")));
    bool all_bytes = true;
    for (int b = 0; b < 256; ++b) {
      all_bytes = all_bytes && p.id_of.contains(gpt2_byte_piece(static_cast<uint8_t>(b)));
    }
    if (fuse_unk && v.unk_id >= 0 && !all_bytes) {
      return c.unsupported("model.fuse_unk with byte pieces missing from the vocab");
    }
  } else {
    v.kind = VocabKind::kSentencePiece;
    v.control_pieces_in_text = true;
    bool replaces = false, prepends = false;
    DCLLM_RETURN_IF_ERROR(read_metaspace_normalizer(c, normalizer, &replaces, &prepends, &v.nfc));
    if (replaces && pre) {
      DCLLM_ASSIGN_OR_RETURN(std::string type, component_type(c, *pre, "pre_tokenizer"));
      return c.unsupported("pre_tokenizer " + type + " after a Replace normalizer");
    }
    if (replaces) {
      v.add_space_prefix = prepends;
      v.space_prefix_every_segment = prepends;
    } else if (pre) {
      DCLLM_RETURN_IF_ERROR(read_metaspace_pre_tokenizer(c, *pre, v));
    } else {
      return c.unsupported(
          "BPE without a ByteLevel pre_tokenizer or SentencePiece-style \"\xE2\x96\x81\" spaces");
    }
    DCLLM_RETURN_IF_ERROR(read_metaspace_decoder(c, get(root, "decoder")));
    // Vocab tells ranked merges from scores by there being merges.
    if (v.merges.empty()) return c.unsupported("SentencePiece-style BPE without merges");
    if (byte_fallback) {
      for (size_t id = 0; id < p.tokens.size(); ++id) {
        if (p.in_model[id] && p.types[id] == TokenType::kNormal &&
            parse_byte_piece(p.tokens[id]) >= 0) {
          p.types[id] = TokenType::kByte;
        }
      }
    } else if (v.unk_id < 0) {
      return c.unsupported("model without byte_fallback or unk_token");
    } else if (fuse_unk) {
      return c.unsupported("model.fuse_unk without byte_fallback");
    }
  }

  if (v.nfc && p.normalized_added) {
    return c.unsupported("added token " + quote_piece(*p.normalized_added) +
                         " with normalized true under an NFC normalizer");
  }

  DCLLM_ASSIGN_OR_RETURN(const int32_t template_bos_id,
                         read_post_processor(c, get(root, "post_processor"), p));
  v.add_bos = config.add_bos.value_or(template_bos_id >= 0);
  if (template_bos_id >= 0) {
    v.bos_id = template_bos_id;
  } else {
    DCLLM_ASSIGN_OR_RETURN(v.bos_id, special_id(config_ctx, p, "bos_token", config.bos, stated.bos,
                                                {"<s>", "<|begin_of_text|>", "<|endoftext|>"}));
  }
  DCLLM_ASSIGN_OR_RETURN(v.eos_id,
                         special_id(config_ctx, p, "eos_token", config.eos, stated.eos,
                                    {"</s>", "<|endoftext|>", "<|end_of_text|>", "<|im_end|>"}));
  if (v.add_bos && v.bos_id < 0) return c.corrupt("BOS is to be added but no token is BOS");

  v.tokens = std::move(p.tokens);
  v.types = std::move(p.types);
  return v;
}

}  // namespace

Expected<Vocab> parse_hf_tokenizer_json(std::string_view tokenizer_json,
                                        std::string_view tokenizer_config_json,
                                        const std::string& name, const StatedTokenIds& stated) {
  // Every access above is type-checked; this only keeps an allocation failure (or a check
  // missed) from escaping as an exception.
  try {
    return parse(tokenizer_json, tokenizer_config_json, name, stated);
  } catch (const std::exception& e) {
    return Internal(name + ": reading the tokenizer failed: " + printable(e.what(), 200));
  }
}

Expected<Vocab> load_hf_tokenizer(const std::string& dir, const StatedTokenIds& stated) {
  const std::string json_path = dir + "/tokenizer.json";
  const std::string config_path = dir + "/tokenizer_config.json";
  DCLLM_ASSIGN_OR_RETURN(MappedFile tokenizer, MappedFile::open(json_path));
  MappedFile config;
  std::error_code ec;
  if (std::filesystem::exists(config_path, ec)) {
    DCLLM_ASSIGN_OR_RETURN(config, MappedFile::open(config_path));
  }
  auto text = [](const MappedFile& f) {
    return std::string_view(reinterpret_cast<const char*>(f.data()), f.size());
  };
  return parse_hf_tokenizer_json(text(tokenizer), text(config), json_path, stated);
}

}  // namespace dcllm
