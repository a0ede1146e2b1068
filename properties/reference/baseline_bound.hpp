// An element-wise, first-order bound on |baseline - reference| for the
// low-precision baseline (reference/baseline.hpp), derived from the dtype's
// unit roundoff u and float32's u32 = 2^-24 by following each stored
// intermediate of the standard algorithm. See properties/README.md for the
// derivation; the property asserts |baseline - ref| <= kSlack * bound.
#pragma once
#include "reference/attention.hpp"

namespace flashcheck {
namespace bound {

// Second-order terms and the first-order linearisation are covered by this
// factor (they are O(u^2) or O(u * u32) relative).
constexpr double kSlack = 2.0;

struct Bounds {
  Tensor4<double> O, LSE, dQ, dK, dV;
};

// Evaluated on the float64 reference (forward f, gradients g) of the same
// inputs, whose values are representable in p.dtype.
Bounds baseline_error_bound(const Problem& p, const Tensor4<double>& Q, const Tensor4<double>& K,
                            const Tensor4<double>& V, const Tensor4<double>& dO,
                            const ForwardResult& f, const Gradients& g);

}  // namespace bound
}  // namespace flashcheck
