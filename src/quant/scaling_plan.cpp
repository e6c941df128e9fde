// The scaling plan of every family and its application: per layer q/k/v share attn_norm's
// output, gate/up (or fc1) share ffn_norm's, down reads act(gate)*up or act(up), o reads the
// heads' mix of v. Where no exact fold exists the scale becomes an input_scale tensor.
#include "quant/scaling_plan.h"

#include <algorithm>
#include <deque>
#include <unordered_map>

#include "runtime/arch_spec.h"

namespace dcllm {
namespace {

// Float32 copies of a model's tensors, editable by name until they become a Model. A deque, so
// pointers to copies stay valid while input_scale tensors are added.
class TensorCopies {
 public:
  explicit TensorCopies(const Model& m) {
    for (const ModelTensor& t : m.tensors()) {
      ModelTensor c;
      c.name = t.name;
      c.shape = t.shape;
      c.stored_type = t.stored_type;
      c.stored_bytes = t.stored_bytes;
      if (t.data) c.owned.assign(t.data, t.data + t.numel());
      index_[c.name] = tensors_.size();
      tensors_.push_back(std::move(c));
    }
  }

  ModelTensor* find(const std::string& name) {
    auto it = index_.find(name);
    return it == index_.end() ? nullptr : &tensors_[it->second];
  }

  void add(ModelTensor t) {
    index_[t.name] = tensors_.size();
    tensors_.push_back(std::move(t));
  }

  void move_into(Model& m) {
    for (ModelTensor& t : tensors_) {
      t.data = t.owned.empty() ? nullptr : t.owned.data();
      m.add_tensor(std::move(t));  // moving the vector keeps its buffer, so data stays valid
    }
  }

