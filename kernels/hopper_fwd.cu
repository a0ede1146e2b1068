// Variant hopper_fwd: FlashAttention forward for Hopper (sm_90a) with TMA,
// an mbarrier ring, wgmma and warp specialisation.
//
// Grew from: `flash2_fwd` (flash2_fwd.cu). The algorithm and the loop order
// are the same (Q-outer, online softmax with running max m and row sum l in
// registers, O divided by l once at the end, KV blocks outside
// mask.kv_blocks() skipped); what changes is how the work reaches the tensor
// cores:
//   - loads: TMA bulk tensor copies into 128-byte-swizzled shared memory,
//     issued by one producer thread, instead of cp.async by every thread;
//     ragged tails are zero-filled by the tensor map's bounds, O is stored by
//     TMA and clipped the same way;
//   - pipeline: separate full/empty mbarrier rings for K and V (kStages each),
//     so S = Q K^T never waits for V; flash2 had one cp.async group for both
//     and __syncthreads() per block;
//   - products: wgmma (warpgroup-wide, asynchronous) instead of mma.sync: S
//     from shared-memory Q and K, O += P V with P straight from registers;
//     S_j = Q K_j^T is issued together with O += P_{j-1} V_{j-1}, so the
//     softmax of block j overlaps the P V product of block j-1;
//   - warp specialisation: a producer warpgroup (24 registers per thread) and
//     two consumer warpgroups of 64 rows (240 registers, setmaxnreg) that
//     take turns issuing their products (ping-pong), so one warpgroup's
//     softmax runs while the other's products occupy the tensor cores;
//   - masking: per-row key limits [lo, hi) from Mask::key_range, computed
//     once per thread, instead of Mask::visible per element.
//
// Intermediates: none in HBM besides LSE (float32, natural log, scale
// applied; -inf for a row that sees no key, whose O row is 0).
//
// Schedule: flash2 q-outer, Br = 128 (2 consumer warpgroups x 64 rows),
// Bc = 128, for head dims 64 and 128; 2 stages of K and of V. One thread
// block per (Q block, query head, batch), heaviest (causal) blocks first.
//
// The kernel template is in hopper_fwd_kernel.cuh; this file picks and
// instantiates the configurations and says what the variant supports.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>
#include <mutex>
#include <set>
#include <string>

#include "kernels/hopper_fwd_kernel.cuh"
#include "kernels/registry.hpp"
#include "kernels/variants.hpp"

namespace flashcheck::kernels {
namespace {

// <head_dim, Bc, stages, ping-pong>.
using TraitsD64 = hopper::HopperFwdTraits<64, 128, 2, true>;
using TraitsD128 = hopper::HopperFwdTraits<128, 128, 2, true>;

// Why the current device cannot run the kernel ("" when it can): it needs an
// sm_90 GPU and this binary's sm_90a code for it (a build for other
// architectures would reach the kernel only through PTX of an older target,
// whose body traps). Asked once per device.
std::string device_reason() {
  static std::mutex mu;
  static std::set<int> good;
  int dev = 0;
  if (cudaGetDevice(&dev) != cudaSuccess) {
    (void)cudaGetLastError();
    return "hopper_fwd needs a CUDA device (none usable)";
  }
  std::lock_guard<std::mutex> lock(mu);
  if (good.count(dev)) return "";
  cudaDeviceProp prop{};
  FC_CUDA(cudaGetDeviceProperties(&prop, dev));
  if (prop.major != 9 || prop.minor != 0)
    return "hopper_fwd runs on sm_90 (H100/H200) only, not sm_" + std::to_string(prop.major) +
           std::to_string(prop.minor);
  cudaFuncAttributes attr{};
  FC_CUDA(cudaFuncGetAttributes(&attr, hopper::hopper_fwd_kernel<TraitsD64, __nv_bfloat16>));
  if (attr.ptxVersion < 90 || attr.binaryVersion != 90)
    return "hopper_fwd: this binary has no sm_90a code (built for other CUDA architectures; "
           "binary " + std::to_string(attr.binaryVersion) + ", PTX " +
           std::to_string(attr.ptxVersion) + ")";
  good.insert(dev);
  return "";
}

}  // namespace

ScheduleDesc hopper_fwd_schedule(const Problem& p) {
  if (p.head_dim == 64)
    return sim::describe(ScheduleKind::flash2, Direction::fwd, TraitsD64::kBr, TraitsD64::kBc);
  return sim::describe(ScheduleKind::flash2, Direction::fwd, TraitsD128::kBr, TraitsD128::kBc);
}

Support hopper_fwd_supports(const Problem& p) {
  if (Support s = only_variants(p, "hopper_fwd", {}); !s) return s;
  if (Support s = registered_shape(p, "hopper_fwd"); !s) return s;
  // TMA coordinates and row indices are int32 inside the kernel; the grid's
  // y and z are at most 65535.
  if (p.seqlen_q >= (int64_t(1) << 30) || p.seqlen_k >= (int64_t(1) << 30))
    return Support::no("hopper_fwd needs seqlen_q, seqlen_k < 2^30");
  if (p.heads_q > 65535 || p.batch > 65535)
    return Support::no("hopper_fwd needs heads_q, batch <= 65535 (grid y, z)");
  if (p.batch * p.heads_q >= (int64_t(1) << 31))
    return Support::no("hopper_fwd needs batch * heads_q < 2^31 (TMA coordinate)");
  const std::string dev = device_reason();
  if (!dev.empty()) return Support::no(dev);
  return Support::yes();
}

std::size_t hopper_fwd_workspace_bytes(const Problem&) { return 0; }

void hopper_fwd_forward(const Problem& p, const ForwardArgs& a) {
  const bool bf = p.dtype == DType::bf16;
  if (p.head_dim == 64) {
    bf ? hopper::launch<TraitsD64, __nv_bfloat16>(p, a) : hopper::launch<TraitsD64, __half>(p, a);
  } else {
    bf ? hopper::launch<TraitsD128, __nv_bfloat16>(p, a)
       : hopper::launch<TraitsD128, __half>(p, a);
  }
}

}  // namespace flashcheck::kernels
