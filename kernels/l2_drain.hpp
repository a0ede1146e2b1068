// The read-only L2 drain of L2Flush::read (l2_flush_mode.hpp): a never-written
// device buffer of 4x the device's L2, read whole by the kernel `fc_l2_flush`
// (the name sim/fidelity/sdpa_writeback.py gives its own drain, so the ncu
// scripts and the fidelity report treat both alike).
#pragma once
#include <cuda_runtime_api.h>

#include <cstddef>

#include "kernels/device_buffer.hpp"

namespace flashcheck::kernels {

class L2Drain {
 public:
  L2Drain();  // sized for the current device
  // Reads every byte of the buffer on `stream`; the reads' XOR feeds a store
  // that never happens, so the loads cannot be optimised away.
  void run(cudaStream_t stream = nullptr) const;
  std::size_t bytes() const { return buf_.bytes(); }

 private:
  DeviceBuffer buf_;   // never written: none of its lines is ever dirty
  DeviceBuffer sink_;  // the guarded store's target
  unsigned blocks_ = 0;
};

}  // namespace flashcheck::kernels
