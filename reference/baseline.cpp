// The low-precision "standard attention" baseline of the accuracy rule.
//
// Rounding model (a plain GPU implementation in the dtype, as the
// FlashAttention and PyTorch test suites build their yardstick):
//   - every matrix product accumulates in float32 (Eigen's float GEMM) and its
//     result is stored rounded to the dtype: S, O, dP, dQ, dK, dV;
//   - softmax and its backward run in float32 on the stored operands, and
//     their results P and dS are stored rounded to the dtype;
//   - the row statistics LSE and D are kept in float32, as kernels keep them.
// For dtype f32 every rounding is to float32; for f64 there is no rounding
// and the float64 reference itself is the baseline.
#include "reference/baseline.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "reference/eigen_maps.hpp"

namespace flashcheck {
namespace {

using FloatMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
constexpr float kNegInfF = -std::numeric_limits<float>::infinity();

struct Format {
  int precision;    // significand bits, implicit bit included
  int emin;         // exponent of the smallest normal number
  double max_finite;
};

Format format_of(DType t) {
  switch (t) {
    case DType::f32: return {24, -126, 0x1.fffffep127};
    case DType::f16: return {11, -14, 65504.0};
    case DType::bf16: return {8, -126, 0x1.fep127};
    case DType::f64: break;
  }
  return {53, -1022, std::numeric_limits<double>::max()};
}

// One head as float32 (exact: inputs are representable in the dtype).
FloatMatrix to_float(const ConstHeadMap& m) { return m.cast<float>(); }

// C = A B with every C(i, j) summed sequentially over k in float32; the loop
// order (i, k, j) keeps each sum sequential while the j loop vectorises.
// Zero entries of A (masked P and dS) add exact zeros and are skipped.
FloatMatrix product(const FloatMatrix& A, const FloatMatrix& B) {
  FloatMatrix C = FloatMatrix::Zero(A.rows(), B.cols());
  for (Eigen::Index i = 0; i < A.rows(); ++i) {
    float* c = C.row(i).data();
    for (Eigen::Index k = 0; k < A.cols(); ++k) {
      const float a = A(i, k);
      if (a == 0) continue;
      const float* b = B.row(k).data();
      for (Eigen::Index j = 0; j < B.cols(); ++j) c[j] += a * b[j];
    }
  }
  return C;
}
FloatMatrix transposed(const FloatMatrix& A) { return A.transpose(); }

void store_rounded(const FloatMatrix& src, HeadMap dst, DType t) {
  for (Eigen::Index i = 0; i < src.rows(); ++i)
    for (Eigen::Index j = 0; j < src.cols(); ++j) dst(i, j) = round_to_dtype(src(i, j), t);
}

float rounded(float x, DType t) { return static_cast<float>(round_to_dtype(x, t)); }


// S = round(scale * Q K^T) with masked entries -inf, then P = round(softmax(S))
// row by row in float32. Also returns each row's LSE (float32). Shared by the
// forward and the backward, which recomputes the P the forward stored
// bit for bit (the standard algorithm keeps P; recomputing it is equivalent).
struct Probabilities {
  FloatMatrix P;               // seqlen_q x seqlen_k, stored in the dtype
  Eigen::VectorXf lse;         // float32
};

Probabilities softmax_of(const Problem& p, const FloatMatrix& q, const FloatMatrix& k) {
  const DType t = p.dtype;
  const float scale = static_cast<float>(p.softmax_scale());
  FloatMatrix S = product(q, transposed(k));
  Probabilities r{FloatMatrix::Zero(p.seqlen_q, p.seqlen_k), Eigen::VectorXf(p.seqlen_q)};
  for (int64_t i = 0; i < p.seqlen_q; ++i) {
    const Range keys = p.key_range(i);
    if (keys.empty()) {  // documented: P row 0, LSE -inf
      r.lse(i) = kNegInfF;
      continue;
    }
    float m = kNegInfF;
    for (int64_t j = keys.begin; j < keys.end; ++j) {
      S(i, j) = rounded(scale * S(i, j), t);
      m = std::max(m, S(i, j));
    }
    float l = 0;
    for (int64_t j = keys.begin; j < keys.end; ++j) l += std::exp(S(i, j) - m);
    for (int64_t j = keys.begin; j < keys.end; ++j) r.P(i, j) = rounded(std::exp(S(i, j) - m) / l, t);
    r.lse(i) = m + std::log(l);
  }
  return r;
}

}  // namespace

double round_to_dtype(double x, DType t) {
  if (t == DType::f64 || !std::isfinite(x) || x == 0) return x;
  const Format f = format_of(t);
  int e = 0;
  std::frexp(x, &e);                                   // |x| in [2^(e-1), 2^e)
  const int quantum = std::max(e - 1, f.emin) - (f.precision - 1);  // exponent of one ulp
  // Scaling by powers of two is exact; nearbyint rounds ties to even under the
  // default rounding mode. Subnormals fall out of the emin clamp.
  const double r = std::ldexp(std::nearbyint(std::ldexp(x, -quantum)), quantum);
  if (std::fabs(r) > f.max_finite) return std::copysign(std::numeric_limits<double>::infinity(), x);
  return r;
}

void round_to_dtype(Tensor4<double>& x, DType t) {
  if (t == DType::f64) return;
  for (double& v : x.values()) v = round_to_dtype(v, t);
}

ForwardResult baseline_forward(const Problem& p, const Tensor4<double>& Q,
                               const Tensor4<double>& K, const Tensor4<double>& V) {
  if (p.dtype == DType::f64) return reference_forward(p, Q, K, V);
  require_qkv(p, Q, K, V);
  ForwardResult r{Tensor4<double>(q_shape(p)), Tensor4<double>(lse_shape(p))};
  for (int64_t b = 0; b < p.batch; ++b)
    for (int64_t h = 0; h < p.heads_q; ++h) {
      const int64_t hk = p.kv_head_of(h);
      const Probabilities sm = softmax_of(p, to_float(head_of(Q, b, h)), to_float(head_of(K, b, hk)));
      store_rounded(product(sm.P, to_float(head_of(V, b, hk))), head_of(r.O, b, h), p.dtype);
      for (int64_t i = 0; i < p.seqlen_q; ++i) r.LSE(b, h, i) = sm.lse(i);
    }
  return r;
}

Gradients baseline_backward(const Problem& p, const Tensor4<double>& Q, const Tensor4<double>& K,
                            const Tensor4<double>& V, const Tensor4<double>& O,
                            const Tensor4<double>& LSE, const Tensor4<double>& dO) {
  if (p.dtype == DType::f64) return reference_backward(p, Q, K, V, O, LSE, dO);
  require_qkv(p, Q, K, V);
  require_shape(O.shape(), q_shape(p), "O");
  require_shape(LSE.shape(), lse_shape(p), "LSE");
  require_shape(dO.shape(), q_shape(p), "dO");
  const DType t = p.dtype;
  const float scale = static_cast<float>(p.softmax_scale());
  Gradients g{Tensor4<double>(q_shape(p)), Tensor4<double>(kv_shape(p)),
              Tensor4<double>(kv_shape(p))};
  for (int64_t b = 0; b < p.batch; ++b)
    for (int64_t hk = 0; hk < p.heads_kv; ++hk) {
      const FloatMatrix k = to_float(head_of(K, b, hk));
      const FloatMatrix v = to_float(head_of(V, b, hk));
      const FloatMatrix vt = transposed(v);
      // GQA: the group's contributions are summed in float32, stored once.
      FloatMatrix dk = FloatMatrix::Zero(p.seqlen_k, p.head_dim);
      FloatMatrix dv = FloatMatrix::Zero(p.seqlen_k, p.head_dim);
      for (int64_t h = hk * p.group_size(); h < (hk + 1) * p.group_size(); ++h) {
        const FloatMatrix q = to_float(head_of(Q, b, h));
        const FloatMatrix o = to_float(head_of(O, b, h));
        const FloatMatrix dout = to_float(head_of(dO, b, h));
        const FloatMatrix P = softmax_of(p, q, k).P;
        const FloatMatrix dP = product(dout, vt);
        Eigen::VectorXf D = Eigen::VectorXf::Zero(p.seqlen_q);  // float32, sequential
        for (int64_t i = 0; i < p.seqlen_q; ++i)
          for (int64_t c = 0; c < p.head_dim; ++c) D(i) += dout(i, c) * o(i, c);
        FloatMatrix dS = FloatMatrix::Zero(p.seqlen_q, p.seqlen_k);
        for (int64_t i = 0; i < p.seqlen_q; ++i) {
          const Range keys = p.key_range(i);
          for (int64_t j = keys.begin; j < keys.end; ++j)
            dS(i, j) = rounded(P(i, j) * (rounded(dP(i, j), t) - D(i)), t);
        }
        store_rounded(scale * product(dS, k), head_of(g.dQ, b, h), t);
        dk += scale * product(transposed(dS), q);
        dv += product(transposed(P), dout);
      }
      store_rounded(dk, head_of(g.dK, b, hk), t);
      store_rounded(dv, head_of(g.dV, b, hk), t);
    }
  return g;
}

}  // namespace flashcheck
