// Which (dtype, head dim) pairs fc_kernel_driver runs a variant in, and the
// command-line options that narrow them (`--dtype T`, `--head-dim D`).
// Header-only and CUDA-free, so the selection is tested without a GPU
// (properties/kernels/sanitize_cases_tests.cpp).
#pragma once
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "reference/dtype.hpp"

namespace flashcheck::kernels {

// What the command line asked for; empty fields narrow nothing.
struct CaseFilter {
  std::optional<DType> dtype;  // --dtype T: only T, every head dim in it
  std::vector<int> head_dims;  // --head-dim D (repeatable): only these
};

// Removes `--dtype T` and `--head-dim D` from args (anywhere), keeping the
// rest (the variant names) in order. A missing or malformed value, or a
// second --dtype, throws std::invalid_argument.
inline CaseFilter take_case_filter(std::vector<std::string>& args) {
  CaseFilter f;
  std::vector<std::string> rest;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a != "--dtype" && a != "--head-dim") {
      rest.push_back(a);
      continue;
    }
    if (i + 1 >= args.size()) throw std::invalid_argument(a + " needs a value");
    const std::string& v = args[++i];
    if (a == "--dtype") {
      if (f.dtype) throw std::invalid_argument("--dtype given twice");
      f.dtype = parse_dtype(v);
      continue;
    }
    std::size_t used = 0;
    int d = 0;
    try {
      d = std::stoi(v, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != v.size() || d <= 0)
      throw std::invalid_argument("--head-dim '" + v + "' is not a positive integer");
    bool seen = false;
    for (int x : f.head_dims) seen = seen || x == d;
    if (!seen) f.head_dims.push_back(d);
  }
  args = rest;
  return f;
}

// The (dtype, head dim) pairs to run a variant with these dtypes and head
// dims in (no head dims: it takes any; then d 64, or the --head-dim ones).
// Without --dtype, a padded head dim (not a multiple of 64) or one above 128
// runs in one dtype only, dtypes[(d / 64) % count] (for {f16, bf16}: d 32
// f16, d 96 bf16, d 256 f16), so the four sanitizer passes stay within their
// time; --dtype T runs every head dim in T, and nothing if the variant has no T.
inline std::vector<std::pair<DType, int>> sanitize_cases(const std::vector<DType>& dtypes,
                                                         const std::vector<int>& head_dims,
                                                         const CaseFilter& f) {
  auto asked = [&f](int d) {
    if (f.head_dims.empty()) return true;
    for (int x : f.head_dims)
      if (x == d) return true;
    return false;
  };
  std::vector<int> dims;
  if (head_dims.empty())
    dims = f.head_dims.empty() ? std::vector<int>{64} : f.head_dims;
  else
    for (int d : head_dims)
      if (asked(d)) dims.push_back(d);
  std::vector<std::pair<DType, int>> out;
  for (std::size_t ti = 0; ti < dtypes.size(); ++ti)
    for (int d : dims) {
      const bool one_dtype = d % 64 != 0 || d > 128;
      if (f.dtype ? dtypes[ti] != *f.dtype
                  : one_dtype && ti != static_cast<std::size_t>(d / 64) % dtypes.size())
        continue;
      out.emplace_back(dtypes[ti], d);
    }
  return out;
}

}  // namespace flashcheck::kernels
