// Standard-attention candidates (standard.hpp): one implementation, two
// rounding modes. Acc is float (double for f64); `store` rounds a value to
// what the variant keeps in memory.
#include "mutants/standard.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "reference/baseline.hpp"

namespace flashcheck::mutants {
namespace {

// Pairwise (tree) sum of x[0..n): error grows as log2(n) u instead of n u,
// and the rounding differs from a left-to-right sum.
template <class T>
T pairwise(const T* x, size_t n) {
  if (n == 0) return T(0);
  if (n == 1) return x[0];
  const size_t h = n / 2;
  return pairwise(x, h) + pairwise(x + h, n - h);
}

template <class T>
class Standard {
 public:
  // in_dtype: intermediates stored in the dtype (pairwise variant); false:
  // everything in T (float32 variant), outputs rounded once.
  Standard(const Problem& p, const OracleInputs& in, bool in_dtype, bool pairwise_sums)
      : p_(p), in_(in), in_dtype_(in_dtype), pairwise_(pairwise_sums) {}

  Outputs run() {
    Outputs out;
    Tensor4<double> O(q_shape(p_)), LSE(lse_shape(p_));
    Tensor4<double> dQ(q_shape(p_)), dK(kv_shape(p_)), dV(kv_shape(p_));
    const int64_t nq = p_.seqlen_q, nk = p_.seqlen_k, d = p_.head_dim;
    const T scale = static_cast<T>(p_.softmax_scale());
    for (int64_t b = 0; b < p_.batch; ++b)
      for (int64_t hk = 0; hk < p_.heads_kv; ++hk) {
        // Group contributions to dK, dV, kept per head and summed at the end.
        std::vector<std::vector<T>> dk_parts, dv_parts;
        for (int64_t h = hk * p_.group_size(); h < (hk + 1) * p_.group_size(); ++h) {
          std::vector<T> P(static_cast<size_t>(nq * nk), T(0)), o(static_cast<size_t>(nq * d), T(0));
          for (int64_t i = 0; i < nq; ++i) {
            const Range keys = p_.key_range(i);
            if (keys.empty()) {
              LSE(b, h, i) = -std::numeric_limits<double>::infinity();
              continue;
            }
            std::vector<T> s(static_cast<size_t>(nk));
            T m = -std::numeric_limits<T>::infinity();
            for (int64_t j = keys.begin; j < keys.end; ++j) {
              for (int64_t t = 0; t < d; ++t) buf_[t] = q(b, h, i, t) * k(b, hk, j, t);
              s[j] = store(scale * sum(d));
              m = std::max(m, s[j]);
            }
            resize(keys.end - keys.begin);
            for (int64_t j = keys.begin; j < keys.end; ++j) buf_[j - keys.begin] = std::exp(s[j] - m);
            const T l = sum(keys.end - keys.begin);
            for (int64_t j = keys.begin; j < keys.end; ++j) P[i * nk + j] = store(std::exp(s[j] - m) / l);
            LSE(b, h, i) = m + std::log(l);
            resize(nk);
            for (int64_t t = 0; t < d; ++t) {
              for (int64_t j = keys.begin; j < keys.end; ++j)
                buf_[j - keys.begin] = P[i * nk + j] * v(b, hk, j, t);
              o[i * d + t] = store(sum(keys.end - keys.begin));
              O(b, h, i, t) = out_round(o[i * d + t]);
            }
          }
          if (!in_.dO) continue;
          // Backward: dP = dO V^T, D = rowsum(dO * O), dS = P (dP - D).
          std::vector<T> dS(static_cast<size_t>(nq * nk), T(0));
          for (int64_t i = 0; i < nq; ++i) {
            const Range keys = p_.key_range(i);
            resize(std::max(d, nk));
            for (int64_t t = 0; t < d; ++t) buf_[t] = g(b, h, i, t) * o[i * d + t];
            const T D = sum(d);
            for (int64_t j = keys.begin; j < keys.end; ++j) {
              for (int64_t t = 0; t < d; ++t) buf_[t] = g(b, h, i, t) * v(b, hk, j, t);
              const T dP = store(sum(d));
              dS[i * nk + j] = store(P[i * nk + j] * (dP - D));
            }
          }
          resize(std::max(nq, nk));
          for (int64_t i = 0; i < nq; ++i)
            for (int64_t t = 0; t < d; ++t) {
              for (int64_t j = 0; j < nk; ++j) buf_[j] = dS[i * nk + j] * k(b, hk, j, t);
              dQ(b, h, i, t) = out_round(scale * sum(nk));
            }
          std::vector<T> dk(static_cast<size_t>(nk * d)), dv(dk.size());
          for (int64_t j = 0; j < nk; ++j)
            for (int64_t t = 0; t < d; ++t) {
              for (int64_t i = 0; i < nq; ++i) buf_[i] = dS[i * nk + j] * q(b, h, i, t);
              dk[j * d + t] = scale * sum(nq);
              for (int64_t i = 0; i < nq; ++i) buf_[i] = P[i * nk + j] * g(b, h, i, t);
              dv[j * d + t] = sum(nq);
            }
          dk_parts.push_back(std::move(dk));
          dv_parts.push_back(std::move(dv));
        }
        if (!in_.dO) continue;
        const size_t groups = dk_parts.size();
        resize(static_cast<int64_t>(groups));
        for (int64_t j = 0; j < nk; ++j)
          for (int64_t t = 0; t < d; ++t) {
            for (size_t r = 0; r < groups; ++r) buf_[r] = dk_parts[r][j * d + t];
            dK(b, hk, j, t) = out_round(sum(static_cast<int64_t>(groups)));
            for (size_t r = 0; r < groups; ++r) buf_[r] = dv_parts[r][j * d + t];
            dV(b, hk, j, t) = out_round(sum(static_cast<int64_t>(groups)));
          }
      }
    out.O = std::move(O);
    out.LSE = std::move(LSE);
    if (in_.dO) {
      out.dQ = std::move(dQ);
      out.dK = std::move(dK);
      out.dV = std::move(dV);
    }
    return out;
  }

