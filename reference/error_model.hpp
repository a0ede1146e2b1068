// The error a correct implementation may make, element by element: the
// "c * u * mag(element)" term of the accuracy rule (derivation in
// reference/README.md, "The accuracy rule"). Computed from the float64 oracle
// in one pass over the same visible (q, k) pairs as the reference.
//
// allowance(x) is an absolute error in x's units, a first-order bound of what
// rounding can do to x when
//   - inputs are exact in the dtype (case files and generators give them so),
//   - matrix products accumulate in float32 (float64 for dtype f64),
//   - P, dS and the outputs are rounded to the dtype once each,
//   - P is formed from exp(S - m) or exp(S - LSE) in the accumulation type,
//     so the score error (termwise scale * sum_t |Q_it K_jt| * d * u_acc,
//     plus u_acc * (|S_ij| + |LSE_i|) for the subtraction) enters P relatively,
//   - D = rowsum(dO * O) is formed from an O that carries its own allowance.
// Length factors are the worst-case gamma_n = n u of a sum of n terms.
#pragma once
#include <vector>

#include "reference/attention.hpp"
#include "reference/variant_attention.hpp"

namespace flashcheck {

// The unit roundoff of storage (the problem's dtype) and of accumulation
// (float32, or float64 for dtype f64).
double storage_roundoff(DType t);
double accumulation_roundoff(DType t);
// The spacing of the dtype's subnormal numbers: the absolute error of
// rounding a value that underflows.
double underflow_spacing(DType t);

struct Allowance {
  Tensor4<double> O, LSE;      // forward
  Tensor4<double> dQ, dK, dV;  // backward (empty when no dO was given)
  Tensor4<double> dbias = {};  // variants.bias with dO (score_shape), else empty
  std::vector<double> dsinks = {};  // variants.sinks with dO ([heads_q]), else empty
};

// Forward allowance from the float64 inputs and the reference's O, LSE.
Allowance forward_allowance(const Problem& p, const Tensor4<double>& Q, const Tensor4<double>& K,
                            const Tensor4<double>& V, const ForwardResult& ref);
// Adds dQ, dK, dV to a forward allowance (GQA: dK, dV summed over the group).
// ref and grad are the float64 reference's forward and gradients.
void add_backward_allowance(const Problem& p, const Tensor4<double>& Q, const Tensor4<double>& K,
                            const Tensor4<double>& V, const Tensor4<double>& dO,
                            const ForwardResult& ref, const Gradients& grad, Allowance& a);

// The same first-order model for a problem with variants (reference/
// README.md, "The allowance of the variants"): forward always, backward
// (dQ, dK, dV, dbias, dsinks) when dO and grad are given. ref and grad are
// variant_forward / variant_backward's results. At neutral variant settings
// it is forward_allowance + add_backward_allowance (a property checks it).
Allowance variant_allowance(const Problem& p, const Extras& ex, const Tensor4<double>& Q,
                            const Tensor4<double>& K, const Tensor4<double>& V,
                            const ForwardResult& ref, const Tensor4<double>* dO = nullptr,
                            const VariantGradients* grad = nullptr);

}  // namespace flashcheck
