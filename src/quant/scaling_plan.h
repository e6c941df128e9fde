// ScalingPlan: for a model family, the groups of linears that read one input and where each
// group's 1/s folds (a norm's gain, a producer's rows), and apply_scaling_plan, which returns a
// float Model with every scale folded in so that it computes the same function.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "calib/calibration_stats.h"
#include "dcllm/status.h"
#include "model/model.h"
#include "quant/scaling.h"

namespace dcllm {

// Where the inverse scale of a group goes.
enum class ScaleFold {
  kNormGain,    // RMSNorm gain [K]: q/k/v by attn_norm, gate/up by ffn_norm, classifier by
                // output_norm
  kRows,        // rows of the producing linear (and its bias): down's 1/s into ffn_up
  kHeadRows,    // o_proj's input into attn_v's rows; grouped-query heads sharing a v row share s
  kInputScale,  // no exact fold (post-norm blocks, GELU before c_proj): the model gains a
                // "<linear>.input_scale" tensor of 1/s that the runtime multiplies x by
  kUnscaled,    // left as it is (a tied classifier, proj_in): s = 1
};

struct ScalingGroup {
  std::vector<std::string> linears;  // names without ".weight": "blk.0.attn_q", ...; [0] keys stats
  ScaleFold fold = ScaleFold::kUnscaled;
  std::string fold_weight;  // tensor receiving 1/s: "blk.0.attn_norm.weight", "blk.0.ffn_up.weight"
  std::string fold_bias;  // its bias when it has one ("blk.0.attn_v.bias", a LayerNorm's), else ""
};

struct ScalingPlan {
  std::vector<ScalingGroup> groups;  // forward order
};

// The plan for `config`'s family, derived from its ArchSpec; kUnsupported naming the architecture
// when there is none.
Expected<ScalingPlan> scaling_plan_for(const ModelConfig& config);

struct ScaledModel {
  Model model;  // owns every tensor (float32 copies), 1/s folded in, plus any input_scale tensors
  // The input scale s each linear's weight columns were multiplied by (all ones when unscaled).
  std::map<std::string, std::vector<float>> scales;
};

// Computes s for every group (`method`, `alpha`; SmoothQuant takes the column maxima over the
// group's weights as they are when the group is reached) and applies eq. 2: the group's weight
// columns times s, 1/s into the fold target. Groups run in reverse forward order so that a
// producer's rows (up, v) already carry the later group's fold when its own columns are measured.
// `stats` is keyed by linear name (calibrate_activations) and must cover every group's first
// linear. The source Model is only read.
Expected<ScaledModel> apply_scaling_plan(const Model& source, const ScalingPlan& plan,
                                         const std::map<std::string, CalibrationStats>& stats,
                                         ScaleMethod method, double alpha);

}  // namespace dcllm
