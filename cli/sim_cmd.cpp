// `flashcheck sim`: the IO simulator from the command line. With no arguments
// it prints the default report: GPT-2 medium attention (the FlashAttention
// paper's Figure 2 setting) on the A100 and H100 presets, standard / flash1 /
// flash2, forward and backward, with the bound check. Every option changes
// one part of that; --sweep-sram walks M; `sim memory` prints HBM footprints.
#include <algorithm>
#include <cmath>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>

#include "cli/commands.hpp"
#include "sim/hardware.hpp"
#include "sim/report.hpp"
#include "sim/rows.hpp"
#include "sim/simulate.hpp"
#include "sim/units.hpp"
#include "sim/variants.hpp"
#include "sim/varlen_rows.hpp"

namespace flashcheck::cli {
namespace {

using namespace flashcheck::sim;

struct SimOptions {
  // Defaults: GPT-2 medium (FlashAttention paper, Figure 2).
  std::optional<int64_t> seqlen, seqlen_q, seqlen_k, kv_heads;
  int64_t head_dim = 64, heads = 16, batch = 64;
  std::string dtype = "fp16", mask = "none";
  std::string schedule = "all", direction = "both", preset = "all", format = "table";
  std::optional<std::string> sram, sweep, l2, variant;
  int64_t block_r = 0, block_c = 0, warps = 0;
  std::optional<int64_t> splits, page_size;
  std::string page_read = "sector", l2_edge = "measured";
  std::optional<std::string> varlen, varlen_k;
  std::optional<double> hbm_gbps, matmul_tflops, vector_tflops;
  std::optional<int64_t> sms;
  bool problem_changed() const {
    return seqlen || seqlen_q || seqlen_k || kv_heads || head_dim != 64 || heads != 16 ||
           batch != 64 || dtype != "fp16" || mask != "none";
  }
};

Problem problem_of(const SimOptions& o) {
  Problem p;
  p.batch = o.batch;
  p.heads_q = o.heads;
  p.heads_kv = o.kv_heads.value_or(o.heads);
  const int64_t n = o.seqlen.value_or(1024);
  p.seqlen_q = o.seqlen_q.value_or(n);
  p.seqlen_k = o.seqlen_k.value_or(n);
  p.head_dim = o.head_dim;
  p.mask = parse_mask(o.mask);
  p.dtype = parse_dtype(o.dtype);
  p.validate();
  return p;
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, sep)) out.push_back(item);
  return out;
}

std::vector<ScheduleKind> schedules_of(const std::string& s) {
  if (s == "all") return {ScheduleKind::standard, ScheduleKind::flash1, ScheduleKind::flash2};
  std::vector<ScheduleKind> out;
  for (const std::string& name : split(s, ',')) out.push_back(parse_schedule(name));
  if (out.empty()) throw std::invalid_argument("--schedule: empty list");
  return out;
}

std::vector<Direction> directions_of(const std::string& s) {
  if (s == "both") return {Direction::fwd, Direction::bwd};
  if (s == "fwd" || s == "bwd") return {parse_direction(s)};
  throw std::invalid_argument("unknown direction '" + s + "' (expected fwd, bwd or both)");
}

HardwareChoice hardware_choice(const SimOptions& o) {
  HardwareChoice c;
  c.preset = o.preset;
  c.hbm_gbps = o.hbm_gbps;
  c.matmul_tflops = o.matmul_tflops;
  c.vector_tflops = o.vector_tflops;
  c.sms = o.sms;
  c.l2 = o.l2;
  c.l2_edge = o.l2_edge;
  return c;
}

