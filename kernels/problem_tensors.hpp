// The one set-up of a problem's device tensors for the benchmark, the
// sanitizer driver and the tuners: Q, K, V, O, LSE (and dO, dQ, dK, dV for a
// backward) allocated, inputs filled with seeded uniform values, and the
// ForwardArgs / BackwardArgs pointing at them (with ALiBi slopes when the
// problem asks for them). (The GPU properties upload
// generated values into guarded buffers instead: properties/kernels/gpu_harness.)
#pragma once
#include <cstdint>
#include <vector>

#include "kernels/device_buffer.hpp"
#include "kernels/registry.hpp"

namespace flashcheck::kernels {

// Sequence lengths of a varlen problem (problem.variants.varlen): one per
// batch entry, 0 .. seqlen_q (q) and 0 .. seqlen_k (k).
struct SeqLens {
  std::vector<int64_t> q, k;
};

struct ProblemTensors {
  // backward: also dO, dQ, dK, dV. Inputs are filled by fill(), not here.
  // A varlen problem needs lens (packed tensors, cu_seqlens on the device);
  // throws std::invalid_argument when they are missing or out of range.
  ProblemTensors(const Problem& p, bool backward, const SeqLens& lens = {});
  // Q, K uniform in [-qk, qk), V and dO in [-1, 1); seeds seed, seed + 1, ...
  void fill(std::uint64_t seed, float qk = 1.f);

  ForwardArgs forward_args(const DeviceBuffer& work) const;
  BackwardArgs backward_args(const DeviceBuffer& work, bool deterministic) const;

  Problem problem;
  Extent ext;  // element counts of the tensors below
  DeviceBuffer Q, K, V, O, LSE, dO, dQ, dK, dV;
  // ALiBi (problem.variants.alibi): float32 [heads_q], FlashAttention's
  // geometric slopes 2^(-8 (h + 1) / heads_q); empty otherwise.
  DeviceBuffer slopes;
  // Varlen: cu_seqlens (int32 [batch + 1]) and the totals; empty otherwise.
  Varlen varlen;
  DeviceBuffer cu_q, cu_k;

 private:
  ProblemTensors(const Problem& p, bool backward, const std::vector<int>& cq, const std::vector<int>& ck);
};

}  // namespace flashcheck::kernels
