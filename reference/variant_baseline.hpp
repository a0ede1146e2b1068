// The low-precision baseline of the accuracy rule for the attention variants
// (reference/variants.hpp): standard attention with the variant applied, in
// the rounding model of reference/baseline.hpp, so the one rule
// (oracle.hpp) judges a variant against what a plain implementation of that
// same variant in the dtype gets wrong. Per row, additionally:
//   - the raw score round(scale * q.k) is stored in the dtype, then the score
//     variants (softcap, ALiBi, bias) run in float32 on it and the final
//     score is stored in the dtype once;
//   - the sink is one more softmax column (float32), its P stored in the dtype;
//   - dropout: P * keep / (1 - p) stored in the dtype before P V;
//   - backward: dP, dS (= dbias) stored in the dtype; softcap's
//     dS (1 - tanh^2) stored in the dtype; dsinks summed in float32.
// With every variant at its neutral setting it is baseline_forward/backward
// bit for bit (a property checks it). For dtype f64 it is the reference.
#pragma once
#include "reference/variant_attention.hpp"

namespace flashcheck {

ForwardResult variant_baseline_forward(const Problem& p, const Extras& ex, const Tensor4<double>& Q,
                                       const Tensor4<double>& K, const Tensor4<double>& V);
// O, LSE are the baseline's own forward (a plain implementation's backward
// runs on its own forward); P is recomputed from Q, K bit for bit.
VariantGradients variant_baseline_backward(const Problem& p, const Extras& ex,
                                           const Tensor4<double>& Q, const Tensor4<double>& K,
                                           const Tensor4<double>& V, const Tensor4<double>& O,
                                           const Tensor4<double>& LSE, const Tensor4<double>& dO);

}  // namespace flashcheck
