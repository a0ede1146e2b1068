#include "sim/hardware.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <stdexcept>

namespace flashcheck::sim {

double Hardware::matmul_flops(DType t) const {
  return t == DType::f64 ? matmul_flops_64 : t == DType::f32 ? matmul_flops_32 : matmul_flops_16;
}

// On-chip ceilings. CUDA C++ Programming Guide: shared memory has 32 banks of
// 4 bytes, each serving one access per clock (128 B / clock / SM, cc 8.0 and
// 9.0); "Arithmetic Instructions" table: 16 results / clock / SM of exp2 (and
// log2, rcp, sin, cos) on the special-function units, cc 8.0 and 9.0. Clocks:
// the ones the dense fp16 peaks are quoted at, 312e12 / (108 SMs x 2048 FLOP/clk)
// = 1.41 GHz (A100), 989.4e12 / (132 x 4096) = 1.83 GHz (H100, H200). H100:
// 132 x 16 x 1.83 GHz = 3.9e12 exp/s, the "3.9 TFLOPS of special functions"
// of FlashAttention-3 (Shah et al. 2024, arXiv 2407.08608, Section 3.1) beside 989 TFLOPS of matmul.
constexpr double kSmemBytesPerClk = 128, kExpPerClk = 16;

double L2Reuse::miss(double x) const {
  if (knots.empty()) return x <= 1 ? 0 : 1;
  if (x <= knots.front().x) return 0;
  if (x > knots.back().x) return 1;
  for (size_t i = 1; i < knots.size(); ++i)
    if (x <= knots[i].x) {
      const Knot &a = knots[i - 1], &b = knots[i];
      return b.x > a.x ? a.miss + (b.miss - a.miss) * (x - a.x) / (b.x - a.x) : b.miss;
    }
  return 1;
}

// The H200's L2 near its edge, measured (reports/fidelity/l2probe: kernels/tools/l2_probe.cu under
// ncu, a stream every resident CTA reads wave after wave, 1 and 2 CTAs per SM, 4 and 8 waves):
// the mean miss share of the re-reads at each probed x, made monotone. `flashcheck report`
// recomputes it from the committed probe CSVs and fails if these knots depart from it.
// The cliff is L/2, not L (read lines sit in both partitions), and 10% wide, not sharp.
namespace {
const L2Reuse& gh100_l2_reuse() {
  static const L2Reuse r{{{0.94, 0}, {0.95, 0.012}, {0.96, 0.116}, {0.97, 0.18}, {0.99, 0.18}, {1.00, 0.217}, {1.10, 0.986}, {1.11, 1}}};
  return r;
}
// The H200's write-back of a written-once frame part, measured (kernels/tools/spill_probe.cu under
// ncu, reports/fidelity/spillstudy/s24/spillprobe_p5 and s25/spillprobe_p6): the isotonic fit that
// sim/fidelity/spill_aging.py computes from those launches (a ctest checks these knots against it).
// Hits, not only fills, age an untouched dirty line: it goes well before the lifetime's distinct
// bytes reach L/2, and a few per cent go at any footprint.
const L2Reuse& gh100_spill_aging() {
  static const L2Reuse r{{{0.141, 0.013}, {0.254, 0.04}, {0.334, 0.064}, {0.478, 0.083}, {0.536, 0.104}, {0.699, 0.121}, {0.728, 0.139}, {0.797, 0.343}, {0.859, 0.351}, {0.922, 0.653}, {0.98, 0.654}, {1.129, 0.946}, {1.655, 1}}};
  return r;
}
}  // namespace

const std::vector<Hardware>& hardware_presets() {
  // The L2 reuse curve is measured on the H200; the H100 is the same GH100 die and L2 design
  // (assumed alike, not measured); the A100 keeps LRU's cliff.
  static const std::vector<Hardware> presets = {
      // NVIDIA A100 Tensor Core GPU datasheet (2021), A100 80GB SXM column:
      // GPU memory bandwidth 2,039 GB/s; FP16/BF16 tensor 312 TFLOPS (dense);
      // TF32 tensor 156 TFLOPS; FP64 tensor 19.5 TFLOPS; FP32 19.5 TFLOPS.
      // NVIDIA A100 architecture whitepaper: 108 SMs, 192 KB combined L1 /
      // shared memory per SM. CUDA C++ Programming Guide, "Technical
      // Specifications per Compute Capability", 8.0: at most 163 KB of shared
      // memory per thread block.
      // A100 whitepaper: 40 MB L2.
      {"A100", 2039e9, 312e12, 156e12, 19.5e12, 19.5e12, 108, 192 * 1024, 163 * 1024, 40 * 1000 * 1000,
       "A100 80GB SXM datasheet; A100 whitepaper; CUDA guide cc 8.0", kSmemBytesPerClk * 108 * 1.41e9,
       kExpPerClk * 108 * 1.41e9, L2Reuse{}, L2Reuse{}},
      // NVIDIA H100 Tensor Core GPU datasheet, H100 SXM column: GPU memory
      // bandwidth 3.35 TB/s; FP16/BF16 tensor 1,979 TFLOPS with sparsity =
      // 989.4 dense; TF32 tensor 989 sparse = 494.7 dense; FP64 tensor 67
      // TFLOPS; FP32 67 TFLOPS. NVIDIA H100 architecture whitepaper: 132 SMs
      // (SXM5), 256 KB combined L1 / shared memory per SM. CUDA C++
      // Programming Guide, compute capability 9.0: at most 227 KB of shared
      // memory per thread block.
      // H100 whitepaper: 50 MB L2 (SXM5).
      {"H100", 3.35e12, 989.4e12, 494.7e12, 67e12, 67e12, 132, 256 * 1024, 227 * 1024, 50 * 1000 * 1000,
       "H100 SXM datasheet; H100 whitepaper; CUDA guide cc 9.0", kSmemBytesPerClk * 132 * 1.83e9,
       kExpPerClk * 132 * 1.83e9, gh100_l2_reuse(), gh100_spill_aging()},
      // NVIDIA H200 datasheet: 4.8 TB/s HBM3e, the H100's compute (same
      // GH100, 132 SMs). L2: 62914560 B (60 MiB), as the H200 we measure on
      // reports it (cudaDeviceProp::l2CacheSize, reports/fidelity/device.txt).
      {"H200", 4.8e12, 989.4e12, 494.7e12, 67e12, 67e12, 132, 256 * 1024, 227 * 1024, 62914560,
       "H200 datasheet; H100 whitepaper; CUDA guide cc 9.0; L2 as the device reports it",
       kSmemBytesPerClk * 132 * 1.83e9, kExpPerClk * 132 * 1.83e9, gh100_l2_reuse(), gh100_spill_aging()},
  };
  return presets;
}

const Hardware& find_preset(const std::string& name) {
  std::string want = name;
  std::transform(want.begin(), want.end(), want.begin(), [](unsigned char c) { return std::toupper(c); });
  for (const Hardware& h : hardware_presets())
    if (h.name == want) return h;
  throw std::invalid_argument("unknown hardware preset '" + name + "' (expected a100, h100 or h200)");
}

const Hardware& preset_of_device(const std::string& device) {
  std::string up = device;
  std::transform(up.begin(), up.end(), up.begin(), [](unsigned char c) { return std::toupper(c); });
  const auto word = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; };
  for (const Hardware& h : hardware_presets())
    for (size_t at = up.find(h.name); at != std::string::npos; at = up.find(h.name, at + 1)) {
      const size_t end = at + h.name.size();
      if ((at == 0 || !word(up[at - 1])) && (end == up.size() || !word(up[end]))) return h;
    }
  throw std::invalid_argument("no hardware preset for the device '" + device + "' (presets: a100, h100, h200)");
}

