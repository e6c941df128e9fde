// The forward pass, top to bottom: embed (+ learned positions), then per layer attention (RoPE
// or none, grouped-query heads over the KV cache) and an MLP (gated or plain), each added to the
// residual stream with its norm before (pre-norm) or after (post-norm); then the final norm,
// proj_out and the classifier. Batches of tokens run as matrix-matrix products.
#include "runtime/transformer.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string_view>
#include <unordered_map>

#include "core/parallel.h"
#include "runtime/matmul_f32.h"

namespace dcllm {
namespace {

// Prompts longer than this run in several batches, bounding activation memory.
constexpr size_t kMaxBatch = 256;

class Binder {
 public:
  explicit Binder(const Model& m) : m_(m) {}

  // The tensor `name` of exactly `shape`, or an error naming it.
  Expected<const ModelTensor*> find(const std::string& name, std::vector<int64_t> shape) const {
    const ModelTensor* t = m_.find(name);
    if (!t) return Corrupt(m_.path + ": tensor '" + name + "' is missing");
    if (t->shape != shape) {
      return Corrupt(m_.path + ": tensor '" + name + "' has shape " + fmt(t->shape) +
                     ", expected " + fmt(shape));
    }
    return t;
  }

  // A loaded float32 tensor of exactly `shape`, or an error naming it.
  Expected<const float*> get(const std::string& name, std::vector<int64_t> shape) const {
    DCLLM_ASSIGN_OR_RETURN(const ModelTensor* t, find(name, std::move(shape)));
    if (!t->data && t->int8)
      return Unsupported(m_.path + ": tensor '" + name + "' is INT8 where float32 is needed");
    if (!t->data)
      return InvalidArgument(m_.path + ": tensor '" + name + "' was loaded without data");
    return t->data;
  }

  // The INT8 form of `t` as the gemm takes it, checked once here. A tensor kept coded
  // (compressed, stream tier) has no values yet: its data pointer stays null until a
  // WeightSource supplies it.
  Expected<Int8MatrixView> int8_weights(const ModelTensor& t) const {
    const Int8Tensor& q = *t.int8;
    if (q.values.empty() && !q.stored)
      return InvalidArgument(m_.path + ": tensor '" + t.name + "' was loaded without data");
    static const int8_t kPlaceholder = 0;  // validate_int8_weights wants a non-null pointer
    Int8MatrixView w = q.view();
    if (q.stored) w.values = &kPlaceholder;
    Status st = validate_int8_weights(w);
    if (!st.ok()) return Status(st.code(), m_.path + ": tensor '" + t.name + "': " + st.message());
    if (q.stored) w.values = nullptr;
    int8_tensors_[t.name.substr(0, t.name.size() - std::string_view(".weight").size())] = &q;
    return w;
  }

  // The Int8Tensor behind the INT8 linear called `base` ("blk.0.attn_q", "output").
  const Int8Tensor* int8_tensor(const std::string& base) const {
    auto it = int8_tensors_.find(base);
    return it == int8_tensors_.end() ? nullptr : it->second;
  }

  // Float32 or INT8 (W8A8) by how the weight is stored; `base.input_scale` [in], when the
  // model has one (a .dcllm's unfolded o_proj scale), scales the input channels first.
  Expected<Linear> linear(const std::string& base, int64_t out, int64_t in, bool bias) const {
    DCLLM_ASSIGN_OR_RETURN(const ModelTensor* w, find(base + ".weight", {out, in}));
    const float* b = nullptr;
    if (bias) {
      DCLLM_ASSIGN_OR_RETURN(b, get(base + ".bias", {out}));
    }
    const float* input_scale = nullptr;
    if (m_.find(base + ".input_scale")) {
      DCLLM_ASSIGN_OR_RETURN(input_scale, get(base + ".input_scale", {in}));
    }
    if (w->int8 && !w->data) {
      DCLLM_ASSIGN_OR_RETURN(Int8MatrixView q, int8_weights(*w));
      return Linear::int8(base, q, b, input_scale, w->int8->activations);
    }
    DCLLM_ASSIGN_OR_RETURN(const float* wf, get(base + ".weight", {out, in}));
    return Linear::f32(base, wf, b, out, in, input_scale);
  }