 private:
  std::deque<ModelTensor> tensors_;
  std::unordered_map<std::string, size_t> index_;
};

// A loaded tensor of `rank` dimensions, or an error naming it.
Expected<ModelTensor*> need(TensorCopies& copies, const std::string& path, const std::string& name,
                            size_t rank) {
  ModelTensor* t = copies.find(name);
  if (!t) return InvalidArgument(path + ": scaling needs tensor '" + name + "', which is missing");
  if (t->shape.size() != rank || t->owned.empty()) {
    return InvalidArgument(path + ": tensor '" + name + "' is not a loaded rank-" +
                           std::to_string(rank) + " float tensor");
  }
  return t;
}

// o_proj input channel h*hd + d is v row kv(h)*hd + d: channels sharing a row take the largest
// of their scales, and the row's scale is returned.
std::vector<float> share_scale_across_heads(std::vector<float>& s, const ModelConfig& c) {
  const auto hd = static_cast<size_t>(c.head_dim);
  const auto group = static_cast<size_t>(c.n_heads / c.n_kv_heads);
  std::vector<float> row(static_cast<size_t>(c.n_kv_heads) * hd, 0.0f);
  for (size_t ch = 0; ch < s.size(); ++ch) {
    const size_t r = (ch / hd / group) * hd + ch % hd;
    row[r] = std::max(row[r], s[ch]);
  }
  for (size_t ch = 0; ch < s.size(); ++ch) s[ch] = row[(ch / hd / group) * hd + ch % hd];
  return row;
}

}  // namespace

Expected<ScalingPlan> scaling_plan_for(const ModelConfig& c) {
  auto spec = arch_spec_for(c);
  if (!spec.ok()) {
    return Unsupported("architecture '" + c.architecture +
                       "' has no scaling plan: " + spec.status().message());
  }
  if (c.n_layers <= 0 || c.n_heads <= 0 || c.n_kv_heads <= 0 || c.head_dim <= 0 ||
      c.n_heads % c.n_kv_heads != 0) {
    return InvalidArgument("architecture '" + c.architecture +
                           "': inconsistent head counts for a scaling plan");
  }
  const bool norm_bias = spec->norm == NormKind::kLayerNorm;
  // A group reading a norm's output folds into its gain (and bias); in a post-norm block that
  // output is also the residual stream, which must not change, so the scale stays explicit.
  auto after_norm = [&](std::vector<std::string> linears, const std::string& norm) {
    if (!spec->pre_norm) return ScalingGroup{std::move(linears), ScaleFold::kInputScale, "", ""};
    return ScalingGroup{std::move(linears), ScaleFold::kNormGain, norm + ".weight",
                        norm_bias ? norm + ".bias" : ""};
  };
  ScalingPlan plan;
  if (spec->projected_embeddings)
    plan.groups.push_back({{"proj_in"}, ScaleFold::kUnscaled, "", ""});
  for (int64_t l = 0; l < c.n_layers; ++l) {
    auto n = [l](const char* s) { return layer_tensor_name(l, s); };
    plan.groups.push_back(after_norm({n("attn_q"), n("attn_k"), n("attn_v")}, n("attn_norm")));
    plan.groups.push_back({{n("attn_output")},
                           ScaleFold::kHeadRows,
                           n("attn_v.weight"),
                           spec->qkv_bias ? n("attn_v.bias") : ""});
    const bool gated = spec->ffn == FeedForwardKind::kGated;
    plan.groups.push_back(gated ? after_norm({n("ffn_gate"), n("ffn_up")}, n("ffn_norm"))
                                : after_norm({n("ffn_up")}, n("ffn_norm")));
    // down reads act(gate)·up, linear in up's rows, or act(up): 1/s passes through ReLU
    // (positively homogeneous, s > 0) but not through GELU.
    if (gated || spec->activation == Activation::kRelu) {
      plan.groups.push_back({{n("ffn_down")},
                             ScaleFold::kRows,
                             n("ffn_up.weight"),
                             spec->ffn_bias ? n("ffn_up.bias") : ""});
    } else {
      plan.groups.push_back({{n("ffn_down")}, ScaleFold::kInputScale, "", ""});
    }
  }
  if (spec->projected_embeddings) {
    plan.groups.push_back(spec->final_norm
                              ? after_norm({"proj_out"}, "output_norm")
                              : ScalingGroup{{"proj_out"}, ScaleFold::kInputScale, "", ""});
  }
  // Scaling a tied classifier's columns would scale the token embeddings too.
  if (c.tied_classifier) {
    plan.groups.push_back({{"output"}, ScaleFold::kUnscaled, "", ""});
  } else if (spec->projected_embeddings) {
    plan.groups.push_back({{"output"}, ScaleFold::kRows, "proj_out.weight", ""});
  } else if (spec->final_norm) {
    plan.groups.push_back(after_norm({"output"}, "output_norm"));
  } else {
    plan.groups.push_back({{"output"}, ScaleFold::kInputScale, "", ""});
  }
  return plan;
}

Expected<ScaledModel> apply_scaling_plan(const Model& source, const ScalingPlan& plan,
                                         const std::map<std::string, CalibrationStats>& stats,
                                         ScaleMethod method, double alpha) {
  DCLLM_RETURN_IF_ERROR(validate_alpha(method, alpha));
  const ModelConfig& c = source.config;
  TensorCopies copies(source);
  ScaledModel out;

  for (auto g = plan.groups.rbegin(); g != plan.groups.rend(); ++g) {
    if (g->linears.empty()) return Internal("scaling plan: a group without linears");
    // The tied classifier reads token_embd; it is left exactly as it is.
    const bool tied_output = g->linears[0] == "output" && c.tied_classifier;
    std::vector<ModelTensor*> weights;
    std::vector<ConstMatrixView> views;
    if (!tied_output) {
      for (const std::string& name : g->linears) {
        DCLLM_ASSIGN_OR_RETURN(ModelTensor * w, need(copies, source.path, name + ".weight", 2));
        weights.push_back(w);
        views.push_back(
            {w->owned, static_cast<size_t>(w->shape[0]), static_cast<size_t>(w->shape[1])});
      }
    }
    const size_t cols = tied_output ? static_cast<size_t>(c.embedding_width()) : views[0].cols;

    std::vector<float> s(cols, 1.0f);
    if (method != ScaleMethod::kNone && g->fold != ScaleFold::kUnscaled && !tied_output) {
      auto st = stats.find(g->linears[0]);
      if (st == stats.end()) {
        return InvalidArgument("scaling: no calibration statistics for '" + g->linears[0] + "'");
      }
      if (st->second.channels() != cols) {
        return InvalidArgument("scaling: statistics of '" + g->linears[0] + "' have " +
                               std::to_string(st->second.channels()) + " channels, the weight " +
                               std::to_string(cols));
      }
      std::vector<float> colmax;
      if (method == ScaleMethod::kSmoothQuant) {
        DCLLM_ASSIGN_OR_RETURN(colmax, column_absmax(views));
      }
      DCLLM_ASSIGN_OR_RETURN(s, input_scale(method, st->second, colmax, alpha));
    }
    if (method != ScaleMethod::kNone && g->fold == ScaleFold::kInputScale) {
      // The runtime multiplies x by 1/s: one tensor per linear, as the binder looks them up.
      for (const std::string& name : g->linears) {
        ModelTensor inv;
        inv.name = name + ".input_scale";
        inv.shape = {static_cast<int64_t>(cols)};
        inv.stored_type = "F32";
        inv.stored_bytes = cols * sizeof(float);
        for (float v : s) inv.owned.push_back(1.0f / v);
        copies.add(std::move(inv));
      }
    } else if (method != ScaleMethod::kNone && g->fold != ScaleFold::kUnscaled && !tied_output) {
      // 1/s into the producer: a norm's gain (and bias), or rows of up / v / proj_out.
      std::vector<float> fold_s = s;
      if (g->fold == ScaleFold::kHeadRows) fold_s = share_scale_across_heads(s, c);
      const size_t rank = g->fold == ScaleFold::kNormGain ? 1 : 2;
      DCLLM_ASSIGN_OR_RETURN(ModelTensor * p, need(copies, source.path, g->fold_weight, rank));
      const auto rows = static_cast<size_t>(p->shape[0]);
      const size_t pcols = rank == 1 ? 1 : static_cast<size_t>(p->shape[1]);
      if (rows != fold_s.size()) {
        return InvalidArgument(source.path + ": '" + g->fold_weight + "' has " +
                               std::to_string(rows) + " rows, the scale " +
                               std::to_string(fold_s.size()));
      }
      DCLLM_RETURN_IF_ERROR(fold_inverse_scale_into_rows(p->owned, rows, pcols, fold_s));
      if (!g->fold_bias.empty()) {
        DCLLM_ASSIGN_OR_RETURN(ModelTensor * b, need(copies, source.path, g->fold_bias, 1));
        DCLLM_RETURN_IF_ERROR(fold_inverse_scale_into_rows(b->owned, rows, 1, fold_s));
      }
    }
    if (method != ScaleMethod::kNone && g->fold != ScaleFold::kUnscaled && !tied_output) {
      for (ModelTensor* w : weights) {
        DCLLM_RETURN_IF_ERROR(apply_input_scale(w->owned, static_cast<size_t>(w->shape[0]),
                                                static_cast<size_t>(w->shape[1]), s));
      }
    }
    for (const std::string& name : g->linears) out.scales[name] = s;
  }

  out.model.config = source.config;
  out.model.path = source.path;
  out.model.format = source.format;
  out.model.vocab = source.vocab;
  out.model.info = source.info;
  copies.move_into(out.model);
  return out;
}

}  // namespace dcllm
