// Variant standard_bwd: the standard attention backward (FlashAttention
// paper, Algorithm 3) on the GPU, the backward's speed and memory baseline.
//
// Grew from: `standard` (standard_fwd.cu), whose S and row softmax it reruns:
// the standard algorithm keeps P from the forward; recomputing it here with
// the same GEMM and kernel gives the same P bit for bit, and keeps the host
// API free of a forward-to-backward workspace.
//
// Intermediates (workspace, in HBM): S (reused for dP, then dS in place) and
// P, both [B][heads_q][seqlen_q][seqlen_k] in the problem's dtype as the
// reference baseline rounds them; D = rowsum(dO * O) and a scratch LSE in
// float32.
//
// Schedule: unfused, per (batch, KV head) with the group's query heads as one
// (g * seqlen_q)-row matrix, so dK and dV come out summed over the group:
//   S = scale Q K^T; P = softmax(S)        (as the forward)
//   dV = P^T dO;  dP = dO V^T              cuBLAS
//   D = rowsum(dO * O); dS = P (dP - D)    two small kernels
//   dQ = scale dS K;  dK = scale dS^T Q    cuBLAS
// Every result is computed once in a fixed order: deterministic in any mode.
#include "kernels/standard_common.cuh"
#include "kernels/variants.hpp"

namespace flashcheck::kernels {
namespace {
using namespace standard;

// D[row] = sum_i dO[row][i] * O[row][i] in float32; one warp per row.
template <class T>
__global__ void __launch_bounds__(256)
    dot_rows_kernel(const T* O, const T* dO, float* D, int64_t rows, int d) {
  const int64_t row = blockIdx.x * 8 + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (row >= rows) return;
  float acc = 0.f;
  for (int i = lane; i < d; i += 32) acc += to_float(O[row * d + i]) * to_float(dO[row * d + i]);
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) acc += __shfl_xor_sync(0xffffffffu, acc, off);
  if (lane == 0) D[row] = acc;
}

// dS = P (dP - D[row]) in place over dP, rounded to the dtype.
template <class T>
__global__ void __launch_bounds__(256)
    softmax_grad_kernel(const T* P, T* dP, const float* D, int seqlen_k) {
  const int64_t row = blockIdx.x;
  const float drow = D[row];
  for (int k = threadIdx.x; k < seqlen_k; k += blockDim.x) {
    const int64_t i = row * seqlen_k + k;
    dP[i] = from_float<T>(to_float(P[i]) * (to_float(dP[i]) - drow));
  }
}

template <class T>
void launch_elementwise(const Problem& p, const void* O, const void* dO, float* D, const void* P,
                        void* dP, cudaStream_t s) {
  const int64_t rows = p.lse_elems();
  dot_rows_kernel<T><<<static_cast<unsigned>((rows + 7) / 8), 256, 0, s>>>(
      static_cast<const T*>(O), static_cast<const T*>(dO), D, rows, static_cast<int>(p.head_dim));
  FC_CHECK_LAUNCH("dot_rows_kernel");
  softmax_grad_kernel<T><<<static_cast<unsigned>(rows), 256, 0, s>>>(
      static_cast<const T*>(P), static_cast<T*>(dP), D, static_cast<int>(p.seqlen_k));
  FC_CHECK_LAUNCH("softmax_grad_kernel");
}

}  // namespace

ScheduleDesc standard_bwd_schedule(const Problem&) {
  return sim::describe(ScheduleKind::standard, Direction::bwd);
}

Support standard_bwd_supports(const Problem& p) { return standard_supports_as(p, "standard_bwd"); }

std::size_t standard_bwd_workspace_bytes(const Problem& p) {
  // S / dP / dS and P in the dtype; D and a scratch LSE in float32.
  return 2 * static_cast<std::size_t>(p.score_elems()) * dtype_bytes(p.dtype) +
         2 * static_cast<std::size_t>(p.lse_elems()) * sizeof(float);
}

void standard_bwd_backward(const Problem& p, const BackwardArgs& a) {
  const cudaDataType_t t = cuda_type(p.dtype);
  const std::size_t elem = dtype_bytes(p.dtype);
  const int g = static_cast<int>(p.group_size());
  const int M = g * static_cast<int>(p.seqlen_q);  // rows of one group
  const int N = static_cast<int>(p.seqlen_k);
  const int d = static_cast<int>(p.head_dim);
  const int batches = static_cast<int>(p.batch * p.heads_kv);
  const long long sQ = static_cast<long long>(M) * d, sK = static_cast<long long>(N) * d;
  const long long sS = static_cast<long long>(M) * N;
  const float scale = static_cast<float>(p.softmax_scale());
  char* S = static_cast<char*>(a.workspace);  // S, then dP, then dS
  char* P = S + static_cast<std::size_t>(p.score_elems()) * elem;
  float* D = reinterpret_cast<float*>(P + static_cast<std::size_t>(p.score_elems()) * elem);
  float* lse = D + p.lse_elems();

  cublasHandle_t h = cublas_handle();
  FC_CUBLAS(cublasSetStream(h, a.stream));
  const auto N_ = CUBLAS_OP_N, T_ = CUBLAS_OP_T;
  // S^T (N x M) = K^T-view ... as the forward: S = scale Q K^T, then P.
  gemm(h, T_, N_, N, M, d, scale, a.K, d, sK, a.Q, d, sQ, S, N, sS, batches, t);
  softmax_rows(p, S, P, lse, a.stream);
  // dV^T (d x N) = dO^T (d x M) * P (M x N): dV summed over the group.
  gemm(h, N_, T_, d, N, M, 1.f, a.dO, d, sQ, P, N, sS, a.dV, d, sK, batches, t);
  // dP = dO V^T, written over S.
  gemm(h, T_, N_, N, M, d, 1.f, a.V, d, sK, a.dO, d, sQ, S, N, sS, batches, t);
  switch (p.dtype) {
    case DType::f16: launch_elementwise<__half>(p, a.O, a.dO, D, P, S, a.stream); break;
    case DType::bf16: launch_elementwise<__nv_bfloat16>(p, a.O, a.dO, D, P, S, a.stream); break;
    default: launch_elementwise<float>(p, a.O, a.dO, D, P, S, a.stream); break;
  }
  // dQ^T (d x M) = K^T (d x N) * dS^T (N x M), times scale.
  gemm(h, N_, N_, d, M, N, scale, a.K, d, sK, S, N, sS, a.dQ, d, sQ, batches, t);
  // dK^T (d x N) = Q^T (d x M) * dS (M x N), times scale: summed over the group.
  gemm(h, N_, T_, d, N, M, scale, a.Q, d, sQ, S, N, sS, a.dK, d, sK, batches, t);
}

}  // namespace flashcheck::kernels