  // The tied classifier "output" multiplies with token_embd's INT8 values.
  void alias_int8(const std::string& base, const std::string& tensor_base) {
    int8_tensors_[base] = int8_tensors_.at(tensor_base);
  }

  static std::string fmt(const std::vector<int64_t>& s) {
    std::string r = "[";
    for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
    return r + "]";
  }

 private:
  const Model& m_;
  mutable std::unordered_map<std::string, const Int8Tensor*> int8_tensors_;
};

}  // namespace

Expected<Transformer> Transformer::create(const Model& model, const TransformerOptions& opts) {
  const ModelConfig& c = model.config;
  auto spec_or = arch_spec_for(c);
  if (!spec_or.ok()) {
    return Status(spec_or.status().code(), model.path + ": " + spec_or.status().message());
  }
  const ArchSpec spec = *spec_or;
  if (c.dim <= 0 || c.n_layers <= 0 || c.n_heads <= 0 || c.n_kv_heads <= 0 || c.head_dim <= 0 ||
      c.vocab_size <= 0 || c.hidden_dim <= 0 || c.seq_len <= 0 || c.n_heads % c.n_kv_heads != 0 ||
      c.head_dim % 2 != 0 || c.embd_dim < 0) {
    return Corrupt(model.path + ": inconsistent hyper-parameters");
  }
  Transformer t;
  t.config_ = c;
  t.spec_ = spec;
  t.threads_ = std::max(1u, opts.threads);
  t.max_seq_ = opts.max_seq > 0 ? std::min(opts.max_seq, c.seq_len) : c.seq_len;
  t.kv_dim_ = c.n_kv_heads * c.head_dim;
  const int64_t D = c.dim, F = c.hidden_dim, V = c.vocab_size, Q = c.n_heads * c.head_dim;
  const int64_t E = c.embedding_width();

  Binder b(model);
  auto norm = [&](const std::string& base) -> Expected<Norm> {
    Norm n;
    DCLLM_ASSIGN_OR_RETURN(n.weight, b.get(base + ".weight", {D}));
    if (spec.norm == NormKind::kLayerNorm) {
      DCLLM_ASSIGN_OR_RETURN(n.bias, b.get(base + ".bias", {D}));
    }
    return n;
  };

  DCLLM_ASSIGN_OR_RETURN(const ModelTensor* embd, b.find("token_embd.weight", {V, E}));
  if (embd->int8 && !embd->data) {
    // INT8 embeddings: rows are dequantized on lookup, from wherever the tier keeps them; a
    // tied classifier runs on INT8 through the weight source like every linear.
    DCLLM_ASSIGN_OR_RETURN(Int8MatrixView q, b.int8_weights(*embd));
    DCLLM_ASSIGN_OR_RETURN(t.token_embd_int8_, EmbeddingTable::create(*embd->int8));
    if (c.tied_classifier) {
      t.classifier_ = Linear::int8("output", q, nullptr, nullptr, embd->int8->activations);
      b.alias_int8("output", "token_embd");
    }
  } else {
    DCLLM_ASSIGN_OR_RETURN(t.token_embd_, b.get("token_embd.weight", {V, E}));
    if (c.tied_classifier) t.classifier_ = Linear::f32("output", t.token_embd_, nullptr, V, E);
  }
  if (spec.position == PositionKind::kLearned) {
    DCLLM_ASSIGN_OR_RETURN(t.pos_embd_, b.get("pos_embd.weight", {c.seq_len, D}));
  }
  if (spec.projected_embeddings) {
    DCLLM_ASSIGN_OR_RETURN(t.proj_in_, b.linear("proj_in", D, E, false));
    DCLLM_ASSIGN_OR_RETURN(t.proj_out_, b.linear("proj_out", E, D, false));
  }
  if (spec.final_norm) {
    DCLLM_ASSIGN_OR_RETURN(t.output_norm_, norm("output_norm"));
  }
  if (!c.tied_classifier) {
    DCLLM_ASSIGN_OR_RETURN(t.classifier_, b.linear("output", V, E, false));
  }
  // A Model not from load_model() may carry an unchecked n_layers: refuse one its tensors do
  // not back before allocating a Layer for each.
  DCLLM_RETURN_IF_ERROR(check_layer_tensors(model));
  t.layers_.resize(static_cast<size_t>(c.n_layers));
  for (int64_t l = 0; l < c.n_layers; ++l) {
    Layer& L = t.layers_[static_cast<size_t>(l)];
    auto name = [l](const char* s) { return layer_tensor_name(l, s); };
    DCLLM_ASSIGN_OR_RETURN(L.attn_norm, norm(name("attn_norm")));
    DCLLM_ASSIGN_OR_RETURN(L.q, b.linear(name("attn_q"), Q, D, spec.qkv_bias));
    DCLLM_ASSIGN_OR_RETURN(L.k, b.linear(name("attn_k"), t.kv_dim_, D, spec.qkv_bias));
    DCLLM_ASSIGN_OR_RETURN(L.v, b.linear(name("attn_v"), t.kv_dim_, D, spec.qkv_bias));
    DCLLM_ASSIGN_OR_RETURN(L.o, b.linear(name("attn_output"), D, Q, spec.out_bias));
    DCLLM_ASSIGN_OR_RETURN(L.ffn_norm, norm(name("ffn_norm")));
    if (spec.ffn == FeedForwardKind::kGated) {
      DCLLM_ASSIGN_OR_RETURN(L.gate, b.linear(name("ffn_gate"), F, D, spec.ffn_bias));
    }
    DCLLM_ASSIGN_OR_RETURN(L.up, b.linear(name("ffn_up"), F, D, spec.ffn_bias));
    DCLLM_ASSIGN_OR_RETURN(L.down, b.linear(name("ffn_down"), D, F, spec.ffn_bias));
  }
  // Every INT8 linear gets its values from one WeightSource, registered in execution order
  // (the order the prefetch thread decodes coded weights in).
  std::vector<const Int8Tensor*> int8_order;
  std::vector<Linear*> int8_linears;
  for (Linear* l : t.linears_mutable()) {
    if (!l->is_int8()) continue;
    const Int8Tensor* q = b.int8_tensor(l->name());
    if (!q) return Internal(model.path + ": no INT8 tensor behind linear '" + l->name() + "'");
    int8_order.push_back(q);
    int8_linears.push_back(l);
  }
  WeightSourceOptions wopts;
  wopts.threads = opts.threads;
  wopts.ring_slots = opts.ring_slots;
  DCLLM_ASSIGN_OR_RETURN(t.weights_, WeightSource::create(std::move(int8_order), wopts));
  for (size_t i = 0; i < int8_linears.size(); ++i) int8_linears[i]->use_source(t.weights_.get(), i);

  if (spec.position == PositionKind::kRope) {
    const float* freq_factors = nullptr;
    if (model.find("rope_freqs.weight")) {
      DCLLM_ASSIGN_OR_RETURN(freq_factors, b.get("rope_freqs.weight", {c.head_dim / 2}));
    }
    t.rope_ = RopeTable(static_cast<size_t>(t.max_seq_), static_cast<size_t>(c.head_dim),
                        c.rope_theta, spec.rope_style, freq_factors);
  }
  const size_t cache = static_cast<size_t>(c.n_layers * t.max_seq_ * t.kv_dim_);
  t.key_cache_.assign(cache, 0.0f);
  t.value_cache_.assign(cache, 0.0f);
  return t;
}

std::vector<Linear*> Transformer::linears_mutable() {
  std::vector<Linear*> out;
  if (spec_.projected_embeddings) out.push_back(&proj_in_);
  for (Layer& L : layers_) {
    for (Linear* l : {&L.q, &L.k, &L.v, &L.o, &L.gate, &L.up, &L.down}) {
      if (l->in_features() > 0) out.push_back(l);  // a plain MLP has no gate
    }
  }
  if (spec_.projected_embeddings) out.push_back(&proj_out_);
  out.push_back(&classifier_);
  return out;
}

std::vector<const Linear*> Transformer::linears() const {
  auto all = const_cast<Transformer*>(this)->linears_mutable();
  return {all.begin(), all.end()};
}

void Transformer::normalize(float* out, const float* in, const Norm& norm, size_t rows) const {
  const auto D = static_cast<size_t>(config_.dim);
  for (size_t t = 0; t < rows; ++t) {
    if (spec_.norm == NormKind::kLayerNorm) {
      layernorm(&out[t * D], &in[t * D], norm.weight, norm.bias, D, config_.norm_eps);
    } else {
      rmsnorm(&out[t * D], &in[t * D], norm.weight, D, config_.norm_eps);
    }
  }
}

void Transformer::observe(const Linear& l, const float* x, size_t rows) const {
  if (observer_) observer_(l.name(), x, rows, static_cast<size_t>(l.in_features()));
}

void Transformer::reserve_batch(size_t n) {
  if (n <= batch_capacity_) return;
  const auto D = static_cast<size_t>(config_.dim), F = static_cast<size_t>(config_.hidden_dim);
  const auto Q = static_cast<size_t>(config_.n_heads * config_.head_dim);
  const auto KV = static_cast<size_t>(kv_dim_);
  x_.resize(n * D);
  xb_.resize(n * D);
  xb2_.resize(n * std::max(D, Q));
  q_.resize(n * Q);
  k_.resize(n * KV);
  v_.resize(n * KV);
  hb_.resize(n * F);
  hb2_.resize(n * F);
  if (spec_.projected_embeddings) xe_.resize(n * static_cast<size_t>(config_.embedding_width()));
  batch_capacity_ = n;
}

Expected<std::span<const float>> Transformer::forward(std::span<const int32_t> tokens, int64_t pos,
                                                      bool all_logits) {
  if (tokens.empty()) return InvalidArgument("forward: no tokens");
  if (pos < 0 || pos + static_cast<int64_t>(tokens.size()) > max_seq_) {
    return InvalidArgument("forward: positions " + std::to_string(pos) + ".." +
                           std::to_string(pos + static_cast<int64_t>(tokens.size()) - 1) +
                           " exceed the context of " + std::to_string(max_seq_) + " tokens");
  }
  for (int32_t tok : tokens) {
    if (tok < 0 || tok >= config_.vocab_size) {
      return InvalidArgument("forward: token id " + std::to_string(tok) + " outside the vocab of " +
                             std::to_string(config_.vocab_size));
    }
  }
  const auto V = static_cast<size_t>(config_.vocab_size);
  const size_t n_out = all_logits ? tokens.size() : 1;
  logits_.resize(n_out * V);
  for (size_t start = 0; start < tokens.size(); start += kMaxBatch) {
    const size_t n = std::min(kMaxBatch, tokens.size() - start);
    const bool last_batch = start + n == tokens.size();
    float* out = all_logits ? logits_.data() + start * V : (last_batch ? logits_.data() : nullptr);
    DCLLM_RETURN_IF_ERROR(
        run_batch(tokens.data() + start, n, pos + static_cast<int64_t>(start), all_logits, out));
  }
  return std::span<const float>(logits_.data(), logits_.size());
}

// Token embeddings (through proj_in when projected) plus learned positions start the
// residual stream x.
Status Transformer::embed(const int32_t* tokens, size_t n, int64_t pos) {
  const auto D = static_cast<size_t>(config_.dim);
  const auto E = static_cast<size_t>(config_.embedding_width());
  float* rows = spec_.projected_embeddings ? xe_.data() : x_.data();
  for (size_t t = 0; t < n; ++t) {
    if (token_embd_int8_) {
      DCLLM_RETURN_IF_ERROR(token_embd_int8_->row(tokens[t], &rows[t * E]));
    } else {
      std::memcpy(&rows[t * E], token_embd_ + static_cast<size_t>(tokens[t]) * E,
                  E * sizeof(float));
    }
  }
  if (spec_.projected_embeddings) {
    observe(proj_in_, xe_.data(), n);
    DCLLM_RETURN_IF_ERROR(proj_in_.forward(xe_.data(), n, x_.data(), threads_));
  }
  if (pos_embd_) {
    for (size_t t = 0; t < n; ++t) {
      const float* p = pos_embd_ + (static_cast<size_t>(pos) + t) * D;
      for (size_t i = 0; i < D; ++i) x_[t * D + i] += p[i];
    }
  }
  return Status::Ok();
}

// The MLP on `in` [n, dim]; the result lands in xb.
Status Transformer::feed_forward(const Layer& L, const float* in, size_t n) {
  const auto F = static_cast<size_t>(config_.hidden_dim);
  if (spec_.ffn == FeedForwardKind::kGated) {
    observe(L.gate, in, n);
    DCLLM_RETURN_IF_ERROR(L.gate.forward(in, n, hb_.data(), threads_));
    observe(L.up, in, n);
    DCLLM_RETURN_IF_ERROR(L.up.forward(in, n, hb2_.data(), threads_));
    gated_activation(spec_.activation, hb_.data(), hb2_.data(), n * F);
  } else {
    observe(L.up, in, n);
    DCLLM_RETURN_IF_ERROR(L.up.forward(in, n, hb_.data(), threads_));
    activate(spec_.activation, hb_.data(), n * F);
  }
  observe(L.down, hb_.data(), n);
  return L.down.forward(hb_.data(), n, xb_.data(), threads_);
}

Status Transformer::run_batch(const int32_t* tokens, size_t n, int64_t pos, bool all_logits,
                              float* logits) {
  reserve_batch(n);
  const auto D = static_cast<size_t>(config_.dim);
  const auto Q = static_cast<size_t>(config_.n_heads * config_.head_dim);
  const auto KV = static_cast<size_t>(kv_dim_);
  const bool pre = spec_.pre_norm;
  DCLLM_RETURN_IF_ERROR(embed(tokens, n, pos));

  for (size_t l = 0; l < layers_.size(); ++l) {
    const Layer& L = layers_[l];

    // Attention: q, k, v from the (pre-normalized) stream; k and v join the cache.
    const float* in = x_.data();
    if (pre) {
      normalize(xb_.data(), x_.data(), L.attn_norm, n);
      in = xb_.data();
    }
    observe(L.q, in, n);
    DCLLM_RETURN_IF_ERROR(L.q.forward(in, n, q_.data(), threads_));
    observe(L.k, in, n);
    DCLLM_RETURN_IF_ERROR(L.k.forward(in, n, k_.data(), threads_));
    observe(L.v, in, n);
    DCLLM_RETURN_IF_ERROR(L.v.forward(in, n, v_.data(), threads_));
    for (size_t t = 0; t < n; ++t) {
      const size_t p = static_cast<size_t>(pos) + t;
      if (spec_.position == PositionKind::kRope) {
        rope_.apply(&q_[t * Q], static_cast<size_t>(config_.n_heads), p);
        rope_.apply(&k_[t * KV], static_cast<size_t>(config_.n_kv_heads), p);
      }
      const size_t at = (l * static_cast<size_t>(max_seq_) + p) * KV;
      std::memcpy(&key_cache_[at], &k_[t * KV], KV * sizeof(float));
      std::memcpy(&value_cache_[at], &v_[t * KV], KV * sizeof(float));
    }
    attention(l, n, pos);  // writes the heads' outputs to xb2
    observe(L.o, xb2_.data(), n);
    DCLLM_RETURN_IF_ERROR(L.o.forward(xb2_.data(), n, xb_.data(), threads_));
    for (size_t i = 0; i < n * D; ++i) x_[i] += xb_[i];
    if (!pre) normalize(x_.data(), x_.data(), L.attn_norm, n);

    // Feed-forward, added to the stream the same way.
    in = x_.data();
    if (pre) {
      normalize(xb_.data(), x_.data(), L.ffn_norm, n);
      in = xb_.data();
    }
    DCLLM_RETURN_IF_ERROR(feed_forward(L, in, n));
    for (size_t i = 0; i < n * D; ++i) x_[i] += xb_[i];
    if (!pre) normalize(x_.data(), x_.data(), L.ffn_norm, n);
  }

  if (!logits) return Status::Ok();  // an earlier batch of a prompt: only the cache matters
  // Final norm (or the stream as it is), proj_out, then the classifier: every token or the last.
  const size_t first = all_logits ? 0 : n - 1;
  const size_t rows = n - first;
  if (spec_.final_norm) {
    normalize(xb_.data(), &x_[first * D], output_norm_, rows);
  } else {
    std::memcpy(xb_.data(), &x_[first * D], rows * D * sizeof(float));
  }
  const float* head_in = xb_.data();
  if (spec_.projected_embeddings) {
    observe(proj_out_, xb_.data(), rows);
    DCLLM_RETURN_IF_ERROR(proj_out_.forward(xb_.data(), rows, xe_.data(), threads_));
    head_in = xe_.data();
  }
  observe(classifier_, head_in, rows);
  return classifier_.forward(head_in, rows, logits, threads_);
}

void Transformer::attention(size_t layer, size_t n, int64_t pos) {
  const auto H = static_cast<size_t>(config_.n_heads);
  const auto hd = static_cast<size_t>(config_.head_dim);
  const auto KV = static_cast<size_t>(kv_dim_);
  const size_t group = H / static_cast<size_t>(config_.n_kv_heads);  // query heads per kv head
  const size_t S = static_cast<size_t>(max_seq_);
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  const float* kc = key_cache_.data() + layer * S * KV;
  const float* vc = value_cache_.data() + layer * S * KV;

  // Work items are (token, head) pairs; each worker takes every workers-th item and owns a
  // slice of att_ for its scores, so no allocation happens per item.
  const size_t items = n * H;
  const size_t last_pos = static_cast<size_t>(pos) + n;  // scores needed for the last token
  const size_t work = items * last_pos * hd;
  const size_t workers = work < (size_t{1} << 15) ? 1 : std::min<size_t>(threads_, items);
  if (att_.size() < workers * S) att_.resize(workers * S);

  parallel_for(workers, static_cast<unsigned>(workers), [&](size_t w) {
    float* att = att_.data() + w * S;
    for (size_t item = w; item < items; item += workers) {
      const size_t t = item / H, h = item % H;
      const size_t p = static_cast<size_t>(pos) + t;  // this token attends to 0..p
      const float* q = &q_[t * H * hd + h * hd];
      const size_t kv_off = (h / group) * hd;
      for (size_t s = 0; s <= p; ++s) {
        att[s] = dot_f32(q, kc + s * KV + kv_off, hd) * scale;
      }
      softmax(att, p + 1);
      float* out = &xb2_[t * H * hd + h * hd];
      std::fill(out, out + hd, 0.0f);
      for (size_t s = 0; s <= p; ++s) {
        const float* v = vc + s * KV + kv_off;
        const float a = att[s];
        for (size_t i = 0; i < hd; ++i) out[i] += a * v[i];
      }
    }
  });
}

}  // namespace dcllm
