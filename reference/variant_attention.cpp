// Float64 attention with variants, one (sequence, head, query row) at a time
// in plain scalar loops: build the row's scores as variants.hpp lists them,
// take the max (sink included) before exp, and in the backward recompute P
// from LSE as FlashAttention does. Layout (varlen packing, pages) is only
// in where a row lives (Rows), so the arithmetic is written once.
#include "reference/variant_attention.hpp"

#include "reference/variant_rows.hpp"

#include <cmath>
#include <limits>
#include <string>

namespace flashcheck {
namespace {

using namespace variant_rows;

std::string num(int64_t v) { return std::to_string(v); }

void require_len(const char* field, size_t got, int64_t want, const char* what) {
  if (int64_t(got) != want)
    throw ProblemError(field, std::string("expected ") + num(want) + " values (" + what + "), got " +
                                  num(int64_t(got)));
}

template <class T>
void require_score_tensor(const char* field, const Tensor4<T>& t, const Problem& p) {
  if (t.shape() != score_shape(p))
    throw ProblemError(field, "shape " + t.shape().str() + " expected " + score_shape(p).str() +
                                  " ([batch][heads_q][seqlen_q][seqlen_k])");
}

template <class T>
void require_absent(const char* field, const Tensor4<T>& t, const char* variant) {
  if (t.size() != 0 || t.shape() != Shape4{})
    throw ProblemError(field, std::string("given but ") + variant + " is off");
}
void require_absent(const char* field, size_t n, const char* variant) {
  if (n != 0) throw ProblemError(field, std::string("given but ") + variant + " is off");
}

void check_cu(const char* field, const std::vector<int64_t>& cu, int64_t batch, int64_t max_len) {
  require_len(field, cu.size(), batch + 1, "batch + 1");
  if (cu[0] != 0) throw ProblemError(field, "must start at 0, got " + num(cu[0]));
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t n = cu[b + 1] - cu[b];
    if (n < 0 || n > max_len)
      throw ProblemError(field, "sequence " + num(b) + " has length " + num(n) +
                                    ", outside [0, " + num(max_len) + "] (the problem's maximum)");
  }
}

}  // namespace

int64_t pages_per_seq(const Problem& p) {
  if (!p.variants.page_size) return 0;
  return (p.seqlen_k + *p.variants.page_size - 1) / *p.variants.page_size;
}

int64_t seq_len_q(const Problem& p, const Extras& ex, int64_t b) {
  return p.variants.varlen ? ex.cu_seqlens_q[b + 1] - ex.cu_seqlens_q[b] : p.seqlen_q;
}
int64_t seq_len_k(const Problem& p, const Extras& ex, int64_t b) {
  return p.variants.varlen ? ex.cu_seqlens_k[b + 1] - ex.cu_seqlens_k[b] : p.seqlen_k;
}

Shape4 variant_q_shape(const Problem& p, const Extras& ex) {
  if (p.variants.varlen) return {1, p.heads_q, ex.cu_seqlens_q.at(p.batch), p.head_dim};
  return q_shape(p);
}
Shape4 variant_kv_shape(const Problem& p, const Extras& ex) {
  if (p.variants.varlen) return {1, p.heads_kv, ex.cu_seqlens_k.at(p.batch), p.head_dim};
  if (p.variants.page_size) return {p.variants.num_pages, p.heads_kv, *p.variants.page_size, p.head_dim};
  return kv_shape(p);
}
Shape4 variant_lse_shape(const Problem& p, const Extras& ex) {
  Shape4 s = variant_q_shape(p, ex);
  s.D = 1;
  return s;
}

