// The GPU memory model beside the paper's two-level count: per-CTA SRAM, a
// shared L2 of capacity L, DRAM. The two-level count (RunResult) is what the
// SMs exchange with L2 (ncu: l1tex__m_xbar2l1tex_read_bytes); this model
// predicts what reaches DRAM (dram__bytes_read / _write). sim/README.md, "GPU
// model", derives it; reports/fidelity compares it with ncu on an H200.
#pragma once
#include <cstdint>
#include <string>

#include "sim/analysis.hpp"
#include "sim/hardware.hpp"

namespace flashcheck::sim {

// How a kernel's thread blocks (CTAs) reach the SMs.
struct Launch {
  // Grid order, fastest index first: (block, head, batch) as flashcheck's
  // kernels launch, or (block, batch, head) as FlashAttention-2 does.
  enum class Order { block_head_batch, block_batch_head };
  Order order = Order::block_head_batch;
  bool heaviest_first = false;  // causal: the longest Q blocks launch first
  int64_t ctas_per_sm = 0;      // 0: from shared memory (hardware SRAM per SM / kernel's)
  // Backward only: dQ summed with float32 atomics in L2 (FlashAttention-2's
  // dQaccum), then converted by a last kernel; clear_in_preprocess: the D
  // kernel zeroes dQaccum (PyTorch) instead of a memset (flashcheck).
  bool dq_atomic_f32 = false;
  bool clear_in_preprocess = false;
  // Weight of a stored or atomically reduced line against the effective L2 (L/2): such lines sit
  // at their home slice only (0.5); 1 counts them like read lines, the rule before (reports/fidelity
  // shows both).
  double written_line_weight = 0.5;
  // Backward with heads no longer than a wave: a wave's CTAs that continue a head start as the
  // previous wave's shortest CTA ends and stream from their diagonal, so their re-reads come
  // sooner than a whole wave later (gpu_model.cpp, Continuation); false: every wave synchronous.
  bool continued_heads_overlap = true;
  // The main kernel's stack frames per CTA (threads x bytes per thread; spills live there): the
  // frames of the CTAs resident at the end are dirty then and reach DRAM after the kernel.
  int64_t stack_bytes_per_cta = 0;
  // Its part stored only outside every loop (prologue spills, written once per CTA; sass_frame_slots.py):
  // each later CTA on a slot rewrites it, so L2 writes it back in between with the aging share.
  int64_t cold_stack_bytes_per_cta = 0;
};

struct GpuTraffic {
  int64_t dram_read_bytes = 0;
  int64_t dram_write_bytes = 0;    // write-backs of dirty lines evicted during the kernel (what ncu counts)
  int64_t l2_dirty_end_bytes = 0;  // written lines still dirty in L2 when the kernel ends (not in dram_write_bytes)
  int64_t stack_dirty_end_bytes = 0;  // stack frames (spills) of the CTAs resident at the end: a floor, dirty then
  // flashcheck's backward zeroes dQaccum with a memset before its kernels: the memset's zeros still
  // dirty at its end (its last L/2) are written back once, during the backward or after it.
  int64_t memset_dirty_bytes = 0;
  int64_t spill_write_bytes = 0;  // cold frame parts written back during the kernel (part of dram_write_bytes)
  double spill_share = 0;         // their mean aging share over a head's CTAs (Hardware::spill_aging)
  int64_t sm_read_bytes = 0;  // the two-level count's reads (L2 requests)
  int64_t sm_write_bytes = 0; // SM-side stores (float32 dQ atomics are reductions, not stores)
  int64_t l2_reduction_bytes = 0;  // float32 dQ atomics (ncu lts__t_sectors_srcunit_tex_op_red)
  double l2_hit_rate = 0;     // 1 - DRAM reads / SM-side reads
  int64_t concurrent_ctas = 0;
  int64_t model_steps = 0;           // class sums the model evaluated (its cost; independent of B x H)
  int64_t simulated_ctas = 0;        // CTAs of the main kernel it stands for (units x trip count)
  double wave_footprint_bytes = 0;  // distinct bytes the average wave of the main kernel touches
  double l2_effective_bytes = 0;    // what the reuse decision compares it with (half the L2)
  double fitting_wave_share = 0;  // the waves' mean hit share of their re-reads (1 - the reuse curve's miss share)
  bool reuse = false;         // no wave misses: all K/V (fwd), Q/dO (bwd) re-reads hit
  bool modelled = false;      // false: no L2 model for this schedule, DRAM = the two-level count
};

// L2 = 0 turns the level off (DRAM = the two-level count). walk_every_wave: evaluate every
// wave one by one (O(waves)) instead of by classes: the reference the properties compare with.
GpuTraffic gpu_traffic(const RunResult& r, const Hardware& hw, const Launch& launch, bool walk_every_wave = false);

}  // namespace flashcheck::sim
