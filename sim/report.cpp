#include "sim/report.hpp"

#include <cstdio>
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
  std::string schedule, dir, blocks, read, write, total, gflop, extra, peak, time, bound;
};

const size_t kW[] = {9, 8, 9, 9, 9, 9, 8, 10, 10, 12, 0};

std::string line(const Cells& c) {
  return pad(c.schedule, kW[0], true) + pad(c.dir, kW[1], true) + pad(c.blocks, kW[2]) +
         pad(c.read, kW[3]) + pad(c.write, kW[4]) + pad(c.total, kW[5]) + pad(c.gflop, kW[6]) +
         pad(c.extra, kW[7]) + pad(c.peak, kW[8]) + pad(c.time, kW[9]) + "  " + c.bound + "\n";
}

std::string time_cell(const Roofline& r) {
  return fmt("%.2f", r.time_s * 1e3) + (r.memory_bound() ? " mem" : " cmp");
}

Cells cells(const ReportRow& r) {
  const RunResult& x = r.run;
  return {schedule_name(x.desc.kind),
          direction_name(x.desc.direction),
          std::to_string(x.desc.Br) + "x" + std::to_string(x.desc.Bc),
          gb(static_cast<double>(x.read_bytes())),
          gb(static_cast<double>(x.write_bytes())),
          gb(static_cast<double>(x.total_bytes())),
          fmt("%.1f", x.flops() / 1e9),
          format_bytes(x.extra_hbm_bytes()),
          format_bytes(x.sram_peak_bytes),
          time_cell(r.roof),
          r.bound.text};
}

}  // namespace

ReportRow make_row(const RunResult& r, const Hardware& hw) {
  return {r, hw, roofline(r, hw), check_bound(r)};
}

std::string format_table(const std::string& title, const std::vector<ReportRow>& rows) {
  std::ostringstream out;
  if (!title.empty()) out << title << "\n";
  const Cells head{"schedule", "dir", "Br x Bc", "read GB", "write GB", "total GB", "GFLOP",
                   "extra HBM", "SRAM peak", "roofline ms", "bound check (elements)"};
  std::string group;
  for (size_t n = 0; n < rows.size(); ++n) {
    const ReportRow& r = rows[n];
    const std::string g = r.hw.name + "/" + std::to_string(r.run.sram_bytes);
    if (g != group) {
      group = g;
      out << "\n" << r.hw.name << ": HBM " << fmt("%.0f", r.hw.hbm_bytes_per_s / 1e9) << " GB/s, "
          << fmt("%.0f", r.hw.matmul_flops(r.run.problem.dtype) / 1e12) << " TFLOP/s "
          << dtype_name(r.run.problem.dtype) << " matmul, "
          << fmt("%.1f", r.hw.vector_flops / 1e12) << " TFLOP/s fp32, " << r.hw.sm_count
          << " SMs; SRAM M = " << format_bytes(r.run.sram_bytes) << "\n";
      out << line(head);
    }
    out << line(cells(r));
    // After a fwd row followed by the same schedule's bwd row: their sum.
    if (n > 0 && r.run.desc.direction == Direction::bwd &&
        rows[n - 1].run.desc.direction == Direction::fwd &&
        rows[n - 1].run.desc.kind == r.run.desc.kind && rows[n - 1].hw.name == r.hw.name &&
        rows[n - 1].run.sram_bytes == r.run.sram_bytes) {
      const RunResult& f = rows[n - 1].run;
      const RunResult& b = r.run;
      Cells s{"", "fwd+bwd", "",
              gb(static_cast<double>(f.read_bytes() + b.read_bytes())),
              gb(static_cast<double>(f.write_bytes() + b.write_bytes())),
              gb(static_cast<double>(f.total_bytes() + b.total_bytes())),
              fmt("%.1f", (f.flops() + b.flops()) / 1e9),
              "", "",
              fmt("%.2f", (rows[n - 1].roof.time_s + r.roof.time_s) * 1e3) + "    ",
              ""};
      out << line(s);
    }
  }
  return out.str();
}

std::string format_csv(const std::vector<ReportRow>& rows) {
  std::ostringstream out;
  out << "hardware,schedule,direction,batch,heads,kv_heads,seqlen_q,seqlen_k,head_dim,mask,dtype,"
         "sram_bytes,block_r,block_c,hbm_read_bytes,hbm_write_bytes,hbm_bytes,hbm_elems,"
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
        << fmt("%.0f", x.matmul_flops) << ',' << fmt("%.0f", x.other_flops) << ','
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
                    {"flops", x.flops()},
                    {"matmul_flops", x.matmul_flops},
                    {"other_flops", x.other_flops},
                    {"sram_peak_bytes", x.sram_peak_bytes},
                    {"extra_hbm_bytes", x.extra_hbm_bytes()},
                    {"tensors", tensors},
                    {"roofline", {{"time_s", r.roof.time_s},
                                  {"memory_s", r.roof.memory_s},
                                  {"compute_s", r.roof.compute_s},
                                  {"utilisation", r.roof.utilisation}}},
                    {"bound", {{"holds", r.bound.holds},
                               {"bound_elems", r.bound.bound_elems},
                               {"text", r.bound.text}}}});
  }
  return runs.dump(2) + "\n";
}

}  // namespace flashcheck::sim
