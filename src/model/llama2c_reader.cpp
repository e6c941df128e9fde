// llama2.c checkpoint reader: validates the header, computes every tensor's extent with
// overflow checks, and hands out float32 views into the mapping (no copy).
#include "model/llama2c_reader.h"

#include <cstring>
#include <limits>

#include "model/byte_cursor.h"

namespace dcllm {
namespace {

constexpr int64_t kMaxDimension = int64_t{1} << 24;
constexpr uint64_t kMaxFloats = uint64_t{1} << 61;  // so float counts * 4 cannot overflow

struct Header {
  int32_t dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len;
};

// Lays tensors out one after another from the end of the header, refusing any that would
// overflow or run past the file; views point straight into the mapping.
class Layout {
 public:
  Layout(const ModelSource& src, bool load_weights, size_t start)
      : src_(src), load_(load_weights), offset_floats_(start / 4) {}

  Status add(Model* model, std::string name, std::vector<int64_t> shape) {
    uint64_t n = 1;
    for (int64_t d : shape) {
      if (n > kMaxFloats / static_cast<uint64_t>(d)) return overflow(name);
      n *= static_cast<uint64_t>(d);
    }
    DCLLM_RETURN_IF_ERROR(skip(name, n));
    ModelTensor t;
    t.name = std::move(name);
    t.shape = std::move(shape);
    t.stored_type = "F32";
    t.stored_bytes = n * 4;
    if (load_) t.data = reinterpret_cast<const float*>(src_.bytes.data()) + (offset_floats_ - n);
    model->add_tensor(std::move(t));
    return Status::Ok();
  }

  // Advances past `n` floats that the model does not use (the RoPE tables).
  Status skip(const std::string& what, uint64_t n) {
    if (n > kMaxFloats - offset_floats_) return overflow(what);
    const uint64_t end = offset_floats_ + n;
    if (end > src_.bytes.size() / 4) {
      return Corrupt(src_.name + ": " + what + " (" + std::to_string(n) + " floats at byte " +
                     std::to_string(offset_floats_ * 4) + ") runs past the end of the file (size " +
                     std::to_string(src_.bytes.size()) + ")");
    }
    offset_floats_ = end;
    return Status::Ok();
  }

