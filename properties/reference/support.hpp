// Small helpers shared by the reference property files: run the reference on
// generated inputs, compare tensors.
#pragma once
#include <algorithm>
#include <cmath>

#include "cases/generators.hpp"
#include "reference/attention.hpp"

namespace flashcheck {
namespace support {

struct Run {
  ForwardResult fwd;
  Gradients grad;
};

inline Run run_reference(const gen::Inputs& in) {
  ForwardResult f = reference_forward(in.problem, in.Q, in.K, in.V);
  Gradients g = reference_backward(in.problem, in.Q, in.K, in.V, f.O, f.LSE, in.dO);
  return {std::move(f), std::move(g)};
}

// max |a - b| over elements; equal infinities count as equal, NaN as infinite.
inline double max_abs_diff(const Tensor4<double>& a, const Tensor4<double>& b) {
  require_shape(a.shape(), b.shape(), "max_abs_diff");
  double m = 0;
  for (int64_t i = 0; i < a.size(); ++i) {
    const double x = a.values()[i], y = b.values()[i];
    if (x == y) continue;
    const double e = std::fabs(x - y);
    m = std::max(m, std::isnan(e) ? INFINITY : e);
  }
  return m;
}

inline double max_abs(const Tensor4<double>& a) {
  double m = 0;
  for (double x : a.values())
    if (std::isfinite(x)) m = std::max(m, std::fabs(x));
  return m;
}

inline bool all_finite(const Tensor4<double>& a) {
  return std::all_of(a.values().begin(), a.values().end(), [](double x) { return std::isfinite(x); });
}

// max |scale * q.k| over every (query, key) pair: see gen::max_scaled_score.
using gen::max_scaled_score;

// Shapes for the float64 reference properties: small, every edge case.
inline gen::ShapeLimits reference_limits() {
  gen::ShapeLimits l;
  l.max_seqlen = 40;
  l.max_head_dim = 17;
  l.tile_edges = {4, 8, 16};
  return l;
}

}  // namespace support
}  // namespace flashcheck
