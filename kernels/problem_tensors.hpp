// The one set-up of a problem's device tensors for the benchmark, the
// sanitizer driver and the tuners: Q, K, V, O, LSE (and dO, dQ, dK, dV for a
// backward) allocated, inputs filled with seeded uniform values, and the
// ForwardArgs / BackwardArgs pointing at them (with ALiBi slopes when the
// problem asks for them). (The GPU properties upload
// generated values into guarded buffers instead: properties/kernels/gpu_harness.)
#pragma once
#include <cstdint>

#include "kernels/device_buffer.hpp"
#include "kernels/registry.hpp"

namespace flashcheck::kernels {

struct ProblemTensors {
  // backward: also dO, dQ, dK, dV. Inputs are filled by fill(), not here.
  ProblemTensors(const Problem& p, bool backward);
  // Q, K uniform in [-qk, qk), V and dO in [-1, 1); seeds seed, seed + 1, ...
  void fill(std::uint64_t seed, float qk = 1.f);

  ForwardArgs forward_args(const DeviceBuffer& work) const;
  BackwardArgs backward_args(const DeviceBuffer& work, bool deterministic) const;

  Problem problem;
  DeviceBuffer Q, K, V, O, LSE, dO, dQ, dK, dV;
  // ALiBi (problem.variants.alibi): float32 [heads_q], FlashAttention's
  // geometric slopes 2^(-8 (h + 1) / heads_q); empty otherwise.
  DeviceBuffer slopes;
};

}  // namespace flashcheck::kernels
