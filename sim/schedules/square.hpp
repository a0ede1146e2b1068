// Saha & Ye's square tiling (ICML 2024, arXiv 2402.07443) for SRAM smaller
// than d^2: every operand is cut into B x B tiles, the head dimension too,
// B = floor(sqrt(M_el / 4)), so a tile step needs O(B^2) SRAM however large d
// is. Three kernels, written once for every executor:
//  (1) S = tau Q K^T, each S_ij accumulated over the d / B head-dim chunks of
//      Q_i and K_j, written to HBM (masked logits as -inf);
//  (2) LSE_i from the S_ij tiles of row block i (online max / sum);
//  (3) O = P V, per output tile (Q block i, head-dim chunk c): stream S_ij,
//      recompute P_ij = exp(S_ij - LSE_i), O_ic += P_ij V_jc.
// Traffic Theta(N^2 d / B) = Theta(N^2 d / sqrt(M)), optimal for M < d^2,
// where FlashAttention's Theta(N^2 d^2 / M) is not (sim/README.md).
// GQA: Q-outer, K_j and V_j are read per query head.
#pragma once
#include <limits>

#include "sim/plan.hpp"
#include "sim/schedules/tiling.hpp"
#include "sim/tensors.hpp"

namespace flashcheck::sim::square {

namespace qk_buf { enum { Qic, Kjc, Sij }; }
namespace sm_buf { enum { Sij, mi, li, LSEi }; }
namespace pv_buf { enum { Pij, LSEi, Vjc, Oic }; }

// Everything on chip counted against M (the paper's two-level model).
inline std::vector<KernelPlan> forward_kernels(int64_t Br, int64_t Bc, int64_t Bd, DType t) {
  const int64_t e = dtype_bytes(t), a = acc_bytes(t);
  return {{"square scores S = tau Q K^T", {{"Q_ic", Br, Bd, e}, {"K_jc", Bc, Bd, e}, {"S_ij", Br, Bc, a}}},
          {"square softmax statistics",
           {{"S_ij", Br, Bc, a}, {"m_i", Br, 1, a}, {"l_i", Br, 1, a}, {"LSE_i", Br, 1, a}}},
          {"square O = P V",
           {{"S_ij/P_ij", Br, Bc, a}, {"LSE_i", Br, 1, a}, {"V_jc", Bc, Bd, e}, {"O_ic", Br, Bd, a}}}};
}

// Head-dim chunks [c Bd, c Bd + width(c)).
struct Chunks {
  int64_t d, Bd;
  int64_t count() const { return (d + Bd - 1) / Bd; }
  int64_t col0(int64_t c) const { return c * Bd; }
  int64_t width(int64_t c) const { return std::min(Bd, d - c * Bd); }
};

template <class Ex>
void forward(Ex& ex, const Plan& plan) {
  const Problem& p = plan.problem;
  const Tiling t(p, plan.Br(), plan.Bc());
  const Chunks ch{p.head_dim, plan.desc.Bd};
  const double tau = p.softmax_scale();
  const int64_t units = p.batch * p.heads_q;
  {
    using namespace qk_buf;
    ex.begin_kernel(plan.kernels[0]);
    ex.for_units(units, [&](int64_t u) {
      const int64_t b = u / p.heads_q, h = u % p.heads_q, hk = p.kv_head_of(h);
      ex.for_q_blocks(t, [&](int64_t i) {
        const int64_t r0 = t.row0(i), nr = t.rows(i);
        ex.for_blocks(t.kv_blocks(i), [&](int64_t j) {
          const int64_t c0 = t.col0(j), nc = t.cols(j);
          ex.zero(Sij, nr, nc);
          ex.for_blocks(Range{0, ch.count()}, [&](int64_t c) {
            ex.load(Qic, TensorId::Q, b, h, r0, nr, ch.col0(c), ch.width(c));
            ex.load(Kjc, TensorId::K, b, hk, c0, nc, ch.col0(c), ch.width(c));
            ex.gemm_nt_acc(Sij, Qic, Kjc, nr, nc, ch.width(c), tau);  // S_ij += tau Q_ic K_jc^T
          });
          if (t.partial(i, j)) ex.mask(Sij, r0, nr, c0, nc);
          ex.store(Sij, TensorId::S, b, h, r0, nr, c0, nc);
        });
      });
    });
    ex.end_kernel();
  }
  {
    using namespace sm_buf;
    ex.begin_kernel(plan.kernels[1]);
    ex.for_units(units, [&](int64_t u) {
      const int64_t b = u / p.heads_q, h = u % p.heads_q;
      ex.for_q_blocks(t, [&](int64_t i) {
        const int64_t r0 = t.row0(i), nr = t.rows(i);
        ex.fill(mi, nr, 1, -std::numeric_limits<double>::infinity());
        ex.zero(li, nr, 1);
        ex.for_blocks(t.kv_blocks(i), [&](int64_t j) {
          ex.load(Sij, TensorId::S, b, h, r0, nr, t.col0(j), t.cols(j));
          ex.row_stats(Sij, mi, li, nr, t.cols(j));
        });
        ex.lse(LSEi, mi, li, nr);  // -inf for a row that sees nothing
        ex.store(LSEi, TensorId::LSE, b, h, r0, nr, 0, 1);
      });
    });
    ex.end_kernel();
  }
  using namespace pv_buf;
  ex.begin_kernel(plan.kernels[2]);
  ex.for_units(units, [&](int64_t u) {
    const int64_t b = u / p.heads_q, h = u % p.heads_q, hk = p.kv_head_of(h);
    ex.for_q_blocks(t, [&](int64_t i) {
      const int64_t r0 = t.row0(i), nr = t.rows(i);
      const Range kv = t.kv_blocks(i);
      ex.for_blocks(Range{0, ch.count()}, [&](int64_t c) {
        const int64_t w = ch.width(c);
        ex.zero(Oic, nr, w);
        if (!kv.empty()) ex.load(LSEi, TensorId::LSE, b, h, r0, nr, 0, 1);
        ex.for_blocks(kv, [&](int64_t j) {
          const int64_t c0 = t.col0(j), nc = t.cols(j);
          ex.load(Pij, TensorId::S, b, h, r0, nr, c0, nc);
          ex.recompute_p_lse(Pij, LSEi, nr, nc);  // P_ij = exp(S_ij - LSE_i)
          ex.load(Vjc, TensorId::V, b, hk, c0, nc, ch.col0(c), w);
          ex.gemm_nn(Oic, Pij, Vjc, nr, w, nc, 1.0);  // O_ic += P_ij V_jc
        });
        ex.store(Oic, TensorId::O, b, h, r0, nr, ch.col0(c), w);
      });
    });
  });
  ex.end_kernel();
}

}  // namespace flashcheck::sim::square
