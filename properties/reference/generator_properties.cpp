// The shared generators themselves: what they produce is valid, within the
// limits asked for, reproducible, and leans to the edges it promises.
#include <catch2/catch.hpp>
#include <rapidcheck.h>

#include <algorithm>
#include <functional>
#include <map>

#include "cases/generators.hpp"
#include "properties/prop.hpp"
#include "reference/baseline.hpp"

namespace flashcheck {
namespace {

// The limits a GPU suite would use: lengths to 2049 at the edges of 64 and
// 128 tiles, the kernels' head dims and dtypes.
gen::ShapeLimits gpu_like() {
  return gen::tiled_limits({64, 128}, 2049, {64, 128}, {DType::f16, DType::bf16});
}

TEST_CASE("generators: validity") {
  prop("generated problems validate and stay within their limits", [] {
    const bool gpu = *rc::gen::arbitrary<bool>();
    const gen::ShapeLimits l = gpu ? gpu_like() : gen::ShapeLimits{};
    const Problem p = *gen::problem(l);
    p.validate();
    RC_ASSERT(p.batch <= l.max_batch);
    RC_ASSERT(p.heads_kv <= l.max_heads_kv);
    RC_ASSERT(p.group_size() <= l.max_group);
    RC_ASSERT(p.seqlen_q <= l.max_seqlen);
    RC_ASSERT(p.seqlen_k <= l.max_seqlen);
    RC_ASSERT(p.head_dim <= l.max_head_dim);
    if (!l.head_dims.empty())
      RC_ASSERT(std::count(l.head_dims.begin(), l.head_dims.end(), p.head_dim) == 1);
    RC_ASSERT(std::count(l.dtypes.begin(), l.dtypes.end(), p.dtype) == 1);
    RC_ASSERT(p.batch * p.heads_q * p.seqlen_q * p.seqlen_k * p.head_dim <=
              std::max(l.max_work, p.seqlen_q * p.seqlen_k * p.head_dim));
  });
  prop("make_inputs is deterministic and its values are representable in the dtype", [] {
    auto l = gen::ShapeLimits{};
    l.dtypes = {DType::f64, DType::f32, DType::f16, DType::bf16};
    const auto in = *gen::inputs(l);
    const auto again = gen::make_inputs(in.problem, in.values);
    RC_ASSERT(in.Q.values() == again.Q.values());
    RC_ASSERT(in.dO.values() == again.dO.values());
    for (const Tensor4<double>* t : {&in.Q, &in.K, &in.V, &in.dO})
      for (double x : t->values()) {
        RC_ASSERT(std::isfinite(x));
        RC_ASSERT(round_to_dtype(x, in.problem.dtype) == x);
      }
  });
}

// Fraction of n problems drawn from g (fixed seed) for which each named
// predicate holds.
template <class Pred>
std::map<std::string, double> coverage(const rc::Gen<Problem>& g,
                                       const std::vector<std::pair<std::string, Pred>>& preds) {
  constexpr int n = 2000;
  rc::Random random(2026);
  std::map<std::string, double> hit;
  for (int i = 0; i < n; ++i) {
    const Problem p = g(random.split(), 50).value();
    for (const auto& pr : preds) hit[pr.first] += pr.second(p) ? 1.0 / n : 0.0;
  }
  return hit;
}

TEST_CASE("generators: problems lean to the edges") {
  using Pred = std::function<bool(const Problem&)>;
  const auto edge = [](int64_t n, int64_t B) { return n == B - 1 || n == B || n == B + 1; };
  const std::vector<std::pair<std::string, Pred>> preds = {
      {"seqlen_q == 1", [](const Problem& p) { return p.seqlen_q == 1; }},
      {"seqlen_q != seqlen_k", [](const Problem& p) { return p.seqlen_q != p.seqlen_k; }},
      {"seqlen_q == seqlen_k", [](const Problem& p) { return p.seqlen_q == p.seqlen_k; }},
      {"odd seqlen_k", [](const Problem& p) { return p.seqlen_k % 2 == 1; }},
      {"seqlen_k at a 64 edge", [&](const Problem& p) { return edge(p.seqlen_k, 64); }},
      {"seqlen_q at a 128 edge", [&](const Problem& p) { return edge(p.seqlen_q, 128); }},
      {"GQA", [](const Problem& p) { return p.group_size() > 1; }},
      {"no mask", [](const Problem& p) { return p.mask.kind == MaskKind::none; }},
      {"causal top-left", [](const Problem& p) { return p.mask.kind == MaskKind::causal_top_left; }},
      {"causal bottom-right",
       [](const Problem& p) { return p.mask.kind == MaskKind::causal_bottom_right; }},
      {"window", [](const Problem& p) { return p.mask.kind == MaskKind::sliding_window; }},
      {"window of width 0 on one side", [](const Problem& p) {
         return p.mask.kind == MaskKind::sliding_window && (p.mask.window_left == 0 || p.mask.window_right == 0);
       }},
  };
  const auto hit = coverage(gen::problem(gen::tiled_limits({64, 128}, 2049, {}, {DType::f16})), preds);
  for (const auto& h : hit) {
    INFO(h.first << ": " << h.second);
    CHECK(h.second >= 0.02);
  }
  const auto small = coverage(gen::problem(), std::vector<std::pair<std::string, Pred>>{
      {"odd head_dim", [](const Problem& p) { return p.head_dim % 2 == 1; }},
      {"head_dim 1", [](const Problem& p) { return p.head_dim == 1; }},
      {"explicit scale", [](const Problem& p) { return p.scale.has_value(); }},
      {"batch 2", [](const Problem& p) { return p.batch == 2; }}});
  for (const auto& h : small) {
    INFO(h.first << ": " << h.second);
    CHECK(h.second >= 0.02);
  }
}

}  // namespace
}  // namespace flashcheck
