// Properties of the float64 forward pass: its statistics, and the symmetries
// of softmax(scale * Q K^T) V that any correct attention must have.
#include <catch2/catch.hpp>
#include <rapidcheck.h>

#include <numeric>
#include <random>

#include "cases/generators.hpp"
#include "properties/prop.hpp"
#include "properties/reference/support.hpp"

namespace flashcheck {
namespace {

using support::max_abs;
using support::max_abs_diff;
using support::reference_limits;

// float64 rounding allowance: 1024 unit roundoffs (~1e-13) per unit of score magnitude
// (the scores carry errors ~ d * 2^-53 * |s|, which exp makes relative).
constexpr double kRoundoff = 64 * 0x1p-53 * 16;

// Scaled scores of row i of head (b, h), computed without the reference.
long double score(const gen::Inputs& in, int64_t b, int64_t h, int64_t i, int64_t j) {
  const Problem& p = in.problem;
  long double s = 0;
  for (int64_t c = 0; c < p.head_dim; ++c) s += (long double)in.Q(b, h, i, c) * in.K(b, p.kv_head_of(h), j, c);
  return s * p.softmax_scale();
}

// A permutation of [0, n) drawn from seed (Fisher-Yates; mt19937_64 is the
// same on every platform).
std::vector<int64_t> permutation(int64_t n, uint64_t seed) {
  std::vector<int64_t> perm(static_cast<size_t>(n));
  std::iota(perm.begin(), perm.end(), 0);
  std::mt19937_64 rng(seed);
  for (size_t i = perm.size(); i > 1; --i) std::swap(perm[i - 1], perm[rng() % i]);
  return perm;
}

TEST_CASE("reference forward: statistics") {
  prop("LSE equals a brute-force long-double log-sum-exp over the visible keys", [] {
    const auto in = *gen::inputs(reference_limits());
    const Problem& p = in.problem;
    const auto f = reference_forward(p, in.Q, in.K, in.V);
    const double smax = support::max_scaled_score(in);
    for (int64_t b = 0; b < p.batch; ++b)
      for (int64_t h = 0; h < p.heads_q; ++h)
        for (int64_t i = 0; i < p.seqlen_q; ++i) {
          long double m = -INFINITY;
          for (int64_t j = 0; j < p.seqlen_k; ++j)
            if (p.visible(i, j)) m = std::max(m, score(in, b, h, i, j));
          if (m == -INFINITY) {
            RC_ASSERT(f.LSE(b, h, i) == -INFINITY);
            continue;
          }
          long double l = 0;
          for (int64_t j = 0; j < p.seqlen_k; ++j)
            if (p.visible(i, j)) l += std::exp(score(in, b, h, i, j) - m);
          const double lse = static_cast<double>(m + std::log(l));
          RC_ASSERT(std::fabs(f.LSE(b, h, i) - lse) <= kRoundoff * (1 + smax));
        }
  });
  prop("softmax rows exp(S - LSE) over the visible keys sum to 1", [] {
    const auto in = *gen::inputs(reference_limits());
    const Problem& p = in.problem;
    const auto f = reference_forward(p, in.Q, in.K, in.V);
    const double smax = support::max_scaled_score(in);
    for (int64_t b = 0; b < p.batch; ++b)
      for (int64_t h = 0; h < p.heads_q; ++h)
        for (int64_t i = 0; i < p.seqlen_q; ++i) {
          const Range keys = p.key_range(i);
          if (keys.empty()) continue;  // no row to sum (see the empty-row properties)
          long double sum = 0;
          for (int64_t j = keys.begin; j < keys.end; ++j)
            sum += std::exp(score(in, b, h, i, j) - (long double)f.LSE(b, h, i));
          RC_ASSERT(std::fabs((double)sum - 1.0) <= kRoundoff * (1 + smax));
        }
  });
  prop("O equals the brute-force softmax-weighted sum of visible values", [] {
    const auto in = *gen::inputs(reference_limits());
    const Problem& p = in.problem;
    const auto f = reference_forward(p, in.Q, in.K, in.V);
    const double tol = kRoundoff * (1 + support::max_scaled_score(in)) * std::max(1.0, max_abs(in.V));
    for (int64_t b = 0; b < p.batch; ++b)
      for (int64_t h = 0; h < p.heads_q; ++h)
        for (int64_t i = 0; i < p.seqlen_q; ++i)
          for (int64_t c = 0; c < p.head_dim; ++c) {
            long double o = 0;
            for (int64_t j = 0; j < p.seqlen_k; ++j)
              if (p.visible(i, j))
                o += std::exp(score(in, b, h, i, j) - (long double)f.LSE(b, h, i)) *
                     in.V(b, p.kv_head_of(h), j, c);
            RC_ASSERT(std::fabs(f.O(b, h, i, c) - (double)o) <= tol);
          }
  });
}

TEST_CASE("reference forward: symmetries") {
  prop("permuting keys and values together leaves O and LSE unchanged (no mask)", [] {
    auto l = reference_limits();
    l.mask_kinds = {MaskKind::none};
    const auto in = *gen::inputs(l);
    const Problem& p = in.problem;
    const std::vector<int64_t> perm = permutation(p.seqlen_k, *rc::gen::arbitrary<uint64_t>());
    gen::Inputs moved = in;
    for (int64_t b = 0; b < p.batch; ++b)
      for (int64_t h = 0; h < p.heads_kv; ++h)
        for (int64_t j = 0; j < p.seqlen_k; ++j)
          for (int64_t c = 0; c < p.head_dim; ++c) {
            moved.K(b, h, perm[j], c) = in.K(b, h, j, c);
            moved.V(b, h, perm[j], c) = in.V(b, h, j, c);
          }
    const auto f = reference_forward(p, in.Q, in.K, in.V);
    const auto g = reference_forward(p, moved.Q, moved.K, moved.V);
    RC_ASSERT(max_abs_diff(f.O, g.O) <= 1e-12 * std::max(1.0, max_abs(in.V)));
    RC_ASSERT(max_abs_diff(f.LSE, g.LSE) <= 1e-12 * std::max(1.0, max_abs(f.LSE)));
  });
  prop("adding the same vector to every key row leaves O unchanged", [] {
    const auto in = *gen::inputs(reference_limits(), {gen::Values::normal, gen::Values::uniform,
                                                      gen::Values::dominant_key});
    const Problem& p = in.problem;
    const double shift = *gen::pick(std::vector<double>{0.5, 1, 4});
    gen::Inputs moved = in;
    for (int64_t b = 0; b < p.batch; ++b)
      for (int64_t h = 0; h < p.heads_kv; ++h)
        for (int64_t c = 0; c < p.head_dim; ++c) {
          const double v = shift * std::cos(1.7 * static_cast<double>(c + h) + 0.3);
          for (int64_t j = 0; j < p.seqlen_k; ++j) moved.K(b, h, j, c) += v;
        }
    const auto f = reference_forward(p, in.Q, in.K, in.V);
    const auto g = reference_forward(p, moved.Q, moved.K, moved.V);
    RC_ASSERT(max_abs_diff(f.O, g.O) <= 1e-11 * std::max(1.0, max_abs(in.V)));
  });
  prop("O is linear in V: O(a V1 + b V2) = a O(V1) + b O(V2)", [] {
    const auto in = *gen::inputs(reference_limits());
    const Problem& p = in.problem;
    const double a = *gen::pick(std::vector<double>{1, -1, 0.5, 3});
    const double c = *gen::pick(std::vector<double>{1, -2, 0.25});
    Tensor4<double> V2 = in.V;
    for (double& x : V2.values()) x = std::sin(3 * x + 1);  // a second, different V
    Tensor4<double> mix = in.V;
    for (int64_t i = 0; i < mix.size(); ++i) mix.values()[i] = a * in.V.values()[i] + c * V2.values()[i];
    const auto f1 = reference_forward(p, in.Q, in.K, in.V);
    const auto f2 = reference_forward(p, in.Q, in.K, V2);
    const auto fm = reference_forward(p, in.Q, in.K, mix);
    Tensor4<double> want = f1.O;
    for (int64_t i = 0; i < want.size(); ++i) want.values()[i] = a * f1.O.values()[i] + c * f2.O.values()[i];
    RC_ASSERT(max_abs_diff(fm.O, want) <= 1e-12 * std::max(1.0, max_abs(mix) + max_abs(in.V)));
  });
}

TEST_CASE("reference forward: stability") {
  prop("no NaN or Inf in O, LSE, dQ, dK, dV for scaled logits up to 1e4", [] {
    const auto in = *gen::inputs(reference_limits(), {gen::Values::large_logits, gen::Values::dominant_key});
    const Problem& p = in.problem;
    const auto r = support::run_reference(in);
    RC_ASSERT(support::all_finite(r.fwd.O));
    for (int64_t b = 0; b < p.batch; ++b)
      for (int64_t h = 0; h < p.heads_q; ++h)
        for (int64_t i = 0; i < p.seqlen_q; ++i)
          RC_ASSERT(std::isfinite(r.fwd.LSE(b, h, i)) || (p.key_range(i).empty() && r.fwd.LSE(b, h, i) == -INFINITY));
    RC_ASSERT(support::all_finite(r.grad.dQ));
    RC_ASSERT(support::all_finite(r.grad.dK));
    RC_ASSERT(support::all_finite(r.grad.dV));
    // O is a convex combination of visible values.
    RC_ASSERT(max_abs(r.fwd.O) <= max_abs(in.V) * (1 + 1e-12));
  });
}

}  // namespace
}  // namespace flashcheck
