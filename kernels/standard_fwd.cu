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
#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cmath>
#include <cub/block/block_reduce.cuh>
#include <mutex>

#include "kernels/check.hpp"
#include "kernels/variants.hpp"

#define FC_CUBLAS(call)                                                                  \
  do {                                                                                   \
    const cublasStatus_t st_ = (call);                                                   \
    if (st_ != CUBLAS_STATUS_SUCCESS)                                                    \
      ::flashcheck::kernels::throw_cublas_error(static_cast<int>(st_), #call, __FILE__, \
                                                __LINE__);                               \
  } while (0)

namespace flashcheck::kernels {
namespace {

constexpr int kSoftmaxThreads = 256;

// One handle per process and device 0 use; created on first use because
// creating one costs milliseconds. Never destroyed: the driver may already
// be gone at static destruction.
cublasHandle_t cublas_handle() {
  static cublasHandle_t handle = nullptr;
  static std::once_flag once;
  std::call_once(once, [] { FC_CUBLAS(cublasCreate(&handle)); });
  return handle;
}

cudaDataType_t cuda_type(DType t) {
  switch (t) {
    case DType::f16: return CUDA_R_16F;
    case DType::bf16: return CUDA_R_16BF;
    case DType::f32: return CUDA_R_32F;
    case DType::f64: break;
  }
  throw std::invalid_argument("standard: no cuBLAS type for dtype f64");
}

template <class T>
__device__ __forceinline__ float to_float(T x) { return static_cast<float>(x); }
template <class T>
__device__ __forceinline__ T from_float(float x) { return static_cast<T>(x); }
template <>
__device__ __forceinline__ __half from_float<__half>(float x) { return __float2half_rn(x); }
template <>
__device__ __forceinline__ __nv_bfloat16 from_float<__nv_bfloat16>(float x) {
  return __float2bfloat16_rn(x);
}

// Row softmax over S: block = one row (b, h, q). Reads the row twice (max,
// then sum) and writes P in a third pass; every pass is coalesced.
template <class T>
__global__ void __launch_bounds__(kSoftmaxThreads)
    row_softmax_kernel(const T* S, T* P, float* LSE, int seqlen_q, int seqlen_k, Mask mask) {
  using Reduce = cub::BlockReduce<float, kSoftmaxThreads>;
  __shared__ typename Reduce::TempStorage tmp;
  __shared__ float shared_value;
  const int64_t row = blockIdx.x;  // flat (b, h, q)
  const int q = static_cast<int>(row % seqlen_q);
  const T* s = S + row * seqlen_k;
  T* out = P + row * seqlen_k;

  float mx = -INFINITY;
  for (int k = threadIdx.x; k < seqlen_k; k += blockDim.x)
    if (mask.visible(q, k, seqlen_q, seqlen_k)) mx = fmaxf(mx, to_float(s[k]));
  mx = Reduce(tmp).Reduce(mx, [](float a, float b) { return fmaxf(a, b); });
  if (threadIdx.x == 0) shared_value = mx;
  __syncthreads();
  mx = shared_value;

  if (mx == -INFINITY) {  // the row sees no key
    for (int k = threadIdx.x; k < seqlen_k; k += blockDim.x) out[k] = from_float<T>(0.f);
    if (threadIdx.x == 0) LSE[row] = -INFINITY;
    return;
  }
  float sum = 0.f;
  for (int k = threadIdx.x; k < seqlen_k; k += blockDim.x)
    if (mask.visible(q, k, seqlen_q, seqlen_k)) sum += expf(to_float(s[k]) - mx);
  __syncthreads();  // tmp is reused
  sum = Reduce(tmp).Sum(sum);
  if (threadIdx.x == 0) {
    shared_value = sum;
    LSE[row] = mx + logf(sum);
  }
  __syncthreads();
  const float inv = 1.f / shared_value;
  for (int k = threadIdx.x; k < seqlen_k; k += blockDim.x)
    out[k] = from_float<T>(mask.visible(q, k, seqlen_q, seqlen_k) ? expf(to_float(s[k]) - mx) * inv
                                                                  : 0.f);
}

template <class T>
void launch_softmax(const Problem& p, const void* S, void* P, float* LSE, cudaStream_t stream) {
  const auto rows = static_cast<unsigned>(p.batch * p.heads_q * p.seqlen_q);
  row_softmax_kernel<T><<<rows, kSoftmaxThreads, 0, stream>>>(
      static_cast<const T*>(S), static_cast<T*>(P), LSE, static_cast<int>(p.seqlen_q),
      static_cast<int>(p.seqlen_k), p.mask);
  FC_CHECK_LAUNCH("row_softmax_kernel");
}

}  // namespace

ScheduleDesc standard_fwd_schedule(const Problem&) {
  return sim::describe(ScheduleKind::standard, Direction::fwd);
}

Support standard_fwd_supports(const Problem& p) {
  if (p.dtype == DType::f64) return Support::no("standard runs f32, f16 and bf16, not f64");
  if (p.head_dim > 256) return Support::no("standard supports head dims up to 256");
  const int64_t rows = p.batch * p.heads_q * p.seqlen_q;
  if (rows > 2147483647) return Support::no("standard: batch x heads_q x seqlen_q >= 2^31 rows");
  const int64_t group_rows = p.group_size() * p.seqlen_q;
  if (group_rows > 2147483647 || p.seqlen_k > 2147483647 || p.batch * p.heads_kv > 2147483647)
    return Support::no("standard: a GEMM dimension passes 2^31 (cuBLAS int)");
  return Support::yes();
}

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
  switch (p.dtype) {
    case DType::f16: launch_softmax<__half>(p, S, P, a.LSE, a.stream); break;
    case DType::bf16: launch_softmax<__nv_bfloat16>(p, S, P, a.LSE, a.stream); break;
    default: launch_softmax<float>(p, S, P, a.LSE, a.stream); break;
  }
  // O^T (d x M) = V^T (d x N) * P^T (N x M).
  FC_CUBLAS(cublasGemmStridedBatchedEx(h, CUBLAS_OP_N, CUBLAS_OP_N, d, M, N, &one, a.V, t, d,
                                       strideK, P, t, N, strideS, &zero, a.O, t, d, strideQ,
                                       batches, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
}

}  // namespace flashcheck::kernels
