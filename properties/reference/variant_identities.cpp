// Reduction identities of the variant reference: each variant at its
// neutral setting is plain attention, and the layouts (varlen, paged) are
// the contiguous computation rearranged. "Plain" is reference_forward/
// backward, separate code, so these also check the variant code against it.
#include <catch2/catch.hpp>
#include <rapidcheck.h>

#include <limits>

#include "properties/prop.hpp"
#include "properties/reference/variant_support.hpp"

namespace flashcheck {
namespace {

using vsupport::Case;
constexpr double kNegInf = -std::numeric_limits<double>::infinity();
constexpr double kTol = 1e-12;  // float64 rounding of differently ordered sums

// kTol times the largest scaled score (floor 1): rounding of a score is
// relative to it, and exp turns it into a relative error of P. Cases in the
// contiguous layout only (take it before packing or paging).
double tol(const Case& c, double base = kTol) {
  Problem p = c.problem;
  p.variants = Variants{};
  return base * std::max(1.0, gen::max_scaled_score({p, {}, c.Q, c.K, c.V, c.dO}));
}

gen::ShapeLimits limits() {
  gen::ShapeLimits l = support::reference_limits();
  l.max_seqlen = 20;
  l.max_head_dim = 9;
  l.max_work = 1 << 14;
  return l;
}

Case draw_plain() { return vsupport::from_inputs(*gen::inputs(limits())); }

// The plain reference's run in the variant Run shape.
vsupport::Run plain_run(const Case& c) {
  Problem p = c.problem;
  p.variants = Variants{};
  const auto r = support::run_reference({p, {}, c.Q, c.K, c.V, c.dO});
  return {r.fwd, {r.grad.dQ, r.grad.dK, r.grad.dV, {}, {}}};
}

// A run compared with the plain reference (dbias and dsinks must be zero).
void require_plain(const vsupport::Run& r, const Case& c, double tol_ = -1) {
  if (tol_ < 0) tol_ = tol(c);
  const vsupport::Run plain = plain_run(c);
  vsupport::Run stripped{r.fwd, {r.grad.dQ, r.grad.dK, r.grad.dV, {}, {}}};
  const double rel = vsupport::max_rel_diff(stripped, plain);
  RC_LOG() << "max rel diff to plain: " << rel << "\n";
  RC_ASSERT(rel <= tol_);
  RC_ASSERT(support::max_abs(r.grad.dbias) == 0.0);
  for (double x : r.grad.dsinks) RC_ASSERT(x == 0.0);
}

TEST_CASE("variant reference: reduction identities") {
  prop("no variants == reference_forward/backward", [] {
    const Case c = draw_plain();
    require_plain(vsupport::run(c), c);
  });
  prop("softcap 1e12 == plain (cap tanh(s / cap) = s + O(s^3 / cap^2))", [] {
    Case c = draw_plain();
    vsupport::add_softcap(c, 1e12);
    require_plain(vsupport::run(c), c);
  });
  prop("ALiBi with slopes 0 == plain", [] {
    Case c = draw_plain();
    vsupport::add_alibi(c, 1);
    for (double& s : c.extras.alibi_slopes) s = 0;
    require_plain(vsupport::run(c), c);
  });
  prop("sinks -inf == plain, dsinks 0", [] {
    Case c = draw_plain();
    vsupport::add_sinks(c, 1);
    for (double& s : c.extras.sinks) s = kNegInf;
    require_plain(vsupport::run(c), c);
  });
  prop("dropout p = 0 keeping all == plain", [] {
    Case c = draw_plain();
    vsupport::add_dropout(c, 0.0, 1);
    require_plain(vsupport::run(c), c);
  });
  prop("all-true boolean mask == no mask tensor", [] {
    Case c = draw_plain();
    vsupport::add_bool_mask(c, 1);
    for (auto& k : c.extras.mask.values()) k = 1;
    require_plain(vsupport::run(c), c);
  });
  prop("bias 0 == plain", [] {
    Case c = draw_plain();
    vsupport::add_bias(c, 1);
    for (double& x : c.extras.bias.values()) x = 0;
    const auto r = vsupport::run(c);
    vsupport::Run stripped{r.fwd, {r.grad.dQ, r.grad.dK, r.grad.dV, {}, {}}};
    RC_ASSERT(vsupport::max_rel_diff(stripped, plain_run(c)) <= tol(c));
  });
  prop("dropout keeping all with p > 0 == plain with O, dV scaled by 1/(1-p)", [] {
    Case c = draw_plain();
    const double p = *gen::pick<double>({0.5, 0.25, 0.75});
    vsupport::add_dropout(c, p, 1);
    for (auto& k : c.extras.keep.values()) k = 1;
    const auto r = vsupport::run(c);
    auto plain = plain_run(c);
    for (double& x : plain.fwd.O.values()) x /= 1 - p;
    // dV = P^T dO / (1-p); dS = P (dP / (1-p) - D) with D of the scaled O,
    // so dQ, dK are scaled too.
    for (auto* t : {&plain.grad.dQ, &plain.grad.dK, &plain.grad.dV})
      for (double& x : t->values()) x /= 1 - p;
    RC_ASSERT(vsupport::max_rel_diff(r, plain) <= tol(c));
  });
  prop("ALiBi == the bias tensor -slope_h |i + Nk - Nq - j|", [] {
    Case a = draw_plain();
    vsupport::add_alibi(a, *rc::gen::arbitrary<uint64_t>());
    Case b = a;
    b.problem.variants.alibi = false;
    b.extras.alibi_slopes.clear();
    vsupport::add_bias(b, 1);
    const Problem& p = a.problem;
    for (int64_t bb = 0; bb < p.batch; ++bb)
      for (int64_t h = 0; h < p.heads_q; ++h)
        for (int64_t i = 0; i < p.seqlen_q; ++i)
          for (int64_t j = 0; j < p.seqlen_k; ++j)
            b.extras.bias(bb, h, i, j) =
                -a.extras.alibi_slopes[h] * std::fabs(double(i + p.seqlen_k - p.seqlen_q - j));
    auto rb = vsupport::run(b);
    rb.grad.dbias = Tensor4<double>();
    RC_ASSERT(vsupport::max_rel_diff(vsupport::run(a), rb) <= tol(a));
  });
  prop("boolean mask of the band == the band mask kind", [] {
    Case a = draw_plain();
    Case b = a;
    b.problem.mask = Mask::none();
    vsupport::add_bool_mask(b, 1);
    const Problem& p = a.problem;
    for (int64_t bb = 0; bb < p.batch; ++bb)
      for (int64_t h = 0; h < p.heads_q; ++h)
        for (int64_t i = 0; i < p.seqlen_q; ++i)
          for (int64_t j = 0; j < p.seqlen_k; ++j) b.extras.mask(bb, h, i, j) = p.visible(i, j);
    RC_ASSERT(vsupport::max_rel_diff(vsupport::run(a), vsupport::run(b)) <= tol(a));
  });
  prop("each row of dbias plus its sink's share sums to 0 (softmax is shift-invariant)", [] {
    Case c = draw_plain();
    vsupport::draw_score_variants(c, vsupport::bias);
    const auto r = vsupport::run(c);
    const Problem& p = c.problem;
    double worst = 0;
    std::vector<double> sink_share(p.heads_q, 0.0);
    for (int64_t b = 0; b < p.batch; ++b)
      for (int64_t h = 0; h < p.heads_q; ++h)
        for (int64_t i = 0; i < p.seqlen_q; ++i) {
          double s = 0, m = 0;
          for (int64_t j = 0; j < p.seqlen_k; ++j) {
            s += r.grad.dbias(b, h, i, j);
            m = std::max(m, std::fabs(r.grad.dbias(b, h, i, j)));
          }
          sink_share[h] += s;
          if (!p.variants.sinks) worst = std::max(worst, std::fabs(s) / std::max(1.0, m));
        }
    RC_ASSERT(worst <= tol(c));
    // With sinks, sum over rows of sum_j dS_ij = -dsinks_h.
    for (size_t h = 0; h < r.grad.dsinks.size(); ++h)
      RC_ASSERT(std::fabs(sink_share[h] + r.grad.dsinks[h]) <= tol(c) * std::max(1.0, std::fabs(sink_share[h])));
  });
}

// Sequence b of a packed case as a problem of its own (batch 1, its lengths).
Case sequence(const Case& packed, int64_t b) {
  const Problem& p = packed.problem;
  const Extras& ex = packed.extras;
  Case s;
  s.problem = p;
  s.problem.batch = 1;
  s.problem.seqlen_q = seq_len_q(p, ex, b);
  s.problem.seqlen_k = seq_len_k(p, ex, b);
  s.problem.variants.varlen = false;
  s.problem.variants.allow_empty = s.problem.seqlen_q == 0 || s.problem.seqlen_k == 0;
  s.extras.alibi_slopes = ex.alibi_slopes;
  s.extras.sinks = ex.sinks;
  const Shape4 sc = score_shape(s.problem);
  auto slice = [&](const auto& t) {
    std::decay_t<decltype(t)> out;
    if (t.size() == 0) return out;
    out = std::decay_t<decltype(t)>(sc);
    for (int64_t h = 0; h < sc.H; ++h)
      for (int64_t i = 0; i < sc.N; ++i)
        for (int64_t j = 0; j < sc.D; ++j) out(0, h, i, j) = t(b, h, i, j);
    return out;
  };
  s.extras.keep = slice(ex.keep);
  s.extras.bias = slice(ex.bias);
  s.extras.mask = slice(ex.mask);
  auto rows = [&](const Tensor4<double>& t, int64_t begin, int64_t n) {
    Tensor4<double> out({1, t.shape().H, n, t.shape().D});
    for (int64_t h = 0; h < t.shape().H; ++h)
      for (int64_t i = 0; i < n; ++i)
        for (int64_t x = 0; x < t.shape().D; ++x) out(0, h, i, x) = t(0, h, begin + i, x);
    return out;
  };
  s.Q = rows(packed.Q, ex.cu_seqlens_q[b], s.problem.seqlen_q);
  s.dO = rows(packed.dO, ex.cu_seqlens_q[b], s.problem.seqlen_q);
  s.K = rows(packed.K, ex.cu_seqlens_k[b], s.problem.seqlen_k);
  s.V = rows(packed.V, ex.cu_seqlens_k[b], s.problem.seqlen_k);
  return s;
}

TEST_CASE("variant reference: layouts") {
  prop("varlen == the sequences run one by one (lengths 0 included, score variants drawn)", [] {
    Case c = draw_plain();
    vsupport::draw_score_variants(c, 0);
    const double t = tol(c);
    vsupport::make_varlen(c, vsupport::draw_lengths(c.problem.batch, c.problem.seqlen_q),
                          vsupport::draw_lengths(c.problem.batch, c.problem.seqlen_k));
    const auto r = vsupport::run(c);
    const Extras& ex = c.extras;
    std::vector<double> dsinks(r.grad.dsinks.size(), 0.0);
    double worst = 0;
    auto cmp = [&](const Tensor4<double>& packed, const Tensor4<double>& one, int64_t begin) {
      for (int64_t h = 0; h < one.shape().H; ++h)
        for (int64_t i = 0; i < one.shape().N; ++i)
          for (int64_t x = 0; x < one.shape().D; ++x) {
            const double a = packed(0, h, begin + i, x), b = one(0, h, i, x);
            if (a != b) worst = std::max(worst, std::fabs(a - b) / std::max(1.0, std::fabs(b)));
          }
    };
    for (int64_t b = 0; b < c.problem.batch; ++b) {
      const Case s = sequence(c, b);
      const auto rs = vsupport::run(s);
      cmp(r.fwd.O, rs.fwd.O, ex.cu_seqlens_q[b]);
      cmp(r.fwd.LSE, rs.fwd.LSE, ex.cu_seqlens_q[b]);
      cmp(r.grad.dQ, rs.grad.dQ, ex.cu_seqlens_q[b]);
      cmp(r.grad.dK, rs.grad.dK, ex.cu_seqlens_k[b]);
      cmp(r.grad.dV, rs.grad.dV, ex.cu_seqlens_k[b]);
      for (size_t h = 0; h < dsinks.size(); ++h) dsinks[h] += rs.grad.dsinks[h];
      if (c.problem.variants.bias)
        for (int64_t h = 0; h < c.problem.heads_q; ++h)
          for (int64_t i = 0; i < s.problem.seqlen_q; ++i)
            for (int64_t j = 0; j < s.problem.seqlen_k; ++j)
              RC_ASSERT(r.grad.dbias(b, h, i, j) == rs.grad.dbias(0, h, i, j));
    }
    RC_LOG() << "worst rel diff " << worst << "\n";
    RC_ASSERT(worst <= t);
    RC_ASSERT(vsupport::max_abs_diff(dsinks, r.grad.dsinks) <= t * std::max(1.0, [&] {
                double m = 0;
                for (double x : dsinks) m = std::max(m, std::fabs(x));
                return m;
              }()));
  });
  prop("seqlen_k = 0 == varlen with every key sequence empty (score variants drawn)", [] {
    Case c = draw_plain();
    c.problem.seqlen_k = 0;
    c.problem.variants.allow_empty = true;
    c.K = Tensor4<double>(kv_shape(c.problem));
    c.V = c.K;
    vsupport::draw_score_variants(c, 0);
    Case packed = c;
    vsupport::make_varlen(packed, std::vector<int64_t>(c.problem.batch, c.problem.seqlen_q),
                          std::vector<int64_t>(c.problem.batch, 0));
    const auto r = vsupport::run(c), rp = vsupport::run(packed);
    for (int64_t b = 0; b < c.problem.batch; ++b)
      for (int64_t h = 0; h < c.problem.heads_q; ++h)
        for (int64_t i = 0; i < c.problem.seqlen_q; ++i) {
          const int64_t row = b * c.problem.seqlen_q + i;
          RC_ASSERT(r.fwd.LSE(b, h, i, 0) == rp.fwd.LSE(0, h, row, 0));
          RC_ASSERT(r.fwd.LSE(b, h, i, 0) == (c.problem.variants.sinks ? c.extras.sinks[h] : kNegInf));
          for (int64_t x = 0; x < c.problem.head_dim; ++x) {
            RC_ASSERT(r.fwd.O(b, h, i, x) == 0.0);
            RC_ASSERT(rp.fwd.O(0, h, row, x) == 0.0);
            RC_ASSERT(r.grad.dQ(b, h, i, x) == 0.0);
            RC_ASSERT(rp.grad.dQ(0, h, row, x) == 0.0);
          }
        }
    RC_ASSERT(vsupport::max_abs_diff(r.grad.dsinks, rp.grad.dsinks) == 0.0);
  });
  prop("paged == contiguous after gathering the pages (dK, dV scattered back)", [] {
    Case c = draw_plain();
    vsupport::draw_score_variants(c, 0);
    Case paged = c;
    const int64_t ps = *gen::pick<int64_t>({1, 2, 3, 4, 8, 16, 64});
    vsupport::make_paged(paged, ps, *rc::gen::inRange<int64_t>(0, 3), *rc::gen::arbitrary<uint64_t>());
    const auto rc_ = vsupport::run(c);
    const auto rp = vsupport::run(paged);
    RC_ASSERT(support::max_abs_diff(rc_.fwd.O, rp.fwd.O) == 0.0);
    RC_ASSERT(support::max_abs_diff(rc_.fwd.LSE, rp.fwd.LSE) == 0.0);
    RC_ASSERT(support::max_abs_diff(rc_.grad.dQ, rp.grad.dQ) == 0.0);
    const Problem& p = c.problem;
    const int64_t pps = pages_per_seq(paged.problem);
    std::vector<char> used(paged.problem.variants.num_pages, 0);
    for (int64_t x : paged.extras.block_table) used[x] = 1;
    for (int64_t b = 0; b < p.batch; ++b)
      for (int64_t hk = 0; hk < p.heads_kv; ++hk)
        for (int64_t j = 0; j < p.seqlen_k; ++j)
          for (int64_t x = 0; x < p.head_dim; ++x) {
            const int64_t page = paged.extras.block_table[b * pps + j / ps];
            RC_ASSERT(rp.grad.dK(page, hk, j % ps, x) == rc_.grad.dK(b, hk, j, x));
            RC_ASSERT(rp.grad.dV(page, hk, j % ps, x) == rc_.grad.dV(b, hk, j, x));
          }
    for (int64_t page = 0; page < paged.problem.variants.num_pages; ++page)  // unused pages: 0
      if (!used[page])
        for (int64_t hk = 0; hk < p.heads_kv; ++hk)
          for (int64_t j = 0; j < ps; ++j)
            for (int64_t x = 0; x < p.head_dim; ++x) RC_ASSERT(rp.grad.dK(page, hk, j, x) == 0.0);
    RC_ASSERT(vsupport::max_abs_diff(rc_.grad.dsinks, rp.grad.dsinks) == 0.0);
  });
}

}  // namespace
}  // namespace flashcheck
