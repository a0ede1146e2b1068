// The accuracy rule (shared/DESIGN.md; derived in reference/README.md), one
// function everything uses. Per element e of a tensor x:
//
//   |x_e - ref_e| <= bound_e = k * E_baseline + c * allowance_e
//
//   E_baseline  = max_e |baseline_e - ref_e|: standard attention in the same
//                 dtype (reference/baseline.hpp), the error a plain
//                 implementation makes; k = 2 outputs, 3 gradients.
//   allowance_e = u * mag_e: what rounding can do to this element in a
//                 correct implementation (reference/error_model.hpp); c = 2.
//
// NaN (or Inf where ref is finite, or anything but -inf where ref is -inf)
// never passes. A verdict is *informative* when it could have caught a wrong
// answer: bound_e <= kInformativeFraction * |ref_e| on at least half the
// significant elements (nonzero, |ref_e| >= kSignificantFraction * max|ref|).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "reference/dtype.hpp"
#include "reference/tensor.hpp"

namespace flashcheck {

struct ErrorStats {
  double max_abs = 0;      // max |x - ref| (NaN-free elements)
  double mean_abs = 0;     // mean |x - ref|
  double max_ref = 0;      // max |ref| (finite elements)
  int64_t argmax = -1;     // flat index of max_abs
  int64_t nan_count = 0;   // elements of x that are NaN (or Inf where ref is finite)
  int64_t first_nan = -1;  // flat index of the first such element
};

// Throws std::invalid_argument when sizes differ. ref may hold -inf where x
// must too (LSE of empty rows): equal infinities count as exact.
ErrorStats error_stats(const double* x, const double* ref, int64_t n);

constexpr double kOutputFactor = 2.0;    // k for O, LSE
constexpr double kGradientFactor = 3.0;  // k for dQ, dK, dV
constexpr double kAllowanceFactor = 2.0; // c: second-order terms, exp/log/div ulps
constexpr double kInformativeFraction = 0.5;
constexpr double kSignificantFraction = 0.1;

struct TensorVerdict {
  std::string name;            // "o", "lse", "dq", "dk", "dv"
  bool pass = false;
  bool informative = false;
  double informative_share = 0;  // share of significant elements with bound <= fraction * |ref|
  ErrorStats candidate, baseline;
  double k = 0, c = kAllowanceFactor;
  int64_t violations = 0;      // elements over their bound (NaN ones included)
  // The worst element: largest |x - ref| / bound_e (the first NaN if any).
  int64_t worst = -1;          // flat index into the tensor
  double worst_ratio = 0;      // |x - ref| / bound_e there (inf for NaN)
  double worst_candidate = 0, worst_reference = 0, worst_bound = 0;
  std::string reason;          // one human-readable line either way
};

// Judges one tensor. allowance is per element (same size as ref). Throws
// std::invalid_argument when the sizes differ.
TensorVerdict judge_tensor(const std::string& name, const std::vector<double>& candidate,
                           const std::vector<double>& baseline, const std::vector<double>& ref,
                           const std::vector<double>& allowance, double k);

// "%.3g" with "inf"/"nan" spelled out; every verdict line uses it.
std::string format_number(double x);

}  // namespace flashcheck
