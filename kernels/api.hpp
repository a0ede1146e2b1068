// Host API of the CUDA kernels: the types every variant speaks. Functions take
// the shared Problem and raw device pointers to contiguous [B][H][N][d]
// tensors of the problem's dtype (LSE: float32 [B][heads_q][seqlen_q]).
// Plain C++ (no CUDA syntax) so the CLI and the tests include it with g++.
#pragma once
#include <cuda_runtime_api.h>

#include <cstddef>
#include <string>

#include "reference/problem.hpp"
#include "sim/schedule_desc.hpp"

namespace flashcheck::kernels {

// The one schedule description (shared/DESIGN.md) is the simulator's: a
// variant declares the ScheduleDesc it implements (kind, direction, loop
// order, Br, Bc, what stays on chip), so the simulator can predict its traffic.
using sim::Direction;
using sim::LoopOrder;
using sim::ScheduleDesc;
using sim::ScheduleKind;

// "flash2 fwd q-outer Br=128 Bc=64" / "standard fwd unfused".
std::string describe_schedule(const ScheduleDesc& s);

// supports(problem): ok, or the reason it is not supported.
struct Support {
  bool ok = true;
  std::string reason;
  static Support yes() { return {}; }
  static Support no(std::string why) { return {false, std::move(why)}; }
  explicit operator bool() const { return ok; }
};

// The attention variants (reference/variants.hpp) a kernel computes, as the
// registry lists them; a problem asking for any other is refused.
struct VariantSet {
  bool softcap = false;  // cap * tanh(s / cap), forward and backward
  bool alibi = false;    // -slope_h |i + Nk - Nq - j| (ForwardArgs::alibi_slopes)
  bool varlen = false;   // packed sequences (ForwardArgs::cu_seqlens_q, cu_seqlens_k)
  bool any() const { return softcap || alibi || varlen; }
  std::string describe() const;  // "softcap, alibi, varlen" / "plain attention only"
};

// No when the problem asks for an attention variant outside `computes`
// (naming it): the first check of every supports(), so such a problem is
// refused, never silently run without the variant.
Support only_variants(const Problem& p, const char* variant, VariantSet computes);

// Packed sequences (problem.variants.varlen, reference/variants.hpp): Q, O,
// dO, dQ are [1][heads_q][total_q][d], K, V, dK, dV [1][heads_kv][total_k][d],
// LSE [1][heads_q][total_q]; sequence b holds rows cu_seqlens[b] ..
// cu_seqlens[b + 1] (length 0 allowed), problem.seqlen_q/k its longest.
// The totals are cu_seqlens[batch], passed on the host as the tensors'
// extent (FlashAttention's varlen API reads them from the tensor shapes).
struct Varlen {
  const int* cu_seqlens_q = nullptr;  // device int32 [batch + 1]
  const int* cu_seqlens_k = nullptr;  // device int32 [batch + 1]
  long long total_q = 0, total_k = 0;
};

// Element counts of the tensors of a call: dense (Problem's q_elems,
// kv_elems, lse_elems) or, with problem.variants.varlen, from the totals.
struct Extent {
  int64_t q_elems, kv_elems, lse_elems;  // Q/O/dO/dQ, K/V/dK/dV, LSE/D
};
Extent extent(const Problem& p, const Varlen& v);

// Device pointers of one forward call. workspace must hold at least the
// variant's workspace_bytes(problem) (intermediates such as S and P).
struct ForwardArgs {
  const void* Q = nullptr;
  const void* K = nullptr;
  const void* V = nullptr;
  void* O = nullptr;
  float* LSE = nullptr;
  void* workspace = nullptr;
  std::size_t workspace_bytes = 0;
  cudaStream_t stream = nullptr;
  const float* alibi_slopes = nullptr;  // float32 [heads_q] when problem.variants.alibi
  Varlen varlen = {};                   // when problem.variants.varlen
};

// Device pointers of one backward call: inputs Q, K, V, O, dO (dtype) and the
// forward's LSE (float32); outputs dQ, dK, dV (dtype); the ALiBi slopes as
// in the forward. deterministic asks for
// bitwise-reproducible dQ (variants whose dQ is always reproducible ignore it).
struct BackwardArgs {
  const void* Q = nullptr;
  const void* K = nullptr;
  const void* V = nullptr;
  const void* O = nullptr;
  const void* dO = nullptr;
  const float* LSE = nullptr;
  void* dQ = nullptr;
  void* dK = nullptr;
  void* dV = nullptr;
  void* workspace = nullptr;
  std::size_t workspace_bytes = 0;
  cudaStream_t stream = nullptr;
  bool deterministic = false;
  const float* alibi_slopes = nullptr;  // float32 [heads_q] when problem.variants.alibi
  Varlen varlen = {};                   // when problem.variants.varlen
};

}  // namespace flashcheck::kernels
