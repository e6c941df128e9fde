// The compress pipeline end to end: validate everything, calibrate the float model, fold the
// input scales, then per tensor quantize to INT8, prune and entropy-code into the container.
#include "compress/compress_model.h"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <map>
#include <set>
#include <string_view>

#include <fmt/format.h>

#include "calib/calibrate.h"
#include "container/utf8.h"
#include "core/activation_scheme.h"
#include "core/file_identity.h"
#include "core/temp_files.h"
#include "core/text_file.h"
#include "dcllm/codec.h"
#include "dcllm/container.h"
#include "model/dcllm_model_metadata.h"
#include "model/model_loader.h"
#include "prune/pruning.h"
#include "quant/gptq.h"
#include "quant/scaling_plan.h"
#include "quant/weight_quant.h"

namespace dcllm {

double Int8TensorReport::cr_vs_int8() const {
  return total_bytes() ? static_cast<double>(int8_bytes) / static_cast<double>(total_bytes()) : 0.0;
}
double Int8TensorReport::bits_per_weight() const {
  return int8_bytes ? 8.0 * static_cast<double>(total_bytes()) / static_cast<double>(int8_bytes)
                    : 0.0;
}
double Int8TensorReport::zero_fraction() const {
  return int8_bytes ? static_cast<double>(zeros) / static_cast<double>(int8_bytes) : 0.0;
}

namespace {

nlohmann::ordered_json int8_json(const Int8TensorReport& r, bool with_name) {
  nlohmann::ordered_json j;
  if (with_name) j["name"] = r.name;
  j["int8_bytes"] = r.int8_bytes;
  j["stored_bytes"] = r.stored_bytes;
  j["scale_bytes"] = r.scale_bytes;
  j["cr_vs_int8"] = r.cr_vs_int8();
  j["bits_per_weight"] = r.bits_per_weight();
  j["entropy_bits"] = r.entropy_bits;
  j["zero_fraction"] = r.zero_fraction();
  return j;
}

// The options, parsed: every fault is reported here, before anything is read or run.
struct Settings {
  ScaleMethod scale = ScaleMethod::kDc;
  Int8Layout wquant;  // scheme only (rows = cols = 0)
  PruneMethod prune = PruneMethod::kNone;
  PruneGroup prune_group = PruneGroup::kRow;
  ActivationQuant aquant;
  bool gptq = false;
  // Scaling, pruning and GPTQ read the calibration statistics; without them none is run.
  bool needs_calibration() const {
    return scale != ScaleMethod::kNone || prune != PruneMethod::kNone || gptq;
  }
};

// "--option: <the parser's message>", so the user sees which option to fix.
Status for_option(const char* option, Status st) {
  if (st.ok()) return st;
  return Status(st.code(), std::string(option) + ": " + st.message());
}

bool has_suffix(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Every file compress may read, so the output can be compared with each by identity. A Hugging
// Face checkpoint reads config, tokenizer files, index and shards from its directory (shard
// names cannot contain '/'), so every entry at the top of that directory counts: a superset.
std::vector<std::string> compress_inputs(const CompressOptions& o) {
  std::vector<std::string> in{o.model_path};
  if (!o.calib_path.empty()) in.push_back(o.calib_path);
  if (!o.tokenizer_path.empty()) {
    in.push_back(o.tokenizer_path);
  } else if (has_suffix(o.model_path, ".bin")) {
    in.push_back(parent_directory(o.model_path) + "/tokenizer.bin");  // the loader's default
  }
  std::error_code ec;
  std::string hf_dir;
  if (std::filesystem::is_directory(o.model_path, ec)) {
    hf_dir = o.model_path;
  } else if (has_suffix(o.model_path, "config.json") || has_suffix(o.model_path, ".safetensors") ||
             has_suffix(o.model_path, ".safetensors.index.json")) {
    hf_dir = parent_directory(o.model_path);
  }
  if (!hf_dir.empty()) {
    for (std::filesystem::directory_iterator it(hf_dir, ec), end; !ec && it != end;
         it.increment(ec)) {
      in.push_back(it->path().string());
    }
  }
  return in;
}

// Bytes of the model on disk: the file, or every regular file at the top of a Hugging Face
// directory (what the loader may read).
uint64_t input_size(const std::string& model_path) {
  std::error_code ec;
  if (!std::filesystem::is_directory(model_path, ec)) {
    const auto n = std::filesystem::file_size(model_path, ec);
    return ec ? 0 : static_cast<uint64_t>(n);
  }
  uint64_t total = 0;
  for (std::filesystem::directory_iterator it(model_path, ec), end; !ec && it != end;
       it.increment(ec)) {
    std::error_code fec;
    if (it->is_regular_file(fec)) total += static_cast<uint64_t>(it->file_size(fec));
  }
  return total;
}

Expected<Settings> parse_settings(const CompressOptions& o) {
  Settings s;
  auto scale = parse_scale_method(o.scale);
  DCLLM_RETURN_IF_ERROR(for_option("--scale", scale.status()));
  s.scale = *scale;
  DCLLM_RETURN_IF_ERROR(for_option("--alpha", validate_alpha(s.scale, o.alpha)));
  auto wquant = parse_quant_scheme(o.wquant);
  DCLLM_RETURN_IF_ERROR(for_option("--wquant", wquant.status()));
  s.wquant = *wquant;
  auto aquant = parse_activation_quant(o.aquant);
  DCLLM_RETURN_IF_ERROR(for_option("--aquant", aquant.status()));
  s.aquant = *aquant;
  auto prune = parse_prune_method(o.prune);
  DCLLM_RETURN_IF_ERROR(for_option("--prune", prune.status()));
  s.prune = *prune;
  DCLLM_RETURN_IF_ERROR(for_option("--sparsity", validate_sparsity(o.sparsity)));
  if (s.prune == PruneMethod::kNone && o.sparsity > 0.0) {
    return InvalidArgument("--sparsity " + std::to_string(o.sparsity) +
                           " needs a --prune method (dc, wanda or magnitude)");
  }
  auto group = parse_prune_group(o.prune_group);
  DCLLM_RETURN_IF_ERROR(for_option("--prune-group", group.status()));
  s.prune_group = *group;
  DCLLM_RETURN_IF_ERROR(for_option("--codec", make_codec(o.codec).status()));
  if (o.rounding != "nearest" && o.rounding != "gptq")
    return InvalidArgument("--rounding '" + o.rounding + "': expected nearest or gptq");
  s.gptq = o.rounding == "gptq";
  if (!std::isfinite(o.gptq_damp) || o.gptq_damp < 0.0 || o.gptq_damp > 1.0)
    return InvalidArgument("--gptq-damp " + std::to_string(o.gptq_damp) + " must be in [0, 1]");
  for (auto [name, v] : {std::pair{"--wlevels", o.wlevels}, {"--table-wlevels", o.table_wlevels}}) {
    if (v < 1 || v > 127)
      return InvalidArgument(std::string(name) + " " + std::to_string(v) + " must be in [1, 127]");
  }
  if (o.calib_tokens < 1) {
    return InvalidArgument("--calib-tokens " + std::to_string(o.calib_tokens) + " must be >= 1");
  }
  if (o.calib_ctx < 2) {
    return InvalidArgument("--calib-ctx " + std::to_string(o.calib_ctx) + " must be >= 2");
  }
  if (o.output_path.empty()) return InvalidArgument("no output file (-o)");
  if (o.calib_path.empty() && s.needs_calibration()) {
    return InvalidArgument(
        "no calibration text (--calib): scaling, pruning and --rounding gptq need it (only "
        "--scale none --prune none --rounding nearest runs without)");
  }
  // Before any work: a bad -o must not cost the calibration, and must never be an input.
  DCLLM_RETURN_IF_ERROR(for_option("-o", check_output_path(o.output_path, compress_inputs(o))));
  return s;
}

Expected<nlohmann::json> vocab_json(const Vocab& v, const std::string& path) {
  for (size_t i = 0; i < v.tokens.size(); ++i) {
    if (!is_valid_utf8(v.tokens[i])) {
      return Unsupported(path + ": token " + std::to_string(i) +
                         " is not valid UTF-8 and cannot be stored in the container metadata");
    }
  }
  for (const std::string& m : v.merges) {
    if (!is_valid_utf8(m)) return Unsupported(path + ": a BPE merge is not valid UTF-8");
  }
  // The same serialisation the .dcllm model reader parses back (dcllm_model_metadata.h).
  return vocab_to_json(v);
}

// Order-0 entropy (bits per symbol) and zero count of INT8 symbols.
void measure_symbols(std::span<const int8_t> q, Int8TensorReport& r) {
  uint64_t hist[256] = {};
  for (int8_t v : q) ++hist[static_cast<uint8_t>(v)];
  const double n = static_cast<double>(q.size());
  double h = 0.0;
  for (uint64_t c : hist) {
    if (c) h -= (static_cast<double>(c) / n) * std::log2(static_cast<double>(c) / n);
  }
  r.entropy_bits = q.empty() ? 0.0 : h;
  r.zeros = hist[0];
  r.int8_bytes = q.size();
}

// "blk.0.attn_q.weight" -> "blk.0.attn_q".
std::string base_name(const std::string& weight) {
  return weight.substr(0, weight.size() - std::string_view(".weight").size());
}

// The Gram matrix of X/s (what the scaled weights multiply): G[i][j] / (s_i s_j).
std::vector<float> scaled_gram(const InputGram& g, const std::vector<float>& s) {
  const size_t k = g.channels();
  std::vector<float> out(g.data());
  for (size_t i = 0; i < k; ++i)
    for (size_t j = 0; j < k; ++j) out[i * k + j] /= s[i] * s[j];
  return out;
}

QuantParams container_quant(const Int8Matrix& m) {
  return QuantParams{m.scheme, static_cast<uint32_t>(m.group), m.scales};
}

std::span<const uint8_t> as_bytes(std::span<const int8_t> q) {
  return {reinterpret_cast<const uint8_t*>(q.data()), q.size()};
}

}  // namespace

Status apply_preset(std::string_view name, CompressOptions& o,
                    const std::function<bool(std::string_view option)>& given) {
  auto set = [&](std::string_view option, auto& field, auto value) {
    if (!given || !given(option)) field = value;
  };
  if (name == "default") return Status::Ok();
  if (name == "small") {
    set("--scale", o.scale, std::string("dc"));
    set("--alpha", o.alpha, 0.5);
    set("--wquant", o.wquant, std::string("per-channel"));
    set("--aquant", o.aquant, std::string("block:32"));
    set("--rounding", o.rounding, std::string("gptq"));
    set("--wlevels", o.wlevels, 31);
    set("--table-wlevels", o.table_wlevels, 63);
    return Status::Ok();
  }
  if (name == "accurate") {
    set("--scale", o.scale, std::string("dc"));
    set("--alpha", o.alpha, 0.25);
    set("--wquant", o.wquant, std::string("per-channel"));
    set("--aquant", o.aquant, std::string("block:32"));
    return Status::Ok();
  }
  return InvalidArgument("--preset '" + std::string(name) +
                         "': expected default, accurate or small");
}

nlohmann::ordered_json CompressReport::to_json() const {
  nlohmann::ordered_json j;
  j["model"] = model;
  j["output"] = output;
  j["settings"] = settings;
  j["calib_tokens_used"] = calib_tokens_used;
  j["calib_windows"] = calib_windows;
  j["totals"] = int8_json(totals, false);
  nlohmann::ordered_json ts = nlohmann::ordered_json::array();
  for (const auto& t : tensors) ts.push_back(int8_json(t, true));
  j["tensors"] = std::move(ts);
  j["parameters"] = parameters;
  j["file_bytes"] = file_bytes;
  j["cr_vs_fp16"] = cr_vs_fp16;
  j["input_bytes"] = input_bytes;
  j["source_bits_per_weight"] = source_bits_per_weight;
  j["notes"] = notes;
  j["seconds"] = seconds;
  return j;
}

Expected<CompressReport> compress_model(const CompressOptions& o) {
  const auto start = std::chrono::steady_clock::now();
  DCLLM_ASSIGN_OR_RETURN(Settings set, parse_settings(o));

  LoadOptions load;
  load.tokenizer_path = o.tokenizer_path;
  load.threads = std::max(1u, o.threads);
  DCLLM_ASSIGN_OR_RETURN(Model model, load_model(o.model_path, load));
  DCLLM_ASSIGN_OR_RETURN(ScalingPlan plan, scaling_plan_for(model.config));
  // The tensors that become INT8: the block linears (a tied classifier is token_embd itself),
  // and the embedding and classifier tables.
  std::set<std::string> linears;
  for (const ScalingGroup& g : plan.groups) {
    for (const std::string& l : g.linears) {
      if (l != "output") linears.insert(l + ".weight");
    }
  }
  const auto quantized = [&linears](const ModelTensor& t) {
    return t.shape.size() == 2 && (linears.count(t.name) > 0 || t.name == "token_embd.weight" ||
                                   t.name == "output.weight");
  };
  uint64_t source_bytes = 0, source_weights = 0;
  for (const ModelTensor& t : model.tensors()) {
    if (!quantized(t)) continue;
    source_bytes += t.stored_bytes;
    source_weights += static_cast<uint64_t>(t.numel());
  }
  DCLLM_ASSIGN_OR_RETURN(Tokenizer tokenizer, tokenizer_for(model));
  DCLLM_ASSIGN_OR_RETURN(nlohmann::json vocab, vocab_json(tokenizer.vocab(), o.model_path));
  // Calibration: the statistics scaling and pruning use, and GPTQ's Gram matrices; skipped
  // (no text read, no statistics stored) when the settings use none of them.
  std::map<std::string, std::string> gram_of;  // weight tensor -> key in grams
  std::map<std::string, InputGram> grams;
  std::map<std::string, CalibrationStats> stats;
  CalibrationWindows windows;
  if (!o.calib_path.empty()) {
    DCLLM_ASSIGN_OR_RETURN(std::string text, read_text_file(o.calib_path));
    if (tokenizer.bos_id() < 0) {
      return Unsupported(o.model_path + ": the vocabulary has no BOS token to start windows with");
    }
    std::vector<int32_t> tokens = tokenizer.encode(text, /*add_bos=*/false);
    tokens.insert(tokens.begin(), tokenizer.bos_id());
    text.clear();
    text.shrink_to_fit();

    CalibrationOptions copts;
    copts.tokens = o.calib_tokens;
    copts.ctx = o.calib_ctx;
    copts.threads = std::max(1u, o.threads);
    copts.text_name = o.calib_path;
    DCLLM_ASSIGN_OR_RETURN(windows, plan_calibration_windows(model.config, tokens, copts));

    // Everything is checked: the work starts here.
    if (o.on_progress) {
      copts.on_progress = [&o](int64_t d, int64_t t) { o.on_progress("calibrate", d, t); };
    }
    // GPTQ needs each linear input's Gram matrix: one per scaling group (its linears share the
    // input), keyed by the group's first linear.
    if (set.gptq) {
      for (const ScalingGroup& g : plan.groups) {
        if (g.linears[0] == "output") continue;  // tables are rounded to nearest
        copts.gram_linears.insert(g.linears[0]);
        for (const std::string& l : g.linears) gram_of[l + ".weight"] = g.linears[0];
      }
    }
    DCLLM_ASSIGN_OR_RETURN(
        stats, calibrate_activations(model, tokens, copts, set.gptq ? &grams : nullptr));
  }
  DCLLM_ASSIGN_OR_RETURN(ScaledModel scaled,
                         apply_scaling_plan(model, plan, stats, set.scale, o.alpha));
  model = Model();  // the scaled copy is all that is needed from here on

  CompressReport r;
  r.model = o.model_path;
  r.output = o.output_path;
  r.settings = {{"scale", o.scale},
                {"alpha", o.alpha},
                {"wquant", quant_scheme_name(set.wquant.scheme, set.wquant.group)},
                {"aquant", activation_quant_name(set.aquant)},
                {"prune", o.prune},
                {"sparsity", o.sparsity},
                {"prune_group", o.prune_group},
                {"wlevels", o.wlevels},
                {"rounding", o.rounding},
                {"table_wlevels", o.table_wlevels},
                {"codec", o.codec},
                {"calib_tokens", o.calib_tokens},
                {"calib_ctx", o.calib_ctx}};
  r.calib_tokens_used = windows.tokens;
  r.calib_windows = windows.windows;

  nlohmann::json meta;
  meta["format"] = "dcllm-model";
  meta["version"] = 1;
  meta["config"] = model_config_to_json(scaled.model.config);
  meta["vocab"] = std::move(vocab);
  meta["compression"] = nlohmann::json::parse(r.settings.dump());
  nlohmann::json calib = nlohmann::json::object();
  for (const auto& [name, st] : stats) calib[name] = st.to_json();
  meta["calibration"] = std::move(calib);
  meta["provenance"] = {
      {"source", o.model_path}, {"source_format", scaled.model.format}, {"tool", "dcllm 0.1.0"}};
  DCLLM_ASSIGN_OR_RETURN(ContainerWriter writer, ContainerWriter::create(o.output_path, meta));
  writer.set_threads(std::max(1u, o.threads));
  meta = nlohmann::json();

  Int8Layout per_row;
  per_row.scheme = QuantScheme::kPerChannel;
  const auto& all = scaled.model.tensors();
  double entropy_sum = 0.0;
  for (size_t i = 0; i < all.size(); ++i) {
    const ModelTensor& t = all[i];
    r.parameters += t.numel();
    TensorSpec spec;
    spec.name = t.name;
    for (int64_t d : t.shape) spec.shape.push_back(static_cast<uint64_t>(d));
    const bool is_linear = linears.count(t.name) > 0;
    if (quantized(t)) {
      const auto rows = static_cast<size_t>(t.shape[0]), cols = static_cast<size_t>(t.shape[1]);
      const WeightQuantOptions wopts{is_linear ? o.wlevels : o.table_wlevels};
      Int8Matrix q;
      if (auto g = gram_of.find(t.name); is_linear && g != gram_of.end()) {
        DCLLM_ASSIGN_OR_RETURN(
            q, quantize_weights_gptq(
                   t.owned, rows, cols, set.wquant, wopts,
                   scaled_gram(grams.at(g->second), scaled.scales.at(base_name(t.name))),
                   GptqOptions{o.gptq_damp, std::max(1u, o.threads)}));
      } else {
        DCLLM_ASSIGN_OR_RETURN(
            q, quantize_weights_int8(t.owned, rows, cols, is_linear ? set.wquant : per_row, wopts));
      }
      if (is_linear && set.prune != PruneMethod::kNone) {
        const std::string base = base_name(t.name);
        DCLLM_ASSIGN_OR_RETURN(CalibrationStats scaled_stats,
                               stats.at(base).divided_by_scale(scaled.scales.at(base)));
        DCLLM_ASSIGN_OR_RETURN(
            auto counts, prune_int8_weights(set.prune, q, scaled_stats, o.sparsity, set.prune_group,
                                            std::max(1u, o.threads)));
        (void)counts;
      }
      spec.dtype = DType::kI8;
      spec.quant = container_quant(q);
      Int8TensorReport tr;
      tr.name = t.name;
      measure_symbols(q.values, tr);
      const uint64_t before = writer.stored_bytes();
      DCLLM_RETURN_IF_ERROR(writer.add_tensor(spec, as_bytes(q.values), o.codec,
                                              ChunkSplit{o.chunk_rows, o.chunk_bytes}));
      tr.stored_bytes = writer.stored_bytes() - before;
      tr.scale_bytes = q.scales.size() * sizeof(float);
      r.totals.int8_bytes += tr.int8_bytes;
      r.totals.stored_bytes += tr.stored_bytes;
      r.totals.scale_bytes += tr.scale_bytes;
      r.totals.zeros += tr.zeros;
      entropy_sum += tr.entropy_bits * static_cast<double>(tr.int8_bytes);
      r.tensors.push_back(std::move(tr));
    } else {
      spec.dtype = DType::kF32;
      std::span<const uint8_t> raw(reinterpret_cast<const uint8_t*>(t.owned.data()),
                                   t.owned.size() * sizeof(float));
      DCLLM_RETURN_IF_ERROR(writer.add_tensor(spec, raw, "raw"));
    }
    if (o.on_progress)
      o.on_progress("encode", static_cast<int64_t>(i + 1), static_cast<int64_t>(all.size()));
  }
  r.totals.name = "totals";
  r.totals.entropy_bits =
      r.totals.int8_bytes ? entropy_sum / static_cast<double>(r.totals.int8_bytes) : 0.0;
  DCLLM_RETURN_IF_ERROR(writer.finish());
  r.file_bytes = writer.file_bytes();
  r.cr_vs_fp16 = r.file_bytes
                     ? 2.0 * static_cast<double>(r.parameters) / static_cast<double>(r.file_bytes)
                     : 0.0;
  r.input_bytes = input_size(o.model_path);
  r.source_bits_per_weight =
      source_weights ? 8.0 * static_cast<double>(source_bytes) / static_cast<double>(source_weights)
                     : 0.0;
  if (r.source_bits_per_weight > 0.0 && r.source_bits_per_weight < 8.0) {
    r.notes.push_back(fmt::format(
        "the source stores these weights in {:.2f} bits each, below INT8: compress dequantizes "
        "them and re-quantizes to INT8 ({:.2f} bits each after coding), so the output can be "
        "larger than the input; it cannot keep the source's own low-bit blocks",
        r.source_bits_per_weight, r.totals.bits_per_weight()));
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

}  // namespace dcllm
