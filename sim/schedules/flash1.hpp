// FlashAttention (Dao et al. 2022): Algorithm 1 forward and Algorithm 4
// backward, KV-outer, written once for every executor. O, l and m live in
// HBM: they are initialised there (O = 0, l = 0, m = -inf; dQ = 0) and every
// inner step reads O_i, l_i, m_i and writes them back, so Q and O are passed
// over Tc times. K_j, V_j are read once per KV head (the query heads of a GQA
// group run inside the outer step). The forward writes no LSE: numeric mode
// derives it from l and m after the run (uncounted, sim/README.md).
#pragma once
#include <limits>

#include "sim/plan.hpp"
#include "sim/schedules/tiling.hpp"
#include "sim/tensors.hpp"

namespace flashcheck::sim::flash1 {

namespace init_buf { enum { Oi, li, mi }; }
namespace fwd_buf { enum { Kj, Vj, Qi, Oi, Sij, mi, li, mt, lt }; }
namespace dqinit_buf { enum { dQi }; }
namespace bwd_buf { enum { Kj, Vj, dKj, dVj, Qi, Oi, dOi, dQi, Sij, dPij, li, mi, Di }; }

inline std::vector<KernelPlan> forward_kernels(int64_t Br, int64_t Bc, int64_t d, DType t) {
  const int64_t e = dtype_bytes(t), a = acc_bytes(t);
  return {{"flash1 fwd init (O = 0, l = 0, m = -inf)",
           {{"O_i", Br, d, a}, {"l_i", Br, 1, a}, {"m_i", Br, 1, a}}},
          {"flash1 fwd",
           {{"K_j", Bc, d, e}, {"V_j", Bc, d, e}, {"Q_i", Br, d, e}, {"O_i", Br, d, a},
            {"S_ij/P_ij", Br, Bc, a}, {"m_i", Br, 1, a}, {"l_i", Br, 1, a},
            {"m~_ij", Br, 1, a}, {"l~_ij", Br, 1, a}}}};
}

inline std::vector<KernelPlan> backward_kernels(int64_t Br, int64_t Bc, int64_t d, DType t) {
  const int64_t e = dtype_bytes(t), a = acc_bytes(t);
  return {{"flash1 bwd init (dQ = 0)", {{"dQ_i", Br, d, a}}},
          {"flash1 bwd",
           {{"K_j", Bc, d, e}, {"V_j", Bc, d, e}, {"dK_j", Bc, d, a}, {"dV_j", Bc, d, a},
            {"Q_i", Br, d, e}, {"O_i", Br, d, e}, {"dO_i", Br, d, e}, {"dQ_i", Br, d, a},
            {"S_ij/P_ij", Br, Bc, a}, {"dP_ij/dS_ij", Br, Bc, a}, {"l_i", Br, 1, a},
            {"m_i", Br, 1, a}, {"D_i", Br, 1, a}}}};
}

template <class Ex>
void forward(Ex& ex, const Plan& plan) {
  const Problem& p = plan.problem;
  const Tiling t(p, plan.Br(), plan.Bc());
  const int64_t d = p.head_dim, g = p.group_size();
  const double tau = p.softmax_scale();
  {
    using namespace init_buf;
    ex.begin_kernel(plan.kernels[0]);
    ex.for_units(p.batch * p.heads_q, [&](int64_t u) {
      const int64_t b = u / p.heads_q, h = u % p.heads_q;
      ex.for_q_blocks(t, [&](int64_t i) {
        const int64_t r0 = t.row0(i), nr = t.rows(i);
        ex.zero(Oi, nr, d);
        ex.zero(li, nr, 1);
        ex.fill(mi, nr, 1, -std::numeric_limits<double>::infinity());
        ex.store(Oi, TensorId::O, b, h, r0, nr, 0, d);
        ex.store(li, TensorId::l, b, h, r0, nr, 0, 1);
        ex.store(mi, TensorId::m, b, h, r0, nr, 0, 1);
      });
    });
    ex.end_kernel();
  }
  using namespace fwd_buf;
  ex.begin_kernel(plan.kernels[1]);
  ex.for_units(p.batch * p.heads_kv, [&](int64_t u) {
    const int64_t b = u / p.heads_kv, hk = u % p.heads_kv;
    ex.for_kv_blocks(t, [&](int64_t j) {
      const int64_t c0 = t.col0(j), nc = t.cols(j);
      const Range qb = t.q_blocks(j);
      if (qb.empty()) return;  // no query sees this block
      ex.load(Kj, TensorId::K, b, hk, c0, nc, 0, d);
      ex.load(Vj, TensorId::V, b, hk, c0, nc, 0, d);
      for (int64_t h = hk * g; h < (hk + 1) * g; ++h)
        ex.for_blocks(qb, [&](int64_t i) {
          const int64_t r0 = t.row0(i), nr = t.rows(i);
          ex.load(Qi, TensorId::Q, b, h, r0, nr, 0, d);
          ex.load(Oi, TensorId::O, b, h, r0, nr, 0, d);
          ex.load(li, TensorId::l, b, h, r0, nr, 0, 1);
          ex.load(mi, TensorId::m, b, h, r0, nr, 0, 1);
          ex.gemm_nt(Sij, Qi, Kj, nr, nc, d, tau);  // S = tau Q_i K_j^T
          if (t.partial(i, j)) ex.mask(Sij, r0, nr, c0, nc);
          // m~ = rowmax S, P~ = exp(S - m~), l~ = rowsum P~, m_new, l_new;
          // O_i *= l_i e^(m_i - m_new), P~ *= e^(m~ - m_new), then O_i += P~ V_j.
          ex.flash1_rescale(Sij, mt, lt, mi, li, Oi, nr, nc, d);
          ex.gemm_nn(Oi, Sij, Vj, nr, d, nc, 1.0);
          ex.flash1_normalise(Oi, li, nr, d);  // O_i /= l_new
          ex.store(Oi, TensorId::O, b, h, r0, nr, 0, d);
          ex.store(li, TensorId::l, b, h, r0, nr, 0, 1);
          ex.store(mi, TensorId::m, b, h, r0, nr, 0, 1);
        });
    });
  });
  ex.end_kernel();
}

template <class Ex>
void backward(Ex& ex, const Plan& plan) {
  const Problem& p = plan.problem;
  const Tiling t(p, plan.Br(), plan.Bc());
  const int64_t d = p.head_dim, g = p.group_size();
  const double tau = p.softmax_scale();
  {
    using namespace dqinit_buf;
    ex.begin_kernel(plan.kernels[0]);
    ex.for_units(p.batch * p.heads_q, [&](int64_t u) {
      const int64_t b = u / p.heads_q, h = u % p.heads_q;
      ex.for_q_blocks(t, [&](int64_t i) {
        ex.zero(dQi, t.rows(i), d);
        ex.store(dQi, TensorId::dQ, b, h, t.row0(i), t.rows(i), 0, d);
      });
    });
    ex.end_kernel();
  }
  using namespace bwd_buf;
  ex.begin_kernel(plan.kernels[1]);
  ex.for_units(p.batch * p.heads_kv, [&](int64_t u) {
    const int64_t b = u / p.heads_kv, hk = u % p.heads_kv;
    ex.for_kv_blocks(t, [&](int64_t j) {
      const int64_t c0 = t.col0(j), nc = t.cols(j);
      const Range qb = t.q_blocks(j);
      ex.zero(dKj, nc, d);
      ex.zero(dVj, nc, d);
      if (!qb.empty()) {
        ex.load(Kj, TensorId::K, b, hk, c0, nc, 0, d);
        ex.load(Vj, TensorId::V, b, hk, c0, nc, 0, d);
      }
      for (int64_t h = hk * g; h < (hk + 1) * g; ++h)
        ex.for_blocks(qb, [&](int64_t i) {
          const int64_t r0 = t.row0(i), nr = t.rows(i);
          ex.load(Qi, TensorId::Q, b, h, r0, nr, 0, d);
          ex.load(Oi, TensorId::O, b, h, r0, nr, 0, d);
          ex.load(dOi, TensorId::dO, b, h, r0, nr, 0, d);
          ex.load(dQi, TensorId::dQ, b, h, r0, nr, 0, d);
          ex.load(li, TensorId::l, b, h, r0, nr, 0, 1);
          ex.load(mi, TensorId::m, b, h, r0, nr, 0, 1);
          ex.gemm_nt(Sij, Qi, Kj, nr, nc, d, tau);
          if (t.partial(i, j)) ex.mask(Sij, r0, nr, c0, nc);
          ex.recompute_p_ml(Sij, mi, li, nr, nc);     // P = diag(l)^-1 exp(S - m)
          ex.gemm_tn(dVj, Sij, dOi, nc, d, nr, 1.0);  // dV_j += P^T dO_i
          ex.gemm_nt(dPij, dOi, Vj, nr, nc, d, 1.0);  // dP = dO_i V_j^T
          ex.rowdot(Di, dOi, Oi, nr, d);              // D_i = rowsum(dO_i * O_i), every step
          ex.softmax_grad(dPij, Sij, Di, nr, nc);     // dS = P * (dP - D_i)
          ex.gemm_nn(dQi, dPij, Kj, nr, d, nc, tau);  // dQ_i += tau dS K_j
          ex.store(dQi, TensorId::dQ, b, h, r0, nr, 0, d);
          ex.gemm_tn(dKj, dPij, Qi, nc, d, nr, tau);  // dK_j += tau dS^T Q_i
        });
      ex.store(dKj, TensorId::dK, b, hk, c0, nc, 0, d);
      ex.store(dVj, TensorId::dV, b, hk, c0, nc, 0, d);
    });
  });
  ex.end_kernel();
}

}  // namespace flashcheck::sim::flash1
