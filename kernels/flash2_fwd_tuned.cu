// Variant flash2_fwd_tuned: the flash2 forward kernel with the configuration
// chosen per shape from the measured table, and K and V in separate cp.async
// groups.
//
// Grew from: `flash2_fwd` (flash2_fwd.cu), same kernel template
// (flash2_fwd_kernel.cuh), same algorithm, schedule and intermediates. Two
// changes, both from issue 14's "flash2 quick wins":
//   - configuration per shape, from reports/gpu/flash2_tune.csv (H100,
//     candidates timed against flash2_fwd's own configurations): d 128 uses 3
//     stages (the fastest candidate at every measured N, +1-3%); d 64 uses 8
//     warps of 16 rows (Bc 64, 128 registers, 2 blocks per SM) for masked
//     problems of at most 1024 keys (+16% at N 1024 causal) and flash2_fwd's
//     4 warps of 32 rows otherwise. The choice is one plain function,
//     choose() below, so a new measurement lands in one place;
//   - kSplitKV (d 64): K and V of a block are separate cp.async groups, so
//     S = Q K^T waits only for K; a second __syncthreads per block publishes V
//     before P V. Not at d 128, where it makes ptxas spill (see TraitsD128).
// Being a registered variant, every configuration it can pick runs through
// the GPU properties, the sanitizer driver and the benchmark.
//
// Intermediates: none in HBM besides LSE (float32, natural log, scale
// applied; -inf for a row that sees no key, whose O row is 0).
//
// Schedule: flash2 q-outer, Br = 128, Bc = 64 (d 64) / 128 (d 128), the
// same tiles as flash2_fwd (both d 64 configurations have Br 128, Bc 64).
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>
#include <string>

#include "kernels/flash2_fwd_kernel.cuh"
#include "kernels/registry.hpp"
#include "kernels/variants.hpp"

namespace flashcheck::kernels {
namespace {

// <head_dim, Bc, warps, m16 row tiles per warp, stages, Q in registers,
// min blocks per SM, split K/V groups>.
using TraitsD64Short = flash2::Flash2FwdTraits<64, 64, 8, 1, 2, true, 2, true>;
using TraitsD64 = flash2::Flash2FwdTraits<64, 64, 4, 2, 2, true, 2, true>;
// d 128 keeps K and V in one group: with split groups ptxas spills (44 bytes
// at 3 stages, 12 at 2; 0 without), which would cost more than the split
// can gain.
using TraitsD128 = flash2::Flash2FwdTraits<128, 128, 8, 1, 3, false, 1, false>;
static_assert(TraitsD64Short::kBr == TraitsD64::kBr && TraitsD64Short::kBc == TraitsD64::kBc,
              "both d 64 configurations implement the same schedule");

enum class Config { d64_short, d64, d128 };

// The one place the measured table lands (see the header comment).
Config choose(const Problem& p) {
  if (p.head_dim == 128) return Config::d128;
  const bool masked = p.mask.kind != MaskKind::none;
  return masked && p.seqlen_k <= 1024 ? Config::d64_short : Config::d64;
}

}  // namespace

ScheduleDesc flash2_fwd_tuned_schedule(const Problem& p) {
  if (p.head_dim == 64)
    return sim::describe(ScheduleKind::flash2, Direction::fwd, TraitsD64::kBr, TraitsD64::kBc);
  return sim::describe(ScheduleKind::flash2, Direction::fwd, TraitsD128::kBr, TraitsD128::kBc);
}

Support flash2_fwd_tuned_supports(const Problem& p) {
  if (Support s = only_variants(p, "flash2_fwd_tuned", {}); !s) return s;
  if (Support s = registered_shape(p, "flash2_fwd_tuned"); !s) return s;
  // Row indices are int inside the kernel; the grid's y and z are at most 65535.
  if (p.seqlen_q >= (int64_t(1) << 30) || p.seqlen_k >= (int64_t(1) << 30))
    return Support::no("flash2_fwd_tuned needs seqlen_q, seqlen_k < 2^30");
  if (p.heads_q > 65535 || p.batch > 65535)
    return Support::no("flash2_fwd_tuned needs heads_q, batch <= 65535 (grid y, z)");
  if (choose(p) == Config::d128) {
    // 3 stages of d 128 need 224 KiB of shared memory (sm_90 has 227, sm_80 164).
    int dev = 0, optin = 0;
    if (cudaGetDevice(&dev) != cudaSuccess ||
        cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev) !=
            cudaSuccess) {
      (void)cudaGetLastError();
      return Support::no("flash2_fwd_tuned d 128 needs a CUDA device to size shared memory");
    }
    if (static_cast<std::size_t>(optin) < TraitsD128::kSmemBytes)
      return Support::no("flash2_fwd_tuned d 128 needs " + std::to_string(TraitsD128::kSmemBytes) +
                         " bytes of shared memory per block, the device has " +
                         std::to_string(optin));
  }
  return Support::yes();
}

std::size_t flash2_fwd_tuned_workspace_bytes(const Problem&) { return 0; }

void flash2_fwd_tuned_forward(const Problem& p, const ForwardArgs& a) {
  const bool bf = p.dtype == DType::bf16;
  switch (choose(p)) {
    case Config::d64_short:
      bf ? flash2::launch<TraitsD64Short, __nv_bfloat16, false>(p, a)
         : flash2::launch<TraitsD64Short, __half, false>(p, a);
      break;
    case Config::d64:
      bf ? flash2::launch<TraitsD64, __nv_bfloat16, false>(p, a)
         : flash2::launch<TraitsD64, __half, false>(p, a);
      break;
    case Config::d128:
      bf ? flash2::launch<TraitsD128, __nv_bfloat16, false>(p, a)
         : flash2::launch<TraitsD128, __half, false>(p, a);
      break;
  }
}

}  // namespace flashcheck::kernels