 private:
  Status overflow(const std::string& what) const {
    return Corrupt(src_.name + ": size of " + what + " overflows");
  }
  const ModelSource& src_;
  bool load_;
  uint64_t offset_floats_;
};

}  // namespace

Expected<Model> read_llama2c(const ModelSource& src, const LoadOptions& opts) {
  ByteCursor cur(src.bytes);
  if (cur.size() >= 4 && std::memcmp(src.bytes.data(), "ak42", 4) == 0) {
    return Unsupported(src.name +
                       ": llama2.c version 1/2 export format (magic ak42) is not supported; "
                       "use the legacy export");
  }
  Header h{};
  if (!cur.read(&h)) {
    return Corrupt(src.name + ": file of " + std::to_string(cur.size()) +
                   " bytes is shorter than the 28-byte llama2.c header");
  }
  auto bad = [&](const std::string& what) {
    return Corrupt(src.name + ": bad llama2.c header: " + what);
  };
  const int64_t fields[] = {h.dim, h.hidden_dim, h.n_layers, h.n_heads, h.n_kv_heads, h.seq_len};
  for (int64_t v : fields) {
    if (v <= 0 || v > kMaxDimension) {
      return bad("dim " + std::to_string(h.dim) + ", hidden_dim " + std::to_string(h.hidden_dim) +
                 ", n_layers " + std::to_string(h.n_layers) + ", n_heads " +
                 std::to_string(h.n_heads) + ", n_kv_heads " + std::to_string(h.n_kv_heads) +
                 ", seq_len " + std::to_string(h.seq_len) + " must lie in 1.." +
                 std::to_string(kMaxDimension));
    }
  }
  if (h.vocab_size == 0 || h.vocab_size == std::numeric_limits<int32_t>::min() ||
      std::abs(static_cast<int64_t>(h.vocab_size)) > kMaxDimension) {
    return bad("vocab_size " + std::to_string(h.vocab_size));
  }
  if (h.dim % h.n_heads != 0) {
    return bad("dim " + std::to_string(h.dim) + " is not a multiple of n_heads " +
               std::to_string(h.n_heads));
  }
  if (h.n_heads % h.n_kv_heads != 0) {
    return bad("n_heads " + std::to_string(h.n_heads) + " is not a multiple of n_kv_heads " +
               std::to_string(h.n_kv_heads));
  }
  const int64_t head_dim = h.dim / h.n_heads;
  if (head_dim % 2 != 0) return bad("head size " + std::to_string(head_dim) + " is odd");

  Model model;
  model.path = src.name;
  model.format = "llama2.c";
  ModelConfig& c = model.config;
  c.architecture = "llama2.c";
  c.family = ModelFamily::kLlama;
  c.dim = h.dim;
  c.hidden_dim = h.hidden_dim;
  c.n_layers = h.n_layers;
  c.n_heads = h.n_heads;
  c.n_kv_heads = h.n_kv_heads;
  c.head_dim = head_dim;
  c.vocab_size = std::abs(static_cast<int64_t>(h.vocab_size));
  c.seq_len = h.seq_len;
  c.norm_eps = 1e-5f;
  c.rope_theta = 10000.0f;
  c.rope_dim = head_dim;
  c.rope_style = RopeStyle::kInterleaved;
  c.tied_classifier = h.vocab_size > 0;

  const int64_t L = c.n_layers, D = c.dim, F = c.hidden_dim, V = c.vocab_size;
  const int64_t kv_dim = c.n_kv_heads * head_dim;
  Layout layout(src, opts.load_weights, cur.offset());
  // The checkpoint stores each weight kind for all layers together; rows are outputs.
  auto per_layer = [&](std::string_view suffix, std::vector<int64_t> shape) -> Status {
    for (int64_t l = 0; l < L; ++l) {
      DCLLM_RETURN_IF_ERROR(layout.add(&model, layer_tensor_name(l, suffix), shape));
    }
    return Status::Ok();
  };
  DCLLM_RETURN_IF_ERROR(layout.add(&model, "token_embd.weight", {V, D}));
  DCLLM_RETURN_IF_ERROR(per_layer("attn_norm.weight", {D}));
  DCLLM_RETURN_IF_ERROR(per_layer("attn_q.weight", {D, D}));
  DCLLM_RETURN_IF_ERROR(per_layer("attn_k.weight", {kv_dim, D}));
  DCLLM_RETURN_IF_ERROR(per_layer("attn_v.weight", {kv_dim, D}));
  DCLLM_RETURN_IF_ERROR(per_layer("attn_output.weight", {D, D}));
  DCLLM_RETURN_IF_ERROR(per_layer("ffn_norm.weight", {D}));
  DCLLM_RETURN_IF_ERROR(per_layer("ffn_gate.weight", {F, D}));  // w1
  DCLLM_RETURN_IF_ERROR(per_layer("ffn_down.weight", {D, F}));  // w2
  DCLLM_RETURN_IF_ERROR(per_layer("ffn_up.weight", {F, D}));    // w3
  DCLLM_RETURN_IF_ERROR(layout.add(&model, "output_norm.weight", {D}));
  // Precomputed RoPE tables (freq_cis_real, freq_cis_imag), which we recompute instead.
  const uint64_t rope_table =
      static_cast<uint64_t>(c.seq_len) * static_cast<uint64_t>(head_dim / 2);
  DCLLM_RETURN_IF_ERROR(layout.skip("RoPE tables", 2 * rope_table));
  if (!c.tied_classifier) DCLLM_RETURN_IF_ERROR(layout.add(&model, "output.weight", {V, D}));

  model.info.emplace_back("llama2c.vocab_size (header)", std::to_string(h.vocab_size));
  if (src.owner) model.hold(src.owner);
  return model;
}

}  // namespace dcllm
