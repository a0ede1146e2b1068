// Variant flash2_bwd: FlashAttention-2 backward on tensor cores (mma.sync).
//
// Grew from: flash2_fwd (flash2_fwd.cu), whose tiles, swizzle and fragment
// code it reuses. Instead of reading a stored P (as `standard` would), it
// recomputes P = exp(scale Q K^T - LSE) from the forward's LSE.
//
// Phases (FlashAttention-2 names; kernels in flash2_bwd_kernel.cuh):
//   1. D = rowsum(dO * O)                          dot_do_o kernel
//   2. main, KV-outer: dV += P^T dO, dS = P (dP - D), dK += scale dS^T Q,
//      per KV block, looping over the query heads of its GQA group (so dK,
//      dV are summed over the group without atomics)    dkdv kernel
//      GQA with few KV blocks (MQA): the group's heads are spread over
//      `splits` blocks per KV block (gqa_splits), each writing float32
//      partial dK, dV; then                              dkdv_reduce kernel
//      sums them in sub-group order (still no atomics, still bitwise
//      reproducible).
//   3. deterministic mode: dQ, Q-outer: dQ += scale dS K per Q block over its
//      KV blocks, P and dS recomputed                   dq kernel
//      default mode: dQ = scale * dQaccum                dq_convert kernel
// dQ has two modes:
//   default (FlashAttention-2's): phase 2 also forms dS K for each (Q block,
//     KV block) pair from dS^T staged in shared memory and adds it into a
//     float32 dQ accumulator with atomics; a last pass scales and rounds it.
//     The order of the atomic adds varies, so dQ is not bitwise reproducible
//     (dK, dV are: each is summed by one thread block in a fixed order).
//   deterministic: phase 2 skips dQ and phase 3 computes it Q-outer, each dQ
//     row summed by one thread in a fixed order; it recomputes S and dP once
//     more (7 instead of 5 matrix products).
//
// Attention variants as the forward: softcap (dS times 1 - tanh^2), ALiBi
// (kMod kernels), varlen (packed rows; dK, dV of a sequence without queries
// are 0).
//
// Intermediates in HBM: D (float32, B x heads_q x seqlen_q), the float32
// dQ accumulator (B x heads_q x seqlen_q x d) of the default mode and, when
// splits > 1, the float32 partial dK, dV (2 x splits x B x heads_kv x
// seqlen_k x d).
//
// Schedule: kv_outer for dK, dV with Bc = 64 rows per block (4 warps x 16)
// and Br = 64 (d 32, 64) or 32 (d 96, 128: registers) queries per inner
// step; dQ Q-outer with Br = 64, Bc = 64. Head dims 32 and
// 96 take the configuration of 64 and 128 with shared-memory rows padded to
// it (Flash2BwdTraits::kRowElems, as the forward). d 256: Bc = 64 with 8
// warps, two per 16 KV rows, each owning 128 of the 256 columns of dK, dV
// (kDSplit = 2: 256 columns of both would need 256 accumulator registers a
// thread; P^T, dS^T shared through shared memory), Br = 64 on sm_90 (each
// warp's 32 queries of S^T, dP^T in two passes of 16; 209 KiB of shared
// memory) and Br = 32 elsewhere (136.5 KiB, within sm_80's 163 KiB), chosen
// per device at launch; dQ Q-outer with Br = 64, Bc = 16 (registers;
// 98.25 KiB).
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <algorithm>
#include <string>
#include <type_traits>
#include <utility>

#include "kernels/flash2_bwd_kernel.cuh"
#include "kernels/smem_attr.hpp"
#include "kernels/registry.hpp"
#include "kernels/variants.hpp"