// MIN:MAX[:STEPS]: STEPS sizes spaced geometrically, else doublings of MIN up to MAX.
std::vector<int64_t> sweep_of(const std::string& spec) {
  const std::vector<std::string> parts = split(spec, ':');
  if (parts.size() < 2 || parts.size() > 3)
    throw std::invalid_argument("--sweep-sram '" + spec + "': expected MIN:MAX[:STEPS], e.g. 16KiB:1MiB:8");
  const int64_t lo = parse_bytes(parts[0]), hi = parse_bytes(parts[1]);
  if (hi < lo) throw std::invalid_argument("--sweep-sram: MAX is below MIN");
  std::vector<int64_t> out;
  if (parts.size() == 3) {
    int64_t steps = 0;
    try {
      size_t used = 0;
      steps = std::stoll(parts[2], &used);
      if (used != parts[2].size()) steps = 0;
    } catch (const std::exception&) {
    }
    if (steps < 2 || steps > 10000)
      throw std::invalid_argument("--sweep-sram: STEPS must be an integer in [2, 10000], got '" + parts[2] + "'");
    for (int64_t k = 0; k < steps; ++k) {
      const double m = static_cast<double>(lo) *
                       std::pow(static_cast<double>(hi) / static_cast<double>(lo),
                                static_cast<double>(k) / static_cast<double>(steps - 1));
      const int64_t v = std::llround(m);
      if (out.empty() || v != out.back()) out.push_back(v);
    }
  } else {
    // Doublings that stop before passing MAX (m > MAX / 2 would wrap or overshoot).
    for (int64_t m = lo;; m *= 2) {
      out.push_back(m);
      if (m > hi / 2) break;
    }
  }
  return out;
}

// --varlen: the packed batch against padding to the longest (sim/varlen_rows.hpp).
void run_varlen(const SimOptions& o, const RowsRequest& q) {
  const std::vector<int64_t> lq = parse_lengths("--varlen", *o.varlen);
  const std::vector<int64_t> lk = o.varlen_k ? parse_lengths("--varlen-k", *o.varlen_k) : std::vector<int64_t>{};
  const std::vector<VarlenRow> rows = varlen_rows(q, lq, lk);
  if (o.format == "csv") {
    std::cout << format_varlen_csv(rows);
    return;
  }
  if (o.format == "json") {
    std::cout << format_varlen_json(rows);
    return;
  }
  const Problem& p = q.problem;
  std::ostringstream out;
  out << "Varlen batch: " << lq.size() << " sequences, heads " << p.heads_q << "/" << p.heads_kv << ", d "
      << p.head_dim << ", " << dtype_name(p.dtype) << ", mask " << p.mask.describe()
      << " per sequence; packed = each sequence tiled on its own (cu_seqlens), padded = "
         "every sequence padded to the longest; bytes are the two-level (SM-side) count\n";
  char line[400];
  std::snprintf(line, sizeof line, "%-8s %-8s %-4s %12s %12s %8s %10s %10s\n", "hardware", "schedule", "dir",
                "packed GB", "padded GB", "ratio", "packed ms", "padded ms");
  out << line;
  for (const VarlenRow& r : rows) {
    const double a = double(r.run.packed.total_bytes()), b = double(r.run.padded.total_bytes());
    std::snprintf(line, sizeof line, "%-8s %-8s %-4s %12.4f %12.4f %7.2fx %10.4f %10.4f\n", r.hardware.c_str(),
                  schedule_name(r.schedule), direction_name(r.direction), a / 1e9, b / 1e9, b / a,
                  r.packed_time_s * 1e3, r.padded_time_s * 1e3);
    out << line;
  }
  std::cout << out.str();
}

