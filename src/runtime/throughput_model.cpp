// ThroughputModel: turns a workload (chunks, placements, shapes) and a machine profile into
// stage times, then simulates the prefetch ring as a fluid two-stage pipeline: each stage
// advances at its own rate, slowed while the other stage also uses the CPU, and waits when the
// ring is full (producer) or its item is not decoded yet (consumer).
#include "runtime/throughput_model.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace dcllm {
namespace {

constexpr double kMB = 1e6;
// The runtime's prompt batches (transformer.cpp): earlier batches skip the classifier.
constexpr int64_t kPromptBatch = 256;

// One item the prefetch thread produces: a storage read, then CPU work (checksum + decode or
// copy), both in seconds on an idle machine.
struct ProducerItem {
  double load = 0;
  double cpu = 0;
};

// One step of the forward pass: CPU work (seconds on an idle machine), optionally waiting for
// a ring item first and releasing it after.
struct ConsumerOp {
  double cpu = 0;
  int64_t item = -1;
  bool ends_pass = false;
};

}  // namespace

ThroughputModel::ThroughputModel(MachineProfile profile, ModelOptions options)
    : profile_(std::move(profile)), options_(options) {
  if (options_.ring_slots < 1) options_.ring_slots = 1;
  if (options_.decode_threads < 1) options_.decode_threads = 1;
}

namespace {

// Seconds for the stages, from the profile (rates in MB/s; a zero rate makes a stage free,
// which only unmeasured profiles have: machine_profile_from_json refuses them).
struct Rates {
  double storage, decode, copy, checksum, mem;
  double gemv_alpha, gemv_beta;   // linear seconds per weight byte: alpha + beta * rows
  double overhead;                // seconds per linear call
  double gemv_slow, decode_slow;  // progress rate (0..1] while the other stage uses the CPU

  static double inv(double mbps) { return mbps > 0 ? 1.0 / (mbps * kMB) : 0.0; }

  bool fused = false;
  double fused_decode = 0, fused_checksum = 0;  // seconds per byte over all compute threads

  Rates(const MachineProfile& p, const ModelOptions& o) {
    storage = inv(p.storage_read_mbps);
    decode = inv(p.rans_decode(o.decode_threads));
    fused = o.fused_decode;
    fused_decode = inv(p.rans_decode(p.threads));
    fused_checksum = inv(p.memory_read(p.threads));
    copy = inv(p.memory_copy_mbps > 0 ? p.memory_copy_mbps : p.memory_read(1) / 2);
    checksum = inv(p.memory_read(1));
    mem = inv(p.memory_read(p.threads));
    // Exact at batch 1 (1/gemv) and at the profile's prompt batch b (b/prompt per byte).
    const double one = inv(p.gemv_mbps);
    const double b = static_cast<double>(std::max<int64_t>(p.prompt_batch, 2));
    const double at_b = p.gemm_prompt_mbps > 0 ? b * inv(p.gemm_prompt_mbps) : b * one;
    gemv_beta = std::max(0.0, (at_b - one) / (b - 1));
    gemv_alpha = std::max(0.0, one - gemv_beta);
    overhead = std::max(0.0, p.linear_overhead_us) * 1e-6;
    gemv_slow = p.gemv_mbps > 0 ? std::clamp(p.gemv_contended() / p.gemv_mbps, 0.01, 1.0) : 1.0;
    const double d1 = p.rans_decode(1);
    decode_slow = d1 > 0 ? std::clamp(p.decode_contended() / d1, 0.01, 1.0) : 1.0;
  }

