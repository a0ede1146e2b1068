// The accuracy rule of shared/DESIGN.md, one function everything uses:
//   err(variant)  = max |variant - ref64|
//   err(baseline) = max |standard attention in the same dtype - ref64|
//   pass <=> err(variant) <= k * err(baseline) + floor, and no NaN.
// k = 2 for outputs, 3 for gradients. floor is the dtype's rounding noise at
// the reference's magnitude: the worst case of 2 * max |round(ref + 0.3) - 0.3
// - ref| in the dtype (the FlashAttention Hopper suite's absolute floor), see
// dtype_floor; for f64,
// whose baseline is the reference itself, at least 1e-12 * max(1, max|ref|)
// (DESIGN.md: float64 algorithms agree with the reference to about 1e-12).
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
  double max_rel = 0;      // max over elements of |x - ref| / max(|ref|, DBL_MIN)
  double max_ref = 0;      // max |ref| (finite elements): max_abs / max_ref is the
                           // normwise relative error the float64 comparisons use
  int64_t argmax = -1;     // flat index of max_abs
  int64_t nan_count = 0;   // elements of x that are NaN (or Inf where ref is finite)
  int64_t first_nan = -1;  // flat index of the first such element
};

// Throws std::invalid_argument when sizes differ. ref may hold -inf where x
// must too (LSE of empty rows): equal infinities count as exact.
ErrorStats error_stats(const double* x, const double* ref, int64_t n);

constexpr double kOutputFactor = 2.0;
constexpr double kGradientFactor = 3.0;

// The dtype's rounding noise at the reference's magnitude, 2 u (2 max|ref| +
// 0.6) with u the dtype's unit roundoff: the worst case of the FlashAttention
// floor 2 max |round(round(ref + 0.3) - 0.3) - ref| (two roundings of at most
// u (|ref| + 0.3) each), so that a small tensor's lucky sample cannot make
// it 0. Non-finite reference elements are skipped.
double dtype_floor(DType t, const double* ref, int64_t n);

struct Verdict {
  bool pass = false;
  ErrorStats variant;
  ErrorStats baseline;
  double k = 0;
  double floor = 0;
  double bound = 0;      // k * baseline.max_abs + floor
  std::string reason;    // one human-readable line either way
};

// Judges a candidate against ref64 with the baseline's error as the yardstick.
// what names the tensor in the reason ("O", "dK", ...). Throws
// std::invalid_argument when the three sizes differ. A NaN (or an Inf where
// ref is finite) in the candidate always fails.
Verdict judge(const std::string& what, const std::vector<double>& candidate,
              const std::vector<double>& baseline, const std::vector<double>& ref, double k,
              DType t);
Verdict judge(const std::string& what, const Tensor4<double>& candidate,
              const Tensor4<double>& baseline, const Tensor4<double>& ref, double k, DType t);

}  // namespace flashcheck