 private:
  T q(int64_t b, int64_t h, int64_t i, int64_t t) const { return static_cast<T>(in_.Q(b, h, i, t)); }
  T k(int64_t b, int64_t h, int64_t j, int64_t t) const { return static_cast<T>(in_.K(b, h, j, t)); }
  T v(int64_t b, int64_t h, int64_t j, int64_t t) const { return static_cast<T>(in_.V(b, h, j, t)); }
  T g(int64_t b, int64_t h, int64_t i, int64_t t) const { return static_cast<T>((*in_.dO)(b, h, i, t)); }
  void resize(int64_t n) {
    if (static_cast<int64_t>(buf_.size()) < n) buf_.resize(static_cast<size_t>(n));
  }
  // Sum of buf_[0..n).
  T sum(int64_t n) const {
    if (pairwise_) return pairwise(buf_.data(), static_cast<size_t>(n));
    T s = 0;
    for (int64_t i = 0; i < n; ++i) s += buf_[i];
    return s;
  }
  T store(T x) const {
    return in_dtype_ ? static_cast<T>(round_to_dtype(static_cast<double>(x), p_.dtype)) : x;
  }
  double out_round(T x) const { return round_to_dtype(static_cast<double>(x), p_.dtype); }

  const Problem& p_;
  const OracleInputs& in_;
  bool in_dtype_, pairwise_;
  std::vector<T> buf_ = std::vector<T>(static_cast<size_t>(std::max<int64_t>(
      {p_.head_dim, p_.seqlen_q, p_.seqlen_k, p_.heads_q})));
};

template <class T>
Outputs run_standard(const Problem& p, const OracleInputs& in, bool in_dtype, bool pairwise_sums) {
  p.validate();
  require_qkv(p, in.Q, in.K, in.V);
  if (in.dO) require_shape(in.dO->shape(), q_shape(p), "dO");
  return Standard<T>(p, in, in_dtype, pairwise_sums).run();
}

}  // namespace

Outputs oracle_rounded(const Problem& p, const Oracle& oracle) {
  const DType lse_type = p.dtype == DType::f64 ? DType::f64 : DType::f32;
  auto rounded = [](Tensor4<double> t, DType type) {
    round_to_dtype(t, type);
    return t;
  };
  Outputs out;
  out.O = rounded(oracle.ref.O, p.dtype);
  out.LSE = rounded(oracle.ref.LSE, lse_type);
  if (oracle.ref_grad) {
    out.dQ = rounded(oracle.ref_grad->dQ, p.dtype);
    out.dK = rounded(oracle.ref_grad->dK, p.dtype);
    out.dV = rounded(oracle.ref_grad->dV, p.dtype);
    if (p.variants.bias) out.dbias = rounded(oracle.ref_dbias, p.dtype);
    if (p.variants.sinks) {
      out.dsinks = oracle.ref_dsinks;
      for (double& x : *out.dsinks) x = round_to_dtype(x, lse_type);
    }
  }
  return out;
}

Outputs standard_float32(const Problem& p, const OracleInputs& in) {
  if (p.dtype == DType::f64) return run_standard<double>(p, in, false, false);
  return run_standard<float>(p, in, false, false);
}

Outputs standard_pairwise(const Problem& p, const OracleInputs& in) {
  if (p.dtype == DType::f64) return run_standard<double>(p, in, true, true);
  return run_standard<float>(p, in, true, true);
}

}  // namespace flashcheck::mutants
