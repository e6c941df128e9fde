// llama2.c checkpoint reader: validates the header, requires the file size the header implies,
// and hands out float32 views into the mapping (no copy).
#include "model/llama2c_reader.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>

#include "container/checked_math.h"

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

// Whether the 2 * seq_len * head_dim / 2 floats at byte `at` hold llama2.c's RoPE tables
// (freq_cis_real then freq_cis_imag, row p = cos / sin of p * 10000^(-2i / head_dim)). Rows 0
// and 1 are checked: enough to tell the tables from weights, which almost never hold exact
// ones and zeros followed by these cosines. The tolerance covers PyTorch's float32 arithmetic.
bool looks_like_rope_tables(std::span<const uint8_t> bytes, uint64_t at, int64_t seq_len,
                            int64_t head_dim) {
  const uint64_t half = static_cast<uint64_t>(head_dim / 2);
  const uint64_t table = static_cast<uint64_t>(seq_len) * half;
  if (at > bytes.size() || 8 * table > bytes.size() - at) return false;
  auto value = [&](uint64_t k) {
    float f;
    std::memcpy(&f, bytes.data() + at + 4 * k, 4);
    return static_cast<double>(f);
  };
  for (uint64_t pos = 0; pos < std::min<uint64_t>(2, static_cast<uint64_t>(seq_len)); ++pos) {
    for (uint64_t i = 0; i < half; ++i) {
      const double angle =
          static_cast<double>(pos) *
          std::pow(10000.0, -2.0 * static_cast<double>(i) / static_cast<double>(head_dim));
      const double re = value(pos * half + i), im = value(table + pos * half + i);
      if (!(std::abs(re - std::cos(angle)) < 1e-3) || !(std::abs(im - std::sin(angle)) < 1e-3)) {
        return false;
      }
    }
  }
  return true;
}

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
  // The header has no magic and no checksum, so its only witness is the file size: it must be
  // exactly what the header implies, with the RoPE tables (freq_cis_real/imag, which the legacy
  // export writes) or without them (exports that drop them). An edited n_layers, hidden_dim,
  // n_kv_heads, seq_len or vocab_size, or bytes appended, changes the size and is refused here
  // instead of running garbage. Each size is at most 2^24, so the per-layer and per-table
  // products fit; only the sums over layers can overflow, and a size that overflows matches no
  // file.
  const auto u = [](int64_t v) { return static_cast<uint64_t>(v); };
  const uint64_t per_layer_floats = u(2 * D + 2 * D * D + 2 * kv_dim * D + 3 * F * D);
  const uint64_t rope_floats = 2 * u(c.seq_len) * u(head_dim / 2);
  std::optional<uint64_t> without_rope = checked_mul(u(L), per_layer_floats);
  for (uint64_t part : {u(V * D), u(D), c.tied_classifier ? 0 : u(V * D)}) {
    if (without_rope) without_rope = checked_add(*without_rope, part);
  }
  if (without_rope) without_rope = checked_mul(*without_rope, 4);
  if (without_rope) without_rope = checked_add(*without_rope, cur.offset());
  std::optional<uint64_t> with_rope;
  if (without_rope) with_rope = checked_add(*without_rope, 4 * rope_floats);
  const uint64_t actual = src.bytes.size();
  const auto shown = [](const std::optional<uint64_t>& n) {
    return n ? std::to_string(*n) : std::string("more than 2^64");
  };
  if (actual != with_rope && actual != without_rope) {
    return Corrupt(src.name + ": file size " + std::to_string(actual) +
                   " bytes does not match its llama2.c header (dim " + std::to_string(D) +
                   ", hidden_dim " + std::to_string(F) + ", n_layers " + std::to_string(L) +
                   ", n_heads " + std::to_string(c.n_heads) + ", n_kv_heads " +
                   std::to_string(c.n_kv_heads) + ", vocab_size " + std::to_string(h.vocab_size) +
                   ", seq_len " + std::to_string(c.seq_len) + "), which needs " + shown(with_rope) +
                   " bytes (" + shown(without_rope) + " without the RoPE tables)");
  }
  const bool has_rope_tables = actual == with_rope;
  // Two header edits can trade sizes (a classifier 2 rows shorter for RoPE tables 2 rows
  // long): the tables' contents settle which layout is real. The tables follow rms_final.
  const uint64_t classifier_bytes = c.tied_classifier ? 0 : 4 * u(V * D);
  const uint64_t tables_at = *without_rope - classifier_bytes;
  if (has_rope_tables && !looks_like_rope_tables(src.bytes, tables_at, c.seq_len, head_dim)) {
    return Corrupt(src.name + ": the bytes where its llama2.c header puts the RoPE tables (" +
                   std::to_string(tables_at) +
                   ") hold no RoPE tables: the header does not describe this file");
  }
  if (!has_rope_tables && actual >= classifier_bytes + 4 * rope_floats &&
      looks_like_rope_tables(src.bytes, actual - classifier_bytes - 4 * rope_floats, c.seq_len,
                             head_dim)) {
    return Corrupt(src.name + ": the file holds RoPE tables that its llama2.c header leaves no " +
                   "room for: the header does not describe this file");
  }

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
  if (has_rope_tables) DCLLM_RETURN_IF_ERROR(layout.skip("RoPE tables", rope_floats));
  if (!c.tied_classifier) DCLLM_RETURN_IF_ERROR(layout.add(&model, "output.weight", {V, D}));

  model.info.emplace_back("llama2c.vocab_size (header)", std::to_string(h.vocab_size));
  model.info.emplace_back("llama2c.rope_tables", has_rope_tables ? "present" : "absent");
  if (src.owner) model.hold(src.owner);
  return model;
}

}  // namespace dcllm
