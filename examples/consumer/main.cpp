// "My kernel": a float32 two-pass attention forward written outside
// flashcheck, checked against flashcheck's float64 reference by the accuracy
// rule on generated problems. Exits 0 when the property holds.
#include <rapidcheck.h>

#include <cmath>
#include <iostream>
#include <limits>

#include "cases/generators.hpp"
#include "reference/accuracy.hpp"
#include "reference/attention.hpp"
#include "reference/baseline.hpp"
#include "reference/oracle.hpp"

using namespace flashcheck;

// The implementation under test: float32, mask through flashcheck's Mask.
Tensor4<double> my_attention(const Problem& p, const Tensor4<double>& Q, const Tensor4<double>& K,
                             const Tensor4<double>& V) {
  Tensor4<double> O(q_shape(p));
  const float scale = static_cast<float>(p.softmax_scale());
  std::vector<float> s(static_cast<size_t>(p.seqlen_k));
  for (int64_t b = 0; b < p.batch; ++b)
    for (int64_t h = 0; h < p.heads_q; ++h)
      for (int64_t i = 0; i < p.seqlen_q; ++i) {
        const Range keys = p.key_range(i);
        float m = -std::numeric_limits<float>::infinity(), l = 0;
        for (int64_t j = keys.begin; j < keys.end; ++j) {
          float dot = 0;
          for (int64_t c = 0; c < p.head_dim; ++c)
            dot += float(Q(b, h, i, c)) * float(K(b, p.kv_head_of(h), j, c));
          s[j] = scale * dot;
          m = std::max(m, s[j]);
        }
        for (int64_t j = keys.begin; j < keys.end; ++j) l += (s[j] = std::exp(s[j] - m));
        for (int64_t c = 0; c < p.head_dim; ++c) {
          float acc = 0;
          for (int64_t j = keys.begin; j < keys.end; ++j) acc += s[j] * float(V(b, p.kv_head_of(h), j, c));
          O(b, h, i, c) = keys.empty() ? 0.0 : acc / l;
        }
      }
  return O;
}

int main() {
  gen::ShapeLimits limits;
  limits.dtypes = {DType::f32};
  const bool ok = rc::check("my float32 attention passes flashcheck's accuracy rule", [&] {
    const gen::Inputs in = *gen::inputs(limits);
    const Problem& p = in.problem;
    const Oracle oracle = make_oracle(p, OracleInputs{in.Q, in.K, in.V, {}});
    Outputs out;
    out.O = my_attention(p, in.Q, in.K, in.V);
    const CaseVerdict v = judge_case(p, oracle, out, {"o"});
    RC_LOG() << v.tensors.at(0).reason << "\n";
    RC_ASSERT(v.pass);
  });
  return ok ? 0 : 1;
}