namespace flashcheck::kernels {
namespace {

// <head_dim, warps, streamed rows per step, warps per 16 owned rows, queries per score pass>
template <int D>
using DkdvTraits = std::conditional_t<D == 256, flash2::Flash2BwdTraits<256, 8, 32, 2>,
                                      flash2::Flash2BwdTraits<D, 4, (D > 64 ? 32 : 64)>>;
// d 256 on sm_90: 64 queries a step (half the barriers per query), each warp
// forming its 32 in two passes of 16; 209 KiB of shared memory.
using DkdvTraits256Sm90 = flash2::Flash2BwdTraits<256, 8, 64, 2, 16>;
template <int D>
using DqTraits = flash2::Flash2BwdTraits<D, 4, (D == 256 ? 16 : 64)>;

// Every other configuration fits the opt-in shared memory of sm_80 (A100:
// 163 KiB), so one binary runs on sm_80 and sm_90.
constexpr std::size_t kSmemSm80 = 163 * 1024;
static_assert(DkdvTraits<256>::kSmemBytes <= kSmemSm80 && DqTraits<256>::kSmemBytes <= kSmemSm80 &&
                  DkdvTraits<128>::kSmemBytes <= kSmemSm80 && DqTraits<128>::kSmemBytes <= kSmemSm80,
              "flash2_bwd's shared memory must fit sm_80's 163 KiB");
static_assert(DkdvTraits256Sm90::kSmemBytes > kSmemSm80 &&
                  DkdvTraits256Sm90::kRows == DkdvTraits<256>::kRows,
              "the sm_90 d 256 tile: beyond sm_80 (the kernel traps there), the same Bc (gqa_splits)");

// Whether this device takes the sm_90 d 256 tile: compute capability 9 and
// room for its shared memory.
bool wide_d256_tile() {
  int dev = 0, major = 0, optin = 0;
  FC_CUDA(cudaGetDevice(&dev));
  FC_CUDA(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev));
  FC_CUDA(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev));
  return major == 9 && static_cast<std::size_t>(optin) >= DkdvTraits256Sm90::kSmemBytes;
}

// Floats of D in the workspace, rounded up to 16 bytes so dQaccum after it
// stays aligned for float2 atomics.
int64_t d_floats(const Problem& p) { return (p.lse_elems() + 3) / 4 * 4; }

// How many blocks a GQA group's query heads are spread over: enough that the
// dkdv grid has about kTargetBlocks blocks (several waves at 2-3 blocks per
// SM on 132 SMs), at most one head per block. A function of the problem
// alone, so dK, dV bits do not depend on the device.
constexpr int64_t kTargetBlocks = 2048;
// The dkdv kernel's (Bc, Br) at a head dim flash2_bwd instantiates (d 256:
// the sm_90 tile; sm_80 streams 32 queries, with the same Bc).
std::pair<int64_t, int64_t> dkdv_tile(int64_t head_dim) {
  switch (head_dim) {
    case 32: return {DkdvTraits<32>::kRows, DkdvTraits<32>::kStream};
    case 64: return {DkdvTraits<64>::kRows, DkdvTraits<64>::kStream};
    case 96: return {DkdvTraits<96>::kRows, DkdvTraits<96>::kStream};
    case 256: return {DkdvTraits256Sm90::kRows, DkdvTraits256Sm90::kStream};
    default: return {DkdvTraits<128>::kRows, DkdvTraits<128>::kStream};
  }
}

int gqa_splits(const Problem& p) {
  const int64_t rows = dkdv_tile(p.head_dim).first;
  const int64_t base = (p.seqlen_k + rows - 1) / rows * p.heads_kv * p.batch;
  const int64_t want = (kTargetBlocks + base - 1) / base;
  return static_cast<int>(std::min<int64_t>(p.group_size(), std::max<int64_t>(1, want)));
}

