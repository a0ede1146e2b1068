// The HBM tensors a schedule can touch, and how many bytes one element of
// each takes. Inputs, outputs and the materialised N x N intermediates are in
// the problem's dtype; softmax statistics (LSE, l, m) and D = rowsum(dO * O)
// are float32, as FlashAttention kernels store them.
#pragma once
#include <array>
#include <cstdint>

#include "reference/problem.hpp"

namespace flashcheck::sim {

// Oacc, LSEacc: split-KV partial results (FlashAttention's out_accum,
// softmax_lseaccum), float32; PT: the paged-KV block table (int32 page ids).
enum class TensorId : int { Q, K, V, O, LSE, l, m, dO, D, dQ, dK, dV, S, P, dP, dS, Oacc, LSEacc, PT };
constexpr int kTensorCount = 19;
constexpr std::array<TensorId, kTensorCount> kAllTensors = {
    TensorId::Q,  TensorId::K,  TensorId::V,  TensorId::O,  TensorId::LSE, TensorId::l,
    TensorId::m,  TensorId::dO, TensorId::D,  TensorId::dQ, TensorId::dK,  TensorId::dV,
    TensorId::S,  TensorId::P,  TensorId::dP, TensorId::dS, TensorId::Oacc, TensorId::LSEacc,
    TensorId::PT};

template <class T>
using PerTensor = std::array<T, kTensorCount>;  // indexed by TensorId (Timeloop's PerDataSpace)

constexpr int idx(TensorId t) { return static_cast<int>(t); }

const char* tensor_name(TensorId t);

// Statistics: per-row float32 vectors.
constexpr bool is_statistic(TensorId t) {
  return t == TensorId::LSE || t == TensorId::l || t == TensorId::m || t == TensorId::D ||
         t == TensorId::LSEacc;
}
// Workspace of split-KV and paging: float32 partial outputs, int32 page ids.
constexpr bool is_workspace(TensorId t) { return t == TensorId::Oacc || t == TensorId::PT; }
// N x N intermediates that only the standard schedule materialises.
constexpr bool is_score_matrix(TensorId t) {
  return t == TensorId::S || t == TensorId::P || t == TensorId::dP || t == TensorId::dS;
}
// Neither an input nor an output of attention: counted as extra HBM footprint.
constexpr bool is_extra(TensorId t) { return is_statistic(t) || is_score_matrix(t) || is_workspace(t); }

constexpr int64_t kStatBytes = 4;  // float32 (and int32 page ids)
constexpr int64_t hbm_elem_bytes(TensorId t, DType dtype) {
  return is_statistic(t) || is_workspace(t) ? kStatBytes : static_cast<int64_t>(dtype_bytes(dtype));
}
// On-chip accumulators, score tiles and statistics are float32 (float64 for
// an f64 problem): the widest element in SRAM.
constexpr int64_t acc_bytes(DType dtype) {
  return dtype_bytes(dtype) > 4 ? static_cast<int64_t>(dtype_bytes(dtype)) : 4;
}

// Elements of the whole tensor t for problem p (its HBM allocation); splits:
// split-KV chunks (Oacc, LSEacc), page_rows: paged-KV page size (PT; 0: none).
int64_t tensor_elems(TensorId t, const Problem& p, int64_t splits = 1, int64_t page_rows = 0);

}  // namespace flashcheck::sim
