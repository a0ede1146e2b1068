// The accuracy rule: error statistics and the per-element verdict every
// face (properties, GPU suites, `check verify`, Python) reports.
#include "reference/accuracy.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <stdexcept>

namespace flashcheck {
namespace {

// A candidate element that cannot be compared numerically: NaN, Inf where
// the reference is finite, or anything but the reference's own infinity.
bool unusable(double x, double ref) {
  return std::isnan(x) || (std::isfinite(ref) ? !std::isfinite(x) : x != ref);
}

}  // namespace

std::string format_number(double x) {
  if (std::isnan(x)) return "nan";
  if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", x);
  return buf;
}

ErrorStats error_stats(const double* x, const double* ref, int64_t n) {
  if (n < 0) throw std::invalid_argument("error_stats: negative size " + std::to_string(n));
  ErrorStats s;
  double sum = 0;
  int64_t counted = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double r = ref[i], v = x[i];
    if (std::isfinite(r)) s.max_ref = std::max(s.max_ref, std::fabs(r));
    if (unusable(v, r)) {
      if (s.first_nan < 0) s.first_nan = i;
      ++s.nan_count;
      continue;
    }
    const double e = std::isfinite(r) ? std::fabs(v - r) : 0.0;  // equal infinities: exact
    if (e > s.max_abs || s.argmax < 0) {
      s.argmax = i;
      s.max_abs = e;
    }
    sum += e;
    ++counted;
  }
  s.mean_abs = counted > 0 ? sum / static_cast<double>(counted) : 0.0;
  return s;
}

TensorVerdict judge_tensor(const std::string& name, const std::vector<double>& candidate,
                           const std::vector<double>& baseline, const std::vector<double>& ref,
                           const std::vector<double>& allowance, double k) {
  if (candidate.size() != ref.size() || baseline.size() != ref.size() ||
      allowance.size() != ref.size())
    throw std::invalid_argument("judge " + name + ": sizes differ (candidate " +
                                std::to_string(candidate.size()) + ", baseline " +
                                std::to_string(baseline.size()) + ", reference " +
                                std::to_string(ref.size()) + ", allowance " +
                                std::to_string(allowance.size()) + ")");
  const int64_t n = static_cast<int64_t>(ref.size());
  TensorVerdict v;
  v.name = name;
  v.k = k;
  v.candidate = error_stats(candidate.data(), ref.data(), n);
  v.baseline = error_stats(baseline.data(), ref.data(), n);
  const double base_term = k * v.baseline.max_abs;
  int64_t nonzero = 0, informative = 0;
  double worst = -1;
  // Elements far below the tensor's scale carry no signal in any dtype; the
  // share counts the significant ones.
  double max_ref = 0;
  for (double r : ref)
    if (std::isfinite(r)) max_ref = std::max(max_ref, std::fabs(r));
  const double significant = kSignificantFraction * max_ref;
  for (int64_t e = 0; e < n; ++e) {
    const double r = ref[e], x = candidate[e];
    // Where no rounding can occur (allowance 0 at a zero reference: a row
    // that sees no key, a key no query sees, zero inputs) the answer is exact.
    const bool exact = allowance[e] == 0 && r == 0;
    const double bound = exact ? 0.0 : base_term + v.c * allowance[e];
    if (std::isfinite(r) && r != 0 && std::fabs(r) >= significant) {
      ++nonzero;
      if (bound <= kInformativeFraction * std::fabs(r)) ++informative;
    }
    double ratio;
    if (unusable(x, r)) {
      ratio = std::numeric_limits<double>::infinity();
    } else {
      const double err = std::isfinite(r) ? std::fabs(x - r) : 0.0;
      ratio = err == 0 ? 0.0 : bound > 0 ? err / bound : std::numeric_limits<double>::infinity();
    }
    if (ratio > 1) ++v.violations;
    // The first unusable element stays the worst; otherwise the largest ratio.
    if (ratio > worst) {
      worst = ratio;
      v.worst = e;
      v.worst_ratio = ratio;
      v.worst_candidate = x;
      v.worst_reference = r;
      v.worst_bound = bound;
    }
  }
  v.informative_share = nonzero > 0 ? static_cast<double>(informative) / nonzero : 0.0;
  v.informative = nonzero > 0 && 2 * informative >= nonzero;
  v.pass = v.violations == 0;
  std::string line = name + ": " + (v.pass ? "pass" : "FAIL");
  if (v.candidate.nan_count > 0)
    line += ": " + std::to_string(v.candidate.nan_count) + " NaN/Inf element(s), first at index " +
            std::to_string(v.candidate.first_nan);
  else if (!v.pass)
    line += ": " + std::to_string(v.violations) + " element(s) over the bound";
  if (v.worst >= 0)
    line += "; worst at index " + std::to_string(v.worst) + ": |" +
            format_number(v.worst_candidate) + " - " + format_number(v.worst_reference) +
            "| = " + format_number(std::fabs(v.worst_candidate - v.worst_reference)) +
            (v.worst_ratio > 1 ? " > " : " <= ") + "bound " + format_number(v.worst_bound) +
            " (" + format_number(v.worst_ratio) + "x)";
  line += "; max|err| " + format_number(v.candidate.max_abs) + ", baseline " +
          format_number(v.baseline.max_abs) + (v.informative ? "" : "; UNINFORMATIVE") +
          " (informative share " + format_number(v.informative_share) + ")";
  if (v.baseline.nan_count > 0)
    line += "; warning: baseline has " + std::to_string(v.baseline.nan_count) + " NaN/Inf element(s)";
  v.reason = line;
  return v;
}

}  // namespace flashcheck