void run_sim(const SimOptions& o) {
  RowsRequest q;
  q.problem = problem_of(o);
  const Problem& p = q.problem;
  q.schedules = schedules_of(o.schedule);
  q.directions = directions_of(o.direction);
  q.hardware = hardware_of(hardware_choice(o));
  if (o.format != "table" && o.format != "csv" && o.format != "json")
    throw std::invalid_argument("unknown format '" + o.format + "' (expected table, csv or json)");
  if (o.sram && o.sweep) throw std::invalid_argument("give --sram or --sweep-sram, not both");
  if (o.preset == "custom" && !o.sram && !o.sweep)
    throw std::invalid_argument("--preset custom needs --sram (or --sweep-sram)");
  q.blocks = BlockOverride{o.block_r, o.block_c, 0, o.warps};
  q.splits = checked_splits(o.splits, q.schedules);
  q.variant = o.variant;
  q.paging = checked_paging(o.page_size, o.page_read);
  if (o.varlen) {
    if (o.sweep) throw std::invalid_argument("give --varlen or --sweep-sram, not both");
    if (o.sram) q.sram_sizes = {parse_bytes(*o.sram)};
    run_varlen(o, q);
    return;
  }
  if (o.varlen_k) throw std::invalid_argument("--varlen-k needs --varlen");
  if (o.sweep) q.sram_sizes = sweep_of(*o.sweep);
  else if (o.sram) q.sram_sizes = {parse_bytes(*o.sram)};
  if (o.sweep)
    q.progress = [](const Hardware& hw, int64_t m, size_t n, size_t count) {
      std::cerr << "sim: " << hw.name << " M = " << format_bytes(m) << " (" << n + 1 << "/" << count << ")\n";
    };
  const std::vector<ReportRow> rows = simulate_rows(q);

  if (o.format == "csv") {
    std::cout << format_csv(rows);
    return;
  }
  if (o.format == "json") {
    std::cout << format_json(rows);
    return;
  }
  std::ostringstream title;
  title << (o.problem_changed() ? "Attention" : "GPT-2 medium attention") << ": " << p.describe()
        << "\nL2 GB: the paper's two-level count, what the SMs read from L2 (ncu "
           "l1tex__m_xbar2l1tex_read_bytes) and store or reduce into it, in GB (1e9 B); DRAM GB: the GPU model (shared L2, "
           "concurrent CTAs in grid order; flash2 only, '-' elsewhere), read + written; FLOPs include "
           "recomputation; extra HBM = tensors beyond inputs/outputs; roofline = max(L2 bytes/BW, "
           "FLOPs/peak, shared-memory bytes/BW, exps/throughput) / wave utilisation, marked by the "
           "highest: mem, cmp, smem, exp";
  std::cout << format_table(title.str(), rows, o.sweep.has_value());
  if (!o.problem_changed() && !o.sweep)
    std::cout << "\nFlashAttention paper, Figure 2 (A100, GPT-2 medium, fwd+bwd, with dropout and "
                 "its own kernels): standard 40.3 GB, 66.6 GFLOPs, 41.7 ms; FlashAttention 4.4 GB, "
                 "75.2 GFLOPs, 7.3 ms.\nThe two-level count sends every tile load to memory; on a GPU the "
                 "thread blocks that share K/V tiles hit L2, which the DRAM column models "
                 "(validated against ncu on an H200: reports/fidelity).\nBounds (sim/README.md): flash "
                 "traffic <= the closed form with T <= N/B + 1 passes (tight); standard >= 4*N^2.\n";
}

void run_memory(const SimOptions& o) {
  const Problem p = problem_of(o);
  const auto bytes = [&](std::initializer_list<TensorId> ts) {
    int64_t n = 0;
    for (TensorId t : ts) n += tensor_elems(t, p) * hbm_elem_bytes(t, p.dtype);
    return n;
  };
  const int64_t in = bytes({TensorId::Q, TensorId::K, TensorId::V});
  const int64_t out = bytes({TensorId::O});
  const int64_t grads = bytes({TensorId::dO, TensorId::dQ, TensorId::dK, TensorId::dV});
  std::cout << "HBM footprint: " << p.describe() << "\n"
            << "inputs Q, K, V: " << format_bytes(in) << "; output O: " << format_bytes(out)
            << "; backward dO, dQ, dK, dV: " << format_bytes(grads) << "\n\n";
  std::cout << "schedule  dir  extra tensors            extra HBM    per head      total\n";
  for (ScheduleKind k : {ScheduleKind::standard, ScheduleKind::flash1, ScheduleKind::flash2})
    for (Direction d : {Direction::fwd, Direction::bwd}) {
      std::string names;
      int64_t extra = 0;
      for (TensorId t : extra_tensors(k, d)) {
        names += (names.empty() ? "" : ", ") + std::string(tensor_name(t));
        extra += tensor_elems(t, p) * hbm_elem_bytes(t, p.dtype);
      }
      const int64_t total = in + out + extra + (d == Direction::bwd ? grads : 0);
      char line[200];
      std::snprintf(line, sizeof line, "%-9s %-4s %-24s %-12s %-13s %s\n", schedule_name(k),
                    direction_name(d), names.c_str(), format_bytes(extra).c_str(),
                    format_bytes(extra / (p.batch * p.heads_q)).c_str(), format_bytes(total).c_str());
      std::cout << line;
    }
}

