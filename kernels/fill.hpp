// Device-side fills used by the tests, the sanitizer driver and the
// benchmark: seeded pseudo-random values (so inputs of gigabytes need no host
// copy) and byte patterns (NaN poison, guard regions).
#pragma once
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

#include "reference/dtype.hpp"

namespace flashcheck::kernels {

// n values of dtype t, uniform in [lo, hi), a pure function of (seed, index).
void fill_uniform(void* dst, std::int64_t n, DType t, std::uint64_t seed, float lo, float hi,
                  cudaStream_t stream = nullptr);

// 0xFF in every byte is a NaN in f16, bf16, f32 and f64 alike.
constexpr int kNaNByte = 0xFF;

}  // namespace flashcheck::kernels
