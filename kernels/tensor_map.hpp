// TMA tensor maps (CUtensorMap) for the sm_90a kernels, encoded on the host
// through the driver's cuTensorMapEncodeTiled. The project links the static
// CUDA runtime and not libcuda, so the function is looked up once through
// cudaGetDriverEntryPointByVersion.
#pragma once
#include <cuda.h>

#include <cstdint>

#include "reference/dtype.hpp"

namespace flashcheck::kernels {

// A [mats][rows][cols] tensor of 16-bit `dtype` values (contiguous, cols
// innermost; cols * 2 a multiple of 128) seen as boxes of 64 columns x
// box_rows rows x 1 matrix, 128-byte swizzled in shared memory. Out-of-bounds
// rows read as zeros and are not written. Throws CudaError when the driver
// refuses (with the shape in the message), std::invalid_argument for a
// dtype that is not fp16/bf16.
CUtensorMap make_tensor_map_sw128(const void* base, DType dtype, int64_t mats, int64_t rows,
                                  int64_t cols, int box_rows);

}  // namespace flashcheck::kernels
