// The HBM tensors a schedule can touch, and how many bytes one element of
// each takes. Inputs, outputs and the materialised N x N intermediates are in
// the problem's dtype; softmax statistics (LSE, l, m) and D = rowsum(dO * O)
// are float32, as FlashAttention kernels store them.
#pragma once
#include <array>
#include <cstdint>

#include "reference/problem.hpp"

namespace flashcheck::sim {

enum class TensorId : int { Q, K, V, O, LSE, l, m, dO, D, dQ, dK, dV, S, P, dP, dS };
constexpr int kTensorCount = 16;
constexpr std::array<TensorId, kTensorCount> kAllTensors = {
    TensorId::Q,  TensorId::K,  TensorId::V,  TensorId::O,  TensorId::LSE, TensorId::l,
    TensorId::m,  TensorId::dO, TensorId::D,  TensorId::dQ, TensorId::dK,  TensorId::dV,
    TensorId::S,  TensorId::P,  TensorId::dP, TensorId::dS};

template <class T>
using PerTensor = std::array<T, kTensorCount>;  // indexed by TensorId (Timeloop's PerDataSpace)

constexpr int idx(TensorId t) { return static_cast<int>(t); }

const char* tensor_name(TensorId t);

// Statistics: per-row float32 vectors.
constexpr bool is_statistic(TensorId t) {
  return t == TensorId::LSE || t == TensorId::l || t == TensorId::m || t == TensorId::D;
}
// N x N intermediates that only the standard schedule materialises.
constexpr bool is_score_matrix(TensorId t) {
  return t == TensorId::S || t == TensorId::P || t == TensorId::dP || t == TensorId::dS;
}
// Neither an input nor an output of attention: counted as extra HBM footprint.
constexpr bool is_extra(TensorId t) { return is_statistic(t) || is_score_matrix(t); }

constexpr int64_t kStatBytes = 4;  // float32
constexpr int64_t hbm_elem_bytes(TensorId t, DType dtype) {
  return is_statistic(t) ? kStatBytes : static_cast<int64_t>(dtype_bytes(dtype));
}
// On-chip accumulators, score tiles and statistics are float32 (float64 for
// an f64 problem): the widest element in SRAM.
constexpr int64_t acc_bytes(DType dtype) {
  return dtype_bytes(dtype) > 4 ? static_cast<int64_t>(dtype_bytes(dtype)) : 4;
}

// Elements of the whole tensor t for problem p (its HBM allocation).
int64_t tensor_elems(TensorId t, const Problem& p);

}  // namespace flashcheck::sim