  double compute(uint64_t bytes, int64_t rows) const {
    return static_cast<double>(bytes) * (gemv_alpha + gemv_beta * static_cast<double>(rows));
  }
  // Weights multiplied where they lie (resident-raw chunks, float32 linears) come from RAM at
  // every pass, since a model's weights outgrow the caches: such a multiply costs at least the
  // memory read of its bytes. The profile's GEMV rate alone (one 64 MiB matrix, partly held by
  // a large L3) predicted Qwen2.5-1.5B's resident tier at 2.1x and SmolLM2's at 1.7x what ran.
  double compute_in_ram(uint64_t bytes, int64_t rows) const {
    return std::max(compute(bytes, rows), static_cast<double>(bytes) * mem);
  }
  double compute(const ChunkWork& c, int64_t rows) const {
    return c.placement == ChunkPlacement::kResidentRaw ? compute_in_ram(c.raw_bytes, rows)
                                                       : compute(c.raw_bytes, rows);
  }
  double compute(const LinearWork& l, int64_t rows) const {
    if (l.f32) return compute_in_ram(l.f32_bytes, rows);
    double t = 0;
    for (const ChunkWork& c : l.chunks) t += compute(c, rows);
    return t;
  }
  // With fused decode the forward pass checks and decodes a chunk itself, on all its threads.
  double consume_extra(const ChunkWork& c) const {
    if (!fused) return 0;
    const double raw = static_cast<double>(c.raw_bytes);
    const double stored = static_cast<double>(c.stored_bytes);
    switch (c.placement) {
      case ChunkPlacement::kResidentCoded:
      case ChunkPlacement::kStreamCoded:
        return stored * fused_checksum + raw * fused_decode;
      case ChunkPlacement::kStreamRaw:
        return stored * fused_checksum;
      default:
        return 0;
    }
  }
  ProducerItem produce(const ChunkWork& c) const {
    ProducerItem it;
    const double raw = static_cast<double>(c.raw_bytes);
    const double stored = static_cast<double>(c.stored_bytes);
    if (fused) {  // the prefetch thread only reads
      if (placement_is_stream(c.placement)) it.load = stored * storage;
      return it;
    }
    switch (c.placement) {
      case ChunkPlacement::kResidentRaw:
        break;
      case ChunkPlacement::kResidentCoded:
        it.cpu = stored * checksum + raw * decode;
        break;
      case ChunkPlacement::kStreamCoded:
        it.load = stored * storage;
        it.cpu = stored * checksum + raw * decode;
        break;
      case ChunkPlacement::kStreamRaw:
        it.load = stored * storage;
        it.cpu = stored * checksum + raw * copy;
        break;
    }
    return it;
  }
  // Attention over the KV cache for `n` tokens at positions pos..pos+n-1, one layer: every
  // head reads K and V rows (float32) of every earlier position.
  double attention(const Workload& w, int64_t pos, int64_t n) const {
    const double positions = static_cast<double>(n) * static_cast<double>(pos) +
                             static_cast<double>(n) * static_cast<double>(n + 1) / 2.0;
    const double bytes = positions * static_cast<double>(w.n_heads * w.head_dim) * 8.0;
    return bytes * mem + overhead;
  }
};

// Whether a chunk goes through the ring: anything but resident-raw, or with fused decode
// only streamed chunks.
bool in_ring(const ChunkWork& c, bool fused) {
  return fused ? placement_is_stream(c.placement) : c.placement != ChunkPlacement::kResidentRaw;
}

bool has_ring_item(const LinearWork& l, bool fused) {
  for (const ChunkWork& c : l.chunks)
    if (in_ring(c, fused)) return true;
  return false;
}

double consume_extra(const LinearWork& l, const Rates& r) {
  double s = 0;
  for (const ChunkWork& c : l.chunks) s += r.consume_extra(c);
  return s;
}

// Appends one forward pass over `rows` tokens at `pos` (last: the classifier runs, for one row).
void add_pass(const Workload& w, const Rates& r, const ModelOptions& o, int64_t pos, int64_t rows,
              bool last, std::vector<ProducerItem>& items, std::vector<ConsumerOp>& ops) {
  for (const LinearWork& l : w.linears) {
    if (l.after_attention) ops.push_back({r.attention(w, pos, rows), -1, false});
    const bool runs = last || !l.classifier;
    const int64_t n = l.classifier ? 1 : rows;
    if (l.f32) {
      if (runs) ops.push_back({r.compute(l, n) + r.overhead, -1, false});
      continue;
    }
    if (o.chunk_items) {
      bool first = true;
      for (const ChunkWork& c : l.chunks) {
        ConsumerOp op;
        op.cpu = runs ? r.compute(c, n) + r.consume_extra(c) + (first ? r.overhead : 0.0) : 0.0;
        first = false;
        if (in_ring(c, r.fused)) {
          op.item = static_cast<int64_t>(items.size());
          items.push_back(r.produce(c));
        }
        if (op.cpu > 0 || op.item >= 0) ops.push_back(op);
      }
      continue;
    }
    ConsumerOp op;
    op.cpu = runs ? r.compute(l, n) + consume_extra(l, r) + r.overhead : 0.0;
    if (has_ring_item(l, r.fused)) {
      ProducerItem it;
      for (const ChunkWork& c : l.chunks) {
        const ProducerItem p = r.produce(c);
        it.load += p.load;
        it.cpu += p.cpu;
      }
      op.item = static_cast<int64_t>(items.size());
      items.push_back(it);
    }
    if (op.cpu > 0 || op.item >= 0) ops.push_back(op);
  }
  // Sampling reads the logits once.
  if (last) ops.push_back({static_cast<double>(w.vocab) * 4.0 * r.mem, -1, false});
  if (!ops.empty()) ops.back().ends_pass = true;
}

// Runs the pipeline; returns the time at which each pass ends.
std::vector<double> simulate(const std::vector<ProducerItem>& items,
                             const std::vector<ConsumerOp>& ops, const Rates& r, size_t slots) {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  std::vector<double> pass_end;
  double t = 0;
  size_t p = 0;   // producer's current item
  int phase = 0;  // 0: load, 1: cpu
  double p_rem = items.empty() ? 0 : items[0].load;
  size_t published = 0;  // items < published are ready
  size_t released = 0;   // items < released are done with
  size_t c = 0;
  double c_rem = ops.empty() ? 0 : ops[0].cpu;
  // Bounded: each iteration finishes a phase, an op, or both.
  for (size_t guard = 0; c < ops.size() && guard < 8 * (items.size() + ops.size()) + 16; ++guard) {
    // Finish what is done without time passing.
    if (p < items.size() && p < released + slots && p_rem <= 0) {
      if (phase == 0) {
        phase = 1;
        p_rem = items[p].cpu;
      } else {
        published = ++p;
        phase = 0;
        p_rem = p < items.size() ? items[p].load : 0;
      }
      continue;
    }
    const ConsumerOp& op = ops[c];
    const bool c_ready = op.item < 0 || static_cast<size_t>(op.item) < published;
    if (c_ready && c_rem <= 0) {
      if (op.item >= 0) released = static_cast<size_t>(op.item) + 1;
      if (op.ends_pass) pass_end.push_back(t);
      if (++c < ops.size()) c_rem = ops[c].cpu;
      continue;
    }
    const bool p_active = p < items.size() && p < released + slots;
    const bool p_cpu = p_active && phase == 1;
    const bool c_active = c_ready;
    const double p_rate = p_cpu && c_active ? r.decode_slow : 1.0;
    const double c_rate = p_cpu ? r.gemv_slow : 1.0;
    const double dp = p_active ? p_rem / p_rate : kInf;
    const double dc = c_active ? c_rem / c_rate : kInf;
    const double dt = std::min(dp, dc);
    if (!std::isfinite(dt)) break;  // cannot happen: a waiting consumer's item is producible
    t += dt;
    if (p_active) p_rem = dt == dp ? 0 : p_rem - dt * p_rate;
    if (c_active) c_rem = dt == dc ? 0 : c_rem - dt * c_rate;
  }
  return pass_end;
}

}  // namespace

