// Cases for the variant reference properties: a plain generated case
// (gen::inputs) with variants added on top, their extra tensors filled from
// a seed (deterministic, like gen::make_inputs), plus packing into varlen and
// paged layouts and the reference runs and comparisons the properties share.
#pragma once
#include <cmath>
#include <cstdint>
#include <limits>
#include <ostream>
#include <vector>

#include <rapidcheck.h>

#include "cases/generators.hpp"
#include "properties/reference/support.hpp"
#include "reference/variant_attention.hpp"

namespace flashcheck {
namespace vsupport {

struct Case {
  Problem problem;
  Extras extras;
  Tensor4<double> Q, K, V, dO;
};

inline void show_vec(const char* name, const std::vector<double>& v, std::ostream& os) {
  os << " " << name << "=[";
  for (size_t i = 0; i < v.size(); ++i) os << (i ? "," : "") << v[i];
  os << "]";
}
inline void showValue(const Case& c, std::ostream& os) {
  os << c.problem.describe();
  show_vec("alibi", c.extras.alibi_slopes, os);
  show_vec("sinks", c.extras.sinks, os);
  os << " cu_q=" << c.extras.cu_seqlens_q.size() << " values, block_table=" << c.extras.block_table.size()
     << " values";
}

using gen::Rng;  // the generators' platform-independent PRNG

inline Case from_inputs(const gen::Inputs& in) {
  return {in.problem, Extras{}, in.Q, in.K, in.V, in.dO};
}

inline Tensor4<double> fill(Shape4 s, Rng& r, double amp = 1) {
  Tensor4<double> t(s);
  for (double& x : t.values()) x = amp * r.uniform();
  return t;
}

// ---- adding one variant (problem field + its extra tensor) ----------------
inline void add_softcap(Case& c, double cap) { c.problem.variants.softcap = cap; }
inline void add_alibi(Case& c, uint64_t seed) {
  Rng r{seed};
  c.problem.variants.alibi = true;
  c.extras.alibi_slopes.clear();
  for (int64_t h = 0; h < c.problem.heads_q; ++h) c.extras.alibi_slopes.push_back(r.uniform01());
}
inline void add_sinks(Case& c, uint64_t seed) {
  Rng r{seed};
  c.problem.variants.sinks = true;
  c.extras.sinks.clear();
  for (int64_t h = 0; h < c.problem.heads_q; ++h) c.extras.sinks.push_back(3 * r.uniform());
}
inline void add_dropout(Case& c, double p, uint64_t seed) {
  Rng r{seed};
  c.problem.variants.dropout_p = p;
  c.extras.keep = Tensor4<uint8_t>(score_shape(c.problem));
  for (auto& k : c.extras.keep.values()) k = r.uniform01() >= p;
}
// Some entries -inf (hidden), as FlexAttention's masking through score_mod.
inline void add_bias(Case& c, uint64_t seed) {
  Rng r{seed};
  c.problem.variants.bias = true;
  c.extras.bias = fill(score_shape(c.problem), r, 2);
  for (double& x : c.extras.bias.values())
    if (r.uniform01() < 0.1) x = -std::numeric_limits<double>::infinity();
}
inline void add_bool_mask(Case& c, uint64_t seed) {
  Rng r{seed};
  c.problem.variants.bool_mask = true;
  c.extras.mask = Tensor4<uint8_t>(score_shape(c.problem));
  for (auto& k : c.extras.mask.values()) k = r.uniform01() < 0.7;
}

// Contiguous [B][Hkv][Nk][d] K/V moved into pages of page_size rows; the
// block table is a seeded shuffle of distinct pages plus `spare` unused ones.
inline void make_paged(Case& c, int64_t page_size, int64_t spare, uint64_t seed) {
  Problem& p = c.problem;
  p.variants.page_size = page_size;
  const int64_t pps = pages_per_seq(p);
  p.variants.num_pages = p.batch * pps + spare;
  Rng r{seed};
  std::vector<int64_t> ids(p.variants.num_pages);
  for (int64_t i = 0; i < int64_t(ids.size()); ++i) ids[i] = i;
  for (int64_t i = int64_t(ids.size()) - 1; i > 0; --i) std::swap(ids[i], ids[r.next() % (i + 1)]);
  c.extras.block_table.assign(ids.begin(), ids.begin() + p.batch * pps);
  const Shape4 ps{p.variants.num_pages, p.heads_kv, page_size, p.head_dim};
  Tensor4<double> K = fill(ps, r), V = fill(ps, r);  // unused rows hold junk
  for (int64_t b = 0; b < p.batch; ++b)
    for (int64_t hk = 0; hk < p.heads_kv; ++hk)
      for (int64_t j = 0; j < p.seqlen_k; ++j)
        for (int64_t x = 0; x < p.head_dim; ++x) {
          const int64_t page = c.extras.block_table[b * pps + j / page_size];
          K(page, hk, j % page_size, x) = c.K(b, hk, j, x);
          V(page, hk, j % page_size, x) = c.V(b, hk, j, x);
        }
  c.K = std::move(K);
  c.V = std::move(V);
}

// ---- runs ------------------------------------------------------------------
struct Run {
  ForwardResult fwd;
  VariantGradients grad;
};
inline Run run(const Case& c) {
  ForwardResult f = variant_forward(c.problem, c.extras, c.Q, c.K, c.V);
  VariantGradients g = variant_backward(c.problem, c.extras, c.Q, c.K, c.V, f.O, f.LSE, c.dO);
  return {std::move(f), std::move(g)};
}

inline double max_abs_diff(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size()) return INFINITY;
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i] != b[i]) m = std::max(m, std::isnan(a[i] - b[i]) ? INFINITY : std::fabs(a[i] - b[i]));
  return m;
}

