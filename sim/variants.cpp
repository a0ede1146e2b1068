#include "sim/variants.hpp"

#include <stdexcept>

namespace flashcheck::sim {
namespace {

// PyTorch's kernel<Traits<traits, false, false, cutlass::bfloat16_t, Flash_kernel_traits<base,
// ...>>, Is_dropout, Is_causal, Is_local, Has_alibi, Is_even_MN, Is_even_K, ...tail> (bf16, no
// dropout, window or ALiBi; d divides the head dim, so Is_even_K): frames for none / causal,
// tiles dividing N or not (reports/fidelity/torch_sass).
std::vector<StackFrame> torch_frames(const std::string& kernel, const std::string& traits, const std::string& base,
                                     const std::string& tail, int64_t plain, int64_t plain_uneven, int64_t causal,
                                     int64_t causal_uneven, int64_t plain_cold = 0, int64_t causal_cold = 0) {
  const std::string head = "pytorch_flash::" + kernel + "_kernel<" + traits +
                           ", false, false, cutlass::bfloat16_t, Flash_kernel_traits<" + base +
                           ", cutlass::bfloat16_t> >, false, ";
  const auto row = [&](int c, int e, int64_t bytes, int64_t cold) {
    return StackFrame{c, e, bytes, head + (c ? "true" : "false") + ", false, false, " + (e ? "true" : "false") +
                                       ", true" + tail + ">", cold};
  };
  return {row(0, 1, plain, plain_cold), row(0, 0, plain_uneven, 0), row(1, 1, causal, causal_cold),
          row(1, 0, causal_uneven, 0)};
}
// flash_fwd_kernel<Flash_fwd_kernel_traits<d, 128, Bc, 4, ...>, ..., Is_softcap, Return_softmax>;
// the cold parts of the even-tile frames from reports/fidelity/spillstudy/s24/torch_fwd_frame_slots_sm90.tsv.
std::vector<StackFrame> torch_fwd_frames(int d, int bc, int64_t plain, int64_t plain_uneven, int64_t causal,
                                         int64_t causal_uneven, int64_t plain_cold, int64_t causal_cold) {
  const std::string t = std::to_string(d) + ", 128, " + std::to_string(bc) + ", 4";
  return torch_frames("flash_fwd", "Flash_fwd_kernel_traits<" + t, t, ", false, false", plain, plain_uneven, causal,
                      causal_uneven, plain_cold, causal_cold);
}
// flash_bwd_dq_dk_dv_loop_seqk_parallel_kernel<Flash_bwd_kernel_traits<traits, ...>, ..., Is_softcap>.
std::vector<StackFrame> torch_bwd_frames(const std::string& traits, const std::string& base, int64_t plain,
                                         int64_t plain_uneven, int64_t causal, int64_t causal_uneven) {
  return torch_frames("flash_bwd_dq_dk_dv_loop_seqk_parallel", "Flash_bwd_kernel_traits<" + traits, base, ", false",
                      plain, plain_uneven, causal, causal_uneven);
}

// flashcheck's kernels: one instantiation for every mask and shape (the plain one, no score
// modification; the backward's with float32 dQ atomics), reports/fidelity/fc_sass.
std::vector<StackFrame> fc_frames(const std::string& kernel, const std::string& traits, const std::string& flags,
                                  int64_t bytes, int64_t cold = 0) {
  return {StackFrame{-1, -1, bytes,
                     "flashcheck::kernels::flash2::" + kernel + "<flashcheck::kernels::flash2::" + traits +
                         ", __nv_bfloat16, " + flags + ">", cold}};
}
// The cold part of flashcheck's d 128 forward frame, 44 of its 48 B, is not read off its SASS (no
// disassembler on the build machine) but off ncu's SM-side stores: 44.0 B per thread per CTA beyond
// O and LSE in each of reports/fidelity's ten d 128 rows (`flashcheck report` checks it there).
std::vector<StackFrame> fwd_frames(const std::string& traits, int64_t bytes, int64_t cold = 0) {
  return fc_frames("flash2_fwd_kernel", "Flash2FwdTraits<" + traits + ">", "false", bytes, cold);
}
std::vector<StackFrame> bwd_frames(const std::string& traits, int64_t bytes) {
  return fc_frames("flash2_bwd_dkdv_kernel", "Flash2BwdTraits<" + traits + ">", "true, false", bytes);
}

}  // namespace

const std::vector<KernelVariant>& kernel_variants() {
  using O = Launch::Order;
  static const std::vector<KernelVariant> v = {
      // flashcheck flash2_fwd (kernels/flash2_fwd.cu): Flash2FwdTraits<32 | 64, 64, 4 warps, 2, ...>
      // (Br 128, Bc 64, 2 CTAs/SM), <96 | 128, 128, 8 warps, 1, ...> (Br 128, Bc 128, 1 CTA/SM),
      // <256, 64, 8 warps, 1, ...> (Br 128, Bc 64, 1 CTA/SM); d 32 / 96 rows padded in shared
      // memory only (never loaded from HBM); grid (Q block, head, batch), Q blocks launched
      // heaviest first (qb = gridDim.x - 1 - blockIdx.x).
      {"flash2_fwd", Direction::fwd,
       {{32, 128, 64, 2, 4, fwd_frames("32, 64, 4, 2, 2, true, 2, false", 0)},
        {64, 128, 64, 2, 4, fwd_frames("64, 64, 4, 2, 2, true, 2, false", 0)},
        {96, 128, 128, 1, 8, fwd_frames("96, 128, 8, 1, 2, false, 1, false", 0)},
        {128, 128, 128, 1, 8, fwd_frames("128, 128, 8, 1, 2, false, 1, false", 48, 44)},
        {256, 128, 64, 1, 8, fwd_frames("256, 64, 8, 1, 2, false, 1, false", 0)}},
       {O::block_head_batch, true, 0, false, false}},
      // flashcheck flash2_bwd: dkdv kernel Flash2BwdTraits<D, 4 warps, D > 64 ? 32 : 64>: Bc 64 KV
      // rows, Br 64 (d 32, 64) / 32 (d 96, 128) streamed Q rows, 2 CTAs/SM; d 256 on sm_90
      // (the H200 this table models): <256, 8 warps, 64, 2, 16> (Bc 64, Br 64, two warps per
      // 16 KV rows, 209 KiB shared memory: 1 CTA/SM; sm_80 streams Br 32); grid (KV block,
      // KV head, batch); dQ by float32 atomics (dQaccum zeroed by a memset), then dq_convert.
      {"flash2_bwd", Direction::bwd,
       {{32, 64, 64, 2, 4, bwd_frames("32, 4, 64, 1, 0", 0)},
        {64, 64, 64, 2, 4, bwd_frames("64, 4, 64, 1, 0", 0)},
        {96, 32, 64, 2, 4, bwd_frames("96, 4, 32, 1, 0", 0)},
        {128, 32, 64, 2, 4, bwd_frames("128, 4, 32, 1, 0", 16)},
        {256, 64, 64, 1, 8, bwd_frames("256, 8, 64, 2, 16", 0)}},
       {O::block_head_batch, false, 0, true, false}},
      // PyTorch 2.11 flash_fwd_kernel, Flash_fwd_kernel_traits<64, 128, 128, 4> and
      // <128, 128, 64, 4>: Br 128, Bc 128 / 64, 2 CTAs/SM; grid (m_block, batch, head).
      {"torch_flash_fwd", Direction::fwd,
       {{64, 128, 128, 2, 4, torch_fwd_frames(64, 128, 112, 88, 136, 208, 88, 104)},
        {128, 128, 64, 2, 4, torch_fwd_frames(128, 64, 144, 64, 136, 376, 76, 72)}},
       {O::block_batch_head, false, 0, false, false}},
      // PyTorch 2.11 flash_bwd_dq_dk_dv_loop_seqk_parallel_kernel, Flash_bwd_kernel_traits<64,
      // 128, 128, 8, ...> and <128, 64, 128, 8, ...>: Br 128 / 64, Bc 128, 1 CTA/SM; grid
      // (n_block, batch, head); dQaccum float32 atomics, zeroed by the dot(dO, O) kernel.
      // FlashAttention's run_mha_bwd_hdim128 takes <128, 64, 128, 8, 2, 4, 2, false, false> when
      // max_smem_per_block >= 144 KB (A100, H100, H200), the kernel ncu names (reports/fidelity).
      {"torch_flash_bwd", Direction::bwd,
       {{64, 128, 128, 1, 8, torch_bwd_frames("64, 128, 128, 8, 4, 4, 4", "64, 128, 128, 8", 80, 48, 48, 56)},
        {128, 64, 128, 1, 8, torch_bwd_frames("128, 64, 128, 8, 2, 4, 2", "128, 64, 128, 8", 8, 8, 16, 16)}},
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

const StackFrame* KernelVariant::frame(const Problem& p) const {
  const KernelTile& t = tile(p);
  const MaskKind k = p.mask.kind;
  if (k != MaskKind::none && k != MaskKind::causal_top_left && k != MaskKind::causal_bottom_right) return nullptr;
  const int causal = k == MaskKind::none ? 0 : 1;
  const int even = p.seqlen_q % t.br == 0 && p.seqlen_k % t.bc == 0 ? 1 : 0;
  for (const StackFrame& f : t.frames)
    if ((f.causal < 0 || f.causal == causal) && (f.even < 0 || f.even == even)) return &f;
  return nullptr;
}

Launch KernelVariant::launch_for(const Problem& p) const {
  Launch l = launch;
  const KernelTile& t = tile(p);
  l.ctas_per_sm = t.ctas_per_sm;
  const StackFrame* f = frame(p);
  l.stack_bytes_per_cta = f ? f->bytes * 32 * t.warps : 0;
  l.cold_stack_bytes_per_cta = f ? f->cold_bytes * 32 * t.warps : 0;
  return l;
}

}  // namespace flashcheck::sim
