// fc_kernel_driver's case selection (kernels/tools/sanitize_cases.hpp): the
// default (dtype, head dim) pairs, --dtype / --head-dim narrowing them, and
// the options' parsing. Host-only: runs without CUDA.
#include <catch2/catch.hpp>

#include <string>
#include <utility>
#include <vector>

#include "kernels/tools/sanitize_cases.hpp"

using flashcheck::DType;
using flashcheck::kernels::CaseFilter;
using flashcheck::kernels::sanitize_cases;
using flashcheck::kernels::take_case_filter;
using Pairs = std::vector<std::pair<DType, int>>;

namespace {
// flash2_bwd's dtypes and head dims (kernels/registry.cpp).
const std::vector<DType> kHalf = {DType::f16, DType::bf16};
const std::vector<int> kDims = {32, 64, 96, 128, 256};
}  // namespace

TEST_CASE("sanitize cases: by default d 64 / 128 in both dtypes, d 32 / 256 fp16, d 96 bf16") {
  CHECK(sanitize_cases(kHalf, kDims, {}) == Pairs{{DType::f16, 32}, {DType::f16, 64}, {DType::f16, 128},
                                                  {DType::f16, 256}, {DType::bf16, 64},
                                                  {DType::bf16, 96}, {DType::bf16, 128}});
  // A variant of any head dim (none listed) runs d 64 in each dtype.
  const std::vector<DType> three = {DType::f32, DType::f16, DType::bf16};
  CHECK(sanitize_cases(three, {}, {}) == Pairs{{DType::f32, 64}, {DType::f16, 64}, {DType::bf16, 64}});
}

TEST_CASE("sanitize cases: --dtype runs every head dim in that dtype, --head-dim only those") {
  CaseFilter bf16;
  bf16.dtype = DType::bf16;
  CHECK(sanitize_cases(kHalf, kDims, bf16) == Pairs{{DType::bf16, 32}, {DType::bf16, 64}, {DType::bf16, 96},
                                                    {DType::bf16, 128}, {DType::bf16, 256}});
  bf16.head_dims = {256};
  CHECK(sanitize_cases(kHalf, kDims, bf16) == Pairs{{DType::bf16, 256}});
  CaseFilter d256;
  d256.head_dims = {256, 64};
  CHECK(sanitize_cases(kHalf, kDims, d256) == Pairs{{DType::f16, 64}, {DType::f16, 256}, {DType::bf16, 64}});
  // Any-head-dim variants take the asked dims; a dim or dtype the variant
  // lacks leaves nothing (the driver then fails the variant: it ran nothing).
  CHECK(sanitize_cases({DType::f32}, {}, d256) == Pairs{{DType::f32, 256}, {DType::f32, 64}});
  CaseFilter d80;
  d80.head_dims = {80};
  CHECK(sanitize_cases(kHalf, kDims, d80).empty());
  CaseFilter f32;
  f32.dtype = DType::f32;
  CHECK(sanitize_cases(kHalf, kDims, f32).empty());
}

TEST_CASE("sanitize cases: the options are taken out of the arguments, variant names kept in order") {
  std::vector<std::string> args = {"flash2_bwd", "--head-dim", "256", "--dtype", "bfloat16", "standard_bwd",
                                   "--head-dim", "64", "--head-dim", "256"};
  const CaseFilter f = take_case_filter(args);
  CHECK(args == std::vector<std::string>{"flash2_bwd", "standard_bwd"});
  REQUIRE(f.dtype.has_value());
  CHECK(*f.dtype == DType::bf16);
  CHECK(f.head_dims == std::vector<int>{256, 64});
  std::vector<std::string> none = {"flash2_fwd"};
  const CaseFilter g = take_case_filter(none);
  CHECK(!g.dtype.has_value());
  CHECK(g.head_dims.empty());
  CHECK(none == std::vector<std::string>{"flash2_fwd"});
}

TEST_CASE("sanitize cases: a missing or malformed value is refused with a message") {
  const std::vector<std::pair<std::vector<std::string>, std::string>> bad = {
      {{"--dtype"}, "--dtype needs a value"},
      {{"flash2_bwd", "--head-dim"}, "--head-dim needs a value"},
      {{"--dtype", "f8"}, "unknown dtype 'f8'"},
      {{"--dtype", "f16", "--dtype", "bf16"}, "--dtype given twice"},
      {{"--head-dim", "0"}, "--head-dim '0' is not a positive integer"},
      {{"--head-dim", "-64"}, "--head-dim '-64' is not a positive integer"},
      {{"--head-dim", "25x"}, "--head-dim '25x' is not a positive integer"},
      {{"--head-dim", "d256"}, "--head-dim 'd256' is not a positive integer"},
      {{"--head-dim", "99999999999"}, "--head-dim '99999999999' is not a positive integer"},
  };
  for (const auto& [args, msg] : bad) {
    std::vector<std::string> a = args;
    INFO(msg);
    CHECK_THROWS_AS(take_case_filter(a), std::invalid_argument);
    a = args;
    CHECK_THROWS_WITH(take_case_filter(a), Catch::Contains(msg));
  }
}
