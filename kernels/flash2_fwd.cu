// Variant flash2_fwd: FlashAttention-2 forward on tensor cores (mma.sync).
//
// Grew from: `standard` (standard_fwd.cu). Instead of materialising S and P
// in HBM, each thread block keeps one Q block of Br rows on chip and streams
// the K, V blocks of Bc rows that its mask lets it see (Q-outer loop order,
// FlashAttention-2 Algorithm 1), with the online softmax: running row max m
// and row sum l in registers, the output accumulator rescaled by
// exp(m_old - m_new) and divided by l once at the end.
//
// Intermediates: none in HBM besides LSE (float32, natural log, scale
// applied; -inf for a row that sees no key, whose O row is 0).
//
// Schedule: q_outer, Br = 128 and Bc = 64 (d 32, 64, 256) or 128 (d 96, 128), see
// the traits below. One thread block per (Q block, query head, batch); each warp
// owns 16 or 32 whole rows of the block, so the softmax needs no inter-warp
// reduction. K and V blocks go through a 2-stage cp.async ring in shared
// memory (zero-filled past seqlen_k).
// KV blocks outside mask.kv_blocks() are skipped; element-wise masking runs
// only on a warp's tiles that mask.tile_fully_visible() rejects.
//
// Attention variants: softcap and ALiBi (a kMod instantiation of each
// configuration), varlen (packed sequences, per-sequence masks); see
// kernels/README.md.
//
// The kernel template is in flash2_fwd_kernel.cuh; this file picks and
// instantiates one configuration per head dim (fp16 and bf16 each).
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>

#include "kernels/flash2_fwd_kernel.cuh"
#include "kernels/registry.hpp"
#include "kernels/variants.hpp"

namespace flashcheck::kernels {
namespace {

// The instantiated configurations: one per head dim (and dtype).
// <head_dim, Bc, warps, m16 row tiles per warp, stages, Q in registers>;
// reports/gpu/flash2_tune.csv has the configurations measured against them.
// d 64: Br 128 = 4 warps x 32 rows, Bc 64, Q in registers, 2 blocks per SM.
// d 128: Br 128 = 8 warps x 16 rows, Bc 128, Q re-read from shared memory.
// d 32 and d 96 take the configuration of the next larger head dim (their
// shared-memory rows are padded to it: flash2_fwd_kernel.cuh); not tuned.
using TraitsD32 = flash2::Flash2FwdTraits<32, 64, 4, 2, 2, true, 2>;
using TraitsD64 = flash2::Flash2FwdTraits<64, 64, 4, 2, 2, true, 2>;
using TraitsD96 = flash2::Flash2FwdTraits<96, 128, 8, 1, 2, false>;
using TraitsD128 = flash2::Flash2FwdTraits<128, 128, 8, 1, 2, false>;
// d 256: Br 128 = 8 warps x 16 rows, Bc 64 (FlashAttention-2's sm80 choice):
// 192 KiB of shared memory, one block per SM; not tuned.
using TraitsD256 = flash2::Flash2FwdTraits<256, 64, 8, 1, 2, false>;

template <class Tr>
ScheduleDesc schedule_of() {
  return sim::describe(ScheduleKind::flash2, Direction::fwd, Tr::kBr, Tr::kBc);
}

template <class Tr>
void launch_dtype(const Problem& p, const ForwardArgs& a) {
  p.dtype == DType::bf16 ? flash2::launch<Tr, __nv_bfloat16>(p, a) : flash2::launch<Tr, __half>(p, a);
}

}  // namespace

ScheduleDesc flash2_fwd_schedule(const Problem& p) {
  switch (p.head_dim) {
    case 32: return schedule_of<TraitsD32>();
    case 64: return schedule_of<TraitsD64>();
    case 96: return schedule_of<TraitsD96>();
    case 256: return schedule_of<TraitsD256>();
    default: return schedule_of<TraitsD128>();
  }
}

Support flash2_fwd_supports(const Problem& p) {
  if (Support s = only_variants(p, "flash2_fwd", kFlash2Variants); !s) return s;
  if (Support s = registered_shape(p, "flash2_fwd"); !s) return s;
  // Row indices are int inside the kernel; the grid's y and z are at most 65535.
  if (p.seqlen_q >= (int64_t(1) << 30) || p.seqlen_k >= (int64_t(1) << 30))
    return Support::no("flash2_fwd needs seqlen_q, seqlen_k < 2^30");
  if (p.heads_q > 65535 || p.batch > 65535)
    return Support::no("flash2_fwd needs heads_q, batch <= 65535 (grid y, z)");
  if (p.variants.varlen && p.batch * std::max(p.seqlen_q, p.seqlen_k) >= (int64_t(1) << 30))
    return Support::no("flash2_fwd varlen needs batch x longest sequence < 2^30 (int row indices)");
  return Support::yes();
}

std::size_t flash2_fwd_workspace_bytes(const Problem&) { return 0; }

void flash2_fwd_forward(const Problem& p, const ForwardArgs& a) {
  switch (p.head_dim) {
    case 32: return launch_dtype<TraitsD32>(p, a);
    case 64: return launch_dtype<TraitsD64>(p, a);
    case 96: return launch_dtype<TraitsD96>(p, a);
    case 256: return launch_dtype<TraitsD256>(p, a);
    default: return launch_dtype<TraitsD128>(p, a);
  }
}

}  // namespace flashcheck::kernels
