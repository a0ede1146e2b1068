// The FlashAttention-2 style candidate and its planted bugs (candidate.hpp).
// Written from the algorithm (Dao 2023, Algorithms 1 and 2), not from
// reference/: only the Problem vocabulary and round_to_dtype are shared.
#include "mutants/candidate.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "reference/baseline.hpp"

namespace flashcheck::mutants {
namespace {

struct BugInfo {
  Bug bug;
  const char* name;
  const char* what;
};
const BugInfo kBugs[] = {
    {Bug::none, "none", "correct FlashAttention-2 candidate"},
    {Bug::scale_missing, "scale_missing", "S = Q K^T without the softmax scale"},
    {Bug::scale_twice, "scale_twice", "softmax scale applied twice"},
    {Bug::causal_off_by_one, "causal_off_by_one", "causal mask admits one key past the diagonal"},
    {Bug::causal_swapped, "causal_swapped", "top-left and bottom-right causal swapped"},
    {Bug::window_off_by_one, "window_off_by_one", "sliding window one key wider on the left"},
    {Bug::lse_base2, "lse_base2", "LSE stored in base 2"},
    {Bug::d_from_wrong_o, "d_from_wrong_o", "D = rowsum(dO * O) from the unnormalised O"},
    {Bug::dk_sign, "dk_sign", "dK with the wrong sign"},
    {Bug::dq_dk_zero, "dq_dk_zero", "dQ and dK never written (zero)"},
    {Bug::gqa_mod, "gqa_mod", "KV head of query head h taken as h mod Hkv (no group sum)"},
    {Bug::last_kv_tile_dropped, "last_kv_tile_dropped", "ragged last KV tile skipped"},
    {Bug::last_row_stale, "last_row_stale", "last query row of O never written (stale memory)"},
    {Bug::empty_row_mean_v, "empty_row_mean_v", "a row that sees no key returns the mean of V"},
    {Bug::pv_in_dtype, "pv_in_dtype", "P V accumulated in the input dtype"},
};

constexpr double kStale = 0.25;  // what a buffer held before the kernel ran

template <class T>
class Flash2 {
 public:
  Flash2(const Problem& p, const OracleInputs& in, Bug bug, Tiles tiles)
      : p_(p), in_(in), bug_(bug), tiles_(tiles) {
    const double s = p.softmax_scale();
    scale_ = static_cast<T>(bug == Bug::scale_missing ? 1.0 : bug == Bug::scale_twice ? s * s : s);
    mask_ = p.mask;
    if (bug == Bug::causal_swapped) {
      if (mask_.kind == MaskKind::causal_top_left) mask_ = Mask::causal_bottom_right();
      else if (mask_.kind == MaskKind::causal_bottom_right) mask_ = Mask::causal_top_left();
    }
    if (bug == Bug::window_off_by_one && mask_.kind == MaskKind::sliding_window)
      mask_.window_left += 1;
  }

  Outputs run() {
    Outputs out;
    forward(out);
    if (in_.dO) backward(out);
    return out;
  }

 private:
  T rnd(T x) const {
    return p_.dtype == DType::f32 || p_.dtype == DType::f64
               ? x
               : static_cast<T>(round_to_dtype(static_cast<double>(x), p_.dtype));
  }
  bool visible(int64_t q, int64_t k) const {
    const int64_t sq = p_.seqlen_q, sk = p_.seqlen_k;
    if (mask_.visible(q, k, sq, sk)) return true;
    const bool causal = mask_.kind == MaskKind::causal_top_left ||
                        mask_.kind == MaskKind::causal_bottom_right;
    return bug_ == Bug::causal_off_by_one && causal && k >= 1 && k < sk &&
           mask_.visible(q, k - 1, sq, sk);
  }
  int64_t kv_head(int64_t h) const {
    return bug_ == Bug::gqa_mod ? h % p_.heads_kv : h / p_.group_size();
  }
  // KV tiles visited; the buggy schedule forgets a ragged last one.
  int64_t kv_end() const {
    const int64_t nk = p_.seqlen_k, bc = tiles_.Bc;
    if (bug_ == Bug::last_kv_tile_dropped && nk % bc != 0 && nk > bc) return nk - nk % bc;
    return nk;
  }
  T score(const Tensor4<double>& Q, int64_t b, int64_t h, int64_t i, const Tensor4<double>& K,
          int64_t hk, int64_t j) const {
    T s = 0;
    for (int64_t t = 0; t < p_.head_dim; ++t)
      s += static_cast<T>(Q(b, h, i, t)) * static_cast<T>(K(b, hk, j, t));
    return s * scale_;
  }

