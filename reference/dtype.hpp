// Element types of an attention problem, with their sizes and names.
#pragma once
#include <cstddef>
#include <string>

#include "reference/common.hpp"

namespace flashcheck {

enum class DType { f64, f32, f16, bf16 };

FC_HD constexpr std::size_t dtype_bytes(DType t) {
  return t == DType::f64 ? 8 : t == DType::f32 ? 4 : 2;
}

// Unit roundoff u = 2^-(mantissa bits + 1): the rounding error of one store.
constexpr double dtype_unit_roundoff(DType t) {
  return t == DType::f64 ? 0x1p-53 : t == DType::f32 ? 0x1p-24 : t == DType::f16 ? 0x1p-11 : 0x1p-8;
}

const char* dtype_name(DType t);
// Accepts f64/float64/fp64, f32/float32/fp32, f16/float16/fp16/half, bf16/bfloat16.
// Throws std::invalid_argument naming the accepted spellings.
DType parse_dtype(const std::string& s);

}  // namespace flashcheck
