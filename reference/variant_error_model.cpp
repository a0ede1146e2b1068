// The per-element allowance of a correct implementation for problems with
// variants: error_model.cpp's first-order model row by row over the variant
// oracle's rows (variant_rows.hpp), with the terms the variants add
// (reference/README.md, "The allowance of the variants"):
//   score  delta S_ij = ua (d sigma_ij dcap_ij + x_ij), x_ij the magnitudes
//          the score variants round: softcap dcap |raw| + 2 |capped|, ALiBi
//          2 |slope dist| + |capped|, bias |bias| + |before bias|;
//   sink   one more softmax term, exact logit: eps = ua (2|sink| + 2|LSE| + 2) + us';
//   dropout P z formed once more: eps += ua + us'; z weights V, dP, dV;
//   softcap dS (1 - t^2): (1 - t^2) carries 2|t| delta t + 2 ua;
//   dbias  = dS: its allowance is dS's; dsinks = -sum P_sink D: P_sink's, D's.
#include <algorithm>
#include <cmath>

#include "reference/error_model.hpp"
#include "reference/variant_rows.hpp"

namespace flashcheck {
namespace {

using namespace variant_rows;

// The per-row quantities of the model, for the visible keys of one row.
struct RowModel {
  std::vector<double> P, z, eps, err, s_err, sigma;
  double p_sink = 0, err_sink = 0;
  double n = 0, nvis = 0;  // terms of the softmax sum (sink included) / visible keys
};

}  // namespace

Allowance variant_allowance(const Problem& p, const Extras& ex, const Tensor4<double>& Q,
                            const Tensor4<double>& K, const Tensor4<double>& V,
                            const ForwardResult& ref, const Tensor4<double>* dO,
                            const VariantGradients* grad) {
  require_variant_inputs(p, ex, Q, K, V);
  require_shape(ref.O.shape(), variant_q_shape(p, ex), "reference O");
  require_shape(ref.LSE.shape(), variant_lse_shape(p, ex), "reference LSE");
  const bool backward = dO && grad;
  if (backward) {
    require_shape(dO->shape(), variant_q_shape(p, ex), "dO");
    require_shape(grad->dQ.shape(), variant_q_shape(p, ex), "reference dQ");
    require_shape(grad->dK.shape(), variant_kv_shape(p, ex), "reference dK");
  }
  const Variants& v = p.variants;
  const double ua = accumulation_roundoff(p.dtype), us = storage_roundoff(p.dtype);
  const double us_p = p.dtype == DType::f32 || p.dtype == DType::f64 ? 0.0 : us;
  const double theta = underflow_spacing(p.dtype);
  const double scale = p.softmax_scale();
  const int64_t d = p.head_dim;
  const Shape4 qs = variant_q_shape(p, ex), kvs = variant_kv_shape(p, ex);
  Allowance a{Tensor4<double>(qs), Tensor4<double>(variant_lse_shape(p, ex)), {}, {}, {}};
  Tensor4<double> dk_mag, dv_mag, count;
  std::vector<double> sink_mag(p.heads_q, 0.0), sink_count(p.heads_q, 0.0);
  if (backward) {
    a.dQ = Tensor4<double>(qs);
    a.dK = Tensor4<double>(kvs);
    a.dV = Tensor4<double>(kvs);
    dk_mag = Tensor4<double>(kvs);
    dv_mag = Tensor4<double>(kvs);
    count = Tensor4<double>(kvs);
    if (v.bias) a.dbias = Tensor4<double>(score_shape(p));
    if (v.sinks) a.dsinks.assign(p.heads_q, 0.0);
  }
  const Rows rows{p, ex};
  RowScores rs;
  RowModel r;
  for (int64_t b = 0; b < p.batch; ++b) {
    const int64_t nq = seq_len_q(p, ex, b), nk = seq_len_k(p, ex, b);
    for (int64_t h = 0; h < p.heads_q; ++h) {
      const int64_t hk = p.kv_head_of(h);
      for (int64_t i = 0; i < nq; ++i) {
        const double lse = ref.LSE.data()[rows.q(ref.LSE, b, h, i)];
        if (lse == kNegInf) continue;  // O = 0, LSE = -inf, zero gradients exactly
        row_scores(p, ex, rows, Q, K, b, h, i, nq, nk, rs);
        const double* q = Q.data() + rows.q(Q, b, h, i);
        r.P.assign(nk, 0.0), r.z.assign(nk, 0.0), r.eps.assign(nk, 0.0);
        r.err.assign(nk, 0.0), r.s_err.assign(nk, 0.0), r.sigma.assign(nk, 0.0);
        r.nvis = 0;
        for (int64_t j = 0; j < nk; ++j) {
          if (!rs.visible[j]) continue;
          const double* kj = K.data() + rows.kv(K, b, hk, j);
          double sigma = 0;
          for (int64_t x = 0; x < d; ++x) sigma += std::fabs(q[x] * kj[x]);
          sigma *= scale;
          r.sigma[j] = sigma;
          const double capped = v.softcap ? *v.softcap * std::tanh(rs.raw[j] / *v.softcap) : rs.raw[j];
          const double alibi = v.alibi ? ex.alibi_slopes[h] * std::fabs(double(i + nk - nq - j)) : 0.0;
          double extra = 0;
          if (v.softcap) extra += rs.dcap[j] * std::fabs(rs.raw[j]) + 2 * std::fabs(capped);
          if (v.alibi) extra += 2 * std::fabs(alibi) + std::fabs(capped);
          if (v.bias) extra += std::fabs(ex.bias(b, h, i, j)) + std::fabs(capped - alibi);
          r.P[j] = std::exp(rs.s[j] - lse);
          r.z[j] = keep_scale(p, ex, b, h, i, j);
          r.s_err[j] = ua * (double(d) * sigma * rs.dcap[j] + extra);
          r.eps[j] = r.s_err[j] + ua * (2 * std::fabs(rs.s[j]) + 2 * std::fabs(lse) + 2) + us_p +
                     (v.dropout_p ? ua + us_p : 0.0);
          r.err[j] = r.P[j] * r.eps[j] + theta;
          r.nvis += 1;
        }
        r.p_sink = rs.sink == kNegInf ? 0.0 : std::exp(rs.sink - lse);
        r.err_sink = r.p_sink == 0 ? 0.0
                                   : r.p_sink * (ua * (2 * std::fabs(rs.sink) + 2 * std::fabs(lse) + 2) + us_p) + theta;
        r.n = r.nvis + (r.p_sink > 0 ? 1 : 0);
        double err_sum = r.err_sink, lse_err = 0;
        for (int64_t j = 0; j < nk; ++j) err_sum += r.err[j], lse_err += r.P[j] * r.s_err[j];
        a.LSE.data()[rows.q(a.LSE, b, h, i)] = lse_err + ua * (2 * std::fabs(lse) + r.n + 2);
        // O: perturbed P renormalised, the n-term sums, the final rounding.
        const double* o = ref.O.data() + rows.q(ref.O, b, h, i);
        double* ao = a.O.data() + rows.q(a.O, b, h, i);
        for (int64_t x = 0; x < d; ++x) {
          double w = 0, mag = 0;
          for (int64_t j = 0; j < nk; ++j) {
            if (r.P[j] == 0 && r.err[j] == 0) continue;
            const double vabs = std::fabs(V.data()[rows.kv(V, b, hk, j) + x]);
            w += r.err[j] * r.z[j] * vabs;
            mag += r.P[j] * r.z[j] * vabs;
          }
          const double oabs = std::fabs(o[x]);
          ao[x] = w + err_sum * oabs + ua * r.n * (mag + oabs) + us * oabs + theta;
        }
        if (!backward) continue;
        const double* dout = dO->data() + rows.q(*dO, b, h, i);
        double D = 0, D_err = 0;
        for (int64_t x = 0; x < d; ++x) {
          D += dout[x] * o[x];
          D_err += std::fabs(dout[x]) * ao[x] + ua * double(d) * std::fabs(dout[x] * o[x]);
        }
        std::vector<double> dP(nk, 0.0), dP_err(nk, 0.0);
        for (int64_t j = 0; j < nk; ++j) {
          if (!rs.visible[j]) continue;
          const double* vj = V.data() + rows.kv(V, b, hk, j);
          double dp = 0, mag = 0;
          for (int64_t x = 0; x < d; ++x) dp += dout[x] * vj[x], mag += std::fabs(dout[x] * vj[x]);
          dP[j] = r.z[j] * dp;
          dP_err[j] = r.z[j] * ua * double(d) * mag + (v.dropout_p ? (ua + us) * std::fabs(dP[j]) : 0.0);
          D_err += r.P[j] * (r.eps[j] * std::fabs(dP[j]) + dP_err[j]);
        }
        double* aq = a.dQ.data() + rows.q(a.dQ, b, h, i);
        const double* gq = grad->dQ.data() + rows.q(grad->dQ, b, h, i);
        std::vector<double> dq_err(d, 0.0), dq_mag(d, 0.0);
        for (int64_t j = 0; j < nk; ++j) {
          if (!rs.visible[j]) continue;
          const double g = r.P[j] * std::fabs(dP[j] - D);
          const double ds_err = r.err[j] * std::fabs(dP[j] - D) + r.P[j] * (dP_err[j] + D_err) +
                                (2 * ua + us) * g + theta;
          if (v.bias) a.dbias(b, h, i, j) = ds_err;
          double gk = g, ek = ds_err;  // the gradient of scale q.k: dS, or dS (1 - t^2)
          if (v.softcap) {
            const double t = std::tanh(rs.raw[j] / *v.softcap);
            const double draw = ua * (double(d) * r.sigma[j] + std::fabs(rs.raw[j]));  // raw's error
            const double dt = rs.dcap[j] * draw / *v.softcap + 2 * ua * std::fabs(t);
            gk = g * rs.dcap[j];
            ek = ds_err * rs.dcap[j] + g * (2 * std::fabs(t) * dt + 2 * ua) + (ua + us) * gk;
          }
          const double* kj = K.data() + rows.kv(K, b, hk, j);
          const int64_t at = rows.kv(a.dK, b, hk, j);
          for (int64_t x = 0; x < d; ++x) {
            dq_err[x] += ek * std::fabs(kj[x]);
            dq_mag[x] += gk * std::fabs(kj[x]);
            a.dK.values()[at + x] += scale * ek * std::fabs(q[x]);
            dk_mag.values()[at + x] += scale * gk * std::fabs(q[x]);
            a.dV.values()[at + x] += r.err[j] * r.z[j] * std::fabs(dout[x]);
            dv_mag.values()[at + x] += r.P[j] * r.z[j] * std::fabs(dout[x]);
            count.values()[at + x] += 1;
          }
        }
        for (int64_t x = 0; x < d; ++x)
          aq[x] = scale * (dq_err[x] + ua * r.nvis * dq_mag[x]) + us * std::fabs(gq[x]) + theta;
        if (v.sinks && r.p_sink > 0) {
          a.dsinks[h] += r.err_sink * std::fabs(D) + r.p_sink * D_err +
                         (2 * ua + us) * r.p_sink * std::fabs(D) + theta;
          sink_mag[h] += r.p_sink * std::fabs(D);
          sink_count[h] += 1;
        }
      }
    }
  }
  if (!backward) return a;
  // dK, dV (per page when paged): the sums over m_j terms, the final rounding.
  for (int64_t e = 0; e < kvs.size(); ++e) {
    const double m = count.values()[e];
    if (m == 0) continue;  // a key no query sees: exactly 0
    a.dK.values()[e] += ua * m * dk_mag.values()[e] + us * std::fabs(grad->dK.values()[e]) + theta;
    a.dV.values()[e] += ua * m * dv_mag.values()[e] + us * std::fabs(grad->dV.values()[e]) + theta;
  }
  for (int64_t h = 0; h < int64_t(a.dsinks.size()); ++h)
    if (sink_count[h] > 0)
      a.dsinks[h] += ua * sink_count[h] * sink_mag[h] + us * std::fabs(grad->dsinks[h]) + theta;
  return a;
}

}  // namespace flashcheck
