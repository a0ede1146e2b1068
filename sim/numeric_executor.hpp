// The numeric executor: runs the same schedule code as the counting executor
// but really computes, in T = double or float. HBM is one Tensor4<T> per
// tensor, created NaN-filled (poisoned) so a schedule that reads what it
// never wrote produces NaN and fails its comparison; SRAM buffers are Eigen
// matrices of their declared shape. Every call is also counted (by an inner
// CountingExecutor with every unit run), so numeric runs report traffic too.
// Internal header: only sim/numeric.cpp includes it (Eigen stays private).
#pragma once
#include <Eigen/Dense>
#include <cmath>
#include <limits>
#include <vector>

#include "reference/tensor.hpp"
#include "sim/counting.hpp"

namespace flashcheck::sim {

template <class T>
class NumericExecutor {
 public:
  using Mat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  using Stride = Eigen::OuterStride<>;

  // splits: split-KV chunks (the partial tensors Oacc, LSEacc hold splits x Nq rows per head).
  NumericExecutor(const Problem& p, int64_t sram_bytes, int64_t splits = 1)
      : p_(p), count_(sram_bytes, false), splits_(splits) {}

  CountingExecutor& counts() { return count_; }

  void set(TensorId t, const Tensor4<double>& x) {
    Tensor4<T>& dst = tensor(t);
    require_shape(x.shape(), dst.shape(), tensor_name(t));
    for (int64_t n = 0; n < x.size(); ++n) dst.data()[n] = static_cast<T>(x.data()[n]);
  }
  Tensor4<double> get(TensorId t) {
    const Tensor4<T>& src = tensor(t);
    Tensor4<double> x(src.shape());
    for (int64_t n = 0; n < x.size(); ++n) x.data()[n] = static_cast<double>(src.data()[n]);
    return x;
  }

  void begin_kernel(const KernelPlan& k) {
    count_.begin_kernel(k);
    buf_.clear();
    for (const BufferSpec& b : k.buffers)
      buf_.push_back(Mat::Constant(b.rows, b.cols, std::numeric_limits<T>::quiet_NaN()));
  }
  void end_kernel() { count_.end_kernel(); }
  template <class F>
  void for_units(int64_t n, F&& body) {
    for (int64_t u = 0; u < n; ++u) body(u);
  }
  template <class F>
  void for_blocks(Range r, F&& body) {
    for (int64_t k = r.begin; k < r.end; ++k) body(k);
  }
  template <class F>
  void for_q_blocks(const Tiling& t, F&& body) {
    for (int64_t i = 0; i < t.Tr; ++i) body(i);
  }
  template <class RangeOf, class F>
  void for_steps(int64_t n, Range, int64_t, int64_t, int64_t, RangeOf&&, F&& body) {
    for (int64_t s = 0; s < n; ++s) body(s);
  }
  template <class F>
  void for_kv_blocks(const Tiling& t, F&& body) {
    for (int64_t j = 0; j < t.Tc; ++j) body(j);
  }

  void load(int buf, TensorId t, int64_t b, int64_t h, int64_t r0, int64_t nr, int64_t c0,
            int64_t nc) {
    count_.load(buf, t, b, h, r0, nr, c0, nc);
    Tensor4<T>& x = tensor(t);
    const int64_t D = x.shape().D;
    B(buf, nr, nc) = Eigen::Map<const Mat, 0, Stride>(x.head(b, h) + r0 * D + c0, nr, nc, Stride(D));
  }
  void store(int buf, TensorId t, int64_t b, int64_t h, int64_t r0, int64_t nr, int64_t c0,
             int64_t nc) {
    count_.store(buf, t, b, h, r0, nr, c0, nc);
    Tensor4<T>& x = tensor(t);
    const int64_t D = x.shape().D;
    Eigen::Map<Mat, 0, Stride>(x.head(b, h) + r0 * D + c0, nr, nc, Stride(D)) = B(buf, nr, nc);
  }
  void zero(int buf, int64_t nr, int64_t nc) { fill(buf, nr, nc, 0.0); }
  void fill(int buf, int64_t nr, int64_t nc, double v) {
    count_.fill(buf, nr, nc, v);
    B(buf, nr, nc).setConstant(static_cast<T>(v));
  }
  void mask(int s, int64_t q0, int64_t nr, int64_t k0, int64_t nc) {
    auto S = B(s, nr, nc);
    for (int64_t r = 0; r < nr; ++r)
      for (int64_t c = 0; c < nc; ++c)
        if (!p_.visible(q0 + r, k0 + c)) S(r, c) = -kInf;
  }
  void gemm_nt(int c, int a, int b, int64_t m, int64_t n, int64_t k, double alpha) {
    count_.gemm_nt(c, a, b, m, n, k, alpha);
    B(c, m, n).noalias() = static_cast<T>(alpha) * (B(a, m, k) * B(b, n, k).transpose());
  }
  void gemm_nn(int c, int a, int b, int64_t m, int64_t n, int64_t k, double alpha) {
    count_.gemm_nn(c, a, b, m, n, k, alpha);
    B(c, m, n).noalias() += static_cast<T>(alpha) * (B(a, m, k) * B(b, k, n));
  }
  void gemm_nt_acc(int c, int a, int b, int64_t m, int64_t n, int64_t k, double alpha) {
    count_.gemm_nt_acc(c, a, b, m, n, k, alpha);
    B(c, m, n).noalias() += static_cast<T>(alpha) * (B(a, m, k) * B(b, n, k).transpose());
  }
  // Split-KV reduce step: fold chunk s (O_s normalised, LSE_s) into the
  // running (O, m, l); a chunk that saw nothing (LSE_s = -inf) adds nothing.
  void combine_partial(int o, int m, int l, int os, int lses, int64_t nr, int64_t d) {
    count_.combine_partial(o, m, l, os, lses, nr, d);
    for (int64_t r = 0; r < nr; ++r) {
      const T ls = at(lses, r);
      if (ls == -kInf) continue;
      const T mnew = std::max(at(m, r), ls);
      const T a = std::exp(at(m, r) - mnew), w = std::exp(ls - mnew);
      buf_[o].row(r).head(d) = a * buf_[o].row(r).head(d) + w * buf_[os].row(r).head(d);
      at(l, r) = a * at(l, r) + w;
      at(m, r) = mnew;
    }
  }
  void gemm_tn(int c, int a, int b, int64_t m, int64_t n, int64_t k, double alpha) {
    count_.gemm_tn(c, a, b, m, n, k, alpha);
    B(c, m, n).noalias() += static_cast<T>(alpha) * (B(a, k, m).transpose() * B(b, k, n));
  }

