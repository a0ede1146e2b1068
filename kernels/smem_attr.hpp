// One place that raises a kernel's dynamic shared-memory limit.
//
// cudaFuncAttributeMaxDynamicSharedMemorySize is an attribute of the function
// on each device, so it must be set once per (kernel, device) before the first
// launch there; launches may come from several host threads at once.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <mutex>
#include <set>
#include <utility>

#include "kernels/check.hpp"

namespace flashcheck::kernels {

template <class Kernel>
void set_max_dynamic_smem(Kernel* kernel, std::size_t bytes) {
  static std::mutex mu;
  static std::set<std::pair<const void*, int>> done;  // (kernel, device) already set
  int dev = 0;
  FC_CUDA(cudaGetDevice(&dev));
  const std::pair<const void*, int> key{reinterpret_cast<const void*>(kernel), dev};
  std::lock_guard<std::mutex> lock(mu);
  if (done.count(key)) return;
  FC_CUDA(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                               static_cast<int>(bytes)));
  done.insert(key);
}

}  // namespace flashcheck::kernels
