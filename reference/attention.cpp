// Float64 attention forward and backward, row by row over each head's visible
// key range (the mask object's band), with the max subtracted before exp so
// logits up to 1e4 neither overflow nor underflow to a wrong result.
#include "reference/attention.hpp"

#include <cmath>
#include <limits>

#include "reference/eigen_maps.hpp"

namespace flashcheck {
namespace {

constexpr double kNegInf = -std::numeric_limits<double>::infinity();


}  // namespace

ForwardResult reference_forward(const Problem& p, const Tensor4<double>& Q,
                                const Tensor4<double>& K, const Tensor4<double>& V) {
  require_qkv(p, Q, K, V);
  ForwardResult r{Tensor4<double>(q_shape(p)), Tensor4<double>(lse_shape(p))};
  const double scale = p.softmax_scale();
  Eigen::VectorXd s;
  for (int64_t b = 0; b < p.batch; ++b)
    for (int64_t h = 0; h < p.heads_q; ++h) {
      auto q = head_of(Q, b, h);
      auto k = head_of(K, b, p.kv_head_of(h));
      auto v = head_of(V, b, p.kv_head_of(h));
      auto o = head_of(r.O, b, h);
      for (int64_t i = 0; i < p.seqlen_q; ++i) {
        const Range keys = p.key_range(i);
        if (keys.empty()) {  // documented: O = 0, LSE = -inf
          r.LSE(b, h, i) = kNegInf;
          continue;
        }
        s = scale * (k.middleRows(keys.begin, keys.size()) * q.row(i).transpose());
        const double m = s.maxCoeff();
        s = exact_exp(s.array() - m);
        const double l = s.sum();
        o.row(i) = (s.transpose() / l) * v.middleRows(keys.begin, keys.size());
        r.LSE(b, h, i) = m + std::log(l);
      }
    }
  return r;
}

Tensor4<double> backward_D(const Problem& p, const Tensor4<double>& O, const Tensor4<double>& dO) {
  p.validate();
  require_shape(O.shape(), q_shape(p), "O");
  require_shape(dO.shape(), q_shape(p), "dO");
  Tensor4<double> D(lse_shape(p));
  for (int64_t b = 0; b < p.batch; ++b)
    for (int64_t h = 0; h < p.heads_q; ++h)
      head_of(D, b, h) = (head_of(dO, b, h).array() * head_of(O, b, h).array()).rowwise().sum();
  return D;
}

BackwardMain backward_main(const Problem& p, const Tensor4<double>& Q, const Tensor4<double>& K,
                           const Tensor4<double>& V, const Tensor4<double>& LSE,
                           const Tensor4<double>& dO, const Tensor4<double>& D) {
  require_qkv(p, Q, K, V);
  require_shape(LSE.shape(), lse_shape(p), "LSE");
  require_shape(dO.shape(), q_shape(p), "dO");
  require_shape(D.shape(), lse_shape(p), "D");
  const Shape4 per_qhead{p.batch, p.heads_q, p.seqlen_k, p.head_dim};
  BackwardMain g{Tensor4<double>(q_shape(p)), Tensor4<double>(per_qhead),
                 Tensor4<double>(per_qhead)};
  const double scale = p.softmax_scale();
  Eigen::RowVectorXd prob, dS;
  for (int64_t b = 0; b < p.batch; ++b)
    for (int64_t h = 0; h < p.heads_q; ++h) {
      auto q = head_of(Q, b, h);
      auto k = head_of(K, b, p.kv_head_of(h));
      auto v = head_of(V, b, p.kv_head_of(h));
      auto dout = head_of(dO, b, h);
      auto dq = head_of(g.dQ, b, h);
      auto dk = head_of(g.dK_per_qhead, b, h);
      auto dv = head_of(g.dV_per_qhead, b, h);
      for (int64_t i = 0; i < p.seqlen_q; ++i) {
        const Range keys = p.key_range(i);
        if (keys.empty()) continue;  // no key seen: zero gradient by definition
        auto kb = k.middleRows(keys.begin, keys.size());
        auto vb = v.middleRows(keys.begin, keys.size());
        // P recomputed from the saved statistics, as FlashAttention does.
        prob = exact_exp((scale * (q.row(i) * kb.transpose())).array() - LSE(b, h, i));
        dS = prob.array() * ((dout.row(i) * vb.transpose()).array() - D(b, h, i));
        dv.middleRows(keys.begin, keys.size()).noalias() += prob.transpose() * dout.row(i);
        dq.row(i).noalias() = scale * (dS * kb);
        dk.middleRows(keys.begin, keys.size()).noalias() += scale * (dS.transpose() * q.row(i));
      }
    }
  return g;
}

Gradients backward_finalise(const Problem& p, BackwardMain&& main) {
  // The caller builds BackwardMain (kernels may hand in their own phase-2
  // results): check it, or a wrong shape would read past the buffers.
  p.validate();
  const Shape4 per_qhead{p.batch, p.heads_q, p.seqlen_k, p.head_dim};
  require_shape(main.dQ.shape(), q_shape(p), "dQ");
  require_shape(main.dK_per_qhead.shape(), per_qhead, "dK_per_qhead");
  require_shape(main.dV_per_qhead.shape(), per_qhead, "dV_per_qhead");
  Gradients g{std::move(main.dQ), Tensor4<double>(kv_shape(p)), Tensor4<double>(kv_shape(p))};
  for (int64_t b = 0; b < p.batch; ++b)
    for (int64_t h = 0; h < p.heads_q; ++h) {
      head_of(g.dK, b, p.kv_head_of(h)) += head_of(main.dK_per_qhead, b, h);
      head_of(g.dV, b, p.kv_head_of(h)) += head_of(main.dV_per_qhead, b, h);
    }
  return g;
}

Gradients reference_backward(const Problem& p, const Tensor4<double>& Q, const Tensor4<double>& K,
                             const Tensor4<double>& V, const Tensor4<double>& O,
                             const Tensor4<double>& LSE, const Tensor4<double>& dO) {
  const Tensor4<double> D = backward_D(p, O, dO);
  return backward_finalise(p, backward_main(p, Q, K, V, LSE, dO, D));
}

}  // namespace flashcheck
