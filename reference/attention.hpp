// The float64 oracle: attention forward and backward, the specification every
// schedule and kernel is judged against. It is never changed to agree with one.
//
// Conventions:
//   S = scale * Q K^T, masked entries -inf; P = softmax(S) row-wise;
//   O = P V; LSE = log sum_k exp(S) (natural log, scale applied).
//   A row that sees no key: O = 0, LSE = -inf, and its dQ row and its
//   contributions to dK, dV are 0.
//   GQA: query head h uses KV head h / (heads_q / heads_kv); dK, dV are summed
//   over the query heads of each group.
#pragma once
#include "reference/problem.hpp"
#include "reference/tensor.hpp"

namespace flashcheck {

struct ForwardResult {
  Tensor4<double> O;    // q_shape
  Tensor4<double> LSE;  // lse_shape
};

struct Gradients {
  Tensor4<double> dQ;  // q_shape
  Tensor4<double> dK;  // kv_shape
  Tensor4<double> dV;  // kv_shape
};

// Validates the problem and the input shapes (std::invalid_argument).
ForwardResult reference_forward(const Problem& p, const Tensor4<double>& Q,
                                const Tensor4<double>& K, const Tensor4<double>& V);

// Backward phases, named as in FlashAttention-2 so kernels can be compared
// phase by phase.
// Phase 1: D = rowsum(dO * O), lse_shape.
Tensor4<double> backward_D(const Problem& p, const Tensor4<double>& O, const Tensor4<double>& dO);
// Phase 2 (main): dQ, and dK, dV per *query* head ([B][heads_q][seqlen_k][d])
// before the GQA reduction. P is recomputed from Q, K and LSE.
struct BackwardMain {
  Tensor4<double> dQ;
  Tensor4<double> dK_per_qhead;
  Tensor4<double> dV_per_qhead;
};
BackwardMain backward_main(const Problem& p, const Tensor4<double>& Q, const Tensor4<double>& K,
                           const Tensor4<double>& V, const Tensor4<double>& LSE,
                           const Tensor4<double>& dO, const Tensor4<double>& D);
// Phase 3 (finalise): sum dK, dV over the query heads sharing a KV head.
Gradients backward_finalise(const Problem& p, BackwardMain&& main);

// All three phases.
Gradients reference_backward(const Problem& p, const Tensor4<double>& Q, const Tensor4<double>& K,
                             const Tensor4<double>& V, const Tensor4<double>& O,
                             const Tensor4<double>& LSE, const Tensor4<double>& dO);

}  // namespace flashcheck