// kMod: the softcap / ALiBi kernels (flash2_bwd_kernel.cuh).
template <class Tk, class T, bool kMod>
void launch(const Problem& pr, const BackwardArgs& a) {
  constexpr int D = Tk::kHeadDim;
  using Tq = DqTraits<D>;
  // Per (kernel, device), once: only the kernels this device launches.
  if (a.deterministic) {
    set_max_dynamic_smem(flash2::flash2_bwd_dkdv_kernel<Tk, T, false, kMod>, Tk::kSmemBytes);
    set_max_dynamic_smem(flash2::flash2_bwd_dq_kernel<Tq, T, kMod>, Tq::kSmemBytes);
  } else {
    set_max_dynamic_smem(flash2::flash2_bwd_dkdv_kernel<Tk, T, true, kMod>, Tk::kSmemBytes);
  }
  float* Dbuf = static_cast<float*>(a.workspace);
  float* dqa = Dbuf + d_floats(pr);  // 16-byte aligned: float2 atomics
  float* part = dqa + pr.q_elems();  // 16-byte aligned: head_dim is a multiple of 32
  const int splits = gqa_splits(pr);
  const flash2::ScoreMod mod = flash2::make_score_mod(pr, a.alibi_slopes);
  const bool vl = pr.variants.varlen;
  const Extent ext = extent(pr, a.varlen);  // packed tensors are smaller than batch x longest
  flash2::BwdParams p{a.Q, a.K, a.V, a.O, a.dO, a.LSE, Dbuf, a.dQ, a.dK, a.dV, dqa, part,
                      static_cast<int>(pr.seqlen_q), static_cast<int>(pr.seqlen_k),
                      static_cast<int>(pr.heads_q), static_cast<int>(pr.heads_kv),
                      static_cast<int>(pr.group_size()), splits,
                      static_cast<float>(pr.softmax_scale()),
                      mod.on ? flash2::kLog2e
                             : static_cast<float>(pr.softmax_scale() * 1.4426950408889634),
                      pr.mask, mod, vl ? a.varlen.cu_seqlens_q : nullptr,
                      vl ? a.varlen.cu_seqlens_k : nullptr, static_cast<int>(a.varlen.total_q),
                      static_cast<int>(a.varlen.total_k), ext.kv_elems};
  const int64_t rows = ext.lse_elems;
  flash2::dot_do_o_kernel<T, D><<<static_cast<unsigned>((rows + 7) / 8), 256, 0, a.stream>>>(p, rows);
  FC_CHECK_LAUNCH("dot_do_o_kernel");
  const dim3 gk(static_cast<unsigned>((pr.seqlen_k + Tk::kRows - 1) / Tk::kRows),
                static_cast<unsigned>(pr.heads_kv * splits), static_cast<unsigned>(pr.batch));
  // splits > 1: the sub-groups' float32 partial dK, dV summed in a fixed order.
  auto reduce = [&] {
    if (splits == 1) return;
    const int64_t n = ext.kv_elems, blocks = (2 * n / 4 + 255) / 256;
    flash2::dkdv_reduce_kernel<T><<<static_cast<unsigned>(blocks < 65536 ? blocks : 65536), 256, 0,
                                    a.stream>>>(part, static_cast<T*>(a.dK), static_cast<T*>(a.dV), n,
                                                splits);
    FC_CHECK_LAUNCH("dkdv_reduce_kernel");
  };
  if (!a.deterministic) {
    // FlashAttention-2's way: dkdv adds every dS K product into a float32
    // dQ with atomics (order varies run to run), then one conversion pass.
    FC_CUDA(cudaMemsetAsync(dqa, 0, ext.q_elems * sizeof(float), a.stream));
    flash2::flash2_bwd_dkdv_kernel<Tk, T, true, kMod><<<gk, Tk::kThreads, Tk::kSmemBytes, a.stream>>>(p);
    FC_CHECK_LAUNCH("flash2_bwd_dkdv_kernel");
    reduce();
    const int64_t n = ext.q_elems;
    const int64_t blocks = (n + 255) / 256;
    flash2::dq_convert_kernel<T><<<static_cast<unsigned>(blocks < 65536 ? blocks : 65536), 256, 0,
                                   a.stream>>>(dqa, static_cast<T*>(a.dQ), n, p.scale);
    FC_CHECK_LAUNCH("dq_convert_kernel");
    return;
  }
  flash2::flash2_bwd_dkdv_kernel<Tk, T, false, kMod><<<gk, Tk::kThreads, Tk::kSmemBytes, a.stream>>>(p);
  FC_CHECK_LAUNCH("flash2_bwd_dkdv_kernel");
  reduce();
  const dim3 gq(static_cast<unsigned>((pr.seqlen_q + Tq::kRows - 1) / Tq::kRows),
                static_cast<unsigned>(pr.heads_q), static_cast<unsigned>(pr.batch));
  flash2::flash2_bwd_dq_kernel<Tq, T, kMod><<<gq, Tq::kThreads, Tq::kSmemBytes, a.stream>>>(p);
  FC_CHECK_LAUNCH("flash2_bwd_dq_kernel");
}

}  // namespace

