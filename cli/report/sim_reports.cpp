// The IO, memory, recomputation, roofline and block-size reports (see
// sim_reports.hpp). Every number comes from sim::simulate in counting mode.
#include "cli/report/sim_reports.hpp"

#include <algorithm>
#include <cmath>
#include <optional>

#include "sim/hardware.hpp"
#include "sim/plan.hpp"
#include "sim/simulate.hpp"
#include "sim/variants.hpp"

namespace flashcheck::report {
namespace {

using namespace flashcheck::sim;

constexpr ScheduleKind kSchedules[] = {ScheduleKind::standard, ScheduleKind::flash1, ScheduleKind::flash2};
constexpr Direction kDirections[] = {Direction::fwd, Direction::bwd};

// GPT-2 medium attention, the FlashAttention paper's Figure 2 setting.
Problem gpt2_medium() {
  Problem p;
  p.batch = 64;
  p.heads_q = p.heads_kv = 16;
  p.seqlen_q = p.seqlen_k = 1024;
  p.head_dim = 64;
  p.dtype = DType::f16;
  return p;
}

Problem one_head(int64_t n, int64_t d) {
  Problem p;
  p.seqlen_q = p.seqlen_k = n;
  p.head_dim = d;
  p.dtype = DType::f16;
  return p;
}

std::string label(ScheduleKind k, Direction d) {
  return std::string(schedule_name(k)) + "_" + direction_name(d);
}

// The simulated run, or nothing when M cannot hold the schedule's tiles.
std::optional<RunResult> try_simulate(const Problem& p, ScheduleKind k, Direction d, int64_t m,
                                      BlockOverride b = {}, BlockRule rule = BlockRule::own) {
  try {
    return simulate(p, k, d, m, b, rule);
  } catch (const std::invalid_argument&) {
    return std::nullopt;
  }
}

const Hardware& preset(const char* name) { return find_preset(name); }

std::string gb(double bytes) { return num(bytes / 1e9); }

}  // namespace

std::string io_vs_sram(const Writer& w) {
  const int64_t n = 4096;
  std::string md = std::string(kReportHeader) +
                   "# HBM traffic versus SRAM size\n\n"
                   "One head, N = " + std::to_string(n) +
                   ", fp16 inputs (on-chip accumulators in float32, so M holds M/4 elements), "
                   "no mask; every schedule with the paper's block rule (everything on chip counted "
                   "against M, so the blocks grow with M; flash2's GPU rule would stop growing "
                   "once the accumulators fill the registers). Traffic in elements "
                   "(reads + writes). The dashed line is N²d²/M with M in elements; the "
                   "vertical line marks M = d² elements, where Saha & Ye (2024) place the "
                   "crossing of N²d²/M and N²d/√M: above it FlashAttention's traffic is optimal. "
                   "`square_fwd` is their square tiling (B x B tiles over the head dimension too, "
                   "B = ⌊√(M/4)⌋ elements, S in HBM): Θ(N²d/√M) (dotted line), below flash2 left of "
                   "M = d² and above it to the right.\n\n";
  for (int64_t d : {int64_t(64), int64_t(128)}) {
    const Problem p = one_head(n, d);
    Table t;
    t.columns = {"sram_kib"};
    for (auto k : kSchedules)
      for (auto dir : kDirections) t.columns.push_back(label(k, dir));
    t.columns.push_back(label(ScheduleKind::square, Direction::fwd));
    t.columns.push_back("n2d2_over_m");
    t.columns.push_back("n2d_over_sqrt_m");
    for (double e = 10; e <= 23.01; e += 0.5) {  // 1 KiB .. 8 MiB, half-octave steps
      const auto m = static_cast<int64_t>(std::llround(std::pow(2.0, e)));
      std::vector<std::string> row{num(m / 1024.0)};
      for (auto k : kSchedules)
        for (auto dir : kDirections) {
          auto r = try_simulate(p, k, dir, m, {}, BlockRule::paper);
          row.push_back(r ? integer(r->total_elems()) : "-");
        }
      const auto sq = try_simulate(p, ScheduleKind::square, Direction::fwd, m);
      row.push_back(sq ? integer(sq->total_elems()) : "-");
      const double m_el = static_cast<double>(sram_elems(m, p.dtype));
      row.push_back(num(double(n) * n * d * d / m_el));
      row.push_back(num(double(n) * n * d / std::sqrt(m_el)));
      t.add(row);
    }
    const std::string name = "io_vs_sram_d" + std::to_string(d);
    w.csv("io/" + name + ".csv", t);
    const double d2_kib = double(d) * d * 4 / 1024.0;  // d² elements of float32
    std::string gp =
        "set datafile missing '-'\nset logscale xy\nset grid\n"
        "set title 'HBM traffic vs SRAM size (N = " + std::to_string(n) + ", d = " + std::to_string(d) +
        ", fp16, one head)'\n"
        "set xlabel 'SRAM size M (KiB)'\nset ylabel 'HBM traffic (elements read + written)'\n"
        "set key outside right top\n"
        "set arrow from " + num(d2_kib) + ", graph 0 to " + num(d2_kib) +
        ", graph 1 nohead dt 3 lc rgb 'gray40'\n"
        "set label 'M = d²' at " + num(d2_kib) + ", graph 0.95 offset 0.5,0 tc rgb 'gray30'\n"
        "plot for [i=2:8] '" + name + ".csv' using 1:i with linespoints pt 7 ps 0.5 lw 2, \\\n"
        "     '" + name + ".csv' using 1:9 with lines dt 2 lw 2 lc rgb 'black' title 'N²d²/M', \\\n"
        "     '" + name + ".csv' using 1:10 with lines dt 3 lw 2 lc rgb 'gray30' title 'N²d/√M'\n";
    w.plot("io/" + name, gp);
    md += "## d = " + std::to_string(d) + "\n\n![](" + name + ".svg)\n\n" + t.markdown() + "\n";
  }
  w.text("io/README.md", md);
  return "- [HBM traffic versus SRAM size](io/README.md): standard attention stays at Θ(N²) "
         "whatever M; FlashAttention falls as 1/M down to its single-pass floor; Saha & Ye's "
         "square tiling beats it below M = d².\n";
}

std::string seqlen_scaling(const Writer& w) {
  const Hardware& h100 = preset("h100");
  const int64_t m = h100.smem_per_block_bytes;
  std::string md = std::string(kReportHeader) +
                   "# Traffic and extra memory versus sequence length\n\n"
                   "Batch 1, 16 heads, fp16, no mask, M = " + std::to_string(m / 1024) +
                   " KiB (the H100 preset's shared memory per thread block). Extra memory is HBM "
                   "beyond the inputs and outputs: S and P for standard attention, LSE (or l, m) "
                   "for FlashAttention. Standard attention's traffic and extra memory grow as N²; "
                   "FlashAttention's extra memory grows as N. Traffic depends on M / d²: this M "
                   "holds " + num(double(sram_elems(m, DType::f16)) / (64.0 * 64.0)) + " d² float32 "
                   "elements at d = 64 but only " +
                   num(double(sram_elems(m, DType::f16)) / (128.0 * 128.0)) +
                   " d² at d = 128, where the two-level count (no L2 level) gives flash2 little "
                   "traffic advantage; its extra memory stays Θ(N).\n\n";
  Table t;
  t.columns = {"head_dim", "seqlen", "standard_fwd_bytes", "flash2_fwd_bytes", "standard_bwd_bytes",
               "flash2_bwd_bytes", "standard_extra_bytes", "flash2_extra_bytes"};
  Table mem;
  mem.columns = {"seqlen", "head_dim", "inputs+outputs (MiB)", "standard extra (MiB)",
                 "flash2 extra (MiB)", "ratio"};
  for (int64_t d : {int64_t(64), int64_t(128)})
    for (int64_t n = 512; n <= 131072; n *= 2) {
      Problem p = one_head(n, d);
      p.heads_q = p.heads_kv = 16;
      const RunResult sf = simulate(p, ScheduleKind::standard, Direction::fwd, m);
      const RunResult ff = simulate(p, ScheduleKind::flash2, Direction::fwd, m);
      const RunResult sb = simulate(p, ScheduleKind::standard, Direction::bwd, m);
      const RunResult fb = simulate(p, ScheduleKind::flash2, Direction::bwd, m);
      const int64_t s_extra = std::max(sf.extra_hbm_bytes(), sb.extra_hbm_bytes());
      const int64_t f_extra = std::max(ff.extra_hbm_bytes(), fb.extra_hbm_bytes());
      t.add({integer(d), integer(n), integer(sf.total_bytes()), integer(ff.total_bytes()),
             integer(sb.total_bytes()), integer(fb.total_bytes()), integer(s_extra), integer(f_extra)});
      const double io = double(4 * p.q_elems() + 4 * p.kv_elems()) * dtype_bytes(p.dtype);  // Q,K,V,O + grads
      const double mib = 1024.0 * 1024.0;
      mem.add({integer(n), integer(d), num(io / mib), num(s_extra / mib), num(f_extra / mib),
               num(double(s_extra) / f_extra)});
    }
  w.csv("memory/seqlen.csv", t);
  w.csv("memory/footprint.csv", mem);
  for (int64_t d : {int64_t(64), int64_t(128)}) {
    const std::string ds = std::to_string(d);
    const std::string filter = "($1==" + ds + " ? $2 : 1/0)";
    w.plot("memory/seqlen_d" + ds,
           "set logscale xy\nset grid\nset format y '%.0e'\nset xrange [400:170000]\n"
           "set title 'HBM traffic and extra memory vs sequence length (d = " + ds + ", 16 heads, fp16)'\n"
           "set xlabel 'sequence length N'\nset ylabel 'bytes'\nset key outside right top\n"
           "plot for [i=3:8] 'seqlen.csv' using " + filter + ":i with linespoints pt 7 ps 0.6 lw 2\n");
    md += "![](seqlen_d" + ds + ".svg)\n\n";
  }
  md += "## Memory for a given sequence length\n\nExtra HBM of one forward + backward (the larger "
        "of the two), batch 1, 16 heads, fp16; inputs + outputs counts Q, K, V, O, dO, dQ, dK, dV.\n\n" +
        mem.markdown();
  w.text("memory/README.md", md);
  return "- [Traffic and extra memory versus sequence length](memory/README.md): standard "
         "attention's traffic and extra memory grow as N², FlashAttention's extra memory as N.\n";
}

std::string recomputation(const Writer& w) {
  const Problem p = gpt2_medium();
  std::string md = std::string(kReportHeader) +
                   "# Recomputation: storing P against recomputing it\n\n"
                   "GPT-2 medium attention (N 1024, d 64, 16 heads, batch 64, fp16), backward pass. "
                   "`standard` reads P (and writes dS) from HBM; `flash1` and `flash2` recompute P "
                   "from Q, K and the saved statistics: more FLOPs, far fewer bytes. M is each "
                   "preset's shared memory per thread block; time is the roofline estimate.\n\n";
  Table t;
  t.columns = {"preset", "schedule", "direction", "gflops", "hbm_gb", "extra_hbm_mb",
               "memory_ms", "compute_ms", "roofline_ms", "bound"};
  for (const Hardware& hw : hardware_presets())
    for (auto k : kSchedules)
      for (auto dir : kDirections) {
        const RunResult r = simulate(p, k, dir, hw.smem_per_block_bytes);
        const Roofline rl = roofline(r, hw);
        t.add({hw.name, schedule_name(k), direction_name(dir), num(r.flops() / 1e9),
               gb(double(r.total_bytes())), num(r.extra_hbm_bytes() / 1e6), num(rl.memory_s * 1e3),
               num(rl.compute_s * 1e3), num(rl.time_s * 1e3), rl.memory_bound() ? "memory" : "compute"});
      }
  w.csv("recompute/recompute.csv", t);
  // The backward side by side: FLOPs, bytes and time per schedule.
  Table plot;
  plot.columns = {"metric"};
  for (auto k : kSchedules) plot.columns.push_back(std::string(schedule_name(k)) + " bwd");
  std::vector<std::vector<std::string>> metric_rows = {{"GFLOPs"}, {"HBM GB"}};
  for (const Hardware& hw : hardware_presets()) metric_rows.push_back({hw.name + " roofline ms"});
  for (auto k : kSchedules) {
    size_t row = 0;
    const RunResult r0 = simulate(p, k, Direction::bwd, hardware_presets().front().smem_per_block_bytes);
    metric_rows[row++].push_back(num(r0.flops() / 1e9));
    metric_rows[row++].push_back(num(double(r0.total_bytes()) / 1e9));
    for (const Hardware& hw : hardware_presets())
      metric_rows[row++].push_back(
          num(roofline(simulate(p, k, Direction::bwd, hw.smem_per_block_bytes), hw).time_s * 1e3));
  }
  for (auto& r : metric_rows) plot.add(r);
  w.csv("recompute/recompute_plot.csv", plot);
  w.plot("recompute/recompute",
         "set style data histogram\nset style histogram clustered gap 1\nset style fill solid 0.8 border -1\n"
         "set logscale y\nset grid y\nset yrange [0.5:*]\nset key top right\n"
         "set title 'Backward at GPT-2 medium (fp16): recomputing P costs FLOPs, saves bytes and time'\n"
         "set ylabel 'GFLOPs / GB / ms (log scale)'\n"
         "plot for [i=2:" + std::to_string(plot.columns.size()) + "] 'recompute_plot.csv' using i:xtic(1)\n");
  md += "![](recompute.svg)\n\nGFLOPs and HBM GB are those at the A100 preset's M.\n\n" + t.markdown() +
        "\nThe paper's Figure 2 (A100, forward + backward): standard 66.6 GFLOPs, 40.3 GB, 41.7 ms; "
        "FlashAttention 75.2 GFLOPs, 4.4 GB, 7.3 ms.\n";
  w.text("recompute/README.md", md);
  return "- [Recomputation trade-off](recompute/README.md): the backward recomputes P, spending "
         "FLOPs to save HBM bytes, and wins on both presets.\n";
}

std::string intensity(const Writer& w) {
  const Problem p = gpt2_medium();
  std::string md = std::string(kReportHeader) +
                   "# Memory-bound or compute-bound\n\n"
                   "Arithmetic intensity (FLOPs per HBM byte) of each schedule at GPT-2 medium "
                   "(fp16), against each preset's machine balance (dense fp16 tensor-core peak / "
                   "HBM bandwidth). Below the balance a run is memory-bound.\n\n";
  Table t;
  t.columns = {"preset", "machine_balance", "schedule", "direction", "flops_per_byte", "verdict"};
  Table plot;  // one row per schedule and direction, one column per preset
  plot.columns = {"run"};
  std::string arrows;
  const char* colours[] = {"red", "blue", "dark-green", "orange"};
  size_t c = 0;
  for (const Hardware& hw : hardware_presets()) plot.columns.push_back(hw.name);
  for (auto k : kSchedules)
    for (auto dir : kDirections) plot.rows.push_back({label(k, dir)});
  for (const Hardware& hw : hardware_presets()) {
    const double balance = hw.matmul_flops(p.dtype) / hw.hbm_bytes_per_s;
    size_t row = 0;
    for (auto k : kSchedules)
      for (auto dir : kDirections) {
        const RunResult r = simulate(p, k, dir, hw.smem_per_block_bytes);
        const double ai = r.flops() / double(r.total_bytes());
        t.add({hw.name, num(balance), schedule_name(k), direction_name(dir), num(ai),
               ai < balance ? "memory-bound" : "compute-bound"});
        plot.rows[row++].push_back(num(ai));
      }
    const std::string colour = colours[c++ % 4];
    arrows += "set arrow from graph 0, first " + num(balance) + " to graph 1, first " + num(balance) +
              " nohead lw 2 dt 2 lc rgb '" + colour + "'\nset label '" + hw.name + " balance " +
              num(balance) + "' at graph 0.02, first " + num(balance * 1.3) + " tc rgb '" + colour + "'\n";
  }
  w.csv("roofline/intensity.csv", t);
  w.csv("roofline/intensity_plot.csv", plot);
  w.plot("roofline/intensity",
         "set style data histogram\nset style histogram clustered gap 1\nset style fill solid 0.8 border -1\n"
         "set logscale y\nset grid y\nset yrange [1:2000]\n" + arrows +
         "set title 'Arithmetic intensity at GPT-2 medium (fp16), each preset at its own M'\n"
         "set ylabel 'FLOPs per HBM byte'\nset xtics rotate by -20\nset key top right\n"
         "plot for [i=2:" + std::to_string(plot.columns.size()) +
         "] 'intensity_plot.csv' using i:xtic(1)\n");
  md += "![](intensity.svg)\n\n" + t.markdown();
  // Beyond bytes: the on-chip ceilings of the FlashAttention-2 kernels (their tiles and warps).
  Table oc;
  oc.columns = {"preset", "variant", "head_dim", "mask", "warps", "smem_gb", "exps_g", "memory_ms", "compute_ms",
               "smem_ms", "exp_ms", "bound"};
  Problem q;
  q.batch = 1;
  q.heads_q = q.heads_kv = 16;
  q.seqlen_q = q.seqlen_k = 8192;
  q.dtype = DType::bf16;
  for (const Hardware& hw : hardware_presets())
    for (const char* vname : {"torch_flash_fwd", "torch_flash_bwd"})
      for (int64_t d : {64, 128})
        for (const bool causal : {false, true}) {
          q.head_dim = d;
          q.mask = causal ? Mask::causal_top_left() : Mask::none();
          const ScheduleDesc desc = find_kernel_variant(vname).schedule(q);
          const RunResult r = simulate(q, desc.kind, desc.direction, hw.smem_per_block_bytes,
                                       {desc.Br, desc.Bc, 0, desc.warps});
          const Roofline rl = roofline(r, hw);
          oc.add({hw.name, vname, integer(d), causal ? "causal" : "none", integer(desc.warps),
                 gb(double(r.smem_read_bytes + r.smem_write_bytes)), num(double(r.exps) / 1e9),
                 num(rl.memory_s * 1e3), num(rl.compute_s * 1e3), num(rl.smem_s * 1e3), num(rl.exp_s * 1e3),
                 rl.bound()});
        }
  w.csv("roofline/on_chip.csv", oc);
  md += "\n## Beyond bytes: shared memory and exponentials\n\n"
        "FlashAttention-2's kernels (PyTorch's tiles and warps, `sim/variants.cpp`) at B 1, H 16, N 8192, "
        "bf16, each preset at its own shared memory. Four ceilings, each a time: HBM bytes / bandwidth, "
        "matmul FLOPs / tensor peak + other FLOPs / fp32 peak, shared-memory bytes / shared-memory "
        "bandwidth, exponentials / special-function throughput (sim/README.md, \"Beyond bytes\", gives "
        "the counting rules and closed forms). `bound` names the highest. Figures (sim/hardware.cpp): "
        "shared memory 128 B per clock per SM (32 banks of 4 B, CUDA C++ Programming Guide), "
        "exponentials 16 exp2 per clock per SM (the guide's arithmetic-instruction throughput table, "
        "cc 8.0 and 9.0), at the clock of the dense fp16 peak (1.41 GHz A100, 1.83 GHz H100 / H200): "
        "A100 19.5 TB/s and 2.4e12 exp/s, H100 and H200 30.9 TB/s and 3.9e12 exp/s, the 3.9 TFLOPS of "
        "special functions beside 989 TFLOPS of bf16 matmul that FlashAttention-3 (Shah et al. 2024, "
        "Section 3.1) quotes for the H100 SXM5. Warps split an MMA's output rows (each reads all of "
        "the other operand), FlashAttention-2's forward layout; its backward tiles warps in 2-D "
        "(AtomLayoutMSdP 2 or 4), which reads the shared operand fewer times, so the backward's "
        "shared-memory ceiling here is an upper bound.\n\n" + oc.markdown();
  w.text("roofline/README.md", md);
  return "- [Memory-bound or compute-bound](roofline/README.md): standard attention sits far "
         "below both machines' balance; FlashAttention climbs above it; FlashAttention-2's shared-memory "
         "and exponential ceilings.\n";
}

std::string block_sweep(const Writer& w) {
  const Problem p = gpt2_medium();
  const int64_t m = 4 * 1024 * 1024;  // a hypothetical SRAM that holds every block size here
  std::string md = std::string(kReportHeader) +
                   "# Block size sweep\n\n"
                   "Forward HBM traffic at GPT-2 medium (N 1024, d 64, 16 heads, batch 64, fp16) "
                   "for Bc from 64 to 512 (Br = 64), with a hypothetical 4 MiB SRAM so every block "
                   "fits. The paper's Figure 2 (middle): flash1's traffic falls as Bc grows, since "
                   "Q and O are passed over Tc = N/Bc times. flash2 keeps the Q block on chip and "
                   "streams K and V once per Q block, so Bc does not change its traffic. Roofline "
                   "time on the A100 preset.\n\n";
  const Hardware& a100 = preset("a100");
  Table t;
  t.columns = {"Bc", "flash1_fwd_gb", "flash2_fwd_gb", "flash1_fwd_ms_a100", "flash2_fwd_ms_a100"};
  for (int64_t bc = 64; bc <= 512; bc *= 2) {
    const RunResult f1 = simulate(p, ScheduleKind::flash1, Direction::fwd, m, {64, bc});
    const RunResult f2 = simulate(p, ScheduleKind::flash2, Direction::fwd, m, {64, bc});
    t.add({integer(bc), gb(double(f1.total_bytes())), gb(double(f2.total_bytes())),
           num(roofline(f1, a100).time_s * 1e3), num(roofline(f2, a100).time_s * 1e3)});
  }
  w.csv("blocks/block_sweep.csv", t);
  w.plot("blocks/block_sweep",
         "set logscale x 2\nset grid\nset xtics (64, 128, 256, 512)\nset xrange [56:600]\n"
         "set title 'Forward HBM traffic vs block size Bc (GPT-2 medium, fp16)'\n"
         "set xlabel 'Bc (keys per block)'\nset ylabel 'HBM traffic (GB)'\nset yrange [0:*]\n"
         "plot 'block_sweep.csv' using 1:2 with linespoints pt 7 lw 2, '' using 1:3 with linespoints pt 5 lw 2\n");
  md += "![](block_sweep.svg)\n\n" + t.markdown();
  w.text("blocks/README.md", md);
  return "- [Block size sweep](blocks/README.md): larger Bc cuts flash1's forward traffic, as in "
         "the paper's Figure 2.\n";
}

}  // namespace flashcheck::report
