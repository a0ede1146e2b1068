// Variant standard: the standard attention algorithm (FlashAttention paper,
// Algorithm 0) on the GPU, the speed baseline of the harness.
//
// Grew from: nothing; it is the first variant and mirrors the reference's
// low-precision baseline (reference/baseline.hpp) step by step.
//
// Intermediates (workspace, in HBM): S = scale * Q K^T and P = softmax(S),
// both [B][heads_q][seqlen_q][seqlen_k] in the problem's dtype, exactly as
// the baseline rounds them.
//
// Schedule: unfused. Three launches:
//   1. S = scale * Q K^T   cuBLAS strided-batched GEMM, float32 accumulation
//   2. P, LSE = softmax(S) one thread block per row; CUB block reductions for
//                          the row max and the row sum; mask from the Mask
//                          object; a row that sees no key gets P = 0 and
//                          LSE = -inf (so O = 0)
//   3. O = P V             cuBLAS strided-batched GEMM, float32 accumulation
// GQA costs nothing extra: the g = heads_q / heads_kv query heads of one KV
// head are contiguous, so they form one (g * seqlen_q) x d matrix and one GEMM
// per (batch, KV head) covers the whole group.
#include "kernels/standard_common.cuh"
#include "kernels/registry.hpp"
#include "kernels/variants.hpp"

namespace flashcheck::kernels {
using namespace standard;

ScheduleDesc standard_fwd_schedule(const Problem&) {
  return sim::describe(ScheduleKind::standard, Direction::fwd);
}

Support standard_supports_as(const Problem& p, const std::string& name) {
  if (Support s = only_variants(p, name.c_str(), {}); !s) return s;
  if (Support s = registered_shape(p, name); !s) return s;
  const int64_t rows = p.batch * p.heads_q * p.seqlen_q;
  if (rows > 2147483647) return Support::no(name + ": batch x heads_q x seqlen_q >= 2^31 rows");
  const int64_t group_rows = p.group_size() * p.seqlen_q;
  if (group_rows > 2147483647 || p.seqlen_k > 2147483647 || p.batch * p.heads_kv > 2147483647)
    return Support::no(name + ": a GEMM dimension passes 2^31 (cuBLAS int)");
  return Support::yes();
}

Support standard_fwd_supports(const Problem& p) { return standard_supports_as(p, "standard"); }

std::size_t standard_fwd_workspace_bytes(const Problem& p) {
  return 2 * static_cast<std::size_t>(p.score_elems()) * dtype_bytes(p.dtype);  // S and P
}

void standard_fwd_forward(const Problem& p, const ForwardArgs& a) {
  const cudaDataType_t t = cuda_type(p.dtype);
  const std::size_t elem = dtype_bytes(p.dtype);
  const int g = static_cast<int>(p.group_size());
  const int M = g * static_cast<int>(p.seqlen_q);  // rows of one group
  const int N = static_cast<int>(p.seqlen_k);
  const int d = static_cast<int>(p.head_dim);
  const int batches = static_cast<int>(p.batch * p.heads_kv);
  const long long strideQ = static_cast<long long>(M) * d;
  const long long strideK = static_cast<long long>(N) * d;
  const long long strideS = static_cast<long long>(M) * N;
  char* S = static_cast<char*>(a.workspace);
  char* P = S + static_cast<std::size_t>(p.score_elems()) * elem;

  cublasHandle_t h = cublas_handle();
  FC_CUBLAS(cublasSetStream(h, a.stream));
  const float alpha = static_cast<float>(p.softmax_scale()), one = 1.f, zero = 0.f;
  // Column-major view: S^T (N x M) = K (N x d, stored d x N) ^T * Q^T (d x M).
  FC_CUBLAS(cublasGemmStridedBatchedEx(h, CUBLAS_OP_T, CUBLAS_OP_N, N, M, d, &alpha, a.K, t, d,
                                       strideK, a.Q, t, d, strideQ, &zero, S, t, N, strideS,
                                       batches, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
  softmax_rows(p, S, P, a.LSE, a.stream);
  // O^T (d x M) = V^T (d x N) * P^T (N x M).
  FC_CUBLAS(cublasGemmStridedBatchedEx(h, CUBLAS_OP_N, CUBLAS_OP_N, d, M, N, &one, a.V, t, d,
                                       strideK, P, t, N, strideS, &zero, a.O, t, d, strideQ,
                                       batches, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
}

}  // namespace flashcheck::kernels
