// The row machinery of the variant oracle, shared by the float64 reference
// (variant_attention.cpp), its allowance (variant_error_model.cpp) and the
// low-precision baseline (variant_baseline.cpp), so the three agree on where
// a row lives (varlen packing, pages) and which keys it sees. Internal to
// reference/.
#pragma once
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "reference/variant_attention.hpp"

namespace flashcheck {
namespace variant_rows {

constexpr double kNegInf = -std::numeric_limits<double>::infinity();

// Where row i of sequence b lives in a Q-like (Q, O, dO, dQ, LSE) or K-like
// (K, V, dK, dV) tensor: element offsets into that tensor.
struct Rows {
  const Problem& p;
  const Extras& ex;
  int64_t q(const Tensor4<double>& t, int64_t b, int64_t h, int64_t i) const {
    return p.variants.varlen ? t.offset(0, h, ex.cu_seqlens_q[b] + i, 0) : t.offset(b, h, i, 0);
  }
  int64_t kv(const Tensor4<double>& t, int64_t b, int64_t hk, int64_t j) const {
    if (p.variants.varlen) return t.offset(0, hk, ex.cu_seqlens_k[b] + j, 0);
    if (p.variants.page_size) {
      const int64_t ps = *p.variants.page_size;
      return t.offset(ex.block_table[b * pages_per_seq(p) + j / ps], hk, j % ps, 0);
    }
    return t.offset(b, hk, j, 0);
  }
};

inline double dot(const double* a, const double* b, int64_t n) {
  double s = 0;
  for (int64_t x = 0; x < n; ++x) s += a[x] * b[x];
  return s;
}

// One query row's scores over its sequence's keys, and what the backward
// needs of them. visible[j] false: s[j] = -inf, P = 0, no gradient.
struct RowScores {
  std::vector<double> s, dcap;  // final score; d s / d (scale q.k) (softcap's 1 - tanh^2)
  std::vector<double> raw;      // scale q.k, before any score variant
  std::vector<char> visible;
  double sink = kNegInf;
};

inline void row_scores(const Problem& p, const Extras& ex, const Rows& rows, const Tensor4<double>& Q,
                const Tensor4<double>& K, int64_t b, int64_t h, int64_t i, int64_t nq,
                int64_t nk, RowScores& r) {
  const Variants& v = p.variants;
  const int64_t d = p.head_dim, hk = p.kv_head_of(h);
  const double scale = p.softmax_scale();
  r.s.assign(nk, kNegInf);
  r.dcap.assign(nk, 1.0);
  r.raw.assign(nk, 0.0);
  r.visible.assign(nk, 0);
  r.sink = v.sinks ? ex.sinks[h] : kNegInf;
  const Range keys = p.mask.key_range(i, nq, nk);
  const double* q = Q.data() + rows.q(Q, b, h, i);
  for (int64_t j = keys.begin; j < keys.end; ++j) {
    if (v.bool_mask && !ex.mask(b, h, i, j)) continue;
    double s = scale * dot(q, K.data() + rows.kv(K, b, hk, j), d);
    r.raw[j] = s;
    if (v.softcap) {
      const double t = std::tanh(s / *v.softcap);
      s = *v.softcap * t;
      r.dcap[j] = 1 - t * t;
    }
    if (v.alibi) s -= ex.alibi_slopes[h] * std::fabs(double(i + nk - nq - j));
    if (v.bias) s += ex.bias(b, h, i, j);
    if (s == kNegInf) continue;  // a -inf bias hides the key
    r.s[j] = s;
    r.visible[j] = 1;
  }
}

inline double keep_scale(const Problem& p, const Extras& ex, int64_t b, int64_t h, int64_t i, int64_t j) {
  if (!p.variants.dropout_p) return 1;
  return ex.keep(b, h, i, j) ? 1 / (1 - *p.variants.dropout_p) : 0;
}

}  // namespace variant_rows
}  // namespace flashcheck
