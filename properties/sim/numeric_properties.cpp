// Numeric mode against the float64 reference, judged by the one accuracy
// rule: tiling and online softmax are exact algebra, so in float64 every
// schedule agrees with the reference to float64 rounding, and in float32 to
// float32 rounding, for every mask, GQA, odd and unequal lengths, many block
// sizes and every value regime (no shape or value exclusions).
#include <catch2/catch.hpp>
#include <rapidcheck.h>

#include <cmath>

#include "cases/generators.hpp"
#include "properties/prop.hpp"
#include "properties/sim/support.hpp"
#include "reference/accuracy.hpp"
#include "reference/attention.hpp"
#include "reference/oracle.hpp"
#include "sim/simulate.hpp"

namespace flashcheck {
namespace {

using namespace sim;

gen::ShapeLimits numeric_limits(DType t, int64_t max_seqlen = 40, int64_t max_head_dim = 17) {
  gen::ShapeLimits l = simtest::sim_limits(max_seqlen, {t});
  l.max_head_dim = max_head_dim;
  l.max_work = std::max(l.max_work, max_seqlen * max_seqlen * max_head_dim * 4);
  return l;
}

void require_pass(const CaseVerdict& v) {
  for (const TensorVerdict& t : v.tensors) RC_LOG() << t.reason << "\n";
  RC_ASSERT(v.pass);
}

// One schedule run in numeric mode at precision `prec`, judged by the one
// accuracy rule (reference/oracle.hpp) for the problem's dtype, every value
// regime included. The backward takes this schedule's own forward outputs,
// as in training.
void check_schedule(const gen::Inputs& in, Precision prec) {
  const Problem& p = in.problem;
  const simtest::RunConfig c = *simtest::run_config(p);
  const Oracle o = make_oracle(p, OracleInputs{in.Q, in.K, in.V, in.dO});
  simtest::RunConfig cf = c;
  cf.dir = Direction::fwd;
  const auto fwd = numeric_forward(simtest::plan_of(p, cf), prec, in.Q, in.K, in.V);
  if (c.dir == Direction::fwd) {
    require_pass(judge_case(p, o, Outputs{fwd.O, fwd.LSE, {}, {}, {}}, {"o", "lse"}));
  } else {
    const auto got = numeric_backward(simtest::plan_of(p, c), prec, in.Q, in.K, in.V, fwd, in.dO);
    require_pass(judge_case(p, o, Outputs{{}, {}, got.dQ, got.dK, got.dV}, {"dq", "dk", "dv"}));
  }
}

TEST_CASE("sim numeric: float64 passes the accuracy rule") {
  prop("every schedule in float64 passes the accuracy rule (tiling and online softmax are exact "
       "algebra: only float64 rounding remains)",
       [] { check_schedule(*gen::inputs(numeric_limits(DType::f64, 80, 33)), Precision::f64); });
}

TEST_CASE("sim numeric: float32 passes the accuracy rule") {
  prop("every schedule in float32 passes the accuracy rule (O, LSE, dQ, dK, dV; every value "
       "regime, rows seeing any number of keys)",
       [] { check_schedule(*gen::inputs(numeric_limits(DType::f32)), Precision::f32); });
}

}  // namespace
}  // namespace flashcheck
