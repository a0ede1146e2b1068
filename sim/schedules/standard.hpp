// Standard attention (FlashAttention paper, Algorithm 0 forward, Algorithm 3
// backward): every step is its own kernel and the N x N matrices S, P (and
// dP, dS backward) go through HBM. Each kernel is tiled (Br x Bc tiles, fully
// masked tiles skipped, the same tiles in every kernel) so it fits in any M.
// The softmax kernels cover the keys of a row's tiles: when such a row (two
// rows backward: P and dP) fits on chip they work row by row and read it once,
// otherwise they stream the tiles of a row block twice (statistics pass, then
// output pass), in chunks of as many rows as fit (Plan::softmax_rows).
// Forward also stores LSE (N floats) so that every schedule returns it.
#pragma once
#include <algorithm>
#include <limits>

#include "sim/plan.hpp"
#include "sim/schedules/tiling.hpp"
#include "sim/tensors.hpp"

namespace flashcheck::sim::standard {

namespace qk_buf { enum { Qi, Kj, Sij }; }
namespace softmax_buf { enum { Srow, m, l, LSEr }; }
// O = P V and dQ = dS K share one kernel shape (row_block_product).
namespace product_buf { enum { Aij, Bj, Ci }; }
namespace dv_buf { enum { Pij, dOi, dVj }; }
namespace dp_buf { enum { dOi, Vj, dPij }; }
namespace ds_buf { enum { Prow, dProw, rowsum }; }
namespace dk_buf { enum { dSij, Qi, dKj }; }

// span: the widest key span of a row; R: rows per chunk when streamed.
inline std::vector<KernelPlan> forward_kernels(int64_t Br, int64_t Bc, int64_t d, DType t,
                                               int64_t span, bool resident, int64_t R) {
  const int64_t e = dtype_bytes(t), a = acc_bytes(t);
  return {{"standard fwd S = QK^T", {{"Q_i", Br, d, e}, {"K_j", Bc, d, e}, {"S_ij", Br, Bc, a}}},
          {"standard fwd softmax",
           {resident ? BufferSpec{"S_row", 1, span, a} : BufferSpec{"S_tile", R, Bc, a},
            {"m", resident ? 1 : R, 1, a}, {"l", resident ? 1 : R, 1, a},
            {"LSE", resident ? 1 : R, 1, a}}},
          {"standard fwd O = PV", {{"P_ij", Br, Bc, e}, {"V_j", Bc, d, e}, {"O_i", Br, d, a}}}};
}

inline std::vector<KernelPlan> backward_kernels(int64_t Br, int64_t Bc, int64_t d, DType t,
                                                int64_t span, bool resident, int64_t R) {
  const int64_t e = dtype_bytes(t), a = acc_bytes(t);
  return {{"standard bwd dV = P^T dO", {{"P_ij", Br, Bc, e}, {"dO_i", Br, d, e}, {"dV_j", Bc, d, a}}},
          {"standard bwd dP = dO V^T", {{"dO_i", Br, d, e}, {"V_j", Bc, d, e}, {"dP_ij", Br, Bc, a}}},
          {"standard bwd dS = P * (dP - rowsum(P * dP))",
           {resident ? BufferSpec{"P_row", 1, span, a} : BufferSpec{"P_tile", R, Bc, a},
            resident ? BufferSpec{"dP_row", 1, span, a} : BufferSpec{"dP_tile", R, Bc, a},
            {"rowsum", resident ? 1 : R, 1, a}}},
          {"standard bwd dQ = dS K", {{"dS_ij", Br, Bc, e}, {"K_j", Bc, d, e}, {"dQ_i", Br, d, a}}},
          {"standard bwd dK = dS^T Q", {{"dS_ij", Br, Bc, e}, {"Q_i", Br, d, e}, {"dK_j", Bc, d, a}}}};
}

// C_i = scale * sum_j A_ij B_j for every Q block i over the KV blocks j it
// visits: A is [Hq][Nq][Nk] (P or dS), B a KV tensor (V or K), C a Q tensor
// (O or dQ). The unfused O = P V and dQ = dS K kernels are both this loop.
template <class Ex>
void row_block_product(Ex& ex, const Plan& plan, const Tiling& t, const KernelPlan& kernel,
                       TensorId A, TensorId B, TensorId C, double scale) {
  using namespace product_buf;
  const Problem& p = plan.problem;
  const int64_t d = p.head_dim;
  ex.begin_kernel(kernel);
  ex.for_units(p.batch * p.heads_q, [&](int64_t u) {
    const int64_t b = u / p.heads_q, h = u % p.heads_q, hk = p.kv_head_of(h);
    ex.for_q_blocks(t, [&](int64_t i) {
      const int64_t r0 = t.row0(i), nr = t.rows(i);
      ex.zero(Ci, nr, d);
      ex.for_blocks(t.kv_blocks(i), [&](int64_t j) {
        const int64_t c0 = t.col0(j), nc = t.cols(j);
        ex.load(Aij, A, b, h, r0, nr, c0, nc);
        ex.load(Bj, B, b, hk, c0, nc, 0, d);
        ex.gemm_nn(Ci, Aij, Bj, nr, d, nc, scale);
      });
      ex.store(Ci, C, b, h, r0, nr, 0, d);
    });
  });
  ex.end_kernel();
}

template <class Ex>
void forward(Ex& ex, const Plan& plan) {
  const Problem& p = plan.problem;
  const Tiling t(p, plan.Br(), plan.Bc());
  const int64_t d = p.head_dim;
  const double tau = p.softmax_scale();
  const double neg_inf = -std::numeric_limits<double>::infinity();
  const int64_t units = p.batch * p.heads_q;
  {
    using namespace qk_buf;
    ex.begin_kernel(plan.kernels[0]);
    ex.for_units(units, [&](int64_t u) {
      const int64_t b = u / p.heads_q, h = u % p.heads_q, hk = p.kv_head_of(h);
      ex.for_q_blocks(t, [&](int64_t i) {
        const int64_t r0 = t.row0(i), nr = t.rows(i);
        const Range kv = t.kv_blocks(i);
        if (kv.empty()) return;
        ex.load(Qi, TensorId::Q, b, h, r0, nr, 0, d);
        ex.for_blocks(kv, [&](int64_t j) {
          const int64_t c0 = t.col0(j), nc = t.cols(j);
          ex.load(Kj, TensorId::K, b, hk, c0, nc, 0, d);
          ex.gemm_nt(Sij, Qi, Kj, nr, nc, d, tau);
          if (t.partial(i, j)) ex.mask(Sij, r0, nr, c0, nc);  // masked logits stored as -inf
          ex.store(Sij, TensorId::S, b, h, r0, nr, c0, nc);
        });
      });
    });
    ex.end_kernel();
  }
  {
    using namespace softmax_buf;
    ex.begin_kernel(plan.kernels[1]);
    ex.for_units(units, [&](int64_t u) {
      const int64_t b = u / p.heads_q, h = u % p.heads_q;
      ex.for_q_blocks(t, [&](int64_t i) {
        const int64_t r0 = t.row0(i), nr = t.rows(i);
        const Range kv = t.kv_blocks(i);
        const Range span = t.key_span(i);
        if (plan.row_resident) {
          ex.for_blocks(Range{r0, r0 + nr}, [&](int64_t r) {
            ex.fill(m, 1, 1, neg_inf);
            ex.zero(l, 1, 1);
            if (!kv.empty()) {
              ex.load(Srow, TensorId::S, b, h, r, 1, span.begin, span.size());
              ex.row_stats(Srow, m, l, 1, span.size());
              ex.row_normalise(Srow, m, l, 1, span.size());  // S -> P
              ex.store(Srow, TensorId::P, b, h, r, 1, span.begin, span.size());
            }
            ex.lse(LSEr, m, l, 1);  // -inf for a row that sees nothing
            ex.store(LSEr, TensorId::LSE, b, h, r, 1, 0, 1);
          });
          return;
        }
        for (int64_t q0 = r0; q0 < r0 + nr; q0 += plan.softmax_rows) {
          const int64_t n = std::min(plan.softmax_rows, r0 + nr - q0);
          ex.fill(m, n, 1, neg_inf);
          ex.zero(l, n, 1);
          ex.for_blocks(kv, [&](int64_t j) {
            ex.load(Srow, TensorId::S, b, h, q0, n, t.col0(j), t.cols(j));
            ex.row_stats(Srow, m, l, n, t.cols(j));
          });
          ex.for_blocks(kv, [&](int64_t j) {
            ex.load(Srow, TensorId::S, b, h, q0, n, t.col0(j), t.cols(j));
            ex.row_normalise(Srow, m, l, n, t.cols(j));
            ex.store(Srow, TensorId::P, b, h, q0, n, t.col0(j), t.cols(j));
          });
          ex.lse(LSEr, m, l, n);  // -inf for a row that sees nothing
          ex.store(LSEr, TensorId::LSE, b, h, q0, n, 0, 1);
        }
      });
    });
    ex.end_kernel();
  }
  // O_i = sum_j P_ij V_j.
  row_block_product(ex, plan, t, plan.kernels[2], TensorId::P, TensorId::V, TensorId::O, 1.0);
}

// Reads P from HBM (saved by the forward).
template <class Ex>
void backward(Ex& ex, const Plan& plan) {
  const Problem& p = plan.problem;
  const Tiling t(p, plan.Br(), plan.Bc());
  const int64_t d = p.head_dim, g = p.group_size();
  const double tau = p.softmax_scale();
  const int64_t q_units = p.batch * p.heads_q, kv_units = p.batch * p.heads_kv;
  {
    using namespace dv_buf;
    ex.begin_kernel(plan.kernels[0]);
    ex.for_units(kv_units, [&](int64_t u) {
      const int64_t b = u / p.heads_kv, hk = u % p.heads_kv;
      ex.for_kv_blocks(t, [&](int64_t j) {
        const int64_t c0 = t.col0(j), nc = t.cols(j);
        const Range qb = t.q_blocks(j);
        ex.zero(dVj, nc, d);
        for (int64_t h = hk * g; h < (hk + 1) * g; ++h)
          ex.for_blocks(qb, [&](int64_t i) {
            const int64_t r0 = t.row0(i), nr = t.rows(i);
            ex.load(Pij, TensorId::P, b, h, r0, nr, c0, nc);
            ex.load(dOi, TensorId::dO, b, h, r0, nr, 0, d);
            ex.gemm_tn(dVj, Pij, dOi, nc, d, nr, 1.0);
          });
        ex.store(dVj, TensorId::dV, b, hk, c0, nc, 0, d);
      });
    });
    ex.end_kernel();
  }
  {
    using namespace dp_buf;
    ex.begin_kernel(plan.kernels[1]);
    ex.for_units(q_units, [&](int64_t u) {
      const int64_t b = u / p.heads_q, h = u % p.heads_q, hk = p.kv_head_of(h);
      ex.for_q_blocks(t, [&](int64_t i) {
        const int64_t r0 = t.row0(i), nr = t.rows(i);
        const Range kv = t.kv_blocks(i);
        if (kv.empty()) return;
        ex.load(dOi, TensorId::dO, b, h, r0, nr, 0, d);
        ex.for_blocks(kv, [&](int64_t j) {
          const int64_t c0 = t.col0(j), nc = t.cols(j);
          ex.load(Vj, TensorId::V, b, hk, c0, nc, 0, d);
          ex.gemm_nt(dPij, dOi, Vj, nr, nc, d, 1.0);
          ex.store(dPij, TensorId::dP, b, h, r0, nr, c0, nc);
        });
      });
    });
    ex.end_kernel();
  }
  {
    using namespace ds_buf;
    ex.begin_kernel(plan.kernels[2]);
    ex.for_units(q_units, [&](int64_t u) {
      const int64_t b = u / p.heads_q, h = u % p.heads_q;
      ex.for_q_blocks(t, [&](int64_t i) {
        const Range kv = t.kv_blocks(i);
        const Range span = t.key_span(i);
        if (kv.empty()) return;
        const int64_t r0 = t.row0(i), nr = t.rows(i);
        if (plan.row_resident) {
          ex.for_blocks(Range{r0, r0 + nr}, [&](int64_t r) {
            ex.load(Prow, TensorId::P, b, h, r, 1, span.begin, span.size());
            ex.load(dProw, TensorId::dP, b, h, r, 1, span.begin, span.size());
            ex.rowdot(rowsum, Prow, dProw, 1, span.size());
            ex.softmax_grad(dProw, Prow, rowsum, 1, span.size());  // dP -> dS
            ex.store(dProw, TensorId::dS, b, h, r, 1, span.begin, span.size());
          });
          return;
        }
        for (int64_t q0 = r0; q0 < r0 + nr; q0 += plan.softmax_rows) {
          const int64_t n = std::min(plan.softmax_rows, r0 + nr - q0);
          ex.zero(rowsum, n, 1);
          ex.for_blocks(kv, [&](int64_t j) {
            ex.load(Prow, TensorId::P, b, h, q0, n, t.col0(j), t.cols(j));
            ex.load(dProw, TensorId::dP, b, h, q0, n, t.col0(j), t.cols(j));
            ex.rowdot_acc(rowsum, Prow, dProw, n, t.cols(j));
          });
          ex.for_blocks(kv, [&](int64_t j) {
            ex.load(Prow, TensorId::P, b, h, q0, n, t.col0(j), t.cols(j));
            ex.load(dProw, TensorId::dP, b, h, q0, n, t.col0(j), t.cols(j));
            ex.softmax_grad(dProw, Prow, rowsum, n, t.cols(j));
            ex.store(dProw, TensorId::dS, b, h, q0, n, t.col0(j), t.cols(j));
          });
        }
      });
    });
    ex.end_kernel();
  }
  // dQ_i = scale * sum_j dS_ij K_j.
  row_block_product(ex, plan, t, plan.kernels[3], TensorId::dS, TensorId::K, TensorId::dQ, tau);
  {
    using namespace dk_buf;
    ex.begin_kernel(plan.kernels[4]);
    ex.for_units(kv_units, [&](int64_t u) {
      const int64_t b = u / p.heads_kv, hk = u % p.heads_kv;
      ex.for_kv_blocks(t, [&](int64_t j) {
        const int64_t c0 = t.col0(j), nc = t.cols(j);
        const Range qb = t.q_blocks(j);
        ex.zero(dKj, nc, d);
        for (int64_t h = hk * g; h < (hk + 1) * g; ++h)
          ex.for_blocks(qb, [&](int64_t i) {
            const int64_t r0 = t.row0(i), nr = t.rows(i);
            ex.load(dSij, TensorId::dS, b, h, r0, nr, c0, nc);
            ex.load(Qi, TensorId::Q, b, h, r0, nr, 0, d);
            ex.gemm_tn(dKj, dSij, Qi, nc, d, nr, tau);
          });
        ex.store(dKj, TensorId::dK, b, hk, c0, nc, 0, d);
      });
    });
    ex.end_kernel();
  }
}

}  // namespace flashcheck::sim::standard
