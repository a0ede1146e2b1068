// Everything the accuracy rule needs for one case, computed once: the float64
// reference, the low-precision baseline and the per-element allowance; and
// the judge of a whole case (every tensor a candidate was asked for).
// Every face (properties, GPU suites, `check verify`, Python) goes through
// judge_case, so there is one rule.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "reference/accuracy.hpp"
#include "reference/attention.hpp"
#include "reference/error_model.hpp"
#include "reference/variant_attention.hpp"

namespace flashcheck {

// Inputs in float64 holding values exact in the problem's dtype. A problem
// with variants (problem.variants) takes its tensors from extras, laid out
// as variant_attention.hpp says (varlen packing, pages); the reference is
// then variant_forward/backward and the baseline the same variant in the
// dtype (variant_baseline.hpp): one rule either way.
struct OracleInputs {
  Tensor4<double> Q, K, V;
  std::optional<Tensor4<double>> dO;  // given: the backward is judged too
  Extras extras = {};                 // the variants' tensors (empty when plain)
};

struct Oracle {
  ForwardResult ref;
  std::optional<Gradients> ref_grad;
  ForwardResult base;  // standard attention in the dtype (reference/baseline.hpp)
  std::optional<Gradients> base_grad;
  Allowance allow;
  // The gradients of variants.bias / variants.sinks when dO is given, else empty.
  Tensor4<double> ref_dbias = {}, base_dbias = {};
  std::vector<double> ref_dsinks = {}, base_dsinks = {};
};
// Throws std::invalid_argument for a bad problem or input shapes.
Oracle make_oracle(const Problem& p, const OracleInputs& in);

// The outputs a candidate produced; absent ones are reported as missing.
struct Outputs {
  std::optional<Tensor4<double>> O, LSE, dQ, dK, dV;
  std::optional<Tensor4<double>> dbias = {};       // variants.bias: score_shape
  std::optional<std::vector<double>> dsinks = {};  // variants.sinks: [heads_q]
};

// Which tensors are asked for: names from {"o", "lse", "dq", "dk", "dv"}.
std::vector<std::string> all_tensor_names(bool backward);
// The same plus "dbias" (variants.bias) and "dsinks" (variants.sinks) when backward.
std::vector<std::string> all_tensor_names(const Problem& p, bool backward);

struct CaseVerdict {
  std::vector<TensorVerdict> tensors;  // in the order asked for, present ones
  std::vector<std::string> missing;    // asked for but absent: the case fails
  bool pass = false;                   // every asked tensor present and passing
  std::string summary() const;         // one line: "pass: o lse dq dk dv" / "FAIL: ..."
};
// required: tensor names to judge (empty: every tensor the oracle has,
// all_tensor_names(p, backward)). Shapes are the reference's own (variant
// layouts included).
// Throws std::invalid_argument for an unknown name, a gradient asked for
// without dO in the oracle, or a shape that does not match the problem.
CaseVerdict judge_case(const Problem& p, const Oracle& oracle, const Outputs& out,
                       const std::vector<std::string>& required = {});

}  // namespace flashcheck
