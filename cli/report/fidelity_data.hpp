// The fidelity report's measurements (reports/fidelity, sim/fidelity/*.sh): the
// grid's cases and what Nsight Compute counted for each (case, kernel), read from
// the measurement folder, its repeats (reps/*) and its write-back passes
// (writeback/*). Parsing only; fidelity_judge.hpp compares them with the model.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace flashcheck::report {

struct FidelityCase {
  std::string id, mask, half;  // half: "fit" or "held"
  int64_t b = 0, hq = 0, hkv = 0, n = 0, d = 0;
};

// One sample of one (case, kernel), in bytes (a backward sums its kernels).
struct Measured {
  double dram_read = 0, dram_write = 0, l2_read = 0, lts_read = 0, l2_write = 0, l2_red = 0, fabric = 0;
};
using Samples = std::vector<Measured>;
using CaseKernel = std::pair<std::string, std::string>;  // (case id, kernel family)

// A measurement pass beside the main one: its folder name, device.txt lines and cases.
struct FidelityPass {
  std::string name;
  std::vector<std::string> device;
  std::vector<std::string> case_ids;
};

// One launch of the L2 probe (l2probe/<pass>/: kernels/tools/l2_probe.cu under ncu,
// sim/fidelity/ncu_l2_probe.sh): a stream read (and, mode "pair", reduced into) by every CTA,
// `waves` waves of per_sm CTAs per SM.
struct ProbePoint {
  std::string pass, mode;
  int64_t per_sm = 0, waves = 0;
  // The stream's footprint as the GPU model counts it (read bytes + reduced bytes / 2) over L/2,
  // and the share of the waves' re-reads DRAM served: (DRAM reads - once) / ((waves - 1) x once).
  double x = 0, miss = 0;
};

// One launch of the spill probe (spillprobe/<pass>/: kernels/tools/spill_probe.cu under ncu,
// sim/fidelity/ncu_spill_probe.sh): grid CTAs of `threads` threads, ctas_per_sm per SM, each thread
// with a frame_bytes stack frame it keeps writing while the CTAs stream `fill` bytes once.
struct SpillPoint {
  std::string pass, sweep;
  int64_t frame_bytes = 0, threads = 0, ctas_per_sm = 0, waves = 0, grid = 0, sms = 0;
  double fill_over_l2 = 0;
  double in_kernel_writes = 0, end_writes = 0;  // the launch's DRAM writes, the drain's after it
};

struct FidelityData {
  std::vector<FidelityCase> cases;         // <dir>/cases.txt, in the drivers' order
  std::map<CaseKernel, Samples> samples;   // <dir> and each reps/* folder
  std::map<CaseKernel, std::vector<double>> eventual;  // eventual DRAM writes, one per writeback/* pass
  // flashcheck's write-back passes: DRAM writes of each drain that followed another drain with no
  // kernel between (the method's floor; a process's first drain, after the set-up, is left out).
  std::vector<double> idle_drain_writes;
  std::vector<double> kernel_drain_writes;  // the same passes: each drain right after a timed call's kernels
  std::vector<std::string> device;         // <dir>/device.txt (none if absent)
  std::vector<FidelityPass> reps, writeback;
  std::vector<ProbePoint> probe;       // l2probe/*/, every sweep's launches
  std::vector<FidelityPass> probe_passes;
  std::vector<SpillPoint> spill;             // spillprobe/*/
  std::vector<FidelityPass> spill_passes;
};

// Throws std::runtime_error naming the file when a needed file is missing or a
// CSV lacks a metric the judge needs.
FidelityData read_fidelity(const std::string& dir);

}  // namespace flashcheck::report
