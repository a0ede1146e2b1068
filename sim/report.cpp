#include "sim/report.hpp"

#include <algorithm>
#include <cstdio>
#include <vector>
#include <nlohmann/json.hpp>
#include <sstream>

namespace flashcheck::sim {
namespace {

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}
std::string gb(double bytes) { return fmt("%.3f", bytes / 1e9); }
std::string pad(const std::string& s, size_t w, bool left = false) {
  if (s.size() >= w) return s;
  return left ? s + std::string(w - s.size(), ' ') : std::string(w - s.size(), ' ') + s;
}

struct Cells {
  std::string schedule, dir, blocks, read, write, total, dram, gflop, extra, peak, time, bound;
  std::string m;  // SRAM size: a column of its own only in a sweep table
  std::vector<const std::string*> all() const {
    return {&m, &schedule, &dir, &blocks, &read, &write, &total, &dram, &gflop, &extra, &peak, &time, &bound};
  }
};

// Column widths fitted to a table's cells (two spaces between columns); the
// M, schedule and direction columns are left-aligned, the numbers
// right-aligned; an all-empty column (M outside sweeps) is left out.
std::vector<size_t> widths(const std::vector<Cells>& rows) {
  std::vector<size_t> w(13, 0);
  for (const Cells& c : rows) {
    const auto cells = c.all();
    for (size_t k = 0; k < cells.size(); ++k) w[k] = std::max(w[k], cells[k]->size());
  }
  return w;
}

std::string line(const Cells& c, const std::vector<size_t>& w) {
  const auto cells = c.all();
  std::string out;
  for (size_t k = 0; k < cells.size(); ++k) {
    if (k == cells.size() - 1) {
      out += "  " + *cells[k];
      break;
    }
    if (w[k] == 0) continue;
    out += (out.empty() ? "" : "  ") + pad(*cells[k], w[k], k < 3);
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out + "\n";
}

std::string time_cell(const Roofline& r) {
  const std::string b = r.bound();
  return fmt("%.2f", r.time_s * 1e3) + (b == "memory" ? " mem" : b == "compute" ? " cmp" : " " + b);
}

Cells cells(const ReportRow& r) {
  const RunResult& x = r.run;
  return {schedule_name(x.desc.kind),
          direction_name(x.desc.direction),
          std::to_string(x.desc.Br) + "x" + std::to_string(x.desc.Bc),
          gb(static_cast<double>(x.read_bytes())),
          gb(static_cast<double>(x.write_bytes())),
          gb(static_cast<double>(x.total_bytes())),
          r.gpu.modelled ? gb(static_cast<double>(r.gpu.dram_read_bytes + r.gpu.dram_write_bytes)) : "-",
          fmt("%.1f", static_cast<double>(x.flops()) / 1e9),
          format_bytes(x.extra_hbm_bytes()),
          format_bytes(x.sram_peak_bytes),
          time_cell(r.roof),
          r.bound.text,
          ""};
}

}  // namespace

ReportRow make_row(const RunResult& r, const Hardware& hw, const Launch& launch) {
  return {r, hw, roofline(r, hw), check_bound(r), gpu_traffic(r, hw, launch)};
}

std::string format_table(const std::string& title, const std::vector<ReportRow>& rows, bool sweep) {
  std::ostringstream out;
  if (!title.empty()) out << title << "\n";
  const Cells head{"schedule", "dir", "Br x Bc", "L2 read GB", "L2 write GB", "L2 total GB", "DRAM GB", "GFLOP",
                   "extra HBM", "SRAM peak", "roofline ms", "bound check (elements)",
                   sweep ? "M" : ""};
  // Groups of rows on one hardware (and, outside sweeps, one SRAM size), each
  // printed as one table; a sweep table has a row per M instead.
  size_t n = 0;
  while (n < rows.size()) {
    const ReportRow& first = rows[n];
    std::vector<Cells> table{head};
    for (; n < rows.size() && rows[n].hw.name == first.hw.name &&
           (sweep || rows[n].run.sram_bytes == first.run.sram_bytes);
         ++n) {
      const ReportRow& r = rows[n];
      table.push_back(cells(r));
      if (sweep) table.back().m = format_bytes(r.run.sram_bytes);
      // After a fwd row followed by the same schedule's bwd row: their sum.
      if (table.size() > 2 && r.run.desc.direction == Direction::bwd &&
          rows[n - 1].run.desc.direction == Direction::fwd &&
          rows[n - 1].run.desc.kind == r.run.desc.kind && n > 0 &&
          rows[n - 1].hw.name == r.hw.name && rows[n - 1].run.sram_bytes == r.run.sram_bytes) {
        const RunResult& f = rows[n - 1].run;
        const RunResult& b = r.run;
        table.push_back({"", "fwd+bwd", "",
                         gb(static_cast<double>(f.read_bytes() + b.read_bytes())),
                         gb(static_cast<double>(f.write_bytes() + b.write_bytes())),
                         gb(static_cast<double>(f.total_bytes() + b.total_bytes())),
                         rows[n - 1].gpu.modelled && r.gpu.modelled
                             ? gb(static_cast<double>(rows[n - 1].gpu.dram_read_bytes + rows[n - 1].gpu.dram_write_bytes +
                                                      r.gpu.dram_read_bytes + r.gpu.dram_write_bytes))
                             : "-",
                         fmt("%.1f", (static_cast<double>(f.flops()) + static_cast<double>(b.flops())) / 1e9), "", "",
                         fmt("%.2f", (rows[n - 1].roof.time_s + r.roof.time_s) * 1e3) + "    ", "",
                         ""});
      }
    }
    out << "\n" << first.hw.name << ": HBM " << fmt("%.0f", first.hw.hbm_bytes_per_s / 1e9)
        << " GB/s, " << fmt("%.0f", first.hw.matmul_flops(first.run.problem.dtype) / 1e12)
        << " TFLOP/s " << dtype_name(first.run.problem.dtype) << " matmul, "
        << fmt("%.1f", first.hw.vector_flops / 1e12) << " TFLOP/s fp32, " << first.hw.sm_count
        << " SMs, L2 " << format_bytes(first.hw.l2_bytes)
        << (first.hw.l2_bytes > 0 ? (first.hw.l2_reuse.knots.empty() ? " (LRU edge)" : " (measured edge)") : "");
    if (!sweep) out << "; SRAM M = " << format_bytes(first.run.sram_bytes);
    out << "\n";
    const std::vector<size_t> w = widths(table);
    for (const Cells& c : table) out << line(c, w);
  }
  return out.str();
}

std::string format_csv(const std::vector<ReportRow>& rows) {
  std::ostringstream out;
  out << "hardware,schedule,direction,batch,heads,kv_heads,seqlen_q,seqlen_k,head_dim,mask,dtype,"
         "sram_bytes,block_r,block_c,hbm_read_bytes,hbm_write_bytes,hbm_bytes,hbm_elems,"
         "dram_read_bytes,dram_write_bytes,l2_hit_rate,"
         "matmul_flops,other_flops,sram_peak_bytes,extra_hbm_bytes,time_s,memory_s,compute_s,"
         "bound_holds,bound_elems\n";
  for (const ReportRow& r : rows) {
    const RunResult& x = r.run;
    const Problem& p = x.problem;
    out << r.hw.name << ',' << schedule_name(x.desc.kind) << ',' << direction_name(x.desc.direction)
        << ',' << p.batch << ',' << p.heads_q << ',' << p.heads_kv << ',' << p.seqlen_q << ','
        << p.seqlen_k << ',' << p.head_dim << ',' << p.mask.describe() << ',' << dtype_name(p.dtype)
        << ',' << x.sram_bytes << ',' << x.desc.Br << ',' << x.desc.Bc << ',' << x.read_bytes()
        << ',' << x.write_bytes() << ',' << x.total_bytes() << ',' << x.total_elems() << ','
        << r.gpu.dram_read_bytes << ',' << r.gpu.dram_write_bytes << ',' << fmt("%.4f", r.gpu.l2_hit_rate) << ','
        << std::to_string(x.matmul_flops) << ',' << std::to_string(x.other_flops) << ','
        << x.sram_peak_bytes << ',' << x.extra_hbm_bytes() << ',' << fmt("%.6g", r.roof.time_s)
        << ',' << fmt("%.6g", r.roof.memory_s) << ',' << fmt("%.6g", r.roof.compute_s) << ','
        << (r.bound.holds ? "true" : "false") << ',' << fmt("%.0f", r.bound.bound_elems) << "\n";
  }
  return out.str();
}

std::string format_json(const std::vector<ReportRow>& rows) {
  nlohmann::json runs = nlohmann::json::array();
  for (const ReportRow& r : rows) {
    const RunResult& x = r.run;
    const Problem& p = x.problem;
    nlohmann::json tensors = nlohmann::json::object();
    for (TensorId t : kAllTensors) {
      const Traffic& tr = x.hbm.elems[idx(t)];
      if (tr.read == 0 && tr.write == 0) continue;
      tensors[tensor_name(t)] = {{"read_elems", tr.read},
                                 {"write_elems", tr.write},
                                 {"read_bytes", x.read_bytes(t)},
                                 {"write_bytes", x.write_bytes(t)}};
    }
    runs.push_back({{"hardware", r.hw.name},
                    {"schedule", schedule_name(x.desc.kind)},
                    {"direction", direction_name(x.desc.direction)},
                    {"loop_order", loop_order_name(x.desc.order)},
                    {"batch", p.batch},
                    {"heads", p.heads_q},
                    {"kv_heads", p.heads_kv},
                    {"seqlen_q", p.seqlen_q},
                    {"seqlen_k", p.seqlen_k},
                    {"head_dim", p.head_dim},
                    {"mask", p.mask.describe()},
                    {"dtype", dtype_name(p.dtype)},
                    {"sram_bytes", x.sram_bytes},
                    {"block_r", x.desc.Br},
                    {"block_c", x.desc.Bc},
                    {"hbm_read_bytes", x.read_bytes()},
                    {"hbm_write_bytes", x.write_bytes()},
                    {"hbm_bytes", x.total_bytes()},
                    {"hbm_elems", x.total_elems()},
                    {"dram_read_bytes", r.gpu.dram_read_bytes},
                    {"dram_write_bytes", r.gpu.dram_write_bytes},
                    {"l2_dirty_end_bytes", r.gpu.l2_dirty_end_bytes},
                    {"l2_hit_rate", r.gpu.l2_hit_rate},
                    {"smem_read_bytes", x.smem_read_bytes},
                    {"smem_write_bytes", x.smem_write_bytes},
                    {"exps", x.exps},
                    {"warps", x.desc.warps},
                    {"gpu_model", {{"modelled", r.gpu.modelled},
                                   {"sm_read_bytes", r.gpu.sm_read_bytes},
                                   {"sm_write_bytes", r.gpu.sm_write_bytes},
                                   {"l2_reduction_bytes", r.gpu.l2_reduction_bytes},
                                   {"simulated_ctas", r.gpu.simulated_ctas},
                                   {"concurrent_ctas", r.gpu.concurrent_ctas},
                                   {"fitting_wave_share", r.gpu.fitting_wave_share},
                                   {"l2_edge", r.hw.l2_reuse.knots.empty() ? "lru" : "measured"},
                                   {"stack_dirty_end_bytes", r.gpu.stack_dirty_end_bytes},
                                   {"spill_write_bytes", r.gpu.spill_write_bytes},
                                   {"memset_dirty_bytes", r.gpu.memset_dirty_bytes},
                                   {"spill_share", r.gpu.spill_share},
                                   {"reuse", r.gpu.reuse}}},
                    {"flops", x.flops()},
                    {"matmul_flops", x.matmul_flops},
                    {"other_flops", x.other_flops},
                    {"sram_peak_bytes", x.sram_peak_bytes},
                    {"extra_hbm_bytes", x.extra_hbm_bytes()},
                    {"tensors", tensors},
                    {"roofline", {{"time_s", r.roof.time_s},
                                  {"memory_s", r.roof.memory_s},
                                  {"compute_s", r.roof.compute_s},
                                  {"smem_s", r.roof.smem_s},
                                  {"exp_s", r.roof.exp_s},
                                  {"bound", r.roof.bound()},
                                  {"utilisation", r.roof.utilisation}}},
                    {"bound", {{"holds", r.bound.holds},
                               {"bound_elems", r.bound.bound_elems},
                               {"text", r.bound.text}}}});
  }
  return runs.dump(2) + "\n";
}

}  // namespace flashcheck::sim