  void forward(Outputs& out) {
    const int64_t d = p_.head_dim;
    Tensor4<double> O(q_shape(p_)), LSE(lse_shape(p_));
    lse_nat_ = Tensor4<double>(lse_shape(p_));
    row_sum_ = Tensor4<double>(lse_shape(p_));
    std::vector<T> acc(static_cast<size_t>(d));
    for (int64_t b = 0; b < p_.batch; ++b)
      for (int64_t h = 0; h < p_.heads_q; ++h) {
        const int64_t hk = kv_head(h);
        for (int64_t i0 = 0; i0 < p_.seqlen_q; i0 += tiles_.Br)
          for (int64_t i = i0; i < std::min(p_.seqlen_q, i0 + tiles_.Br); ++i) {
            T m = -std::numeric_limits<T>::infinity(), l = 0;
            std::fill(acc.begin(), acc.end(), T(0));
            for (int64_t j0 = 0; j0 < kv_end(); j0 += tiles_.Bc) {
              const int64_t j1 = std::min(kv_end(), j0 + tiles_.Bc);
              std::vector<T> s(static_cast<size_t>(j1 - j0), -std::numeric_limits<T>::infinity());
              T m_tile = -std::numeric_limits<T>::infinity();
              for (int64_t j = j0; j < j1; ++j)
                if (visible(i, j)) {
                  s[j - j0] = score(in_.Q, b, h, i, in_.K, hk, j);
                  m_tile = std::max(m_tile, s[j - j0]);
                }
              if (m_tile == -std::numeric_limits<T>::infinity()) continue;  // tile fully masked
              const T m_new = std::max(m, m_tile);
              const T alpha = m == -std::numeric_limits<T>::infinity() ? T(0) : std::exp(m - m_new);
              l *= alpha;
              for (auto& a : acc) a *= alpha;
              for (int64_t j = j0; j < j1; ++j) {
                if (!visible(i, j)) continue;
                const T e = std::exp(s[j - j0] - m_new);
                l += e;
                const T pe = rnd(e);  // P enters the PV product in the dtype
                for (int64_t t = 0; t < d; ++t) {
                  const T add = acc[t] + pe * static_cast<T>(in_.V(b, hk, j, t));
                  acc[t] = bug_ == Bug::pv_in_dtype ? rnd(add) : add;
                }
              }
              m = m_new;
            }
            if (l == 0) {  // no key seen: O = 0, LSE = -inf
              LSE(b, h, i) = lse_nat_(b, h, i) = -std::numeric_limits<double>::infinity();
              for (int64_t t = 0; t < d && bug_ == Bug::empty_row_mean_v; ++t) {
                T mean = 0;
                for (int64_t j = 0; j < p_.seqlen_k; ++j) mean += static_cast<T>(in_.V(b, hk, j, t));
                O(b, h, i, t) = rnd(mean / static_cast<T>(p_.seqlen_k));
              }
              continue;
            }
            for (int64_t t = 0; t < d; ++t) O(b, h, i, t) = rnd(acc[t] / l);
            const T lse = m + std::log(l);
            lse_nat_(b, h, i) = lse;
            row_sum_(b, h, i) = l;
            LSE(b, h, i) = bug_ == Bug::lse_base2 ? lse * static_cast<T>(M_LOG2E) : lse;
          }
        if (bug_ == Bug::last_row_stale)
          for (int64_t t = 0; t < d; ++t) O(b, h, p_.seqlen_q - 1, t) = kStale;
      }
    o_ = O;
    out.O = std::move(O);
    out.LSE = std::move(LSE);
  }

