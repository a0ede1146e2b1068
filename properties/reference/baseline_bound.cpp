// The baseline error bound: each stage's error = (error propagated from its
// inputs) + (its own float32 arithmetic) + (rounding its result to the dtype).
#include "properties/reference/baseline_bound.hpp"

#include <algorithm>
#include <cmath>

namespace flashcheck {
namespace bound {
namespace {

constexpr double kU32 = 0x1p-24;

// Half the spacing of the dtype's subnormals: the absolute rounding error of
// values too small for the relative bound u|x|.
double tiny_of(DType t) {
  switch (t) {
    case DType::f32: return 0x1p-150;
    case DType::f16: return 0x1p-25;
    case DType::bf16: return 0x1p-134;
    case DType::f64: break;
  }
  return 0;
}

}  // namespace

Bounds baseline_error_bound(const Problem& p, const Tensor4<double>& Q, const Tensor4<double>& K,
                            const Tensor4<double>& V, const Tensor4<double>& dO,
                            const ForwardResult& f, const Gradients& g) {
  const double u = dtype_unit_roundoff(p.dtype);
  const double tiny = tiny_of(p.dtype);
  const double scale = p.softmax_scale();
  const int64_t nq = p.seqlen_q, nk = p.seqlen_k, d = p.head_dim, G = p.group_size();
  auto store = [&](double x) { return u * std::fabs(x) + tiny; };  // rounding to the dtype
  Bounds e{Tensor4<double>(q_shape(p)), Tensor4<double>(lse_shape(p)), Tensor4<double>(q_shape(p)),
           Tensor4<double>(kv_shape(p)), Tensor4<double>(kv_shape(p))};
  std::vector<double> S(nk), eS(nk), P(nk), eP(nk), dP(nk), edP(nk), dS(nk), edS(nk);
  for (int64_t b = 0; b < p.batch; ++b)
    for (int64_t h = 0; h < p.heads_q; ++h) {
      const int64_t hk = p.kv_head_of(h);
      for (int64_t i = 0; i < nq; ++i) {
        const Range keys = p.key_range(i);
        if (keys.empty()) continue;  // exact zeros and -inf on both sides
        const double n = static_cast<double>(keys.size());
        // S = round(fl32(scale * q.k)): float32 dot of d terms, one multiply, one store.
        double delta = 0, m = -INFINITY;
        for (int64_t j = keys.begin; j < keys.end; ++j) {
          double s = 0, a = 0;
          for (int64_t c = 0; c < d; ++c) {
            s += Q(b, h, i, c) * K(b, hk, j, c);
            a += std::fabs(Q(b, h, i, c) * K(b, hk, j, c));
          }
          S[j] = scale * s;
          eS[j] = store(S[j]) + (d + 2) * kU32 * scale * a;
          delta = std::max(delta, eS[j]);
          m = std::max(m, S[j]);
        }
        // P = round(softmax32(S)). Perturbing S by at most delta per entry
        // scales each P_j by a factor in [exp(-2 delta), exp(2 delta)]; the
        // float32 softmax adds u32 (|S_j - m| + 1) per exp and (2n + 3) u32
        // for the sum (sum_j w_j |S_j - m| <= n / e) and the division.
        const double lse = f.LSE(b, h, i);
        for (int64_t j = keys.begin; j < keys.end; ++j) {
          P[j] = std::exp(S[j] - lse);
          eP[j] = P[j] * (std::expm1(2 * delta) + kU32 * (std::fabs(S[j] - m) + 2 * n + 4)) + store(P[j]);
        }
        // LSE = fl32(m + log l): 1-Lipschitz in max|dS|, plus float32 noise.
        e.LSE(b, h, i) = delta + kU32 * (std::fabs(lse) + 2 * n + 4);
        // O = round(fl32(P V)).
        for (int64_t c = 0; c < d; ++c) {
          double prop = 0, arith = 0;
          for (int64_t j = keys.begin; j < keys.end; ++j) {
            prop += eP[j] * std::fabs(V(b, hk, j, c));
            arith += P[j] * std::fabs(V(b, hk, j, c));
          }
          e.O(b, h, i, c) = prop + (n + 1) * kU32 * arith + store(f.O(b, h, i, c));
        }
        // D = fl32(dO . O) from the baseline's O (error e.O), kept in float32.
        double D = 0, eD = 0, aD = 0;
        for (int64_t c = 0; c < d; ++c) {
          D += dO(b, h, i, c) * f.O(b, h, i, c);
          eD += std::fabs(dO(b, h, i, c)) * e.O(b, h, i, c);
          aD += std::fabs(dO(b, h, i, c) * f.O(b, h, i, c));
        }
        eD += (d + 1) * kU32 * aD;
        // dP = round(fl32(dO . v)); dS = round(fl32(P (dP - D))).
        for (int64_t j = keys.begin; j < keys.end; ++j) {
          double s = 0, a = 0;
          for (int64_t c = 0; c < d; ++c) {
            s += dO(b, h, i, c) * V(b, hk, j, c);
            a += std::fabs(dO(b, h, i, c) * V(b, hk, j, c));
          }
          dP[j] = s;
          edP[j] = store(s) + (d + 1) * kU32 * a;
          dS[j] = P[j] * (dP[j] - D);
          edS[j] = eP[j] * std::fabs(dP[j] - D) + P[j] * (edP[j] + eD) +
                   2 * kU32 * std::fabs(dS[j]) + store(dS[j]);
        }
        // dQ = round(fl32(scale * dS K)).
        for (int64_t c = 0; c < d; ++c) {
          double prop = 0, arith = 0;
          for (int64_t j = keys.begin; j < keys.end; ++j) {
            prop += edS[j] * std::fabs(K(b, hk, j, c));
            arith += std::fabs(dS[j] * K(b, hk, j, c));
          }
          e.dQ(b, h, i, c) = scale * (prop + (n + 2) * kU32 * arith) + store(g.dQ(b, h, i, c));
        }
        // dK += scale * dS^T q, dV += P^T dO, summed in float32 over every
        // row of every head of the group (at most nq * G terms): the
        // propagated and arithmetic parts here, the final store below.
        const double terms = static_cast<double>(nq * G + 2);
        for (int64_t j = keys.begin; j < keys.end; ++j)
          for (int64_t c = 0; c < d; ++c) {
            e.dK(b, hk, j, c) += scale * (edS[j] + terms * kU32 * std::fabs(dS[j])) * std::fabs(Q(b, h, i, c));
            e.dV(b, hk, j, c) += (eP[j] + terms * kU32 * P[j]) * std::fabs(dO(b, h, i, c));
          }
      }
    }
  for (int64_t x = 0; x < e.dK.size(); ++x) {
    e.dK.values()[x] += store(g.dK.values()[x]);
    e.dV.values()[x] += store(g.dV.values()[x]);
  }
  return e;
}

}  // namespace bound
}  // namespace flashcheck
