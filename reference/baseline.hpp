// The low-precision baseline of the accuracy rule: the same unfused standard
// algorithm as the reference (S, P materialised), with every stored
// intermediate rounded to the problem's dtype (float32, fp16 or bf16) and
// arithmetic inside one dot product done in float32, as a plain GPU
// implementation with float32 accumulation would. Inputs are float64 tensors
// whose values are already representable in the dtype (see round_to_dtype).
#pragma once
#include "reference/attention.hpp"

namespace flashcheck {

// Round one value / every value to the nearest value of dtype t (ties to even).
double round_to_dtype(double x, DType t);
void round_to_dtype(Tensor4<double>& x, DType t);

// Forward: S = round(scale * Q K^T), P = round(softmax(S)), O = round(P V);
// LSE kept in float32 (as kernels store it).
ForwardResult baseline_forward(const Problem& p, const Tensor4<double>& Q,
                               const Tensor4<double>& K, const Tensor4<double>& V);
// Backward: dP, dS, dQ, dK, dV each rounded to the dtype when stored; D =
// rowsum(dO * O) kept in float32. P is recomputed bit for bit as the forward
// stored it (from Q, K), so LSE is only checked for shape. GQA: the group's
// dK, dV contributions are summed in float32 and rounded once.
// For dtype f64 both functions are the float64 reference.
Gradients baseline_backward(const Problem& p, const Tensor4<double>& Q, const Tensor4<double>& K,
                            const Tensor4<double>& V, const Tensor4<double>& O,
                            const Tensor4<double>& LSE, const Tensor4<double>& dO);

}  // namespace flashcheck