  // FlashAttention-2 step: m_new = max(m, rowmax S), P = exp(S - m_new),
  // l = e^(m - m_new) l + rowsum P, O *= e^(m - m_new). A row with nothing
  // visible yet (m_new = -inf) keeps P = 0 and its state.
  void online_softmax(int s, int m, int l, int o, int64_t nr, int64_t nc, int64_t d) {
    count_.online_softmax(s, m, l, o, nr, nc, d);
    auto S = B(s, nr, nc);
    for (int64_t r = 0; r < nr; ++r) {
      const T mi = at(m, r), mnew = std::max(mi, S.row(r).maxCoeff());
      if (mnew == -kInf) {
        S.row(r).setZero();
        continue;
      }
      const T alpha = std::exp(mi - mnew);  // 0 when mi = -inf
      S.row(r) = exp0(S.row(r).array() - mnew).matrix();
      at(l, r) = alpha * at(l, r) + S.row(r).sum();
      buf_[o].row(r).head(d) *= alpha;
      at(m, r) = mnew;
    }
  }
  // O /= l, LSE = m + log l; a row that saw nothing: O = 0, LSE = -inf.
  void finalise(int o, int m, int l, int lse_buf, int64_t nr, int64_t d) {
    count_.finalise(o, m, l, lse_buf, nr, d);
    for (int64_t r = 0; r < nr; ++r) {
      const T li = at(l, r);
      if (li > 0) {
        buf_[o].row(r).head(d) /= li;
        at(lse_buf, r) = at(m, r) + std::log(li);
      } else {
        buf_[o].row(r).head(d).setZero();
        at(lse_buf, r) = -kInf;
      }
    }
  }
  // Algorithm 1, lines 9-12, with O_i un-normalised in place so that
  // O_i += P~ V_j and O_i /= l_new complete line 12.
  void flash1_rescale(int s, int mt, int lt, int m, int l, int o, int64_t nr, int64_t nc,
                      int64_t d) {
    count_.flash1_rescale(s, mt, lt, m, l, o, nr, nc, d);
    auto S = B(s, nr, nc);
    for (int64_t r = 0; r < nr; ++r) {
      at(mt, r) = S.row(r).maxCoeff();
      if (at(mt, r) == -kInf) {
        S.row(r).setZero();
        at(lt, r) = 0;
      } else {
        S.row(r) = exp0(S.row(r).array() - at(mt, r)).matrix();
        at(lt, r) = S.row(r).sum();
      }
      const T mnew = std::max(at(m, r), at(mt, r));
      if (mnew == -kInf) continue;  // nothing visible yet: O_i = 0, l_i = 0 stay
      const T a = std::exp(at(m, r) - mnew), bt = std::exp(at(mt, r) - mnew);
      const T lnew = a * at(l, r) + bt * at(lt, r);
      buf_[o].row(r).head(d) *= at(l, r) * a;
      S.row(r) *= bt;
      at(m, r) = mnew;
      at(l, r) = lnew;
    }
  }
  void flash1_normalise(int o, int l, int64_t nr, int64_t d) {
    count_.flash1_normalise(o, l, nr, d);
    for (int64_t r = 0; r < nr; ++r)
      if (at(l, r) > 0) buf_[o].row(r).head(d) /= at(l, r);
  }
  void recompute_p_lse(int s, int lse_buf, int64_t nr, int64_t nc) {
    count_.recompute_p_lse(s, lse_buf, nr, nc);
    auto S = B(s, nr, nc);
    for (int64_t r = 0; r < nr; ++r) {
      const T L = at(lse_buf, r);
      if (L == -kInf) S.row(r).setZero();
      else S.row(r) = exp0(S.row(r).array() - L).matrix();
    }
  }
  void recompute_p_ml(int s, int m, int l, int64_t nr, int64_t nc) {
    count_.recompute_p_ml(s, m, l, nr, nc);
    auto S = B(s, nr, nc);
    for (int64_t r = 0; r < nr; ++r) {
      if (at(m, r) == -kInf || !(at(l, r) > 0)) S.row(r).setZero();
      else S.row(r) = (exp0(S.row(r).array() - at(m, r)) / at(l, r)).matrix();
    }
  }
  // dP -> dS = P * (dP - D) in place.
  void softmax_grad(int dp, int p, int D, int64_t nr, int64_t nc) {
    count_.softmax_grad(dp, p, D, nr, nc);
    auto dP = B(dp, nr, nc);
    auto P = B(p, nr, nc);
    for (int64_t r = 0; r < nr; ++r)
      dP.row(r) = (P.row(r).array() * (dP.row(r).array() - at(D, r))).matrix();
  }
  void rowdot(int out, int a, int b, int64_t nr, int64_t n) {
    count_.rowdot(out, a, b, nr, n);
    for (int64_t r = 0; r < nr; ++r) at(out, r) = B(a, nr, n).row(r).dot(B(b, nr, n).row(r));
  }
  void rowdot_acc(int out, int a, int b, int64_t nr, int64_t n) {
    count_.rowdot_acc(out, a, b, nr, n);
    for (int64_t r = 0; r < nr; ++r) at(out, r) += B(a, nr, n).row(r).dot(B(b, nr, n).row(r));
  }
  // Standard softmax over rows: online max / sum, then P = exp(S - m) / l.
  void row_stats(int s, int m, int l, int64_t nr, int64_t nc) {
    count_.row_stats(s, m, l, nr, nc);
    auto S = B(s, nr, nc);
    for (int64_t r = 0; r < nr; ++r) {
      const T mnew = std::max(at(m, r), S.row(r).maxCoeff());
      if (mnew == -kInf) continue;
      at(l, r) = at(l, r) * std::exp(at(m, r) - mnew) + exp0(S.row(r).array() - mnew).sum();
      at(m, r) = mnew;
    }
  }
  void row_normalise(int s, int m, int l, int64_t nr, int64_t nc) {
    count_.row_normalise(s, m, l, nr, nc);
    auto S = B(s, nr, nc);
    for (int64_t r = 0; r < nr; ++r) {
      if (!(at(l, r) > 0)) S.row(r).setZero();
      else S.row(r) = (exp0(S.row(r).array() - at(m, r)) / at(l, r)).matrix();
    }
  }
  void lse(int out, int m, int l, int64_t nr) {
    count_.lse(out, m, l, nr);
    for (int64_t r = 0; r < nr; ++r)
      at(out, r) = at(l, r) > 0 ? at(m, r) + std::log(at(l, r)) : -kInf;
  }

