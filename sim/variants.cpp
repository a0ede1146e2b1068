#include "sim/variants.hpp"

#include <stdexcept>

namespace flashcheck::sim {

const std::vector<KernelVariant>& kernel_variants() {
  using O = Launch::Order;
  static const std::vector<KernelVariant> v = {
      // flashcheck flash2_fwd (kernels/flash2_fwd.cu): Flash2FwdTraits<32 | 64, 64, 4 warps, 2, ...>
      // (Br 128, Bc 64, 2 CTAs/SM), <96 | 128, 128, 8 warps, 1, ...> (Br 128, Bc 128, 1 CTA/SM),
      // <256, 64, 8 warps, 1, ...> (Br 128, Bc 64, 1 CTA/SM); d 32 / 96 rows padded in shared
      // memory only (never loaded from HBM); grid (Q block, head, batch), Q blocks launched
      // heaviest first (qb = gridDim.x - 1 - blockIdx.x).
      {"flash2_fwd", Direction::fwd,
       {{32, 128, 64, 2, 4}, {64, 128, 64, 2, 4}, {96, 128, 128, 1, 8}, {128, 128, 128, 1, 8}, {256, 128, 64, 1, 8}},
       {O::block_head_batch, true, 0, false, false}},
      // flashcheck flash2_bwd: dkdv kernel Flash2BwdTraits<D, 4 warps, D > 64 ? 32 : 64>: Bc 64 KV
      // rows, Br 64 (d 32, 64) / 32 (d 96, 128) streamed Q rows, 2 CTAs/SM; d 256 on sm_90
      // (the H200 this table models): <256, 8 warps, 64, 2, 16> (Bc 64, Br 64, two warps per
      // 16 KV rows, 209 KiB shared memory: 1 CTA/SM; sm_80 streams Br 32); grid (KV block,
      // KV head, batch); dQ by float32 atomics (dQaccum zeroed by a memset), then dq_convert.
      {"flash2_bwd", Direction::bwd,
       {{32, 64, 64, 2, 4}, {64, 64, 64, 2, 4}, {96, 32, 64, 2, 4}, {128, 32, 64, 2, 4}, {256, 64, 64, 1, 8}},
       {O::block_head_batch, false, 0, true, false}},
      // PyTorch 2.11 flash_fwd_kernel, Flash_fwd_kernel_traits<64, 128, 128, 4> and
      // <128, 128, 64, 4>: Br 128, Bc 128 / 64, 2 CTAs/SM; grid (m_block, batch, head).
      {"torch_flash_fwd", Direction::fwd, {{64, 128, 128, 2, 4}, {128, 128, 64, 2, 4}},
       {O::block_batch_head, false, 0, false, false}},
      // PyTorch 2.11 flash_bwd_dq_dk_dv_loop_seqk_parallel_kernel, Flash_bwd_kernel_traits<64,
      // 128, 128, 8, ...> and <128, 64, 128, 8, ...>: Br 128 / 64, Bc 128, 1 CTA/SM; grid
      // (n_block, batch, head); dQaccum float32 atomics, zeroed by the dot(dO, O) kernel.
      // FlashAttention's run_mha_bwd_hdim128 takes <128, 64, 128, 8, 2, 4, 2, false, false> when
      // max_smem_per_block >= 144 KB (A100, H100, H200), the kernel ncu names (reports/fidelity).
      {"torch_flash_bwd", Direction::bwd, {{64, 128, 128, 1, 8}, {128, 64, 128, 1, 8}},
       {O::block_batch_head, false, 0, true, true}},
  };
  return v;
}

const KernelVariant& find_kernel_variant(const std::string& name) {
  std::string names;
  for (const KernelVariant& k : kernel_variants()) {
    if (k.name == name) return k;
    names += (names.empty() ? "" : ", ") + k.name;
  }
  throw std::invalid_argument("unknown variant '" + name + "' (known: " + names + ")");
}

const KernelTile& KernelVariant::tile(const Problem& p) const {
  std::string dims;
  for (const KernelTile& t : tiles) {
    if (t.head_dim == p.head_dim) return t;
    dims += (dims.empty() ? "" : ", ") + std::to_string(t.head_dim);
  }
  throw std::invalid_argument(name + " instantiates head dims " + dims + ", not " + std::to_string(p.head_dim));
}

ScheduleDesc KernelVariant::schedule(const Problem& p) const {
  const KernelTile& t = tile(p);
  ScheduleDesc s = describe(ScheduleKind::flash2, direction, t.br, t.bc);
  s.warps = t.warps;
  return s;
}

Launch KernelVariant::launch_for(const Problem& p) const {
  Launch l = launch;
  l.ctas_per_sm = tile(p).ctas_per_sm;
  return l;
}

}  // namespace flashcheck::sim
