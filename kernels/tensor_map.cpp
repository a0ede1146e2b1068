// See tensor_map.hpp.
#include "kernels/tensor_map.hpp"

#include <cuda_runtime_api.h>

#include <mutex>
#include <stdexcept>
#include <string>

#include "kernels/check.hpp"

namespace flashcheck::kernels {

namespace {

using EncodeTiled = CUresult (*)(CUtensorMap*, CUtensorMapDataType, cuuint32_t, void*,
                                 const cuuint64_t*, const cuuint64_t*, const cuuint32_t*,
                                 const cuuint32_t*, CUtensorMapInterleave, CUtensorMapSwizzle,
                                 CUtensorMapL2promotion, CUtensorMapFloatOOBfill);

EncodeTiled encode_tiled() {
  static EncodeTiled fn = nullptr;
  static std::once_flag once;
  std::call_once(once, [] {
    void* p = nullptr;
    cudaDriverEntryPointQueryResult status{};
    // 12000: the ABI of cuTensorMapEncodeTiled as introduced in CUDA 12.0.
    const cudaError_t err =
        cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &p, 12000, cudaEnableDefault,
                                         &status);
    if (err == cudaSuccess && status == cudaDriverEntryPointSuccess)
      fn = reinterpret_cast<EncodeTiled>(p);
  });
  if (fn == nullptr)
    throw CudaError("cuTensorMapEncodeTiled not found through cudaGetDriverEntryPointByVersion "
                    "(driver older than CUDA 12?)");
  return fn;
}

}  // namespace

CUtensorMap make_tensor_map_sw128(const void* base, DType dtype, int64_t mats, int64_t rows,
                                  int64_t cols, int box_rows) {
  if (dtype != DType::f16 && dtype != DType::bf16)
    throw std::invalid_argument(std::string("make_tensor_map_sw128: dtype ") + dtype_name(dtype) +
                                " is not a 16-bit float");
  CUtensorMap map;
  const cuuint64_t dims[3] = {static_cast<cuuint64_t>(cols), static_cast<cuuint64_t>(rows),
                              static_cast<cuuint64_t>(mats)};
  const cuuint64_t strides[2] = {static_cast<cuuint64_t>(cols) * 2,
                                 static_cast<cuuint64_t>(cols * rows) * 2};
  const cuuint32_t box[3] = {64, static_cast<cuuint32_t>(box_rows), 1};
  const cuuint32_t unit[3] = {1, 1, 1};
  const CUresult r = encode_tiled()(
      &map, dtype == DType::bf16 ? CU_TENSOR_MAP_DATA_TYPE_BFLOAT16 : CU_TENSOR_MAP_DATA_TYPE_FLOAT16,
      3, const_cast<void*>(base), dims, strides, box, unit, CU_TENSOR_MAP_INTERLEAVE_NONE,
      CU_TENSOR_MAP_SWIZZLE_128B, CU_TENSOR_MAP_L2_PROMOTION_L2_256B,
      CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
  if (r != CUDA_SUCCESS)
    throw CudaError("cuTensorMapEncodeTiled failed (CUresult " + std::to_string(static_cast<int>(r)) +
                    ") for a [" + std::to_string(mats) + "][" + std::to_string(rows) + "][" +
                    std::to_string(cols) + "] tensor, box 64 x " + std::to_string(box_rows));
  return map;
}

}  // namespace flashcheck::kernels