// max difference of every output of two runs over the same layout, relative
// to the largest magnitude of that output (floor 1).
inline double max_rel_diff(const Run& a, const Run& b) {
  auto rel = [](const Tensor4<double>& x, const Tensor4<double>& y) {
    return support::max_abs_diff(x, y) / std::max(1.0, support::max_abs(x));
  };
  double m = std::max({rel(a.fwd.O, b.fwd.O), rel(a.fwd.LSE, b.fwd.LSE), rel(a.grad.dQ, b.grad.dQ),
                       rel(a.grad.dK, b.grad.dK), rel(a.grad.dV, b.grad.dV)});
  if (a.grad.dbias.size() == b.grad.dbias.size() && a.grad.dbias.size())
    m = std::max(m, rel(a.grad.dbias, b.grad.dbias));
  return std::max(m, max_abs_diff(a.grad.dsinks, b.grad.dsinks));
}

}  // namespace vsupport
}  // namespace flashcheck

namespace flashcheck {
namespace vsupport {

// Pages filled from the seed and a block table drawn with replacement, so
// pages may be shared by batch entries (prefix caching): dK, dV of a shared
// page sum over its sharers.
inline void make_paged_shared(Case& c, int64_t page_size, int64_t num_pages, uint64_t seed) {
  Problem& p = c.problem;
  p.variants.page_size = page_size;
  p.variants.num_pages = num_pages;
  Rng r{seed};
  c.extras.block_table.resize(p.batch * pages_per_seq(p));
  for (int64_t& x : c.extras.block_table) x = int64_t(r.next() % uint64_t(num_pages));
  const Shape4 ps{num_pages, p.heads_kv, page_size, p.head_dim};
  c.K = fill(ps, r);
  c.V = fill(ps, r);
}

// A contiguous case packed into varlen layout: sequence b keeps its first
// nq[b] queries and nk[b] keys (0 allowed); the [B][Hq][Nq][Nk] extras keep
// their padded shape (indexed by position within the sequence).
inline void make_varlen(Case& c, const std::vector<int64_t>& nq, const std::vector<int64_t>& nk) {
  Problem& p = c.problem;
  p.variants.varlen = true;
  auto cu = [](const std::vector<int64_t>& n) {
    std::vector<int64_t> s{0};
    for (int64_t x : n) s.push_back(s.back() + x);
    return s;
  };
  c.extras.cu_seqlens_q = cu(nq);
  c.extras.cu_seqlens_k = cu(nk);
  auto pack = [&](const Tensor4<double>& t, const std::vector<int64_t>& cs, const std::vector<int64_t>& n) {
    Tensor4<double> out({1, t.shape().H, cs.back(), t.shape().D});
    for (int64_t b = 0; b < p.batch; ++b)
      for (int64_t h = 0; h < t.shape().H; ++h)
        for (int64_t i = 0; i < n[b]; ++i)
          for (int64_t x = 0; x < t.shape().D; ++x) out(0, h, cs[b] + i, x) = t(b, h, i, x);
    return out;
  };
  c.Q = pack(c.Q, c.extras.cu_seqlens_q, nq);
  c.dO = pack(c.dO, c.extras.cu_seqlens_q, nq);
  c.K = pack(c.K, c.extras.cu_seqlens_k, nk);
  c.V = pack(c.V, c.extras.cu_seqlens_k, nk);
}

// Score variants (softcap, alibi, sinks, dropout, bias, mask) chosen by the
// bits of `which`, values from `seed`.
enum Score : unsigned { softcap = 1, alibi = 2, sinks = 4, dropout = 8, bias = 16, mask = 32 };
constexpr unsigned kAllScore = 63;
inline void add_score_variants(Case& c, unsigned which, double cap, double p, uint64_t seed) {
  if (which & softcap) add_softcap(c, cap);
  if (which & alibi) add_alibi(c, seed + 1);
  if (which & sinks) add_sinks(c, seed + 2);
  if (which & dropout) add_dropout(c, p, seed + 3);
  if (which & bias) add_bias(c, seed + 4);
  if (which & mask) add_bool_mask(c, seed + 5);
}

// RapidCheck choices for add_score_variants: the forced bits always on, the
// rest drawn.
inline void draw_score_variants(Case& c, unsigned forced) {
  const unsigned drawn = *rc::gen::inRange<unsigned>(0, kAllScore + 1);
  const double cap = *gen::pick<double>({1.0, 5.0, 30.0});
  const double p = *gen::pick<double>({0.25, 0.5, 0.0});
  add_score_variants(c, forced | drawn, cap, p, *rc::gen::arbitrary<uint64_t>());
}

// Per-sequence lengths in [0, max], leaning to 0 and max.
inline std::vector<int64_t> draw_lengths(int64_t batch, int64_t max) {
  std::vector<int64_t> n;
  for (int64_t b = 0; b < batch; ++b)
    n.push_back(*gen::weighted<int64_t>({{2, rc::gen::just(max)},
                                         {1, rc::gen::just<int64_t>(0)},
                                         {3, rc::gen::inRange<int64_t>(0, max + 1)}}));
  return n;
}

}  // namespace vsupport
}  // namespace flashcheck