Roofline roofline(const RunResult& r, const Hardware& hw) {
  Roofline out;
  out.memory_s = static_cast<double>(r.total_bytes()) / hw.hbm_bytes_per_s;
  out.compute_s = static_cast<double>(r.matmul_flops) / hw.matmul_flops(r.problem.dtype) +
                  static_cast<double>(r.other_flops) / hw.vector_flops;
  if (r.work_units > 0 && hw.sm_count > 0) {
    const double waves = std::ceil(static_cast<double>(r.work_units) / static_cast<double>(hw.sm_count));
    out.utilisation = static_cast<double>(r.work_units) / (waves * static_cast<double>(hw.sm_count));
  }
  if (hw.smem_bytes_per_s > 0)
    out.smem_s = static_cast<double>(r.smem_read_bytes + r.smem_write_bytes) / hw.smem_bytes_per_s;
  if (hw.exp_per_s > 0) out.exp_s = static_cast<double>(r.exps) / hw.exp_per_s;
  out.time_s = std::max({out.memory_s, out.compute_s, out.smem_s, out.exp_s}) / out.utilisation;
  return out;
}

const char* Roofline::bound() const {
  const double m = std::max({memory_s, compute_s, smem_s, exp_s});
  return m == memory_s ? "memory" : m == compute_s ? "compute" : m == smem_s ? "smem" : "exp";
}

}  // namespace flashcheck::sim
