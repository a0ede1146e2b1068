// Pieces the `standard` forward and backward share: the cuBLAS handle and
// checked-call macro, dtype mapping, and the row softmax kernel (scale
// already applied by the GEMM, mask from the Mask object, LSE out).
#pragma once
#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cmath>
#include <cub/block/block_reduce.cuh>
#include <mutex>
#include <stdexcept>

#include "kernels/api.hpp"
#include "kernels/check.hpp"

#define FC_CUBLAS(call)                                                                  \
  do {                                                                                   \
    const cublasStatus_t st_ = (call);                                                   \
    if (st_ != CUBLAS_STATUS_SUCCESS)                                                    \
      ::flashcheck::kernels::throw_cublas_error(static_cast<int>(st_), #call, __FILE__, \
                                                __LINE__);                               \
  } while (0)

namespace flashcheck::kernels::standard {

inline constexpr int kSoftmaxThreads = 256;

// One handle per process and device 0 use; created on first use because
// creating one costs milliseconds. Never destroyed: the driver may already
// be gone at static destruction.
inline cublasHandle_t cublas_handle() {
  static cublasHandle_t handle = nullptr;
  static std::once_flag once;
  std::call_once(once, [] { FC_CUBLAS(cublasCreate(&handle)); });
  return handle;
}

inline cudaDataType_t cuda_type(DType t) {
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

// Dispatches launch_softmax on the problem's dtype.
inline void softmax_rows(const Problem& p, const void* S, void* P, float* LSE, cudaStream_t s) {
  switch (p.dtype) {
    case DType::f16: return launch_softmax<__half>(p, S, P, LSE, s);
    case DType::bf16: return launch_softmax<__nv_bfloat16>(p, S, P, LSE, s);
    default: return launch_softmax<float>(p, S, P, LSE, s);
  }
}

// One strided-batched GEMM in cuBLAS's column-major terms, operands and
// result in dtype t, float32 accumulation.
inline void gemm(cublasHandle_t h, cublasOperation_t opA, cublasOperation_t opB, int m, int n,
                 int k, float alpha, const void* A, int lda, long long strideA, const void* B,
                 int ldb, long long strideB, void* C, int ldc, long long strideC, int batches,
                 cudaDataType_t t) {
  const float beta = 0.f;
  FC_CUBLAS(cublasGemmStridedBatchedEx(h, opA, opB, m, n, k, &alpha, A, t, lda, strideA, B, t, ldb,
                                       strideB, &beta, C, t, ldc, strideC, batches,
                                       CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
}

}  // namespace flashcheck::kernels::standard
