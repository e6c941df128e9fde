// Logits of a model on a token sequence and the relative error between two sets of logits:
// what the fold, compression and reference tests compare models by.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <span>
#include <vector>

#include "model/model.h"
#include "runtime/transformer.h"

namespace dcllm::testing_logits {

// All positions' logits, [tokens.size(), vocab], from a fresh cache.
inline std::vector<float> logits_of(const Model& m, std::span<const int32_t> tokens) {
  TransformerOptions o;
  o.max_seq = static_cast<int64_t>(tokens.size());
  auto t = Transformer::create(m, o);
  EXPECT_TRUE(t.ok()) << t.status().message();
  if (!t.ok()) return {};
  auto l = t->forward(tokens, 0, true);
  EXPECT_TRUE(l.ok()) << l.status().message();
  if (!l.ok()) return {};
  return {l->begin(), l->end()};
}

// ‖a − b‖ / ‖a‖.
inline double relative_error(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size() || a.empty()) return INFINITY;
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    num += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
    den += double(a[i]) * a[i];
  }
  return std::sqrt(num / den);
}

}  // namespace dcllm::testing_logits
