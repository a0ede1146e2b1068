// Checked CUDA and cuBLAS calls: every runtime call and every launch goes
// through FC_CUDA / FC_CHECK_LAUNCH, which turn a failure into a
// flashcheck::CudaError carrying the call, the place and CUDA's own string.
// Library code never exits; callers decide what a failure means.
#pragma once
#include <cuda_runtime_api.h>

#include <stdexcept>
#include <string>

namespace flashcheck::kernels {

class CudaError : public std::runtime_error {
 public:
  explicit CudaError(const std::string& what) : std::runtime_error(what) {}
};

// Throws CudaError("<call> failed at <file>:<line>: <cudaGetErrorName>: <string>").
void throw_cuda_error(cudaError_t err, const char* call, const char* file, int line);
// Same for cuBLAS status codes (int so this header needs no cublas header).
void throw_cublas_error(int status, const char* call, const char* file, int line);

inline void check_cuda(cudaError_t err, const char* call, const char* file, int line) {
  if (err != cudaSuccess) throw_cuda_error(err, call, file, line);
}

}  // namespace flashcheck::kernels

#define FC_CUDA(call) ::flashcheck::kernels::check_cuda((call), #call, __FILE__, __LINE__)
// After a <<<...>>> launch: configuration errors surface from cudaGetLastError.
#define FC_CHECK_LAUNCH(name) \
  ::flashcheck::kernels::check_cuda(cudaGetLastError(), "launch of " name, __FILE__, __LINE__)
