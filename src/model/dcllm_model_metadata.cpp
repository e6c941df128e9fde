// JSON (de)serialisation of ModelConfig and Vocab for the .dcllm model contract. The reader
// side treats the JSON as untrusted: every field is type-checked before use.
#include "model/dcllm_model_metadata.h"

#include <cmath>
#include <limits>

namespace dcllm {
namespace {

using json = nlohmann::json;

// Bound of every size in "config" (the GGUF reader's bound too): far above any real model,
// small enough that products of a few sizes cannot overflow int64.
constexpr int64_t kMaxSize = int64_t{1} << 24;

std::string_view vocab_kind_name(VocabKind k) {
  return k == VocabKind::kSentencePiece ? "sentencepiece" : "byte_level_bpe";
}

// Converting a double outside float's range is undefined behaviour, so such values are refused.
bool fits_float(double v) {
  return std::isfinite(v) && std::abs(v) <= static_cast<double>(std::numeric_limits<float>::max());
}

// Field readers: each returns false when the field is absent or of the wrong type.
class FieldReader {
 public:
  FieldReader(const json& obj, std::string file, std::string where)
      : obj_(obj), file_(std::move(file)), where_(std::move(where)) {}

  Status error(const std::string& key, const char* want) const {
    return Corrupt(file_ + ": metadata " + where_ + "." + key + " is missing or not " + want);
  }
  Status integer(const char* key, int64_t* out) const {
    auto it = obj_.find(key);
    if (it == obj_.end() || !it->is_number_integer()) return error(key, "an integer");
    *out = it->get<int64_t>();
    return Status::Ok();
  }
  // An integer within [lo, hi]: sizes from an untrusted file must be bounded before anything
  // is allocated or multiplied by them.
  Status integer_in(const char* key, int64_t lo, int64_t hi, int64_t* out) const {
    DCLLM_RETURN_IF_ERROR(integer(key, out));
    if (*out < lo || *out > hi) {
      return Corrupt(file_ + ": metadata " + where_ + "." + key + " = " + std::to_string(*out) +
                     " is outside " + std::to_string(lo) + ".." + std::to_string(hi));
    }
    return Status::Ok();
  }
  Status number(const char* key, float* out) const {
    auto it = obj_.find(key);
    if (it == obj_.end() || !it->is_number() || !fits_float(it->get<double>()))
      return error(key, "a float32 number");
    *out = static_cast<float>(it->get<double>());
    return Status::Ok();
  }
  Status boolean(const char* key, bool* out) const {
    auto it = obj_.find(key);
    if (it == obj_.end() || !it->is_boolean()) return error(key, "a boolean");
    *out = it->get<bool>();
    return Status::Ok();
  }
  Status string(const char* key, std::string* out) const {
    auto it = obj_.find(key);
    if (it == obj_.end() || !it->is_string()) return error(key, "a string");
    *out = it->get<std::string>();
    return Status::Ok();
  }
  const json* array(const char* key) const {
    auto it = obj_.find(key);
    return it == obj_.end() || !it->is_array() ? nullptr : &*it;
  }

