// Cases for the variant reference properties (built by
// cases/variant_inputs.hpp), the reference runs and comparisons they share,
// and RapidCheck choices of variants.
#pragma once
#include <cmath>
#include <cstdint>
#include <limits>
#include <ostream>
#include <vector>

#include <rapidcheck.h>

#include "cases/variant_inputs.hpp"
#include "properties/reference/support.hpp"
#include "reference/variant_attention.hpp"

namespace flashcheck {
namespace vsupport {

// The case type and its builders live in cases/variant_inputs.hpp (the case
// files and the variant mutants build the same cases).
using Case = gen::VariantInputs;
using gen::add_alibi;
using gen::add_bias;
using gen::add_bool_mask;
using gen::add_dropout;
using gen::add_sinks;
using gen::add_softcap;
using gen::from_inputs;
using gen::make_paged;
using gen::make_paged_shared;
using gen::make_varlen;
using gen::Rng;  // the generators' platform-independent PRNG

// ---- runs ------------------------------------------------------------------
struct Run {
  ForwardResult fwd;
  VariantGradients grad;
};
inline Run run(const Case& c) {
  ForwardResult f = variant_forward(c.problem, c.extras, c.Q, c.K, c.V);
  VariantGradients g = variant_backward(c.problem, c.extras, c.Q, c.K, c.V, f.O, f.LSE, c.dO);
  return {std::move(f), std::move(g)};
}

inline double max_abs_diff(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size()) return INFINITY;
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i] != b[i]) m = std::max(m, std::isnan(a[i] - b[i]) ? INFINITY : std::fabs(a[i] - b[i]));
  return m;
}

// max difference of every output of two runs over the same layout, relative
// to the largest magnitude of that output (floor 1).
inline double max_rel_diff(const Run& a, const Run& b) {
  auto rel = [](const Tensor4<double>& x, const Tensor4<double>& y) {
    return support::max_abs_diff(x, y) / std::max(1.0, support::max_abs(x));
  };
  double m = std::max({rel(a.fwd.O, b.fwd.O), rel(a.fwd.LSE, b.fwd.LSE), rel(a.grad.dQ, b.grad.dQ),
                       rel(a.grad.dK, b.grad.dK), rel(a.grad.dV, b.grad.dV)});
  if (a.grad.dbias.size() == b.grad.dbias.size() && a.grad.dbias.size())
    m = std::max(m, rel(a.grad.dbias, b.grad.dbias));
  return std::max(m, max_abs_diff(a.grad.dsinks, b.grad.dsinks));
}

}  // namespace vsupport
}  // namespace flashcheck

namespace flashcheck {
namespace vsupport {

// Score variants (softcap, alibi, sinks, dropout, bias, mask) chosen by the
// bits of `which`, values from `seed`.
enum Score : unsigned { softcap = 1, alibi = 2, sinks = 4, dropout = 8, bias = 16, mask = 32 };
constexpr unsigned kAllScore = 63;
inline void add_score_variants(Case& c, unsigned which, double cap, double p, uint64_t seed) {
  if (which & softcap) add_softcap(c, cap);
  if (which & alibi) add_alibi(c, seed + 1);
  if (which & sinks) add_sinks(c, seed + 2);
  if (which & dropout) add_dropout(c, p, seed + 3);
  if (which & bias) add_bias(c, seed + 4);
  if (which & mask) add_bool_mask(c, seed + 5);
}

// RapidCheck choices for add_score_variants: the forced bits always on, the
// rest drawn.
inline void draw_score_variants(Case& c, unsigned forced) {
  const unsigned drawn = *rc::gen::inRange<unsigned>(0, kAllScore + 1);
  const double cap = *gen::pick<double>({1.0, 5.0, 30.0});
  const double p = *gen::pick<double>({0.25, 0.5, 0.0});
  add_score_variants(c, forced | drawn, cap, p, *rc::gen::arbitrary<uint64_t>());
}

// Per-sequence lengths in [0, max], leaning to 0 and max.
inline std::vector<int64_t> draw_lengths(int64_t batch, int64_t max) {
  std::vector<int64_t> n;
  for (int64_t b = 0; b < batch; ++b)
    n.push_back(*gen::weighted<int64_t>({{2, rc::gen::just(max)},
                                         {1, rc::gen::just<int64_t>(0)},
                                         {3, rc::gen::inRange<int64_t>(0, max + 1)}}));
  return n;
}

}  // namespace vsupport
}  // namespace flashcheck