StageTimes ThroughputModel::token_stages(const Workload& w, int64_t pos) const {
  const Rates r(profile_, options_);
  StageTimes s;
  s.decode_on_compute_threads = options_.fused_decode;
  for (const LinearWork& l : w.linears) {
    if (l.after_attention) s.other += r.attention(w, pos, 1);
    s.compute += r.compute(l, 1) + r.overhead;  // a float32 linear has no chunks
    for (const ChunkWork& c : l.chunks) {
      const ProducerItem it = r.produce(c);
      s.load += it.load;
      s.decode += it.cpu + r.consume_extra(c);  // on the compute threads when fused
    }
  }
  s.other += static_cast<double>(w.vocab) * 4.0 * r.mem;
  return s;
}

Prediction ThroughputModel::predict(const Workload& w, const RunShape& shape) const {
  const Rates r(profile_, options_);
  Prediction out;
  for (const LinearWork& l : w.linears) {
    for (const ChunkWork& c : l.chunks) {
      switch (c.placement) {
        case ChunkPlacement::kResidentRaw:
          out.resident_bytes += c.raw_bytes;
          break;
        case ChunkPlacement::kResidentCoded:
          out.resident_bytes += c.stored_bytes;
          break;
        default:
          out.streamed_bytes += c.stored_bytes;
      }
    }
  }
  const int64_t prompt = std::max<int64_t>(shape.prompt_tokens, 1);
  const int64_t gen = std::max<int64_t>(shape.gen_tokens, 1);
  std::vector<ProducerItem> items;
  std::vector<ConsumerOp> ops;
  size_t prompt_passes = 0;
  for (int64_t pos = 0; pos < prompt; pos += kPromptBatch, ++prompt_passes) {
    const int64_t n = std::min(kPromptBatch, prompt - pos);
    add_pass(w, r, options_, pos, n, pos + n >= prompt, items, ops);
  }
  // generate_tokens: `gen` tokens take gen - 1 forward passes after the prompt's.
  for (int64_t i = 0; i + 1 < gen; ++i) add_pass(w, r, options_, prompt + i, 1, true, items, ops);
  const std::vector<double> ends = simulate(items, ops, r, options_.ring_slots);
  if (ends.size() >= prompt_passes && prompt_passes > 0) {
    const double tp = ends[prompt_passes - 1];
    out.prompt_tokens_per_second = tp > 0 ? static_cast<double>(prompt) / tp : 0;
    const size_t gen_passes = ends.size() - prompt_passes;
    if (gen_passes > 0) {
      const double tg = ends.back() - tp;
      out.token_seconds = tg / static_cast<double>(gen_passes);
      out.generation_tokens_per_second = tg > 0 ? static_cast<double>(gen) / tg : 0;
    }
  }
  // A one-token run has no generation pass: take the steady state of one more pass.
  if (gen == 1 || out.token_seconds == 0) {
    const StageTimes s = token_stages(w, prompt);
    out.token_seconds = std::max(s.producer(), s.consumer());
    out.generation_tokens_per_second = out.token_seconds > 0 ? 1.0 / out.token_seconds : 0;
  }
  out.stages = token_stages(w, prompt + gen / 2);
  return out;
}

ModelOptions current_runtime_model_options() {
  // WeightSource (issue 9 §2-3): a reader thread streams chunks into a 16-slot ring; the
  // compute threads check, decode and multiply each chunk (resident-coded ones from RAM).
  ModelOptions o;
  o.ring_slots = 16;
  o.chunk_items = true;
  o.fused_decode = true;
  return o;
}

}  // namespace dcllm