ScheduleDesc flash2_bwd_schedule(const Problem& p) {
  const auto [Bc, Br] = dkdv_tile(p.head_dim);
  return sim::describe(ScheduleKind::flash2, Direction::bwd, Br, Bc);
}

Support flash2_bwd_supports(const Problem& p) {
  if (Support s = only_variants(p, "flash2_bwd", kFlash2Variants); !s) return s;
  if (Support s = registered_shape(p, "flash2_bwd"); !s) return s;
  if (p.seqlen_q >= (int64_t(1) << 30) || p.seqlen_k >= (int64_t(1) << 30))
    return Support::no("flash2_bwd needs seqlen_q, seqlen_k < 2^30");
  if (p.heads_q > 65535 || p.batch > 65535)
    return Support::no("flash2_bwd needs heads_q, batch <= 65535 (grid y, z)");
  if (p.variants.varlen && p.batch * std::max(p.seqlen_q, p.seqlen_k) >= (int64_t(1) << 30))
    return Support::no("flash2_bwd varlen needs batch x longest sequence < 2^30 (int row indices)");
  if (p.lse_elems() / 8 >= (int64_t(1) << 31))
    return Support::no("flash2_bwd: batch x heads_q x seqlen_q too large for the D kernel's grid");
  return Support::yes();
}

std::size_t flash2_bwd_workspace_bytes(const Problem& p) {
  // D, the float32 dQ accumulator of the atomic (default) mode, and the
  // sub-groups' partial dK, dV when the GQA group is split.
  const int splits = gqa_splits(p);
  const int64_t part = splits > 1 ? 2 * splits * p.kv_elems() : 0;
  return static_cast<std::size_t>(d_floats(p) + p.q_elems() + part) * sizeof(float);
}

template <class Tk, class T>
void launch_mod(const Problem& p, const BackwardArgs& a) {
  p.variants.softcap || p.variants.alibi ? launch<Tk, T, true>(p, a) : launch<Tk, T, false>(p, a);
}

template <int D, class T>
void launch_tile(const Problem& p, const BackwardArgs& a) {
  if constexpr (D == 256) {
    if (wide_d256_tile()) return launch_mod<DkdvTraits256Sm90, T>(p, a);
  }
  launch_mod<DkdvTraits<D>, T>(p, a);
}

template <int D>
void launch_dtype(const Problem& p, const BackwardArgs& a) {
  p.dtype == DType::bf16 ? launch_tile<D, __nv_bfloat16>(p, a) : launch_tile<D, __half>(p, a);
}

void flash2_bwd_backward(const Problem& p, const BackwardArgs& a) {
  switch (p.head_dim) {
    case 32: return launch_dtype<32>(p, a);
    case 64: return launch_dtype<64>(p, a);
    case 96: return launch_dtype<96>(p, a);
    case 256: return launch_dtype<256>(p, a);
    default: return launch_dtype<128>(p, a);
  }
}

}  // namespace flashcheck::kernels
