#include "kernels/check.hpp"

#include <cublas_v2.h>

namespace flashcheck::kernels {

void throw_cuda_error(cudaError_t err, const char* call, const char* file, int line) {
  throw CudaError(std::string(call) + " failed at " + file + ":" + std::to_string(line) + ": " +
                  cudaGetErrorName(err) + ": " + cudaGetErrorString(err));
}

void throw_cublas_error(int status, const char* call, const char* file, int line) {
  throw CudaError(std::string(call) + " failed at " + file + ":" + std::to_string(line) +
                  ": cuBLAS status " + std::to_string(status) + ": " +
                  cublasGetStatusString(static_cast<cublasStatus_t>(status)));
}

}  // namespace flashcheck::kernels
