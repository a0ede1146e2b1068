// Seeded device fills (see fill.hpp).
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <stdexcept>

#include "kernels/check.hpp"
#include "kernels/fill.hpp"

namespace flashcheck::kernels {
namespace {

// splitmix64: a counter-based generator, so every element is independent of
// the launch shape.
__device__ __forceinline__ float uniform01(std::uint64_t seed, std::int64_t i) {
  std::uint64_t z = seed + 0x9E3779B97F4A7C15ull * static_cast<std::uint64_t>(i + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return static_cast<float>(z >> 40) * 0x1p-24f;
}

template <class T>
__global__ void fill_uniform_kernel(T* dst, std::int64_t n, std::uint64_t seed, float lo, float hi) {
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x)
    dst[i] = static_cast<T>(lo + (hi - lo) * uniform01(seed, i));
}

template <class T>
void launch(void* dst, std::int64_t n, std::uint64_t seed, float lo, float hi, cudaStream_t s) {
  const std::int64_t blocks = (n + 255) / 256;
  fill_uniform_kernel<T><<<static_cast<unsigned>(blocks < 65536 ? blocks : 65536), 256, 0, s>>>(
      static_cast<T*>(dst), n, seed, lo, hi);
  FC_CHECK_LAUNCH("fill_uniform_kernel");
}

}  // namespace

void fill_uniform(void* dst, std::int64_t n, DType t, std::uint64_t seed, float lo, float hi,
                  cudaStream_t stream) {
  if (n <= 0) return;
  switch (t) {
    case DType::f16: return launch<__half>(dst, n, seed, lo, hi, stream);
    case DType::bf16: return launch<__nv_bfloat16>(dst, n, seed, lo, hi, stream);
    case DType::f32: return launch<float>(dst, n, seed, lo, hi, stream);
    case DType::f64: return launch<double>(dst, n, seed, lo, hi, stream);
  }
  throw std::invalid_argument("fill_uniform: unknown dtype");
}

}  // namespace flashcheck::kernels
