// The accuracy rule: error statistics, the dtype's rounding floor, and the
// verdict everything (simulator, kernels, reports) reports.
#include "reference/accuracy.hpp"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdio>
#include <stdexcept>


namespace flashcheck {
namespace {

// In float64 the baseline is the reference itself (error 0), so the bound is
// the floor alone; DESIGN.md asks tiled float64 algorithms to agree to a
// normwise relative error of about 1e-12.
constexpr double kF64RelativeFloor = 1e-12;

std::string fmt(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", x);
  return buf;
}

}  // namespace

ErrorStats error_stats(const double* x, const double* ref, int64_t n) {
  if (n < 0) throw std::invalid_argument("error_stats: negative size " + std::to_string(n));
  ErrorStats s;
  double sum = 0;
  int64_t counted = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double r = ref[i];
    const double v = x[i];
    if (std::isfinite(r)) s.max_ref = std::max(s.max_ref, std::fabs(r));
    // A non-finite candidate where ref is finite, or a mismatch on a
    // non-finite ref (-inf LSE of an empty row), counts as NaN: never passes.
    const bool bad = std::isnan(v) || (std::isfinite(r) ? !std::isfinite(v) : v != r);
    if (bad) {
      if (s.first_nan < 0) s.first_nan = i;
      ++s.nan_count;
      continue;
    }
    const double e = std::isfinite(r) ? std::fabs(v - r) : 0.0;  // equal infinities: exact
    if (e > s.max_abs || s.argmax < 0) {
      s.argmax = i;
      s.max_abs = e;
    }
    if (std::isfinite(r)) s.max_rel = std::max(s.max_rel, e / std::max(std::fabs(r), DBL_MIN));
    sum += e;
    ++counted;
  }
  s.mean_abs = counted > 0 ? sum / static_cast<double>(counted) : 0.0;
  return s;
}

double dtype_floor(DType t, const double* ref, int64_t n) {
  double max_ref = 0;
  for (int64_t i = 0; i < n; ++i)
    if (std::isfinite(ref[i])) max_ref = std::max(max_ref, std::fabs(ref[i]));
  // The FlashAttention floor 2 max|fl(fl(r + 0.3) - 0.3) - r| samples two
  // roundings (each at most u (|r| + 0.3)) on the reference's elements; on a
  // small tensor a lucky sample gives almost 0. Its worst case does not
  // depend on luck: 2 u (2 max|r| + 0.6).
  const double floor = 2 * dtype_unit_roundoff(t) * (2 * max_ref + 0.6);
  return t == DType::f64 ? std::max(floor, kF64RelativeFloor * std::max(1.0, max_ref)) : floor;
}

Verdict judge(const std::string& what, const std::vector<double>& candidate,
              const std::vector<double>& baseline, const std::vector<double>& ref, double k,
              DType t) {
  if (candidate.size() != ref.size() || baseline.size() != ref.size())
    throw std::invalid_argument("judge " + what + ": sizes differ (candidate " +
                                std::to_string(candidate.size()) + ", baseline " +
                                std::to_string(baseline.size()) + ", reference " +
                                std::to_string(ref.size()) + ")");
  const int64_t n = static_cast<int64_t>(ref.size());
  Verdict v;
  v.variant = error_stats(candidate.data(), ref.data(), n);
  v.baseline = error_stats(baseline.data(), ref.data(), n);
  v.k = k;
  v.floor = dtype_floor(t, ref.data(), n);
  v.bound = k * v.baseline.max_abs + v.floor;
  v.pass = v.variant.nan_count == 0 && v.variant.max_abs <= v.bound;
  std::string r = what + " [" + dtype_name(t) + "]: ";
  if (v.variant.nan_count > 0) {
    r += "FAIL: " + std::to_string(v.variant.nan_count) + " NaN/Inf element(s), first at index " +
         std::to_string(v.variant.first_nan);
  } else {
    r += std::string(v.pass ? "pass" : "FAIL") + ": max|err| " + fmt(v.variant.max_abs) +
         (v.pass ? " <= " : " > ") + fmt(k) + " x baseline " + fmt(v.baseline.max_abs) +
         " + floor " + fmt(v.floor) + " = " + fmt(v.bound) + " (at index " +
         std::to_string(v.variant.argmax) + ")";
  }
  r += "; mean|err| " + fmt(v.variant.mean_abs) + ", max rel " + fmt(v.variant.max_rel);
  if (v.baseline.nan_count > 0)
    r += "; warning: baseline has " + std::to_string(v.baseline.nan_count) + " NaN/Inf element(s)";
  v.reason = r;
  return v;
}

Verdict judge(const std::string& what, const Tensor4<double>& candidate,
              const Tensor4<double>& baseline, const Tensor4<double>& ref, double k, DType t) {
  require_shape(candidate.shape(), ref.shape(), (what + " candidate").c_str());
  require_shape(baseline.shape(), ref.shape(), (what + " baseline").c_str());
  return judge(what, candidate.values(), baseline.values(), ref.values(), k, t);
}

}  // namespace flashcheck
