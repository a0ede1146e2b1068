// One numeric forward run of a plan judged against the float64 oracle by the
// one accuracy rule, with its counts equal to counting mode's.
#pragma once
#include <rapidcheck.h>

#include "cases/generators.hpp"
#include "reference/oracle.hpp"
#include "sim/simulate.hpp"

namespace flashcheck::simtest {

inline void check_numeric_forward(const gen::Inputs& in, const sim::Plan& plan) {
  const Problem& p = in.problem;
  const sim::NumericForward got = sim::numeric_forward(plan, sim::Precision::f64, in.Q, in.K, in.V);
  const Oracle o = make_oracle(p, OracleInputs{in.Q, in.K, in.V, in.dO});
  const CaseVerdict v = judge_case(p, o, Outputs{got.O, got.LSE, {}, {}, {}}, {"o", "lse"});
  for (const TensorVerdict& tv : v.tensors) RC_LOG() << tv.reason << "\n";
  RC_ASSERT(v.pass);
  const sim::RunResult counted = sim::count(plan);
  RC_ASSERT(got.run.hbm == counted.hbm);
  RC_ASSERT(got.run.smem_read_bytes == counted.smem_read_bytes);
  RC_ASSERT(got.run.smem_write_bytes == counted.smem_write_bytes);
  RC_ASSERT(got.run.exps == counted.exps);
}

}  // namespace flashcheck::simtest
