// Per-element error allowance of a correct implementation (first-order
// rounding analysis; reference/README.md derives each line). Notation per
// query row i and visible key j of one head:
//   sigma_ij = scale * sum_t |Q_it| |K_jt|   termwise magnitude of S_ij
//   eps_ij   = relative error of P_ij as a correct kernel forms it
//            = ua (d sigma_ij + 2 |S_ij| + 2 |LSE_i| + 2) + us'   (us' = us below f32)
//   g_ij     = |dS_ij| = P_ij |dP_ij - D_i|
// ua: accumulation roundoff, us: storage roundoff, n_i / m_j: the number of
// terms summed into a row of O, dQ / a row of dK, dV (gamma_n = n u).
#include "reference/error_model.hpp"

#include <cmath>

#include "reference/eigen_maps.hpp"

namespace flashcheck {
namespace {

using Vec = Eigen::VectorXd;
using RowVec = Eigen::RowVectorXd;

// Relative error of each P_ij of row i (keys in range), and P itself.
struct RowP {
  Vec P, eps, s_err;  // s_err: absolute error of S_ij (ua d sigma_ij)
  Vec err;            // absolute error of P_ij: P eps plus the underflow spacing
};

double underflow(DType t) { return underflow_spacing(t); }


RowP row_probabilities(const Problem& p, const ConstHeadMap& q, const ConstHeadMap& k,
                       int64_t i, Range keys, double lse) {
  const double scale = p.softmax_scale();
  const double ua = accumulation_roundoff(p.dtype);
  const double us_p = p.dtype == DType::f32 || p.dtype == DType::f64 ? 0.0 : storage_roundoff(p.dtype);
  const double d = static_cast<double>(p.head_dim);
  auto kb = k.middleRows(keys.begin, keys.size());
  const Vec s = scale * (kb * q.row(i).transpose());
  const Vec sigma = scale * (kb.cwiseAbs() * q.row(i).cwiseAbs().transpose());
  RowP r;
  r.P = exact_exp(s.array() - lse);
  r.s_err = ua * d * sigma;
  r.eps = (r.s_err.array() + ua * (2 * s.array().abs() + 2 * std::fabs(lse) + 2) + us_p).matrix();
  r.err = (r.P.cwiseProduct(r.eps).array() + underflow(p.dtype)).matrix();
  return r;
}

}  // namespace

// fp16's is large: 2^-24.
double underflow_spacing(DType t) {
  return t == DType::f64 ? 0x1p-1074 : t == DType::f16 ? 0x1p-24 : t == DType::bf16 ? 0x1p-133 : 0x1p-149;
}
double storage_roundoff(DType t) { return dtype_unit_roundoff(t); }
double accumulation_roundoff(DType t) {
  return t == DType::f64 ? dtype_unit_roundoff(DType::f64) : dtype_unit_roundoff(DType::f32);
}

Allowance forward_allowance(const Problem& p, const Tensor4<double>& Q, const Tensor4<double>& K,
                            const Tensor4<double>& V, const ForwardResult& ref) {
  require_qkv(p, Q, K, V);
  require_shape(ref.O.shape(), q_shape(p), "reference O");
  require_shape(ref.LSE.shape(), lse_shape(p), "reference LSE");
  const double ua = accumulation_roundoff(p.dtype), us = storage_roundoff(p.dtype);
  Allowance a{Tensor4<double>(q_shape(p)), Tensor4<double>(lse_shape(p)), {}, {}, {}};
  for (int64_t b = 0; b < p.batch; ++b)
    for (int64_t h = 0; h < p.heads_q; ++h) {
      auto q = head_of(Q, b, h);
      auto k = head_of(K, b, p.kv_head_of(h));
      auto v = head_of(V, b, p.kv_head_of(h));
      auto o = head_of(ref.O, b, h);
      auto ao = head_of(a.O, b, h);
      for (int64_t i = 0; i < p.seqlen_q; ++i) {
        const Range keys = p.key_range(i);
        if (keys.empty()) continue;  // O = 0 and LSE = -inf exactly: allowance 0
        const double lse = ref.LSE(b, h, i);
        const RowP r = row_probabilities(p, q, k, i, keys, lse);
        const double n = static_cast<double>(keys.size());
        auto vabs = v.middleRows(keys.begin, keys.size()).cwiseAbs();
        const Vec& w = r.err;  // |delta P_ij|
        const RowVec oabs = o.row(i).cwiseAbs();
        // delta O = sum_j P eps (V_j - O_i) (perturbed P, renormalised), the
        // sums over n keys (of P V and of l), the final rounding of O.
        ao.row(i) = w.transpose() * vabs + w.sum() * oabs +
                    ua * n * (r.P.transpose() * vabs + oabs) + us * oabs +
                    RowVec::Constant(oabs.size(), underflow(p.dtype));
        // LSE = m + log l in float32: the scores' error averaged by P, the
        // rounding of m, log and the sum l over n terms.
        a.LSE(b, h, i) = r.P.dot(r.s_err) + ua * (2 * std::fabs(lse) + n + 2);
      }
    }
  return a;
}

void add_backward_allowance(const Problem& p, const Tensor4<double>& Q, const Tensor4<double>& K,
                            const Tensor4<double>& V, const Tensor4<double>& dO,
                            const ForwardResult& ref, const Gradients& grad, Allowance& a) {
  require_qkv(p, Q, K, V);
  require_shape(dO.shape(), q_shape(p), "dO");
  require_shape(a.O.shape(), q_shape(p), "forward allowance O");
  require_shape(grad.dQ.shape(), q_shape(p), "reference dQ");
  require_shape(grad.dK.shape(), kv_shape(p), "reference dK");
  const double ua = accumulation_roundoff(p.dtype), us = storage_roundoff(p.dtype);
  const double scale = p.softmax_scale();
  const double d = static_cast<double>(p.head_dim);
  a.dQ = Tensor4<double>(q_shape(p));
  a.dK = Tensor4<double>(kv_shape(p));
  a.dV = Tensor4<double>(kv_shape(p));
  // Per KV head: sum_i of the error terms, sum_i of the magnitudes, and the
  // number of (query head, row) terms each key row of dK, dV sums.
  Tensor4<double> dk_mag(kv_shape(p)), dv_mag(kv_shape(p));
  Tensor4<double> count(Shape4{p.batch, p.heads_kv, p.seqlen_k, 1});
  for (int64_t b = 0; b < p.batch; ++b)
    for (int64_t h = 0; h < p.heads_q; ++h) {
      const int64_t hk = p.kv_head_of(h);
      auto q = head_of(Q, b, h);
      auto k = head_of(K, b, hk);
      auto v = head_of(V, b, hk);
      auto o = head_of(ref.O, b, h);
      auto dout = head_of(dO, b, h);
      auto aq = head_of(a.dQ, b, h);
      auto ak = head_of(a.dK, b, hk);
      auto av = head_of(a.dV, b, hk);
      auto mk = head_of(dk_mag, b, hk);
      auto mv = head_of(dv_mag, b, hk);
      auto ao = head_of(a.O, b, h);
      for (int64_t i = 0; i < p.seqlen_q; ++i) {
        const Range keys = p.key_range(i);
        if (keys.empty()) continue;  // zero gradients exactly
        const RowP r = row_probabilities(p, q, k, i, keys, ref.LSE(b, h, i));
        const double n = static_cast<double>(keys.size());
        auto kb = k.middleRows(keys.begin, keys.size());
        auto vb = v.middleRows(keys.begin, keys.size());
        const RowVec doabs = dout.row(i).cwiseAbs();
        const Vec dP = vb * dout.row(i).transpose();
        const Vec dP_err = ua * d * (vb.cwiseAbs() * doabs.transpose());
        const double D = dout.row(i).dot(o.row(i));
        // D from the kernel's own O (its allowance) in float32, or as
        // sum_j P_ij dP_ij: either way within this.
        const double D_err = doabs.dot(ao.row(i)) + ua * d * doabs.dot(o.row(i).cwiseAbs()) +
                             r.P.dot(r.eps.cwiseProduct(dP.cwiseAbs()) + dP_err);
        const Vec g = r.P.cwiseProduct((dP.array() - D).abs().matrix());
        // dS = P (dP - D): P's relative error, dP's and D's absolute ones,
        // the float32 subtraction and product, dS rounded to the dtype.
        const Vec dS_err = (r.err.cwiseProduct((dP.array() - D).abs().matrix()) +
                            r.P.cwiseProduct((dP_err.array() + D_err).matrix()) + (2 * ua + us) * g)
                               .array() +
                           underflow(p.dtype);
        auto kabs = kb.cwiseAbs();
        aq.row(i) = scale * (dS_err.transpose() * kabs + ua * n * (g.transpose() * kabs)) +
                    us * head_of(grad.dQ, b, h).row(i).cwiseAbs() +
                    RowVec::Constant(p.head_dim, underflow(p.dtype));
        const RowVec qabs = q.row(i).cwiseAbs();
        ak.middleRows(keys.begin, keys.size()).noalias() += scale * dS_err * qabs;
        mk.middleRows(keys.begin, keys.size()).noalias() += scale * g * qabs;
        av.middleRows(keys.begin, keys.size()).noalias() += r.err * doabs;
        mv.middleRows(keys.begin, keys.size()).noalias() += r.P * doabs;
        for (int64_t j = keys.begin; j < keys.end; ++j) count(b, hk, j) += 1;
      }
    }
  // dK, dV: the sums over m_j terms (the group's heads included), the final rounding.
  for (int64_t b = 0; b < p.batch; ++b)
    for (int64_t hk = 0; hk < p.heads_kv; ++hk)
      for (int64_t j = 0; j < p.seqlen_k; ++j) {
        const double m = count(b, hk, j);
        for (int64_t t = 0; t < p.head_dim; ++t) {
          if (m == 0) continue;  // a key no query sees: exactly 0
          a.dK(b, hk, j, t) += ua * m * dk_mag(b, hk, j, t) + us * std::fabs(grad.dK(b, hk, j, t)) +
                               underflow(p.dtype);
          a.dV(b, hk, j, t) += ua * m * dv_mag(b, hk, j, t) + us * std::fabs(grad.dV(b, hk, j, t)) +
                               underflow(p.dtype);
        }
      }
}

}  // namespace flashcheck
