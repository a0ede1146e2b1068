// Standard attention with variants in the dtype, row by row, in the order and
// rounding of baseline.cpp (every float32 dot product summed sequentially in
// index order; results stored rounded to the dtype), so that at neutral
// variant settings the two agree bit for bit.
#include "reference/variant_baseline.hpp"

#include <cmath>
#include <limits>

#include "reference/baseline.hpp"
#include "reference/variant_rows.hpp"

namespace flashcheck {
namespace {

using namespace variant_rows;
constexpr float kNegInfF = -std::numeric_limits<float>::infinity();

float rounded(float x, DType t) { return static_cast<float>(round_to_dtype(x, t)); }

// Sequential float32 dot product of two rows held in doubles exact in float.
float dotf(const double* a, const double* b, int64_t n) {
  float s = 0;
  for (int64_t x = 0; x < n; ++x) s += float(a[x]) * float(b[x]);
  return s;
}

// One query row's stored P (and what the backward needs), as the standard
// algorithm in the dtype forms it.
struct BaseRow {
  std::vector<float> P, Pz, tanh;  // P; P * keep / (1 - p) (dropout, else P); softcap's tanh
  std::vector<char> visible;
  float p_sink = 0, lse = kNegInfF;
};

void base_row(const Problem& p, const Extras& ex, const Rows& rows, const Tensor4<double>& Q,
              const Tensor4<double>& K, int64_t b, int64_t h, int64_t i, int64_t nq, int64_t nk,
              BaseRow& r) {
  const Variants& v = p.variants;
  const DType t = p.dtype;
  const int64_t d = p.head_dim, hk = p.kv_head_of(h);
  const float scale = static_cast<float>(p.softmax_scale());
  std::vector<float> s(nk, kNegInfF);
  r.P.assign(nk, 0.0f);
  r.Pz.assign(nk, 0.0f);
  r.tanh.assign(nk, 0.0f);
  r.visible.assign(nk, 0);
  const float sink = v.sinks ? float(ex.sinks[h]) : kNegInfF;
  const Range keys = p.mask.key_range(i, nq, nk);
  const double* q = Q.data() + rows.q(Q, b, h, i);
  float m = sink;
  for (int64_t j = keys.begin; j < keys.end; ++j) {
    if (v.bool_mask && !ex.mask(b, h, i, j)) continue;
    float x = rounded(scale * dotf(q, K.data() + rows.kv(K, b, hk, j), d), t);
    const bool modded = v.softcap || v.alibi || v.bias;
    if (v.softcap) {
      const float cap = float(*v.softcap);
      r.tanh[j] = std::tanh(x / cap);
      x = cap * r.tanh[j];
    }
    if (v.alibi) x -= float(ex.alibi_slopes[h]) * std::fabs(float(i + nk - nq - j));
    if (v.bias) x += float(ex.bias(b, h, i, j));
    if (modded) x = rounded(x, t);
    if (x == kNegInfF) continue;  // a -inf bias hides the key
    s[j] = x;
    r.visible[j] = 1;
    m = std::max(m, x);
  }
  if (m == kNegInfF) {  // no key, no sink: P row 0, LSE -inf
    r.lse = kNegInfF;
    return;
  }
  float l = std::exp(sink - m);
  for (int64_t j = 0; j < nk; ++j)
    if (r.visible[j]) l += std::exp(s[j] - m);
  const float z = v.dropout_p ? float(1 / (1 - *v.dropout_p)) : 1.0f;
  for (int64_t j = 0; j < nk; ++j) {
    if (!r.visible[j]) continue;
    r.P[j] = rounded(std::exp(s[j] - m) / l, t);
    r.Pz[j] = !v.dropout_p ? r.P[j] : ex.keep(b, h, i, j) ? rounded(r.P[j] * z, t) : 0.0f;
  }
  r.p_sink = v.sinks ? rounded(std::exp(sink - m) / l, t) : 0.0f;
  r.lse = m + std::log(l);
}

}  // namespace

ForwardResult variant_baseline_forward(const Problem& p, const Extras& ex, const Tensor4<double>& Q,
                                       const Tensor4<double>& K, const Tensor4<double>& V) {
  if (p.dtype == DType::f64) return variant_forward(p, ex, Q, K, V);
  require_variant_inputs(p, ex, Q, K, V);
  ForwardResult r{Tensor4<double>(variant_q_shape(p, ex)), Tensor4<double>(variant_lse_shape(p, ex))};
  const Rows rows{p, ex};
  const int64_t d = p.head_dim;
  BaseRow br;
  std::vector<float> o(d);
  for (int64_t b = 0; b < p.batch; ++b) {
    const int64_t nq = seq_len_q(p, ex, b), nk = seq_len_k(p, ex, b);
    for (int64_t h = 0; h < p.heads_q; ++h)
      for (int64_t i = 0; i < nq; ++i) {
        base_row(p, ex, rows, Q, K, b, h, i, nq, nk, br);
        r.LSE.data()[rows.q(r.LSE, b, h, i)] = br.lse;
        std::fill(o.begin(), o.end(), 0.0f);
        for (int64_t j = 0; j < nk; ++j) {
          if (br.Pz[j] == 0) continue;
          const double* vj = V.data() + rows.kv(V, b, p.kv_head_of(h), j);
          for (int64_t x = 0; x < d; ++x) o[x] += br.Pz[j] * float(vj[x]);
        }
        double* out = r.O.data() + rows.q(r.O, b, h, i);
        for (int64_t x = 0; x < d; ++x) out[x] = round_to_dtype(o[x], p.dtype);
      }
  }
  return r;
}

VariantGradients variant_baseline_backward(const Problem& p, const Extras& ex,
                                           const Tensor4<double>& Q, const Tensor4<double>& K,
                                           const Tensor4<double>& V, const Tensor4<double>& O,
                                           const Tensor4<double>& LSE, const Tensor4<double>& dO) {
  if (p.dtype == DType::f64) return variant_backward(p, ex, Q, K, V, O, LSE, dO);
  require_variant_inputs(p, ex, Q, K, V);
  require_shape(O.shape(), variant_q_shape(p, ex), "O");
  require_shape(dO.shape(), variant_q_shape(p, ex), "dO");
  require_shape(LSE.shape(), variant_lse_shape(p, ex), "LSE");
  const Variants& v = p.variants;
  const DType t = p.dtype;
  const int64_t d = p.head_dim;
  const float scale = static_cast<float>(p.softmax_scale());
  const float z = v.dropout_p ? float(1 / (1 - *v.dropout_p)) : 1.0f;
  VariantGradients g{Tensor4<double>(variant_q_shape(p, ex)), Tensor4<double>(variant_kv_shape(p, ex)),
                     Tensor4<double>(variant_kv_shape(p, ex)),
                     v.bias ? Tensor4<double>(score_shape(p)) : Tensor4<double>(),
                     std::vector<double>(v.sinks ? p.heads_q : 0, 0.0)};
  // float32 accumulators of dK, dV (paged: per page, so sharers sum here),
  // and per head the group member's sums before scale (baseline.cpp's order).
  const Shape4 kvs = variant_kv_shape(p, ex);
  std::vector<float> dk(kvs.size(), 0.0f), dv(kvs.size(), 0.0f), dsinks(p.heads_q, 0.0f);
  const Rows rows{p, ex};
  BaseRow br;
  std::vector<float> ds, dq(d);
  std::vector<float> hdk, hdv;  // one head's sum over its rows: [nk][d]
  for (int64_t b = 0; b < p.batch; ++b) {
    const int64_t nq = seq_len_q(p, ex, b), nk = seq_len_k(p, ex, b);
    for (int64_t h = 0; h < p.heads_q; ++h) {
      const int64_t hk = p.kv_head_of(h);
      hdk.assign(nk * d, 0.0f);
      hdv.assign(nk * d, 0.0f);
      for (int64_t i = 0; i < nq; ++i) {
        base_row(p, ex, rows, Q, K, b, h, i, nq, nk, br);
        const double* q = Q.data() + rows.q(Q, b, h, i);
        const double* dout = dO.data() + rows.q(dO, b, h, i);
        const double* o = O.data() + rows.q(O, b, h, i);
        float D = 0;
        for (int64_t x = 0; x < d; ++x) D += float(dout[x]) * float(o[x]);
        if (v.sinks) dsinks[h] += rounded(br.p_sink * (0.0f - D), t);  // the sink's dS
        ds.assign(nk, 0.0f);
        for (int64_t j = 0; j < nk; ++j) {
          if (!br.visible[j]) continue;
          float dp = rounded(dotf(dout, V.data() + rows.kv(V, b, hk, j), d), t);
          if (v.dropout_p) dp = ex.keep(b, h, i, j) ? rounded(dp * z, t) : 0.0f;
          ds[j] = rounded(br.P[j] * (dp - D), t);
          if (v.bias) g.dbias(b, h, i, j) = ds[j];
          if (v.softcap) ds[j] = rounded(ds[j] * (1 - br.tanh[j] * br.tanh[j]), t);
        }
        std::fill(dq.begin(), dq.end(), 0.0f);
        for (int64_t j = 0; j < nk; ++j) {
          if (ds[j] != 0) {
            const double* kj = K.data() + rows.kv(K, b, hk, j);
            for (int64_t x = 0; x < d; ++x) {
              dq[x] += ds[j] * float(kj[x]);
              hdk[j * d + x] += ds[j] * float(q[x]);
            }
          }
          if (br.Pz[j] != 0)
            for (int64_t x = 0; x < d; ++x) hdv[j * d + x] += br.Pz[j] * float(dout[x]);
        }
        double* gq = g.dQ.data() + rows.q(g.dQ, b, h, i);
        for (int64_t x = 0; x < d; ++x) gq[x] = round_to_dtype(scale * dq[x], t);
      }
      for (int64_t j = 0; j < nk; ++j) {
        const int64_t at = rows.kv(g.dK, b, hk, j);
        for (int64_t x = 0; x < d; ++x) {
          dk[at + x] += scale * hdk[j * d + x];
          dv[at + x] += hdv[j * d + x];
        }
      }
    }
  }
  for (int64_t e = 0; e < kvs.size(); ++e) {
    g.dK.values()[e] = round_to_dtype(dk[e], t);
    g.dV.values()[e] = round_to_dtype(dv[e], t);
  }
  for (int64_t h = 0; h < int64_t(g.dsinks.size()); ++h) g.dsinks[h] = round_to_dtype(dsinks[h], t);
  return g;
}

}  // namespace flashcheck
