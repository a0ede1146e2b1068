// What the mask means for the reference: what a query cannot see cannot
// change its results, and a row that sees no key has the documented values
// (O = 0, LSE = -inf, dQ = 0, no contribution to dK, dV).
//
// The reference computes each row over its visible key range only, so these
// comparisons are exact (==), not approximate.
#include <catch2/catch.hpp>
#include <rapidcheck.h>

#include "cases/generators.hpp"
#include "properties/prop.hpp"
#include "properties/reference/support.hpp"

namespace flashcheck {
namespace {

gen::ShapeLimits masked_limits() {
  gen::ShapeLimits l = support::reference_limits();
  l.mask_kinds = {MaskKind::causal_top_left, MaskKind::causal_bottom_right,
                  MaskKind::sliding_window};
  return l;
}

// Row i of head (b, h) of a [B][H][N][d] tensor, as a vector.
std::vector<double> row(const Tensor4<double>& t, int64_t b, int64_t h, int64_t i) {
  return std::vector<double>(&t(b, h, i, 0), &t(b, h, i, 0) + t.shape().D);
}

// Overwrite row i of every head of t with new values drawn from seed.
void scramble_row(Tensor4<double>& t, int64_t i, uint64_t seed) {
  for (int64_t b = 0; b < t.shape().B; ++b)
    for (int64_t h = 0; h < t.shape().H; ++h)
      for (int64_t c = 0; c < t.shape().D; ++c)
        t(b, h, i, c) = std::sin(static_cast<double>(seed % 1000 + 7 * c + 3 * h + b) * 1.3) * 5;
}

TEST_CASE("reference masking: invisible keys") {
  prop("a query's O, LSE and dQ do not change when keys and values it cannot see change", [] {
    const auto in = *gen::inputs(masked_limits());
    const Problem& p = in.problem;
    const int64_t i = *rc::gen::inRange<int64_t>(0, p.seqlen_q);
    const uint64_t seed = *rc::gen::arbitrary<uint64_t>();
    gen::Inputs changed = in;
    int64_t hidden = 0;
    for (int64_t j = 0; j < p.seqlen_k; ++j)
      if (!p.visible(i, j)) {
        scramble_row(changed.K, j, seed + j);
        scramble_row(changed.V, j, seed + 2 * j + 1);
        ++hidden;
      }
    RC_TAG(hidden > 0 ? "some keys hidden from the row" : "row sees every key");
    const auto a = support::run_reference(in);
    const auto z = support::run_reference(changed);
    for (int64_t b = 0; b < p.batch; ++b)
      for (int64_t h = 0; h < p.heads_q; ++h) {
        RC_ASSERT(row(a.fwd.O, b, h, i) == row(z.fwd.O, b, h, i));
        RC_ASSERT(a.fwd.LSE(b, h, i) == z.fwd.LSE(b, h, i) ||
                  (std::isnan(a.fwd.LSE(b, h, i)) && std::isnan(z.fwd.LSE(b, h, i))));
        RC_ASSERT(row(a.grad.dQ, b, h, i) == row(z.grad.dQ, b, h, i));
      }
  });
  prop("a key's dK and dV do not change when queries and dO rows that cannot see it change", [] {
    const auto in = *gen::inputs(masked_limits());
    const Problem& p = in.problem;
    const int64_t j = *rc::gen::inRange<int64_t>(0, p.seqlen_k);
    const uint64_t seed = *rc::gen::arbitrary<uint64_t>();
    gen::Inputs changed = in;
    for (int64_t i = 0; i < p.seqlen_q; ++i)
      if (!p.visible(i, j)) {
        scramble_row(changed.Q, i, seed + i);
        scramble_row(changed.dO, i, seed + 2 * i + 1);
      }
    const auto a = support::run_reference(in);
    const auto z = support::run_reference(changed);
    for (int64_t b = 0; b < p.batch; ++b)
      for (int64_t h = 0; h < p.heads_kv; ++h) {
        RC_ASSERT(row(a.grad.dK, b, h, j) == row(z.grad.dK, b, h, j));
        RC_ASSERT(row(a.grad.dV, b, h, j) == row(z.grad.dV, b, h, j));
      }
  });
}

TEST_CASE("reference masking: rows that see no key") {
  prop("rows that see no key give O = 0, LSE = -inf, dQ = 0 exactly, and no dK, dV contribution", [] {
    // Such rows exist when seqlen_q > seqlen_k + window_right (bottom-right
    // alignment pushes the band right of the first rows).
    auto l = masked_limits();
    l.mask_kinds = {MaskKind::causal_bottom_right, MaskKind::sliding_window};
    const auto base = *gen::inputs(l);
    const int64_t extra = *rc::gen::inRange<int64_t>(1, 6);
    Problem p = base.problem;
    const int64_t right = p.mask.kind == MaskKind::sliding_window ? p.mask.window_right : 0;
    p.seqlen_q = p.seqlen_k + right + extra;  // the first `extra` rows see nothing
    const auto in = gen::make_inputs(p, base.values);
    gen::Inputs changed = in;
    int64_t empty = 0;
    for (int64_t i = 0; i < p.seqlen_q; ++i)
      if (p.key_range(i).empty()) {
        scramble_row(changed.Q, i, 17 + i);
        scramble_row(changed.dO, i, 29 + i);
        ++empty;
      }
    RC_ASSERT(empty >= extra);
    const auto a = support::run_reference(in);
    const auto z = support::run_reference(changed);
    for (int64_t b = 0; b < p.batch; ++b)
      for (int64_t h = 0; h < p.heads_q; ++h)
        for (int64_t i = 0; i < p.seqlen_q; ++i) {
          if (!p.key_range(i).empty()) continue;
          RC_ASSERT(row(a.fwd.O, b, h, i) == std::vector<double>(p.head_dim, 0.0));
          RC_ASSERT(a.fwd.LSE(b, h, i) == -INFINITY);
          RC_ASSERT(row(a.grad.dQ, b, h, i) == std::vector<double>(p.head_dim, 0.0));
        }
    RC_ASSERT(a.grad.dK.values() == z.grad.dK.values());
    RC_ASSERT(a.grad.dV.values() == z.grad.dV.values());
  });
}

}  // namespace
}  // namespace flashcheck