 private:
  const json& obj_;
  std::string file_, where_;
};

}  // namespace

json model_config_to_json(const ModelConfig& c) {
  return {{"architecture", c.architecture},
          {"family", std::string(family_name(c.family))},
          {"dim", c.dim},
          {"hidden_dim", c.hidden_dim},
          {"n_layers", c.n_layers},
          {"n_heads", c.n_heads},
          {"n_kv_heads", c.n_kv_heads},
          {"head_dim", c.head_dim},
          {"vocab_size", c.vocab_size},
          {"seq_len", c.seq_len},
          {"norm_eps", c.norm_eps},
          {"rope_theta", c.rope_theta},
          {"rope_dim", c.rope_dim},
          {"rope_style", std::string(rope_style_name(c.rope_style))},
          {"tied_classifier", c.tied_classifier},
          {"attn_qkv_bias", c.attn_qkv_bias},
          {"activation", std::string(activation_name(c.activation))},
          {"embd_dim", c.embedding_width()},
          {"pre_norm", c.pre_norm}};
}

json vocab_to_json(const Vocab& v) {
  json types = json::array();
  for (TokenType t : v.types) types.push_back(static_cast<int32_t>(t));
  json j = {{"kind", std::string(vocab_kind_name(v.kind))},
            {"tokens", v.tokens},
            {"scores", v.scores},
            {"types", std::move(types)},
            {"merges", v.merges},
            {"bos_id", v.bos_id},
            {"eos_id", v.eos_id},
            {"unk_id", v.unk_id},
            {"add_bos", v.add_bos},
            {"add_space_prefix", v.add_space_prefix},
            {"llama2c_pieces", v.llama2c_pieces},
            {"pre_tokenizer", v.pre_tokenizer},
            {"ignore_merges", v.ignore_merges},
            {"control_pieces_in_text", v.control_pieces_in_text},
            {"space_prefix_every_segment", v.space_prefix_every_segment},
            {"no_space_prefix_before_space", v.no_space_prefix_before_space},
            {"nfc", v.nfc}};
  // The source's chat template (runtime/chat_template.h); files without one have no key.
  if (!v.chat_template.empty()) j["chat_template"] = v.chat_template;
  return j;
}

Expected<ModelConfig> model_config_from_json(const json& j, const std::string& file) {
  if (!j.is_object()) return Corrupt(file + ": metadata has no \"config\" object");
  FieldReader r(j, file, "config");
  ModelConfig c;
  std::string family, rope;
  DCLLM_RETURN_IF_ERROR(r.string("architecture", &c.architecture));
  DCLLM_RETURN_IF_ERROR(r.string("family", &family));
  DCLLM_RETURN_IF_ERROR(r.integer_in("dim", 1, kMaxSize, &c.dim));
  DCLLM_RETURN_IF_ERROR(r.integer_in("hidden_dim", 1, kMaxSize, &c.hidden_dim));
  DCLLM_RETURN_IF_ERROR(r.integer_in("n_layers", 1, kMaxSize, &c.n_layers));
  DCLLM_RETURN_IF_ERROR(r.integer_in("n_heads", 1, kMaxSize, &c.n_heads));
  DCLLM_RETURN_IF_ERROR(r.integer_in("n_kv_heads", 1, kMaxSize, &c.n_kv_heads));
  DCLLM_RETURN_IF_ERROR(r.integer_in("head_dim", 1, kMaxSize, &c.head_dim));
  DCLLM_RETURN_IF_ERROR(r.integer_in("vocab_size", 1, kMaxSize, &c.vocab_size));
  DCLLM_RETURN_IF_ERROR(r.integer_in("seq_len", 1, kMaxSize, &c.seq_len));
  DCLLM_RETURN_IF_ERROR(r.number("norm_eps", &c.norm_eps));
  DCLLM_RETURN_IF_ERROR(r.number("rope_theta", &c.rope_theta));
  DCLLM_RETURN_IF_ERROR(r.integer_in("rope_dim", 0, kMaxSize, &c.rope_dim));
  DCLLM_RETURN_IF_ERROR(r.string("rope_style", &rope));
  DCLLM_RETURN_IF_ERROR(r.boolean("tied_classifier", &c.tied_classifier));
  DCLLM_RETURN_IF_ERROR(r.boolean("attn_qkv_bias", &c.attn_qkv_bias));
  bool known = false;
  for (ModelFamily f : {ModelFamily::kLlama, ModelFamily::kOpt, ModelFamily::kGpt2}) {
    if (family == family_name(f)) {
      c.family = f;
      known = true;
    }
  }
  if (!known) return Unsupported(file + ": model family '" + family + "' is not supported");
  // Written since the OPT / GPT-2 families joined; files from before are Llama (SiLU, pre-norm).
  if (j.contains("activation")) {
    std::string act;
    DCLLM_RETURN_IF_ERROR(r.string("activation", &act));
    known = false;
    for (Activation a :
         {Activation::kSilu, Activation::kRelu, Activation::kGeluTanh, Activation::kGelu}) {
      if (act == activation_name(a)) {
        c.activation = a;
        known = true;
      }
    }
    if (!known) return Corrupt(file + ": metadata config.activation '" + act + "' is unknown");
  }
  if (j.contains("embd_dim"))
    DCLLM_RETURN_IF_ERROR(r.integer_in("embd_dim", 0, kMaxSize, &c.embd_dim));
  if (j.contains("pre_norm")) DCLLM_RETURN_IF_ERROR(r.boolean("pre_norm", &c.pre_norm));
  if (rope == rope_style_name(RopeStyle::kInterleaved) || rope == "interleaved") {
    c.rope_style = RopeStyle::kInterleaved;
  } else if (rope == rope_style_name(RopeStyle::kHalves) || rope == "halves") {
    c.rope_style = RopeStyle::kHalves;
  } else {
    return Corrupt(file + ": metadata config.rope_style '" + rope + "' is unknown");
  }
  return c;
}

Expected<Vocab> vocab_from_json(const json& j, const std::string& file) {
  if (!j.is_object()) return Corrupt(file + ": metadata \"vocab\" is not an object");
  FieldReader r(j, file, "vocab");
  Vocab v;
  std::string kind;
  DCLLM_RETURN_IF_ERROR(r.string("kind", &kind));
  if (kind == "sentencepiece") {
    v.kind = VocabKind::kSentencePiece;
  } else if (kind == "byte_level_bpe" || kind == "byte-level-bpe") {
    v.kind = VocabKind::kByteLevelBpe;
  } else {
    return Corrupt(file + ": metadata vocab.kind '" + kind + "' is unknown");
  }
  const json* tokens = r.array("tokens");
  if (!tokens) return r.error("tokens", "an array");
  for (const auto& t : *tokens) {
    if (!t.is_string()) return r.error("tokens", "an array of strings");
    v.tokens.push_back(t.get<std::string>());
  }
  if (const json* scores = r.array("scores")) {
    for (const auto& s : *scores) {
      if (!s.is_number() || !fits_float(s.get<double>()))
        return r.error("scores", "an array of float32 numbers");
      v.scores.push_back(static_cast<float>(s.get<double>()));
    }
  }
  if (const json* types = r.array("types")) {
    for (const auto& t : *types) {
      if (!t.is_number_integer()) return r.error("types", "an array of integers");
      v.types.push_back(static_cast<TokenType>(t.get<int32_t>()));
    }
  }
  if (const json* merges = r.array("merges")) {
    for (const auto& m : *merges) {
      if (!m.is_string()) return r.error("merges", "an array of strings");
      v.merges.push_back(m.get<std::string>());
    }
  }
  int64_t bos = 0, eos = 0, unk = 0;
  DCLLM_RETURN_IF_ERROR(r.integer("bos_id", &bos));
  DCLLM_RETURN_IF_ERROR(r.integer("eos_id", &eos));
  DCLLM_RETURN_IF_ERROR(r.integer("unk_id", &unk));
  const auto n = static_cast<int64_t>(v.tokens.size());
  for (auto [key, id] : {std::pair{"bos_id", bos}, {"eos_id", eos}, {"unk_id", unk}}) {
    if (id < -1 || id >= n) return r.error(key, "a token id of the vocabulary (or -1)");
  }
  if (!v.types.empty() && v.types.size() != v.tokens.size())
    return r.error("types", "one per token");
  if (!v.scores.empty() && v.scores.size() != v.tokens.size())
    return r.error("scores", "one per token");
  v.bos_id = static_cast<int32_t>(bos);
  v.eos_id = static_cast<int32_t>(eos);
  v.unk_id = static_cast<int32_t>(unk);
  DCLLM_RETURN_IF_ERROR(r.boolean("add_bos", &v.add_bos));
  DCLLM_RETURN_IF_ERROR(r.boolean("add_space_prefix", &v.add_space_prefix));
  DCLLM_RETURN_IF_ERROR(r.boolean("llama2c_pieces", &v.llama2c_pieces));
  if (j.contains("pre_tokenizer"))
    DCLLM_RETURN_IF_ERROR(r.string("pre_tokenizer", &v.pre_tokenizer));
  // Hugging Face tokenizer.json rules, written since that reader joined; absent = off.
  for (auto [key, flag] : {std::pair{"ignore_merges", &v.ignore_merges},
                           {"control_pieces_in_text", &v.control_pieces_in_text},
                           {"space_prefix_every_segment", &v.space_prefix_every_segment},
                           {"no_space_prefix_before_space", &v.no_space_prefix_before_space},
                           {"nfc", &v.nfc}}) {
    if (j.contains(key)) DCLLM_RETURN_IF_ERROR(r.boolean(key, flag));
  }
  if (j.contains("chat_template"))
    DCLLM_RETURN_IF_ERROR(r.string("chat_template", &v.chat_template));
  return v;
}

}  // namespace dcllm
