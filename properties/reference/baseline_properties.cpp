// The low-precision baseline and the accuracy rule (reference/baseline.hpp,
// reference/accuracy.hpp): rounding is correct, the baseline's error stays
// under the bound derived from the dtype's epsilon (baseline_bound.hpp), and
// the rule passes the baseline against itself but fails visibly wrong output.
#include <catch2/catch.hpp>
#include <rapidcheck.h>

#include <Eigen/Core>
#include <cstring>
#include <limits>

#include "cases/generators.hpp"
#include "properties/prop.hpp"
#include "properties/reference/baseline_bound.hpp"
#include "properties/reference/support.hpp"
#include "reference/accuracy.hpp"
#include "reference/baseline.hpp"
#include "reference/oracle.hpp"

namespace flashcheck {
namespace {

const std::vector<DType> kLowPrecision = {DType::f32, DType::f16, DType::bf16};

gen::ShapeLimits baseline_limits(std::vector<DType> dtypes) {
  gen::ShapeLimits l = support::reference_limits();
  l.dtypes = std::move(dtypes);
  return l;
}

struct Both {
  support::Run ref, base;
};

Both run_both(const gen::Inputs& in) {
  const Problem& p = in.problem;
  Both r{support::run_reference(in), {}};
  r.base.fwd = baseline_forward(p, in.Q, in.K, in.V);
  r.base.grad = baseline_backward(p, in.Q, in.K, in.V, r.base.fwd.O, r.base.fwd.LSE, in.dO);
  return r;
}

// The largest |x - ref| / bound over elements (equal values, infinities
// included, count as 0; a NaN counts as infinite).
double worst_ratio(const Tensor4<double>& x, const Tensor4<double>& ref, const Tensor4<double>& bound) {
  double worst = 0;
  for (int64_t i = 0; i < x.size(); ++i) {
    const double a = x.values()[i], r = ref.values()[i];
    if (a == r) continue;
    const double err = std::fabs(a - r);
    worst = std::max(worst, std::isnan(err) ? INFINITY : err / bound.values()[i]);
  }
  return worst;
}

// A value drawn to exercise rounding: random significand bits at exponents
// across the dtypes' normal, subnormal and overflow ranges, and exact ties.
double rounding_probe() {
  const int exponent = *rc::gen::inRange(-160, 130);
  const uint64_t bits = *rc::gen::arbitrary<uint64_t>();
  const bool tie = *rc::gen::arbitrary<bool>();
  double x = std::ldexp(1.0 + static_cast<double>(bits >> 12) * 0x1p-52, exponent);
  if (tie) x = std::ldexp(std::floor(std::ldexp(x, 8 - exponent)) + 0.5, exponent - 8);  // 8.5 bits
  return *rc::gen::arbitrary<bool>() ? -x : x;
}

bool same(double a, double b) { return a == b || (std::isnan(a) && std::isnan(b)); }

TEST_CASE("baseline: rounding") {
  prop("round_to_dtype(x, f32) is the hardware float conversion", [] {
    const double x = rounding_probe();
    RC_ASSERT(same(round_to_dtype(x, DType::f32), static_cast<double>(static_cast<float>(x))));
  });
  prop("round_to_dtype of a float32 value to f16 and bf16 equals Eigen::half and Eigen::bfloat16", [] {
    const float x = static_cast<float>(rounding_probe());  // single rounding: input is a float
    RC_ASSERT(same(round_to_dtype(x, DType::f16), static_cast<double>(static_cast<float>(Eigen::half(x)))));
    RC_ASSERT(same(round_to_dtype(x, DType::bf16),
                   static_cast<double>(static_cast<float>(Eigen::bfloat16(x)))));
  });
  prop("round_to_dtype is idempotent and within one unit roundoff for normal values", [] {
    const double x = rounding_probe();
    const DType t = *gen::pick(kLowPrecision);
    const double r = round_to_dtype(x, t);
    RC_ASSERT(same(round_to_dtype(r, t), r));
    const double min_normal = t == DType::f16 ? 0x1p-14 : 0x1p-126;
    if (std::isfinite(r) && std::fabs(x) >= min_normal)
      RC_ASSERT(std::fabs(r - x) <= dtype_unit_roundoff(t) * std::fabs(x));
  });
}

TEST_CASE("baseline: error bound") {
  prop("each low-precision baseline's error against float64 is below its epsilon-derived bound", [] {
    const auto in = *gen::inputs(baseline_limits(kLowPrecision));
    const Problem& p = in.problem;
    const Both r = run_both(in);
    const auto e = bound::baseline_error_bound(p, in.Q, in.K, in.V, in.dO, r.ref.fwd, r.ref.grad);
    const std::pair<const char*, double> ratios[] = {
        {"O", worst_ratio(r.base.fwd.O, r.ref.fwd.O, e.O)},
        {"LSE", worst_ratio(r.base.fwd.LSE, r.ref.fwd.LSE, e.LSE)},
        {"dQ", worst_ratio(r.base.grad.dQ, r.ref.grad.dQ, e.dQ)},
        {"dK", worst_ratio(r.base.grad.dK, r.ref.grad.dK, e.dK)},
        {"dV", worst_ratio(r.base.grad.dV, r.ref.grad.dV, e.dV)}};
    for (const auto& x : ratios) {
      RC_LOG() << x.first << ": max |baseline - ref| / bound = " << x.second << "\n";
      RC_ASSERT(x.second <= bound::kSlack);
    }
  });
  prop("the f64 baseline is the reference itself", [] {
    const auto in = *gen::inputs(baseline_limits({DType::f64}));
    const Both r = run_both(in);
    RC_ASSERT(r.base.fwd.O.values() == r.ref.fwd.O.values());
    RC_ASSERT(r.base.grad.dK.values() == r.ref.grad.dK.values());
  });
}

// An independent plain implementation in the dtype, written differently from
// the baseline (one row at a time, unnormalised exp, one division at the
// end, float32 throughout, scores and output stored in the dtype): a correct
// low-precision attention the rule must accept.
Tensor4<double> plain_attention(const Problem& p, const gen::Inputs& in) {
  Tensor4<double> O(q_shape(p));
  const float scale = static_cast<float>(p.softmax_scale());
  std::vector<float> w(static_cast<size_t>(p.seqlen_k));
  for (int64_t b = 0; b < p.batch; ++b)
    for (int64_t h = 0; h < p.heads_q; ++h)
      for (int64_t i = 0; i < p.seqlen_q; ++i) {
        const Range keys = p.key_range(i);
        const int64_t hk = p.kv_head_of(h);
        float m = -INFINITY, l = 0;
        for (int64_t j = keys.begin; j < keys.end; ++j) {
          float dot = 0;
          for (int64_t c = 0; c < p.head_dim; ++c) dot += float(in.Q(b, h, i, c)) * float(in.K(b, hk, j, c));
          w[j] = static_cast<float>(round_to_dtype(scale * dot, p.dtype));
          m = std::max(m, w[j]);
        }
        for (int64_t j = keys.begin; j < keys.end; ++j) l += (w[j] = std::exp(w[j] - m));
        for (int64_t c = 0; c < p.head_dim; ++c) {
          float acc = 0;
          for (int64_t j = keys.begin; j < keys.end; ++j) acc += w[j] * float(in.V(b, hk, j, c));
          O(b, h, i, c) = keys.empty() ? 0.0 : round_to_dtype(acc / l, p.dtype);
        }
      }
  return O;
}

OracleInputs oracle_inputs(const gen::Inputs& in) { return {in.Q, in.K, in.V, in.dO}; }

TEST_CASE("accuracy rule") {
  prop("the rule passes an independent plain implementation in each dtype", [] {
    const auto in = *gen::inputs(baseline_limits({DType::f32, DType::f16, DType::bf16}));
    const Problem& p = in.problem;
    const Oracle o = make_oracle(p, oracle_inputs(in));
    Outputs out;
    out.O = plain_attention(p, in);
    const CaseVerdict v = judge_case(p, o, out, {"o"});
    RC_LOG() << v.tensors.at(0).reason << "\n";
    RC_ASSERT(v.pass);
  });
  prop("the rule passes each baseline (forward and backward) judged against itself", [] {
    const auto in = *gen::inputs(baseline_limits({DType::f64, DType::f32, DType::f16, DType::bf16}));
    const Problem& p = in.problem;
    const Oracle o = make_oracle(p, oracle_inputs(in));
    const Outputs out{o.base.O, o.base.LSE, o.base_grad->dQ, o.base_grad->dK, o.base_grad->dV};
    const CaseVerdict v = judge_case(p, o, out);
    for (const TensorVerdict& x : v.tensors) RC_LOG() << x.reason << "\n";
    RC_ASSERT(v.pass);
    RC_ASSERT(v.tensors.size() == 5u);
  });
  prop("the rule fails an output with one element visibly off, NaN or Inf, and says where", [] {
    const auto in = *gen::inputs(baseline_limits({DType::f64, DType::f32, DType::f16, DType::bf16}));
    const Problem& p = in.problem;
    const Oracle o = make_oracle(p, oracle_inputs(in));
    const TensorVerdict ok = judge_case(p, o, Outputs{o.base.O, {}, {}, {}, {}}, {"o"}).tensors.at(0);
    const int64_t at = *rc::gen::inRange<int64_t>(0, o.ref.O.size());
    const int kind = *rc::gen::inRange(0, 3);
    Tensor4<double> wrong = o.base.O;
    double& x = wrong.values()[static_cast<size_t>(at)];
    // "Visibly": off by twice the largest bound plus 1% of the output's size.
    const double bound = kOutputFactor * ok.baseline.max_abs +
                         ok.c * *std::max_element(o.allow.O.values().begin(), o.allow.O.values().end());
    x = kind == 0 ? x + 2 * bound + 0.01 * std::max(1.0, ok.candidate.max_ref)
        : kind == 1 ? std::numeric_limits<double>::quiet_NaN()
                    : std::numeric_limits<double>::infinity();
    const TensorVerdict v = judge_case(p, o, Outputs{wrong, {}, {}, {}, {}}, {"o"}).tensors.at(0);
    RC_LOG() << v.reason << "\n";
    RC_ASSERT(!v.pass);
    RC_ASSERT(v.reason.find("FAIL") != std::string::npos);
    RC_ASSERT(v.worst == at);
  });
  prop("a missing output fails the case and is named", [] {
    const auto in = *gen::inputs(baseline_limits({DType::f32, DType::bf16}));
    const Problem& p = in.problem;
    const Oracle o = make_oracle(p, oracle_inputs(in));
    const CaseVerdict v = judge_case(p, o, Outputs{o.base.O, {}, {}, {}, {}});
    RC_ASSERT(!v.pass);
    RC_ASSERT(v.missing.size() == 4u);
    RC_ASSERT(v.summary().find("lse(MISSING)") != std::string::npos);
  });
}

}  // namespace
}  // namespace flashcheck
