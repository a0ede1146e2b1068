// The accuracy rule on problems with variants (make_oracle / judge_case with
// Extras): the variant baseline and allowance reduce to the plain ones at
// neutral settings, correct low-precision answers of every variant pass, and
// planted wrong answers (a variant's effect reversed or dropped) fail.
#include <catch2/catch.hpp>
#include <rapidcheck.h>

#include <cmath>
#include <limits>

#include "properties/prop.hpp"
#include "properties/reference/variant_support.hpp"
#include "reference/baseline.hpp"
#include "reference/oracle.hpp"
#include "reference/variant_baseline.hpp"

namespace flashcheck {
namespace {

using vsupport::Case;

gen::ShapeLimits limits() {
  gen::ShapeLimits l = support::reference_limits();
  l.max_seqlen = 20;
  l.max_head_dim = 9;
  l.max_work = 1 << 14;
  l.dtypes = {DType::f16, DType::bf16, DType::f32};
  return l;
}

Case draw_case() { return vsupport::from_inputs(*gen::inputs(limits())); }

OracleInputs oracle_inputs(const Case& c) { return {c.Q, c.K, c.V, c.dO, c.extras}; }

// The float64 reference rounded to the dtype: a correct low-precision answer.
Outputs rounded_reference(const Oracle& o, DType t) {
  auto r = [t](Tensor4<double> x) {
    round_to_dtype(x, t);
    return x;
  };
  Outputs out;
  out.O = r(o.ref.O), out.LSE = o.ref.LSE;  // LSE is float32 on GPUs
  for (double& x : out.LSE->values()) x = round_to_dtype(x, DType::f32);
  out.dQ = r(o.ref_grad->dQ), out.dK = r(o.ref_grad->dK), out.dV = r(o.ref_grad->dV);
  if (o.ref_dbias.size()) out.dbias = r(o.ref_dbias);
  if (!o.ref_dsinks.empty()) {
    out.dsinks = o.ref_dsinks;
    for (double& x : *out.dsinks) x = round_to_dtype(x, t);
  }
  return out;
}

// The baseline's own answer (passes by construction of k >= 1, but exercises
// every shape and name judge_case handles).
Outputs baseline_outputs(const Oracle& o) {
  Outputs out;
  out.O = o.base.O, out.LSE = o.base.LSE;
  out.dQ = o.base_grad->dQ, out.dK = o.base_grad->dK, out.dV = o.base_grad->dV;
  if (o.base_dbias.size()) out.dbias = o.base_dbias;
  if (!o.base_dsinks.empty()) out.dsinks = o.base_dsinks;
  return out;
}

// Every score variant at its neutral setting (slopes 0, sinks -inf, keep
// all with p = 0, bias 0, mask all true) and allow_empty: not plain, so the
// variant paths run, but the numbers are plain attention's.
Case neutral(Case c) {
  Problem& p = c.problem;
  const int64_t n = score_shape(p).size();
  p.variants.allow_empty = true;
  p.variants.alibi = true, c.extras.alibi_slopes.assign(p.heads_q, 0.0);
  p.variants.sinks = true, c.extras.sinks.assign(p.heads_q, -std::numeric_limits<double>::infinity());
  p.variants.dropout_p = 0.0, c.extras.keep = Tensor4<uint8_t>(score_shape(p), 1);
  p.variants.bias = true, c.extras.bias = Tensor4<double>(score_shape(p), 0.0);
  p.variants.bool_mask = true, c.extras.mask = Tensor4<uint8_t>(score_shape(p), 1);
  RC_ASSERT(c.extras.keep.size() == n);
  return c;
}

TEST_CASE("variant oracle: reduction to the plain rule") {
  prop("variant baseline at neutral settings == baseline bit for bit", [] {
    const Case plain = draw_case();
    const Case c = neutral(plain);
    const ForwardResult a = baseline_forward(plain.problem, plain.Q, plain.K, plain.V);
    const ForwardResult b = variant_baseline_forward(c.problem, c.extras, c.Q, c.K, c.V);
    RC_ASSERT(support::max_abs_diff(a.O, b.O) == 0.0);
    RC_ASSERT(support::max_abs_diff(a.LSE, b.LSE) == 0.0);
    const Gradients ga = baseline_backward(plain.problem, plain.Q, plain.K, plain.V, a.O, a.LSE, plain.dO);
    const VariantGradients gb = variant_baseline_backward(c.problem, c.extras, c.Q, c.K, c.V, b.O, b.LSE, c.dO);
    RC_ASSERT(support::max_abs_diff(ga.dQ, gb.dQ) == 0.0);
    RC_ASSERT(support::max_abs_diff(ga.dK, gb.dK) == 0.0);
    RC_ASSERT(support::max_abs_diff(ga.dV, gb.dV) == 0.0);
  });

  prop("variant allowance with only allow_empty == the plain allowance", [] {
    Case plain = draw_case();
    Case c = plain;
    c.problem.variants.allow_empty = true;
    const Oracle a = make_oracle(plain.problem, oracle_inputs(plain));
    const Oracle b = make_oracle(c.problem, oracle_inputs(c));
    auto rel = [](const Tensor4<double>& x, const Tensor4<double>& y) {
      double m = 0;
      for (int64_t e = 0; e < x.size(); ++e)
        m = std::max(m, std::fabs(x.values()[e] - y.values()[e]) /
                            std::max(std::fabs(x.values()[e]), 1e-300));
      return m;
    };
    for (auto [x, y] : {std::pair{&a.allow.O, &b.allow.O}, {&a.allow.LSE, &b.allow.LSE},
                        {&a.allow.dQ, &b.allow.dQ}, {&a.allow.dK, &b.allow.dK}, {&a.allow.dV, &b.allow.dV}}) {
      RC_ASSERT(x->shape() == y->shape());
      RC_ASSERT(rel(*x, *y) <= 1e-9);
    }
  });
}

TEST_CASE("variant oracle: correct answers pass, wrong ones fail") {
  prop("every score variant: rounded reference and baseline pass judge_case", [] {
    Case c = draw_case();
    vsupport::draw_score_variants(c, *rc::gen::inRange<unsigned>(1, vsupport::kAllScore + 1));
    const Oracle o = make_oracle(c.problem, oracle_inputs(c));
    const CaseVerdict r = judge_case(c.problem, o, rounded_reference(o, c.problem.dtype));
    RC_LOG() << r.summary() << "\n";
    RC_ASSERT(r.pass);
    RC_ASSERT(judge_case(c.problem, o, baseline_outputs(o)).pass);
    const size_t want = 5 + (c.problem.variants.bias ? 1 : 0) + (c.problem.variants.sinks ? 1 : 0);
    RC_ASSERT(r.tensors.size() == want);
  });

  prop("varlen and paged: rounded reference passes judge_case", [] {
    Case c = draw_case();
    if (*rc::gen::arbitrary<bool>()) {
      vsupport::make_varlen(c, vsupport::draw_lengths(c.problem.batch, c.problem.seqlen_q),
                            vsupport::draw_lengths(c.problem.batch, c.problem.seqlen_k));
      c.problem.variants.allow_empty = true;
    } else {
      vsupport::make_paged(c, *rc::gen::inRange<int64_t>(1, 9), 1, *rc::gen::arbitrary<uint64_t>());
    }
    const Oracle o = make_oracle(c.problem, oracle_inputs(c));
    const CaseVerdict r = judge_case(c.problem, o, rounded_reference(o, c.problem.dtype));
    RC_LOG() << r.summary() << "\n";
    RC_ASSERT(r.pass);
  });

  prop("a planted wrong O (ALiBi slopes negated) fails judge_case", [] {
    Case c = draw_case();
    RC_PRE(c.problem.seqlen_k >= 2);
    c.problem.mask = Mask{};  // every row sees >= 2 keys, and small scores:
    c.problem.scale = 0.01;   // the slopes decide the softmax
    vsupport::add_alibi(c, *rc::gen::arbitrary<uint64_t>());
    for (double& s : c.extras.alibi_slopes) s += 0.5;  // an effect a sign flip cannot hide
    const Oracle o = make_oracle(c.problem, oracle_inputs(c));
    Case wrong = c;
    for (double& s : wrong.extras.alibi_slopes) s = -s;
    const Oracle w = make_oracle(wrong.problem, oracle_inputs(wrong));
    Outputs out = rounded_reference(w, c.problem.dtype);
    // Only where the bug moves O by a tenth of its size (V rows may agree).
    RC_PRE(support::max_abs_diff(w.ref.O, o.ref.O) > 0.1 * support::max_abs(o.ref.O));
    const CaseVerdict r = judge_case(c.problem, o, out, {"o", "lse"});
    RC_LOG() << r.summary() << "\n";
    RC_ASSERT(!r.pass);
  });

  prop("a planted zero dbias / dsinks fails judge_case where the gradient is informative", [] {
    Case c = draw_case();
    vsupport::add_bias(c, *rc::gen::arbitrary<uint64_t>());
    vsupport::add_sinks(c, *rc::gen::arbitrary<uint64_t>());
    const Oracle o = make_oracle(c.problem, oracle_inputs(c));
    Outputs out = rounded_reference(o, c.problem.dtype);
    const CaseVerdict good = judge_case(c.problem, o, out, {"dbias", "dsinks"});
    RC_ASSERT(good.pass);
    for (double& x : out.dbias->values()) x = 0;
    for (double& x : *out.dsinks) x = 0;
    const CaseVerdict r = judge_case(c.problem, o, out, {"dbias", "dsinks"});
    for (const TensorVerdict& t : good.tensors)
      if (t.informative) {
        for (const TensorVerdict& u : r.tensors)
          if (u.name == t.name) RC_ASSERT(!u.pass);
      }
    RC_TAG(good.tensors[0].informative ? "dbias informative" : "dbias uninformative");
  });
}

}  // namespace
}  // namespace flashcheck