void validate_extras(const Problem& p, const Extras& ex) {
  p.validate();
  const Variants& v = p.variants;
  if (v.alibi) {
    require_len("extras.alibi_slopes", ex.alibi_slopes.size(), p.heads_q, "heads_q");
    for (double s : ex.alibi_slopes)
      if (!std::isfinite(s)) throw ProblemError("extras.alibi_slopes", "must be finite");
  } else {
    require_absent("extras.alibi_slopes", ex.alibi_slopes.size(), "variants.alibi");
  }
  if (v.sinks) {
    require_len("extras.sinks", ex.sinks.size(), p.heads_q, "heads_q");
    for (double s : ex.sinks)
      if (std::isnan(s) || s == -kNegInf)
        throw ProblemError("extras.sinks", "must be finite or -inf (no sink)");
  } else {
    require_absent("extras.sinks", ex.sinks.size(), "variants.sinks");
  }
  if (v.dropout_p) require_score_tensor("extras.keep", ex.keep, p);
  else require_absent("extras.keep", ex.keep, "variants.dropout_p");
  if (v.bias) {
    require_score_tensor("extras.bias", ex.bias, p);
    for (double x : ex.bias.values())
      if (std::isnan(x) || x == -kNegInf)
        throw ProblemError("extras.bias", "must be finite or -inf (hidden)");
  } else {
    require_absent("extras.bias", ex.bias, "variants.bias");
  }
  if (v.bool_mask) require_score_tensor("extras.mask", ex.mask, p);
  else require_absent("extras.mask", ex.mask, "variants.bool_mask");
  if (v.varlen) {
    check_cu("extras.cu_seqlens_q", ex.cu_seqlens_q, p.batch, p.seqlen_q);
    check_cu("extras.cu_seqlens_k", ex.cu_seqlens_k, p.batch, p.seqlen_k);
  } else {
    require_absent("extras.cu_seqlens_q", ex.cu_seqlens_q.size(), "variants.varlen");
    require_absent("extras.cu_seqlens_k", ex.cu_seqlens_k.size(), "variants.varlen");
  }
  if (v.page_size) {
    require_len("extras.block_table", ex.block_table.size(), p.batch * pages_per_seq(p),
                "batch * ceil(seqlen_k / page_size)");
    for (int64_t x : ex.block_table)
      if (x < 0 || x >= v.num_pages)
        throw ProblemError("extras.block_table", "page " + num(x) + " outside [0, " +
                                                     num(v.num_pages) + ") (variants.num_pages)");
  } else {
    require_absent("extras.block_table", ex.block_table.size(), "variants.page_size");
  }
}

void require_variant_inputs(const Problem& p, const Extras& ex, const Tensor4<double>& Q,
                            const Tensor4<double>& K, const Tensor4<double>& V) {
  validate_extras(p, ex);
  require_shape(Q.shape(), variant_q_shape(p, ex), "Q");
  require_shape(K.shape(), variant_kv_shape(p, ex), "K");
  require_shape(V.shape(), variant_kv_shape(p, ex), "V");
}

ForwardResult variant_forward(const Problem& p, const Extras& ex, const Tensor4<double>& Q,
                              const Tensor4<double>& K, const Tensor4<double>& V) {
  require_variant_inputs(p, ex, Q, K, V);
  ForwardResult r{Tensor4<double>(variant_q_shape(p, ex)), Tensor4<double>(variant_lse_shape(p, ex))};
  const Rows rows{p, ex};
  const int64_t d = p.head_dim;
  RowScores rs;
  for (int64_t b = 0; b < p.batch; ++b) {
    const int64_t nq = seq_len_q(p, ex, b), nk = seq_len_k(p, ex, b);
    for (int64_t h = 0; h < p.heads_q; ++h)
      for (int64_t i = 0; i < nq; ++i) {
        row_scores(p, ex, rows, Q, K, b, h, i, nq, nk, rs);
        double m = rs.sink;
        for (int64_t j = 0; j < nk; ++j)
          if (rs.visible[j]) m = std::max(m, rs.s[j]);
        double& lse = r.LSE.data()[rows.q(r.LSE, b, h, i)];
        if (m == kNegInf) {  // no key, no sink: O = 0, LSE = -inf
          lse = kNegInf;
          continue;
        }
        double l = std::exp(rs.sink - m);
        for (int64_t j = 0; j < nk; ++j)
          if (rs.visible[j]) l += std::exp(rs.s[j] - m);
        lse = m + std::log(l);
        double* o = r.O.data() + rows.q(r.O, b, h, i);
        for (int64_t j = 0; j < nk; ++j) {
          if (!rs.visible[j]) continue;
          const double w = std::exp(rs.s[j] - lse) * keep_scale(p, ex, b, h, i, j);
          const double* vj = V.data() + rows.kv(V, b, p.kv_head_of(h), j);
          for (int64_t x = 0; x < d; ++x) o[x] += w * vj[x];
        }
      }
  }
  return r;
}