 private:
  static constexpr T kInf = std::numeric_limits<T>::infinity();
  // exp element-wise with exp(-inf) = 0 exactly: Eigen's vectorised exp
  // clamps its argument near -709 and returns a denormal for a masked logit.
  template <class A>
  static auto exp0(const A& x) {
    return x.unaryExpr([](T v) { return v == -kInf ? T(0) : std::exp(v); });
  }

  auto B(int buf, int64_t nr, int64_t nc) { return buf_[static_cast<size_t>(buf)].topLeftCorner(nr, nc); }
  T& at(int buf, int64_t r) { return buf_[static_cast<size_t>(buf)](r, 0); }

  Tensor4<T>& tensor(TensorId t) {
    Tensor4<T>& x = hbm_[idx(t)];
    if (x.size() == 0) {
      Shape4 s = t == TensorId::LSEacc ? Shape4{p_.batch, p_.heads_q, splits_ * p_.seqlen_q, 1}
                 : t == TensorId::Oacc ? Shape4{p_.batch, p_.heads_q, splits_ * p_.seqlen_q, p_.head_dim}
                 : is_statistic(t) ? lse_shape(p_)
                 : (t == TensorId::K || t == TensorId::V || t == TensorId::dK || t == TensorId::dV)
                     ? kv_shape(p_)
                 : is_score_matrix(t) ? Shape4{p_.batch, p_.heads_q, p_.seqlen_q, p_.seqlen_k}
                                      : q_shape(p_);
      x = Tensor4<T>(s, std::numeric_limits<T>::quiet_NaN());
    }
    return x;
  }

  Problem p_;
  CountingExecutor count_;
  int64_t splits_ = 1;
  PerTensor<Tensor4<T>> hbm_;
  std::vector<Mat> buf_;
};

}  // namespace flashcheck::sim
