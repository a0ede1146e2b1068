// Hardware descriptions for the roofline estimate, with built-in presets
// (figures from the vendors' datasheets, cited in hardware.cpp) and custom
// values.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "reference/dtype.hpp"
#include "sim/analysis.hpp"

namespace flashcheck::sim {

// The share of a wave's re-reads that miss L2, as a function of x = the reuse footprint (the
// wave's and the one before's, sim/README.md "GPU model") over the effective L2 (L/2):
// piecewise linear through `knots` (x ascending, miss non-decreasing), 0 at and below the
// first x, 1 above the last. No knots: LRU's cliff, miss 0 up to x = 1 and 1 above it.
struct L2Reuse {
  struct Knot {
    double x, miss;
  };
  std::vector<Knot> knots;
  double miss(double x) const;
};

struct Hardware {
  std::string name;
  double hbm_bytes_per_s = 0;
  double matmul_flops_16 = 0;   // dense fp16/bf16 tensor-core peak
  double matmul_flops_32 = 0;   // dense tf32 tensor-core peak (f32 problems)
  double matmul_flops_64 = 0;   // dense fp64 tensor-core peak
  double vector_flops = 0;      // fp32 non-tensor (CUDA core) peak, for softmax etc.
  int64_t sm_count = 0;
  int64_t sram_per_sm_bytes = 0;  // combined L1 / shared memory per SM
  int64_t smem_per_block_bytes = 0;  // largest shared memory one thread block may use: the default M
  int64_t l2_bytes = 0;              // shared L2 (0: no L2 level in the GPU model)
  std::string source;
  // On-chip ceilings (0: not applied): shared-memory bandwidth of all SMs and
  // exponentials per second of the special-function units.
  double smem_bytes_per_s = 0;
  double exp_per_s = 0;
  L2Reuse l2_reuse;  // how re-reads miss near the L2's edge (empty: LRU's cliff)
  // Spills: the share of a written-once stack-frame part (a CTA's prologue spills) that L2 writes
  // back before the slot's next CTA overwrites it, against the distinct bytes all resident CTAs
  // touch during that CTA's lifetime over L/2 (the same piecewise-linear form; empty: LRU's cliff).
  L2Reuse spill_aging;

  double matmul_flops(DType t) const;
};

const std::vector<Hardware>& hardware_presets();
// "a100" / "A100", "h100", "h200"; throws std::invalid_argument listing the presets.
const Hardware& find_preset(const std::string& name);
// The preset of the GPU a measurement names ("NVIDIA H200 (sm_90, 132 SMs)" -> H200: a preset
// name as a whole word); throws std::invalid_argument when none is in it.
const Hardware& preset_of_device(const std::string& device);

struct Roofline {
  double memory_s = 0;   // HBM bytes / bandwidth
  double compute_s = 0;  // matmul / tensor peak + other / vector peak
  double utilisation = 1;  // work units / (waves * SMs): wave quantisation
  double smem_s = 0;       // shared-memory bytes / shared-memory bandwidth
  double exp_s = 0;        // exponentials / special-function throughput
  double time_s = 0;       // max(memory, compute, smem, exp) / utilisation
  bool memory_bound() const { return memory_s >= compute_s; }
  // The highest of the four ceilings: "memory", "compute", "smem" or "exp".
  const char* bound() const;
};
Roofline roofline(const RunResult& r, const Hardware& hw);

}  // namespace flashcheck::sim