VariantGradients variant_backward(const Problem& p, const Extras& ex, const Tensor4<double>& Q,
                                  const Tensor4<double>& K, const Tensor4<double>& V,
                                  const Tensor4<double>& O, const Tensor4<double>& LSE,
                                  const Tensor4<double>& dO) {
  require_variant_inputs(p, ex, Q, K, V);
  require_shape(O.shape(), variant_q_shape(p, ex), "O");
  require_shape(dO.shape(), variant_q_shape(p, ex), "dO");
  require_shape(LSE.shape(), variant_lse_shape(p, ex), "LSE");
  const Variants& v = p.variants;
  VariantGradients g{Tensor4<double>(variant_q_shape(p, ex)), Tensor4<double>(variant_kv_shape(p, ex)),
                     Tensor4<double>(variant_kv_shape(p, ex)),
                     v.bias ? Tensor4<double>(score_shape(p)) : Tensor4<double>(),
                     std::vector<double>(v.sinks ? p.heads_q : 0, 0.0)};
  const Rows rows{p, ex};
  const int64_t d = p.head_dim;
  const double scale = p.softmax_scale();
  RowScores rs;
  for (int64_t b = 0; b < p.batch; ++b) {
    const int64_t nq = seq_len_q(p, ex, b), nk = seq_len_k(p, ex, b);
    for (int64_t h = 0; h < p.heads_q; ++h) {
      const int64_t hk = p.kv_head_of(h);
      for (int64_t i = 0; i < nq; ++i) {
        const double lse = LSE.data()[rows.q(LSE, b, h, i)];
        if (lse == kNegInf) continue;  // no key, no sink: zero gradient by definition
        row_scores(p, ex, rows, Q, K, b, h, i, nq, nk, rs);
        const double* q = Q.data() + rows.q(Q, b, h, i);
        const double* dout = dO.data() + rows.q(dO, b, h, i);
        const double Di = dot(dout, O.data() + rows.q(O, b, h, i), d);
        double* dq = g.dQ.data() + rows.q(g.dQ, b, h, i);
        if (v.sinks) g.dsinks[h] -= std::exp(rs.sink - lse) * Di;  // the sink's value is 0
        for (int64_t j = 0; j < nk; ++j) {
          if (!rs.visible[j]) continue;
          const double P = std::exp(rs.s[j] - lse), z = keep_scale(p, ex, b, h, i, j);
          const double* vj = V.data() + rows.kv(V, b, hk, j);
          const double dS = P * (z * dot(dout, vj, d) - Di);
          if (v.bias) g.dbias(b, h, i, j) = dS;
          const double dqk = scale * dS * rs.dcap[j];  // d loss / d (q . k)
          const double* kj = K.data() + rows.kv(K, b, hk, j);
          double* dk = g.dK.data() + rows.kv(g.dK, b, hk, j);
          double* dv = g.dV.data() + rows.kv(g.dV, b, hk, j);
          for (int64_t x = 0; x < d; ++x) {
            dq[x] += dqk * kj[x];
            dk[x] += dqk * q[x];
            dv[x] += P * z * dout[x];
          }
        }
      }
    }
  }
  return g;
}

}  // namespace flashcheck