  void backward(Outputs& out) {
    const int64_t d = p_.head_dim;
    const Tensor4<double>& dO = *in_.dO;
    // Phase 1: D = rowsum(dO * O) from the O this forward stored.
    Tensor4<double> D(lse_shape(p_));
    for (int64_t b = 0; b < p_.batch; ++b)
      for (int64_t h = 0; h < p_.heads_q; ++h)
        for (int64_t i = 0; i < p_.seqlen_q; ++i) {
          T s = 0;
          const T o_scale = bug_ == Bug::d_from_wrong_o ? static_cast<T>(row_sum_(b, h, i)) : T(1);
          for (int64_t t = 0; t < d; ++t)
            s += static_cast<T>(dO(b, h, i, t)) * static_cast<T>(o_(b, h, i, t)) * o_scale;
          D(b, h, i) = s;
        }
    // Phase 2: KV-outer; dQ accumulated in float32 across KV tiles (atomics).
    Tensor4<double> dQacc(q_shape(p_)), dK(kv_shape(p_)), dV(kv_shape(p_));
    std::vector<T> dk(static_cast<size_t>(tiles_.Bc * d)), dv(dk.size());
    for (int64_t b = 0; b < p_.batch; ++b)
      for (int64_t hk = 0; hk < p_.heads_kv; ++hk)
        for (int64_t j0 = 0; j0 < kv_end(); j0 += tiles_.Bc) {
          const int64_t j1 = std::min(kv_end(), j0 + tiles_.Bc);
          std::fill(dk.begin(), dk.end(), T(0));
          std::fill(dv.begin(), dv.end(), T(0));
          for (int64_t h = 0; h < p_.heads_q; ++h) {
            if (kv_head(h) != hk) continue;
            for (int64_t i = 0; i < p_.seqlen_q; ++i) {
              const T lse = static_cast<T>(lse_nat_(b, h, i));
              for (int64_t j = j0; j < j1; ++j) {
                if (!visible(i, j)) continue;
                const T P = std::exp(score(in_.Q, b, h, i, in_.K, hk, j) - lse);
                T dP = 0;
                for (int64_t t = 0; t < d; ++t)
                  dP += static_cast<T>(dO(b, h, i, t)) * static_cast<T>(in_.V(b, hk, j, t));
                const T dS = rnd(P * (dP - static_cast<T>(D(b, h, i))));
                const T Pr = rnd(P);
                for (int64_t t = 0; t < d; ++t) {
                  dv[(j - j0) * d + t] += Pr * static_cast<T>(dO(b, h, i, t));
                  dk[(j - j0) * d + t] += scale_ * dS * static_cast<T>(in_.Q(b, h, i, t));
                  dQacc(b, h, i, t) = static_cast<T>(dQacc(b, h, i, t)) +
                                      scale_ * dS * static_cast<T>(in_.K(b, hk, j, t));
                }
              }
            }
          }
          for (int64_t j = j0; j < j1; ++j)
            for (int64_t t = 0; t < d; ++t) {
              dK(b, hk, j, t) = rnd(dk[(j - j0) * d + t]);
              dV(b, hk, j, t) = rnd(dv[(j - j0) * d + t]);
            }
        }
    for (double& x : dQacc.values()) x = rnd(static_cast<T>(x));
    if (bug_ == Bug::dk_sign)
      for (double& x : dK.values()) x = -x;
    if (bug_ == Bug::dq_dk_zero) {
      std::fill(dQacc.values().begin(), dQacc.values().end(), 0.0);
      std::fill(dK.values().begin(), dK.values().end(), 0.0);
    }
    out.dQ = std::move(dQacc);
    out.dK = std::move(dK);
    out.dV = std::move(dV);
  }

  const Problem& p_;
  const OracleInputs& in_;
  Bug bug_;
  Tiles tiles_;
  T scale_;
  Mask mask_;
  Tensor4<double> o_, lse_nat_, row_sum_;
};

}  // namespace

const std::vector<Bug>& all_bugs() {
  static const std::vector<Bug> bugs = [] {
    std::vector<Bug> v;
    for (const auto& b : kBugs)
      if (b.bug != Bug::none) v.push_back(b.bug);
    return v;
  }();
  return bugs;
}
const char* bug_name(Bug b) {
  for (const auto& x : kBugs)
    if (x.bug == b) return x.name;
  return "?";
}
const char* bug_description(Bug b) {
  for (const auto& x : kBugs)
    if (x.bug == b) return x.what;
  return "?";
}
Bug parse_bug(const std::string& s) {
  std::string names;
  for (const auto& x : kBugs) {
    if (s == x.name) return x.bug;
    names += std::string(names.empty() ? "" : ", ") + x.name;
  }
  throw std::invalid_argument("unknown bug '" + s + "' (expected one of " + names + ")");
}

Outputs flash2_candidate(const Problem& p, const OracleInputs& in, Bug bug, Tiles tiles) {
  p.validate();
  require_qkv(p, in.Q, in.K, in.V);
  if (tiles.Br < 1 || tiles.Bc < 1)
    throw std::invalid_argument("flash2_candidate: tiles must be >= 1 (got " +
                                std::to_string(tiles.Br) + "x" + std::to_string(tiles.Bc) + ")");
  if (in.dO) require_shape(in.dO->shape(), q_shape(p), "dO");
  if (p.dtype == DType::f64) return Flash2<double>(p, in, bug, tiles).run();
  return Flash2<float>(p, in, bug, tiles).run();
}

}  // namespace flashcheck::mutants