void add_problem_options(CLI::App* c, SimOptions& o) {
  c->add_option("--seqlen", o.seqlen, "sequence length of queries and keys [1024]");
  c->add_option("--seqlen-q", o.seqlen_q, "query sequence length");
  c->add_option("--seqlen-k", o.seqlen_k, "key/value sequence length");
  c->add_option("--head-dim", o.head_dim, "head dimension d")->capture_default_str();
  c->add_option("--heads", o.heads, "query heads")->capture_default_str();
  c->add_option("--kv-heads", o.kv_heads, "key/value heads (fewer: GQA) [= heads]");
  c->add_option("--batch", o.batch, "batch size")->capture_default_str();
  c->add_option("--dtype", o.dtype, "f32, fp16, bf16 or f64")->capture_default_str();
  c->add_option("--mask", o.mask, "none, causal, causal_bottom_right or window:L:R")->capture_default_str();
}

}  // namespace

void add_sim_command(CLI::App& app) {
  auto o = std::make_shared<SimOptions>();
  auto* sim = app.add_subcommand(
      "sim", "simulate the HBM/SRAM traffic of tiled attention schedules (no options: the "
             "GPT-2 medium report on A100 and H100)");
  add_problem_options(sim, *o);
  sim->add_option("--schedule", o->schedule,
                  "standard, flash1, flash2, square (Saha-Ye, M < d^2), splitkv (decode), a comma "
                  "list, or all (standard, flash1, flash2)")
      ->capture_default_str();
  sim->add_option("--splits", o->splits, "splitkv: KV chunks [the wave rule of sim/README.md, <= Tc]");
  sim->add_option("--direction", o->direction, "fwd, bwd or both")->capture_default_str();
  sim->add_option("--sram", o->sram, "SRAM size M, e.g. 96KiB [the preset's shared memory per block]");
  sim->add_option("--block-r", o->block_r, "Br override (0: block rule)")->capture_default_str();
  sim->add_option("--block-c", o->block_c, "Bc override (0: block rule)")->capture_default_str();
  sim->add_option("--warps", o->warps, "warps per thread block for the shared-memory count (0: 4, or the variant's)")
      ->capture_default_str();
  sim->add_option("--preset", o->preset, "a100, h100, h200, all or custom")->capture_default_str();
  sim->add_option("--hbm-gbps", o->hbm_gbps, "custom HBM bandwidth, GB/s");
  sim->add_option("--matmul-tflops", o->matmul_tflops, "custom matmul peak, TFLOP/s");
  sim->add_option("--vector-tflops", o->vector_tflops, "custom non-matmul peak, TFLOP/s");
  sim->add_option("--sms", o->sms, "SM count (what-if machines; also the GPU model's concurrency)");
  sim->add_option("--l2", o->l2, "L2 size for the GPU model, e.g. 50MB (0 turns the level off)");
  sim->add_option("--l2-edge", o->l2_edge,
                  "re-reads near the L2's edge: measured (the preset's curve, sim/README.md) or lru (a cliff at L/2)")
      ->capture_default_str();
  sim->add_option("--variant", o->variant,
                  "a kernel's tiles, grid order and CTAs per SM: flash2_fwd, flash2_bwd, "
                  "torch_flash_fwd, torch_flash_bwd (--block-r/--block-c still override)");
  sim->add_option("--page-size", o->page_size, "paged KV: rows per page (flash2 fwd, splitkv)");
  sim->add_option("--page-read", o->page_read, "paged KV reads: sector (rows, rounded to 32 B) or page (whole pages)")
      ->capture_default_str();
  sim->add_option("--varlen", o->varlen, "packed batch of these sequence lengths, e.g. 100,2000,517 "
                                         "(against padding to the longest)");
  sim->add_option("--varlen-k", o->varlen_k, "key lengths of the --varlen sequences [= --varlen]");
  sim->add_option("--sweep-sram", o->sweep, "sweep M: MIN:MAX[:STEPS] (doublings without STEPS)");
  sim->add_option("--format", o->format, "table, csv or json")->capture_default_str();

  auto* memory = sim->add_subcommand("memory", "HBM footprint of standard and flash attention");
  add_problem_options(memory, *o);
  memory->callback([o] { run_memory(*o); });
  sim->callback([o, sim, memory] {
    if (sim->got_subcommand(memory)) return;
    run_sim(*o);
  });
}

}  // namespace flashcheck::cli
