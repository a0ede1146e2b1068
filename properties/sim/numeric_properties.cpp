// Numeric mode against the float64 reference: tiling and online softmax are
// exact algebra, so in float64 every schedule agrees with the reference to
// rounding (relative error <= 1e-12), for every mask, GQA, odd and unequal
// lengths and many block sizes; in float32 every schedule passes the
// accuracy rule against the float32 standard-attention baseline.
#include <catch2/catch.hpp>
#include <rapidcheck.h>

#include <cmath>

#include "properties/generators.hpp"
#include "properties/prop.hpp"
#include "properties/sim/support.hpp"
#include "reference/accuracy.hpp"
#include "reference/attention.hpp"
#include "reference/baseline.hpp"
#include "sim/simulate.hpp"

namespace flashcheck {
namespace {

using namespace sim;

double max_abs(const Tensor4<double>& x) {
  double m = 0;
  for (double v : x.values())
    if (std::isfinite(v)) m = std::max(m, std::fabs(v));
  return m;
}

// max |x - ref| / max(max |ref|, floor) over finite elements; equal
// infinities are exact, NaN is infinitely wrong. floor is the magnitude of
// the terms the tensor sums (below), so a gradient that cancels to almost
// nothing (one dominant key: dP - D ~ 0) is judged against the size of what
// cancelled, not against its own denormal remainder.
double rel_err(const Tensor4<double>& x, const Tensor4<double>& ref, double floor = 0) {
  double diff = 0;
  for (int64_t n = 0; n < ref.size(); ++n) {
    const double a = x.data()[n], b = ref.data()[n];
    if (a == b) continue;
    const double e = std::fabs(a - b);
    diff = std::max(diff, std::isnan(e) ? INFINITY : e);
  }
  if (diff == 0) return 0;
  const double mag = std::max(max_abs(ref), floor);
  return mag > 0 ? diff / mag : INFINITY;
}

// Magnitudes of the terms: O sums P V (|O| <= max |V|); dQ sums
// scale * P (dP - D) K with |dP - D| <= 2 d max|dO| max|V|; dK likewise with Q.
struct TermScales {
  double O, dQ, dK, dV;
};
TermScales term_scales(const gen::Inputs& in) {
  const Problem& p = in.problem;
  const double dpd = 2.0 * static_cast<double>(p.head_dim) * max_abs(in.dO) * max_abs(in.V);
  return {max_abs(in.V), p.softmax_scale() * dpd * max_abs(in.K),
          p.softmax_scale() * dpd * max_abs(in.Q), max_abs(in.dO)};
}

// Rounding of the scores grows with their magnitude (exp turns an absolute
// score error into a relative one): large-logit inputs get 1e-12 per unit
// of the largest |scale * q.k| beyond 8.
double tolerance(const gen::Inputs& in) {
  const double smax = gen::max_scaled_score(in);
  return 1e-12 * std::max(1.0, smax / 8);
}

gen::ShapeLimits numeric_limits(DType t, int64_t max_seqlen = 40, int64_t max_head_dim = 17) {
  gen::ShapeLimits l = simtest::sim_limits(max_seqlen, {t});
  l.max_head_dim = max_head_dim;
  l.max_work = std::max(l.max_work, max_seqlen * max_seqlen * max_head_dim * 4);
  return l;
}

TEST_CASE("sim numeric: float64 equals the reference") {
  prop("every schedule's float64 forward equals the reference: O and LSE to relative error 1e-12", [] {
    const auto in = *gen::inputs(numeric_limits(DType::f64, 80, 33));
    const Problem& p = in.problem;
    const simtest::RunConfig c = *simtest::run_config(p, Direction::fwd);
    const auto ref = reference_forward(p, in.Q, in.K, in.V);
    const auto got = numeric_forward(simtest::plan_of(p, c), Precision::f64, in.Q, in.K, in.V);
    const double tol = tolerance(in);
    RC_LOG() << "O " << rel_err(got.O, ref.O) << " LSE " << rel_err(got.LSE, ref.LSE) << " tol " << tol << "\n";
    RC_ASSERT(rel_err(got.O, ref.O, term_scales(in).O) <= tol);
    RC_ASSERT(rel_err(got.LSE, ref.LSE) <= tol);
  });

  prop("every schedule's float64 backward equals the reference: dQ, dK, dV to relative error 1e-12", [] {
    const auto in = *gen::inputs(numeric_limits(DType::f64, 80, 33));
    const Problem& p = in.problem;
    const simtest::RunConfig c = *simtest::run_config(p, Direction::bwd);
    const auto f = reference_forward(p, in.Q, in.K, in.V);
    const auto ref = reference_backward(p, in.Q, in.K, in.V, f.O, f.LSE, in.dO);
    const auto got = numeric_backward(simtest::plan_of(p, c), Precision::f64, in.Q, in.K, in.V, f.O,
                                      f.LSE, in.dO);
    const double tol = tolerance(in);
    const TermScales ts = term_scales(in);
    RC_LOG() << "dQ " << rel_err(got.dQ, ref.dQ, ts.dQ) << " dK " << rel_err(got.dK, ref.dK, ts.dK)
             << " dV " << rel_err(got.dV, ref.dV, ts.dV) << " tol " << tol << "\n";
    RC_ASSERT(rel_err(got.dQ, ref.dQ, ts.dQ) <= tol);
    RC_ASSERT(rel_err(got.dK, ref.dK, ts.dK) <= tol);
    RC_ASSERT(rel_err(got.dV, ref.dV, ts.dV) <= tol);
  });
}

// Rows that see exactly one key are left out: there the float32 baseline is
// exact by cancellation (P = 1, dP - D = 0 bit for bit) while any schedule that
// recomputes P = exp(S - LSE) from a stored float32 LSE is off by ~u |LSE|;
// the same holds for large logits and dominant keys (sim/README.md, "float32").
bool has_single_key_row(const Problem& p) {
  for (int64_t q = 0; q < p.seqlen_q; ++q)
    if (p.key_range(q).size() == 1) return true;
  return false;
}

TEST_CASE("sim numeric: float32 passes the accuracy rule") {
  prop("every schedule in float32 passes the accuracy rule against the float32 baseline (O, LSE, "
       "dQ, dK, dV; normal and uniform values, rows seeing 0 or >= 2 keys)",
       [] {
         const auto in = *gen::inputs(numeric_limits(DType::f32), {gen::Values::normal, gen::Values::uniform});
         const Problem& p = in.problem;
         RC_PRE(!has_single_key_row(p));
         const simtest::RunConfig c = *simtest::run_config(p);
         const auto ref = reference_forward(p, in.Q, in.K, in.V);
         const auto base = baseline_forward(p, in.Q, in.K, in.V);
         const auto check = [](const Verdict& v) {
           RC_LOG() << v.reason << "\n";
           RC_ASSERT(v.pass);
         };
         if (c.dir == Direction::fwd) {
           simtest::RunConfig cf = c;
           const auto got = numeric_forward(simtest::plan_of(p, cf), Precision::f32, in.Q, in.K, in.V);
           check(judge("O", got.O, base.O, ref.O, kOutputFactor, DType::f32));
           check(judge("LSE", got.LSE, base.LSE, ref.LSE, kOutputFactor, DType::f32));
         } else {
           // As in training: the backward takes this schedule's own float32
           // forward outputs, and the baseline its own (the accuracy rule's convention).
           const auto gref = reference_backward(p, in.Q, in.K, in.V, ref.O, ref.LSE, in.dO);
           const auto gbase = baseline_backward(p, in.Q, in.K, in.V, base.O, base.LSE, in.dO);
           simtest::RunConfig cf = c;
           cf.dir = Direction::fwd;
           const auto fwd = numeric_forward(simtest::plan_of(p, cf), Precision::f32, in.Q, in.K, in.V);
           const auto got = numeric_backward(simtest::plan_of(p, c), Precision::f32, in.Q, in.K,
                                             in.V, fwd, in.dO);
           check(judge("dQ", got.dQ, gbase.dQ, gref.dQ, kGradientFactor, DType::f32));
           check(judge("dK", got.dK, gbase.dK, gref.dK, kGradientFactor, DType::f32));
           check(judge("dV", got.dV, gbase.dV, gref.dV, kGradientFactor, DType::f32));
         }
       });
}

}  // namespace
}  // namespace flashcheck
