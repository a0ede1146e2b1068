// The launch geometry of the kernels the GPU model is validated on:
// flashcheck's own flash2_fwd / flash2_bwd and PyTorch's FlashAttention-2
// (SDPA flash backend). Tiles and warps are the kernels' traits
// (kernels/flash2_fwd.cu, kernels/flash2_bwd.cu; PyTorch's
// Flash_fwd/bwd_kernel_traits as ncu names them in reports/fidelity);
// CTAs per SM are ncu's launch__occupancy_limit_* for those kernels. The CUDA
// registry is not linked into CPU builds, so this table restates flashcheck's
// tiles; properties/sim checks them against kernels::registry() when CUDA is on.
#pragma once
#include <string>
#include <vector>

#include "reference/problem.hpp"
#include "sim/gpu_model.hpp"
#include "sim/schedule_desc.hpp"

namespace flashcheck::sim {

// The stack frame per thread of the instantiation a problem selects, read off the kernel's sm_90
// SASS (`cuobjdump -res-usage`, sim/fidelity/stack_frames.sh; bf16, the fidelity grid's dtype):
// for masks none (causal 0) or causal (1), tiles dividing Nq and Nk or not (even 1 / 0); -1
// matches either. `sass` names the kernel as the committed listings under reports/fidelity/*_sass/
// print it; `flashcheck report` checks every row against them.
struct StackFrame {
  int causal, even;
  int64_t bytes;
  std::string sass;
  // Of `bytes`, those stored only outside every loop (written once per CTA): read off the SASS by
  // sim/fidelity/sass_frame_slots.py (reports/fidelity/spillstudy/s24); 0: not read off.
  int64_t cold_bytes = 0;
};

// One instantiated head dim: its tile (Br, Bc), CTAs per SM, warps per CTA and stack frames.
struct KernelTile {
  int64_t head_dim, br, bc, ctas_per_sm, warps;
  std::vector<StackFrame> frames;  // none: not read off (the frame floor is then 0)
};

struct KernelVariant {
  std::string name;
  Direction direction;
  std::vector<KernelTile> tiles;  // one per head dim the kernel instantiates
  Launch launch;                  // ctas_per_sm filled per head dim

  // Throws std::invalid_argument naming the instantiated head dims for any other.
  const KernelTile& tile(const Problem& p) const;

  ScheduleDesc schedule(const Problem& p) const;
  Launch launch_for(const Problem& p) const;
  // The frame row a problem selects (mask none or causal), or nullptr.
  const StackFrame* frame(const Problem& p) const;
};

const std::vector<KernelVariant>& kernel_variants();
// Throws std::invalid_argument listing the names.
const KernelVariant& find_kernel_variant(const std::string& name);

}  // namespace flashcheck::sim
