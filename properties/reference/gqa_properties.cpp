// Grouped-query attention: query head h reads KV head h / group. It must
// equal multi-head attention with every KV head repeated group times, and
// its dK, dV must be the sums of the repeated heads' gradients.
#include <catch2/catch.hpp>
#include <rapidcheck.h>

#include "cases/generators.hpp"
#include "properties/prop.hpp"
#include "properties/reference/support.hpp"

namespace flashcheck {
namespace {

// KV tensor of problem p, head h of the result = head h / group of t.
Tensor4<double> repeat_heads(const Problem& p, const Tensor4<double>& t) {
  Tensor4<double> r({p.batch, p.heads_q, p.seqlen_k, p.head_dim});
  for (int64_t b = 0; b < p.batch; ++b)
    for (int64_t h = 0; h < p.heads_q; ++h)
      for (int64_t j = 0; j < p.seqlen_k; ++j)
        for (int64_t c = 0; c < p.head_dim; ++c) r(b, h, j, c) = t(b, p.kv_head_of(h), j, c);
  return r;
}

// Sum of each group of heads of an MHA gradient: the GQA gradient.
Tensor4<double> sum_groups(const Problem& p, const Tensor4<double>& t) {
  Tensor4<double> r(kv_shape(p));
  for (int64_t b = 0; b < p.batch; ++b)
    for (int64_t h = 0; h < p.heads_q; ++h)
      for (int64_t j = 0; j < p.seqlen_k; ++j)
        for (int64_t c = 0; c < p.head_dim; ++c) r(b, p.kv_head_of(h), j, c) += t(b, h, j, c);
  return r;
}

TEST_CASE("reference GQA") {
  prop("GQA equals MHA with repeated KV heads; its dK, dV are the group sums", [] {
    auto l = support::reference_limits();
    l.max_group = 4;
    const auto in = *gen::inputs(l, {gen::Values::normal, gen::Values::uniform, gen::Values::dominant_key});
    const Problem& p = in.problem;
    RC_TAG(p.group_size() > 1 ? (p.heads_kv == 1 ? "MQA" : "GQA") : "MHA");
    Problem mha = p;
    mha.heads_kv = p.heads_q;
    gen::Inputs rep = in;
    rep.problem = mha;
    rep.K = repeat_heads(p, in.K);
    rep.V = repeat_heads(p, in.V);
    const auto g = support::run_reference(in);
    const auto m = support::run_reference(rep);
    // Same rows, same arithmetic: forward and dQ agree exactly.
    RC_ASSERT(g.fwd.O.values() == m.fwd.O.values());
    RC_ASSERT(g.fwd.LSE.values() == m.fwd.LSE.values());
    RC_ASSERT(g.grad.dQ.values() == m.grad.dQ.values());
    // The group sums may add in another order: rounding only.
    const double tol = 1e-13 * std::max(1.0, support::max_abs(g.grad.dK) + support::max_abs(g.grad.dV));
    RC_ASSERT(support::max_abs_diff(g.grad.dK, sum_groups(p, m.grad.dK)) <= tol);
    RC_ASSERT(support::max_abs_diff(g.grad.dV, sum_groups(p, m.grad.dV)) <= tol);
  });
}

}  // namespace
}  // namespace flashcheck
