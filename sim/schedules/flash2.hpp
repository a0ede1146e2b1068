// FlashAttention-2 (Dao 2023), written once for every executor (counting or
// numeric). Forward: Q-outer; Q_i, the O_i accumulator and m_i, l_i stay on
// chip; O and LSE are written once; fully masked KV blocks are skipped.
// Backward: a preprocess kernel computes D = rowsum(dO * O) and zeroes dQ,
// then KV-outer, Q-inner: K_j, V_j, dK_j, dV_j stay on chip, dQ_i is
// read-modify-written in HBM (FlashAttention-2 uses atomics; the count is the same).
// GQA: the KV-outer loop runs over KV heads and, inside, over the query heads
// sharing one, so K_j, V_j are read and dK_j, dV_j written once per KV head.
#pragma once
#include <limits>

#include "sim/plan.hpp"
#include "sim/schedules/tiling.hpp"
#include "sim/tensors.hpp"

namespace flashcheck::sim::flash2 {

namespace fwd_buf { enum { Qi, Oi, Kj, Vj, Sij, mi, li, LSEi }; }
namespace pre_buf { enum { Oi, dOi, Di, dQi }; }
namespace bwd_buf { enum { Kj, Vj, dKj, dVj, Qi, dOi, dQi, Sij, dPij, LSEi, Di }; }

// regs: the GPU rule (accumulators, score tiles and row statistics in
// registers, as FlashAttention-2 keeps them); false: everything in SRAM (the paper's model).
inline std::vector<KernelPlan> forward_kernels(int64_t Br, int64_t Bc, int64_t d, DType t,
                                               bool regs = false) {
  const int64_t e = dtype_bytes(t), a = acc_bytes(t);
  return {{"flash2 fwd",
           {{"Q_i", Br, d, e}, {"O_i", Br, d, a, regs}, {"K_j", Bc, d, e}, {"V_j", Bc, d, e},
            {"S_ij", Br, Bc, a, regs}, {"m_i", Br, 1, a, regs}, {"l_i", Br, 1, a, regs},
            {"LSE_i", Br, 1, a, regs}}}};
}

// regs: the GPU rule. Registers then hold dK_j, dV_j, S/P and dP/dS; shared
// memory K_j, V_j, Q_i, dO_i, LSE_i, D_i and dS (staged for dQ = dS K and
// dK = dS^T Q, as FlashAttention-2 does); dQ_i is formed from the staged dS
// in the registers S/P held (aliased: counted once) and added to HBM.
inline std::vector<KernelPlan> backward_kernels(int64_t Br, int64_t Bc, int64_t d, DType t,
                                                bool regs = false) {
  const int64_t e = dtype_bytes(t), a = acc_bytes(t);
  KernelPlan pre{"flash2 bwd preprocess (D, dQ = 0)",
                 {{"O_i", Br, d, e}, {"dO_i", Br, d, e}, {"D_i", Br, 1, a, regs}, {"dQ_i", Br, d, a, regs}}};
  if (!regs)
    return {pre,
            {"flash2 bwd main",
             {{"K_j", Bc, d, e}, {"V_j", Bc, d, e}, {"dK_j", Bc, d, a}, {"dV_j", Bc, d, a},
              {"Q_i", Br, d, e}, {"dO_i", Br, d, e}, {"dQ_i", Br, d, a}, {"S_ij/P_ij", Br, Bc, a},
              {"dP_ij/dS_ij", Br, Bc, a}, {"LSE_i", Br, 1, a}, {"D_i", Br, 1, a}}}};
  return {pre,
          {"flash2 bwd main",
           {{"K_j", Bc, d, e}, {"V_j", Bc, d, e}, {"dK_j", Bc, d, a, true}, {"dV_j", Bc, d, a, true},
            {"Q_i", Br, d, e}, {"dO_i", Br, d, e}, {"dQ_i (in the S/P registers)", Br, d, a, true, true},
            {"S_ij/P_ij", Br, Bc, a, true}, {"dP_ij/dS_ij", Br, Bc, a, true},
            {"LSE_i", Br, 1, a}, {"D_i", Br, 1, a}, {"dS_ij (staged)", Br, Bc, e}}}};
}

template <class Ex>
void forward(Ex& ex, const Plan& plan) {
  using namespace fwd_buf;
  const Problem& p = plan.problem;
  const Tiling t(p, plan.Br(), plan.Bc());
  const int64_t d = p.head_dim;
  const double tau = p.softmax_scale();
  ex.begin_kernel(plan.kernels[0]);
  ex.for_units(p.batch * p.heads_q, [&](int64_t u) {
    const int64_t b = u / p.heads_q, h = u % p.heads_q, hk = p.kv_head_of(h);
    ex.for_q_blocks(t, [&](int64_t i) {
      const int64_t r0 = t.row0(i), nr = t.rows(i);
      const Range kv = t.kv_blocks(i);
      ex.zero(Oi, nr, d);
      ex.fill(mi, nr, 1, -std::numeric_limits<double>::infinity());
      ex.zero(li, nr, 1);
      if (!kv.empty()) ex.load(Qi, TensorId::Q, b, h, r0, nr, 0, d);
      ex.for_blocks(kv, [&](int64_t j) {
        const int64_t c0 = t.col0(j), nc = t.cols(j);
        ex.load(Kj, TensorId::K, b, hk, c0, nc, 0, d);
        ex.load(Vj, TensorId::V, b, hk, c0, nc, 0, d);
        ex.gemm_nt(Sij, Qi, Kj, nr, nc, d, tau);  // S = tau Q_i K_j^T
        if (t.partial(i, j)) ex.mask(Sij, r0, nr, c0, nc);
        ex.online_softmax(Sij, mi, li, Oi, nr, nc, d);  // S -> P, rescale O_i, l_i
        ex.gemm_nn(Oi, Sij, Vj, nr, d, nc, 1.0);        // O_i += P V_j
      });
      ex.finalise(Oi, mi, li, LSEi, nr, d);  // O_i /= l_i, LSE_i = m_i + log l_i
      ex.store(Oi, TensorId::O, b, h, r0, nr, 0, d);
      ex.store(LSEi, TensorId::LSE, b, h, r0, nr, 0, 1);
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
    using namespace pre_buf;
    ex.begin_kernel(plan.kernels[0]);
    ex.for_units(p.batch * p.heads_q, [&](int64_t u) {
      const int64_t b = u / p.heads_q, h = u % p.heads_q;
      ex.for_q_blocks(t, [&](int64_t i) {
        const int64_t r0 = t.row0(i), nr = t.rows(i);
        ex.load(Oi, TensorId::O, b, h, r0, nr, 0, d);
        ex.load(dOi, TensorId::dO, b, h, r0, nr, 0, d);
        ex.rowdot(Di, dOi, Oi, nr, d);  // D_i = rowsum(dO_i * O_i)
        ex.store(Di, TensorId::D, b, h, r0, nr, 0, 1);
        ex.zero(dQi, nr, d);
        ex.store(dQi, TensorId::dQ, b, h, r0, nr, 0, d);
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
          ex.load(dOi, TensorId::dO, b, h, r0, nr, 0, d);
          ex.load(LSEi, TensorId::LSE, b, h, r0, nr, 0, 1);
          ex.load(Di, TensorId::D, b, h, r0, nr, 0, 1);
          ex.gemm_nt(Sij, Qi, Kj, nr, nc, d, tau);
          if (t.partial(i, j)) ex.mask(Sij, r0, nr, c0, nc);
          ex.recompute_p_lse(Sij, LSEi, nr, nc);         // P = exp(S - LSE_i)
          ex.gemm_tn(dVj, Sij, dOi, nc, d, nr, 1.0);     // dV_j += P^T dO_i
          ex.gemm_nt(dPij, dOi, Vj, nr, nc, d, 1.0);     // dP = dO_i V_j^T
          ex.softmax_grad(dPij, Sij, Di, nr, nc);        // dS = P * (dP - D_i)
          ex.load(dQi, TensorId::dQ, b, h, r0, nr, 0, d);
          ex.gemm_nn(dQi, dPij, Kj, nr, d, nc, tau);     // dQ_i += tau dS K_j
          ex.store(dQi, TensorId::dQ, b, h, r0, nr, 0, d);
          ex.gemm_tn(dKj, dPij, Qi, nc, d, nr, tau);     // dK_j += tau dS^T Q_i
        });
      ex.store(dKj, TensorId::dK, b, hk, c0, nc, 0, d);
      ex.store(dVj, TensorId::dV, b, hk, c0, nc, 0, d);
    });
  });
  ex.end_kernel();
}

}  // namespace flashcheck::sim::flash2
